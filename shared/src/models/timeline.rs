//! What happened to an alert: its comments, and its timeline of every
//! change, each with who made it.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};
use time::OffsetDateTime;

use crate::models::alert::CommentBody;
use crate::models::user::UserRef;
use crate::models::{AlertStatus, Severity, TimelineKind};

crate::body! {
    full NewComment: "A comment on an alert.",
    fields {
        /// 1–10,000 characters; surrounding whitespace is trimmed.
        body: CommentBody,
    },
    read_only ["id", "alert", "author", "created_at"],
}

/// A comment as the API shows it. Never edited or deleted through the API.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comment {
    pub id: i64,
    pub alert: i64,
    pub author: UserRef,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

impl<'r> FromRow<'r, PgRow> for Comment {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            alert: row.try_get("alert")?,
            author: UserRef {
                id: row.try_get("author_id")?,
                username: row.try_get("author_username")?,
            },
            body: row.try_get("body")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// Who made a change: a user, an ingest key (by its name), or, as `null`,
/// the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Actor {
    User(UserRef),
    Key { key_id: i64, name: String },
}

/// One timeline entry. `from` and `to` are there for the changes (statuses,
/// assignees as `{"id", "username"}` or `null`, severities); `comment` is the
/// id of the comment made with the change, or of the comment itself;
/// `event` is the event that raised the alert or attached to it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    pub kind: TimelineKind,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub actor: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::any_value))]
    pub from: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::any_value))]
    pub to: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<i64>,
}

fn user(row: &PgRow, id: &str, name: &str) -> sqlx::Result<Option<UserRef>> {
    Ok(UserRef::from_columns(row.try_get(id)?, row.try_get(name)?))
}

impl<'r> FromRow<'r, PgRow> for TimelineEntry {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let kind: TimelineKind = row.try_get("kind")?;
        let actor = match (
            user(row, "actor_user", "actor_username")?,
            row.try_get("actor_key")?,
        ) {
            (Some(user), _) => Some(Actor::User(user)),
            (None, Some(key_id)) => Some(Actor::Key {
                key_id,
                name: row.try_get("actor_key_name")?,
            }),
            (None, None) => None,
        };
        let pair = |from: Value, to: Value| (Some(from), Some(to));
        let (from, to) = match kind {
            TimelineKind::StatusChanged => {
                let from: Option<AlertStatus> = row.try_get("from_status")?;
                let to: Option<AlertStatus> = row.try_get("to_status")?;
                pair(json!(from), json!(to))
            }
            TimelineKind::Assigned => pair(
                json!(user(row, "from_assignee", "from_assignee_username")?),
                json!(user(row, "to_assignee", "to_assignee_username")?),
            ),
            TimelineKind::SeverityChanged => {
                let from: Option<Severity> = row.try_get("from_severity")?;
                let to: Option<Severity> = row.try_get("to_severity")?;
                pair(json!(from), json!(to))
            }
            TimelineKind::Created | TimelineKind::Commented | TimelineKind::Occurrence => {
                (None, None)
            }
        };
        Ok(Self {
            id: row.try_get("id")?,
            at: row.try_get("at")?,
            kind,
            actor,
            from,
            to,
            comment: row.try_get("comment_id")?,
            event: row.try_get("event_id")?,
        })
    }
}
