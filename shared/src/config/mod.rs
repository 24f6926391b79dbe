//! Configuration, read once per cold start: from environment variables
//! locally, from Secrets Manager in AWS (see [`secrets`]). Secrets are held as
//! `SecretString` and never appear in `Debug` output, logs or errors.

pub mod secrets;

use std::env;
use std::str::FromStr;
use std::time::Duration;

use axum::http::HeaderValue;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::http::client::parse_trusted_proxies;
use crate::store::throttle::ThrottleRule;

/// Why configuration could not be loaded. Messages name the variable, never its value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{0} is not valid: {1}")]
    Invalid(&'static str, String),
    #[error("the secret named by {0} could not be read: {1}")]
    Secret(&'static str, String),
}

/// Where the database is.
#[derive(Debug, Clone)]
pub enum DbTarget {
    /// `DATABASE_URL`, password included.
    Url(SecretString),
    /// Pieces, as a Secrets Manager database secret gives them.
    Parts(DbParts),
}

#[derive(Debug, Clone)]
pub struct DbParts {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub password: SecretString,
    pub ssl_mode: PgSslMode,
    /// The certificate authorities a `verify-ca`/`verify-full` connection
    /// trusts (`DB_SSLROOTCERT`, a PEM file); without it, the RDS CAs
    /// compiled in ([`RDS_CA_BUNDLE`]).
    pub ssl_root_cert: Option<std::path::PathBuf>,
}

/// Amazon RDS's root certificate authorities, every region's, from AWS's
/// global bundle less what has expired; `scripts/rds-ca-bundle` refreshes
/// the file. Compiled in, so a function verifies RDS with nothing to fetch
/// or ship beside it. (sqlx adds Mozilla's public roots, webpki-roots, to
/// whatever it is given; no public CA issues names under RDS's domain.)
pub const RDS_CA_BUNDLE: &[u8] = include_bytes!("../../certs/rds-ca-bundle.pem");

#[derive(Debug, Clone)]
pub struct DbSettings {
    pub target: DbTarget,
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
        Self::from_env_with_target(DbTarget::Url(url), default_max_connections)
    }

    pub fn from_env_with_target(
        target: DbTarget,
        default_max_connections: u32,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            target,
            max_connections: number("DB_MAX_CONNECTIONS", default_max_connections)?,
            acquire_timeout: Duration::from_millis(number("DB_ACQUIRE_TIMEOUT_MS", 2_000)?.into()),
            statement_timeout: Duration::from_millis(statement_timeout_ms()?.into()),
        })
    }

    /// The same database without a statement timeout: migrations may wait
    /// for the migration lock or rewrite a big table, and must not be cut off.
    pub fn for_migrations(mut self) -> Self {
        self.statement_timeout = Duration::ZERO;
        self
    }

    /// The longest a request may take: waiting for a connection, one slow
    /// statement, and a second for the rest. Past it the answer is a 503,
    /// even if the database has gone silent mid-query.
    pub fn request_timeout(&self) -> Duration {
        self.acquire_timeout + self.statement_timeout + Duration::from_secs(1)
    }

    pub fn connect_options(&self) -> Result<PgConnectOptions, ConfigError> {
        let options = match &self.target {
            // The parse error of a URL may quote it, password included: drop it.
            DbTarget::Url(url) => PgConnectOptions::from_str(url.expose_secret())
                .map_err(|_| ConfigError::Invalid("DATABASE_URL", "not a PostgreSQL URL".into()))?,
            DbTarget::Parts(parts) => {
                let options = PgConnectOptions::new_without_pgpass()
                    .host(&parts.host)
                    .port(parts.port)
                    .database(&parts.database)
                    .username(&parts.username)
                    .password(parts.password.expose_secret())
                    .ssl_mode(parts.ssl_mode);
                match (&parts.ssl_root_cert, parts.ssl_mode) {
                    (Some(file), _) => options.ssl_root_cert(file),
                    (None, PgSslMode::VerifyCa | PgSslMode::VerifyFull) => {
                        options.ssl_root_cert_from_pem(RDS_CA_BUNDLE.to_vec())
                    }
                    (None, _) => options,
                }
            }
        };
        // No JIT: every statement here is a short one, and compiling it
        // costs tens of ms wherever PostgreSQL's estimates pass
        // `jit_above_cost` (generic plans over array parameters do).
        let options = options
            .application_name("threat-monitoring")
            .options([("jit", "off")]);
        if self.statement_timeout.is_zero() {
            return Ok(options);
        }
        let statement_timeout = self.statement_timeout.as_millis().to_string();
        Ok(options.options([("statement_timeout", statement_timeout.as_str())]))
    }
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub jwt_secret: SecretString,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// However often it is refreshed, a session ends this long after its
    /// sign-in (`SESSION_MAX_LIFETIME`).
    pub session_max_lifetime: Duration,
    pub throttle: ThrottleRule,
    /// How often keys from a secret are read again (`JWT_KEYS_REFRESH_SECONDS`).
    pub key_refresh: crate::auth::jwt::KeyRefresh,
}

/// How the HTTP edge treats its callers.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`; see
    /// `http::client`).
    pub trusted_proxies: Vec<IpNet>,
    /// Browser origins that may call the API (`CORS_ALLOWED_ORIGINS`); none
    /// by default, so no page elsewhere can read an answer.
    pub cors_origins: Vec<HeaderValue>,
    /// Where clients reach the API (`PUBLIC_BASE_URL`), for page links; see
    /// `http::pagination::RequestUrl` for what is used without it.
    pub public_base_url: Option<PublicBaseUrl>,
}

/// `scheme://host[:port][/path]`, no trailing slash, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBaseUrl(String);

impl PublicBaseUrl {
    pub fn parse(value: &str) -> Result<Self, String> {
        let origin_and_path = web_url(value.trim_end_matches('/'))?;
        Ok(Self(origin_and_path))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An http(s) URL with a host and at most a path, lowercased where URLs are
/// case-blind (scheme and host), as browsers send an `Origin`.
fn web_url(value: &str) -> Result<String, String> {
    let uri: axum::http::Uri = value
        .parse()
        .map_err(|_| format!("{value:?} is not a URL"))?;
    let scheme = uri.scheme_str().map(str::to_ascii_lowercase);
    let (Some(scheme @ ("http" | "https")), Some(authority)) = (scheme.as_deref(), uri.authority())
    else {
        return Err(format!("{value:?} is not an http(s) URL with a host"));
    };
    if authority.as_str().contains('@') || uri.query().is_some() || value.contains('#') {
        return Err(format!("{value:?} may hold no user, query or fragment"));
    }
    let path = uri.path().trim_end_matches('/');
    Ok(format!(
        "{scheme}://{}{path}",
        authority.as_str().to_ascii_lowercase()
    ))
}

/// An origin: a web URL without a path.
fn origin(value: &str) -> Result<HeaderValue, String> {
    let url = web_url(value)?;
    if url.matches('/').count() > 2 {
        return Err(format!("{value:?} is an origin: no path"));
    }
    HeaderValue::from_str(&url).map_err(|_| format!("{value:?} is not a header value"))
}

impl HttpSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let list = |name: &'static str| -> Vec<String> {
            optional(name)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let invalid = |name| move |e| ConfigError::Invalid(name, e);
        Ok(Self {
            trusted_proxies: optional("TRUSTED_PROXIES")
                .map(|v| parse_trusted_proxies(&v))
                .transpose()
                .map_err(invalid("TRUSTED_PROXIES"))?
                .unwrap_or_default(),
            cors_origins: list("CORS_ALLOWED_ORIGINS")
                .iter()
                .map(|o| origin(o))
                .collect::<Result<_, _>>()
                .map_err(invalid("CORS_ALLOWED_ORIGINS"))?,
            public_base_url: optional("PUBLIC_BASE_URL")
                .map(|v| PublicBaseUrl::parse(&v))
                .transpose()
                .map_err(invalid("PUBLIC_BASE_URL"))?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub db: DbSettings,
    pub auth: AuthSettings,
    pub http: HttpSettings,
    /// Set when the database credentials came from Secrets Manager, to read
    /// them again after a rotation.
    pub db_secret: Option<secrets::SecretsClient>,
    /// Present when the signing keys came from Secrets Manager (with the
    /// secret's id), to read them again as they rotate.
    pub jwt_secret: Option<(secrets::SecretsClient, String)>,
}

impl Config {
    /// Everything the API needs: from the environment where it says so
    /// (`DATABASE_URL`, `JWT_SECRET`), else from the Secrets Manager secrets
    /// named by `DB_SECRET_ARN` and `JWT_SECRET_ARN`, fetched together.
    pub async fn load(default_max_connections: u32) -> Result<Self, ConfigError> {
        let url = optional("DATABASE_URL").map(SecretString::from);
        let jwt = optional("JWT_SECRET").map(SecretString::from);
        // Without the variable or the ARN of its secret, say which variable
        // is missing rather than what Secrets Manager would need.
        if url.is_none() && optional("DB_SECRET_ARN").is_none() {
            return Err(ConfigError::Missing("DATABASE_URL"));
        }
        if jwt.is_none() && optional("JWT_SECRET_ARN").is_none() {
            return Err(ConfigError::Missing("JWT_SECRET"));
        }
        let mut db_secret = None;
        let mut jwt_source = None;
        let (target, jwt_secret) = match (url, jwt) {
            (Some(url), Some(jwt)) => (DbTarget::Url(url), jwt),
            (url, jwt) => {
                let client = secrets::SecretsClient::from_env()?;
                if url.is_none() {
                    db_secret = Some(client.clone());
                }
                if jwt.is_none() {
                    jwt_source = optional("JWT_SECRET_ARN").map(|id| (client.clone(), id));
                }
                let target = async {
                    match url {
                        Some(url) => Ok(DbTarget::Url(url)),
                        None => client.db_target().await,
                    }
                };
                let jwt = async {
                    match jwt {
                        Some(jwt) => Ok(jwt),
                        None => client.jwt_secret().await,
                    }
                };
                let (target, jwt) = tokio::join!(target, jwt);
                (target?, jwt?)
            }
        };
        Ok(Self {
            db: DbSettings::from_env_with_target(target, default_max_connections)?,
            auth: AuthSettings::from_env_with_secret(jwt_secret)?,
            http: HttpSettings::from_env()?,
            db_secret,
            jwt_secret: jwt_source,
        })
    }
}

impl AuthSettings {
    /// Settings for `jwt_secret`, lifetimes from the environment or defaults.
    pub fn from_env_with_secret(jwt_secret: SecretString) -> Result<Self, ConfigError> {
        let defaults = ThrottleRule::default();
        Ok(Self {
            jwt_secret,
            access_ttl: seconds("ACCESS_TOKEN_LIFETIME", 15 * 60)?,
            refresh_ttl: seconds("REFRESH_TOKEN_LIFETIME", 24 * 60 * 60)?,
            session_max_lifetime: seconds("SESSION_MAX_LIFETIME", 7 * 24 * 60 * 60)?,
            key_refresh: {
                let defaults = crate::auth::jwt::KeyRefresh::default();
                // At least a second: 0 would read the secret for every
                // request, and for every forged kid.
                let every = seconds("JWT_KEYS_REFRESH_SECONDS", defaults.every.as_secs() as u32)?
                    .max(Duration::from_secs(1));
                crate::auth::jwt::KeyRefresh {
                    every,
                    unknown_kid_after: defaults.unknown_kid_after.min(every),
                }
            },
            throttle: ThrottleRule {
                max_failures: number("LOGIN_MAX_FAILURES", defaults.max_failures)?,
                max_failures_per_address: number(
                    "LOGIN_MAX_FAILURES_PER_ADDRESS",
                    defaults.max_failures_per_address,
                )?,
                window: seconds("LOGIN_FAILURE_WINDOW", defaults.window.as_secs() as u32)?,
                lockout: seconds("LOGIN_LOCKOUT", defaults.lockout.as_secs() as u32)?,
            },
        })
    }
}

/// Database settings alone, from `DATABASE_URL` or else `DB_SECRET_ARN`.
pub async fn load_db(default_max_connections: u32) -> Result<DbSettings, ConfigError> {
    let target = match optional("DATABASE_URL") {
        Some(url) => DbTarget::Url(SecretString::from(url)),
        None if optional("DB_SECRET_ARN").is_none() => {
            return Err(ConfigError::Missing("DATABASE_URL"));
        }
        None => secrets::SecretsClient::from_env()?.db_target().await?,
    };
    DbSettings::from_env_with_target(target, default_max_connections)
}

/// A variable's value, if set and not empty.
fn optional(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.is_empty())
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

/// The changes feed's settling time (`store::alerts::FEED_SETTLE_SECONDS`)
/// counts on no statement running longer than this.
const MAX_STATEMENT_TIMEOUT_MS: u32 = 5_000;

fn statement_timeout_ms() -> Result<u32, ConfigError> {
    const NAME: &str = "DB_STATEMENT_TIMEOUT_MS";
    match number(NAME, MAX_STATEMENT_TIMEOUT_MS)? {
        n if n <= MAX_STATEMENT_TIMEOUT_MS => Ok(n),
        n => Err(ConfigError::Invalid(
            NAME,
            format!("at most {MAX_STATEMENT_TIMEOUT_MS} (the changes feed counts on it), got {n}"),
        )),
    }
}

fn seconds(name: &'static str, default: u32) -> Result<Duration, ConfigError> {
    number(name, default).map(|s| Duration::from_secs(s.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_rds_bundle_is_every_regions_roots_as_sqlx_reads_them() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        // As sqlx reads an inline root certificate: each must parse.
        let certs: Vec<_> = CertificateDer::pem_slice_iter(RDS_CA_BUNDLE)
            .collect::<Result<_, _>>()
            .unwrap();
        // Three G1 roots (RSA2048, RSA4096, ECC384) per region.
        assert!(certs.len() >= 60, "{}", certs.len());
        assert_eq!(certs.len() % 3, 0);
        let text = std::str::from_utf8(RDS_CA_BUNDLE).unwrap();
        assert_eq!(text.matches("BEGIN CERTIFICATE").count(), certs.len());
    }

    #[test]
    fn a_public_base_url_is_an_http_url_with_at_most_a_path() {
        let ok = |v: &str| PublicBaseUrl::parse(v).map(|u| u.as_str().to_owned());
        assert_eq!(
            ok("https://API.example.com/").unwrap(),
            "https://api.example.com"
        );
        assert_eq!(
            ok("https://example.com/soc/").unwrap(),
            "https://example.com/soc"
        );
        assert_eq!(
            ok("http://127.0.0.1:8000").unwrap(),
            "http://127.0.0.1:8000"
        );
        for bad in [
            "api.example.com",
            "ftp://example.com",
            "https://user@example.com",
            "https://example.com/?a=1",
            "https://example.com/#x",
            "/api",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_allowed_origin_has_no_path() {
        assert_eq!(
            origin("https://Console.example.com").unwrap(),
            "https://console.example.com"
        );
        assert_eq!(
            origin("http://localhost:5173/").unwrap(),
            "http://localhost:5173"
        );
        assert!(origin("https://example.com/console").is_err());
        assert!(origin("*").is_err());
        assert!(origin("null").is_err());
    }
}
