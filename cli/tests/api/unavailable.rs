//! A database that does not answer, or answers too slowly, is a quick 503
//! with `Retry-After`: never a hang and never a 500.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tm_shared::AppState;
use tm_shared::config::{DbSettings, DbTarget};
use tm_shared::models::Role;

use crate::helpers::{TestApp, auth_settings};

fn settings(url: &str) -> DbSettings {
    DbSettings {
        target: DbTarget::Url(SecretString::from(url.to_owned())),
        max_connections: 1,
        acquire_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_millis(500),
    }
}

fn state_on(pool: PgPool, db: &DbSettings) -> AppState {
    let auth = auth_settings(Duration::from_secs(60), Duration::from_secs(60));
    AppState::new(pool, &auth)
        .unwrap()
        .with_request_timeout(db.request_timeout())
}

/// Sends `GET /api/alerts/` as an admin and sign-in, and expects 503s within `limit`.
async fn expect_503s(state: AppState, limit: Duration) {
    let token = state.jwt.current().await.access(1, Role::Admin, 1).unwrap();
    let app = tmctl::app(state);
    for (method, path, body) in [
        ("GET", "/api/alerts/", None),
        ("GET", "/api/health/", None),
        (
            "POST",
            "/api/token/",
            Some(json!({"username": "a", "password": "b"})),
        ),
    ] {
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(axum::body::Body::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            ))
            .unwrap();
        let started = Instant::now();
        let response = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(took < limit, "{path} took {took:?}");
        assert!(response.headers().contains_key("retry-after"));
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            json!({"detail": "Service temporarily unavailable, try again later."})
        );
    }
}

/// Another session's lock that every alert query must wait for, until the
/// returned transaction is rolled back.
async fn lock_alerts(pool: &PgPool) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE alerts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    blocker
}

#[tokio::test]
async fn a_refused_connection_answers_503_within_the_acquire_timeout() {
    // Nothing listens on port 9 of loopback: every connection is refused.
    let db = settings("postgres://postgres@127.0.0.1:9/none");
    let pool = tm_shared::db::lazy_pool(&db).unwrap();
    expect_503s(state_on(pool, &db), Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_database_that_accepts_but_never_answers_is_a_503_not_a_hang() {
    // A listener that takes connections and says nothing, like a host that
    // has gone away behind a live TCP path.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let db = settings(&format!("postgres://postgres@127.0.0.1:{port}/none"));
    let pool = tm_shared::db::lazy_pool(&db).unwrap();
    expect_503s(
        state_on(pool, &db),
        db.request_timeout() + Duration::from_secs(1),
    )
    .await;
    held.abort();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_query_slower_than_the_statement_timeout_is_a_503(pool: PgPool) {
    let db = settings("postgres://unused");
    // The API's pool: the test database with a short statement timeout.
    let options = (*pool.connect_options())
        .clone()
        .options([("statement_timeout", "500")]);
    let api_pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(db.acquire_timeout)
        .connect_lazy_with(options);
    let app = TestApp::with_state(pool.clone(), state_on(api_pool, &db)).await;
    let event = app.event("s", "intrusion", "High").await;

    // Another session holds a lock the alert list must wait for.
    let blocker = lock_alerts(&pool).await;
    let started = Instant::now();
    let res = app.get("/api/alerts/", Some(&app.admin)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    blocker.rollback().await.unwrap();

    // The lock gone, the same app answers again: nothing had to restart.
    let res = app
        .get(
            &format!("/api/alerts/{}/", event["alert"]),
            Some(&app.admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_request_past_its_deadline_is_a_503_even_if_the_database_never_gives_up(pool: PgPool) {
    // No statement timeout on this pool: only the request deadline can end the wait.
    let auth = auth_settings(Duration::from_secs(60), Duration::from_secs(60));
    let state = AppState::new(pool.clone(), &auth)
        .unwrap()
        .with_request_timeout(Duration::from_millis(700));
    let app = TestApp::with_state(pool.clone(), state).await;
    app.event("s", "intrusion", "High").await;

    let blocker = lock_alerts(&pool).await;
    let started = Instant::now();
    let res = app.get("/api/alerts/", Some(&app.admin)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    blocker.rollback().await.unwrap();
    assert_eq!(
        app.get("/api/alerts/", Some(&app.admin)).await.status,
        StatusCode::OK
    );
}
