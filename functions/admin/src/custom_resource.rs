//! The CloudFormation custom resource that runs migrations on every deploy.
//!
//! CloudFormation sends `Create`, `Update` or `Delete` and waits for an
//! answer PUT to the pre-signed `ResponseURL`; until it arrives the stack
//! waits, so the answer is sent whatever happens, failures included.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Admin, AdminError, Outcome};

/// The name CloudFormation keeps for the resource; constant, so an update
/// never looks like a replacement.
const PHYSICAL_ID: &str = "threat-monitoring-migrations";

/// Migrations must finish well inside the function's 120 s timeout, so that
/// a FAILED answer still gets out if the database hangs.
const MIGRATION_DEADLINE: Duration = Duration::from_secs(90);

/// The fields of CloudFormation's request this function uses. Our own
/// rather than `aws_lambda_events`' `CloudFormationCustomResourceRequest`:
/// that one also requires `ResourceType`, `ResourceProperties` and, on an
/// update, `PhysicalResourceId` and `OldResourceProperties`, so an event
/// short of any of them would fail to parse and the stack would wait an
/// hour for an answer; this one answers any request that has a `ResponseURL`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CustomResourceResponse<'a> {
    status: &'static str,
    reason: String,
    physical_resource_id: &'a str,
    stack_id: &'a str,
    request_id: &'a str,
    logical_resource_id: &'a str,
    data: &'a Value,
}

pub async fn respond(admin: &Admin, request: CustomResourceRequest) -> Outcome {
    let result = match request.request_type {
        // Deleting the stack keeps the data: the database has its own
        // deletion policy (a final snapshot).
        RequestType::Delete => Ok(json!({})),
        RequestType::Create | RequestType::Update => {
            // Then the application's login, which the API functions connect
            // as: the migrations made its role and grants.
            let deploy = async {
                let count = admin.migrate(true).await?;
                let mut data = json!({ "Migrations": count });
                if let Some(login) = admin.provision_app_login().await? {
                    data["AppLogin"] = json!(login);
                }
                if let Some(Value::String(kid)) = admin.ensure_signing_keys().await? {
                    data["SigningKeyId"] = json!(kid);
                }
                Ok::<_, AdminError>(data)
            };
            match tokio::time::timeout(MIGRATION_DEADLINE, deploy).await {
                Ok(result) => result,
                Err(_) => Err(AdminError("migrations did not finish in 90 s".into())),
            }
        }
    };
    let (status, reason, data) = match result {
        Ok(data) => ("SUCCESS", "migrations applied".to_owned(), data),
        Err(e) => ("FAILED", e.to_string(), json!({})),
    };
    tracing::info!(request_type = ?request.request_type, status, "custom resource");
    let response = CustomResourceResponse {
        status,
        reason,
        physical_resource_id: request
            .physical_resource_id
            .as_deref()
            .unwrap_or(PHYSICAL_ID),
        stack_id: &request.stack_id,
        request_id: &request.request_id,
        logical_resource_id: &request.logical_resource_id,
        data: &data,
    };
    let body = serde_json::to_vec(&response).map_err(|e| AdminError(e.to_string()))?;
    put(&request.response_url, body, admin.allows_loopback_answers()).await?;
    // Answered, FAILED included: the invocation itself succeeded, so Lambda
    // does not retry it against a stack that has moved on.
    Ok(json!({ "Status": status, "Reason": response.reason, "Data": data }))
}

/// PUTs the answer, over HTTPS (plain http to loopback only when allowed,
/// for the tests' listener: in Lambda, loopback is the Runtime API).
async fn put(url: &str, body: Vec<u8>, allow_loopback: bool) -> Result<(), AdminError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| AdminError("ResponseURL is not a URL".into()))?;
    let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if uri.scheme_str() != Some("https") && !(loopback && allow_loopback) {
        return Err(AdminError("ResponseURL must be https".into()));
    }
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| AdminError(format!("TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    // No Content-Type: the URL was signed without one.
    let request = Request::builder()
        .method(Method::PUT)
        .uri(uri)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| AdminError(e.to_string()))?;
    let response = tokio::time::timeout(Duration::from_secs(20), client.request(request))
        .await
        .map_err(|_| AdminError("answering CloudFormation timed out".into()))?
        .map_err(|e| AdminError(format!("answering CloudFormation: {e}")))?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(AdminError(format!(
            "CloudFormation's URL answered {status}"
        )))
    }
}
