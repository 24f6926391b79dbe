//! Alerts: raised by the system for High and Critical events, triaged by people.

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::models::event::SOURCE_MAX_CHARS;
use crate::models::fields::{FieldErrors, TextRule};
use crate::models::query::{Exact, FilterField, QueryParams, Since, TimeRange};
use crate::models::user::{USERNAME_MAX_CHARS, UserRef, Username};
use crate::models::{AlertStatus, EventType, Severity};

/// Documented in the API reference; the table's check is the backstop.
pub const COMMENT_MAX_CHARS: usize = 10_000;

crate::text_field!(
    /// An analyst's note on an alert: 1–10,000 characters, surrounding
    /// whitespace trimmed.
    pub CommentBody = TextRule {
        max_chars: COMMENT_MAX_CHARS,
        allow_blank: false,
        trim: true,
    }
);

/// Whom an alert is assigned to, as the two columns of its `LEFT JOIN
/// users`; shown as `null` or `{"id", "username"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Assignee {
    pub assignee_id: Option<i64>,
    pub assignee_username: Option<String>,
}

impl Assignee {
    pub fn user(&self) -> Option<UserRef> {
        UserRef::from_columns(self.assignee_id, self.assignee_username.clone())
    }
}

impl Serialize for Assignee {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.user().serialize(serializer)
    }
}

/// An alert as the API shows it: `event` is the event's id, as in the original
/// API, and the event's own fields sit beside it so that an analyst, who may
/// not read events, sees what the alert is about.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    pub id: i64,
    pub event: i64,
    pub source: String,
    pub event_type: EventType,
    pub severity: Severity,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: OffsetDateTime,
    pub status: AlertStatus,
    /// Who is on it: set by an admin, or by acknowledging an unassigned alert.
    #[sqlx(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<UserRef>, required = true))]
    pub assignee: Assignee,
    /// The key events from its source attach to this alert by while it is
    /// not Resolved.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub dedup_key: Option<String>,
    /// How many events this alert stands for: 1, and one more for each
    /// event attached to it.
    pub occurrences: i64,
    /// When its first event came in.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub first_seen: OffsetDateTime,
    /// When its latest event came in.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: OffsetDateTime,
    /// Bumped by every change; sent as the `ETag`, not in the body.
    #[serde(skip)]
    pub version: i64,
}

impl Alert {
    /// The strong entity tag of this version.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

crate::body! {
    partial AlertUpdate: "A triage change: any of status, assignee and comment. Acknowledging an unassigned \
        alert assigns it to whoever acknowledged it, unless `assignee` says otherwise.",
    fields {
        /// Open → Acknowledged → Resolved, Open → Resolved, or back to Open; a resolved alert must be
        /// reopened before it is acknowledged again.
        status: AlertStatus,
        /// The username of an active user, or null to unassign.
        assignee: Option<Username>,
        /// Recorded with the change as one timeline entry (or alone, as a comment).
        comment: CommentBody,
    },
    read_only [
        "id",
        "event",
        "source",
        "event_type",
        "severity",
        "description",
        "timestamp",
        "dedup_key",
        "occurrences",
        "first_seen",
        "last_seen",
        "created_at",
        "updated_at",
    ],
}

crate::filters! {
    /// `GET /api/alerts/` filters. `created_at` is what `since`/`until` bound.
    pub struct AlertFilter {
        /// Only these severities.
        severity: Option<Vec<Severity>>,
        /// Only these statuses.
        status: Option<Vec<AlertStatus>>,
        /// Only alerts on events of these types.
        event_type: Option<Vec<EventType>>,
        /// Only alerts on events from this exact source.
        source: Option<Exact<SOURCE_MAX_CHARS>>,
        /// Only alerts assigned to these: `me`, `none` (unassigned) or usernames.
        assignee: Option<Assignees>,
        /// Only alerts raised
        created_at: TimeRange,
        /// Only alerts changed at or after this time (with `ordering=updated_at`, the changes feed).
        updated_since: Option<Since>,
    }
}

/// `?assignee=me,none,alice`. Usernames are resolved to ids before the
/// store sees the filter ([`Assignees::ids`]); an unknown one is a 400.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignees {
    pub me: bool,
    pub none: bool,
    pub usernames: Vec<String>,
    /// The users meant, `me` included, once resolved.
    pub ids: Vec<i64>,
}

impl FilterField for Option<Assignees> {
    fn read(params: &QueryParams, name: &str, errors: &mut FieldErrors) -> Self {
        let mut chosen = Assignees::default();
        let mut any = false;
        let items = params
            .pairs()
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim);
        for item in items {
            any = true;
            match item {
                "me" => chosen.me = true,
                "none" => chosen.none = true,
                "" => errors.add(name, crate::models::fields::BLANK),
                _ if item.chars().count() > USERNAME_MAX_CHARS => errors.add(
                    name,
                    format!("Ensure this value has no more than {USERNAME_MAX_CHARS} characters."),
                ),
                _ if !chosen.usernames.iter().any(|u| u == item) => {
                    chosen.usernames.push(item.to_owned())
                }
                _ => {}
            }
        }
        any.then_some(chosen)
    }

    #[cfg(feature = "openapi")]
    fn params(name: &str, description: &str) -> Vec<utoipa::openapi::path::Parameter> {
        vec![crate::openapi::text_param(name, 2000, description)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_assignee_and_comment_are_writable() {
        let body = json!({"status": "Acknowledged", "id": 1, "severity": "Low"});
        let update = AlertUpdate::parse(body.as_object().unwrap()).unwrap();
        assert_eq!(update.status, Some(AlertStatus::Acknowledged));
        assert_eq!(update.assignee, None, "absent: left as it is");
        let body = json!({"assignee": null, "comment": "  fp  "});
        let update = AlertUpdate::parse(body.as_object().unwrap()).unwrap();
        assert_eq!(update.assignee, Some(None), "null: unassign");
        assert_eq!(update.comment.unwrap().as_str(), "fp");
        for bad in [
            json!({"comment": " "}),
            json!({"assignee": ""}),
            json!({"assignee": 3}),
        ] {
            assert!(
                AlertUpdate::parse(bad.as_object().unwrap()).is_err(),
                "{bad}"
            );
        }
        let body = json!({"status": "Closed"});
        assert!(AlertUpdate::parse(body.as_object().unwrap()).is_err());
        let body = json!({"owner": "me"});
        assert!(AlertUpdate::parse(body.as_object().unwrap()).is_err());
    }

    #[test]
    fn assignee_filters_read_me_none_and_names() {
        let q = QueryParams::parse(Some("assignee=me,alice&assignee=none&assignee=alice")).unwrap();
        let mut errors = FieldErrors::new();
        let chosen = <Option<Assignees>>::read(&q, "assignee", &mut errors).unwrap();
        assert!(errors.is_empty());
        assert!(chosen.me && chosen.none);
        assert_eq!(chosen.usernames, ["alice"]);
        let q = QueryParams::parse(Some("assignee=")).unwrap();
        <Option<Assignees>>::read(&q, "assignee", &mut errors);
        assert!(!errors.is_empty());
    }
}
