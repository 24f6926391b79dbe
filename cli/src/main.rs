//! `tmctl`: what `manage.py migrate`, `createsuperuser` and `runserver` were
//! for the original project, plus a one-command development environment.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tm_shared::config::{self, AuthSettings, DbSettings, HttpSettings};
use tm_shared::models::Role;
use tm_shared::models::audit::AuditVia;
use tm_shared::{AppState, accounts};
use tmctl::devdb::DevDb;
use tmctl::users::{self, CliResult};

#[derive(Parser)]
#[command(name = "tmctl", about = "Operate the threat monitoring API", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the database migrations (safe to run again).
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage ingest keys (what sensors send instead of a password).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Serve the API locally against DATABASE_URL (JWT_SECRET required).
    Serve {
        #[arg(long, default_value = "127.0.0.1:3000")]
        bind: SocketAddr,
    },
    /// Everything for a local run: a private PostgreSQL unless DATABASE_URL
    /// is set, migrations, demo users, then the server. Ctrl-C stops it all.
    Dev {
        #[arg(long, default_value = "127.0.0.1:3000")]
        bind: SocketAddr,
    },
    /// Print every route as `<function> <path>`, one per line (for checking
    /// the deployment template).
    Routes,
    /// Print the OpenAPI document (what `openapi.json` holds).
    Openapi,
    /// Print the Postman collection (what `postman_collection.json` holds).
    Postman,
    /// Print, as JSON, the SQL statements and parameters the store runs
    /// for a request (for the benchmark); needs no database.
    Statements(tmctl::statements::Statements),
    /// Print a cursor token for the row at (--at, --id) of a list, as the
    /// server signs them with JWT_SECRET (for the benchmark's deep pages).
    Cursor {
        #[arg(long)]
        path: String,
        #[arg(long, default_value = "-created_at")]
        ordering: String,
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        id: i64,
    },
    /// The private development PostgreSQL on its own.
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from a prompt, or from stdin when piped.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Set a user's password (read like `create` reads it).
    SetPassword {
        #[arg(long)]
        username: String,
    },
    /// Change a user's role; it applies from their next request.
    SetRole {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Stop a user from signing in or using their tokens.
    Deactivate {
        #[arg(long)]
        username: String,
    },
    /// Let a deactivated user in again.
    Activate {
        #[arg(long)]
        username: String,
    },
    /// List users.
    List,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Mint a key bound to a source; its secret is printed once, on stdout.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        source: String,
    },
    /// List keys, newest first (never their secrets).
    List,
    /// Revoke a key: it is refused from the next request on.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Start it (creating it first if needed) and print `export DATABASE_URL=...`.
    Start,
    /// Stop it.
    Stop,
}

fn parse_role(raw: &str) -> Result<Role, String> {
    raw.parse()
        .map_err(|_| "expected admin or analyst".to_owned())
}

/// The local server serves many requests at once, unlike a Lambda instance.
const LOCAL_MAX_CONNECTIONS: u32 = 10;

#[tokio::main]
async fn main() -> ExitCode {
    tm_shared::telemetry::init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tmctl: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> CliResult {
    match cli.command {
        // Each reads DATABASE_URL, or the secret named by DB_SECRET_ARN.
        Command::Migrate => migrate(&pool(true).await?).await,
        Command::User(command) => user(command, &pool(false).await?).await,
        Command::Key(command) => key(command, &pool(false).await?).await,
        Command::Serve { bind } => {
            let state = AppState::load(LOCAL_MAX_CONNECTIONS).await?;
            let state = as_app_login(state).await?;
            tmctl::serve::serve(state, bind).await.context("serving")
        }
        Command::Dev { bind } => dev(bind).await,
        Command::Routes => {
            for (function, path) in tmctl::routes() {
                println!("{function} {path}");
            }
            Ok(())
        }
        Command::Openapi => {
            print!("{}", tmctl::openapi::document_json());
            Ok(())
        }
        Command::Postman => {
            print!(
                "{}",
                tmctl::postman::collection_json(&tmctl::openapi::document())
            );
            Ok(())
        }
        Command::Statements(asked) => {
            let statements = tmctl::statements::statements(&asked)?;
            println!("{}", serde_json::to_string_pretty(&statements)?);
            Ok(())
        }
        Command::Cursor {
            path,
            ordering,
            at,
            id,
        } => {
            println!(
                "{}",
                tmctl::statements::mint_cursor(&path, &ordering, at.as_deref(), id)?
            );
            Ok(())
        }
        Command::Db(DbCommand::Start) => {
            let db = DevDb::from_env()?;
            db.start()?;
            println!("export DATABASE_URL='{}'", db.url()?.expose_secret());
            Ok(())
        }
        Command::Db(DbCommand::Stop) => DevDb::from_env()?.stop(),
    }
}

/// A small pool for operator commands; without a statement timeout for
/// migrations, which may wait for the migration lock.
async fn pool(for_migrations: bool) -> CliResult<PgPool> {
    let mut settings = config::load_db(1).await?;
    if for_migrations {
        settings = settings.for_migrations();
    }
    Ok(tm_shared::db::lazy_pool(&settings)?)
}

async fn migrate(db: &PgPool) -> CliResult {
    tm_shared::db::MIGRATOR.run(db).await.context("migrating")?;
    eprintln!("migrations applied");
    Ok(())
}

async fn user(command: UserCommand, db: &PgPool) -> CliResult {
    match command {
        UserCommand::Create { username, role } => {
            users::create(db, &username, role, users::read_new_password()?).await
        }
        UserCommand::SetPassword { username } => {
            let password = users::read_new_password()?;
            let done = accounts::set_password(db, &username, password, AuditVia::Tmctl).await;
            users::changed(done, &username, "password changed")
        }
        UserCommand::SetRole { username, role } => {
            let done = accounts::set_role(db, &username, role, AuditVia::Tmctl).await;
            users::changed(done, &username, "role changed")
        }
        UserCommand::Deactivate { username } => {
            let done = accounts::set_active(db, &username, false, AuditVia::Tmctl).await;
            users::changed(done, &username, "deactivated")
        }
        UserCommand::Activate { username } => {
            let done = accounts::set_active(db, &username, true, AuditVia::Tmctl).await;
            users::changed(done, &username, "activated")
        }
        UserCommand::List => users::list(db).await,
    }
}

async fn key(command: KeyCommand, db: &PgPool) -> CliResult {
    match command {
        KeyCommand::Create { name, source } => tmctl::sensor_keys::create(db, &name, &source).await,
        KeyCommand::List => tmctl::sensor_keys::list(db).await,
        KeyCommand::Revoke { id } => tmctl::sensor_keys::revoke(db, id).await,
    }
}

async fn dev(bind: SocketAddr) -> CliResult {
    let (url, dir, started) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            (SecretString::from(url), tmctl::devdb::dir_from_env()?, None)
        }
        _ => {
            let devdb = DevDb::from_env()?;
            eprintln!(
                "starting a private PostgreSQL in {}",
                devdb.root().display()
            );
            let started = devdb.start()?;
            let dir = devdb.root().to_owned();
            (devdb.url()?, dir, started.then_some(devdb))
        }
    };
    // Ctrl-C during set-up stops here; once serving, the server handles it.
    let result = tokio::select! {
        state = dev_state(url, &dir) => match state {
            Ok(state) => tmctl::serve::serve(state, bind).await.context("serving"),
            Err(e) => Err(e),
        },
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if let Some(devdb) = started {
        eprintln!("stopping the private PostgreSQL");
        devdb.stop()?;
    }
    result
}

/// Migrations, demo users and the state to serve, for `url` (the owner's):
/// the server connects as the local application login, with only the
/// application's privileges, as the deployed functions do.
async fn dev_state(url: SecretString, dir: &Path) -> CliResult<AppState> {
    let app_password = tm_shared::db::local_app_password(url.expose_secret());
    let settings = DbSettings::from_env_with_url(url, LOCAL_MAX_CONNECTIONS)?;
    let owner = tm_shared::db::lazy_pool(&settings)?;
    migrate(&owner).await?;
    demo_users(&owner).await?;
    let login = tm_shared::db::LOCAL_APP_LOGIN;
    tm_shared::db::provision_app_login(&owner, login, &app_password)
        .await
        .context("making the application's login role")?;
    let pool = tm_shared::db::pool_as(&owner, login, &app_password);
    let auth = AuthSettings::from_env_with_secret(dev_jwt_secret(dir)?)?;
    let state = AppState::new(pool, &auth)?.with_http(HttpSettings::from_env()?);
    Ok(state.with_request_timeout(settings.request_timeout()))
}

/// `tmctl serve` with only the application's privileges, as the deployed
/// functions and `tmctl dev` run: DATABASE_URL's user (the owner, who ran
/// the migrations) provisions the local application login, which serves.
/// A user who may not make roles is not the owner (an application login
/// itself, say): it is served as given, with a warning.
async fn as_app_login(state: AppState) -> CliResult<AppState> {
    let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        return Ok(state);
    };
    let password = tm_shared::db::local_app_password(&url);
    let login = tm_shared::db::LOCAL_APP_LOGIN;
    match tm_shared::db::provision_app_login(&state.db, login, &password).await {
        Ok(()) => {
            let pool = tm_shared::db::pool_as(&state.db, login, &password);
            Ok(AppState { db: pool, ..state })
        }
        // 42501: this user may not make roles (the guard's own refusal is
        // another code, and an error).
        Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("42501") => {
            eprintln!(
                "warning: DATABASE_URL's user may not make the application login; \
                 serving as that user, with its privileges"
            );
            Ok(state)
        }
        Err(e) => Err(e).context(
            "making the application's login role (has `tmctl migrate` run on this database?)",
        ),
    }
}

/// `admin` and `analyst`, with random passwords shown once, at creation.
async fn demo_users(db: &PgPool) -> CliResult {
    for (username, role) in [("admin", Role::Admin), ("analyst", Role::Analyst)] {
        if tm_shared::store::users::credentials(db, username)
            .await?
            .is_some()
        {
            eprintln!(
                "demo user {username:?} exists (its password was shown when it was made; \
                 `tmctl user set-password --username {username}` sets a new one)"
            );
            continue;
        }
        let password = accounts::generated_password();
        users::create(db, username, role, password.clone()).await?;
        println!("demo {role} credentials (shown once):");
        println!("  username: {username}");
        users::reveal("password", &password);
    }
    Ok(())
}

/// `JWT_SECRET` if set; otherwise a key generated once and kept in the
/// development folder, so tokens survive restarts of the dev server.
fn dev_jwt_secret(dir: &Path) -> CliResult<SecretString> {
    if let Ok(secret) = std::env::var("JWT_SECRET")
        && !secret.is_empty()
    {
        return Ok(SecretString::from(secret));
    }
    let path = dir.join("jwt_secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(SecretString::from(existing.trim().to_owned()));
    }
    std::fs::create_dir_all(dir)?;
    let secret = tm_shared::random::hex(32);
    write_private(&path, &secret)?;
    Ok(SecretString::from(secret))
}

fn write_private(path: &Path, contents: &str) -> CliResult {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
