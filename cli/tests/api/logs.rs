//! What the access log says, and what it never says.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn each_request_is_one_json_line_without_passwords_or_tokens(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tm_shared::telemetry::subscriber(move || writer.clone(), false, true);
    let guard = tracing::subscriber::set_default(subscriber);

    let wrong = "Tr0ub4dor&3-a-wrong-guess";
    let denied = app.sign_in("admin", wrong).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    let pair = app.sign_in("admin", PASSWORD).await;
    let access = pair.body["access"].as_str().unwrap().to_owned();
    let refresh = pair.body["refresh"].as_str().unwrap().to_owned();
    app.post("/api/token/refresh/", None, json!({"refresh": refresh}))
        .await;
    app.get("/api/events/?source=secret-filter-value", Some(&access))
        .await;
    drop(guard);

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    for never in [
        wrong,
        PASSWORD,
        &access,
        &refresh,
        "Bearer",
        "secret-filter-value",
    ] {
        assert!(!text.contains(never), "the log contains {never:?}:\n{text}");
    }
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 4, "{text}");
    let fields: Vec<(&str, u64)> = requests
        .iter()
        .map(|l| {
            (
                l["fields"]["route"].as_str().unwrap(),
                l["fields"]["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("/api/token/", 401),
            ("/api/token/", 200),
            ("/api/token/refresh/", 200),
            ("/api/events/", 200)
        ]
    );
    let last = &requests[3]["fields"];
    assert!(last["user_id"].as_i64().is_some(), "{last}");
    assert!(last["latency_ms"].as_f64().is_some());
    assert_eq!(last["method"], "GET");
    assert!(
        requests[0]["fields"].get("user_id").is_none(),
        "no user on a failed sign-in"
    );
}
