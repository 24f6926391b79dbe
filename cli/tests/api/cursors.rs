//! Cursor pages (`?cursor=`) on every list, and the alerts' changes feed.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, TestResponse, path_of, results};

fn ids(res: &TestResponse) -> Vec<i64> {
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    results(res)
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

/// Raises `n` alerts, one event each; their ids, newest first.
async fn raise(app: &TestApp, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let event = app.event(&format!("s{i}"), "intrusion", "High").await;
        ids.push(event["alert"].as_i64().unwrap());
    }
    ids.reverse();
    ids
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cursor_walk_sees_every_row_once_while_rows_are_inserted(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let existing = raise(&app, 11).await;
    let first = app
        .get("/api/alerts/?cursor=&page_size=3", Some(&app.analyst))
        .await;
    let mut keys: Vec<&str> = first
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["next", "previous", "results"], "no count");
    assert_eq!(first.body["previous"], Value::Null);
    let mut seen = ids(&first);
    let mut pages = vec![first];
    while let Some(next) = pages.last().unwrap().body["next"]
        .as_str()
        .map(str::to_owned)
    {
        // New alerts arrive between pages: they are newer than the walk.
        raise(&app, 2).await;
        let page = app.get(&path_of(&json!(next)), Some(&app.analyst)).await;
        assert!(ids(&page).len() <= 3);
        seen.extend(ids(&page));
        pages.push(page);
    }
    assert_eq!(
        seen, existing,
        "every row once, in order, none of the new ones"
    );
    assert_eq!(pages.len(), 4);

    // Back from the last page to the first, still while inserting.
    let mut back = Vec::new();
    let mut page = pages.pop().unwrap();
    loop {
        back.splice(0..0, ids(&page));
        let Some(previous) = page.body["previous"].as_str().map(str::to_owned) else {
            break;
        };
        raise(&app, 1).await;
        page = app
            .get(&path_of(&json!(previous)), Some(&app.analyst))
            .await;
    }
    // Walking back past the first page reaches the rows added since.
    let newest: HashSet<i64> = back
        .iter()
        .copied()
        .filter(|id| !existing.contains(id))
        .collect();
    assert_eq!(back.len(), existing.len() + newest.len());
    let tail: Vec<i64> = back
        .iter()
        .copied()
        .filter(|id| existing.contains(id))
        .collect();
    assert_eq!(tail, existing);
    let unique: HashSet<i64> = back.iter().copied().collect();
    assert_eq!(unique.len(), back.len(), "no row twice");
    let mut sorted = back.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(back, sorted, "newest first");
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_cursors_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    raise(&app, 3).await;
    let events = app
        .get("/api/events/?cursor=&page_size=1", Some(&app.admin))
        .await;
    let foreign = events.body["next"].as_str().unwrap();
    let token = foreign.split("cursor=").nth(1).unwrap().to_owned();
    let alerts = app
        .get("/api/alerts/?cursor=&page_size=1", Some(&app.admin))
        .await;
    let own = alerts.body["next"]
        .as_str()
        .unwrap()
        .split("cursor=")
        .nth(1)
        .unwrap()
        .to_owned();
    let mut flipped = own.clone().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for bad in [
        token.as_str(),
        flipped.as_str(),
        "abc",
        "%00",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let res = app
            .get(&format!("/api/alerts/?cursor={bad}"), Some(&app.admin))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
        if bad != "%00" {
            assert_eq!(res.body, json!({"cursor": ["Invalid cursor."]}), "{bad}");
        }
    }
    let feed = app
        .get(
            &format!("/api/alerts/?ordering=updated_at&cursor={own}"),
            Some(&app.admin),
        )
        .await;
    assert_eq!(
        feed.status,
        StatusCode::BAD_REQUEST,
        "a cursor of another order"
    );
    let good = app
        .get(
            &format!("/api/alerts/?cursor={own}&page_size=1"),
            Some(&app.admin),
        )
        .await;
    assert_eq!(ids(&good).len(), 1);
    let bad_size = app
        .get("/api/alerts/?cursor=&page_size=0", Some(&app.admin))
        .await;
    assert_eq!(bad_size.status, StatusCode::BAD_REQUEST);
    let both = app
        .get("/api/alerts/?cursor=&page=2", Some(&app.admin))
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        both.body,
        json!({"page": ["Give page or cursor, not both."]})
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn every_list_pages_by_cursor(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alert = raise(&app, 3).await[0];
    let path = format!("/api/alerts/{alert}/");
    for body in ["a", "b", "c"] {
        app.post(
            &format!("{path}comments/"),
            Some(&app.admin),
            json!({"body": body}),
        )
        .await;
    }
    app.mint_key("k1").await;
    app.mint_key("k2").await;
    for list in [
        "/api/events/".to_owned(),
        "/api/alerts/".to_owned(),
        "/api/keys/".to_owned(),
        "/api/silences/".to_owned(),
        "/api/users/".to_owned(),
        format!("{path}events/"),
        format!("{path}comments/"),
        format!("{path}history/"),
    ] {
        let numbered = app
            .get(&format!("{list}?page_size=100"), Some(&app.admin))
            .await;
        let all = ids(&numbered);
        let mut walked = Vec::new();
        let mut next = Some(format!("{list}?cursor=&page_size=2"));
        while let Some(url) = next {
            let page = app.get(&url, Some(&app.admin)).await;
            walked.extend(ids(&page));
            next = page.body["next"].as_str().map(|l| path_of(&json!(l)));
        }
        assert_eq!(walked, all, "{list}: the same rows in the same order");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_changes_feed_lists_settled_changes_oldest_first_ties_included(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // One batch raises five alerts in one statement: one updated_at for all.
    let events: Vec<Value> = (0..5)
        .map(|i| json!({"source": format!("b{i}"), "event_type": "malware", "severity": "High", "description": "x"}))
        .collect();
    let batch = app
        .post(
            "/api/events/batch/",
            Some(&app.admin),
            json!({"events": events}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::CREATED);
    let since = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let since = since
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let feed =
        format!("/api/alerts/?ordering=updated_at&updated_since={since}&cursor=&page_size=2");
    let empty = app.get(&feed, Some(&app.analyst)).await;
    assert!(
        ids(&empty).is_empty(),
        "changes younger than the settling time are not shown yet"
    );
    settle().await;
    let (first, poll) = walk(&app, feed.clone()).await;
    let mut raised: Vec<i64> = results(&batch)
        .iter()
        .map(|r| r["alert"].as_i64().unwrap())
        .collect();
    raised.sort_unstable();
    assert_eq!(first, raised, "ties in id order, none skipped");
    // A change moves an alert to the end of the feed.
    let moved = raised[1];
    app.patch(
        &format!("/api/alerts/{moved}/"),
        Some(&app.admin),
        json!({"status": "Acknowledged"}),
    )
    .await;
    settle().await;
    let (second, _) = walk(&app, feed).await;
    let mut expected: Vec<i64> = raised.iter().copied().filter(|id| *id != moved).collect();
    expected.push(moved);
    assert_eq!(second, expected);
    // The last page's `poll` asks for what came after it: the change alone.
    let (polled, again) = walk(&app, poll.clone()).await;
    assert_eq!(polled, [moved]);
    let (nothing, same) = walk(&app, again.clone()).await;
    assert!(nothing.is_empty());
    assert_eq!(same, again, "an empty page's poll is the request itself");
    // Lists that are not the feed have no `poll`.
    let list = app.get("/api/alerts/?cursor=", Some(&app.analyst)).await;
    assert!(list.body.get("poll").is_none());
}

/// Waits until what was written so far shows in the feed.
async fn settle() {
    let seconds = u64::from(tm_shared::store::alerts::FEED_SETTLE_SECONDS);
    tokio::time::sleep(std::time::Duration::from_millis(seconds * 1000 + 200)).await;
}

/// The feed's rows from `start` on, and the last page's `poll` path.
async fn walk(app: &TestApp, start: String) -> (Vec<i64>, String) {
    let mut walked = Vec::new();
    let mut next = Some(start);
    let mut poll = String::new();
    while let Some(url) = next {
        let page = app.get(&url, Some(&app.analyst)).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        walked.extend(ids(&page));
        next = page.body["next"].as_str().map(|l| path_of(&json!(l)));
        poll = path_of(&page.body["poll"]);
    }
    (walked, poll)
}
