//! Sign-in throttling: after too many failed attempts for one username
//! within a window, further attempts are refused until a lockout passes.

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

/// Counts a sign-in attempt for `username` before its password is checked,
/// and says how long to wait if the attempt is over the limit. Counting
/// first, in one statement, means parallel guesses cannot all slip through
/// before any of them is counted; a successful sign-in then clears the count.
/// A lockout that has passed, or a window that has passed without a lockout,
/// starts the count afresh.
pub async fn attempt(
    db: &PgPool,
    username: &str,
    rule: &ThrottleRule,
) -> sqlx::Result<Option<Duration>> {
    let wait: Option<f64> = sqlx::query_scalar(
        "INSERT INTO login_throttle AS t (username, failures, window_started_at, locked_until) \
         VALUES ($1, 1, now(), CASE WHEN 1 > $3 THEN now() + make_interval(secs => $4) END) \
         ON CONFLICT (username) DO UPDATE SET \
             failures = CASE WHEN t.locked_until <= now() \
                                  OR (t.locked_until IS NULL \
                                      AND t.window_started_at < now() - make_interval(secs => $2)) \
                             THEN 1 ELSE t.failures + 1 END, \
             window_started_at = CASE WHEN t.locked_until <= now() \
                                           OR (t.locked_until IS NULL \
                                               AND t.window_started_at < now() - make_interval(secs => $2)) \
                                      THEN now() ELSE t.window_started_at END, \
             locked_until = CASE \
                 WHEN t.locked_until <= now() \
                      OR (t.locked_until IS NULL \
                          AND t.window_started_at < now() - make_interval(secs => $2)) \
                 THEN CASE WHEN 1 > $3 THEN now() + make_interval(secs => $4) END \
                 WHEN t.locked_until IS NULL AND t.failures + 1 > $3 \
                 THEN now() + make_interval(secs => $4) \
                 ELSE t.locked_until END \
         RETURNING CASE WHEN failures > $3 \
                        THEN EXTRACT(EPOCH FROM locked_until - now())::float8 END",
    )
    .bind(username)
    .bind(rule.window.as_secs_f64())
    .bind(i32::try_from(rule.max_failures).unwrap_or(i32::MAX))
    .bind(rule.lockout.as_secs_f64())
    .fetch_one(db)
    .await?;
    // Usernames nobody has is what a spraying attacker sends: sweep rows
    // whose window and lockout are long over, now and then.
    if crate::random::one_in(100) {
        sqlx::query(
            "DELETE FROM login_throttle WHERE window_started_at < now() - interval '1 day' \
             AND (locked_until IS NULL OR locked_until < now())",
        )
        .execute(db)
        .await?;
    }
    Ok(wait.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

/// A successful sign-in, a new password or a reactivation forgets the count.
pub async fn clear(db: &PgPool, username: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_throttle WHERE username = $1")
        .bind(username)
        .execute(db)
        .await?;
    Ok(())
}
