//! The first answer to each `Idempotency-Key`, per principal, for 24 hours.
//!
//! A request claims its key before it writes (a row with no status yet), and
//! its answer is recorded in the same transaction as its writes, so a
//! stored answer and stored events never disagree. A claim whose request
//! died unanswered is taken over after `ABANDONED_AFTER`, longer than any
//! request may run.

use sqlx::{PgExecutor, PgPool};

/// How long an answer is kept.
pub const KEEP_HOURS: i32 = 24;
/// A claim older than this with no answer belongs to a request that died or
/// was cut off by the request deadline (8 s by default; Lambda's timeout is
/// 10 s), so a retry after a 503 waits at most this long.
pub const ABANDONED_AFTER_SECONDS: i32 = 20;
/// Expired rows are swept, this many at most, by one claim in `SWEEP_ONE_IN`.
const SWEEP_BATCH: i64 = 1000;
const SWEEP_ONE_IN: u32 = 50;

/// What a request with an idempotency key is to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's: run it, then record the answer.
    Fresh,
    /// The same request was answered: send that answer again.
    Replay { status: u16, body: String },
    /// The key was used with another request.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

#[derive(sqlx::FromRow)]
struct Record {
    request_hash: Vec<u8>,
    status: Option<i16>,
    body: Option<String>,
}

pub async fn claim(
    db: &PgPool,
    principal: &str,
    key: &str,
    request_hash: &[u8; 32],
) -> sqlx::Result<Claim> {
    if crate::random::one_in(SWEEP_ONE_IN) {
        sweep(db).await;
    }
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (principal, key, request_hash, expires_at) \
         VALUES ($1, $2, $3, now() + make_interval(hours => $4)) \
         ON CONFLICT (principal, key) DO UPDATE SET \
             request_hash = EXCLUDED.request_hash, status = NULL, body = NULL, \
             created_at = now(), expires_at = EXCLUDED.expires_at \
         WHERE idempotency_keys.expires_at <= now() \
            OR (idempotency_keys.status IS NULL \
                AND idempotency_keys.created_at < now() - make_interval(secs => $5)) \
         RETURNING true",
    )
    .bind(principal)
    .bind(key)
    .bind(request_hash.as_slice())
    .bind(KEEP_HOURS)
    .bind(f64::from(ABANDONED_AFTER_SECONDS))
    .fetch_optional(db)
    .await?;
    if claimed.is_some() {
        return Ok(Claim::Fresh);
    }
    let record: Option<Record> = sqlx::query_as(
        "SELECT request_hash, status, body FROM idempotency_keys \
         WHERE principal = $1 AND key = $2",
    )
    .bind(principal)
    .bind(key)
    .fetch_optional(db)
    .await?;
    Ok(match record {
        // Released between the two statements: the first request failed
        // just now; a retry may go ahead.
        None => Claim::InFlight,
        Some(r) if r.request_hash != request_hash.as_slice() => Claim::Mismatch,
        Some(Record {
            status: Some(status),
            body: Some(body),
            ..
        }) => Claim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
        },
        Some(_) => Claim::InFlight,
    })
}

/// Deletes expired rows, a bounded number. Rows another request is taking
/// over are skipped (locked) and rows no longer expired are kept (checked
/// again), so a sweep never removes a live claim. A failure is only logged:
/// the sweep is housekeeping, not the request's work.
async fn sweep(db: &PgPool) {
    let swept = sqlx::query(
        "DELETE FROM idempotency_keys WHERE expires_at <= now() AND (principal, key) IN ( \
             SELECT principal, key FROM idempotency_keys WHERE expires_at <= now() \
             LIMIT $1 FOR UPDATE SKIP LOCKED)",
    )
    .bind(SWEEP_BATCH)
    .execute(db)
    .await;
    if let Err(e) = swept {
        tracing::warn!(error = %e, "sweeping expired idempotency keys failed");
    }
}

/// Records the answer, in the transaction of the request's writes. `false`
/// if the claim is no longer this request's (it was taken over as
/// abandoned): the caller must roll its writes back.
pub async fn complete(
    db: impl PgExecutor<'_>,
    principal: &str,
    key: &str,
    status: u16,
    body: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE idempotency_keys SET status = $3, body = $4 \
         WHERE principal = $1 AND key = $2 AND status IS NULL",
    )
    .bind(principal)
    .bind(key)
    .bind(i16::try_from(status).unwrap_or(500))
    .bind(body)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a claim up: the request failed and stored nothing, so a retry
/// runs afresh.
pub async fn release(db: &PgPool, principal: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status IS NULL",
    )
    .bind(principal)
    .bind(key)
    .execute(db)
    .await?;
    Ok(())
}
