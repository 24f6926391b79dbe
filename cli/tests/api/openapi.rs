//! The OpenAPI document: committed copies are current, every route is
//! documented with exactly the methods it answers, and the local server
//! serves the document and its interactive docs.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::helpers::TestApp;

const REGENERATE: &str = "run `cargo run -p tmctl -- openapi > openapi.json && \
     cargo run -p tmctl -- postman > postman_collection.json` and commit the result";

#[test]
fn the_committed_document_and_collection_are_current() {
    let committed = include_str!("../../../openapi.json");
    assert!(
        committed == tmctl::openapi::document_json(),
        "openapi.json is stale: {REGENERATE}"
    );
    let committed = include_str!("../../../postman_collection.json");
    let current = tmctl::postman::collection_json(&tmctl::openapi::document());
    assert!(
        committed == current,
        "postman_collection.json is stale: {REGENERATE}"
    );
}

fn documented() -> Value {
    serde_json::from_str(&tmctl::openapi::document_json()).unwrap()
}

#[test]
fn every_route_is_documented_and_every_documented_path_is_routed() {
    let doc = documented();
    let mut documented: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    let mut routed: Vec<String> = tmctl::routes()
        .into_iter()
        .map(|(_, path)| path)
        .filter(|path| path.ends_with('/'))
        .collect();
    routed.sort_unstable();
    assert_eq!(documented, routed);
}

#[sqlx::test(migrations = "../migrations")]
async fn each_path_documents_exactly_the_methods_it_answers(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let doc = documented();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", "1");
        // A method no route has: the 405's Allow header lists what is served.
        let res = app
            .call(
                Method::TRACE,
                &concrete,
                Some(&app.admin),
                None,
                Body::empty(),
            )
            .await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let allow = res.headers[header::ALLOW].to_str().unwrap();
        let mut answered: Vec<String> = allow
            .split(", ")
            .filter(|m| *m != "HEAD")
            .map(str::to_lowercase)
            .collect();
        answered.sort_unstable();
        let mut described: Vec<String> = item.as_object().unwrap().keys().cloned().collect();
        described.sort_unstable();
        assert_eq!(answered, described, "{path}");
    }
}

#[test]
fn every_operation_answers_503_and_secured_ones_401() {
    let doc = documented();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("503"), "{method} {path}");
            let public = op["security"].as_array().is_some_and(Vec::is_empty);
            assert!(
                public == path.starts_with("/api/token/"),
                "{method} {path}: only the token endpoints are public"
            );
            assert!(
                responses.contains_key("401"),
                "{method} {path}: a bad token or bad credentials"
            );
        }
    }
}

async fn fetch(path: &str) -> (StatusCode, String, Vec<u8>) {
    let response = tmctl::openapi::routes::<()>()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, body.to_vec())
}

#[tokio::test]
async fn the_local_server_serves_the_document_and_swagger_ui_from_compiled_in_assets() {
    let (status, content_type, body) = fetch("/api/schema/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(
        String::from_utf8(body).unwrap(),
        tmctl::openapi::document_json()
    );

    let (status, content_type, body) = fetch("/api/docs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("swagger-ui-bundle.js"));
    // Everything the page loads is served here, not fetched from elsewhere.
    assert!(!html.contains("http://") && !html.contains("https://"));

    let (status, _, body) = fetch("/api/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    let config = String::from_utf8(body).unwrap();
    assert!(config.contains("/api/schema/"), "{config}");

    let (status, _, body) = fetch("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.len() > 100_000);
}
