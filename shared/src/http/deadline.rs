//! Guards around every request's use of the database: a deadline, so that a
//! database which stops answering mid-query yields a 503 rather than a hang,
//! and fresh credentials after the database refused the old ones.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, CredentialsRejected};
use crate::state::AppState;

pub async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable("request deadline passed".into()).into_response(),
    }
}

/// After a response whose request the database refused for its credentials,
/// reads them again before answering: Lambda may freeze the instance right
/// after the response, so this is not left to a background task.
pub async fn refresh_credentials(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let response = next.run(req).await;
    if response.extensions().get::<CredentialsRejected>().is_some()
        && let Some(credentials) = &state.credentials
    {
        credentials.refresh(&state.db).await;
    }
    response
}
