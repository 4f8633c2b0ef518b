//! The registration schema and the password policy (SPEC section 8): the
//! columns a client may set at `/register`, read as their types; the
//! `new_user` hook; `build()` refusing privileged and unknown columns; the
//! policy on every route that sets a password; NFKC normalisation with the
//! rehash of hashes made before it; and the configurable link paths, read
//! from mail delivered to a real SMTP server. On SQLite and PostgreSQL.

use crudauth::cli::Command;
use crudauth::{ConfigError, CrudAuthBuilder, PasswordPolicy, SmtpSender};
use crudauth_tests::{
    Backend, Server, SmtpMode, SmtpServer, assert_error, config, on_both_backends, start,
};
use example_web_and_api::user;
use reqwest::{Method, StatusCode};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

/// Passes [`strict`]: upper, lower, digit, symbol, no email inside.
const GOOD: &str = "Correct-horse-7";

/// Every built-in rule, and one of the application's own.
fn strict() -> PasswordPolicy {
    PasswordPolicy::default()
        .require_upper()
        .require_lower()
        .require_digit()
        .require_symbol()
        .validator(|password, user| {
            let local = user.email.and_then(|e| e.split('@').next()).unwrap_or("");
            if !local.is_empty() && password.to_lowercase().contains(&local.to_lowercase()) {
                Err("must not contain the email address")
            } else {
                Ok(())
            }
        })
}

/// Passwords for `ada@example.com` that break one rule each, and the rule.
const BROKEN: [(&str, &str); 7] = [
    ("Sh0rt-", "must be at least 8 characters"),
    ("correct-horse-7", "must contain an uppercase letter"),
    ("CORRECT-HORSE-7", "must contain a lowercase letter"),
    ("Correct-horse-x", "must contain a digit"),
    ("Correct horse 7", "must contain a symbol"),
    ("Ada-was-here-7", "must not contain the email address"),
    (
        "Ａｄａ-ｗａｓ-ｈｅｒｅ-７",
        "must not contain the email address",
    ),
];

async fn row(server: &Server, email: &str) -> user::Model {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&server.db)
        .await
        .unwrap()
        .expect("user row")
}

async fn assert_invalid(res: reqwest::Response, detail: &str) {
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert_eq!(body["detail"], detail);
}

async fn allowlisted_fields_are_stored_as_their_types_and_others_ignored(backend: Backend) {
    let server = start(backend, |b| b).await;
    let res = server
        .post_json(
            "/register",
            json!({
                "email": "ada@example.com",
                "password": "correct horse battery",
                "display_name": "Ada L.",
                // Not allowlisted: privileged columns, and one the table lacks.
                "is_superuser": true,
                "email_verified": true,
                "is_active": false,
                "scopes": "admin",
                "id": 999,
                "nickname": "ignored",
            }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let stored = row(&server, "ada@example.com").await;
    assert_eq!(stored.display_name.as_deref(), Some("Ada L."));
    assert!(!stored.is_superuser && !stored.email_verified && stored.is_active);
    assert_eq!(stored.scopes, "jobs:read jobs:write");
    assert_ne!(stored.id, 999);
    // An explicit null is the column's null; leaving it out is too.
    let res = server
        .post_json(
            "/register",
            json!({ "email": "null@example.com", "password": "correct horse battery",
                    "display_name": null }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(row(&server, "null@example.com").await.display_name, None);

    for wrong in [
        json!(42),
        json!(true),
        json!(["Ada"]),
        json!({ "name": "Ada" }),
    ] {
        let res = server
            .post_json(
                "/register",
                json!({ "email": "typed@example.com", "password": "correct horse battery",
                        "display_name": wrong }),
            )
            .await;
        assert_invalid(res, "display_name: must be a string").await;
    }
    // PostgreSQL text cannot hold NUL: refused alike on both backends.
    let res = server
        .post_json(
            "/register",
            json!({ "email": "typed@example.com", "password": "correct horse battery",
                    "display_name": "A\u{0}da" }),
        )
        .await;
    assert_invalid(res, "display_name: must be a string without NUL characters").await;
    let none = user::Entity::find()
        .filter(user::Column::Email.eq("typed@example.com"))
        .one(&server.db)
        .await
        .unwrap();
    assert!(none.is_none(), "a refused registration wrote nothing");
}

async fn the_new_user_hook_sets_server_values_over_the_clients(backend: Backend) {
    let server = start(backend, |b| {
        b.new_user(|new, row: &mut user::ActiveModel| {
            let email = new.email.unwrap_or_default();
            if email.ends_with("@staff.example.com") {
                row.scopes = Set("jobs:read jobs:write admin".to_owned());
                row.display_name = Set(Some("Staff".to_owned()));
            }
        })
    })
    .await;
    for (email, name) in [
        ("bob@staff.example.com", "Bobby"),
        ("eve@example.com", "Eve"),
    ] {
        let res = server
            .post_json(
                "/register",
                json!({ "email": email, "password": "correct horse battery",
                        "display_name": name }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let staff = row(&server, "bob@staff.example.com").await;
    assert_eq!(staff.display_name.as_deref(), Some("Staff"));
    assert_eq!(staff.scopes, "jobs:read jobs:write admin");
    let other = row(&server, "eve@example.com").await;
    assert_eq!(other.display_name.as_deref(), Some("Eve"));
    assert_eq!(other.scopes, "jobs:read jobs:write");
}

async fn builder() -> CrudAuthBuilder {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    example_web_and_api::auth_builder(db, config())
}

#[tokio::test]
async fn build_refuses_privileged_register_fields_naming_them_and_the_fix() {
    for field in [
        "id",
        "password_hash",
        "is_active",
        "is_superuser",
        "email_verified",
        "scopes",
    ] {
        let err = builder()
            .await
            .register_fields(["display_name", field])
            .build()
            .unwrap_err();
        let ConfigError::RegisterField {
            field: named,
            reason,
        } = &err
        else {
            panic!("expected RegisterField for {field}, got {err:?}");
        };
        assert_eq!(named, field);
        assert!(reason.contains("privileged"), "{reason}");
        assert!(err.to_string().contains(".new_user("), "{err}");
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[tokio::test]
async fn build_refuses_unknown_and_already_read_register_fields() {
    let err = builder()
        .await
        .register_fields(["dispaly_name"])
        .build()
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ConfigError::RegisterField { .. }), "{err:?}");
    assert!(message.contains("\"dispaly_name\""), "{message}");
    assert!(message.contains("no such column"), "{message}");
    assert!(
        message.contains("display_name"),
        "the columns are listed: {message}"
    );
    let err = builder()
        .await
        .register_fields(["email"])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("reads it already"), "{err}");
}

#[tokio::test]
async fn build_refuses_a_new_user_hook_for_another_entity() {
    #[derive(Debug)]
    struct NotTheUser;
    let err = builder()
        .await
        .new_user(|_, _: &mut NotTheUser| {})
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                setting: "new_user",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn build_refuses_impossible_policies_and_link_paths_that_are_not_paths() {
    let err = builder()
        .await
        .password_policy(PasswordPolicy::default().min_len(30).max_len(20))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                setting: "password_policy",
                ..
            }
        ),
        "{err:?}"
    );
    for bad in [
        "verify",
        "//evil.example/verify",
        "/verify?next=x",
        "/ver ify",
        "",
    ] {
        let err = builder()
            .await
            .link_paths(bad, "/reset", "/confirm")
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    setting: "verify_email_path",
                    ..
                }
            ),
            "{bad:?}: {err:?}"
        );
    }
    assert!(
        builder()
            .await
            .link_paths("/a/verify", "/a/reset", "/a/confirm")
            .build()
            .is_ok()
    );
}

async fn every_policy_rule_is_named_at_register_and_change_password(backend: Backend) {
    let server = start(backend, |b| b.password_policy(strict())).await;
    for (password, rule) in BROKEN {
        let res = server
            .post_json(
                "/register",
                json!({ "email": "ada@example.com", "password": password }),
            )
            .await;
        assert_invalid(res, &format!("password: {rule}")).await;
    }
    let res = server
        .post_json(
            "/register",
            json!({ "email": "ada@example.com", "password": GOOD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let browser = server
        .login_with("ada@example.com", GOOD, None)
        .await
        .expect("login");
    for (password, rule) in BROKEN {
        let res = server
            .with_cookie(Method::POST, "/change-password", &browser)
            .json(&json!({ "current_password": GOOD, "new_password": password }))
            .send()
            .await
            .unwrap();
        assert_invalid(res, &format!("new_password: {rule}")).await;
    }
    // Refused changes left the password and the session as they were.
    assert!(
        server
            .login_with("ada@example.com", GOOD, None)
            .await
            .is_ok()
    );
    let res = server
        .with_cookie(Method::POST, "/change-password", &browser)
        .json(&json!({ "current_password": GOOD, "new_password": "Another-horse-8" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn the_create_user_command_applies_the_policy(backend: Backend) {
    let server = start(backend, |b| b.password_policy(strict())).await;
    let create = |email: &str| Command::CreateUser {
        email: email.to_owned(),
        superuser: false,
    };
    let err = create("ada@example.com")
        .run(&server.auth, "Correct-horse-x\n".as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "password: must contain a digit");
    let err = create("ada@example.com")
        .run(&server.auth, "Ada-was-here-7\n".as_bytes())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "password: must not contain the email address"
    );
    let said = create("ada@example.com")
        .run(&server.auth, format!("{GOOD}\n").as_bytes())
        .await
        .unwrap();
    assert!(said.starts_with("created user ada@example.com"), "{said}");
}

const ORIGIN: &str = "http://app.test";

async fn with_mail(
    backend: Backend,
    tweak: impl FnOnce(CrudAuthBuilder) -> CrudAuthBuilder,
) -> (Server, SmtpServer) {
    let smtp = SmtpServer::start(SmtpMode::Accept).await;
    let sender = SmtpSender::new(&smtp.url(), "crudauth <no-reply@example.com>").unwrap();
    let server = start(backend, move |b| {
        tweak(b.public_origin(ORIGIN).email_sender(sender))
    })
    .await;
    (server, smtp)
}

async fn reset_confirm_names_the_rule_and_keeps_the_link_usable(backend: Backend) {
    let (server, smtp) = with_mail(backend, |b| b.password_policy(strict())).await;
    let res = server
        .post_json(
            "/register",
            json!({ "email": "ada@example.com", "password": GOOD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    smtp.wait_for(1).await;
    let res = server
        .post_json(
            "/password/reset-request",
            json!({ "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let token = smtp.wait_for(2).await.pop().unwrap().token().unwrap();
    for (password, rule) in BROKEN {
        let res = server
            .post_json(
                "/password/reset-confirm",
                json!({ "token": token, "new_password": password }),
            )
            .await;
        assert_invalid(res, &format!("new_password: {rule}")).await;
    }
    let res = server
        .post_json(
            "/password/reset-confirm",
            json!({ "token": token, "new_password": "Reset-horse-9" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        server
            .login_with("ada@example.com", "Reset-horse-9", None)
            .await
            .is_ok()
    );
}

async fn mailed_links_use_the_configured_paths(backend: Backend) {
    let (server, smtp) = with_mail(backend, |b| {
        b.link_paths("/account/verify", "/account/reset", "/account/new-email")
    })
    .await;
    // The quiet registration of a mail-sending app keeps the client's
    // allowlisted fields too.
    let res = server
        .post_json(
            "/register",
            json!({ "email": "ada@example.com", "password": "correct horse battery",
                    "display_name": "Ada" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let verify = smtp.wait_for(1).await.pop().unwrap();
    let token = verify.token().unwrap();
    assert_eq!(
        verify.link().unwrap(),
        format!("{ORIGIN}/account/verify?token={token}")
    );
    assert_eq!(
        row(&server, "ada@example.com")
            .await
            .display_name
            .as_deref(),
        Some("Ada")
    );

    let res = server
        .post_json(
            "/password/reset-request",
            json!({ "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let reset = smtp.wait_for(2).await.pop().unwrap();
    let token = reset.token().unwrap();
    assert_eq!(
        reset.link().unwrap(),
        format!("{ORIGIN}/account/reset?token={token}")
    );

    let browser = server.login("ada@example.com").await;
    let res = server
        .with_cookie(Method::POST, "/email/change-request", &browser)
        .json(&json!({ "new_email": "lovelace@example.com",
                       "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let change = smtp.wait_for(3).await.pop().unwrap();
    let token = change.token().unwrap();
    assert_eq!(
        change.link().unwrap(),
        format!("{ORIGIN}/account/new-email?token={token}")
    );
}

/// An argon2id hash, with crudauth's parameters, of `password` exactly as
/// given: what a deployment from before normalisation stored.
fn unnormalised_hash(password: &str) -> String {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
}

async fn a_hash_made_before_normalisation_verifies_and_is_rehashed_at_login(backend: Backend) {
    let server = start(backend, |b| b).await;
    let id = server.register("ada@example.com").await;
    // Fullwidth letters and digits, and a decomposed accent: NFKC folds
    // both into `password123 café`.
    let typed = "ｐａｓｓｗｏｒｄ１２３ cafe\u{301}";
    let normalised = "password123 café";
    let old = unnormalised_hash(typed);
    let update = user::ActiveModel {
        id: Set(id.as_i64().unwrap()),
        password_hash: Set(old.clone()),
        ..Default::default()
    };
    user::Entity::update(update).exec(&server.db).await.unwrap();
    server.auth.invalidate_user(id.as_i64().unwrap()).await;

    // The stored hash is of the raw form: the normalised form does not
    // match it yet.
    let refused = server
        .login_with("ada@example.com", normalised, None)
        .await
        .unwrap_err();
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let browser = server
        .login_with("ada@example.com", typed, None)
        .await
        .expect("the raw form still verifies");
    let rehashed = row(&server, "ada@example.com").await.password_hash;
    assert_ne!(rehashed, old, "the login replaced the hash");
    assert!(rehashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    // Now every NFKC-equivalent spelling is the password.
    for spelling in [normalised, typed, "password１２３ café"] {
        assert!(
            server
                .login_with("ada@example.com", spelling, None)
                .await
                .is_ok(),
            "{spelling:?}"
        );
    }
    assert!(
        server
            .login_with("ada@example.com", "password123 cafe", None)
            .await
            .is_err()
    );
    // The session opened by the rehashing login moved to the new epoch.
    let me = server.as_browser(&browser, Method::GET, "/me", None).await;
    assert_eq!(me.status(), StatusCode::OK);
}

async fn a_password_registered_in_one_spelling_logs_in_with_another(backend: Backend) {
    let server = start(backend, |b| b).await;
    let res = server
        .post_json(
            "/register",
            json!({ "email": "ada@example.com", "password": "ｐａｓｓｗｏｒｄ１２３" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let before = row(&server, "ada@example.com").await.password_hash;
    assert!(
        server
            .login_with("ada@example.com", "password123", None)
            .await
            .is_ok()
    );
    // Already normalised at registration: nothing to rehash.
    assert_eq!(row(&server, "ada@example.com").await.password_hash, before);
}

on_both_backends!(
    allowlisted_fields_are_stored_as_their_types_and_others_ignored,
    the_new_user_hook_sets_server_values_over_the_clients,
    every_policy_rule_is_named_at_register_and_change_password,
    the_create_user_command_applies_the_policy,
    reset_confirm_names_the_rule_and_keeps_the_link_usable,
    mailed_links_use_the_configured_paths,
    a_hash_made_before_normalisation_verifies_and_is_rehashed_at_login,
    a_password_registered_in_one_spelling_logs_in_with_another,
);
