//! The one error type of the API and its mapping to HTTP responses.
//!
//! The wire format is Django REST Framework's, because clients of the original
//! API parse it: `{"detail": "..."}` for most errors, `{"field": ["msg"]}` for
//! validation errors. Internal details (SQL, driver messages, Rust types) are
//! logged, never sent.

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use crate::models::fields::FieldErrors;

/// Marks a response whose request failed because the database refused the
/// credentials, so a layer that owns the state can fetch fresh ones.
#[derive(Debug, Clone, Copy)]
pub struct CredentialsRejected;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(FieldErrors),
    /// A body-level problem that is not about one field (e.g. not an object).
    #[error("bad request")]
    BadRequest(String),
    /// A request header the server reads is malformed (`If-Match`).
    #[error("bad header: {0}")]
    BadHeader(String),
    /// `If-Match` names a version that is no longer current; nothing changed.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// The body is not JSON at all.
    #[error("malformed JSON")]
    MalformedJson(String),
    #[error("authentication credentials were not provided")]
    NotAuthenticated,
    /// Any bad token: expired, forged, wrong type. The body never says which.
    #[error("invalid token")]
    InvalidToken,
    /// Wrong username or password, or an inactive user: one answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("permission denied")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("invalid page")]
    InvalidPage,
    /// The request is valid but the resource's current state does not allow it.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("method not allowed")]
    MethodNotAllowed { method: Method, allow: HeaderValue },
    /// The body, or the batch in it, is over a limit the message names.
    #[error("payload too large")]
    PayloadTooLarge(String),
    /// Field errors of items inside a list, keyed by list and position:
    /// `{"events": {"3": {"severity": ["..."]}}}`.
    #[error("validation failed in list items")]
    ItemValidation(serde_json::Value),
    /// A well-formed request the server will not act on (an idempotency key
    /// reused with another body).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// Too many failed sign-ins for a username: retry after this many seconds.
    #[error("throttled")]
    Throttled(u64),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    /// The database did not answer in time or is unreachable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The database refused our credentials: rotated since the cold start,
    /// most likely. Answered like `Unavailable`; the state re-reads them.
    #[error("database refused the credentials: {0}")]
    DbCredentialsRejected(String),
    /// Anything else: what was being done, and why it failed, with the
    /// whole source chain. For the log only.
    #[error("internal error: {context}")]
    Internal {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ApiError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_)
            | Self::ItemValidation(_)
            | Self::BadRequest(_)
            | Self::BadHeader(_)
            | Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::NotAuthenticated | Self::InvalidToken | Self::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound | Self::InvalidPage => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) | Self::DbCredentialsRejected(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> serde_json::Value {
        match self {
            Self::Validation(errors) => json!(errors.as_map()),
            Self::BadRequest(message) => json!({ "non_field_errors": [message] }),
            Self::MalformedJson(message)
            | Self::BadHeader(message)
            | Self::PreconditionFailed(message) => json!({ "detail": message }),
            Self::NotAuthenticated => {
                json!({ "detail": "Authentication credentials were not provided." })
            }
            Self::InvalidToken => json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
            }),
            Self::InvalidCredentials => {
                json!({ "detail": "No active account found with the given credentials" })
            }
            Self::Forbidden => {
                json!({ "detail": "You do not have permission to perform this action." })
            }
            Self::NotFound => json!({ "detail": "Not found." }),
            Self::InvalidPage => json!({ "detail": "Invalid page." }),
            Self::Conflict(message) => json!({ "detail": message }),
            Self::MethodNotAllowed { method, .. } => {
                json!({ "detail": format!("Method \"{method}\" not allowed.") })
            }
            Self::PayloadTooLarge(message) | Self::Unprocessable(message) => {
                json!({ "detail": message })
            }
            Self::ItemValidation(errors) => errors.clone(),
            Self::Throttled(seconds) => json!({
                "detail": format!("Request was throttled. Expected available in {seconds} seconds.")
            }),
            Self::UnsupportedMediaType(media_type) => {
                json!({ "detail": format!("Unsupported media type \"{media_type}\" in request.") })
            }
            Self::Unavailable(_) | Self::DbCredentialsRejected(_) => {
                json!({ "detail": "Service temporarily unavailable, try again later." })
            }
            Self::Internal { .. } => json!({ "detail": "A server error occurred." }),
        }
    }
}

impl ApiError {
    /// The body is over `limit` bytes.
    pub fn body_too_large(limit: usize) -> Self {
        Self::PayloadTooLarge(format!("Request body is larger than {} KiB.", limit / 1024))
    }

    /// A failure of `context` caused by `source`, for the log only.
    pub fn internal(
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Internal {
            context,
            source: source.into(),
        }
    }
}

/// An error and every cause behind it, `: `-separated; a cause whose text
/// its error already ends with (sqlx's database errors quote their source)
/// is not repeated.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(next) = cause {
        let shown = next.to_string();
        if !text.ends_with(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        cause = next.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal { .. } => tracing::error!(error = %chain(&self), "internal error"),
            Self::Unavailable(detail) => tracing::warn!(error = %detail, "database unavailable"),
            Self::DbCredentialsRejected(detail) => {
                tracing::error!(error = %detail, "database refused the credentials")
            }
            _ => {}
        }
        let mut response = (self.status_code(), axum::Json(self.body())).into_response();
        match &self {
            Self::NotAuthenticated | Self::InvalidToken => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"api\""),
                );
            }
            Self::MethodNotAllowed { allow, .. } => {
                response.headers_mut().insert(header::ALLOW, allow.clone());
            }
            Self::Unavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Throttled(seconds) => {
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            Self::DbCredentialsRejected(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response.extensions_mut().insert(CredentialsRejected);
            }
            _ => {}
        }
        response
    }
}

/// SQLSTATE class 08 (connection exception), 40 (serialization failure,
/// deadlock), 53 (insufficient resources) and 57 (operator intervention:
/// shutdown, statement timeout) are the database being unavailable, busy or
/// slow, not a bug: the client may retry.
fn is_transient_sqlstate(code: &str) -> bool {
    ["08", "40", "53", "57"]
        .iter()
        .any(|class| code.starts_with(class))
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(err.to_string()),
            sqlx::Error::Database(db)
                if db.code().as_deref().is_some_and(is_transient_sqlstate) =>
            {
                Self::Unavailable(err.to_string())
            }
            // Class 28: invalid authorization (wrong password, unknown role).
            sqlx::Error::Database(db)
                if db.code().as_deref().is_some_and(|c| c.starts_with("28")) =>
            {
                Self::DbCredentialsRejected(err.to_string())
            }
            _ => Self::internal("database", err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_timeout_states_are_transient() {
        assert!(is_transient_sqlstate("08006"));
        assert!(is_transient_sqlstate("57014")); // statement timeout
        assert!(is_transient_sqlstate("57P01")); // admin shutdown
        assert!(is_transient_sqlstate("53300")); // too many connections
        assert!(is_transient_sqlstate("40P01")); // deadlock
        assert!(!is_transient_sqlstate("23505")); // unique violation is a bug here
    }

    #[test]
    fn internal_errors_do_not_leak_their_detail() {
        let err = ApiError::internal("listing", "relation \"users\" does not exist");
        assert_eq!(err.body(), json!({ "detail": "A server error occurred." }));
        assert_eq!(
            chain(&err),
            "internal error: listing: relation \"users\" does not exist"
        );
    }

    #[test]
    fn field_errors_collect_per_field() {
        let mut errors = FieldErrors::new();
        errors.add("source", "a");
        errors.add("source", "b");
        errors.add("severity", "c");
        let body = ApiError::Validation(errors).body();
        assert_eq!(body, json!({ "severity": ["c"], "source": ["a", "b"] }));
    }
}
