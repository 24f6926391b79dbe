//! Security events: what is stored, what a client may write, how lists filter.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::{ApiError, FieldErrors};
use crate::http::fields::{Fields, Mode, TextRule};
use crate::http::query::{QueryParams, TimeRange};
use crate::models::{EventType, Severity};

pub const SOURCE_MAX_CHARS: usize = 100;
/// Documented in the README; the schema enforces it too.
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;

const SOURCE: TextRule = TextRule {
    max_chars: SOURCE_MAX_CHARS,
    allow_blank: false,
    trim: true,
};
/// Kept verbatim (no trimming): it is evidence. May be empty.
const DESCRIPTION: TextRule = TextRule {
    max_chars: DESCRIPTION_MAX_CHARS,
    allow_blank: true,
    trim: false,
};

const WRITABLE: &[&str] = &["source", "event_type", "severity", "description"];
/// Accepted and ignored, so a client can send back an event it read.
const READ_ONLY: &[&str] = &["id", "timestamp", "alert"];

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

/// The writable fields of an event; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventChanges {
    pub source: Option<String>,
    pub event_type: Option<EventType>,
    pub severity: Option<Severity>,
    pub description: Option<String>,
}

/// A complete new event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub source: String,
    pub event_type: EventType,
    pub severity: Severity,
    pub description: String,
}

impl EventChanges {
    /// Reads a body: `Mode::Full` for create and PUT, `Mode::Partial` for PATCH.
    pub fn parse(body: &Map<String, Value>, mode: Mode) -> Result<Self, ApiError> {
        let mut fields = Fields::new(body, mode);
        let changes = Self {
            source: fields.text("source", SOURCE),
            event_type: fields.choice("event_type"),
            severity: fields.choice("severity"),
            description: fields.text("description", DESCRIPTION),
        };
        fields.finish(WRITABLE, READ_ONLY)?;
        Ok(changes)
    }
}

impl NewEvent {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let changes = EventChanges::parse(body, Mode::Full)?;
        match changes {
            EventChanges {
                source: Some(source),
                event_type: Some(event_type),
                severity: Some(severity),
                description: Some(description),
            } => Ok(Self {
                source,
                event_type,
                severity,
                description,
            }),
            // Full mode records an error for every absent field.
            _ => Err(ApiError::Internal("full parse left a field unset".into())),
        }
    }
}

/// The request body of a create or PUT (`Mode::Full`), or of a PATCH.
#[cfg(feature = "openapi")]
pub fn body_schema(mode: Mode) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use crate::openapi::{object_body, schema_ref, text};
    let description = match mode {
        Mode::Full => "An event: every writable field. A High or Critical one raises an alert.",
        Mode::Partial => "The fields to change; the alert follows the severity.",
    };
    let writable = vec![
        (
            "source",
            text(SOURCE, "The sensor or system that reported it."),
        ),
        ("event_type", schema_ref::<EventType>()),
        ("severity", schema_ref::<Severity>()),
        (
            "description",
            text(DESCRIPTION, "What was seen; kept verbatim, may be empty."),
        ),
    ];
    debug_assert!(
        writable
            .iter()
            .map(|(name, _)| *name)
            .eq(WRITABLE.iter().copied())
    );
    object_body(description, writable, mode, READ_ONLY)
}

/// `GET /api/events/` filters.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub severity: Option<Vec<Severity>>,
    pub event_type: Option<Vec<EventType>>,
    pub source: Option<String>,
    pub timestamp: TimeRange,
}

impl EventFilter {
    pub fn from_query(params: &QueryParams, errors: &mut FieldErrors) -> Self {
        Self {
            severity: params.choices("severity", errors),
            event_type: params.choices("event_type", errors),
            source: params.text("source", SOURCE_MAX_CHARS, errors),
            timestamp: TimeRange::from_query(params, errors),
        }
    }
}

/// The query parameters `EventFilter::from_query` reads, for the document.
#[cfg(feature = "openapi")]
pub fn filter_params() -> Vec<utoipa::openapi::path::Parameter> {
    use crate::openapi::{choices_param, datetime_param, text_param};
    vec![
        choices_param::<Severity>("severity", "Only these severities."),
        choices_param::<EventType>("event_type", "Only these event types."),
        text_param("source", SOURCE_MAX_CHARS, "Only this exact source."),
        datetime_param("since", "Only events at or after this time."),
        datetime_param("until", "Only events at or before this time."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_complete_body_parses_into_a_new_event() {
        let event = NewEvent::parse(&body(json!({
            "source": " ids-1 ", "event_type": "intrusion", "severity": "High", "description": "port scan"
        })))
        .unwrap();
        assert_eq!(event.source, "ids-1");
        assert_eq!(event.severity, Severity::High);
    }

    #[test]
    fn every_missing_field_is_reported_at_once() {
        let Err(ApiError::Validation(errors)) = NewEvent::parse(&body(json!({}))) else {
            panic!("expected validation errors");
        };
        let mut expected = FieldErrors::new();
        for field in ["description", "event_type", "severity", "source"] {
            expected.add(field, crate::http::fields::REQUIRED);
        }
        assert_eq!(errors, expected);
    }

    #[test]
    fn a_partial_body_changes_only_what_it_names() {
        let changes =
            EventChanges::parse(&body(json!({"severity": "Low", "id": 9})), Mode::Partial).unwrap();
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
        assert!(EventChanges::parse(&body(json!({"description": long})), Mode::Partial).is_err());
        let max = "x".repeat(DESCRIPTION_MAX_CHARS);
        assert!(EventChanges::parse(&body(json!({"description": max})), Mode::Partial).is_ok());
    }
}
