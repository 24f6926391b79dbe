//! Signing and verifying the API's JSON Web Tokens (HS256 only).

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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

/// Keys and lifetimes, built once per cold start.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (got {0})")]
pub struct WeakSecret(pub usize);

impl JwtKeys {
    /// The secret's bytes are the HMAC key. A short key is refused outright.
    pub fn new(
        secret: &SecretString,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Result<Self, WeakSecret> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(WeakSecret(bytes.len()));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // Issuer and verifier are this service on NTP-synced hosts: no leeway,
        // so a token is dead the second its lifetime says it is.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            access_ttl,
            refresh_ttl,
        })
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
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal("signing a token", e))
    }

    /// Verifies signature, algorithm, expiry and the expected token type.
    /// Every failure is the same error: callers must not tell clients why.
    /// A token that is genuine (signature, algorithm, type) but past its
    /// expiry; refused if it has not expired. Only to recognise a spent
    /// refresh token coming back late, never to let anything through.
    pub fn verify_expired(&self, token: &str, expected: TokenType) -> Result<Claims, ApiError> {
        let mut validation = self.validation.clone();
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| ApiError::InvalidToken)?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        if data.claims.token_type != expected || data.claims.exp >= now {
            return Err(ApiError::InvalidToken);
        }
        Ok(data.claims)
    }

    pub fn verify(&self, token: &str, expected: TokenType) -> Result<Claims, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::InvalidToken)?;
        if data.claims.token_type != expected {
            return Err(ApiError::InvalidToken);
        }
        Ok(data.claims)
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
        assert_eq!(err.err(), Some(WeakSecret(5)));
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

    #[test]
    fn jti_is_unique_per_token() {
        let keys = keys();
        let a = keys.verify(&keys.access(1, Role::Admin, 1).unwrap(), TokenType::Access);
        let b = keys.verify(&keys.access(1, Role::Admin, 1).unwrap(), TokenType::Access);
        assert_ne!(a.unwrap().jti, b.unwrap().jti);
    }
}
