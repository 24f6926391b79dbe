//! `/api/events/`: security events pushed by sensors. Admins manage them;
//! ingest keys may only record them, one at a time or in batches.

mod ingest;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tm_shared::auth::AdminUser;
use tm_shared::http::body::JsonObject;
use tm_shared::http::cursor::Position;
use tm_shared::http::pagination::{Lister, RequestUrl};
use tm_shared::http::path::ResourceId;
use tm_shared::models::event::{Event, EventChanges, EventFilter, NewEvent};
#[cfg(feature = "openapi")]
use tm_shared::models::event::{IngestEvent, Ingested};
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store};

pub use ingest::{BATCH_MAX_BODY_BYTES, BATCH_MAX_EVENTS, parse_batch};
use ingest::{batch, create};

const LIST: &str = "/api/events/";
const BATCH: &str = "/api/events/batch/";
const DETAIL: &str = "/api/events/{id}/";

tm_shared::api! {
    tag: "events",
    schemas: [Event, Ingested],
    LIST => {
        get list for Admin {
            summary: "List events, newest first",
            description: "Admins only. Filters combine with AND; each names every bad value it was given.",
            params: [EventFilter::params(), page_params().into()].concat(),
            ok: (200, "A page of events.", Some(page_of::<Event>())),
            errors: &[400, 404],
        },
        post create for Sender {
            summary: "Record an event",
            description: "Admins and ingest keys (a key's events are its source's). A High or Critical event raises an Open alert in the same write, or, with a `dedup_key` whose alert is not Resolved, attaches to that alert; an event an active silence matches raises none. `outcome` says which. With an `Idempotency-Key` header, a retry gets the first answer again.",
            params: vec![idempotency_param()],
            body: Some(IngestEvent::schema()),
            ok: (201, "The stored event, with what became of it.", Some(schema_ref::<Event>())),
            errors: &[409, 422],
        },
    },
    BATCH => {
        post batch for Sender {
            summary: "Record up to 1,000 events at once",
            description: "Admins and ingest keys. `{\"events\": [...]}`, each item as for a single event. All or nothing: if any item is bad, nothing is stored and the errors are keyed by position. Items are applied in order (dedup and silences included); `results` answers each, in the request's order. Over 1,000 items or 5 MiB is a 413.",
            params: vec![idempotency_param()],
            body: Some(batch_schema(IngestEvent::schema(), BATCH_MAX_EVENTS)),
            ok: (201, "What became of each event, in order.", Some(batch_results::<Ingested>())),
            errors: &[409, 422],
            item_errors: Some("events"),
        },
    },
    DETAIL => {
        get read for Admin {
            summary: "Read an event",
            description: "Admins only.",
            params: vec![id_param("event")],
            ok: (200, "The event as stored.", Some(schema_ref::<Event>())),
            errors: &[404],
        },
        put replace for Admin {
            summary: "Replace an event's writable fields",
            description: "Admins only. Raising the severity to High or Critical raises the event's alert if it has none; the alert's severity follows the event's.",
            params: vec![id_param("event")],
            body: Some(NewEvent::schema()),
            ok: (200, "The event as stored.", Some(schema_ref::<Event>())),
            errors: &[404],
        },
        patch update for Admin {
            summary: "Change some of an event's fields",
            description: "Admins only. As PUT, for the fields given.",
            params: vec![id_param("event")],
            body: Some(EventChanges::schema()),
            ok: (200, "The event as stored.", Some(schema_ref::<Event>())),
            errors: &[404],
        },
        delete delete for Admin {
            summary: "Delete an event and its alert",
            description: "Admins only.",
            params: vec![id_param("event")],
            ok: (204, "Deleted.", None),
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
    _: AdminUser,
    url: RequestUrl,
) -> Result<Response, ApiError> {
    let lister = Lister::new(&url, &state.cursor, "-timestamp");
    let mut errors = FieldErrors::new();
    let filter = EventFilter::from_query(url.params(), &mut errors);
    let paging = lister.paging(&EventFilter::names(), &mut errors);
    errors.into_result()?;
    let db = &state.db;
    lister
        .respond(
            paging?,
            store::events::count(db, &filter),
            |window| store::events::list(db, &filter, window),
            |e: &Event| Position::at(e.timestamp, e.id),
        )
        .await
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
    admin: AdminUser,
    ResourceId(id): ResourceId,
    JsonObject(body): JsonObject,
) -> Result<Json<Event>, ApiError> {
    apply(&state, id, NewEvent::parse(&body)?.into(), &admin).await
}

async fn update(
    State(state): State<AppState>,
    admin: AdminUser,
    ResourceId(id): ResourceId,
    JsonObject(body): JsonObject,
) -> Result<Json<Event>, ApiError> {
    apply(&state, id, EventChanges::parse(&body)?, &admin).await
}

async fn apply(
    state: &AppState,
    id: i64,
    changes: EventChanges,
    admin: &AdminUser,
) -> Result<Json<Event>, ApiError> {
    let event = store::events::update(&state.db, id, &changes, &admin.0.audit())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(event))
}

async fn delete(
    State(state): State<AppState>,
    admin: AdminUser,
    ResourceId(id): ResourceId,
) -> Result<StatusCode, ApiError> {
    if store::events::delete(&state.db, id, &admin.0.audit()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
