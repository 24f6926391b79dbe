//! Building blocks of the OpenAPI document, made from the same rules, tables
//! and types the request parsers and responses use, so the document cannot
//! promise what the code does not do. Each function crate assembles its own
//! paths from these; `tmctl` merges them into one document.

use std::collections::BTreeMap;

use utoipa::ToSchema;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
    ParameterStyle, PathItem, PathItemBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder,
    Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HeaderBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required,
};

use crate::http::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::models::fields::{Mode, TextRule};

/// The name of the Bearer (JWT) security scheme.
pub const BEARER: &str = "jwt";
/// The name of the ingest key security scheme.
pub const INGEST_KEY: &str = "ingest_key";
const JSON: &str = "application/json";

/// `{"detail": "..."}`: every error that is not about particular fields.
#[derive(ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)] // A schema only: `ApiError` writes this shape with `json!`.
pub struct ErrorBody {
    /// What went wrong, for a person to read.
    detail: String,
    /// `token_not_valid` on any refused token.
    code: Option<String>,
}

/// `{"field": ["message", ...]}`: every field that failed, each with its
/// messages; `non_field_errors` for a problem with the body as a whole.
#[derive(ToSchema)]
#[schema(as = ValidationErrors)]
#[allow(dead_code)] // A schema only: see `crate::FieldErrors`.
pub struct ValidationBody(BTreeMap<String, Vec<String>>);

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// No token (the token endpoints).
    #[default]
    Public,
    /// Any signed-in user (an ingest key gets a 403).
    AnyUser,
    /// Admins; analysts get a 403.
    Admin,
    /// Admins and ingest keys (event ingest); analysts get a 403.
    Sender,
}

/// One operation, described by what the handler does; [`Endpoint::build`]
/// adds the answers every operation of its kind can give. `api!` fills in
/// the id and tag.
#[derive(Default)]
pub struct Endpoint {
    pub id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub access: Access,
    pub params: Vec<Parameter>,
    pub body: Option<RefOr<Schema>>,
    /// The success status, its description and body (none for a 204).
    pub ok: (u16, &'static str, Option<RefOr<Schema>>),
    /// Further statuses the handler itself answers (400 for filters, 404, 429).
    pub errors: &'static [u16],
    /// A list body whose items' errors come keyed by position
    /// (`{"events": {"3": {...}}}`): the name of that list.
    pub item_errors: Option<&'static str>,
    /// Body fields whose errors come as an object of their own
    /// (`{"filter": {"severity": ["..."]}}`), beside the other fields' lists.
    pub nested_errors: &'static [&'static str],
}

/// The document's method for the name `api!` was given.
pub fn http_method(name: &str) -> HttpMethod {
    match name {
        "get" => HttpMethod::Get,
        "post" => HttpMethod::Post,
        "put" => HttpMethod::Put,
        "patch" => HttpMethod::Patch,
        "delete" => HttpMethod::Delete,
        other => panic!("api! does not document {other}"),
    }
}

impl Endpoint {
    pub fn build(self) -> Operation {
        let (status, description, body) = self.ok;
        assert!(status >= 200, "{}: no success answer declared", self.id);
        let mut ok = ResponseBuilder::new().description(description);
        if let Some(schema) = body {
            ok = ok.content(JSON, ContentBuilder::new().schema(Some(schema)).build());
        }
        let mut op = OperationBuilder::new()
            .operation_id(Some(self.id))
            .tag(self.tag)
            .summary(Some(self.summary))
            .description(Some(self.description))
            .parameters(Some(self.params))
            .response(status.to_string(), ok.build());
        let mut errors: Vec<u16> = self.errors.to_vec();
        if let Some(schema) = self.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(JSON, ContentBuilder::new().schema(Some(schema)).build())
                    .build(),
            ));
            errors.extend([400, 413, 415]);
        }
        match self.access {
            Access::Public => op = op.securities(Some(Vec::new())),
            Access::AnyUser => {
                op = op.security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
                // 403: an ingest key, which may only record events.
                errors.extend([401, 403]);
            }
            Access::Admin => {
                op = op.security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
                errors.extend([401, 403]);
            }
            Access::Sender => {
                op = op
                    .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
                    .security(SecurityRequirement::new(INGEST_KEY, Vec::<String>::new()));
                errors.extend([401, 403]);
            }
        }
        errors.push(503);
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            op = op.response(
                status.to_string(),
                error_response(status, self.item_errors, self.nested_errors),
            );
        }
        op.build()
    }
}

/// The response for an error status, in the shape `ApiError` gives it.
fn error_response(status: u16, item_errors: Option<&str>, nested: &[&str]) -> Response {
    let detail = RefOr::Ref(Ref::from_schema_name("Error"));
    let (description, schema) = match status {
        400 => {
            let mut any = AnyOfBuilder::new()
                .item(Ref::from_schema_name("ValidationErrors"))
                .item(detail);
            if !nested.is_empty() {
                let messages =
                    ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String));
                let mut body = ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(messages));
                for name in nested {
                    let field = AnyOfBuilder::new()
                        .item(Ref::from_schema_name("ValidationErrors"))
                        .item(
                            ArrayBuilder::new()
                                .items(ObjectBuilder::new().schema_type(Type::String)),
                        );
                    body = body.property(*name, field);
                }
                any = any.item(body);
            }
            if let Some(list) = item_errors {
                // `{"events": {"3": {"severity": ["..."]}}}`.
                let by_position = ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(Ref::from_schema_name("ValidationErrors")));
                any = any.item(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .property(list, by_position)
                        .required(list),
                );
            }
            (
                "Invalid input: every bad field with its messages (for a list's items, keyed by position from 0), or a `detail` for a body that is not JSON.",
                any.into(),
            )
        }
        401 => (
            "No token, or a token that is expired, forged, of the wrong type or for an inactive user; for the token endpoint, wrong credentials.",
            detail,
        ),
        403 => (
            "The user's role, or an ingest key (which may only record events), may not do this.",
            detail,
        ),
        404 => ("No such resource, or no such page.", detail),
        409 => (
            "The change conflicts with the resource's current state, or a request with the same Idempotency-Key is still running.",
            detail,
        ),
        412 => (
            "`If-Match` names a version that is no longer current: the resource changed since it was read, and nothing was changed now.",
            detail,
        ),
        413 => (
            "The body is over its limit: 256 KiB, or for a batch 5 MiB or more than 1,000 events.",
            detail,
        ),
        422 => (
            "The Idempotency-Key was used with a different request.",
            detail,
        ),
        415 => ("The body is not `application/json`.", detail),
        429 => (
            "Too many failed sign-ins for this username; retry after `Retry-After` seconds.",
            detail,
        ),
        503 => (
            "The database did not answer in time; safe to retry.",
            detail,
        ),
        _ => ("Error.", detail),
    };
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(JSON, ContentBuilder::new().schema(Some(schema)).build());
    if status == 429 {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(integer(Some(1))))
                .description(Some("Seconds until the next attempt is counted."))
                .build(),
        );
    }
    response.build()
}

/// A path with its operations, keyed by method.
pub fn path_item(operations: impl IntoIterator<Item = (HttpMethod, Operation)>) -> PathItem {
    operations
        .into_iter()
        .fold(PathItemBuilder::new(), |item, (method, op)| {
            item.operation(method, op)
        })
        .build()
}

/// A function's part of the document: its paths and the schemas they name.
pub fn document(
    paths: impl IntoIterator<Item = (&'static str, PathItem)>,
    schemas: impl IntoIterator<Item = (String, RefOr<Schema>)>,
) -> OpenApi {
    let paths = paths
        .into_iter()
        .fold(PathsBuilder::new(), |built, (path, item)| {
            built.path(path, item)
        });
    let mut components = ComponentsBuilder::new();
    for (name, schema) in schemas.into_iter().chain(common_schemas()) {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// `T` and every schema it refers to, to register as components.
pub fn schemas_of<T: ToSchema>() -> Vec<(String, RefOr<Schema>)> {
    let mut all = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut all);
    all
}

fn common_schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut all = schemas_of::<ErrorBody>();
    all.extend(schemas_of::<ValidationBody>());
    all
}

/// A reference to the component `T` is registered as.
pub fn schema_ref<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// `{count, next, previous, results}` of `T`, as `Page<T>` serialises.
pub fn page_of<T: ToSchema>() -> RefOr<Schema> {
    let link = |description: &str| {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .format(Some(SchemaFormat::Custom("uri".into())))
            .description(Some(description))
    };
    let page = |count: bool, description: &str| {
        let mut page = ObjectBuilder::new().description(Some(description));
        if count {
            page = page.property("count", integer(Some(0))).required("count");
        } else {
            page = page.property(
                "poll",
                link(
                    "The changes feed's only (`ordering=updated_at`): where to ask later for \
                      the changes after this page.",
                ),
            );
        }
        page.property("next", link("The next page's absolute URL, if any."))
            .required("next")
            .property(
                "previous",
                link("The previous page's absolute URL, if any."),
            )
            .required("previous")
            .property("results", ArrayBuilder::new().items(schema_ref::<T>()))
            .required("results")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
    };
    OneOfBuilder::new()
        .item(page(true, "A page by number (`?page=`, the default)."))
        .item(page(false, "A cursor page (`?cursor=`): no count."))
        .into()
}

/// A JSON object body read by `Fields`: the `writable` fields (all required
/// in `Mode::Full`), the read-only ones a client may send back (ignored
/// whatever their value), and nothing else.
pub fn object_body(
    description: &str,
    writable: Vec<(&str, bool, RefOr<Schema>)>,
    mode: Mode,
    read_only: &[&str],
) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for (name, optional, schema) in writable {
        object = object.property(name, schema);
        if mode == Mode::Full && !optional {
            object = object.required(name);
        }
    }
    for name in read_only {
        object = object.property(
            *name,
            ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .description(Some(
                    "Read-only: accepted and ignored, so a client can send back what it read.",
                ))
                .read_only(true),
        );
    }
    object.into()
}

/// Rust's `char::is_whitespace` (Unicode `White_Space`), which `str::trim`
/// strips, as inclusive ranges.
const WHITESPACE: &[(char, char)] = &[
    ('\u{9}', '\u{D}'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{A0}', '\u{A0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200A}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202F}', '\u{202F}'),
    ('\u{205F}', '\u{205F}'),
    ('\u{3000}', '\u{3000}'),
];

/// The character no text field accepts: NUL, which PostgreSQL cannot store.
const NEVER: &str = r"\u0000";

fn class_ranges(ranges: &[(char, char)]) -> String {
    ranges
        .iter()
        .map(|&(from, to)| {
            if from == to {
                format!("\\u{:04X}", from as u32)
            } else {
                format!("\\u{:04X}-\\u{:04X}", from as u32, to as u32)
            }
        })
        .collect()
}

/// The JSON Schema of a text field read with `rule`. A trimmed field's length
/// and blankness are judged after trimming, which `maxLength` cannot say, so
/// the pattern says it: optional whitespace around at most `max_chars`
/// characters that begin and end with non-whitespace.
pub fn text(rule: TextRule, description: &str) -> RefOr<Schema> {
    let string = ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description));
    let any = format!("[^{NEVER}]");
    if !rule.trim {
        let min = (!rule.allow_blank).then_some(1);
        return string
            .min_length(min)
            .max_length(Some(rule.max_chars))
            .pattern(Some(format!("^{any}*$")))
            .into();
    }
    let space = format!("[{}]", class_ranges(WHITESPACE));
    let solid = format!("[^{NEVER}{}]", class_ranges(WHITESPACE));
    let core = match rule.max_chars {
        0 => String::new(),
        1 => solid.clone(),
        n => format!("{solid}(?:{any}{{0,{}}}{solid})?", n - 2),
    };
    let core = if rule.allow_blank {
        format!("(?:{core})?")
    } else {
        core
    };
    string
        .min_length((!rule.allow_blank).then_some(1))
        .pattern(Some(format!("^{space}*{core}{space}*$")))
        .into()
}

/// An integer schema (int64), with an optional minimum.
pub fn integer(minimum: Option<i64>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(minimum)
}

/// `{id}`: a positive integer; anything else is a 404.
pub fn id_param(what: &str) -> Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(format!(
            "The {what}'s id. Anything but a positive integer is a 404."
        )))
        // No `minimum`: any integer is answered (a 404 below 1), and
        // schemathesis' coverage phase mis-generates bodies beside a bounded
        // path parameter.
        .schema(Some(integer(None)))
        .build()
}

fn query(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
}

/// A filter on a closed set: repeat it (`?k=a&k=b`) or comma-separate it.
pub fn choices_param<T: ToSchema>(name: &str, description: &str) -> Parameter {
    query(
        name,
        description,
        ArrayBuilder::new()
            .items(schema_ref::<T>())
            .min_items(Some(1)),
    )
    .style(Some(ParameterStyle::Form))
    .explode(Some(true))
    .build()
}

/// An exact-match text filter of at most `max_chars` characters.
pub fn text_param(name: &str, max_chars: usize, description: &str) -> Parameter {
    query(
        name,
        description,
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(max_chars))
            .pattern(Some(format!("^[^{NEVER}]*$"))),
    )
    .build()
}

/// An exact id in the query: a positive integer.
pub fn id_query_param(name: &str, description: &str) -> Parameter {
    query(name, description, integer(Some(1))).build()
}

/// An inclusive RFC 3339 bound.
pub fn datetime_param(name: &str, description: &str) -> Parameter {
    query(
        name,
        description,
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
    )
    .build()
}

/// The optional `Idempotency-Key` header of the ingest routes.
/// What `POST /api/alerts/bulk/` answers: a dry run's count, each id's
/// outcome, or a call by filter's counts.
pub fn bulk_result_schema() -> RefOr<Schema> {
    let count = || integer(Some(0));
    let closed =
        |o: ObjectBuilder| o.additional_properties(Some(AdditionalProperties::FreeForm(false)));
    let outcome = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["updated", "unchanged", "not_found", "conflict"]));
    let result = closed(
        ObjectBuilder::new()
            .property("id", integer(Some(1)))
            .required("id")
            .property("outcome", outcome)
            .required("outcome"),
    );
    let mut by_filter = ObjectBuilder::new();
    for name in ["updated", "unchanged", "conflicts", "remaining"] {
        by_filter = by_filter.property(name, count()).required(name);
    }
    let by_filter = by_filter
        .property("truncated", ObjectBuilder::new().schema_type(Type::Boolean))
        .required("truncated");
    OneOfBuilder::new()
        .item(closed(
            ObjectBuilder::new()
                .property("matched", count())
                .required("matched"),
        ))
        .item(closed(
            ObjectBuilder::new()
                .property("results", ArrayBuilder::new().items(result))
                .required("results"),
        ))
        .item(closed(by_filter))
        .into()
}

/// Any JSON value: a timeline entry's `from` and `to`, whose type is its
/// kind's (a status, a severity, an assignee or `null`).
/// An audit row's `detail`: an object whose fields depend on its action.
pub fn any_object() -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("What the action recorded: for a change `before` and `after` (or `from`/`to` per field), for a deletion what was deleted, for a batch its `count` and `ids`."))
            .build(),
    )
}

pub fn any_value() -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some("A status, a severity, or an assignee (`{\"id\", \"username\"}` or `null`), by kind."))
            .build(),
    )
}

/// A query parameter that takes one of `values`.
pub fn enum_param(name: &str, values: &[&str], description: &str) -> Parameter {
    query(
        name,
        description,
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.iter().copied())),
    )
    .build()
}

/// `If-Match` on an alert's changes.
pub fn if_match_param() -> Parameter {
    ParameterBuilder::new()
        .name("If-Match")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "The `ETag` of the alert as read (e.g. `\"3\"`), or `*`. The change applies only if the \
             alert is still at that version; otherwise a 412 and nothing changes. Without it the \
             last writer wins.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^(\\*|\"[0-9]{1,18}\")$")),
        ))
        .build()
}

pub fn idempotency_param() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "1–255 printable ASCII characters. The first answer is kept for 24 hours per \
             user or key: a retry with the same key and body gets it again (with \
             `Idempotent-Replayed: true`) and stores nothing; the same key with another \
             body is a 422; a retry while the first is running is a 409.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[ -~]+$")),
        ))
        .build()
}

/// `{"events": [item, ...]}`, 1 to `max` items.
pub fn batch_schema(item: RefOr<Schema>, max: usize) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "events",
            ArrayBuilder::new()
                .items(item)
                .min_items(Some(1))
                .max_items(Some(max)),
        )
        .required("events")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

/// `{"results": [T, ...]}`.
pub fn batch_results<T: ToSchema>() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("results", ArrayBuilder::new().items(schema_ref::<T>()))
        .required("results")
        .into()
}

/// A non-empty list of `T`'s values, each at most once.
pub fn choice_list<T: ToSchema>(description: &str) -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(schema_ref::<T>())
        .min_items(Some(1))
        .unique_items(true)
        .description(Some(description))
        .into()
}

/// An RFC 3339 date-time string.
pub fn datetime(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some(description))
        .into()
}

/// An object of optional `properties`, at least one given, nothing else.
pub fn object_with_one_of_at_least(
    description: &str,
    properties: Vec<(&str, RefOr<Schema>)>,
) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .min_properties(Some(1))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for (name, schema) in properties {
        object = object.property(name, schema);
    }
    object.into()
}

/// `schema`, or `null` (an optional body field).
pub fn nullable(schema: RefOr<Schema>) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(schema)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// `page` and `page_size`, as `PageRequest::from_query` reads them.
pub fn page_params() -> [Parameter; 3] {
    let page = OneOfBuilder::new().item(integer(Some(1))).item(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["last"])),
    );
    [
        query(
            "page",
            "A page number from 1, or `last`. A page past the end is a 404.",
            page,
        )
        .build(),
        query(
            "page_size",
            &format!(
                "Results per page: {DEFAULT_PAGE_SIZE} unless given; more than {MAX_PAGE_SIZE} is read as {MAX_PAGE_SIZE}."
            ),
            integer(Some(1)),
        )
        .build(),
        query(
            "cursor",
            "Cursor pages instead of numbers: empty for the first, then the `next` or `previous` link's. \
             A page has no count; rows inserted meanwhile do not shift it. Any other value is a 400.",
            ObjectBuilder::new().schema_type(Type::String),
        )
        .build(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whitespace_table_is_what_trim_strips() {
        let listed = |c: char| {
            WHITESPACE
                .iter()
                .any(|&(from, to)| (from..=to).contains(&c))
        };
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(listed(c), c.is_whitespace(), "U+{:04X}", c as u32);
        }
    }
}
