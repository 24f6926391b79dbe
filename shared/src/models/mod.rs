//! Domain types: the enums every value is parsed into, and the resources.

pub mod alert;
pub mod audit;
pub mod bulk;
pub mod domain;
pub mod event;
pub mod fields;
pub mod key;
pub mod query;
pub mod session;
pub mod silence;
pub mod stats;
pub mod timeline;
pub mod user;

pub use domain::{
    AlertStatus, EventType, Outcome, Role, Severity, SilenceState, TimelineKind, UnknownValue,
};
