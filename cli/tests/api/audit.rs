//! The audit log: every kind of write leaves one row, in its own
//! transaction, naming who made it, from where and through what; sign-ins
//! are recorded whatever their outcome; `GET /api/audit/` reads it for
//! admins, with filters and cursor pages.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;
use tm_shared::models::Role;
use tm_shared::models::audit::AuditVia;

use crate::helpers::{PASSWORD, TestApp, TestResponse, path_of, results};

/// A JSON request as a client at `address` sends it (the socket's peer).
async fn from(
    app: &TestApp,
    address: &str,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> TestResponse {
    let ip: std::net::IpAddr = address.parse().unwrap();
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "testserver")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::new(
            ip, 40000,
        )));
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    app.send(request.body(body).unwrap()).await
}

/// The audit rows `query` selects, newest first, as the admin reads them.
async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/api/audit/?{query}"), Some(&app.admin))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{query}: {:?}", res.body);
    results(&res).clone()
}

/// The only row of `action`; fails if there is not exactly one.
async fn only(app: &TestApp, action: &str) -> Value {
    let rows = audit(app, &format!("action={action}")).await;
    assert_eq!(rows.len(), 1, "{action}: {rows:?}");
    rows[0].clone()
}

async fn admin_id(app: &TestApp) -> i64 {
    app.get("/api/users/me/", Some(&app.admin)).await.body["id"]
        .as_i64()
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn every_event_write_is_audited_with_its_actor_and_address(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let me = admin_id(&app).await;
    let event = json!({"source": "ids-1", "event_type": "intrusion", "severity": "High",
        "description": "port scan"});
    let created = from(
        &app,
        "198.51.100.7",
        Method::POST,
        "/api/events/",
        &app.admin,
        Some(event.clone()),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_i64().unwrap();
    let row = only(&app, "event.created").await;
    assert_eq!(row["actor"], json!({"id": me, "username": "admin"}));
    assert_eq!(row["address"], "198.51.100.7");
    assert_eq!(row["via"], "api");
    assert_eq!(row["target_type"], "event");
    assert_eq!(row["target_id"], id);
    assert_eq!(row["detail"]["severity"], "High");

    let batch = json!({"events": [event.clone(), event.clone(), {"source": "ids-1",
        "event_type": "malware", "severity": "Low", "description": "d"}]});
    let res = app
        .post("/api/events/batch/", Some(&app.admin), batch)
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let ids: Vec<Value> = res.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    let row = only(&app, "event.batch_created").await;
    assert_eq!(row["target_id"], Value::Null);
    assert_eq!(row["detail"]["count"], 3);
    assert_eq!(row["detail"]["ids"], json!(ids));
    assert_eq!(row["detail"]["raised"], 2);
    assert_eq!(row["detail"]["suppressed"], 0);
    assert_eq!(
        audit(&app, "action=event.created").await.len(),
        1,
        "a batch writes one row, not one per event"
    );

    let path = format!("/api/events/{id}/");
    let res = app
        .patch(&path, Some(&app.admin), json!({"severity": "Critical"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let row = only(&app, "event.updated").await;
    assert_eq!(row["detail"]["before"]["severity"], "High");
    assert_eq!(row["detail"]["after"]["severity"], "Critical");
    assert_eq!(row["detail"]["after"]["description"], "port scan");

    assert_eq!(
        app.delete(&path, Some(&app.admin)).await.status,
        StatusCode::NO_CONTENT
    );
    let row = only(&app, "event.deleted").await;
    assert_eq!(row["target_id"], id);
    assert_eq!(row["detail"]["event"]["description"], "port scan");
    assert_eq!(row["detail"]["event"]["severity"], "Critical");
    // Deleting what is gone is a 404 and writes nothing.
    assert_eq!(
        app.delete(&path, Some(&app.admin)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(audit(&app, "action=event.deleted").await.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_key_is_the_actor_of_what_it_sends(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let key = app.mint_key("edr-1").await;
    let minted = only(&app, "key.created").await;
    let key_id = minted["target_id"].as_i64().unwrap();
    assert_eq!(minted["detail"]["source"], "edr-1");
    let event = json!({"source": "edr-1", "event_type": "malware", "severity": "Low",
        "description": "d"});
    let res = from(
        &app,
        "2001:db8::5",
        Method::POST,
        "/api/events/",
        &key,
        Some(event),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    let row = only(&app, "event.created").await;
    assert_eq!(row["actor"]["key_id"], key_id);
    assert_eq!(row["actor"]["name"], minted["detail"]["name"]);
    assert_eq!(row["address"], "2001:db8::5");
    assert_eq!(
        audit(&app, &format!("actor=key:{key_id}")).await.len(),
        1,
        "minting is the admin's, sending the key's"
    );
    let path = format!("/api/keys/{key_id}/");
    for _ in 0..2 {
        assert_eq!(
            app.delete(&path, Some(&app.admin)).await.status,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        only(&app, "key.revoked").await["target_id"],
        key_id,
        "revoking twice changes, and records, once"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn alert_changes_comments_and_bulk_calls_are_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut alerts = Vec::new();
    for _ in 0..3 {
        let event = app.event("fw-1", "intrusion", "Critical").await;
        alerts.push(event["alert"].as_i64().unwrap());
    }
    let path = format!("/api/alerts/{}/", alerts[0]);
    let res = app
        .patch(
            &path,
            Some(&app.admin),
            json!({"status": "Acknowledged", "comment": "looking"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let row = only(&app, "alert.updated").await;
    let me = admin_id(&app).await;
    assert_eq!(row["target_id"], alerts[0]);
    assert_eq!(
        row["detail"]["status"],
        json!({"from": "Open", "to": "Acknowledged"})
    );
    assert_eq!(row["detail"]["assignee"], json!({"from": null, "to": me}));
    assert!(row["detail"]["comment"].as_i64().is_some());

    let res = app
        .post(
            &format!("{path}comments/"),
            Some(&app.admin),
            json!({"body": "more"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let row = only(&app, "alert.commented").await;
    assert_eq!(row["detail"]["comment"], res.body["id"]);

    let res = app
        .post(
            "/api/alerts/bulk/",
            Some(&app.admin),
            json!({"ids": alerts, "set": {"status": "Resolved"}, "comment": "done"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let row = only(&app, "alert.bulk_updated").await;
    assert_eq!(row["target_id"], Value::Null);
    assert_eq!(row["detail"]["updated"], json!(alerts));
    assert_eq!(row["detail"]["set"], json!({"status": "Resolved"}));
    assert_eq!(row["detail"]["comment"], "done");
    assert!(row["detail"].get("dry_run").is_none());

    // A dry run and a call that changes nothing are no writes.
    for body in [
        json!({"filter": {"status": "Resolved"}, "set": {"status": "Resolved"}, "dry_run": true}),
        json!({"filter": {"status": "Resolved"}, "set": {"status": "Resolved"}}),
    ] {
        let res = app.post("/api/alerts/bulk/", Some(&app.admin), body).await;
        assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    }
    assert_eq!(audit(&app, "action=alert.bulk_updated").await.len(), 1);
    assert_eq!(
        audit(&app, &format!("target_type=alert&target_id={}", alerts[0]))
            .await
            .len(),
        2,
        "one alert's own rows: its change and its comment"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn account_changes_and_silences_are_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .post(
            "/api/users/",
            Some(&app.admin),
            json!({"username": "dana", "role": "analyst"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let dana = res.body["id"].as_i64().unwrap();
    let password = res.body["password"].as_str().unwrap().to_owned();
    let created = audit(&app, "action=user.created&via=api").await;
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0]["detail"],
        json!({"username": "dana", "role": "analyst"})
    );
    assert!(
        !created[0].to_string().contains(&password),
        "no password in the log"
    );

    let user = format!("/api/users/{dana}/");
    let res = app
        .patch(&user, Some(&app.admin), json!({"role": "admin"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let row = only(&app, "user.updated").await;
    assert_eq!(
        row["detail"]["role"],
        json!({"from": "analyst", "to": "admin"})
    );
    assert_eq!(row["detail"]["sessions_ended"], true);

    let res = app
        .post(
            &format!("{user}password-reset/"),
            Some(&app.admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let reset = only(&app, "user.password_reset").await;
    assert_eq!(reset["target_id"], dana);
    let new = res.body["password"].as_str().unwrap().to_owned();

    let token = app.sign_in("dana", &new).await.body["access"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post(
            "/api/users/me/password/",
            Some(&token),
            json!({"current": "not dana's password", "new": "dana's own long password"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let guess = only(&app, "sign_in.failed").await;
    assert_eq!(guess["actor"]["username"], "dana", "the caller is known");
    assert_eq!(guess["target_id"], dana);
    assert_eq!(guess["detail"]["during"], "password_change");
    let res = app
        .post(
            "/api/users/me/password/",
            Some(&token),
            json!({"current": new, "new": "dana's own long password"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{:?}", res.body);
    let own = only(&app, "user.password_changed").await;
    assert_eq!(own["actor"]["username"], "dana");
    assert!(!own.to_string().contains("dana's own"));

    let ends = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let res = app
        .post(
            "/api/silences/",
            Some(&app.admin),
            json!({"matchers": {"source": "noisy"}, "ends_at": ends, "comment": "maintenance"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let silence = res.body["id"].as_i64().unwrap();
    let row = only(&app, "silence.created").await;
    assert_eq!(row["detail"]["silence"]["comment"], "maintenance");
    for _ in 0..2 {
        let res = app
            .delete(&format!("/api/silences/{silence}/"), Some(&app.admin))
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(only(&app, "silence.ended").await["target_id"], silence);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_operators_commands_are_audited_as_theirs(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_user("erin", Role::Analyst).await;
    tm_shared::accounts::set_role(&app.pool, "erin", Role::Admin, AuditVia::Tmctl)
        .await
        .unwrap();
    let row = only(&app, "user.updated").await;
    assert_eq!(row["via"], "tmctl");
    assert_eq!(row["actor"], Value::Null);
    assert_eq!(row["address"], Value::Null);
}

#[sqlx::test(migrations = "../migrations")]
async fn sign_ins_are_audited_whatever_their_outcome(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let analyst = app.get("/api/users/me/", Some(&app.analyst)).await.body["id"]
        .as_i64()
        .unwrap();
    let res = app.sign_in_from("192.0.2.10", "analyst", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK);
    let ok = audit(&app, "action=sign_in.succeeded&actor=analyst").await;
    // The harness signed in once; this is the second.
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[0]["address"], "192.0.2.10");
    assert_eq!(ok[0]["target_id"], analyst);
    assert!(ok[0]["detail"]["session"].as_i64().is_some());

    let res = app.sign_in_from("192.0.2.66", "analyst", "wrong").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = app.sign_in_from("192.0.2.66", "nobody", "wrong").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let failed = audit(&app, "action=sign_in.failed").await;
    assert_eq!(failed.len(), 2);
    // An unknown name may be a password typed in the wrong box: hashed.
    assert!(failed[0]["detail"].get("username").is_none());
    assert_eq!(
        failed[0]["detail"]["unknown_username_sha256"]
            .as_str()
            .map(str::len),
        Some(16)
    );
    assert_eq!(failed[0]["target_id"], Value::Null);
    assert_eq!(failed[1]["detail"]["username"], "analyst");
    assert_eq!(failed[1]["target_id"], analyst);
    assert_eq!(failed[1]["actor"], Value::Null, "a guess proves nobody");
    assert_eq!(failed[1]["address"], "192.0.2.66");
    assert!(!failed[1].to_string().contains("wrong"), "no password");

    // Until the address is throttled: each refusal is a row too.
    let mut status = StatusCode::UNAUTHORIZED;
    for _ in 0..20 {
        status = app
            .sign_in_from("192.0.2.66", "analyst", "wrong")
            .await
            .status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Refusals that cost no password check cost the log one row a minute
    // per address, however many.
    for _ in 0..5 {
        let res = app.sign_in_from("192.0.2.66", "analyst", "x").await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let locked = audit(&app, "action=sign_in.locked_out").await;
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0]["address"], "192.0.2.66");
    assert!(locked[0]["detail"]["retry_after"].as_u64().unwrap() > 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn ending_a_session_and_reusing_a_refresh_token_are_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let pair = app.sign_in("analyst", PASSWORD).await.body;
    let first = pair["refresh"].clone();
    let rotated = app
        .post("/api/token/refresh/", None, json!({"refresh": first}))
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let again = app
        .post("/api/token/refresh/", None, json!({"refresh": first}))
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let reuse = only(&app, "session.reuse_detected").await;
    assert_eq!(reuse["target_type"], "session");
    assert_eq!(reuse["actor"], Value::Null);
    assert_eq!(reuse["detail"]["why"], "refresh_reused");

    let pair = app.sign_in("analyst", PASSWORD).await.body;
    let res = app
        .post(
            "/api/token/revoke/",
            None,
            json!({"refresh": pair["refresh"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let ended = only(&app, "session.ended").await;
    assert_eq!(ended["actor"]["username"], "analyst");
    assert_eq!(ended["detail"]["why"], "logout");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_log_is_read_by_admins_with_filters_and_cursor_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for _ in 0..5 {
        app.event("fw-1", "malware", "Low").await;
    }
    assert_eq!(
        app.get("/api/audit/", Some(&app.analyst)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/audit/", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let all = audit(&app, "action=event.created").await;
    assert_eq!(all.len(), 5);
    let ids: Vec<i64> = all.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(
        audit(&app, "action=event.created&actor=admin").await.len(),
        5
    );
    assert_eq!(
        audit(&app, "action=event.created&actor=analyst")
            .await
            .len(),
        0
    );
    assert_eq!(
        audit(&app, "action=event.created&actor=nobody").await.len(),
        0
    );
    assert_eq!(
        audit(&app, "target_type=event,user&via=api&action=event.created")
            .await
            .len(),
        5
    );
    let at = all[2]["at"].as_str().unwrap().replace('+', "%2B");
    let until = audit(&app, &format!("action=event.created&until={at}")).await;
    assert!(
        until
            .iter()
            .all(|r| r["id"].as_i64() <= all[2]["id"].as_i64())
    );
    let since = audit(&app, "action=event.created&since=2999-01-01T00:00:00Z").await;
    assert!(since.is_empty());

    // Cursor pages walk all five, two at a time, newest first.
    let mut seen = Vec::new();
    let mut next = Some("/api/audit/?action=event.created&cursor=&page_size=2".to_owned());
    while let Some(path) = next {
        let res = app.get(&path, Some(&app.admin)).await;
        assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
        assert!(res.body.get("count").is_none());
        seen.extend(results(&res).iter().map(|r| r["id"].as_i64().unwrap()));
        next = res.body["next"]
            .as_str()
            .map(|_| path_of(&res.body["next"]));
    }
    assert_eq!(seen, ids);

    for (query, field) in [
        ("action=event.nope", "action"),
        ("target_type=thing", "target_type"),
        ("target_id=0", "target_id"),
        ("target_id=abc", "target_id"),
        ("actor=key:x", "actor"),
        ("via=ssh", "via"),
        ("since=yesterday", "since"),
        ("actr=admin", "actr"),
        ("cursor=forged", "cursor"),
    ] {
        let res = app
            .get(&format!("/api/audit/?{query}"), Some(&app.admin))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(res.body.get(field).is_some(), "{query}: {:?}", res.body);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_or_failed_write_leaves_no_audit_row(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("fw-1", "intrusion", "High").await;
    let alert = event["alert"].as_i64().unwrap();
    let path = format!("/api/alerts/{alert}/");
    let res = app
        .patch(&path, Some(&app.admin), json!({"status": "Resolved"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let before = audit(&app, "").await;
    for (body, status) in [
        (json!({"status": "Acknowledged"}), StatusCode::CONFLICT),
        (json!({"assignee": "ghost"}), StatusCode::BAD_REQUEST),
    ] {
        let res = app.patch(&path, Some(&app.admin), body).await;
        assert_eq!(res.status, status, "{:?}", res.body);
    }
    let res = app
        .patch(&path, Some(&app.analyst), json!({"status": "Open"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(before, audit(&app, "").await);
}
