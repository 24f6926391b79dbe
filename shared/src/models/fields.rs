//! Field-by-field reading of a JSON object body, collecting every problem in
//! DRF's `{"field": ["message"]}` shape instead of stopping at the first.
//!
//! JSON types are strict: a number where a string is expected is an error,
//! never converted.

use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::{ApiError, FieldErrors};
use crate::models::UnknownValue;

pub const REQUIRED: &str = "This field is required.";
pub const NOT_NULL: &str = "This field may not be null.";
pub const NOT_STRING: &str = "Not a valid string.";
pub const BLANK: &str = "This field may not be blank.";
pub const NUL_CHAR: &str = "Null characters are not allowed.";

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

pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    mode: Mode,
    errors: FieldErrors,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>, mode: Mode) -> Self {
        Self {
            map,
            mode,
            errors: FieldErrors::new(),
        }
    }

    /// The raw string of a field, or `None` (with an error recorded when due).
    fn raw_str(&mut self, name: &str) -> Option<&'a str> {
        match self.map.get(name) {
            None => {
                if self.mode == Mode::Full {
                    self.errors.add(name, REQUIRED);
                }
                None
            }
            Some(Value::Null) => {
                self.errors.add(name, NOT_NULL);
                None
            }
            Some(Value::String(s)) if s.contains('\0') => {
                self.errors.add(name, NUL_CHAR);
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                self.errors.add(name, NOT_STRING);
                None
            }
        }
    }

    pub fn text(&mut self, name: &str, rule: TextRule) -> Option<String> {
        let raw = self.raw_str(name)?;
        let value = if rule.trim { raw.trim() } else { raw };
        if value.is_empty() && !rule.allow_blank {
            self.errors.add(name, BLANK);
            return None;
        }
        if value.chars().count() > rule.max_chars {
            self.errors.add(
                name,
                format!(
                    "Ensure this field has no more than {} characters.",
                    rule.max_chars
                ),
            );
            return None;
        }
        Some(value.to_owned())
    }

    pub fn choice<T: FromStr<Err = UnknownValue>>(&mut self, name: &str) -> Option<T> {
        let raw = self.raw_str(name)?;
        match raw.parse() {
            Ok(value) => Some(value),
            Err(err) => {
                self.errors.add(name, err.message());
                None
            }
        }
    }

    /// Ends reading: fields outside `writable` and `read_only` are refused, so a
    /// misspelt field name is an error instead of a silently dropped value.
    /// Read-only fields are accepted and ignored, so a client may send back
    /// what it read.
    pub fn finish(mut self, writable: &[&str], read_only: &[&str]) -> Result<(), ApiError> {
        for key in self.map.keys() {
            let known = writable.contains(&key.as_str()) || read_only.contains(&key.as_str());
            if !known {
                self.errors.add(key, "Unknown field.");
            }
        }
        self.errors.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Severity;
    use serde_json::json;

    const RULE: TextRule = TextRule {
        max_chars: 5,
        allow_blank: false,
        trim: true,
    };

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn is_valid(map: &Map<String, Value>, mode: Mode) -> bool {
        let mut fields = Fields::new(map, mode);
        fields.text("name", RULE);
        fields.choice::<Severity>("severity");
        fields.finish(&["name", "severity"], &["id"]).is_ok()
    }

    #[test]
    fn missing_fields_are_required_only_in_full_mode() {
        let map = object(json!({}));
        assert!(!is_valid(&map, Mode::Full));
        assert!(is_valid(&map, Mode::Partial));
    }

    #[test]
    fn strings_are_trimmed_bounded_and_never_converted() {
        let map = object(json!({"name": "  abc  "}));
        let mut fields = Fields::new(&map, Mode::Partial);
        assert_eq!(fields.text("name", RULE).as_deref(), Some("abc"));

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
            let mut fields = Fields::new(&map, Mode::Partial);
            assert_eq!(fields.text("name", RULE), None, "{bad} should be refused");
            assert!(fields.finish(&["name"], &[]).is_err());
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let map = object(json!({"name": "ééééé"}));
        let mut fields = Fields::new(&map, Mode::Full);
        assert_eq!(fields.text("name", RULE).as_deref(), Some("ééééé"));
    }

    #[test]
    fn unknown_fields_are_refused_and_read_only_ones_ignored() {
        let map = object(json!({"id": 3, "sevrity": "High"}));
        let fields = Fields::new(&map, Mode::Partial);
        let Err(ApiError::Validation(errors)) = fields.finish(&["severity"], &["id"]) else {
            panic!("expected a validation error");
        };
        let mut expected = FieldErrors::new();
        expected.add("sevrity", "Unknown field.");
        assert_eq!(errors, expected);
    }

    #[test]
    fn an_unknown_choice_names_the_value() {
        let map = object(json!({"severity": "Extreme"}));
        let mut fields = Fields::new(&map, Mode::Full);
        assert_eq!(fields.choice::<Severity>("severity"), None);
        let Err(ApiError::Validation(errors)) = fields.finish(&["severity"], &[]) else {
            panic!("expected a validation error");
        };
        let mut expected = FieldErrors::new();
        expected.add("severity", "\"Extreme\" is not a valid choice.");
        assert_eq!(errors, expected);
    }
}
