use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sqlx::PgPool;
use tm_shared::models::Role;

use crate::helpers::{PASSWORD, SECRET, TestApp, auth_settings, base64url};

#[sqlx::test(migrations = "../migrations")]
async fn valid_credentials_get_an_access_and_a_refresh_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.sign_in("admin", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK);
    let keys: Vec<_> = res.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access", "refresh"]);
    // The access token works on a protected endpoint.
    let access = res.body["access"].as_str().unwrap();
    assert_eq!(
        app.get("/api/events/", Some(access)).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_token_endpoint_also_answers_without_its_trailing_slash(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .post(
            "/api/token",
            None,
            json!({"username": "analyst", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let wrong = app.sign_in("admin", "not the password").await;
    let unknown = app.sign_in("nobody", PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(
        wrong.body,
        json!({"detail": "No active account found with the given credentials"})
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_inactive_user_cannot_sign_in_even_with_the_right_password(pool: PgPool) {
    let app = TestApp::new(pool).await;
    tm_shared::accounts::set_active(
        &app.pool,
        "analyst",
        false,
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap();
    let res = app.sign_in("analyst", PASSWORD).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.body,
        json!({"detail": "No active account found with the given credentials"})
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_token_requests_name_the_field(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let cases: Vec<(Value, Value)> = vec![
        (
            json!({}),
            json!({"username": ["This field is required."], "password": ["This field is required."]}),
        ),
        (
            json!({"username": "admin"}),
            json!({"password": ["This field is required."]}),
        ),
        (
            json!({"username": "", "password": PASSWORD}),
            json!({"username": ["This field may not be blank."]}),
        ),
        (
            json!({"username": 5, "password": PASSWORD}),
            json!({"username": ["Not a valid string."]}),
        ),
        (
            json!({"username": "admin", "password": null}),
            json!({"password": ["This field may not be null."]}),
        ),
        (
            json!({"username": "ad\u{0}min", "password": PASSWORD}),
            json!({"username": ["Null characters are not allowed."]}),
        ),
        (
            json!({"username": "admin", "password": PASSWORD, "otp": "1"}),
            json!({"otp": ["Unknown field."]}),
        ),
    ];
    for (body, expected) in cases {
        let res = app.post("/api/token/", None, body.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res.body, expected, "{body}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refresh_token_gets_a_new_access_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let pair = app.sign_in("admin", PASSWORD).await;
    let res = app
        .post(
            "/api/token/refresh/",
            None,
            json!({"refresh": pair.body["refresh"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let access = res.body["access"].as_str().unwrap();
    assert_eq!(
        app.get("/api/events/", Some(access)).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_access_token_is_refused_as_a_refresh_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .post("/api/token/refresh/", None, json!({"refresh": app.admin}))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["code"], "token_not_valid");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refresh_token_is_refused_as_an_access_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let pair = app.sign_in("admin", PASSWORD).await;
    let refresh = pair.body["refresh"].as_str().unwrap();
    let res = app.get("/api/events/", Some(refresh)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn garbage_and_missing_refresh_tokens_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app
        .post("/api/token/refresh/", None, json!({"refresh": "not.a.jwt"}))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = app.post("/api/token/refresh/", None, json!({})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body, json!({"refresh": ["This field is required."]}));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deactivated_user_can_neither_refresh_nor_use_an_access_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let pair = app.sign_in("admin", PASSWORD).await;
    // Another admin, so that this one is not the last.
    app.create_user("admin-2", Role::Admin).await;
    tm_shared::accounts::set_active(
        &app.pool,
        "admin",
        false,
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap();
    let refreshed = app
        .post(
            "/api/token/refresh/",
            None,
            json!({"refresh": pair.body["refresh"]}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/events/", Some(&app.admin)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_role_change_ends_the_users_sessions_and_the_new_one_has_the_new_role(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.create_user("admin-2", Role::Admin).await;
    tm_shared::accounts::set_role(
        &app.pool,
        "admin",
        Role::Analyst,
        tm_shared::models::audit::AuditVia::Tmctl,
    )
    .await
    .unwrap();
    assert_eq!(
        app.get("/api/events/", Some(&app.admin)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let again = app.login("admin").await;
    assert_eq!(
        app.get("/api/events/", Some(&again)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_expired_access_token_is_refused(pool: PgPool) {
    let auth = auth_settings(Duration::from_secs(2), Duration::from_secs(3600));
    let app = TestApp::with_auth(pool, auth).await;
    assert_eq!(
        app.get("/api/alerts/", Some(&app.analyst)).await.status,
        StatusCode::OK
    );
    // Expiry is in whole seconds and refused only once strictly past.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let res = app.get("/api/alerts/", Some(&app.analyst)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.headers.contains_key(header::WWW_AUTHENTICATE));
}

/// A token with the given header and claims, HMAC-signed with `key`.
fn forge(alg: Algorithm, key: &[u8], claims: Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), &claims, &EncodingKey::from_secret(key)).unwrap()
}

fn admin_claims() -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Session 1 is the admin's, signed in first by TestApp.
    json!({"sub": "1", "role": "admin", "token_type": "access", "jti": "x", "iat": now, "exp": now + 600, "sid": 1})
}

#[sqlx::test(migrations = "../migrations")]
async fn forged_tokens_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // The same claims signed with our key work, so each refusal below is about the forgery.
    let genuine = forge(Algorithm::HS256, SECRET.as_bytes(), admin_claims());
    assert_eq!(
        app.get("/api/events/", Some(&genuine)).await.status,
        StatusCode::OK
    );

    let wrong_key = forge(
        Algorithm::HS256,
        b"another-key-that-is-also-32-bytes-long!",
        admin_claims(),
    );
    let other_alg = forge(Algorithm::HS512, SECRET.as_bytes(), admin_claims());
    let tampered = {
        let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
        let mut claims = admin_claims();
        claims["sub"] = json!("2");
        parts[1] = base64url(claims.to_string().as_bytes());
        parts.join(".")
    };
    let alg_none = format!(
        "{}.{}.",
        base64url(br#"{"alg":"none","typ":"JWT"}"#),
        base64url(admin_claims().to_string().as_bytes())
    );
    let no_exp = {
        let mut claims = admin_claims();
        claims.as_object_mut().unwrap().remove("exp");
        forge(Algorithm::HS256, SECRET.as_bytes(), claims)
    };
    for token in [wrong_key, other_alg, tampered, alg_none, no_exp, "x".into()] {
        let res = app.get("/api/events/", Some(&token)).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(
            res.body,
            json!({"detail": "Given token not valid for any token type", "code": "token_not_valid"})
        );
        assert!(res.headers.contains_key(header::WWW_AUTHENTICATE));
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn missing_or_non_bearer_credentials_are_not_authenticated(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/api/alerts/", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.body,
        json!({"detail": "Authentication credentials were not provided."})
    );
    assert_eq!(
        res.headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"api\""
    );

    let basic = axum::http::Request::builder()
        .uri("/api/alerts/")
        .header(header::AUTHORIZATION, "Basic YWRtaW46cGFzcw==")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(basic).await.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_token_endpoints_take_only_post(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for path in ["/api/token/", "/api/token/refresh/"] {
        let res = app.get(path, None).await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers[header::ALLOW], "POST");
        let res = app.json(Method::PUT, path, None, json!({})).await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_expired_refresh_token_is_refused(pool: PgPool) {
    let auth = auth_settings(Duration::from_secs(900), Duration::from_secs(2));
    let app = TestApp::with_auth(pool, auth).await;
    let pair = app.sign_in("admin", PASSWORD).await;
    let body = json!({"refresh": pair.body["refresh"]});
    assert_eq!(
        app.post("/api/token/refresh/", None, body.clone())
            .await
            .status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let res = app.post("/api/token/refresh/", None, body).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["code"], "token_not_valid");
}
