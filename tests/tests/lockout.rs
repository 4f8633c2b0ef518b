//! Lockout, client addresses and the registration throttle, counted in the
//! database (SQLite and PostgreSQL).

use std::time::Duration;

use crudauth::LockoutPolicy;
use crudauth_tests::{
    Backend, PASSWORD, Server, assert_error, on_both_backends, retry_after, start,
};
use reqwest::{Response, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::json;

async fn login(server: &Server, user: &str, password: &str, forwarded: Option<&str>) -> Response {
    let mut req = server
        .client
        .post(server.url("/login"))
        .json(&json!({ "username": user, "password": password }));
    if let Some(addr) = forwarded {
        req = req.header("x-forwarded-for", addr);
    }
    req.send().await.unwrap()
}

async fn five_failures_lock_the_identifier_even_for_the_right_password(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    server.register("bob@example.com").await;
    for _ in 0..5 {
        assert_error(
            login(&server, "ada@example.com", "wrong password", None).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    let locked = login(&server, "ADA@example.com ", PASSWORD, None).await;
    let wait = retry_after(&locked);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_error(locked, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    // /token shares the lockout.
    let res = server
        .post_json(
            "/token",
            json!({ "username": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    // Only that identifier.
    assert_eq!(
        login(&server, "bob@example.com", PASSWORD, None)
            .await
            .status(),
        StatusCode::OK
    );
    // An identifier that matches no user behaves the same.
    for _ in 0..5 {
        assert_error(
            login(&server, "ghost@example.com", "whatever1", None).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    assert_error(
        login(&server, "ghost@example.com", "whatever1", None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "locked",
    )
    .await;
}

async fn login_and_token_failures_add_up(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    for _ in 0..3 {
        assert_eq!(
            login(&server, "ada@example.com", "wrong password", None)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    for _ in 0..2 {
        let res = server
            .post_json(
                "/token",
                json!({ "username": "ada@example.com", "password": "wrong password" }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert_error(
        login(&server, "ada@example.com", PASSWORD, None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "locked",
    )
    .await;
}

async fn concurrent_failures_lock_exactly_as_sequential_ones(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let attempts = (0..50).map(|_| {
        let client = server.client.clone();
        let url = server.url("/login");
        tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({ "username": "ada@example.com", "password": "wrong password" }))
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let locked = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((refused, locked), (5, 45), "{statuses:?}");
    assert_error(
        login(&server, "ada@example.com", PASSWORD, None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "locked",
    )
    .await;
}

async fn each_lock_doubles(backend: Backend) {
    // Minute-long locks cannot run out by themselves during the test; each
    // is ended by moving its end into the past, as time would.
    let policy = LockoutPolicy {
        attempts: 2,
        base: Duration::from_secs(60),
        ..LockoutPolicy::default()
    };
    let server = start(backend, move |b| b.lockout(policy)).await;
    server.register("ada@example.com").await;
    for expected in [60, 120, 240] {
        for _ in 0..2 {
            assert_eq!(
                login(&server, "ada@example.com", "wrong password", None)
                    .await
                    .status(),
                StatusCode::UNAUTHORIZED
            );
        }
        let locked = login(&server, "ada@example.com", PASSWORD, None).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait = retry_after(&locked);
        assert!(
            wait <= expected && wait + 1 >= expected,
            "lock {expected}s, Retry-After {wait}"
        );
        server
            .db
            .execute_unprepared(&format!(
                "UPDATE crudauth_attempts SET locked_until = locked_until - {} \
                 WHERE locked_until > 0",
                expected + 1
            ))
            .await
            .unwrap();
    }
    // Once the lock has run out, the right password works and resets it all.
    assert_eq!(
        login(&server, "ada@example.com", PASSWORD, None)
            .await
            .status(),
        StatusCode::OK
    );
}

async fn a_success_clears_the_identifier_counter(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    for _ in 0..4 {
        assert_eq!(
            login(&server, "ada@example.com", "wrong password", None)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&server, "ada@example.com", PASSWORD, None)
            .await
            .status(),
        StatusCode::OK
    );
    for _ in 0..4 {
        assert_eq!(
            login(&server, "ada@example.com", "wrong password", None)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&server, "ada@example.com", PASSWORD, None)
            .await
            .status(),
        StatusCode::OK
    );
}

async fn an_address_with_too_many_failures_is_locked_alone(backend: Backend) {
    let policy = LockoutPolicy {
        attempts: 100,
        ip_attempts: 3,
        ..LockoutPolicy::default()
    };
    let server = start(backend, move |b| b.lockout(policy).trusted_proxy_hops(1)).await;
    server.register("ada@example.com").await;
    for n in 0..3 {
        let res = login(
            &server,
            &format!("user{n}@example.com"),
            "wrong password",
            Some("203.0.113.7"),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login(&server, "ada@example.com", PASSWORD, Some("203.0.113.7")).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    // Another client (as the trusted proxy reports it) is not affected.
    assert_eq!(
        login(&server, "ada@example.com", PASSWORD, Some("198.51.100.2"))
            .await
            .status(),
        StatusCode::OK
    );
    // Only the proxy-appended (rightmost) entry counts: a client-supplied
    // address on the left cannot dodge the lock.
    let res = login(
        &server,
        "ada@example.com",
        PASSWORD,
        Some("198.51.100.99, 203.0.113.7"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn without_trusted_proxies_a_forged_forwarded_for_changes_nothing(backend: Backend) {
    let policy = LockoutPolicy {
        attempts: 100,
        ip_attempts: 3,
        ..LockoutPolicy::default()
    };
    let server = start(backend, move |b| b.lockout(policy)).await;
    server.register("ada@example.com").await;
    for n in 0..3 {
        let forged = format!("10.0.0.{n}");
        assert_eq!(
            login(&server, "ada@example.com", "wrong password", Some(&forged))
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = login(&server, "ada@example.com", PASSWORD, Some("192.0.2.55")).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
}

async fn registrations_are_throttled_per_address(backend: Backend) {
    let server = start(backend, |b| b.register_per_hour(2).trusted_proxy_hops(1)).await;
    let register = |email: &str, from: &'static str| {
        server
            .client
            .post(server.url("/register"))
            .header("x-forwarded-for", from)
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
    };
    assert_eq!(
        register("a@example.com", "203.0.113.1")
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        register("b@example.com", "203.0.113.1")
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    let res = register("c@example.com", "203.0.113.1").await.unwrap();
    let wait = retry_after(&res);
    assert!((1..=3600).contains(&wait), "Retry-After {wait}");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(
        register("c@example.com", "203.0.113.2")
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
}

on_both_backends!(
    five_failures_lock_the_identifier_even_for_the_right_password,
    login_and_token_failures_add_up,
    concurrent_failures_lock_exactly_as_sequential_ones,
    each_lock_doubles,
    a_success_clears_the_identifier_counter,
    an_address_with_too_many_failures_is_locked_alone,
    without_trusted_proxies_a_forged_forwarded_for_changes_nothing,
    registrations_are_throttled_per_address,
);
