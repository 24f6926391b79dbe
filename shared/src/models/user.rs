//! Users: who may sign in, and as what.

use serde::Serialize;
use time::OffsetDateTime;

use crate::models::Role;

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
