//! `.max_sessions_per_user(n)` and `.max_token_families_per_user(n)` over
//! real sockets: the login past the cap ends the oldest, and two logins at
//! the cap at once leave exactly `n`.

use crudauth_tests::{Backend, Server, assert_error, on_both_backends, start, token_pair};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    the_login_past_the_cap_ends_the_oldest_session,
    concurrent_logins_at_the_cap_leave_exactly_the_cap,
    the_token_login_past_the_cap_revokes_the_oldest_family,
);

/// Dates the user's sessions (or families) apart: `created_at` has a
/// resolution of a second, and the test's logins share one.
async fn age(server: &Server, table: &str, id_column: &str, id: &str, secs_ago: i64) {
    server
        .sql(&format!(
            "UPDATE {table} SET created_at = created_at - {secs_ago} WHERE {id_column} = '{id}'"
        ))
        .await;
}

async fn session_rows(server: &Server) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let row = server
        .db
        .query_one_raw(Statement::from_string(
            server.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM crudauth_sessions",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn session_id(server: &Server, browser: &crudauth_tests::Browser) -> String {
    let account: Value = server
        .with_cookie(Method::GET, "/account", browser)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    account["session_id"].as_str().unwrap().to_owned()
}

async fn the_login_past_the_cap_ends_the_oldest_session(backend: Backend) {
    let server = start(backend, |b| b.max_sessions_per_user(2)).await;
    server.register("ada@example.com").await;
    let first = server.login("ada@example.com").await;
    let second = server.login("ada@example.com").await;
    age(
        &server,
        "crudauth_sessions",
        "id",
        &session_id(&server, &first).await,
        100,
    )
    .await;
    age(
        &server,
        "crudauth_sessions",
        "id",
        &session_id(&server, &second).await,
        50,
    )
    .await;

    let third = server.login("ada@example.com").await;
    let me = |browser| server.with_cookie(Method::GET, "/me", browser).send();
    assert_error(
        me(&first).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(me(&second).await.unwrap().status(), StatusCode::OK);
    assert_eq!(me(&third).await.unwrap().status(), StatusCode::OK);
    let sessions: Value = server
        .with_cookie(Method::GET, "/sessions", &third)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.as_array().map(Vec::len), Some(2), "{sessions}");

    // Another user's sessions are not counted against Ada's cap.
    server.register("grace@example.com").await;
    let grace = server.login("grace@example.com").await;
    assert_eq!(me(&grace).await.unwrap().status(), StatusCode::OK);
    assert_eq!(me(&second).await.unwrap().status(), StatusCode::OK);
    assert_eq!(session_rows(&server).await, 3);
}

async fn concurrent_logins_at_the_cap_leave_exactly_the_cap(backend: Backend) {
    let server = start(backend, |b| b.max_sessions_per_user(2)).await;
    server.register("ada@example.com").await;
    server.login("ada@example.com").await;
    server.login("ada@example.com").await;
    for round in 0..4 {
        // What was there before is older than both new sessions.
        server
            .sql("UPDATE crudauth_sessions SET created_at = created_at - 10")
            .await;
        let (a, b) = tokio::join!(
            server.login("ada@example.com"),
            server.login("ada@example.com")
        );
        let me = |browser| server.with_cookie(Method::GET, "/me", browser).send();
        assert_eq!(
            me(&a).await.unwrap().status(),
            StatusCode::OK,
            "round {round}"
        );
        assert_eq!(
            me(&b).await.unwrap().status(),
            StatusCode::OK,
            "round {round}"
        );
        assert_eq!(session_rows(&server).await, 2, "round {round}");
    }
}

async fn the_token_login_past_the_cap_revokes_the_oldest_family(backend: Backend) {
    let server = start(backend, |b| b.max_token_families_per_user(2)).await;
    server.register("ada@example.com").await;
    // Sessions count apart: a browser session does not use up a family.
    let browser = server.login("ada@example.com").await;
    let (_, oldest) = token_pair(&server.token("ada@example.com").await);
    server
        .sql("UPDATE crudauth_token_families SET created_at = created_at - 100")
        .await;
    let (_, middle) = token_pair(&server.token("ada@example.com").await);
    let (access, newest) = token_pair(&server.token("ada@example.com").await);

    let refresh = |token: String| server.post_json("/refresh", json!({ "refresh_token": token }));
    assert_error(
        refresh(oldest).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_eq!(refresh(middle).await.status(), StatusCode::OK);
    assert_eq!(refresh(newest).await.status(), StatusCode::OK);
    assert_eq!(
        server.get_bearer("/me", &access).await.status(),
        StatusCode::OK
    );
    let me = server
        .with_cookie(Method::GET, "/me", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_cap_of_zero_is_refused_at_build() {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    for builder in [
        example_web_and_api::auth_builder(db.clone(), crudauth_tests::config())
            .max_sessions_per_user(0),
        example_web_and_api::auth_builder(db, crudauth_tests::config())
            .max_token_families_per_user(0),
    ] {
        let err = builder.build().unwrap_err().to_string();
        assert!(err.contains("_per_user`: must be at least 1"), "{err}");
    }
}
