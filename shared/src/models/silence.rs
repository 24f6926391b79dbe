//! Silences: windows in which matching events are stored but raise no
//! alert (planned maintenance, a known-noisy detector).

use serde::Serialize;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::models::event::{DedupKey, Incoming, SOURCE_MAX_CHARS, Source};
use crate::models::fields::{BodyField, FieldErrors, Fields, TextRule};
use crate::models::query::Exact;
use crate::models::{EventType, Severity, SilenceState};

/// The longest window a silence may have.
pub const MAX_WINDOW: Duration = Duration::days(90);

crate::text_field!(
    /// Why the silence exists: trimmed, 1–1,000 characters.
    pub Comment = TextRule {
        max_chars: 1000,
        allow_blank: false,
        trim: true,
    }
);

/// What an event must match, every given matcher at once (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Matchers {
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub source: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub event_type: Option<EventType>,
    /// Any of these severities.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub severity: Option<Vec<Severity>>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub dedup_key: Option<String>,
}

impl Matchers {
    pub fn matches(&self, event: &Incoming) -> bool {
        let Self {
            source,
            event_type,
            severity,
            dedup_key,
        } = self;
        source.as_deref().is_none_or(|s| s == event.source.as_str())
            && event_type.is_none_or(|t| t == event.event_type)
            && severity
                .as_ref()
                .is_none_or(|list| list.contains(&event.severity))
            && dedup_key
                .as_deref()
                .is_none_or(|k| event.dedup_key.as_ref().is_some_and(|d| d.as_str() == k))
    }
}

const MATCHER_FIELDS: &[&str] = &["source", "event_type", "severity", "dedup_key"];

/// The `matchers` object: each matcher optional, at least one given.
/// Errors name the matcher inside the message (`severity: ...`), so they fit
/// the flat `{"matchers": ["..."]}` shape.
impl BodyField for Matchers {
    fn from_json(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err("Expected a dictionary of matchers.".to_owned());
        };
        let mut fields = Fields::new(map);
        let source = fields.optional::<Source>("source");
        let event_type = fields.optional::<EventType>("event_type");
        let severity = fields.optional::<Severities>("severity");
        let dedup_key = fields.optional::<DedupKey>("dedup_key");
        let errors = fields.finish(MATCHER_FIELDS, &[]);
        if !errors.is_empty() {
            let messages: Vec<String> = errors
                .as_map()
                .iter()
                .flat_map(|(field, list)| list.iter().map(move |m| format!("{field}: {m}")))
                .collect();
            return Err(messages.join(" "));
        }
        let matchers = Self {
            source: source.map(Source::into_inner),
            event_type,
            severity: severity.map(|s| s.0),
            dedup_key: dedup_key.map(DedupKey::into_inner),
        };
        if matchers == Self::default() {
            return Err("Give at least one matcher.".to_owned());
        }
        Ok(matchers)
    }

    #[cfg(feature = "openapi")]
    fn schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::object_with_one_of_at_least(
            description,
            vec![
                (
                    "source",
                    Source::schema("Only events from this exact source."),
                ),
                ("event_type", EventType::schema("")),
                (
                    "severity",
                    Severities::schema("Only events of these severities."),
                ),
                (
                    "dedup_key",
                    DedupKey::schema("Only events with this exact key."),
                ),
            ],
        )
    }
}

/// A non-empty list of severities, each once.
struct Severities(Vec<Severity>);

impl BodyField for Severities {
    fn from_json(value: &Value) -> Result<Self, String> {
        let Value::Array(items) = value else {
            return Err("Expected a list of severities.".to_owned());
        };
        let mut list = Vec::new();
        for item in items {
            let severity = Severity::from_json(item)?;
            if !list.contains(&severity) {
                list.push(severity);
            }
        }
        if list.is_empty() {
            return Err("This list may not be empty.".to_owned());
        }
        list.sort();
        Ok(Self(list))
    }

    #[cfg(feature = "openapi")]
    fn schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::choice_list::<Severity>(description)
    }
}

/// An RFC 3339 date-time in a body.
impl BodyField for OffsetDateTime {
    fn from_json(value: &Value) -> Result<Self, String> {
        let raw = crate::models::fields::json_str(value)?;
        OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
            "Enter a valid date/time in RFC 3339 format, e.g. 2026-01-31T12:00:00Z.".to_owned()
        })
    }

    #[cfg(feature = "openapi")]
    fn schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::datetime(description)
    }
}

crate::body! {
    full SilenceBody: "A silence: matching events are stored and raise no alert from \
        `starts_at` (now if left out) until `ends_at`, at most 90 days later.",
    fields {
        /// At least one of `source`, `event_type`, `severity` (a list) and
        /// `dedup_key`; an event must match every one given.
        matchers: Matchers,
        /// When it begins to act; now if left out.
        starts_at: Option<OffsetDateTime>,
        /// When it stops acting: after `starts_at` and now, at most 90 days after `starts_at`.
        ends_at: OffsetDateTime,
        /// Why: the change ticket, the noisy detector.
        comment: Comment,
    },
    read_only ["id", "state", "ended_at", "created_at", "created_by"],
}

/// A silence ready to store: its window checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSilence {
    pub matchers: Matchers,
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    pub comment: Comment,
}

impl NewSilence {
    /// Reads a body and checks the window against `now`.
    pub fn parse(body: &Map<String, Value>, now: OffsetDateTime) -> Result<Self, FieldErrors> {
        let body = SilenceBody::parse(body)?;
        // PostgreSQL keeps microseconds: judge the window as it will be stored.
        let micros = |t: OffsetDateTime| {
            t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
                .unwrap_or(t)
        };
        let starts_at = micros(body.starts_at.unwrap_or(now));
        let ends_at = micros(body.ends_at);
        let mut errors = FieldErrors::new();
        if ends_at <= starts_at {
            errors.add("ends_at", "Must be after starts_at.");
        } else if ends_at - starts_at > MAX_WINDOW {
            errors.add("ends_at", "Must be at most 90 days after starts_at.");
        } else if ends_at <= now {
            errors.add("ends_at", "Must be in the future.");
        }
        errors.into_result()?;
        Ok(Self {
            matchers: body.matchers,
            starts_at,
            ends_at,
            comment: body.comment,
        })
    }
}

/// A silence as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Silence {
    pub id: i64,
    #[sqlx(flatten)]
    pub matchers: Matchers,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: OffsetDateTime,
    /// When it stops acting: the end it was given, or when it was ended early.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: OffsetDateTime,
    /// When an admin ended it early (DELETE), if one did.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub ended_at: Option<OffsetDateTime>,
    pub state: SilenceState,
    pub comment: String,
    pub created_by: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

impl Silence {
    /// Whether it acts at `now`: from `starts_at` (inclusive) to `ends_at` (exclusive).
    pub fn acts_at(&self, now: OffsetDateTime) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

crate::filters! {
    /// `GET /api/silences/` filters.
    pub struct SilenceFilter {
        /// Only silences in these states.
        state: Option<Vec<SilenceState>>,
        /// Only silences matching this exact source.
        source: Option<Exact<SOURCE_MAX_CHARS>>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(source: &str, severity: Severity, key: Option<&str>) -> Incoming {
        let body = json!({"source": source, "event_type": "malware", "severity": severity.as_str(),
            "description": "", "dedup_key": key});
        Incoming::parse(body.as_object().unwrap(), None).unwrap()
    }

    fn matchers(v: Value) -> Result<Matchers, String> {
        Matchers::from_json(&v)
    }

    #[test]
    fn every_given_matcher_must_match() {
        let m = matchers(json!({"source": "ids", "severity": ["High", "Critical"]})).unwrap();
        assert!(m.matches(&event("ids", Severity::High, None)));
        assert!(!m.matches(&event("ids", Severity::Low, None)));
        assert!(!m.matches(&event("edr", Severity::High, None)));
        let m = matchers(json!({"dedup_key": "k"})).unwrap();
        assert!(m.matches(&event("x", Severity::Low, Some("k"))));
        assert!(!m.matches(&event("x", Severity::Low, None)));
        assert!(!m.matches(&event("x", Severity::Low, Some("K"))));
    }

    #[test]
    fn matchers_are_strict() {
        assert!(matchers(json!({})).is_err());
        assert!(matchers(json!({"source": null})).is_err());
        assert!(matchers(json!({"severity": []})).is_err());
        assert!(matchers(json!({"severity": "High"})).is_err());
        assert!(matchers(json!({"severity": ["Hgh"]})).is_err());
        assert!(matchers(json!({"owner": "x"})).is_err());
        assert!(matchers(json!(["source"])).is_err());
    }

    #[test]
    fn the_window_must_be_forward_future_and_at_most_90_days() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let at = |d: Duration| (now + d).format(&Rfc3339).unwrap();
        let parse = |starts: Option<String>, ends: String| {
            let mut body = json!({"matchers": {"source": "ids"}, "ends_at": ends, "comment": "x"});
            if let Some(s) = starts {
                body["starts_at"] = json!(s);
            }
            NewSilence::parse(body.as_object().unwrap(), now)
        };
        let ok = parse(None, at(Duration::hours(1))).unwrap();
        assert_eq!(ok.starts_at, now);
        assert!(parse(None, at(Duration::ZERO)).is_err());
        assert!(parse(Some(at(Duration::hours(2))), at(Duration::hours(1))).is_err());
        assert!(parse(None, at(Duration::days(90))).is_ok());
        assert!(parse(None, at(Duration::days(90) + Duration::seconds(1))).is_err());
        assert!(parse(Some(at(-Duration::days(2))), at(-Duration::days(1))).is_err());
    }

    #[test]
    fn a_silence_acts_from_its_start_until_just_before_its_end() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let silence = Silence {
            id: 1,
            matchers: Matchers::default(),
            starts_at: now,
            ends_at: now + Duration::minutes(1),
            ended_at: None,
            state: SilenceState::Active,
            comment: String::new(),
            created_by: 1,
            created_at: now,
        };
        assert!(!silence.acts_at(now - Duration::microseconds(1)));
        assert!(silence.acts_at(now));
        assert!(silence.acts_at(now + Duration::seconds(59)));
        assert!(!silence.acts_at(now + Duration::minutes(1)));
    }
}
