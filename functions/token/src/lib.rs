//! `POST /api/token/` and `POST /api/token/refresh/`: JWTs for users.

use axum::extract::State;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Serialize;
use tm_shared::auth::jwt::TokenType;
use tm_shared::auth::password;
use tm_shared::http::body::JsonObject;
use tm_shared::http::client::ClientAddress;
use tm_shared::models::fields::TextRule;
use tm_shared::models::user::USERNAME_MAX_CHARS;
use tm_shared::store::throttle::{self, ThrottleAddress};
use tm_shared::{ApiError, AppState, finish_router, store};

const OBTAIN_PATH: &str = "/api/token/";
const REFRESH_PATH: &str = "/api/token/refresh/";

tm_shared::api! {
    tag: "token",
    schemas: [TokenPair, AccessToken],
    OBTAIN_PATH => {
        post obtain for Public {
            summary: "Sign in",
            description: "Answers the same for an unknown user, a wrong password and an inactive user. \
                Failures are counted per client address: after too many for one username, or for any, from one address within the window, \
                that address's further attempts are refused with a 429 until the lockout ends (each further lockout twice as long). \
                Attempts from elsewhere are not affected.",
            body: Some(Credentials::schema()),
            ok: (200, "An access and a refresh token.", Some(schema_ref::<TokenPair>())),
            errors: &[401, 429],
        },
    },
    REFRESH_PATH => {
        post refresh for Public {
            summary: "Get a new access token",
            description: "The new token carries the user's current role; a deactivated user gets a 401.",
            body: Some(RefreshRequest::schema()),
            ok: (200, "A new access token.", Some(schema_ref::<AccessToken>())),
            errors: &[401],
        },
    },
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

tm_shared::text_field!(
    /// A username as typed at sign-in, surrounding whitespace ignored.
    Username = TextRule {
        max_chars: USERNAME_MAX_CHARS,
        allow_blank: false,
        trim: true,
    }
);

tm_shared::text_field!(
    /// Passwords are taken as typed: surrounding spaces are part of them.
    secret Password = TextRule {
        max_chars: password::MAX_PASSWORD_CHARS,
        allow_blank: false,
        trim: false,
    }
);

tm_shared::text_field!(
    /// A refresh token as sent; checked by its signature, not its shape.
    secret RefreshToken = TextRule {
        max_chars: 4096,
        allow_blank: false,
        trim: true,
    }
);

tm_shared::body! {
    full Credentials: "A user's credentials.",
    fields {
        /// Surrounding whitespace is ignored.
        username: Username,
        /// Taken exactly as typed.
        password: Password,
    },
    read_only [],
}

tm_shared::body! {
    full RefreshRequest: "A refresh token.",
    fields {
        /// The `refresh` of a token pair.
        refresh: RefreshToken,
    },
    read_only [],
}

async fn obtain(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonObject(body): JsonObject,
) -> Result<Json<TokenPair>, ApiError> {
    let Credentials { username, password } = Credentials::parse(&body)?;
    let username = username.into_inner();
    let password = SecretString::from(password.into_inner());
    let address = ThrottleAddress::of(client);

    // Counted, and refused when over the limit, before the password is
    // checked: the same for a known user or not.
    let attempt = throttle::attempt(&state.db, &address, &username, &state.throttle).await?;
    if let Some(wait) = attempt.wait {
        tracing::warn!(client = address.as_str(), "sign-in refused: throttled");
        return Err(ApiError::Throttled(throttle::retry_after_seconds(wait)));
    }

    let user = store::users::credentials(&state.db, &username).await?;
    // The password is checked even for an unknown or inactive user, so the
    // answer and its timing are the same whoever asks.
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = password::verify(password, stored).await?;
    let Some(user) = user.filter(|u| matches && u.is_active) else {
        tracing::info!(
            client = address.as_str(),
            "sign-in refused: bad credentials"
        );
        return Err(ApiError::InvalidCredentials);
    };
    throttle::succeeded(&state.db, &address, &username, &attempt).await?;

    Ok(Json(TokenPair {
        access: state.jwt.issue(user.id, user.role, TokenType::Access)?,
        refresh: state.jwt.issue(user.id, user.role, TokenType::Refresh)?,
    }))
}

async fn refresh(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Json<AccessToken>, ApiError> {
    let RefreshRequest { refresh: token } = RefreshRequest::parse(&body)?;

    let claims = state.jwt.verify(token.as_str(), TokenType::Refresh)?;
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
