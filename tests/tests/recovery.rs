//! Account recovery (SPEC section 8): email verification, password reset
//! and email change, delivered through lettre to a real SMTP server on a
//! loopback socket and read back from it (link, headers). Each attack is
//! sent for real, on SQLite and PostgreSQL.

use std::time::Duration;

use crudauth::SmtpSender;
use crudauth_tests::{
    Backend, PASSWORD, Received, Server, SmtpMode, SmtpServer, assert_error, on_both_backends,
    start, token_pair,
};
use reqwest::{Method, Response, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const ORIGIN: &str = "http://app.test";
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn with_mail(backend: Backend, mode: SmtpMode) -> (Server, SmtpServer) {
    with_mail_and(backend, mode, |b| b).await
}

async fn with_mail_and(
    backend: Backend,
    mode: SmtpMode,
    tweak: impl FnOnce(crudauth::CrudAuthBuilder) -> crudauth::CrudAuthBuilder,
) -> (Server, SmtpServer) {
    let smtp = SmtpServer::start(mode).await;
    let sender = SmtpSender::new(&smtp.url(), "crudauth <no-reply@example.com>").unwrap();
    let server = start(backend, move |b| {
        tweak(
            b.public_origin(ORIGIN)
                .email_sender(sender)
                .register_per_hour(50),
        )
    })
    .await;
    (server, smtp)
}

async fn flag(server: &Server, column: &str, email: &str) -> bool {
    let row = server
        .db
        .query_one_raw(Statement::from_string(
            server.db.get_database_backend(),
            format!("SELECT {column} AS v FROM users WHERE email = '{email}'"),
        ))
        .await
        .unwrap()
        .expect("user row");
    row.try_get::<bool>("", "v").unwrap()
}

async fn post(server: &Server, path: &str, body: Value) -> Response {
    server.post_json(path, body).await
}

/// Registers `email` (202 with a sender) and returns its verification mail,
/// the `nth` mail overall.
async fn signup(server: &Server, smtp: &SmtpServer, email: &str, nth: usize) -> Received {
    let res = post(
        server,
        "/register",
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    smtp.wait_for(nth).await.pop().unwrap()
}

/// Every mail sent before this call, waited for on an event rather than a
/// clock: a marker mail (the verification of a fresh registration) is sent
/// after them, and once it has arrived the mails queued before it have
/// been handed to the SMTP server too. The marker is left out.
async fn mails_before_marker(server: &Server, smtp: &SmtpServer) -> Vec<Received> {
    let marker = format!("marker-{}@example.com", uuid::Uuid::new_v4().simple());
    let res = post(
        server,
        "/register",
        json!({ "email": marker, "password": PASSWORD }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let is_marker = |m: &Received| m.to.contains(&marker);
    while !smtp.messages().iter().any(is_marker) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the marker mail never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    smtp.messages()
        .into_iter()
        .filter(|m| !is_marker(m))
        .collect()
}

async fn body(res: Response) -> (StatusCode, String) {
    (res.status(), res.text().await.unwrap())
}

async fn verify_link_arrives_over_smtp_and_verifies_once(backend: Backend) {
    let (server, smtp) = with_mail(backend, SmtpMode::Accept).await;
    let mail = signup(&server, &smtp, "ada@example.com", 1).await;
    assert_eq!(mail.to, vec!["ada@example.com"]);
    assert_eq!(mail.from, "no-reply@example.com");
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Verify your email address")
    );
    assert!(
        mail.header("From")
            .unwrap()
            .contains("no-reply@example.com")
    );
    assert_eq!(mail.header("To").as_deref(), Some("ada@example.com"));
    let link = mail.link().unwrap();
    let token = mail.token().unwrap();
    assert_eq!(link, format!("{ORIGIN}/verify-email?token={token}"));
    assert_eq!(token.len(), 43);
    assert!(!flag(&server, "email_verified", "ada@example.com").await);

    let res = post(&server, "/email/verify-confirm", json!({ "token": token })).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let confirmed: Value = res.json().await.unwrap();
    assert_eq!(confirmed["email_verified"], true);
    assert!(confirmed["user_id"].is_number());
    assert!(flag(&server, "email_verified", "ada@example.com").await);

    // Token reuse.
    let again = post(&server, "/email/verify-confirm", json!({ "token": token })).await;
    assert_error(again, StatusCode::BAD_REQUEST, "invalid_token").await;
    // Garbage and unknown tokens.
    for bad in ["", "short", &"A".repeat(43)] {
        let res = post(&server, "/email/verify-confirm", json!({ "token": bad })).await;
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_token").await;
    }
}

async fn request_routes_answer_identically_whoever_the_address_names(backend: Backend) {
    let (server, smtp) = with_mail(backend, SmtpMode::Accept).await;
    signup(&server, &smtp, "fresh@example.com", 1).await;
    let verified = signup(&server, &smtp, "verified@example.com", 2).await;
    let res = post(
        &server,
        "/email/verify-confirm",
        json!({ "token": verified.token().unwrap() }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    signup(&server, &smtp, "inactive@example.com", 3).await;
    server
        .sql("UPDATE users SET is_active = false WHERE email = 'inactive@example.com'")
        .await;

    for path in ["/email/verify-request", "/password/reset-request"] {
        let mut answers = Vec::new();
        for email in [
            "nobody@example.com",
            "inactive@example.com",
            "verified@example.com",
            "fresh@example.com",
        ] {
            answers.push(body(post(&server, path, json!({ "email": email })).await).await);
        }
        assert_eq!(answers[0].0, StatusCode::ACCEPTED, "{path}");
        assert!(
            answers.iter().all(|a| *a == answers[0]),
            "{path}: {answers:?}"
        );
    }
    // Mails went only where they should: a verification to the unverified
    // account, and resets to the two active ones.
    smtp.wait_for(6).await;
    let mails: Vec<_> = mails_before_marker(&server, &smtp).await[3..].to_vec();
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let to = |m: &Received| (m.to[0].clone(), m.header("Subject").unwrap());
    let mut got: Vec<_> = mails.iter().map(to).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("fresh@example.com".into(), "Reset your password".into()),
            (
                "fresh@example.com".into(),
                "Verify your email address".into()
            ),
            ("verified@example.com".into(), "Reset your password".into()),
        ]
    );

    // /register: a taken email is the same 202 as a new one, and gets a
    // notice instead of a link; a taken username is 409.
    signup(&server, &smtp, "taken@example.com", 8).await;
    let new = body(
        post(
            &server,
            "/register",
            json!({ "email": "new@example.com", "password": PASSWORD, "username": "ada" }),
        )
        .await,
    )
    .await;
    let taken = body(
        post(
            &server,
            "/register",
            json!({ "email": "taken@example.com", "password": PASSWORD }),
        )
        .await,
    )
    .await;
    assert_eq!(new.0, StatusCode::ACCEPTED);
    assert_eq!(new, taken);
    let notice = smtp.to(10, "taken@example.com").await.pop().unwrap();
    assert_eq!(
        notice.header("Subject").as_deref(),
        Some("You already have an account")
    );
    assert!(notice.token().is_none());
    let username = post(
        &server,
        "/register",
        json!({ "email": "other@example.com", "password": PASSWORD, "username": "ada" }),
    )
    .await;
    assert_error(username, StatusCode::CONFLICT, "already_registered").await;
}

async fn privileged_fields_at_register_are_ignored(backend: Backend) {
    let (server, smtp) = with_mail(backend, SmtpMode::Accept).await;
    let res = post(
        &server,
        "/register",
        json!({
            "email": "mallory@example.com", "password": PASSWORD,
            "is_superuser": true, "email_verified": true, "is_active": true,
            "scopes": "admin", "id": 999, "password_hash": "x",
        }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    smtp.wait_for(1).await;
    assert!(!flag(&server, "is_superuser", "mallory@example.com").await);
    assert!(!flag(&server, "email_verified", "mallory@example.com").await);
    let me: Value = server
        .get_bearer("/me", &server.access_token("mallory@example.com").await)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(me["id"], 999);
}

async fn reset_ends_every_session_and_clears_the_lockout(backend: Backend) {
    let (server, smtp) = with_mail(backend, SmtpMode::Accept).await;
    signup(&server, &smtp, "ada@example.com", 1).await;
    let browser = server.login("ada@example.com").await;
    let (access, refresh) = token_pair(&server.token("ada@example.com").await);
    for _ in 0..5 {
        let _ = server
            .login_with("ada@example.com", "wrong password!", None)
            .await;
    }
    let locked = server.login_with("ada@example.com", PASSWORD, None).await;
    assert_eq!(locked.unwrap_err().status(), StatusCode::TOO_MANY_REQUESTS);

    let res = post(
        &server,
        "/password/reset-request",
        json!({ "email": "ada@example.com" }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = smtp.wait_for(2).await.pop().unwrap();
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Reset your password")
    );
    let link = mail.link().unwrap();
    assert!(
        link.starts_with(&format!("{ORIGIN}/reset-password?token=")),
        "{link}"
    );
    let token = mail.token().unwrap();

    let short = post(
        &server,
        "/password/reset-confirm",
        json!({ "token": token, "new_password": "short" }),
    )
    .await;
    assert_error(short, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    let res = post(
        &server,
        "/password/reset-confirm",
        json!({ "token": token, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");

    // Every credential from before is dead.
    let me = server
        .as_browser(&browser, Method::GET, "/me", None)
        .await
        .status();
    assert_eq!(me, StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.get_bearer("/me", &access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let refreshed = post(&server, "/refresh", json!({ "refresh_token": refresh })).await;
    assert_error(refreshed, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // The lockout is cleared, and only the new password works.
    assert!(
        server
            .login_with("ada@example.com", PASSWORD, None)
            .await
            .is_err()
    );
    assert!(
        server
            .login_with("ada@example.com", NEW_PASSWORD, None)
            .await
            .is_ok()
    );
    // Token reuse.
    let again = post(
        &server,
        "/password/reset-confirm",
        json!({ "token": token, "new_password": "yet another passphrase" }),
    )
    .await;
    assert_error(again, StatusCode::BAD_REQUEST, "invalid_token").await;
}

async fn tokens_are_purpose_bound_superseded_and_expire(backend: Backend) {
    let (server, smtp) = with_mail(backend, SmtpMode::Accept).await;
    let verify = signup(&server, &smtp, "ada@example.com", 1).await;
    let verify_token = verify.token().unwrap();
    // A token of another purpose.
    let res = post(
        &server,
        "/password/reset-confirm",
        json!({ "token": verify_token, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_token").await;
    let res = post(
        &server,
        "/email/change-confirm",
        json!({ "token": verify_token }),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_token").await;

    // A second request voids the first. Mail leaves off the request path,
    // several at a time: wait for each before the next request, so that the
    // order of arrival is the order of the requests.
    for n in [2, 3] {
        let res = post(
            &server,
            "/password/reset-request",
            json!({ "email": "ada@example.com" }),
        )
        .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        smtp.wait_for(n).await;
    }
    let mails = smtp.wait_for(3).await;
    let (first, second) = (mails[1].token().unwrap(), mails[2].token().unwrap());
    assert_ne!(first, second);
    let res = post(
        &server,
        "/password/reset-confirm",
        json!({ "token": first, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_token").await;

    // An expired token (aged in SQL), which the purge then deletes.
    server
        .sql("UPDATE crudauth_one_time_tokens SET expires_at = created_at - 1")
        .await;
    for (path, token) in [
        ("/password/reset-confirm", &second),
        ("/email/verify-confirm", &verify_token),
    ] {
        let res = post(
            &server,
            path,
            json!({ "token": token, "new_password": NEW_PASSWORD }),
        )
        .await;
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_token").await;
    }
    assert!(server.auth.purge().await.unwrap() >= 2);
    let left = server
        .db
        .query_one_raw(Statement::from_string(
            server.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM crudauth_one_time_tokens",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(left, 0);
}

async fn links_die_when_the_password_or_email_changes(backend: Backend) {
    let (server, smtp) = with_mail(backend, SmtpMode::Accept).await;
    let verify = signup(&server, &smtp, "ada@example.com", 1).await;
    let res = post(
        &server,
        "/password/reset-request",
        json!({ "email": "ada@example.com" }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let reset = smtp.wait_for(2).await.pop().unwrap().token().unwrap();
    let access = server.access_token("ada@example.com").await;
    let change = |new_email: &'static str, password: &'static str| {
        server
            .with_bearer(Method::POST, "/email/change-request", &access)
            .json(&json!({ "new_email": new_email, "password": password }))
            .send()
    };
    let res = change("ada2@example.com", PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let change_token = smtp.wait_for(3).await.pop().unwrap().token().unwrap();

    // The password changes (straight in the table, as an admin tool would):
    // the reset and change links die; the verify link lives on.
    let hash = crudauth::hash_password_blocking(NEW_PASSWORD);
    server
        .sql(&format!(
            "UPDATE users SET password_hash = '{hash}' WHERE email = 'ada@example.com'"
        ))
        .await;
    let res = post(
        &server,
        "/password/reset-confirm",
        json!({ "token": reset, "new_password": "another passphrase" }),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_token").await;
    let res = post(
        &server,
        "/email/change-confirm",
        json!({ "token": change_token }),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_token").await;

    // The email changes: the verify link (bound to the old address) dies.
    server
        .sql("UPDATE users SET email = 'ada3@example.com' WHERE email = 'ada@example.com'")
        .await;
    let res = post(
        &server,
        "/email/verify-confirm",
        json!({ "token": verify.token().unwrap() }),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_token").await;
}

async fn email_change_confirms_the_new_address_and_tells_the_old(backend: Backend) {
    let (server, smtp) = with_mail(backend, SmtpMode::Accept).await;
    signup(&server, &smtp, "ada@example.com", 1).await;
    let access = server.access_token("ada@example.com").await;
    let change = |new_email: &'static str, password: &'static str| {
        server
            .with_bearer(Method::POST, "/email/change-request", &access)
            .json(&json!({ "new_email": new_email, "password": password }))
            .send()
    };
    let wrong = change("new@example.com", "not my password").await.unwrap();
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let injected = change("new@example.com\r\nBcc: eve@evil.example", PASSWORD)
        .await
        .unwrap();
    assert_error(injected, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    // A session needs the CSRF token.
    let browser = server.login("ada@example.com").await;
    let no_csrf = server
        .client
        .post(server.url("/email/change-request"))
        .header("cookie", browser.cookie())
        .json(&json!({ "new_email": "new@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(no_csrf, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = server
        .with_cookie(Method::POST, "/email/change-request", &browser)
        .json(&json!({ "new_email": "new@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = smtp.wait_for(2).await.pop().unwrap();
    assert_eq!(mail.to, vec!["new@example.com"]);
    let link = mail.link().unwrap();
    assert!(
        link.starts_with(&format!("{ORIGIN}/confirm-email?token=")),
        "{link}"
    );
    let token = mail.token().unwrap();
    let res = post(&server, "/email/change-confirm", json!({ "token": token })).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap()["email"],
        "new@example.com"
    );
    let notice = smtp.to(3, "ada@example.com").await.pop().unwrap();
    assert_eq!(
        notice.header("Subject").as_deref(),
        Some("Your email address was changed")
    );
    assert!(notice.token().is_none());
    assert!(flag(&server, "email_verified", "new@example.com").await);
    assert!(
        server
            .login_with("new@example.com", PASSWORD, None)
            .await
            .is_ok()
    );
    let again = post(&server, "/email/change-confirm", json!({ "token": token })).await;
    assert_error(again, StatusCode::BAD_REQUEST, "invalid_token").await;

    // An address taken between request and confirm: 409.
    let res = change("taken@example.com", PASSWORD).await.unwrap();
    // The bearer token survived: an email change ends no session.
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let token = smtp.wait_for(4).await.pop().unwrap().token().unwrap();
    signup(&server, &smtp, "taken@example.com", 5).await;
    let res = post(&server, "/email/change-confirm", json!({ "token": token })).await;
    assert_error(res, StatusCode::CONFLICT, "already_registered").await;
}

async fn header_injection_through_an_address_is_refused(backend: Backend) {
    let (server, smtp) = with_mail(backend, SmtpMode::Accept).await;
    for evil in [
        "ada@example.com\r\nBcc: eve@evil.example",
        "ada@example.com\nSubject: hi",
        "ada@example.com\rX: y",
    ] {
        for path in ["/password/reset-request", "/email/verify-request"] {
            let res = post(&server, path, json!({ "email": evil })).await;
            assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
        }
        let res = post(
            &server,
            "/register",
            json!({ "email": evil, "password": PASSWORD }),
        )
        .await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    }
    assert!(mails_before_marker(&server, &smtp).await.is_empty());
}

async fn an_inactive_accounts_outstanding_link_is_refused(backend: Backend) {
    let (server, smtp) = with_mail(backend, SmtpMode::Accept).await;
    let verify = signup(&server, &smtp, "ada@example.com", 1).await;
    let res = post(
        &server,
        "/password/reset-request",
        json!({ "email": "ada@example.com" }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let reset = smtp.wait_for(2).await.pop().unwrap().token().unwrap();
    server
        .sql("UPDATE users SET is_active = false WHERE email = 'ada@example.com'")
        .await;
    let res = post(
        &server,
        "/password/reset-confirm",
        json!({ "token": reset, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_token").await;
    let res = post(
        &server,
        "/email/verify-confirm",
        json!({ "token": verify.token().unwrap() }),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_token").await;
}

async fn requests_are_throttled_per_ip_and_per_address(backend: Backend) {
    let (server, smtp) = with_mail_and(backend, SmtpMode::Accept, |b| b.recovery_per_hour(6)).await;
    signup(&server, &smtp, "ada@example.com", 1).await;
    // Per address: 3 mails an hour (the signup's verification was one),
    // then silently nothing.
    let mut answers = Vec::new();
    for _ in 0..4 {
        let res = post(
            &server,
            "/password/reset-request",
            json!({ "email": "ada@example.com" }),
        )
        .await;
        answers.push(body(res).await);
    }
    assert!(answers.iter().all(|a| *a == answers[0]));
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    smtp.wait_for(3).await;
    assert_eq!(mails_before_marker(&server, &smtp).await.len(), 3);
    // Per IP: the limit (6) reached, 429.
    for _ in 0..2 {
        let res = post(
            &server,
            "/email/verify-request",
            json!({ "email": "someone@example.com" }),
        )
        .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let res = post(
        &server,
        "/email/verify-request",
        json!({ "email": "someone@example.com" }),
    )
    .await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

/// A relay that refuses every message, or one that never answers: the
/// answers are the same as with a working one, and they do not wait for
/// the mail. With the hung relay this is shown by the connection itself:
/// each answer arrives while crudauth's sender is still holding its
/// connection open, a send that cannot have finished.
async fn a_failing_or_hung_mail_server_changes_no_response(backend: Backend) {
    for mode in [SmtpMode::Fail, SmtpMode::Hang] {
        let (server, smtp) = with_mail(backend, mode).await;
        let (registered, ()) = tokio::join!(
            post(
                &server,
                "/register",
                json!({ "email": "ada@example.com", "password": PASSWORD }),
            ),
            async {
                if mode == SmtpMode::Hang {
                    // The verification mail's send begins...
                    smtp.wait_for_connection().await;
                }
            }
        );
        assert_eq!(registered.status(), StatusCode::ACCEPTED, "{mode:?}");
        let known = body(
            post(
                &server,
                "/password/reset-request",
                json!({ "email": "ada@example.com" }),
            )
            .await,
        )
        .await;
        let unknown = body(
            post(
                &server,
                "/password/reset-request",
                json!({ "email": "nobody@example.com" }),
            )
            .await,
        )
        .await;
        assert_eq!(known, unknown, "{mode:?}");
        assert_eq!(known.0, StatusCode::ACCEPTED);
        if mode == SmtpMode::Hang {
            // ...and has not ended: every answer came while it was held.
            assert!(smtp.open_connections() > 0, "the sender gave up first");
        }
        assert!(smtp.messages().is_empty(), "{mode:?}: a mail went through");
    }
}

on_both_backends!(
    verify_link_arrives_over_smtp_and_verifies_once,
    request_routes_answer_identically_whoever_the_address_names,
    privileged_fields_at_register_are_ignored,
    reset_ends_every_session_and_clears_the_lockout,
    tokens_are_purpose_bound_superseded_and_expire,
    links_die_when_the_password_or_email_changes,
    email_change_confirms_the_new_address_and_tells_the_old,
    header_injection_through_an_address_is_refused,
    an_inactive_accounts_outstanding_link_is_refused,
    requests_are_throttled_per_ip_and_per_address,
    a_failing_or_hung_mail_server_changes_no_response,
);
