//! The connection pool and the embedded migrations.

use std::sync::LazyLock;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::config::{ConfigError, DbSettings};

/// `migrations/` at the workspace root, compiled into every binary that
/// needs it, so a deploy's schema and code come from the same commit.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The same migrations, for runs on deploy: when a failed deploy rolls back,
/// the older code must not fail on the newer migrations the database has
/// (they are additive), or the stack could not finish rolling back.
pub static DEPLOY_MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("../migrations");
    migrator.set_ignore_missing(true);
    migrator
});

/// A pool that connects on first use: a cold start does not wait for the
/// database, and a database that is down yields 503s instead of a crash loop.
pub fn lazy_pool(settings: &DbSettings) -> Result<PgPool, ConfigError> {
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(settings.acquire_timeout)
        // A ping per checkout doubles round trips; a broken connection fails
        // its one query with a 503 and is dropped, and the next one is new.
        .test_before_acquire(false)
        .connect_lazy_with(settings.connect_options()?))
}
