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
mod pieces;

use std::collections::BTreeMap;

use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

use crate::models::stats::{AssigneeCount, Durations, OpenByAge, Stats, StatsWindow};
use crate::models::user::UserRef;
use crate::models::{AlertStatus, Severity};
use cover::{cover, open_end};
use histogram::Histogram;
use pieces::{Piece, Pieces};

/// The windows one request covers: the asked-for one, then alerts raised
/// within the last hour, day and week (whose open ones the ages count).
const AGES: [Duration; 3] = [Duration::HOUR, Duration::DAY, Duration::WEEK];

/// Six kinds of rows in one answer, to spend one round trip: `period` and
/// `raw` (a piece's figures per status and severity), `hist` (a period
/// piece's histograms), `bucket` (a raw piece's times per bucket),
/// `assignee` (open alerts per assignee) and `open` (all open alerts).
/// Each piece's rollups are read by an index range of their own (the
/// lateral subqueries; `OFFSET 0` keeps the planner from joining the
/// histograms by a scan of them all).
const STATS: &str = "WITH periods AS ( \
         SELECT * FROM unnest($1::int8[], $2::stats_span[], $3::timestamptz[], $4::timestamptz[], $5::bool[]) \
             AS p(piece, span, since, until, hist) \
     ), raws AS ( \
         SELECT * FROM unnest($6::int8[], $7::timestamptz[], $8::timestamptz[], $9::bool[]) \
             AS r(piece, since, until, hist) \
     ), edge AS MATERIALIZED ( \
         SELECT r.piece, r.hist, a.status, a.severity, \
                a.acknowledged_at - a.created_at AS to_ack, \
                CASE WHEN a.status = 'Resolved' THEN a.resolved_at - a.created_at END AS to_resolve \
         FROM raws r JOIN alerts a ON a.created_at >= r.since AND a.created_at < r.until \
     ) \
     SELECT 'period' AS tag, p.piece, s.status, s.severity, s.n::bigint AS n, s.acked::bigint AS acked, \
            s.ack_us::float8 AS ack_us, s.resolved::bigint AS resolved, \
            s.resolve_us::float8 AS resolve_us, NULL::text AS kind, NULL::int4[] AS counts, \
            NULL::int4 AS bucket, NULL::text AS username \
     FROM periods p CROSS JOIN LATERAL ( \
         SELECT status, severity, sum(n) AS n, sum(acked) AS acked, sum(ack_us) AS ack_us, \
                sum(resolved) AS resolved, sum(resolve_us) AS resolve_us \
         FROM alert_stats \
         WHERE span = p.span AND period >= p.since AND period < p.until \
         GROUP BY status, severity \
     ) s \
     UNION ALL \
     SELECT 'raw', piece, status, severity, count(*), count(to_ack), \
            coalesce(sum(alert_stats_us(to_ack)), 0)::float8, count(to_resolve), \
            coalesce(sum(alert_stats_us(to_resolve)), 0)::float8, NULL, NULL, NULL, NULL \
     FROM edge GROUP BY piece, status, severity \
     UNION ALL \
     SELECT 'hist', p.piece, NULL, NULL, 0, 0, 0, 0, 0, h.kind, h.counts, NULL, NULL \
     FROM periods p CROSS JOIN LATERAL ( \
         SELECT kind, counts FROM alert_stats_hist \
         WHERE span = p.span AND period >= p.since AND period < p.until \
         OFFSET 0 \
     ) h \
     WHERE p.hist \
     UNION ALL \
     SELECT 'bucket', e.piece, NULL, NULL, count(*), 0, 0, 0, 0, t.kind, NULL, \
            alert_stats_bucket(t.took), NULL \
     FROM edge e CROSS JOIN LATERAL (VALUES ('acknowledge', e.to_ack), ('resolve', e.to_resolve)) \
         t(kind, took) \
     WHERE e.hist AND t.took IS NOT NULL \
     GROUP BY e.piece, t.kind, alert_stats_bucket(t.took) \
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
    /// The piece's index; the user's id for `assignee`.
    piece: Option<i64>,
    status: Option<AlertStatus>,
    severity: Option<Severity>,
    n: i64,
    acked: i64,
    ack_us: f64,
    resolved: i64,
    resolve_us: f64,
    kind: Option<String>,
    counts: Option<Vec<i32>>,
    bucket: Option<i32>,
    username: Option<String>,
}

/// The statement's parameters: the pieces, as parallel arrays.
#[derive(Default)]
struct Params {
    piece: Vec<i64>,
    span: Vec<String>,
    since: Vec<OffsetDateTime>,
    until: Vec<OffsetDateTime>,
    hist: Vec<bool>,
    raw_piece: Vec<i64>,
    raw_since: Vec<OffsetDateTime>,
    raw_until: Vec<OffsetDateTime>,
    raw_hist: Vec<bool>,
}

/// The asked-for window (`until` inclusive; times are kept to the
/// microsecond), then those of raised within the last hour, day and week,
/// whenever (a clock ahead counts as new).
fn pieces(since: OffsetDateTime, until: OffsetDateTime, now: OffsetDateTime) -> Pieces {
    // Nothing is raised in the year 9999, which is open_end()'s, and a
    // window reaching into it would overflow the calendar when cut.
    let last = open_end() - Duration::DAY * 2;
    let (since, end) = (
        since.min(last),
        until.saturating_add(Duration::microseconds(1)).min(last),
    );
    let mut covers = vec![cover(since, end, now)];
    covers.extend(AGES.iter().map(|age| cover(now - *age, open_end(), now)));
    Pieces::new(&covers)
}

impl Params {
    fn new(pieces: &Pieces) -> Self {
        let mut params = Self::default();
        for (i, p) in (0..).zip(&pieces.periods) {
            params.piece.push(i);
            params.span.push(p.span.name().to_owned());
            params.since.push(p.start);
            params.until.push(p.end);
            params.hist.push(p.hist);
        }
        for (i, r) in (0..).zip(&pieces.raws) {
            params.raw_piece.push(i);
            params.raw_since.push(r.start);
            params.raw_until.push(r.end);
            params.raw_hist.push(r.hist);
        }
        params
    }
}

/// The stats for alerts raised in the window, and for alerts open now (the
/// instant its `until` defaults to).
pub async fn stats(db: &PgPool, window: &StatsWindow) -> sqlx::Result<Stats> {
    let now = OffsetDateTime::now_utc();
    let (since, until) = window.bounds(now);
    let pieces = pieces(since, until, now);
    let params = Params::new(&pieces);
    let mut tx = db.begin().await?;
    sqlx::query(PLAN).execute(&mut *tx).await?;
    let rows: Vec<Row> = sqlx::query_as(STATS)
        .bind(params.piece)
        .bind(params.span)
        .bind(params.since)
        .bind(params.until)
        .bind(params.hist)
        .bind(params.raw_piece)
        .bind(params.raw_since)
        .bind(params.raw_until)
        .bind(params.raw_hist)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(tally(since, until, &pieces, rows))
}

/// One piece's figures for one status and severity.
#[derive(Default, Clone, Copy)]
struct Figures {
    n: i64,
    acked: i64,
    /// Sums of µs: in floating point, as a bigint could overflow (a million
    /// alerts a year old) and a mean needs no more than a double's digits.
    ack_us: f64,
    resolved: i64,
    resolve_us: f64,
}

impl Figures {
    fn add(&mut self, other: &Self, sign: i64) {
        self.n += sign * other.n;
        self.acked += sign * other.acked;
        self.ack_us += sign as f64 * other.ack_us;
        self.resolved += sign * other.resolved;
        self.resolve_us += sign as f64 * other.resolve_us;
    }
}

/// What the statement said of each piece.
#[derive(Default)]
struct PieceRows {
    figures: Vec<(AlertStatus, Severity, Figures)>,
    to_ack: Histogram,
    to_resolve: Histogram,
}

fn durations(count: i64, sum_us: f64, histogram: &Histogram) -> Durations {
    Durations {
        count,
        mean_seconds: (count > 0).then(|| sum_us / 1e6 / count as f64),
        median_seconds: histogram.median(),
    }
}

fn tally(since: OffsetDateTime, until: OffsetDateTime, pieces: &Pieces, rows: Vec<Row>) -> Stats {
    let mut by_piece: BTreeMap<Piece, PieceRows> = BTreeMap::new();
    let mut open = 0;
    let mut by_assignee = Vec::new();
    for row in rows {
        let index = row
            .piece
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or_default();
        let piece = match row.tag.as_str() {
            "period" | "hist" => Piece::Periods(index),
            "raw" | "bucket" => Piece::Raw(index),
            "assignee" => {
                by_assignee.push(AssigneeCount {
                    assignee: UserRef::from_columns(row.piece, row.username),
                    count: row.n,
                });
                continue;
            }
            _ => {
                open = row.n;
                continue;
            }
        };
        let entry = by_piece.entry(piece).or_default();
        let histogram = match row.kind.as_deref() {
            Some("acknowledge") => &mut entry.to_ack,
            _ => &mut entry.to_resolve,
        };
        match (row.tag.as_str(), row.status, row.severity) {
            ("hist", ..) => histogram.add(row.counts.as_deref().unwrap_or_default(), 1),
            ("bucket", ..) => {
                let bucket = row.bucket.and_then(|b| usize::try_from(b).ok());
                histogram.add_one(bucket.unwrap_or_default(), row.n);
            }
            (_, Some(status), Some(severity)) => {
                let figures = Figures {
                    n: row.n,
                    acked: row.acked,
                    ack_us: row.ack_us,
                    resolved: row.resolved,
                    resolve_us: row.resolve_us,
                };
                entry.figures.push((status, severity, figures));
            }
            _ => {}
        }
    }
    let empty = PieceRows::default();
    let of = |piece: &Piece| by_piece.get(piece).unwrap_or(&empty);

    let mut counts: BTreeMap<String, BTreeMap<String, i64>> = AlertStatus::ALL
        .iter()
        .map(|status| {
            let by_severity = Severity::ALL.iter().map(|s| (s.to_string(), 0)).collect();
            (status.to_string(), by_severity)
        })
        .collect();
    let mut totals = Figures::default();
    let (mut to_ack, mut to_resolve) = (Histogram::default(), Histogram::default());
    for (piece, sign) in &pieces.windows[0] {
        let rows = of(piece);
        for (status, severity, figures) in &rows.figures {
            *counts
                .entry(status.to_string())
                .or_default()
                .entry(severity.to_string())
                .or_default() += sign * figures.n;
            totals.add(figures, *sign);
        }
        to_ack.add_all(&rows.to_ack, *sign);
        to_resolve.add_all(&rows.to_resolve, *sign);
    }
    let raised_open = |win: usize| -> i64 {
        let window = pieces.windows.get(win).map_or(&[][..], Vec::as_slice);
        window
            .iter()
            .flat_map(|(piece, sign)| of(piece).figures.iter().map(move |f| (sign, f)))
            .filter(|(_, (status, ..))| *status != AlertStatus::Resolved)
            .map(|(sign, (.., figures))| sign * figures.n)
            .sum()
    };
    let (hour, day, week) = (raised_open(1), raised_open(2), raised_open(3));
    by_assignee.sort_by_key(|a| {
        (
            std::cmp::Reverse(a.count),
            a.assignee.as_ref().map(|u| u.id),
        )
    });
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
pub fn statements(window: &StatsWindow) -> Vec<super::Statement> {
    use super::Param;
    let now = OffsetDateTime::now_utc();
    let (since, until) = window.bounds(now);
    let p = Params::new(&pieces(since, until, now));
    let bare = |name, sql: &str| super::Statement {
        name,
        sql: sql.to_owned(),
        params: Vec::new(),
    };
    let bools = |v: &[bool]| {
        let items: Vec<&str> = v.iter().map(|b| if *b { "t" } else { "f" }).collect();
        format!("{{{}}}", items.join(","))
    };
    vec![
        bare("begin", "BEGIN"),
        bare("plan", PLAN),
        super::Statement {
            name: "stats",
            sql: STATS.to_owned(),
            params: vec![
                p.piece.text(),
                p.span.text(),
                p.since.text(),
                p.until.text(),
                bools(&p.hist),
                p.raw_piece.text(),
                p.raw_since.text(),
                p.raw_until.text(),
                bools(&p.raw_hist),
            ],
        },
        bare("commit", "COMMIT"),
    ]
}
