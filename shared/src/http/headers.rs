//! Headers every answer carries, so that a browser, a proxy or a cache in
//! between treats it as what it is: data for one caller, never a page to
//! render, frame or keep.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// For JSON answers: nothing may load, run or frame.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Adds, where the handler set none of its own: `Cache-Control: no-store`
/// (tokens, a key's secret shown once, and alerts are all for this caller
/// only), `X-Content-Type-Options: nosniff` and [`API_CSP`].
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(API_CSP));
    response
}
