//! Signing and verifying the API's JSON Web Tokens: EdDSA (Ed25519) keys
//! with a `kid` from a key set that rotates (see `keyset`), or a bare
//! HS256 secret as before key sets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keyset::{KeyAlg, KeyMaterial, MaterialError, decode};
use crate::config::secrets::SecretsClient;
use crate::error::ApiError;
use crate::models::Role;

/// HS256 wants a key at least as long as its output.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims of every token this API issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string per RFC 7519.
    pub sub: String,
    pub role: Role,
    pub token_type: TokenType,
    /// Unique per token, so that a denylist can name one.
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// The sign-in session the token belongs to (`sessions.id`). Tokens
    /// from before sessions have none, and are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<i64>,
}

impl Claims {
    pub fn user_id(&self) -> Result<i64, ApiError> {
        self.sub.parse().map_err(|_| ApiError::InvalidToken)
    }

    pub fn session_id(&self) -> Result<i64, ApiError> {
        self.sid.ok_or(ApiError::InvalidToken)
    }
}

/// A key tokens are checked with.
struct VerifyKey {
    /// `None` for a legacy HS256 secret: its tokens carry no `kid`.
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
    retire_at: Option<i64>,
}

/// Keys and lifetimes: one snapshot of the key set (see [`KeyStore`] for
/// how it is kept current).
pub struct JwtKeys {
    /// The key that signs, with its header (`alg`, `kid`); `None` in the
    /// functions that only check tokens.
    signer: Option<(EncodingKey, Header)>,
    verifiers: Vec<VerifyKey>,
    /// What the `?cursor=` key is derived from.
    cursor_seed: Vec<u8>,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (got {0})")]
    Weak(usize),
    #[error("JWT_SECRET holds a key set that cannot be used: {0}")]
    Material(#[from] MaterialError),
}

/// Why a token was refused, for [`KeyStore`]: a `kid` this snapshot does
/// not know may be a key newer than it, worth fetching the set again for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    UnknownKey,
    Invalid,
}

impl JwtKeys {
    /// From the secret's text: a key set (JSON, see `keyset`), or, as
    /// before key sets, a bare HS256 key of at least 32 bytes, whose
    /// tokens carry no `kid`.
    pub fn new(
        secret: &SecretString,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Result<Self, KeyError> {
        let text = secret.expose_secret();
        if text.trim_start().starts_with('{') {
            let material = KeyMaterial::parse(text)?;
            return Self::from_material(&material, access_ttl, refresh_ttl);
        }
        let bytes = text.as_bytes();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(KeyError::Weak(bytes.len()));
        }
        Ok(Self {
            signer: Some((
                EncodingKey::from_secret(bytes),
                Header::new(Algorithm::HS256),
            )),
            verifiers: vec![VerifyKey {
                kid: None,
                alg: Algorithm::HS256,
                key: DecodingKey::from_secret(bytes),
                retire_at: None,
            }],
            cursor_seed: bytes.to_vec(),
            access_ttl,
            refresh_ttl,
        })
    }

    pub fn from_material(
        material: &KeyMaterial,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Result<Self, KeyError> {
        let bad = |kid: &str| MaterialError::BadKey(kid.to_owned());
        let mut verifiers = Vec::new();
        for entry in &material.keys {
            let (alg, key) = match entry.alg {
                KeyAlg::EdDSA => {
                    let public = entry
                        .public
                        .as_deref()
                        .and_then(decode)
                        .ok_or(bad(&entry.kid))?;
                    (Algorithm::EdDSA, DecodingKey::from_ed_der(&public))
                }
                KeyAlg::HS256 => {
                    let secret = entry
                        .secret
                        .as_deref()
                        .and_then(decode)
                        .ok_or(bad(&entry.kid))?;
                    (Algorithm::HS256, DecodingKey::from_secret(&secret))
                }
            };
            verifiers.push(VerifyKey {
                kid: Some(entry.kid.clone()),
                alg,
                key,
                retire_at: entry.retire_at,
            });
        }
        let current = material.keys.first().ok_or(MaterialError::Empty)?;
        let encoding = match current.alg {
            KeyAlg::EdDSA => current
                .private
                .as_deref()
                .map(|p| {
                    decode(p)
                        .map(|der| EncodingKey::from_ed_der(&der))
                        .ok_or(bad(&current.kid))
                })
                .transpose()?,
            KeyAlg::HS256 => current
                .secret
                .as_deref()
                .and_then(decode)
                .map(|s| EncodingKey::from_secret(&s)),
        };
        let signer = encoding.map(|key| {
            let mut header = Header::new(verifiers[0].alg);
            header.kid = Some(current.kid.clone());
            (key, header)
        });
        Ok(Self {
            signer,
            verifiers,
            cursor_seed: decode(&material.cursor).ok_or(MaterialError::Shape)?,
            access_ttl,
            refresh_ttl,
        })
    }

    /// What the `?cursor=` key is derived from: stable across rotations.
    pub fn cursor_seed(&self) -> &[u8] {
        &self.cursor_seed
    }

    /// The `kid` new tokens carry (`None` for a legacy HS256 secret, or
    /// where nothing signs).
    pub fn signing_kid(&self) -> Option<&str> {
        self.signer.as_ref().and_then(|(_, h)| h.kid.as_deref())
    }

    /// An access token of session `sid`.
    pub fn access(&self, user_id: i64, role: Role, sid: i64) -> Result<String, ApiError> {
        self.issue(
            user_id,
            role,
            TokenType::Access,
            sid,
            crate::random::hex(16),
        )
    }

    /// The refresh token `jti` of session `sid` (the session's newest).
    pub fn refresh(
        &self,
        user_id: i64,
        role: Role,
        sid: i64,
        jti: &str,
    ) -> Result<String, ApiError> {
        self.issue(user_id, role, TokenType::Refresh, sid, jti.to_owned())
    }

    fn issue(
        &self,
        user_id: i64,
        role: Role,
        token_type: TokenType,
        sid: i64,
        jti: String,
    ) -> Result<String, ApiError> {
        let Some((key, header)) = &self.signer else {
            return Err(ApiError::internal(
                "signing a token",
                "this function holds no signing key",
            ));
        };
        let ttl = match token_type {
            TokenType::Access => self.access_ttl,
            TokenType::Refresh => self.refresh_ttl,
        };
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            role,
            token_type,
            jti,
            iat: now,
            exp: now + ttl.as_secs() as i64,
            sid: Some(sid),
        };
        jsonwebtoken::encode(header, &claims, key)
            .map_err(|e| ApiError::internal("signing a token", e))
    }

    /// The key a token names: its `kid` and `alg` must both match one key
    /// (so a token cannot pick its own algorithm), and the key must not be
    /// retired.
    fn key_for(&self, token: &str) -> Result<&VerifyKey, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Invalid)?;
        let key =
            self.verifiers
                .iter()
                .find(|k| k.kid == header.kid)
                .ok_or(if header.kid.is_some() {
                    Refusal::UnknownKey
                } else {
                    Refusal::Invalid
                })?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        if key.alg != header.alg || key.retire_at.is_some_and(|at| at <= now) {
            return Err(Refusal::Invalid);
        }
        Ok(key)
    }

    fn check(&self, token: &str, expected: TokenType, expiry: bool) -> Result<Claims, Refusal> {
        let key = self.key_for(token)?;
        let mut validation = Validation::new(key.alg);
        // Issuer and verifier are this service on NTP-synced hosts: no leeway,
        // so a token is dead the second its lifetime says it is.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = expiry;
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|_| Refusal::Invalid)?;
        if data.claims.token_type != expected {
            return Err(Refusal::Invalid);
        }
        Ok(data.claims)
    }

    /// Verifies signature, algorithm, key, expiry and the expected token
    /// type. Every failure is the same error: callers must not tell
    /// clients why.
    pub fn verify(&self, token: &str, expected: TokenType) -> Result<Claims, ApiError> {
        self.check(token, expected, true)
            .map_err(|_| ApiError::InvalidToken)
    }

    /// A token that is genuine (signature, algorithm, type) but past its
    /// expiry; refused if it has not expired. Only to recognise a spent
    /// refresh token coming back late, never to let anything through.
    pub fn verify_expired(&self, token: &str, expected: TokenType) -> Result<Claims, ApiError> {
        let claims = self
            .check(token, expected, false)
            .map_err(|_| ApiError::InvalidToken)?;
        if claims.exp >= OffsetDateTime::now_utc().unix_timestamp() {
            return Err(ApiError::InvalidToken);
        }
        Ok(claims)
    }
}

/// How often a function reads its key set again on its own, and how soon
/// after one read a token naming an unknown `kid` may cause another.
#[derive(Debug, Clone, Copy)]
pub struct KeyRefresh {
    pub every: Duration,
    pub unknown_kid_after: Duration,
}

impl Default for KeyRefresh {
    /// Every 5 minutes; an unknown `kid` at most every 30 s (a stream of
    /// forged `kid`s costs one read per 30 s, not one per request).
    fn default() -> Self {
        Self {
            every: Duration::from_secs(300),
            unknown_kid_after: Duration::from_secs(30),
        }
    }
}

/// The key set a function uses, kept current without a cold start: read
/// again from its secret every [`KeyRefresh::every`], and at once (rate
/// limited) when a token names a key this instance has not seen, so a
/// rotation reaches every function within that bound, new tokens are
/// checked by functions that have not read the new set yet, and the token
/// function signs with the new key at its next read.
pub struct KeyStore {
    keys: std::sync::RwLock<Arc<JwtKeys>>,
    source: Option<KeySource>,
}

struct KeySource {
    secrets: SecretsClient,
    /// The secret's id as the cold start found it.
    secret_id: String,
    refresh: KeyRefresh,
    ttls: (Duration, Duration),
    read_at: tokio::sync::Mutex<Instant>,
}

impl KeyStore {
    /// Keys that never change (a local `JWT_SECRET`).
    pub fn fixed(keys: JwtKeys) -> Self {
        Self {
            keys: std::sync::RwLock::new(Arc::new(keys)),
            source: None,
        }
    }

    /// Keys read from secret `secret_id` (`JWT_SECRET_ARN`'s), `keys`
    /// being the first read.
    pub fn from_secret(
        keys: JwtKeys,
        secrets: SecretsClient,
        secret_id: String,
        refresh: KeyRefresh,
    ) -> Self {
        let ttls = (keys.access_ttl, keys.refresh_ttl);
        Self {
            keys: std::sync::RwLock::new(Arc::new(keys)),
            source: Some(KeySource {
                secrets,
                secret_id,
                refresh,
                ttls,
                read_at: tokio::sync::Mutex::new(Instant::now()),
            }),
        }
    }

    fn snapshot(&self) -> Arc<JwtKeys> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reads the secret again if the last read is older than `min_age`.
    /// A failed read keeps the keys in hand (logged): tokens keep working
    /// with them.
    async fn reread(&self, min_age: Duration) {
        let Some(source) = &self.source else { return };
        // Requests wanting a read wait for one in progress, and then find
        // it fresh: one read for all of them, and none refused for want
        // of it.
        let mut read_at = source.read_at.lock().await;
        if read_at.elapsed() < min_age {
            return;
        }
        *read_at = Instant::now();
        let keys = async {
            let secret = source
                .secrets
                .string_of("JWT_SECRET_ARN", &source.secret_id)
                .await
                .map_err(|e| e.to_string())?;
            JwtKeys::new(&secret, source.ttls.0, source.ttls.1).map_err(|e| e.to_string())
        };
        match keys.await {
            Ok(keys) => {
                *self
                    .keys
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(keys);
            }
            Err(e) => tracing::error!(error = %e, "re-reading the signing keys failed"),
        }
    }

    /// The keys to sign with and check by, read again if they are due.
    pub async fn current(&self) -> Arc<JwtKeys> {
        if let Some(source) = &self.source {
            self.reread(source.refresh.every).await;
        }
        self.snapshot()
    }

    async fn check(
        &self,
        token: &str,
        expected: TokenType,
        expiry: bool,
    ) -> Result<Claims, ApiError> {
        let keys = self.current().await;
        match keys.check(token, expected, expiry) {
            Err(Refusal::UnknownKey) if self.source.is_some() => {
                let after = self.source.as_ref().map(|s| s.refresh.unknown_kid_after);
                self.reread(after.unwrap_or_default()).await;
                self.snapshot()
                    .check(token, expected, expiry)
                    .map_err(|_| ApiError::InvalidToken)
            }
            result => result.map_err(|_| ApiError::InvalidToken),
        }
    }

    /// As [`JwtKeys::verify`], with a key newer than this instance's set
    /// fetched first.
    pub async fn verify(&self, token: &str, expected: TokenType) -> Result<Claims, ApiError> {
        self.check(token, expected, true).await
    }

    /// As [`JwtKeys::verify_expired`].
    pub async fn verify_expired(
        &self,
        token: &str,
        expected: TokenType,
    ) -> Result<Claims, ApiError> {
        let claims = self.check(token, expected, false).await?;
        if claims.exp >= OffsetDateTime::now_utc().unix_timestamp() {
            return Err(ApiError::InvalidToken);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        let secret = SecretString::from("k".repeat(32));
        JwtKeys::new(&secret, Duration::from_secs(60), Duration::from_secs(3600)).unwrap()
    }

    #[test]
    fn a_short_secret_is_refused() {
        let secret = SecretString::from("short".to_owned());
        let err = JwtKeys::new(&secret, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(err.err(), Some(KeyError::Weak(5)));
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let keys = keys();
        let token = keys.access(7, Role::Analyst, 3).unwrap();
        let claims = keys.verify(&token, TokenType::Access).unwrap();
        assert_eq!(claims.user_id().unwrap(), 7);
        assert_eq!(claims.role, Role::Analyst);
        assert_eq!(claims.exp - claims.iat, 60);
        assert_eq!(claims.jti.len(), 32);
        assert_eq!(claims.session_id().unwrap(), 3);
    }

    #[test]
    fn only_a_genuine_expired_token_passes_as_expired() {
        let secret = SecretString::from("k".repeat(32));
        let keys = JwtKeys::new(&secret, Duration::from_secs(60), Duration::ZERO).unwrap();
        let refresh = keys.refresh(1, Role::Admin, 4, "j").unwrap();
        assert!(
            keys.verify_expired(&refresh, TokenType::Refresh).is_err(),
            "not yet expired"
        );
        std::thread::sleep(Duration::from_millis(1100));
        assert!(keys.verify(&refresh, TokenType::Refresh).is_err());
        let claims = keys.verify_expired(&refresh, TokenType::Refresh).unwrap();
        assert_eq!((claims.sid, claims.jti.as_str()), (Some(4), "j"));
        assert!(keys.verify_expired(&refresh, TokenType::Access).is_err());
        let forged = JwtKeys::new(
            &SecretString::from("x".repeat(40)),
            Duration::ZERO,
            Duration::ZERO,
        )
        .unwrap()
        .refresh(1, Role::Admin, 4, "j")
        .unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        assert!(keys.verify_expired(&forged, TokenType::Refresh).is_err());
    }

    #[test]
    fn the_wrong_token_type_is_refused() {
        let keys = keys();
        let refresh = keys.refresh(1, Role::Admin, 1, "j").unwrap();
        assert!(keys.verify(&refresh, TokenType::Access).is_err());
        let access = keys.access(1, Role::Admin, 1).unwrap();
        assert!(keys.verify(&access, TokenType::Refresh).is_err());
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = JwtKeys::new(
            &SecretString::from("x".repeat(40)),
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
        .unwrap();
        let token = other.access(1, Role::Admin, 1).unwrap();
        assert!(keys().verify(&token, TokenType::Access).is_err());
    }

    fn set_keys(material: &KeyMaterial) -> JwtKeys {
        JwtKeys::from_material(material, Duration::from_secs(60), Duration::from_secs(60)).unwrap()
    }

    fn header(token: &str) -> Header {
        jsonwebtoken::decode_header(token).unwrap()
    }

    #[test]
    fn an_eddsa_set_signs_with_a_kid_and_its_public_copy_only_checks() {
        let material = KeyMaterial::generate(KeyAlg::EdDSA, OffsetDateTime::now_utc()).unwrap();
        let signer = set_keys(&material);
        let token = signer.access(7, Role::Admin, 1).unwrap();
        let h = header(&token);
        assert_eq!(h.alg, Algorithm::EdDSA);
        assert_eq!(h.kid.as_deref(), Some(material.keys[0].kid.as_str()));
        let checker = set_keys(&material.public());
        assert_eq!(
            checker
                .verify(&token, TokenType::Access)
                .unwrap()
                .user_id()
                .unwrap(),
            7
        );
        assert!(
            checker.access(7, Role::Admin, 1).is_err(),
            "a public copy cannot sign"
        );
        // Read through the same path as a secret's text.
        let text = SecretString::from(material.public().to_json());
        let read = JwtKeys::new(&text, Duration::from_secs(60), Duration::from_secs(60)).unwrap();
        assert!(read.verify(&token, TokenType::Access).is_ok());
        assert_eq!(read.cursor_seed(), checker.cursor_seed());
    }

    #[test]
    fn after_a_rotation_both_keys_check_until_the_old_one_retires() {
        let now = OffsetDateTime::now_utc();
        let first = KeyMaterial::generate(KeyAlg::EdDSA, now).unwrap();
        let old_token = set_keys(&first).access(1, Role::Admin, 1).unwrap();
        let second = first
            .rotate(KeyAlg::EdDSA, Duration::from_secs(3600), now)
            .unwrap();
        let keys = set_keys(&second.public());
        let new_token = set_keys(&second).access(1, Role::Admin, 1).unwrap();
        assert_ne!(header(&old_token).kid, header(&new_token).kid);
        assert!(
            keys.verify(&old_token, TokenType::Access).is_ok(),
            "in the overlap"
        );
        assert!(keys.verify(&new_token, TokenType::Access).is_ok());
        // Once its retirement has passed, the old key's tokens are refused.
        let mut retired = second.public();
        retired.keys[1].retire_at = Some(now.unix_timestamp() - 1);
        let keys = set_keys(&retired);
        assert!(keys.verify(&old_token, TokenType::Access).is_err());
        assert!(keys.verify(&new_token, TokenType::Access).is_ok());
        // A set that never had the key does not know it: worth a re-read.
        let stranger = KeyMaterial::generate(KeyAlg::EdDSA, now).unwrap();
        assert_eq!(
            set_keys(&stranger)
                .check(&new_token, TokenType::Access, true)
                .err(),
            Some(Refusal::UnknownKey)
        );
    }

    #[test]
    fn a_token_cannot_choose_its_algorithm_or_drop_its_kid() {
        let material = KeyMaterial::generate(KeyAlg::EdDSA, OffsetDateTime::now_utc()).unwrap();
        let keys = set_keys(&material.public());
        let kid = material.keys[0].kid.clone();
        let claims = keys_claims();
        // HS256 "signed" with the public key's bytes, under the real kid.
        let public = decode(material.keys[0].public.as_deref().unwrap()).unwrap();
        let mut forged = Header::new(Algorithm::HS256);
        forged.kid = Some(kid);
        let token =
            jsonwebtoken::encode(&forged, &claims, &EncodingKey::from_secret(&public)).unwrap();
        assert!(keys.verify(&token, TokenType::Access).is_err());
        // A legacy HS256 token (no kid) means nothing to a key set.
        let legacy = keys_from("k".repeat(32)).access(1, Role::Admin, 1).unwrap();
        assert!(keys.verify(&legacy, TokenType::Access).is_err());
        // And a set's token means nothing to a legacy secret.
        let token = set_keys(&material).access(1, Role::Admin, 1).unwrap();
        assert!(
            keys_from("k".repeat(32))
                .verify(&token, TokenType::Access)
                .is_err()
        );
    }

    #[test]
    fn an_hs256_set_rotates_with_kids_too() {
        let material = KeyMaterial::generate(KeyAlg::HS256, OffsetDateTime::now_utc()).unwrap();
        let keys = set_keys(&material);
        let token = keys.access(1, Role::Analyst, 1).unwrap();
        assert_eq!(header(&token).alg, Algorithm::HS256);
        assert!(header(&token).kid.is_some());
        assert!(keys.verify(&token, TokenType::Access).is_ok());
    }

    fn keys_from(secret: String) -> JwtKeys {
        JwtKeys::new(
            &SecretString::from(secret),
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
        .unwrap()
    }

    fn keys_claims() -> Claims {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        Claims {
            sub: "1".into(),
            role: Role::Admin,
            token_type: TokenType::Access,
            jti: "j".into(),
            iat: now,
            exp: now + 60,
            sid: Some(1),
        }
    }

    #[test]
    fn jti_is_unique_per_token() {
        let keys = keys();
        let a = keys.verify(&keys.access(1, Role::Admin, 1).unwrap(), TokenType::Access);
        let b = keys.verify(&keys.access(1, Role::Admin, 1).unwrap(), TokenType::Access);
        assert_ne!(a.unwrap().jti, b.unwrap().jti);
    }
}
