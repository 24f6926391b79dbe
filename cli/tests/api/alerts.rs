//! `/api/alerts/`: reading, filtering and triaging alerts.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, results};

/// Ids of the alerts in a list response, in order.
fn ids(res: &crate::helpers::TestResponse) -> Vec<i64> {
    results(res)
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

async fn set_status(app: &TestApp, alert: &Value, status: &str) {
    let res = app
        .patch(
            &format!("/api/alerts/{alert}/"),
            Some(&app.admin),
            json!({"status": status}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_alert_shows_its_event_id_and_what_the_event_was(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("edr-3", "malware", "Critical").await;
    let res = app
        .get(
            &format!("/api/alerts/{}/", event["alert"]),
            Some(&app.analyst),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let alert = res.body.as_object().unwrap();
    let mut keys: Vec<_> = alert.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "assignee",
            "created_at",
            "dedup_key",
            "description",
            "event",
            "event_type",
            "first_seen",
            "id",
            "last_seen",
            "occurrences",
            "severity",
            "source",
            "status",
            "timestamp",
            "updated_at"
        ]
    );
    assert_eq!(alert["id"], event["alert"]);
    assert_eq!(alert["event"], event["id"]);
    for field in [
        "source",
        "event_type",
        "severity",
        "description",
        "timestamp",
    ] {
        assert_eq!(alert[field], event[field], "{field}");
    }
    assert_eq!(alert["status"], "Open");
}

#[sqlx::test(migrations = "../migrations")]
async fn alerts_list_newest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(
            app.event("s", "intrusion", "High").await["alert"]
                .as_i64()
                .unwrap(),
        );
    }
    // The newest id gets the oldest creation time: order is by time, not id.
    sqlx::query("UPDATE alerts SET created_at = created_at - interval '1 hour' WHERE id = $1")
        .bind(made[2])
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app.get("/api/alerts/", Some(&app.analyst)).await;
    assert_eq!(ids(&res), [made[1], made[0], made[2]]);
    assert_eq!(res.body["count"], 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn alerts_filter_by_severity_status_type_and_source_alone_and_combined(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = app.event("ids-1", "intrusion", "High").await["alert"].clone();
    let b = app.event("ids-1", "malware", "Critical").await["alert"].clone();
    let c = app.event("edr-2", "anomaly", "High").await["alert"].clone();
    let d = app.event("edr-2", "intrusion", "Critical").await["alert"].clone();
    app.event("edr-2", "intrusion", "Low").await;
    set_status(&app, &b, "Acknowledged").await;
    set_status(&app, &d, "Resolved").await;
    let id = |v: &Value| v.as_i64().unwrap();

    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("", vec![id(&d), id(&c), id(&b), id(&a)]),
        ("severity=High", vec![id(&c), id(&a)]),
        ("severity=Critical", vec![id(&d), id(&b)]),
        ("severity=Low", vec![]),
        ("status=Open", vec![id(&c), id(&a)]),
        ("status=Acknowledged", vec![id(&b)]),
        ("severity=High&status=Open", vec![id(&c), id(&a)]),
        ("severity=Critical&status=Open", vec![]),
        ("status=Open,Acknowledged", vec![id(&c), id(&b), id(&a)]),
        ("status=Open&status=Resolved", vec![id(&d), id(&c), id(&a)]),
        ("severity=High,Critical&status=Resolved", vec![id(&d)]),
        ("event_type=intrusion", vec![id(&d), id(&a)]),
        ("event_type=malware,anomaly", vec![id(&c), id(&b)]),
        ("source=edr-2", vec![id(&d), id(&c)]),
        ("source=edr-2&severity=High", vec![id(&c)]),
        (
            "source=ids-1&event_type=malware&status=Acknowledged&severity=Critical",
            vec![id(&b)],
        ),
        ("source=nobody", vec![]),
    ];
    for (query, expected) in cases {
        let res = app
            .get(&format!("/api/alerts/?{query}"), Some(&app.analyst))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{query}");
        assert_eq!(ids(&res), expected, "{query}");
        assert_eq!(res.body["count"], expected.len(), "{query}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn alerts_filter_by_creation_time(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let old = app.event("s", "intrusion", "High").await["alert"]
        .as_i64()
        .unwrap();
    let new = app.event("s", "intrusion", "High").await["alert"]
        .as_i64()
        .unwrap();
    sqlx::query("UPDATE alerts SET created_at = '2026-01-01T00:00:00Z' WHERE id = $1")
        .bind(old)
        .execute(&app.pool)
        .await
        .unwrap();

    let cases = [
        ("since=2026-01-01T00:00:00Z", vec![new, old]),
        ("since=2026-01-01T00:00:00.000001Z", vec![new]),
        ("until=2026-01-01T00:00:00Z", vec![old]),
        ("until=2026-01-01T02:00:00%2B02:00", vec![old]),
        (
            "since=2025-12-31T00:00:00Z&until=2026-01-02T00:00:00Z",
            vec![old],
        ),
        (
            "since=2026-01-02T00:00:00Z&severity=High&status=Open",
            vec![new],
        ),
    ];
    for (query, expected) in cases {
        let res = app
            .get(&format!("/api/alerts/?{query}"), Some(&app.admin))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{query}");
        assert_eq!(ids(&res), expected, "{query}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_filter_values_are_a_400_not_an_empty_list(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.event("s", "intrusion", "High").await;
    let cases = [
        (
            "severity=Extreme",
            json!({"severity": ["\"Extreme\" is not a valid choice."]}),
        ),
        (
            "severity=High,Extreme",
            json!({"severity": ["\"Extreme\" is not a valid choice."]}),
        ),
        (
            "status=Closed",
            json!({"status": ["\"Closed\" is not a valid choice."]}),
        ),
        (
            "event_type=worm",
            json!({"event_type": ["\"worm\" is not a valid choice."]}),
        ),
        (
            "since=yesterday",
            json!({"since": ["Enter a valid date/time in RFC 3339 format, e.g. 2026-01-31T12:00:00Z."]}),
        ),
        (
            "until=2026-13-01T00:00:00Z",
            json!({"until": ["Enter a valid date/time in RFC 3339 format, e.g. 2026-01-31T12:00:00Z."]}),
        ),
        (
            "severity=&status=Open",
            json!({"severity": ["\"\" is not a valid choice."]}),
        ),
        (
            "source=",
            json!({"source": ["This field may not be blank."]}),
        ),
        (
            "page_size=0",
            json!({"page_size": ["A positive integer is required."]}),
        ),
        (
            "severity=Extreme&status=Closed",
            json!({"severity": ["\"Extreme\" is not a valid choice."], "status": ["\"Closed\" is not a valid choice."]}),
        ),
    ];
    for (query, expected) in cases {
        let res = app
            .get(&format!("/api/alerts/?{query}"), Some(&app.analyst))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(res.body, expected, "{query}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_alert_ids_are_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for id in ["12345", "x", "0"] {
        let path = format!("/api/alerts/{id}/");
        assert_eq!(
            app.get(&path, Some(&app.analyst)).await.status,
            StatusCode::NOT_FOUND
        );
        let res = app
            .patch(&path, Some(&app.admin), json!({"status": "Resolved"}))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_moves_an_alert_through_its_lifecycle(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("s", "intrusion", "High").await;
    let path = format!("/api/alerts/{}/", event["alert"]);
    let created = app.get(&path, Some(&app.admin)).await.body;
    for status in ["Acknowledged", "Resolved", "Open", "Resolved"] {
        let res = app
            .patch(&path, Some(&app.admin), json!({"status": status}))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{status}");
        assert_eq!(res.body["status"], status);
        assert_eq!(
            app.get(&path, Some(&app.analyst)).await.body["status"],
            status
        );
    }
    let last = app.get(&path, Some(&app.admin)).await.body;
    assert_eq!(last["created_at"], created["created_at"]);
    assert_ne!(last["updated_at"], created["updated_at"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_resolved_alert_must_be_reopened_before_it_is_acknowledged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("s", "intrusion", "High").await;
    let path = format!("/api/alerts/{}/", event["alert"]);
    app.patch(&path, Some(&app.admin), json!({"status": "Resolved"}))
        .await;
    let res = app
        .patch(&path, Some(&app.admin), json!({"status": "Acknowledged"}))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(
        res.body,
        json!({"detail": "Cannot move an alert from Resolved to Acknowledged; reopen it first."})
    );
    assert_eq!(
        app.get(&path, Some(&app.admin)).await.body["status"],
        "Resolved"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_alert_updates_are_refused_and_change_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("s", "intrusion", "High").await;
    let path = format!("/api/alerts/{}/", event["alert"]);
    let before = app.get(&path, Some(&app.admin)).await.body;
    let cases = [
        (
            json!({"status": "Closed"}),
            json!({"status": ["\"Closed\" is not a valid choice."]}),
        ),
        (
            json!({"status": "open"}),
            json!({"status": ["\"open\" is not a valid choice."]}),
        ),
        (
            json!({"status": 1}),
            json!({"status": ["Not a valid string."]}),
        ),
        (
            json!({"status": null}),
            json!({"status": ["This field may not be null."]}),
        ),
        (
            json!({"status": "Open\u{0}"}),
            json!({"status": ["Null characters are not allowed."]}),
        ),
        (
            json!({"owner": "bob"}),
            json!({"owner": ["Unknown field."]}),
        ),
        (
            json!({"assignee": "bob"}),
            json!({"assignee": ["No active user is named \"bob\"."]}),
        ),
        (
            json!({"assignee": ""}),
            json!({"assignee": ["This field may not be blank."]}),
        ),
        (
            json!({"comment": "   "}),
            json!({"comment": ["This field may not be blank."]}),
        ),
        (
            json!({"comment": "x".repeat(10_001)}),
            json!({"comment": ["Ensure this field has no more than 10000 characters."]}),
        ),
        (
            json!({"status": "Resolved", "comment": 5}),
            json!({"comment": ["Not a valid string."]}),
        ),
    ];
    let snapshot = app.snapshot().await;
    for (body, expected) in cases {
        let res = app.patch(&path, Some(&app.admin), body.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res.body, expected, "{body}");
    }
    assert_eq!(app.snapshot().await, snapshot, "a refusal changes nothing");
    assert_eq!(app.get(&path, Some(&app.admin)).await.body, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn read_only_alert_fields_are_ignored(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("s", "intrusion", "High").await;
    let path = format!("/api/alerts/{}/", event["alert"]);
    let mut sent = app.get(&path, Some(&app.admin)).await.body;
    sent["severity"] = json!("Low");
    sent["event"] = json!(12345);
    sent["status"] = json!("Acknowledged");
    let res = app.patch(&path, Some(&app.admin), sent).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["severity"], "High");
    assert_eq!(res.body["event"], event["id"]);
    assert_eq!(res.body["status"], "Acknowledged");
}

#[sqlx::test(migrations = "../migrations")]
async fn alert_paths_work_without_their_trailing_slash(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("s", "intrusion", "High").await;
    assert_eq!(
        results(&app.get("/api/alerts", Some(&app.analyst)).await).len(),
        1
    );
    let path = format!("/api/alerts/{}", event["alert"]);
    assert_eq!(
        app.get(&path, Some(&app.analyst)).await.status,
        StatusCode::OK
    );
    let res = app
        .patch(&path, Some(&app.admin), json!({"status": "Resolved"}))
        .await;
    assert_eq!(res.body["status"], "Resolved");
}

#[sqlx::test(migrations = "../migrations")]
async fn two_admins_changing_an_alert_at_once_are_both_applied_in_turn_and_recorded(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let second = app
        .create_user("admin2", tm_shared::models::Role::Admin)
        .await;
    let second_token = app.login("admin2").await;
    for round in 0..10 {
        let alert = app.event("s", "intrusion", "High").await["alert"].clone();
        let path = format!("/api/alerts/{alert}/");
        let (a, b) = tokio::join!(
            app.patch(&path, Some(&app.admin), json!({"status": "Acknowledged"})),
            app.patch(&path, Some(&second_token), json!({"status": "Resolved"})),
        );
        // Resolved first makes Acknowledged a 409, never a silent no-op.
        for res in [&a, &b] {
            assert!(
                res.status == StatusCode::OK || res.status == StatusCode::CONFLICT,
                "round {round}: {:?}",
                res.body
            );
        }
        let history: Vec<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT from_status::text, to_status::text, actor_user FROM alert_timeline \
             WHERE alert_id = $1 AND kind = 'status_changed' ORDER BY id",
        )
        .bind(alert.as_i64().unwrap())
        .fetch_all(&app.pool)
        .await
        .unwrap();
        let applied = [&a, &b]
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert_eq!(
            history.len(),
            applied,
            "round {round}: one history line per applied change"
        );
        assert_eq!(history[0].0, "Open", "round {round}");
        for pair in history.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "round {round}: the changes chain");
        }
        let last = app.get(&path, Some(&app.admin)).await.body;
        assert_eq!(last["status"], history.last().unwrap().1, "round {round}");
        let by_second = history.iter().find(|h| h.1 == "Resolved").and_then(|h| h.2);
        assert_eq!(
            by_second,
            Some(second),
            "round {round}: who resolved it is recorded"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_alerts_history_outlives_its_deleted_event(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("s", "intrusion", "High").await;
    set_status(&app, &event["alert"], "Resolved").await;
    let deleted = app
        .delete(&format!("/api/events/{}/", event["id"]), Some(&app.admin))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let history = app
        .get(
            &format!("/api/alerts/{}/history/", event["alert"]),
            Some(&app.analyst),
        )
        .await;
    assert_eq!(history.status, StatusCode::OK, "{:?}", history.body);
    let kinds: Vec<(&str, &Value)> = results(&history)
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), &e["to"]))
        .collect();
    assert_eq!(
        kinds,
        [
            ("created", &Value::Null),
            ("status_changed", &json!("Resolved"))
        ]
    );
    assert_eq!(results(&history)[0]["event"], event["id"]);
    let gone = app
        .get(
            &format!("/api/alerts/{}/", event["alert"]),
            Some(&app.analyst),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

/// The counts the triage list reports come from `alert_counts`, kept by
/// triggers; after every kind of write they must equal a real count.
#[sqlx::test(migrations = "../migrations")]
async fn trigger_kept_alert_counts_match_a_real_count_after_every_kind_of_write(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut events = Vec::new();
    for (i, severity) in ["High", "Critical", "Low", "High", "Medium", "Critical"]
        .iter()
        .cycle()
        .take(40)
        .enumerate()
    {
        events.push(app.event(&format!("s{}", i % 3), "malware", severity).await);
    }
    let alert_of = |i: usize| format!("/api/alerts/{}/", events[i]["alert"]);
    let event_of = |i: usize| format!("/api/events/{}/", events[i]["id"]);
    // Status changes, and severity changes that move the alert's count
    // (raising a Low event raises an alert).
    let writes = [
        (alert_of(0), json!({"status": "Acknowledged"})),
        (alert_of(1), json!({"status": "Resolved"})),
        (alert_of(1), json!({"status": "Open"})),
        (event_of(3), json!({"severity": "Critical"})),
        (event_of(2), json!({"severity": "High"})),
        (event_of(5), json!({"severity": "Low"})),
    ];
    for (path, body) in writes {
        assert_eq!(
            app.patch(&path, Some(&app.admin), body).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    // Deleting an event deletes its alert by cascade.
    app.delete(&event_of(6), Some(&app.admin)).await;
    app.delete(&event_of(7), Some(&app.admin)).await;

    let mismatches: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ( \
             SELECT severity, status, count(*) AS n FROM alerts GROUP BY 1, 2 \
         ) real FULL JOIN ( \
             SELECT severity, status, sum(n) AS n FROM alert_counts GROUP BY 1, 2 \
         ) kept USING (severity, status) \
         WHERE COALESCE(real.n, 0) <> COALESCE(kept.n, 0)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(mismatches, 0);

    // The operator's rebuild gives the same counts.
    let kept = |pool: PgPool| async move {
        sqlx::query_scalar::<_, String>(
            "SELECT string_agg(format('%s/%s/%s=%s', severity, status, shard, n), ',' \
                 ORDER BY severity, status, shard) FROM alert_counts WHERE n <> 0",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = kept(app.pool.clone()).await;
    sqlx::query("SELECT alert_counts_rebuild()")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(kept(app.pool.clone()).await, before);

    for query in [
        "",
        "severity=High",
        "status=Open",
        "severity=High,Critical&status=Open,Acknowledged",
        "status=Resolved",
    ] {
        let listed = app
            .get(
                &format!("/api/alerts/?{query}&page_size=100"),
                Some(&app.analyst),
            )
            .await;
        assert_eq!(
            listed.body["count"].as_u64().unwrap() as usize,
            listed.body["results"].as_array().unwrap().len(),
            "{query}"
        );
    }
}
