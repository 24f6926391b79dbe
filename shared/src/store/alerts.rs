//! Alerts. They are created only by writes to events (see `store::events`);
//! here they are read and moved through triage.

use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::error::ApiError;
use crate::models::AlertStatus;
use crate::models::alert::{Alert, AlertFilter, transition_error};

/// The columns of `Alert`, from `alerts a` joined to its event `e`.
macro_rules! select_alerts {
    () => {
        "SELECT a.id, a.event_id AS event, e.source, e.event_type, a.severity, \
         e.description, e.timestamp, a.status, a.created_at, a.updated_at \
         FROM alerts a JOIN events e ON e.id = a.event_id"
    };
}

/// Severity and status are the alert's own columns, so the triage filter is
/// one index range scan on `alerts`; only event type and source need `e`.
fn push_filters(qb: &mut QueryBuilder<Postgres>, filter: &AlertFilter) {
    qb.push(" WHERE TRUE");
    push_triage_filters(qb, filter, "a.");
    if let Some(types) = &filter.event_type {
        super::push_one_of(qb, "e.event_type", types);
    }
    if let Some(source) = &filter.source {
        qb.push(" AND e.source = ").push_bind(source.clone());
    }
    super::push_time_range(qb, "a.created_at", &filter.created_at);
}

/// The alert's own columns, `status` and `severity`, under `prefix`.
fn push_triage_filters(qb: &mut QueryBuilder<Postgres>, filter: &AlertFilter, prefix: &str) {
    if let Some(statuses) = &filter.status {
        super::push_one_of(qb, &format!("{prefix}status"), statuses);
    }
    if let Some(severities) = &filter.severity {
        super::push_one_of(qb, &format!("{prefix}severity"), severities);
    }
}

/// The number of alerts the filter matches. Filtered on severity and status
/// alone (or not at all), it is the sum of the trigger-kept `alert_counts`:
/// exact, and as cheap at a million alerts as at ten.
pub async fn count(db: &PgPool, filter: &AlertFilter) -> sqlx::Result<i64> {
    if !filter.needs_event() && filter.created_at.is_unbounded() {
        let mut qb =
            QueryBuilder::new("SELECT COALESCE(sum(n), 0)::bigint FROM alert_counts WHERE TRUE");
        push_triage_filters(&mut qb, filter, "");
        return qb.build_query_scalar().fetch_one(db).await;
    }
    let mut qb = QueryBuilder::new(if filter.needs_event() {
        "SELECT count(*) FROM alerts a JOIN events e ON e.id = a.event_id"
    } else {
        "SELECT count(*) FROM alerts a"
    });
    push_filters(&mut qb, filter);
    qb.build_query_scalar().fetch_one(db).await
}

/// Newest first; `id` breaks ties so pages never overlap or skip.
pub async fn list(
    db: &PgPool,
    filter: &AlertFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Alert>> {
    let mut qb = QueryBuilder::new(select_alerts!());
    if filter.needs_event() {
        push_filters(&mut qb, filter);
        push_page(&mut qb, limit, offset);
    } else {
        // The page's ids first, from the alerts index alone: a deep page
        // then skips index entries, and only the page's rows meet `events`.
        qb.push(" WHERE a.id IN (SELECT a.id FROM alerts a");
        push_filters(&mut qb, filter);
        push_page(&mut qb, limit, offset);
        qb.push(") ORDER BY a.created_at DESC, a.id DESC");
    }
    qb.build_query_as().fetch_all(db).await
}

fn push_page(qb: &mut QueryBuilder<Postgres>, limit: i64, offset: i64) {
    super::push_page(qb, "a.created_at DESC, a.id DESC", limit, offset);
}

pub async fn get(db: &PgPool, id: i64) -> sqlx::Result<Option<Alert>> {
    sqlx::query_as(concat!(select_alerts!(), " WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Moves an alert to `next` if the lifecycle allows it from its current
/// status, on behalf of user `by`. The row is locked while deciding, so two
/// concurrent changes are judged one after the other, and each change is
/// recorded in `alert_history`: none is lost unseen.
pub async fn set_status(
    db: &PgPool,
    id: i64,
    next: AlertStatus,
    by: i64,
) -> Result<Option<Alert>, ApiError> {
    let mut tx = db.begin().await?;
    let current: Option<AlertStatus> =
        sqlx::query_scalar("SELECT status FROM alerts WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(current) = current else {
        return Ok(None);
    };
    if !current.can_move_to(next) {
        return Err(transition_error(current, next));
    }
    if current != next {
        sqlx::query(
            "WITH changed AS ( \
                 UPDATE alerts SET status = $2, updated_at = now() WHERE id = $1 \
                 RETURNING id, event_id \
             ) \
             INSERT INTO alert_history (alert_id, event_id, from_status, to_status, changed_by) \
             SELECT id, event_id, $3, $2, $4 FROM changed",
        )
        .bind(id)
        .bind(next)
        .bind(current)
        .bind(by)
        .execute(&mut *tx)
        .await?;
    }
    let alert = sqlx::query_as(concat!(select_alerts!(), " WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(alert)
}
