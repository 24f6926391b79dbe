//! Which browser pages may call the API: the origins in
//! `CORS_ALLOWED_ORIGINS`, exactly, and none by default. Callers send bearer
//! tokens or ingest keys, never cookies, so credentials mode stays off and a
//! page elsewhere cannot ride on a signed-in browser.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// What the console sends: its token, JSON, the version it last saw and an
/// ingest retry's key.
const REQUEST_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::IF_MATCH,
    HeaderName::from_static("idempotency-key"),
];

/// What it may read besides the body: an alert's version, when to retry and
/// where a created thing is.
const EXPOSED_HEADERS: [HeaderName; 3] = [header::ETAG, header::RETRY_AFTER, header::LOCATION];

/// A browser asks again after this long.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// `None` when no origin is allowed: then there is no CORS at all, and a
/// preflight is a 405 like any other OPTIONS.
pub fn layer(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers(REQUEST_HEADERS)
            .expose_headers(EXPOSED_HEADERS)
            .max_age(PREFLIGHT_MAX_AGE),
    )
}
