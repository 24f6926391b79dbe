//! `Idempotency-Key`: a retry gets the first answer and stores nothing.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, TestResponse};

fn body(description: &str) -> String {
    json!({"source": "ids-1", "event_type": "malware", "severity": "High", "description": description})
        .to_string()
}

async fn post(app: &TestApp, path: &str, token: &str, key: &str, body: &str) -> TestResponse {
    let bearer = format!("Bearer {token}");
    app.json_with(
        Method::POST,
        path,
        &[("Authorization", &bearer), ("Idempotency-Key", key)],
        body,
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_retry_gets_the_first_answer_and_stores_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = post(&app, "/api/events/", &app.admin, "retry-1", &body("x")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let before = app.snapshot().await;
    let again = post(&app, "/api/events/", &app.admin, "retry-1", &body("x")).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.headers["content-type"], "application/json");
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.rows("events").await, 1);
    assert_eq!(app.rows("alerts").await, 1);

    // Batches too.
    let batch = json!({"events": [serde_json::from_str::<serde_json::Value>(&body("y")).unwrap()]})
        .to_string();
    let first = post(&app, "/api/events/batch/", &app.admin, "retry-2", &batch).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = post(&app, "/api/events/batch/", &app.admin, "retry-2", &batch).await;
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(app.rows("events").await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_same_key_with_another_request_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    post(&app, "/api/events/", &app.admin, "k", &body("x")).await;
    let before = app.snapshot().await;
    let other = post(&app, "/api/events/", &app.admin, "k", &body("changed")).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        other.body["detail"]
            .as_str()
            .unwrap()
            .contains("different request")
    );
    let batch = json!({"events": [serde_json::from_str::<serde_json::Value>(&body("x")).unwrap()]})
        .to_string();
    let other_path = post(&app, "/api/events/batch/", &app.admin, "k", &batch).await;
    assert_eq!(other_path.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.snapshot().await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_retry_while_the_first_runs_is_a_conflict(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = post(&app, "/api/events/", &app.admin, "k", &body("x")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    // As the first request would leave it mid-flight: claimed, unanswered.
    sqlx::query("UPDATE idempotency_keys SET status = NULL, body = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let before = app.snapshot().await;
    let res = post(&app, "/api/events/", &app.admin, "k", &body("x")).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(app.snapshot().await, before);

    // A claim abandoned long ago (its request died) is taken over.
    sqlx::query("UPDATE idempotency_keys SET created_at = now() - interval '2 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = post(&app, "/api/events/", &app.admin, "k", &body("x")).await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(app.rows("events").await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn keys_belong_to_their_principal(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let sensor = app.mint_key("ids-1").await;
    let a = post(&app, "/api/events/", &app.admin, "shared", &body("x")).await;
    let b = post(&app, "/api/events/", &sensor, "shared", &body("x")).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(b.status, StatusCode::CREATED);
    assert!(b.headers.get("idempotent-replayed").is_none());
    assert_ne!(a.body["id"], b.body["id"]);
    assert_eq!(app.rows("idempotency_keys").await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_expired_answer_is_forgotten(pool: PgPool) {
    let app = TestApp::new(pool).await;
    post(&app, "/api/events/", &app.admin, "k", &body("x")).await;
    sqlx::query("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = post(&app, "/api/events/", &app.admin, "k", &body("other")).await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert!(res.headers.get("idempotent-replayed").is_none());
    assert_eq!(app.rows("events").await, 2);
    assert_eq!(app.rows("idempotency_keys").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn refused_requests_and_bad_keys_claim_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let before = app.snapshot().await;
    let bad = post(&app, "/api/events/", &app.admin, "k", r#"{"source": "s"}"#).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    for key in ["", &"k".repeat(256), "caf\u{e9}", "tab\there"] {
        let bearer = format!("Bearer {}", app.admin);
        let res = app
            .json_with(
                Method::POST,
                "/api/events/",
                &[("Authorization", &bearer), ("Idempotency-Key", key)],
                &body("x"),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{key:?}");
        assert!(res.body.get("Idempotency-Key").is_some());
    }
    assert_eq!(app.snapshot().await, before);
    let ok = post(&app, "/api/events/", &app.admin, "k", &body("x")).await;
    assert_eq!(
        ok.status,
        StatusCode::CREATED,
        "a refused request left no claim"
    );
}
