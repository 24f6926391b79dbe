//! The admin function. It is never behind the API: CloudFormation invokes it
//! as a custom resource on every deploy to run the migrations (before the API
//! functions get new code), and operators invoke it directly for what
//! `tmctl` does locally:
//!
//! ```text
//! sam remote invoke AdminFunction --event '{"command": "user-create", "username": "alice", "role": "admin"}'
//! ```
//!
//! Passwords are never sent to it: `user-create` and `user-set-password`
//! generate one and return it in the invocation's response, once. Nothing it
//! returns is logged.

mod custom_resource;
mod signing_keys;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use tm_shared::accounts;
use tm_shared::config::secrets::SecretsClient;
use tm_shared::config::{ConfigError, DbParts, DbTarget, load_db};
use tm_shared::models::Role;
use tm_shared::models::audit::{Audit, AuditAction, AuditTarget, AuditVia};
use tm_shared::models::key::{KeySecret, KeySecretShown, MintedKey, NewKey};
use tm_shared::store;
use tm_shared::store::users::Changer;

pub use custom_resource::CustomResourceRequest;

pub struct Admin {
    /// The pool, or why configuration failed at the cold start: the function
    /// must still answer CloudFormation, so a bad configuration is reported
    /// per invocation instead of failing the start.
    db: Result<PgPool, String>,
    /// Answers to plain-http loopback URLs: only the tests' stand-in for S3.
    allow_loopback_answers: bool,
    /// Where the application's login is read from (`APP_DB_SECRET_ARN`),
    /// or why it cannot be; `None` where there is none to provision (local
    /// runs, which provision their own).
    app_login: Option<Result<SecretsClient, String>>,
    /// Where the owner connects, when a secret said so: what the
    /// application's secret is completed with.
    owner: Option<DbParts>,
    /// The token signing keys' secrets, or why they cannot be managed;
    /// `None` where there are none (local runs, an older template).
    signing_keys: Option<Result<signing_keys::SigningKeys, String>>,
}

/// An operator's command, as `{"command": "...", ...}`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    Migrate,
    /// Sets the application login's password from its secret again (after
    /// the secret is rotated), as every deploy does.
    ProvisionAppLogin,
    /// A new token signing key; the last one is still accepted for
    /// `overlap_hours` (default 24, a refresh token's default lifetime).
    RotateSigningKey {
        #[serde(default)]
        overlap_hours: Option<u32>,
    },
    UserCreate {
        username: String,
        role: Role,
    },
    UserSetPassword {
        username: String,
    },
    UserSetRole {
        username: String,
        role: Role,
    },
    UserDeactivate {
        username: String,
    },
    UserActivate {
        username: String,
    },
    UserList,
    KeyCreate {
        name: String,
        source: String,
    },
    KeyList,
    KeyRevoke {
        id: i64,
    },
}

/// What the function says back; `Err` makes the invocation fail visibly.
pub type Outcome = Result<Value, AdminError>;

/// A failure, in words for the operator or the CloudFormation console.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdminError(pub String);

impl From<AdminError> for lambda_runtime::Diagnostic {
    fn from(err: AdminError) -> Self {
        Self {
            error_type: "AdminError".into(),
            error_message: err.0,
        }
    }
}

#[derive(Serialize)]
struct UserRow {
    username: String,
    role: Role,
    is_active: bool,
}

impl Admin {
    pub fn new(db: PgPool) -> Self {
        Self {
            db: Ok(db),
            allow_loopback_answers: false,
            app_login: None,
            owner: None,
            signing_keys: None,
        }
    }

    /// An admin function whose configuration failed for `reason`.
    pub fn unconfigured(reason: String) -> Self {
        Self {
            db: Err(reason),
            allow_loopback_answers: false,
            app_login: None,
            owner: None,
            signing_keys: None,
        }
    }

    /// For tests: CloudFormation's answer may go to a plain-http loopback URL.
    pub fn allowing_loopback_answers(mut self) -> Self {
        self.allow_loopback_answers = true;
        self
    }

    /// The cold start: configuration from the environment or Secrets
    /// Manager. Migrations and operator commands have no statement timeout.
    pub async fn load(max_connections: u32) -> Self {
        let pool = async {
            let settings = load_db(max_connections).await?.for_migrations();
            let owner = match &settings.target {
                DbTarget::Parts(parts) => Some(parts.clone()),
                DbTarget::Url(_) => None,
            };
            Ok((tm_shared::db::lazy_pool(&settings)?, owner))
        };
        let mut admin = match pool.await {
            Ok((db, owner)) => Self {
                owner,
                ..Self::new(db)
            },
            Err(e) => {
                let e: ConfigError = e;
                tracing::error!(error = %e, "admin function not configured");
                Self::unconfigured(e.to_string())
            }
        };
        if std::env::var_os("APP_DB_SECRET_ARN").is_some_and(|v| !v.is_empty()) {
            admin.app_login = Some(SecretsClient::from_env().map_err(|e| e.to_string()));
        }
        admin.signing_keys = signing_keys::SigningKeys::from_env();
        admin
    }

    /// An audit row for a change this function made outside the tables
    /// (a login, the signing keys): by the operator, through `admin`.
    async fn audit(
        &self,
        action: AuditAction,
        target: AuditTarget,
        detail: Value,
    ) -> Result<(), AdminError> {
        let entry = store::audit::Entry::new(action, target, None, detail);
        store::audit::record(self.db()?, &Audit::operator(AuditVia::Admin), entry)
            .await
            .map_err(|e| AdminError(format!("recording it in the audit log: {e}")))
    }

    fn signing_keys(&self) -> Result<Option<&signing_keys::SigningKeys>, AdminError> {
        match &self.signing_keys {
            None => Ok(None),
            Some(Ok(keys)) => Ok(Some(keys)),
            Some(Err(reason)) => Err(AdminError(format!("signing keys not configured: {reason}"))),
        }
    }

    /// On every deploy: a first signing key if there is none, and the
    /// checkers' copy in line. The signing key's id, if any is managed.
    pub async fn ensure_signing_keys(&self) -> Result<Option<Value>, AdminError> {
        match self.signing_keys()? {
            Some(keys) => keys.ensure().await.map(Some),
            None => Ok(None),
        }
    }

    /// Makes the application's login (`APP_DB_SECRET_ARN`) a member of the
    /// application role with its secret's password, creating it the first
    /// time: every deploy does, after the migrations, so the API functions,
    /// which connect as that login, find it ready. Its name, or `None` when
    /// there is no such secret to read.
    pub async fn provision_app_login(&self) -> Result<Option<String>, AdminError> {
        use secrecy::ExposeSecret;
        let Some(client) = &self.app_login else {
            return Ok(None);
        };
        let client = client
            .as_ref()
            .map_err(|reason| AdminError(format!("not configured: {reason}")))?;
        let login = client
            .app_login()
            .await
            .map_err(|e| AdminError(e.to_string()))?;
        let db = self.db()?;
        tm_shared::db::provision_app_login(db, &login.username, login.password.expose_secret())
            .await
            .map_err(|e| AdminError(format!("provisioning the application login: {e}")))?;
        // The template's secret starts as a login alone: the functions then
        // learn where the database is from it (an existing database's
        // address is in no parameter, only in the owner's secret).
        if !login.has_location
            && let Some(owner) = &self.owner
        {
            client
                .complete_app_secret(&login, owner)
                .await
                .map_err(|e| AdminError(e.to_string()))?;
        }
        tracing::info!(login = login.username, "application login provisioned");
        self.audit(
            AuditAction::AppLoginProvisioned,
            AuditTarget::AppLogin,
            json!({"login": login.username}),
        )
        .await?;
        Ok(Some(login.username))
    }

    fn db(&self) -> Result<&PgPool, AdminError> {
        self.db
            .as_ref()
            .map_err(|reason| AdminError(format!("not configured: {reason}")))
    }

    pub(crate) fn allows_loopback_answers(&self) -> bool {
        self.allow_loopback_answers
    }

    /// Routes an invocation: a CloudFormation custom resource event, or a command.
    pub async fn handle(&self, event: Value) -> Outcome {
        if event.get("ResponseURL").is_some() {
            let request: CustomResourceRequest = serde_json::from_value(event)
                .map_err(|e| AdminError(format!("not a custom resource event: {e}")))?;
            // Boxed, here and below: the deploy's and the commands' futures
            // nest the AWS SDK's and sqlx's deeply enough that, inlined into
            // one, a release build overflows rustc's query depth computing
            // its layout. One allocation per invocation, of a function
            // invoked a few times a deploy.
            return Box::pin(custom_resource::respond(self, request)).await;
        }
        let command: Command = serde_json::from_value(event)
            .map_err(|e| AdminError(format!("unknown command: {e}")))?;
        Box::pin(self.run(command)).await
    }

    /// Applies the migrations. `on_deploy` tolerates migrations the database
    /// has and this code does not (a rollback to older code).
    pub async fn migrate(&self, on_deploy: bool) -> Result<usize, AdminError> {
        let migrator = if on_deploy {
            &*tm_shared::db::DEPLOY_MIGRATOR
        } else {
            &tm_shared::db::MIGRATOR
        };
        migrator
            .run(self.db()?)
            .await
            .map_err(|e| AdminError(format!("migrating: {e}")))?;
        Ok(tm_shared::db::MIGRATOR.iter().count())
    }

    pub async fn run(&self, command: Command) -> Outcome {
        let err = |e: accounts::AccountError| AdminError(e.to_string());
        match command {
            Command::Migrate => Ok(json!({ "migrations": self.migrate(false).await? })),
            Command::RotateSigningKey { overlap_hours } => {
                let keys = self
                    .signing_keys()?
                    .ok_or_else(|| AdminError("JWT_SIGNING_SECRET_ARN is not set".into()))?;
                let overlap = overlap_hours.map_or(signing_keys::DEFAULT_OVERLAP, |h| {
                    std::time::Duration::from_secs(u64::from(h) * 3600)
                });
                let rotated = keys.rotate(overlap).await?;
                self.audit(
                    AuditAction::SigningKeyRotated,
                    AuditTarget::SigningKey,
                    rotated.clone(),
                )
                .await?;
                Ok(rotated)
            }
            Command::ProvisionAppLogin => match self.provision_app_login().await? {
                Some(login) => Ok(json!({ "app_login": login })),
                None => Err(AdminError("APP_DB_SECRET_ARN is not set".into())),
            },
            Command::UserCreate { username, role } => {
                let password = accounts::generated_password();
                let user = accounts::create(
                    self.db()?,
                    &username,
                    role,
                    password.clone(),
                    Changer::operator(AuditVia::Admin),
                )
                .await
                .map_err(err)?;
                Ok(json!({
                    "username": user.username,
                    "role": user.role,
                    "password": secrecy::ExposeSecret::expose_secret(&password),
                }))
            }
            Command::UserSetPassword { username } => {
                let password = accounts::generated_password();
                accounts::set_password(self.db()?, &username, password.clone(), AuditVia::Admin)
                    .await
                    .map_err(err)?;
                Ok(json!({
                    "username": username,
                    "password": secrecy::ExposeSecret::expose_secret(&password),
                }))
            }
            Command::UserSetRole { username, role } => {
                accounts::set_role(self.db()?, &username, role, AuditVia::Admin)
                    .await
                    .map_err(err)?;
                Ok(json!({ "username": username, "role": role }))
            }
            Command::UserDeactivate { username } => {
                accounts::set_active(self.db()?, &username, false, AuditVia::Admin)
                    .await
                    .map_err(err)?;
                Ok(json!({ "username": username, "is_active": false }))
            }
            Command::UserActivate { username } => {
                accounts::set_active(self.db()?, &username, true, AuditVia::Admin)
                    .await
                    .map_err(err)?;
                Ok(json!({ "username": username, "is_active": true }))
            }
            Command::UserList => {
                let users = store::users::list(self.db()?)
                    .await
                    .map_err(|e| AdminError(format!("listing users: {e}")))?;
                let rows: Vec<UserRow> = users
                    .into_iter()
                    .map(|u| UserRow {
                        username: u.username,
                        role: u.role,
                        is_active: u.is_active,
                    })
                    .collect();
                Ok(json!({ "users": rows }))
            }
            Command::KeyCreate { name, source } => {
                let key = NewKey::from_parts(&name, &source)
                    .map_err(|e| AdminError(format!("invalid key: {:?}", e.as_map())))?;
                let secret = KeySecret::generate();
                let stored = store::keys::create(
                    self.db()?,
                    &key,
                    &secret,
                    &Audit::operator(AuditVia::Admin),
                )
                .await
                .map_err(|e| AdminError(format!("minting the key: {e}")))?;
                let minted = MintedKey {
                    key: stored,
                    secret: KeySecretShown(secret.expose()),
                };
                serde_json::to_value(minted).map_err(|e| AdminError(e.to_string()))
            }
            Command::KeyList => {
                let keys = store::keys::list(
                    self.db()?,
                    store::Window::Page {
                        limit: i64::MAX,
                        offset: 0,
                    },
                )
                .await
                .map_err(|e| AdminError(format!("listing keys: {e}")))?;
                Ok(json!({ "keys": keys }))
            }
            Command::KeyRevoke { id } => {
                let key = store::keys::revoke(self.db()?, id, &Audit::operator(AuditVia::Admin))
                    .await
                    .map_err(|e| AdminError(format!("revoking the key: {e}")))?
                    .ok_or_else(|| AdminError(format!("no key {id}")))?;
                serde_json::to_value(key).map_err(|e| AdminError(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_from_their_json() {
        let c: Command = serde_json::from_value(
            json!({"command": "user-create", "username": "a", "role": "analyst"}),
        )
        .unwrap();
        assert_eq!(
            c,
            Command::UserCreate {
                username: "a".into(),
                role: Role::Analyst
            }
        );
        assert!(
            serde_json::from_value::<Command>(
                json!({"command": "user-create", "username": "a", "role": "root"})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<Command>(
                json!({"command": "user-create", "username": "a", "role": "admin", "password": "x"})
            )
            .is_err()
        );
        assert!(serde_json::from_value::<Command>(json!({"command": "drop-database"})).is_err());
    }
}
