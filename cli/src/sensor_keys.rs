//! `tmctl key ...`: ingest keys, minted and revoked by operators. The
//! secret is printed once, alone on stdout (so `tmctl key create ... >
//! file` keeps it and nothing else); what happened goes to stderr.

use anyhow::anyhow;
use sqlx::PgPool;
use tm_shared::models::audit::{Audit, AuditVia};
use tm_shared::models::key::{KeySecret, NewKey};
use tm_shared::store;

use crate::users::CliResult;

pub async fn create(db: &PgPool, name: &str, source: &str) -> CliResult {
    let key =
        NewKey::from_parts(name, source).map_err(|e| anyhow!("invalid key: {:?}", e.as_map()))?;
    let secret = KeySecret::generate();
    let stored = store::keys::create(db, &key, &secret, &Audit::operator(AuditVia::Tmctl)).await?;
    eprintln!(
        "minted key {} ({:?}, source {:?}); its secret, shown this once:",
        stored.id, stored.name, stored.source
    );
    println!("{}", secret.expose());
    Ok(())
}

pub async fn list(db: &PgPool) -> CliResult {
    let keys = store::keys::list(
        db,
        store::Window::Page {
            limit: i64::MAX,
            offset: 0,
        },
    )
    .await?;
    println!(
        "{:<6} {:<18} {:<24} {:<24} {:<10} {:<10}",
        "id", "prefix", "name", "source", "last used", "revoked"
    );
    let day = |t: Option<time::OffsetDateTime>| {
        t.map_or_else(|| "-".to_owned(), |t| t.date().to_string())
    };
    for k in keys {
        println!(
            "{:<6} {:<18} {:<24} {:<24} {:<10} {:<10}",
            k.id,
            k.prefix,
            k.name,
            k.source,
            day(k.last_used_at),
            day(k.revoked_at)
        );
    }
    Ok(())
}

pub async fn revoke(db: &PgPool, id: i64) -> CliResult {
    let key = store::keys::revoke(db, id, &Audit::operator(AuditVia::Tmctl))
        .await?
        .ok_or_else(|| anyhow!("no key {id}"))?;
    eprintln!("key {} ({:?}) revoked", key.id, key.name);
    Ok(())
}
