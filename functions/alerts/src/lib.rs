//! `/api/alerts/`: alerts raised by High and Critical events. Admins and
//! analysts read them; only admins move them through triage. Alerts are
//! created only by the system, so there is no POST, PUT or DELETE.

use axum::extract::State;
use axum::{Json, Router};
use tm_shared::auth::{AdminUser, AuthUser};
use tm_shared::http::body::JsonObject;
use tm_shared::http::pagination::{Page, PageRequest, RequestUrl, paginate};
use tm_shared::http::path::ResourceId;
use tm_shared::models::alert::{Alert, AlertFilter, AlertUpdate};
use tm_shared::models::event::Event;
use tm_shared::store::alerts::Updated;
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store};

const LIST: &str = "/api/alerts/";
const DETAIL: &str = "/api/alerts/{id}/";
const EVENTS: &str = "/api/alerts/{id}/events/";

tm_shared::api! {
    tag: "alerts",
    schemas: [Alert, Event],
    LIST => {
        get list for AnyUser {
            summary: "List alerts, newest first",
            description: "Admins and analysts. Filters combine with AND; each names every bad value it was given.",
            params: [AlertFilter::params(), page_params().into()].concat(),
            ok: (200, "A page of alerts.", Some(page_of::<Alert>())),
            errors: &[400, 404],
        },
    },
    DETAIL => {
        get read for AnyUser {
            summary: "Read an alert",
            description: "Admins and analysts.",
            params: vec![id_param("alert")],
            ok: (200, "The alert.", Some(schema_ref::<Alert>())),
            errors: &[404],
        },
        patch update for Admin {
            summary: "Move an alert through triage",
            description: "Admins only. Each change is recorded with who made it; two concurrent changes are applied one after the other, each judged against the status the other left.",
            params: vec![id_param("alert")],
            body: Some(AlertUpdate::schema()),
            ok: (200, "The alert.", Some(schema_ref::<Alert>())),
            errors: &[404, 409],
        },
    },
    EVENTS => {
        get events for AnyUser {
            summary: "List the events of an alert, newest first",
            description: "Admins and analysts: the event that raised it and every event attached to it by its `dedup_key`.",
            params: [vec![id_param("alert")], page_params().into()].concat(),
            ok: (200, "A page of events.", Some(page_of::<Event>())),
            errors: &[400, 404],
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
    match store::alerts::update(&state.db, id, &update, user.0.id).await? {
        Updated::Done(alert) => Ok(Json(alert)),
        Updated::NotFound => Err(ApiError::NotFound),
        // A conflict with the alert's state, not a bad request.
        Updated::Refused { from, to } => Err(ApiError::Conflict(format!(
            "Cannot move an alert from {from} to {to}; reopen it first."
        ))),
        Updated::KeyTaken { other } => Err(ApiError::Conflict(format!(
            "Alert {other} with the same dedup_key is not Resolved; resolve it before reopening this one."
        ))),
    }
}

async fn events(
    State(state): State<AppState>,
    _: AuthUser,
    ResourceId(id): ResourceId,
    url: RequestUrl,
) -> Result<Json<Page<Event>>, ApiError> {
    let mut errors = FieldErrors::new();
    let page = PageRequest::from_query(url.params(), &mut errors);
    errors.into_result()?;
    let db = &state.db;
    let Some(first) = store::alerts::event_of(db, id).await? else {
        return Err(ApiError::NotFound);
    };
    let page = paginate(
        &url,
        page?,
        store::events::count_of_alert(db, id, first),
        |limit, offset| store::events::list_of_alert(db, id, first, limit, offset),
    )
    .await?;
    Ok(Json(page))
}
