//! The domain's closed sets of values. Each enum is its own parser: a value
//! that is not one of the spellings below never gets past the edge.

use std::fmt;
use std::str::FromStr;

/// A wire spelling that is not one of the enum's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue(pub String);

impl UnknownValue {
    /// DRF's message for a bad choice.
    pub fn message(&self) -> String {
        format!("\"{}\" is not a valid choice.", self.0)
    }
}

/// A closed set of values read from the wire: every `wire_enum!` type. With
/// the `openapi` feature it has a schema too, which the document's filter
/// parameters refer to.
#[cfg(feature = "openapi")]
pub trait Choice:
    FromStr<Err = UnknownValue> + fmt::Display + Copy + PartialEq + utoipa::ToSchema
{
}
#[cfg(not(feature = "openapi"))]
pub trait Choice: FromStr<Err = UnknownValue> + fmt::Display + Copy + PartialEq {}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $pg:literal { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
        #[sqlx(type_name = $pg)]
        pub enum $name {
            $(#[sqlx(rename = $wire)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::models::domain::UnknownValue;

            /// Exact, case-sensitive match on the wire spelling.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok(Self::$variant),)+
                    _ => Err($crate::models::domain::UnknownValue(s.to_owned())),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(Self::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
        }

        impl $crate::models::domain::Choice for $name {}

        impl $crate::models::fields::BodyField for $name {
            fn from_json(value: &$crate::serde_json::Value) -> Result<Self, String> {
                $crate::models::fields::json_str(value)?
                    .parse()
                    .map_err(|e: $crate::models::domain::UnknownValue| e.message())
            }

            #[cfg(feature = "openapi")]
            fn schema(
                _description: &str,
            ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::openapi::schema_ref::<Self>()
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                raw.parse().map_err(|e: $crate::models::domain::UnknownValue| <D::Error as ::serde::de::Error>::custom(e.message()))
            }
        }
    };
}

pub(crate) use wire_enum;

wire_enum!(
    /// How bad an event is. Ordered: `High` and `Critical` raise alerts.
    Severity, "severity" {
        Low => "Low",
        Medium => "Medium",
        High => "High",
        Critical => "Critical",
    }
);

wire_enum!(
    /// What an alert's timeline entry records.
    TimelineKind, "timeline_kind" {
        Created => "created",
        StatusChanged => "status_changed",
        Assigned => "assigned",
        Commented => "commented",
        SeverityChanged => "severity_changed",
        Occurrence => "occurrence",
    }
);

wire_enum!(
    /// What kind of security event a sensor reported.
    EventType, "event_type" {
        Intrusion => "intrusion",
        Malware => "malware",
        Anomaly => "anomaly",
    }
);

wire_enum!(
    /// Where an alert is in triage.
    AlertStatus, "alert_status" {
        Open => "Open",
        Acknowledged => "Acknowledged",
        Resolved => "Resolved",
    }
);

wire_enum!(
    /// What a user may do: admins manage events and alerts, analysts read alerts.
    Role, "user_role" {
        Admin => "admin",
        Analyst => "analyst",
    }
);

wire_enum!(
    /// What became of an ingested event: it raised an alert, was attached to
    /// an open alert with its `dedup_key`, was silenced, or (Low, Medium)
    /// needed no alert.
    Outcome, "ingest_outcome" {
        Raised => "raised",
        Deduplicated => "deduplicated",
        Suppressed => "suppressed",
        None => "none",
    }
);

wire_enum!(
    /// Where a silence is in its window: not started, acting, or over.
    SilenceState, "silence_state" {
        Pending => "pending",
        Active => "active",
        Expired => "expired",
    }
);

impl Severity {
    /// Whether an event of this severity must raise an alert.
    pub fn raises_alert(self) -> bool {
        self >= Self::High
    }
}

impl AlertStatus {
    /// The triage lifecycle. Forward moves (Open → Acknowledged → Resolved,
    /// or Open → Resolved straight away) and reopening (back to Open) are
    /// allowed; setting the current status again is a no-op. Moving a resolved
    /// alert back to Acknowledged is not: reopen it first, so that the reopening
    /// is a decision someone made, not a slip.
    pub fn can_move_to(self, next: Self) -> bool {
        use AlertStatus::*;
        self == next
            || matches!(
                (self, next),
                (Open, Acknowledged) | (Open, Resolved) | (Acknowledged, Resolved) | (_, Open)
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_round_trips_through_its_wire_spelling() {
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(*s));
        }
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(*t));
        }
        for s in AlertStatus::ALL {
            assert_eq!(s.as_str().parse::<AlertStatus>(), Ok(*s));
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
        }
    }

    #[test]
    fn parsing_is_case_sensitive_and_exact() {
        assert!("high".parse::<Severity>().is_err());
        assert!("High ".parse::<Severity>().is_err());
        assert!("Extreme".parse::<Severity>().is_err());
        assert!("Intrusion".parse::<EventType>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn only_high_and_critical_raise_alerts() {
        assert!(!Severity::Low.raises_alert());
        assert!(!Severity::Medium.raises_alert());
        assert!(Severity::High.raises_alert());
        assert!(Severity::Critical.raises_alert());
    }

    #[test]
    fn unknown_value_message_names_the_value() {
        let err = "Extreme".parse::<Severity>().unwrap_err();
        assert_eq!(err.message(), "\"Extreme\" is not a valid choice.");
    }

    #[test]
    fn alert_lifecycle_moves_forward_and_may_reopen() {
        use AlertStatus::*;
        assert!(Open.can_move_to(Acknowledged));
        assert!(Open.can_move_to(Resolved));
        assert!(Acknowledged.can_move_to(Resolved));
        assert!(Resolved.can_move_to(Open));
        assert!(Acknowledged.can_move_to(Open));
        assert!(Resolved.can_move_to(Resolved));
        assert!(!Resolved.can_move_to(Acknowledged));
    }

    #[test]
    fn serialises_as_the_wire_spelling() {
        assert_eq!(
            serde_json::to_string(&EventType::Malware).unwrap(),
            "\"malware\""
        );
        assert_eq!(
            serde_json::to_string(&Severity::Critical).unwrap(),
            "\"Critical\""
        );
    }
}
