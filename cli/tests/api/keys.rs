//! Ingest keys: minted and revoked by admins, good for recording events of
//! their own source and nothing else.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tm_shared::models::key::KeySecret;

use crate::helpers::{TestApp, results};

fn event(source: Option<&str>) -> Value {
    let mut body = json!({"event_type": "intrusion", "severity": "High", "description": "scan"});
    if let Some(source) = source {
        body["source"] = json!(source);
    }
    body
}

#[sqlx::test(migrations = "../migrations")]
async fn minting_a_key_shows_its_secret_once_and_stores_only_a_hash(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .post(
            "/api/keys/",
            Some(&app.admin),
            json!({"name": " ids-dmz-1 ", "source": "ids-dmz-1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    let secret = res.body["key"].as_str().unwrap().to_owned();
    assert!(KeySecret::parse(&secret).is_some(), "{secret}");
    assert_eq!(res.body["name"], "ids-dmz-1");
    assert_eq!(res.body["source"], "ids-dmz-1");
    assert_eq!(res.body["prefix"], &secret[..16]);
    assert!(res.body["created_by"].as_i64().unwrap() > 0);
    assert!(res.body["created_at"].is_string());
    assert_eq!(res.body["last_used_at"], Value::Null);
    assert_eq!(res.body["revoked_at"], Value::Null);
    let id = res.body["id"].as_i64().unwrap();

    let read = app.get(&format!("/api/keys/{id}/"), Some(&app.admin)).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.body.get("key").is_none());
    let list = app.get("/api/keys/", Some(&app.admin)).await;
    assert_eq!(list.body["count"], 1);
    assert!(!list.body.to_string().contains(&secret[16..]));

    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret_hash FROM ingest_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let everything = app.snapshot().await.join("\n");
    assert!(!everything.contains(&secret[16..]), "the secret is stored");
    assert!(KeySecret::parse(&secret).unwrap().matches(&stored));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_key_body_is_checked_field_by_field(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let before = app.snapshot().await;
    for (body, field) in [
        (json!({"source": "s"}), "name"),
        (json!({"name": "n"}), "source"),
        (json!({"name": "", "source": "s"}), "name"),
        (json!({"name": "n", "source": "x".repeat(101)}), "source"),
        (json!({"name": "n", "source": 5}), "source"),
        (
            json!({"name": "n", "source": "s", "key": "tmk_x", "extra": 1}),
            "key",
        ),
    ] {
        let res = app.post("/api/keys/", Some(&app.admin), body.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(res.body.get(field).is_some(), "{body} → {:?}", res.body);
    }
    assert_eq!(app.snapshot().await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_manage_keys(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let key = app.mint_key("ids-1").await;
    let before = app.snapshot().await;
    for credential in [Some(app.analyst.as_str()), Some(key.as_str())] {
        assert_eq!(
            app.get("/api/keys/", credential).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.get("/api/keys/1/", credential).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.delete("/api/keys/1/", credential).await.status,
            StatusCode::FORBIDDEN
        );
        let res = app
            .post(
                "/api/keys/",
                credential,
                json!({"name": "n", "source": "s"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        app.get("/api/keys/", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.snapshot().await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_key_may_record_events_and_nothing_else(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let key = app.mint_key("ids-1").await;
    let res = app.post("/api/events/", Some(&key), event(None)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    let event_id = res.body["id"].as_i64().unwrap();
    let alert_id = res.body["alert"].as_i64().unwrap();
    let res = app
        .post(
            "/api/events/batch/",
            Some(&key),
            json!({"events": [event(None)]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);

    let before = app.snapshot().await;
    let k = Some(key.as_str());
    for (method, path) in [
        (Method::GET, "/api/events/".to_owned()),
        (Method::GET, format!("/api/events/{event_id}/")),
        (Method::PUT, format!("/api/events/{event_id}/")),
        (Method::PATCH, format!("/api/events/{event_id}/")),
        (Method::DELETE, format!("/api/events/{event_id}/")),
        (Method::GET, "/api/alerts/".to_owned()),
        (Method::GET, format!("/api/alerts/{alert_id}/")),
        (Method::PATCH, format!("/api/alerts/{alert_id}/")),
        (Method::GET, format!("/api/alerts/{alert_id}/events/")),
        (Method::GET, "/api/silences/".to_owned()),
        (Method::POST, "/api/silences/".to_owned()),
        (Method::GET, "/api/keys/".to_owned()),
    ] {
        let res = app
            .json(method.clone(), &path, k, json!({"status": "Resolved"}))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    assert_eq!(app.snapshot().await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_keys_events_are_its_sources_and_no_other(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let key = app.mint_key("ids-dmz-1").await;
    let res = app.post("/api/events/", Some(&key), event(None)).await;
    assert_eq!(res.body["source"], "ids-dmz-1");
    let res = app
        .post("/api/events/", Some(&key), event(Some("ids-dmz-1")))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);

    let before = app.snapshot().await;
    let res = app
        .post("/api/events/", Some(&key), event(Some("edr-hq")))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"source": ["This key may only send events from \"ids-dmz-1\"."]})
    );
    let res = app
        .post(
            "/api/events/batch/",
            Some(&key),
            json!({"events": [event(None), event(Some("edr-hq"))]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"events": {"1": {"source": ["This key may only send events from \"ids-dmz-1\"."]}}})
    );
    assert_eq!(app.snapshot().await, before);

    // An admin names the source.
    let res = app
        .post("/api/events/", Some(&app.admin), event(None))
        .await;
    assert_eq!(res.body, json!({"source": ["This field is required."]}));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_x_api_key_header_works_as_the_bearer_does(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let key = app.mint_key("ids-1").await;
    let res = app
        .json_with(
            Method::POST,
            "/api/events/",
            &[("X-API-Key", &key)],
            &event(None).to_string(),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    let res = app
        .json_with(Method::GET, "/api/alerts/", &[("X-API-Key", &key)], "")
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .json_with(
            Method::POST,
            "/api/events/",
            &[("X-API-Key", "nonsense")],
            "{}",
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_revoked_key_is_refused_as_an_unknown_one_is(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let key = app.mint_key("ids-1").await;
    let id = results(&app.get("/api/keys/", Some(&app.admin)).await)[0]["id"].clone();
    let res = app
        .delete(&format!("/api/keys/{id}/"), Some(&app.admin))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);

    let before = app.snapshot().await;
    let revoked = app.post("/api/events/", Some(&key), event(None)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    let unknown = app
        .post(
            "/api/events/",
            Some(&KeySecret::generate().expose()),
            event(None),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked.body, unknown.body);
    let malformed = app.post("/api/events/", Some("tmk_123"), event(None)).await;
    assert_eq!(malformed.body, unknown.body);
    assert_eq!(app.snapshot().await, before);

    // The record stays; revoking again keeps the first time.
    let read = app.get(&format!("/api/keys/{id}/"), Some(&app.admin)).await;
    let revoked_at = read.body["revoked_at"].clone();
    assert!(revoked_at.is_string());
    let again = app
        .delete(&format!("/api/keys/{id}/"), Some(&app.admin))
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    let read = app.get(&format!("/api/keys/{id}/"), Some(&app.admin)).await;
    assert_eq!(read.body["revoked_at"], revoked_at);
    assert_eq!(
        app.delete("/api/keys/999/", Some(&app.admin)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn keys_sharing_a_prefix_each_authenticate_as_themselves(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let real = KeySecret::parse(&app.mint_key("ids-1").await).unwrap();
    // A second key with the same 48-bit prefix, as a collision would make.
    let text = real.clone().expose();
    let twin = format!("{}{}", &text[..16], "0".repeat(64));
    let twin = KeySecret::parse(&twin).unwrap();
    assert_eq!(twin.prefix(), real.prefix());
    sqlx::query(
        "INSERT INTO ingest_keys (name, source, prefix, secret_hash, created_by) \
         VALUES ('twin', 'edr-2', $1, $2, NULL)",
    )
    .bind(twin.prefix())
    .bind(twin.hash().as_slice())
    .execute(&app.pool)
    .await
    .unwrap();

    let res = app.post("/api/events/", Some(&text), event(None)).await;
    assert_eq!(res.body["source"], "ids-1");
    let res = app
        .post("/api/events/", Some(&twin.clone().expose()), event(None))
        .await;
    assert_eq!(res.body["source"], "edr-2");
    let forged = format!("{}{}", &text[..16], "1".repeat(64));
    let res = app.post("/api/events/", Some(&forged), event(None)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn last_used_is_written_at_most_once_a_minute(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let key = app.mint_key("ids-1").await;
    let last_used = || async {
        sqlx::query_scalar::<_, Option<time::OffsetDateTime>>(
            "SELECT last_used_at FROM ingest_keys",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    app.post("/api/events/", Some(&key), event(None)).await;
    let first = last_used().await.expect("set on first use");
    app.post("/api/events/", Some(&key), event(None)).await;
    assert_eq!(
        last_used().await,
        Some(first),
        "rewritten within the minute"
    );

    sqlx::query("UPDATE ingest_keys SET last_used_at = now() - interval '61 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    let old = last_used().await.unwrap();
    app.post("/api/events/", Some(&key), event(None)).await;
    assert!(last_used().await.unwrap() > old);
}
