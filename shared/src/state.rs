//! What every request handler shares, built once per cold start.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::auth::jwt::{JwtKeys, WeakSecret};
use crate::config::{AuthSettings, Config, ConfigError};
use crate::db;

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub jwt: Arc<JwtKeys>,
    /// Past this a request is answered 503 (see `DbSettings::request_timeout`).
    pub request_timeout: Duration,
}

/// The request timeout for the default database settings (2 s + 5 s + 1 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

impl AppState {
    pub fn new(db: PgPool, auth: &AuthSettings) -> Result<Self, WeakSecret> {
        let jwt = JwtKeys::new(&auth.jwt_secret, auth.access_ttl, auth.refresh_ttl)?;
        Ok(Self {
            db,
            jwt: Arc::new(jwt),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        })
    }

    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Reads configuration from the environment and builds the state.
    pub fn from_env(default_max_connections: u32) -> Result<Self, ConfigError> {
        Self::from_config(Config::from_env(default_max_connections)?)
    }

    /// Reads configuration from the environment or Secrets Manager (see
    /// [`Config::load`]) and builds the state: what a cold start does.
    pub async fn load(default_max_connections: u32) -> Result<Self, ConfigError> {
        Self::from_config(Config::load(default_max_connections).await?)
    }

    fn from_config(config: Config) -> Result<Self, ConfigError> {
        let pool = db::lazy_pool(&config.db)?;
        Self::new(pool, &config.auth).map_err(|e| ConfigError::Invalid("JWT_SECRET", e.to_string()))
    }
}
