//! Users and their credentials.

use serde_json::json;
use sqlx::PgPool;

use super::audit::Entry;
use crate::models::Role;
use crate::models::audit::{Audit, AuditAction, AuditTarget, AuditVia};
use crate::models::session::SessionEnd;
use crate::models::user::{User, UserRef, UserSummary};

/// What signing in needs to know about a username. `Debug` leaves the
/// hash out.
#[derive(sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
    pub role: Role,
    pub is_active: bool,
    /// Read with the hash: a session started on these credentials lives
    /// only while it is the user's current epoch (see the sessions migration).
    pub session_epoch: i32,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("is_active", &self.is_active)
            .field("session_epoch", &self.session_epoch)
            .finish_non_exhaustive()
    }
}

/// An admin making an account change through the API. The request was let
/// in as an admin's, but the change may come a hashing (or a lock wait)
/// later: each change checks again, in its own transaction, that the
/// caller is still an active admin in a live session, holding a share lock
/// on the caller's row so that a demotion in between waits for the change
/// to end.
/// `None` is an operator (`tmctl`, the admin function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub id: i64,
    pub session: i64,
}

/// Who makes an account change: an admin through the API (`caller`), or an
/// operator (`None`); and how its audit row records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changer {
    pub caller: Option<Caller>,
    pub audit: Audit,
}

impl Changer {
    /// An operator's command (`tmctl`, the admin function).
    pub fn operator(via: AuditVia) -> Self {
        Self {
            caller: None,
            audit: Audit::operator(via),
        }
    }
}

/// Whether `by` may still make an account change, checked in the change's
/// transaction and holding a share lock on the caller's row until it ends.
async fn caller_may_act(tx: &mut sqlx::PgConnection, by: Option<Caller>) -> sqlx::Result<bool> {
    let Some(caller) = by else {
        return Ok(true);
    };
    let live: Option<i64> = sqlx::query_scalar(
        "SELECT a.id FROM users a JOIN sessions s ON s.user_id = a.id \
         WHERE a.id = $1 AND s.id = $2 AND a.role = 'admin' AND a.is_active \
           AND s.ended_at IS NULL AND s.expires_at > now() AND s.user_epoch = a.session_epoch \
         FOR SHARE OF a",
    )
    .bind(caller.id)
    .bind(caller.session)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(live.is_some())
}

pub async fn credentials(db: &PgPool, username: &str) -> sqlx::Result<Option<Credentials>> {
    sqlx::query_as(
        "SELECT id, password_hash, role, is_active, session_epoch FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(db)
    .await
}

/// What became of an account change that may be refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    Done(T),
    /// The username is taken (a new user), or there is no such user.
    Taken,
    /// The caller may no longer make it (see [`Caller`]).
    CallerGone,
}

pub async fn create(
    db: &PgPool,
    username: &str,
    password_hash: &str,
    role: Role,
    by: Changer,
) -> sqlx::Result<Outcome<User>> {
    let mut tx = db.begin().await?;
    if !caller_may_act(&mut tx, by.caller).await? {
        return Ok(Outcome::CallerGone);
    }
    let user: Option<User> = sqlx::query_as(
        "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3) \
         ON CONFLICT (username) DO NOTHING \
         RETURNING id, username, role, is_active, created_at, updated_at",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user) = user else {
        return Ok(Outcome::Taken);
    };
    let detail = json!({"username": user.username, "role": user.role});
    let entry = Entry::new(
        AuditAction::UserCreated,
        AuditTarget::User,
        Some(user.id),
        detail,
    );
    super::audit::record(&mut *tx, &by.audit, entry).await?;
    tx.commit().await?;
    Ok(Outcome::Done(user))
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

/// Whose password change it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordOrigin {
    /// An admin's reset (or an operator's): it also lifts the user's
    /// sign-in lockouts, at every address.
    Reset { by: Changer },
    /// The user's own, from session `session`, on credentials read at
    /// session epoch `epoch`: it applies only if nothing ended that session
    /// or changed the account since (a reset by an admin meanwhile wins),
    /// and lifts no lockout (an attacker's stays).
    Own {
        session: i64,
        epoch: i32,
        audit: Audit,
    },
}

/// A new password for user `id`: every session of theirs ends in the same
/// statement, access tokens included (each names its session, checked on
/// every request), and the user's session epoch rises, which ends a session
/// a sign-in still in progress inserts after it. The new epoch.
pub async fn set_password(
    db: &PgPool,
    id: i64,
    password_hash: &str,
    change: PasswordOrigin,
) -> sqlx::Result<Outcome<i32>> {
    let mut tx = db.begin().await?;
    let (by, own, audit, action) = match change {
        PasswordOrigin::Reset { by } => (by.caller, None, by.audit, AuditAction::UserPasswordReset),
        PasswordOrigin::Own {
            session,
            epoch,
            audit,
        } => (
            None,
            Some((session, epoch)),
            audit,
            AuditAction::UserPasswordChanged,
        ),
    };
    if !caller_may_act(&mut tx, by).await? {
        return Ok(Outcome::CallerGone);
    }
    let epoch: Option<i32> = sqlx::query_scalar(
        "WITH u AS (UPDATE users SET password_hash = $2, session_epoch = session_epoch + 1, \
                        updated_at = now() \
                    WHERE id = $1 \
                      AND ($3::bigint IS NULL OR (is_active AND session_epoch = $4 AND EXISTS ( \
                           SELECT 1 FROM sessions s WHERE s.id = $3 AND s.user_id = $1 \
                             AND s.ended_at IS NULL AND s.expires_at > now()))) \
                    RETURNING id, username, session_epoch), \
              ended AS (UPDATE sessions SET ended_at = now(), ended_because = 'password_changed' \
                        FROM u WHERE sessions.user_id = u.id AND sessions.ended_at IS NULL), \
              cleared AS (DELETE FROM sign_in_throttle t USING u \
                          WHERE $3::bigint IS NULL AND t.username = u.username) \
         SELECT session_epoch FROM u",
    )
    .bind(id)
    .bind(password_hash)
    .bind(own.map(|(session, _)| session))
    .bind(own.map(|(_, epoch)| epoch))
    .fetch_optional(&mut *tx)
    .await?;
    if epoch.is_some() {
        let entry = Entry::new(action, AuditTarget::User, Some(id), json!({}));
        super::audit::record(&mut *tx, &audit, entry).await?;
    }
    tx.commit().await?;
    Ok(match (epoch, own) {
        (Some(epoch), _) => Outcome::Done(epoch),
        // Users are never deleted: the session or the account moved on.
        (None, Some(_)) => Outcome::CallerGone,
        (None, None) => Outcome::Taken,
    })
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
    },
    NotFound,
    /// It would leave no active admin: nothing changed.
    LastAdmin,
    /// The caller may no longer make it (see [`Caller`]).
    CallerGone,
}

/// Applies `changes` to user `id`, unless it would demote or deactivate the
/// last active admin. A new role ends the user's sessions, and so does a
/// deactivation, in the same transaction (a reactivation revives none: the
/// user signs in again, and it lifts their sign-in lockouts); a change to
/// what the user already is changes nothing and ends nothing.
///
/// The active admins are locked first, in id order, whoever the change is
/// for: two admins demoting each other at once are serialised, and the
/// second sees the first's change, so one of them stays an admin.
pub async fn update(
    db: &PgPool,
    id: i64,
    changes: Changes,
    changer: Changer,
) -> sqlx::Result<Updated> {
    let by = changer.caller;
    let mut tx = db.begin().await?;
    // NO KEY UPDATE: changes still take turns, but sign-ins (a session's
    // key share on its user) and assignments to these users do not wait.
    let admins: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE role = 'admin' AND is_active ORDER BY id FOR NO KEY UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    // The caller's row is locked now if they are still an admin.
    if let Some(caller) = by
        && !(admins.contains(&caller.id) && caller_may_act(&mut tx, by).await?)
    {
        return Ok(Updated::CallerGone);
    }
    let Some(old): Option<User> = sqlx::query_as(
        "SELECT id, username, role, is_active, created_at, updated_at FROM users \
         WHERE id = $1 FOR NO KEY UPDATE",
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
        return Ok(Updated::Done { user: old, ended });
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
    if reactivated {
        // Lifted with the change, or not at all.
        sqlx::query("DELETE FROM sign_in_throttle WHERE username = $1")
            .bind(&user.username)
            .execute(&mut *tx)
            .await?;
    }
    let mut detail = serde_json::Map::new();
    if role != old.role {
        detail.insert("role".into(), json!({"from": old.role, "to": role}));
    }
    if is_active != old.is_active {
        detail.insert(
            "is_active".into(),
            json!({"from": old.is_active, "to": is_active}),
        );
    }
    detail.insert("sessions_ended".into(), json!(ended.is_some()));
    let entry = Entry::new(
        AuditAction::UserUpdated,
        AuditTarget::User,
        Some(id),
        serde_json::Value::Object(detail),
    );
    super::audit::record(&mut *tx, &changer.audit, entry).await?;
    tx.commit().await?;
    Ok(Updated::Done { user, ended })
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
