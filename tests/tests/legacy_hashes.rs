//! Users brought from another framework (SPEC section 14): rows holding a
//! bcrypt or a Django hash sign in once `.legacy_hashes(..)` names their
//! format, are moved to argon2id by that login, and meet the same lockout
//! as everyone else; without the call they cannot sign in.

use crudauth::{CrudAuthBuilder, LegacyHash};
use crudauth_tests::{Backend, PASSWORD, Server, on_both_backends, start};
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

// Hashes of `PASSWORD` ("correct horse battery"), made with passlib 1.7.4
// (bcrypt 4.0.1 as its backend) in Python 3.11:
//   from passlib.hash import bcrypt, django_pbkdf2_sha256
//   bcrypt.using(rounds=10, ident="2b").hash("correct horse battery")
//   django_pbkdf2_sha256.using(rounds=36000).hash("correct horse battery")
// Fewer iterations than today's Django: pbkdf2's loop is generic, so it is
// compiled in crudauth, unoptimised in a test build (about 4 µs a round).
const BCRYPT: &str = "$2b$10$dqgtHLVa/x0m3nE3EFGLzO9PPwa24n.9INL6Y5599vroDop024Ckm";
const DJANGO: &str =
    "pbkdf2_sha256$36000$Hk7BPE5kkPx7$If7ujLfym5o7mlmmuk2PNdqFrWKiAsvUtgWrPgSMH1M=";

const ARGON2ID: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

fn every_format(builder: CrudAuthBuilder) -> CrudAuthBuilder {
    builder.legacy_hashes([
        LegacyHash::Bcrypt,
        LegacyHash::DjangoPbkdf2,
        LegacyHash::Phc,
    ])
}

/// A user row as the other framework's import would write it.
async fn import(server: &Server, email: &str, hash: &str) {
    server
        .sql(&format!(
            "INSERT INTO users (email, password_hash, is_active, is_superuser, email_verified, scopes) \
             VALUES ('{email}', '{hash}', true, false, false, '')"
        ))
        .await;
}

async fn stored_hash(server: &Server, email: &str) -> String {
    example_web_and_api::user::Entity::find()
        .filter(example_web_and_api::user::Column::Email.eq(email))
        .one(&server.db)
        .await
        .unwrap()
        .expect("the user exists")
        .password_hash
}

/// `/login`'s status for `password`, and the error code when it refused.
async fn login(server: &Server, email: &str, password: &str) -> (StatusCode, Option<String>) {
    let res = server
        .post_json("/login", json!({ "username": email, "password": password }))
        .await;
    let status = res.status();
    if status == StatusCode::OK {
        return (status, None);
    }
    let body: Value = res.json().await.expect("JSON error body");
    (status, body["code"].as_str().map(str::to_owned))
}

fn refused(code: &str) -> (StatusCode, Option<String>) {
    let status = match code {
        "locked" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::UNAUTHORIZED,
    };
    (status, Some(code.to_owned()))
}

async fn bcrypt_and_django_users_sign_in_and_move_to_argon2id(backend: Backend) {
    let server = start(backend, every_format).await;
    for (email, hash) in [
        ("bcrypt@example.com", BCRYPT),
        ("django@example.com", DJANGO),
    ] {
        import(&server, email, hash).await;
        let browser = server.login(email).await;
        let replaced = stored_hash(&server, email).await;
        assert!(replaced.starts_with(ARGON2ID), "{email}: {replaced}");
        // The session the login made carries the new hash's epoch.
        let me = server.as_browser(&browser, Method::GET, "/me", None).await;
        assert_eq!(me.status(), StatusCode::OK, "{email}");
        // Signing in again verifies the argon2id hash, and keeps it.
        server.login(email).await;
        assert_eq!(stored_hash(&server, email).await, replaced, "{email}");
        assert_eq!(
            login(&server, email, "wrong password").await,
            refused("invalid_credentials")
        );
    }
}

async fn a_wrong_password_counts_toward_the_lockout_as_for_an_argon2_user(backend: Backend) {
    let server = start(backend, every_format).await;
    server.register("argon2@example.com").await;
    import(&server, "bcrypt@example.com", BCRYPT).await;
    import(&server, "django@example.com", DJANGO).await;
    // The default policy locks an identifier after five failures, and then
    // refuses even the right password.
    let mut expected = vec![refused("invalid_credentials"); 5];
    expected.push(refused("locked"));
    for email in [
        "argon2@example.com",
        "bcrypt@example.com",
        "django@example.com",
    ] {
        let mut answers = Vec::new();
        for _ in 0..5 {
            answers.push(login(&server, email, "wrong password").await);
        }
        answers.push(login(&server, email, PASSWORD).await);
        assert_eq!(answers, expected, "{email}");
    }
    // Nothing verified: the imported hashes are still there.
    assert_eq!(stored_hash(&server, "bcrypt@example.com").await, BCRYPT);
    assert_eq!(stored_hash(&server, "django@example.com").await, DJANGO);
}

async fn an_imported_row_whose_format_is_not_enabled_cannot_sign_in(backend: Backend) {
    for (enabled, bcrypt) in [
        (&[][..], StatusCode::UNAUTHORIZED),
        (&[LegacyHash::Bcrypt][..], StatusCode::OK),
    ] {
        let server = start(backend, |b| b.legacy_hashes(enabled.iter().copied())).await;
        import(&server, "bcrypt@example.com", BCRYPT).await;
        import(&server, "django@example.com", DJANGO).await;
        assert_eq!(
            login(&server, "bcrypt@example.com", PASSWORD).await.0,
            bcrypt,
            "{enabled:?}"
        );
        assert_eq!(
            login(&server, "django@example.com", PASSWORD).await,
            refused("invalid_credentials"),
            "{enabled:?}"
        );
        assert_eq!(stored_hash(&server, "django@example.com").await, DJANGO);
    }
    // Not calling `.legacy_hashes` at all is the same as naming none.
    let server = start(backend, |b| b).await;
    import(&server, "bcrypt@example.com", BCRYPT).await;
    assert_eq!(
        login(&server, "bcrypt@example.com", PASSWORD).await,
        refused("invalid_credentials")
    );
    assert_eq!(stored_hash(&server, "bcrypt@example.com").await, BCRYPT);
}

on_both_backends!(
    bcrypt_and_django_users_sign_in_and_move_to_argon2id,
    a_wrong_password_counts_toward_the_lockout_as_for_an_argon2_user,
    an_imported_row_whose_format_is_not_enabled_cannot_sign_in,
);
