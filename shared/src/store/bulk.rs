//! Bulk triage: one change to many alerts in one transaction. The alerts
//! are locked in one order (by id, or oldest first for a filter),
//! each is judged as a single change would be ([`Plan`]), and the changes,
//! comments and timeline entries are written by one statement whatever
//! their number.

use sqlx::{PgPool, Postgres, Transaction};

use super::Sql;
use super::alerts;
use super::triage::{Change, Plan};
use crate::models::alert::AlertFilter;
use crate::models::audit::Audit;
use crate::models::bulk::{BulkOutcome, FilterResult, IdResult, MAX_PER_CALL};
use crate::models::{AlertStatus, TimelineKind};

/// A bulk transaction's statements may take this long: well inside a
/// Lambda's timeout, and under the changes feed's settling time (see
/// `alerts::FEED_SETTLE_SECONDS`), so the feed skips none of its changes.
const STATEMENT_TIMEOUT: &str = "SET LOCAL statement_timeout = '4s'";

/// Who makes a bulk change: the user, where from, and the request as the
/// audit row records it (its `set`, `comment`, and `ids` or `filter`); the
/// row adds the ids it `updated`.
#[derive(Debug, Clone, Copy)]
pub struct Author<'a> {
    pub user: i64,
    pub audit: &'a Audit,
    pub request: &'a serde_json::Value,
}

/// An alert as locked for a change.
#[derive(Debug, sqlx::FromRow)]
struct Locked {
    id: i64,
    status: AlertStatus,
    assignee_id: Option<i64>,
    dedup_source: Option<String>,
    dedup_key: Option<String>,
}

/// How many of these ids are alerts.
pub async fn count_ids(db: &PgPool, ids: &[i64]) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM alerts WHERE id = ANY($1)")
        .bind(ids)
        .fetch_one(db)
        .await
}

/// Applies `change` to the alerts with these ids, by user `by`.
pub async fn by_ids(
    db: &PgPool,
    ids: &[i64],
    change: &Change,
    by: Author<'_>,
) -> sqlx::Result<Vec<IdResult>> {
    let mut tx = db.begin().await?;
    sqlx::query(STATEMENT_TIMEOUT).execute(&mut *tx).await?;
    let locked: Vec<Locked> = sqlx::query_as(
        "SELECT id, status, assignee_id, dedup_source, dedup_key FROM alerts \
         WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    let outcomes = apply(&mut tx, &locked, change, by).await?;
    tx.commit().await?;
    Ok(ids
        .iter()
        .map(|&id| IdResult {
            id,
            outcome: locked
                .iter()
                .position(|l| l.id == id)
                .map_or(BulkOutcome::NotFound, |at| outcomes[at]),
        })
        .collect())
}

/// The alerts the filter matches that `change` would alter and may: a call
/// changes only these, so repeating it always progresses.
fn push_alterable(sql: &mut Sql, change: &Change) {
    sql.push(" AND NOT (");
    push_refused(sql, change);
    sql.push(") AND (FALSE");
    if let Some(status) = change.status {
        sql.push(" OR a.status <> ").bind(status);
    }
    if let Some(assignee) = change.assignee {
        sql.push(" OR a.assignee_id IS DISTINCT FROM ");
        match assignee {
            Some(id) => sql.bind(id).push("::bigint"),
            None => sql.push("NULL"),
        };
    }
    sql.push(")");
}

/// What the lifecycle refuses: acknowledging a resolved alert, and
/// reopening one while another with its dedup key is open.
fn push_refused(sql: &mut Sql, change: &Change) {
    match change.status {
        Some(AlertStatus::Acknowledged) => sql.push("a.status = 'Resolved'"),
        Some(AlertStatus::Open) => sql.push(
            "a.status = 'Resolved' AND a.dedup_key IS NOT NULL AND EXISTS ( \
                 SELECT 1 FROM alerts o WHERE o.dedup_source = a.dedup_source \
                   AND o.dedup_key = a.dedup_key AND o.status <> 'Resolved')",
        ),
        _ => sql.push("FALSE"),
    };
}

/// Applies `change` to the oldest (at most [`MAX_PER_CALL`]) alerts the
/// filter matches that it would alter, by user `by`; the counts are taken
/// in the same transaction, after the change.
pub async fn by_filter(
    db: &PgPool,
    filter: &AlertFilter,
    change: &Change,
    by: Author<'_>,
) -> sqlx::Result<FilterResult> {
    let mut tx = db.begin().await?;
    sqlx::query(STATEMENT_TIMEOUT).execute(&mut *tx).await?;
    // Oldest first, locked in that order (as every call by filter locks).
    let mut lock = Sql::new(
        "SELECT a.id, a.status, a.assignee_id, a.dedup_source, a.dedup_key",
        false,
    );
    alerts::push_matching(&mut lock, filter);
    push_alterable(&mut lock, change);
    lock.push(format_args!(
        " ORDER BY a.created_at, a.id LIMIT {MAX_PER_CALL} FOR UPDATE OF a"
    ));
    let locked: Vec<Locked> = lock.qb.build_query_as().fetch_all(&mut *tx).await?;
    let outcomes = apply(&mut tx, &locked, change, by).await?;
    let updated: Vec<i64> = locked
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == BulkOutcome::Updated)
        .map(|(l, _)| l.id)
        .collect();
    // Counted after the change, over what the filter matches then, less
    // what this call changed: a change may move its alerts out of the
    // filter (acknowledging `status=Open`) or leave them in it, and neither
    // may count them twice.
    let mut counts = Sql::new("SELECT count(*) FILTER (WHERE TRUE", false);
    push_alterable(&mut counts, change);
    counts.push("), count(*) FILTER (WHERE ");
    push_refused(&mut counts, change);
    counts.push("), count(*)");
    alerts::push_matching(&mut counts, filter);
    let changed = updated.len() as i64;
    counts.push(" AND a.id <> ALL(").bind(updated).push(")");
    let (remaining, conflicts, rest): (i64, i64, i64) =
        counts.qb.build_query_as().fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(FilterResult {
        updated: changed,
        unchanged: rest - remaining - conflicts,
        conflicts,
        remaining,
        truncated: remaining > 0,
    })
}

/// Plans each locked alert, then writes every change, comment and timeline
/// entry in one statement. The outcome of each, in `locked`'s order.
async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    locked: &[Locked],
    change: &Change,
    by: Author<'_>,
) -> sqlx::Result<Vec<BulkOutcome>> {
    let reopening: Vec<i64> = locked
        .iter()
        .filter(|l| l.status == AlertStatus::Resolved && change.status == Some(AlertStatus::Open))
        .filter(|l| l.dedup_key.is_some())
        .map(|l| l.id)
        .collect();
    let twinned: Vec<i64> = if reopening.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar(
            "SELECT a.id FROM alerts a WHERE a.id = ANY($1) AND EXISTS ( \
                 SELECT 1 FROM alerts o WHERE o.dedup_source = a.dedup_source \
                   AND o.dedup_key = a.dedup_key AND o.status <> 'Resolved' AND o.id <> a.id)",
        )
        .bind(&reopening)
        .fetch_all(&mut **tx)
        .await?
    };
    let mut reopened_keys: Vec<(&str, &str)> = Vec::new();
    let mut rows = Rows::default();
    let mut outcomes = Vec::with_capacity(locked.len());
    for alert in locked {
        let Ok(plan) = Plan::new(change, alert.status, alert.assignee_id, by.user) else {
            outcomes.push(BulkOutcome::Conflict);
            continue;
        };
        if reopening.contains(&alert.id) && plan.status.is_some() {
            let key = (
                alert.dedup_source.as_deref().unwrap_or_default(),
                alert.dedup_key.as_deref().unwrap_or_default(),
            );
            // Another alert with its key is open, or this call reopens one.
            if twinned.contains(&alert.id) || reopened_keys.contains(&key) {
                outcomes.push(BulkOutcome::Conflict);
                continue;
            }
            reopened_keys.push(key);
        }
        if !plan.changes_alert() {
            outcomes.push(BulkOutcome::Unchanged);
            continue;
        }
        rows.add(alert.id, &plan, change.comment.is_some());
        outcomes.push(BulkOutcome::Updated);
    }
    if !rows.changed.is_empty() {
        rows.write(tx, change.comment.as_deref(), by).await?;
    }
    Ok(outcomes)
}

/// The write's columns, an array each, as `unnest` reads them.
#[derive(Default)]
struct Rows {
    // The alerts whose status or assignee change (a comment goes to each).
    changed: Vec<i64>,
    status: Vec<Option<AlertStatus>>,
    assign: Vec<bool>,
    assignee: Vec<Option<i64>>,
    // The timeline entries, in order.
    entry_alert: Vec<i64>,
    kind: Vec<TimelineKind>,
    from_status: Vec<Option<AlertStatus>>,
    to_status: Vec<Option<AlertStatus>>,
    from_assignee: Vec<Option<i64>>,
    to_assignee: Vec<Option<i64>>,
    with_comment: Vec<bool>,
}

impl Rows {
    /// A change `plan` makes to alert `id` (one that changes it: a bulk
    /// request always sets a status or an assignee).
    fn add(&mut self, id: i64, plan: &Plan, comment: bool) {
        self.changed.push(id);
        self.status.push(plan.status.map(|(_, to)| to));
        self.assign.push(plan.assignee.is_some());
        self.assignee.push(plan.assignee.and_then(|(_, to)| to));
        let mut comment_left = comment;
        let mut entry = |rows: &mut Self,
                         kind,
                         statuses: Option<(AlertStatus, AlertStatus)>,
                         assignees: Option<(Option<i64>, Option<i64>)>| {
            rows.entry_alert.push(id);
            rows.kind.push(kind);
            let (from, to) = statuses.unzip();
            rows.from_status.push(from);
            rows.to_status.push(to);
            let (from, to) = assignees.unzip();
            rows.from_assignee.push(from.flatten());
            rows.to_assignee.push(to.flatten());
            rows.with_comment.push(std::mem::take(&mut comment_left));
        };
        if let Some(statuses) = plan.status {
            entry(self, TimelineKind::StatusChanged, Some(statuses), None);
        }
        if let Some(assignees) = plan.assignee {
            entry(self, TimelineKind::Assigned, None, Some(assignees));
        }
    }

    async fn write(
        self,
        tx: &mut Transaction<'_, Postgres>,
        comment: Option<&str>,
        by: Author<'_>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "WITH v AS ( \
                 SELECT * FROM unnest($1::bigint[], $2::alert_status[], $3::boolean[], $4::bigint[]) \
                     AS v(id, status, assign, assignee) \
             ), u AS ( \
                 UPDATE alerts a SET status = COALESCE(v.status, a.status), \
                     assignee_id = CASE WHEN v.assign THEN v.assignee ELSE a.assignee_id END, \
                     updated_at = now() \
                 FROM v WHERE a.id = v.id \
                 RETURNING a.id \
             ), c AS ( \
                 INSERT INTO alert_comments (alert_id, author_id, body) \
                 SELECT id, $5, $6 FROM unnest($7::bigint[]) AS t(id) WHERE $6::text IS NOT NULL \
                 ORDER BY id \
                 RETURNING id, alert_id \
             ), t AS ( \
             INSERT INTO alert_timeline \
                 (alert_id, kind, actor_user, from_status, to_status, from_assignee, to_assignee, \
                  comment_id) \
             SELECT e.alert_id, e.kind, $5, e.from_status, e.to_status, e.from_assignee, \
                    e.to_assignee, CASE WHEN e.with_comment THEN c.id END \
             FROM unnest($8::bigint[], $9::timeline_kind[], $10::alert_status[], \
                         $11::alert_status[], $12::bigint[], $13::bigint[], $14::boolean[]) \
                  WITH ORDINALITY AS e(alert_id, kind, from_status, to_status, from_assignee, \
                                       to_assignee, with_comment, n) \
             LEFT JOIN c ON c.alert_id = e.alert_id \
             ORDER BY e.n \
             RETURNING 1 \
             ), audited AS ( \
                 INSERT INTO audit_log \
                     (actor_user, via, address, action, target_type, detail) \
                 VALUES ($5, $15, $16::inet, 'alert.bulk_updated', 'alert', \
                         $17::jsonb || jsonb_build_object('updated', to_jsonb($1::bigint[]))) \
             ) \
             SELECT count(*) FROM t",
        )
        .bind(&self.changed)
        .bind(self.status)
        .bind(self.assign)
        .bind(self.assignee)
        .bind(by.user)
        .bind(comment)
        .bind(&self.changed)
        .bind(self.entry_alert)
        .bind(self.kind)
        .bind(self.from_status)
        .bind(self.to_status)
        .bind(self.from_assignee)
        .bind(self.to_assignee)
        .bind(self.with_comment)
        .bind(by.audit.via)
        .bind(super::audit::inet(by.audit.address))
        .bind(sqlx::types::Json(by.request))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
