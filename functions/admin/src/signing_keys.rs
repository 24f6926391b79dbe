//! The token signing keys' two secrets: the token function's, with the
//! private keys (`JWT_SIGNING_SECRET_ARN`), and every other function's,
//! the same set without them (`JWT_VERIFY_SECRET_ARN`). Every deploy makes
//! the first set if there is none yet; `rotate-signing-key` adds a new key
//! and keeps the last one accepted for an overlap. Functions pick the new
//! set up by themselves (see `tm_shared::auth::jwt::KeyStore`): no restart.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tm_shared::auth::keyset::{KeyAlg, KeyMaterial};
use tm_shared::config::secrets::SecretsClient;

use crate::AdminError;

const SIGNING_VAR: &str = "JWT_SIGNING_SECRET_ARN";
const VERIFY_VAR: &str = "JWT_VERIFY_SECRET_ARN";

/// How long the key that signed until a rotation is still accepted by
/// default: a refresh token's default lifetime, so no session ends.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(24 * 3600);

pub struct SigningKeys {
    client: SecretsClient,
    /// The algorithm new keys use (`SIGNING_ALGORITHM`, EdDSA by default).
    alg: KeyAlg,
}

fn err(e: impl std::fmt::Display) -> AdminError {
    AdminError(e.to_string())
}

/// What the signing secret holds.
enum Held {
    /// The template's placeholder: no key yet.
    Nothing,
    Set(KeyMaterial),
    /// A bare HS256 secret, as before key sets.
    Legacy(String),
}

impl SigningKeys {
    /// `None` where the function manages no signing keys (no
    /// `JWT_SIGNING_SECRET_ARN`: an older template, local runs).
    pub fn from_env() -> Option<Result<Self, String>> {
        std::env::var_os(SIGNING_VAR).filter(|v| !v.is_empty())?;
        let alg = match std::env::var("SIGNING_ALGORITHM") {
            Ok(raw) if !raw.is_empty() => match raw.parse() {
                Ok(alg) => alg,
                Err(e) => return Some(Err(e)),
            },
            _ => KeyAlg::EdDSA,
        };
        Some(
            SecretsClient::from_env()
                .map(|client| Self { client, alg })
                .map_err(|e| e.to_string()),
        )
    }

    async fn held(&self) -> Result<Held, AdminError> {
        let text = self.client.read(SIGNING_VAR).await.map_err(err)?;
        let text = text.expose_secret();
        if !text.trim_start().starts_with('{') {
            return Ok(Held::Legacy(text.to_owned()));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|_| AdminError(format!("{SIGNING_VAR}'s secret is not JSON")))?;
        if value["keys"].as_array().is_some_and(Vec::is_empty) {
            return Ok(Held::Nothing);
        }
        KeyMaterial::parse(text)
            .map(Held::Set)
            .map_err(|e| AdminError(format!("{SIGNING_VAR}'s secret: {e}")))
    }

    /// Writes the public copy first: checkers learn a new key before the
    /// token function can sign with it.
    async fn write(&self, set: &KeyMaterial) -> Result<(), AdminError> {
        self.client
            .write(VERIFY_VAR, &set.public().to_json())
            .await
            .map_err(err)?;
        self.client
            .write(SIGNING_VAR, &set.to_json())
            .await
            .map_err(err)
    }

    /// On every deploy: a first key set if there is none, and the checkers'
    /// copy brought in line with the signing one. The signing key's id.
    pub async fn ensure(&self) -> Result<Value, AdminError> {
        match self.held().await? {
            Held::Nothing => {
                let set =
                    KeyMaterial::generate(self.alg, OffsetDateTime::now_utc()).map_err(err)?;
                self.write(&set).await?;
                tracing::info!(kid = set.keys[0].kid, "first signing key made");
                Ok(json!(set.keys[0].kid))
            }
            Held::Set(set) => {
                let public = set.public().to_json();
                let current = self.client.read(VERIFY_VAR).await.map_err(err)?;
                if current.expose_secret() != public {
                    self.client.write(VERIFY_VAR, &public).await.map_err(err)?;
                }
                Ok(json!(set.keys[0].kid))
            }
            Held::Legacy(secret) => {
                // HS256 is symmetric: the checkers hold the same secret.
                let current = self.client.read(VERIFY_VAR).await.map_err(err)?;
                if current.expose_secret() != secret {
                    self.client.write(VERIFY_VAR, &secret).await.map_err(err)?;
                }
                Ok(Value::Null)
            }
        }
    }

    /// A new signing key; the one it replaces is accepted for `overlap`
    /// more, keys past their retirement are dropped. From a bare HS256
    /// secret (which has no key id to keep) or from nothing, a first set:
    /// tokens of a bare secret stop working, so everyone signs in again.
    pub async fn rotate(&self, overlap: Duration) -> Result<Value, AdminError> {
        let now = OffsetDateTime::now_utc();
        let (set, previous) = match self.held().await? {
            Held::Set(set) => {
                let previous = set.keys[0].kid.clone();
                (
                    set.rotate(self.alg, overlap, now).map_err(err)?,
                    Some(previous),
                )
            }
            Held::Nothing | Held::Legacy(_) => {
                (KeyMaterial::generate(self.alg, now).map_err(err)?, None)
            }
        };
        self.write(&set).await?;
        tracing::info!(kid = set.keys[0].kid, "signing key rotated");
        Ok(json!({
            "kid": set.keys[0].kid,
            "alg": set.keys[0].alg,
            "previous": previous,
            "previous_retires_at": set.keys.get(1).and_then(|k| k.retire_at),
            "accepted": set.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        }))
    }
}
