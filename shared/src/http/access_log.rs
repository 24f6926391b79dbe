//! One log line per request: request id, route, status, latency, user or
//! ingest key id.
//! Never bodies, query strings, headers or tokens: the token endpoint's body
//! holds a password and the `Authorization` header holds a credential.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Filled by the authentication extractor once it knows who is calling: a
/// user, or an ingest key.
#[derive(Debug, Clone, Default)]
pub struct UserSlot(Arc<(OnceLock<i64>, OnceLock<i64>)>);

impl UserSlot {
    pub fn set(&self, user_id: i64) {
        let _ = self.0.0.set(user_id);
    }

    pub fn set_key(&self, key_id: i64) {
        let _ = self.0.1.set(key_id);
    }
}

/// The API Gateway request id, set by the Lambda adapter.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn access_log(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // The route template (`/api/events/{id}/`), not the path: ids stay out of
    // the route dimension and nothing a client typed is logged verbatim.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let user = UserSlot::default();
    req.extensions_mut().insert(user.clone());

    let response = next.run(req).await;

    tracing::info!(
        request_id = request_id.as_deref().unwrap_or("-"),
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        user_id = user.0.0.get().copied(),
        key_id = user.0.1.get().copied(),
        "request"
    );
    response
}
