//! Users and their credentials.

use sqlx::PgPool;

use crate::models::Role;
use crate::models::session::SessionEnd;
use crate::models::user::{User, UserRef, UserSummary};

/// What signing in needs to know about a username.
#[derive(Debug, sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
    pub role: Role,
    pub is_active: bool,
    /// Read with the hash: a session started on these credentials lives
    /// only while it is the user's current epoch (see the sessions migration).
    pub session_epoch: i32,
}

pub async fn credentials(db: &PgPool, username: &str) -> sqlx::Result<Option<Credentials>> {
    sqlx::query_as(
        "SELECT id, password_hash, role, is_active, session_epoch FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(db)
    .await
}

/// `None` if the username is taken.
pub async fn create(
    db: &PgPool,
    username: &str,
    password_hash: &str,
    role: Role,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(
        "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3) \
         ON CONFLICT (username) DO NOTHING \
         RETURNING id, username, role, is_active, created_at, updated_at",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role)
    .fetch_optional(db)
    .await
}

pub async fn list(db: &PgPool) -> sqlx::Result<Vec<User>> {
    sqlx::query_as(
        "SELECT id, username, role, is_active, created_at, updated_at FROM users ORDER BY username",
    )
    .fetch_all(db)
    .await
}

pub async fn get(db: &PgPool, id: i64) -> sqlx::Result<Option<User>> {
    sqlx::query_as(
        "SELECT id, username, role, is_active, created_at, updated_at FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn id_by_name(db: &PgPool, username: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(db)
        .await
}

/// A new password for user `id`: every session of theirs ends in the same
/// statement, access tokens included (each names its session, checked on
/// every request), and the user's session epoch rises, which ends a session
/// a sign-in still in progress inserts after it. The new epoch, or `None`
/// when there is no such user.
pub async fn set_password(db: &PgPool, id: i64, password_hash: &str) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar(
        "WITH u AS (UPDATE users SET password_hash = $2, session_epoch = session_epoch + 1, \
                        updated_at = now() \
                    WHERE id = $1 RETURNING id, session_epoch), \
              ended AS (UPDATE sessions SET ended_at = now(), ended_because = 'password_changed' \
                        FROM u WHERE sessions.user_id = u.id AND sessions.ended_at IS NULL) \
         SELECT session_epoch FROM u",
    )
    .bind(id)
    .bind(password_hash)
    .fetch_optional(db)
    .await
}

/// A change to a user's role or activity, as [`update`] takes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    pub role: Option<Role>,
    pub is_active: Option<bool>,
}

/// What became of a [`Changes`].
#[derive(Debug, Clone)]
pub enum Updated {
    /// The user as they are now; `ended` if their sessions ended.
    Done {
        user: User,
        ended: Option<SessionEnd>,
        reactivated: bool,
    },
    NotFound,
    /// It would leave no active admin: nothing changed.
    LastAdmin,
}

/// Applies `changes` to user `id`, unless it would demote or deactivate the
/// last active admin. A new role ends the user's sessions, and so does a
/// deactivation, in the same transaction (a reactivation revives none: the
/// user signs in again); a change to what the user already is changes
/// nothing and ends nothing.
///
/// The active admins are locked first, in id order, whoever the change is
/// for: two admins demoting each other at once are serialised, and the
/// second sees the first's change, so one of them stays an admin.
pub async fn update(db: &PgPool, id: i64, changes: Changes) -> sqlx::Result<Updated> {
    let mut tx = db.begin().await?;
    let admins: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE role = 'admin' AND is_active ORDER BY id FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    let Some(old): Option<User> = sqlx::query_as(
        "SELECT id, username, role, is_active, created_at, updated_at FROM users \
         WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Updated::NotFound);
    };
    let role = changes.role.unwrap_or(old.role);
    let is_active = changes.is_active.unwrap_or(old.is_active);
    let still_admin = role == Role::Admin && is_active;
    if admins.contains(&id) && !still_admin && admins.len() == 1 {
        return Ok(Updated::LastAdmin);
    }
    let ended = if old.is_active && !is_active {
        Some(SessionEnd::Deactivated)
    } else if role != old.role {
        Some(SessionEnd::RoleChanged)
    } else {
        None
    };
    let reactivated = !old.is_active && is_active;
    if role == old.role && is_active == old.is_active {
        return Ok(Updated::Done {
            user: old,
            ended,
            reactivated,
        });
    }
    let user: User = sqlx::query_as(
        "UPDATE users SET role = $2, is_active = $3, updated_at = now(), \
             session_epoch = session_epoch + $4::int \
         WHERE id = $1 RETURNING id, username, role, is_active, created_at, updated_at",
    )
    .bind(id)
    .bind(role)
    .bind(is_active)
    .bind(i32::from(ended.is_some()))
    .fetch_one(&mut *tx)
    .await?;
    if let Some(why) = ended {
        sqlx::query(
            "UPDATE sessions SET ended_at = now(), ended_because = $2 \
             WHERE user_id = $1 AND ended_at IS NULL",
        )
        .bind(id)
        .bind(why.as_str())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Updated::Done {
        user,
        ended,
        reactivated,
    })
}

/// In the order users were added, for both kinds of page.
pub const OLDEST_FIRST: super::Order = super::Order {
    time: None,
    id: "id",
    descending: false,
};

pub async fn count(db: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(db)
        .await
}

pub async fn summaries(db: &PgPool, window: super::Window) -> sqlx::Result<Vec<UserSummary>> {
    let mut sql = super::Sql::new(
        "SELECT id, username, role, is_active FROM users WHERE TRUE",
        false,
    );
    super::push_window(&mut sql, &OLDEST_FIRST, &window);
    sql.qb.build_query_as().fetch_all(db).await
}

pub async fn summary(db: &PgPool, id: i64) -> sqlx::Result<Option<UserSummary>> {
    sqlx::query_as("SELECT id, username, role, is_active FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// An active user by username: whom an alert may be assigned to.
pub async fn active_by_name(db: &PgPool, username: &str) -> sqlx::Result<Option<UserRef>> {
    sqlx::query_as("SELECT id, username FROM users WHERE username = $1 AND is_active")
        .bind(username)
        .fetch_optional(db)
        .await
}

/// The ids of these usernames, active or not (a filter may name someone who
/// has left); the names with no user are missing from the answer.
pub async fn ids_by_name(db: &PgPool, usernames: &[String]) -> sqlx::Result<Vec<UserRef>> {
    sqlx::query_as("SELECT id, username FROM users WHERE username = ANY($1)")
        .bind(usernames)
        .fetch_all(db)
        .await
}
