//! `tmctl user ...`: accounts, managed by operators. Passwords come from a
//! prompt or standard input, never from the command line, where `ps` and
//! shell history would keep them.

use std::io::{BufRead, IsTerminal};

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tm_shared::accounts;
use tm_shared::models::Role;
use tm_shared::models::audit::AuditVia;
use tm_shared::store;
use tm_shared::store::users::Changer;

/// Operator-facing failures, with their causes.
pub type CliResult<T = ()> = anyhow::Result<T>;

/// Reads a new password: twice at a terminal, one line from a pipe.
pub fn read_new_password() -> CliResult<SecretString> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        if first != again {
            return Err(anyhow::anyhow!("the passwords do not match"));
        }
        Ok(SecretString::from(first))
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        let trimmed = line.strip_suffix('\n').unwrap_or(&line);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        Ok(SecretString::from(trimmed.to_owned()))
    }
}

pub async fn create(db: &PgPool, username: &str, role: Role, password: SecretString) -> CliResult {
    let user = accounts::create(
        db,
        username,
        role,
        password,
        Changer::operator(AuditVia::Tmctl),
    )
    .await?;
    eprintln!(
        "created {} user {:?} (id {})",
        user.role, user.username, user.id
    );
    Ok(())
}

/// Reports a change to the user named `username`.
pub fn changed(
    result: Result<(), accounts::AccountError>,
    username: &str,
    what: &str,
) -> CliResult {
    result?;
    eprintln!("{username}: {what}");
    Ok(())
}

pub async fn list(db: &PgPool) -> CliResult {
    let users = store::users::list(db).await?;
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

/// Shows a secret once, on the terminal, for the operator to keep.
pub fn reveal(label: &str, secret: &SecretString) {
    println!("  {label}: {}", secret.expose_secret());
}
