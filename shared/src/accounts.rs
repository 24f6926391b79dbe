//! Account administration, shared by `tmctl` and the admin function: the
//! checks and hashing around `store::users`.

use secrecy::SecretString;
use sqlx::PgPool;

use crate::auth::password;
use crate::error::ApiError;
use crate::models::Role;
use crate::models::audit::AuditVia;
use crate::models::session::SessionEnd;
use crate::models::user::{User, UserRef, check_username};
use crate::store;
use crate::store::users::{Changer, Changes, Outcome, PasswordOrigin, Updated};

/// For operators, not API clients: messages may name the user.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("a user named {0:?} already exists")]
    Exists(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("no user with id {0}")]
    NoSuchId(i64),
    #[error("that would leave no active admin: make another user an admin first")]
    LastAdmin,
    /// The admin (or the user) asking is no longer allowed to.
    #[error("the caller's session or role has changed since the request began")]
    CallerGone,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("hashing a password")]
    Hashing(#[source] ApiError),
}

async fn hash(password: SecretString) -> Result<String, AccountError> {
    password::check_policy(&password).map_err(AccountError::Invalid)?;
    password::hash(password)
        .await
        .map_err(AccountError::Hashing)
}

pub async fn create(
    db: &PgPool,
    username: &str,
    role: Role,
    password: SecretString,
    by: Changer,
) -> Result<User, AccountError> {
    check_username(username).map_err(AccountError::Invalid)?;
    let phc = hash(password).await?;
    match store::users::create(db, username, &phc, role, by).await? {
        Outcome::Done(user) => Ok(user),
        Outcome::Taken => Err(AccountError::Exists(username.to_owned())),
        Outcome::CallerGone => Err(AccountError::CallerGone),
    }
}

/// The user named `username`, for the operations below.
pub async fn find(db: &PgPool, username: &str) -> Result<UserRef, AccountError> {
    let id = store::users::id_by_name(db, username)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(username.to_owned()))?;
    Ok(UserRef {
        id,
        username: username.to_owned(),
    })
}

/// A new password for user `id` (see [`PasswordOrigin`]): every session of
/// theirs ends. The user's new session epoch.
pub async fn change_password(
    db: &PgPool,
    id: i64,
    password: SecretString,
    change: PasswordOrigin,
) -> Result<i32, AccountError> {
    let phc = hash(password).await?;
    match store::users::set_password(db, id, &phc, change).await? {
        Outcome::Done(epoch) => Ok(epoch),
        Outcome::Taken => Err(AccountError::NoSuchId(id)),
        Outcome::CallerGone => Err(AccountError::CallerGone),
    }
}

/// A new role, a deactivation or a reactivation (see
/// [`store::users::update`]).
pub async fn update(
    db: &PgPool,
    id: i64,
    changes: Changes,
    by: Changer,
) -> Result<(User, Option<SessionEnd>), AccountError> {
    match store::users::update(db, id, changes, by).await? {
        Updated::Done { user, ended } => Ok((user, ended)),
        Updated::NotFound => Err(AccountError::NoSuchId(id)),
        Updated::LastAdmin => Err(AccountError::LastAdmin),
        Updated::CallerGone => Err(AccountError::CallerGone),
    }
}

/// An operator's reset of `username`'s password, through `via`.
pub async fn set_password(
    db: &PgPool,
    username: &str,
    password: SecretString,
    via: AuditVia,
) -> Result<(), AccountError> {
    let user = find(db, username).await?;
    let by = Changer::operator(via);
    change_password(db, user.id, password, PasswordOrigin::Reset { by }).await?;
    Ok(())
}

pub async fn set_role(
    db: &PgPool,
    username: &str,
    role: Role,
    via: AuditVia,
) -> Result<(), AccountError> {
    let user = find(db, username).await?;
    let changes = Changes {
        role: Some(role),
        ..Changes::default()
    };
    update(db, user.id, changes, Changer::operator(via)).await?;
    Ok(())
}

pub async fn set_active(
    db: &PgPool,
    username: &str,
    active: bool,
    via: AuditVia,
) -> Result<(), AccountError> {
    let user = find(db, username).await?;
    let changes = Changes {
        is_active: Some(active),
        ..Changes::default()
    };
    update(db, user.id, changes, Changer::operator(via)).await?;
    Ok(())
}

/// A random password for accounts made by a machine: 24 hex characters, 96 bits.
pub fn generated_password() -> SecretString {
    SecretString::from(crate::random::hex(12))
}
