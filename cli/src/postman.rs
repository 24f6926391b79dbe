//! A Postman collection (format v2.1) generated from the OpenAPI document,
//! since the original project promised one. Requests use `{{baseUrl}}` and
//! `{{accessToken}}`; signing in stores both tokens in collection variables.

use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{OpenApi, RefOr};

const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

/// The collection for `doc`, one folder per tag, operations in document order.
pub fn collection(doc: &OpenApi) -> Value {
    let mut folders: Vec<(String, Vec<Value>)> = doc
        .tags
        .iter()
        .flatten()
        .map(|tag| (tag.name.clone(), Vec::new()))
        .collect();
    for (path, item) in &doc.paths.paths {
        for (method, op) in operations(item) {
            let tag = op.tags.iter().flatten().next().cloned().unwrap_or_default();
            let request = request(path, method, op);
            match folders.iter_mut().find(|(name, _)| *name == tag) {
                Some((_, items)) => items.push(request),
                None => folders.push((tag, vec![request])),
            }
        }
    }
    json!({
        "info": {
            "name": doc.info.title,
            "description": doc.info.description,
            "schema": SCHEMA,
        },
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}]},
        "variable": [
            {"key": "baseUrl", "value": "http://127.0.0.1:3000"},
            {"key": "username", "value": ""},
            {"key": "password", "value": ""},
            {"key": "accessToken", "value": ""},
            {"key": "refreshToken", "value": ""},
            {"key": "id", "value": "1"},
        ],
        "item": folders.into_iter().map(|(name, item)| json!({"name": name, "item": item})).collect::<Vec<_>>(),
    })
}

fn operations(item: &utoipa::openapi::PathItem) -> Vec<(&'static str, &Operation)> {
    [
        ("GET", &item.get),
        ("POST", &item.post),
        ("PUT", &item.put),
        ("PATCH", &item.patch),
        ("DELETE", &item.delete),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_ref().map(|op| (method, op)))
    .collect()
}

fn request(path: &str, method: &str, op: &Operation) -> Value {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            if s == "{id}" {
                "{{id}}".to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect();
    let query: Vec<Value> = op
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) if p.parameter_in == ParameterIn::Query => Some(p),
            _ => None,
        })
        .map(
            |p| json!({"key": p.name, "value": "", "description": p.description, "disabled": true}),
        )
        .collect();
    let raw = format!("{{{{baseUrl}}}}/{}/", segments.join("/"));
    let mut request = json!({
        "method": method,
        "header": [{"key": "Accept", "value": "application/json"}],
        "url": {"raw": raw, "host": ["{{baseUrl}}"], "path": segments.iter().chain([&String::new()]).collect::<Vec<_>>(), "query": query},
        "description": op.description,
    });
    // An operation without security requirements is public.
    if op.security.as_ref().is_some_and(Vec::is_empty) {
        request["auth"] = json!({"type": "noauth"});
    }
    if op.request_body.is_some() {
        request["header"]
            .as_array_mut()
            .expect("an array")
            .push(json!({"key": "Content-Type", "value": "application/json"}));
        request["body"] = json!({"mode": "raw", "raw": example_body(op.operation_id.as_deref()), "options": {"raw": {"language": "json"}}});
    }
    let mut item = json!({"name": op.summary, "request": request});
    if let Some(script) = test_script(op.operation_id.as_deref()) {
        item["event"] =
            json!([{"listen": "test", "script": {"type": "text/javascript", "exec": script}}]);
    }
    item
}

/// A body a person would start from; the document has the full rules.
fn example_body(operation: Option<&str>) -> String {
    let body = match operation {
        Some("token_obtain") => json!({"username": "{{username}}", "password": "{{password}}"}),
        Some("token_refresh") => json!({"refresh": "{{refreshToken}}"}),
        Some("events_create" | "events_replace") => json!({
            "source": "ids-sensor-1", "event_type": "intrusion", "severity": "High",
            "description": "Port scan from 203.0.113.7",
        }),
        Some("events_update") => json!({"severity": "Critical"}),
        Some("alerts_update") => json!({"status": "Acknowledged"}),
        _ => json!({}),
    };
    serde_json::to_string_pretty(&body).expect("serialises")
}

/// Signing in and refreshing keep the collection's tokens current.
fn test_script(operation: Option<&str>) -> Option<Vec<&'static str>> {
    match operation {
        Some("token_obtain") => Some(vec![
            "if (pm.response.code === 200) {",
            "  pm.collectionVariables.set('accessToken', pm.response.json().access);",
            "  pm.collectionVariables.set('refreshToken', pm.response.json().refresh);",
            "}",
        ]),
        Some("token_refresh") => Some(vec![
            "if (pm.response.code === 200) {",
            "  pm.collectionVariables.set('accessToken', pm.response.json().access);",
            "}",
        ]),
        _ => None,
    }
}

/// The collection as committed: pretty JSON with a final newline.
pub fn collection_json(doc: &OpenApi) -> String {
    let mut json = serde_json::to_string_pretty(&collection(doc)).expect("serialises");
    json.push('\n');
    json
}
