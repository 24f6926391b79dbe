//! The `token` Lambda function: state once per cold start, then every request
//! through the same router the local server serves.

use lambda_http::{Error, run};
use tm_shared::AppState;

/// One request at a time per Lambda instance: one connection serves it, and a
/// second covers a connection being replaced.
const MAX_CONNECTIONS: u32 = 2;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tm_shared::telemetry::init();
    let state = AppState::from_env(MAX_CONNECTIONS)?;
    run(tm_shared::lambda::service(token::router(state))).await
}
