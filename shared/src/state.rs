//! What every request handler shares, built once per cold start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::auth::jwt::{JwtKeys, KeyError, KeyStore};
use crate::config::secrets::SecretsClient;
use crate::config::{AuthSettings, Config, ConfigError, DbSettings, HttpSettings};
use crate::db;
use crate::http::cursor::CursorKey;
use crate::ingest::SilenceCache;
use crate::store::sessions::Lifetimes;
use crate::store::throttle::ThrottleRule;

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub jwt: Arc<KeyStore>,
    /// Past this a request is answered 503 (see `DbSettings::request_timeout`).
    pub request_timeout: Duration,
    /// Present when the database credentials came from Secrets Manager.
    pub credentials: Option<Arc<CredentialRefresher>>,
    pub throttle: ThrottleRule,
    pub sessions: Lifetimes,
    /// Trusted proxies, allowed origins, the public base URL.
    pub http: Arc<HttpSettings>,
    pub silences: SilenceCache,
    /// Signs and checks `?cursor=` tokens.
    pub cursor: Arc<CursorKey>,
}

/// The request timeout for the default database settings (2 s + 5 s + 1 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

impl AppState {
    pub fn new(db: PgPool, auth: &AuthSettings) -> Result<Self, KeyError> {
        let jwt = JwtKeys::new(&auth.jwt_secret, auth.access_ttl, auth.refresh_ttl)?;
        let cursor = CursorKey::derive(jwt.cursor_seed());
        Ok(Self {
            cursor: Arc::new(cursor),
            db,
            jwt: Arc::new(KeyStore::fixed(jwt)),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            credentials: None,
            throttle: auth.throttle,
            sessions: Lifetimes {
                idle: auth.refresh_ttl,
                max: auth.session_max_lifetime,
            },
            http: Arc::new(HttpSettings::default()),
            silences: SilenceCache::default(),
        })
    }

    /// For tests: how long silences are cached (see `ingest::SILENCE_CACHE_TTL`).
    pub fn with_silence_ttl(mut self, ttl: Duration) -> Self {
        self.silences = SilenceCache::new(ttl);
        self
    }

    pub fn with_http(mut self, http: HttpSettings) -> Self {
        self.http = Arc::new(http);
        self
    }

    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Reads configuration from the environment or Secrets Manager (see
    /// [`Config::load`]) and builds the state: what a cold start does.
    pub async fn load(default_max_connections: u32) -> Result<Self, ConfigError> {
        Self::from_config(Config::load(default_max_connections).await?)
    }

    fn from_config(config: Config) -> Result<Self, ConfigError> {
        let pool = db::lazy_pool(&config.db)?;
        let mut state = Self::new(pool, &config.auth)
            .map_err(|e| ConfigError::Invalid("JWT_SECRET", e.to_string()))?
            .with_request_timeout(config.db.request_timeout())
            .with_http(config.http);
        if let Some((secrets, secret_id)) = config.jwt_secret {
            let keys = JwtKeys::new(
                &config.auth.jwt_secret,
                config.auth.access_ttl,
                config.auth.refresh_ttl,
            )
            .map_err(|e| ConfigError::Invalid("JWT_SECRET", e.to_string()))?;
            state.jwt = Arc::new(KeyStore::from_secret(
                keys,
                secrets,
                secret_id,
                config.auth.key_refresh,
            ));
        }
        state.credentials = config.db_secret.map(|secrets| {
            Arc::new(CredentialRefresher {
                secrets,
                settings: config.db.clone(),
                last: tokio::sync::Mutex::new(None),
            })
        });
        Ok(state)
    }
}

/// Reads the database secret again when the database refuses the
/// credentials: RDS rotates a managed master password every 7 days, and a
/// warm function read the old one at its cold start.
pub struct CredentialRefresher {
    secrets: SecretsClient,
    settings: DbSettings,
    last: tokio::sync::Mutex<Option<Instant>>,
}

/// A burst of refused requests reads the secret once.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

impl CredentialRefresher {
    /// New connections of `pool` use the secret's current value; open ones
    /// stay as they are (a rotation does not end sessions).
    pub async fn refresh(&self, pool: &PgPool) {
        let mut last = self.last.lock().await;
        if last.is_some_and(|at| at.elapsed() < MIN_REFRESH_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        let target = match self.secrets.db_target().await {
            Ok(target) => target,
            Err(e) => {
                tracing::error!(error = %e, "re-reading the database secret failed");
                return;
            }
        };
        let settings = DbSettings {
            target,
            ..self.settings.clone()
        };
        match settings.connect_options() {
            Ok(options) => {
                pool.set_connect_options(options);
                tracing::info!("database credentials re-read from Secrets Manager");
            }
            Err(e) => tracing::error!(error = %e, "the re-read database secret is unusable"),
        }
    }
}
