//! Bearer tokens end to end: forged and tampered tokens, refresh rotation
//! with reuse detection, and the transport precedence matrix.

use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use crudauth::{BearerTransport, CrudAuth, Principal, SessionTransport, authed};
use crudauth_tests::{
    ApiKeyTransport, Backend, PASSWORD, SECRET, Server, assert_error, on_both_backends, start,
    start_app,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

fn sign(header: Header, claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key).unwrap()).unwrap()
}

fn unsigned(header: Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

/// Every forged or damaged token is refused with 401, never a 500.
async fn forged_and_tampered_tokens_are_refused(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let eve_id = server.register("eve@example.com").await;
    let pair = server.token("ada@example.com").await;
    let good = pair["access_token"].as_str().unwrap().to_owned();
    // Presented first, so the server remembers it: the forgeries below that
    // reuse its signature meet the remembered token, not a fresh decode.
    assert_eq!(
        server.get_bearer("/me", &good).await.status(),
        StatusCode::OK
    );
    let claims = claims_of(&good);
    let (head, payload, signature) = {
        let mut parts = good.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let hs256 = Header::new(Algorithm::HS256);
    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = json!(eve_id.to_string());
    let mut kid_jku = Header::new(Algorithm::HS256);
    kid_jku.kid = Some("attacker-key".into());
    kid_jku.jku = Some("http://127.0.0.1:9/keys.json".into());
    let mut invalid: Vec<(&str, String)> = vec![
        (
            "alg none",
            unsigned(json!({ "alg": "none", "typ": "JWT" }), &claims),
        ),
        (
            "alg None",
            unsigned(json!({ "alg": "None", "typ": "JWT" }), &claims),
        ),
        ("alg NONE", unsigned(json!({ "alg": "NONE" }), &claims)),
        (
            "alg nOnE",
            format!(
                "{}.{payload}.{signature}",
                B64.encode(json!({ "alg": "nOnE" }).to_string())
            ),
        ),
        (
            "HS512",
            sign(Header::new(Algorithm::HS512), &claims, SECRET),
        ),
        (
            "HS384",
            sign(Header::new(Algorithm::HS384), &claims, SECRET),
        ),
        (
            "RS256 header",
            format!(
                "{}.{payload}.{signature}",
                B64.encode(json!({ "alg": "RS256", "typ": "JWT" }).to_string())
            ),
        ),
        ("signature stripped", format!("{head}.{payload}.")),
        ("two segments", format!("{head}.{payload}")),
        (
            "payload tampered",
            format!(
                "{head}.{}.{signature}",
                B64.encode(tampered_claims.to_string())
            ),
        ),
        (
            "wrong secret",
            sign(
                hs256.clone(),
                &claims,
                b"another-secret-of-at-least-32-bytes!!!",
            ),
        ),
        (
            "nbf in the future",
            sign(hs256.clone(), &with(json!({ "nbf": now() + 3600 })), SECRET),
        ),
        (
            "iat in the future",
            sign(
                hs256.clone(),
                &with(json!({ "iat": now() + 3600, "nbf": now() - 10 })),
                SECRET,
            ),
        ),
        (
            "wrong iss",
            sign(
                hs256.clone(),
                &with(json!({ "iss": "someone-else" })),
                SECRET,
            ),
        ),
        (
            "wrong aud",
            sign(
                hs256.clone(),
                &with(json!({ "aud": "another-api" })),
                SECRET,
            ),
        ),
        (
            "missing aud",
            sign(hs256.clone(), &with(json!({ "aud": null })), SECRET),
        ),
        (
            "missing exp",
            sign(hs256.clone(), &with(json!({ "exp": null })), SECRET),
        ),
        (
            "refresh typ",
            sign(hs256.clone(), &with(json!({ "typ": "refresh" })), SECRET),
        ),
        (
            "unknown family",
            sign(
                hs256.clone(),
                &with(json!({ "sid": "no-such-family" })),
                SECRET,
            ),
        ),
        (
            "kid and jku pointing elsewhere",
            sign(
                kid_jku.clone(),
                &claims,
                b"attacker-key-attacker-key-attacker-key",
            ),
        ),
        (
            "refresh token as access token",
            pair["refresh_token"].as_str().unwrap().to_owned(),
        ),
        ("random string", "hello-world".to_owned()),
        ("four segments", format!("{good}.AAAA")),
        ("non-base64", "@@@.###.$$$".to_owned()),
        (
            "100 kB token",
            format!("{head}.{}.{signature}", "A".repeat(100_000)),
        ),
    ];
    invalid.push(("scheme only", String::new()));
    for (name, token) in invalid {
        let res = server
            .client
            .get(server.url("/me"))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name}");
        let challenge = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            challenge.as_deref(),
            Some("Bearer error=\"invalid_token\""),
            "{name}"
        );
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // kid/jku are ignored: a correctly signed token carrying them works.
    let signed_with_kid = sign(kid_jku, &claims, SECRET);
    assert_eq!(
        server.get_bearer("/me", &signed_with_kid).await.status(),
        StatusCode::OK
    );
    // Expired well past, correctly signed: no credential at all.
    let expired = sign(
        hs256,
        &with(json!({ "exp": now() - 7200, "iat": now() - 9000, "nbf": now() - 9000 })),
        SECRET,
    );
    let res = server.get_bearer("/me", &expired).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // The scheme is case-insensitive.
    let res = server
        .client
        .get(server.url("/me"))
        .header("authorization", format!("bEaReR {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // An access token is not a refresh token.
    let res = server
        .post_json("/refresh", json!({ "refresh_token": good }))
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let server = start(backend, |b| b).await;
    let id = server.register("ada@example.com").await;
    let first = server.token("ada@example.com").await;
    assert_eq!(first["token_type"], "bearer");
    assert_eq!(first["expires_in"], 900);
    let r0 = first["refresh_token"].as_str().unwrap();
    let res = server
        .post_json("/refresh", json!({ "refresh_token": r0 }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.unwrap();
    let r1 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r0, r1);
    let a1 = second["access_token"].as_str().unwrap();
    assert_eq!(
        server
            .get_bearer("/me", a1)
            .await
            .json::<Value>()
            .await
            .unwrap()["id"],
        id
    );
    // R0 again: reuse. The whole family dies: R1 and the live access token.
    let res = server
        .post_json("/refresh", json!({ "refresh_token": r0 }))
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let res = server
        .post_json("/refresh", json!({ "refresh_token": r1 }))
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_error(
        server.get_bearer("/me", a1).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let a0 = first["access_token"].as_str().unwrap();
    assert_error(
        server.get_bearer("/me", a0).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // A fresh login still works.
    let fresh = server.token("ada@example.com").await;
    assert_eq!(
        server
            .get_bearer("/me", fresh["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    for garbage in ["", "x", "not-a-token-at-all-but-43-characters-long!!"] {
        let res = server
            .post_json("/refresh", json!({ "refresh_token": garbage }))
            .await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

async fn concurrent_refreshes_with_one_token_succeed_exactly_once(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    for _round in 0..3 {
        let pair = server.token("ada@example.com").await;
        let token = pair["refresh_token"].as_str().unwrap().to_owned();
        let requests = (0..8).map(|_| {
            let client = server.client.clone();
            let url = server.url("/refresh");
            let token = token.clone();
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&json!({ "refresh_token": token }))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        });
        let statuses: Vec<StatusCode> = futures_util::future::join_all(requests)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 1, "{statuses:?}");
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
            "{statuses:?}"
        );
    }
}

async fn revoke_kills_the_family(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let pair = server.token("ada@example.com").await;
    let other = server.token("ada@example.com").await;
    let res = server
        .post_json("/revoke", json!({ "refresh_token": pair["refresh_token"] }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        server
            .get_bearer("/me", pair["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let res = server
        .post_json(
            "/refresh",
            json!({ "refresh_token": pair["refresh_token"] }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Another login's family is untouched; unknown tokens are answered alike.
    assert_eq!(
        server
            .get_bearer("/me", other["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    let res = server
        .post_json("/revoke", json!({ "refresh_token": "unknown" }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn scopes_are_clamped_and_kept_across_refresh(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let res = server
        .post_json("/token", json!({ "username": "ada@example.com", "password": PASSWORD, "scope": "jobs:read admin" }))
        .await;
    let pair: Value = res.json().await.unwrap();
    assert_eq!(pair["scope"], "jobs:read");
    let res = server
        .post_json(
            "/refresh",
            json!({ "refresh_token": pair["refresh_token"] }),
        )
        .await;
    let next: Value = res.json().await.unwrap();
    assert_eq!(next["scope"], "jobs:read");
    let full = server.token("ada@example.com").await;
    assert_eq!(full["scope"], "jobs:read jobs:write");
    assert_error(
        server
            .post_json(
                "/token",
                json!({ "username": "ada@example.com", "password": "wrong password" }),
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

/// Cookie and bearer reach the same `/me` and get the same id.
async fn cookie_and_bearer_see_the_same_user(backend: Backend) {
    let server = start(backend, |b| b).await;
    let id = server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    let pair = server.token("ada@example.com").await;
    let by_cookie: Value = server
        .as_browser(&browser, Method::GET, "/me", None)
        .await
        .json()
        .await
        .unwrap();
    let by_bearer: Value = server
        .get_bearer("/me", pair["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_cookie, json!({ "id": id }));
    assert_eq!(by_cookie, by_bearer);
    // Narrowed routes: bearer-only refuses a valid cookie, session-only a
    // valid token.
    let res = server
        .client
        .post(server.url("/api/jobs"))
        .header("cookie", browser.cookie())
        .header("x-csrf-token", &browser.csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = server
        .client
        .post(server.url("/api/jobs"))
        .bearer_auth(pair["access_token"].as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["owner"], id);
    assert!(job["id"].is_number());
    assert_error(
        server
            .get_bearer("/account", pair["access_token"].as_str().unwrap())
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(
        server
            .as_browser(&browser, Method::GET, "/account", None)
            .await
            .status(),
        StatusCode::OK
    );
}

fn who(user: Option<Principal>) -> axum::Json<Value> {
    axum::Json(match user {
        Some(user) => json!({ "id": user.user_id, "transport": user.transport }),
        None => json!({ "id": null }),
    })
}

#[authed(optional)]
async fn optional(user: Option<Principal>) -> axum::Json<Value> {
    who(user)
}

#[authed(transport = ["session", "bearer"])]
async fn session_or_bearer(user: Principal) -> axum::Json<Value> {
    who(Some(user))
}

mod renamed {
    use crudauth::Principal as Caller;
    use crudauth::authed;

    /// The macro does not recognise a renamed `Principal`; the parameter
    /// must still be the principal the narrowed guard admitted.
    #[authed(transport = "bearer")]
    pub async fn bearer_only(caller: Caller) -> axum::Json<serde_json::Value> {
        super::who(Some(caller))
    }
}

async fn matrix_server(backend: Backend, bearer_first: bool) -> Server {
    start_app(
        backend,
        move |db| {
            let builder = CrudAuth::builder()
                .database(db)
                .user_model::<example_web_and_api::user::Model>()
                .config(crudauth_tests::config())
                .me_route(false);
            let builder = if bearer_first {
                builder
                    .transport(BearerTransport::new())
                    .transport(SessionTransport::new())
            } else {
                builder
                    .transport(SessionTransport::new())
                    .transport(BearerTransport::new())
            };
            builder.transport(ApiKeyTransport)
        },
        |auth| {
            axum::Router::new()
                .route("/opt", get(optional))
                .route("/opt-post", post(optional))
                .route("/subset", get(session_or_bearer))
                .route("/renamed", get(renamed::bearer_only))
                .with_state(auth.clone())
        },
    )
    .await
}

async fn precedence_matrix(backend: Backend) {
    for bearer_first in [false, true] {
        let server = matrix_server(backend, bearer_first).await;
        let ada = server.register("ada@example.com").await;
        let bob = server.register("bob@example.com").await;
        let ada_cookie = server.login("ada@example.com").await;
        let bob_token = server.access_token("bob@example.com").await;
        let both = |method: Method, path: &str, bearer: &str| {
            server
                .client
                .request(method, server.url(path))
                .header("cookie", ada_cookie.cookie())
                .bearer_auth(bearer.to_owned())
                .send()
        };
        // Both credentials: the first transport in the chain wins.
        let me: Value = both(Method::GET, "/me", &bob_token)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            me["id"],
            if bearer_first {
                bob.clone()
            } else {
                ada.clone()
            },
            "bearer_first={bearer_first}"
        );
        // A valid cookie on a POST without CSRF plus a valid bearer.
        let res = server
            .client
            .post(server.url("/api/notes"))
            .header("cookie", ada_cookie.cookie())
            .bearer_auth(&bob_token)
            .json(&json!({ "text": "x" }))
            .send()
            .await
            .unwrap();
        if bearer_first {
            assert_eq!(res.status(), StatusCode::CREATED);
            assert_eq!(res.json::<Value>().await.unwrap()["owner"], bob);
        } else {
            assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
        }
        // A garbage bearer beside a valid cookie.
        let res = both(Method::GET, "/me", "garbage.token.here")
            .await
            .unwrap();
        if bearer_first {
            assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
        } else {
            assert_eq!(res.json::<Value>().await.unwrap()["id"], ada);
        }
        // An expired (correctly signed) bearer falls through to the session.
        let mut claims = claims_of(&bob_token);
        claims["exp"] = json!(now() - 3600);
        claims["iat"] = json!(now() - 7200);
        claims["nbf"] = json!(now() - 7200);
        let expired = sign(Header::new(Algorithm::HS256), &claims, SECRET);
        let res: Value = both(Method::GET, "/me", &expired)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(res["id"], ada);
        // Optional: absent or soft-invalid is anonymous, tampered fails.
        let anon: Value = server
            .client
            .get(server.url("/opt"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(anon, json!({ "id": null }));
        let res: Value = server
            .get_bearer("/opt", &expired)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(res, json!({ "id": null }));
        let unknown = "__Host-session_id=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let res: Value = server
            .client
            .get(server.url("/opt"))
            .header("cookie", unknown)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(res, json!({ "id": null }));
        let tampered = format!("{}x", &bob_token[..bob_token.len() - 1]);
        assert_error(
            server.get_bearer("/opt", &tampered).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
        let res = server
            .client
            .post(server.url("/opt-post"))
            .header("cookie", ada_cookie.cookie())
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
        let res: Value = server
            .get_bearer("/opt", &bob_token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(res["transport"], "bearer");
        // A list subset: session and bearer, not the API key.
        let res = server
            .client
            .get(server.url("/subset"))
            .header("x-api-key", format!("demo-{ada}"))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let res: Value = server
            .client
            .get(server.url("/opt"))
            .header("x-api-key", format!("demo-{ada}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(res["transport"], "api_key");
        assert_eq!(
            server.get_bearer("/subset", &bob_token).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            server
                .as_browser(&ada_cookie, Method::GET, "/subset", None)
                .await
                .status(),
            StatusCode::OK
        );
        // With both credentials, a bearer-only handler sees the bearer's user
        // even through a renamed `Principal` import.
        let res: Value = both(Method::GET, "/renamed", &bob_token)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(res, json!({ "id": bob, "transport": "bearer" }));
    }
}

on_both_backends!(
    forged_and_tampered_tokens_are_refused,
    refresh_rotates_and_reuse_revokes_the_family,
    concurrent_refreshes_with_one_token_succeed_exactly_once,
    revoke_kills_the_family,
    scopes_are_clamped_and_kept_across_refresh,
    cookie_and_bearer_see_the_same_user,
    precedence_matrix,
);
