//! Events, and the alert rule that goes with every write to one.
//!
//! Ingest (one event or a batch) is a single statement whose CTEs write the
//! events and their alerts together: atomic without an explicit
//! transaction, one round trip, and a handful of index writes per event
//! whatever the batch size.

use sqlx::{PgExecutor, PgPool};

use super::audit::Entry;
use super::{Order, Sql, Statement, Window};
use crate::models::audit::{Audit, AuditAction, AuditTarget};
use crate::models::event::{Event, EventChanges, EventFilter, Incoming, Ingested};

/// The columns of `Event`, from `events e` and the alert `a` it raised. An
/// event attached to another's alert names it in `alert_id`. A macro so
/// that `concat!` can build static SQL from it.
macro_rules! select_events {
    () => {
        "SELECT e.id, e.source, e.event_type, e.severity, e.description, e.dedup_key, \
         e.timestamp, COALESCE(a.id, e.alert_id) AS alert, \
         (CASE WHEN e.silence_id IS NOT NULL THEN 'suppressed' \
               WHEN a.id IS NOT NULL THEN 'raised' \
               WHEN e.alert_id IS NOT NULL THEN 'deduplicated' \
               ELSE 'none' END)::ingest_outcome AS outcome, \
         e.silence_id AS silence \
         FROM events e LEFT JOIN alerts a ON a.event_id = e.id"
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
pub const NEWEST_FIRST: Order = Order {
    time: Some("e.timestamp"),
    id: "e.id",
    descending: true,
};

fn list_sql(filter: &EventFilter, window: &Window, show: bool) -> Sql {
    let mut sql = Sql::new(select_events!(), show);
    push_filters(&mut sql, filter);
    super::push_window(&mut sql, &NEWEST_FIRST, window);
    sql
}

pub async fn count(db: &PgPool, filter: &EventFilter) -> sqlx::Result<i64> {
    count_sql(filter, false)
        .qb
        .build_query_scalar()
        .fetch_one(db)
        .await
}

pub async fn list(db: &PgPool, filter: &EventFilter, window: Window) -> sqlx::Result<Vec<Event>> {
    list_sql(filter, &window, false)
        .qb
        .build_query_as()
        .fetch_all(db)
        .await
}

/// What a list request runs: its count (for numbered pages), then its page.
pub fn list_statements(filter: &EventFilter, window: Window) -> Vec<Statement> {
    let page = list_sql(filter, &window, true).statement("list");
    match window {
        Window::Page { .. } => vec![count_sql(filter, true).statement("count"), page],
        Window::Keyset(_) => vec![page],
    }
}

/// The events of alert `alert`: `first`, the one that raised it, and those
/// attached to it.
pub async fn count_of_alert(db: &PgPool, alert: i64, first: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM events e WHERE (e.alert_id = $1 OR e.id = $2)")
        .bind(alert)
        .bind(first)
        .fetch_one(db)
        .await
}

/// Newest first, as every event list.
pub async fn list_of_alert(
    db: &PgPool,
    alert: i64,
    first: i64,
    window: Window,
) -> sqlx::Result<Vec<Event>> {
    let mut sql = Sql::new(select_events!(), false);
    sql.push(" WHERE (e.alert_id = ")
        .bind(alert)
        .push(" OR e.id = ")
        .bind(first)
        .push(")");
    super::push_window(&mut sql, &NEWEST_FIRST, &window);
    sql.qb.build_query_as().fetch_all(db).await
}

pub async fn get(db: &PgPool, id: i64) -> sqlx::Result<Option<Event>> {
    sqlx::query_as(GET).bind(id).fetch_optional(db).await
}

/// An event to store, with the silence that matched it, if one did.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub event: Incoming,
    pub silence: Option<i64>,
}

/// Stores events in order, in one statement. Ids are drawn from the
/// events' sequence first, so alerts can name their event in the same
/// statement. Each High or Critical event that no silence matched raises an
/// alert; those with a `dedup_key` are grouped by source and key (a key is
/// its source's: one sensor cannot attach to another's alerts), and each
/// group raises one alert or, when an alert with that source and key is not
/// Resolved, attaches to it (`ON CONFLICT` on the partial unique index, so
/// concurrent writers cannot raise two). The group's first event is the
/// alert's `event`; the others name it in `alert_id`. Groups are written in
/// key order, so two batches attaching to the same alerts lock them in the
/// same order. Events find their alert by two equality joins (a key's
/// group, or their own id), which PostgreSQL can hash, not one join on an
/// `OR`, which it would loop over every pair.
///
/// A single event has its own, simpler statement (`create_sql`): the batch's
/// shape costs a third more in PostgreSQL for one row.
///
/// The same statement writes the timeline: each new alert's `created`
/// entry, then an `occurrence` for each event attached, by `by`.
fn batch_sql(items: &[Prepared], by: &Audit, show: bool) -> Sql {
    let mut columns = Columns::default();
    for Prepared { event, silence } in items {
        columns.source.push(event.source.as_str().to_owned());
        columns.event_type.push(event.event_type);
        columns.severity.push(event.severity);
        columns
            .description
            .push(event.description.as_str().to_owned());
        columns
            .dedup_key
            .push(event.dedup_key.as_ref().map(|k| k.as_str().to_owned()));
        columns.silence.push(*silence);
    }
    let mut sql = Sql::new("WITH poster (created_by, key_id) AS (SELECT ", show);
    push_poster(&mut sql, by);
    sql.push(
        "), input AS ( \
             SELECT nextval('events_id_seq'::regclass) AS id, t.* \
             FROM unnest(",
    );
    sql.bind(columns.source)
        .push("::text[], ")
        .bind(columns.event_type)
        .push("::event_type[], ")
        .bind(columns.severity)
        .push("::severity[], ")
        .bind(columns.description)
        .push("::text[], ")
        .bind(columns.dedup_key)
        .push("::text[], ")
        .bind(columns.silence)
        .push(
            "::bigint[]) WITH ORDINALITY \
                  AS t(source, event_type, severity, description, dedup_key, silence_id, n) \
         ), raising AS ( \
             SELECT * FROM input WHERE severity >= 'High' AND silence_id IS NULL \
         ), alerted AS ( \
             INSERT INTO alerts (event_id, severity, dedup_source, dedup_key, occurrences, \
                                 first_seen, last_seen, version) \
             SELECT *, now(), now(), 1 FROM ( \
                 SELECT id, severity, NULL, NULL, 1::bigint FROM raising WHERE dedup_key IS NULL \
                 UNION ALL \
                 SELECT (array_agg(id ORDER BY n))[1], max(severity), source, dedup_key, count(*) \
                 FROM raising WHERE dedup_key IS NOT NULL GROUP BY source, dedup_key \
             ) AS raised (event_id, severity, dedup_source, dedup_key, occurrences) \
             ORDER BY dedup_source NULLS FIRST, dedup_key \
             ON CONFLICT (dedup_source, dedup_key) WHERE status <> 'Resolved' DO UPDATE SET \
                 occurrences = COALESCE(alerts.occurrences, 1) + EXCLUDED.occurrences, \
                 severity = GREATEST(alerts.severity, EXCLUDED.severity), \
                 last_seen = now(), updated_at = now() \
             RETURNING id, event_id, dedup_source, dedup_key, severity \
         ), matched AS ( \
             SELECT i.*, COALESCE(k.id, u.id) AS alert, \
                    COALESCE(k.event_id, u.event_id) AS alert_event, \
                    COALESCE(k.severity, u.severity) AS alert_severity \
             FROM input i \
             LEFT JOIN alerted k ON i.severity >= 'High' AND i.silence_id IS NULL \
                  AND k.dedup_source = i.source AND k.dedup_key = i.dedup_key \
             LEFT JOIN alerted u ON i.dedup_key IS NULL AND u.event_id = i.id \
         ), stored AS ( \
             INSERT INTO events \
                 (id, source, event_type, severity, description, dedup_key, silence_id, alert_id, \
                  created_by, key_id) \
             OVERRIDING SYSTEM VALUE \
             SELECT id, source, event_type, severity, description, dedup_key, silence_id, \
                    CASE WHEN alert_event <> id THEN alert END, p.created_by, p.key_id \
             FROM matched, poster p ORDER BY n \
             RETURNING id \
         ), entries AS ( \
             INSERT INTO alert_timeline \
                 (alert_id, kind, actor_user, actor_key, event_id, to_status, to_severity) \
             SELECT m.alert, \
                    CASE WHEN m.alert_event = m.id THEN 'created' ELSE 'occurrence' END::timeline_kind, \
                    p.created_by, p.key_id, m.id, \
                    CASE WHEN m.alert_event = m.id THEN 'Open'::alert_status END, \
                    CASE WHEN m.alert_event = m.id THEN m.alert_severity END \
             FROM matched m, poster p WHERE m.alert IS NOT NULL \
             ORDER BY m.alert_event <> m.id, m.n \
         ), audited AS ( \
             INSERT INTO audit_log \
                 (actor_user, actor_key, via, address, action, target_type, target_id, detail) \
             SELECT ",
        );
    super::audit::push_author(&mut sql, by);
    sql.push(BATCH_AUDIT).push(
        "SELECT m.id, m.alert, \
             (CASE WHEN m.silence_id IS NOT NULL THEN 'suppressed' \
                   WHEN m.alert IS NULL THEN 'none' \
                   WHEN m.alert_event = m.id THEN 'raised' \
                   ELSE 'deduplicated' END)::ingest_outcome AS outcome, \
             m.silence_id AS silence \
         FROM matched m ORDER BY m.n",
    );
    sql
}

/// The rest of a batch's audit row, after its author: one row for the
/// batch, with how many events it stored, their ids in order, and what
/// became of them.
const BATCH_AUDIT: &str = ", 'event.batch_created', 'event', NULL, jsonb_build_object( \
         'count', count(*), 'ids', jsonb_agg(m.id ORDER BY m.n), \
         'raised', count(*) FILTER (WHERE m.alert_event = m.id), \
         'deduplicated', count(*) FILTER (WHERE m.alert IS NOT NULL AND m.alert_event <> m.id), \
         'suppressed', count(*) FILTER (WHERE m.silence_id IS NOT NULL)) \
     FROM matched m \
 ) ";

/// A single event's audit row, in its statement: what the event is, by
/// whom (the description is in the event; its changes are audited whole).
fn push_created_audit(sql: &mut Sql, by: &Audit) {
    sql.push(
        ", audited AS ( \
             INSERT INTO audit_log \
                 (actor_user, actor_key, via, address, action, target_type, target_id, detail) \
             SELECT ",
    );
    super::audit::push_author(sql, by);
    sql.push(
        ", 'event.created', 'event', e.id, jsonb_build_object('source', e.source, \
             'event_type', e.event_type, 'severity', e.severity, 'dedup_key', e.dedup_key) FROM e \
         )",
    );
}

/// The columns of `Event` for the one event a statement wrote, `e`.
macro_rules! written_event {
    () => {
        "e.id, e.source, e.event_type, e.severity, e.description, e.dedup_key, e.timestamp"
    };
}

/// One event's statement, in the shape its fate needs: a plain insert when
/// it raises nothing (Low, Medium, silenced); the event and its alert in one
/// statement when it raises one (as before deduplication); and with a dedup
/// key, the batch's upsert for one row (its id drawn first, so the alert can
/// name it).
fn create_sql(item: &Prepared, by: &Audit, show: bool) -> Sql {
    let Prepared { event, silence } = item;
    let Incoming {
        source,
        event_type,
        severity,
        description,
        dedup_key,
    } = event;
    let raises = severity.raises_alert() && silence.is_none();
    let mut sql = match (raises, dedup_key) {
        (false, _) => Sql::new("WITH e AS (INSERT INTO events (", show),
        (true, None) => Sql::new("WITH e AS (INSERT INTO events (", show),
        (true, Some(_)) => Sql::new(
            "WITH i AS (SELECT nextval('events_id_seq'::regclass) AS id), \
             a AS ( \
                 INSERT INTO alerts (event_id, severity, dedup_source, dedup_key, occurrences, \
                                     first_seen, last_seen, version) \
                 SELECT id, ",
            show,
        ),
    };
    if let (true, Some(key)) = (raises, dedup_key) {
        // Cast: in a SELECT list (unlike VALUES) a parameter takes no
        // type from the column it goes to.
        sql.bind(*severity)
            .push("::severity, ")
            .bind(source.as_str().to_owned())
            .push("::text, ")
            .bind(key.as_str().to_owned())
            .push(
                "::text, 1, now(), now(), 1 FROM i \
                 ON CONFLICT (dedup_source, dedup_key) WHERE status <> 'Resolved' DO UPDATE SET \
                     occurrences = COALESCE(alerts.occurrences, 1) + 1, \
                     severity = GREATEST(alerts.severity, EXCLUDED.severity), \
                     last_seen = now(), updated_at = now() \
                 RETURNING id, event_id, severity \
             ), t AS ( \
                 INSERT INTO alert_timeline \
                     (alert_id, kind, actor_user, actor_key, event_id, to_status, to_severity) \
                 SELECT a.id, \
                     CASE WHEN a.event_id = i.id THEN 'created' ELSE 'occurrence' END::timeline_kind, ",
            );
        push_poster(&mut sql, by);
        sql.push(
            ", i.id, CASE WHEN a.event_id = i.id THEN 'Open'::alert_status END, \
                     CASE WHEN a.event_id = i.id THEN a.severity END \
                 FROM a, i \
             ), e AS ( \
                 INSERT INTO events (id, alert_id, ",
        );
    }
    sql.push(
        "source, event_type, severity, description, dedup_key, silence_id, created_by, key_id) ",
    );
    if let (true, Some(_)) = (raises, dedup_key) {
        sql.push(
            "OVERRIDING SYSTEM VALUE SELECT i.id, \
             (SELECT id FROM a WHERE event_id <> i.id), ",
        );
    } else {
        sql.push("VALUES (");
    }
    sql.bind(source.as_str().to_owned())
        .push("::text, ")
        .bind(*event_type)
        .push("::event_type, ")
        .bind(*severity)
        .push("::severity, ")
        .bind(description.as_str().to_owned())
        .push("::text, ");
    // Absent values are written as NULL rather than bound: pgbench, which
    // runs these statements for the benchmark, cannot pass a NULL.
    match dedup_key {
        Some(key) => sql.bind(key.as_str().to_owned()),
        None => sql.push("NULL"),
    };
    sql.push("::text, ");
    match silence {
        Some(id) => sql.bind(*id),
        None => sql.push("NULL"),
    };
    sql.push("::bigint, ");
    push_poster(&mut sql, by);
    match (raises, dedup_key) {
        (false, _) => sql.push(") RETURNING * )"),
        (true, None) => sql.push(
            ") RETURNING * ), a AS ( \
                 INSERT INTO alerts (event_id, severity, occurrences, first_seen, last_seen, version) \
                 SELECT id, severity, 1, now(), now(), 1 FROM e RETURNING id \
             ), t AS ( \
                 INSERT INTO alert_timeline \
                     (alert_id, kind, actor_user, actor_key, event_id, to_status, to_severity) \
                 SELECT a.id, 'created', e.created_by, e.key_id, e.id, 'Open', e.severity FROM e, a \
             )",
        ),
        (true, Some(_)) => sql.push(" FROM i RETURNING * )"),
    };
    push_created_audit(&mut sql, by);
    match (raises, dedup_key) {
        (false, _) => sql.push(format_args!(
            " SELECT {}, NULL::bigint AS alert, \
             (CASE WHEN e.silence_id IS NULL THEN 'none' ELSE 'suppressed' END)::ingest_outcome \
             AS outcome, e.silence_id AS silence FROM e",
            written_event!()
        )),
        (true, None) => sql.push(format_args!(
            " SELECT {}, a.id AS alert, 'raised'::ingest_outcome AS outcome, \
               NULL::bigint AS silence FROM e, a",
            written_event!()
        )),
        (true, Some(_)) => sql.push(format_args!(
            " SELECT {}, a.id AS alert, \
               (CASE WHEN a.event_id = e.id THEN 'raised' ELSE 'deduplicated' END)::ingest_outcome \
               AS outcome, NULL::bigint AS silence FROM e, a",
            written_event!()
        )),
    };
    sql
}

/// The poster as two values, `created_by` and `key_id`: the id bound, the
/// other written as NULL (pgbench, which runs these statements for the
/// benchmark, cannot pass a NULL).
fn push_poster(sql: &mut Sql, by: &Audit) {
    let push = |sql: &mut Sql, id: Option<i64>| {
        match id {
            Some(id) => sql.bind(id),
            None => sql.push("NULL"),
        };
        sql.push("::bigint");
    };
    let (user, key) = by.columns();
    push(sql, user);
    sql.push(", ");
    push(sql, key);
}

/// The batch's fields, a column each, as `unnest` reads them.
#[derive(Default)]
struct Columns {
    source: Vec<String>,
    event_type: Vec<crate::models::EventType>,
    severity: Vec<crate::models::Severity>,
    description: Vec<String>,
    dedup_key: Vec<Option<String>>,
    silence: Vec<Option<i64>>,
}

/// Records one event: what `POST /api/events/` answers.
pub async fn create(db: impl PgExecutor<'_>, item: Prepared, by: &Audit) -> sqlx::Result<Event> {
    create_sql(&item, by, false)
        .qb
        .build_query_as()
        .fetch_one(db)
        .await
}

/// Records a batch, all or nothing: what became of each, in order.
pub async fn create_batch(
    db: impl PgExecutor<'_>,
    items: &[Prepared],
    by: &Audit,
) -> sqlx::Result<Vec<Ingested>> {
    let rows: Vec<(i64, Option<i64>, crate::models::Outcome, Option<i64>)> =
        batch_sql(items, by, false)
            .qb
            .build_query_as()
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, alert, outcome, silence)| Ingested {
            id,
            alert,
            outcome,
            silence,
        })
        .collect())
}

/// What recording one event runs.
pub fn create_statements(item: Prepared, by: &Audit) -> Vec<Statement> {
    vec![create_sql(&item, by, true).statement("create")]
}

/// What recording a batch runs.
pub fn batch_statements(items: &[Prepared], by: &Audit) -> Vec<Statement> {
    vec![batch_sql(items, by, true).statement("batch")]
}

/// Changes the fields given. The alert's copy of the severity follows the
/// event's (unless other events attached to it: it keeps the highest it has
/// seen), and raising the severity to High or Critical raises the event's
/// alert if it has none (the unique index on `alerts.event_id` makes that
/// exactly one; an attached or suppressed event raises none, and an edit
/// never deduplicates). `None` if there is no such event.
///
/// The event row is locked first, in its own statement: the write below then
/// takes its snapshot after any concurrent writer to this event committed,
/// so it sees the alert such a writer raised and keeps its severity in step.
///
/// The change is `by`'s (a user): the actor of the alert's `created` entry,
/// of its `severity_changed` one (through `tm.actor`, which the alerts'
/// update trigger reads), and of the audit row, which holds the event
/// before and after.
pub async fn update(
    db: &PgPool,
    id: i64,
    changes: &EventChanges,
    by: &Audit,
) -> sqlx::Result<Option<Event>> {
    let EventChanges {
        source,
        event_type,
        severity,
        description,
    } = changes;
    let (user, _) = by.columns();
    let mut tx = db.begin().await?;
    let exists: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM events, set_config('tm.actor', $2, true) \
         WHERE id = $1 FOR NO KEY UPDATE OF events",
    )
    .bind(id)
    .bind(user.map(|u| format!("user:{u}")).unwrap_or_default())
    .fetch_optional(&mut *tx)
    .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let before: Event = sqlx::query_as(GET).bind(id).fetch_one(&mut *tx).await?;
    sqlx::query(
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
               AND COALESCE(alerts.occurrences, 1) = 1 \
             RETURNING alerts.id \
         ), raised AS ( \
             INSERT INTO alerts (event_id, severity, version) \
             SELECT id, severity, 1 FROM e \
             WHERE severity >= 'High' AND alert_id IS NULL AND silence_id IS NULL \
             ON CONFLICT (event_id) DO NOTHING \
             RETURNING id, event_id, severity \
         ) \
         INSERT INTO alert_timeline (alert_id, kind, actor_user, event_id, to_status, to_severity) \
         SELECT id, 'created', $6, event_id, 'Open', severity FROM raised",
    )
    .bind(id)
    .bind(source.as_ref().map(|s| s.as_str()))
    .bind(event_type)
    .bind(severity)
    .bind(description.as_ref().map(|d| d.as_str()))
    .bind(user)
    .execute(&mut *tx)
    .await?;
    // A statement of its own: its snapshot sees the alert the one above raised.
    let event: Event = sqlx::query_as(GET).bind(id).fetch_one(&mut *tx).await?;
    let detail = serde_json::json!({"before": before, "after": event});
    let entry = Entry::new(
        AuditAction::EventUpdated,
        AuditTarget::Event,
        Some(id),
        detail,
    );
    super::audit::record(&mut *tx, by, entry).await?;
    tx.commit().await?;
    Ok(Some(event))
}

/// Deletes an event and, by cascade, its alert, recording what the event
/// said. `false` if there was none.
pub async fn delete(db: &PgPool, id: i64, by: &Audit) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let locked: Option<i32> = sqlx::query_scalar("SELECT 1 FROM events WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if locked.is_none() {
        return Ok(false);
    }
    let event: Event = sqlx::query_as(GET).bind(id).fetch_one(&mut *tx).await?;
    sqlx::query("DELETE FROM events WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::new(
        AuditAction::EventDeleted,
        AuditTarget::Event,
        Some(id),
        serde_json::json!({ "event": event }),
    );
    super::audit::record(&mut *tx, by, entry).await?;
    tx.commit().await?;
    Ok(true)
}
