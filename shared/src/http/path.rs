//! The `{id}` path segment of a resource.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::error::ApiError;

/// A resource id from the path. Anything that is not a positive integer of
/// sane length is a 404, as Django's `<int:pk>` converter makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceId(pub i64);

impl ResourceId {
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        raw.parse().ok().filter(|id| *id > 0).map(Self)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        Self::parse(&raw).ok_or(ApiError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_decimal_integers_are_ids() {
        assert_eq!(ResourceId::parse("42"), Some(ResourceId(42)));
        assert_eq!(ResourceId::parse("007"), Some(ResourceId(7)));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "1.0",
            "abc",
            "1e3",
            "99999999999999999999",
            " 1",
        ] {
            assert_eq!(ResourceId::parse(bad), None, "{bad:?}");
        }
    }
}
