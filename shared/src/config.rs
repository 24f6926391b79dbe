//! Configuration, read once per cold start from the environment.
//! Secrets are held as `SecretString` and never appear in `Debug` or logs.

use std::env;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;

/// Why configuration could not be loaded. Messages name the variable, never its value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{0} is not valid: {1}")]
    Invalid(&'static str, String),
}

#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: SecretString,
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout: Duration,
    /// Bounds every statement, so a slow database cannot hold a request.
    pub statement_timeout: Duration,
}

impl DbSettings {
    /// Settings for `url`, the rest from `DB_*` variables or their defaults.
    pub fn from_env_with_url(
        url: SecretString,
        default_max_connections: u32,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            url,
            max_connections: number("DB_MAX_CONNECTIONS", default_max_connections)?,
            acquire_timeout: Duration::from_millis(number("DB_ACQUIRE_TIMEOUT_MS", 2_000)?.into()),
            statement_timeout: Duration::from_millis(
                number("DB_STATEMENT_TIMEOUT_MS", 5_000)?.into(),
            ),
        })
    }

    /// The longest a request may take: waiting for a connection, one slow
    /// statement, and a second for the rest. Past it the answer is a 503,
    /// even if the database has gone silent mid-query.
    pub fn request_timeout(&self) -> Duration {
        self.acquire_timeout + self.statement_timeout + Duration::from_secs(1)
    }

    pub fn connect_options(&self) -> Result<PgConnectOptions, ConfigError> {
        // The parse error of a URL may quote it, password included: drop it.
        let options = PgConnectOptions::from_str(self.url.expose_secret())
            .map_err(|_| ConfigError::Invalid("DATABASE_URL", "not a PostgreSQL URL".into()))?;
        let statement_timeout = self.statement_timeout.as_millis().to_string();
        Ok(options
            .application_name("threat-monitoring")
            .options([("statement_timeout", statement_timeout.as_str())]))
    }
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub jwt_secret: SecretString,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub db: DbSettings,
    pub auth: AuthSettings,
}

impl Config {
    /// Everything the API needs. `default_max_connections` differs between a
    /// Lambda instance (one request at a time) and the local server.
    pub fn from_env(default_max_connections: u32) -> Result<Self, ConfigError> {
        Ok(Self {
            db: db_from_env(default_max_connections)?,
            auth: AuthSettings::from_env_with_secret(required_secret("JWT_SECRET")?)?,
        })
    }
}

impl AuthSettings {
    /// Settings for `jwt_secret`, lifetimes from the environment or defaults.
    pub fn from_env_with_secret(jwt_secret: SecretString) -> Result<Self, ConfigError> {
        Ok(Self {
            jwt_secret,
            access_ttl: seconds("ACCESS_TOKEN_LIFETIME", 15 * 60)?,
            refresh_ttl: seconds("REFRESH_TOKEN_LIFETIME", 24 * 60 * 60)?,
        })
    }
}

/// Only the database settings, for commands that do not serve the API.
pub fn db_from_env(default_max_connections: u32) -> Result<DbSettings, ConfigError> {
    DbSettings::from_env_with_url(required_secret("DATABASE_URL")?, default_max_connections)
}

fn required_secret(name: &'static str) -> Result<SecretString, ConfigError> {
    match env::var(name) {
        Ok(value) if !value.is_empty() => Ok(SecretString::from(value)),
        _ => Err(ConfigError::Missing(name)),
    }
}

fn number(name: &'static str, default: u32) -> Result<u32, ConfigError> {
    match env::var(name) {
        Err(_) => Ok(default),
        Ok(raw) => match raw.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::Invalid(
                name,
                format!("expected a positive integer, got {raw:?}"),
            )),
        },
    }
}

fn seconds(name: &'static str, default: u32) -> Result<Duration, ConfigError> {
    number(name, default).map(|s| Duration::from_secs(s.into()))
}
