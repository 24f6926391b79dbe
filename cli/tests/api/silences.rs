//! Silences: matching events are stored and raise no alert while one acts.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tm_shared::AppState;

use crate::helpers::{TestApp, auth_settings, results};

fn at(offset: time::Duration) -> String {
    (OffsetDateTime::now_utc() + offset)
        .format(&Rfc3339)
        .unwrap()
}

fn event(source: &str, severity: &str) -> Value {
    json!({"source": source, "event_type": "anomaly", "severity": severity, "description": "d"})
}

async fn silence(app: &TestApp, body: Value) -> Value {
    let res = app.post("/api/silences/", Some(&app.admin), body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    res.body
}

#[sqlx::test(migrations = "../migrations")]
async fn an_event_matching_an_active_silence_is_stored_and_raises_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let s = silence(
        &app,
        json!({"matchers": {"source": "noisy", "severity": ["High", "Critical"]},
               "ends_at": at(time::Duration::hours(1)), "comment": "maintenance CHG-1"}),
    )
    .await;
    assert_eq!(s["state"], "active");
    assert_eq!(
        s["matchers"],
        json!({"source": "noisy", "event_type": null, "severity": ["High", "Critical"], "dedup_key": null})
    );
    let res = app
        .post("/api/events/", Some(&app.admin), event("noisy", "Critical"))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(res.body["outcome"], "suppressed");
    assert_eq!(res.body["silence"], s["id"]);
    assert_eq!(res.body["alert"], Value::Null);
    assert_eq!(app.rows("alerts").await, 0);
    assert_eq!(app.rows("events").await, 1);
    let read = app
        .get(
            &format!("/api/events/{}/", res.body["id"]),
            Some(&app.admin),
        )
        .await;
    assert_eq!(read.body, res.body);

    // Anything not matching every matcher raises as usual.
    let other = app
        .post("/api/events/", Some(&app.admin), event("quiet", "Critical"))
        .await;
    assert_eq!(other.body["outcome"], "raised");
    let low = app
        .post("/api/events/", Some(&app.admin), event("noisy", "Low"))
        .await;
    assert_eq!(low.body["outcome"], "none");
    assert_eq!(low.body["silence"], Value::Null);

    // In a batch, per item.
    let res = app
        .post(
            "/api/events/batch/",
            Some(&app.admin),
            json!({"events": [event("noisy", "High"), event("quiet", "High")]}),
        )
        .await;
    let r = res.body["results"].as_array().unwrap();
    assert_eq!(
        (r[0]["outcome"].as_str(), &r[0]["silence"]),
        (Some("suppressed"), &s["id"])
    );
    assert_eq!(r[1]["outcome"], "raised");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_silence_acts_only_inside_its_window(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let pending = silence(
        &app,
        json!({"matchers": {"event_type": "anomaly"}, "starts_at": at(time::Duration::hours(1)),
               "ends_at": at(time::Duration::hours(2)), "comment": "later"}),
    )
    .await;
    assert_eq!(pending["state"], "pending");
    let res = app
        .post("/api/events/", Some(&app.admin), event("s", "High"))
        .await;
    assert_eq!(res.body["outcome"], "raised");

    // Past its start it acts; ended, it stops at once on this instance.
    let started = silence(
        &app,
        json!({"matchers": {"event_type": "anomaly"}, "starts_at": at(-time::Duration::minutes(5)),
               "ends_at": at(time::Duration::hours(1)), "comment": "now"}),
    )
    .await;
    let res = app
        .post("/api/events/", Some(&app.admin), event("s", "High"))
        .await;
    assert_eq!(res.body["silence"], started["id"]);
    let path = format!("/api/silences/{}/", started["id"]);
    assert_eq!(
        app.delete(&path, Some(&app.admin)).await.status,
        StatusCode::NO_CONTENT
    );
    let ended = app.get(&path, Some(&app.analyst)).await;
    assert_eq!(ended.body["state"], "expired");
    assert!(ended.body["ended_at"].is_string());
    assert_eq!(ended.body["ends_at"], ended.body["ended_at"]);
    let res = app
        .post("/api/events/", Some(&app.admin), event("s", "High"))
        .await;
    assert_eq!(res.body["outcome"], "raised");
    // Ending it again changes nothing.
    let before = app.snapshot().await;
    assert_eq!(
        app.delete(&path, Some(&app.admin)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.snapshot().await, before);

    // A window's end acts without a reload: the cached row carries it.
    let short = silence(
        &app,
        json!({"matchers": {"source": "brief"}, "ends_at": at(time::Duration::seconds(2)), "comment": "c"}),
    )
    .await;
    let res = app
        .post("/api/events/", Some(&app.admin), event("brief", "High"))
        .await;
    assert_eq!(res.body["silence"], short["id"]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = app
        .post("/api/events/", Some(&app.admin), event("brief", "High"))
        .await;
    assert_eq!(res.body["outcome"], "raised");
}

#[sqlx::test(migrations = "../migrations")]
async fn another_instance_sees_a_new_silence_within_the_cache_bound(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    // A second instance, sharing the database, caching for 300 ms.
    let ttl = Duration::from_millis(300);
    let state = AppState::new(
        pool.clone(),
        &auth_settings(Duration::from_secs(900), Duration::from_secs(900)),
    )
    .unwrap()
    .with_silence_ttl(ttl);
    let router = tmctl::app(state);
    let other = |body: Value| {
        let router = router.clone();
        let token = app.admin.clone();
        async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/api/events/")
                .header("host", "testserver")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            let res = router.oneshot(req).await.unwrap();
            let bytes = http_body_util::BodyExt::collect(res.into_body())
                .await
                .unwrap()
                .to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    // Loads (no silences) and caches.
    assert_eq!(other(event("x", "High")).await["outcome"], "raised");
    let s = silence(
        &app,
        json!({"matchers": {"source": "x"}, "ends_at": at(time::Duration::hours(1)), "comment": "c"}),
    )
    .await;
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(other(event("x", "High")).await["silence"], s["id"]);
    app.delete(&format!("/api/silences/{}/", s["id"]), Some(&app.admin))
        .await;
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(other(event("x", "High")).await["outcome"], "raised");
}

#[sqlx::test(migrations = "../migrations")]
async fn silences_are_listed_filtered_and_read_by_analysts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = silence(&app, json!({"matchers": {"source": "a"}, "ends_at": at(time::Duration::hours(1)), "comment": "c"})).await;
    let b = silence(
        &app,
        json!({"matchers": {"dedup_key": "k"}, "starts_at": at(time::Duration::hours(1)),
                                   "ends_at": at(time::Duration::hours(2)), "comment": "c"}),
    )
    .await;
    let all = app.get("/api/silences/", Some(&app.analyst)).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["count"], 2);
    assert_eq!(results(&all)[0]["id"], b["id"], "newest first");
    let active = app
        .get("/api/silences/?state=active", Some(&app.analyst))
        .await;
    assert_eq!(active.body["count"], 1);
    assert_eq!(results(&active)[0]["id"], a["id"]);
    let by_source = app.get("/api/silences/?source=a", Some(&app.analyst)).await;
    assert_eq!(by_source.body["count"], 1);
    let bad = app
        .get("/api/silences/?state=over", Some(&app.analyst))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let read = app
        .get(&format!("/api/silences/{}/", a["id"]), Some(&app.analyst))
        .await;
    assert_eq!(read.body, a);
    assert_eq!(
        app.get("/api/silences/999/", Some(&app.analyst))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/silences/", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_create_and_end_silences(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let s = silence(&app, json!({"matchers": {"source": "a"}, "ends_at": at(time::Duration::hours(1)), "comment": "c"})).await;
    let before = app.snapshot().await;
    let body = json!({"matchers": {"source": "b"}, "ends_at": at(time::Duration::hours(1)), "comment": "c"});
    let res = app.post("/api/silences/", Some(&app.analyst), body).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .delete(&format!("/api/silences/{}/", s["id"]), Some(&app.analyst))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot().await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_silence_body_is_checked_strictly(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let before = app.snapshot().await;
    let hour = at(time::Duration::hours(1));
    for (body, field) in [
        (
            json!({"matchers": {}, "ends_at": hour, "comment": "c"}),
            "matchers",
        ),
        (json!({"ends_at": hour, "comment": "c"}), "matchers"),
        (
            json!({"matchers": {"severity": ["Hgh"]}, "ends_at": hour, "comment": "c"}),
            "matchers",
        ),
        (
            json!({"matchers": {"source": "a", "x": 1}, "ends_at": hour, "comment": "c"}),
            "matchers",
        ),
        (
            json!({"matchers": {"source": "a"}, "comment": "c"}),
            "ends_at",
        ),
        (
            json!({"matchers": {"source": "a"}, "ends_at": "tomorrow", "comment": "c"}),
            "ends_at",
        ),
        (
            json!({"matchers": {"source": "a"}, "ends_at": at(-time::Duration::hours(1)), "comment": "c"}),
            "ends_at",
        ),
        (
            json!({"matchers": {"source": "a"}, "ends_at": at(time::Duration::days(91)), "comment": "c"}),
            "ends_at",
        ),
        (
            json!({"matchers": {"source": "a"}, "starts_at": at(time::Duration::hours(2)), "ends_at": hour, "comment": "c"}),
            "ends_at",
        ),
        (
            json!({"matchers": {"source": "a"}, "ends_at": hour}),
            "comment",
        ),
        (
            json!({"matchers": {"source": "a"}, "ends_at": hour, "comment": "c", "state": "active", "owner": 1}),
            "owner",
        ),
    ] {
        let res = app
            .post("/api/silences/", Some(&app.admin), body.clone())
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(res.body.get(field).is_some(), "{body} → {:?}", res.body);
    }
    assert_eq!(app.snapshot().await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_pending_silence_ended_early_never_acts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let s = silence(
        &app,
        json!({"matchers": {"source": "x"}, "starts_at": at(time::Duration::hours(1)),
               "ends_at": at(time::Duration::hours(2)), "comment": "c"}),
    )
    .await;
    let path = format!("/api/silences/{}/", s["id"]);
    app.delete(&path, Some(&app.admin)).await;
    let ended = app.get(&path, Some(&app.admin)).await;
    assert_eq!(ended.body["state"], "expired");
    assert_eq!(ended.body["ends_at"], ended.body["starts_at"]);
    // Sub-microsecond windows are judged as stored: this one is empty.
    let res = app
        .post(
            "/api/silences/",
            Some(&app.admin),
            json!({"matchers": {"source": "x"}, "starts_at": "2099-01-01T00:00:00.0000001Z",
                   "ends_at": "2099-01-01T00:00:00.0000009Z", "comment": "c"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}
