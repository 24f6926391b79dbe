//! The audit log: who changed what, from where, through what. Every write
//! the API, `tmctl` or the admin function makes appends a row in the same
//! transaction (see migrations/20261207000018_audit_log.sql).

use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};
use time::OffsetDateTime;

use crate::models::event::Poster;
use crate::models::fields::FieldErrors;
use crate::models::query::{FilterField, QueryParams, TimeRange};
use crate::models::timeline::Actor;
use crate::models::user::{USERNAME_MAX_CHARS, UserRef};

crate::models::domain::wire_enum!(
    /// What an audit row records.
    AuditAction, "audit_action" {
        EventCreated => "event.created",
        EventBatchCreated => "event.batch_created",
        EventUpdated => "event.updated",
        EventDeleted => "event.deleted",
        AlertUpdated => "alert.updated",
        AlertCommented => "alert.commented",
        AlertBulkUpdated => "alert.bulk_updated",
        UserCreated => "user.created",
        UserUpdated => "user.updated",
        UserPasswordReset => "user.password_reset",
        UserPasswordChanged => "user.password_changed",
        KeyCreated => "key.created",
        KeyRevoked => "key.revoked",
        SilenceCreated => "silence.created",
        SilenceEnded => "silence.ended",
        SessionEnded => "session.ended",
        SessionReuseDetected => "session.reuse_detected",
        SignInSucceeded => "sign_in.succeeded",
        SignInFailed => "sign_in.failed",
        SignInLockedOut => "sign_in.locked_out",
        SigningKeyRotated => "signing_key.rotated",
        AppLoginProvisioned => "app_login.provisioned",
    }
);

crate::models::domain::wire_enum!(
    /// What an audit row's action was done to.
    AuditTarget, "audit_target" {
        Event => "event",
        Alert => "alert",
        User => "user",
        Key => "key",
        Silence => "silence",
        Session => "session",
        SigningKey => "signing_key",
        AppLogin => "app_login",
    }
);

crate::models::domain::wire_enum!(
    /// Through what a change was made: the HTTP API, `tmctl`, or the admin
    /// Lambda function.
    AuditVia, "audit_via" {
        Api => "api",
        Tmctl => "tmctl",
        Admin => "admin",
    }
);

/// Who makes a write and from where: what every write's audit row says of
/// its author. An operator's tools (`tmctl`, the admin function) have no
/// actor and no address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audit {
    pub actor: Option<Poster>,
    pub via: AuditVia,
    pub address: Option<IpAddr>,
}

impl Audit {
    /// A request through the API by a user or a key.
    pub fn api(actor: Poster, address: Option<IpAddr>) -> Self {
        Self {
            actor: Some(actor),
            via: AuditVia::Api,
            address,
        }
    }

    /// A request through the API with nobody signed in yet (a sign-in).
    pub fn anonymous(address: Option<IpAddr>) -> Self {
        Self {
            actor: None,
            via: AuditVia::Api,
            address,
        }
    }

    /// An operator's command (`tmctl`, the admin function).
    pub fn operator(via: AuditVia) -> Self {
        Self {
            actor: None,
            via,
            address: None,
        }
    }

    /// The same request, now known to be user `id`'s (a sign-in that
    /// found its user).
    pub fn as_user(self, id: i64) -> Self {
        Self {
            actor: Some(Poster::User(id)),
            ..self
        }
    }

    /// The acting user's id and key's id, either or both `None`.
    pub fn columns(&self) -> (Option<i64>, Option<i64>) {
        self.actor.map_or((None, None), Poster::columns)
    }
}

/// One row of the log as `GET /api/audit/` shows it. `detail` is the
/// action's own record: for an event's change its `before` and `after`,
/// for a deletion what the event said, for a batch how many and which.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    /// A user (`{"id", "username"}`), an ingest key (`{"key_id", "name"}`),
    /// or `null` for an operator's tool or an unknown sign-in.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub actor: Option<Actor>,
    pub via: AuditVia,
    /// The client's address, as the sign-in throttle reads it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub address: Option<String>,
    pub action: AuditAction,
    pub target_type: AuditTarget,
    /// `null` for a batch (its ids are in `detail`) or a sign-in of an
    /// unknown name.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub target_id: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::any_object))]
    pub detail: Value,
}

impl<'r> FromRow<'r, PgRow> for AuditEntry {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let user =
            UserRef::from_columns(row.try_get("actor_user")?, row.try_get("actor_username")?);
        let actor = match (user, row.try_get::<Option<i64>, _>("actor_key")?) {
            (Some(user), _) => Some(Actor::User(user)),
            (None, Some(key_id)) => Some(Actor::Key {
                key_id,
                name: row
                    .try_get::<Option<String>, _>("actor_key_name")?
                    .unwrap_or_default(),
            }),
            (None, None) => None,
        };
        let detail: sqlx::types::Json<Value> = row.try_get("detail")?;
        Ok(Self {
            id: row.try_get("id")?,
            at: row.try_get("at")?,
            actor,
            via: row.try_get("via")?,
            address: row.try_get("address")?,
            action: row.try_get("action")?,
            target_type: row.try_get("target_type")?,
            target_id: row.try_get("target_id")?,
            detail: detail.0,
        })
    }
}

/// `?actor=`: a username, or `key:<id>` for an ingest key (a username
/// cannot hold a colon, so the two never meet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorFilter {
    User(String),
    Key(i64),
}

impl FilterField for Option<ActorFilter> {
    fn read(params: &QueryParams, name: &str, errors: &mut FieldErrors) -> Self {
        let raw = params.text(name, USERNAME_MAX_CHARS, errors)?;
        match raw.strip_prefix("key:") {
            Some(id) => match id.parse::<i64>() {
                Ok(id) if id > 0 => Some(ActorFilter::Key(id)),
                _ => {
                    errors.add(name, "Enter a username, or key:<id> for an ingest key.");
                    None
                }
            },
            None => Some(ActorFilter::User(raw)),
        }
    }

    #[cfg(feature = "openapi")]
    fn params(name: &str, description: &str) -> Vec<utoipa::openapi::path::Parameter> {
        vec![crate::openapi::text_param(
            name,
            USERNAME_MAX_CHARS,
            description,
        )]
    }
}

/// An exact id (`?target_id=12`): a positive integer, else a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdFilter(pub i64);

impl FilterField for Option<IdFilter> {
    fn read(params: &QueryParams, name: &str, errors: &mut FieldErrors) -> Self {
        let raw = params.last(name)?;
        match raw.parse::<i64>() {
            Ok(id) if id > 0 => Some(IdFilter(id)),
            _ => {
                errors.add(name, "A valid integer is required.");
                None
            }
        }
    }

    #[cfg(feature = "openapi")]
    fn params(name: &str, description: &str) -> Vec<utoipa::openapi::path::Parameter> {
        vec![crate::openapi::id_query_param(name, description)]
    }
}

crate::filters! {
    /// `GET /api/audit/` filters. `at` is what `since`/`until` bound.
    pub struct AuditFilter {
        /// Only what this actor did: a username, or `key:<id>` for an ingest key.
        actor: Option<ActorFilter>,
        /// Only these actions.
        action: Option<Vec<AuditAction>>,
        /// Only actions on these kinds of target.
        target_type: Option<Vec<AuditTarget>>,
        /// Only actions on the target with this id (with `target_type`, one resource).
        target_id: Option<IdFilter>,
        /// Only what came through these.
        via: Option<Vec<AuditVia>>,
        /// Only rows written
        at: TimeRange,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(query: &str) -> (AuditFilter, FieldErrors) {
        let params = QueryParams::parse(Some(query)).unwrap();
        let mut errors = FieldErrors::new();
        (AuditFilter::from_query(&params, &mut errors), errors)
    }

    #[test]
    fn an_actor_is_a_username_or_a_key_id() {
        let (filter, errors) = read("actor=alice");
        assert!(errors.is_empty());
        assert_eq!(filter.actor, Some(ActorFilter::User("alice".into())));
        let (filter, _) = read("actor=key:12");
        assert_eq!(filter.actor, Some(ActorFilter::Key(12)));
        for bad in ["actor=key:", "actor=key:x", "actor=key:-1", "actor="] {
            let (filter, errors) = read(bad);
            assert!(filter.actor.is_none() && !errors.is_empty(), "{bad}");
        }
    }

    #[test]
    fn a_target_id_is_a_positive_integer() {
        assert_eq!(read("target_id=7").0.target_id, Some(IdFilter(7)));
        for bad in ["target_id=0", "target_id=x", "target_id=", "target_id=1.5"] {
            let (filter, errors) = read(bad);
            assert!(filter.target_id.is_none() && !errors.is_empty(), "{bad}");
        }
    }

    #[test]
    fn actions_parse_as_their_dotted_names() {
        let (filter, errors) = read("action=event.deleted,sign_in.failed");
        assert!(errors.is_empty());
        assert_eq!(
            filter.action,
            Some(vec![AuditAction::EventDeleted, AuditAction::SignInFailed])
        );
        assert!(!read("action=event.Deleted").1.is_empty());
    }
}
