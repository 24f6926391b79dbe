//! `tmctl`, the operator CLI: migrations, users, the local API server and a
//! one-command development environment. The library half is what the tests
//! drive: [`app`] is exactly what `tmctl serve` serves.

pub mod devdb;
pub mod serve;
pub mod users;

use axum::Router;
use tm_shared::AppState;

/// The three functions' routes behind one router, as API Gateway puts them
/// behind one API. Each route runs the same handler code Lambda runs.
pub fn app(state: AppState) -> Router {
    let routes = token::routes()
        .merge(events::routes())
        .merge(alerts::routes());
    tm_shared::finish_router(routes, state)
}
