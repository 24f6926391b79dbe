//! `If-Match` on alerts: a change applies only to the version the client
//! read, so two analysts editing from the same read cannot overwrite each
//! other unseen.

use axum::extract::FromRequestParts;
use axum::http::header::IF_MATCH;
use axum::http::request::Parts;

use crate::error::ApiError;

/// The versions a request's `If-Match` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header: the change applies to whatever version is current.
    Absent,
    /// `*`: any current version (the resource must exist).
    Any,
    /// Strong tags, as `ETag` sends them (`"7"`). A weak tag (`W/"7"`) never
    /// matches: `If-Match` compares strongly (RFC 9110, 13.1.1).
    Versions(Vec<i64>),
}

impl IfMatch {
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw == "*" {
            return Some(Self::Any);
        }
        let mut versions = Vec::new();
        for tag in raw.split(',').map(str::trim) {
            let (weak, quoted) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
            // Any entity tag is well-formed; only ours (digits) can match.
            if inner.contains('"') || !inner.is_ascii() {
                return None;
            }
            if let (false, Ok(version)) = (weak, inner.parse::<i64>()) {
                versions.push(version);
            }
        }
        Some(Self::Versions(versions))
    }

    /// Whether a change may apply to `version`.
    pub fn allows(&self, version: i64) -> bool {
        match self {
            Self::Absent | Self::Any => true,
            Self::Versions(versions) => versions.contains(&version),
        }
    }

    pub fn is_present(&self) -> bool {
        *self != Self::Absent
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let values: Vec<_> = parts.headers.get_all(IF_MATCH).iter().collect();
        if values.is_empty() {
            return Ok(Self::Absent);
        }
        let mut all = Vec::new();
        for value in values {
            match value.to_str().ok().and_then(Self::parse) {
                Some(Self::Any) => return Ok(Self::Any),
                Some(Self::Versions(versions)) => all.extend(versions),
                _ => {
                    return Err(ApiError::BadHeader(
                        "If-Match must be * or entity tags as ETag sends them, e.g. \"3\".".into(),
                    ));
                }
            }
        }
        Ok(Self::Versions(all))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_tags_match_and_weak_ones_never_do() {
        assert!(IfMatch::parse("\"3\"").unwrap().allows(3));
        assert!(!IfMatch::parse("\"3\"").unwrap().allows(4));
        assert!(IfMatch::parse("\"2\", \"4\"").unwrap().allows(4));
        assert!(!IfMatch::parse("W/\"3\"").unwrap().allows(3));
        assert!(!IfMatch::parse("\"abc\"").unwrap().allows(3));
        assert!(IfMatch::parse("*").unwrap().allows(9));
        assert_eq!(IfMatch::parse("3"), None);
        assert_eq!(IfMatch::parse("\"3"), None);
        assert_eq!(IfMatch::parse(""), None);
    }
}
