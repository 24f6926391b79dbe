//! Request bodies, declared once. [`body!`](crate::body) turns a list of
//! typed fields into the domain value, its parser and its OpenAPI schema;
//! each field's type ([`BodyField`]) says how one JSON value becomes it.
//!
//! Reading collects every problem in DRF's `{"field": ["message"]}` shape
//! instead of stopping at the first. JSON types are strict: a number where a
//! string is expected is an error, never converted. Unknown fields are
//! refused (a misspelt name is not silently dropped); read-only ones are
//! accepted and ignored, so a client may send back what it read.
//!
//! Hand-written rather than serde with `deny_unknown_fields`: serde stops at
//! the first bad field and words its messages for Rust, not for DRF clients.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub const REQUIRED: &str = "This field is required.";
pub const NOT_NULL: &str = "This field may not be null.";
pub const NOT_STRING: &str = "Not a valid string.";
pub const BLANK: &str = "This field may not be blank.";
pub const NUL_CHAR: &str = "Null characters are not allowed.";
pub const UNKNOWN_FIELD: &str = "Unknown field.";

/// Validation messages keyed by field name, in DRF's shape.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The messages by field, as the response body shows them.
    pub fn as_map(&self) -> &BTreeMap<String, Vec<String>> {
        &self.0
    }

    /// `Ok(())` when nothing was recorded, the errors otherwise.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// Whether absent fields are errors (create, full update) or left alone (partial update).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    Partial,
}

/// How a text field is read.
#[derive(Debug, Clone, Copy)]
pub struct TextRule {
    pub max_chars: usize,
    pub allow_blank: bool,
    /// Trim surrounding whitespace first, as DRF's `CharField` does.
    pub trim: bool,
}

impl TextRule {
    /// The value this rule makes of a string, or DRF's message why not.
    pub fn apply(&self, raw: &str) -> Result<String, String> {
        let value = if self.trim { raw.trim() } else { raw };
        if value.is_empty() && !self.allow_blank {
            return Err(BLANK.to_owned());
        }
        if value.chars().count() > self.max_chars {
            return Err(format!(
                "Ensure this field has no more than {} characters.",
                self.max_chars
            ));
        }
        Ok(value.to_owned())
    }
}

/// A type a body field can hold: how a present, non-null JSON value becomes
/// one, and how the document describes it.
pub trait BodyField: Sized {
    /// Whether a complete body may leave the field out (`Option<T>`).
    const OPTIONAL: bool = false;
    /// Whether the document says so (a field only some callers may leave
    /// out is documented as required).
    const DOCUMENTED_OPTIONAL: bool = Self::OPTIONAL;

    /// The value, or the message for the field's error list.
    fn from_json(value: &Value) -> Result<Self, String>;

    /// What an explicit `null` means: an error unless the field is optional.
    fn from_null() -> Result<Self, String> {
        Err(NOT_NULL.to_owned())
    }

    /// What a complete body that leaves the field out means, if it may.
    fn absent() -> Option<Self> {
        None
    }

    /// The field's schema; `description` is the field's doc comment.
    #[cfg(feature = "openapi")]
    fn schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>;
}

/// A field a complete body may leave out or set to `null`; it is then `None`.
impl<T: BodyField> BodyField for Option<T> {
    const OPTIONAL: bool = true;

    fn from_json(value: &Value) -> Result<Self, String> {
        T::from_json(value).map(Some)
    }

    fn from_null() -> Result<Self, String> {
        Ok(None)
    }

    fn absent() -> Option<Self> {
        Some(None)
    }

    #[cfg(feature = "openapi")]
    fn schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::nullable(T::schema(description))
    }
}

/// A JSON `true` or `false`, nothing else (no `"true"`, no `1`).
impl BodyField for bool {
    fn from_json(value: &Value) -> Result<Self, String> {
        value
            .as_bool()
            .ok_or_else(|| "Must be a valid boolean.".to_owned())
    }

    #[cfg(feature = "openapi")]
    fn schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Boolean)
            .description(Some(description))
            .into()
    }
}

/// The string of a JSON value, refusing other types and NUL characters
/// (PostgreSQL cannot store them).
pub fn json_str(value: &Value) -> Result<&str, String> {
    match value {
        Value::String(s) if s.contains('\0') => Err(NUL_CHAR.to_owned()),
        Value::String(s) => Ok(s),
        _ => Err(NOT_STRING.to_owned()),
    }
}

/// A text newtype whose parse is its [`TextRule`]: holding one proves the
/// rule was applied. `secret` ones (passwords) show as `[redacted]` in
/// `Debug`, so no log or panic message can carry them.
#[macro_export]
macro_rules! text_field {
    ($(#[$meta:meta])* $vis:vis secret $name:ident = $rule:expr) => {
        $crate::text_field!(@define $(#[$meta])* $vis $name = $rule);

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
    ($(#[$meta:meta])* $vis:vis $name:ident = $rule:expr) => {
        $crate::text_field!(@define $(#[$meta])* $vis $name = $rule);

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.0, f)
            }
        }
    };
    (@define $(#[$meta:meta])* $vis:vis $name:ident = $rule:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        $vis struct $name(::std::string::String);

        impl $name {
            pub const RULE: $crate::models::fields::TextRule = $rule;

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> ::std::string::String {
                self.0
            }
        }

        impl $crate::models::fields::BodyField for $name {
            fn from_json(
                value: &$crate::serde_json::Value,
            ) -> ::core::result::Result<Self, ::std::string::String> {
                let raw = $crate::models::fields::json_str(value)?;
                Self::RULE.apply(raw).map(Self)
            }

            $crate::__if_openapi! {
                fn schema(
                    description: &str,
                ) -> $crate::utoipa::openapi::RefOr<$crate::utoipa::openapi::schema::Schema> {
                    $crate::openapi::text(Self::RULE, description)
                }
            }
        }
    };
}

/// Reads one body, field by field; what [`body!`](crate::body) expands to.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    errors: FieldErrors,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            errors: FieldErrors::new(),
        }
    }

    /// A field that may be absent: `None` then, and `None` with an error
    /// recorded when it is present but bad.
    pub fn optional<T: BodyField>(&mut self, name: &str) -> Option<T> {
        let value = self.map.get(name)?;
        let parsed = if value.is_null() {
            T::from_null()
        } else {
            T::from_json(value)
        };
        match parsed {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                self.errors.add(name, message);
                None
            }
        }
    }

    /// A field that must be present: `None` only with an error recorded.
    pub fn required<T: BodyField>(&mut self, name: &str) -> Option<T> {
        if !self.map.contains_key(name) {
            let absent = T::absent();
            if absent.is_none() {
                self.errors.add(name, REQUIRED);
            }
            return absent;
        }
        self.optional(name)
    }

    /// Ends reading: every error so far, with the fields outside `writable`
    /// and `read_only` refused.
    pub fn finish(mut self, writable: &[&str], read_only: &[&str]) -> FieldErrors {
        for key in self.map.keys() {
            let known = writable.contains(&key.as_str()) || read_only.contains(&key.as_str());
            if !known {
                self.errors.add(key, UNKNOWN_FIELD);
            }
        }
        self.errors
    }
}

/// One request body, declared once: the complete value (`full`, for create
/// and PUT: every field required), the partial one (`partial`, for PATCH:
/// every field optional), either or both; their parsers, which collect every
/// bad field at once; and, with the `openapi` feature, their schemas. Each
/// field's doc comment is its description in the document.
///
/// ```ignore
/// body! {
///     full NewEvent: "An event.",
///     partial EventChanges: "The fields to change.",
///     fields { /// Where it came from.
///              source: Source, severity: Severity },
///     read_only ["id"],
/// }
/// ```
#[macro_export]
macro_rules! body {
    (
        full $full:ident : $full_doc:literal,
        partial $partial:ident : $partial_doc:literal,
        fields $fields:tt,
        read_only [$($read_only:literal),* $(,)?] $(,)?
    ) => {
        $crate::body!(@full $full $full_doc [$($read_only),*] $fields);
        $crate::body!(@partial $partial $partial_doc [$($read_only),*] $fields);
        $crate::body!(@convert $full $partial $fields);
    };
    (
        full $full:ident : $full_doc:literal,
        fields $fields:tt,
        read_only [$($read_only:literal),* $(,)?] $(,)?
    ) => {
        $crate::body!(@full $full $full_doc [$($read_only),*] $fields);
    };
    (
        partial $partial:ident : $partial_doc:literal,
        fields $fields:tt,
        read_only [$($read_only:literal),* $(,)?] $(,)?
    ) => {
        $crate::body!(@partial $partial $partial_doc [$($read_only),*] $fields);
    };

    (@full $name:ident $doc:literal [$($read_only:literal),*]
        { $( $(#[doc = $field_doc:literal])* $field:ident : $ty:ty ),+ $(,)? }) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[doc = $field_doc])* pub $field: $ty, )+
        }

        $crate::body!(@common $name $doc Full [$($read_only),*]
            { $( $(#[doc = $field_doc])* $field : $ty ),+ });

        impl $name {
            /// Every field is required.
            pub fn parse(
                body: &$crate::serde_json::Map<::std::string::String, $crate::serde_json::Value>,
            ) -> ::core::result::Result<Self, $crate::models::fields::FieldErrors> {
                let mut fields = $crate::models::fields::Fields::new(body);
                $( let $field = fields.required::<$ty>(stringify!($field)); )+
                let errors = fields.finish(Self::WRITABLE, Self::READ_ONLY);
                // `required` records an error whenever it gives `None`, so
                // the second arm always has something to report.
                match ($($field,)+) {
                    ($(::core::option::Option::Some($field),)+) if errors.is_empty() => {
                        ::core::result::Result::Ok(Self { $($field),+ })
                    }
                    _ => ::core::result::Result::Err(errors),
                }
            }
        }
    };

    // Alike in shape to `@full` by design: the two differ in each line that
    // matters (optional fields, optional reads, no all-present match), and
    // what they share is `@common`'s.
    (@partial $name:ident $doc:literal [$($read_only:literal),*]
        { $( $(#[doc = $field_doc:literal])* $field:ident : $ty:ty ),+ $(,)? }) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[doc = $field_doc])* pub $field: ::core::option::Option<$ty>, )+
        }

        $crate::body!(@common $name $doc Partial [$($read_only),*]
            { $( $(#[doc = $field_doc])* $field : $ty ),+ });

        impl $name {
            /// Absent fields are left as they are.
            pub fn parse(
                body: &$crate::serde_json::Map<::std::string::String, $crate::serde_json::Value>,
            ) -> ::core::result::Result<Self, $crate::models::fields::FieldErrors> {
                let mut fields = $crate::models::fields::Fields::new(body);
                let parsed = Self {
                    $( $field: fields.optional::<$ty>(stringify!($field)), )+
                };
                fields
                    .finish(Self::WRITABLE, Self::READ_ONLY)
                    .into_result()
                    .map(|()| parsed)
            }
        }
    };

    // What both forms have: the field names, and the schema in `$mode`.
    (@common $name:ident $doc:literal $mode:ident [$($read_only:literal),*]
        { $( $(#[doc = $field_doc:literal])* $field:ident : $ty:ty ),+ $(,)? }) => {
        impl $name {
            pub const WRITABLE: &'static [&'static str] = &[$(stringify!($field)),+];
            /// Accepted and ignored, so a client can send back what it read.
            pub const READ_ONLY: &'static [&'static str] = &[$($read_only),*];

            $crate::__if_openapi! {
                pub fn schema() -> $crate::utoipa::openapi::RefOr<$crate::utoipa::openapi::schema::Schema> {
                    $crate::openapi::object_body(
                        $doc,
                        vec![$((
                            stringify!($field),
                            <$ty as $crate::models::fields::BodyField>::DOCUMENTED_OPTIONAL,
                            <$ty as $crate::models::fields::BodyField>::schema(
                                concat!($($field_doc),*).trim(),
                            ),
                        )),+],
                        $crate::models::fields::Mode::$mode,
                        Self::READ_ONLY,
                    )
                }
            }
        }
    };

    (@convert $full:ident $partial:ident
        { $( $(#[doc = $field_doc:literal])* $field:ident : $ty:ty ),+ $(,)? }) => {
        /// A complete value changes every field.
        impl From<$full> for $partial {
            fn from(full: $full) -> Self {
                Self { $( $field: ::core::option::Option::Some(full.$field), )+ }
            }
        }
    };
}

#[cfg(test)]
#[allow(dead_code)] // Not every generated item is exercised here.
mod tests {
    use super::*;
    use crate::models::Severity;
    use serde_json::json;

    crate::text_field!(pub Name = TextRule {
        max_chars: 5,
        allow_blank: false,
        trim: true,
    });

    crate::text_field!(pub secret Secret = TextRule {
        max_chars: 5,
        allow_blank: false,
        trim: false,
    });

    crate::body! {
        full Thing: "A thing.",
        partial ThingChanges: "Some of a thing.",
        fields {
            /// Its name.
            name: Name,
            severity: Severity,
        },
        read_only ["id"],
    }

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn missing_fields_are_required_only_in_full_mode() {
        let map = object(json!({}));
        let mut expected = FieldErrors::new();
        expected.add("name", REQUIRED);
        expected.add("severity", REQUIRED);
        assert_eq!(Thing::parse(&map), Err(expected));
        assert_eq!(ThingChanges::parse(&map), Ok(ThingChanges::default()));
    }

    #[test]
    fn a_complete_body_is_the_value_and_converts_to_changes() {
        let map = object(json!({"name": " ab ", "severity": "High", "id": 4}));
        let thing = Thing::parse(&map).unwrap();
        assert_eq!(thing.name.as_str(), "ab");
        let changes = ThingChanges::from(thing);
        assert_eq!(changes.severity, Some(Severity::High));
    }

    #[test]
    fn strings_are_trimmed_bounded_and_never_converted() {
        for bad in [
            json!(5),
            json!(true),
            json!(["a"]),
            json!(null),
            json!("   "),
            json!("abcdef"),
            json!("a\u{0}b"),
        ] {
            let map = object(json!({ "name": bad }));
            assert!(
                ThingChanges::parse(&map).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn a_secret_field_never_shows_in_debug() {
        let secret = <Secret as BodyField>::from_json(&json!("hunter")).unwrap_err();
        assert!(secret.contains("no more than 5"));
        let secret = <Secret as BodyField>::from_json(&json!("pw")).unwrap();
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.as_str(), "pw");
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let map = object(json!({"name": "ééééé"}));
        let changes = ThingChanges::parse(&map).unwrap();
        assert_eq!(changes.name.unwrap().as_str(), "ééééé");
    }

    #[test]
    fn unknown_fields_are_refused_and_read_only_ones_ignored() {
        let map = object(json!({"id": 3, "sevrity": "High"}));
        let mut expected = FieldErrors::new();
        expected.add("sevrity", UNKNOWN_FIELD);
        assert_eq!(ThingChanges::parse(&map), Err(expected));
    }

    #[test]
    fn every_bad_field_is_reported_at_once_with_the_unknown_ones() {
        let map = object(json!({"name": 5, "severity": "Extreme", "x": 1}));
        let mut expected = FieldErrors::new();
        expected.add("name", NOT_STRING);
        expected.add("severity", "\"Extreme\" is not a valid choice.");
        expected.add("x", UNKNOWN_FIELD);
        assert_eq!(Thing::parse(&map), Err(expected));
    }
}
