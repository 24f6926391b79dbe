//! What every request handler shares, built once per cold start.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::jwt::{JwtKeys, WeakSecret};
use crate::config::{AuthSettings, Config, ConfigError};
use crate::db;

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub jwt: Arc<JwtKeys>,
}

impl AppState {
    pub fn new(db: PgPool, auth: &AuthSettings) -> Result<Self, WeakSecret> {
        let jwt = JwtKeys::new(&auth.jwt_secret, auth.access_ttl, auth.refresh_ttl)?;
        Ok(Self {
            db,
            jwt: Arc::new(jwt),
        })
    }

    /// Reads configuration from the environment and builds the state.
    pub fn from_env(default_max_connections: u32) -> Result<Self, ConfigError> {
        let config = Config::from_env(default_max_connections)?;
        let pool = db::lazy_pool(&config.db)?;
        Self::new(pool, &config.auth).map_err(|e| ConfigError::Invalid("JWT_SECRET", e.to_string()))
    }
}
