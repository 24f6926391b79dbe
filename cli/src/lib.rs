//! `tmctl`, the operator CLI: migrations, users, the local API server and a
//! one-command development environment. The library half is what the tests
//! drive: [`app`] is exactly what `tmctl serve` serves.

pub mod devdb;
pub mod openapi;
pub mod postman;
pub mod sensor_keys;
pub mod serve;
pub mod statements;
pub mod users;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tm_shared::{ApiError, AppState};

/// The local server's health check: unauthenticated, one round trip.
pub const HEALTH_PATH: &str = "/api/health/";

/// Every route as `(function, path)`: each function's paths with and without
/// their trailing slash. The deployment template must route exactly these.
pub fn routes() -> Vec<(&'static str, String)> {
    let functions = [
        ("token", token::PATHS),
        ("events", events::PATHS),
        ("alerts", alerts::PATHS),
        ("keys", keys::PATHS),
        ("silences", silences::PATHS),
        ("users", ::users::PATHS),
        ("audit", ::audit::PATHS),
    ];
    let mut all = Vec::new();
    for (function, paths) in functions {
        for path in paths.iter() {
            all.push((function, (*path).to_owned()));
            all.push((function, path.trim_end_matches('/').to_owned()));
        }
    }
    all
}

/// The functions' routes behind one router, as API Gateway puts them
/// behind one API. Each route runs the same handler code Lambda runs.
pub fn app(state: AppState) -> Router {
    let routes = token::routes()
        .merge(events::routes())
        .merge(alerts::routes())
        .merge(keys::routes())
        .merge(silences::routes())
        .merge(::users::routes())
        .merge(::audit::routes())
        .merge(openapi::routes());
    let routes = tm_shared::http::routing::route_both(
        routes,
        HEALTH_PATH,
        get(health),
        &[axum::http::Method::GET],
    );
    tm_shared::finish_router(routes, state)
}

/// 200 when the database answers, 503 (as every route answers then) when not.
async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    tm_shared::store::ping(&state.db).await?;
    Ok(Json(json!({ "status": "ok" })))
}
