//! Rotating the key that seals second-factor secrets (`.mfa_keys([new,
//! old])`, the CLI's `rotate-mfa-key`): secrets sealed under the old key
//! keep verifying, are sealed again under the new one when used (read back
//! from the table), and the new key alone then suffices.

use crudauth::cli::Command;
use crudauth_tests::second_factor::{enrol, mfa_server};
use crudauth_tests::{
    Backend, MFA_KEY, PASSWORD, Server, assert_error, on_both_backends, start_beside, totp_code,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    secrets_sealed_under_the_old_key_verify_and_are_sealed_again_when_used,
    the_cli_seals_every_secret_under_the_new_key,
);

const NEW_KEY: [u8; 32] = *b"the-new-mfa-key-of-32-bytes-!!!!";

/// The sealed secret stored for the user `id`.
async fn stored_secret(server: &Server, id: &Value) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let row = server
        .db
        .query_one_raw(Statement::from_string(
            server.db.get_database_backend(),
            format!("SELECT secret FROM crudauth_mfa WHERE user_id = '{id}'"),
        ))
        .await
        .unwrap()
        .expect("an enrolment");
    row.try_get::<String>("", "secret").unwrap()
}

/// `/token` then `/mfa/verify` with `code`: the verification's answer.
async fn sign_in(server: &Server, email: &str, code: &str) -> reqwest::Response {
    let res = server
        .post_json("/token", json!({ "username": email, "password": PASSWORD }))
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["mfa_required"], true, "{body}");
    server
        .post_json(
            "/mfa/verify",
            json!({ "challenge": body["challenge"], "code": code }),
        )
        .await
}

async fn secrets_sealed_under_the_old_key_verify_and_are_sealed_again_when_used(backend: Backend) {
    let old = mfa_server(backend).await;
    let ada = old.register("ada@example.com").await;
    let (secret, recovery) = enrol(&old, "ada@example.com").await;
    let sealed_before = stored_secret(&old, &ada).await;

    let rotating = start_beside(&old, |b| b.mfa_keys([NEW_KEY, MFA_KEY])).await;
    let new_only = start_beside(&old, |b| b.mfa_key(NEW_KEY)).await;
    // Before it is used, the new key alone cannot open the secret.
    let refused = sign_in(&new_only, "ada@example.com", &totp_code(&secret, 0)).await;
    assert_error(refused, StatusCode::BAD_REQUEST, "invalid_code").await;

    let res = sign_in(&rotating, "ada@example.com", &totp_code(&secret, 0)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let sealed_after = stored_secret(&old, &ada).await;
    assert_ne!(
        sealed_after, sealed_before,
        "sealed again under the new key"
    );

    let res = sign_in(&new_only, "ada@example.com", &totp_code(&secret, 1)).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the new key alone opens it now"
    );
    // A recovery code handed out under the old key works while the old key
    // is listed, and not with the new key alone.
    let res = sign_in(&rotating, "ada@example.com", &recovery[0]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = sign_in(&new_only, "ada@example.com", &recovery[1]).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_code").await;
    // The old key alone no longer opens the re-sealed secret.
    let res = sign_in(&old, "ada@example.com", &totp_code(&secret, 2)).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_code").await;
}

async fn the_cli_seals_every_secret_under_the_new_key(backend: Backend) {
    let old = mfa_server(backend).await;
    let mut users = Vec::new();
    for email in ["ada@example.com", "grace@example.com", "edsger@example.com"] {
        let id = old.register(email).await;
        let (secret, _) = enrol(&old, email).await;
        users.push((email, id, secret));
    }
    let rotating = start_beside(&old, |b| b.mfa_keys([NEW_KEY, MFA_KEY])).await;
    // One secret is re-sealed by its use before the command runs.
    let (email, _, secret) = &users[0];
    let res = sign_in(&rotating, email, &totp_code(secret, 0)).await;
    assert_eq!(res.status(), StatusCode::OK);

    let said = Command::RotateMfaKey
        .run(&rotating.auth, &b""[..])
        .await
        .unwrap();
    assert_eq!(
        said,
        "re-sealed 2 second-factor secrets under the first key (1 already were)"
    );
    let again = Command::RotateMfaKey
        .run(&rotating.auth, &b""[..])
        .await
        .unwrap();
    assert!(again.starts_with("re-sealed 0 "), "{again}");

    let new_only = start_beside(&old, |b| b.mfa_key(NEW_KEY)).await;
    for (email, _, secret) in &users[1..] {
        let res = sign_in(&new_only, email, &totp_code(secret, 0)).await;
        assert_eq!(res.status(), StatusCode::OK, "{email}");
    }
    // Without a key the command says so instead of reporting nothing.
    let plain = start_beside(&old, |b| b).await;
    let err = Command::RotateMfaKey
        .run(&plain.auth, &b""[..])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("CRUDAUTH_MFA_KEY"), "{err}");
}
