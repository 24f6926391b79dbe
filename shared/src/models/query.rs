//! The query string, read strictly: a filter value that cannot be understood
//! is a 400 naming the parameter, never an empty or unfiltered list. List
//! filters are declared once with [`filters!`](crate::filters): the struct,
//! its reading and its documented parameters follow from the field types
//! ([`FilterField`]).

use std::str::FromStr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::models::UnknownValue;
use crate::models::fields::{BLANK, FieldErrors, NUL_CHAR};

/// The decoded `key=value` pairs of the query string, in order.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Result<Self, FieldErrors> {
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

    /// Pairs from elsewhere than a query string (a bulk change's filter
    /// object), held to the same rules.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, FieldErrors> {
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

    /// Refuses every parameter not in `known`: a misspelt filter is a 400,
    /// never a list that silently ignores it.
    pub fn refuse_unknown(&self, known: &[&str], errors: &mut FieldErrors) {
        for (key, _) in &self.0 {
            if !known.contains(&key.as_str()) {
                errors.add(key, UNKNOWN_PARAMETER);
            }
        }
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
            errors.add(key, BLANK);
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

pub const UNKNOWN_PARAMETER: &str = "Unknown query parameter.";

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
}

/// A row's place in a list's order: its sort time (none for lists ordered by
/// id alone) and its id, the tie-breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Microseconds since the epoch: PostgreSQL's precision, so a position
    /// compares exactly with the column it came from.
    pub micros: Option<i64>,
    pub id: i64,
}

impl Position {
    pub fn at(time: OffsetDateTime, id: i64) -> Self {
        Self {
            micros: Some((time.unix_timestamp_nanos() / 1_000) as i64),
            id,
        }
    }

    pub fn id(id: i64) -> Self {
        Self { micros: None, id }
    }

    pub fn time(&self) -> Option<OffsetDateTime> {
        self.micros
            .and_then(|m| OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1_000).ok())
    }
}

/// What the store is asked for: up to `limit` rows from `from` on, in the
/// list's order, or against it when going backward.
#[derive(Debug, Clone, Copy)]
pub struct Keyset {
    pub from: Option<Position>,
    pub backward: bool,
    pub limit: i64,
}

/// A type a list filter can be: how it is read from the query string under
/// its name, and the parameters the document lists for it.
pub trait FilterField: Sized {
    fn read(params: &QueryParams, name: &str, errors: &mut FieldErrors) -> Self;

    /// The query parameters the field reads: its own name, unless it says.
    fn names(name: &'static str) -> Vec<&'static str> {
        vec![name]
    }

    /// `description` is the filter field's doc comment.
    #[cfg(feature = "openapi")]
    fn params(name: &str, description: &str) -> Vec<utoipa::openapi::path::Parameter>;
}

/// Any of these values: `?k=a,b` or `?k=a&k=b`.
impl<T> FilterField for Option<Vec<T>>
where
    T: crate::models::domain::Choice,
{
    fn read(params: &QueryParams, name: &str, errors: &mut FieldErrors) -> Self {
        params.choices(name, errors)
    }

    #[cfg(feature = "openapi")]
    fn params(name: &str, description: &str) -> Vec<utoipa::openapi::path::Parameter> {
        vec![crate::openapi::choices_param::<T>(name, description)]
    }
}

/// An exact match on a text of at most `MAX` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exact<const MAX: usize>(pub String);

impl<const MAX: usize> FilterField for Option<Exact<MAX>> {
    fn read(params: &QueryParams, name: &str, errors: &mut FieldErrors) -> Self {
        params.text(name, MAX, errors).map(Exact)
    }

    #[cfg(feature = "openapi")]
    fn params(name: &str, description: &str) -> Vec<utoipa::openapi::path::Parameter> {
        vec![crate::openapi::text_param(name, MAX, description)]
    }
}

/// A lower bound on a time under the filter's own name (`updated_since`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since(pub OffsetDateTime);

impl FilterField for Option<Since> {
    fn read(params: &QueryParams, name: &str, errors: &mut FieldErrors) -> Self {
        params.datetime(name, errors).map(Since)
    }

    #[cfg(feature = "openapi")]
    fn params(name: &str, description: &str) -> Vec<utoipa::openapi::path::Parameter> {
        vec![crate::openapi::datetime_param(name, description)]
    }
}

/// `since` and `until`, whatever the field is called; its doc comment is the
/// start of both parameters' descriptions ("Only events" → "Only events at
/// or after this time.").
impl FilterField for TimeRange {
    fn names(_name: &'static str) -> Vec<&'static str> {
        vec!["since", "until"]
    }

    fn read(params: &QueryParams, _name: &str, errors: &mut FieldErrors) -> Self {
        Self {
            since: params.datetime("since", errors),
            until: params.datetime("until", errors),
        }
    }

    #[cfg(feature = "openapi")]
    fn params(_name: &str, description: &str) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            crate::openapi::datetime_param(
                "since",
                &format!("{description} at or after this time."),
            ),
            crate::openapi::datetime_param(
                "until",
                &format!("{description} at or before this time."),
            ),
        ]
    }
}

/// A list's filters, declared once: the struct, `from_query` (collecting
/// every bad parameter) and, with the `openapi` feature, `params()`. Each
/// field's doc comment is its parameter's description.
#[macro_export]
macro_rules! filters {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[doc = $doc:literal])* $field:ident : $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )+
        }

        impl $name {
            pub fn from_query(
                params: &$crate::models::query::QueryParams,
                errors: &mut $crate::models::fields::FieldErrors,
            ) -> Self {
                Self {
                    $( $field: <$ty as $crate::models::query::FilterField>::read(
                        params, stringify!($field), errors,
                    ), )+
                }
            }

            /// The query parameters `from_query` reads.
            pub fn names() -> ::std::vec::Vec<&'static str> {
                let mut all = ::std::vec::Vec::new();
                $( all.extend(<$ty as $crate::models::query::FilterField>::names(
                    stringify!($field),
                )); )+
                all
            }

            $crate::__if_openapi! {
                /// The query parameters `from_query` reads, for the document.
                pub fn params() -> ::std::vec::Vec<$crate::utoipa::openapi::path::Parameter> {
                    let mut all = ::std::vec::Vec::new();
                    $( all.extend(<$ty as $crate::models::query::FilterField>::params(
                        stringify!($field),
                        concat!($($doc),*).trim(),
                    )); )+
                    all
                }
            }
        }
    };
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
        expected.add("source", BLANK);
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
        let range = TimeRange::read(&q, "timestamp", &mut errors);
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
        TimeRange::read(&q, "timestamp", &mut errors);
        assert!(!errors.is_empty());
    }

    #[test]
    fn the_last_value_wins_for_single_parameters() {
        let q = QueryParams::parse(Some("page=1&page=3")).unwrap();
        assert_eq!(q.last("page"), Some("3"));
    }
}
