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
/// request deadline, re-reading rotated database credentials and,
/// outermost so that it sees the final status, the access log.
pub fn finish_router(router: Router<AppState>, state: AppState) -> Router {
    router
        .fallback(http::routing::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::deadline::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::deadline::refresh_credentials,
        ))
        .layer(axum::middleware::from_fn(http::access_log::access_log))
        .with_state(state)
}
