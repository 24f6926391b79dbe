//! Property tests of everything that reads client input: request bodies,
//! field values, query strings, ids and tokens. Whatever arrives, the answer
//! is a value or an API error, never a panic; and what is accepted keeps the
//! documented invariants. `PROPTEST_CASES` raises the number of cases.

use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::Request;
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{Map, Value};
use tm_shared::auth::jwt::{JwtKeys, TokenType};
use tm_shared::http::body::JsonObject;
use tm_shared::http::pagination::{MAX_PAGE_SIZE, PageRequest};
use tm_shared::http::path::ResourceId;
use tm_shared::models::Role;
use tm_shared::models::alert::{AlertFilter, AlertUpdate};
use tm_shared::models::event::{EventChanges, EventFilter, NewEvent};
use tm_shared::models::query::QueryParams;
use tm_shared::{ApiError, FieldErrors};

/// Any JSON value, nested a few levels, with strings that include NULs,
/// surrogates' neighbours and the enums' spellings.
fn json_value() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        any::<String>(),
        Just("High".to_owned()),
        Just("Critical".to_owned()),
        Just("intrusion".to_owned()),
        Just("Acknowledged".to_owned()),
        "[a-z\\x00 ]{0,120}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text.prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object whose keys are mostly the real field names.
fn body_object() -> impl Strategy<Value = Map<String, Value>> {
    let key = prop_oneof![
        Just("source".to_owned()),
        Just("event_type".to_owned()),
        Just("severity".to_owned()),
        Just("description".to_owned()),
        Just("status".to_owned()),
        Just("id".to_owned()),
        "[a-z_]{0,10}",
    ];
    prop::collection::btree_map(key, json_value(), 0..6).prop_map(|m| m.into_iter().collect())
}

fn is_client_error(err: &ApiError) -> bool {
    err.status_code().is_client_error()
}

proptest! {
    #[test]
    fn any_bytes_with_any_content_type_make_an_object_or_a_client_error(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        content_type in prop_oneof![
            Just("application/json".to_owned()),
            Just("text/plain".to_owned()),
            "[ -~]{0,40}",
        ],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let request = Request::builder()
            .method("POST")
            .uri("/")
            .header("content-type", content_type.as_str())
            .body(Body::from(bytes))
            .unwrap();
        match runtime.block_on(JsonObject::from_request(request, &())) {
            Ok(_) => {}
            Err(err) => prop_assert!(is_client_error(&err), "{err:?}"),
        }
    }

    #[test]
    fn event_bodies_parse_or_fail_as_client_errors_and_keep_the_limits(body in body_object()) {
        let full = NewEvent::parse(&body).map(EventChanges::from);
        for parsed in [full, EventChanges::parse(&body)] {
            match parsed.map_err(ApiError::from) {
                Ok(changes) => {
                    if let Some(source) = changes.source.as_ref().map(|s| s.as_str()) {
                        let chars = source.chars().count();
                        prop_assert!((1..=100).contains(&chars) && !source.contains('\0'));
                        prop_assert_eq!(source.trim(), source);
                    }
                    if let Some(description) = changes.description.as_ref().map(|d| d.as_str()) {
                        prop_assert!(description.chars().count() <= 10_000 && !description.contains('\0'));
                    }
                }
                Err(err) => prop_assert!(matches!(err, ApiError::Validation(_)), "{err:?}"),
            }
        }
        if let Err(err) = NewEvent::parse(&body).map_err(ApiError::from) {
            prop_assert!(matches!(err, ApiError::Validation(_)), "{err:?}");
        }
        if let Err(err) = AlertUpdate::parse(&body).map_err(ApiError::from) {
            prop_assert!(matches!(err, ApiError::Validation(_)), "{err:?}");
        }
    }

    #[test]
    fn any_query_string_parses_into_filters_and_a_page_or_client_errors(
        raw in prop_oneof![
            any::<String>(),
            "((severity|status|event_type|source|since|until|page|page_size)=[A-Za-z0-9%:+,. -]{0,30}&?){0,6}",
        ],
    ) {
        match QueryParams::parse(Some(&raw)) {
            Ok(params) => {
                let mut errors = FieldErrors::new();
                let _ = EventFilter::from_query(&params, &mut errors);
                let _ = AlertFilter::from_query(&params, &mut errors);
                match PageRequest::from_query(&params, &mut errors) {
                    Ok(page) => {
                        prop_assert!((1..=MAX_PAGE_SIZE).contains(&page.size));
                        for count in [0i64, 1, 99, 1_000_000] {
                            if let Ok((number, offset)) = page.locate(count) {
                                prop_assert!(number >= 1 && offset >= 0);
                            }
                        }
                    }
                    Err(err) => prop_assert!(is_client_error(&err)),
                }
            }
            Err(err) => prop_assert!(is_client_error(&ApiError::from(err))),
        }
    }

    #[test]
    fn ids_are_positive_decimal_integers_or_nothing(raw in any::<String>()) {
        if let Some(ResourceId(id)) = ResourceId::parse(&raw) {
            prop_assert!(id > 0);
            prop_assert!(raw.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn no_string_and_no_altered_token_passes_verification(
        garbage in any::<String>(),
        position in any::<prop::sample::Index>(),
        replacement in any::<char>(),
    ) {
        let keys = JwtKeys::new(
            &SecretString::from("property-test-signing-key-0123456789"),
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
        .unwrap();
        prop_assert!(keys.verify(&garbage, TokenType::Access).is_err());

        let token = keys.access(7, Role::Admin, 1).unwrap();
        let mut chars: Vec<char> = token.chars().collect();
        let at = position.index(chars.len());
        if chars[at] != replacement {
            chars[at] = replacement;
            let altered: String = chars.into_iter().collect();
            // Base64url has bits that a decoder may ignore in the last
            // character of a segment; anything that still verifies must
            // carry the very same claims.
            if let Ok(claims) = keys.verify(&altered, TokenType::Access) {
                prop_assert_eq!(claims.user_id().unwrap(), 7);
                prop_assert_eq!(claims.role, Role::Admin);
            }
        }
    }
}
