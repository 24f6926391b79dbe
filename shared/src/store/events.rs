//! Events, and the alert rule that goes with every write to one.
//!
//! Each write is a single statement whose CTEs write the event and its alert
//! together: atomic without an explicit transaction, and one round trip.

use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::models::event::{Event, EventChanges, EventFilter, NewEvent};

/// The columns of `Event`, from `events e` and its alert `a`. A macro so
/// that `concat!` can build static SQL from it.
macro_rules! select_events {
    () => {
        "SELECT e.id, e.source, e.event_type, e.severity, e.description, e.timestamp, \
         a.id AS alert FROM events e LEFT JOIN alerts a ON a.event_id = e.id"
    };
}

fn push_filters(qb: &mut QueryBuilder<Postgres>, filter: &EventFilter) {
    qb.push(" WHERE TRUE");
    if let Some(severities) = &filter.severity {
        super::push_one_of(qb, "e.severity", severities);
    }
    if let Some(types) = &filter.event_type {
        super::push_one_of(qb, "e.event_type", types);
    }
    if let Some(source) = &filter.source {
        qb.push(" AND e.source = ").push_bind(source.clone());
    }
    super::push_time_range(qb, "e.timestamp", &filter.timestamp);
}

pub async fn count(db: &PgPool, filter: &EventFilter) -> sqlx::Result<i64> {
    let mut qb = QueryBuilder::new("SELECT count(*) FROM events e");
    push_filters(&mut qb, filter);
    qb.build_query_scalar().fetch_one(db).await
}

/// Newest first; `id` breaks ties so pages never overlap or skip.
pub async fn list(
    db: &PgPool,
    filter: &EventFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Event>> {
    let mut qb = QueryBuilder::new(select_events!());
    push_filters(&mut qb, filter);
    super::push_page(&mut qb, "e.timestamp DESC, e.id DESC", limit, offset);
    qb.build_query_as().fetch_all(db).await
}

pub async fn get(db: &PgPool, id: i64) -> sqlx::Result<Option<Event>> {
    sqlx::query_as(concat!(select_events!(), " WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Stores an event; a High or Critical one raises its Open alert in the same statement.
pub async fn create(db: &PgPool, event: &NewEvent) -> sqlx::Result<Event> {
    sqlx::query_as(
        "WITH e AS ( \
             INSERT INTO events (source, event_type, severity, description) \
             VALUES ($1, $2, $3, $4) RETURNING * \
         ), a AS ( \
             INSERT INTO alerts (event_id, severity) \
             SELECT id, severity FROM e WHERE severity >= 'High' RETURNING id, event_id \
         ) \
         SELECT e.id, e.source, e.event_type, e.severity, e.description, e.timestamp, \
                a.id AS alert FROM e LEFT JOIN a ON a.event_id = e.id",
    )
    .bind(&event.source)
    .bind(event.event_type)
    .bind(event.severity)
    .bind(&event.description)
    .fetch_one(db)
    .await
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
    .bind(changes.source.as_deref())
    .bind(changes.event_type)
    .bind(changes.severity)
    .bind(changes.description.as_deref())
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
