//! `/api/users/`: who can be assigned an alert, for pickers, and who the
//! caller is. Admins and analysts read the list; anyone signed in reads
//! their own, and sees and ends their own sessions. Users are managed with
//! `tmctl user`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Json, Router};
use tm_shared::auth::AuthUser;
use tm_shared::http::cursor::Position;
use tm_shared::http::pagination::{Lister, RequestUrl};
use tm_shared::http::path::ResourceId;
use tm_shared::models::session::Session;
use tm_shared::models::user::UserSummary;
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store};

const LIST: &str = "/api/users/";
const ME: &str = "/api/users/me/";
const MY_SESSIONS: &str = "/api/users/me/sessions/";
const MY_SESSION: &str = "/api/users/me/sessions/{id}/";

tm_shared::api! {
    tag: "users",
    schemas: [UserSummary, Session],
    LIST => {
        get list for AnyUser {
            summary: "List users, in the order they were added",
            description: "Admins and analysts, for pickers: no credentials, inactive users included (with `is_active`).",
            params: page_params().into(),
            ok: (200, "A page of users.", Some(page_of::<UserSummary>())),
            errors: &[400, 404],
        },
    },
    ME => {
        get me for AnyUser {
            summary: "The signed-in user",
            description: "Any signed-in user: who the token is for, and their role now.",
            ok: (200, "The user.", Some(schema_ref::<UserSummary>())),
        },
    },
    MY_SESSIONS => {
        get sessions for AnyUser {
            summary: "List my live sessions, newest first",
            description: "Any signed-in user, their own: each sign-in that has not ended or expired, where it came from, and which one is asking (`current`).",
            params: page_params().into(),
            ok: (200, "A page of sessions.", Some(page_of::<Session>())),
            errors: &[400, 404],
        },
    },
    MY_SESSION => {
        delete end_session for AnyUser {
            summary: "End one of my sessions",
            description: "Any signed-in user, their own live sessions only (another user's is a 404). Its refresh and access tokens stop working at once; ending the current one signs the caller out.",
            params: vec![id_param("session")],
            ok: (204, "Ended.", None),
            errors: &[404],
        },
    },
}

/// The routes as the function serves them, with the shared fallback and log.
pub fn router(state: AppState) -> Router {
    finish_router(routes(), state)
}

async fn list(
    State(state): State<AppState>,
    _: AuthUser,
    url: RequestUrl,
) -> Result<Response, ApiError> {
    let lister = Lister::new(&url, &state.cursor, "id");
    let mut errors = FieldErrors::new();
    let paging = lister.paging(&[], &mut errors);
    errors.into_result()?;
    let db = &state.db;
    lister
        .respond(
            paging?,
            store::users::count(db),
            |window| store::users::summaries(db, window),
            |u: &UserSummary| Position::id(u.id),
        )
        .await
}

async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<UserSummary>, ApiError> {
    // The extractor has just seen the user active; gone since is a 401.
    let me = store::users::summary(&state.db, user.id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    Ok(Json(me))
}

async fn sessions(
    State(state): State<AppState>,
    user: AuthUser,
    url: RequestUrl,
) -> Result<Response, ApiError> {
    let lister = Lister::new(&url, &state.cursor, "-id");
    let mut errors = FieldErrors::new();
    let paging = lister.paging(&[], &mut errors);
    errors.into_result()?;
    let db = &state.db;
    lister
        .respond(
            paging?,
            store::sessions::count_live(db, user.id),
            |window| async move {
                let mut page = store::sessions::live(db, user.id, window).await?;
                for session in &mut page {
                    session.current = session.id == user.session;
                }
                Ok(page)
            },
            |s: &Session| Position::id(s.id),
        )
        .await
}

async fn end_session(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> Result<StatusCode, ApiError> {
    if store::sessions::end_own(&state.db, user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
