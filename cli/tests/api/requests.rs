//! Bad input of every kind is a 4xx naming the problem, and stores nothing.

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

fn valid() -> Value {
    json!({"source": "ids-1", "event_type": "intrusion", "severity": "High", "description": "scan"})
}

fn with(field: &str, value: Value) -> Value {
    let mut body = valid();
    body[field] = value;
    body
}

/// (body, expected error body) pairs that any event write must refuse.
fn bad_event_bodies() -> Vec<(Value, Value)> {
    vec![
        (
            with("source", json!(5)),
            json!({"source": ["Not a valid string."]}),
        ),
        (
            with("source", json!(null)),
            json!({"source": ["This field may not be null."]}),
        ),
        (
            with("source", json!("")),
            json!({"source": ["This field may not be blank."]}),
        ),
        (
            with("source", json!("   ")),
            json!({"source": ["This field may not be blank."]}),
        ),
        (
            with("source", json!("s".repeat(101))),
            json!({"source": ["Ensure this field has no more than 100 characters."]}),
        ),
        (
            with("source", json!("a\u{0}b")),
            json!({"source": ["Null characters are not allowed."]}),
        ),
        (
            with("source", json!(["ids"])),
            json!({"source": ["Not a valid string."]}),
        ),
        (
            with("event_type", json!("phishing")),
            json!({"event_type": ["\"phishing\" is not a valid choice."]}),
        ),
        (
            with("event_type", json!("Intrusion")),
            json!({"event_type": ["\"Intrusion\" is not a valid choice."]}),
        ),
        (
            with("event_type", json!(1)),
            json!({"event_type": ["Not a valid string."]}),
        ),
        (
            with("severity", json!("Extreme")),
            json!({"severity": ["\"Extreme\" is not a valid choice."]}),
        ),
        (
            with("severity", json!("high")),
            json!({"severity": ["\"high\" is not a valid choice."]}),
        ),
        (
            with("severity", json!(3)),
            json!({"severity": ["Not a valid string."]}),
        ),
        (
            with("severity", json!(true)),
            json!({"severity": ["Not a valid string."]}),
        ),
        (
            with("description", json!("d".repeat(10_001))),
            json!({"description": ["Ensure this field has no more than 10000 characters."]}),
        ),
        (
            with("description", json!({"a": 1})),
            json!({"description": ["Not a valid string."]}),
        ),
        (
            with("description", json!("x\u{0}")),
            json!({"description": ["Null characters are not allowed."]}),
        ),
        (
            with("severityy", json!("High")),
            json!({"severityy": ["Unknown field."]}),
        ),
        (
            json!({"source": 1, "severity": "Extreme", "event_type": "intrusion", "description": "x"}),
            json!({"source": ["Not a valid string."], "severity": ["\"Extreme\" is not a valid choice."]}),
        ),
    ]
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_event_bodies_are_refused_on_create_put_and_patch_and_store_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let existing = app.event("orig", "anomaly", "Low").await;
    let path = format!("/api/events/{}/", existing["id"]);
    for (body, expected) in bad_event_bodies() {
        for (method, target) in [
            (Method::POST, "/api/events/"),
            (Method::PUT, path.as_str()),
            (Method::PATCH, path.as_str()),
        ] {
            let res = app
                .json(method.clone(), target, Some(&app.admin), body.clone())
                .await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{method} {body}");
            assert_eq!(res.body, expected, "{method} {body}");
        }
    }
    assert_eq!(app.rows("events").await, 1);
    assert_eq!(app.rows("alerts").await, 0);
    assert_eq!(app.get(&path, Some(&app.admin)).await.body, existing);
}

#[sqlx::test(migrations = "../migrations")]
async fn creating_an_event_requires_every_field(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let all = ["source", "event_type", "severity", "description"];
    let res = app.post("/api/events/", Some(&app.admin), json!({})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let expected: serde_json::Map<String, Value> = all
        .iter()
        .map(|f| (f.to_string(), json!(["This field is required."])))
        .collect();
    assert_eq!(res.body, Value::Object(expected));
    for missing in all {
        let mut body = valid();
        body.as_object_mut().unwrap().remove(missing);
        let res = app.post("/api/events/", Some(&app.admin), body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{missing}");
        assert_eq!(res.body, json!({missing: ["This field is required."]}));
    }
    assert_eq!(app.rows("events").await, 0);
    assert_eq!(app.rows("alerts").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn limits_are_inclusive(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let body = json!({
        "source": "s".repeat(100), "event_type": "anomaly", "severity": "Low",
        "description": "é".repeat(10_000),
    });
    let res = app.post("/api/events/", Some(&app.admin), body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_and_non_object_json_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for raw in ["{", "", "nul", "{\"source\": }", "{'a': 1}"] {
        let res = app
            .call(
                Method::POST,
                "/api/events/",
                Some(&app.admin),
                Some("application/json"),
                raw,
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{raw:?}");
        assert!(
            res.body["detail"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error"),
            "{raw:?}"
        );
    }
    for (raw, kind) in [
        ("[1]", "list"),
        ("\"s\"", "str"),
        ("3", "number"),
        ("null", "null"),
    ] {
        let res = app
            .call(
                Method::POST,
                "/api/events/",
                Some(&app.admin),
                Some("application/json"),
                raw,
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{raw:?}");
        assert_eq!(
            res.body,
            json!({"non_field_errors": [format!("Invalid data. Expected a dictionary, but got {kind}.")]})
        );
    }
    assert_eq!(app.rows("events").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_body_that_is_not_json_is_415(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("a", "intrusion", "High").await;
    let targets = [
        (Method::POST, "/api/events/".to_owned()),
        (Method::PUT, format!("/api/events/{}/", event["id"])),
        (Method::PATCH, format!("/api/events/{}/", event["id"])),
        (Method::PATCH, format!("/api/alerts/{}/", event["alert"])),
    ];
    for (method, path) in targets {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let res = app
                .call(
                    method.clone(),
                    &path,
                    Some(&app.admin),
                    content_type,
                    valid().to_string(),
                )
                .await;
            assert_eq!(
                res.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {path} {content_type:?}"
            );
            let shown = content_type.unwrap_or("");
            assert_eq!(
                res.body,
                json!({"detail": format!("Unsupported media type \"{shown}\" in request.")})
            );
        }
    }
    let res = app
        .call(
            Method::POST,
            "/api/events/",
            Some(&app.admin),
            Some("application/json; charset=utf-8"),
            valid().to_string(),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(app.rows("events").await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_body_over_256_kib_is_413_and_stores_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut body = valid();
    body["description"] = json!("x".repeat(256 * 1024));
    let res = app.post("/api/events/", Some(&app.admin), body).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        res.body,
        json!({"detail": "Request body is larger than 256 KiB."})
    );

    // Without a Content-Length the limit still holds, counted as the body streams.
    let chunks = streamed_body(300 * 1024);
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/events/")
        .header("authorization", format!("Bearer {}", app.admin))
        .header("content-type", "application/json")
        .body(chunks)
        .unwrap();
    assert_eq!(
        app.send(request).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(app.rows("events").await, 0);
}

/// A streamed body of `n` bytes with no declared length.
fn streamed_body(n: usize) -> axum::body::Body {
    let chunk = axum::body::Bytes::from(vec![b' '; 1024]);
    let chunks = std::iter::repeat_n(chunk, n / 1024).map(Ok::<_, std::io::Error>);
    axum::body::Body::from_stream(futures_util::stream::iter(chunks))
}

#[sqlx::test(migrations = "../migrations")]
async fn nul_characters_in_query_values_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for path in [
        "/api/events/?source=a%00b",
        "/api/alerts/?source=%00",
        "/api/alerts/?status=Open%00",
    ] {
        let res = app.get(path, Some(&app.admin)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path}");
    }
    let res = app.get("/api/events/?source=a%00b", Some(&app.admin)).await;
    assert_eq!(
        res.body,
        json!({"source": ["Null characters are not allowed."]})
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_paths_are_a_json_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for path in [
        "/",
        "/api/",
        "/api/event/",
        "/api/events/1/extra/",
        "/admin/",
    ] {
        let res = app.get(path, Some(&app.admin)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.body, json!({"detail": "Not found."}));
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn every_listed_route_is_served_and_by_the_function_that_lists_it(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let auth = crate::helpers::auth_settings(
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(60),
    );
    let state = tm_shared::AppState::new(pool, &auth).unwrap();
    let routers = [
        ("token", token::router(state.clone())),
        ("events", events::router(state.clone())),
        ("alerts", alerts::router(state.clone())),
        ("keys", keys::router(state.clone())),
        ("silences", silences::router(state.clone())),
        ("users", users::router(state.clone())),
        ("audit", audit::router(state)),
    ];
    let routes = tmctl::routes();
    assert_eq!(routes.len(), 50);
    for (function, path) in routes {
        let path = path.replace("{id}", "1");
        // No route takes OPTIONS: a served path answers 405, an unserved one 404.
        let res = app.call(Method::OPTIONS, &path, None, None, "").await;
        assert_eq!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{path} in the merged app"
        );
        for (name, router) in &routers {
            let request = axum::http::Request::builder()
                .method(Method::OPTIONS)
                .uri(&path)
                .body(axum::body::Body::empty())
                .unwrap();
            let status = tower::ServiceExt::oneshot(router.clone(), request)
                .await
                .unwrap()
                .status();
            let expected = if *name == function {
                StatusCode::METHOD_NOT_ALLOWED
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(status, expected, "{path} on the {name} function");
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_health_check_answers_anyone_with_the_database_up(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for path in ["/api/health/", "/api/health"] {
        let res = app.call(Method::GET, path, None, None, "").await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(res.body, json!({"status": "ok"}));
    }
    let res = app.call(Method::POST, "/api/health/", None, None, "").await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers[header::ALLOW], "GET, HEAD");
}
