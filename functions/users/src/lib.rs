//! `/api/users/`: accounts. Admins add users, change their role, deactivate
//! them and reset their passwords; admins and analysts read the list (for
//! pickers); anyone signed in reads their own, changes their own password
//! and sees and ends their own sessions. `tmctl user` does the same for
//! operators, through the same `accounts` functions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use tm_shared::accounts::{self, AccountError};
use tm_shared::auth::{AdminUser, AuthUser, password};
use tm_shared::http::body::JsonObject;
use tm_shared::http::client::ClientAddress;
use tm_shared::http::cursor::Position;
use tm_shared::http::pagination::{Lister, RequestUrl};
use tm_shared::http::path::ResourceId;
use tm_shared::models::audit::AuditAction;
use tm_shared::models::session::Session;
use tm_shared::models::user::{
    CreatedUser, NewUser, PasswordChange, ResetPassword, ShownPassword, User, UserChanges,
    UserSummary,
};
use tm_shared::serde_json::json;
use tm_shared::store::throttle::{self, ThrottleAddress};
use tm_shared::store::users::{Caller, Changer, Changes, PasswordOrigin};
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store};

const LIST: &str = "/api/users/";
const DETAIL: &str = "/api/users/{id}/";
const RESET: &str = "/api/users/{id}/password-reset/";
const ME: &str = "/api/users/me/";
const MY_PASSWORD: &str = "/api/users/me/password/";
const MY_SESSIONS: &str = "/api/users/me/sessions/";
const MY_SESSION: &str = "/api/users/me/sessions/{id}/";

tm_shared::api! {
    tag: "users",
    schemas: [UserSummary, User, CreatedUser, ResetPassword, Session],
    LIST => {
        get list for AnyUser {
            summary: "List users, in the order they were added",
            description: "Admins and analysts, for pickers: no credentials, inactive users included (with `is_active`).",
            params: page_params().into(),
            ok: (200, "A page of users.", Some(page_of::<UserSummary>())),
            errors: &[400, 404],
        },
        post create for Admin {
            summary: "Add a user",
            description: "Admins only. The first password is generated and shown in this answer only; \
                the user changes it at `POST /api/users/me/password/`. A username is never reused: \
                a user who leaves is deactivated, not deleted.",
            body: Some(NewUser::schema()),
            ok: (201, "The user, with their first password shown once.", Some(schema_ref::<CreatedUser>())),
        },
    },
    DETAIL => {
        get read for Admin {
            summary: "Read a user",
            description: "Admins only.",
            params: vec![id_param("user")],
            ok: (200, "The user.", Some(schema_ref::<User>())),
            errors: &[404],
        },
        patch update for Admin {
            summary: "Change a user's role or deactivate them",
            description: "Admins only. A new role or a deactivation ends every session of the user at once, \
                access tokens included; a reactivation revives none (the user signs in again) and lifts \
                the user's sign-in lockouts. The last active admin can be neither demoted nor deactivated (409), \
                whoever asks, themselves included.",
            params: vec![id_param("user")],
            body: Some(UserChanges::schema()),
            ok: (200, "The user as they are now.", Some(schema_ref::<User>())),
            errors: &[404, 409],
        },
    },
    RESET => {
        post reset_password for Admin {
            summary: "Reset a user's password",
            description: "Admins only, for a user who lost theirs. A new password is generated and shown in this \
                answer only; the old one stops working, every session of the user ends and their sign-in \
                lockouts are lifted. No body. An admin's own password is not theirs to reset (403): it changes \
                only with the current one, at `POST /api/users/me/password/`.",
            params: vec![id_param("user")],
            ok: (200, "The new password, shown once.", Some(schema_ref::<ResetPassword>())),
            errors: &[404],
        },
    },
    ME => {
        get me for AnyUser {
            summary: "The signed-in user",
            description: "Any signed-in user: who the token is for, and their role now.",
            ok: (200, "The user.", Some(schema_ref::<UserSummary>())),
        },
    },
    MY_PASSWORD => {
        post change_password for AnyUser {
            summary: "Change my password",
            description: "Any signed-in user, their own. A wrong `current` is counted like a failed sign-in, \
                from the same address for the same username, and locks out the same way (429). \
                On success every session of the caller ends, this one included: sign in again with the new password. \
                If the account changed meanwhile (an admin's reset, a deactivation, this session ended), nothing changes and the answer is a 401.",
            body: Some(PasswordChange::schema()),
            ok: (204, "Changed; every session of the caller has ended.", None),
            errors: &[429],
        },
    },
    MY_SESSIONS => {
        get sessions for AnyUser {
            summary: "List my live sessions, newest first",
            description: "Any signed-in user, their own: each sign-in that has not ended or expired, where it came from, and which one is asking (`current`).",
            params: page_params().into(),
            ok: (200, "A page of sessions.", Some(page_of::<Session>())),
            errors: &[400, 404],
        },
    },
    MY_SESSION => {
        delete end_session for AnyUser {
            summary: "End one of my sessions",
            description: "Any signed-in user, their own live sessions only (another user's is a 404). Its refresh and access tokens stop working at once; ending the current one signs the caller out.",
            params: vec![id_param("session")],
            ok: (204, "Ended.", None),
            errors: &[404],
        },
    },
}

/// The routes as the function serves them, with the shared fallback and log.
pub fn router(state: AppState) -> Router {
    finish_router(routes(), state)
}

async fn list(
    State(state): State<AppState>,
    _: AuthUser,
    url: RequestUrl,
) -> Result<Response, ApiError> {
    let lister = Lister::new(&url, &state.cursor, "id");
    let mut errors = FieldErrors::new();
    let paging = lister.paging(&[], &mut errors);
    errors.into_result()?;
    let db = &state.db;
    lister
        .respond(
            paging?,
            store::users::count(db),
            |window| store::users::summaries(db, window),
            |u: &UserSummary| Position::id(u.id),
        )
        .await
}

/// The admin asking, for the change to check again when it is made.
/// The admin making an account change, rechecked in its transaction.
fn caller(admin: &AdminUser) -> Changer {
    Changer {
        caller: Some(Caller {
            id: admin.0.id,
            session: admin.0.session,
        }),
        audit: admin.0.audit(),
    }
}

async fn create(
    State(state): State<AppState>,
    admin: AdminUser,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let new = NewUser::parse(&body)?;
    let password = accounts::generated_password();
    let user = accounts::create(
        &state.db,
        new.username.as_str(),
        new.role,
        password.clone(),
        caller(&admin),
    )
    .await
    .map_err(|e| account_error(e, "username"))?;
    tracing::info!(user = user.id, role = %user.role, by = admin.0.id, "user added");
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user,
            password: ShownPassword(password),
        }),
    ))
}

async fn read(
    State(state): State<AppState>,
    _: AdminUser,
    ResourceId(id): ResourceId,
) -> Result<Json<User>, ApiError> {
    let user = store::users::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(user))
}

async fn update(
    State(state): State<AppState>,
    admin: AdminUser,
    ResourceId(id): ResourceId,
    JsonObject(body): JsonObject,
) -> Result<Json<User>, ApiError> {
    let changes = UserChanges::parse(&body)?;
    let changes = Changes {
        role: changes.role,
        is_active: changes.is_active,
    };
    let (user, ended) = accounts::update(&state.db, id, changes, caller(&admin))
        .await
        .map_err(|e| account_error(e, "role"))?;
    tracing::info!(
        user = user.id,
        role = %user.role,
        is_active = user.is_active,
        sessions_ended = ended.map(|why| why.as_str()),
        by = admin.0.id,
        "user changed"
    );
    Ok(Json(user))
}

async fn reset_password(
    State(state): State<AppState>,
    admin: AdminUser,
    ResourceId(id): ResourceId,
) -> Result<Json<ResetPassword>, ApiError> {
    if id == admin.0.id {
        // A stolen admin token must not buy a password that outlives it:
        // one's own password changes only with the current one.
        return Err(ApiError::Forbidden);
    }
    let password = accounts::generated_password();
    let change = PasswordOrigin::Reset { by: caller(&admin) };
    accounts::change_password(&state.db, id, password.clone(), change)
        .await
        .map_err(|e| account_error(e, "password"))?;
    tracing::info!(
        user = id,
        by = admin.0.id,
        "password reset: the user's sessions ended"
    );
    Ok(Json(ResetPassword {
        password: ShownPassword(password),
    }))
}

async fn change_password(
    State(state): State<AppState>,
    caller: AuthUser,
    ClientAddress(client): ClientAddress,
    JsonObject(body): JsonObject,
) -> Result<StatusCode, ApiError> {
    let PasswordChange { current, new } = PasswordChange::parse(&body)?;
    let (current, new) = (current.into_secret(), new.into_secret());
    // What is wrong with the new password is said before the current one
    // is checked: it tells nothing about the account, and counts nowhere.
    if let Err(message) = password::check_policy(&new) {
        return Err(field_error("new", message));
    }
    if new.expose_secret() == current.expose_secret() {
        return Err(field_error(
            "new",
            "The new password must differ from the current one.",
        ));
    }
    // The extractor has just seen the user active; gone since is a 401.
    let me = store::users::summary(&state.db, caller.id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let address = ThrottleAddress::of(client);
    // Counted before the password is checked, as a sign-in is, and against
    // the same counts: guessing here is guessing there.
    let attempt = throttle::attempt(&state.db, &address, &me.username, &state.throttle).await?;
    if let Some(wait) = attempt.wait {
        tracing::warn!(
            client = address.as_str(),
            "password change refused: throttled"
        );
        let retry_after = throttle::retry_after_seconds(wait);
        let detail = json!({"during": "password_change", "retry_after": retry_after});
        let action = AuditAction::SignInLockedOut;
        store::audit::sign_in_refused(&state.db, action, &me.username, &caller.audit(), detail)
            .await?;
        return Err(ApiError::Throttled(retry_after));
    }
    let stored = store::users::credentials(&state.db, &me.username)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    // The change applies only while the account is as read here: an
    // admin's reset, a deactivation or this session's end meanwhile wins.
    let change = PasswordOrigin::Own {
        session: caller.session,
        epoch: stored.session_epoch,
        audit: caller.audit(),
    };
    if !password::verify(current, Some(stored.password_hash)).await? {
        tracing::info!(
            client = address.as_str(),
            "password change refused: wrong current password"
        );
        let detail = json!({"during": "password_change"});
        let action = AuditAction::SignInFailed;
        store::audit::sign_in_refused(&state.db, action, &me.username, &caller.audit(), detail)
            .await?;
        return Err(field_error(
            "current",
            "The current password is not correct.",
        ));
    }
    // Forgets this address's failures for the name; an attacker's
    // lockout elsewhere stays.
    throttle::succeeded(&state.db, &address, &me.username, &attempt).await?;
    accounts::change_password(&state.db, me.id, new, change)
        .await
        .map_err(|e| account_error(e, "new"))?;
    tracing::info!(user = me.id, "password changed: the user's sessions ended");
    Ok(StatusCode::NO_CONTENT)
}

fn field_error(field: &str, message: impl Into<String>) -> ApiError {
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    errors.into()
}

/// An account refusal as the API answers it; `field` is the body's field
/// a policy message belongs to.
fn account_error(error: AccountError, field: &str) -> ApiError {
    match error {
        AccountError::Invalid(message) => field_error(field, message),
        AccountError::Exists(_) => field_error(field, "A user with that username already exists."),
        AccountError::NoSuchUser(_) | AccountError::NoSuchId(_) => ApiError::NotFound,
        AccountError::CallerGone => ApiError::InvalidToken,
        AccountError::LastAdmin => ApiError::Conflict(
            "This is the last active admin: make another user an admin before demoting or deactivating this one."
                .to_owned(),
        ),
        AccountError::Db(e) => e.into(),
        AccountError::Hashing(e) => e,
    }
}

async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<UserSummary>, ApiError> {
    // The extractor has just seen the user active; gone since is a 401.
    let me = store::users::summary(&state.db, user.id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    Ok(Json(me))
}

async fn sessions(
    State(state): State<AppState>,
    user: AuthUser,
    url: RequestUrl,
) -> Result<Response, ApiError> {
    let lister = Lister::new(&url, &state.cursor, "-id");
    let mut errors = FieldErrors::new();
    let paging = lister.paging(&[], &mut errors);
    errors.into_result()?;
    let db = &state.db;
    lister
        .respond(
            paging?,
            store::sessions::count_live(db, user.id),
            |window| async move {
                let mut page = store::sessions::live(db, user.id, window).await?;
                for session in &mut page {
                    session.current = session.id == user.session;
                }
                Ok(page)
            },
            |s: &Session| Position::id(s.id),
        )
        .await
}

async fn end_session(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> Result<StatusCode, ApiError> {
    if store::sessions::end_own(&state.db, user.id, id, user.address).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
