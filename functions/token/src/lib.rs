//! `POST /api/token/` and `POST /api/token/refresh/`: JWTs for users.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Serialize;
use tm_shared::auth::jwt::TokenType;
use tm_shared::auth::password;
use tm_shared::http::body::JsonObject;
use tm_shared::http::fields::{Fields, Mode, TextRule};
use tm_shared::http::routing::{method_not_allowed, route_both};
use tm_shared::models::user::USERNAME_MAX_CHARS;
use tm_shared::{ApiError, AppState, finish_router, store};

const OBTAIN_PATH: &str = "/api/token/";
const REFRESH_PATH: &str = "/api/token/refresh/";

#[cfg(feature = "openapi")]
mod openapi;
#[cfg(feature = "openapi")]
pub use openapi::document;

/// Every path this function serves, each also without its trailing slash.
pub const PATHS: &[&str] = &[OBTAIN_PATH, REFRESH_PATH];

/// The token function's routes.
pub fn routes() -> Router<AppState> {
    let routes = route_both(
        Router::new(),
        OBTAIN_PATH,
        method_not_allowed(post(obtain), "POST"),
    );
    route_both(
        routes,
        REFRESH_PATH,
        method_not_allowed(post(refresh), "POST"),
    )
}

/// The routes as the function serves them, with the shared fallback and log.
pub fn router(state: AppState) -> Router {
    finish_router(routes(), state)
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct TokenPair {
    /// Short-lived; send it as `Authorization: Bearer <access>`.
    access: String,
    /// Longer-lived; trade it at `/api/token/refresh/` for a new access token.
    refresh: String,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct AccessToken {
    access: String,
}

const USERNAME: TextRule = TextRule {
    max_chars: USERNAME_MAX_CHARS,
    allow_blank: false,
    trim: true,
};
/// Passwords are taken as typed: surrounding spaces are part of them.
const PASSWORD: TextRule = TextRule {
    max_chars: password::MAX_PASSWORD_CHARS,
    allow_blank: false,
    trim: false,
};
const TOKEN: TextRule = TextRule {
    max_chars: 4096,
    allow_blank: false,
    trim: true,
};

async fn obtain(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Json<TokenPair>, ApiError> {
    let mut fields = Fields::new(&body, Mode::Full);
    let username = fields.text("username", USERNAME);
    let password = fields.text("password", PASSWORD).map(SecretString::from);
    fields.finish(&["username", "password"], &[])?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::Internal("full parse left a field unset".into()));
    };

    // Counted, and refused when over the limit, before the password is
    // checked: the same for a known user or not.
    if let Some(wait) = store::throttle::attempt(&state.db, &username, &state.throttle).await? {
        return Err(ApiError::Throttled(
            wait.as_secs_f64().ceil().max(1.0) as u64
        ));
    }

    let user = store::users::credentials(&state.db, &username).await?;
    // The password is checked even for an unknown or inactive user, so the
    // answer and its timing are the same whoever asks.
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = password::verify(password, stored).await?;
    let Some(user) = user.filter(|u| matches && u.is_active) else {
        return Err(ApiError::InvalidCredentials);
    };
    store::throttle::clear(&state.db, &username).await?;

    Ok(Json(TokenPair {
        access: state.jwt.issue(user.id, user.role, TokenType::Access)?,
        refresh: state.jwt.issue(user.id, user.role, TokenType::Refresh)?,
    }))
}

async fn refresh(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Json<AccessToken>, ApiError> {
    let mut fields = Fields::new(&body, Mode::Full);
    let token = fields.text("refresh", TOKEN);
    fields.finish(&["refresh"], &[])?;
    let Some(token) = token else {
        return Err(ApiError::Internal("full parse left a field unset".into()));
    };

    let claims = state.jwt.verify(&token, TokenType::Refresh)?;
    let id = claims.user_id()?;
    // The new access token carries the role the user has now; a deactivated
    // user gets nothing.
    let role = store::users::active_role(&state.db, id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    Ok(Json(AccessToken {
        access: state.jwt.issue(id, role, TokenType::Access)?,
    }))
}
