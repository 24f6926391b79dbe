//! Pages in DRF's shape, and event list filters.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, path_of, results};

#[sqlx::test(migrations = "../migrations")]
async fn following_next_walks_every_item_once_in_order(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut made = Vec::new();
    for i in 0..23 {
        made.push(
            app.event(&format!("s{i}"), "anomaly", "Medium").await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    made.reverse();

    let mut seen = Vec::new();
    let mut path = "/api/events/?page_size=5&severity=Medium".to_owned();
    let mut pages = 0;
    loop {
        let res = app.get(&path, Some(&app.admin)).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body["count"], 23);
        pages += 1;
        if pages == 1 {
            assert_eq!(res.body["previous"], Value::Null);
        } else {
            assert!(res.body["previous"].is_string());
        }
        seen.extend(results(&res).iter().map(|e| e["id"].as_i64().unwrap()));
        match &res.body["next"] {
            Value::Null => break,
            link => {
                let next = path_of(link);
                assert!(
                    next.contains("severity=Medium") && next.contains("page_size=5"),
                    "{next}"
                );
                path = next;
            }
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen, made);
}

#[sqlx::test(migrations = "../migrations")]
async fn following_previous_walks_back(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for _ in 0..5 {
        app.event("s", "intrusion", "High").await;
    }
    let last = app
        .get("/api/alerts/?page_size=2&page=3", Some(&app.analyst))
        .await;
    assert_eq!(results(&last).len(), 1);
    assert_eq!(last.body["next"], Value::Null);
    let second = app
        .get(&path_of(&last.body["previous"]), Some(&app.analyst))
        .await;
    assert_eq!(results(&second).len(), 2);
    let first_link = path_of(&second.body["previous"]);
    assert_eq!(
        first_link, "/api/alerts/?page_size=2",
        "page 1 drops the page parameter, as DRF does"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_default_to_20_and_cap_at_100(pool: PgPool) {
    let app = TestApp::new(pool).await;
    sqlx::query(
        "INSERT INTO events (source, event_type, severity, description) \
         SELECT 's', 'anomaly', 'Low', 'bulk' FROM generate_series(1, 120)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let res = app.get("/api/events/", Some(&app.admin)).await;
    assert_eq!(results(&res).len(), 20);
    assert_eq!(res.body["count"], 120);
    let res = app
        .get("/api/events/?page_size=1000", Some(&app.admin))
        .await;
    assert_eq!(results(&res).len(), 100);
    assert!(path_of(&res.body["next"]).ends_with("page=2"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_page_past_the_end_or_not_a_page_is_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.event("s", "intrusion", "High").await;
    for query in [
        "page=2",
        "page=0",
        "page=-1",
        "page=x",
        "page=99999999999999999999",
    ] {
        let res = app
            .get(&format!("/api/alerts/?{query}"), Some(&app.analyst))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{query}");
        assert_eq!(res.body, json!({"detail": "Invalid page."}));
    }
    let res = app.get("/api/alerts/?page=last", Some(&app.analyst)).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_empty_list_is_one_empty_page(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for list in [
        "/api/events/",
        "/api/alerts/",
        "/api/alerts/?source=s&assignee=none",
    ] {
        let res = app.get(list, Some(&app.admin)).await;
        assert_eq!(
            res.body,
            json!({"count": 0, "next": null, "previous": null, "results": []}),
            "{list}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_alert_page_counts_what_its_filter_matches(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for (source, severity) in [
        ("a", "High"),
        ("a", "Critical"),
        ("b", "High"),
        ("a", "Low"),
    ] {
        app.event(source, "intrusion", severity).await;
    }
    for (query, count, on_page) in [
        ("page_size=1", 3, 1),
        ("source=a&page_size=1&page=2", 2, 1),
        ("severity=High&page_size=5", 2, 2),
        ("status=Resolved", 0, 0),
    ] {
        let res = app
            .get(&format!("/api/alerts/?{query}"), Some(&app.analyst))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{query}");
        assert_eq!(res.body["count"], count, "{query}");
        assert_eq!(
            res.body["results"].as_array().unwrap().len(),
            on_page,
            "{query}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn events_filter_by_severity_type_source_and_time(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = app.event("ids-1", "intrusion", "Low").await["id"]
        .as_i64()
        .unwrap();
    let b = app.event("ids-1", "malware", "High").await["id"]
        .as_i64()
        .unwrap();
    let c = app.event("edr-2", "anomaly", "Critical").await["id"]
        .as_i64()
        .unwrap();
    sqlx::query("UPDATE events SET timestamp = '2026-03-01T00:00:00Z' WHERE id = $1")
        .bind(a)
        .execute(&app.pool)
        .await
        .unwrap();

    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("", vec![c, b, a]),
        ("severity=Low", vec![a]),
        ("severity=High,Critical", vec![c, b]),
        ("severity=High&severity=Low", vec![b, a]),
        ("event_type=malware", vec![b]),
        ("event_type=intrusion,anomaly", vec![c, a]),
        ("source=ids-1", vec![b, a]),
        ("source=ids-1&severity=High", vec![b]),
        (
            "since=2026-03-01T00:00:00Z&until=2026-03-01T00:00:00Z",
            vec![a],
        ),
        ("since=2026-03-02T00:00:00Z", vec![c, b]),
        ("until=2026-03-02T00:00:00Z&event_type=intrusion", vec![a]),
        (
            "since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z",
            vec![],
        ),
    ];
    for (query, expected) in cases {
        let res = app
            .get(&format!("/api/events/?{query}"), Some(&app.admin))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{query}");
        let got: Vec<i64> = results(&res)
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect();
        assert_eq!(got, expected, "{query}");
        assert_eq!(res.body["count"], expected.len(), "{query}");
    }
    for query in [
        "severity=Extreme",
        "event_type=x",
        "since=nope",
        "page_size=abc",
        &format!("source={}", "s".repeat(101)),
    ] {
        let res = app
            .get(&format!("/api/events/?{query}"), Some(&app.admin))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{query}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn events_list_newest_timestamp_first_not_highest_id(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = app.event("a", "intrusion", "Low").await["id"]
        .as_i64()
        .unwrap();
    let b = app.event("b", "intrusion", "Low").await["id"]
        .as_i64()
        .unwrap();
    let c = app.event("c", "intrusion", "Low").await["id"]
        .as_i64()
        .unwrap();
    sqlx::query("UPDATE events SET timestamp = timestamp - interval '1 day' WHERE id = $1")
        .bind(c)
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app.get("/api/events/?page_size=2", Some(&app.admin)).await;
    let first: Vec<i64> = results(&res)
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let res = app.get(&path_of(&res.body["next"]), Some(&app.admin)).await;
    let second: Vec<i64> = results(&res)
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!((first, second), (vec![b, a], vec![c]));
}

/// Walks `next` from `path`, checking each answer's size; the ids seen.
async fn walk_checking_size(app: &TestApp, path: &str, token: &str) -> (Vec<i64>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = path.to_owned();
    loop {
        let res = app.get(&path, Some(token)).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        // As Lambda would carry it: the body as a JSON string.
        let body = serde_json::to_string(&res.body.to_string()).unwrap();
        assert!(body.len() < 6_000_000, "{path}: {} bytes", body.len());
        pages += 1;
        seen.extend(results(&res).iter().map(|r| r["id"].as_i64().unwrap()));
        match res.body["next"].as_str() {
            Some(_) => path = path_of(&res.body["next"]),
            None => break,
        }
    }
    (seen, pages)
}

#[sqlx::test(migrations = "../migrations")]
async fn no_page_outgrows_lambdas_answer_limit_and_next_carries_on(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // Each control character is escaped to six bytes (`\u0001`), seven
    // inside Lambda's answer: 100 of these would be a 7 MB page.
    let description = "\u{1}".repeat(tm_shared::models::event::DESCRIPTION_MAX_CHARS);
    let mut made = Vec::new();
    for i in 0..100 {
        let res = app
            .post(
                "/api/events/",
                Some(&app.admin),
                json!({"source": format!("s{i}"), "event_type": "malware",
                       "severity": "High", "description": description}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
        made.push(res.body["id"].as_i64().unwrap());
    }
    made.reverse();
    for path in [
        "/api/events/?page_size=100",
        "/api/events/?page_size=100&cursor=",
    ] {
        let (seen, pages) = walk_checking_size(&app, path, &app.admin).await;
        assert_eq!(seen, made, "{path}: every event once, in order");
        assert!(pages >= 2, "{path}: the page was cut");
    }
    // Alerts carry their event's description too.
    let (alerts, pages) =
        walk_checking_size(&app, "/api/alerts/?page_size=100", &app.analyst).await;
    assert_eq!(alerts.len(), 100);
    let mut unique = alerts.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 100, "no alert twice");
    assert!(pages >= 2);
    // A cut numbered page still counts the whole list.
    let first = app
        .get("/api/events/?page_size=100", Some(&app.admin))
        .await;
    assert_eq!(first.body["count"], 100);
    assert!(results(&first).len() < 100);
}
