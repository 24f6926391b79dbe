//! Deduplication: High and Critical events with a `dedup_key` attach to the
//! alert with that key while it is not Resolved.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, results};

fn keyed(severity: &str, key: &str) -> Value {
    json!({"source": "ids-1", "event_type": "intrusion", "severity": severity,
           "description": "brute force", "dedup_key": key})
}

async fn alert(app: &TestApp, id: &Value) -> Value {
    let res = app
        .get(&format!("/api/alerts/{id}/"), Some(&app.analyst))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    res.body
}

/// The counts table agrees with the alerts (the triggers saw every write).
async fn assert_counts_agree(app: &TestApp) {
    let wrong: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ( \
             SELECT severity, status, count(*) AS n FROM alerts GROUP BY 1, 2 \
         ) real FULL JOIN ( \
             SELECT severity, status, sum(n) AS n FROM alert_counts GROUP BY 1, 2 HAVING sum(n) <> 0 \
         ) kept USING (severity, status) WHERE real.n IS DISTINCT FROM kept.n",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(wrong, 0, "alert_counts disagrees with alerts");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_repeated_key_attaches_to_the_open_alert(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = app
        .post("/api/events/", Some(&app.admin), keyed("High", "bf-1"))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.body["outcome"], "raised");
    assert_eq!(first.body["dedup_key"], "bf-1");
    let raised = alert(&app, &first.body["alert"]).await;
    assert_eq!(raised["occurrences"], 1);
    assert_eq!(raised["dedup_key"], "bf-1");
    assert_eq!(raised["first_seen"], first.body["timestamp"]);
    assert_eq!(raised["last_seen"], first.body["timestamp"]);

    let second = app
        .post("/api/events/", Some(&app.admin), keyed("High", "bf-1"))
        .await;
    assert_eq!(second.body["outcome"], "deduplicated");
    assert_eq!(second.body["alert"], first.body["alert"]);
    let attached = alert(&app, &first.body["alert"]).await;
    assert_eq!(attached["occurrences"], 2);
    assert_eq!(
        attached["event"], first.body["id"],
        "event stays the first one"
    );
    assert_eq!(attached["first_seen"], first.body["timestamp"]);
    assert_eq!(attached["last_seen"], second.body["timestamp"]);
    assert_eq!(app.rows("alerts").await, 1);

    // Reading the attached event says the same.
    let read = app
        .get(
            &format!("/api/events/{}/", second.body["id"]),
            Some(&app.admin),
        )
        .await;
    assert_eq!(read.body, second.body);

    // Both events are the alert's, newest first.
    let events = app
        .get(
            &format!("/api/alerts/{}/events/", first.body["alert"]),
            Some(&app.analyst),
        )
        .await;
    assert_eq!(events.status, StatusCode::OK);
    let ids: Vec<&Value> = results(&events).iter().map(|e| &e["id"]).collect();
    assert_eq!(ids, [&second.body["id"], &first.body["id"]]);
    assert_eq!(events.body["count"], 2);
    assert_counts_agree(&app).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_alert_keeps_the_highest_severity_it_has_seen(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = app
        .post("/api/events/", Some(&app.admin), keyed("High", "k"))
        .await;
    app.post("/api/events/", Some(&app.admin), keyed("Critical", "k"))
        .await;
    assert_eq!(
        alert(&app, &first.body["alert"]).await["severity"],
        "Critical"
    );
    app.post("/api/events/", Some(&app.admin), keyed("High", "k"))
        .await;
    let seen = alert(&app, &first.body["alert"]).await;
    assert_eq!(seen["severity"], "Critical");
    assert_eq!(seen["occurrences"], 3);
    // Low and Medium events carry the key but raise and attach nothing.
    let low = app
        .post("/api/events/", Some(&app.admin), keyed("Low", "k"))
        .await;
    assert_eq!(low.body["outcome"], "none");
    assert_eq!(low.body["alert"], Value::Null);
    assert_eq!(alert(&app, &first.body["alert"]).await["occurrences"], 3);
    assert_counts_agree(&app).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deduplicated_event_never_changes_the_triage_status(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = app
        .post("/api/events/", Some(&app.admin), keyed("High", "k"))
        .await;
    let path = format!("/api/alerts/{}/", first.body["alert"]);
    app.patch(&path, Some(&app.admin), json!({"status": "Acknowledged"}))
        .await;
    app.post("/api/events/", Some(&app.admin), keyed("Critical", "k"))
        .await;
    let seen = alert(&app, &first.body["alert"]).await;
    assert_eq!(seen["status"], "Acknowledged");
    assert_eq!(seen["occurrences"], 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn after_the_alert_is_resolved_the_key_raises_a_new_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = app
        .post("/api/events/", Some(&app.admin), keyed("High", "k"))
        .await;
    let old = format!("/api/alerts/{}/", first.body["alert"]);
    app.patch(&old, Some(&app.admin), json!({"status": "Resolved"}))
        .await;
    let next = app
        .post("/api/events/", Some(&app.admin), keyed("High", "k"))
        .await;
    assert_eq!(next.body["outcome"], "raised");
    assert_ne!(next.body["alert"], first.body["alert"]);
    assert_eq!(alert(&app, &first.body["alert"]).await["occurrences"], 1);

    // Reopening the old one would leave two open alerts with one key.
    let before = app.snapshot().await;
    let res = app
        .patch(&old, Some(&app.admin), json!({"status": "Open"}))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .contains(&next.body["alert"].to_string())
    );
    assert_eq!(app.snapshot().await, before);
    assert_counts_agree(&app).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_key_each_event_raises_its_own_alert(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = app.event("ids-1", "intrusion", "High").await;
    let b = app.event("ids-1", "intrusion", "High").await;
    assert_eq!(a["outcome"], "raised");
    assert_eq!(a["dedup_key"], Value::Null);
    assert_ne!(a["alert"], b["alert"]);
    assert_eq!(alert(&app, &a["alert"]).await["occurrences"], 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_key_is_bounded_and_exact(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let before = app.snapshot().await;
    for bad in [
        json!(""),
        json!("k".repeat(256)),
        json!(7),
        json!("a\u{0}b"),
    ] {
        let mut body = keyed("High", "x");
        body["dedup_key"] = bad.clone();
        let res = app.post("/api/events/", Some(&app.admin), body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(res.body.get("dedup_key").is_some());
    }
    assert_eq!(app.snapshot().await, before);
    let mut body = keyed("High", "x");
    body["dedup_key"] = Value::Null;
    let res = app.post("/api/events/", Some(&app.admin), body).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = app
        .post(
            "/api/events/",
            Some(&app.admin),
            keyed("High", &"k".repeat(255)),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_sensors_with_one_key_make_one_alert(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for round in 0..10 {
        let key = format!("race-{round}");
        let (a, b) = tokio::join!(
            app.post("/api/events/", Some(&app.admin), keyed("High", &key)),
            app.post("/api/events/", Some(&app.admin), keyed("Critical", &key)),
        );
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        assert_eq!(b.status, StatusCode::CREATED, "{:?}", b.body);
        assert_eq!(a.body["alert"], b.body["alert"]);
        let mut outcomes = [a.body["outcome"].clone(), b.body["outcome"].clone()];
        outcomes.sort_by_key(|o| o.to_string());
        assert_eq!(outcomes, [json!("deduplicated"), json!("raised")]);
        let seen = alert(&app, &a.body["alert"]).await;
        assert_eq!(seen["occurrences"], 2);
        assert_eq!(seen["severity"], "Critical");
    }
    assert_eq!(app.rows("alerts").await, 10);
    assert_counts_agree(&app).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn an_alerts_events_list_is_paged_and_its_own(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = app
        .post("/api/events/", Some(&app.admin), keyed("High", "k"))
        .await;
    for _ in 0..24 {
        app.post("/api/events/", Some(&app.admin), keyed("High", "k"))
            .await;
    }
    app.post("/api/events/", Some(&app.admin), keyed("High", "other"))
        .await;
    let path = format!("/api/alerts/{}/events/", first.body["alert"]);
    let page = app.get(&path, Some(&app.analyst)).await;
    assert_eq!(page.body["count"], 25);
    assert_eq!(results(&page).len(), 20);
    let last = app.get(&format!("{path}?page=2"), Some(&app.analyst)).await;
    assert_eq!(results(&last).len(), 5);
    assert_eq!(results(&last)[4]["id"], first.body["id"]);
    assert_eq!(
        app.get("/api/alerts/999/events/", Some(&app.analyst))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&path, None).await.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dedup_key_is_its_sources_own(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mine = app.mint_key("ids-1").await;
    let theirs = app.mint_key("edr-2").await;
    let body = json!({"event_type": "intrusion", "severity": "High", "description": "d", "dedup_key": "k"});
    let a = app.post("/api/events/", Some(&mine), body.clone()).await;
    let mut critical = body.clone();
    critical["severity"] = json!("Critical");
    let b = app.post("/api/events/", Some(&theirs), critical).await;
    assert_eq!(
        b.body["outcome"], "raised",
        "another source's key is another incident"
    );
    assert_ne!(a.body["alert"], b.body["alert"]);
    let first = alert(&app, &a.body["alert"]).await;
    assert_eq!(
        (first["severity"].as_str(), first["occurrences"].as_i64()),
        (Some("High"), Some(1))
    );
    let again = app.post("/api/events/", Some(&mine), body).await;
    assert_eq!(again.body["alert"], a.body["alert"]);
    assert_counts_agree(&app).await;
}
