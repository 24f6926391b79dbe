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
    let start = idempotency::start(
        &state,
        sender.principal(),
        key,
        &method,
        uri.path(),
        &body.0,
    );
    let claimed = match start.await? {
        Start::Replay(response) => return Ok(response),
        Start::Run(claimed) => claimed,
    };
    let write = async {
        let mut prepared = ingest::prepare(&state.silences, &state.db, vec![event]).await?;
        let item = prepared.pop().expect("one event prepared");
        match &claimed {
            None => {
                let event = store::events::create(&state.db, item).await?;
                Ok((StatusCode::CREATED, axum::Json(event)).into_response())
            }
            Some(claim) => {
                let mut tx = state.db.begin().await?;
                let event = store::events::create(&mut *tx, item).await?;
                let response = claim.record(&mut tx, StatusCode::CREATED, &event).await?;
                tx.commit().await?;
                Ok(response)
            }
        }
    };
    settle(&state, write.await, claimed).await
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
    let start = idempotency::start(
        &state,
        sender.principal(),
        key,
        &method,
        uri.path(),
        &body.0,
    );
    let claimed = match start.await? {
        Start::Replay(response) => return Ok(response),
        Start::Run(claimed) => claimed,
    };
    let write = async {
        let items: Vec<Prepared> = ingest::prepare(&state.silences, &state.db, events).await?;
        match &claimed {
            None => {
                let results = store::events::create_batch(&state.db, &items).await?;
                Ok((
                    StatusCode::CREATED,
                    axum::Json(json!({ "results": results })),
                )
                    .into_response())
            }
            Some(claim) => {
                let mut tx = state.db.begin().await?;
                let results = store::events::create_batch(&mut *tx, &items).await?;
                let answer = json!({ "results": results });
                let response = claim.record(&mut tx, StatusCode::CREATED, &answer).await?;
                tx.commit().await?;
                Ok(response)
            }
        }
    };
    settle(&state, write.await, claimed).await
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
