//! Routing helpers: every path is served with and without its trailing
//! slash, and unknown paths and methods answer in the API's error format.

use axum::Router;
use axum::http::Method;
use axum::routing::MethodRouter;

use crate::error::ApiError;

/// Routes `path` (written with its trailing slash) and the same path without it.
pub fn route_both<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    path: &str,
    methods: MethodRouter<S>,
) -> Router<S> {
    let bare = path.trim_end_matches('/');
    router.route(path, methods.clone()).route(bare, methods)
}

/// A method router's fallback that answers 405 with the methods it allows.
pub fn method_not_allowed<S: Clone + Send + Sync + 'static>(
    methods: MethodRouter<S>,
    allow: &'static str,
) -> MethodRouter<S> {
    methods
        .fallback(move |method: Method| async move { ApiError::MethodNotAllowed { method, allow } })
}

/// The router-wide fallback for paths nothing serves.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
