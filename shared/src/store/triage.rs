//! Triage: people's changes to alerts. Each change locks its alert, is
//! judged against the alert as it is then, and writes its timeline entry in
//! the same transaction, so no change is lost unseen and a timeline is in
//! the order its changes were made.

use sqlx::{PgPool, Postgres, Transaction};

use super::Sql;
use super::alerts::{self, OPEN_DEDUP_INDEX};
use serde_json::{Value, json};

use crate::models::AlertStatus;
use crate::models::alert::Alert;
use crate::models::audit::{Audit, AuditAction};

/// One alert's change, as the store applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub status: Option<AlertStatus>,
    /// The assignee's user id; `Some(None)` unassigns.
    pub assignee: Option<Option<i64>>,
    pub comment: Option<String>,
}

/// How an update ended.
#[derive(Debug)]
pub enum Updated {
    Done(Box<Alert>),
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
    /// The alert is no longer at a version the request accepts.
    Stale,
}

/// What a change does to one alert as it stands: the new status and
/// assignee if they differ, after the lifecycle's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub status: Option<(AlertStatus, AlertStatus)>,
    pub assignee: Option<(Option<i64>, Option<i64>)>,
}

impl Plan {
    /// `Err((from, to))` when the lifecycle refuses the status. Acknowledging
    /// an unassigned alert assigns it to `by` unless the change names an
    /// assignee; resolving keeps whoever has it.
    pub fn new(
        change: &Change,
        status: AlertStatus,
        assignee: Option<i64>,
        by: i64,
    ) -> Result<Self, (AlertStatus, AlertStatus)> {
        if let Some(next) = change.status
            && !status.can_move_to(next)
        {
            return Err((status, next));
        }
        let next_status = change.status.filter(|next| *next != status);
        let next_assignee = match change.assignee {
            Some(named) => named,
            None if next_status == Some(AlertStatus::Acknowledged) && assignee.is_none() => {
                Some(by)
            }
            None => assignee,
        };
        Ok(Self {
            status: next_status.map(|next| (status, next)),
            assignee: (next_assignee != assignee).then_some((assignee, next_assignee)),
        })
    }

    pub fn changes_alert(&self) -> bool {
        self.status.is_some() || self.assignee.is_some()
    }
}

/// Applies `change` to alert `id` on behalf of user `by`, if the alert is
/// at a version `allows` accepts; `audit` says who and from where for the
/// audit row written with it.
pub async fn update(
    db: &PgPool,
    id: i64,
    change: &Change,
    (by, audit): (i64, &Audit),
    allows: impl Fn(i64) -> bool,
) -> sqlx::Result<Updated> {
    let mut tx = db.begin().await?;
    let current: Option<(AlertStatus, Option<i64>, i64)> =
        sqlx::query_as("SELECT status, assignee_id, version FROM alerts WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((status, assignee, version)) = current else {
        return Ok(Updated::NotFound);
    };
    if !allows(version) {
        return Ok(Updated::Stale);
    }
    let plan = match Plan::new(change, status, assignee, by) {
        Ok(plan) => plan,
        Err((from, to)) => return Ok(Updated::Refused { from, to }),
    };
    if status == AlertStatus::Resolved
        && plan.status.is_some()
        && let Some(other) = alerts::open_twin(&mut *tx, id).await?
    {
        return Ok(Updated::KeyTaken { other });
    }
    if plan.changes_alert() || change.comment.is_some() {
        let written = write_sql(id, &plan, change.comment.as_deref(), (by, audit))
            .qb
            .build()
            .execute(&mut *tx)
            .await;
        match written {
            // An alert with the key was raised since the check above (by a
            // sensor, or another reopening): the unique index refused this.
            Err(sqlx::Error::Database(e)) if e.constraint() == Some(OPEN_DEDUP_INDEX) => {
                drop(tx);
                let other = alerts::open_twin(db, id).await?.unwrap_or_default();
                return Ok(Updated::KeyTaken { other });
            }
            written => {
                written?;
            }
        }
    }
    let alert = read(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Updated::Done(Box::new(alert)))
}

async fn read(tx: &mut Transaction<'_, Postgres>, id: i64) -> sqlx::Result<Alert> {
    sqlx::query_as(alerts::GET)
        .bind(id)
        .fetch_one(&mut **tx)
        .await
}

/// One statement: the comment, the alert's new status and assignee, the
/// timeline entries, the comment going with the first of them (the status
/// change, else the assignment, else a `commented` entry of its own), and
/// the audit row.
fn write_sql(id: i64, plan: &Plan, comment: Option<&str>, (by, audit): (i64, &Audit)) -> Sql {
    let mut sql = Sql::new("WITH ", false);
    if let Some(body) = comment {
        sql.push("c AS (INSERT INTO alert_comments (alert_id, author_id, body) VALUES (")
            .bind(id)
            .push(", ")
            .bind(by)
            .push(", ")
            .bind(body.to_owned())
            .push(") RETURNING id), ");
    }
    if plan.changes_alert() {
        sql.push("u AS (UPDATE alerts SET updated_at = now()");
        if let Some((_, to)) = plan.status {
            sql.push(", status = ").bind(to);
        }
        if let Some((_, to)) = plan.assignee {
            sql.push(", assignee_id = ");
            push_id(&mut sql, to);
        }
        sql.push(" WHERE id = ").bind(id).push(" RETURNING id), ");
    }
    push_audit(&mut sql, id, plan, comment.is_some(), audit);
    sql.push(
        "entries (kind, from_status, to_status, from_assignee, to_assignee, with_comment) AS (",
    );
    let mut first = true;
    let mut entry = |sql: &mut Sql, kind: &str| {
        if !first {
            sql.push(" UNION ALL ");
        }
        sql.push(format_args!("SELECT '{kind}'::timeline_kind, "));
        std::mem::take(&mut first) && comment.is_some()
    };
    if let Some((from, to)) = plan.status {
        let with_comment = entry(&mut sql, "status_changed");
        sql.bind(from)
            .push(", ")
            .bind(to)
            .push(format_args!(", NULL::bigint, NULL::bigint, {with_comment}"));
    }
    if let Some((from, to)) = plan.assignee {
        let with_comment = entry(&mut sql, "assigned");
        sql.push("NULL::alert_status, NULL::alert_status, ");
        push_id(&mut sql, from);
        sql.push("::bigint, ");
        push_id(&mut sql, to);
        sql.push(format_args!("::bigint, {with_comment}"));
    }
    if !plan.changes_alert() {
        entry(&mut sql, "commented");
        sql.push("NULL::alert_status, NULL::alert_status, NULL::bigint, NULL::bigint, TRUE");
    }
    sql.push(
        ") INSERT INTO alert_timeline \
             (alert_id, kind, actor_user, from_status, to_status, from_assignee, to_assignee, \
              comment_id) \
         SELECT ",
    )
    .bind(id)
    .push(", kind, ")
    .bind(by)
    .push(", from_status, to_status, from_assignee, to_assignee, ");
    if comment.is_some() {
        sql.push("CASE WHEN with_comment THEN (SELECT id FROM c) END");
    } else {
        sql.push("NULL");
    }
    sql.push(" FROM entries");
    sql
}

/// The change's audit row, as a CTE: the fields it moved (`from`, `to`)
/// and the comment made with it.
fn push_audit(sql: &mut Sql, id: i64, plan: &Plan, commented: bool, audit: &Audit) {
    let mut detail = serde_json::Map::new();
    if let Some((from, to)) = plan.status {
        detail.insert("status".into(), json!({"from": from, "to": to}));
    }
    if let Some((from, to)) = plan.assignee {
        detail.insert("assignee".into(), json!({"from": from, "to": to}));
    }
    let action = if plan.changes_alert() {
        AuditAction::AlertUpdated
    } else {
        AuditAction::AlertCommented
    };
    sql.push(
        "audited AS (INSERT INTO audit_log \
             (actor_user, actor_key, via, address, action, target_type, target_id, detail) \
         SELECT ",
    );
    super::audit::push_author(sql, audit);
    sql.push(", ")
        .bind(action)
        .push(", 'alert', ")
        .bind(id)
        .push(", ")
        .bind(Value::Object(detail).to_string())
        .push("::jsonb");
    if commented {
        sql.push(" || jsonb_build_object('comment', (SELECT id FROM c))");
    }
    sql.push("), ");
}

fn push_id(sql: &mut Sql, id: Option<i64>) {
    match id {
        Some(id) => sql.bind(id),
        None => sql.push("NULL"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlertStatus::*;

    fn change(status: Option<AlertStatus>, assignee: Option<Option<i64>>) -> Change {
        Change {
            status,
            assignee,
            comment: None,
        }
    }

    #[test]
    fn acknowledging_an_unassigned_alert_claims_it() {
        let plan = Plan::new(&change(Some(Acknowledged), None), Open, None, 7).unwrap();
        assert_eq!(plan.status, Some((Open, Acknowledged)));
        assert_eq!(plan.assignee, Some((None, Some(7))));
    }

    #[test]
    fn a_claim_keeps_an_assignee_and_yields_to_a_named_one() {
        let kept = Plan::new(&change(Some(Acknowledged), None), Open, Some(3), 7).unwrap();
        assert_eq!(kept.assignee, None);
        let named = Plan::new(&change(Some(Acknowledged), Some(None)), Open, None, 7).unwrap();
        assert_eq!(
            named.assignee, None,
            "explicitly unassigned stays unassigned"
        );
        let resolved = Plan::new(&change(Some(Resolved), None), Acknowledged, Some(3), 7).unwrap();
        assert_eq!(resolved.assignee, None, "resolving keeps the assignee");
    }

    #[test]
    fn no_change_is_planned_for_what_is_already_so() {
        let plan = Plan::new(&change(Some(Open), Some(Some(3))), Open, Some(3), 7).unwrap();
        assert!(!plan.changes_alert());
        assert_eq!(
            Plan::new(&change(Some(Acknowledged), None), Resolved, None, 7),
            Err((Resolved, Acknowledged))
        );
    }
}
