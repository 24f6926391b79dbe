//! Account administration, shared by `tmctl` and the admin function: the
//! checks and hashing around `store::users`.

use secrecy::SecretString;
use sqlx::PgPool;

use crate::auth::password;
use crate::models::Role;
use crate::models::session::SessionEnd;
use crate::models::user::{User, UserRef, check_username};
use crate::store;
use crate::store::users::{Changes, Updated};

/// For operators, not API clients: messages may name the user.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("a user named {0:?} already exists")]
    Exists(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("that would leave no active admin: make another user an admin first")]
    LastAdmin,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Hashing(String),
}

async fn hash(password: SecretString) -> Result<String, AccountError> {
    password::check_policy(&password).map_err(AccountError::Invalid)?;
    password::hash(password)
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))
}

pub async fn create(
    db: &PgPool,
    username: &str,
    role: Role,
    password: SecretString,
) -> Result<User, AccountError> {
    check_username(username).map_err(AccountError::Invalid)?;
    let phc = hash(password).await?;
    store::users::create(db, username, &phc, role)
        .await?
        .ok_or_else(|| AccountError::Exists(username.to_owned()))
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

/// A new password for `user`: every session of theirs ends, and their
/// sign-in lockouts are lifted. The user's new session epoch, for a session
/// started on the new password.
pub async fn change_password(
    db: &PgPool,
    user: &UserRef,
    password: SecretString,
) -> Result<i32, AccountError> {
    let phc = hash(password).await?;
    let epoch = store::users::set_password(db, user.id, &phc)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(user.username.clone()))?;
    store::throttle::clear(db, &user.username).await?;
    Ok(epoch)
}

/// A new role, a deactivation or a reactivation (see
/// [`store::users::update`]); a reactivation also lifts the user's sign-in
/// lockouts.
pub async fn update(
    db: &PgPool,
    id: i64,
    changes: Changes,
) -> Result<(User, Option<SessionEnd>), AccountError> {
    match store::users::update(db, id, changes).await? {
        Updated::Done {
            user,
            ended,
            reactivated,
        } => {
            if reactivated {
                store::throttle::clear(db, &user.username).await?;
            }
            Ok((user, ended))
        }
        Updated::NotFound => Err(AccountError::NoSuchUser(format!("#{id}"))),
        Updated::LastAdmin => Err(AccountError::LastAdmin),
    }
}

/// [`change_password`] by username, for operators.
pub async fn set_password(
    db: &PgPool,
    username: &str,
    password: SecretString,
) -> Result<(), AccountError> {
    change_password(db, &find(db, username).await?, password).await?;
    Ok(())
}

pub async fn set_role(db: &PgPool, username: &str, role: Role) -> Result<(), AccountError> {
    let user = find(db, username).await?;
    let changes = Changes {
        role: Some(role),
        ..Changes::default()
    };
    update(db, user.id, changes).await?;
    Ok(())
}

pub async fn set_active(db: &PgPool, username: &str, active: bool) -> Result<(), AccountError> {
    let user = find(db, username).await?;
    let changes = Changes {
        is_active: Some(active),
        ..Changes::default()
    };
    update(db, user.id, changes).await?;
    Ok(())
}

/// A random password for accounts made by a machine: 24 hex characters, 96 bits.
pub fn generated_password() -> SecretString {
    SecretString::from(crate::random::hex(12))
}
