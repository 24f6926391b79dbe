//! A Postman collection (format v2.1) generated from the OpenAPI document,
//! since the original project promised one. Requests use `{{baseUrl}}` and
//! `{{accessToken}}`; signing in stores both tokens in collection variables.
//!
//! The requests run top to bottom as a new user runs them (see `RUN`):
//! sign in, record a High event (which raises an alert), work with the event
//! and then its alert, and delete the event last. Each request's test script
//! asserts the status the document gives for success; recording the event
//! stores its id and its alert's in `eventId` and `alertId`, which the later
//! paths use. `scripts/postman-run` runs the collection with newman against
//! `tmctl serve`.

use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{OpenApi, RefOr};

const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

/// The collection's folders in the order they run, each with its operations
/// in order. Deleting the event deletes its alert too, so it comes last. An
/// operation of the document that is not listed here goes to a last folder,
/// "Other" (a test below fails until it has a place).
const RUN: &[(&str, &[&str])] = &[
    ("Sign in", &["token_obtain", "token_refresh"]),
    (
        "Users",
        &[
            "users_me",
            "users_sessions",
            "users_list",
            "users_create",
            "users_read",
            "users_reset_password",
            "users_change_password",
            "users_update",
        ],
    ),
    (
        "Events",
        &[
            "events_create",
            "events_list",
            "events_read",
            "events_replace",
            "events_update",
        ],
    ),
    (
        "Alerts",
        &[
            "alerts_list",
            "alerts_read",
            "alerts_events",
            "alerts_update",
            "alerts_comment",
            "alerts_comments",
            "alerts_history",
            "alerts_stats",
            "alerts_bulk",
        ],
    ),
    ("Ingest keys", &["keys_create", "keys_list", "keys_read"]),
    ("Batches", &["events_batch"]),
    (
        "Silences",
        &[
            "silences_create",
            "silences_list",
            "silences_read",
            "silences_end",
        ],
    ),
    ("Clean up", &["keys_revoke", "events_delete"]),
    ("Audit", &["audit_list"]),
    ("Sign out", &["users_end_session", "token_revoke"]),
];

/// The collection for `doc`: `RUN`'s folders, then any operation it does
/// not name, in document order.
pub fn collection(doc: &OpenApi) -> Value {
    let mut remaining: Vec<(&str, &str, &Operation)> = doc
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            operations(item)
                .into_iter()
                .map(move |(method, op)| (path.as_str(), method, op))
        })
        .collect();
    let mut folders = Vec::new();
    for &(name, ids) in RUN {
        let mut items = Vec::new();
        for &id in ids {
            if let Some(at) = remaining
                .iter()
                .position(|(_, _, op)| op.operation_id.as_deref() == Some(id))
            {
                let (path, method, op) = remaining.remove(at);
                items.push(request(path, method, op));
            }
        }
        if !items.is_empty() {
            folders.push(json!({"name": name, "item": items}));
        }
    }
    if !remaining.is_empty() {
        let items: Vec<Value> = remaining
            .into_iter()
            .map(|(path, method, op)| request(path, method, op))
            .collect();
        folders.push(json!({"name": "Other", "item": items}));
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
            {"key": "eventId", "value": ""},
            {"key": "alertId", "value": ""},
            {"key": "keyId", "value": ""},
            {"key": "silenceId", "value": ""},
            {"key": "silenceEndsAt", "value": ""},
            {"key": "sessionId", "value": ""},
            {"key": "userId", "value": ""},
            {"key": "newUsername", "value": ""},
            {"key": "newUserPassword", "value": ""},
            {"key": "newUserToken", "value": ""},
        ],
        "item": folders,
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
    let mut segments: Vec<String> = Vec::new();
    for part in path.trim_matches('/').split('/') {
        let segment = if part == "{id}" {
            let variable = id_variable(segments.last().map(String::as_str));
            format!("{{{{{variable}}}}}")
        } else {
            part.to_owned()
        };
        segments.push(segment);
    }
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
    // Changing one's own password ends one's sessions: the run does it as
    // the user it added, not as itself.
    if op.operation_id.as_deref() == Some("users_change_password") {
        request["auth"] = json!({"type": "bearer", "bearer": [{"key": "token", "value": "{{newUserToken}}", "type": "string"}]});
    }
    if op.request_body.is_some() {
        request["header"]
            .as_array_mut()
            .expect("an array")
            .push(json!({"key": "Content-Type", "value": "application/json"}));
        request["body"] = json!({"mode": "raw", "raw": example_body(op.operation_id.as_deref()), "options": {"raw": {"language": "json"}}});
    }
    let mut item = json!({"name": op.summary, "request": request});
    let mut events = Vec::new();
    let before = prerequest(op.operation_id.as_deref());
    if !before.is_empty() {
        events.push(
            json!({"listen": "prerequest", "script": {"type": "text/javascript", "exec": before}}),
        );
    }
    let script = test_script(op);
    if !script.is_empty() {
        events
            .push(json!({"listen": "test", "script": {"type": "text/javascript", "exec": script}}));
    }
    if !events.is_empty() {
        item["event"] = Value::Array(events);
    }
    item
}

/// The collection variable holding the id a path's `{id}` stands for, named
/// after the collection before it: `eventId` in `/api/events/{id}/`,
/// `alertId` in `/api/alerts/{id}/`.
fn id_variable(collection: Option<&str>) -> String {
    match collection.map(|c| c.strip_suffix('s').unwrap_or(c)) {
        Some(resource) if !resource.is_empty() => format!("{resource}Id"),
        _ => "id".to_owned(),
    }
}

/// A body a person would start from; the document has the full rules.
fn example_body(operation: Option<&str>) -> String {
    let body = match operation {
        Some("token_obtain") => json!({"username": "{{username}}", "password": "{{password}}"}),
        Some("token_refresh" | "token_revoke") => json!({"refresh": "{{refreshToken}}"}),
        Some("events_create" | "events_replace") => json!({
            "source": "ids-sensor-1", "event_type": "intrusion", "severity": "High",
            "description": "Port scan from 203.0.113.7",
        }),
        Some("events_update") => json!({"severity": "Critical"}),
        Some("keys_create") => json!({"name": "IDS in the DMZ", "source": "ids-dmz-1"}),
        Some("events_batch") => json!({"events": [
            {"source": "ids-sensor-1", "event_type": "intrusion", "severity": "High",
             "description": "SSH brute force from 203.0.113.9", "dedup_key": "ssh-bf-203.0.113.9"},
            {"source": "ids-sensor-1", "event_type": "intrusion", "severity": "High",
             "description": "SSH brute force from 203.0.113.9", "dedup_key": "ssh-bf-203.0.113.9"},
        ]}),
        Some("silences_create") => json!({
            "matchers": {"source": "ids-sensor-1", "severity": ["Low", "Medium"]},
            "ends_at": "{{silenceEndsAt}}", "comment": "Sensor maintenance, change CHG-1234",
        }),
        Some("alerts_update") => {
            json!({"status": "Acknowledged", "comment": "Looking into it: scan from 203.0.113.7"})
        }
        Some("alerts_bulk") => json!({
            "filter": {"status": "Open", "source": "ids-sensor-1"},
            "set": {"status": "Acknowledged"},
            "comment": "Triaged together: one scan",
            "dry_run": true,
        }),
        Some("alerts_comment") => {
            json!({"body": "Confirmed with the network team: not our scanner."})
        }
        Some("users_create") => json!({"username": "{{newUsername}}", "role": "analyst"}),
        Some("users_update") => json!({"is_active": false}),
        Some("users_change_password") => json!({
            "current": "{{newUserPassword}}", "new": "a passphrase of my own choosing",
        }),
        _ => json!({}),
    };
    serde_json::to_string_pretty(&body).expect("serialises")
}

/// What runs before a request: the silence's end, an hour from now (a
/// fixed date would fall out of the 90-day window); a username no run has
/// taken; the added user's sign-in, for their own password change.
fn prerequest(operation: Option<&str>) -> &'static [&'static str] {
    match operation {
        Some("users_create") => {
            &["pm.collectionVariables.set('newUsername', 'analyst-' + Date.now());"]
        }
        Some("users_change_password") => &[
            "pm.sendRequest({",
            "  url: pm.variables.get('baseUrl') + '/api/token/',",
            "  method: 'POST',",
            "  header: {'Content-Type': 'application/json'},",
            "  body: {mode: 'raw', raw: JSON.stringify({",
            "    username: pm.collectionVariables.get('newUsername'),",
            "    password: pm.collectionVariables.get('newUserPassword'),",
            "  })},",
            "}, function (err, res) {",
            "  pm.collectionVariables.set('newUserToken', err ? '' : res.json().access);",
            "});",
        ],
        Some("silences_create") => &[
            "pm.collectionVariables.set('silenceEndsAt', new Date(Date.now() + 3600 * 1000).toISOString());",
        ],
        _ => &[],
    }
}

/// The status the document gives for success (its one 2xx response).
fn success_status(op: &Operation) -> Option<&str> {
    op.responses
        .responses
        .keys()
        .map(String::as_str)
        .find(|code| code.starts_with('2'))
}

/// A request's test script: the success status is asserted, then what
/// `checks` adds for the operation.
fn test_script(op: &Operation) -> Vec<String> {
    let mut script = Vec::new();
    if let Some(status) = success_status(op) {
        script.push(format!("pm.test('answers {status}', function () {{"));
        script.push(format!("  pm.response.to.have.status({status});"));
        script.push("});".to_owned());
    }
    for &line in checks(op.operation_id.as_deref()) {
        script.push(line.to_owned());
    }
    script
}

/// Signing in and refreshing keep the collection's tokens current; recording
/// the event stores its id and its alert's for the requests after it, and
/// listing alerts finds that alert again. The other checks follow the example
/// bodies: the answers are about the event and alert the run works with, and
/// show what was changed.
fn checks(operation: Option<&str>) -> &'static [&'static str] {
    match operation {
        Some("token_obtain") => &[
            "if (pm.response.code === 200) {",
            "  pm.collectionVariables.set('accessToken', pm.response.json().access);",
            "  pm.collectionVariables.set('refreshToken', pm.response.json().refresh);",
            "}",
        ],
        Some("token_refresh") => &[
            "if (pm.response.code === 200) {",
            "  pm.collectionVariables.set('accessToken', pm.response.json().access);",
            "  pm.collectionVariables.set('refreshToken', pm.response.json().refresh);",
            "}",
        ],
        Some("users_sessions") => &[
            "if (pm.response.code === 200) {",
            "  const current = pm.response.json().results.find(function (s) { return s.current; });",
            "  pm.test('the session asking is listed as current', function () {",
            "    pm.expect(current).to.be.an('object');",
            "  });",
            "  if (current) {",
            "    pm.collectionVariables.set('sessionId', current.id);",
            "  }",
            "}",
        ],
        Some("users_create") => &[
            "if (pm.response.code === 201) {",
            "  const user = pm.response.json();",
            "  pm.collectionVariables.set('userId', user.id);",
            "  pm.collectionVariables.set('newUserPassword', user.password);",
            "  pm.test('the first password is shown once', function () {",
            "    pm.expect(user.password).to.be.a('string').with.length.above(11);",
            "  });",
            "}",
        ],
        Some("audit_list") => &[
            "if (pm.response.code === 200) {",
            "  const newest = pm.response.json().results[0];",
            "  pm.test('the deletion just made is the newest row, by this admin', function () {",
            "    pm.expect(newest.action).to.eql('event.deleted');",
            "    pm.expect(newest.actor).to.be.an('object');",
            "    pm.expect(newest.detail.event).to.be.an('object');",
            "  });",
            "}",
        ],
        Some("users_read") => &[
            "pm.test('a read never shows a password', function () {",
            "  pm.expect(pm.response.json()).to.not.have.property('password');",
            "});",
        ],
        Some("users_reset_password") => &[
            "if (pm.response.code === 200) {",
            "  pm.collectionVariables.set('newUserPassword', pm.response.json().password);",
            "}",
        ],
        Some("users_update") => &[
            "pm.test('the user is deactivated', function () {",
            "  pm.expect(pm.response.json().is_active).to.eql(false);",
            "});",
        ],
        Some("events_create") => &[
            "if (pm.response.code === 201) {",
            "  const event = pm.response.json();",
            "  pm.collectionVariables.set('eventId', event.id);",
            "  pm.collectionVariables.set('alertId', event.alert);",
            "  pm.test('a High event raises an alert', function () {",
            "    pm.expect(event.alert).to.be.a('number');",
            "  });",
            "}",
        ],
        Some("events_read" | "events_replace") => &[
            "pm.test('the answer is the recorded event', function () {",
            "  pm.expect(pm.response.json().id).to.eql(Number(pm.collectionVariables.get('eventId')));",
            "});",
        ],
        Some("events_update") => &[
            "pm.test('the severity is changed', function () {",
            "  pm.expect(pm.response.json().severity).to.eql('Critical');",
            "});",
        ],
        Some("alerts_list") => &[
            "if (pm.response.code === 200) {",
            "  const eventId = Number(pm.collectionVariables.get('eventId'));",
            "  const alert = pm.response.json().results.find(function (a) { return a.event === eventId; });",
            "  pm.test('the alert on the recorded event is listed', function () {",
            "    pm.expect(alert).to.be.an('object');",
            "  });",
            "  if (alert) {",
            "    pm.collectionVariables.set('alertId', alert.id);",
            "  }",
            "}",
        ],
        Some("alerts_read") => &[
            "pm.test('the answer is the alert on the recorded event', function () {",
            "  pm.expect(pm.response.json().event).to.eql(Number(pm.collectionVariables.get('eventId')));",
            "});",
        ],
        Some("alerts_update") => &[
            "pm.test('the status is changed', function () {",
            "  pm.expect(pm.response.json().status).to.eql('Acknowledged');",
            "});",
        ],
        Some("alerts_events") => &[
            "pm.test('the alert lists the recorded event', function () {",
            "  const eventId = Number(pm.collectionVariables.get('eventId'));",
            "  pm.expect(pm.response.json().results.map(function (e) { return e.id; })).to.include(eventId);",
            "});",
        ],
        Some("keys_create") => &[
            "if (pm.response.code === 201) {",
            "  const key = pm.response.json();",
            "  pm.collectionVariables.set('keyId', key.id);",
            "  pm.test('the secret is shown once', function () {",
            "    pm.expect(key.key).to.match(/^tmk_[0-9a-f]{76}$/);",
            "  });",
            "}",
        ],
        Some("keys_read") => &[
            "pm.test('a read never shows the secret', function () {",
            "  pm.expect(pm.response.json()).to.not.have.property('key');",
            "});",
        ],
        Some("events_batch") => &[
            "pm.test('the second event is attached to the first one\\'s alert', function () {",
            "  const results = pm.response.json().results;",
            "  pm.expect(results[1].outcome).to.eql('deduplicated');",
            "  pm.expect(results[1].alert).to.eql(results[0].alert);",
            "});",
        ],
        Some("silences_create") => &[
            "if (pm.response.code === 201) {",
            "  pm.collectionVariables.set('silenceId', pm.response.json().id);",
            "  pm.test('the silence acts now', function () {",
            "    pm.expect(pm.response.json().state).to.eql('active');",
            "  });",
            "}",
        ],
        _ => &[],
    }
}

/// The collection as committed: pretty JSON with a final newline.
pub fn collection_json(doc: &OpenApi) -> String {
    let mut json = serde_json::to_string_pretty(&collection(doc)).expect("serialises");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_names_every_documented_operation_once_and_nothing_else() {
        let doc = crate::openapi::document();
        let mut documented: Vec<&str> = doc
            .paths
            .paths
            .values()
            .flat_map(operations)
            .filter_map(|(_, op)| op.operation_id.as_deref())
            .collect();
        let mut run: Vec<&str> = RUN
            .iter()
            .flat_map(|&(_, ids)| ids.iter().copied())
            .collect();
        documented.sort_unstable();
        run.sort_unstable();
        assert_eq!(run, documented);
    }

    #[test]
    fn each_id_in_a_path_has_a_variable_named_after_its_collection() {
        assert_eq!(id_variable(Some("events")), "eventId");
        assert_eq!(id_variable(Some("alerts")), "alertId");
        assert_eq!(id_variable(None), "id");
    }
}
