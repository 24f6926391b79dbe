//! Triage stats in three statements, each bounded by the window or by a
//! trigger-kept table rather than by how many alerts there are:
//!
//! - the window's counts and times: one scan of the alerts raised in it
//!   (the `created_at` index), grouped by status and severity and in total;
//! - open alerts by age: the young buckets from index ranges of the last
//!   seven days, the oldest as what `alert_counts` leaves;
//! - open alerts per assignee: a sum over `alert_assignee_counts`.

use std::collections::BTreeMap;

use sqlx::PgPool;
use time::OffsetDateTime;

use crate::models::stats::{AssigneeCount, Durations, OpenByAge, Stats};
use crate::models::user::UserRef;
use crate::models::{AlertStatus, Severity};

/// The window's rows: per status and severity, and (both `None`) in total.
type WindowRow = (
    Option<AlertStatus>,
    Option<Severity>,
    i64,
    i64,
    Option<f64>,
    Option<f64>,
    i64,
    Option<f64>,
    Option<f64>,
);

const WINDOW: &str = "SELECT status, severity, count(*), \
     count(acknowledged_at), \
     avg(extract(epoch FROM acknowledged_at - created_at))::float8, \
     percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM acknowledged_at - created_at)), \
     count(resolved_at) FILTER (WHERE status = 'Resolved'), \
     avg(extract(epoch FROM resolved_at - created_at)) FILTER (WHERE status = 'Resolved')::float8, \
     percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at)) \
         FILTER (WHERE status = 'Resolved') \
     FROM alerts WHERE created_at >= $1 AND created_at <= $2 \
     GROUP BY GROUPING SETS ((status, severity), ())";

const OPEN_BY_AGE: &str = "SELECT \
     count(*) FILTER (WHERE created_at > now() - interval '1 hour'), \
     count(*) FILTER (WHERE created_at <= now() - interval '1 hour' \
                        AND created_at > now() - interval '1 day'), \
     count(*) FILTER (WHERE created_at <= now() - interval '1 day'), \
     (SELECT COALESCE(sum(n), 0)::bigint FROM alert_counts WHERE status <> 'Resolved') \
     FROM alerts \
     WHERE status IN ('Open', 'Acknowledged') \
       AND severity IN ('Low', 'Medium', 'High', 'Critical') \
       AND created_at > now() - interval '7 days'";

const BY_ASSIGNEE: &str = "SELECT NULLIF(c.assignee_id, 0), u.username, sum(c.n)::bigint \
     FROM alert_assignee_counts c LEFT JOIN users u ON u.id = c.assignee_id \
     WHERE c.status <> 'Resolved' \
     GROUP BY 1, 2 HAVING sum(c.n) <> 0 ORDER BY 3 DESC, 1 NULLS FIRST";

pub async fn stats(
    db: &PgPool,
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> sqlx::Result<Stats> {
    let rows: Vec<WindowRow> = sqlx::query_as(WINDOW)
        .bind(since)
        .bind(until)
        .fetch_all(db)
        .await?;
    let mut counts: BTreeMap<String, BTreeMap<String, i64>> = AlertStatus::ALL
        .iter()
        .map(|status| {
            let by_severity = Severity::ALL.iter().map(|s| (s.to_string(), 0)).collect();
            (status.to_string(), by_severity)
        })
        .collect();
    let none = Durations {
        count: 0,
        mean_seconds: None,
        median_seconds: None,
    };
    let (mut acknowledge, mut resolve) = (none, none);
    for (status, severity, n, acked, ack_mean, ack_median, resolved, res_mean, res_median) in rows {
        match (status, severity) {
            (Some(status), Some(severity)) => {
                counts
                    .entry(status.to_string())
                    .or_default()
                    .insert(severity.to_string(), n);
            }
            _ => {
                acknowledge = Durations {
                    count: acked,
                    mean_seconds: ack_mean,
                    median_seconds: ack_median,
                };
                resolve = Durations {
                    count: resolved,
                    mean_seconds: res_mean,
                    median_seconds: res_median,
                };
            }
        }
    }
    let (hour, day, week, open): (i64, i64, i64, i64) =
        sqlx::query_as(OPEN_BY_AGE).fetch_one(db).await?;
    let by_assignee: Vec<(Option<i64>, Option<String>, i64)> =
        sqlx::query_as(BY_ASSIGNEE).fetch_all(db).await?;
    Ok(Stats {
        since,
        until,
        counts,
        time_to_acknowledge: acknowledge,
        time_to_resolve: resolve,
        open_by_age: OpenByAge {
            under_an_hour: hour,
            under_a_day: day,
            under_a_week: week,
            older: open - hour - day - week,
        },
        open_by_assignee: by_assignee
            .into_iter()
            .map(|(id, username, count)| AssigneeCount {
                assignee: UserRef::from_columns(id, username),
                count,
            })
            .collect(),
    })
}

/// What a stats request runs, for the benchmark.
pub fn statements(since: OffsetDateTime, until: OffsetDateTime) -> Vec<super::Statement> {
    use super::Param;
    vec![
        super::Statement {
            name: "stats_window",
            sql: WINDOW.to_owned(),
            params: vec![since.text(), until.text()],
        },
        super::Statement {
            name: "stats_open_by_age",
            sql: OPEN_BY_AGE.to_owned(),
            params: Vec::new(),
        },
        super::Statement {
            name: "stats_by_assignee",
            sql: BY_ASSIGNEE.to_owned(),
            params: Vec::new(),
        },
    ]
}
