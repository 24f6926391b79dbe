//! Account administration, shared by `tmctl` and the admin function: the
//! checks and hashing around `store::users`.

use secrecy::SecretString;
use sqlx::PgPool;

use crate::auth::password;
use crate::models::Role;
use crate::models::user::{User, check_username};
use crate::store;

/// For operators, not API clients: messages may name the user.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("a user named {0:?} already exists")]
    Exists(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
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

pub async fn set_password(
    db: &PgPool,
    username: &str,
    password: SecretString,
) -> Result<(), AccountError> {
    let phc = hash(password).await?;
    found(
        store::users::set_password(db, username, &phc).await?,
        username,
    )?;
    // A new password lifts a sign-in lockout.
    store::throttle::clear(db, username).await?;
    Ok(())
}

pub async fn set_role(db: &PgPool, username: &str, role: Role) -> Result<(), AccountError> {
    found(store::users::set_role(db, username, role).await?, username)
}

pub async fn set_active(db: &PgPool, username: &str, active: bool) -> Result<(), AccountError> {
    found(
        store::users::set_active(db, username, active).await?,
        username,
    )?;
    if active {
        // Reactivating someone also lifts a sign-in lockout.
        store::throttle::clear(db, username).await?;
    }
    Ok(())
}

fn found(updated: bool, username: &str) -> Result<(), AccountError> {
    if updated {
        Ok(())
    } else {
        Err(AccountError::NoSuchUser(username.to_owned()))
    }
}

/// A random password for accounts made by a machine: 24 hex characters, 96 bits.
pub fn generated_password() -> SecretString {
    SecretString::from(crate::random::hex(12))
}
