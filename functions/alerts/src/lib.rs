//! `/api/alerts/`: alerts raised by High and Critical events. Admins and
//! analysts read them, their events, comments and timeline; only admins
//! triage them (status, assignee, comments). Alerts are created only by the
//! system, so there is no POST, PUT or DELETE of one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::ETAG;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tm_shared::auth::{AdminUser, AuthUser};
use tm_shared::http::body::JsonObject;
use tm_shared::http::cursor::Position;
use tm_shared::http::etag::IfMatch;
use tm_shared::http::pagination::{Lister, RequestUrl};
use tm_shared::http::path::ResourceId;
use tm_shared::models::alert::{Alert, AlertFilter, AlertUpdate};
use tm_shared::models::bulk::{BulkRequest, Target};
use tm_shared::models::event::Event;
use tm_shared::models::query::QueryParams;
use tm_shared::models::stats::{Stats, StatsWindow};
use tm_shared::models::timeline::{Comment, NewComment, TimelineEntry};
use tm_shared::serde_json::{self, json};
use tm_shared::store::alerts::AlertOrder;
use tm_shared::store::triage::Updated;
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store, triage};

const LIST: &str = "/api/alerts/";
const DETAIL: &str = "/api/alerts/{id}/";
const EVENTS: &str = "/api/alerts/{id}/events/";
const COMMENTS: &str = "/api/alerts/{id}/comments/";
const HISTORY: &str = "/api/alerts/{id}/history/";
const BULK: &str = "/api/alerts/bulk/";
const STATS: &str = "/api/alerts/stats/";

tm_shared::api! {
    tag: "alerts",
    schemas: [Alert, Event, Comment, TimelineEntry, Stats],
    LIST => {
        get list for AnyUser {
            summary: "List alerts, newest first, or as a changes feed",
            description: "Admins and analysts. Filters combine with AND; each names every bad value it was given. \
                `ordering=updated_at` lists the oldest change first: with `updated_since` and cursor pages, the \
                feed a SIEM polls (changes show once they are 5 seconds old, so none is skipped).",
            params: [AlertFilter::params(), vec![ordering_param()], page_params().into()].concat(),
            ok: (200, "A page of alerts.", Some(page_of::<Alert>())),
            errors: &[400, 404],
        },
    },
    STATS => {
        get stats for AnyUser {
            summary: "Triage stats",
            description: "Admins and analysts. For alerts raised in the window (`since`/`until`, the last 7 days \
                unless given): counts by status and severity, and the mean and median time to acknowledge and to \
                resolve. For every alert not Resolved now: how long ago it was raised, and whose it is.",
            params: StatsWindow::params(),
            ok: (200, "The stats.", Some(schema_ref::<Stats>())),
            errors: &[400],
        },
    },
    BULK => {
        post bulk for Admin {
            summary: "Change many alerts at once",
            description: "Admins only. By `ids` (up to 1,000; each with its outcome) or by `filter` (the list's own \
                filters: each call changes at most 10,000 of the matching alerts that the change alters, oldest \
                first, and says how many remain: repeat until `remaining` is 0). Each changed alert gets its \
                timeline entry, with the comment. `dry_run` only counts the matching alerts.",
            body: Some(tm_shared::models::bulk::body_schema()),
            ok: (200, "What was done.", Some(tm_shared::openapi::bulk_result_schema())),
            errors: &[400],
            nested_errors: &["filter", "set"],
        },
    },
    DETAIL => {
        get read for AnyUser {
            summary: "Read an alert",
            description: "Admins and analysts. The `ETag` header is the alert's version, for `If-Match`.",
            params: vec![id_param("alert")],
            ok: (200, "The alert.", Some(schema_ref::<Alert>())),
            errors: &[404],
        },
        patch update for Admin {
            summary: "Triage an alert: status, assignee, comment",
            description: "Admins only. Each change is recorded in the timeline with who made it, its comment in the \
                same entry; two concurrent changes are applied one after the other, each judged against what the \
                other left. Acknowledging an unassigned alert assigns it to whoever acknowledged it. With \
                `If-Match`, the change applies only to that version.",
            params: vec![id_param("alert"), if_match_param()],
            body: Some(AlertUpdate::schema()),
            ok: (200, "The alert.", Some(schema_ref::<Alert>())),
            errors: &[400, 404, 409, 412],
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
    COMMENTS => {
        get comments for AnyUser {
            summary: "List an alert's comments, oldest first",
            description: "Admins and analysts.",
            params: [vec![id_param("alert")], page_params().into()].concat(),
            ok: (200, "A page of comments.", Some(page_of::<Comment>())),
            errors: &[400, 404],
        },
        post comment for Admin {
            summary: "Comment on an alert",
            description: "Admins only. Comments are never edited or deleted; each is a `commented` timeline entry.",
            params: vec![id_param("alert")],
            body: Some(NewComment::schema()),
            ok: (201, "The comment.", Some(schema_ref::<Comment>())),
            errors: &[400, 404],
        },
    },
    HISTORY => {
        get history for AnyUser {
            summary: "An alert's timeline, oldest first",
            description: "Admins and analysts: every thing that happened to the alert, with who did it (a user, an \
                ingest key, or `null` for the system). Append-only, and still readable after the alert's event is \
                deleted.",
            params: [vec![id_param("alert")], page_params().into()].concat(),
            ok: (200, "A page of entries.", Some(page_of::<TimelineEntry>())),
            errors: &[400, 404],
        },
    },
}

#[cfg(feature = "openapi")]
fn ordering_param() -> tm_shared::utoipa::openapi::path::Parameter {
    tm_shared::openapi::enum_param(
        "ordering",
        AlertOrder::NAMES,
        "`-created_at` (the default): newest first. `updated_at`: oldest change first.",
    )
}

/// The routes as the function serves them, with the shared fallback and log.
pub fn router(state: AppState) -> Router {
    finish_router(routes(), state)
}

/// The list's filters, resolved for the store: `assignee=me` is the
/// caller, and usernames are ids (an unknown one is a 400).
async fn filter(
    state: &AppState,
    params: &QueryParams,
    user: &AuthUser,
    errors: &mut FieldErrors,
) -> Result<AlertFilter, ApiError> {
    let mut filter = AlertFilter::from_query(params, errors);
    if let Some(assignees) = &mut filter.assignee {
        triage::resolve_assignees(&state.db, assignees, user.id, errors).await?;
    }
    Ok(filter)
}

async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    url: RequestUrl,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::new();
    let order = AlertOrder::from_query(url.params(), &mut errors);
    let lister =
        Lister::new(&url, &state.cursor, order.name()).polled(order == AlertOrder::ChangedFirst);
    let filter = filter(&state, url.params(), &user, &mut errors).await?;
    let known: Vec<&str> = AlertFilter::names()
        .into_iter()
        .chain(["ordering"])
        .collect();
    let paging = lister.paging(&known, &mut errors);
    errors.into_result()?;
    let db = &state.db;
    lister
        .respond_counted(
            paging?,
            store::alerts::count(db, &filter, order),
            |limit, offset| store::alerts::list_counted(db, &filter, order, limit, offset),
            |window| store::alerts::list(db, &filter, order, window),
            |a: &Alert| order.position(a),
        )
        .await
}

/// An alert with its version in `ETag`.
fn tagged(status: StatusCode, alert: Alert) -> Response {
    let etag = alert.etag();
    (status, [(ETAG, etag)], Json(alert)).into_response()
}

async fn read(
    State(state): State<AppState>,
    _: AuthUser,
    ResourceId(id): ResourceId,
) -> Result<Response, ApiError> {
    let alert = store::alerts::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(tagged(StatusCode::OK, alert))
}

async fn update(
    State(state): State<AppState>,
    admin: AdminUser,
    ResourceId(id): ResourceId,
    if_match: IfMatch,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let update = AlertUpdate::parse(&body)?;
    let change = triage::change(&state.db, update).await?;
    let audit = admin.0.audit();
    let by = (admin.0.id, &audit);
    let updated = store::triage::update(&state.db, id, &change, by, |version| {
        if_match.allows(version)
    })
    .await?;
    match updated {
        Updated::Done(alert) => {
            store::stats::fold_now_and_then(&state.db).await;
            Ok(tagged(StatusCode::OK, *alert))
        }
        Updated::NotFound => Err(ApiError::NotFound),
        // A conflict with the alert's state, not a bad request.
        Updated::Refused { from, to } => Err(ApiError::Conflict(format!(
            "Cannot move an alert from {from} to {to}; reopen it first."
        ))),
        Updated::KeyTaken { other } => Err(ApiError::Conflict(format!(
            "Alert {other} with the same dedup_key is not Resolved; resolve it before reopening this one."
        ))),
        Updated::Stale => Err(ApiError::PreconditionFailed(
            "The alert has changed since it was read (If-Match does not name its current version); \
             nothing was changed. Read it again and retry."
                .into(),
        )),
    }
}

async fn bulk(
    State(state): State<AppState>,
    admin: AdminUser,
    JsonObject(body): JsonObject,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request = BulkRequest::parse(&body)?;
    let db = &state.db;
    let change = triage::bulk_change(db, &request).await?;
    let audit = admin.0.audit();
    // The audit row records the request as it was asked (the filter as
    // given, not as resolved), less `dry_run`, which a write is not.
    let mut asked = body.clone();
    asked.remove("dry_run");
    let asked = serde_json::Value::Object(asked);
    let by = store::bulk::Author {
        user: admin.0.id,
        audit: &audit,
        request: &asked,
    };
    let answer = match request.target {
        Target::Ids(ids) if request.dry_run => {
            json!({"matched": store::bulk::count_ids(db, &ids).await?})
        }
        Target::Filter(mut filter) => {
            triage::bulk_filter(db, &mut filter, &admin.0).await?;
            if request.dry_run {
                json!({"matched": store::alerts::count(db, &filter, AlertOrder::NewestFirst).await?})
            } else {
                let done =
                    triage::retry_deadlocks(|| store::bulk::by_filter(db, &filter, &change, by))
                        .await?;
                json!(done)
            }
        }
        Target::Ids(ids) => {
            let results =
                triage::retry_deadlocks(|| store::bulk::by_ids(db, &ids, &change, by)).await?;
            json!({"results": results})
        }
    };
    if !request.dry_run {
        store::stats::fold_now_and_then(db).await;
    }
    Ok(Json(answer))
}

async fn stats(
    State(state): State<AppState>,
    _: AuthUser,
    url: RequestUrl,
) -> Result<Json<Stats>, ApiError> {
    let mut errors = FieldErrors::new();
    let window = StatsWindow::from_query(url.params(), &mut errors);
    url.params()
        .refuse_unknown(&StatsWindow::names(), &mut errors);
    errors.into_result()?;
    Ok(Json(store::stats::stats(&state.db, &window).await?))
}

async fn events(
    State(state): State<AppState>,
    _: AuthUser,
    ResourceId(id): ResourceId,
    url: RequestUrl,
) -> Result<Response, ApiError> {
    let lister = Lister::new(&url, &state.cursor, "-timestamp");
    let mut errors = FieldErrors::new();
    let paging = lister.paging(&[], &mut errors);
    errors.into_result()?;
    let db = &state.db;
    let Some(first) = store::alerts::event_of(db, id).await? else {
        return Err(ApiError::NotFound);
    };
    lister
        .respond(
            paging?,
            store::events::count_of_alert(db, id, first),
            |window| store::events::list_of_alert(db, id, first, window),
            |e: &Event| Position::at(e.timestamp, e.id),
        )
        .await
}

async fn comments(
    State(state): State<AppState>,
    _: AuthUser,
    ResourceId(id): ResourceId,
    url: RequestUrl,
) -> Result<Response, ApiError> {
    let lister = Lister::new(&url, &state.cursor, "id");
    let mut errors = FieldErrors::new();
    let paging = lister.paging(&[], &mut errors);
    errors.into_result()?;
    let db = &state.db;
    if !store::timeline::known(db, id).await? {
        return Err(ApiError::NotFound);
    }
    lister
        .respond(
            paging?,
            store::timeline::count_comments(db, id),
            |window| store::timeline::comments(db, id, window),
            |c: &Comment| Position::id(c.id),
        )
        .await
}

async fn comment(
    State(state): State<AppState>,
    admin: AdminUser,
    ResourceId(id): ResourceId,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    let new = NewComment::parse(&body)?;
    let audit = admin.0.audit();
    let comment = store::timeline::comment(&state.db, id, (admin.0.id, &audit), new.body.as_str())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, Json(comment)))
}

async fn history(
    State(state): State<AppState>,
    _: AuthUser,
    ResourceId(id): ResourceId,
    url: RequestUrl,
) -> Result<Response, ApiError> {
    let lister = Lister::new(&url, &state.cursor, "id");
    let mut errors = FieldErrors::new();
    let paging = lister.paging(&[], &mut errors);
    errors.into_result()?;
    let db = &state.db;
    if !store::timeline::known(db, id).await? {
        return Err(ApiError::NotFound);
    }
    lister
        .respond(
            paging?,
            store::timeline::count_entries(db, id),
            |window| store::timeline::entries(db, id, window),
            |t: &TimelineEntry| Position::id(t.id),
        )
        .await
}
