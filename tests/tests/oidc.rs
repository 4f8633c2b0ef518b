//! Sign in with an OpenID provider (SPEC section 9) against a real provider
//! (the certified `oidc-provider` package on loopback), over real HTTP with
//! a cookie-keeping client that follows the redirects a browser would.
//! The ID-token attacks the real provider cannot produce (it signs
//! correctly) are pinned by crudauth's unit tests of its validator.

use crudauth::{CrudAuthBuilder, PasswordPolicy};
use crudauth_tests::oidc_browser::{Jar, Setup, setup, setup_with};
use crudauth_tests::{
    Backend, CLIENT_ID, CLIENT_SECRET, PASSWORD, PUBLIC_CLIENT_ID, TestProvider, assert_error,
    on_both_backends, set_cookies,
};
use reqwest::header::{ACCEPT, COOKIE};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

async fn first_sign_in_creates_a_verified_account_and_the_next_signs_into_it(backend: Backend) {
    let Some(s) = setup(backend, &[("alice", "alice@example.com", true)]).await else {
        return;
    };
    let mut jar = Jar::default();
    let callback = s.to_callback(&mut jar, "", "alice").await;
    let (landing, hop) = s.finish(&mut jar, &callback).await;
    assert_eq!(landing, "/");
    assert_eq!(hop.status, StatusCode::FOUND);
    assert_eq!(hop.cache_control.as_deref(), Some("no-store"));
    assert!(
        jar.get(&s.base, "__Host-oauth_state").is_none(),
        "flow cookie cleared"
    );
    let me: Value = s.me(&mut jar).await.json().await.unwrap();
    assert_eq!(me["email"], "alice@example.com");
    let verified = s
        .count("SELECT COUNT(*) FROM users WHERE email = 'alice@example.com' AND email_verified = true")
        .await;
    assert_eq!(verified, 1);
    let listed: Value = s
        .get(&mut jar, &format!("{}/oauth/identities", s.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["provider"], "test");
    assert_eq!(listed[0]["subject"], "alice");
    // A second sign-in, from another browser, opens the same account.
    let mut other = Jar::default();
    assert_eq!(s.sign_in(&mut other, "", "alice").await, "/");
    let again: Value = s.me(&mut other).await.json().await.unwrap();
    assert_eq!(again["user_id"], me["user_id"]);
    assert_eq!(s.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_identities").await, 1);
    // The new account has no password to sign in with.
    assert_error(
        s.password_login("alice@example.com").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

async fn the_last_way_in_cannot_be_unlinked_until_a_password_is_set(backend: Backend) {
    let Some(s) = setup(backend, &[("alice", "alice@example.com", true)]).await else {
        return;
    };
    let mut jar = Jar::default();
    s.sign_in(&mut jar, "", "alice").await;
    let del = reqwest::Method::DELETE;
    assert_error(
        s.send(&mut jar, del.clone(), "/oauth/identities/test", json!({}))
            .await,
        StatusCode::CONFLICT,
        "last_sign_in_method",
    )
    .await;
    assert_error(
        s.send(&mut jar, del.clone(), "/oauth/identities/other", json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let res = s
        .send(
            &mut jar,
            reqwest::Method::POST,
            "/set-password",
            json!({ "new_password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_error(
        s.send(
            &mut jar,
            reqwest::Method::POST,
            "/set-password",
            json!({ "new_password": PASSWORD }),
        )
        .await,
        StatusCode::CONFLICT,
        "password_exists",
    )
    .await;
    assert_eq!(
        s.password_login("alice@example.com").await.status(),
        StatusCode::OK
    );
    let res = s
        .send(&mut jar, del, "/oauth/identities/test", json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_identities").await, 0);
    // Without the CSRF token, no unlink.
    let url = format!("{}/set-password", s.base);
    let res = s
        .server
        .client
        .post(&url)
        .header(COOKIE, jar.header(&Url::parse(&url).unwrap()))
        .json(&json!({"new_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
}

/// Set-password applies the password policy like every route that sets a
/// password, and an account a provider made went through `new_user`.
async fn set_password_names_the_broken_policy_rule(backend: Backend) {
    fn tweak(builder: CrudAuthBuilder) -> CrudAuthBuilder {
        let policy = PasswordPolicy::default()
            .require_upper()
            .require_digit()
            .require_symbol()
            .validator(|password, user| match user.email {
                Some(email) if password.to_lowercase().contains(&email.to_lowercase()) => {
                    Err("must not contain the email address")
                }
                _ => Ok(()),
            });
        builder.password_policy(policy).new_user(
            |new, row: &mut example_web_and_api::user::ActiveModel| {
                let name = new.email.and_then(|e| e.split('@').next());
                row.display_name = sea_orm::ActiveValue::Set(name.map(str::to_owned));
            },
        )
    }
    let list = [("alice", "alice@example.com", true)];
    let Some(s) = setup_with(backend, &list, (CLIENT_ID, Some(CLIENT_SECRET)), tweak).await else {
        return;
    };
    let mut jar = Jar::default();
    s.sign_in(&mut jar, "", "alice").await;
    let named = "SELECT COUNT(*) FROM users WHERE display_name = 'alice'";
    assert_eq!(s.count(named).await, 1);
    for (password, rule) in [
        ("Short-1", "must be at least 8 characters"),
        ("no-upper-case-1", "must contain an uppercase letter"),
        ("No-digit-here", "must contain a digit"),
        ("No symbol here 1", "must contain a symbol"),
        (
            "Me-alice@example.com-1",
            "must not contain the email address",
        ),
    ] {
        let res = s
            .send(
                &mut jar,
                reqwest::Method::POST,
                "/set-password",
                json!({ "new_password": password }),
            )
            .await;
        let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
        assert_eq!(body["detail"], format!("new_password: {rule}"));
    }
    let res = s
        .send(
            &mut jar,
            reqwest::Method::POST,
            "/set-password",
            json!({ "new_password": "Alice-in-Wonderland-1" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn a_verified_local_account_is_linked_and_keeps_its_password(backend: Backend) {
    let Some(s) = setup(backend, &[("bob", "Bob@Example.com", true)]).await else {
        return;
    };
    let registered = s.server.register("bob@example.com").await;
    s.sql("UPDATE users SET email_verified = true").await;
    let before = s.password_login("bob@example.com").await;
    let old_session = crudauth_tests::Browser::from_login(before).await;
    let mut jar = Jar::default();
    assert_eq!(s.sign_in(&mut jar, "", "bob").await, "/");
    let me: Value = s.me(&mut jar).await.json().await.unwrap();
    assert_eq!(me["user_id"], registered);
    assert_eq!(
        s.password_login("bob@example.com").await.status(),
        StatusCode::OK
    );
    let res = s
        .server
        .client
        .get(s.server.url("/me"))
        .header(COOKIE, old_session.cookie())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a link ends no session");
}

async fn claiming_an_unverified_local_account_ends_its_password_and_sessions(backend: Backend) {
    let Some(s) = setup(backend, &[("carol", "carol@example.com", true)]).await else {
        return;
    };
    // Someone registered Carol's address first and never verified it.
    let registered = s.server.register("carol@example.com").await;
    let squatter =
        crudauth_tests::Browser::from_login(s.password_login("carol@example.com").await).await;
    let mut jar = Jar::default();
    assert_eq!(s.sign_in(&mut jar, "", "carol").await, "/");
    let me: Value = s.me(&mut jar).await.json().await.unwrap();
    assert_eq!(me["user_id"], registered);
    assert_error(
        s.password_login("carol@example.com").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let res = s
        .server
        .client
        .get(s.server.url("/me"))
        .header(COOKIE, squatter.cookie())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the squatter's session ended"
    );
    assert_eq!(
        s.count("SELECT COUNT(*) FROM users WHERE email_verified = true")
            .await,
        1
    );
}

async fn an_unverified_provider_email_neither_links_nor_creates(backend: Backend) {
    let Some(s) = setup(
        backend,
        &[
            ("dave", "dave@example.com", false),
            ("nobody", "new@example.com", false),
        ],
    )
    .await
    else {
        return;
    };
    s.server.register("dave@example.com").await;
    let mut jar = Jar::default();
    assert_eq!(
        s.sign_in(&mut jar, "", "dave").await,
        "/?error=email_unverified"
    );
    assert_eq!(
        s.sign_in(&mut jar, "", "nobody").await,
        "/?error=email_unverified"
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_identities").await, 0);
    assert_eq!(s.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(
        s.password_login("dave@example.com").await.status(),
        StatusCode::OK
    );
    assert_eq!(s.me(&mut jar).await.status(), StatusCode::UNAUTHORIZED);
}

async fn an_account_linked_to_another_subject_of_the_provider_is_refused(backend: Backend) {
    let Some(s) = setup(
        backend,
        &[
            ("eve1", "eve@example.com", true),
            ("eve2", "eve@example.com", true),
        ],
    )
    .await
    else {
        return;
    };
    let mut jar = Jar::default();
    assert_eq!(s.sign_in(&mut jar, "", "eve1").await, "/");
    let mut other = Jar::default();
    assert_eq!(
        s.sign_in(&mut other, "", "eve2").await,
        "/?error=provider_already_linked"
    );
    assert_eq!(s.me(&mut other).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_identities").await, 1);
}

async fn an_inactive_account_gets_account_inactive_and_nothing_is_written(backend: Backend) {
    let Some(s) = setup(backend, &[("frank", "frank@example.com", true)]).await else {
        return;
    };
    s.server.register("frank@example.com").await;
    s.sql("UPDATE users SET is_active = false").await;
    let mut jar = Jar::default();
    assert_eq!(
        s.sign_in(&mut jar, "", "frank").await,
        "/?error=account_inactive"
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_identities").await, 0);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM users WHERE email_verified = false")
            .await,
        1
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_sessions").await, 0);
    // A linked account made inactive later is refused too.
    s.sql("UPDATE users SET is_active = true, email_verified = true")
        .await;
    assert_eq!(s.sign_in(&mut jar, "", "frank").await, "/");
    s.sql("UPDATE users SET is_active = false").await;
    let mut other = Jar::default();
    assert_eq!(
        s.sign_in(&mut other, "", "frank").await,
        "/?error=account_inactive"
    );
}

async fn a_callback_without_this_browsers_state_cookie_is_refused(backend: Backend) {
    let Some(s) = setup(backend, &[("alice", "alice@example.com", true)]).await else {
        return;
    };
    let mut victim = Jar::default();
    let callback = s.to_callback(&mut victim, "", "alice").await;
    // No state cookie at all (the attacker's callback URL in a fresh browser).
    let mut fresh = Jar::default();
    assert_eq!(
        s.finish(&mut fresh, &callback).await.0,
        "/?error=invalid_state"
    );
    // A state cookie of another flow.
    let mut attacker = Jar::default();
    let _ = s.to_callback(&mut attacker, "", "alice").await;
    assert_eq!(
        s.finish(&mut attacker, &callback).await.0,
        "/?error=invalid_state"
    );
    // A JSON client gets the error as JSON.
    let res = s
        .server
        .client
        .get(&callback)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_state").await;
    // A forged cookie.
    let mut forged = Jar::default();
    forged.set(&s.base, "__Host-oauth_state", "eyJwIjoidGVzdCJ9.AAAA");
    assert_eq!(
        s.finish(&mut forged, &callback).await.0,
        "/?error=invalid_state"
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_sessions").await, 0);
    // The victim's own browser still completes its flow.
    assert_eq!(s.finish(&mut victim, &callback).await.0, "/");
}

async fn a_replayed_callback_is_refused(backend: Backend) {
    let Some(s) = setup(backend, &[("alice", "alice@example.com", true)]).await else {
        return;
    };
    let mut jar = Jar::default();
    let callback = s.to_callback(&mut jar, "", "alice").await;
    let flow = jar.get(&s.base, "__Host-oauth_state").expect("flow cookie");
    assert_eq!(s.finish(&mut jar, &callback).await.0, "/");
    // The same browser again: its flow cookie is gone.
    assert_eq!(
        s.finish(&mut jar, &callback).await.0,
        "/?error=invalid_state"
    );
    // With the flow cookie kept: the provider refuses the used code.
    let mut thief = Jar::default();
    thief.set(&s.base, "__Host-oauth_state", &flow);
    assert_eq!(
        s.finish(&mut thief, &callback).await.0,
        "/?error=oauth_failed"
    );
    assert_eq!(s.me(&mut thief).await.status(), StatusCode::UNAUTHORIZED);
}

async fn redirect_to_is_kept_only_as_a_same_origin_path(backend: Backend) {
    let Some(s) = setup(backend, &[("alice", "alice@example.com", true)]).await else {
        return;
    };
    for (target, landing) in [
        ("%2F%2Fevil.example", "/"),
        ("https%3A%2F%2Fevil.example", "/"),
        ("%2F%5Cevil.example", "/"),
        ("%2Faccount%3Ftab%3D1", "/account?tab=1"),
    ] {
        let mut jar = Jar::default();
        assert_eq!(
            s.sign_in(&mut jar, &format!("?redirect_to={target}"), "alice")
                .await,
            landing,
            "{target}"
        );
    }
}

async fn unknown_providers_are_404_and_authorize_is_throttled(backend: Backend) {
    let Some(s) = setup(backend, &[]).await else {
        return;
    };
    for path in [
        "/oauth/nope/authorize",
        "/oauth/nope/callback?code=x&state=y",
    ] {
        let res = s
            .server
            .client
            .get(s.server.url(path))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
    for _ in 0..30 {
        let res = s
            .server
            .client
            .get(s.server.url("/oauth/test/authorize"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        let cookie = set_cookies(res.headers()).join("\n");
        assert!(
            cookie.contains("__Host-oauth_state=")
                && cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Max-Age=600"),
            "{cookie}"
        );
    }
    let res = s
        .server
        .client
        .get(s.server.url("/oauth/test/authorize"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

async fn a_provider_that_is_down_gives_oauth_failed(backend: Backend) {
    let Some(s) = setup(backend, &[("alice", "alice@example.com", true)]).await else {
        return;
    };
    let mut jar = Jar::default();
    let callback = s.to_callback(&mut jar, "", "alice").await;
    let Setup {
        server,
        provider,
        base,
    } = s;
    drop(provider);
    let s = Setup {
        server,
        provider: TestProvider::start(&json!({}), &[]).unwrap(),
        base,
    };
    assert_eq!(
        s.finish(&mut jar, &callback).await.0,
        "/?error=oauth_failed"
    );
}

async fn a_public_client_signs_in_with_pkce_alone(backend: Backend) {
    let Some(s) = setup_with(
        backend,
        &[("alice", "alice@example.com", true)],
        (PUBLIC_CLIENT_ID, None),
        |b| b,
    )
    .await
    else {
        return;
    };
    let mut jar = Jar::default();
    assert_eq!(s.sign_in(&mut jar, "", "alice").await, "/");
    assert_eq!(s.me(&mut jar).await.status(), StatusCode::OK);
}

on_both_backends!(
    first_sign_in_creates_a_verified_account_and_the_next_signs_into_it,
    the_last_way_in_cannot_be_unlinked_until_a_password_is_set,
    set_password_names_the_broken_policy_rule,
    a_verified_local_account_is_linked_and_keeps_its_password,
    claiming_an_unverified_local_account_ends_its_password_and_sessions,
    an_unverified_provider_email_neither_links_nor_creates,
    an_account_linked_to_another_subject_of_the_provider_is_refused,
    an_inactive_account_gets_account_inactive_and_nothing_is_written,
    a_callback_without_this_browsers_state_cookie_is_refused,
    a_replayed_callback_is_refused,
    redirect_to_is_kept_only_as_a_same_origin_path,
    unknown_providers_are_404_and_authorize_is_throttled,
    a_provider_that_is_down_gives_oauth_failed,
    a_public_client_signs_in_with_pkce_alone,
);
