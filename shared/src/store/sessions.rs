//! Sign-in sessions (see migrations/20261203000016_sessions.sql): started
//! by a sign-in, carried on by rotating refresh tokens, ended by logout, by
//! a refresh token used twice or by a change to the account.

use std::net::IpAddr;
use std::time::Duration;

use sqlx::{PgExecutor, PgPool};

use crate::models::Role;
use crate::models::audit::AuditAction;
use crate::models::session::{Session, SessionEnd};

/// A session just started: its id and its first refresh token's jti.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub id: i64,
    pub refresh_jti: String,
}

/// How long a session may last, from what configuration says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// A refresh token's life: a session unused this long ends.
    pub idle: Duration,
    /// However often it is refreshed, a session ends this long after its
    /// sign-in.
    pub max: Duration,
}

/// Starts a session for `user_id`, whose `session_epoch` the sign-in read
/// with the password hash as `epoch`, from `address`; the sign-in's audit
/// row is written by the same statement.
pub async fn start(
    db: &PgPool,
    user_id: i64,
    epoch: i32,
    lifetimes: Lifetimes,
    address: Option<IpAddr>,
    user_agent: Option<&str>,
) -> sqlx::Result<Started> {
    let refresh_jti = crate::random::hex(16);
    let id = sqlx::query_scalar(
        "WITH s AS ( \
             INSERT INTO sessions \
                 (user_id, user_epoch, refresh_jti, expires_at, ends_by, client_address, user_agent) \
             VALUES ($1, $2, $3, now() + make_interval(secs => least($4, $5)), \
                     now() + make_interval(secs => $5), $6, $7) \
             RETURNING id, user_id \
         ), audited AS ( \
             INSERT INTO audit_log (actor_user, via, address, action, target_type, target_id, detail) \
             SELECT user_id, 'api', $6::inet, 'sign_in.succeeded', 'user', user_id, \
                    jsonb_build_object('session', id) \
             FROM s \
         ) \
         SELECT id FROM s",
    )
    .bind(user_id)
    .bind(epoch)
    .bind(&refresh_jti)
    .bind(lifetimes.idle.as_secs_f64())
    .bind(lifetimes.max.as_secs_f64())
    .bind(super::audit::inet(address))
    .bind(user_agent)
    .fetch_one(db)
    .await?;
    if crate::random::one_in(100)
        && let Err(e) = sweep(db).await
    {
        // Best effort: a failure here is no reason to fail a sign-in.
        tracing::warn!(error = %e, "sweeping old sessions failed");
    }
    Ok(Started { id, refresh_jti })
}

/// Deletes up to 1,000 sessions that expired or ended over a day ago (kept
/// that long for an operator's look at what happened); rows in use are
/// skipped. How many it deleted.
pub async fn sweep(db: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM sessions WHERE id IN ( \
             SELECT id FROM sessions \
             WHERE expires_at < now() - interval '1 day' OR ended_at < now() - interval '1 day' \
             LIMIT 1000 FOR UPDATE SKIP LOCKED)",
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// What presenting a refresh token of a session came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The session goes on with `refresh_jti` as its newest token; the
    /// user's role now.
    Rotated {
        user_id: i64,
        role: Role,
        refresh_jti: String,
    },
    /// A token older than the newest: the session has just been ended.
    Reused,
    /// No such session, or ended, expired or its user inactive.
    Over,
}

/// Trades the refresh token `jti` of session `id` for a new one, under the
/// session's row lock, so two refreshes racing with the same token cannot
/// both succeed: the second finds the token rotated and ends the session.
pub async fn rotate(
    db: &PgPool,
    id: i64,
    jti: &str,
    idle: Duration,
    address: Option<IpAddr>,
) -> sqlx::Result<Rotation> {
    let mut tx = db.begin().await?;
    let found: Option<(i64, String, bool, Role, bool)> = sqlx::query_as(
        "SELECT s.user_id, s.refresh_jti, \
                s.ended_at IS NULL AND s.expires_at > now() AND s.user_epoch = u.session_epoch, \
                u.role, u.is_active \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1 FOR UPDATE OF s",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, newest, live, role, active)) = found else {
        return Ok(Rotation::Over);
    };
    if !live || !active {
        return Ok(Rotation::Over);
    }
    if newest != jti {
        end(&mut *tx, id, SessionEnd::RefreshReused, address).await?;
        tx.commit().await?;
        return Ok(Rotation::Reused);
    }
    let refresh_jti = crate::random::hex(16);
    sqlx::query(
        "UPDATE sessions SET refresh_jti = $2, last_used_at = now(), \
             expires_at = least(now() + make_interval(secs => $3), ends_by) \
         WHERE id = $1",
    )
    .bind(id)
    .bind(&refresh_jti)
    .bind(idle.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Rotation::Rotated {
        user_id,
        role,
        refresh_jti,
    })
}

/// Ends session `id` if it is live, with its audit row: `session.ended`
/// by its user, or for a reused refresh token `session.reuse_detected` by
/// nobody known (whoever presented it may not be the user). `false` if it
/// was not live (already ended, or none such). `address` is the request's.
pub async fn end<'e>(
    db: impl PgExecutor<'e>,
    id: i64,
    why: SessionEnd,
    address: Option<IpAddr>,
) -> sqlx::Result<bool> {
    end_where(
        db,
        "s.id = $1 AND s.ended_at IS NULL",
        (id, None),
        why,
        address,
    )
    .await
}

/// The statement every ending runs: the sessions `filter` picks (over
/// `$1`, the session, and `$2`, a jti or a user), ended with their audit
/// rows.
async fn end_where<'e>(
    db: impl PgExecutor<'e>,
    filter: &'static str,
    (id, other): (i64, Option<Other<'_>>),
    why: SessionEnd,
    address: Option<IpAddr>,
) -> sqlx::Result<bool> {
    let reused = why == SessionEnd::RefreshReused;
    let action = if reused {
        AuditAction::SessionReuseDetected
    } else {
        AuditAction::SessionEnded
    };
    let sql = format!(
        "WITH ended AS ( \
             UPDATE sessions s SET ended_at = now(), ended_because = $3 \
             WHERE {filter} RETURNING s.id, s.user_id \
         ), audited AS ( \
             INSERT INTO audit_log (actor_user, via, address, action, target_type, target_id, detail) \
             SELECT CASE WHEN $6 THEN NULL ELSE user_id END, 'api', $4::inet, $5, 'session', id, \
                    jsonb_build_object('why', $3::text, 'user', user_id) \
             FROM ended \
         ) \
         SELECT count(*) FROM ended"
    );
    // The filter is one of this module's constants; every value is bound.
    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(id);
    let query = match other {
        None => query.bind(None::<i64>),
        Some(Other::Jti(jti)) => query.bind(jti),
        Some(Other::User(user)) => query.bind(user),
    };
    let ended: i64 = query
        .bind(why.as_str())
        .bind(super::audit::inet(address))
        .bind(action)
        .bind(reused)
        .fetch_one(db)
        .await?;
    Ok(ended == 1)
}

/// The second parameter of an ending's filter.
#[derive(Debug, Clone, Copy)]
enum Other<'a> {
    Jti(&'a str),
    User(i64),
}

/// A genuine refresh token that has expired: if it was spent (not the
/// session's newest), someone else refreshed with a copy of it, so the
/// session ends all the same. Whether it ended one.
pub async fn end_if_spent(
    db: &PgPool,
    id: i64,
    jti: &str,
    address: Option<IpAddr>,
) -> sqlx::Result<bool> {
    end_where(
        db,
        "s.id = $1 AND s.ended_at IS NULL AND s.refresh_jti <> $2",
        (id, Some(Other::Jti(jti))),
        SessionEnd::RefreshReused,
        address,
    )
    .await
}

/// Ends `user_id`'s live session `id`; `false` if it is not one of theirs
/// or not live.
pub async fn end_own(
    db: &PgPool,
    user_id: i64,
    id: i64,
    address: Option<IpAddr>,
) -> sqlx::Result<bool> {
    end_where(
        db,
        "s.id = $1 AND s.user_id = $2 AND s.ended_at IS NULL AND s.expires_at > now()",
        (id, Some(Other::User(user_id))),
        SessionEnd::EndedByUser,
        address,
    )
    .await
}

/// Newest first.
pub const NEWEST_FIRST: super::Order = super::Order {
    time: None,
    id: "id",
    descending: true,
};

pub async fn count_live(db: &PgPool, user_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now()",
    )
        .bind(user_id)
        .fetch_one(db)
        .await
}

pub async fn live(db: &PgPool, user_id: i64, window: super::Window) -> sqlx::Result<Vec<Session>> {
    let mut sql = super::Sql::new(
        "SELECT id, created_at, last_used_at, expires_at, client_address, user_agent \
         FROM sessions WHERE user_id = ",
        false,
    );
    sql.bind(user_id)
        .push(" AND ended_at IS NULL AND expires_at > now()");
    super::push_window(&mut sql, &NEWEST_FIRST, &window);
    sql.qb.build_query_as().fetch_all(db).await
}

const ACTIVE_ROLE_IN_SESSION: &str = "SELECT u.role FROM users u JOIN sessions s ON s.user_id = u.id \
     WHERE u.id = $1 AND u.is_active AND s.id = $2 AND s.ended_at IS NULL AND s.expires_at > now() \
     AND s.user_epoch = u.session_epoch";

/// The current role of an active user whose session `session` is live;
/// `None` otherwise. Run for every signed-in request, so that ending a
/// session, or any change to the account, stops its access tokens at once.
pub async fn active_role(db: &PgPool, user_id: i64, session: i64) -> sqlx::Result<Option<Role>> {
    sqlx::query_scalar(ACTIVE_ROLE_IN_SESSION)
        .bind(user_id)
        .bind(session)
        .fetch_optional(db)
        .await
}

/// What checking a signed-in user runs.
pub fn active_role_statement(user_id: i64, session: i64) -> super::Statement {
    super::Statement {
        name: "auth",
        sql: ACTIVE_ROLE_IN_SESSION.to_owned(),
        params: vec![user_id.to_string(), session.to_string()],
    }
}
