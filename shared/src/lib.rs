//! The library the `token`, `events` and `alerts` functions share: configuration,
//! authentication, domain models, errors, HTTP helpers and PostgreSQL access.

pub mod accounts;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod ingest;
pub mod lambda;
pub mod models;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod random;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod triage;

pub use error::{ApiError, FieldErrors};
/// For the declaration macros (`body!`, `text_field!`) in other crates.
#[doc(hidden)]
pub use serde_json;
#[cfg(feature = "openapi")]
#[doc(hidden)]
pub use utoipa;

/// Its items when this crate is built with `openapi`, nothing otherwise: a
/// declaration macro expanded in another crate must follow this crate's
/// feature, which decides whether `BodyField::schema` and the like exist,
/// not the calling crate's.
#[cfg(feature = "openapi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_openapi {
    ($($item:tt)*) => { $($item)* };
}
#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_openapi {
    ($($item:tt)*) => {};
}
pub use state::AppState;

use axum::Router;

/// What every function's router gets: the JSON 404 for unknown paths, the
/// public base URL for page links, the request deadline, re-reading rotated
/// database credentials, the CORS policy (when origins are allowed: it
/// answers a browser's preflight before routing, which would refuse OPTIONS
/// with a 405), and, outermost so that they see the final answer, the
/// access log and the security headers.
pub fn finish_router(router: Router<AppState>, state: AppState) -> Router {
    let mut router = router.fallback(http::routing::not_found);
    if let Some(base) = &state.http.public_base_url {
        router = router.layer(axum::Extension(base.clone()));
    }
    router = router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::deadline::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::deadline::refresh_credentials,
        ));
    if let Some(cors) = http::cors::layer(&state.http.cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(axum::middleware::from_fn(http::access_log::access_log))
        .layer(axum::middleware::from_fn(http::headers::security_headers))
        .with_state(state)
}
