//! Real API Gateway proxy events — REST API (v1) and HTTP API (v2) — through
//! `lambda_http`'s conversion and the Lambda adapter into each function's own
//! router, as the deployed functions receive them.

use axum::Router;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tm_shared::AppState;
use tower::ServiceExt;

use crate::helpers::{PASSWORD, TestApp, auth_settings, base64};

const HOST: &str = "abc123.execute-api.eu-west-1.amazonaws.com";

/// A request to send as an event.
struct Call<'a> {
    method: &'a str,
    /// The route template, as API Gateway names it.
    resource: &'a str,
    /// The path without the stage.
    path: &'a str,
    path_parameters: Value,
    /// Repeated keys allowed.
    query: &'a [(&'a str, &'a str)],
    token: Option<&'a str>,
    /// Sent base64-encoded, as API Gateway does for binary media types.
    body: Option<Value>,
}

impl Call<'_> {
    fn headers(&self) -> serde_json::Map<String, Value> {
        let mut headers = serde_json::Map::new();
        headers.insert("host".into(), json!(HOST));
        headers.insert("x-forwarded-proto".into(), json!("https"));
        if self.body.is_some() {
            headers.insert("content-type".into(), json!("application/json"));
        }
        if let Some(token) = self.token {
            headers.insert("authorization".into(), json!(format!("Bearer {token}")));
        }
        headers
    }

    fn body(&self) -> Value {
        self.body
            .as_ref()
            .map_or(Value::Null, |b| json!(base64(b.to_string().as_bytes())))
    }

    fn rest_v1(&self, stage: &str) -> Value {
        let mut single = serde_json::Map::new();
        let mut multi: serde_json::Map<String, Value> = serde_json::Map::new();
        for (k, v) in self.query {
            single.insert((*k).into(), json!(v));
            multi
                .entry(k.to_string())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap()
                .push(json!(v));
        }
        let headers = self.headers();
        let multi_headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.clone(), json!([v])))
            .collect();
        json!({
            "resource": self.resource,
            "path": self.path,
            "httpMethod": self.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": if single.is_empty() { Value::Null } else { Value::Object(single) },
            "multiValueQueryStringParameters": if multi.is_empty() { Value::Null } else { Value::Object(multi) },
            "pathParameters": self.path_parameters,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012", "resourceId": "res", "stage": stage,
                "requestId": "v1-request-id", "identity": {"sourceIp": "203.0.113.7"},
                "resourcePath": self.resource, "httpMethod": self.method, "apiId": "abc123",
                "path": format!("/{stage}{}", self.path), "protocol": "HTTP/1.1",
                "domainName": HOST,
            },
            "body": self.body(),
            "isBase64Encoded": self.body.is_some(),
        })
    }

    fn http_v2(&self, stage: &str) -> Value {
        let raw_query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let raw_path = if stage == "$default" {
            self.path.to_owned()
        } else {
            format!("/{stage}{}", self.path)
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": format!("ANY {}", self.resource),
            "rawPath": raw_path,
            "rawQueryString": raw_query.join("&"),
            "headers": self.headers(),
            "pathParameters": self.path_parameters,
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123", "domainName": HOST,
                "domainPrefix": "abc123",
                "http": {"method": self.method, "path": raw_path, "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.7", "userAgent": "test"},
                "requestId": "v2-request-id", "routeKey": format!("ANY {}", self.resource),
                "stage": stage, "time": "23/Nov/2026:22:00:00 +0000", "timeEpoch": 1_795_471_200_000u64,
            },
            "isBase64Encoded": self.body.is_some(),
        });
        if self.body.is_some() {
            event["body"] = self.body();
        }
        event
    }
}

/// Sends an event, as JSON text, through `lambda_http` into `router`.
async fn invoke(router: &Router, event: &Value) -> (StatusCode, Value) {
    let request = lambda_http::request::from_str(&event.to_string()).expect("a valid event");
    let service = tm_shared::lambda::service(router.clone());
    let response = service.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

struct Functions {
    token: Router,
    events: Router,
    alerts: Router,
}

fn functions(pool: &PgPool) -> Functions {
    let auth = auth_settings(
        std::time::Duration::from_secs(900),
        std::time::Duration::from_secs(3600),
    );
    let state = AppState::new(pool.clone(), &auth).unwrap();
    Functions {
        token: token::router(state.clone()),
        events: events::router(state.clone()),
        alerts: alerts::router(state),
    }
}

/// Both event formats, each with a named stage and (v2) the default stage.
fn formats(call: &Call) -> Vec<(&'static str, Value)> {
    vec![
        ("REST v1, stage Prod", call.rest_v1("Prod")),
        ("HTTP v2, stage Prod", call.http_v2("Prod")),
        ("HTTP v2, $default", call.http_v2("$default")),
    ]
}

#[sqlx::test(migrations = "../migrations")]
async fn sign_in_with_a_base64_body_through_every_event_format(pool: PgPool) {
    let _app = TestApp::new(pool.clone()).await;
    let f = functions(&pool);
    let call = Call {
        method: "POST",
        resource: "/api/token/",
        path: "/api/token/",
        path_parameters: Value::Null,
        query: &[],
        token: None,
        body: Some(json!({"username": "analyst", "password": PASSWORD})),
    };
    for (format, event) in formats(&call) {
        let (status, body) = invoke(&f.token, &event).await;
        assert_eq!(status, StatusCode::OK, "{format}: {body}");
        assert!(
            body["access"].is_string() && body["refresh"].is_string(),
            "{format}"
        );
    }
}

/// Sets the source IP API Gateway reports, in either event format.
fn from_source_ip(mut event: Value, ip: &str) -> Value {
    if event["version"] == "2.0" {
        event["requestContext"]["http"]["sourceIp"] = json!(ip);
    } else {
        event["requestContext"]["identity"]["sourceIp"] = json!(ip);
    }
    event
}

#[sqlx::test(migrations = "../migrations")]
async fn sign_in_failures_count_against_api_gateways_source_ip_not_a_header(pool: PgPool) {
    let _app = TestApp::new(pool.clone()).await;
    let f = functions(&pool);
    let call = |password: &str| Call {
        method: "POST",
        resource: "/api/token/",
        path: "/api/token/",
        path_parameters: Value::Null,
        query: &[],
        token: None,
        body: Some(json!({"username": "admin", "password": password})),
    };
    for (format, _) in formats(&call("x")) {
        sqlx::query("DELETE FROM sign_in_throttle")
            .execute(&pool)
            .await
            .unwrap();
        let pick = |c: &Call| {
            formats(c)
                .into_iter()
                .find(|(name, _)| *name == format)
                .unwrap()
                .1
        };
        for n in 1..=5 {
            let mut event = from_source_ip(pick(&call("wrong")), "203.0.113.66");
            // A header the client wrote, new every time: not believed.
            event["headers"]["x-forwarded-for"] = json!(format!("192.0.2.{n}"));
            if let Some(multi) = event.get_mut("multiValueHeaders") {
                multi["x-forwarded-for"] = json!([format!("192.0.2.{n}")]);
            }
            let (status, _) = invoke(&f.token, &event).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{format}");
        }
        let attacker = from_source_ip(pick(&call(PASSWORD)), "203.0.113.66");
        let (status, _) = invoke(&f.token, &attacker).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{format}");
        let owner = from_source_ip(pick(&call(PASSWORD)), "198.51.100.20");
        let (status, body) = invoke(&f.token, &owner).await;
        assert_eq!(status, StatusCode::OK, "{format}: {body}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missing_body_is_a_400_and_stores_nothing(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let f = functions(&pool);
    let mut call = Call {
        method: "POST",
        resource: "/api/events/",
        path: "/api/events/",
        path_parameters: Value::Null,
        query: &[],
        token: Some(&app.admin),
        body: None,
    };
    for (format, mut event) in formats(&call) {
        // The content type is declared, the body is absent.
        event["headers"]["content-type"] = json!("application/json");
        if let Some(multi) = event.get_mut("multiValueHeaders") {
            multi["content-type"] = json!(["application/json"]);
        }
        let (status, body) = invoke(&f.events, &event).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{format}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error"),
            "{format}"
        );
    }
    assert_eq!(app.rows("events").await, 0);

    call.body = Some(
        json!({"source": "gw", "event_type": "malware", "severity": "Critical", "description": "d"}),
    );
    for (format, event) in formats(&call) {
        let (status, body) = invoke(&f.events, &event).await;
        assert_eq!(status, StatusCode::CREATED, "{format}: {body}");
        assert!(body["alert"].is_i64());
    }
    assert_eq!(app.rows("events").await, 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn repeated_query_keys_filter_and_page_links_keep_the_stage(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let f = functions(&pool);
    for severity in ["High", "Critical", "Low", "Critical"] {
        app.event("gw", "intrusion", severity).await;
    }
    let call = Call {
        method: "GET",
        resource: "/api/events/",
        path: "/api/events/",
        path_parameters: Value::Null,
        query: &[
            ("severity", "High"),
            ("severity", "Critical"),
            ("page_size", "2"),
        ],
        token: Some(&app.admin),
        body: None,
    };
    for (format, event) in formats(&call) {
        let (status, body) = invoke(&f.events, &event).await;
        assert_eq!(status, StatusCode::OK, "{format}: {body}");
        assert_eq!(body["count"], 3, "{format}: both repeated values count");
        let (base, query) = body["next"].as_str().unwrap().split_once('?').unwrap();
        let prefix = if format.contains("$default") {
            ""
        } else {
            "/Prod"
        };
        assert_eq!(
            base,
            format!("https://{HOST}{prefix}/api/events/"),
            "{format}"
        );
        // REST API events carry the query as a map, whose order is not kept.
        let mut pairs: Vec<&str> = query.split('&').collect();
        pairs.sort_unstable();
        assert_eq!(
            pairs,
            [
                "page=2",
                "page_size=2",
                "severity=Critical",
                "severity=High"
            ],
            "{format}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn path_parameters_reach_the_alerts_function(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let f = functions(&pool);
    let event = app.event("gw", "anomaly", "High").await;
    let id = event["alert"].to_string();
    let path = format!("/api/alerts/{id}/");
    let get = Call {
        method: "GET",
        resource: "/api/alerts/{id}/",
        path: &path,
        path_parameters: json!({"id": id}),
        query: &[],
        token: Some(&app.analyst),
        body: None,
    };
    for (format, event) in formats(&get) {
        let (status, body) = invoke(&f.alerts, &event).await;
        assert_eq!(status, StatusCode::OK, "{format}: {body}");
        assert_eq!(body["id"].to_string(), id);
    }
    let patch = Call {
        method: "PATCH",
        token: Some(&app.admin),
        body: Some(json!({"status": "Acknowledged"})),
        ..get
    };
    let (status, body) = invoke(&f.alerts, &patch.http_v2("Prod")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "Acknowledged");
}

#[sqlx::test(migrations = "../migrations")]
async fn each_function_answers_only_its_own_routes(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let f = functions(&pool);
    let call = Call {
        method: "GET",
        resource: "/api/alerts/",
        path: "/api/alerts/",
        path_parameters: Value::Null,
        query: &[],
        token: Some(&app.admin),
        body: None,
    };
    let (status, body) = invoke(&f.events, &call.http_v2("Prod")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"detail": "Not found."}));
    let (status, _) = invoke(&f.alerts, &call.http_v2("Prod")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = invoke(&f.token, &call.rest_v1("Prod")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
