//! `POST /api/alerts/bulk/`: one change to many alerts, named by id or by
//! the list's own filters.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::models::AlertStatus;
use crate::models::alert::{AlertFilter, CommentBody};
use crate::models::fields::{BodyField, FieldErrors, NOT_NULL, REQUIRED, UNKNOWN_FIELD};
use crate::models::query::QueryParams;
use crate::models::user::Username;

/// The most ids one call may name.
pub const MAX_IDS: usize = 1000;
/// The most alerts one call by filter changes; the caller repeats until
/// `remaining` is 0.
pub const MAX_PER_CALL: i64 = 10_000;

/// Which alerts.
#[derive(Debug, Clone)]
pub enum Target {
    /// These ids, once each, in the order given.
    Ids(Vec<i64>),
    Filter(AlertFilter),
}

/// What to set on each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkSet {
    pub status: Option<AlertStatus>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<Username>>,
}

#[derive(Debug, Clone)]
pub struct BulkRequest {
    pub target: Target,
    pub set: BulkSet,
    pub comment: Option<CommentBody>,
    pub dry_run: bool,
}

/// How one alert named by id fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkOutcome {
    Updated,
    Unchanged,
    NotFound,
    /// The lifecycle refuses the status, or reopening would make two open
    /// alerts with one dedup key.
    Conflict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IdResult {
    pub id: i64,
    pub outcome: BulkOutcome,
}

/// A call by filter: what it did and what is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FilterResult {
    pub updated: i64,
    /// Matching alerts that already are as `set` says.
    pub unchanged: i64,
    /// Matching alerts the change cannot apply to (never changed by a call).
    pub conflicts: i64,
    /// Matching alerts still to change: repeat the call until it is 0.
    pub remaining: i64,
    pub truncated: bool,
}

fn take_bool(body: &Map<String, Value>, name: &str, errors: &mut FieldErrors) -> bool {
    match body.get(name) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Null) => {
            errors.add(name, NOT_NULL);
            false
        }
        Some(_) => {
            errors.add(name, "Must be a valid boolean.");
            false
        }
    }
}

fn ids(value: &Value, errors: &mut FieldErrors) -> Vec<i64> {
    let Value::Array(items) = value else {
        errors.add("ids", "Expected a list of items.");
        return Vec::new();
    };
    if items.is_empty() {
        errors.add("ids", "This list may not be empty.");
    }
    if items.len() > MAX_IDS {
        errors.add(
            "ids",
            format!("Ensure this field has no more than {MAX_IDS} elements."),
        );
        return Vec::new();
    }
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        match item.as_i64() {
            Some(id) if id >= 1 => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            _ => {
                errors.add("ids", format!("{item} is not a valid alert id."));
                return Vec::new();
            }
        }
    }
    ids
}

/// The filter object as a query string's pairs, so the list's own reader
/// parses it: a value is a string, or a list of strings for the filters
/// that take several.
fn filter(value: &Value) -> Result<AlertFilter, Value> {
    let Value::Object(map) = value else {
        return Err(json!(["Expected an object of the list's filters."]));
    };
    let known = AlertFilter::names();
    let mut pairs = Vec::new();
    let mut errors = FieldErrors::new();
    for (key, value) in map {
        let name = key.as_str();
        if !known.contains(&name) {
            errors.add(name, UNKNOWN_FIELD);
            continue;
        }
        match value {
            Value::String(s) => pairs.push((name.to_owned(), s.clone())),
            Value::Array(items) if !items.is_empty() => {
                for item in items {
                    match item {
                        Value::String(s) => pairs.push((name.to_owned(), s.clone())),
                        _ => errors.add(name, "Expected a string or a list of strings."),
                    }
                }
            }
            _ => errors.add(name, "Expected a string or a list of strings."),
        }
    }
    let params = QueryParams::from_pairs(pairs).map_err(|e| json!(e.as_map()))?;
    let filter = AlertFilter::from_query(&params, &mut errors);
    if errors.is_empty() {
        Ok(filter)
    } else {
        Err(json!(errors.as_map()))
    }
}

fn set(value: &Value, errors: &mut Map<String, Value>) -> BulkSet {
    let Value::Object(map) = value else {
        errors.insert("set".into(), json!(["Expected an object."]));
        return BulkSet::default();
    };
    let mut fields = crate::models::fields::Fields::new(map);
    let status = fields.optional::<AlertStatus>("status");
    let assignee = fields.optional::<Option<Username>>("assignee");
    let field_errors = fields.finish(&["status", "assignee"], &[]);
    if !field_errors.is_empty() {
        errors.insert("set".into(), json!(field_errors.as_map()));
    }
    BulkSet { status, assignee }
}

impl BulkRequest {
    /// Strict, as every body: unknown fields, wrong types, both or neither
    /// of `ids` and `filter`, and a change that changes nothing are 400s
    /// naming the field.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let mut nested = Map::new();
        for key in body.keys() {
            if !["ids", "filter", "set", "comment", "dry_run"].contains(&key.as_str()) {
                errors.add(key, UNKNOWN_FIELD);
            }
        }
        let target = match (body.get("ids"), body.get("filter")) {
            (Some(_), Some(_)) => {
                errors.add("non_field_errors", "Give either ids or filter, not both.");
                None
            }
            (None, None) => {
                errors.add("non_field_errors", "Give ids or filter.");
                None
            }
            (Some(value), None) => Some(Target::Ids(ids(value, &mut errors))),
            (None, Some(value)) => match filter(value) {
                Ok(filter) => Some(Target::Filter(filter)),
                Err(e) => {
                    nested.insert("filter".into(), e);
                    None
                }
            },
        };
        let set = match body.get("set") {
            Some(value) => set(value, &mut nested),
            None => {
                errors.add("set", REQUIRED);
                BulkSet::default()
            }
        };
        let comment = match body.get("comment") {
            None => None,
            Some(Value::Null) => {
                errors.add("comment", NOT_NULL);
                None
            }
            Some(value) => match CommentBody::from_json(value) {
                Ok(comment) => Some(comment),
                Err(message) => {
                    errors.add("comment", message);
                    None
                }
            },
        };
        let dry_run = take_bool(body, "dry_run", &mut errors);
        if body.contains_key("set") && !nested.contains_key("set") && set == BulkSet::default() {
            errors.add("set", "Set status or assignee (or both).");
        }
        let mut all = json!(errors.as_map());
        let all_map = all.as_object_mut().expect("an object");
        all_map.extend(nested);
        if !all_map.is_empty() {
            return Err(ApiError::ItemValidation(all));
        }
        Ok(Self {
            target: target.expect("no errors, so a target"),
            set,
            comment,
            dry_run,
        })
    }
}

#[cfg(feature = "openapi")]
pub fn body_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{
        AdditionalProperties, ArrayBuilder, ArrayItems, ObjectBuilder, OneOfBuilder, Schema,
        SchemaType, Type,
    };
    let closed = || Some(AdditionalProperties::FreeForm(false));
    // Each filter as the list's query parameter documents it; one that
    // takes several values takes one or a list.
    let mut filter = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "The list's own filters, as its query parameters take them.",
        ))
        .additional_properties(closed());
    for param in AlertFilter::params() {
        let Some(schema) = param.schema else {
            continue;
        };
        let property: RefOr<Schema> = match schema {
            RefOr::T(Schema::Array(array)) => match &array.items {
                ArrayItems::RefOrSchema(item) => OneOfBuilder::new()
                    .item((**item).clone())
                    .item(array.clone())
                    .into(),
                ArrayItems::False => array.into(),
            },
            other => other,
        };
        filter = filter.property(param.name, property);
    }
    let set = || {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .min_properties(Some(1))
            .property("status", crate::openapi::schema_ref::<AlertStatus>())
            .property(
                "assignee",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .min_length(Some(1))
                    .max_length(Some(crate::models::user::USERNAME_MAX_CHARS))
                    .pattern(Some("^[^\\u0000]+$")),
            )
            .additional_properties(closed())
    };
    let common = |o: ObjectBuilder| {
        o.schema_type(Type::Object)
            .property("set", set())
            .required("set")
            .property(
                "comment",
                <CommentBody as BodyField>::schema("Recorded with each alert's change."),
            )
            .property(
                "dry_run",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("Only count the matching alerts.")),
            )
            .additional_properties(closed())
    };
    OneOfBuilder::new()
        .description(Some(
            "One change to many alerts: by `ids` (up to 1,000) or by `filter` (up to 10,000 per call, oldest first).",
        ))
        .item(
            common(ObjectBuilder::new())
                .property(
                    "ids",
                    ArrayBuilder::new()
                        .items(
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .minimum(Some(1)),
                        )
                        .min_items(Some(1))
                        .max_items(Some(MAX_IDS)),
                )
                .required("ids"),
        )
        .item(
            common(ObjectBuilder::new())
                .property("filter", filter)
                .required("filter"),
        )
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<BulkRequest, Value> {
        BulkRequest::parse(body.as_object().unwrap()).map_err(|e| match e {
            ApiError::ItemValidation(v) => v,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn ids_or_a_filter_and_something_to_set() {
        let ok = parse(json!({"ids": [3, 1, 3], "set": {"status": "Resolved"}})).unwrap();
        assert!(matches!(ok.target, Target::Ids(ref ids) if ids == &[3, 1]));
        assert!(!ok.dry_run);
        let ok = parse(
            json!({"filter": {"status": "Open", "severity": ["High", "Critical"]},
                              "set": {"assignee": null}, "dry_run": true}),
        )
        .unwrap();
        assert!(ok.dry_run);
        assert_eq!(ok.set.assignee, Some(None));
        let Target::Filter(filter) = ok.target else {
            panic!()
        };
        assert_eq!(filter.severity.unwrap().len(), 2);
    }

    #[test]
    fn every_bad_part_is_named() {
        let err = parse(json!({"ids": [1], "filter": {}, "set": {}})).unwrap_err();
        assert!(err.get("non_field_errors").is_some());
        assert!(err.get("set").is_some(), "nothing to set");
        let err = parse(
            json!({"filter": {"severity": "Extreme", "owner": "x"}, "set": {"status": "Open"}}),
        )
        .unwrap_err();
        assert_eq!(
            err,
            json!({"filter": {"severity": ["\"Extreme\" is not a valid choice."], "owner": ["Unknown field."]}})
        );
        let err = parse(json!({"ids": [0], "set": {"status": "Closed", "x": 1}, "dry_run": 1}))
            .unwrap_err();
        assert!(err["ids"].is_array() && err["dry_run"].is_array());
        assert!(err["set"]["status"].is_array() && err["set"]["x"].is_array());
        let many: Vec<i64> = (1..=1001).collect();
        assert!(parse(json!({"ids": many, "set": {"status": "Open"}})).is_err());
        assert!(parse(json!({"ids": [], "set": {"status": "Open"}})).is_err());
    }
}
