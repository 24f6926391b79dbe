//! Sessions you can end: refresh tokens rotate and a reused one ends its
//! session for both holders; logout; every account change ends every
//! session, access tokens included; the owner lists and ends their own.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tm_shared::models::Role;

use std::time::Duration;

use crate::helpers::{PASSWORD, TestApp, TestResponse, auth_settings};

async fn pair(app: &TestApp, username: &str) -> (String, String) {
    let res = app.sign_in(username, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    (
        res.body["access"].as_str().unwrap().to_owned(),
        res.body["refresh"].as_str().unwrap().to_owned(),
    )
}

async fn refresh(app: &TestApp, token: &str) -> TestResponse {
    app.post("/api/token/refresh/", None, json!({"refresh": token}))
        .await
}

async fn works(app: &TestApp, access: &str) -> bool {
    let status = app.get("/api/alerts/", Some(access)).await.status;
    assert!(
        status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
        "{status}"
    );
    status == StatusCode::OK
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refresh_token_rotates_and_the_old_one_is_spent(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (access, first) = pair(&app, "analyst").await;
    let res = refresh(&app, &first).await;
    assert_eq!(res.status, StatusCode::OK);
    let second = res.body["refresh"].as_str().unwrap().to_owned();
    let new_access = res.body["access"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert!(works(&app, &new_access).await);
    // The old access token is of the same session, which goes on.
    assert!(works(&app, &access).await);
    let res = refresh(&app, &second).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reused_refresh_token_ends_the_session_for_both_holders(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, stolen) = pair(&app, "analyst").await;
    // The owner refreshes first...
    let owner = refresh(&app, &stolen).await;
    assert_eq!(owner.status, StatusCode::OK);
    let owners_refresh = owner.body["refresh"].as_str().unwrap().to_owned();
    let owners_access = owner.body["access"].as_str().unwrap().to_owned();
    // ...then the thief presents the copy.
    let thief = refresh(&app, &stolen).await;
    assert_eq!(thief.status, StatusCode::UNAUTHORIZED);
    // Both are out: the owner's new tokens too.
    assert_eq!(
        refresh(&app, &owners_refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(!works(&app, &owners_access).await);
    let why: String =
        sqlx::query_scalar("SELECT ended_because FROM sessions WHERE ended_at IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(why, "refresh_reused");
    // Other sessions of the user are untouched.
    assert!(works(&app, &app.analyst).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn two_refreshes_racing_with_one_token_cannot_both_win(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = pair(&app, "analyst").await;
    let answers = futures_util::future::join_all((0..4).map(|_| refresh(&app, &token))).await;
    let won: Vec<&TestResponse> = answers
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    // Under the session's row lock the first wins; the rest find its token
    // spent, which ends the session.
    assert_eq!(won.len(), 1, "{} refreshes won", won.len());
    assert!(
        answers
            .iter()
            .all(|r| r.status == StatusCode::OK || r.status == StatusCode::UNAUTHORIZED)
    );
    // Whoever won holds a token of a session that the losers' reuse ended.
    for winner in won {
        let next = winner.body["refresh"].as_str().unwrap();
        assert_eq!(refresh(&app, next).await.status, StatusCode::UNAUTHORIZED);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn signing_out_ends_the_session_at_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (access, refresh_token) = pair(&app, "analyst").await;
    let before = app.snapshot().await;
    let res = app
        .post("/api/token/revoke/", None, json!({"refresh": "not.a.jwt"}))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = app.post("/api/token/revoke/", None, json!({})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .post("/api/token/revoke/", None, json!({"refresh": access}))
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNAUTHORIZED,
        "an access token is not a refresh token"
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused sign-out changed nothing"
    );

    let res = app
        .post(
            "/api/token/revoke/",
            None,
            json!({"refresh": refresh_token}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(res.body, Value::Null);
    assert!(!works(&app, &access).await);
    assert_eq!(
        refresh(&app, &refresh_token).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Again: still over, still a 204.
    let res = app
        .post(
            "/api/token/revoke/",
            None,
            json!({"refresh": refresh_token}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    // The user's other session (TestApp's sign-in) goes on.
    assert!(works(&app, &app.analyst).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn every_account_change_ends_every_session_and_access_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    type Change = fn(&PgPool) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    let changes: [(&str, Change); 3] = [
        ("a new password", |db| {
            Box::pin(async {
                tm_shared::accounts::set_password(
                    db,
                    "analyst",
                    secrecy::SecretString::from(PASSWORD),
                    tm_shared::models::audit::AuditVia::Tmctl,
                )
                .await
                .unwrap();
            })
        }),
        ("a new role", |db| {
            Box::pin(async {
                tm_shared::accounts::set_role(
                    db,
                    "analyst",
                    Role::Admin,
                    tm_shared::models::audit::AuditVia::Tmctl,
                )
                .await
                .unwrap();
                tm_shared::accounts::set_role(
                    db,
                    "analyst",
                    Role::Analyst,
                    tm_shared::models::audit::AuditVia::Tmctl,
                )
                .await
                .unwrap();
            })
        }),
        ("a deactivation and reactivation", |db| {
            Box::pin(async {
                tm_shared::accounts::set_active(
                    db,
                    "analyst",
                    false,
                    tm_shared::models::audit::AuditVia::Tmctl,
                )
                .await
                .unwrap();
                tm_shared::accounts::set_active(
                    db,
                    "analyst",
                    true,
                    tm_shared::models::audit::AuditVia::Tmctl,
                )
                .await
                .unwrap();
            })
        }),
    ];
    for (what, change) in changes {
        let (a_access, a_refresh) = pair(&app, "analyst").await;
        let (b_access, _) = pair(&app, "analyst").await;
        let (admin_access, _) = pair(&app, "admin").await;
        change(&app.pool).await;
        assert!(!works(&app, &a_access).await, "{what}: access token");
        assert!(!works(&app, &b_access).await, "{what}: the other session");
        assert_eq!(
            refresh(&app, &a_refresh).await.status,
            StatusCode::UNAUTHORIZED,
            "{what}: refresh token"
        );
        assert!(works(&app, &admin_access).await, "{what}: someone else's");
        // Signing in again works.
        let (fresh, _) = pair(&app, "analyst").await;
        assert!(works(&app, &fresh).await, "{what}: a new sign-in");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn setting_the_same_role_ends_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    tm_shared::accounts::set_role(
        &app.pool,
        "analyst",
        Role::Analyst,
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap();
    assert!(works(&app, &app.analyst).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn owners_list_and_end_their_own_sessions_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (laptop, _) = pair(&app, "analyst").await;
    let res = app.get("/api/users/me/sessions/", Some(&laptop)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["count"], 2, "{}", res.body);
    let results = res.body["results"].as_array().unwrap();
    let current: Vec<&Value> = results.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let other = results.iter().find(|s| s["current"] == false).unwrap();
    for field in ["created_at", "last_used_at", "expires_at"] {
        assert!(other[field].is_string(), "{field}");
    }
    assert!(
        other.get("refresh_jti").is_none(),
        "no token material is shown"
    );

    // The admin's sessions are not the analyst's to see or end.
    let admins: i64 = sqlx::query_scalar("SELECT id FROM sessions WHERE user_id = 1 LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let before = app.snapshot().await;
    let res = app
        .delete(&format!("/api/users/me/sessions/{admins}/"), Some(&laptop))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .delete("/api/users/me/sessions/999999/", Some(&laptop))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app.delete("/api/users/me/sessions/1/", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.snapshot().await, before);
    assert!(works(&app, &app.admin).await);

    // Ending the other session (TestApp's sign-in) stops its token at once.
    let res = app
        .delete(
            &format!("/api/users/me/sessions/{}/", other["id"]),
            Some(&laptop),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(!works(&app, &app.analyst).await);
    assert!(works(&app, &laptop).await);
    let res = app
        .delete(
            &format!("/api/users/me/sessions/{}/", other["id"]),
            Some(&laptop),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::NOT_FOUND,
        "an ended session is gone"
    );
    let res = app.get("/api/users/me/sessions/", Some(&laptop)).await;
    assert_eq!(res.body["count"], 1);

    // Ending the current one signs the caller out.
    let mine = current[0]["id"].clone();
    let res = app
        .delete(&format!("/api/users/me/sessions/{mine}/"), Some(&laptop))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(!works(&app, &laptop).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_ingest_key_has_no_sessions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let key = app.mint_key("fw-1").await;
    let res = app.get("/api/users/me/sessions/", Some(&key)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app.delete("/api/users/me/sessions/1/", Some(&key)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_token_from_before_sessions_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for token_type in ["access", "refresh"] {
        let claims = json!({"sub": "1", "role": "admin", "token_type": token_type, "jti": "x",
                            "iat": now, "exp": now + 600});
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(crate::helpers::SECRET.as_bytes()),
        )
        .unwrap();
        let status = if token_type == "access" {
            app.get("/api/alerts/", Some(&token)).await.status
        } else {
            refresh(&app, &token).await.status
        };
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token_type}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sign_in_still_checking_its_password_when_the_password_changes_gets_nothing(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    // The sign-in reads the credentials, then spends argon2's time on them...
    let read = tm_shared::store::users::credentials(&app.pool, "analyst")
        .await
        .unwrap()
        .unwrap();
    // ...while an operator sets a new password (or deactivates the user)...
    tm_shared::accounts::set_password(
        &app.pool,
        "analyst",
        secrecy::SecretString::from("a brand new password"),
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap();
    // ...and then starts its session, after the change ended the others.
    let lifetimes = tm_shared::store::sessions::Lifetimes {
        idle: Duration::from_secs(3600),
        max: Duration::from_secs(7200),
    };
    let late = tm_shared::store::sessions::start(
        &app.pool,
        read.id,
        read.session_epoch,
        lifetimes,
        None,
        None,
    )
    .await
    .unwrap();
    let role = tm_shared::store::sessions::active_role(&app.pool, read.id, late.id)
        .await
        .unwrap();
    assert_eq!(role, None, "the late session's access tokens are refused");
    let rotated = tm_shared::store::sessions::rotate(
        &app.pool,
        late.id,
        &late.refresh_jti,
        lifetimes.idle,
        None,
    )
    .await
    .unwrap();
    assert_eq!(rotated, tm_shared::store::sessions::Rotation::Over);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_spent_refresh_token_coming_back_after_it_expired_still_ends_the_session(pool: PgPool) {
    let auth = auth_settings(Duration::from_secs(900), Duration::from_secs(3));
    let app = TestApp::with_auth(pool, auth).await;
    let (_, spent) = pair(&app, "analyst").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The thief refreshes with a copy; the owner's token is now spent.
    let thief = refresh(&app, &spent).await;
    assert_eq!(thief.status, StatusCode::OK);
    let thiefs = thief.body["refresh"].as_str().unwrap().to_owned();
    let thiefs_access = thief.body["access"].as_str().unwrap().to_owned();
    // The owner comes back once the spent token has expired.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(refresh(&app, &spent).await.status, StatusCode::UNAUTHORIZED);
    // The thief's newer tokens, still unexpired, are dead.
    assert_eq!(
        refresh(&app, &thiefs).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(!works(&app, &thiefs_access).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn however_often_refreshed_a_session_ends_at_its_maximum_lifetime(pool: PgPool) {
    let mut auth = auth_settings(Duration::from_secs(900), Duration::from_secs(3600));
    auth.session_max_lifetime = Duration::from_secs(2);
    let app = TestApp::with_auth(pool, auth).await;
    let (_, token) = pair(&app, "analyst").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let res = refresh(&app, &token).await;
    assert_eq!(res.status, StatusCode::OK);
    let next = res.body["refresh"].as_str().unwrap().to_owned();
    let access = res.body["access"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(refresh(&app, &next).await.status, StatusCode::UNAUTHORIZED);
    assert!(!works(&app, &access).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_sweep_deletes_sessions_over_for_a_day_and_nothing_else(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (live, _) = pair(&app, "analyst").await;
    sqlx::query(
        "INSERT INTO sessions (user_id, user_epoch, refresh_jti, created_at, expires_at, ends_by, \
                               ended_at, ended_because) VALUES \
         (2, 0, 'a', now() - interval '3 days', now() - interval '2 days', now(), NULL, NULL), \
         (2, 0, 'b', now() - interval '3 days', now() + interval '1 hour', now() + interval '1 hour', \
          now() - interval '2 days', 'logout'), \
         (2, 0, 'c', now() - interval '1 hour', now() - interval '1 hour', now(), NULL, NULL), \
         (2, 0, 'd', now() - interval '1 hour', now() + interval '1 hour', now() + interval '1 hour', \
          now() - interval '1 hour', 'logout')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let swept = tm_shared::store::sessions::sweep(&app.pool).await.unwrap();
    assert_eq!(swept, 2);
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT refresh_jti FROM sessions WHERE refresh_jti IN ('a', 'b', 'c', 'd') ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(left, ["c", "d"], "recently over: kept a day");
    assert!(works(&app, &live).await);
}
