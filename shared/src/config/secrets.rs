//! Reading configuration from AWS Secrets Manager, once per cold start.
//!
//! The client is built from the environment Lambda gives every function
//! (`AWS_REGION` and the execution role's keys in `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) without `aws-config`: its
//! credential chain would add STS and SSO clients to every binary, and could
//! reach for the instance metadata service when the keys are missing. Here a
//! missing key is an error, and nothing is contacted but Secrets Manager, at
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER` (or `AWS_ENDPOINT_URL`) when set.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Region, timeout::TimeoutConfig};
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use secrecy::SecretString;
use serde::Deserialize;
use sqlx::postgres::PgSslMode;

use super::{ConfigError, DbParts, DbTarget, optional};

/// The variable naming the application login's secret (the admin
/// function's; the API functions read theirs as `DB_SECRET_ARN`).
const APP_VAR: &str = "APP_DB_SECRET_ARN";

/// The application's login as its secret holds it.
#[derive(Debug, Clone)]
pub struct AppLogin {
    pub username: String,
    pub password: SecretString,
    /// Whether the secret says where the database is (host, port, dbname).
    pub has_location: bool,
}

/// A cold start must not hang on a secret: give up and let Lambda retry.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct SecretsClient(aws_sdk_secretsmanager::Client);

impl SecretsClient {
    pub fn from_env() -> Result<Self, ConfigError> {
        let region = optional("AWS_REGION")
            .or_else(|| optional("AWS_DEFAULT_REGION"))
            .ok_or(ConfigError::Missing("AWS_REGION"))?;
        let key = optional("AWS_ACCESS_KEY_ID").ok_or(ConfigError::Missing("AWS_ACCESS_KEY_ID"))?;
        let secret = optional("AWS_SECRET_ACCESS_KEY")
            .ok_or(ConfigError::Missing("AWS_SECRET_ACCESS_KEY"))?;
        let credentials = Credentials::new(
            key,
            secret,
            optional("AWS_SESSION_TOKEN"),
            None,
            "environment",
        );
        let mut config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(credentials)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(FETCH_TIMEOUT)
                    .build(),
            );
        if let Some(endpoint) =
            optional("AWS_ENDPOINT_URL_SECRETS_MANAGER").or_else(|| optional("AWS_ENDPOINT_URL"))
        {
            config = config.endpoint_url(endpoint);
        }
        Ok(Self(aws_sdk_secretsmanager::Client::from_conf(
            config.build(),
        )))
    }

    /// The string value of the secret whose ARN the variable `var` holds.
    async fn string(&self, var: &'static str) -> Result<SecretString, ConfigError> {
        let id = optional(var).ok_or(ConfigError::Missing(var))?;
        self.string_of(var, &id).await
    }

    /// The string value of secret `id` (`var` names it in errors): for a
    /// secret read again later, by the id the cold start found.
    pub async fn string_of(
        &self,
        var: &'static str,
        id: &str,
    ) -> Result<SecretString, ConfigError> {
        let output = self
            .0
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| ConfigError::Secret(var, DisplayErrorContext(e).to_string()))?;
        output
            .secret_string()
            .map(|s| SecretString::from(s.to_owned()))
            .ok_or(ConfigError::Secret(var, "it has no string value".into()))
    }

    /// The string value of the secret whose ARN the variable `var` holds:
    /// for the admin function, which manages the signing keys' secrets.
    pub async fn read(&self, var: &'static str) -> Result<SecretString, ConfigError> {
        self.string(var).await
    }

    /// Puts `value` as the new value of the secret `var` names.
    pub async fn write(&self, var: &'static str, value: &str) -> Result<(), ConfigError> {
        let id = optional(var).ok_or(ConfigError::Missing(var))?;
        self.0
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| ConfigError::Secret(var, DisplayErrorContext(e).to_string()))?;
        Ok(())
    }

    /// The signing key: the whole string value of `JWT_SECRET_ARN`'s secret.
    pub async fn jwt_secret(&self) -> Result<SecretString, ConfigError> {
        self.string("JWT_SECRET_ARN").await
    }

    /// The application's database login, for the admin function to
    /// provision: `APP_DB_SECRET_ARN`'s secret, `{"username", "password"}`
    /// (Secrets Manager generates the password; the template names the
    /// login), and whether it says where the database is yet.
    pub async fn app_login(&self) -> Result<AppLogin, ConfigError> {
        use secrecy::ExposeSecret;
        let raw = self.string(APP_VAR).await?;
        #[derive(Deserialize)]
        struct Login {
            username: String,
            password: String,
            host: Option<String>,
        }
        let login: Login = serde_json::from_str(raw.expose_secret()).map_err(|_| {
            ConfigError::Secret(APP_VAR, "expected JSON with username and password".into())
        })?;
        if login.username.is_empty() || login.username.len() > 63 {
            return Err(ConfigError::Secret(
                APP_VAR,
                "the username must be 1 to 63 bytes (a PostgreSQL role name)".into(),
            ));
        }
        if login.password.len() < 16 {
            return Err(ConfigError::Secret(
                APP_VAR,
                "the password must be at least 16 characters".into(),
            ));
        }
        Ok(AppLogin {
            username: login.username,
            password: SecretString::from(login.password),
            has_location: login.host.is_some(),
        })
    }

    /// Writes the application's secret whole, in RDS's shape: its login
    /// and the owner's host, port and database, so that the functions,
    /// which read only this secret, find the database without the owner's.
    pub async fn complete_app_secret(
        &self,
        login: &AppLogin,
        owner: &DbParts,
    ) -> Result<(), ConfigError> {
        use secrecy::ExposeSecret;
        let id = optional(APP_VAR).ok_or(ConfigError::Missing(APP_VAR))?;
        let value = serde_json::json!({
            "engine": "postgres",
            "username": login.username,
            "password": login.password.expose_secret(),
            "host": owner.host,
            "port": owner.port,
            "dbname": owner.database,
        });
        self.0
            .put_secret_value()
            .secret_id(id)
            .secret_string(value.to_string())
            .send()
            .await
            .map_err(|e| ConfigError::Secret(APP_VAR, DisplayErrorContext(e).to_string()))?;
        Ok(())
    }

    /// The database: `DB_SECRET_ARN`'s secret, in the JSON shape RDS uses,
    /// with `DB_HOST`, `DB_PORT`, `DB_NAME` and `DB_SSLMODE` taking
    /// precedence where set (an RDS-managed master secret holds only the
    /// username and password; the template passes the rest).
    pub async fn db_target(&self) -> Result<DbTarget, ConfigError> {
        let raw = self.string("DB_SECRET_ARN").await?;
        parse_db_secret(&raw, &EnvOverrides::from_env()).map(DbTarget::Parts)
    }
}

#[derive(Debug, Default)]
struct EnvOverrides {
    host: Option<String>,
    port: Option<String>,
    database: Option<String>,
    ssl_mode: Option<String>,
    ssl_root_cert: Option<String>,
}

impl EnvOverrides {
    fn from_env() -> Self {
        Self {
            host: optional("DB_HOST"),
            port: optional("DB_PORT"),
            database: optional("DB_NAME"),
            ssl_mode: optional("DB_SSLMODE"),
            ssl_root_cert: optional("DB_SSLROOTCERT"),
        }
    }
}

/// RDS writes the port as a number; people write it as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Port {
    Number(u16),
    Text(String),
}

#[derive(Deserialize)]
struct DbSecret {
    username: String,
    password: String,
    host: Option<String>,
    port: Option<Port>,
    dbname: Option<String>,
}

fn parse_db_secret(raw: &SecretString, env: &EnvOverrides) -> Result<DbParts, ConfigError> {
    use secrecy::ExposeSecret;
    const VAR: &str = "DB_SECRET_ARN";
    // serde's messages can quote the value they choked on: report the shape only.
    let secret: DbSecret = serde_json::from_str(raw.expose_secret()).map_err(|_| {
        ConfigError::Secret(
            VAR,
            "expected JSON with username and password (and host, port, dbname unless DB_HOST, DB_PORT, DB_NAME are set)".into(),
        )
    })?;
    let host = env.host.clone().or(secret.host).ok_or(ConfigError::Secret(
        VAR,
        "no host: set DB_HOST or put host in the secret".into(),
    ))?;
    let port_text = env.port.clone().or(match &secret.port {
        Some(Port::Text(text)) => Some(text.clone()),
        _ => None,
    });
    let port = match (port_text, &secret.port) {
        (Some(text), _) => text
            .parse()
            .map_err(|_| ConfigError::Invalid("DB_PORT", format!("not a port: {text:?}")))?,
        (None, Some(Port::Number(n))) => *n,
        (None, _) => 5432,
    };
    let ssl_mode = match &env.ssl_mode {
        Some(mode) => mode
            .parse()
            .map_err(|_| ConfigError::Invalid("DB_SSLMODE", format!("unknown mode {mode:?}")))?,
        // In AWS the database is RDS, which speaks TLS: insist on it, and
        // on its certificate (the RDS CAs are compiled in).
        None => PgSslMode::VerifyFull,
    };
    Ok(DbParts {
        host,
        port,
        database: env
            .database
            .clone()
            .or(secret.dbname)
            .unwrap_or_else(|| "postgres".into()),
        username: secret.username,
        password: SecretString::from(secret.password),
        ssl_mode,
        ssl_root_cert: env.ssl_root_cert.clone().map(Into::into),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn secret(json: &str) -> SecretString {
        SecretString::from(json.to_owned())
    }

    #[test]
    fn an_rds_secret_gives_every_part() {
        let parts = parse_db_secret(
            &secret(r#"{"engine":"postgres","username":"u","password":"p w","host":"db.internal","port":6543,"dbname":"tm"}"#),
            &EnvOverrides::default(),
        )
        .unwrap();
        assert_eq!(
            (parts.host.as_str(), parts.port, parts.database.as_str()),
            ("db.internal", 6543, "tm")
        );
        assert_eq!(parts.username, "u");
        assert_eq!(parts.password.expose_secret(), "p w");
        assert!(matches!(parts.ssl_mode, PgSslMode::VerifyFull));
        assert_eq!(parts.ssl_root_cert, None, "the RDS CAs compiled in");
    }

    #[test]
    fn the_environment_fills_in_what_a_managed_master_secret_lacks() {
        let env = EnvOverrides {
            host: Some("rds.example".into()),
            port: Some("5433".into()),
            database: Some("threatmon".into()),
            ssl_mode: Some("require".into()),
            ssl_root_cert: Some("/opt/ca.pem".into()),
        };
        let parts = parse_db_secret(&secret(r#"{"username":"u","password":"p"}"#), &env).unwrap();
        assert_eq!(
            (parts.host.as_str(), parts.port, parts.database.as_str()),
            ("rds.example", 5433, "threatmon")
        );
        assert!(matches!(parts.ssl_mode, PgSslMode::Require));
        assert_eq!(parts.ssl_root_cert, Some("/opt/ca.pem".into()));
    }

    #[test]
    fn a_malformed_secret_is_refused_without_quoting_it() {
        for raw in [
            r#"{"username":"u","password":12345678}"#,
            "hunter2hunter2",
            r#"{"password":"hunter2hunter2"}"#,
        ] {
            let err = parse_db_secret(&secret(raw), &EnvOverrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                !err.contains("hunter2") && !err.contains("12345678"),
                "{err}"
            );
        }
        let err = parse_db_secret(
            &secret(r#"{"username":"u","password":"p"}"#),
            &EnvOverrides::default(),
        );
        assert!(err.unwrap_err().to_string().contains("no host"));
    }
}
