//! The API connects as the application's role, which holds only the DML it
//! needs: it cannot change the schema, nor rewrite or delete what happened
//! to an alert.

use sqlx::PgPool;
use tm_shared::models::Role;

use crate::helpers::{TestApp, app_pool};

/// Runs `sql` as the application's role; the SQLSTATE it failed with.
async fn refused(app_db: &PgPool, sql: &str) -> String {
    let err = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(app_db)
        .await
        .expect_err(sql);
    err.as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned())
        .unwrap_or_else(|| panic!("{sql}: {err}"))
}

#[sqlx::test(migrations = "../migrations")]
async fn the_application_role_cannot_rewrite_history_or_the_schema(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let event = app.event("ids-1", "intrusion", "High").await;
    let alert = event["alert"].as_i64().unwrap();
    let res = app
        .patch(
            &format!("/api/alerts/{alert}/"),
            Some(&app.admin),
            serde_json::json!({"status": "Acknowledged", "comment": "on it"}),
        )
        .await;
    assert!(res.status.is_success(), "{:?}", res.body);
    let db = app_pool(&app.pool).await;
    let who: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(who, tm_shared::db::LOCAL_APP_LOGIN);
    let before = app.snapshot().await;
    for sql in [
        "UPDATE alert_timeline SET kind = kind",
        "DELETE FROM alert_timeline",
        "UPDATE alert_comments SET body = 'rewritten'",
        "DELETE FROM alert_comments",
        "UPDATE alert_history SET to_status = to_status",
        "DELETE FROM alert_history",
        "UPDATE audit_log SET detail = '{}'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DELETE FROM users",
        "DELETE FROM ingest_keys",
        "DELETE FROM silences",
        "TRUNCATE events",
        "ALTER TABLE events ADD COLUMN x int",
        "DROP TABLE alert_timeline",
        "CREATE TABLE stash (x int)",
        "CREATE ROLE intruder",
        "ALTER ROLE threatmon_app_local SUPERUSER",
        // The rebuilds lock the alerts against writes: an operator's alone.
        "SELECT alert_stats_rebuild()",
        "SELECT alert_counts_rebuild()",
        "SELECT alert_assignee_counts_rebuild()",
    ] {
        let code = refused(&db, sql).await;
        // 42501: insufficient privilege; 42P01 never (every table exists).
        assert_eq!(code, "42501", "{sql}");
    }
    assert_eq!(before, app.snapshot().await);
}

#[sqlx::test(migrations = "../migrations")]
async fn every_table_the_api_uses_is_granted_to_the_application_role(pool: PgPool) {
    // A migration that adds a table must grant it: the API would fail on
    // it, and this names the table before any request does.
    let ungranted: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
           AND c.relname NOT IN ('_sqlx_migrations', 'login_throttle') \
           AND NOT has_table_privilege('threatmon_app', c.oid, 'SELECT') \
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(ungranted.is_empty(), "not granted: {ungranted:?}");
    // And a user made through the role works end to end.
    let app = TestApp::new(pool).await;
    app.create_user("carol", Role::Analyst).await;
    assert!(
        app.get("/api/users/", Some(&app.analyst))
            .await
            .status
            .is_success()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_login_secret_naming_a_role_with_more_powers_is_refused(pool: PgPool) {
    let owner: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    // A plain login that is a member of the owner: altering it into the
    // application login would hand the owner's rights to the API.
    let suffix = std::process::id();
    let member = format!("tm_member_of_owner_{suffix}");
    let replicator = format!("tm_replicator_{suffix}");
    for sql in [
        format!("CREATE ROLE {member} LOGIN IN ROLE {owner}"),
        format!("CREATE ROLE {replicator} LOGIN REPLICATION"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
    }
    for login in [owner.as_str(), "threatmon_app", &member, &replicator] {
        let err = tm_shared::db::provision_app_login(&pool, login, "a password of some length")
            .await
            .expect_err(login);
        let code = err.as_database_error().and_then(|e| e.code());
        assert_eq!(
            code.as_deref(),
            Some(tm_shared::db::REFUSED_LOGIN),
            "{login}: {err}"
        );
    }
    let member_of: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member \
         WHERE r.rolname = $1",
    )
    .bind(&member)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(member_of, 1, "left as it was");
    let still: bool = sqlx::query_scalar(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(still, "the owner keeps its powers");
    for role in [&member, &replicator] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE {role}")))
            .execute(&pool)
            .await
            .unwrap();
    }
}
