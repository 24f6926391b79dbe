//! A fresh API per test: the same router `tmctl serve` runs, on a database
//! that `#[sqlx::test]` creates and migrates for that test alone.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;
use tm_shared::AppState;
use tm_shared::config::{AuthSettings, HttpSettings, PublicBaseUrl};
use tm_shared::models::Role;
use tower::ServiceExt;

pub const SECRET: &str = "test-signing-key-that-is-long-enough-0123456789";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub pool: PgPool,
    pub router: Router,
    pub admin: String,
    pub analyst: String,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// One argon2 hash of `PASSWORD`, shared by every test in the binary.
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(tm_shared::auth::password::hash(SecretString::from(
                    PASSWORD,
                )))
                .unwrap()
        })
        .join()
        .unwrap()
    })
}

/// A pool on the test's database that connects as the local application
/// login (provisioned once per test binary: roles belong to the server,
/// and concurrent ALTER ROLEs of one role can fail).
pub async fn app_pool(owner: &PgPool) -> PgPool {
    static PROVISIONED: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL, as sqlx::test needs");
    let password = PROVISIONED
        .get_or_init(|| async {
            let password = tm_shared::db::local_app_password(&url);
            tm_shared::db::provision_app_login(owner, tm_shared::db::LOCAL_APP_LOGIN, &password)
                .await
                .expect("provisioning the application's login");
            password
        })
        .await;
    tm_shared::db::pool_as(owner, tm_shared::db::LOCAL_APP_LOGIN, password)
}

pub fn auth_settings(access_ttl: Duration, refresh_ttl: Duration) -> AuthSettings {
    AuthSettings {
        jwt_secret: SecretString::from(SECRET),
        access_ttl,
        refresh_ttl,
        session_max_lifetime: Duration::from_secs(7 * 24 * 3600),
        throttle: tm_shared::store::throttle::ThrottleRule::default(),
        key_refresh: tm_shared::auth::jwt::KeyRefresh::default(),
    }
}

impl TestApp {
    pub async fn new(pool: PgPool) -> Self {
        let auth = auth_settings(Duration::from_secs(900), Duration::from_secs(3600));
        Self::with_auth(pool, auth).await
    }

    /// With an `admin` and an `analyst` user, each signed in. The API
    /// connects as the application's role, as the functions do; `pool`
    /// (the owner's) is the test's own, for setting up and checking.
    pub async fn with_auth(pool: PgPool, auth: AuthSettings) -> Self {
        let state = AppState::new(app_pool(&pool).await, &auth)
            .unwrap()
            .with_http(Self::http_settings());
        Self::with_state(pool, state).await
    }

    /// The tests' server is reached at `http://testserver`.
    pub fn http_settings() -> HttpSettings {
        HttpSettings {
            public_base_url: Some(PublicBaseUrl::parse("http://testserver").unwrap()),
            ..HttpSettings::default()
        }
    }

    pub async fn with_http(pool: PgPool, http: HttpSettings) -> Self {
        let auth = auth_settings(Duration::from_secs(900), Duration::from_secs(3600));
        let state = AppState::new(app_pool(&pool).await, &auth)
            .unwrap()
            .with_http(http);
        Self::with_state(pool, state).await
    }

    /// Serving `state`, whose pool may differ from `pool` (the test's own,
    /// used for setting up and checking).
    pub async fn with_state(pool: PgPool, state: AppState) -> Self {
        quiet_global_logs();
        let router = tmctl::app(state);
        let mut app = Self {
            pool,
            router,
            admin: String::new(),
            analyst: String::new(),
        };
        app.create_user("admin", Role::Admin).await;
        app.create_user("analyst", Role::Analyst).await;
        app.admin = app.login("admin").await;
        app.analyst = app.login("analyst").await;
        app
    }

    pub async fn create_user(&self, username: &str, role: Role) -> i64 {
        match tm_shared::store::users::create(
            &self.pool,
            username,
            password_hash(),
            role,
            tm_shared::store::users::Changer::operator(tm_shared::models::audit::AuditVia::Tmctl),
        )
        .await
        .unwrap()
        {
            tm_shared::store::users::Outcome::Done(user) => user.id,
            other => panic!("{username}: {other:?}"),
        }
    }

    /// `POST /api/token/` with these credentials.
    pub async fn sign_in(&self, username: &str, password: &str) -> TestResponse {
        let body = serde_json::json!({"username": username, "password": password});
        self.post("/api/token/", None, body).await
    }

    /// `POST /api/token/` from a client at `address`, as `tmctl serve` sees
    /// its socket's peer.
    pub async fn sign_in_from(
        &self,
        address: &str,
        username: &str,
        password: &str,
    ) -> TestResponse {
        self.sign_in_forwarded(address, None, username, password)
            .await
    }

    /// As [`Self::sign_in_from`], with an `X-Forwarded-For` header.
    pub async fn sign_in_forwarded(
        &self,
        address: &str,
        forwarded_for: Option<&str>,
        username: &str,
        password: &str,
    ) -> TestResponse {
        let ip: std::net::IpAddr = address.parse().unwrap();
        let body = serde_json::json!({"username": username, "password": password});
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/api/token/")
            .header(header::HOST, "testserver")
            .header(header::CONTENT_TYPE, "application/json")
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::new(
                ip, 40000,
            )));
        if let Some(forwarded_for) = forwarded_for {
            request = request.header("x-forwarded-for", forwarded_for);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// Signs in through the API and returns the access token.
    pub async fn login(&self, username: &str) -> String {
        let res = self.sign_in(username, PASSWORD).await;
        assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
        res.body["access"].as_str().unwrap().to_owned()
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        if status.is_client_error() || status.is_server_error() {
            assert_error_body_is_clean(&body);
        }
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// A request with an optional bearer token and raw body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> TestResponse {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "testserver");
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        self.send(builder.body(body.into()).unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.call(Method::GET, path, token, None, Body::empty())
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.call(Method::DELETE, path, token, None, Body::empty())
            .await
    }

    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> TestResponse {
        self.call(
            method,
            path,
            token,
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.json(Method::POST, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.json(Method::PATCH, path, token, body).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.json(Method::PUT, path, token, body).await
    }

    /// Creates an event as admin and returns its JSON.
    pub async fn event(&self, source: &str, event_type: &str, severity: &str) -> Value {
        let res = self
            .post(
                "/api/events/",
                Some(&self.admin),
                serde_json::json!({
                    "source": source, "event_type": event_type,
                    "severity": severity, "description": format!("{severity} {event_type} from {source}"),
                }),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
        res.body
    }

    pub async fn rows(&self, table: &str) -> i64 {
        let sql = match table {
            "events" => "SELECT count(*) FROM events",
            "alerts" => "SELECT count(*) FROM alerts",
            "ingest_keys" => "SELECT count(*) FROM ingest_keys",
            "silences" => "SELECT count(*) FROM silences",
            "idempotency_keys" => "SELECT count(*) FROM idempotency_keys",
            other => panic!("no table {other}"),
        };
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    /// Every row of every table the API writes, as text: equal before and
    /// after a refused request, or the refusal changed something.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut all = Vec::new();
        for table in [
            "events",
            "alerts",
            "alert_counts",
            "alert_history",
            "alert_comments",
            "alert_timeline",
            "ingest_keys",
            "silences",
            "idempotency_keys",
            "users",
            "sessions",
            "alert_assignee_counts",
            "alert_stats",
            "alert_stats_hist",
            "audit_log",
        ] {
            // A key's last use is a record of use, written by any request
            // the key authenticates (refused or not), not data a request changes.
            let row = match table {
                "ingest_keys" => {
                    "(t.id, t.name, t.source, t.prefix, t.secret_hash, \
                                  t.created_by, t.created_at, t.revoked_at)"
                }
                _ => "t",
            };
            // A refused sign-in's audit row records the attempt; it is the
            // refusal's own trace, not a change the request made.
            let only = match table {
                "audit_log" => " WHERE t.action NOT IN ('sign_in.failed', 'sign_in.locked_out')",
                _ => "",
            };
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT {row}::text FROM {table} t{only} ORDER BY 1"
            )))
            .fetch_all(&self.pool)
            .await
            .unwrap();
            all.extend(rows.into_iter().map(|r| format!("{table}: {r}")));
        }
        all
    }

    /// Mints an ingest key for `source` as the admin; its secret.
    pub async fn mint_key(&self, source: &str) -> String {
        let res = self
            .post(
                "/api/keys/",
                Some(&self.admin),
                serde_json::json!({"name": format!("sensor {source}"), "source": source}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
        res.body["key"].as_str().unwrap().to_owned()
    }

    /// A JSON request with extra headers.
    pub async fn json_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> TestResponse {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "testserver")
            .header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.send(builder.body(Body::from(body.to_owned())).unwrap())
            .await
    }
}

/// Error bodies are JSON objects in DRF's shape and carry nothing internal.
fn assert_error_body_is_clean(body: &Value) {
    assert!(body.is_object(), "error body is not an object: {body}");
    let text = body.to_string();
    for leak in [
        "sqlx", "SQL", "panicked", "::", "SELECT", "INSERT", "relation", "stack", SECRET, PASSWORD,
    ] {
        assert!(!text.contains(leak), "error body leaks {leak:?}: {text}");
    }
}

/// The `results` of a page.
pub fn results(res: &TestResponse) -> &Vec<Value> {
    res.body["results"].as_array().expect("a page has results")
}

/// Strips the test server's origin from an absolute link.
pub fn path_of(link: &Value) -> String {
    link.as_str()
        .expect("a link")
        .strip_prefix("http://testserver")
        .expect("links are absolute and on this host")
        .to_owned()
}

/// A global subscriber that keeps every `info` callsite of interest, writing
/// nowhere. Without one, a callsite first reached by another test thread
/// while the logs test installs its own (thread-local) subscriber could be
/// cached as of no interest to anyone, and that test would see no lines.
fn quiet_global_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let quiet = tm_shared::telemetry::subscriber(std::io::sink, false, false);
        let _ = tracing::subscriber::set_global_default(quiet);
    });
}

/// Base64 with the standard alphabet and padding (API Gateway's bodies).
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Base64url without padding (JWT segments).
pub fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
