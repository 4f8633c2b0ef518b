//! Cookie sessions end to end, over a real socket, on SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use axum::routing::any;
use crudauth::{CrudAuth, Principal};
use crudauth_tests::{
    Backend, Browser, PASSWORD, Server, assert_error, on_both_backends, set_cookies, start,
    start_app,
};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

/// The example app plus `/thing`, which takes any method and needs a
/// principal: the surface for CSRF tests.
async fn with_thing(backend: Backend) -> Server {
    start_app(
        backend,
        |db| example_web_and_api::auth_builder(db, crudauth_tests::config()),
        |auth: &CrudAuth| {
            async fn thing(user: Principal) -> axum::Json<Value> {
                axum::Json(json!({ "id": user.user_id, "transport": user.transport }))
            }
            axum::Router::new()
                .route("/thing", any(thing))
                .layer(auth.layer())
                .with_state(auth.clone())
        },
    )
    .await
}

async fn register_login_me_logout_round_trip(backend: Backend) {
    let server = start(backend, |b| b).await;
    let id = server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    assert_eq!(browser.user_id, id);
    let me = server.as_browser(&browser, Method::GET, "/me", None).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap(), json!({ "id": id }));
    let logout = server
        .as_browser(&browser, Method::POST, "/logout", Some(&browser.csrf))
        .await;
    assert_eq!(logout.status(), StatusCode::OK);
    let cleared = set_cookies(logout.headers());
    assert_eq!(cleared.len(), 2, "both cookies cleared: {cleared:?}");
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    // The logged-out cookie replayed.
    let replay = server.as_browser(&browser, Method::GET, "/me", None).await;
    assert_error(replay, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn login_matches_email_in_any_case_and_username(backend: Backend) {
    let server = start(backend, |b| b).await;
    let res = server
        .post_json(
            "/register",
            json!({ "email": "Grace@Example.COM", "username": "grace", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["email"], "grace@example.com");
    assert_eq!(body["username"], "grace");
    for name in [
        "grace@example.com",
        "GRACE@example.com",
        "  Grace@Example.Com ",
        "grace",
    ] {
        let browser = server.login(name).await;
        assert_eq!(browser.user_id, body["id"], "login as {name:?}");
    }
    let dup = server
        .post_json(
            "/register",
            json!({ "email": "GRACE@example.com", "password": PASSWORD }),
        )
        .await;
    assert_error(dup, StatusCode::CONFLICT, "already_registered").await;
}

async fn failed_logins_are_byte_identical(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("active@example.com").await;
    server.register("inactive@example.com").await;
    server
        .db
        .execute_unprepared(
            "UPDATE users SET is_active = false WHERE email = 'inactive@example.com'",
        )
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for (user, password) in [
        ("nobody@example.com", PASSWORD),
        ("active@example.com", "wrong password!"),
        ("inactive@example.com", PASSWORD),
    ] {
        let res = server
            .login_with(user, password, None)
            .await
            .expect_err("refused");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let challenge = res.headers().get("www-authenticate").cloned();
        let content_type = res.headers().get("content-type").cloned();
        bodies.push((challenge, content_type, res.bytes().await.unwrap()));
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
    let body: Value = serde_json::from_slice(&bodies[0].2).unwrap();
    assert_eq!(body["code"], "invalid_credentials");
}

async fn csrf_guards_every_unsafe_method(backend: Backend) {
    let server = with_thing(backend).await;
    server.register("ada@example.com").await;
    server.register("eve@example.com").await;
    let ada = server.login("ada@example.com").await;
    let eve = server.login("eve@example.com").await;
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let missing = server
            .as_browser(&ada, method.clone(), "/thing", None)
            .await;
        assert_error(missing, StatusCode::FORBIDDEN, "csrf_failed").await;
        let wrong = server
            .as_browser(
                &ada,
                method.clone(),
                "/thing",
                Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            )
            .await;
        assert_error(wrong, StatusCode::FORBIDDEN, "csrf_failed").await;
        let other = server
            .as_browser(&ada, method.clone(), "/thing", Some(&eve.csrf))
            .await;
        assert_error(other, StatusCode::FORBIDDEN, "csrf_failed").await;
        let valid = server
            .as_browser(&ada, method.clone(), "/thing", Some(&ada.csrf))
            .await;
        assert_eq!(
            valid.status(),
            StatusCode::OK,
            "{method} with a valid token"
        );
        assert_eq!(valid.json::<Value>().await.unwrap()["id"], ada.user_id);
    }
    // The form field works as well as the header.
    let form = server
        .client
        .post(server.url("/thing"))
        .header("cookie", ada.cookie())
        .form(&[("csrf_token", ada.csrf.as_str()), ("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let bad_form = server
        .client
        .post(server.url("/thing"))
        .header("cookie", ada.cookie())
        .form(&[("csrf_token", eve.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_error(bad_form, StatusCode::FORBIDDEN, "csrf_failed").await;
}

async fn safe_methods_need_no_token(backend: Backend) {
    let server = with_thing(backend).await;
    server.register("ada@example.com").await;
    let ada = server.login("ada@example.com").await;
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        let res = server
            .as_browser(&ada, method.clone(), "/thing", None)
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{method}");
    }
}

async fn cross_site_requests_are_refused_even_with_a_valid_token(backend: Backend) {
    let server = start_app(
        backend,
        |db| {
            example_web_and_api::auth_builder(db, crudauth_tests::config())
                .trusted_origins(["https://app.example.com"])
        },
        |_| axum::Router::new(),
    )
    .await;
    server.register("ada@example.com").await;
    let ada = server.login("ada@example.com").await;
    let post = |headers: Vec<(&'static str, String)>| {
        let mut req = server
            .client
            .post(server.url("/api/notes"))
            .header("cookie", ada.cookie())
            .header("x-csrf-token", &ada.csrf)
            .json(&json!({ "text": "hi" }));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        req.send()
    };
    let cross = post(vec![("sec-fetch-site", "cross-site".into())])
        .await
        .unwrap();
    assert_error(cross, StatusCode::FORBIDDEN, "csrf_failed").await;
    let foreign = post(vec![("origin", "https://evil.example".into())])
        .await
        .unwrap();
    assert_error(foreign, StatusCode::FORBIDDEN, "csrf_failed").await;
    let null = post(vec![("origin", "null".into())]).await.unwrap();
    assert_error(null, StatusCode::FORBIDDEN, "csrf_failed").await;
    let host = server.base.trim_start_matches("http://").to_owned();
    let own = post(vec![
        ("origin", format!("http://{host}")),
        ("sec-fetch-site", "same-origin".into()),
    ])
    .await
    .unwrap();
    assert_eq!(own.status(), StatusCode::CREATED);
    let trusted = post(vec![("origin", "https://app.example.com".into())])
        .await
        .unwrap();
    assert_eq!(trusted.status(), StatusCode::CREATED);
    // Login itself refuses a cross-site post.
    let login = server
        .client
        .post(server.url("/login"))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({ "username": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(login, StatusCode::FORBIDDEN, "csrf_failed").await;
    let login = server
        .client
        .post(server.url("/login"))
        .header("origin", "https://evil.example")
        .json(&json!({ "username": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(login, StatusCode::FORBIDDEN, "csrf_failed").await;
}

async fn login_never_adopts_a_presented_session(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let planted = "__Host-session_id=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let fresh = server
        .login_with("ada@example.com", PASSWORD, Some(planted))
        .await
        .unwrap();
    assert!(
        !fresh
            .session
            .ends_with("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    );
    // A real session cookie sent to /login is ended, and a new one issued.
    let first = server.login("ada@example.com").await;
    let second = server
        .login_with("ada@example.com", PASSWORD, Some(&first.session))
        .await
        .unwrap();
    assert_ne!(first.session, second.session);
    assert_ne!(first.csrf, second.csrf, "CSRF token rotates at login");
    let old = server.as_browser(&first, Method::GET, "/me", None).await;
    assert_error(old, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let new = server.as_browser(&second, Method::GET, "/me", None).await;
    assert_eq!(new.status(), StatusCode::OK);
}

async fn garbage_cookies_are_anonymous_never_500(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let ada = server.login("ada@example.com").await;
    let truncated = &ada.session[..ada.session.len() - 5];
    let huge = format!("__Host-session_id={}", "x".repeat(100_000));
    let cases = [
        "__Host-session_id=garbage".to_owned(),
        "__Host-session_id=".to_owned(),
        truncated.to_owned(),
        huge,
        "=;;;==; __Host-session_id".to_owned(),
        "__Host-session_id=%ZZ%00".to_owned(),
        format!("{}x", ada.session),
    ];
    for cookie in cases {
        let res = server
            .client
            .get(server.url("/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        // A cookie that names no session is no credential: anonymous.
        let body = assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        assert!(
            body["detail"].is_string(),
            "cookie of {} bytes",
            cookie.len()
        );
        let post = server
            .client
            .post(server.url("/api/notes"))
            .header("cookie", &cookie)
            .json(&json!({ "text": "x" }))
            .send()
            .await
            .unwrap();
        assert_error(post, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
}

/// Lets `secs` pass for every session, behind crudauth's back (its last
/// use, its creation and its absolute end move into the past), then tells
/// the principal cache, as an application editing these rows would.
async fn let_time_pass(server: &Server, secs: i64) {
    server
        .db
        .execute_unprepared(&format!(
            "UPDATE crudauth_sessions SET last_seen_at = last_seen_at - {secs}, \
             created_at = created_at - {secs}, expires_at = expires_at - {secs}"
        ))
        .await
        .unwrap();
    server.auth.invalidate_user(1).await;
}

/// The session's last use as stored, in seconds before now.
async fn last_use_age(server: &Server) -> i64 {
    let backend = server.db.get_database_backend();
    let row = server
        .db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT MAX(last_seen_at) FROM crudauth_sessions".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    let last: i64 = row.try_get_by_index(0).unwrap();
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - last
}

async fn idle_timeout_expires_a_quiet_session_and_slides_with_use(backend: Backend) {
    let server = start(backend, |b| {
        b.session_timeouts(Duration::from_secs(600), Duration::from_secs(24 * 3600))
    })
    .await;
    server.register("ada@example.com").await;
    let ada = server.login("ada@example.com").await;
    for _ in 0..2 {
        // 590 s of quiet: still within the idle timeout, and this use
        // slides it (the write happens behind the response).
        let_time_pass(&server, 590).await;
        let res = server.as_browser(&ada, Method::GET, "/me", None).await;
        assert_eq!(res.status(), StatusCode::OK, "used within the idle timeout");
        let deadline = Instant::now() + Duration::from_secs(10);
        while last_use_age(&server).await > 5 {
            assert!(Instant::now() < deadline, "the use never slid the timeout");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let_time_pass(&server, 601).await;
    let res = server.as_browser(&ada, Method::GET, "/me", None).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn absolute_timeout_ends_a_busy_session(backend: Backend) {
    let server = start(backend, |b| {
        b.session_timeouts(Duration::from_secs(3600), Duration::from_secs(7200))
    })
    .await;
    server.register("ada@example.com").await;
    let ada = server.login("ada@example.com").await;
    // Used every 50 minutes, so never idle for long...
    for _ in 0..2 {
        let_time_pass(&server, 3000).await;
        let res = server.as_browser(&ada, Method::GET, "/me", None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let deadline = Instant::now() + Duration::from_secs(10);
        while last_use_age(&server).await > 5 {
            assert!(Instant::now() < deadline, "the use never slid the timeout");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // ...but two hours after the login it ends all the same.
    let_time_pass(&server, 1201).await;
    let res = server.as_browser(&ada, Method::GET, "/me", None).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn change_password_revokes_the_other_sessions(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let laptop = server.login("ada@example.com").await;
    let phone = server.login("ada@example.com").await;
    let tokens = server.token("ada@example.com").await;
    let change = |current: &str, new: &str| {
        server
            .client
            .post(server.url("/change-password"))
            .header("cookie", laptop.cookie())
            .header("x-csrf-token", &laptop.csrf)
            .json(&json!({ "current_password": current, "new_password": new }))
            .send()
    };
    assert_error(
        change("not my password", "new password 1").await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_error(
        change(PASSWORD, "short").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    let res = change(PASSWORD, "new password 1").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The laptop goes on under a new session id; its old cookie is dead.
    let renewed = Browser::from_login(res).await;
    assert_eq!(
        server
            .as_browser(&renewed, Method::GET, "/me", None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        server
            .as_browser(&laptop, Method::GET, "/me", None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_error(
        server.as_browser(&phone, Method::GET, "/me", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_error(
        server.get_bearer("/me", access).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert!(
        server
            .login_with("ada@example.com", PASSWORD, None)
            .await
            .is_err()
    );
    assert!(
        server
            .login_with("ada@example.com", "new password 1", None)
            .await
            .is_ok()
    );
}

async fn sessions_are_listed_and_revoked_by_their_owner_only(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    server.register("eve@example.com").await;
    let laptop = server.login("ada@example.com").await;
    let phone = server.login("ada@example.com").await;
    let eve = server.login("eve@example.com").await;
    let list: Vec<Value> = server
        .as_browser(&laptop, Method::GET, "/sessions", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    for key in [
        "id",
        "created_at",
        "last_seen_at",
        "ip",
        "user_agent",
        "current",
    ] {
        assert!(
            list[0].get(key).is_some(),
            "session entry has {key}: {}",
            list[0]
        );
    }
    let other = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Eve cannot see or delete Ada's session: 404, as for an unknown id.
    let res = server
        .as_browser(
            &eve,
            Method::DELETE,
            &format!("/sessions/{other}"),
            Some(&eve.csrf),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = server
        .as_browser(
            &laptop,
            Method::DELETE,
            "/sessions/no-such-session",
            Some(&laptop.csrf),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = server
        .as_browser(&laptop, Method::DELETE, &format!("/sessions/{other}"), None)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = server
        .as_browser(
            &laptop,
            Method::DELETE,
            &format!("/sessions/{other}"),
            Some(&laptop.csrf),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_error(
        server.as_browser(&phone, Method::GET, "/me", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(
        server
            .as_browser(&laptop, Method::GET, "/me", None)
            .await
            .status(),
        StatusCode::OK
    );
    // A bearer token cannot list sessions: the route is session-only.
    let tokens = server.token("ada@example.com").await;
    let res = server
        .get_bearer("/sessions", tokens["access_token"].as_str().unwrap())
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn logout_all_revokes_every_credential(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let laptop = server.login("ada@example.com").await;
    let phone = server.login("ada@example.com").await;
    let tokens = server.token("ada@example.com").await;
    let res = server
        .client
        .post(server.url("/logout-all"))
        .header("cookie", laptop.cookie())
        .header("x-csrf-token", &laptop.csrf)
        .json(&json!({ "keep_current": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["revoked"], 2);
    assert_eq!(
        server
            .as_browser(&laptop, Method::GET, "/me", None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        server
            .as_browser(&phone, Method::GET, "/me", None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        server.get_bearer("/me", access).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn cookies_carry_the_secure_defaults(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let ada = server.login("ada@example.com").await;
    assert_eq!(ada.set_cookies.len(), 2);
    for cookie in &ada.set_cookies {
        assert!(cookie.starts_with("__Host-"), "{cookie}");
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.to_ascii_lowercase().contains("domain"), "{cookie}");
    }
    let session = ada
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-session_id="))
        .unwrap();
    assert!(session.contains("HttpOnly"), "{session}");
    let csrf = ada
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-csrf_token="))
        .unwrap();
    assert!(
        !csrf.contains("HttpOnly"),
        "the page's script reads the CSRF cookie: {csrf}"
    );
    assert!(csrf.starts_with(&format!("__Host-csrf_token={}", ada.csrf)));
    // remember_me makes the cookies persistent.
    let res = server
        .post_json(
            "/login",
            json!({ "username": "ada@example.com", "password": PASSWORD, "remember_me": true }),
        )
        .await;
    let persistent = set_cookies(res.headers());
    assert_eq!(persistent.len(), 2, "both cookies set: {persistent:?}");
    assert!(
        persistent
            .iter()
            .all(|c| c.contains(&format!("Max-Age={}", 30 * 24 * 3600))),
        "{persistent:?}"
    );
    // Plain-http development drops Secure and the prefix.
    let dev = start(backend, |b| {
        b.cookie_policy(crudauth::CookiePolicy::insecure())
    })
    .await;
    dev.register("ada@example.com").await;
    let ada = dev.login("ada@example.com").await;
    assert!(
        ada.set_cookies
            .iter()
            .all(|c| !c.starts_with("__Host-") && !c.contains("Secure")),
        "{:?}",
        ada.set_cookies
    );
    assert_eq!(
        dev.as_browser(&ada, Method::GET, "/me", None)
            .await
            .status(),
        StatusCode::OK
    );
}

async fn bad_bodies_get_json_4xx(backend: Backend) {
    let server = start(backend, |b| b).await;
    let raw = |content_type: &'static str, body: Vec<u8>| {
        server
            .client
            .post(server.url("/register"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_error(
        raw("application/json", b"{\"email\":".to_vec())
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        raw("application/json", b"[1,2]".to_vec()).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    assert_error(
        raw("text/plain", b"hello".to_vec()).await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let big = vec![b'a'; 65 * 1024];
    let res = raw("application/json", big).await.unwrap();
    // The unread rest of the body ends the connection, and the answer says
    // so: a client must not send its next request on it.
    assert_eq!(res.headers()["connection"], "close");
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let invalid = [
        json!({ "email": "not-an-email", "password": PASSWORD }),
        json!({ "email": "a@example.com", "password": "short" }),
        json!({ "email": "a@example.com", "password": "x".repeat(257) }),
        json!({ "email": "a@example.com" }),
        json!({ "email": 5, "password": PASSWORD }),
    ];
    for body in invalid {
        let res = server.post_json("/register", body.clone()).await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    }
    // Forms are accepted wherever a body is read.
    let res = server
        .client
        .post(server.url("/register"))
        .form(&[("email", "form@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = server
        .client
        .post(server.url("/login"))
        .form(&[
            ("username", "form@example.com"),
            ("password", PASSWORD),
            ("remember_me", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_error(
        server
            .client
            .get(server.url("/nowhere"))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        server
            .client
            .get(server.url("/login"))
            .send()
            .await
            .unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

async fn a_browser_session_survives_its_own_use(backend: Backend) {
    // The CSRF token from the login body equals the readable cookie's value,
    // so a page can use either.
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let ada: Browser = server.login("ada@example.com").await;
    let res = server
        .client
        .post(server.url("/api/notes"))
        .header("cookie", ada.cookie())
        .header("x-csrf-token", &ada.csrf)
        .json(&json!({ "text": "hello" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["transport"], "session");
}

async fn the_built_in_me_describes_the_principal(backend: Backend) {
    let server = crudauth_tests::start_router(
        backend,
        |db| example_web_and_api::auth_builder(db, crudauth_tests::config()).me_route(true),
        |auth| auth.router().with_state(auth.clone()),
    )
    .await;
    let res = server
        .post_json(
            "/register",
            json!({ "email": "ada@example.com", "username": "ada", "password": PASSWORD }),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["id"].clone();
    let ada = server.login("ada").await;
    let me: Value = server
        .as_browser(&ada, Method::GET, "/me", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({
            "user_id": id,
            "email": "ada@example.com",
            "username": "ada",
            "is_superuser": false,
            "scopes": ["jobs:read", "jobs:write"],
            "transport": "session",
        })
    );
    let token = server.token("ada").await;
    let me: Value = server
        .get_bearer("/me", token["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["transport"], "bearer");
    assert_eq!(me["user_id"], id);
    let res = server.client.get(server.url("/me")).send().await.unwrap();
    assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // logout-all without keep_current ends this browser's session too.
    let res = server
        .as_browser(&ada, Method::POST, "/logout-all", Some(&ada.csrf))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cleared = set_cookies(res.headers());
    assert_eq!(cleared.len(), 2, "both cookies cleared: {cleared:?}");
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_eq!(res.json::<Value>().await.unwrap()["revoked"], 2);
    assert_eq!(
        server
            .as_browser(&ada, Method::GET, "/me", None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

on_both_backends!(
    the_built_in_me_describes_the_principal,
    register_login_me_logout_round_trip,
    login_matches_email_in_any_case_and_username,
    failed_logins_are_byte_identical,
    csrf_guards_every_unsafe_method,
    safe_methods_need_no_token,
    cross_site_requests_are_refused_even_with_a_valid_token,
    login_never_adopts_a_presented_session,
    garbage_cookies_are_anonymous_never_500,
    idle_timeout_expires_a_quiet_session_and_slides_with_use,
    absolute_timeout_ends_a_busy_session,
    change_password_revokes_the_other_sessions,
    sessions_are_listed_and_revoked_by_their_owner_only,
    logout_all_revokes_every_credential,
    cookies_carry_the_secure_defaults,
    bad_bodies_get_json_4xx,
    a_browser_session_survives_its_own_use,
);
