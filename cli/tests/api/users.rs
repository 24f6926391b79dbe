//! Users through the API: admins add users (the first password shown once),
//! change roles, deactivate, reactivate and reset passwords, every change
//! ending the user's sessions; the last active admin stays; anyone changes
//! their own password, throttled like a sign-in.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;
use tm_shared::accounts::{self, AccountError};
use tm_shared::models::Role;
use tm_shared::models::audit::Audit;
use tm_shared::models::event::Poster;
use tm_shared::store::users::{
    self as users_store, Caller, Changer, Changes, Outcome, PasswordOrigin,
};

use crate::helpers::{PASSWORD, TestApp, TestResponse};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn add(app: &TestApp, username: &str, role: &str) -> Value {
    let res = app
        .post(
            "/api/users/",
            Some(&app.admin),
            json!({"username": username, "role": role}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    res.body
}

async fn works(app: &TestApp, access: &str) -> bool {
    let status = app.get("/api/users/me/", Some(access)).await.status;
    assert!(
        status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
        "{status}"
    );
    status == StatusCode::OK
}

/// `POST /api/users/me/password/` from a client at `address`.
async fn change_password_from(
    app: &TestApp,
    address: &str,
    token: &str,
    current: &str,
    new: &str,
) -> TestResponse {
    let ip: std::net::IpAddr = address.parse().unwrap();
    let body = json!({"current": current, "new": new});
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/users/me/password/")
        .header(header::HOST, "testserver")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::new(
            ip, 40000,
        )))
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(request).await
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_adds_a_user_who_signs_in_with_the_password_shown_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let created = add(&app, "carol", "analyst").await;
    assert_eq!(created["username"], "carol");
    assert_eq!(created["role"], "analyst");
    assert_eq!(created["is_active"], true);
    let password = created["password"].as_str().unwrap();
    assert!(password.len() >= 12, "{password}");
    let res = app.sign_in("carol", password).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);

    let id = created["id"].as_i64().unwrap();
    let read = app
        .get(&format!("/api/users/{id}/"), Some(&app.admin))
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["username"], "carol");
    assert!(read.body.get("password").is_none(), "{:?}", read.body);
    let text = read.body.to_string();
    assert!(
        !text.contains(password) && !text.contains("argon2"),
        "{text}"
    );
    // Listed for pickers, with no credentials either.
    let list = app.get("/api/users/", Some(&app.analyst)).await;
    let listed = list.body.to_string();
    assert!(listed.contains("carol") && !listed.contains("argon2"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bad_new_user_is_refused_and_nothing_is_added(pool: PgPool) {
    let app = TestApp::new(pool).await;
    add(&app, "dave", "analyst").await;
    let long = "a".repeat(151);
    let cases = [
        (json!({"username": "dave", "role": "analyst"}), "username"),
        (
            json!({"username": "has space", "role": "analyst"}),
            "username",
        ),
        // A Cyrillic а: looks like "alice", is not.
        (
            json!({"username": "\u{430}lice", "role": "analyst"}),
            "username",
        ),
        (json!({"username": "", "role": "analyst"}), "username"),
        (json!({"username": long, "role": "analyst"}), "username"),
        (json!({"username": 7, "role": "analyst"}), "username"),
        (json!({"role": "analyst"}), "username"),
        (json!({"username": "erin", "role": "root"}), "role"),
        (json!({"username": "erin"}), "role"),
        (
            json!({"username": "erin", "role": "admin", "password": "x"}),
            "password",
        ),
    ];
    for (body, field) in cases {
        let before = app.snapshot().await;
        let res = app
            .post("/api/users/", Some(&app.admin), body.clone())
            .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{body}: {:?}",
            res.body
        );
        assert!(res.body[field].is_array(), "{body}: {:?}", res.body);
        assert_eq!(before, app.snapshot().await, "{body} changed something");
    }
    let taken = app
        .post(
            "/api/users/",
            Some(&app.admin),
            json!({"username": "dave", "role": "admin"}),
        )
        .await;
    assert_eq!(
        taken.body["username"][0],
        "A user with that username already exists."
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_manage_users(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let bob = app.create_user("bob", Role::Analyst).await;
    let key = app.mint_key("fw-1").await;
    let requests = [
        (
            Method::POST,
            "/api/users/".to_owned(),
            json!({"username": "eve", "role": "admin"}),
        ),
        (Method::GET, format!("/api/users/{bob}/"), json!({})),
        (
            Method::PATCH,
            format!("/api/users/{bob}/"),
            json!({"role": "admin"}),
        ),
        (
            Method::POST,
            format!("/api/users/{bob}/password-reset/"),
            json!({}),
        ),
    ];
    for (method, path, body) in requests {
        for (who, token, expected) in [
            ("anonymous", None, StatusCode::UNAUTHORIZED),
            ("analyst", Some(app.analyst.as_str()), StatusCode::FORBIDDEN),
            ("key", Some(key.as_str()), StatusCode::FORBIDDEN),
        ] {
            let before = app.snapshot().await;
            let res = app.json(method.clone(), &path, token, body.clone()).await;
            assert_eq!(res.status, expected, "{method} {path} as {who}");
            assert_eq!(before, app.snapshot().await, "{method} {path} as {who}");
        }
    }
    let me = app
        .post(
            "/api/users/me/password/",
            Some(&key),
            json!({"current": PASSWORD, "new": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(me.status, StatusCode::FORBIDDEN);
    let anonymous = app
        .post(
            "/api/users/me/password/",
            None,
            json!({"current": PASSWORD, "new": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_new_role_ends_the_users_sessions_and_the_same_role_ends_none(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let bob = app.create_user("bob", Role::Analyst).await;
    let token = app.login("bob").await;
    let path = format!("/api/users/{bob}/");

    let same = app
        .patch(&path, Some(&app.admin), json!({"role": "analyst"}))
        .await;
    assert_eq!(same.status, StatusCode::OK);
    assert!(works(&app, &token).await, "nothing changed, nothing ended");
    let empty = app.patch(&path, Some(&app.admin), json!({})).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(works(&app, &token).await);

    let promoted = app
        .patch(&path, Some(&app.admin), json!({"role": "admin"}))
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{:?}", promoted.body);
    assert_eq!(promoted.body["role"], "admin");
    assert!(!works(&app, &token).await, "the analyst's token is over");
    let again = app.login("bob").await;
    let me = app.get("/api/users/me/", Some(&again)).await;
    assert_eq!(me.body["role"], "admin");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deactivated_user_is_signed_out_and_a_reactivated_one_signs_in_anew(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let bob = app.create_user("bob", Role::Analyst).await;
    let token = app.login("bob").await;
    let path = format!("/api/users/{bob}/");

    let off = app
        .patch(&path, Some(&app.admin), json!({"is_active": false}))
        .await;
    assert_eq!(off.status, StatusCode::OK);
    assert_eq!(off.body["is_active"], false);
    assert!(!works(&app, &token).await);
    assert_eq!(
        app.sign_in("bob", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );

    let on = app
        .patch(&path, Some(&app.admin), json!({"is_active": true}))
        .await;
    assert_eq!(on.body["is_active"], true);
    assert!(!works(&app, &token).await, "reactivation revives nothing");
    assert!(works(&app, &app.login("bob").await).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_changes_are_refused_and_change_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let bob = app.create_user("bob", Role::Analyst).await;
    let path = format!("/api/users/{bob}/");
    for (body, field) in [
        (json!({"role": "owner"}), "role"),
        (json!({"role": null}), "role"),
        (json!({"is_active": "false"}), "is_active"),
        (json!({"is_active": 0}), "is_active"),
        (json!({"password": "x"}), "password"),
    ] {
        let before = app.snapshot().await;
        let res = app.patch(&path, Some(&app.admin), body.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(res.body[field].is_array(), "{body}: {:?}", res.body);
        assert_eq!(before, app.snapshot().await, "{body}");
    }
    // A read-only field sent back as read is ignored.
    let res = app
        .patch(&path, Some(&app.admin), json!({"username": "mallory"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["username"], "bob");
    for missing in ["/api/users/999999/", "/api/users/0/", "/api/users/x/"] {
        let res = app
            .patch(missing, Some(&app.admin), json!({"role": "admin"}))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{missing}");
        let res = app.get(missing, Some(&app.admin)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_last_active_admin_can_be_neither_demoted_nor_deactivated(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let me = app.get("/api/users/me/", Some(&app.admin)).await;
    let admin = me.body["id"].as_i64().unwrap();
    let path = format!("/api/users/{admin}/");
    for body in [
        json!({"role": "analyst"}),
        json!({"is_active": false}),
        json!({"role": "analyst", "is_active": false}),
    ] {
        let before = app.snapshot().await;
        let res = app.patch(&path, Some(&app.admin), body.clone()).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{body}: {:?}", res.body);
        assert!(res.body["detail"].is_string());
        assert_eq!(before, app.snapshot().await, "{body}");
    }
    assert!(works(&app, &app.admin).await);
    // Operators are held to it too.
    let err = accounts::set_role(
        &app.pool,
        "admin",
        Role::Analyst,
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AccountError::LastAdmin), "{err}");
    // An inactive admin does not count: it cannot sign in.
    let idle = app.create_user("idle-admin", Role::Admin).await;
    accounts::set_active(
        &app.pool,
        "idle-admin",
        false,
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap();
    let res = app
        .patch(&path, Some(&app.admin), json!({"role": "analyst"}))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    // With a second active admin, the first may step down.
    let res = app
        .patch(
            &format!("/api/users/{idle}/"),
            Some(&app.admin),
            json!({"is_active": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .patch(&path, Some(&app.admin), json!({"role": "analyst"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn two_admins_demoting_each_other_at_once_leave_one_admin(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = accounts::find(&app.pool, "admin").await.unwrap().id;
    let second = app.create_user("admin-2", Role::Admin).await;
    let demote = Changes {
        role: Some(Role::Analyst),
        ..Changes::default()
    };
    for round in 0..5 {
        let (a, b) = tokio::join!(
            accounts::update(
                &app.pool,
                first,
                demote,
                tm_shared::store::users::Changer::operator(
                    tm_shared::models::audit::AuditVia::Tmctl
                )
            ),
            accounts::update(
                &app.pool,
                second,
                demote,
                tm_shared::store::users::Changer::operator(
                    tm_shared::models::audit::AuditVia::Tmctl
                )
            ),
        );
        let refused = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(AccountError::LastAdmin)))
            .count();
        assert_eq!(refused, 1, "round {round}: {a:?} {b:?}");
        let admins: i64 =
            sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin' AND is_active")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(admins, 1, "round {round}");
        let promote = Changes {
            role: Some(Role::Admin),
            ..Changes::default()
        };
        for id in [first, second] {
            accounts::update(
                &app.pool,
                id,
                promote,
                tm_shared::store::users::Changer::operator(
                    tm_shared::models::audit::AuditVia::Tmctl,
                ),
            )
            .await
            .unwrap();
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reset_password_is_shown_once_and_ends_the_users_sessions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let bob = app.create_user("bob", Role::Analyst).await;
    let token = app.login("bob").await;
    // Locked out from an address by someone guessing...
    for _ in 0..5 {
        app.sign_in_from("198.51.100.7", "bob", "wrong guess").await;
    }
    assert_eq!(
        app.sign_in_from("198.51.100.7", "bob", PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );

    let res = app
        .post(
            &format!("/api/users/{bob}/password-reset/"),
            Some(&app.admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.headers[header::CACHE_CONTROL], "no-store");
    let password = res.body["password"].as_str().unwrap().to_owned();
    assert!(!works(&app, &token).await);
    assert_eq!(
        app.sign_in("bob", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // ...and the reset lifts the lockout.
    let res = app.sign_in_from("198.51.100.7", "bob", &password).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);

    let missing = app
        .post(
            "/api/users/999999/password-reset/",
            Some(&app.admin),
            json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_user_changes_their_own_password_and_is_signed_out_everywhere(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let other_session = app.login("analyst").await;
    let res = change_password_from(&app, "192.0.2.1", &app.analyst, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{:?}", res.body);
    assert!(!works(&app, &app.analyst).await);
    assert!(!works(&app, &other_session).await);
    assert_eq!(
        app.sign_in("analyst", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in("analyst", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bad_password_change_is_refused_and_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let cases = [
        (
            json!({"current": "not it at all", "new": NEW_PASSWORD}),
            "current",
        ),
        (json!({"current": PASSWORD, "new": "short"}), "new"),
        (json!({"current": PASSWORD, "new": PASSWORD}), "new"),
        (json!({"current": PASSWORD}), "new"),
        (json!({"new": NEW_PASSWORD}), "current"),
        (
            json!({"current": PASSWORD, "new": 12345678901234_i64}),
            "new",
        ),
        (
            json!({"current": PASSWORD, "new": NEW_PASSWORD, "old": "x"}),
            "old",
        ),
    ];
    for (body, field) in cases {
        let before = app.snapshot().await;
        let res = app
            .post("/api/users/me/password/", Some(&app.analyst), body.clone())
            .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{body}: {:?}",
            res.body
        );
        assert!(res.body[field].is_array(), "{body}: {:?}", res.body);
        assert!(!res.body.to_string().contains(PASSWORD));
        assert_eq!(before, app.snapshot().await, "{body}");
    }
    assert!(works(&app, &app.analyst).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn guessing_the_current_password_is_throttled_like_signing_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let attacker = "203.0.113.9";
    for _ in 0..5 {
        let res =
            change_password_from(&app, attacker, &app.analyst, "a wrong guess!", NEW_PASSWORD)
                .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    }
    let res = change_password_from(&app, attacker, &app.analyst, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", res.body);
    assert!(res.headers.contains_key(header::RETRY_AFTER));
    // The same counts as a sign-in: that address is locked out for the name.
    assert_eq!(
        app.sign_in_from(attacker, "analyst", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The password did not change, and the owner elsewhere is not affected.
    assert_eq!(
        app.sign_in_from("192.0.2.44", "analyst", PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
    let res = change_password_from(&app, "192.0.2.44", &app.analyst, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    // The owner's change lifts nobody else's lockout: the attacker's stays.
    assert_eq!(
        app.sign_in_from(attacker, "analyst", NEW_PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_resets_others_passwords_not_their_own(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let me = app.get("/api/users/me/", Some(&app.admin)).await;
    let id = me.body["id"].as_i64().unwrap();
    let before = app.snapshot().await;
    let res = app
        .post(
            &format!("/api/users/{id}/password-reset/"),
            Some(&app.admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(before, app.snapshot().await);
    assert!(works(&app, &app.admin).await);
}

/// The caller of the admin's own session, as the API would pass it.
async fn admin_caller(app: &TestApp, token: &str) -> Caller {
    let sessions = app.get("/api/users/me/sessions/", Some(token)).await;
    let current = sessions.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let me = app.get("/api/users/me/", Some(token)).await;
    Caller {
        id: me.body["id"].as_i64().unwrap(),
        session: current,
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_change_by_an_admin_who_has_since_lost_the_role_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let bob = app.create_user("bob", Role::Analyst).await;
    app.create_user("admin-2", Role::Admin).await;
    let token = app.login("admin-2").await;
    let caller = admin_caller(&app, &token).await;
    let caller = Changer {
        caller: Some(caller),
        audit: Audit::api(Poster::User(caller.id), None),
    };
    // The request was let in; then the caller was demoted.
    accounts::set_role(
        &app.pool,
        "admin-2",
        Role::Analyst,
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap();
    let before = app.snapshot().await;
    let promote = Changes {
        role: Some(Role::Admin),
        ..Changes::default()
    };
    let err = accounts::update(&app.pool, bob, promote, caller)
        .await
        .unwrap_err();
    assert!(matches!(err, AccountError::CallerGone), "{err}");
    let created = users_store::create(&app.pool, "eve", "x", Role::Admin, caller)
        .await
        .unwrap();
    assert!(matches!(created, Outcome::CallerGone), "{created:?}");
    let reset =
        users_store::set_password(&app.pool, bob, "x", PasswordOrigin::Reset { by: caller })
            .await
            .unwrap();
    assert!(matches!(reset, Outcome::CallerGone), "{reset:?}");
    assert_eq!(before, app.snapshot().await);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_own_password_change_loses_to_a_reset_made_meanwhile(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let bob = app.create_user("bob", Role::Analyst).await;
    let token = app.login("bob").await;
    let session = admin_caller(&app, &token).await.session;
    let read = users_store::credentials(&app.pool, "bob")
        .await
        .unwrap()
        .unwrap();
    // While bob's change hashes, an admin resets his password.
    accounts::set_password(
        &app.pool,
        "bob",
        "an admin's new password".into(),
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap();
    let own = PasswordOrigin::Own {
        session,
        epoch: read.session_epoch,
        audit: Audit::api(Poster::User(bob), None),
    };
    let outcome = users_store::set_password(&app.pool, bob, "a thief's hash", own)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::CallerGone), "{outcome:?}");
    let res = app.sign_in("bob", "an admin's new password").await;
    assert_eq!(res.status, StatusCode::OK, "the reset stands");
}

#[sqlx::test(migrations = "../migrations")]
async fn me_is_the_caller_and_not_a_user_id(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let me = app.get("/api/users/me/", Some(&app.admin)).await;
    assert_eq!(me.body["username"], "admin");
    let patched = app
        .patch(
            "/api/users/me/",
            Some(&app.admin),
            json!({"role": "analyst"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::METHOD_NOT_ALLOWED);
}
