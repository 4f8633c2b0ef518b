//! The attacks a security review found, each sent over a real socket and
//! refused (SQLite and PostgreSQL): a login racing a password change, scopes
//! removed from a user, guessing the current password behind a stolen
//! credential, oversized identifiers, one account's two identifiers, a
//! locked address, a guard's anonymous outcome, a stolen session cookie
//! surviving a password change, deactivation, and stale rows.

use std::time::Duration;

use axum::Json;
use axum::routing::get;
use crudauth::{LockoutPolicy, Principal as Who, authed};
use crudauth_tests::{
    Backend, Browser, PASSWORD, Server, assert_error, on_both_backends, start, start_app,
    token_pair,
};
use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn me_status_as_browser(server: &Server, browser: &Browser) -> StatusCode {
    server
        .as_browser(browser, Method::GET, "/me", None)
        .await
        .status()
}

async fn me_status_as_bearer(server: &Server, token: &str) -> StatusCode {
    server.get_bearer("/me", token).await.status()
}

async fn change_password(server: &Server, browser: &Browser, current: &str) -> reqwest::Response {
    server
        .with_cookie(Method::POST, "/change-password", browser)
        .json(&json!({ "current_password": current, "new_password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap()
}

/// Logins and token grants with the old password race a password change;
/// whatever they obtained, in whichever order the database saw it, is dead
/// once the change has answered.
async fn no_credential_made_with_the_old_password_survives_a_change(backend: Backend) {
    // The attacker's attempts after the change fail; they must not lock the
    // account before the last check.
    let policy = LockoutPolicy {
        attempts: 100,
        ..LockoutPolicy::default()
    };
    let server = start(backend, move |b| b.lockout(policy)).await;
    server.register("ada@example.com").await;
    let owner = server.login("ada@example.com").await;
    let attacker = {
        let endpoint = (*server).clone();
        tokio::spawn(async move {
            let mut sessions = Vec::new();
            let mut pairs = Vec::new();
            for round in 0..6 {
                if round % 2 == 0 {
                    if let Ok(browser) =
                        endpoint.login_with("ada@example.com", PASSWORD, None).await
                    {
                        sessions.push(browser);
                    }
                } else {
                    let res = endpoint
                        .post_json(
                            "/token",
                            json!({ "username": "ada@example.com", "password": PASSWORD }),
                        )
                        .await;
                    if res.status() == StatusCode::OK {
                        pairs.push(token_pair(&res.json::<Value>().await.unwrap()));
                    }
                }
            }
            (sessions, pairs)
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let res = change_password(&server, &owner, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (sessions, pairs) = attacker.await.unwrap();
    assert!(
        !sessions.is_empty() || !pairs.is_empty(),
        "the race obtained credentials to check"
    );
    for browser in &sessions {
        assert_eq!(
            me_status_as_browser(&server, browser).await,
            StatusCode::UNAUTHORIZED
        );
    }
    for (access, refresh) in &pairs {
        assert_eq!(
            me_status_as_bearer(&server, access).await,
            StatusCode::UNAUTHORIZED
        );
        let res = server
            .post_json("/refresh", json!({ "refresh_token": refresh }))
            .await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // The old password itself no longer logs in; the new one does.
    assert!(
        server
            .login_with("ada@example.com", PASSWORD, None)
            .await
            .is_err()
    );
    server
        .login_with("ada@example.com", NEW_PASSWORD, None)
        .await
        .expect("the new password works");
}

/// Logins upgrading a weak hash of the old password race a password
/// change: no upgrade may write the old password back over the new one.
async fn a_rehash_never_writes_an_old_password_back(backend: Backend) {
    let policy = LockoutPolicy {
        attempts: 100,
        ..LockoutPolicy::default()
    };
    let server = start(backend, move |b| {
        b.lockout(policy).transport(crudauth_tests::ApiKeyTransport)
    })
    .await;
    let id = server.register("ada@example.com").await;
    for round in 0..3 {
        let (old, new) = if round % 2 == 0 {
            (PASSWORD, NEW_PASSWORD)
        } else {
            (NEW_PASSWORD, PASSWORD)
        };
        let weak = crudauth_tests::weak_hash(old);
        server
            .sql(&format!(
                "UPDATE users SET password_hash = '{weak}' WHERE email = 'ada@example.com'"
            ))
            .await;
        let logins: Vec<_> = (0..4)
            .map(|_| {
                let endpoint = (*server).clone();
                tokio::spawn(async move {
                    endpoint
                        .post_json(
                            "/token",
                            json!({ "username": "ada@example.com", "password": old }),
                        )
                        .await
                        .status()
                })
            })
            .collect();
        let res = server
            .client
            .post(server.url("/change-password"))
            .header("x-api-key", format!("demo-{id}"))
            .json(&json!({ "current_password": old, "new_password": new }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "round {round}");
        for login in logins {
            login.await.unwrap();
        }
        assert!(
            server
                .login_with("ada@example.com", old, None)
                .await
                .is_err(),
            "round {round}: the old password was written back"
        );
        server
            .login_with("ada@example.com", new, None)
            .await
            .expect("the new password works");
    }
}

/// The change gives the caller's own session a new id and CSRF token: the
/// cookie a thief copied before the change is refused, the caller goes on.
async fn a_password_change_rotates_the_callers_session(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let before = server.login("ada@example.com").await;
    let res = change_password(&server, &before, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let after = Browser::from_login(res).await;
    assert_ne!(after.session, before.session);
    assert_ne!(after.csrf, before.csrf);
    assert_eq!(
        me_status_as_browser(&server, &before).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me_status_as_browser(&server, &after).await, StatusCode::OK);
    // The new CSRF token goes with the new session, the old one does not.
    let stale = Browser {
        csrf: before.csrf.clone(),
        ..after.clone()
    };
    let res = server
        .as_browser(&stale, Method::POST, "/logout-all", Some(&stale.csrf))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = server
        .as_browser(&after, Method::POST, "/logout-all", Some(&after.csrf))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// Guessing the current password behind a stolen cookie locks the account
/// like guessing at `/login` does, even for the right password then.
async fn change_password_guesses_count_against_the_account(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let stolen = server.login("ada@example.com").await;
    for _ in 0..5 {
        let res = change_password(&server, &stolen, "not the password").await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let res = change_password(&server, &stolen, PASSWORD).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    // The owner's login is locked too: one account, one budget.
    let res = server
        .login_with("ada@example.com", PASSWORD, None)
        .await
        .expect_err("locked");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
}

/// A scope taken from the user is gone from tokens issued before, at once,
/// and from every refresh after.
async fn scopes_removed_from_a_user_leave_their_tokens(backend: Backend) {
    #[authed(transport = "bearer")]
    async fn scopes(user: Who) -> Json<Value> {
        Json(json!({ "scopes": user.scopes }))
    }
    let server = start_app(
        backend,
        |db| example_web_and_api::auth_builder(db, crudauth_tests::config()),
        |auth| {
            axum::Router::new()
                .route("/scopes", get(scopes))
                .with_state(auth.clone())
        },
    )
    .await;
    server.register("ada@example.com").await;
    let pair = server.token("ada@example.com").await;
    assert_eq!(pair["scope"], "jobs:read jobs:write");
    let (access, refresh) = token_pair(&pair);
    server
        .sql("UPDATE users SET scopes = 'jobs:read' WHERE email = 'ada@example.com'")
        .await;
    let me: Value = server
        .get_bearer("/scopes", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["scopes"], json!(["jobs:read"]));
    let res = server
        .post_json("/refresh", json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.unwrap();
    assert_eq!(pair["scope"], "jobs:read");
    let (access, _) = token_pair(&pair);
    let me: Value = server
        .get_bearer("/scopes", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["scopes"], json!(["jobs:read"]));
}

/// An identifier far over any limit is an unknown account (401, counted),
/// never a database failure; the lockout keeps one short row for it.
async fn oversized_identifiers_are_unknown_accounts_with_bounded_rows(backend: Backend) {
    let server = start(backend, |b| b).await;
    for length in [255, 3_000, 60_000] {
        let identifier = "x".repeat(length - 12) + "@example.com";
        let res = server
            .post_json(
                "/login",
                json!({ "username": identifier, "password": PASSWORD }),
            )
            .await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let res = server
            .post_json(
                "/token",
                json!({ "username": "y".repeat(length), "password": PASSWORD }),
            )
            .await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let rows = server
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            server.db.get_database_backend(),
            "SELECT key FROM crudauth_attempts",
        ))
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        let key: String = row.try_get("", "key").unwrap();
        assert!(key.len() <= 40, "{key}");
    }
    // Registration refuses them as invalid input.
    let res = server
        .post_json(
            "/register",
            json!({ "email": "x".repeat(250) + "@example.com", "password": PASSWORD }),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
}

/// Failures through the email and through the username of one account
/// draw on one budget.
async fn an_accounts_email_and_username_share_one_budget(backend: Backend) {
    let server = start(backend, |b| b).await;
    let res = server
        .post_json(
            "/register",
            json!({ "email": "ada@example.com", "username": "ada", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    for identifier in [
        "ada@example.com",
        "ADA@example.com",
        "ada",
        "ada",
        "ada@example.com",
    ] {
        let res = server
            .login_with(identifier, "wrong password", None)
            .await
            .expect_err("wrong password");
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    for identifier in ["ada", "ada@example.com"] {
        let res = server
            .login_with(identifier, PASSWORD, None)
            .await
            .expect_err("locked");
        assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    }
}

/// A locked address is refused before any identifier's counter moves: its
/// guesses cannot lock other people's accounts.
async fn a_locked_address_never_touches_identifier_counters(backend: Backend) {
    let policy = LockoutPolicy {
        attempts: 100,
        ip_attempts: 2,
        ..LockoutPolicy::default()
    };
    let server = start(backend, move |b| b.lockout(policy)).await;
    for n in 0..2 {
        let res = server
            .login_with(&format!("guess{n}@example.com"), "wrong password", None)
            .await
            .expect_err("unknown");
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let count = |server: &Server| {
        let db = server.db.clone();
        async move {
            db.query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM crudauth_attempts WHERE key LIKE 'id:%'",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap()
        }
    };
    let before = count(&server).await;
    for n in 0..5 {
        let res = server
            .login_with(&format!("victim{n}@example.com"), "wrong password", None)
            .await
            .expect_err("locked address");
        assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    }
    assert_eq!(count(&server).await, before);
}

/// A guard that admitted an anonymous request keeps that verdict: a later
/// `Option<Principal>` extractor (here under another name, which the macro
/// does not recognise as the principal) must not find the session the
/// bearer-only guard ignored.
async fn a_guards_anonymous_outcome_binds_later_extractors(backend: Backend) {
    #[authed(optional, transport = "bearer")]
    async fn bearer_only(later: Option<Who>) -> Json<Value> {
        Json(json!({ "later": later.map(|p| p.transport) }))
    }
    let server = start_app(
        backend,
        |db| example_web_and_api::auth_builder(db, crudauth_tests::config()),
        |auth| {
            axum::Router::new()
                .route("/bearer-only", get(bearer_only))
                .with_state(auth.clone())
        },
    )
    .await;
    server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    let seen: Value = server
        .as_browser(&browser, Method::GET, "/bearer-only", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["later"], Value::Null);
    let token = server.access_token("ada@example.com").await;
    let seen: Value = server
        .get_bearer("/bearer-only", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["later"], "bearer");
}

/// Deactivating a user ends their logins: reactivation does not resume
/// them.
async fn deactivation_ends_sessions_and_families(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    let (access, refresh) = token_pair(&server.token("ada@example.com").await);
    server
        .sql("UPDATE users SET is_active = false WHERE email = 'ada@example.com'")
        .await;
    assert_eq!(
        me_status_as_browser(&server, &browser).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me_status_as_bearer(&server, &access).await,
        StatusCode::UNAUTHORIZED
    );
    server
        .sql("UPDATE users SET is_active = true WHERE email = 'ada@example.com'")
        .await;
    assert_eq!(
        me_status_as_browser(&server, &browser).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me_status_as_bearer(&server, &access).await,
        StatusCode::UNAUTHORIZED
    );
    let res = server
        .post_json("/refresh", json!({ "refresh_token": refresh }))
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

/// `revoke_user` ends every login of a user at once.
async fn revoke_user_ends_every_login(backend: Backend) {
    let server = start(backend, |b| b).await;
    let id = server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    let access = server.access_token("ada@example.com").await;
    let ended = server.auth.revoke_user(id.as_i64().unwrap()).await.unwrap();
    assert_eq!(ended, 2);
    assert_eq!(
        me_status_as_browser(&server, &browser).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me_status_as_bearer(&server, &access).await,
        StatusCode::UNAUTHORIZED
    );
}

/// `purge` deletes what no request can use and keeps what one can.
async fn purge_deletes_dead_rows_and_keeps_live_ones(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let live = server.login("ada@example.com").await;
    let _other = server.login("ada@example.com").await;
    let (_, refresh) = token_pair(&server.token("ada@example.com").await);
    let revoked = server.token("ada@example.com").await;
    let res = server
        .post_json(
            "/revoke",
            json!({ "refresh_token": token_pair(&revoked).1 }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let listed: Value = server
        .as_browser(&live, Method::GET, "/sessions", None)
        .await
        .json()
        .await
        .unwrap();
    let live_id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .sql(&format!(
            "UPDATE crudauth_sessions SET expires_at = 1 WHERE id <> '{live_id}'"
        ))
        .await;
    let purged = server.auth.purge().await.unwrap();
    // One session, one family and its refresh token.
    assert_eq!(purged, 3);
    assert_eq!(me_status_as_browser(&server, &live).await, StatusCode::OK);
    let res = server
        .post_json("/refresh", json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

on_both_backends!(
    no_credential_made_with_the_old_password_survives_a_change,
    a_rehash_never_writes_an_old_password_back,
    a_password_change_rotates_the_callers_session,
    change_password_guesses_count_against_the_account,
    scopes_removed_from_a_user_leave_their_tokens,
    oversized_identifiers_are_unknown_accounts_with_bounded_rows,
    an_accounts_email_and_username_share_one_budget,
    a_locked_address_never_touches_identifier_counters,
    a_guards_anonymous_outcome_binds_later_extractors,
    deactivation_ends_sessions_and_families,
    revoke_user_ends_every_login,
    purge_deletes_dead_rows_and_keeps_live_ones,
);
