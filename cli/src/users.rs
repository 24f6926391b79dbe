//! `tmctl user ...`: accounts, managed by operators. Passwords come from a
//! prompt or standard input, never from the command line, where `ps` and
//! shell history would keep them.

use std::io::{BufRead, IsTerminal};

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tm_shared::auth::password;
use tm_shared::models::Role;
use tm_shared::models::user::check_username;
use tm_shared::store;

pub type CliResult<T = ()> = Result<T, String>;

/// Reads a new password: twice at a terminal, one line from a pipe.
pub fn read_new_password() -> CliResult<SecretString> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Password (again): ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the passwords do not match".into());
        }
        SecretString::from(first)
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let trimmed = line.strip_suffix('\n').unwrap_or(&line);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        SecretString::from(trimmed.to_owned())
    };
    password::check_policy(&password)?;
    Ok(password)
}

async fn hash(password: SecretString) -> CliResult<String> {
    password::hash(password).await.map_err(|e| e.to_string())
}

pub async fn create(db: &PgPool, username: &str, role: Role, password: SecretString) -> CliResult {
    check_username(username)?;
    let phc = hash(password).await?;
    match store::users::create(db, username, &phc, role)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(user) => {
            eprintln!(
                "created {} user {:?} (id {})",
                user.role, user.username, user.id
            );
            Ok(())
        }
        None => Err(format!("a user named {username:?} already exists")),
    }
}

pub async fn set_password(db: &PgPool, username: &str, password: SecretString) -> CliResult {
    let phc = hash(password).await?;
    found(
        store::users::set_password(db, username, &phc).await,
        username,
        "password changed",
    )
}

pub async fn set_role(db: &PgPool, username: &str, role: Role) -> CliResult {
    found(
        store::users::set_role(db, username, role).await,
        username,
        "role changed",
    )
}

pub async fn set_active(db: &PgPool, username: &str, active: bool) -> CliResult {
    let done = if active { "activated" } else { "deactivated" };
    found(
        store::users::set_active(db, username, active).await,
        username,
        done,
    )
}

fn found(result: sqlx::Result<bool>, username: &str, done: &str) -> CliResult {
    match result {
        Ok(true) => {
            eprintln!("{username}: {done}");
            Ok(())
        }
        Ok(false) => Err(format!("no user named {username:?}")),
        Err(e) => Err(e.to_string()),
    }
}

pub async fn list(db: &PgPool) -> CliResult {
    let users = store::users::list(db).await.map_err(|e| e.to_string())?;
    println!(
        "{:<6} {:<30} {:<8} {:<8} created",
        "id", "username", "role", "active"
    );
    for u in users {
        println!(
            "{:<6} {:<30} {:<8} {:<8} {}",
            u.id,
            u.username,
            u.role,
            if u.is_active { "yes" } else { "no" },
            u.created_at.date()
        );
    }
    Ok(())
}

/// A random password for demo accounts: 24 hex characters, 96 bits.
pub fn generated_password() -> SecretString {
    SecretString::from(tm_shared::auth::jwt::random_hex(12))
}

/// Shows a secret once, on the terminal, for the operator to keep.
pub fn reveal(label: &str, secret: &SecretString) {
    println!("  {label}: {}", secret.expose_secret());
}
