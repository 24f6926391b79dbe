//! `/api/silences/`: windows in which matching events are stored but raise
//! no alert. Admins create and end them; admins and analysts read them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Json, Router};
use time::OffsetDateTime;
use tm_shared::auth::{AdminUser, AuthUser};
use tm_shared::http::body::JsonObject;
use tm_shared::http::cursor::Position;
use tm_shared::http::pagination::{Lister, RequestUrl};
use tm_shared::http::path::ResourceId;
#[cfg(feature = "openapi")]
use tm_shared::models::silence::{Matchers, SilenceBody};
use tm_shared::models::silence::{NewSilence, Silence, SilenceFilter};
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store};

const LIST: &str = "/api/silences/";
const DETAIL: &str = "/api/silences/{id}/";

tm_shared::api! {
    tag: "silences",
    schemas: [Silence, Matchers],
    LIST => {
        get list for AnyUser {
            summary: "List silences, newest first",
            description: "Admins and analysts: pending, active and expired ones, filterable by state and source.",
            params: [SilenceFilter::params(), page_params().into()].concat(),
            ok: (200, "A page of silences.", Some(page_of::<Silence>())),
            errors: &[400, 404],
        },
        post create for Admin {
            summary: "Create a silence",
            description: "Admins only. From `starts_at` (now if left out) until `ends_at` (at most 90 days later), events matching every given matcher are stored, raise no alert, and answer `\"outcome\": \"suppressed\"` with the silence's id. Each instance reloads silences every 5 seconds: a new silence acts everywhere within that.",
            body: Some(SilenceBody::schema()),
            ok: (201, "The silence.", Some(schema_ref::<Silence>())),
        },
    },
    DETAIL => {
        get read for AnyUser {
            summary: "Read a silence",
            description: "Admins and analysts.",
            params: vec![id_param("silence")],
            ok: (200, "The silence.", Some(schema_ref::<Silence>())),
            errors: &[404],
        },
        delete end for Admin {
            summary: "End a silence now",
            description: "Admins only. It stops acting now (within 5 seconds on every instance); the record stays, with `ended_at`. Ending an expired silence changes nothing.",
            params: vec![id_param("silence")],
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
    let lister = Lister::new(&url, &state.cursor, "-id");
    let mut errors = FieldErrors::new();
    let filter = SilenceFilter::from_query(url.params(), &mut errors);
    let paging = lister.paging(&SilenceFilter::names(), &mut errors);
    errors.into_result()?;
    let db = &state.db;
    lister
        .respond(
            paging?,
            store::silences::count(db, &filter),
            |window| store::silences::list(db, &filter, window),
            |s: &Silence| Position::id(s.id),
        )
        .await
}

async fn create(
    State(state): State<AppState>,
    admin: AdminUser,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Silence>), ApiError> {
    let silence = NewSilence::parse(&body, OffsetDateTime::now_utc())?;
    let stored =
        store::silences::create(&state.db, &silence, (admin.0.id, &admin.0.audit())).await?;
    state.silences.invalidate().await;
    Ok((StatusCode::CREATED, Json(stored)))
}

async fn read(
    State(state): State<AppState>,
    _: AuthUser,
    ResourceId(id): ResourceId,
) -> Result<Json<Silence>, ApiError> {
    let silence = store::silences::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(silence))
}

async fn end(
    State(state): State<AppState>,
    admin: AdminUser,
    ResourceId(id): ResourceId,
) -> Result<StatusCode, ApiError> {
    store::silences::end(&state.db, id, &admin.0.audit())
        .await?
        .ok_or(ApiError::NotFound)?;
    state.silences.invalidate().await;
    Ok(StatusCode::NO_CONTENT)
}
