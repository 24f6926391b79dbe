//! Alerts: raised by the system for High and Critical events, triaged by people.

use serde::Serialize;
use time::OffsetDateTime;

use crate::models::event::SOURCE_MAX_CHARS;
use crate::models::query::{Exact, TimeRange};
use crate::models::{AlertStatus, EventType, Severity};

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
}

crate::body! {
    partial AlertUpdate: "The new status. Open → Acknowledged → Resolved, Open → Resolved, or back to Open; \
        a resolved alert must be reopened before it is acknowledged again.",
    fields {
        status: AlertStatus,
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
        /// Only alerts raised
        created_at: TimeRange,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_status_is_writable() {
        let body = json!({"status": "Acknowledged", "id": 1, "severity": "Low"});
        let update = AlertUpdate::parse(body.as_object().unwrap()).unwrap();
        assert_eq!(update.status, Some(AlertStatus::Acknowledged));
        let body = json!({"status": "Closed"});
        assert!(AlertUpdate::parse(body.as_object().unwrap()).is_err());
        let body = json!({"owner": "me"});
        assert!(AlertUpdate::parse(body.as_object().unwrap()).is_err());
    }
}
