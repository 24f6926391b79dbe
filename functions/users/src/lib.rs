//! `/api/users/`: who can be assigned an alert, for pickers, and who the
//! caller is. Admins and analysts read the list; anyone signed in reads
//! their own. Users are managed with `tmctl user`.

use axum::extract::State;
use axum::response::Response;
use axum::{Json, Router};
use tm_shared::auth::AuthUser;
use tm_shared::http::cursor::Position;
use tm_shared::http::pagination::{Lister, RequestUrl};
use tm_shared::models::user::UserSummary;
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store};

const LIST: &str = "/api/users/";
const ME: &str = "/api/users/me/";

tm_shared::api! {
    tag: "users",
    schemas: [UserSummary],
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
