//! A database that does not answer is a quick 503, never a hang or a 500.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use secrecy::SecretString;
use serde_json::json;
use tm_shared::AppState;
use tm_shared::config::DbSettings;

use crate::helpers::auth_settings;

#[tokio::test]
async fn an_unreachable_database_answers_503_within_the_acquire_timeout() {
    // Nothing listens on port 9 of loopback: every connection is refused.
    let settings = DbSettings {
        url: SecretString::from("postgres://postgres@127.0.0.1:9/none"),
        max_connections: 1,
        acquire_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_secs(1),
    };
    let pool = tm_shared::db::lazy_pool(&settings).unwrap();
    let auth = auth_settings(Duration::from_secs(60));
    let state = AppState::new(pool, &auth).unwrap();
    let token = state
        .jwt
        .issue(
            1,
            tm_shared::models::Role::Admin,
            tm_shared::auth::jwt::TokenType::Access,
        )
        .unwrap();
    let app = tmctl::app(state);

    for (method, path, body) in [
        ("GET", "/api/alerts/", None),
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
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{path} took {:?}",
            started.elapsed()
        );
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
