//! `POST /api/token/` and `POST /api/token/refresh/`: JWTs for users.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::{Json, Router};
use serde::Serialize;
use tm_shared::auth::jwt::TokenType;
use tm_shared::auth::password;
use tm_shared::http::body::JsonObject;
use tm_shared::http::client::ClientAddress;
use tm_shared::models::audit::{Audit, AuditAction};
use tm_shared::models::fields::TextRule;
use tm_shared::models::session::{SessionEnd, USER_AGENT_MAX_CHARS};
use tm_shared::models::user::{Password, USERNAME_MAX_CHARS};
use tm_shared::store::sessions::Rotation;
use tm_shared::store::throttle::{self, ThrottleAddress};
use tm_shared::{ApiError, AppState, finish_router, store};

const OBTAIN_PATH: &str = "/api/token/";
const REFRESH_PATH: &str = "/api/token/refresh/";
const REVOKE_PATH: &str = "/api/token/revoke/";

tm_shared::api! {
    tag: "token",
    schemas: [TokenPair],
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
            summary: "Trade a refresh token for a new pair",
            description: "Refresh tokens rotate: the answer's `refresh` replaces the one sent, which may not be used again. \
                A refresh token used after it was traded means two holders (one of them a thief): the session ends for both, and each gets a 401. \
                The new access token carries the user's current role; an ended session, an inactive user or a token from before sessions gets a 401.",
            body: Some(RefreshRequest::schema()),
            ok: (200, "A new access and refresh token.", Some(schema_ref::<TokenPair>())),
            errors: &[401],
        },
    },
    REVOKE_PATH => {
        post revoke for Public {
            summary: "Sign out",
            description: "Ends the session of this refresh token (whichever of its refresh tokens is sent): its refresh and access tokens stop working at once. \
                Ending an ended session is a 204 too.",
            body: Some(RefreshRequest::schema()),
            ok: (204, "The session is over.", None),
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
    /// Longer-lived and single-use: trade it at `/api/token/refresh/` for a
    /// new pair, or end the session with it at `/api/token/revoke/`.
    refresh: String,
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
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Json<TokenPair>, ApiError> {
    let Credentials { username, password } = Credentials::parse(&body)?;
    let username = username.into_inner();
    let password = password.into_secret();
    let address = ThrottleAddress::of(client);

    // Counted, and refused when over the limit, before the password is
    // checked: the same for a known user or not.
    let attempt = throttle::attempt(&state.db, &address, &username, &state.throttle).await?;
    if let Some(wait) = attempt.wait {
        tracing::warn!(client = address.as_str(), "sign-in refused: throttled");
        let retry_after = throttle::retry_after_seconds(wait);
        let detail = tm_shared::serde_json::json!({ "retry_after": retry_after });
        let action = AuditAction::SignInLockedOut;
        let audit = Audit::anonymous(client);
        store::audit::sign_in_refused(&state.db, action, &username, &audit, detail).await?;
        return Err(ApiError::Throttled(retry_after));
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
        let action = AuditAction::SignInFailed;
        let detail = tm_shared::serde_json::json!({});
        let audit = Audit::anonymous(client);
        store::audit::sign_in_refused(&state.db, action, &username, &audit, detail).await?;
        return Err(ApiError::InvalidCredentials);
    };
    throttle::succeeded(&state.db, &address, &username, &attempt).await?;

    let session = store::sessions::start(
        &state.db,
        user.id,
        user.session_epoch,
        state.sessions,
        client,
        user_agent(&headers).as_deref(),
    )
    .await?;
    let keys = state.jwt.current().await;
    Ok(Json(TokenPair {
        access: keys.access(user.id, user.role, session.id)?,
        refresh: keys.refresh(user.id, user.role, session.id, &session.refresh_jti)?,
    }))
}

/// The `User-Agent`, for the owner's list of sessions: at most
/// [`USER_AGENT_MAX_CHARS`] characters, none if it is not text.
fn user_agent(headers: &HeaderMap) -> Option<String> {
    let agent = headers.get(header::USER_AGENT)?.to_str().ok()?.trim();
    (!agent.is_empty()).then(|| agent.chars().take(USER_AGENT_MAX_CHARS).collect())
}

async fn refresh(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonObject(body): JsonObject,
) -> Result<Json<TokenPair>, ApiError> {
    let RefreshRequest { refresh: token } = RefreshRequest::parse(&body)?;

    let claims = match state.jwt.verify(token.as_str(), TokenType::Refresh).await {
        Ok(claims) => claims,
        Err(refused) => {
            // A genuine but expired refresh token that was spent still
            // tells of a second holder: its owner came back late.
            if let Ok(expired) = state
                .jwt
                .verify_expired(token.as_str(), TokenType::Refresh)
                .await
                && let Some(session) = expired.sid
                && store::sessions::end_if_spent(&state.db, session, &expired.jti, client).await?
            {
                tracing::warn!(
                    session,
                    "an expired, rotated refresh token came back: session ended"
                );
            }
            return Err(refused);
        }
    };
    let session = claims.session_id()?;
    let rotation =
        store::sessions::rotate(&state.db, session, &claims.jti, state.sessions.idle, client)
            .await?;
    match rotation {
        // The new access token carries the role the user has now.
        Rotation::Rotated {
            user_id,
            role,
            refresh_jti,
        } => {
            let keys = state.jwt.current().await;
            Ok(Json(TokenPair {
                access: keys.access(user_id, role, session)?,
                refresh: keys.refresh(user_id, role, session, &refresh_jti)?,
            }))
        }
        Rotation::Reused => {
            tracing::warn!(
                session,
                "a rotated refresh token was used again: session ended"
            );
            Err(ApiError::InvalidToken)
        }
        Rotation::Over => Err(ApiError::InvalidToken),
    }
}

async fn revoke(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonObject(body): JsonObject,
) -> Result<StatusCode, ApiError> {
    let RefreshRequest { refresh: token } = RefreshRequest::parse(&body)?;
    let claims = state.jwt.verify(token.as_str(), TokenType::Refresh).await?;
    let session = claims.session_id()?;
    store::sessions::end(&state.db, session, SessionEnd::Logout, client).await?;
    Ok(StatusCode::NO_CONTENT)
}
