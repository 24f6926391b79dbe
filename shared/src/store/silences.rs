//! Silences: created and ended by admins, read by everyone signed in, and
//! loaded by each instance to match incoming events against.

use serde_json::json;
use sqlx::PgPool;

use super::Sql;
use super::audit::Entry;
use crate::models::audit::{Audit, AuditAction, AuditTarget};
use crate::models::silence::{NewSilence, Silence, SilenceFilter};

/// The columns of `Silence`. `ends_at` is when it stops acting, so an early
/// end counts; a pending silence ended early never starts (its `ends_at` is
/// then its `starts_at`), and any ended one is expired.
macro_rules! select_silences {
    () => {
        "SELECT * FROM (SELECT id, source, event_type, severities AS severity, dedup_key, \
         starts_at, \
         CASE WHEN ended_at IS NULL THEN ends_at \
              ELSE GREATEST(starts_at, LEAST(ends_at, ended_at)) END AS ends_at, \
         ended_at, \
         (CASE WHEN ended_at IS NOT NULL OR ends_at <= now() THEN 'expired' \
               WHEN starts_at > now() THEN 'pending' \
               ELSE 'active' END)::silence_state AS state, \
         comment, created_by, created_at FROM silences) s"
    };
}

/// Stores a silence by user `by`, with its audit row (the silence as
/// stored).
pub async fn create(
    db: &PgPool,
    silence: &NewSilence,
    (by, audit): (i64, &Audit),
) -> sqlx::Result<Silence> {
    let NewSilence {
        matchers,
        starts_at,
        ends_at,
        comment,
    } = silence;
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO silences (source, event_type, severities, dedup_key, starts_at, ends_at, \
         comment, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(matchers.source.as_deref())
    .bind(matchers.event_type)
    .bind(matchers.severity.as_deref())
    .bind(matchers.dedup_key.as_deref())
    .bind(starts_at)
    .bind(ends_at)
    .bind(comment.as_str())
    .bind(by)
    .fetch_one(&mut *tx)
    .await?;
    let stored: Silence = sqlx::query_as(concat!(select_silences!(), " WHERE s.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let entry = Entry::new(
        AuditAction::SilenceCreated,
        AuditTarget::Silence,
        Some(id),
        json!({ "silence": stored }),
    );
    super::audit::record(&mut *tx, audit, entry).await?;
    tx.commit().await?;
    Ok(stored)
}

fn push_filters(sql: &mut Sql, filter: &SilenceFilter) {
    let SilenceFilter { state, source } = filter;
    sql.push(" WHERE TRUE");
    if let Some(states) = state {
        super::push_one_of(sql, "s.state", states);
    }
    if let Some(source) = source {
        sql.push(" AND s.source = ").bind(source.0.clone());
    }
}

pub async fn count(db: &PgPool, filter: &SilenceFilter) -> sqlx::Result<i64> {
    let mut sql = Sql::new(concat!("SELECT count(*) FROM (", select_silences!()), false);
    push_filters(&mut sql, filter);
    sql.push(") c");
    sql.qb.build_query_scalar().fetch_one(db).await
}

/// Newest first.
pub const NEWEST_FIRST: super::Order = super::Order {
    time: None,
    id: "s.id",
    descending: true,
};

pub async fn list(
    db: &PgPool,
    filter: &SilenceFilter,
    window: super::Window,
) -> sqlx::Result<Vec<Silence>> {
    let mut sql = Sql::new(select_silences!(), false);
    push_filters(&mut sql, filter);
    super::push_window(&mut sql, &NEWEST_FIRST, &window);
    sql.qb.build_query_as().fetch_all(db).await
}

pub async fn get(db: &PgPool, id: i64) -> sqlx::Result<Option<Silence>> {
    sqlx::query_as(concat!(select_silences!(), " WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Ends a silence now, with its audit row; one already over keeps its end
/// (and, changing nothing, writes no row). `None` if there is no such
/// silence.
pub async fn end(db: &PgPool, id: i64, audit: &Audit) -> sqlx::Result<Option<Silence>> {
    let mut tx = db.begin().await?;
    let ended = sqlx::query(
        "UPDATE silences SET ended_at = now() WHERE id = $1 \
         AND ended_at IS NULL AND ends_at > now()",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if ended.rows_affected() == 1 {
        let entry = Entry::new(
            AuditAction::SilenceEnded,
            AuditTarget::Silence,
            Some(id),
            json!({}),
        );
        super::audit::record(&mut *tx, audit, entry).await?;
    }
    let silence = sqlx::query_as(concat!(select_silences!(), " WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(silence)
}

/// The silences not over at `now`, active or pending: what an instance
/// matches events against until it reloads.
pub async fn not_over(db: &PgPool) -> sqlx::Result<Vec<Silence>> {
    sqlx::query_as(concat!(
        select_silences!(),
        " WHERE s.state <> 'expired' ORDER BY s.id"
    ))
    .fetch_all(db)
    .await
}
