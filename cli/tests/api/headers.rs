//! What every answer tells the browser and the caches in between, the CORS
//! policy, and where page links point.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::json;
use sqlx::PgPool;
use tm_shared::config::{HttpSettings, PublicBaseUrl};

use crate::helpers::{PASSWORD, TestApp};

const CONSOLE: &str = "https://console.example.com";

fn assert_guarded(headers: &HeaderMap, what: &str) {
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{what}");
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        tm_shared::http::headers::API_CSP,
        "{what}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn every_answer_is_nosniff_no_store_and_renders_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let signed_in = app.sign_in("admin", PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK);
    assert_guarded(&signed_in.headers, "a token pair");
    let refused = app.sign_in("admin", "wrong").await;
    assert_guarded(&refused.headers, "a refused sign-in");
    let created = app
        .post(
            "/api/keys/",
            Some(&app.admin),
            json!({"name": "k", "source": "s"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_guarded(&created.headers, "a key's secret, shown once");
    let cases = [
        (Method::GET, "/api/alerts/", Some(&app.analyst)),
        (Method::GET, "/api/users/me/", Some(&app.analyst)),
        (Method::GET, "/api/alerts/", None),
        (Method::GET, "/api/nowhere/", Some(&app.admin)),
        (Method::PUT, "/api/token/", None),
    ];
    for (method, path, token) in cases {
        let res = app
            .call(
                method.clone(),
                path,
                token.map(String::as_str),
                None,
                Body::empty(),
            )
            .await;
        assert_guarded(&res.headers, &format!("{method} {path} ({})", res.status));
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_docs_page_may_run_only_its_own_scripts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let request = Request::builder()
        .uri("/api/docs/")
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-eval") && !csp.contains('*'), "{csp}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}

fn preflight(origin: &str, method: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/alerts/1/")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type, if-match",
        )
        .body(Body::empty())
        .unwrap()
}

fn from_origin(origin: &str, token: &str) -> Request<Body> {
    Request::builder()
        .uri("/api/alerts/")
        .header(header::ORIGIN, origin)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn no_origin_is_allowed_by_default(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.send(preflight(CONSOLE, "PATCH")).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        res.headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    let res = app.send(from_origin(CONSOLE, &app.analyst)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_allowed_origin_may_call_and_read_and_no_other(pool: PgPool) {
    let http = HttpSettings {
        cors_origins: vec![CONSOLE.parse().unwrap()],
        ..TestApp::http_settings()
    };
    let app = TestApp::with_http(pool, http).await;

    let res = app.send(preflight(CONSOLE, "PATCH")).await;
    assert!(res.status.is_success(), "{}", res.status);
    let h = &res.headers;
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], CONSOLE);
    let methods = h[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap();
    assert!(
        methods.contains("PATCH") && methods.contains("DELETE"),
        "{methods}"
    );
    let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "authorization",
        "content-type",
        "if-match",
        "idempotency-key",
    ] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
    assert!(h.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());

    let res = app.send(from_origin(CONSOLE, &app.analyst)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], CONSOLE);
    let exposed = res.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("retry-after"),
        "{exposed}"
    );
    let vary = res.headers[header::VARY]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(vary.contains("origin"), "{vary}");

    for other in [
        "https://evil.example",
        "https://console.example.com.evil.example",
        "null",
    ] {
        let res = app.send(preflight(other, "PATCH")).await;
        assert!(
            res.headers
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "{other}"
        );
        let res = app.send(from_origin(other, &app.analyst)).await;
        assert!(
            res.headers
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "{other}"
        );
    }
}

async fn next_link(app: &TestApp, host: &str) -> String {
    for _ in 0..2 {
        app.event("s", "intrusion", "High").await;
    }
    let request = Request::builder()
        .uri("/api/alerts/?page_size=1")
        .header(header::HOST, host)
        .header("x-forwarded-proto", "https")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.analyst))
        .body(Body::empty())
        .unwrap();
    let res = app.send(request).await;
    res.body["next"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn page_links_follow_the_public_base_url_never_the_host_sent(pool: PgPool) {
    let http = HttpSettings {
        public_base_url: Some(PublicBaseUrl::parse("https://soc.example.com/threat/").unwrap()),
        ..HttpSettings::default()
    };
    let app = TestApp::with_http(pool, http).await;
    assert_eq!(
        next_link(&app, "evil.example").await,
        "https://soc.example.com/threat/api/alerts/?page_size=1&page=2"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_public_base_url_links_name_localhost_not_the_host_sent(pool: PgPool) {
    let app = TestApp::with_http(pool, HttpSettings::default()).await;
    assert_eq!(
        next_link(&app, "evil.example").await,
        "http://localhost/api/alerts/?page_size=1&page=2"
    );
}
