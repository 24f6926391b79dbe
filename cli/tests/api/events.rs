//! `/api/events/`: storing, reading, changing and deleting events, and the
//! alerts those writes raise.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, results};

fn body(severity: &str) -> Value {
    json!({"source": "sensor-7", "event_type": "malware", "severity": severity, "description": "trojan found"})
}

#[sqlx::test(migrations = "../migrations")]
async fn creating_an_event_returns_it_with_server_set_id_and_timestamp(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .post("/api/events/", Some(&app.admin), body("Low"))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let event = &res.body;
    assert!(event["id"].as_i64().unwrap() > 0);
    assert_eq!(event["source"], "sensor-7");
    assert_eq!(event["event_type"], "malware");
    assert_eq!(event["severity"], "Low");
    assert_eq!(event["description"], "trojan found");
    assert_eq!(event["alert"], Value::Null);
    let ts = event["timestamp"].as_str().unwrap();
    let parsed =
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(
        (time::OffsetDateTime::now_utc() - parsed)
            .whole_seconds()
            .abs()
            < 60
    );

    let read = app
        .get(&format!("/api/events/{}/", event["id"]), Some(&app.admin))
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(&read.body, event);
}

#[sqlx::test(migrations = "../migrations")]
async fn high_and_critical_events_raise_exactly_one_open_alert(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for severity in ["High", "Critical"] {
        let before = app.rows("alerts").await;
        let res = app
            .post("/api/events/", Some(&app.admin), body(severity))
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
        assert_eq!(app.rows("alerts").await, before + 1);
        let alert = app
            .get(
                &format!("/api/alerts/{}/", res.body["alert"]),
                Some(&app.analyst),
            )
            .await;
        assert_eq!(alert.status, StatusCode::OK);
        assert_eq!(alert.body["event"], res.body["id"]);
        assert_eq!(alert.body["status"], "Open");
        assert_eq!(alert.body["severity"], severity);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn low_and_medium_events_raise_no_alert(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for severity in ["Low", "Medium"] {
        let res = app
            .post("/api/events/", Some(&app.admin), body(severity))
            .await;
        assert_eq!(res.body["alert"], Value::Null);
    }
    assert_eq!(app.rows("alerts").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn put_replaces_every_writable_field(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("a", "intrusion", "Low").await;
    let path = format!("/api/events/{}/", event["id"]);
    let replacement =
        json!({"source": "b", "event_type": "anomaly", "severity": "Medium", "description": "new"});
    let res = app.put(&path, Some(&app.admin), replacement).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["source"], "b");
    assert_eq!(res.body["event_type"], "anomaly");
    assert_eq!(res.body["severity"], "Medium");
    assert_eq!(res.body["description"], "new");
    assert_eq!(
        res.body["timestamp"], event["timestamp"],
        "the timestamp is the server's"
    );
    assert_eq!(app.get(&path, Some(&app.admin)).await.body, res.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn put_requires_every_field(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("a", "intrusion", "Low").await;
    let path = format!("/api/events/{}/", event["id"]);
    let res = app
        .put(&path, Some(&app.admin), json!({"severity": "High"}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({
            "source": ["This field is required."],
            "event_type": ["This field is required."],
            "description": ["This field is required."],
        })
    );
    assert_eq!(app.get(&path, Some(&app.admin)).await.body, event);
    assert_eq!(app.rows("alerts").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn patch_changes_only_the_fields_sent(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("a", "intrusion", "Low").await;
    let path = format!("/api/events/{}/", event["id"]);
    let res = app
        .patch(&path, Some(&app.admin), json!({"description": "updated"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let mut expected = event.clone();
    expected["description"] = json!("updated");
    assert_eq!(res.body, expected);
}

#[sqlx::test(migrations = "../migrations")]
async fn read_only_fields_sent_back_are_ignored(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("a", "intrusion", "Low").await;
    let path = format!("/api/events/{}/", event["id"]);
    let mut sent = event.clone();
    sent["id"] = json!(999);
    sent["timestamp"] = json!("2000-01-01T00:00:00Z");
    sent["source"] = json!("renamed");
    let res = app.put(&path, Some(&app.admin), sent).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["id"], event["id"]);
    assert_eq!(res.body["timestamp"], event["timestamp"]);
    assert_eq!(res.body["source"], "renamed");
}

#[sqlx::test(migrations = "../migrations")]
async fn raising_an_events_severity_raises_its_alert_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("a", "intrusion", "Low").await;
    let path = format!("/api/events/{}/", event["id"]);
    let raised = app
        .patch(&path, Some(&app.admin), json!({"severity": "High"}))
        .await;
    assert_eq!(raised.status, StatusCode::OK);
    let alert_id = raised.body["alert"].clone();
    assert!(alert_id.is_i64(), "{:?}", raised.body);
    assert_eq!(app.rows("alerts").await, 1);

    // Raising further keeps the same alert and moves its severity along.
    let again = app
        .patch(&path, Some(&app.admin), json!({"severity": "Critical"}))
        .await;
    assert_eq!(again.body["alert"], alert_id);
    assert_eq!(app.rows("alerts").await, 1);
    let alert = app
        .get(&format!("/api/alerts/{alert_id}/"), Some(&app.admin))
        .await;
    assert_eq!(alert.body["severity"], "Critical");
}

#[sqlx::test(migrations = "../migrations")]
async fn lowering_an_events_severity_keeps_its_alert_in_step(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("a", "intrusion", "Critical").await;
    let path = format!("/api/events/{}/", event["id"]);
    let res = app
        .patch(&path, Some(&app.admin), json!({"severity": "Low"}))
        .await;
    assert_eq!(
        res.body["alert"], event["alert"],
        "the alert is kept, not lost"
    );
    let alert = app
        .get(
            &format!("/api/alerts/{}/", event["alert"]),
            Some(&app.admin),
        )
        .await;
    assert_eq!(alert.body["severity"], "Low");
    let high = app
        .get("/api/alerts/?severity=Critical", Some(&app.admin))
        .await;
    assert_eq!(high.body["count"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn editing_an_event_shows_in_its_alert(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("a", "intrusion", "High").await;
    app.patch(
        &format!("/api/events/{}/", event["id"]),
        Some(&app.admin),
        json!({"source": "b", "description": "more detail"}),
    )
    .await;
    let alert = app
        .get(
            &format!("/api/alerts/{}/", event["alert"]),
            Some(&app.analyst),
        )
        .await;
    assert_eq!(alert.body["source"], "b");
    assert_eq!(alert.body["description"], "more detail");
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_an_event_deletes_its_alert(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("a", "intrusion", "High").await;
    let other = app.event("b", "intrusion", "High").await;
    let res = app
        .delete(&format!("/api/events/{}/", event["id"]), Some(&app.admin))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(res.body, Value::Null);
    let gone = app
        .get(
            &format!("/api/alerts/{}/", event["alert"]),
            Some(&app.admin),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let kept = app
        .get(
            &format!("/api/alerts/{}/", other["alert"]),
            Some(&app.admin),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK);
    let again = app
        .delete(&format!("/api/events/{}/", event["id"]), Some(&app.admin))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_and_non_numeric_ids_are_404_for_every_method(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for id in [
        "999999",
        "abc",
        "0",
        "-1",
        "1.5",
        "%00",
        "99999999999999999999",
    ] {
        let path = format!("/api/events/{id}/");
        assert_eq!(
            app.get(&path, Some(&app.admin)).await.status,
            StatusCode::NOT_FOUND,
            "{id}"
        );
        assert_eq!(
            app.put(&path, Some(&app.admin), body("Low")).await.status,
            StatusCode::NOT_FOUND,
            "{id}"
        );
        assert_eq!(
            app.patch(&path, Some(&app.admin), json!({})).await.status,
            StatusCode::NOT_FOUND,
            "{id}"
        );
        let deleted = app.delete(&path, Some(&app.admin)).await;
        assert_eq!(deleted.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(deleted.body, json!({"detail": "Not found."}));
    }
    assert_eq!(app.rows("events").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn every_event_path_works_without_its_trailing_slash(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let created = app
        .post("/api/events", Some(&app.admin), body("High"))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let path = format!("/api/events/{}", created.body["id"]);
    assert_eq!(app.get(&path, Some(&app.admin)).await.body, created.body);
    assert_eq!(
        app.patch(&path, Some(&app.admin), json!({"source": "z"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        results(&app.get("/api/events", Some(&app.admin)).await).len(),
        1
    );
    assert_eq!(
        app.delete(&path, Some(&app.admin)).await.status,
        StatusCode::NO_CONTENT
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_severity_changes_leave_one_alert_in_step_with_its_event(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for round in 0..10 {
        let event = app.event(&format!("r{round}"), "anomaly", "Low").await;
        let path = format!("/api/events/{}/", event["id"]);
        let changes = ["High", "Critical", "Medium", "High", "Critical"]
            .map(|severity| app.patch(&path, Some(&app.admin), json!({"severity": severity})));
        for res in futures_util::future::join_all(changes).await {
            assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
        }
        let (alerts, in_step): (i64, bool) = sqlx::query_as(
            "SELECT count(a.id), bool_and(a.severity = e.severity) \
             FROM events e JOIN alerts a ON a.event_id = e.id WHERE e.id = $1",
        )
        .bind(event["id"].as_i64().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(alerts, 1, "round {round}: one alert for the event");
        assert!(
            in_step,
            "round {round}: the alert's severity is the event's"
        );
        let read = app.get(&path, Some(&app.admin)).await;
        assert!(read.body["alert"].is_i64());
    }
}
