//! Who is calling and what they may do.

pub mod jwt;
pub mod keyset;
pub mod password;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use std::net::IpAddr;

use crate::error::ApiError;
use crate::http::access_log::UserSlot;
use crate::http::client::ClientAddress;
use crate::models::Role;
use crate::models::audit::Audit;
use crate::models::event::Poster;
use crate::models::event::Source;
use crate::models::key::{KeyPrincipal, KeySecret};
use crate::state::AppState;
use crate::store;
use jwt::TokenType;

/// A caller with a valid access token whose account is still active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub id: i64,
    /// The user's role now, from the database: a role change or a
    /// deactivation takes effect at the next request, not at token expiry.
    pub role: Role,
    /// The sign-in session the token belongs to, live when checked.
    pub session: i64,
    /// Where the request came from, for the audit log.
    pub address: Option<IpAddr>,
}

impl AuthUser {
    /// This user's writes, as the audit log records them.
    pub fn audit(&self) -> Audit {
        Audit::api(Poster::User(self.id), self.address)
    }

    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// What a request presents: a user's access token, or an ingest key.
enum Credential<'a> {
    Token(&'a str),
    Key(KeySecret),
}

/// The header that carries an ingest key when `Authorization` does not.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The request's credential: `Authorization: Bearer <jwt | tmk_...>`, or,
/// without an `Authorization` header, `X-API-Key: tmk_...`. Anything shaped
/// unlike a key in a key's place is a bad credential (401).
fn credential(parts: &Parts) -> Result<Credential<'_>, ApiError> {
    if !parts.headers.contains_key(AUTHORIZATION)
        && let Some(value) = parts.headers.get(API_KEY_HEADER)
    {
        let raw = value.to_str().map_err(|_| ApiError::InvalidToken)?;
        return KeySecret::parse(raw.trim())
            .map(Credential::Key)
            .ok_or(ApiError::InvalidToken);
    }
    let token = bearer_token(parts)?;
    if KeySecret::looks_like_key(token) {
        return KeySecret::parse(token)
            .map(Credential::Key)
            .ok_or(ApiError::InvalidToken);
    }
    Ok(Credential::Token(token))
}

/// The key's principal, or 401 for an unknown or revoked key (one answer
/// for both).
async fn key_principal(
    parts: &Parts,
    state: &AppState,
    secret: &KeySecret,
) -> Result<KeyPrincipal, ApiError> {
    let key = store::keys::authenticate(&state.db, secret)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    if let Some(slot) = parts.extensions.get::<UserSlot>() {
        slot.set_key(key.id);
    }
    Ok(key)
}

/// The signed-in user of a token.
async fn token_user(parts: &Parts, state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let claims = state.jwt.verify(token, TokenType::Access).await?;
    let id = claims.user_id()?;
    let session = claims.session_id()?;
    let role = store::sessions::active_role(&state.db, id, session)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    if let Some(slot) = parts.extensions.get::<UserSlot>() {
        slot.set(id);
    }
    let address = client_address(parts, state);
    Ok(AuthUser {
        id,
        role,
        session,
        address,
    })
}

/// The bearer token of the `Authorization` header. A header with another
/// scheme counts as no credentials, as in DRF.
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(ApiError::NotAuthenticated)?;
    let value = header.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::NotAuthenticated);
    }
    let token = token.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(ApiError::InvalidToken);
    }
    Ok(token)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match credential(parts)? {
            Credential::Token(token) => token_user(parts, state, token).await,
            // A valid key is somebody, but may do nothing a user does.
            Credential::Key(secret) => {
                key_principal(parts, state, &secret).await?;
                Err(ApiError::Forbidden)
            }
        }
    }
}

/// The request's client address, as the sign-in throttle reads it.
fn client_address(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    ClientAddress::of(parts, &state.http.trusted_proxies).0
}

/// Who may record events: an admin, or an ingest key (bound to its source)
/// and the address it sent from.
#[derive(Debug, Clone)]
pub enum Sender {
    Admin(AuthUser),
    Key(KeyPrincipal, Option<IpAddr>),
}

impl Sender {
    /// Whose idempotency keys a request's belongs with.
    pub fn principal(&self) -> String {
        match self {
            Self::Admin(user) => format!("user:{}", user.id),
            Self::Key(key, _) => format!("key:{}", key.id),
        }
    }

    /// Who the events are recorded as posted by, and from where.
    pub fn audit(&self) -> Audit {
        match self {
            Self::Admin(user) => user.audit(),
            Self::Key(key, address) => Audit::api(Poster::Key(key.id), *address),
        }
    }

    /// The source a key's events must be; `None` for an admin.
    pub fn bound_source(&self) -> Option<&Source> {
        match self {
            Self::Admin(_) => None,
            Self::Key(key, _) => Some(&key.source),
        }
    }
}

impl FromRequestParts<AppState> for Sender {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match credential(parts)? {
            Credential::Token(token) => {
                let user = token_user(parts, state, token).await?;
                user.require(Role::Admin)?;
                Ok(Self::Admin(user))
            }
            Credential::Key(secret) => {
                let key = key_principal(parts, state, &secret).await?;
                Ok(Self::Key(key, client_address(parts, state)))
            }
        }
    }
}

/// An authenticated admin; anyone else is refused before the body is read.
#[derive(Debug, Clone, Copy)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        user.require(Role::Admin)?;
        Ok(Self(user))
    }
}
