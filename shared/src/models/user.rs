//! Users: who may sign in, and as what.

use serde::Serialize;
use time::OffsetDateTime;

use crate::models::Role;
use crate::models::fields::TextRule;

/// Django's limit on usernames.
pub const USERNAME_MAX_CHARS: usize = 150;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub is_active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
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

/// Checks a new username: 1–150 characters of letters, digits and `@.+-_`,
/// as Django allows.
pub fn check_username(username: &str) -> Result<(), String> {
    let chars = username.chars().count();
    if chars == 0 || chars > USERNAME_MAX_CHARS {
        return Err(format!(
            "A username has 1 to {USERNAME_MAX_CHARS} characters."
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'))
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
    }
}
