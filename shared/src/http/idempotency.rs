//! `Idempotency-Key`: a retried ingest request gets the first answer again
//! instead of storing its events twice.

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Postgres, Transaction};

use crate::error::ApiError;
use crate::models::fields::FieldErrors;
use crate::state::AppState;
use crate::store::idempotency::{self, Claim};

pub const HEADER: &str = "idempotency-key";
/// Set on an answer that is a stored one sent again.
pub const REPLAYED: &str = "idempotent-replayed";
const MAX_CHARS: usize = 255;
const IN_FLIGHT: &str =
    "A request with this Idempotency-Key is still being processed; retry later.";

/// The request's `Idempotency-Key`, if it sent one: 1–255 printable ASCII
/// characters, or a 400.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(HEADER) else {
            return Ok(Self(None));
        };
        let bytes = value.as_bytes();
        if bytes.is_empty()
            || bytes.len() > MAX_CHARS
            || !bytes.iter().all(|b| (0x20..0x7f).contains(b))
        {
            let mut errors = FieldErrors::new();
            errors.add(
                "Idempotency-Key",
                format!("Must be 1 to {MAX_CHARS} printable ASCII characters."),
            );
            return Err(errors.into());
        }
        // Checked just above: printable ASCII is UTF-8.
        Ok(Self(Some(String::from_utf8_lossy(bytes).into_owned())))
    }
}

/// A claimed key: the request runs, and its answer is recorded with its writes.
#[derive(Debug)]
pub struct Claimed {
    principal: String,
    key: String,
}

/// What to do with a request after looking at its key.
pub enum Start {
    /// No key, or a fresh one (claimed): run the request.
    Run(Option<Claimed>),
    /// The stored answer to send again.
    Replay(Response),
}

/// What the request is, for telling a retry from another request under the
/// same key: method, path and the body's exact bytes.
fn request_hash(method: &Method, path: &str, body: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update(b" ");
    hash.update(path.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hash.finalize().into()
}

/// Claims `key` for `principal`, or answers a retry, a reuse or an overlap.
pub async fn start(
    state: &AppState,
    principal: String,
    key: IdempotencyKey,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<Start, ApiError> {
    let Some(key) = key.0 else {
        return Ok(Start::Run(None));
    };
    let hash = request_hash(method, path, body);
    match idempotency::claim(&state.db, &principal, &key, &hash).await? {
        Claim::Fresh => Ok(Start::Run(Some(Claimed { principal, key }))),
        Claim::Replay { status, body } => Ok(Start::Replay(replay(status, body))),
        Claim::Mismatch => Err(ApiError::Unprocessable(
            "This Idempotency-Key was used with a different request.".to_owned(),
        )),
        Claim::InFlight => Err(ApiError::Conflict(IN_FLIGHT.to_owned())),
    }
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Body::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

impl Claimed {
    /// Records `answer` in `tx`, the transaction of the request's writes,
    /// and gives the response; the caller commits.
    pub async fn record<T: Serialize>(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        status: StatusCode,
        answer: &T,
    ) -> Result<Response, ApiError> {
        let body = serde_json::to_string(answer)
            .map_err(|e| ApiError::internal("serialising an answer", e))?;
        idempotency::complete(
            &mut **tx,
            &self.principal,
            &self.key,
            status.as_u16(),
            &body,
        )
        .await?;
        let mut response = (status, Body::from(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(response)
    }

    /// Gives the key up after a failure that stored nothing. Best effort: if
    /// this fails too, the claim is taken over once it is abandoned.
    pub async fn release(self, state: &AppState) {
        if let Err(e) = idempotency::release(&state.db, &self.principal, &self.key).await {
            tracing::warn!(error = %e, "releasing an idempotency key failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_tells_paths_and_bodies_apart() {
        let a = request_hash(&Method::POST, "/api/events/", b"{}");
        assert_eq!(a, request_hash(&Method::POST, "/api/events/", b"{}"));
        assert_ne!(a, request_hash(&Method::POST, "/api/events/batch/", b"{}"));
        assert_ne!(a, request_hash(&Method::POST, "/api/events/", b"{ }"));
    }
}
