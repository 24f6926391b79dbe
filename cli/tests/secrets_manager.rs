//! Configuration from Secrets Manager, end to end: a real Secrets Manager
//! emulator (moto's server) on loopback, the real SDK pointed at it, and the
//! state a cold start builds from it serving a sign-in against PostgreSQL.
//!
//! One test in its own binary, because it sets process environment
//! variables exactly as Lambda would, before any thread starts.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Region};
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::Connection;
use tm_shared::AppState;
use tm_shared::models::Role;
use tower::ServiceExt;

/// Kills the emulator however the test ends.
struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_emulator(port: u16) -> Emulator {
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server must be installed: pip install 'moto[server]' (scripts/test does it)");
    let emulator = Emulator(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    emulator
}

/// The pieces of a `postgres://user[:password]@host[:port]/db` URL.
fn url_parts(url: &str) -> (String, String, String, u16) {
    let rest = url.split_once("://").expect("a URL").1;
    let rest = rest.split(['/', '?']).next().unwrap();
    let (auth, hostport) = rest.rsplit_once('@').unwrap_or(("postgres", rest));
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    (
        user.into(),
        password.into(),
        host.into(),
        port.parse().unwrap(),
    )
}

/// Rotates the secret `arn` to `value`.
async fn put_secret(client: &aws_sdk_secretsmanager::Client, arn: &str, value: &Value) {
    client
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
}

async fn secret_text(client: &aws_sdk_secretsmanager::Client, arn: &str) -> String {
    client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_owned()
}

/// Signs in through `app` with `request`; the access token.
async fn access_token(
    app: &axum::Router,
    request: &impl Fn() -> Request<axum::body::Body>,
) -> String {
    let response = app.clone().oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    body["access"].as_str().unwrap().to_owned()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// `GET /api/users/me/` with `token`: how a function that checks tokens answers.
async fn me(app: &axum::Router, token: &str) -> StatusCode {
    let request = Request::get("/api/users/me/")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

fn set(name: &str, value: &str) {
    // SAFETY: set before the runtime starts, in a binary with one test, so
    // no other thread reads the environment concurrently.
    unsafe { std::env::set_var(name, value) }
}

fn unset(name: &str) {
    // SAFETY: as for `set`.
    unsafe { std::env::remove_var(name) }
}

#[test]
fn a_cold_start_reads_its_database_and_signing_key_from_secrets_manager() {
    // The functions' own log, shown if the test fails.
    tm_shared::telemetry::init();
    let admin_url = std::env::var("DATABASE_URL").expect("tests run with DATABASE_URL");
    let port = free_port();
    let _emulator = start_emulator(port);
    let endpoint = format!("http://127.0.0.1:{port}");

    // Exactly what Lambda provides, with dummy keys, and nothing that could
    // send the SDK anywhere but the emulator.
    set("AWS_ACCESS_KEY_ID", "testing");
    set("AWS_SECRET_ACCESS_KEY", "testing");
    set("AWS_SESSION_TOKEN", "testing");
    set("AWS_REGION", "us-east-1");
    set("AWS_EC2_METADATA_DISABLED", "true");
    set("AWS_ENDPOINT_URL_SECRETS_MANAGER", &endpoint);
    unset("DATABASE_URL");
    unset("JWT_SECRET");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(admin_url, endpoint));
}

async fn run(admin_url: String, endpoint: String) {
    // A database of its own, migrated.
    let database = format!("tm_secrets_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database}"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .unwrap();

    let (user, password, host, port) = url_parts(&admin_url);
    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .endpoint_url(&endpoint)
            .build(),
    );
    let db_secret = json!({
        "engine": "postgres", "username": user, "password": password,
        "host": host, "port": port, "dbname": database,
    });
    let db_arn = client
        .create_secret()
        .name("tm/db")
        .secret_string(db_secret.to_string())
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let jwt_arn = client
        .create_secret()
        .name("tm/jwt")
        .secret_string("a-generated-signing-key-of-64-characters-0123456789abcdefghijklm")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    set("DB_SECRET_ARN", &db_arn);
    set("JWT_SECRET_ARN", &jwt_arn);
    // The local server speaks no TLS; in AWS the default is `require`.
    set("DB_SSLMODE", "disable");

    // What a cold start does.
    let state = AppState::load(1)
        .await
        .expect("configuration from Secrets Manager");
    tm_shared::db::MIGRATOR.run(&state.db).await.unwrap();
    tm_shared::accounts::create(
        &state.db,
        "sm-admin",
        Role::Admin,
        secrecy::SecretString::from("a password long enough"),
        tm_shared::store::users::Changer::operator(tm_shared::models::audit::AuditVia::Tmctl),
    )
    .await
    .unwrap();
    let app = tmctl::app(state);
    let response = app
        .clone()
        .oneshot(
            Request::post("/api/token/")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"username": "sm-admin", "password": "a password long enough"})
                        .to_string(),
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let token = body["access"].as_str().unwrap();
    // Signed with the key from the secret.
    let key = jsonwebtoken::DecodingKey::from_secret(
        b"a-generated-signing-key-of-64-characters-0123456789abcdefghijklm",
    );
    jsonwebtoken::decode::<Value>(
        token,
        &key,
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .expect("the token is signed with the secret's key");

    // A rotation after the cold start: the function holds credentials the
    // database refuses, the secret holds new ones.
    let stale = json!({"username": "rotated_away", "password": "old", "host": host, "port": port, "dbname": database});
    put_secret(&client, &db_arn, &stale).await;
    let warm = tmctl::app(AppState::load(1).await.unwrap());
    put_secret(&client, &db_arn, &db_secret).await;
    let sign_in = || {
        Request::post("/api/token/")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({"username": "sm-admin", "password": "a password long enough"}).to_string(),
            ))
            .unwrap()
    };
    let refused = warm.clone().oneshot(sign_in()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let recovered = warm.clone().oneshot(sign_in()).await.unwrap();
    assert_eq!(
        recovered.status(),
        StatusCode::OK,
        "the new credentials were read"
    );

    // A deploy: the admin function, reading the owner's secret, runs the
    // migrations and provisions the application's login from its own
    // secret (a login alone, as the template makes it), which it completes
    // with where the database is.
    let login = format!("tm_sm_app_{}", std::process::id());
    let app_arn = client
        .create_secret()
        .name("tm/app-db")
        .secret_string(
            json!({"username": login, "password": "generated-by-secrets-manager-0123456789"})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    set("APP_DB_SECRET_ARN", &app_arn);
    let deploy = admin::Admin::load(1).await;
    let provisioned = deploy
        .handle(json!({"command": "provision-app-login"}))
        .await
        .unwrap();
    assert_eq!(provisioned, json!({"app_login": login}));
    let completed: Value = serde_json::from_str(
        client
            .get_secret_value()
            .secret_id(&app_arn)
            .send()
            .await
            .unwrap()
            .secret_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(completed["host"], json!(host));
    assert_eq!(completed["dbname"], json!(database));
    assert_eq!(completed["username"], json!(login));
    // The API functions' cold start: their DB_SECRET_ARN is the app's.
    set("DB_SECRET_ARN", &app_arn);
    let state = AppState::load(1).await.expect("the application's secret");
    let who: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&state.db)
        .await
        .unwrap();
    assert_eq!(who, login, "the functions connect as the application login");
    let erased = sqlx::query("DELETE FROM audit_log")
        .execute(&state.db)
        .await;
    assert!(erased.is_err(), "the login cannot erase the audit log");
    let served = tmctl::app(state).oneshot(sign_in()).await.unwrap();
    assert_eq!(served.status(), StatusCode::OK, "and serves the API");
    // A secret that names the owner is refused, not obeyed.
    put_secret(
        &client,
        &app_arn,
        &json!({"username": user, "password": "generated-by-secrets-manager-0123456789"}),
    )
    .await;
    let refused = deploy
        .handle(json!({"command": "provision-app-login"}))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("provisioning"), "{refused}");
    set("DB_SECRET_ARN", &db_arn);

    // Signing keys that rotate. The template's two placeholders; the
    // deploy makes the first EdDSA key; the token function signs with the
    // private copy, the others check with the public one.
    let placeholder = json!({"version": 1, "keys": []}).to_string();
    let mut key_arns = Vec::new();
    for name in ["tm/jwt-signing", "tm/jwt-verify"] {
        key_arns.push(
            client
                .create_secret()
                .name(name)
                .secret_string(&placeholder)
                .send()
                .await
                .unwrap()
                .arn
                .unwrap(),
        );
    }
    let (signing_arn, verify_arn) = (key_arns[0].clone(), key_arns[1].clone());
    set("JWT_SIGNING_SECRET_ARN", &signing_arn);
    set("JWT_VERIFY_SECRET_ARN", &verify_arn);
    set("JWT_KEYS_REFRESH_SECONDS", "1");
    let operator = admin::Admin::load(1).await;
    let first_kid = operator.ensure_signing_keys().await.unwrap().unwrap();
    let public = secret_text(&client, &verify_arn).await;
    assert!(public.contains(first_kid.as_str().unwrap()));
    assert!(
        !public.contains("private"),
        "the checkers' copy has no private key"
    );
    set("JWT_SECRET_ARN", &signing_arn);
    let token_fn = tmctl::app(AppState::load(1).await.unwrap());
    set("JWT_SECRET_ARN", &verify_arn);
    let events_fn = tmctl::app(AppState::load(1).await.unwrap());
    let first = access_token(&token_fn, &sign_in).await;
    assert_eq!(kid_of(&first), first_kid.as_str().unwrap());
    assert_eq!(me(&events_fn, &first).await, StatusCode::OK);
    // A checker cannot sign: its copy has no private key.
    assert_eq!(
        events_fn.clone().oneshot(sign_in()).await.unwrap().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );

    // One command rotates; both warm functions pick the new set up within
    // their refresh bound, no restart; the old key's tokens still work in
    // the overlap.
    let rotated = operator
        .handle(json!({"command": "rotate-signing-key", "overlap_hours": 1}))
        .await
        .unwrap();
    assert_eq!(rotated["previous"], first_kid);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = access_token(&token_fn, &sign_in).await;
    assert_eq!(kid_of(&second), rotated["kid"].as_str().unwrap());
    assert_eq!(me(&events_fn, &second).await, StatusCode::OK);
    assert_eq!(
        me(&events_fn, &first).await,
        StatusCode::OK,
        "in the overlap"
    );

    // A rotation with no overlap: the keys before it are refused at once.
    operator
        .handle(json!({"command": "rotate-signing-key", "overlap_hours": 0}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let third = access_token(&token_fn, &sign_in).await;
    assert_eq!(me(&events_fn, &third).await, StatusCode::OK);
    for old in [&first, &second] {
        assert_eq!(me(&events_fn, old).await, StatusCode::UNAUTHORIZED);
    }
    set("JWT_SECRET_ARN", &jwt_arn);

    // A secret that is not there: a clear error that quotes no secret.
    set(
        "JWT_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing",
    );
    let err = AppState::load(1)
        .await
        .err()
        .expect("a missing secret is an error")
        .to_string();
    assert!(err.contains("JWT_SECRET_ARN"), "{err}");
    assert!(!err.contains(&password) || password.is_empty(), "{err}");

    // Without credentials nothing is fetched at all.
    unset("AWS_ACCESS_KEY_ID");
    let err = AppState::load(1).await.err().unwrap().to_string();
    assert_eq!(err, "AWS_ACCESS_KEY_ID is not set");

    drop(app);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {login}")))
        .execute(&mut admin)
        .await
        .unwrap();
}
