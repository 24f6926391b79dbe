//! Sign-in throttling that nobody can aim at someone else: failures are
//! counted per (client address, username) and per client address, so an
//! attacker's guesses lock the attacker out, never the owner signing in
//! from elsewhere. Each further lockout of the same row lasts twice as long.

use std::net::IpAddr;
use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;

/// The rule, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Failures for one username from one address within the window.
    pub max_failures: u32,
    /// Failures from one address within the window, whatever the usernames
    /// (password spraying).
    pub max_failures_per_address: u32,
    pub window: Duration,
    /// The first lockout; each further one doubles, up to
    /// [`MAX_BACKOFF_DOUBLINGS`] times.
    pub lockout: Duration,
}

impl Default for ThrottleRule {
    /// 5 failures for a username, or 20 for any, from one address in 15
    /// minutes lock that address out of them for 15 minutes, then 30, …
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_failures_per_address: 20,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// A lockout lasts at most 2^6 = 64 times the first (16 h at 15 min).
pub const MAX_BACKOFF_DOUBLINGS: i32 = 6;

/// Where attempts come from, as the throttle counts them: an IPv4 address,
/// or an IPv6 /64, since one subscriber commonly holds a whole /64 and
/// could otherwise take a fresh address for every guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleAddress(String);

impl ThrottleAddress {
    /// `None` (a request that shows no address) shares one count: refused
    /// together rather than not counted.
    pub fn of(address: Option<IpAddr>) -> Self {
        let key = match address.map(|a| a.to_canonical()) {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            None => "unknown".to_owned(),
        };
        Self(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A row's window or lockout is over: its count starts afresh.
macro_rules! over {
    () => {
        "(t.locked_until <= now() \
          OR (t.locked_until IS NULL AND t.window_started_at < now() - make_interval(secs => $3)))"
    };
}

/// The limit of the row: the address's own ('') or one username's.
macro_rules! limit {
    () => {
        "(CASE WHEN t.username = '' THEN $5 ELSE $4 END)"
    };
}

/// The row's next count.
macro_rules! next {
    () => {
        concat!("(CASE WHEN ", over!(), " THEN 1 ELSE t.failures + 1 END)")
    };
}

/// This attempt starts a lockout: the row was not locked (or its lock is
/// over) and the count passes the limit.
macro_rules! locks {
    () => {
        concat!(
            "((",
            over!(),
            " OR t.locked_until IS NULL) AND ",
            next!(),
            " > ",
            limit!(),
            ")"
        )
    };
}

/// While either row is locked, the attempt is refused and counts nowhere:
/// retries against a locked username must not fill the address's count
/// (and lock out everyone behind the same NAT), nor retries from a locked
/// address escalate a username's back-off. Otherwise both rows are counted
/// (the address's first, so that concurrent attempts from one address lock
/// them in the same order). One statement; answers a row per lock found or
/// row counted.
const ATTEMPT: &str = concat!(
    "WITH locked AS ( \
         SELECT locked_until FROM sign_in_throttle \
         WHERE address = $1 AND username IN ('', $2) AND locked_until > now() \
     ), counted AS ( \
     INSERT INTO sign_in_throttle AS t \
         (address, username, failures, window_started_at, locked_until, lockouts) \
     SELECT $1, u.username, 1, now(), \
            CASE WHEN 1 > u.max THEN now() + make_interval(secs => $6) END, \
            CASE WHEN 1 > u.max THEN 1 ELSE 0 END \
     FROM (VALUES ('', $5::int), ($2::text, $4::int)) AS u (username, max) \
     WHERE NOT EXISTS (SELECT 1 FROM locked) \
     ORDER BY u.username \
     ON CONFLICT (address, username) DO UPDATE SET \
         failures = ",
    next!(),
    ", \
         window_started_at = CASE WHEN ",
    over!(),
    " THEN now() ELSE t.window_started_at END, \
         locked_until = CASE \
             WHEN ",
    locks!(),
    " \
             THEN now() + make_interval(secs => $6 * power(2, least(t.lockouts, $7))) \
             WHEN ",
    over!(),
    " THEN NULL \
             ELSE t.locked_until END, \
         lockouts = t.lockouts + CASE WHEN ",
    locks!(),
    " THEN 1 ELSE 0 END \
     RETURNING username, window_started_at, \
               CASE WHEN locked_until > now() \
                    THEN EXTRACT(EPOCH FROM locked_until - now())::float8 END AS wait \
     ) \
     SELECT NULL::text, NULL::timestamptz, EXTRACT(EPOCH FROM locked_until - now())::float8 \
     FROM locked \
     UNION ALL SELECT username, window_started_at, wait FROM counted"
);

/// What [`attempt`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// How long to wait, when the attempt is refused.
    pub wait: Option<Duration>,
    /// The window of the address's count this attempt went into, so that a
    /// success takes it back from that window only.
    address_window: Option<OffsetDateTime>,
}

/// Counts a sign-in attempt for `username` from `address` before its
/// password is checked, and says how long to wait if the attempt is over
/// either limit. Counting first, in one statement, means parallel guesses
/// cannot all slip through before any of them is counted; a successful
/// sign-in then takes its count back ([`succeeded`]).
pub async fn attempt(
    db: &PgPool,
    address: &ThrottleAddress,
    username: &str,
    rule: &ThrottleRule,
) -> sqlx::Result<Attempt> {
    let rows: Vec<(Option<String>, Option<OffsetDateTime>, Option<f64>)> = sqlx::query_as(ATTEMPT)
        .bind(address.as_str())
        .bind(username)
        .bind(rule.window.as_secs_f64())
        .bind(limit(rule.max_failures))
        .bind(limit(rule.max_failures_per_address))
        .bind(rule.lockout.as_secs_f64())
        .bind(MAX_BACKOFF_DOUBLINGS)
        .fetch_all(db)
        .await?;
    // Addresses and usernames nobody has are what a spraying attacker
    // sends: sweep rows whose window and lockout are long over, now and
    // then. Best effort: rows an attempt holds are skipped, and a failure
    // here is no reason to fail a sign-in already counted.
    if crate::random::one_in(100) {
        let swept = sqlx::query(
            "DELETE FROM sign_in_throttle WHERE (address, username) IN ( \
                 SELECT address, username FROM sign_in_throttle \
                 WHERE window_started_at < now() - interval '1 day' \
                   AND (locked_until IS NULL OR locked_until < now()) \
                 LIMIT 1000 FOR UPDATE SKIP LOCKED)",
        )
        .execute(db)
        .await;
        if let Err(e) = swept {
            tracing::warn!(error = %e, "sweeping old sign-in counts failed");
        }
    }
    let wait = rows
        .iter()
        .filter_map(|(_, _, wait)| *wait)
        .reduce(f64::max);
    let address_window = rows
        .iter()
        .find(|(name, _, _)| name.as_deref() == Some(""))
        .and_then(|(_, window, _)| *window);
    Ok(Attempt {
        wait: wait.map(|s| Duration::from_secs_f64(s.max(0.0))),
        address_window,
    })
}

fn limit(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A successful sign-in: the username's failures from this address are
/// forgotten (its back-off too), and the attempt no longer counts against
/// the address, which only failures should fill — in the window it was
/// counted in, so that a success landing after the count started afresh
/// cannot erase a newer failure.
pub async fn succeeded(
    db: &PgPool,
    address: &ThrottleAddress,
    username: &str,
    attempt: &Attempt,
) -> sqlx::Result<()> {
    sqlx::query(
        "WITH pair AS (DELETE FROM sign_in_throttle WHERE address = $1 AND username = $2) \
         UPDATE sign_in_throttle SET failures = failures - 1 \
         WHERE address = $1 AND username = '' AND window_started_at = $3 \
           AND failures > 0 AND locked_until IS NULL",
    )
    .bind(address.as_str())
    .bind(username)
    .bind(attempt.address_window)
    .execute(db)
    .await?;
    Ok(())
}

/// An operator's new password or reactivation lifts the user's lockouts
/// at every address (an address's own lockout, earned across usernames,
/// is not the user's to lift).
pub async fn clear(db: &PgPool, username: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sign_in_throttle WHERE username = $1")
        .bind(username)
        .execute(db)
        .await?;
    Ok(())
}

/// The `Retry-After` for a wait: rounded up to whole minutes, so that it
/// tells a client when to come back without handing an attacker the
/// second the lock opens.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let minutes = (wait.as_secs_f64() / 60.0).ceil().max(1.0);
    minutes as u64 * 60
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn an_ipv6_address_counts_as_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ThrottleAddress::of(Some(a)), ThrottleAddress::of(Some(b)));
        assert_ne!(ThrottleAddress::of(Some(a)), ThrottleAddress::of(Some(c)));
        assert_eq!(ThrottleAddress::of(Some(a)).as_str(), "2001:db8:1:2::/64");
    }

    #[test]
    fn an_ipv4_address_counts_alone_mapped_or_not() {
        let v4 = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
        let mapped = IpAddr::V6(Ipv4Addr::new(203, 0, 113, 7).to_ipv6_mapped());
        assert_eq!(ThrottleAddress::of(Some(v4)).as_str(), "203.0.113.7");
        assert_eq!(
            ThrottleAddress::of(Some(mapped)),
            ThrottleAddress::of(Some(v4))
        );
        assert_ne!(
            ThrottleAddress::of(Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 8)))),
            ThrottleAddress::of(Some(v4))
        );
        assert_eq!(ThrottleAddress::of(None).as_str(), "unknown");
        assert_eq!(
            ThrottleAddress::of(Some(IpAddr::V6(Ipv6Addr::LOCALHOST))).as_str(),
            "0:0:0:0::/64"
        );
    }

    #[test]
    fn retry_after_is_whole_minutes_and_never_zero() {
        assert_eq!(retry_after_seconds(Duration::from_millis(10)), 60);
        assert_eq!(retry_after_seconds(Duration::from_secs(60)), 60);
        assert_eq!(retry_after_seconds(Duration::from_millis(60_500)), 120);
        assert_eq!(retry_after_seconds(Duration::from_secs(61)), 120);
        assert_eq!(retry_after_seconds(Duration::from_secs(899)), 900);
    }
}
