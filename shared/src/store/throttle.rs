//! Sign-in throttling: after too many failures for one username within a
//! window, further attempts are refused until a lockout passes.

use std::time::Duration;

use sqlx::PgPool;

/// The rule, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    pub max_failures: u32,
    pub window: Duration,
    pub lockout: Duration,
}

impl Default for ThrottleRule {
    /// 5 failures in 15 minutes lock the username for 15 minutes.
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// How long `username` is still locked, if it is.
pub async fn locked_for(db: &PgPool, username: &str) -> sqlx::Result<Option<Duration>> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM locked_until - now())::float8 FROM login_throttle \
         WHERE username = $1 AND locked_until > now()",
    )
    .bind(username)
    .fetch_optional(db)
    .await?;
    Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

/// Counts a failure; the one that reaches the limit starts the lockout. A
/// failure after the window has passed starts a new window.
pub async fn record_failure(db: &PgPool, username: &str, rule: &ThrottleRule) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO login_throttle AS t (username, failures, window_started_at, locked_until) \
         VALUES ($1, 1, now(), CASE WHEN $3 <= 1 THEN now() + make_interval(secs => $4) END) \
         ON CONFLICT (username) DO UPDATE SET \
             failures = CASE WHEN t.window_started_at < now() - make_interval(secs => $2) \
                             THEN 1 ELSE t.failures + 1 END, \
             window_started_at = CASE WHEN t.window_started_at < now() - make_interval(secs => $2) \
                                      THEN now() ELSE t.window_started_at END, \
             locked_until = CASE \
                 WHEN (CASE WHEN t.window_started_at < now() - make_interval(secs => $2) \
                            THEN 1 ELSE t.failures + 1 END) >= $3 \
                 THEN now() + make_interval(secs => $4) \
                 ELSE t.locked_until END",
    )
    .bind(username)
    .bind(rule.window.as_secs_f64())
    .bind(i32::try_from(rule.max_failures).unwrap_or(i32::MAX))
    .bind(rule.lockout.as_secs_f64())
    .execute(db)
    .await?;
    // Usernames nobody has is what a spraying attacker sends: sweep rows
    // whose window and lockout are long over, now and then.
    if rand_percent() == 0 {
        sqlx::query(
            "DELETE FROM login_throttle WHERE window_started_at < now() - interval '1 day' \
             AND (locked_until IS NULL OR locked_until < now())",
        )
        .execute(db)
        .await?;
    }
    Ok(())
}

/// A successful sign-in forgets the failures.
pub async fn clear(db: &PgPool, username: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_throttle WHERE username = $1")
        .bind(username)
        .execute(db)
        .await?;
    Ok(())
}

fn rand_percent() -> u8 {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    (OsRng.next_u32() % 100) as u8
}
