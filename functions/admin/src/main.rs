//! The `admin` Lambda function: migrations on deploy, operator commands.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

/// Migrations and operator commands run one at a time.
const MAX_CONNECTIONS: u32 = 1;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tm_shared::telemetry::init();
    let admin = admin::Admin::load(MAX_CONNECTIONS).await;
    run(service_fn(|event: LambdaEvent<Value>| {
        let admin = &admin;
        async move { admin.handle(event.payload).await }
    }))
    .await
}
