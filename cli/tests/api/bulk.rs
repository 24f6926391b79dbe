//! Bulk triage (by ids and by filter) and the stats.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

async fn raise(app: &TestApp, source: &str) -> i64 {
    app.event(source, "intrusion", "High").await["alert"]
        .as_i64()
        .unwrap()
}

async fn status_of(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT status::text FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn bulk_by_ids_says_what_became_of_each(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let open = raise(&app, "a").await;
    let acked = raise(&app, "b").await;
    let resolved = raise(&app, "c").await;
    app.patch(
        &format!("/api/alerts/{acked}/"),
        Some(&app.admin),
        json!({"status": "Acknowledged"}),
    )
    .await;
    app.patch(
        &format!("/api/alerts/{resolved}/"),
        Some(&app.admin),
        json!({"status": "Resolved"}),
    )
    .await;
    let ids = json!([open, acked, 999_999, resolved, open]);

    let snapshot = app.snapshot().await;
    let dry = app
        .post(
            "/api/alerts/bulk/",
            Some(&app.admin),
            json!({"ids": ids, "set": {"status": "Acknowledged"}, "dry_run": true}),
        )
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{:?}", dry.body);
    assert_eq!(dry.body, json!({"matched": 3}));
    assert_eq!(app.snapshot().await, snapshot, "a dry run changes nothing");

    let done = app
        .post(
            "/api/alerts/bulk/",
            Some(&app.admin),
            json!({"ids": ids, "set": {"status": "Acknowledged"}, "comment": "one scanner"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(
        done.body,
        json!({"results": [
            {"id": open, "outcome": "updated"},
            {"id": acked, "outcome": "unchanged"},
            {"id": 999_999, "outcome": "not_found"},
            {"id": resolved, "outcome": "conflict"},
        ]})
    );
    assert_eq!(status_of(&app, open).await, "Acknowledged");
    assert_eq!(status_of(&app, resolved).await, "Resolved");
    let history = app
        .get(&format!("/api/alerts/{open}/history/"), Some(&app.analyst))
        .await;
    let entries = history.body["results"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        3,
        "created, the change with its comment, the claim"
    );
    assert_eq!(entries[1]["kind"], "status_changed");
    assert!(entries[1]["comment"].is_i64());
    assert_eq!(entries[2]["kind"], "assigned");
    assert_eq!(entries[2]["to"]["username"], "admin");
    let comments = app
        .get(&format!("/api/alerts/{open}/comments/"), Some(&app.analyst))
        .await;
    assert_eq!(comments.body["results"][0]["body"], "one scanner");

    let comments: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_comments")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(comments, 1, "the comment went with the one change only");
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_bulk_requests_are_refused_and_change_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let id = raise(&app, "a").await;
    let snapshot = app.snapshot().await;
    let many: Vec<i64> = (1..=1001).collect();
    let cases = [
        json!({}),
        json!({"ids": [id]}),
        json!({"ids": [id], "set": {}}),
        json!({"ids": [id], "set": {}, "comment": "a comment alone"}),
        json!({"ids": [id], "filter": {}, "set": {"status": "Open"}}),
        json!({"ids": many, "set": {"status": "Open"}}),
        json!({"ids": [], "set": {"status": "Open"}}),
        json!({"ids": ["1"], "set": {"status": "Open"}}),
        json!({"ids": [id], "set": {"status": "Closed"}}),
        json!({"ids": [id], "set": {"status": "Open", "owner": "x"}}),
        json!({"ids": [id], "set": {"assignee": "nobody"}}),
        json!({"ids": [id], "set": {"status": "Open"}, "dry_run": "yes"}),
        json!({"ids": [id], "set": {"status": "Open"}, "comment": ""}),
        json!({"ids": [id], "set": {"status": "Open"}, "extra": 1}),
        json!({"filter": {"severity": "Extreme"}, "set": {"status": "Open"}}),
        json!({"filter": {"owner": "x"}, "set": {"status": "Open"}}),
        json!({"filter": {"assignee": "nobody"}, "set": {"status": "Open"}}),
        json!({"filter": {"since": "yesterday"}, "set": {"status": "Open"}}),
        json!({"filter": {"status": 1}, "set": {"status": "Open"}}),
        json!({"filter": [], "set": {"status": "Open"}}),
        json!({"filter": {"status": "Open"}, "set": {}, "comment": "c"}),
    ];
    for body in cases {
        let res = app
            .post("/api/alerts/bulk/", Some(&app.admin), body.clone())
            .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{body}: {:?}",
            res.body
        );
        assert!(
            res.body.is_object() && res.body.get("detail").is_none(),
            "{body}: {:?}",
            res.body
        );
    }
    let analyst = app
        .post(
            "/api/alerts/bulk/",
            Some(&app.analyst),
            json!({"ids": [id], "set": {"status": "Resolved"}}),
        )
        .await;
    assert_eq!(analyst.status, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot().await, snapshot, "refusals change nothing");
}

#[sqlx::test(migrations = "../migrations")]
async fn bulk_by_filter_caps_each_call_and_counts_stay_exact(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // 10,050 Open High alerts from batches, a few Resolved and Low ones.
    let total = 10_050;
    let mut sent = 0;
    while sent < total {
        let n = (total - sent).min(1000);
        let events: Vec<Value> = (0..n)
            .map(|i| {
                json!({"source": format!("s{}", (sent + i) % 7), "event_type": "intrusion",
                            "severity": "High", "description": "x"})
            })
            .collect();
        let res = app
            .post(
                "/api/events/batch/",
                Some(&app.admin),
                json!({"events": events}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
        sent += n;
    }
    let resolved = raise(&app, "r").await;
    app.patch(
        &format!("/api/alerts/{resolved}/"),
        Some(&app.admin),
        json!({"status": "Resolved"}),
    )
    .await;
    app.event("low", "intrusion", "Low").await;

    let dry = app
        .post(
            "/api/alerts/bulk/",
            Some(&app.admin),
            json!({"filter": {"severity": "High"}, "set": {"status": "Acknowledged"}, "dry_run": true}),
        )
        .await;
    assert_eq!(dry.body, json!({"matched": total + 1}));

    let body = json!({"filter": {"severity": ["High", "Critical"]}, "set": {"status": "Acknowledged"},
                      "comment": "campaign closed"});
    let (first, list) = tokio::join!(
        app.post("/api/alerts/bulk/", Some(&app.admin), body.clone()),
        app.get("/api/alerts/?status=Open&page_size=5", Some(&app.analyst)),
    );
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(list.status, StatusCode::OK, "a reader is not blocked");
    assert_eq!(
        first.body,
        json!({"updated": 10_000, "unchanged": 0, "conflicts": 1, "remaining": total - 10_000,
               "truncated": true})
    );
    // The oldest went first.
    let newest_open: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM alerts WHERE status = 'Open' AND severity = 'High' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let max_acked: i64 =
        sqlx::query_scalar("SELECT max(id) FROM alerts WHERE status = 'Acknowledged'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(newest_open.iter().all(|id| *id > max_acked));
    let second = app
        .post("/api/alerts/bulk/", Some(&app.admin), body.clone())
        .await;
    assert_eq!(
        second.body,
        json!({"updated": total - 10_000, "unchanged": 10_000, "conflicts": 1, "remaining": 0,
               "truncated": false})
    );
    let third = app.post("/api/alerts/bulk/", Some(&app.admin), body).await;
    assert_eq!(third.body["updated"], 0);
    assert_eq!(third.body["unchanged"], total);

    let entries: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind::text, count(*) FROM alert_timeline WHERE kind <> 'created' GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        entries,
        [
            ("assigned".to_owned(), total as i64),
            ("status_changed".to_owned(), total as i64 + 1)
        ],
        "one change and one claim per alert, and the earlier resolve"
    );
    let commented: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM alert_timeline t JOIN alert_comments c ON c.id = t.comment_id \
         WHERE c.body = 'campaign closed' AND t.kind = 'status_changed'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(commented, total as i64);
    let counts = app
        .get("/api/alerts/?status=Acknowledged", Some(&app.analyst))
        .await;
    assert_eq!(counts.body["count"], total);
    let stats = app.get("/api/alerts/stats/", Some(&app.analyst)).await;
    assert_eq!(
        stats.body["open_by_assignee"],
        json!([{"assignee": {"id": 1, "username": "admin"}, "count": total}])
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bulk_reopening_keeps_one_open_alert_per_dedup_key(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let keyed = json!({"source": "ids", "event_type": "intrusion", "severity": "High",
                       "description": "x", "dedup_key": "k"});
    let first = app
        .post("/api/events/", Some(&app.admin), keyed.clone())
        .await
        .body["alert"]
        .as_i64()
        .unwrap();
    app.patch(
        &format!("/api/alerts/{first}/"),
        Some(&app.admin),
        json!({"status": "Resolved"}),
    )
    .await;
    let second = app.post("/api/events/", Some(&app.admin), keyed).await.body["alert"]
        .as_i64()
        .unwrap();
    app.patch(
        &format!("/api/alerts/{second}/"),
        Some(&app.admin),
        json!({"status": "Resolved"}),
    )
    .await;
    let res = app
        .post(
            "/api/alerts/bulk/",
            Some(&app.admin),
            json!({"ids": [first, second], "set": {"status": "Open"}}),
        )
        .await;
    assert_eq!(
        res.body,
        json!({"results": [{"id": first, "outcome": "updated"}, {"id": second, "outcome": "conflict"}]})
    );
    let by_filter = app
        .post(
            "/api/alerts/bulk/",
            Some(&app.admin),
            json!({"filter": {"status": "Resolved"}, "set": {"status": "Open"}}),
        )
        .await;
    assert_eq!(
        by_filter.body,
        json!({"updated": 0, "unchanged": 0, "conflicts": 1, "remaining": 0, "truncated": false})
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bulk_counts_stay_exact_when_the_change_moves_alerts_out_of_the_filter(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(raise(&app, &format!("s{i}")).await);
    }
    for (id, status) in [(ids[0], "Acknowledged"), (ids[1], "Resolved")] {
        let res = app
            .patch(
                &format!("/api/alerts/{id}/"),
                Some(&app.admin),
                json!({"status": status}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
    }
    let bulk = |filter: Value, status: &str| {
        app.post(
            "/api/alerts/bulk/",
            Some(&app.admin),
            json!({"filter": filter, "set": {"status": status}}),
        )
    };
    // The four Open ones leave `status=Open` as they are acknowledged.
    let moved = bulk(json!({"status": "Open"}), "Acknowledged").await;
    assert_eq!(
        moved.body,
        json!({"updated": 4, "unchanged": 0, "conflicts": 0, "remaining": 0, "truncated": false})
    );
    // By severity every alert stays matched: five are already acknowledged
    // and the resolved one may not be.
    let stayed = bulk(json!({"severity": "High"}), "Acknowledged").await;
    assert_eq!(
        stayed.body,
        json!({"updated": 0, "unchanged": 5, "conflicts": 1, "remaining": 0, "truncated": false})
    );
    let resolved = bulk(json!({"severity": "High"}), "Resolved").await;
    assert_eq!(
        resolved.body,
        json!({"updated": 5, "unchanged": 1, "conflicts": 0, "remaining": 0, "truncated": false})
    );
    for id in ids {
        assert_eq!(status_of(&app, id).await, "Resolved");
    }
}

/// What the stats should say, computed from every alert row.
async fn brute_force(app: &TestApp, since: &str, until: &str) -> Value {
    type Row = (
        String,
        String,
        bool,
        Option<f64>,
        Option<f64>,
        f64,
        Option<i64>,
    );
    let age_now = "extract(epoch FROM now() - created_at)::float8";
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT status::text, severity::text, created_at >= $1::timestamptz AND created_at <= $2::timestamptz, \
                extract(epoch FROM acknowledged_at - created_at)::float8, \
                extract(epoch FROM resolved_at - created_at)::float8, {age_now}, assignee_id \
         FROM alerts"
    )))
    .bind(since)
    .bind(until)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut counts: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for status in ["Open", "Acknowledged", "Resolved"] {
        for severity in ["Low", "Medium", "High", "Critical"] {
            counts
                .entry(status.into())
                .or_default()
                .insert(severity.into(), 0);
        }
    }
    let (mut ack, mut res) = (Vec::new(), Vec::new());
    let mut ages = [0_i64; 4];
    let mut assignees: BTreeMap<Option<i64>, i64> = BTreeMap::new();
    for (status, severity, in_window, to_ack, to_res, age, assignee) in rows {
        if in_window {
            *counts.get_mut(&status).unwrap().get_mut(&severity).unwrap() += 1;
            ack.extend(to_ack);
            if status == "Resolved" {
                res.extend(to_res);
            }
        }
        if status != "Resolved" {
            let bucket = match age {
                a if a < 3600.0 => 0,
                a if a < 86_400.0 => 1,
                a if a < 7.0 * 86_400.0 => 2,
                _ => 3,
            };
            ages[bucket] += 1;
            *assignees.entry(assignee).or_default() += 1;
        }
    }
    let durations = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        };
        let mean = (n > 0).then(|| v.iter().sum::<f64>() / n as f64);
        json!({"count": n, "mean_seconds": mean, "median_seconds": median})
    };
    json!({
        "counts": counts,
        "time_to_acknowledge": durations(ack),
        "time_to_resolve": durations(res),
        "open_by_age": {"<1h": ages[0], "1h-24h": ages[1], "1d-7d": ages[2], ">7d": ages[3]},
        "open_by_assignee": assignees.len(),
    })
}

/// Counts and means are exact; a median is read from a histogram bucket's
/// middle, within 2.2% or half a second of the exact one.
fn close(field: &str, a: &Value, b: &Value) -> bool {
    let within = |x: f64, y: f64| match field {
        "median_seconds" => (x - y).abs() <= y.abs() * 0.022 + 0.5,
        _ => (x - y).abs() < 1e-3,
    };
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => within(x, y),
        _ => a == b,
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn stats_agree_with_a_brute_force_count(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_user("alice", tm_shared::models::Role::Admin)
        .await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let severity = ["High", "Critical"][i % 2];
        ids.push(
            app.event(&format!("s{i}"), "malware", severity).await["alert"]
                .as_i64()
                .unwrap(),
        );
    }
    for (i, id) in ids.iter().enumerate() {
        let path = format!("/api/alerts/{id}/");
        match i % 5 {
            0 => {}
            1 => {
                app.patch(&path, Some(&app.admin), json!({"status": "Acknowledged"}))
                    .await;
            }
            2 => {
                app.patch(&path, Some(&app.admin), json!({"status": "Acknowledged"}))
                    .await;
                app.patch(&path, Some(&app.admin), json!({"status": "Resolved"}))
                    .await;
            }
            3 => {
                app.patch(
                    &path,
                    Some(&app.admin),
                    json!({"status": "Resolved", "assignee": "alice"}),
                )
                .await;
            }
            _ => {
                app.patch(&path, Some(&app.admin), json!({"assignee": "alice"}))
                    .await;
            }
        }
    }
    // Spread the alerts over 20 days, each change some minutes after it.
    sqlx::query(
        "UPDATE alerts SET created_at = now() - (id * 12) * interval '1 hour' - interval '10 minutes', \
             acknowledged_at = acknowledged_at - (id * 12) * interval '1 hour' + (id % 7) * interval '1 minute', \
             resolved_at = resolved_at - (id * 12) * interval '1 hour' + (id % 11) * interval '3 minute'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    for query in [
        "",
        "?since=2000-01-01T00:00:00Z",
        "?until=2000-01-01T00:00:00Z",
        // At the calendar's end: cut without overflowing it.
        "?since=9999-12-31T23:00:00Z&until=9999-12-31T23:59:59Z",
        "?since=2026-01-01T00:00:00.000001Z&until=9999-12-31T23:59:59Z",
    ] {
        let res = app
            .get(&format!("/api/alerts/stats/{query}"), Some(&app.analyst))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
        // The window the server used, as it says (its `now`, a moment before ours).
        let since = res.body["since"].as_str().unwrap().to_owned();
        let until = res.body["until"].as_str().unwrap().to_owned();
        let expected = brute_force(&app, &since, &until).await;
        assert_eq!(res.body["counts"], expected["counts"], "{query}");
        assert_eq!(res.body["open_by_age"], expected["open_by_age"], "{query}");
        for key in ["time_to_acknowledge", "time_to_resolve"] {
            for field in ["count", "mean_seconds", "median_seconds"] {
                assert!(
                    close(field, &res.body[key][field], &expected[key][field]),
                    "{query} {key}.{field}: {} vs {}",
                    res.body[key][field],
                    expected[key][field]
                );
            }
        }
        assert_eq!(
            res.body["open_by_assignee"].as_array().unwrap().len() as i64,
            expected["open_by_assignee"].as_i64().unwrap()
        );
    }
    // The kept per-assignee counts agree with the alerts, and the
    // operator's rebuild gives the same.
    let kept = |pool: PgPool| async move {
        sqlx::query_scalar::<_, String>(
            "SELECT string_agg(format('%s/%s=%s', assignee_id, status, n), ',' \
                 ORDER BY assignee_id, status) \
             FROM (SELECT assignee_id, status, sum(n) AS n FROM alert_assignee_counts \
                   GROUP BY 1, 2 HAVING sum(n) <> 0) kept",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let real: String = sqlx::query_scalar(
        "SELECT string_agg(format('%s/%s=%s', assignee_id, status, n), ',' \
             ORDER BY assignee_id, status) \
         FROM (SELECT COALESCE(assignee_id, 0) AS assignee_id, status, count(*) AS n \
               FROM alerts GROUP BY 1, 2) real",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(kept(app.pool.clone()).await, real);
    sqlx::query("SELECT alert_assignee_counts_rebuild()")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(kept(app.pool.clone()).await, real);

    let bad = app
        .get("/api/alerts/stats/?since=yesterday", Some(&app.analyst))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let key = app.mint_key("k").await;
    assert_eq!(
        app.get("/api/alerts/stats/", Some(&key)).await.status,
        StatusCode::FORBIDDEN
    );
}

/// Rows where migration 19's rollups and the alerts disagree: figures per
/// period, status and severity, then histogram buckets.
async fn rollup_mismatches(pool: &PgPool) -> (i64, i64) {
    let periods = "CROSS JOIN (VALUES ('hour'::stats_span), ('day')) s(span)";
    let figures: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "WITH real AS ( \
             SELECT s.span, date_trunc(s.span::text, created_at, 'UTC') AS period, severity, status, \
                    count(*) AS n, count(acknowledged_at) AS acked, \
                    coalesce(sum((extract(epoch FROM acknowledged_at - created_at) * 1000000)::bigint), 0) AS ack_us, \
                    count(*) FILTER (WHERE status = 'Resolved' AND resolved_at IS NOT NULL) AS resolved, \
                    coalesce(sum((extract(epoch FROM resolved_at - created_at) * 1000000)::bigint) \
                        FILTER (WHERE status = 'Resolved'), 0) AS resolve_us \
             FROM alerts {periods} GROUP BY 1, 2, 3, 4 \
         ), kept AS ( \
             SELECT span, period, severity, status, sum(n) AS n, sum(acked) AS acked, \
                    sum(ack_us) AS ack_us, sum(resolved) AS resolved, sum(resolve_us) AS resolve_us \
             FROM alert_stats GROUP BY 1, 2, 3, 4 \
             HAVING sum(n) <> 0 OR sum(acked) <> 0 OR sum(ack_us) <> 0 \
                 OR sum(resolved) <> 0 OR sum(resolve_us) <> 0 \
         ) \
         SELECT (SELECT count(*) FROM (SELECT * FROM real EXCEPT SELECT * FROM kept) a) \
              + (SELECT count(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM real) b)"
    )))
    .fetch_one(pool)
    .await
    .unwrap();
    let buckets: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "WITH times AS ( \
             SELECT created_at, 'acknowledge' AS kind, acknowledged_at - created_at AS took \
             FROM alerts WHERE acknowledged_at IS NOT NULL \
             UNION ALL \
             SELECT created_at, 'resolve', resolved_at - created_at \
             FROM alerts WHERE status = 'Resolved' AND resolved_at IS NOT NULL \
         ), real AS ( \
             SELECT s.span, date_trunc(s.span::text, created_at, 'UTC') AS period, kind, \
                    alert_stats_bucket(took) AS bucket, count(*) AS n \
             FROM times {periods} GROUP BY 1, 2, 3, 4 \
         ), kept AS ( \
             SELECT span, period, kind, (i - 1)::int AS bucket, c::bigint AS n \
             FROM alert_stats_hist, unnest(counts) WITH ORDINALITY u(c, i) WHERE c <> 0 \
         ) \
         SELECT (SELECT count(*) FROM (SELECT * FROM real EXCEPT SELECT * FROM kept) a) \
              + (SELECT count(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM real) b)"
    )))
    .fetch_one(pool)
    .await
    .unwrap();
    (figures, buckets)
}

#[sqlx::test(migrations = "../migrations")]
async fn stats_rollups_match_the_alerts_after_every_kind_of_write(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_user("alice", tm_shared::models::Role::Admin)
        .await;
    let mut events = Vec::new();
    for (i, severity) in ["High", "Critical", "Low", "High", "Medium"]
        .iter()
        .cycle()
        .take(30)
        .enumerate()
    {
        events.push(app.event(&format!("s{}", i % 3), "malware", severity).await);
    }
    let batch: Vec<Value> = (0..20)
        .map(|i| json!({"source": "b", "event_type": "intrusion", "severity": "High", "description": format!("{i}")}))
        .collect();
    let res = app
        .post(
            "/api/events/batch/",
            Some(&app.admin),
            json!({"events": batch}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    let alert_of = |i: usize| format!("/api/alerts/{}/", events[i]["alert"]);
    let event_of = |i: usize| format!("/api/events/{}/", events[i]["id"]);
    for (path, body) in [
        (alert_of(0), json!({"status": "Acknowledged"})),
        (
            alert_of(1),
            json!({"status": "Resolved", "assignee": "alice"}),
        ),
        (alert_of(1), json!({"status": "Open"})),
        (alert_of(3), json!({"status": "Acknowledged"})),
        (alert_of(3), json!({"status": "Resolved"})),
        (event_of(5), json!({"severity": "Critical"})),
        (event_of(2), json!({"severity": "High"})),
        (event_of(6), json!({"severity": "Low"})),
    ] {
        let res = app.patch(&path, Some(&app.admin), body).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {:?}", res.body);
    }
    app.delete(&event_of(8), Some(&app.admin)).await;
    let res = app
        .post(
            "/api/alerts/bulk/",
            Some(&app.admin),
            json!({"filter": {"source": "b"}, "set": {"status": "Acknowledged"}, "dry_run": false}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    // Old alerts, spread over a month, with times from seconds to days.
    sqlx::query(
        "UPDATE alerts SET created_at = created_at - (id * 17) * interval '1 hour', \
             acknowledged_at = acknowledged_at - (id * 17) * interval '1 hour' + (id * id) * interval '1 minute', \
             resolved_at = resolved_at - (id * 17) * interval '1 hour' + (id * 7) * interval '1 hour'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(rollup_mismatches(&app.pool).await, (0, 0));

    // Folding keeps every figure: shards of a period that is over (as a
    // writer whose transaction began before it ended leaves) become shard 0.
    // Shard 5 gains what shard 0 loses: a fold that dropped shard rows
    // rather than moving them would leave the loss.
    for (shard, sign) in [(5, 1), (0, -1)] {
        sqlx::query(
            "INSERT INTO alert_stats (span, period, severity, status, shard, \
                                      n, acked, ack_us, resolved, resolve_us) \
             SELECT span, period, severity, status, $1, 2 * $2, $2, 1000 * $2, 0, 0 \
             FROM alert_stats WHERE shard = 0 AND period < now() - interval '2 days' \
             ON CONFLICT (span, period, severity, status, shard) DO UPDATE SET \
                 n = alert_stats.n + EXCLUDED.n, acked = alert_stats.acked + EXCLUDED.acked, \
                 ack_us = alert_stats.ack_us + EXCLUDED.ack_us",
        )
        .bind(shard as i16)
        .bind(sign as i64)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let folded: i64 = sqlx::query_scalar("SELECT alert_stats_fold()")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(folded > 0);
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM alert_stats WHERE shard > 0 \
         AND period + CASE span WHEN 'hour' THEN interval '1 hour' ELSE interval '1 day' END \
             <= now() - interval '10 minutes'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
    assert_eq!(rollup_mismatches(&app.pool).await, (0, 0));

    // The operator's rebuild gives the same figures.
    sqlx::query("UPDATE alert_stats SET n = n + 1 WHERE shard = 0")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_ne!(rollup_mismatches(&app.pool).await, (0, 0));
    sqlx::query("SELECT alert_stats_rebuild()")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(rollup_mismatches(&app.pool).await, (0, 0));
}
