//! PostgreSQL stopped and started again while a client keeps posting events:
//! requests fail fast with 503 during the outage, the same process recovers
//! on its own when the database is back, and every event that was answered
//! 201 is in the database afterwards.
//!
//! In its own binary: it runs a private cluster of its own on a free port.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use tm_shared::AppState;
use tm_shared::config::{AuthSettings, DbSettings, DbTarget};
use tm_shared::models::Role;
use tm_shared::store::throttle::ThrottleRule;
use tmctl::devdb::DevDb;
use tower::ServiceExt;

/// Stops the cluster and removes its folder however the test ends.
struct Cluster(DevDb, std::path::PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.0.stop();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Debug)]
struct Outcome {
    status: StatusCode,
    took: Duration,
    id: Option<i64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_load_loses_no_acknowledged_event() {
    let root = std::env::temp_dir().join(format!("tm-fault-{}", std::process::id()));
    let cluster = Cluster(DevDb::at(root.clone(), free_port()).unwrap(), root);
    cluster
        .0
        .start()
        .expect("a private PostgreSQL (initdb/pg_ctl) must be installed");

    let db = DbSettings {
        target: DbTarget::Url(cluster.0.url().unwrap()),
        max_connections: 4,
        acquire_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_secs(2),
    };
    let pool = tm_shared::db::lazy_pool(&db).unwrap();
    tm_shared::db::MIGRATOR.run(&pool).await.unwrap();
    let user = tm_shared::accounts::create(
        &pool,
        "loader",
        Role::Admin,
        SecretString::from("a long password"),
        tm_shared::store::users::Changer::operator(tm_shared::models::audit::AuditVia::Tmctl),
    )
    .await
    .unwrap();
    let auth = AuthSettings {
        jwt_secret: SecretString::from("fault-test-signing-key-0123456789abcdef"),
        access_ttl: Duration::from_secs(600),
        refresh_ttl: Duration::from_secs(600),
        session_max_lifetime: Duration::from_secs(3600),
        throttle: ThrottleRule::default(),
        key_refresh: tm_shared::auth::jwt::KeyRefresh::default(),
    };
    let state = AppState::new(pool.clone(), &auth)
        .unwrap()
        .with_request_timeout(db.request_timeout());
    let session = tm_shared::store::sessions::start(&pool, user.id, 0, state.sessions, None, None)
        .await
        .unwrap();
    let token = state
        .jwt
        .current()
        .await
        .access(user.id, Role::Admin, session.id)
        .unwrap();
    let app = tmctl::app(state);

    // The client: posts High events one after another for the whole run.
    let client = tokio::spawn({
        let app = app.clone();
        async move {
            let mut outcomes = Vec::new();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(9) && outcomes.len() < 5_000 {
                let request = Request::post("/api/events/")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({"source": "loader", "event_type": "intrusion", "severity": "High", "description": "x"})
                            .to_string(),
                    ))
                    .unwrap();
                let sent = Instant::now();
                let response = app.clone().oneshot(request).await.unwrap();
                let status = response.status();
                let body: Value = serde_json::from_slice(
                    &response.into_body().collect().await.unwrap().to_bytes(),
                )
                .unwrap_or(Value::Null);
                outcomes.push(Outcome {
                    status,
                    took: sent.elapsed(),
                    id: body["id"].as_i64(),
                });
                if status != StatusCode::CREATED {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            outcomes
        }
    });

    tokio::time::sleep(Duration::from_millis(2500)).await;
    cluster.0.stop().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.0.start().unwrap();
    let outcomes = client.await.unwrap();

    let created: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| o.id.filter(|_| o.status == StatusCode::CREATED))
        .collect();
    let unavailable = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    let others: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.status != StatusCode::CREATED && o.status != StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(others.is_empty(), "only 201 or 503: {others:?}");
    assert!(unavailable > 0, "the outage was seen");
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap();
    assert!(
        slowest < Duration::from_secs(4),
        "a request took {slowest:?}"
    );
    let last_503 = outcomes
        .iter()
        .rposition(|o| o.status == StatusCode::SERVICE_UNAVAILABLE)
        .unwrap();
    let recovered = outcomes[last_503..]
        .iter()
        .filter(|o| o.status == StatusCode::CREATED)
        .count();
    assert!(
        recovered > 0,
        "the same process served again after the restart"
    );

    let stored: HashSet<i64> = sqlx::query_scalar("SELECT id FROM events")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let lost: Vec<&i64> = created.iter().filter(|id| !stored.contains(id)).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    let alerts: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        alerts,
        stored.len() as i64,
        "every stored High event has its alert"
    );
    println!(
        "requests {}, created {}, unavailable {}, created after the restart {}, slowest {:?}, stored {}",
        outcomes.len(),
        created.len(),
        unavailable,
        recovered,
        slowest,
        stored.len()
    );
}
