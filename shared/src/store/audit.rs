//! The audit log: appended to by every write, in the write's own
//! transaction (or statement); read newest first by admins. The
//! application role may only read and append (migration 18).

use std::net::IpAddr;

use serde_json::Value;
use sqlx::{PgExecutor, PgPool};

use super::{Order, Sql, Window};
use crate::models::audit::{ActorFilter, Audit, AuditAction, AuditEntry, AuditFilter, AuditTarget};

/// One row to append.
#[derive(Debug, Clone)]
pub struct Entry {
    pub action: AuditAction,
    pub target: AuditTarget,
    pub target_id: Option<i64>,
    pub detail: Value,
}

impl Entry {
    pub fn new(
        action: AuditAction,
        target: AuditTarget,
        target_id: Option<i64>,
        detail: Value,
    ) -> Self {
        Self {
            action,
            target,
            target_id,
            detail,
        }
    }
}

/// An address as the log and the sessions keep it: an IPv4 client seen
/// through an IPv6 socket is written as IPv4.
pub fn inet(address: Option<IpAddr>) -> Option<String> {
    address.map(|a| a.to_canonical().to_string())
}

/// Appends `entry`, by `audit`'s actor, through `db` (a transaction the
/// change runs in, so both commit or neither).
pub async fn record(db: impl PgExecutor<'_>, audit: &Audit, entry: Entry) -> sqlx::Result<()> {
    let (user, key) = audit.columns();
    sqlx::query(
        "INSERT INTO audit_log \
             (actor_user, actor_key, via, address, action, target_type, target_id, detail) \
         VALUES ($1, $2, $3, $4::inet, $5, $6, $7, $8)",
    )
    .bind(user)
    .bind(key)
    .bind(audit.via)
    .bind(inet(audit.address))
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.target_id)
    .bind(sqlx::types::Json(entry.detail))
    .execute(db)
    .await?;
    Ok(())
}

/// Appends the first four columns' values of an audit row to a statement
/// being built (`actor_user, actor_key, via, address`), for a write that
/// appends its row in the same statement. Absent values are written as
/// NULL, not bound: pgbench, which runs the ingest statements in the
/// benchmark, cannot pass a NULL.
pub(crate) fn push_author(sql: &mut Sql, audit: &Audit) {
    let (user, key) = audit.columns();
    for id in [user, key] {
        match id {
            Some(id) => sql.bind(id).push("::bigint, "),
            None => sql.push("NULL::bigint, "),
        };
    }
    sql.bind(audit.via).push("::audit_via, ");
    match audit.address {
        Some(address) => sql.bind(address.to_canonical().to_string()).push("::inet"),
        None => sql.push("NULL::inet"),
    };
}

/// Newest first. Ids are drawn when a row is written, not when it commits,
/// so a row may appear behind one a reader has passed by up to the length
/// of a write's transaction; the log is read by people, after the fact.
pub const NEWEST_FIRST: Order = Order {
    time: None,
    id: "l.id",
    descending: true,
};

const SELECT: &str = "SELECT l.id, l.at, l.actor_user, u.username AS actor_username, \
     l.actor_key, k.name AS actor_key_name, l.via, host(l.address) AS address, l.action, \
     l.target_type, l.target_id, l.detail \
     FROM audit_log l \
     LEFT JOIN users u ON u.id = l.actor_user \
     LEFT JOIN ingest_keys k ON k.id = l.actor_key";

fn push_filters(sql: &mut Sql, filter: &AuditFilter) {
    let AuditFilter {
        actor,
        action,
        target_type,
        target_id,
        via,
        at,
    } = filter;
    sql.push(" WHERE TRUE");
    match actor {
        Some(ActorFilter::User(name)) => {
            sql.push(" AND l.actor_user = (SELECT id FROM users WHERE username = ")
                .bind(name.clone())
                .push(")");
        }
        Some(ActorFilter::Key(id)) => {
            sql.push(" AND l.actor_key = ").bind(*id);
        }
        None => {}
    }
    if let Some(actions) = action {
        super::push_one_of(sql, "l.action", actions);
    }
    if let Some(targets) = target_type {
        super::push_one_of(sql, "l.target_type", targets);
    }
    if let Some(id) = target_id {
        sql.push(" AND l.target_id = ").bind(id.0);
    }
    if let Some(via) = via {
        super::push_one_of(sql, "l.via", via);
    }
    super::push_time_range(sql, "l.at", at);
}

pub async fn count(db: &PgPool, filter: &AuditFilter) -> sqlx::Result<i64> {
    let mut sql = Sql::new("SELECT count(*) FROM audit_log l", false);
    push_filters(&mut sql, filter);
    sql.qb.build_query_scalar().fetch_one(db).await
}

pub async fn list(
    db: &PgPool,
    filter: &AuditFilter,
    window: Window,
) -> sqlx::Result<Vec<AuditEntry>> {
    let mut sql = Sql::new(SELECT, false);
    push_filters(&mut sql, filter);
    super::push_window(&mut sql, &NEWEST_FIRST, &window);
    sql.qb.build_query_as().fetch_all(db).await
}

/// A sign-in refused (`sign_in.failed`, `sign_in.locked_out`), of the user
/// the name is if it is one. `detail` gets the name as typed only when it
/// is a user's: an unknown one may be a password typed in the wrong box,
/// so it is kept as a short SHA-256 (enough to see one name sprayed from
/// many places). `audit`'s actor is nobody for a sign-in (the caller proved
/// nothing), the caller for a password change's check of the current one.
///
/// A locked-out address is refused without a password check, so its
/// requests cost nothing: their rows are kept to one a minute per address,
/// or anyone could grow the log without bound.
pub async fn sign_in_refused(
    db: &PgPool,
    action: AuditAction,
    username: &str,
    audit: &Audit,
    detail: Value,
) -> sqlx::Result<()> {
    let (user, key) = audit.columns();
    sqlx::query(
        "INSERT INTO audit_log \
             (actor_user, actor_key, via, address, action, target_type, target_id, detail) \
         SELECT $1, $2, $3, $4::inet, $5, 'user', u.id, \
                $7::jsonb || CASE WHEN u.id IS NOT NULL \
                    THEN jsonb_build_object('username', $6::text) \
                    ELSE jsonb_build_object('unknown_username_sha256', \
                         left(encode(sha256(convert_to($6::text, 'UTF8')), 'hex'), 16)) END \
         FROM (SELECT (SELECT id FROM users WHERE username = $6) AS id) u \
         WHERE $5 <> 'sign_in.locked_out'::audit_action OR NOT EXISTS ( \
             SELECT 1 FROM audit_log l \
             WHERE l.action = 'sign_in.locked_out' \
               AND (l.address = $4::inet OR ($4::inet IS NULL AND l.address IS NULL)) \
               AND l.at > now() - interval '1 minute')",
    )
    .bind(user)
    .bind(key)
    .bind(audit.via)
    .bind(inet(audit.address))
    .bind(action)
    .bind(username)
    .bind(sqlx::types::Json(detail))
    .execute(db)
    .await?;
    Ok(())
}
