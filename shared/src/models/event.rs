//! Security events: what is stored, what a client may write, how lists filter.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::models::fields::{BodyField, FieldErrors, NOT_NULL, REQUIRED, TextRule};
use crate::models::query::{Exact, TimeRange};
use crate::models::{EventType, Outcome, Severity};

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

pub const DEDUP_KEY_MAX_CHARS: usize = 255;

crate::text_field!(
    /// What makes events the same incident: 1–255 characters, kept verbatim.
    pub DedupKey = TextRule {
        max_chars: DEDUP_KEY_MAX_CHARS,
        allow_blank: false,
        trim: false,
    }
);

/// An event as the API shows it, with the alert it raised or was attached
/// to, and what became of it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: i64,
    pub source: String,
    pub event_type: EventType,
    pub severity: Severity,
    pub description: String,
    /// Events with the same key attach to one alert while it is not Resolved.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub dedup_key: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: OffsetDateTime,
    /// The alert this event raised or was attached to; none for Low and
    /// Medium events and for suppressed ones.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub alert: Option<i64>,
    pub outcome: Outcome,
    /// The silence that suppressed it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub silence: Option<i64>,
}

/// Who posted events: recorded on each, and the actor of the timeline
/// entries they make (an alert raised, an occurrence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poster {
    User(i64),
    Key(i64),
}

impl Poster {
    /// The user's id and the key's id, one of them `None`.
    pub fn columns(self) -> (Option<i64>, Option<i64>) {
        match self {
            Self::User(id) => (Some(id), None),
            Self::Key(id) => (None, Some(id)),
        }
    }
}

/// What became of one event of a batch, in the request's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ingested {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub alert: Option<i64>,
    pub outcome: Outcome,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub silence: Option<i64>,
}

crate::body! {
    full IngestEvent: "An event as a sensor sends it. A High or Critical one raises an alert, \
        or attaches to the open alert with its `dedup_key`, unless a silence matches it.",
    fields {
        /// The sensor or system that reported it. An ingest key's events
        /// are its source's: a key may leave it out, or give that same source.
        source: SenderSource,
        event_type: EventType,
        severity: Severity,
        /// What was seen; kept verbatim, may be empty.
        description: Description,
        /// Events with the same key are one incident: while its alert is
        /// not Resolved, they attach to it instead of raising another.
        dedup_key: Option<DedupKey>,
    },
    read_only ["id", "timestamp", "alert", "outcome", "silence"],
}

/// An ingest body's `source`: required of a user, optional for an ingest
/// key (whose source it is anyway). Documented as required, which is true
/// for users and harmless for keys; `Incoming::parse` settles it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderSource(pub Option<Source>);

impl BodyField for SenderSource {
    const OPTIONAL: bool = true;
    const DOCUMENTED_OPTIONAL: bool = false;

    fn from_json(value: &Value) -> Result<Self, String> {
        Source::from_json(value).map(|s| Self(Some(s)))
    }

    fn from_null() -> Result<Self, String> {
        Ok(Self(None))
    }

    fn absent() -> Option<Self> {
        Some(Self(None))
    }

    #[cfg(feature = "openapi")]
    fn schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        Source::schema(description)
    }
}

/// An event ready to store: its source settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub source: Source,
    pub event_type: EventType,
    pub severity: Severity,
    pub description: Description,
    pub dedup_key: Option<DedupKey>,
}

impl Incoming {
    /// Reads an ingest body. `bound` is the source of the ingest key that
    /// sent it (`None` for a user, who must name the source): a key's event
    /// takes the key's source, and may not name another.
    pub fn parse(body: &Map<String, Value>, bound: Option<&Source>) -> Result<Self, FieldErrors> {
        let parsed = IngestEvent::parse(body);
        let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
        let given = body.get("source");
        let source = match (given, bound) {
            (None, Some(bound)) | (Some(Value::Null), Some(bound)) => Some(bound.clone()),
            (None, None) => {
                errors.add("source", REQUIRED);
                None
            }
            (Some(Value::Null), None) => {
                errors.add("source", NOT_NULL);
                None
            }
            (Some(raw), bound) => match (Source::from_json(raw), bound) {
                (Ok(named), Some(bound)) if named != *bound => {
                    errors.add(
                        "source",
                        format!("This key may only send events from \"{}\".", bound.as_str()),
                    );
                    None
                }
                (Ok(named), _) => Some(named),
                // Already recorded by the parse.
                (Err(_), _) => None,
            },
        };
        match (parsed, source) {
            (Ok(event), Some(source)) if errors.is_empty() => Ok(Self {
                source,
                event_type: event.event_type,
                severity: event.severity,
                description: event.description,
                dedup_key: event.dedup_key,
            }),
            _ => Err(errors),
        }
    }
}

impl Source {
    /// A source already checked elsewhere (an ingest key's, from the database).
    pub fn trusted(source: String) -> Self {
        Self(source)
    }
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
    read_only ["id", "dedup_key", "timestamp", "alert", "outcome", "silence"],
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
