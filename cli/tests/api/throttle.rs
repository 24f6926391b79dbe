//! Password guessing: failures are counted per (client address, username)
//! and per client address. Past either limit that address is refused with
//! 429 and `Retry-After`, whether or not the user exists, and each further
//! lockout lasts twice as long; the owner signing in from elsewhere is not
//! affected, and no header a client writes moves it elsewhere.

use std::time::Duration;

use axum::http::{StatusCode, header};
use serde_json::json;
use sqlx::PgPool;
use tm_shared::store::throttle::ThrottleRule;

use crate::helpers::{PASSWORD, TestApp, auth_settings};

const ATTACKER: &str = "203.0.113.9";
const OWNER: &str = "198.51.100.4";

async fn with_rule(pool: PgPool, rule: ThrottleRule) -> TestApp {
    let mut auth = auth_settings(Duration::from_secs(900), Duration::from_secs(3600));
    auth.throttle = rule;
    TestApp::with_auth(pool, auth).await
}

fn retry_after(res: &crate::helpers::TestResponse) -> u64 {
    res.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_attackers_guesses_lock_out_the_attacker_not_the_owner(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for attempt in 1..=5 {
        let res = app.sign_in_from(ATTACKER, "admin", "wrong guess").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // Even the right password, from the attacker's address.
    let res = app.sign_in_from(ATTACKER, "admin", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    let retry = retry_after(&res);
    // Whole minutes, so not a precise clock of when the lock opens.
    assert!(
        retry.is_multiple_of(60) && (60..=900).contains(&retry),
        "{retry}"
    );
    assert_eq!(
        res.body,
        json!({"detail": format!("Request was throttled. Expected available in {retry} seconds.")})
    );
    // The owner, from an address with no failures, signs in.
    let owner = app.sign_in_from(OWNER, "admin", PASSWORD).await;
    assert_eq!(owner.status, StatusCode::OK, "{:?}", owner.body);
    // The lock is the attacker's for that username: below the address's
    // own limit, other usernames still answer.
    assert_eq!(
        app.sign_in_from(ATTACKER, "analyst", PASSWORD).await.status,
        StatusCode::OK
    );
    // The owner's success did not lift the attacker's lock.
    assert_eq!(
        app.sign_in_from(ATTACKER, "admin", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn retries_against_a_locked_username_do_not_fill_the_addresss_count(pool: PgPool) {
    // One client stuck retrying (a script with an old password) behind the
    // NAT everyone in the office shares.
    let app = TestApp::new(pool).await;
    for _ in 0..40 {
        app.sign_in_from(ATTACKER, "admin", "old password").await;
    }
    assert_eq!(
        app.sign_in_from(ATTACKER, "analyst", PASSWORD).await.status,
        StatusCode::OK,
        "the refused retries must not lock the address out"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_username_is_throttled_exactly_like_a_real_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut answers = Vec::new();
    for username in ["admin", "no-such-user"] {
        for _ in 1..=5 {
            app.sign_in_from(ATTACKER, username, "wrong guess").await;
        }
        let res = app.sign_in_from(ATTACKER, username, "wrong guess").await;
        answers.push((
            res.status,
            res.body["detail"]
                .as_str()
                .unwrap()
                .starts_with("Request was throttled"),
        ));
    }
    assert_eq!(answers[0], (StatusCode::TOO_MANY_REQUESTS, true));
    assert_eq!(
        answers[0], answers[1],
        "the throttle must not tell who exists"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn spraying_from_one_address_locks_that_address_out_of_every_username(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // One guess each at 20 usernames: under every username's limit.
    for n in 1..=20 {
        let res = app
            .sign_in_from(ATTACKER, &format!("user{n}"), "Winter2026!")
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "guess {n}");
    }
    for username in ["admin", "user21"] {
        let res = app.sign_in_from(ATTACKER, username, PASSWORD).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{username}");
    }
    assert_eq!(
        app.sign_in_from(OWNER, "admin", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_attacker_with_an_account_cannot_sign_in_to_reset_the_address_count(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for n in 1..=19 {
        app.sign_in_from(ATTACKER, &format!("user{n}"), "guess")
            .await;
    }
    // The attacker's own account: the success takes back only its own try.
    assert_eq!(
        app.sign_in_from(ATTACKER, "analyst", PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.sign_in_from(ATTACKER, "user20", "guess").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in_from(ATTACKER, "user21", "guess").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_forwarded_for_header_moves_nobody_unless_its_proxy_is_trusted(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // Each guess claims to come from somewhere new; the socket says otherwise.
    for n in 1..=5 {
        let claimed = format!("192.0.2.{n}");
        app.sign_in_forwarded(ATTACKER, Some(&claimed), "admin", "wrong guess")
            .await;
    }
    let res = app
        .sign_in_forwarded(ATTACKER, Some("192.0.2.99"), "admin", PASSWORD)
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    // Nor can a client pin its guesses on the owner's address.
    assert_eq!(
        app.sign_in_from(OWNER, "admin", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn behind_a_trusted_proxy_the_address_it_forwards_is_the_client(pool: PgPool) {
    let http = tm_shared::config::HttpSettings {
        trusted_proxies: tm_shared::http::client::parse_trusted_proxies("10.0.0.0/8").unwrap(),
        ..TestApp::http_settings()
    };
    let app = TestApp::with_http(pool, http).await;
    const PROXY: &str = "10.1.2.3";
    for _ in 1..=5 {
        // A forged entry on the left, the proxy's own on the right.
        app.sign_in_forwarded(PROXY, Some("192.0.2.1, 203.0.113.9"), "admin", "x")
            .await;
    }
    let attacker = app
        .sign_in_forwarded(PROXY, Some("192.0.2.2, 203.0.113.9"), "admin", PASSWORD)
        .await;
    assert_eq!(attacker.status, StatusCode::TOO_MANY_REQUESTS);
    let owner = app
        .sign_in_forwarded(PROXY, Some(OWNER), "admin", PASSWORD)
        .await;
    assert_eq!(owner.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_ipv6_client_is_counted_by_its_64(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for n in 1..=5 {
        app.sign_in_from(&format!("2001:db8:5:6::{n}"), "admin", "wrong guess")
            .await;
    }
    assert_eq!(
        app.sign_in_from("2001:db8:5:6:ffff::1", "admin", PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.sign_in_from("2001:db8:5:7::1", "admin", PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn after_the_lockout_the_right_password_works_and_the_count_starts_over(pool: PgPool) {
    let rule = ThrottleRule {
        max_failures: 2,
        lockout: Duration::from_secs(2),
        window: Duration::from_secs(60),
        ..ThrottleRule::default()
    };
    let app = with_rule(pool, rule).await;
    app.sign_in_from(ATTACKER, "admin", "wrong guess").await;
    app.sign_in_from(ATTACKER, "admin", "wrong guess").await;
    assert_eq!(
        app.sign_in_from(ATTACKER, "admin", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(
        app.sign_in_from(ATTACKER, "admin", PASSWORD).await.status,
        StatusCode::OK
    );
    // The success cleared the failures: one more slip is a 401, not a lock.
    assert_eq!(
        app.sign_in_from(ATTACKER, "admin", "wrong guess")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in_from(ATTACKER, "admin", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn each_further_lockout_lasts_twice_as_long(pool: PgPool) {
    let rule = ThrottleRule {
        max_failures: 1,
        lockout: Duration::from_secs(1),
        window: Duration::from_secs(60),
        ..ThrottleRule::default()
    };
    let app = with_rule(pool, rule).await;
    let status = |res: crate::helpers::TestResponse| res.status;
    assert_eq!(
        status(app.sign_in_from(ATTACKER, "admin", "guess 1").await),
        StatusCode::UNAUTHORIZED
    );
    // The first lockout: 1 s.
    assert_eq!(
        status(app.sign_in_from(ATTACKER, "admin", "guess 2").await),
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        status(app.sign_in_from(ATTACKER, "admin", "guess 3").await),
        StatusCode::UNAUTHORIZED
    );
    // The second: 2 s, so still locked after 1.2 s.
    assert_eq!(
        status(app.sign_in_from(ATTACKER, "admin", "guess 4").await),
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        status(app.sign_in_from(ATTACKER, "admin", PASSWORD).await),
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        status(app.sign_in_from(ATTACKER, "admin", PASSWORD).await),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn failures_spread_beyond_the_window_do_not_lock(pool: PgPool) {
    let rule = ThrottleRule {
        max_failures: 2,
        window: Duration::from_secs(1),
        lockout: Duration::from_secs(60),
        ..ThrottleRule::default()
    };
    let app = with_rule(pool, rule).await;
    app.sign_in_from(ATTACKER, "admin", "wrong guess").await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        app.sign_in_from(ATTACKER, "admin", "wrong guess")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in_from(ATTACKER, "admin", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn parallel_guesses_get_no_more_tries_than_the_limit(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let guesses = (0..20).map(|_| app.sign_in_from(ATTACKER, "admin", "wrong guess"));
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 15));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_request_that_shows_no_address_is_still_counted(pool: PgPool) {
    // The router called directly: no socket, no API Gateway context.
    let app = TestApp::new(pool).await;
    for _ in 1..=5 {
        app.sign_in("admin", "wrong guess").await;
    }
    assert_eq!(
        app.sign_in("admin", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_operator_setting_a_new_password_lifts_the_lockout_everywhere(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for address in [ATTACKER, OWNER] {
        for _ in 0..6 {
            app.sign_in_from(address, "analyst", "wrong guess").await;
        }
        assert_eq!(
            app.sign_in_from(address, "analyst", PASSWORD).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    tm_shared::accounts::set_password(
        &app.pool,
        "analyst",
        secrecy::SecretString::from("a fresh password"),
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap();
    for address in [ATTACKER, OWNER] {
        assert_eq!(
            app.sign_in_from(address, "analyst", "a fresh password")
                .await
                .status,
            StatusCode::OK
        );
    }
}
