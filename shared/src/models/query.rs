//! The query string, read strictly: a filter value that cannot be understood
//! is a 400 naming the parameter, never an empty or unfiltered list.

use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{ApiError, FieldErrors};
use crate::http::fields::NUL_CHAR;
use crate::models::UnknownValue;

/// The decoded `key=value` pairs of the query string, in order.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut errors = FieldErrors::new();
        for (key, value) in &pairs {
            if key.contains('\0') || value.contains('\0') {
                errors.add(&key.replace('\0', ""), NUL_CHAR);
            }
        }
        errors.into_result()?;
        Ok(Self(pairs))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The last value given for `key`, as Django's `QueryDict.get` does.
    /// An empty value is a value: each reader refuses it, rather than
    /// silently widening a filter a client meant to set.
    pub fn last(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, whether repeated (`?k=a&k=b`) or comma-separated
    /// (`?k=a,b`), parsed as `T`. `None` when the filter is not given.
    pub fn choices<T>(&self, key: &str, errors: &mut FieldErrors) -> Option<Vec<T>>
    where
        T: FromStr<Err = UnknownValue> + PartialEq,
    {
        let mut chosen = Vec::new();
        let items = self
            .0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim);
        for item in items {
            match item.parse::<T>() {
                Ok(value) if !chosen.contains(&value) => chosen.push(value),
                Ok(_) => {}
                Err(err) => errors.add(key, err.message()),
            }
        }
        (!chosen.is_empty()).then_some(chosen)
    }

    /// An RFC 3339 date-time, e.g. `2026-01-31T12:00:00Z`.
    pub fn datetime(&self, key: &str, errors: &mut FieldErrors) -> Option<OffsetDateTime> {
        // An unencoded `+02:00` offset arrives as a space: read it as meant.
        let raw = self.last(key)?.replace(' ', "+");
        match OffsetDateTime::parse(&raw, &Rfc3339) {
            Ok(value) => Some(value),
            Err(_) => {
                errors.add(
                    key,
                    "Enter a valid date/time in RFC 3339 format, e.g. 2026-01-31T12:00:00Z.",
                );
                None
            }
        }
    }

    /// A free-text filter with a length bound.
    pub fn text(&self, key: &str, max_chars: usize, errors: &mut FieldErrors) -> Option<String> {
        let raw = self.last(key)?;
        if raw.is_empty() {
            errors.add(key, crate::http::fields::BLANK);
            return None;
        }
        if raw.chars().count() > max_chars {
            errors.add(
                key,
                format!("Ensure this value has no more than {max_chars} characters."),
            );
            return None;
        }
        Some(raw.to_owned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::parse(parts.uri.query())
    }
}

/// `since` and `until`, both inclusive. An inverted range matches nothing;
/// it is not an error, so each bound can be checked on its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeRange {
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

impl TimeRange {
    pub fn is_unbounded(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    pub fn from_query(params: &QueryParams, errors: &mut FieldErrors) -> Self {
        Self {
            since: params.datetime("since", errors),
            until: params.datetime("until", errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Severity;

    #[test]
    fn repeated_and_comma_separated_values_combine_without_duplicates() {
        let q = QueryParams::parse(Some("severity=High,Critical&severity=High&x=1")).unwrap();
        let mut errors = FieldErrors::new();
        let chosen = q.choices::<Severity>("severity", &mut errors);
        assert!(errors.is_empty());
        assert_eq!(chosen, Some(vec![Severity::High, Severity::Critical]));
    }

    #[test]
    fn an_unknown_choice_is_an_error_not_an_empty_filter() {
        let q = QueryParams::parse(Some("severity=Extreme")).unwrap();
        let mut errors = FieldErrors::new();
        assert_eq!(q.choices::<Severity>("severity", &mut errors), None);
        assert!(!errors.is_empty());
    }

    #[test]
    fn an_empty_value_is_an_error_not_an_absent_filter() {
        let q = QueryParams::parse(Some("severity=&since=&source=&status=High,")).unwrap();
        let mut errors = FieldErrors::new();
        assert_eq!(q.choices::<Severity>("severity", &mut errors), None);
        assert_eq!(q.datetime("since", &mut errors), None);
        assert_eq!(q.text("source", 10, &mut errors), None);
        q.choices::<Severity>("status", &mut errors);
        let mut expected = FieldErrors::new();
        expected.add("severity", "\"\" is not a valid choice.");
        expected.add(
            "since",
            "Enter a valid date/time in RFC 3339 format, e.g. 2026-01-31T12:00:00Z.",
        );
        expected.add("source", crate::http::fields::BLANK);
        expected.add("status", "\"\" is not a valid choice.");
        assert_eq!(errors, expected);
    }

    #[test]
    fn nul_characters_are_refused_anywhere() {
        assert!(QueryParams::parse(Some("source=a%00b")).is_err());
        assert!(QueryParams::parse(Some("so%00urce=ab")).is_err());
    }

    #[test]
    fn datetimes_must_be_rfc3339() {
        let q = QueryParams::parse(Some(
            "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00%2B00:00",
        ))
        .unwrap();
        let mut errors = FieldErrors::new();
        let range = TimeRange::from_query(&q, &mut errors);
        assert!(range.since.is_some() && range.until.is_some());
        assert!(errors.is_empty(), "an inverted range is allowed");

        let q = QueryParams::parse(Some("since=2026-01-01T00:00:00+02:00")).unwrap();
        let mut errors = FieldErrors::new();
        assert!(
            q.datetime("since", &mut errors).is_some(),
            "an unencoded + is an offset"
        );

        let q = QueryParams::parse(Some("since=yesterday")).unwrap();
        let mut errors = FieldErrors::new();
        TimeRange::from_query(&q, &mut errors);
        assert!(!errors.is_empty());
    }

    #[test]
    fn the_last_value_wins_for_single_parameters() {
        let q = QueryParams::parse(Some("page=1&page=3")).unwrap();
        assert_eq!(q.last("page"), Some("3"));
    }
}
