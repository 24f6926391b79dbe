//! Users and their credentials.

use sqlx::PgPool;

use crate::models::Role;
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

/// Each setter returns `false` when there is no such user. A new
/// password, a new role and a deactivation end every session of the user
/// in the same statement, access tokens included (each names its session,
/// checked on every request), and raise the user's session epoch, which
/// ends a session a sign-in still in progress inserts after them.
pub async fn set_password(db: &PgPool, username: &str, password_hash: &str) -> sqlx::Result<bool> {
    let updated: i64 = sqlx::query_scalar(
        "WITH u AS (UPDATE users SET password_hash = $2, session_epoch = session_epoch + 1, \
                        updated_at = now() \
                    WHERE username = $1 RETURNING id), \
              ended AS (UPDATE sessions SET ended_at = now(), ended_because = 'password_changed' \
                        FROM u WHERE sessions.user_id = u.id AND sessions.ended_at IS NULL) \
         SELECT count(*) FROM u",
    )
    .bind(username)
    .bind(password_hash)
    .fetch_one(db)
    .await?;
    Ok(updated == 1)
}

/// Setting the role a user already has changes nothing and ends nothing.
pub async fn set_role(db: &PgPool, username: &str, role: Role) -> sqlx::Result<bool> {
    let updated: i64 = sqlx::query_scalar(
        "WITH old AS (SELECT id, role FROM users WHERE username = $1 FOR UPDATE), \
              u AS (UPDATE users SET role = $2, updated_at = now(), \
                        session_epoch = users.session_epoch + (old.role <> $2)::int FROM old \
                    WHERE users.id = old.id RETURNING users.id, old.role <> $2 AS changed), \
              ended AS (UPDATE sessions SET ended_at = now(), ended_because = 'role_changed' \
                        FROM u WHERE u.changed AND sessions.user_id = u.id \
                          AND sessions.ended_at IS NULL) \
         SELECT count(*) FROM u",
    )
    .bind(username)
    .bind(role)
    .fetch_one(db)
    .await?;
    Ok(updated == 1)
}

/// A deactivation ends the user's sessions; a reactivation revives none
/// (the user signs in again).
pub async fn set_active(db: &PgPool, username: &str, active: bool) -> sqlx::Result<bool> {
    let updated: i64 = sqlx::query_scalar(
        "WITH u AS (UPDATE users SET is_active = $2, updated_at = now(), \
                        session_epoch = session_epoch + (NOT $2)::int \
                    WHERE username = $1 RETURNING id), \
              ended AS (UPDATE sessions SET ended_at = now(), ended_because = 'deactivated' \
                        FROM u WHERE NOT $2 AND sessions.user_id = u.id \
                          AND sessions.ended_at IS NULL) \
         SELECT count(*) FROM u",
    )
    .bind(username)
    .bind(active)
    .fetch_one(db)
    .await?;
    Ok(updated == 1)
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
