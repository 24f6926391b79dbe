//! A sign-in session, as its owner sees it.

use serde::Serialize;
use time::OffsetDateTime;

/// One of the caller's live sessions.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub id: i64,
    /// When it was signed in.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// When its refresh token was last traded.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_used_at: OffsetDateTime,
    /// When it ends unless its refresh token is traded before.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: OffsetDateTime,
    /// The client address it was signed in from (an IPv6 one as its /64).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub client_address: Option<String>,
    /// The `User-Agent` it was signed in with, if any.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub user_agent: Option<String>,
    /// Whether this is the session of the token asking.
    #[sqlx(skip)]
    pub current: bool,
}

/// Why a session ended (`sessions.ended_because`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// `POST /api/token/revoke/`.
    Logout,
    /// `DELETE /api/users/me/sessions/{id}/`.
    EndedByUser,
    /// A refresh token used after it was rotated: two holders.
    RefreshReused,
    PasswordChanged,
    RoleChanged,
    Deactivated,
}

impl SessionEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::EndedByUser => "ended_by_user",
            Self::RefreshReused => "refresh_reused",
            Self::PasswordChanged => "password_changed",
            Self::RoleChanged => "role_changed",
            Self::Deactivated => "deactivated",
        }
    }
}

/// A `User-Agent` as kept: at most this many characters.
pub const USER_AGENT_MAX_CHARS: usize = 256;
