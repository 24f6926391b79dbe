//! What a triage request names, resolved against the database before
//! anything is written: usernames become user ids, and a name that is no
//! user is a 400 naming the field.

use sqlx::PgPool;

use crate::error::ApiError;
use crate::models::alert::{AlertUpdate, Assignees};
use crate::models::fields::FieldErrors;
use crate::store;
use crate::store::triage::Change;

/// The store's change for a PATCH body. The assignee must be an active user.
pub async fn change(db: &PgPool, update: AlertUpdate) -> Result<Change, ApiError> {
    let AlertUpdate {
        status,
        assignee,
        comment,
    } = update;
    let assignee = match assignee {
        None => None,
        Some(None) => Some(None),
        Some(Some(name)) => match store::users::active_by_name(db, name.as_str()).await? {
            Some(user) => Some(Some(user.id)),
            None => {
                let mut errors = FieldErrors::new();
                errors.add("assignee", no_active_user(name.as_str()));
                return Err(ApiError::Validation(errors));
            }
        },
    };
    Ok(Change {
        status,
        assignee,
        comment: comment.map(|c| c.into_inner()),
    })
}

pub fn no_active_user(name: &str) -> String {
    format!("No active user is named \"{name}\".")
}

/// Fills `assignees.ids`: `me` is user `me`, and each username its user's id
/// (inactive users too: their alerts are still theirs). Unknown names are
/// added to `errors`.
pub async fn resolve_assignees(
    db: &PgPool,
    assignees: &mut Assignees,
    me: i64,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    if assignees.me {
        assignees.ids.push(me);
    }
    if assignees.usernames.is_empty() {
        return Ok(());
    }
    let found = store::users::ids_by_name(db, &assignees.usernames).await?;
    for name in &assignees.usernames {
        match found.iter().find(|u| &u.username == name) {
            Some(user) => assignees.ids.push(user.id),
            None => errors.add("assignee", format!("No user is named \"{name}\".")),
        }
    }
    Ok(())
}
