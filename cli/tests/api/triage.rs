//! Triage: assignment and its claim, comments, the timeline, If-Match, and
//! the users list that pickers read.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tm_shared::models::Role;

use crate::helpers::{TestApp, TestResponse, results};

async fn raise(app: &TestApp) -> String {
    let event = app.event("ids-1", "intrusion", "High").await;
    format!("/api/alerts/{}/", event["alert"])
}

async fn history(app: &TestApp, alert: &str) -> Vec<Value> {
    let res = app
        .get(
            &format!("{alert}history/?page_size=100"),
            Some(&app.analyst),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    results(&res).clone()
}

fn kinds(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

async fn patch_if(app: &TestApp, path: &str, etag: &str, body: Value) -> TestResponse {
    let auth = format!("Bearer {}", app.admin);
    app.json_with(
        Method::PATCH,
        path,
        &[("authorization", &auth), ("if-match", etag)],
        &body.to_string(),
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn acknowledging_an_unassigned_alert_claims_it_and_resolving_keeps_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let path = raise(&app).await;
    assert_eq!(
        app.get(&path, Some(&app.admin)).await.body["assignee"],
        Value::Null
    );
    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let acked = app
        .patch(&path, Some(&app.admin), json!({"status": "Acknowledged"}))
        .await;
    assert_eq!(acked.status, StatusCode::OK);
    assert_eq!(
        acked.body["assignee"],
        json!({"id": admin_id, "username": "admin"})
    );
    let resolved = app
        .patch(&path, Some(&app.admin), json!({"status": "Resolved"}))
        .await;
    assert_eq!(resolved.body["assignee"]["username"], "admin");

    // An assignee already there, or one named, is not replaced by the claim.
    let alice = app.create_user("alice", Role::Analyst).await;
    let other = raise(&app).await;
    let assigned = app
        .patch(&other, Some(&app.admin), json!({"assignee": "alice"}))
        .await;
    assert_eq!(
        assigned.body["assignee"],
        json!({"id": alice, "username": "alice"})
    );
    let acked = app
        .patch(&other, Some(&app.admin), json!({"status": "Acknowledged"}))
        .await;
    assert_eq!(acked.body["assignee"]["username"], "alice");
    let third = raise(&app).await;
    let named = app
        .patch(
            &third,
            Some(&app.admin),
            json!({"status": "Acknowledged", "assignee": null}),
        )
        .await;
    assert_eq!(named.body["assignee"], Value::Null);
    let unassigned = app
        .patch(&other, Some(&app.admin), json!({"assignee": null}))
        .await;
    assert_eq!(unassigned.body["assignee"], Value::Null);
    assert_eq!(
        kinds(&history(&app, &other).await),
        ["created", "assigned", "status_changed", "assigned"]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn only_active_users_can_be_assigned(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_user("gone", Role::Analyst).await;
    tm_shared::accounts::set_active(
        &app.pool,
        "gone",
        false,
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap();
    let path = raise(&app).await;
    let snapshot = app.snapshot().await;
    for name in ["gone", "nobody", "ADMIN"] {
        let res = app
            .patch(
                &path,
                Some(&app.admin),
                json!({"status": "Acknowledged", "assignee": name}),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(
            res.body,
            json!({"assignee": [format!("No active user is named \"{name}\".")]})
        );
    }
    assert_eq!(app.snapshot().await, snapshot, "a refusal changes nothing");
}

#[sqlx::test(migrations = "../migrations")]
async fn assignee_filters_select_me_none_and_usernames(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_user("alice", Role::Analyst).await;
    let mine = raise(&app).await;
    let alices = raise(&app).await;
    let nobodys = raise(&app).await;
    app.patch(&mine, Some(&app.admin), json!({"assignee": "admin"}))
        .await;
    app.patch(&alices, Some(&app.admin), json!({"assignee": "alice"}))
        .await;
    let ids = |res: &TestResponse| -> Vec<String> {
        assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
        let mut ids: Vec<String> = results(res)
            .iter()
            .map(|a| format!("/api/alerts/{}/", a["id"]))
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let res = app.get("/api/alerts/?assignee=me", Some(&app.admin)).await;
    assert_eq!(ids(&res), std::slice::from_ref(&mine));
    assert_eq!(res.body["count"], 1);
    let res = app
        .get("/api/alerts/?assignee=none", Some(&app.admin))
        .await;
    assert_eq!(ids(&res), std::slice::from_ref(&nobodys));
    let res = app
        .get("/api/alerts/?assignee=alice,none", Some(&app.analyst))
        .await;
    assert_eq!(ids(&res), sorted(vec![alices.clone(), nobodys.clone()]));
    let res = app
        .get("/api/alerts/?assignee=me&assignee=alice", Some(&app.admin))
        .await;
    assert_eq!(ids(&res), sorted(vec![mine.clone(), alices.clone()]));
    let res = app
        .get("/api/alerts/?assignee=me", Some(&app.analyst))
        .await;
    assert!(ids(&res).is_empty(), "the analyst has none");
    let res = app
        .get("/api/alerts/?assignee=alice,bob", Some(&app.analyst))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body, json!({"assignee": ["No user is named \"bob\"."]}));
    let res = app.get("/api/alerts/?assignee=", Some(&app.analyst)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrations = "../migrations")]
async fn users_are_listed_for_pickers_and_everyone_reads_themselves(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/api/users/", Some(&app.analyst)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["count"], 2);
    let first = &results(&res)[0];
    let mut keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "is_active", "role", "username"]);
    assert_eq!(first["username"], "admin");
    let me = app.get("/api/users/me/", Some(&app.analyst)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "analyst");
    assert_eq!(me.body["role"], "analyst");
    let key = app.mint_key("ids-1").await;
    assert_eq!(
        app.get("/api/users/", Some(&key)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/users/me/", Some(&key)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/users/me/", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn comments_are_written_by_admins_read_by_analysts_oldest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let path = raise(&app).await;
    let comments = format!("{path}comments/");
    let first = app
        .post(&comments, Some(&app.admin), json!({"body": "  scanner?  "}))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let mut keys: Vec<&str> = first
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["alert", "author", "body", "created_at", "id"]);
    assert_eq!(first.body["body"], "scanner?");
    assert_eq!(first.body["author"]["username"], "admin");
    app.post(&comments, Some(&app.admin), json!({"body": "no: external"}))
        .await;
    let listed = app.get(&comments, Some(&app.analyst)).await;
    assert_eq!(listed.body["count"], 2);
    let bodies: Vec<&str> = results(&listed)
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["scanner?", "no: external"]);

    let snapshot = app.snapshot().await;
    let forbidden = app
        .post(&comments, Some(&app.analyst), json!({"body": "me too"}))
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let bad = [
        (json!({}), json!({"body": ["This field is required."]})),
        (
            json!({"body": ""}),
            json!({"body": ["This field may not be blank."]}),
        ),
        (
            json!({"body": "x".repeat(10_001)}),
            json!({"body": ["Ensure this field has no more than 10000 characters."]}),
        ),
        (
            json!({"body": "a\u{0}b"}),
            json!({"body": ["Null characters are not allowed."]}),
        ),
        (
            json!({"body": "ok", "pinned": true}),
            json!({"pinned": ["Unknown field."]}),
        ),
    ];
    for (body, expected) in bad {
        let res = app.post(&comments, Some(&app.admin), body.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res.body, expected);
    }
    let missing = app
        .post(
            "/api/alerts/999999/comments/",
            Some(&app.admin),
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(app.snapshot().await, snapshot, "refusals change nothing");
    let long = app
        .post(
            &comments,
            Some(&app.admin),
            json!({"body": "x".repeat(10_000)}),
        )
        .await;
    assert_eq!(long.status, StatusCode::CREATED);
    assert_eq!(
        app.get("/api/alerts/999999/comments/", Some(&app.analyst))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_change_and_its_comment_are_one_timeline_entry(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let path = raise(&app).await;
    let res = app
        .patch(
            &path,
            Some(&app.admin),
            json!({"status": "Resolved", "comment": "false positive: scanner"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let entries = history(&app, &path).await;
    assert_eq!(kinds(&entries), ["created", "status_changed"]);
    let comment = &entries[1]["comment"];
    let comments = app
        .get(&format!("{path}comments/"), Some(&app.analyst))
        .await;
    assert_eq!(&results(&comments)[0]["id"], comment);
    assert_eq!(results(&comments)[0]["body"], "false positive: scanner");
    // A comment with no change is an entry of its own.
    app.patch(
        &path,
        Some(&app.admin),
        json!({"status": "Resolved", "comment": "again"}),
    )
    .await;
    let entries = history(&app, &path).await;
    assert_eq!(kinds(&entries), ["created", "status_changed", "commented"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_timeline_records_every_kind_of_change_with_who_made_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_user("alice", Role::Admin).await;
    let alice = app.login("alice").await;
    let key = app.mint_key("edr-1").await;
    let keyed = |severity: &str| json!({"event_type": "malware", "severity": severity, "description": "x", "dedup_key": "k1"});
    let raised = app.post("/api/events/", Some(&key), keyed("High")).await;
    assert_eq!(raised.status, StatusCode::CREATED, "{:?}", raised.body);
    let path = format!("/api/alerts/{}/", raised.body["alert"]);
    let attached = app
        .post(
            "/api/events/batch/",
            Some(&key),
            json!({"events": [keyed("Critical")]}),
        )
        .await;
    assert_eq!(attached.body["results"][0]["outcome"], "deduplicated");
    app.patch(&path, Some(&alice), json!({"status": "Acknowledged"}))
        .await;
    app.post(
        &format!("{path}comments/"),
        Some(&app.admin),
        json!({"body": "on it"}),
    )
    .await;
    app.patch(
        &path,
        Some(&app.admin),
        json!({"assignee": "admin", "comment": "mine now"}),
    )
    .await;
    // An event edited by an admin moves its own alert's severity.
    let single = app.event("ids-2", "intrusion", "High").await;
    let single_path = format!("/api/alerts/{}/", single["alert"]);
    app.patch(
        &format!("/api/events/{}/", single["id"]),
        Some(&alice),
        json!({"severity": "Critical"}),
    )
    .await;

    let entries = history(&app, &path).await;
    assert_eq!(
        kinds(&entries),
        [
            "created",
            "severity_changed",
            "occurrence",
            "status_changed",
            "assigned",
            "commented",
            "assigned"
        ]
    );
    let key_actor = json!({"key_id": 1, "name": "sensor edr-1"});
    assert_eq!(entries[0]["actor"], key_actor);
    assert_eq!(entries[0]["event"], raised.body["id"]);
    assert_eq!(entries[1]["actor"], Value::Null, "the system raised it");
    assert_eq!(
        (&entries[1]["from"], &entries[1]["to"]),
        (&json!("High"), &json!("Critical"))
    );
    assert_eq!(entries[2]["actor"], key_actor);
    assert_eq!(entries[2]["event"], attached.body["results"][0]["id"]);
    assert_eq!(entries[3]["actor"]["username"], "alice");
    assert_eq!(
        (&entries[3]["from"], &entries[3]["to"]),
        (&json!("Open"), &json!("Acknowledged"))
    );
    assert_eq!(entries[4]["to"]["username"], "alice", "the claim");
    assert_eq!(entries[4]["from"], Value::Null);
    assert_eq!(entries[5]["actor"]["username"], "admin");
    assert!(entries[5]["comment"].is_i64());
    assert_eq!(entries[6]["from"]["username"], "alice");
    assert_eq!(entries[6]["to"]["username"], "admin");
    assert!(
        entries[6]["comment"].is_i64(),
        "the comment went with the assignment"
    );
    for pair in entries.windows(2) {
        assert!(pair[0]["id"].as_i64() < pair[1]["id"].as_i64());
        assert!(pair[0]["at"].as_str() <= pair[1]["at"].as_str());
    }

    let single = history(&app, &single_path).await;
    assert_eq!(kinds(&single), ["created", "severity_changed"]);
    assert_eq!(single[0]["actor"]["username"], "admin");
    assert_eq!(single[1]["actor"]["username"], "alice");
    assert_eq!(single[1]["to"], "Critical");
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_changes_each_leave_their_entry_in_the_order_applied(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_user("second", Role::Admin).await;
    let second = app.login("second").await;
    let path = raise(&app).await;
    let comments = format!("{path}comments/");
    let mut handles = Vec::new();
    for round in 0..6 {
        let token = if round % 2 == 0 { &app.admin } else { &second };
        let status = ["Acknowledged", "Open", "Resolved"][round % 3];
        handles.push(app.patch(&path, Some(token), json!({"status": status})));
    }
    let patches = futures_util::future::join_all(handles);
    let (patches, _, _) = tokio::join!(
        patches,
        app.post(&comments, Some(&app.admin), json!({"body": "one"})),
        app.post(&comments, Some(&second), json!({"body": "two"})),
    );
    let applied: Vec<&TestResponse> = patches
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    let entries = history(&app, &path).await;
    let changes: Vec<&Value> = entries
        .iter()
        .filter(|e| e["kind"] == "status_changed")
        .collect();
    assert_eq!(
        entries.iter().filter(|e| e["kind"] == "commented").count(),
        2
    );
    assert!(changes.len() <= applied.len());
    assert_eq!(changes[0]["from"], "Open");
    for pair in changes.windows(2) {
        assert_eq!(
            pair[0]["to"], pair[1]["from"],
            "each change starts where the last ended"
        );
    }
    let now = app.get(&path, Some(&app.admin)).await.body;
    assert_eq!(Some(&now["status"]), changes.last().map(|c| &c["to"]));
}

#[sqlx::test(migrations = "../migrations")]
async fn if_match_applies_a_change_only_to_the_version_read(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_user("second", Role::Admin).await;
    let second = app.login("second").await;
    let path = raise(&app).await;
    let read = app.get(&path, Some(&app.admin)).await;
    let etag = read.headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    // Two admins edit from the same read: the first wins, the second is told.
    let first = patch_if(&app, &path, &etag, json!({"status": "Acknowledged"})).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let newer = first.headers["etag"].to_str().unwrap().to_owned();
    assert_ne!(newer, etag, "every change bumps the version");
    let snapshot = app.snapshot().await;
    let auth = format!("Bearer {second}");
    let stale = app
        .json_with(
            Method::PATCH,
            &path,
            &[("authorization", &auth), ("if-match", &etag)],
            &json!({"status": "Resolved", "comment": "done"}).to_string(),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert!(
        stale.body["detail"]
            .as_str()
            .unwrap()
            .contains("changed since it was read")
    );
    assert_eq!(
        app.snapshot().await,
        snapshot,
        "a stale change changes nothing"
    );
    for header in [format!("W/{newer}"), "\"999\"".to_owned()] {
        let res = patch_if(&app, &path, &header, json!({"status": "Resolved"})).await;
        assert_eq!(res.status, StatusCode::PRECONDITION_FAILED, "{header}");
    }
    for bad in ["3", "\"3", "abc"] {
        let res = patch_if(&app, &path, bad, json!({"status": "Resolved"})).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(res.body["detail"].is_string());
    }
    assert_eq!(app.snapshot().await, snapshot);
    let listed = patch_if(
        &app,
        &path,
        &format!("\"1\", {newer}"),
        json!({"status": "Resolved"}),
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);
    let any = patch_if(&app, &path, "*", json!({"status": "Open"})).await;
    assert_eq!(any.status, StatusCode::OK);
    let missing = patch_if(&app, "/api/alerts/99999/", "*", json!({"status": "Open"})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // Without If-Match the last writer wins, as before.
    let plain = app
        .patch(&path, Some(&second), json!({"status": "Resolved"}))
        .await;
    assert_eq!(plain.status, StatusCode::OK);
    // A sensor's occurrence is a change too.
    let key = app.mint_key("ids-9").await;
    let body =
        json!({"event_type": "malware", "severity": "High", "description": "x", "dedup_key": "d"});
    let raised = app.post("/api/events/", Some(&key), body.clone()).await;
    let keyed = format!("/api/alerts/{}/", raised.body["alert"]);
    let before = app.get(&keyed, Some(&app.admin)).await.headers["etag"].clone();
    app.post("/api/events/", Some(&key), body).await;
    let after = app.get(&keyed, Some(&app.admin)).await.headers["etag"].clone();
    assert_ne!(before, after);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_older_versions_writes_reach_the_timeline(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // As the version before this one writes during a deploy: an alert
    // without a version, and a status change recorded in alert_history.
    let event: i64 = sqlx::query_scalar(
        "INSERT INTO events (source, event_type, severity, description) \
         VALUES ('old', 'intrusion', 'High', 'x') RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let alert: i64 = sqlx::query_scalar(
        "INSERT INTO alerts (event_id, severity, occurrences, first_seen, last_seen) \
         SELECT id, severity, 1, now(), now() FROM events WHERE id = $1 RETURNING id",
    )
    .bind(event)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "WITH changed AS ( \
             UPDATE alerts SET status = 'Resolved', updated_at = now() WHERE id = $1 \
             RETURNING id, event_id \
         ) \
         INSERT INTO alert_history (alert_id, event_id, from_status, to_status, changed_by) \
         SELECT id, event_id, 'Open', 'Resolved', 1 FROM changed",
    )
    .bind(alert)
    .execute(&app.pool)
    .await
    .unwrap();
    let entries = history(&app, &format!("/api/alerts/{alert}/")).await;
    assert_eq!(kinds(&entries), ["created", "status_changed"]);
    assert_eq!(entries[1]["actor"]["username"], "admin");
    assert_eq!(entries[1]["to"], "Resolved");
}

/// The migrations before triage, for a database as the older version left it.
fn migrator_before_triage() -> sqlx::migrate::Migrator {
    let before: Vec<_> = tm_shared::db::MIGRATOR
        .migrations
        .iter()
        .filter(|m| m.version < 20261203000009)
        .cloned()
        .collect();
    assert_eq!(before.len(), 8);
    sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(before),
        ..sqlx::migrate::Migrator::DEFAULT
    }
}

#[sqlx::test(migrations = false)]
async fn migrating_carries_every_alert_history_line_into_the_timeline(pool: PgPool) {
    migrator_before_triage().run(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO users (username, password_hash, role) VALUES ('old', '$argon2id$x', 'admin')",
    )
    .execute(&pool)
    .await
    .unwrap();
    // Two alerts, one changed twice and one deleted with its event since.
    for _ in 0..2 {
        sqlx::query(
            "WITH e AS (INSERT INTO events (source, event_type, severity, description) \
                        VALUES ('s', 'intrusion', 'High', 'x') RETURNING id, severity) \
             INSERT INTO alerts (event_id, severity) SELECT id, severity FROM e",
        )
        .execute(&pool)
        .await
        .unwrap();
    }
    for (alert, from, to) in [
        (1, "Open", "Acknowledged"),
        (1, "Acknowledged", "Resolved"),
        (2, "Open", "Resolved"),
    ] {
        sqlx::query(
            "WITH changed AS ( \
                 UPDATE alerts SET status = $3::alert_status, updated_at = now() WHERE id = $1 \
                 RETURNING id, event_id \
             ) \
             INSERT INTO alert_history (alert_id, event_id, from_status, to_status, changed_by) \
             SELECT id, event_id, $2::alert_status, $3::alert_status, 1 FROM changed",
        )
        .bind(alert as i64)
        .bind(from)
        .bind(to)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query("DELETE FROM events WHERE id = 2")
        .execute(&pool)
        .await
        .unwrap();

    tm_shared::db::MIGRATOR.run(&pool).await.unwrap();
    type Entry = (i64, String, Option<String>, Option<String>, Option<i64>);
    let entries: Vec<Entry> = sqlx::query_as(
        "SELECT alert_id, kind::text, from_status::text, to_status::text, actor_user \
         FROM alert_timeline ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        entries,
        [
            (1, "created".into(), None, s("Open"), None),
            (
                1,
                "status_changed".into(),
                s("Open"),
                s("Acknowledged"),
                Some(1)
            ),
            (
                1,
                "status_changed".into(),
                s("Acknowledged"),
                s("Resolved"),
                Some(1)
            ),
            (
                2,
                "status_changed".into(),
                s("Open"),
                s("Resolved"),
                Some(1)
            ),
        ],
        "every alert's creation and every history line (a deleted alert's too), in time order"
    );
    let times: (Option<bool>, Option<bool>) = sqlx::query_as(
        "SELECT acknowledged_at IS NOT NULL, resolved_at IS NOT NULL FROM alerts WHERE id = 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        times,
        (Some(true), Some(true)),
        "the lifecycle's times from the history"
    );
}
