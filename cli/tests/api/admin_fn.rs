//! The admin function: migrations as a CloudFormation custom resource, and
//! operator commands.

use std::sync::{Arc, Mutex};

use admin::Admin;
use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

/// A stand-in for the pre-signed S3 URL: records what is PUT to it.
async fn response_catcher() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/cfn-response",
        axum::routing::put(move |body: axum::body::Bytes| {
            let record = record.clone();
            async move {
                record
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/cfn-response",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn cfn_event(request_type: &str, url: &str) -> Value {
    json!({
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/tm/1",
        "RequestId": "req-1",
        "ResourceType": "Custom::Migrations",
        "LogicalResourceId": "Migrations",
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:admin",
        "ResourceProperties": {"CodeVersion": "3"},
    })
}

async fn tables(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name IN ('users', 'events', 'alerts')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_deploy_migrates_the_database_and_tells_cloudformation(pool: PgPool) {
    let admin = Admin::new(pool.clone()).allowing_loopback_answers();
    let (url, seen) = response_catcher().await;
    assert_eq!(tables(&pool).await, 0);

    for request_type in ["Create", "Update"] {
        let outcome = admin.handle(cfn_event(request_type, &url)).await;
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    assert_eq!(tables(&pool).await, 3);
    let answers = seen.lock().unwrap().clone();
    assert_eq!(answers.len(), 2);
    for answer in answers {
        assert_eq!(answer["Status"], "SUCCESS", "{answer}");
        assert_eq!(answer["RequestId"], "req-1");
        assert_eq!(answer["LogicalResourceId"], "Migrations");
        assert_eq!(answer["PhysicalResourceId"], "threat-monitoring-migrations");
        assert!(
            answer["StackId"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:cloudformation")
        );
    }
}

#[sqlx::test(migrations = false)]
async fn deleting_the_stack_keeps_the_data(pool: PgPool) {
    let admin = Admin::new(pool.clone()).allowing_loopback_answers();
    let (url, seen) = response_catcher().await;
    admin.handle(cfn_event("Create", &url)).await.unwrap();
    let mut delete = cfn_event("Delete", &url);
    delete["PhysicalResourceId"] = json!("threat-monitoring-migrations");
    admin.handle(delete).await.unwrap();
    assert_eq!(tables(&pool).await, 3);
    assert_eq!(seen.lock().unwrap()[1]["Status"], "SUCCESS");
}

#[tokio::test]
async fn a_failed_migration_is_still_answered_as_failed() {
    let settings = tm_shared::config::DbSettings::from_env_with_url(
        secrecy::SecretString::from("postgres://postgres@127.0.0.1:9/none"),
        1,
    )
    .unwrap();
    let admin =
        Admin::new(tm_shared::db::lazy_pool(&settings).unwrap()).allowing_loopback_answers();
    let (url, seen) = response_catcher().await;
    let outcome = admin.handle(cfn_event("Create", &url)).await;
    assert!(outcome.is_ok(), "answered, so not retried: {outcome:?}");
    let answers = seen.lock().unwrap().clone();
    assert_eq!(answers.len(), 1, "CloudFormation must not be left waiting");
    assert_eq!(answers[0]["Status"], "FAILED");
    assert!(!answers[0]["Reason"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn answers_go_only_to_https_urls_off_this_machine() {
    let settings = tm_shared::config::DbSettings::from_env_with_url(
        secrecy::SecretString::from("postgres://postgres@127.0.0.1:9/none"),
        1,
    )
    .unwrap();
    let admin = Admin::new(tm_shared::db::lazy_pool(&settings).unwrap());
    let outcome = admin
        .handle(cfn_event("Delete", "http://example.com/answer"))
        .await;
    assert!(outcome.unwrap_err().to_string().contains("https"));
}

#[sqlx::test(migrations = "../migrations")]
async fn operators_manage_users_without_sending_passwords(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let admin = Admin::new(pool.clone()).allowing_loopback_answers();

    let created = admin
        .handle(json!({"command": "user-create", "username": "soc-lead", "role": "admin"}))
        .await
        .unwrap();
    let password = created["password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 24);
    let login = app.sign_in("soc-lead", &password).await;
    assert_eq!(login.status, StatusCode::OK);

    let reset = admin
        .handle(json!({"command": "user-set-password", "username": "soc-lead"}))
        .await
        .unwrap();
    assert_ne!(reset["password"], created["password"]);
    let old = app.sign_in("soc-lead", &password).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);

    admin
        .handle(json!({"command": "user-set-role", "username": "analyst", "role": "admin"}))
        .await
        .unwrap();
    // The role change ended the analyst's sessions; signed in again, an admin.
    assert_eq!(
        app.get("/api/events/", Some(&app.analyst)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let promoted = app.login("analyst").await;
    assert_eq!(
        app.get("/api/events/", Some(&promoted)).await.status,
        StatusCode::OK
    );
    admin
        .handle(json!({"command": "user-deactivate", "username": "analyst"}))
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/alerts/", Some(&app.analyst)).await.status,
        StatusCode::UNAUTHORIZED
    );

    let listed = admin.handle(json!({"command": "user-list"})).await.unwrap();
    let names: Vec<&str> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "analyst", "soc-lead"]);
    assert!(!listed.to_string().contains("argon2"));

    let missing = admin
        .handle(json!({"command": "user-activate", "username": "nobody"}))
        .await;
    assert!(missing.unwrap_err().to_string().contains("no user"));
    let unknown = admin.handle(json!({"command": "drop-everything"})).await;
    assert!(unknown.is_err());
    let migrated = admin.handle(json!({"command": "migrate"})).await.unwrap();
    assert_eq!(
        migrated["migrations"],
        tm_shared::db::MIGRATOR.migrations.len()
    );
}

#[tokio::test]
async fn an_unconfigured_function_still_answers_cloudformation() {
    let admin = Admin::unconfigured("DB_SECRET_ARN is not set".into()).allowing_loopback_answers();
    let (url, seen) = response_catcher().await;
    admin.handle(cfn_event("Create", &url)).await.unwrap();
    admin.handle(cfn_event("Delete", &url)).await.unwrap();
    let answers = seen.lock().unwrap().clone();
    assert_eq!(answers[0]["Status"], "FAILED");
    assert!(
        answers[0]["Reason"]
            .as_str()
            .unwrap()
            .contains("DB_SECRET_ARN")
    );
    assert_eq!(
        answers[1]["Status"], "SUCCESS",
        "a stack can always be deleted"
    );
    let command = admin.handle(json!({"command": "user-list"})).await;
    assert!(command.unwrap_err().to_string().contains("not configured"));
}

#[sqlx::test(migrations = "../migrations")]
async fn operators_mint_list_and_revoke_keys_through_the_function(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let admin = Admin::new(pool);
    let minted = admin
        .handle(json!({"command": "key-create", "name": "edr", "source": "edr-1"}))
        .await
        .unwrap();
    let secret = minted["key"].as_str().unwrap().to_owned();
    assert_eq!(minted["created_by"], Value::Null);
    let body = json!({"event_type": "malware", "severity": "Low", "description": ""});
    let res = app.post("/api/events/", Some(&secret), body.clone()).await;
    assert_eq!(res.body["source"], "edr-1");

    let listed = admin.handle(json!({"command": "key-list"})).await.unwrap();
    assert_eq!(listed["keys"][0]["prefix"], &secret[..16]);
    assert!(!listed.to_string().contains(&secret[16..]));
    let id = minted["id"].clone();
    let revoked = admin
        .handle(json!({"command": "key-revoke", "id": id}))
        .await
        .unwrap();
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(
        app.post("/api/events/", Some(&secret), body).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        admin
            .handle(json!({"command": "key-revoke", "id": 99}))
            .await
            .is_err()
    );
    assert!(
        admin
            .handle(json!({"command": "key-create", "name": "", "source": "s"}))
            .await
            .is_err()
    );
}
