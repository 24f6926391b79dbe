//! Who may do what: anonymous, analyst, admin and ingest key against every
//! endpoint and method.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

const ANON: usize = 0;
const ANALYST: usize = 1;
const ADMIN: usize = 2;
const KEY: usize = 3;

struct Case {
    method: Method,
    path: &'static str,
    /// Expected status for anonymous, analyst, admin, ingest key.
    expect: [u16; 4],
}

const fn case(method: Method, path: &'static str, expect: [u16; 4]) -> Case {
    Case {
        method,
        path,
        expect,
    }
}

fn matrix() -> Vec<Case> {
    vec![
        case(Method::GET, "/api/events/", [401, 403, 200, 403]),
        case(Method::POST, "/api/events/", [401, 403, 201, 201]),
        case(Method::PUT, "/api/events/", [405, 405, 405, 405]),
        case(Method::PATCH, "/api/events/", [405, 405, 405, 405]),
        case(Method::DELETE, "/api/events/", [405, 405, 405, 405]),
        case(Method::POST, "/api/events/batch/", [401, 403, 201, 201]),
        case(Method::GET, "/api/events/batch/", [405, 405, 405, 405]),
        case(Method::DELETE, "/api/events/batch/", [405, 405, 405, 405]),
        case(Method::GET, "/api/events/{event}/", [401, 403, 200, 403]),
        case(Method::PUT, "/api/events/{event}/", [401, 403, 200, 403]),
        case(Method::PATCH, "/api/events/{event}/", [401, 403, 200, 403]),
        case(Method::DELETE, "/api/events/{event}/", [401, 403, 204, 403]),
        case(Method::POST, "/api/events/{event}/", [405, 405, 405, 405]),
        case(Method::GET, "/api/alerts/", [401, 200, 200, 403]),
        case(Method::POST, "/api/alerts/", [405, 405, 405, 405]),
        case(Method::PUT, "/api/alerts/", [405, 405, 405, 405]),
        case(Method::PATCH, "/api/alerts/", [405, 405, 405, 405]),
        case(Method::DELETE, "/api/alerts/", [405, 405, 405, 405]),
        case(Method::GET, "/api/alerts/{alert}/", [401, 200, 200, 403]),
        case(Method::PATCH, "/api/alerts/{alert}/", [401, 403, 200, 403]),
        case(Method::PUT, "/api/alerts/{alert}/", [405, 405, 405, 405]),
        case(Method::DELETE, "/api/alerts/{alert}/", [405, 405, 405, 405]),
        case(Method::POST, "/api/alerts/{alert}/", [405, 405, 405, 405]),
        case(
            Method::GET,
            "/api/alerts/{alert}/events/",
            [401, 200, 200, 403],
        ),
        case(
            Method::POST,
            "/api/alerts/{alert}/events/",
            [405, 405, 405, 405],
        ),
        case(Method::GET, "/api/keys/", [401, 403, 200, 403]),
        case(Method::POST, "/api/keys/", [401, 403, 201, 403]),
        case(Method::PATCH, "/api/keys/", [405, 405, 405, 405]),
        case(Method::GET, "/api/keys/{key}/", [401, 403, 200, 403]),
        case(Method::DELETE, "/api/keys/{key}/", [401, 403, 204, 403]),
        case(Method::PATCH, "/api/keys/{key}/", [405, 405, 405, 405]),
        case(Method::GET, "/api/silences/", [401, 200, 200, 403]),
        case(Method::POST, "/api/silences/", [401, 403, 201, 403]),
        case(Method::PUT, "/api/silences/", [405, 405, 405, 405]),
        case(
            Method::GET,
            "/api/silences/{silence}/",
            [401, 200, 200, 403],
        ),
        case(
            Method::DELETE,
            "/api/silences/{silence}/",
            [401, 403, 204, 403],
        ),
        case(
            Method::PATCH,
            "/api/silences/{silence}/",
            [405, 405, 405, 405],
        ),
        case(Method::GET, "/api/users/", [401, 200, 200, 403]),
        case(Method::POST, "/api/users/", [401, 403, 201, 403]),
        case(Method::DELETE, "/api/users/", [405, 405, 405, 405]),
        case(Method::GET, "/api/users/{user}/", [401, 403, 200, 403]),
        case(Method::PATCH, "/api/users/{user}/", [401, 403, 200, 403]),
        case(Method::DELETE, "/api/users/{user}/", [405, 405, 405, 405]),
        case(
            Method::POST,
            "/api/users/{user}/password-reset/",
            [401, 403, 200, 403],
        ),
        case(
            Method::GET,
            "/api/users/{user}/password-reset/",
            [405, 405, 405, 405],
        ),
        case(Method::GET, "/api/users/me/", [401, 200, 200, 403]),
        case(Method::GET, "/api/users/me/password/", [405, 405, 405, 405]),
        case(Method::GET, "/api/users/me/sessions/", [401, 200, 200, 403]),
        case(
            Method::POST,
            "/api/users/me/sessions/",
            [405, 405, 405, 405],
        ),
        case(Method::GET, "/api/audit/", [401, 403, 200, 403]),
        case(Method::POST, "/api/audit/", [405, 405, 405, 405]),
        case(Method::DELETE, "/api/audit/", [405, 405, 405, 405]),
    ]
}

fn valid_body(path: &str) -> serde_json::Value {
    let event = json!({"source": "fw-1", "event_type": "malware", "severity": "Critical", "description": "x"});
    if path.starts_with("/api/alerts/") {
        json!({"status": "Acknowledged"})
    } else if path.starts_with("/api/keys/") {
        json!({"name": "fw", "source": "fw-1"})
    } else if path.starts_with("/api/silences/") {
        let ends = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let ends = ends
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        // Matches nothing the matrix sends, so no event is suppressed.
        json!({"matchers": {"source": "elsewhere"}, "ends_at": ends, "comment": "c"})
    } else if path == "/api/users/" {
        json!({"username": format!("new-user-{}", fresh()), "role": "analyst"})
    } else if path.starts_with("/api/users/") {
        json!({"role": "admin"})
    } else if path.starts_with("/api/events/batch/") {
        json!({"events": [event]})
    } else {
        event
    }
}

/// A number no call has had before, for a fresh username.
fn fresh() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn allowed(path: &str) -> &'static str {
    match path {
        "/api/events/" | "/api/keys/" | "/api/silences/" => "GET, POST, HEAD",
        "/api/events/batch/" | "/api/users/{user}/password-reset/" | "/api/users/me/password/" => {
            "POST"
        }
        "/api/users/" => "GET, POST, HEAD",
        "/api/events/{event}/" => "GET, PUT, PATCH, DELETE, HEAD",
        "/api/alerts/"
        | "/api/alerts/{alert}/events/"
        | "/api/users/me/"
        | "/api/users/me/sessions/"
        | "/api/audit/" => "GET, HEAD",
        "/api/keys/{key}/" | "/api/silences/{silence}/" => "GET, DELETE, HEAD",
        _ => "GET, PATCH, HEAD",
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn every_role_gets_the_expected_status_on_every_endpoint_and_method(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let key = app.mint_key("fw-1").await;
    let tokens = [
        None,
        Some(app.analyst.clone()),
        Some(app.admin.clone()),
        Some(key),
    ];
    for case in matrix() {
        for who in [ANON, ANALYST, ADMIN, KEY] {
            // A fresh event, alert, key, silence and user per call, so a DELETE or
            // PATCH before cannot change what the next call sees.
            let event = app.event("ids-1", "intrusion", "High").await;
            app.mint_key("other").await;
            let key_id = results_first_id(&app, "/api/keys/").await;
            let silence = app
                .post(
                    "/api/silences/",
                    Some(&app.admin),
                    valid_body("/api/silences/"),
                )
                .await;
            let user = app
                .create_user(
                    &format!("u-{}-{who}", fresh()),
                    tm_shared::models::Role::Analyst,
                )
                .await;
            let path = case
                .path
                .replace("{event}", &event["id"].to_string())
                .replace("{alert}", &event["alert"].to_string())
                .replace("{key}", &key_id.to_string())
                .replace("{silence}", &silence.body["id"].to_string())
                .replace("{user}", &user.to_string());
            let before = app.snapshot().await;

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
                ["anonymous", "analyst", "admin", "key"][who],
                res.body
            );
            if res.status == StatusCode::METHOD_NOT_ALLOWED {
                let allow = res
                    .headers
                    .get("allow")
                    .expect("a 405 says what is allowed");
                assert_eq!(allow, allowed(case.path), "{} {}", case.method, case.path);
            }
            if !res.status.is_success() {
                let after = app.snapshot().await;
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

/// The newest row's id of a list.
async fn results_first_id(app: &TestApp, path: &str) -> i64 {
    let page = app.get(path, Some(&app.admin)).await;
    page.body["results"][0]["id"].as_i64().unwrap()
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
