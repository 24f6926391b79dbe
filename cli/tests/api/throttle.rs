//! Password guessing: after N failures for a username within a window,
//! sign-ins for it are refused with 429 and `Retry-After`, whether or not
//! the user exists; after the lockout the right password works again.

use std::time::Duration;

use axum::http::{StatusCode, header};
use serde_json::json;
use sqlx::PgPool;
use tm_shared::store::throttle::ThrottleRule;

use crate::helpers::{PASSWORD, TestApp, auth_settings};

async fn with_rule(pool: PgPool, rule: ThrottleRule) -> TestApp {
    let mut auth = auth_settings(Duration::from_secs(900), Duration::from_secs(3600));
    auth.throttle = rule;
    TestApp::with_auth(pool, auth).await
}

#[sqlx::test(migrations = "../migrations")]
async fn five_failures_lock_a_username_even_against_the_right_password(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for attempt in 1..=5 {
        let res = app.sign_in("admin", "wrong guess").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let res = app.sign_in("admin", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(
        res.body,
        json!({"detail": format!("Request was throttled. Expected available in {retry} seconds.")})
    );
    // Only that username: others sign in as usual.
    assert_eq!(
        app.sign_in("analyst", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_username_is_throttled_exactly_like_a_real_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut answers = Vec::new();
    for username in ["admin", "no-such-user"] {
        for _ in 1..=5 {
            app.sign_in(username, "wrong guess").await;
        }
        let res = app.sign_in(username, "wrong guess").await;
        answers.push((
            res.status,
            res.body["detail"]
                .as_str()
                .unwrap()
                .starts_with("Request was throttled"),
        ));
    }
    assert_eq!(answers[0], (StatusCode::TOO_MANY_REQUESTS, true));
    assert_eq!(
        answers[0], answers[1],
        "the throttle must not tell who exists"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn after_the_lockout_the_right_password_works_and_the_count_starts_over(pool: PgPool) {
    let rule = ThrottleRule {
        max_failures: 2,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(2),
    };
    let app = with_rule(pool, rule).await;
    app.sign_in("admin", "wrong guess").await;
    app.sign_in("admin", "wrong guess").await;
    assert_eq!(
        app.sign_in("admin", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(app.sign_in("admin", PASSWORD).await.status, StatusCode::OK);
    // The success cleared the failures: one more slip is a 401, not a lock.
    assert_eq!(
        app.sign_in("admin", "wrong guess").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.sign_in("admin", PASSWORD).await.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn failures_spread_beyond_the_window_do_not_lock(pool: PgPool) {
    let rule = ThrottleRule {
        max_failures: 2,
        window: Duration::from_secs(1),
        lockout: Duration::from_secs(60),
    };
    let app = with_rule(pool, rule).await;
    app.sign_in("admin", "wrong guess").await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        app.sign_in("admin", "wrong guess").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.sign_in("admin", PASSWORD).await.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn parallel_guesses_get_no_more_tries_than_the_limit(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let guesses = (0..20).map(|_| app.sign_in("admin", "wrong guess"));
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 15));
}

#[sqlx::test(migrations = "../migrations")]
async fn an_operator_setting_a_new_password_lifts_the_lockout(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for _ in 0..6 {
        app.sign_in("analyst", "wrong guess").await;
    }
    assert_eq!(
        app.sign_in("analyst", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    tm_shared::accounts::set_password(
        &app.pool,
        "analyst",
        secrecy::SecretString::from("a fresh password"),
    )
    .await
    .unwrap();
    assert_eq!(
        app.sign_in("analyst", "a fresh password").await.status,
        StatusCode::OK
    );
}
