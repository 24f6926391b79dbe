//! Triage stats in one statement, bounded by the window's days and hours
//! rather than by how many alerts there are (migration 19's rollups):
//!
//! - the window's counts, times and medians: the rollups of the days and
//!   hours it covers, and the alerts of at most half an hour at each edge
//!   (see [`cover`]);
//! - open alerts by age: the same for the last hour, day and week, the
//!   oldest bucket being what `alert_counts` leaves;
//! - open alerts per assignee: a sum over `alert_assignee_counts`.

mod cover;
mod histogram;

use std::collections::BTreeMap;

use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

use crate::models::stats::{AssigneeCount, Durations, OpenByAge, Stats};
use crate::models::user::UserRef;
use crate::models::{AlertStatus, Severity};
use cover::{Cover, cover, open_end};
use histogram::Histogram;

/// The windows one request covers: the asked-for one, then alerts raised
/// within the last hour, day and week (whose open ones the ages count).
const WINDOW: i64 = 0;
const AGES: [Duration; 3] = [Duration::HOUR, Duration::DAY, Duration::WEEK];

/// Four kinds of rows in one answer, to spend one round trip: `count`
/// (a window's figures per status and severity), `hist` (a rollup's
/// histogram, its sign in `n`), `bucket` (edge alerts per bucket) and
/// `assignee` (open alerts per assignee).
const STATS: &str = "WITH periods AS ( \
         SELECT * FROM unnest($1::int8[], $2::stats_span[], $3::timestamptz[], $4::timestamptz[], $5::int8[]) \
             AS p(win, span, since, until, sign) \
     ), raws AS ( \
         SELECT * FROM unnest($6::int8[], $7::timestamptz[], $8::timestamptz[], $9::int8[]) \
             AS r(win, since, until, sign) \
     ), edge AS MATERIALIZED ( \
         SELECT r.win, r.sign, a.status, a.severity, \
                a.acknowledged_at - a.created_at AS to_ack, \
                CASE WHEN a.status = 'Resolved' THEN a.resolved_at - a.created_at END AS to_resolve \
         FROM raws r JOIN alerts a ON a.created_at >= r.since AND a.created_at < r.until \
     ), figures AS ( \
         SELECT p.win, s.status, s.severity, p.sign * s.n AS n, p.sign * s.acked AS acked, \
                p.sign * s.ack_us AS ack_us, p.sign * s.resolved AS resolved, \
                p.sign * s.resolve_us AS resolve_us \
         FROM periods p CROSS JOIN LATERAL ( \
             SELECT status, severity, sum(n) AS n, sum(acked) AS acked, sum(ack_us) AS ack_us, \
                    sum(resolved) AS resolved, sum(resolve_us) AS resolve_us \
             FROM alert_stats \
             WHERE span = p.span AND period >= p.since AND period < p.until \
             GROUP BY status, severity \
         ) s \
         UNION ALL \
         SELECT win, status, severity, sign, \
                CASE WHEN to_ack IS NOT NULL THEN sign ELSE 0 END, \
                sign * coalesce(alert_stats_us(to_ack), 0), \
                CASE WHEN to_resolve IS NOT NULL THEN sign ELSE 0 END, \
                sign * coalesce(alert_stats_us(to_resolve), 0) \
         FROM edge \
     ) \
     SELECT 'count' AS tag, win, status, severity, sum(n)::bigint AS n, sum(acked)::bigint AS acked, \
            sum(ack_us)::bigint AS ack_us, sum(resolved)::bigint AS resolved, \
            sum(resolve_us)::bigint AS resolve_us, NULL::text AS kind, NULL::int4[] AS counts, \
            NULL::int4 AS bucket, NULL::text AS username \
     FROM figures GROUP BY win, status, severity \
     UNION ALL \
     SELECT 'hist', p.win, NULL, NULL, p.sign, 0, 0, 0, 0, h.kind, h.counts, NULL, NULL \
     FROM periods p JOIN alert_stats_hist h \
       ON h.span = p.span AND h.period >= p.since AND h.period < p.until \
     WHERE p.win = 0 \
     UNION ALL \
     SELECT 'bucket', 0, NULL, NULL, sum(e.sign)::bigint, 0, 0, 0, 0, t.kind, NULL, \
            alert_stats_bucket(t.took), NULL \
     FROM edge e CROSS JOIN LATERAL (VALUES ('acknowledge', e.to_ack), ('resolve', e.to_resolve)) \
         t(kind, took) \
     WHERE e.win = 0 AND t.took IS NOT NULL \
     GROUP BY t.kind, alert_stats_bucket(t.took) \
     UNION ALL \
     SELECT 'assignee', NULLIF(c.assignee_id, 0), NULL, NULL, sum(c.n)::bigint, 0, 0, 0, 0, \
            NULL, NULL, NULL, u.username \
     FROM alert_assignee_counts c LEFT JOIN users u ON u.id = c.assignee_id \
     WHERE c.status <> 'Resolved' \
     GROUP BY c.assignee_id, u.username HAVING sum(c.n) <> 0 \
     UNION ALL \
     SELECT 'open', NULL, NULL, NULL, COALESCE(sum(n), 0)::bigint, 0, 0, 0, 0, NULL, NULL, NULL, NULL \
     FROM alert_counts WHERE status <> 'Resolved'";

/// For [`STATS`] alone, in its transaction. Its parameters are arrays whose
/// lengths PostgreSQL cannot know before it sees them, so left to itself it
/// plans each run afresh (~2 ms, twice the run) rather than reuse a generic
/// plan, which is as good but looks dearer.
const PLAN: &str = "SET LOCAL plan_cache_mode = force_generic_plan";

#[derive(sqlx::FromRow)]
struct Row {
    tag: String,
    win: Option<i64>,
    status: Option<AlertStatus>,
    severity: Option<Severity>,
    n: i64,
    acked: i64,
    ack_us: i64,
    resolved: i64,
    resolve_us: i64,
    kind: Option<String>,
    counts: Option<Vec<i32>>,
    bucket: Option<i32>,
    username: Option<String>,
}

/// The statement's parameters: every window's cover, as parallel arrays.
#[derive(Default)]
struct Params {
    win: Vec<i64>,
    span: Vec<String>,
    since: Vec<OffsetDateTime>,
    until: Vec<OffsetDateTime>,
    sign: Vec<i64>,
    raw_win: Vec<i64>,
    raw_since: Vec<OffsetDateTime>,
    raw_until: Vec<OffsetDateTime>,
    raw_sign: Vec<i64>,
}

impl Params {
    fn new(since: OffsetDateTime, until: OffsetDateTime, now: OffsetDateTime) -> Self {
        let mut params = Self::default();
        // `until` is inclusive; times are kept to the microsecond.
        let end = until.saturating_add(Duration::microseconds(1));
        params.push(WINDOW, cover(since, end, now));
        for (win, age) in (1..).zip(AGES) {
            // Raised after `now - age`, whenever (a clock ahead counts as new).
            let start = now - age + Duration::microseconds(1);
            params.push(win, cover(start, open_end(), now));
        }
        params
    }

    fn push(&mut self, win: i64, cover: Cover) {
        for p in cover.periods {
            self.win.push(win);
            self.span.push(p.span.name().to_owned());
            self.since.push(p.start);
            self.until.push(p.end);
            self.sign.push(p.sign);
        }
        for r in cover.raws {
            self.raw_win.push(win);
            self.raw_since.push(r.start);
            self.raw_until.push(r.end);
            self.raw_sign.push(r.sign);
        }
    }
}

pub async fn stats(
    db: &PgPool,
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> sqlx::Result<Stats> {
    let params = Params::new(since, until, OffsetDateTime::now_utc());
    let mut tx = db.begin().await?;
    sqlx::query(PLAN).execute(&mut *tx).await?;
    let rows: Vec<Row> = sqlx::query_as(STATS)
        .bind(params.win)
        .bind(params.span)
        .bind(params.since)
        .bind(params.until)
        .bind(params.sign)
        .bind(params.raw_win)
        .bind(params.raw_since)
        .bind(params.raw_until)
        .bind(params.raw_sign)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(tally(since, until, rows))
}

/// Sums of one window's figures.
#[derive(Default)]
struct Totals {
    acked: i64,
    ack_us: i64,
    resolved: i64,
    resolve_us: i64,
}

fn durations(count: i64, sum_us: i64, histogram: &Histogram) -> Durations {
    Durations {
        count,
        mean_seconds: (count > 0).then(|| sum_us as f64 / 1e6 / count as f64),
        median_seconds: histogram.median(),
    }
}

fn tally(since: OffsetDateTime, until: OffsetDateTime, rows: Vec<Row>) -> Stats {
    let mut counts: BTreeMap<String, BTreeMap<String, i64>> = AlertStatus::ALL
        .iter()
        .map(|status| {
            let by_severity = Severity::ALL.iter().map(|s| (s.to_string(), 0)).collect();
            (status.to_string(), by_severity)
        })
        .collect();
    let mut totals = Totals::default();
    let (mut to_ack, mut to_resolve) = (Histogram::default(), Histogram::default());
    let mut raised_open = [0_i64; AGES.len()];
    let mut open = 0;
    let mut by_assignee = Vec::new();
    for row in rows {
        let histogram = match row.kind.as_deref() {
            Some("acknowledge") => &mut to_ack,
            _ => &mut to_resolve,
        };
        match (row.tag.as_str(), row.win) {
            ("count", Some(WINDOW)) => {
                if let (Some(status), Some(severity)) = (row.status, row.severity) {
                    *counts
                        .entry(status.to_string())
                        .or_default()
                        .entry(severity.to_string())
                        .or_default() += row.n;
                }
                totals.acked += row.acked;
                totals.ack_us += row.ack_us;
                totals.resolved += row.resolved;
                totals.resolve_us += row.resolve_us;
            }
            ("count", Some(win)) => {
                let age = usize::try_from(win - 1)
                    .ok()
                    .and_then(|i| raised_open.get_mut(i));
                if let Some(age) = age
                    && row.status != Some(AlertStatus::Resolved)
                {
                    *age += row.n;
                }
            }
            ("hist", _) => histogram.add(row.counts.as_deref().unwrap_or_default(), row.n),
            ("bucket", _) => {
                let bucket = row.bucket.and_then(|b| usize::try_from(b).ok());
                histogram.add_one(bucket.unwrap_or_default(), row.n);
            }
            ("assignee", id) => by_assignee.push(AssigneeCount {
                assignee: UserRef::from_columns(id, row.username),
                count: row.n,
            }),
            ("open", _) => open = row.n,
            _ => {}
        }
    }
    by_assignee.sort_by_key(|a| {
        (
            std::cmp::Reverse(a.count),
            a.assignee.as_ref().map(|u| u.id),
        )
    });
    let [hour, day, week] = raised_open;
    Stats {
        since,
        until,
        counts,
        time_to_acknowledge: durations(totals.acked, totals.ack_us, &to_ack),
        time_to_resolve: durations(totals.resolved, totals.resolve_us, &to_resolve),
        open_by_age: OpenByAge {
            under_an_hour: hour,
            under_a_day: day - hour,
            under_a_week: week - day,
            older: open - week,
        },
        open_by_assignee: by_assignee,
    }
}

/// A write folds the rollups' finished periods once in this many
/// (migration 19's `alert_stats_fold`): each fold has only the periods that
/// ended since the last to do, so it stays small, and readers are right
/// whether or not it has run.
const FOLD_ONE_IN: u32 = 64;

/// After a write that may have added shard rows (new alerts, or changes to
/// alerts of the current hour or day). In its own statement after the
/// write's commit, so it holds no lock the write took. A failure is only
/// logged: folding is housekeeping, not the request's work.
pub async fn fold_now_and_then(db: &PgPool) {
    if !crate::random::one_in(FOLD_ONE_IN) {
        return;
    }
    if let Err(e) = sqlx::query("SELECT alert_stats_fold()").execute(db).await {
        tracing::warn!(error = %e, "folding the stats rollups failed");
    }
}

/// What a stats request runs, for the benchmark.
pub fn statements(since: OffsetDateTime, until: OffsetDateTime) -> Vec<super::Statement> {
    use super::Param;
    let p = Params::new(since, until, OffsetDateTime::now_utc());
    let bare = |name, sql: &str| super::Statement {
        name,
        sql: sql.to_owned(),
        params: Vec::new(),
    };
    vec![
        bare("begin", "BEGIN"),
        bare("plan", PLAN),
        super::Statement {
            name: "stats",
            sql: STATS.to_owned(),
            params: vec![
                p.win.text(),
                p.span.text(),
                p.since.text(),
                p.until.text(),
                p.sign.text(),
                p.raw_win.text(),
                p.raw_since.text(),
                p.raw_until.text(),
                p.raw_sign.text(),
            ],
        },
        bare("commit", "COMMIT"),
    ]
}
