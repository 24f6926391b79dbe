//! Alerts. They are created only by writes to events (see `store::events`);
//! here they are read and moved through triage.

use sqlx::{FromRow, PgPool, Row};

use super::{Order, Sql, Statement, Window};
use crate::models::UnknownValue;
use crate::models::alert::{Alert, AlertFilter, Assignees};
use crate::models::fields::FieldErrors;
use crate::models::query::{Position, QueryParams};

/// The columns of `Alert`...
macro_rules! alert_columns {
    () => {
        "SELECT a.id, a.event_id AS event, e.source, e.event_type, a.severity, \
         e.description, e.timestamp, a.status, a.assignee_id, u.username AS assignee_username, \
         a.dedup_key, COALESCE(a.occurrences, 1) AS occurrences, \
         COALESCE(a.first_seen, a.created_at) AS first_seen, \
         COALESCE(a.last_seen, a.created_at) AS last_seen, a.created_at, a.updated_at, a.version"
    };
}

/// ...from `alerts a` joined to its event `e` and its assignee `u`.
macro_rules! alert_tables {
    () => {
        " FROM alerts a JOIN events e ON e.id = a.event_id LEFT JOIN users u ON u.id = a.assignee_id"
    };
}

macro_rules! select_alerts {
    () => {
        concat!(alert_columns!(), alert_tables!())
    };
}

pub(super) const GET: &str = concat!(select_alerts!(), " WHERE a.id = $1");

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
        assignee,
        created_at,
        updated_since,
    } = filter;
    let event = event_type.is_some() || source.is_some();
    Needs {
        event,
        scan_to_count: event
            || assignee.is_some()
            || !created_at.is_unbounded()
            || updated_since.is_some(),
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
        assignee,
        created_at,
        updated_since,
    } = filter;
    sql.push(" WHERE TRUE");
    push_triage_filters(sql, filter, "a.");
    if let Some(types) = event_type {
        super::push_one_of(sql, "e.event_type", types);
    }
    if let Some(source) = source {
        sql.push(" AND e.source = ").bind(source.0.clone());
    }
    if let Some(assignees) = assignee {
        push_assignees(sql, assignees);
    }
    super::push_time_range(sql, "a.created_at", created_at);
    if let Some(since) = updated_since {
        sql.push(" AND a.updated_at >= ").bind(since.0);
    }
}

/// The resolved `?assignee=`: its users' ids, and unassigned if `none`.
fn push_assignees(sql: &mut Sql, assignees: &Assignees) {
    let ids = &assignees.ids;
    match (ids.as_slice(), assignees.none) {
        ([], true) => sql.push(" AND a.assignee_id IS NULL"),
        ([], false) => sql.push(" AND FALSE"),
        ([one], false) => sql.push(" AND a.assignee_id = ").bind(*one),
        (_, none) => {
            sql.push(" AND (a.assignee_id = ANY(")
                .bind(ids.clone())
                .push(")");
            if none {
                sql.push(" OR a.assignee_id IS NULL");
            }
            sql.push(")")
        }
    };
}

/// `FROM` the alerts the filter matches (`a`, joined to their event `e`
/// when the filter needs it) and its `WHERE`, for statements that act on
/// them (bulk changes).
pub(super) fn push_matching(sql: &mut Sql, filter: &AlertFilter) {
    if needs(filter).event {
        sql.push(" FROM alerts a JOIN events e ON e.id = a.event_id");
    } else {
        sql.push(" FROM alerts a");
    }
    push_filters(sql, filter);
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
fn count_sql(filter: &AlertFilter, order: AlertOrder, show: bool) -> Sql {
    let mut sql = Sql::new("", show);
    push_count(&mut sql, filter, order);
    sql
}

fn push_count(sql: &mut Sql, filter: &AlertFilter, order: AlertOrder) {
    let needs = needs(filter);
    if !needs.scan_to_count && order == AlertOrder::NewestFirst {
        sql.push("SELECT COALESCE(sum(n), 0)::bigint FROM alert_counts WHERE TRUE");
        push_triage_filters(sql, filter, "");
        return;
    }
    sql.push(if needs.event {
        "SELECT count(*) FROM alerts a JOIN events e ON e.id = a.event_id"
    } else {
        "SELECT count(*) FROM alerts a"
    });
    push_filters(sql, filter);
    order.push_settled(sql);
}

/// Newest first; `id` breaks ties so pages never overlap or skip.
const NEWEST_FIRST: Order = Order {
    time: Some("a.created_at"),
    id: "a.id",
    descending: true,
};

/// The changes feed: oldest change first.
const CHANGED_FIRST: Order = Order {
    time: Some("a.updated_at"),
    id: "a.id",
    descending: false,
};

/// How long a change waits before the feed shows it. A change's
/// `updated_at` is the time of its write (the trigger sets it); it becomes
/// visible at its commit, later. A reader that had already passed that time
/// would skip it, so the feed only reads changes older than every write
/// still uncommitted. No transaction here runs more than three statements
/// after its first alert write (a PATCH reads the alert back, ingest
/// records its idempotency key, a bulk change counts), each cut off at
/// 5 s (`DB_STATEMENT_TIMEOUT_MS`, which config holds at 5 s at most) or
/// less, and the functions' 10 s timeout ends any that is still open, with
/// its connection, rolled back: 15 s covers the slowest with room.
pub const FEED_SETTLE_SECONDS: u32 = 15;

/// The orders `GET /api/alerts/` lists in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertOrder {
    /// `-created_at`, the default.
    NewestFirst,
    /// `updated_at`: the changes feed.
    ChangedFirst,
}

impl AlertOrder {
    pub const NAMES: &[&str] = &["-created_at", "updated_at"];

    pub fn from_query(params: &QueryParams, errors: &mut FieldErrors) -> Self {
        match params.last("ordering") {
            None | Some("-created_at") => Self::NewestFirst,
            Some("updated_at") => Self::ChangedFirst,
            Some(other) => {
                errors.add("ordering", UnknownValue(other.to_owned()).message());
                Self::NewestFirst
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::NewestFirst => Self::NAMES[0],
            Self::ChangedFirst => Self::NAMES[1],
        }
    }

    fn order(self) -> &'static Order {
        match self {
            Self::NewestFirst => &NEWEST_FIRST,
            Self::ChangedFirst => &CHANGED_FIRST,
        }
    }

    /// An alert's place in this order, for a cursor.
    pub fn position(self, alert: &Alert) -> Position {
        match self {
            Self::NewestFirst => Position::at(alert.created_at, alert.id),
            Self::ChangedFirst => Position::at(alert.updated_at, alert.id),
        }
    }

    fn push_settled(self, sql: &mut Sql) {
        if self == Self::ChangedFirst {
            sql.push(format_args!(
                " AND a.updated_at < now() - interval '{FEED_SETTLE_SECONDS} seconds'"
            ));
        }
    }
}

fn list_sql(filter: &AlertFilter, order: AlertOrder, window: &Window, show: bool) -> Sql {
    let mut sql = Sql::new(select_alerts!(), show);
    push_list(&mut sql, filter, order, window);
    sql
}

/// A numbered page and, in each row (`total`), the count of the whole
/// list: one statement and one snapshot for both.
fn counted_sql(
    filter: &AlertFilter,
    order: AlertOrder,
    limit: i64,
    offset: i64,
    show: bool,
) -> Sql {
    let mut sql = Sql::new("WITH total AS (", show);
    push_count(&mut sql, filter, order);
    sql.push(concat!(
        ") ",
        alert_columns!(),
        ", (SELECT * FROM total) AS total",
        alert_tables!()
    ));
    push_list(&mut sql, filter, order, &Window::Page { limit, offset });
    sql
}

/// What follows the columns and tables of a list's statement.
fn push_list(sql: &mut Sql, filter: &AlertFilter, order: AlertOrder, window: &Window) {
    if needs(filter).event {
        push_filters(sql, filter);
        order.push_settled(sql);
        super::push_window(sql, order.order(), window);
    } else {
        // The page's ids first, from the alerts index alone: a deep page
        // then skips index entries, and only the page's rows meet `events`.
        sql.push(" WHERE a.id IN (SELECT a.id FROM alerts a");
        push_filters(sql, filter);
        order.push_settled(sql);
        super::push_window(sql, order.order(), window);
        sql.push(format_args!(
            ") ORDER BY {}",
            window.order_by(order.order())
        ));
    }
}

pub async fn count(db: &PgPool, filter: &AlertFilter, order: AlertOrder) -> sqlx::Result<i64> {
    count_sql(filter, order, false)
        .qb
        .build_query_scalar()
        .fetch_one(db)
        .await
}

pub async fn list(
    db: &PgPool,
    filter: &AlertFilter,
    order: AlertOrder,
    window: Window,
) -> sqlx::Result<Vec<Alert>> {
    list_sql(filter, order, &window, false)
        .qb
        .build_query_as()
        .fetch_all(db)
        .await
}

/// A numbered page with the count of the whole list (`None` when the page
/// is empty, and so holds no count).
pub async fn list_counted(
    db: &PgPool,
    filter: &AlertFilter,
    order: AlertOrder,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Alert>, Option<i64>)> {
    let rows = counted_sql(filter, order, limit, offset, false)
        .qb
        .build()
        .fetch_all(db)
        .await?;
    let total = rows.first().map(|row| row.try_get("total")).transpose()?;
    let alerts = rows
        .iter()
        .map(Alert::from_row)
        .collect::<sqlx::Result<_>>()?;
    Ok((alerts, total))
}

/// What a list request runs: a numbered page counted in its statement, or
/// a cursor page.
pub fn list_statements(filter: &AlertFilter, order: AlertOrder, window: Window) -> Vec<Statement> {
    match window {
        Window::Page { limit, offset } => {
            vec![counted_sql(filter, order, limit, offset, true).statement("list")]
        }
        Window::Keyset(_) => vec![list_sql(filter, order, &window, true).statement("list")],
    }
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

/// The index that keeps one alert not Resolved per source and dedup key.
pub(super) const OPEN_DEDUP_INDEX: &str = "alerts_open_dedup_key";

/// Another alert, not Resolved, with alert `id`'s source and dedup key.
pub(super) async fn open_twin(db: impl sqlx::PgExecutor<'_>, id: i64) -> sqlx::Result<Option<i64>> {
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
