//! The query string as an extractor; reading it is `models::query`'s.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
pub use crate::models::query::QueryParams;

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::parse(parts.uri.query())?)
    }
}
