//! Alerts. They are created only by writes to events (see `store::events`);
//! here they are read and moved through triage.

use sqlx::PgPool;

use super::{Sql, Statement};
use crate::models::AlertStatus;
use crate::models::alert::{Alert, AlertFilter, AlertUpdate};

/// The columns of `Alert`, from `alerts a` joined to its event `e`.
macro_rules! select_alerts {
    () => {
        "SELECT a.id, a.event_id AS event, e.source, e.event_type, a.severity, \
         e.description, e.timestamp, a.status, a.dedup_key, \
         COALESCE(a.occurrences, 1) AS occurrences, COALESCE(a.first_seen, a.created_at) AS first_seen, \
         COALESCE(a.last_seen, a.created_at) AS last_seen, a.created_at, a.updated_at \
         FROM alerts a JOIN events e ON e.id = a.event_id"
    };
}

const GET: &str = concat!(select_alerts!(), " WHERE a.id = $1");

/// What a filter needs beyond the alert's own index. Every field of the
/// filter is named here, so a new one does not compile until it says
/// whether the counts table and the index-only page still answer it.
struct Needs {
    /// A column of the event: the page must join before it picks its ids.
    event: bool,
    /// Anything `alert_counts` does not keep (it counts by severity and
    /// status only).
    scan_to_count: bool,
}

fn needs(filter: &AlertFilter) -> Needs {
    let AlertFilter {
        severity: _,
        status: _,
        event_type,
        source,
        created_at,
    } = filter;
    let event = event_type.is_some() || source.is_some();
    Needs {
        event,
        scan_to_count: event || !created_at.is_unbounded(),
    }
}

/// Severity and status are the alert's own columns, so the triage filter is
/// one index range scan on `alerts`; only event type and source need `e`.
/// It destructures the filter as `needs` does, on purpose: each must say
/// what a new filter means for it.
fn push_filters(sql: &mut Sql, filter: &AlertFilter) {
    let AlertFilter {
        severity: _,
        status: _,
        event_type,
        source,
        created_at,
    } = filter;
    sql.push(" WHERE TRUE");
    push_triage_filters(sql, filter, "a.");
    if let Some(types) = event_type {
        super::push_one_of(sql, "e.event_type", types);
    }
    if let Some(source) = source {
        sql.push(" AND e.source = ").bind(source.0.clone());
    }
    super::push_time_range(sql, "a.created_at", created_at);
}

/// The alert's own columns, `status` and `severity`, under `prefix`.
fn push_triage_filters(sql: &mut Sql, filter: &AlertFilter, prefix: &str) {
    if let Some(statuses) = &filter.status {
        super::push_one_of(sql, &format!("{prefix}status"), statuses);
    }
    if let Some(severities) = &filter.severity {
        super::push_one_of(sql, &format!("{prefix}severity"), severities);
    }
}

/// The count of what the filter matches. Filtered on severity and status
/// alone (or not at all), it is the sum of the trigger-kept `alert_counts`:
/// exact, and as cheap at a million alerts as at ten.
fn count_sql(filter: &AlertFilter, show: bool) -> Sql {
    let needs = needs(filter);
    if !needs.scan_to_count {
        let mut sql = Sql::new(
            "SELECT COALESCE(sum(n), 0)::bigint FROM alert_counts WHERE TRUE",
            show,
        );
        push_triage_filters(&mut sql, filter, "");
        return sql;
    }
    let mut sql = Sql::new(
        if needs.event {
            "SELECT count(*) FROM alerts a JOIN events e ON e.id = a.event_id"
        } else {
            "SELECT count(*) FROM alerts a"
        },
        show,
    );
    push_filters(&mut sql, filter);
    sql
}

/// Newest first; `id` breaks ties so pages never overlap or skip.
fn list_sql(filter: &AlertFilter, limit: i64, offset: i64, show: bool) -> Sql {
    let mut sql = Sql::new(select_alerts!(), show);
    if needs(filter).event {
        push_filters(&mut sql, filter);
        push_page(&mut sql, limit, offset);
    } else {
        // The page's ids first, from the alerts index alone: a deep page
        // then skips index entries, and only the page's rows meet `events`.
        sql.push(" WHERE a.id IN (SELECT a.id FROM alerts a");
        push_filters(&mut sql, filter);
        push_page(&mut sql, limit, offset);
        sql.push(") ORDER BY a.created_at DESC, a.id DESC");
    }
    sql
}

fn push_page(sql: &mut Sql, limit: i64, offset: i64) {
    super::push_page(sql, "a.created_at DESC, a.id DESC", limit, offset);
}

pub async fn count(db: &PgPool, filter: &AlertFilter) -> sqlx::Result<i64> {
    count_sql(filter, false)
        .qb
        .build_query_scalar()
        .fetch_one(db)
        .await
}

pub async fn list(
    db: &PgPool,
    filter: &AlertFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Alert>> {
    list_sql(filter, limit, offset, false)
        .qb
        .build_query_as()
        .fetch_all(db)
        .await
}

/// What a list request runs: its count, then its page.
pub fn list_statements(filter: &AlertFilter, limit: i64, offset: i64) -> Vec<Statement> {
    vec![
        count_sql(filter, true).statement("count"),
        list_sql(filter, limit, offset, true).statement("list"),
    ]
}

pub async fn get(db: &PgPool, id: i64) -> sqlx::Result<Option<Alert>> {
    sqlx::query_as(GET).bind(id).fetch_optional(db).await
}

/// What reading one alert runs.
pub fn get_statements(id: i64) -> Vec<Statement> {
    vec![Statement {
        name: "get",
        sql: GET.to_owned(),
        params: vec![id.to_string()],
    }]
}

/// How an update ended.
#[derive(Debug)]
pub enum Updated {
    Done(Alert),
    NotFound,
    /// The lifecycle does not allow `to` from the alert's status `from`;
    /// nothing was written.
    Refused {
        from: AlertStatus,
        to: AlertStatus,
    },
    /// Reopening would make two alerts with one dedup key not Resolved:
    /// `other` is the one that is.
    KeyTaken {
        other: i64,
    },
}

/// The index that keeps one alert not Resolved per source and dedup key.
const OPEN_DEDUP_INDEX: &str = "alerts_open_dedup_key";

/// Another alert, not Resolved, with alert `id`'s source and dedup key.
async fn open_twin(db: impl sqlx::PgExecutor<'_>, id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT o.id FROM alerts a JOIN alerts o \
           ON o.dedup_source = a.dedup_source AND o.dedup_key = a.dedup_key \
         WHERE a.id = $1 AND o.id <> a.id AND o.status <> 'Resolved'",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The id of the event that raised alert `id`; `None` if there is no such alert.
pub async fn event_of(db: &PgPool, id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT event_id FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Applies an update on behalf of user `by`. The row is locked while
/// deciding, so two concurrent changes are judged one after the other, and
/// each status change is recorded in `alert_history`: none is lost unseen.
pub async fn update(db: &PgPool, id: i64, update: &AlertUpdate, by: i64) -> sqlx::Result<Updated> {
    if *update == AlertUpdate::default() {
        // Nothing to change: a plain read, without a lock to wait for.
        return Ok(get(db, id).await?.map_or(Updated::NotFound, Updated::Done));
    }
    let AlertUpdate { status } = *update;
    let mut tx = db.begin().await?;
    let current: Option<AlertStatus> =
        sqlx::query_scalar("SELECT status FROM alerts WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(current) = current else {
        return Ok(Updated::NotFound);
    };
    if let Some(next) = status
        && !current.can_move_to(next)
    {
        return Ok(Updated::Refused {
            from: current,
            to: next,
        });
    }
    let next = status.filter(|next| *next != current);
    if current == AlertStatus::Resolved
        && next.is_some()
        && let Some(other) = open_twin(&mut *tx, id).await?
    {
        return Ok(Updated::KeyTaken { other });
    }
    if next.is_some() {
        let changed = sqlx::query(
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
        .await;
        match changed {
            // An alert with the key was raised since the check above (by a
            // sensor, or another reopening): the unique index refused this.
            Err(sqlx::Error::Database(e)) if e.constraint() == Some(OPEN_DEDUP_INDEX) => {
                drop(tx);
                let other = open_twin(db, id).await?.unwrap_or_default();
                return Ok(Updated::KeyTaken { other });
            }
            changed => {
                changed?;
            }
        }
    }
    let alert = sqlx::query_as(GET).bind(id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(Updated::Done(alert))
}
