//! `POST /api/events/batch/`: up to 1,000 events, validated first, stored
//! all or nothing, answered in order.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

fn item(severity: &str, key: Option<&str>) -> Value {
    json!({"source": "ids-1", "event_type": "anomaly", "severity": severity,
           "description": "d", "dedup_key": key})
}

#[sqlx::test(migrations = "../migrations")]
async fn a_batch_is_answered_in_order_with_each_outcome(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let events = json!({"events": [
        item("Low", None),
        item("High", Some("k")),
        item("Critical", None),
        item("High", Some("k")),
        item("Medium", Some("k")),
        item("Critical", Some("k")),
    ]});
    let res = app
        .post("/api/events/batch/", Some(&app.admin), events)
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    let results = res.body["results"].as_array().unwrap();
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "none",
            "raised",
            "raised",
            "deduplicated",
            "none",
            "deduplicated"
        ]
    );
    let ids: Vec<i64> = results.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids follow the request's order"
    );
    assert_eq!(results[1]["alert"], results[3]["alert"]);
    assert_eq!(results[1]["alert"], results[5]["alert"]);
    assert_ne!(results[1]["alert"], results[2]["alert"]);
    assert_eq!(results[0]["alert"], Value::Null);
    assert_eq!(results[0]["silence"], Value::Null);

    let alert = app
        .get(
            &format!("/api/alerts/{}/", results[1]["alert"]),
            Some(&app.admin),
        )
        .await;
    assert_eq!(
        alert.body["event"], results[1]["id"],
        "the group's first event"
    );
    assert_eq!(alert.body["occurrences"], 3);
    assert_eq!(alert.body["severity"], "Critical");
    // Each stored event reads back as the batch answered it.
    for result in results {
        let event = app
            .get(&format!("/api/events/{}/", result["id"]), Some(&app.admin))
            .await;
        assert_eq!(event.body["alert"], result["alert"]);
        assert_eq!(event.body["outcome"], result["outcome"]);
    }

    // A later batch attaches to the same open alert.
    let res = app
        .post(
            "/api/events/batch/",
            Some(&app.admin),
            json!({"events": [item("High", Some("k"))]}),
        )
        .await;
    assert_eq!(res.body["results"][0]["outcome"], "deduplicated");
    assert_eq!(res.body["results"][0]["alert"], results[1]["alert"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn one_bad_item_stores_nothing_and_every_bad_item_is_named(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let before = app.snapshot().await;
    let mut events: Vec<Value> = (0..20).map(|_| item("High", None)).collect();
    events[3]["severity"] = json!("Severe");
    events[17] = json!({"source": "s", "event_type": "malware", "severity": "Low", "description": "d", "x": 1});
    events[18] = json!("not an object");
    let res = app
        .post(
            "/api/events/batch/",
            Some(&app.admin),
            json!({"events": events}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"events": {
            "3": {"severity": ["\"Severe\" is not a valid choice."]},
            "17": {"x": ["Unknown field."]},
            "18": {"non_field_errors": ["Expected an event object."]},
        }})
    );
    assert_eq!(app.snapshot().await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_batch_itself_is_checked(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let before = app.snapshot().await;
    for (body, expected) in [
        (json!({}), json!({"events": ["This field is required."]})),
        (
            json!({"events": []}),
            json!({"events": ["This list may not be empty."]}),
        ),
        (
            json!({"events": {"0": {}}}),
            json!({"events": ["Expected a list of events."]}),
        ),
        (
            json!({"events": [item("Low", None)], "more": 1}),
            json!({"more": ["Unknown field."]}),
        ),
    ] {
        let res = app.post("/api/events/batch/", Some(&app.admin), body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.body, expected);
    }
    let too_many: Vec<Value> = (0..1001).map(|_| item("Low", None)).collect();
    let res = app
        .post(
            "/api/events/batch/",
            Some(&app.admin),
            json!({"events": too_many}),
        )
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body["detail"].as_str().unwrap().contains("1000"));
    let huge = "x".repeat(5 * 1024 * 1024);
    let res = app
        .post(
            "/api/events/batch/",
            Some(&app.admin),
            json!({"events": [{"description": huge}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    let res = app
        .call(
            Method::POST,
            "/api/events/batch/",
            Some(&app.admin),
            Some("text/plain"),
            "{}",
        )
        .await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.snapshot().await, before);
    let analyst = app
        .post(
            "/api/events/batch/",
            Some(&app.analyst),
            json!({"events": [item("Low", None)]}),
        )
        .await;
    assert_eq!(analyst.status, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot().await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_full_batch_of_1000_is_stored_whole(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // The single route's limit is 256 KiB; a batch may be far larger.
    let description = "d".repeat(1000);
    let events: Vec<Value> = (0..1000)
        .map(|i| {
            let severity = ["Low", "Medium", "High", "Critical"][i % 4];
            let key = (i % 10 == 0).then(|| format!("k{}", i % 30));
            json!({"source": "ids-1", "event_type": "malware", "severity": severity,
                   "description": description, "dedup_key": key})
        })
        .collect();
    let res = app
        .post(
            "/api/events/batch/",
            Some(&app.admin),
            json!({"events": events}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    assert_eq!(res.body["results"].as_array().unwrap().len(), 1000);
    assert_eq!(app.rows("events").await, 1000);
    // Keyed items: i % 10 == 0, so i % 4 is 0 or 2 (Low or High): the High
    // ones (i % 20 == 10) repeat 3 keys (k10, k20 and k0 of i % 30).
    let keyed: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts WHERE dedup_key IS NOT NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(keyed, 3);
    let occurrences: i64 = sqlx::query_scalar(
        "SELECT sum(occurrences)::bigint FROM alerts WHERE dedup_key IS NOT NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(occurrences, 50);
    // Unkeyed High/Critical: 500 of them, less the 50 keyed High.
    assert_eq!(app.rows("alerts").await, 450 + 3);
}
