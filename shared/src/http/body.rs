//! The JSON request body: media type, size limit and syntax, answered in the
//! API's own error format instead of the framework's.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Bodies above this size are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A request body that is a JSON object. Field-level checks come after.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let body = RawJson::<MAX_BODY_BYTES>::from_request(req, _state).await?;
        body.object().map(Self)
    }
}

/// A JSON request body of at most `LIMIT` bytes, kept as sent (an
/// idempotent request compares the bytes of its retries); media type and
/// size checked, syntax not yet.
#[derive(Debug)]
pub struct RawJson<const LIMIT: usize>(pub axum::body::Bytes);

impl<const LIMIT: usize> RawJson<LIMIT> {
    /// The body as a JSON object, or the API's error for what it is instead.
    pub fn object(&self) -> Result<Map<String, Value>, ApiError> {
        parse_object(&self.0)
    }
}

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for RawJson<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        check_media_type(req.headers().get(header::CONTENT_TYPE))?;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > LIMIT) {
            return Err(ApiError::body_too_large(LIMIT));
        }
        read_limited(req.into_body(), LIMIT).await.map(Self)
    }
}

fn check_media_type(value: Option<&header::HeaderValue>) -> Result<(), ApiError> {
    let raw = value.and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = raw.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        // Echoed back as DRF does; bounded so a huge header is not mirrored.
        let shown: String = raw.chars().take(100).collect();
        Err(ApiError::UnsupportedMediaType(shown))
    }
}

async fn read_limited(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        if err.into_inner().is::<http_body_util::LengthLimitError>() {
            ApiError::body_too_large(limit)
        } else {
            ApiError::BadRequest("The request body could not be read.".to_owned())
        }
    })
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        // serde_json's syntax messages name a position, never a Rust type,
        // because the target here is an untyped `Value`.
        ApiError::MalformedJson(format!("JSON parse error - {e}"))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::BadRequest(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            json_kind(&other)
        ))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_with_parameters_is_accepted() {
        let v = HeaderValue::from_static("Application/JSON; charset=utf-8");
        assert!(check_media_type(Some(&v)).is_ok());
    }

    #[test]
    fn other_media_types_are_unsupported() {
        let v = HeaderValue::from_static("text/plain");
        assert!(matches!(
            check_media_type(Some(&v)),
            Err(ApiError::UnsupportedMediaType(t)) if t == "text/plain"
        ));
        assert!(check_media_type(None).is_err());
        let v = HeaderValue::from_static("application/jsonp");
        assert!(check_media_type(Some(&v)).is_err());
    }

    #[test]
    fn a_non_object_body_is_a_body_level_error() {
        assert!(
            matches!(parse_object(b"[1,2]"), Err(ApiError::BadRequest(m)) if m.contains("got list"))
        );
        assert!(matches!(
            parse_object(b"{"),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(parse_object(b"{\"a\":1}").is_ok());
    }
}
