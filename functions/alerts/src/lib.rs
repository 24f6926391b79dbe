//! `/api/alerts/`: alerts raised by High and Critical events. Admins and
//! analysts read them; only admins move them through triage.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use tm_shared::auth::{AdminUser, AuthUser};
use tm_shared::http::body::JsonObject;
use tm_shared::http::pagination::{Page, PageRequest, RequestUrl, paginate};
use tm_shared::http::path::ResourceId;
use tm_shared::http::routing::{method_not_allowed, route_both};
use tm_shared::models::alert::{Alert, AlertFilter, AlertUpdate};
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store};

const LIST: &str = "/api/alerts/";
const DETAIL: &str = "/api/alerts/{id}/";

#[cfg(feature = "openapi")]
mod openapi;
#[cfg(feature = "openapi")]
pub use openapi::document;

/// Every path this function serves, each also without its trailing slash.
pub const PATHS: &[&str] = &[LIST, DETAIL];

/// The alerts function's routes. Alerts are created only by the system, so
/// there is no POST, PUT or DELETE.
pub fn routes() -> Router<AppState> {
    let routes = route_both(
        Router::new(),
        LIST,
        method_not_allowed(get(list), "GET, HEAD"),
    );
    route_both(
        routes,
        DETAIL,
        method_not_allowed(get(read).patch(update), "GET, PATCH, HEAD"),
    )
}

/// The routes as the function serves them, with the shared fallback and log.
pub fn router(state: AppState) -> Router {
    finish_router(routes(), state)
}

async fn list(
    State(state): State<AppState>,
    _: AuthUser,
    url: RequestUrl,
) -> Result<Json<Page<Alert>>, ApiError> {
    let mut errors = FieldErrors::new();
    let filter = AlertFilter::from_query(url.params(), &mut errors);
    let page = PageRequest::from_query(url.params(), &mut errors);
    errors.into_result()?;
    let db = &state.db;
    let page = paginate(
        &url,
        page?,
        store::alerts::count(db, &filter),
        |limit, offset| store::alerts::list(db, &filter, limit, offset),
    )
    .await?;
    Ok(Json(page))
}

async fn read(
    State(state): State<AppState>,
    _: AuthUser,
    ResourceId(id): ResourceId,
) -> Result<Json<Alert>, ApiError> {
    let alert = store::alerts::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(alert))
}

async fn update(
    State(state): State<AppState>,
    user: AdminUser,
    ResourceId(id): ResourceId,
    JsonObject(body): JsonObject,
) -> Result<Json<Alert>, ApiError> {
    let update = AlertUpdate::parse(&body)?;
    let alert = match update.status {
        Some(status) => store::alerts::set_status(&state.db, id, status, user.0.id).await?,
        None => store::alerts::get(&state.db, id).await?,
    };
    Ok(Json(alert.ok_or(ApiError::NotFound)?))
}
