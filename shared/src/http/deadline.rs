//! A deadline on every request, so that a database which stops answering in
//! the middle of a query yields a 503, not a request that hangs until the
//! Lambda timeout (or forever, locally).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

pub async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable("request deadline passed".into()).into_response(),
    }
}
