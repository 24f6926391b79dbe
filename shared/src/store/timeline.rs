//! An alert's comments and timeline. Both outlive the alert (no foreign
//! keys): deleting an event deletes its alert, and its history stays
//! readable by the alert's id.

use sqlx::PgPool;

use super::{Order, Sql, Window};
use crate::models::audit::Audit;
use crate::models::timeline::{Comment, TimelineEntry};

/// Oldest first: ids are drawn under the alert's row lock, so in the order
/// the entries were made.
pub const OLDEST_FIRST: Order = Order {
    time: None,
    id: "t.id",
    descending: false,
};

pub const COMMENTS_OLDEST_FIRST: Order = Order {
    time: None,
    id: "c.id",
    descending: false,
};

/// Whether alert `id` exists or ever did: every alert's first entry is its
/// `created` one, written by the trigger that sees every insert.
pub async fn known(db: &PgPool, alert: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM alert_timeline WHERE alert_id = $1)")
        .bind(alert)
        .fetch_one(db)
        .await
}

const SELECT_COMMENTS: &str = "SELECT c.id, c.alert_id AS alert, c.author_id, \
     u.username AS author_username, c.body, c.created_at \
     FROM alert_comments c JOIN users u ON u.id = c.author_id";

/// Records a comment by user `author` with its timeline entry and audit
/// row, under the alert's row lock. `None` if there is no such alert.
pub async fn comment(
    db: &PgPool,
    alert: i64,
    (author, audit): (i64, &Audit),
    body: &str,
) -> sqlx::Result<Option<Comment>> {
    sqlx::query_as(
        "WITH a AS (SELECT id FROM alerts WHERE id = $1 FOR UPDATE), \
         c AS ( \
             INSERT INTO alert_comments (alert_id, author_id, body) \
             SELECT id, $2, $3 FROM a RETURNING * \
         ), t AS ( \
             INSERT INTO alert_timeline (alert_id, kind, actor_user, comment_id) \
             SELECT alert_id, 'commented', author_id, id FROM c \
         ), audited AS ( \
             INSERT INTO audit_log (actor_user, via, address, action, target_type, target_id, detail) \
             SELECT author_id, $4, $5::inet, 'alert.commented', 'alert', alert_id, \
                    jsonb_build_object('comment', id) \
             FROM c \
         ) \
         SELECT c.id, c.alert_id AS alert, c.author_id, u.username AS author_username, c.body, \
                c.created_at \
         FROM c JOIN users u ON u.id = c.author_id",
    )
    .bind(alert)
    .bind(author)
    .bind(body)
    .bind(audit.via)
    .bind(super::audit::inet(audit.address))
    .fetch_optional(db)
    .await
}

pub async fn count_comments(db: &PgPool, alert: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM alert_comments WHERE alert_id = $1")
        .bind(alert)
        .fetch_one(db)
        .await
}

pub async fn comments(db: &PgPool, alert: i64, window: Window) -> sqlx::Result<Vec<Comment>> {
    let mut sql = Sql::new(SELECT_COMMENTS, false);
    sql.push(" WHERE c.alert_id = ").bind(alert);
    super::push_window(&mut sql, &COMMENTS_OLDEST_FIRST, &window);
    sql.qb.build_query_as().fetch_all(db).await
}

const SELECT_ENTRIES: &str = "SELECT t.id, t.at, t.kind, t.actor_user, au.username AS actor_username, \
     t.actor_key, k.name AS actor_key_name, t.from_status, t.to_status, \
     t.from_assignee, fa.username AS from_assignee_username, \
     t.to_assignee, ta.username AS to_assignee_username, \
     t.from_severity, t.to_severity, t.comment_id, t.event_id \
     FROM alert_timeline t \
     LEFT JOIN users au ON au.id = t.actor_user \
     LEFT JOIN ingest_keys k ON k.id = t.actor_key \
     LEFT JOIN users fa ON fa.id = t.from_assignee \
     LEFT JOIN users ta ON ta.id = t.to_assignee";

pub async fn count_entries(db: &PgPool, alert: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM alert_timeline WHERE alert_id = $1")
        .bind(alert)
        .fetch_one(db)
        .await
}

pub async fn entries(db: &PgPool, alert: i64, window: Window) -> sqlx::Result<Vec<TimelineEntry>> {
    let mut sql = Sql::new(SELECT_ENTRIES, false);
    sql.push(" WHERE t.alert_id = ").bind(alert);
    super::push_window(&mut sql, &OLDEST_FIRST, &window);
    sql.qb.build_query_as().fetch_all(db).await
}
