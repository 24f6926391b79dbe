//! Recording events: one (`POST /api/events/`) or a batch
//! (`POST /api/events/batch/`), from an admin or an ingest key, optionally
//! idempotent.

use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tm_shared::auth::Sender;
use tm_shared::http::body::{MAX_BODY_BYTES, RawJson};
use tm_shared::http::idempotency::{self, Claimed, IdempotencyKey, Start};
use tm_shared::models::audit::Audit;
use tm_shared::models::event::{Incoming, Source};
use tm_shared::models::fields::{FieldErrors, REQUIRED, UNKNOWN_FIELD};
use tm_shared::store::events::Prepared;
use tm_shared::{ApiError, AppState, ingest, store};

/// The most events one batch may hold.
pub const BATCH_MAX_EVENTS: usize = 1000;
/// A batch's body limit: room for 1,000 events with descriptions of about
/// 5 KB each, under Lambda's 6 MB synchronous invocation payload (which
/// binds before API Gateway's 10 MB).
pub const BATCH_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

pub async fn create(
    State(state): State<AppState>,
    sender: Sender,
    key: IdempotencyKey,
    method: Method,
    uri: Uri,
    body: RawJson<MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let event = Incoming::parse(&body.object()?, sender.bound_source())?;
    ingest(
        &state,
        &sender,
        key,
        &method,
        &uri,
        &body.0,
        vec![event],
        Shape::One,
    )
    .await
}

pub async fn batch(
    State(state): State<AppState>,
    sender: Sender,
    key: IdempotencyKey,
    method: Method,
    uri: Uri,
    body: RawJson<BATCH_MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let events = parse_batch(&body.object()?, sender.bound_source())?;
    ingest(
        &state,
        &sender,
        key,
        &method,
        &uri,
        &body.0,
        events,
        Shape::Batch,
    )
    .await
}

/// What both routes do once their body is valid: answer a retry from the
/// idempotency record, or store the events and give the key up on failure.
#[allow(clippy::too_many_arguments)] // The request's parts, each once.
async fn ingest(
    state: &AppState,
    sender: &Sender,
    key: IdempotencyKey,
    method: &Method,
    uri: &Uri,
    body: &[u8],
    events: Vec<Incoming>,
    shape: Shape,
) -> Result<Response, ApiError> {
    let start = idempotency::start(state, sender.principal(), key, method, uri.path(), body);
    let claimed = match start.await? {
        Start::Replay(response) => return Ok(response),
        Start::Run(claimed) => claimed,
    };
    let result = record(state, claimed.as_ref(), events, &sender.audit(), shape).await;
    if result.is_ok() {
        store::stats::fold_now_and_then(&state.db).await;
    }
    settle(state, result, claimed).await
}

/// What the answer shows: the whole event (single POST) or each event's
/// outcome (batch).
#[derive(Clone, Copy)]
enum Shape {
    One,
    Batch,
}

/// How often a write that lost a deadlock is tried. Two batches attaching
/// to alerts and raising others can each lock counter rows the other needs
/// (the counts triggers of the insert and of the update lock theirs in two
/// passes); PostgreSQL then aborts one, which is safe to run again.
const ATTEMPTS: u32 = 3;

/// Stores the events, with the answer under the idempotency key if there
/// is one (in the same transaction), retrying a write that lost a deadlock.
async fn record(
    state: &AppState,
    claim: Option<&Claimed>,
    events: Vec<Incoming>,
    by: &Audit,
    shape: Shape,
) -> Result<Response, ApiError> {
    let items = ingest::prepare(&state.silences, &state.db, events).await?;
    let mut attempt = 1;
    loop {
        match write(state, claim, &items, by, shape).await {
            Err(Failed::Deadlock(e)) if attempt < ATTEMPTS => {
                tracing::info!(error = %e, attempt, "ingest lost a deadlock; trying again");
                attempt += 1;
            }
            Err(Failed::Deadlock(e)) => return Err(e.into()),
            Err(Failed::Other(e)) => return Err(e),
            Ok(response) => return Ok(response),
        }
    }
}

enum Failed {
    Deadlock(sqlx::Error),
    Other(ApiError),
}

impl From<sqlx::Error> for Failed {
    fn from(e: sqlx::Error) -> Self {
        if store::is_deadlock(&e) {
            Self::Deadlock(e)
        } else {
            Self::Other(e.into())
        }
    }
}

impl From<ApiError> for Failed {
    fn from(e: ApiError) -> Self {
        Self::Other(e)
    }
}

async fn write(
    state: &AppState,
    claim: Option<&Claimed>,
    items: &[Prepared],
    by: &Audit,
    shape: Shape,
) -> Result<Response, Failed> {
    let Some(claim) = claim else {
        let response = match shape {
            Shape::One => {
                let event = store::events::create(&state.db, items[0].clone(), by).await?;
                (StatusCode::CREATED, axum::Json(event)).into_response()
            }
            Shape::Batch => {
                let results = store::events::create_batch(&state.db, items, by).await?;
                (
                    StatusCode::CREATED,
                    axum::Json(json!({ "results": results })),
                )
                    .into_response()
            }
        };
        return Ok(response);
    };
    let mut tx = state.db.begin().await?;
    let response = match shape {
        Shape::One => {
            let event = store::events::create(&mut *tx, items[0].clone(), by).await?;
            claim.record(&mut tx, StatusCode::CREATED, &event).await?
        }
        Shape::Batch => {
            let results = store::events::create_batch(&mut *tx, items, by).await?;
            let answer = json!({ "results": results });
            claim.record(&mut tx, StatusCode::CREATED, &answer).await?
        }
    };
    tx.commit().await?;
    Ok(response)
}

/// The write's answer; after a failure, which stored nothing, the key's
/// claim is given up so that a retry runs afresh.
async fn settle(
    state: &AppState,
    result: Result<Response, ApiError>,
    claimed: Option<Claimed>,
) -> Result<Response, ApiError> {
    if result.is_err()
        && let Some(claim) = claimed
    {
        claim.release(state).await;
    }
    result
}

/// `{"events": [...]}`: every item checked before anything is stored.
/// Errors: `{"events": ["..."]}` for the list itself, `{"events": {"3":
/// {"severity": ["..."]}}}` for its items (by position, from 0).
pub fn parse_batch(
    body: &Map<String, Value>,
    bound: Option<&Source>,
) -> Result<Vec<Incoming>, ApiError> {
    let mut errors = FieldErrors::new();
    for field in body.keys().filter(|k| *k != "events") {
        errors.add(field, UNKNOWN_FIELD);
    }
    let items = match body.get("events") {
        None => {
            errors.add("events", REQUIRED);
            None
        }
        Some(Value::Array(items)) if items.is_empty() => {
            errors.add("events", "This list may not be empty.");
            None
        }
        Some(Value::Array(items)) => Some(items),
        Some(_) => {
            errors.add("events", "Expected a list of events.");
            None
        }
    };
    errors.into_result()?;
    let items = items.expect("checked above");
    if items.len() > BATCH_MAX_EVENTS {
        return Err(ApiError::PayloadTooLarge(format!(
            "A batch holds at most {BATCH_MAX_EVENTS} events; this one has {}.",
            items.len()
        )));
    }
    let mut events = Vec::with_capacity(items.len());
    let mut item_errors = Map::new();
    for (position, item) in items.iter().enumerate() {
        let parsed = match item {
            Value::Object(map) => Incoming::parse(map, bound),
            _ => {
                let mut errors = FieldErrors::new();
                errors.add("non_field_errors", "Expected an event object.");
                Err(errors)
            }
        };
        match parsed {
            Ok(event) => events.push(event),
            Err(errors) => {
                item_errors.insert(position.to_string(), json!(errors.as_map()));
            }
        }
    }
    if item_errors.is_empty() {
        Ok(events)
    } else {
        Err(ApiError::ItemValidation(json!({ "events": item_errors })))
    }
}
