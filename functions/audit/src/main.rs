//! The `audit` Lambda function: state once per cold start, then every request
//! through the same router the local server serves.

use lambda_http::{Error, run};
use tm_shared::AppState;

/// A Lambda instance serves one request at a time, and a request uses one
/// connection at a time: more would only take PostgreSQL connection slots.
const MAX_CONNECTIONS: u32 = 1;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tm_shared::telemetry::init();
    let state = AppState::load(MAX_CONNECTIONS).await?;
    run(tm_shared::lambda::service(audit::router(state))).await
}
