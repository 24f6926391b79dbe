//! Security events: what is stored, what a client may write, how lists filter.

use serde::Serialize;
use time::OffsetDateTime;

use crate::models::fields::TextRule;
use crate::models::query::{Exact, TimeRange};
use crate::models::{EventType, Severity};

pub const SOURCE_MAX_CHARS: usize = 100;
/// Documented in the API reference; the schema enforces it too.
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;

crate::text_field!(
    /// The sensor or system that reported an event: trimmed, 1–100 characters.
    pub Source = TextRule {
        max_chars: SOURCE_MAX_CHARS,
        allow_blank: false,
        trim: true,
    }
);

crate::text_field!(
    /// What was seen. Kept verbatim (no trimming): it is evidence. May be empty.
    pub Description = TextRule {
        max_chars: DESCRIPTION_MAX_CHARS,
        allow_blank: true,
        trim: false,
    }
);

/// An event as the API shows it, with the id of the alert it raised, if any.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: i64,
    pub source: String,
    pub event_type: EventType,
    pub severity: Severity,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: OffsetDateTime,
    /// The alert this event raised, if it is High or Critical.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub alert: Option<i64>,
}

crate::body! {
    full NewEvent: "An event: every writable field. A High or Critical one raises an alert.",
    partial EventChanges: "The fields to change; the alert follows the severity.",
    fields {
        /// The sensor or system that reported it.
        source: Source,
        event_type: EventType,
        severity: Severity,
        /// What was seen; kept verbatim, may be empty.
        description: Description,
    },
    read_only ["id", "timestamp", "alert"],
}

crate::filters! {
    /// `GET /api/events/` filters.
    pub struct EventFilter {
        /// Only these severities.
        severity: Option<Vec<Severity>>,
        /// Only these event types.
        event_type: Option<Vec<EventType>>,
        /// Only this exact source.
        source: Option<Exact<SOURCE_MAX_CHARS>>,
        /// Only events
        timestamp: TimeRange,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::fields::{FieldErrors, REQUIRED};
    use serde_json::{Map, Value, json};

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_complete_body_parses_into_a_new_event() {
        let event = NewEvent::parse(&body(json!({
            "source": " ids-1 ", "event_type": "intrusion", "severity": "High", "description": "port scan"
        })))
        .unwrap();
        assert_eq!(event.source.as_str(), "ids-1");
        assert_eq!(event.severity, Severity::High);
    }

    #[test]
    fn every_missing_field_is_reported_at_once() {
        let Err(errors) = NewEvent::parse(&body(json!({}))) else {
            panic!("expected validation errors");
        };
        let mut expected = FieldErrors::new();
        for field in ["description", "event_type", "severity", "source"] {
            expected.add(field, REQUIRED);
        }
        assert_eq!(errors, expected);
    }

    #[test]
    fn a_partial_body_changes_only_what_it_names() {
        let changes = EventChanges::parse(&body(json!({"severity": "Low", "id": 9}))).unwrap();
        assert_eq!(
            changes,
            EventChanges {
                severity: Some(Severity::Low),
                ..Default::default()
            }
        );
    }

    #[test]
    fn the_description_limit_is_enforced() {
        let long = "x".repeat(DESCRIPTION_MAX_CHARS + 1);
        assert!(EventChanges::parse(&body(json!({"description": long}))).is_err());
        let max = "x".repeat(DESCRIPTION_MAX_CHARS);
        assert!(EventChanges::parse(&body(json!({"description": max}))).is_ok());
    }
}
