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

/// The group role that holds the application's privileges (see
/// migrations/20261203000017_app_role.sql).
pub const APP_ROLE: &str = "threatmon_app";

/// Makes `login` a login role with `password` and the application's
/// privileges (a member of [`APP_ROLE`], nothing else), creating it or
/// setting its password: run with the owner's pool after the migrations,
/// by the admin function on deploy and by `tmctl` for local runs. Safe to
/// run again.
pub async fn provision_app_login(owner: &PgPool, login: &str, password: &str) -> sqlx::Result<()> {
    // Roles are the server's: two processes provisioning the same login at
    // once (parallel local servers, tests) can collide on its catalog row
    // ("tuple concurrently updated", or a CREATE that lost the race). Each
    // attempt is a whole transaction, so trying again is safe.
    let mut attempt = 1;
    loop {
        match provision_once(owner, login, password).await {
            Err(sqlx::Error::Database(e))
                if attempt < 3
                    && matches!(
                        e.code().as_deref(),
                        Some("XX000" | "40001" | "42710" | "23505")
                    ) =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            result => return result,
        }
    }
}

async fn provision_once(owner: &PgPool, login: &str, password: &str) -> sqlx::Result<()> {
    // CREATE/ALTER ROLE take no bound parameters. The name and password go
    // in as settings of this transaction and are quoted on the server
    // (format's %I, %L), so neither the statement text (which sqlx and the
    // server's statement log may keep) nor a quoting slip here carries them.
    let mut tx = owner.begin().await?;
    sqlx::query(
        "SELECT set_config('threatmon.app_login', $1, true), \
                set_config('threatmon.app_password', $2, true)",
    )
    .bind(login)
    .bind(scram_verifier(password))
    .execute(&mut *tx)
    .await?;
    sqlx::raw_sql(
        "DO $$
         DECLARE
             login text := current_setting('threatmon.app_login');
             verifier text := current_setting('threatmon.app_password');
             verb text := CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = login)
                               THEN 'ALTER' ELSE 'CREATE' END;
         BEGIN
             -- Only a role that is nothing but an application login may be
             -- (re)made one: altering the owner, a superuser, a role with
             -- other powers or memberships (rds_superuser, pg_write_all_data,
             -- the owner itself), or one that owns anything, would hand its
             -- rights to every API function. Refused with a code of its own.
             IF login IN (current_user, session_user, 'threatmon_app')
                OR EXISTS (SELECT FROM pg_roles WHERE rolname = login
                           AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication
                                OR rolbypassrls))
                OR EXISTS (SELECT FROM pg_auth_members m
                           JOIN pg_roles r ON r.oid = m.member
                           JOIN pg_roles g ON g.oid = m.roleid
                           WHERE r.rolname = login AND g.rolname <> 'threatmon_app')
                OR EXISTS (SELECT FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
                           WHERE d.refclassid = 'pg_authid'::regclass AND d.deptype = 'o'
                             AND r.rolname = login)
                OR EXISTS (SELECT FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
                           WHERE r.rolname = login) THEN
                 RAISE EXCEPTION 'refusing to make % the application login: it is more than one', login
                     USING ERRCODE = 'TM001';
             END IF;
             EXECUTE format('%s ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE '
                            'NOREPLICATION NOBYPASSRLS INHERIT PASSWORD %L', verb, login, verifier);
             EXECUTE format('GRANT threatmon_app TO %I', login);
         END
         $$",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The SQLSTATE of [`provision_app_login`]'s refusal of a role that is more
/// than an application login.
pub const REFUSED_LOGIN: &str = "TM001";

/// PostgreSQL's SCRAM-SHA-256 verifier of `password` (RFC 5802/7677, as
/// `pg_authid` stores it), so that the statement that sets it carries no
/// password: an error's context in the server's log would quote it. The
/// passwords given are ASCII (generated), which SASLprep leaves as they are.
fn scram_verifier(password: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};
    const ITERATIONS: u32 = 4096;
    let mac = |key: &[u8], data: &[&[u8]]| {
        let mut m =
            <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        for d in data {
            m.update(d);
        }
        m.finalize().into_bytes()
    };
    let salt = crate::random::bytes(16);
    // PBKDF2-HMAC-SHA-256, one block (32 bytes).
    let mut u = mac(password.as_bytes(), &[&salt, &1u32.to_be_bytes()]);
    let mut salted = u;
    for _ in 1..ITERATIONS {
        u = mac(password.as_bytes(), &[&u]);
        for (s, b) in salted.iter_mut().zip(u.iter()) {
            *s ^= b;
        }
    }
    let client_key = mac(&salted, &[b"Client Key"]);
    let stored_key = Sha256::digest(client_key);
    let server_key = mac(&salted, &[b"Server Key"]);
    format!(
        "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
        STANDARD.encode(&salt),
        STANDARD.encode(stored_key),
        STANDARD.encode(server_key)
    )
}

/// The login role local runs (`tmctl serve`, `tmctl dev`, the tests) serve
/// as: provisioned by [`provision_app_login`] like the deployed one.
pub const LOCAL_APP_LOGIN: &str = "threatmon_app_local";

/// The password of [`LOCAL_APP_LOGIN`], derived from the owner's URL: the
/// same for every local process on one server (so parallel runs agree), and
/// known only to whoever holds the owner's credentials. Never stored.
pub fn local_app_password(owner_url: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"threatmon local application role\0")
        .chain_update(owner_url.as_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A pool like `owner`'s (same server, database and pool settings) that
/// connects as `login`, for serving with the application's privileges only.
pub fn pool_as(owner: &PgPool, login: &str, password: &str) -> PgPool {
    let options = (*owner.connect_options())
        .clone()
        .username(login)
        .password(password);
    owner.options().clone().connect_lazy_with(options)
}
