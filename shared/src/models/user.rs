//! Users: who may sign in, and as what.

use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;

use crate::auth::password::MAX_PASSWORD_CHARS;
use crate::models::Role;
use crate::models::fields::{BodyField, TextRule, json_str};

/// Django's limit on usernames.
pub const USERNAME_MAX_CHARS: usize = 150;

/// A user as admins manage them: nothing about credentials.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// An inactive user cannot sign in, and their sessions have ended.
    pub is_active: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: OffsetDateTime,
}

/// A user just added: the only answer that carries their first password.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedUser {
    #[serde(flatten)]
    pub user: User,
    /// Generated, shown this once, stored only as its hash: hand it to the
    /// user, who changes it at `POST /api/users/me/password/`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub password: ShownPassword,
}

/// A password an admin reset: shown this once.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResetPassword {
    /// The user's new, generated password; every session of theirs has ended.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub password: ShownPassword,
}

/// A generated password on its way into the one answer that shows it;
/// `Debug` never does.
pub struct ShownPassword(pub SecretString);

impl std::fmt::Debug for ShownPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for ShownPassword {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose_secret())
    }
}

/// A new user's name, by [`check_username`]'s rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUsername(String);

impl NewUsername {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl BodyField for NewUsername {
    fn from_json(value: &Value) -> Result<Self, String> {
        let raw = json_str(value)?;
        check_username(raw)?;
        Ok(Self(raw.to_owned()))
    }

    #[cfg(feature = "openapi")]
    fn schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(description))
            .min_length(Some(1))
            .max_length(Some(USERNAME_MAX_CHARS))
            .pattern(Some(USERNAME_PATTERN))
            .into()
    }
}

crate::text_field!(
    /// Passwords are taken as typed: surrounding spaces are part of them.
    pub secret Password = TextRule {
        max_chars: MAX_PASSWORD_CHARS,
        allow_blank: false,
        trim: false,
    }
);

impl Password {
    pub fn into_secret(self) -> SecretString {
        SecretString::from(self.into_inner())
    }
}

crate::body! {
    full NewUser: "A user to add; their first password is generated and shown once.",
    fields {
        /// 1–150 letters, digits and `@ . + - _`; taken by no other user, ever.
        username: NewUsername,
        /// `admin` manages events, alerts and users; `analyst` reads.
        role: Role,
    },
    read_only ["id", "is_active", "created_at", "updated_at"],
}

crate::body! {
    partial UserChanges: "What to change: role, active, or both. Either change, unless it changes nothing, \
        ends every session of the user. The last active admin can be neither demoted nor deactivated.",
    fields {
        /// The user's new role.
        role: Role,
        /// `false` to stop the user signing in; `true` lets them sign in again.
        is_active: bool,
    },
    read_only ["id", "username", "created_at", "updated_at"],
}

crate::body! {
    full PasswordChange: "The caller's current password and the new one.",
    fields {
        /// The password the caller signs in with now.
        current: Password,
        /// 12 to 1,024 characters, and not the current password.
        new: Password,
    },
    read_only [],
}

crate::text_field!(
    /// A username as a client names a user (an assignee): 1–150 characters,
    /// verbatim. Whether such a user exists is the store's to say.
    pub Username = TextRule {
        max_chars: USERNAME_MAX_CHARS,
        allow_blank: false,
        trim: false,
    }
);

/// A user as other resources show one: an assignee, an author, an actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserRef {
    pub id: i64,
    pub username: String,
}

impl UserRef {
    /// From two nullable columns, as a `LEFT JOIN users` gives them.
    pub fn from_columns(id: Option<i64>, username: Option<String>) -> Option<Self> {
        Some(Self {
            id: id?,
            username: username?,
        })
    }
}

/// A user as `GET /api/users/` lists them, for pickers: nothing about
/// credentials.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub is_active: bool,
}

/// What [`check_username`] allows, as the document's pattern.
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9@.+_-]+$";

/// Checks a new username: 1–150 ASCII letters, digits and `@.+-_`, Django's
/// characters without its Unicode letters, which look alike across scripts
/// (a `а` that is Cyrillic beside an `a`) and make one name two.
pub fn check_username(username: &str) -> Result<(), String> {
    let chars = username.chars().count();
    if chars == 0 || chars > USERNAME_MAX_CHARS {
        return Err(format!(
            "A username has 1 to {USERNAME_MAX_CHARS} characters."
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'))
    {
        return Err("A username may contain only letters, digits and @ . + - _".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_djangos_rules() {
        assert!(check_username("alice.o+soc@example").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("has space").is_err());
        assert!(check_username(&"a".repeat(151)).is_err());
        assert!(check_username("\u{430}lice").is_err(), "a Cyrillic а");
    }
}
