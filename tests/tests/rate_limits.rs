//! `#[authed(rate = "..")]` over real sockets: the example's
//! `GET /api/limited` (`rate = "5/m"`) per user across transports, an
//! optional route's anonymous budget per client address, and the 429 in
//! the OpenAPI document. Counters shared through Redis are tested with two
//! example processes in instances.rs.

use crudauth::RateLimitStore;
use crudauth::{Principal, authed};
use crudauth_tests::{
    Backend, assert_error, on_both_backends, retry_after, start, start_app, start_beside,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    the_sixth_request_a_minute_is_refused_with_retry_after,
    a_user_spends_one_budget_whatever_the_transport,
    anonymous_requests_on_an_optional_route_spend_their_address_budget,
);

async fn the_sixth_request_a_minute_is_refused_with_retry_after(backend: Backend) {
    let server = start(backend, |b| b).await;
    let ada = server.register("ada@example.com").await;
    let grace = server.register("grace@example.com").await;
    let browser = server.login("ada@example.com").await;
    for _ in 0..5 {
        let res = server
            .with_cookie(Method::GET, "/api/limited", &browser)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json::<Value>().await.unwrap(), json!({ "id": ada }));
    }
    let refused = server
        .with_cookie(Method::GET, "/api/limited", &browser)
        .send()
        .await
        .unwrap();
    // 5 a minute: the next request is allowed 12 s after the burst.
    let wait = retry_after(&refused);
    assert!((1..=12).contains(&wait), "Retry-After: {wait}");
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Another user's budget is whole; the limit is the handler's alone.
    let other = server.access_token("grace@example.com").await;
    let res = server.get_bearer("/api/limited", &other).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "id": grace }));
    let me = server
        .with_cookie(Method::GET, "/me", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // No credential is refused as unauthenticated, not counted.
    let anonymous = server
        .client
        .get(server.url("/api/limited"))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn a_user_spends_one_budget_whatever_the_transport(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    let token = server.access_token("ada@example.com").await;
    for i in 0..5 {
        let res = if i % 2 == 0 {
            server.get_bearer("/api/limited", &token).await
        } else {
            server
                .with_cookie(Method::GET, "/api/limited", &browser)
                .send()
                .await
                .unwrap()
        };
        assert_eq!(res.status(), StatusCode::OK, "request {i}");
    }
    let refused = server.get_bearer("/api/limited", &token).await;
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let refused = server
        .with_cookie(Method::GET, "/api/limited", &browser)
        .send()
        .await
        .unwrap();
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[authed(optional, rate = "2/h")]
async fn greeting(user: Option<Principal>) -> axum::Json<Value> {
    axum::Json(json!({ "signed_in": user.is_some() }))
}

async fn anonymous_requests_on_an_optional_route_spend_their_address_budget(backend: Backend) {
    let server = start_app(
        backend,
        |db| example_web_and_api::auth_builder(db, crudauth_tests::config()).trusted_proxy_hops(1),
        |auth| {
            axum::Router::new()
                .route("/greeting", axum::routing::get(greeting))
                .with_state(auth.clone())
        },
    )
    .await;
    let from = |ip: &str| {
        server
            .client
            .get(server.url("/greeting"))
            .header("x-forwarded-for", ip)
            .send()
    };
    for _ in 0..2 {
        let res = from("203.0.113.7").await.unwrap();
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({ "signed_in": false })
        );
    }
    let refused = from("203.0.113.7").await.unwrap();
    // 2 an hour: the next one in half an hour.
    assert!((1..=1800).contains(&retry_after(&refused)));
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Another address, and a signed-in user from the spent address, have
    // budgets of their own.
    let res = from("198.51.100.1").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    server.register("ada@example.com").await;
    let token = server.access_token("ada@example.com").await;
    let res = server
        .with_bearer(Method::GET, "/greeting", &token)
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "signed_in": true })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_names_the_429_of_a_limited_route() {
    let server = start(Backend::Sqlite, |b| b).await;
    let doc = example_web_and_api::openapi(&server.auth);
    let doc = serde_json::to_value(doc).unwrap();
    let limited = &doc["paths"]["/api/limited"]["get"]["responses"];
    let text = limited["429"]["description"].as_str().unwrap_or_default();
    assert!(text.contains("5 requests a minute"), "{limited}");
    assert!(doc["paths"]["/me"]["get"]["responses"]["429"].is_null());
}

/// `RateLimitStore::Postgres`: two instances on one database spend one
/// budget, kept in `crudauth_rate_limits`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_budget_in_postgres() {
    if !crudauth_tests::postgres_enabled().await {
        return;
    }
    let a = start(Backend::Postgres, |b| {
        b.rate_limits(RateLimitStore::Postgres)
    })
    .await;
    let b = start_beside(&a, |b| b.rate_limits(RateLimitStore::Postgres)).await;
    a.register("ada@example.com").await;
    let token = a.access_token("ada@example.com").await;
    for (i, server) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        let res = server.get_bearer("/api/limited", &token).await;
        assert_eq!(res.status(), StatusCode::OK, "request {i}");
    }
    for server in [&b, &a] {
        let refused = server.get_bearer("/api/limited", &token).await;
        assert!((1..=12).contains(&retry_after(&refused)));
        assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
    use sea_orm::{ConnectionTrait, Statement};
    let rows =
        a.db.query_all_raw(Statement::from_string(
            a.db.get_database_backend(),
            "SELECT key FROM crudauth_rate_limits",
        ))
        .await
        .unwrap();
    let keys: Vec<String> = rows.iter().map(|r| r.try_get("", "key").unwrap()).collect();
    assert_eq!(keys, ["example_web_and_api::limited:u:1"]);
}

#[tokio::test]
async fn the_postgres_store_needs_a_postgres_database() {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let err = example_web_and_api::auth_builder(db, crudauth_tests::config())
        .rate_limits(RateLimitStore::Postgres)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rate_limits") && err.contains("not PostgreSQL"),
        "{err}"
    );
}
