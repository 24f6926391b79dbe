//! Alerts: raised by the system for High and Critical events, triaged by people.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::{ApiError, FieldErrors};
use crate::http::fields::{Fields, Mode};
use crate::http::query::{QueryParams, TimeRange};
use crate::models::event::SOURCE_MAX_CHARS;
use crate::models::{AlertStatus, EventType, Severity};

const WRITABLE: &[&str] = &["status"];
/// Accepted and ignored, so a client can send back an alert it read.
const READ_ONLY: &[&str] = &[
    "id",
    "event",
    "source",
    "event_type",
    "severity",
    "description",
    "timestamp",
    "created_at",
    "updated_at",
];

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
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: OffsetDateTime,
}

/// `PATCH /api/alerts/{id}/`: only the status may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertUpdate {
    pub status: Option<AlertStatus>,
}

impl AlertUpdate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut fields = Fields::new(body, Mode::Partial);
        let status = fields.choice("status");
        fields.finish(WRITABLE, READ_ONLY)?;
        Ok(Self { status })
    }
}

/// The request body of `PATCH /api/alerts/{id}/`.
#[cfg(feature = "openapi")]
pub fn update_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use crate::openapi::{object_body, schema_ref};
    let writable = vec![("status", schema_ref::<AlertStatus>())];
    debug_assert!(
        writable
            .iter()
            .map(|(name, _)| *name)
            .eq(WRITABLE.iter().copied())
    );
    object_body(
        "The new status. Open → Acknowledged → Resolved, Open → Resolved, or back to Open; \
         a resolved alert must be reopened before it is acknowledged again.",
        writable,
        Mode::Partial,
        READ_ONLY,
    )
}

/// Refusal of a status change the lifecycle does not allow from the alert's
/// current status: a conflict with the alert's state, not a bad request.
pub fn transition_error(from: AlertStatus, to: AlertStatus) -> ApiError {
    ApiError::Conflict(format!(
        "Cannot move an alert from {from} to {to}; reopen it first."
    ))
}

/// `GET /api/alerts/` filters. `created_at` is what `since`/`until` bound.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub severity: Option<Vec<Severity>>,
    pub status: Option<Vec<AlertStatus>>,
    pub event_type: Option<Vec<EventType>>,
    pub source: Option<String>,
    pub created_at: TimeRange,
}

impl AlertFilter {
    pub fn from_query(params: &QueryParams, errors: &mut FieldErrors) -> Self {
        Self {
            severity: params.choices("severity", errors),
            status: params.choices("status", errors),
            event_type: params.choices("event_type", errors),
            source: params.text("source", SOURCE_MAX_CHARS, errors),
            created_at: TimeRange::from_query(params, errors),
        }
    }

    /// Whether the filter needs the event's columns.
    pub fn needs_event(&self) -> bool {
        self.event_type.is_some() || self.source.is_some()
    }
}

/// The query parameters `AlertFilter::from_query` reads, for the document.
#[cfg(feature = "openapi")]
pub fn filter_params() -> Vec<utoipa::openapi::path::Parameter> {
    use crate::openapi::{choices_param, datetime_param, text_param};
    vec![
        choices_param::<Severity>("severity", "Only these severities."),
        choices_param::<AlertStatus>("status", "Only these statuses."),
        choices_param::<EventType>("event_type", "Only alerts on events of these types."),
        text_param(
            "source",
            SOURCE_MAX_CHARS,
            "Only alerts on events from this exact source.",
        ),
        datetime_param("since", "Only alerts raised at or after this time."),
        datetime_param("until", "Only alerts raised at or before this time."),
    ]
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
