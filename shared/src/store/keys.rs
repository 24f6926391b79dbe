//! Ingest keys: minted and revoked by admins, checked on every request a
//! sensor makes.

use serde_json::json;
use sqlx::PgPool;

use super::audit::Entry;
use crate::models::audit::{Audit, AuditAction, AuditTarget};
use crate::models::event::Source;
use crate::models::key::{IngestKey, KeyPrincipal, KeySecret, NewKey};

/// The columns of `IngestKey`; a macro so that `concat!` builds static SQL.
macro_rules! columns {
    () => {
        "id, name, source, prefix, created_at, created_by, last_used_at, revoked_at"
    };
}

/// Stores a new key's hash, with its audit row; the caller shows the
/// secret once. `by` is who mints it (an admin, or an operator's tool).
pub async fn create(
    db: &PgPool,
    key: &NewKey,
    secret: &KeySecret,
    by: &Audit,
) -> sqlx::Result<IngestKey> {
    let (user, _) = by.columns();
    let mut tx = db.begin().await?;
    let stored: IngestKey = sqlx::query_as(concat!(
        "INSERT INTO ingest_keys (name, source, prefix, secret_hash, created_by) \
         VALUES ($1, $2, $3, $4, $5) RETURNING ",
        columns!()
    ))
    .bind(key.name.as_str())
    .bind(key.source.as_str())
    .bind(secret.prefix())
    .bind(secret.hash().as_slice())
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    let detail = json!({"name": stored.name, "source": stored.source, "prefix": stored.prefix});
    let entry = Entry::new(
        AuditAction::KeyCreated,
        AuditTarget::Key,
        Some(stored.id),
        detail,
    );
    super::audit::record(&mut *tx, by, entry).await?;
    tx.commit().await?;
    Ok(stored)
}

pub async fn count(db: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM ingest_keys")
        .fetch_one(db)
        .await
}

/// Newest first.
pub const NEWEST_FIRST: super::Order = super::Order {
    time: None,
    id: "id",
    descending: true,
};

pub async fn list(db: &PgPool, window: super::Window) -> sqlx::Result<Vec<IngestKey>> {
    let mut sql = super::Sql::new(
        concat!("SELECT ", columns!(), " FROM ingest_keys WHERE TRUE"),
        false,
    );
    super::push_window(&mut sql, &NEWEST_FIRST, &window);
    sql.qb.build_query_as().fetch_all(db).await
}

pub async fn get(db: &PgPool, id: i64) -> sqlx::Result<Option<IngestKey>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM ingest_keys WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Revokes a key, with its audit row; revoking it again keeps the first
/// time and writes no row. `None` if there is no such key.
pub async fn revoke(db: &PgPool, id: i64, by: &Audit) -> sqlx::Result<Option<IngestKey>> {
    let mut tx = db.begin().await?;
    let was_live: Option<bool> =
        sqlx::query_scalar("SELECT revoked_at IS NULL FROM ingest_keys WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(was_live) = was_live else {
        return Ok(None);
    };
    let key: IngestKey = sqlx::query_as(concat!(
        "UPDATE ingest_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 \
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if was_live {
        let detail = json!({"name": key.name, "source": key.source});
        let entry = Entry::new(AuditAction::KeyRevoked, AuditTarget::Key, Some(id), detail);
        super::audit::record(&mut *tx, by, entry).await?;
    }
    tx.commit().await?;
    Ok(Some(key))
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: i64,
    source: String,
    secret_hash: Vec<u8>,
    stale: bool,
}

/// The key a request presents, if it is one and not revoked. Every row with
/// the key's prefix is compared, in constant time (a prefix may repeat:
/// it is 48 bits). `last_used_at` is written when it is a minute old or
/// more: at most one write a minute per key, not one per event.
pub async fn authenticate(db: &PgPool, secret: &KeySecret) -> sqlx::Result<Option<KeyPrincipal>> {
    let candidates: Vec<Candidate> = sqlx::query_as(
        "SELECT id, source, secret_hash, \
                (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale \
         FROM ingest_keys WHERE prefix = $1 AND revoked_at IS NULL",
    )
    .bind(secret.prefix())
    .fetch_all(db)
    .await?;
    let mut found = None;
    for candidate in candidates {
        // No early exit: every candidate costs the same comparison.
        if secret.matches(&candidate.secret_hash) {
            found = Some(candidate);
        }
    }
    let Some(key) = found else {
        return Ok(None);
    };
    if key.stale {
        sqlx::query(
            "UPDATE ingest_keys SET last_used_at = now() WHERE id = $1 \
             AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        )
        .bind(key.id)
        .execute(db)
        .await?;
    }
    Ok(Some(KeyPrincipal {
        id: key.id,
        source: Source::trusted(key.source),
    }))
}
