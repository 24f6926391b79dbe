//! `/api/events/`: security events pushed by sensors; admins only.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tm_shared::auth::AdminUser;
use tm_shared::http::body::JsonObject;
use tm_shared::http::fields::Mode;
use tm_shared::http::pagination::{Page, PageRequest, RequestUrl, paginate};
use tm_shared::http::path::ResourceId;
use tm_shared::http::routing::{method_not_allowed, route_both};
use tm_shared::models::event::{Event, EventChanges, EventFilter, NewEvent};
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store};

const LIST: &str = "/api/events/";
const DETAIL: &str = "/api/events/{id}/";

#[cfg(feature = "openapi")]
mod openapi;
#[cfg(feature = "openapi")]
pub use openapi::document;

/// Every path this function serves, each also without its trailing slash.
pub const PATHS: &[&str] = &[LIST, DETAIL];

/// The events function's routes.
pub fn routes() -> Router<AppState> {
    let routes = route_both(
        Router::new(),
        LIST,
        method_not_allowed(get(list).post(create), "GET, POST, HEAD"),
    );
    route_both(
        routes,
        DETAIL,
        method_not_allowed(
            get(read).put(replace).patch(update).delete(remove),
            "GET, PUT, PATCH, DELETE, HEAD",
        ),
    )
}

/// The routes as the function serves them, with the shared fallback and log.
pub fn router(state: AppState) -> Router {
    finish_router(routes(), state)
}

async fn list(
    State(state): State<AppState>,
    _: AdminUser,
    url: RequestUrl,
) -> Result<Json<Page<Event>>, ApiError> {
    let mut errors = FieldErrors::new();
    let filter = EventFilter::from_query(url.params(), &mut errors);
    let page = PageRequest::from_query(url.params(), &mut errors);
    errors.into_result()?;
    let db = &state.db;
    let page = paginate(
        &url,
        page?,
        store::events::count(db, &filter),
        |limit, offset| store::events::list(db, &filter, limit, offset),
    )
    .await?;
    Ok(Json(page))
}

async fn create(
    State(state): State<AppState>,
    _: AdminUser,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Event>), ApiError> {
    let event = NewEvent::parse(&body)?;
    let stored = store::events::create(&state.db, &event).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

async fn read(
    State(state): State<AppState>,
    _: AdminUser,
    ResourceId(id): ResourceId,
) -> Result<Json<Event>, ApiError> {
    let event = store::events::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(event))
}

async fn replace(
    State(state): State<AppState>,
    _: AdminUser,
    ResourceId(id): ResourceId,
    JsonObject(body): JsonObject,
) -> Result<Json<Event>, ApiError> {
    apply(&state, id, EventChanges::parse(&body, Mode::Full)?).await
}

async fn update(
    State(state): State<AppState>,
    _: AdminUser,
    ResourceId(id): ResourceId,
    JsonObject(body): JsonObject,
) -> Result<Json<Event>, ApiError> {
    apply(&state, id, EventChanges::parse(&body, Mode::Partial)?).await
}

async fn apply(state: &AppState, id: i64, changes: EventChanges) -> Result<Json<Event>, ApiError> {
    let event = store::events::update(&state.db, id, &changes)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(event))
}

async fn remove(
    State(state): State<AppState>,
    _: AdminUser,
    ResourceId(id): ResourceId,
) -> Result<StatusCode, ApiError> {
    if store::events::delete(&state.db, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
