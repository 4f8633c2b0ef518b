//! The API-key example: a custom transport beside session and bearer, and a
//! route narrowed to it by type.

use crudauth_tests::{Backend, assert_error, on_both_backends, start_router};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn a_custom_transport_joins_the_chain(backend: Backend) {
    let server = start_router(
        backend,
        |db| example_api_key::auth_builder(db, crudauth_tests::config()),
        |auth| example_api_key::app(auth.clone()),
    )
    .await;
    example_api_key::create_tables(&server.db).await.unwrap();
    let id = server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    let token = server.access_token("ada@example.com").await;
    let res = server
        .client
        .post(server.url("/api-keys"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let key = res.json::<Value>().await.unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let with_key = |method: Method, path: &str, key: &str| {
        server
            .client
            .request(method, server.url(path))
            .header("x-api-key", key)
            .send()
    };
    let me: Value = with_key(Method::GET, "/whoami", &key)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me, json!({ "id": id, "transport": "api_key" }));
    // Narrowed to the key's type: other credentials do not open it.
    assert_eq!(
        with_key(Method::POST, "/ingest", &key)
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    let res = server
        .client
        .post(server.url("/ingest"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = server
        .as_browser(&browser, Method::POST, "/ingest", Some(&browser.csrf))
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // A key cannot mint keys: that route is narrowed to session and bearer.
    assert_error(
        with_key(Method::POST, "/api-keys", &key).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // An unknown key is a bad credential, not an absent one.
    let res = with_key(Method::GET, "/whoami", "ck_unknown")
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // Precedence: a valid bearer earlier in the chain wins over a bad key.
    let res = server
        .client
        .get(server.url("/whoami"))
        .bearer_auth(&token)
        .header("x-api-key", "ck_unknown")
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["transport"], "bearer");
}

on_both_backends!(a_custom_transport_joins_the_chain);
