//! Who may do what: anonymous, analyst and admin against every endpoint and method.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

const ANON: usize = 0;
const ANALYST: usize = 1;
const ADMIN: usize = 2;

struct Case {
    method: Method,
    path: &'static str,
    /// Expected status for anonymous, analyst, admin.
    expect: [u16; 3],
}

const fn case(method: Method, path: &'static str, expect: [u16; 3]) -> Case {
    Case {
        method,
        path,
        expect,
    }
}

fn matrix() -> Vec<Case> {
    vec![
        case(Method::GET, "/api/events/", [401, 403, 200]),
        case(Method::POST, "/api/events/", [401, 403, 201]),
        case(Method::PUT, "/api/events/", [405, 405, 405]),
        case(Method::PATCH, "/api/events/", [405, 405, 405]),
        case(Method::DELETE, "/api/events/", [405, 405, 405]),
        case(Method::GET, "/api/events/{event}/", [401, 403, 200]),
        case(Method::PUT, "/api/events/{event}/", [401, 403, 200]),
        case(Method::PATCH, "/api/events/{event}/", [401, 403, 200]),
        case(Method::DELETE, "/api/events/{event}/", [401, 403, 204]),
        case(Method::POST, "/api/events/{event}/", [405, 405, 405]),
        case(Method::GET, "/api/alerts/", [401, 200, 200]),
        case(Method::POST, "/api/alerts/", [405, 405, 405]),
        case(Method::PUT, "/api/alerts/", [405, 405, 405]),
        case(Method::PATCH, "/api/alerts/", [405, 405, 405]),
        case(Method::DELETE, "/api/alerts/", [405, 405, 405]),
        case(Method::GET, "/api/alerts/{alert}/", [401, 200, 200]),
        case(Method::PATCH, "/api/alerts/{alert}/", [401, 403, 200]),
        case(Method::PUT, "/api/alerts/{alert}/", [405, 405, 405]),
        case(Method::DELETE, "/api/alerts/{alert}/", [405, 405, 405]),
        case(Method::POST, "/api/alerts/{alert}/", [405, 405, 405]),
    ]
}

fn valid_body(path: &str) -> serde_json::Value {
    if path.starts_with("/api/alerts/") {
        json!({"status": "Acknowledged"})
    } else {
        json!({"source": "fw-1", "event_type": "malware", "severity": "Critical", "description": "x"})
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn every_role_gets_the_expected_status_on_every_endpoint_and_method(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let tokens = [None, Some(app.analyst.clone()), Some(app.admin.clone())];
    for case in matrix() {
        for who in [ANON, ANALYST, ADMIN] {
            // A fresh event and alert per call, so a DELETE or PATCH before
            // cannot change what the next call sees.
            let event = app.event("ids-1", "intrusion", "High").await;
            let path = case
                .path
                .replace("{event}", &event["id"].to_string())
                .replace("{alert}", &event["alert"].to_string());
            let before = (app.rows("events").await, app.rows("alerts").await);

            let res = app
                .json(
                    case.method.clone(),
                    &path,
                    tokens[who].as_deref(),
                    valid_body(&path),
                )
                .await;

            assert_eq!(
                res.status.as_u16(),
                case.expect[who],
                "{} {} as {} -> {:?}",
                case.method,
                case.path,
                ["anonymous", "analyst", "admin"][who],
                res.body
            );
            if res.status == StatusCode::METHOD_NOT_ALLOWED {
                let allow = res
                    .headers
                    .get("allow")
                    .expect("a 405 says what is allowed");
                let expected = match case.path {
                    "/api/events/" => "GET, POST, HEAD",
                    "/api/events/{event}/" => "GET, PUT, PATCH, DELETE, HEAD",
                    "/api/alerts/" => "GET, HEAD",
                    _ => "GET, PATCH, HEAD",
                };
                assert_eq!(allow, expected, "{} {}", case.method, case.path);
            }
            if !res.status.is_success() {
                let after = (app.rows("events").await, app.rows("alerts").await);
                assert_eq!(
                    before, after,
                    "a refused {} {} changed the database",
                    case.method, case.path
                );
                let stored = app
                    .get(&format!("/api/events/{}/", event["id"]), Some(&app.admin))
                    .await;
                assert_eq!(
                    stored.body, event,
                    "a refused {} {} changed the event",
                    case.method, case.path
                );
            }
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_analyst_cannot_move_an_alert(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("ids-1", "intrusion", "Critical").await;
    let path = format!("/api/alerts/{}/", event["alert"]);
    let res = app
        .patch(&path, Some(&app.analyst), json!({"status": "Resolved"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"detail": "You do not have permission to perform this action."})
    );
    let alert = app.get(&path, Some(&app.analyst)).await;
    assert_eq!(alert.body["status"], "Open");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_analyst_is_refused_before_the_body_is_judged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .call(
            Method::POST,
            "/api/events/",
            Some(&app.analyst),
            Some("text/plain"),
            "junk",
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .call(
            Method::POST,
            "/api/events/",
            None,
            Some("application/json"),
            "{",
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}
