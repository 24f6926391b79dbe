//! What a triage request names, resolved against the database before
//! anything is written: usernames become user ids, and a name that is no
//! user is a 400 naming the field.

use sqlx::PgPool;

use crate::error::ApiError;
use serde_json::json;

use crate::auth::AuthUser;
use crate::models::alert::{AlertFilter, AlertUpdate, Assignees};
use crate::models::bulk::BulkRequest;
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

/// The store's change for a bulk body; an assignee that is no active user
/// is a 400 under `set`.
pub async fn bulk_change(db: &PgPool, request: &BulkRequest) -> Result<Change, ApiError> {
    let assignee = match &request.set.assignee {
        None => None,
        Some(None) => Some(None),
        Some(Some(name)) => match store::users::active_by_name(db, name.as_str()).await? {
            Some(user) => Some(Some(user.id)),
            None => {
                return Err(ApiError::ItemValidation(
                    json!({"set": {"assignee": [no_active_user(name.as_str())]}}),
                ));
            }
        },
    };
    Ok(Change {
        status: request.set.status,
        assignee,
        comment: request.comment.as_ref().map(|c| c.as_str().to_owned()),
    })
}

/// A filter's usernames resolved (errors under `filter`).
pub async fn bulk_filter(
    db: &PgPool,
    filter: &mut AlertFilter,
    user: &AuthUser,
) -> Result<(), ApiError> {
    let mut errors = FieldErrors::new();
    if let Some(assignees) = &mut filter.assignee {
        resolve_assignees(db, assignees, user.id, &mut errors).await?;
    }
    if !errors.is_empty() {
        return Err(ApiError::ItemValidation(json!({"filter": errors.as_map()})));
    }
    Ok(())
}

/// How often a bulk call that lost a deadlock (to another writer locking
/// the same alerts in another order) is tried; nothing was written by it.
const ATTEMPTS: u32 = 3;

pub async fn retry_deadlocks<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = sqlx::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if store::is_deadlock(&e) && attempt < ATTEMPTS => {
                tracing::info!(error = %e, attempt, "a bulk change lost a deadlock; trying again");
                attempt += 1;
            }
            result => return Ok(result?),
        }
    }
}
