//! The `tmctl` binary itself, against the test's database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use axum::http::StatusCode;
use sqlx::PgPool;

use crate::helpers::TestApp;

/// `DATABASE_URL` with the database swapped for this test's own.
fn url_of(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("tests run with DATABASE_URL");
    let (without_query, query) = base
        .split_once('?')
        .map_or((base.as_str(), None), |(b, q)| (b, Some(q)));
    let server = without_query
        .rsplit_once('/')
        .map_or(without_query, |(s, _)| s);
    let database = pool
        .connect_options()
        .get_database()
        .unwrap_or("postgres")
        .to_owned();
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

fn tmctl(pool: &PgPool, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tmctl"))
        .args(args)
        .env("DATABASE_URL", url_of(pool))
        .env_remove("JWT_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn migrate_can_run_again(pool: PgPool) {
    for _ in 0..2 {
        let out = tmctl(&pool, &["migrate"], "");
        assert!(out.status.success(), "{}", text(&out));
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_user_created_from_stdin_can_sign_in(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let out = tmctl(
        &pool,
        &["user", "create", "--username", "carol", "--role", "analyst"],
        "a long enough password\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains("a long enough password"),
        "the password is never echoed"
    );
    let res = app.sign_in("carol", "a long enough password").await;
    assert_eq!(res.status, StatusCode::OK);
    let access = res.body["access"].as_str().unwrap();
    assert_eq!(
        app.get("/api/events/", Some(access)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn weak_passwords_bad_usernames_and_duplicates_are_refused(pool: PgPool) {
    let create = ["user", "create", "--username", "dave", "--role", "admin"];
    let out = tmctl(&pool, &create, "short\n");
    assert!(!out.status.success());
    assert!(text(&out).contains("too short"), "{}", text(&out));
    let out = tmctl(
        &pool,
        &[
            "user",
            "create",
            "--username",
            "has space",
            "--role",
            "admin",
        ],
        "long enough password\n",
    );
    assert!(!out.status.success());
    let out = tmctl(
        &pool,
        &["user", "create", "--username", "eve", "--role", "root"],
        "long enough password\n",
    );
    assert!(!out.status.success());
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0);

    assert!(
        tmctl(&pool, &create, "long enough password\n")
            .status
            .success()
    );
    let again = tmctl(&pool, &create, "another long password\n");
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));
}

#[sqlx::test(migrations = "../migrations")]
async fn roles_passwords_and_activity_can_be_changed(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let out = tmctl(
        &pool,
        &[
            "user",
            "set-role",
            "--username",
            "analyst",
            "--role",
            "admin",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
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

    let out = tmctl(&pool, &["user", "deactivate", "--username", "analyst"], "");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        app.get("/api/alerts/", Some(&app.analyst)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let out = tmctl(&pool, &["user", "activate", "--username", "analyst"], "");
    assert!(out.status.success(), "{}", text(&out));
    // Reactivation revives no old token: the user signs in again.
    assert_eq!(
        app.get("/api/alerts/", Some(&promoted)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let back = app.login("analyst").await;
    assert_eq!(
        app.get("/api/alerts/", Some(&back)).await.status,
        StatusCode::OK
    );

    let out = tmctl(
        &pool,
        &["user", "set-password", "--username", "analyst"],
        "a brand new password\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    let old = app.sign_in("analyst", crate::helpers::PASSWORD).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = app.sign_in("analyst", "a brand new password").await;
    assert_eq!(new.status, StatusCode::OK);

    let missing = tmctl(&pool, &["user", "deactivate", "--username", "nobody"], "");
    assert!(!missing.status.success());

    let list = tmctl(&pool, &["user", "list"], "");
    let listed = text(&list);
    assert!(
        listed.contains("admin") && listed.contains("analyst"),
        "{listed}"
    );
    assert!(!listed.contains("$argon2"), "hashes are never listed");
}

#[sqlx::test(migrations = "../migrations")]
async fn serve_refuses_a_short_signing_key_without_echoing_it(pool: PgPool) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tmctl"));
    let out = command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", url_of(&pool))
        .env("JWT_SECRET", "tooshort-key-xyz")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("JWT_SECRET"), "{said}");
    assert!(!said.contains("tooshort-key-xyz"), "{said}");

    let out = Command::new(env!("CARGO_BIN_EXE_tmctl"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env("JWT_SECRET", "k".repeat(32))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("DATABASE_URL is not set"),
        "{}",
        text(&out)
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn operators_mint_list_and_revoke_keys(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let out = tmctl(
        &pool,
        &["key", "create", "--name", "ids", "--source", "ids-dmz-1"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        secret.starts_with("tmk_") && secret.len() == 80,
        "stdout is the secret alone"
    );
    let body = serde_json::json!({"event_type": "malware", "severity": "Low", "description": ""});
    let res = app.post("/api/events/", Some(&secret), body.clone()).await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(res.body["source"], "ids-dmz-1");

    let out = tmctl(&pool, &["key", "list"], "");
    let listed = text(&out);
    assert!(
        listed.contains(&secret[..16]) && !listed.contains(&secret[16..]),
        "{listed}"
    );
    let bad = tmctl(&pool, &["key", "create", "--name", "", "--source", "s"], "");
    assert!(!bad.status.success());
    assert!(text(&bad).contains("name"));

    let out = tmctl(&pool, &["key", "revoke", "1"], "");
    assert!(out.status.success(), "{}", text(&out));
    let res = app.post("/api/events/", Some(&secret), body).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(!tmctl(&pool, &["key", "revoke", "99"], "").status.success());
}

/// Kills a spawned server however the test ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn serve_connects_as_the_application_login_not_the_owner(pool: PgPool) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tmctl"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", url_of(&pool))
        .env("JWT_SECRET", "k".repeat(48))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let server = Server(child);
    let mut line = String::new();
    let address = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "serve exited");
        if let Some(at) = line.trim().strip_prefix("API listening on http://") {
            break at.to_owned();
        }
    };
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"GET /api/health/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let users: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT usename::text FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'threat-monitoring'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        users.iter().any(|u| u == tm_shared::db::LOCAL_APP_LOGIN),
        "{users:?}"
    );
    drop(server);
}
