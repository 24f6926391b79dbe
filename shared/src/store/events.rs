//! Events, and the alert rule that goes with every write to one.
//!
//! Each write is a single statement whose CTEs write the event and its alert
//! together: atomic without an explicit transaction, and one round trip.

use sqlx::PgPool;

use super::{Sql, Statement};
use crate::models::event::{Event, EventChanges, EventFilter, NewEvent};

/// The columns of `Event`, from `events e` and its alert `a`. A macro so
/// that `concat!` can build static SQL from it.
macro_rules! select_events {
    () => {
        "SELECT e.id, e.source, e.event_type, e.severity, e.description, e.timestamp, \
         a.id AS alert FROM events e LEFT JOIN alerts a ON a.event_id = e.id"
    };
}

const GET: &str = concat!(select_events!(), " WHERE e.id = $1");

fn push_filters(sql: &mut Sql, filter: &EventFilter) {
    let EventFilter {
        severity,
        event_type,
        source,
        timestamp,
    } = filter;
    sql.push(" WHERE TRUE");
    if let Some(severities) = severity {
        super::push_one_of(sql, "e.severity", severities);
    }
    if let Some(types) = event_type {
        super::push_one_of(sql, "e.event_type", types);
    }
    if let Some(source) = source {
        sql.push(" AND e.source = ").bind(source.0.clone());
    }
    super::push_time_range(sql, "e.timestamp", timestamp);
}

fn count_sql(filter: &EventFilter, show: bool) -> Sql {
    let mut sql = Sql::new("SELECT count(*) FROM events e", show);
    push_filters(&mut sql, filter);
    sql
}

/// Newest first; `id` breaks ties so pages never overlap or skip.
fn list_sql(filter: &EventFilter, limit: i64, offset: i64, show: bool) -> Sql {
    let mut sql = Sql::new(select_events!(), show);
    push_filters(&mut sql, filter);
    super::push_page(&mut sql, "e.timestamp DESC, e.id DESC", limit, offset);
    sql
}

pub async fn count(db: &PgPool, filter: &EventFilter) -> sqlx::Result<i64> {
    count_sql(filter, false)
        .qb
        .build_query_scalar()
        .fetch_one(db)
        .await
}

pub async fn list(
    db: &PgPool,
    filter: &EventFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Event>> {
    list_sql(filter, limit, offset, false)
        .qb
        .build_query_as()
        .fetch_all(db)
        .await
}

/// What a list request runs: its count, then its page.
pub fn list_statements(filter: &EventFilter, limit: i64, offset: i64) -> Vec<Statement> {
    vec![
        count_sql(filter, true).statement("count"),
        list_sql(filter, limit, offset, true).statement("list"),
    ]
}

pub async fn get(db: &PgPool, id: i64) -> sqlx::Result<Option<Event>> {
    sqlx::query_as(GET).bind(id).fetch_optional(db).await
}

/// Stores an event; a High or Critical one raises its Open alert in the same statement.
fn create_sql(event: &NewEvent, show: bool) -> Sql {
    let NewEvent {
        source,
        event_type,
        severity,
        description,
    } = event;
    let mut sql = Sql::new(
        "WITH e AS ( \
             INSERT INTO events (source, event_type, severity, description) VALUES (",
        show,
    );
    sql.bind(source.as_str().to_owned())
        .push(", ")
        .bind(*event_type)
        .push(", ")
        .bind(*severity)
        .push(", ")
        .bind(description.as_str().to_owned())
        .push(
            ") RETURNING * \
             ), a AS ( \
                 INSERT INTO alerts (event_id, severity) \
                 SELECT id, severity FROM e WHERE severity >= 'High' RETURNING id, event_id \
             ) \
             SELECT e.id, e.source, e.event_type, e.severity, e.description, e.timestamp, \
                    a.id AS alert FROM e LEFT JOIN a ON a.event_id = e.id",
        );
    sql
}

pub async fn create(db: &PgPool, event: &NewEvent) -> sqlx::Result<Event> {
    create_sql(event, false)
        .qb
        .build_query_as()
        .fetch_one(db)
        .await
}

/// What recording an event runs.
pub fn create_statements(event: &NewEvent) -> Vec<Statement> {
    vec![create_sql(event, true).statement("create")]
}

/// Changes the fields given. The alert's copy of the severity follows the
/// event's, and raising the severity to High or Critical raises the event's
/// alert if it has none (the unique index on `alerts.event_id` makes that
/// exactly one). `None` if there is no such event.
///
/// The event row is locked first, in its own statement: the write below then
/// takes its snapshot after any concurrent writer to this event committed,
/// so it sees the alert such a writer raised and keeps its severity in step.
pub async fn update(db: &PgPool, id: i64, changes: &EventChanges) -> sqlx::Result<Option<Event>> {
    let EventChanges {
        source,
        event_type,
        severity,
        description,
    } = changes;
    let mut tx = db.begin().await?;
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM events WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let event = sqlx::query_as(
        "WITH e AS ( \
             UPDATE events SET \
                 source = COALESCE($2, source), \
                 event_type = COALESCE($3, event_type), \
                 severity = COALESCE($4, severity), \
                 description = COALESCE($5, description) \
             WHERE id = $1 RETURNING * \
         ), synced AS ( \
             UPDATE alerts SET severity = e.severity, updated_at = now() \
             FROM e WHERE alerts.event_id = e.id AND alerts.severity <> e.severity \
             RETURNING alerts.id \
         ), raised AS ( \
             INSERT INTO alerts (event_id, severity) \
             SELECT id, severity FROM e WHERE severity >= 'High' \
             ON CONFLICT (event_id) DO NOTHING RETURNING id \
         ) \
         SELECT e.id, e.source, e.event_type, e.severity, e.description, e.timestamp, \
                COALESCE((SELECT id FROM raised), \
                         (SELECT id FROM alerts WHERE event_id = e.id)) AS alert \
         FROM e",
    )
    .bind(id)
    .bind(source.as_ref().map(|s| s.as_str()))
    .bind(event_type)
    .bind(severity)
    .bind(description.as_ref().map(|d| d.as_str()))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(event))
}

/// Deletes an event and, by cascade, its alert. `false` if there was none.
pub async fn delete(db: &PgPool, id: i64) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM events WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(result.rows_affected() > 0)
}
