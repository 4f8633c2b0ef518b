//! Second factor and sudo: `/sudo`, `GET /mfa`, `/mfa/totp/setup`,
//! `/mfa/totp/confirm`, `/mfa/totp/disable`, `/mfa/recovery-codes`,
//! `/mfa/verify` (the challenge itself is `sign_in.rs`'s).

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::session::rfc3339;
use super::{session, token};
use crate::error::AuthError;
use crate::extract::{AnyTransport, Body, Client, Current, Enrolling, Submitted};
use crate::guard::{require_enrolment, require_fresh};
use crate::mfa::{self as crypto, MAX_CODE_ATTEMPTS, MfaKeys, RECOVERY_CODES};
use crate::principal::{Principal, UserId};
use crate::state::CrudAuth;
use crate::store::mfa as store;
use crate::store::{self as db_store, families, sessions};
use crate::tokens::{self, now};
use crate::transport::session::SessionTransport;
use crate::{audit, cookies, csrf, lockout, revocation};

/// How long a proof keeps the credential fresh for crudauth's own fresh
/// routes (disable, new recovery codes), and what `/sudo`'s `fresh_until`
/// reports.
pub(super) const FRESH_SECS: i64 = 300;

/// The key, or 404 (the routes are mounted only with one).
fn key(auth: &CrudAuth) -> Result<&MfaKeys, AuthError> {
    auth.inner.mfa.as_ref().ok_or(AuthError::NotFound)
}

/// Checks a TOTP code, or else a recovery code, of `owner`'s confirmed
/// enrolment, using it up. `InvalidCode` when neither passes.
async fn check_code(
    auth: &CrudAuth,
    key: &MfaKeys,
    owner: &str,
    code: &str,
) -> Result<(), AuthError> {
    let db = &auth.inner.db;
    let Some(row) = store::find(db, owner).await?.filter(|row| row.enabled) else {
        return Err(AuthError::InvalidCode);
    };
    match key.open(owner, &row.secret) {
        Some(opened) => {
            if let Some(resealed) = &opened.resealed {
                store::reseal(db, owner, &row.secret, resealed).await?;
            }
            if let Some(step) = crypto::matching_step(&opened.secret, code, now()) {
                // A replayed code (this step or an earlier one accepted
                // already) is refused like a wrong one.
                return if store::claim_step(db, owner, step, false).await? {
                    Ok(())
                } else {
                    Err(AuthError::InvalidCode)
                };
            }
        }
        None => tracing::error!(
            "crudauth: a stored TOTP secret does not open under any listed mfa key (altered, or \
             sealed under another key): its codes are refused"
        ),
    }
    if let Some(code) = crypto::normalize_recovery_code(code)
        && store::use_recovery_code(db, owner, &key.recovery_hashes(owner, &code)).await?
    {
        audit::mfa_recovery_code_used(owner);
        return Ok(());
    }
    Err(AuthError::InvalidCode)
}

/// `check` behind the account's lockout ([`lockout::guarded_code`]); a
/// refused code is audited as `mfa_failed` at `route`.
async fn guarded<T>(
    auth: &CrudAuth,
    id: &UserId,
    ip: Option<IpAddr>,
    route: &str,
    check: impl Future<Output = Result<T, AuthError>>,
) -> Result<T, AuthError> {
    let outcome = lockout::guarded_code(auth, id, check).await;
    if matches!(outcome, Err(AuthError::InvalidCode)) {
        audit::mfa_failed(id, ip, route);
    }
    outcome
}

/// What the fresh routes that act on an enrolment (disable, new recovery
/// codes) check first: a signed-in caller, a recent proof, and a code of
/// the enrolment, behind the lockout. Returns the key and the caller.
async fn fresh_with_code<'a>(
    auth: &'a CrudAuth,
    client: &Client,
    form: Submitted<CodeForm, AnyTransport>,
    route: &str,
) -> Result<(&'a MfaKeys, Principal), AuthError> {
    let key = key(auth)?;
    let (principal, form) = form.signed_in()?;
    require_fresh(&principal, FRESH_SECS)?;
    let owner = principal.user_id.to_string();
    let check = check_code(auth, key, &owner, &form.code);
    guarded(auth, &principal.user_id, client.ip, route, check).await?;
    Ok((key, principal))
}

/// A new set of recovery codes for `owner`: stored hashed, returned once.
async fn new_recovery_codes<C: sea_orm::ConnectionTrait>(
    db: &C,
    key: &MfaKeys,
    owner: &str,
) -> Result<Vec<String>, AuthError> {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| crypto::new_recovery_code())
        .collect();
    let hashes = codes
        .iter()
        .map(|code| key.recovery_hash(owner, &code.replace('-', "")))
        .collect();
    store::replace_recovery_codes(db, owner, hashes).await?;
    Ok(codes)
}

/// Marks the credential the request came with as established with a second
/// factor.
async fn with_second_factor<C: sea_orm::ConnectionTrait>(
    db: &C,
    principal: &Principal,
) -> Result<(), AuthError> {
    if let Some(id) = principal.session_id.as_deref() {
        sessions::set_mfa(db, id).await?;
    } else if let Some(family) = principal.token_family.as_deref() {
        families::set_mfa(db, family).await?;
    }
    Ok(())
}

/// Records a new proof on the credential the request came with.
async fn reauthenticated(auth: &CrudAuth, principal: &Principal, at: i64) -> Result<(), AuthError> {
    let db = &auth.inner.db;
    if let Some(id) = principal.session_id.as_deref() {
        sessions::reauthenticated(db, id, at).await?;
    } else if let Some(family) = principal.token_family.as_deref() {
        families::reauthenticated(db, family, at).await?;
    } else {
        // A custom transport's credential has no row to carry the proof.
        return Err(AuthError::BadRequest(
            "sudo needs a session or a bearer token".into(),
        ));
    }
    // The cached credential still carries the old proof.
    revocation::user(auth, &principal.user_id.to_string()).await;
    Ok(())
}

#[derive(Deserialize)]
pub(super) struct SudoRequest {
    password: Option<String>,
    code: Option<String>,
}

pub(super) async fn sudo(
    State(auth): State<CrudAuth>,
    client: Client,
    form: Submitted<SudoRequest, AnyTransport>,
) -> Result<Response, AuthError> {
    let (principal, form) = form.signed_in()?;
    let id = &principal.user_id;
    let proof = match (form.password, form.code) {
        (Some(password), _) => {
            let user = auth.inner.users.by_id(&auth.inner.db, id).await?;
            lockout::guarded_password(&auth, user, id, password).await?;
            "password"
        }
        (None, Some(code)) => {
            let key = auth
                .inner
                .mfa
                .as_ref()
                .ok_or(AuthError::InvalidCredentials)?;
            let owner = id.to_string();
            let check = check_code(&auth, key, &owner, &code);
            match guarded(&auth, id, client.ip, "sudo", check).await {
                Err(AuthError::InvalidCode) => return Err(AuthError::InvalidCredentials),
                other => other?,
            }
            "code"
        }
        (None, None) => return Err(AuthError::Invalid("password: required (or code)".into())),
    };
    let at = now();
    reauthenticated(&auth, &principal, at).await?;
    audit::sudo(id, client.ip, principal.transport, proof);
    Ok(Json(json!({ "fresh_until": rfc3339(at + FRESH_SECS) })).into_response())
}

pub(super) async fn status(
    State(auth): State<CrudAuth>,
    Current(principal, ..): Current<Enrolling>,
) -> Result<Response, AuthError> {
    let db = &auth.inner.db;
    let owner = principal.user_id.to_string();
    let enabled = store::enabled(db, &owner).await?;
    let left = if enabled {
        store::recovery_codes_left(db, &owner).await?
    } else {
        0
    };
    // Whether `.require_mfa(..)` holds this user's credential back until it
    // carries a second factor (a page leads the user to enrolment).
    let required = require_enrolment(&auth, &principal).is_err();
    Ok(Json(json!({
        "enabled": enabled,
        "recovery_codes_remaining": left,
        "required": required,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    password: String,
}

#[derive(Deserialize)]
pub(super) struct CodeForm {
    code: String,
}

pub(super) async fn setup(
    State(auth): State<CrudAuth>,
    form: Submitted<PasswordForm, Enrolling>,
) -> Result<Response, AuthError> {
    let key = key(&auth)?;
    let (principal, form) = form.signed_in()?;
    let db = &auth.inner.db;
    let id = &principal.user_id;
    let user = auth.inner.users.by_id(db, id).await?;
    let user = lockout::guarded_password(&auth, user, id, form.password).await?;
    let owner = id.to_string();
    let secret = crypto::new_secret();
    let txn = db_store::begin_write(db).await?;
    if !store::begin_setup(&txn, &owner, key.seal(&owner, &secret)).await? {
        txn.rollback().await?;
        return Err(AuthError::MfaAlreadyEnabled);
    }
    txn.commit().await?;
    let secret = crypto::base32(&secret);
    let account = user.email.or(user.username).unwrap_or(owner);
    let uri = crypto::otpauth_uri(&auth.inner.config.issuer, &account, &secret);
    let qr_svg = crypto::qr_svg(&uri);
    Ok(Json(json!({ "secret": secret, "otpauth_uri": uri, "qr_svg": qr_svg })).into_response())
}

pub(super) async fn confirm(
    State(auth): State<CrudAuth>,
    client: Client,
    form: Submitted<CodeForm, Enrolling>,
) -> Result<Response, AuthError> {
    let key = key(&auth)?;
    let (principal, form) = form.signed_in()?;
    let db = &auth.inner.db;
    let owner = principal.user_id.to_string();
    // A user who had to enrol has just passed a code: the credential that
    // enrolled counts as established with a second factor from now on.
    let established = require_enrolment(&auth, &principal).is_err();
    let check = async {
        let Some(row) = store::find(db, &owner).await?.filter(|row| !row.enabled) else {
            return Err(AuthError::InvalidCode);
        };
        let Some(opened) = key.open(&owner, &row.secret) else {
            tracing::error!(
                "crudauth: a stored TOTP secret does not open under any listed mfa key"
            );
            return Err(AuthError::InvalidCode);
        };
        let step = crypto::matching_step(&opened.secret, &form.code, now())
            .ok_or(AuthError::InvalidCode)?;
        // Confirming and the first recovery codes commit together: an
        // enrolment is never on without them.
        let txn = db_store::begin_write(db).await?;
        if !store::claim_step(&txn, &owner, step, true).await? {
            txn.rollback().await?;
            return Err(AuthError::InvalidCode);
        }
        let codes = new_recovery_codes(&txn, key, &owner).await?;
        if established {
            with_second_factor(&txn, &principal).await?;
        }
        txn.commit().await?;
        Ok(codes)
    };
    let codes = guarded(&auth, &principal.user_id, client.ip, "confirm", check).await?;
    revocation::user(&auth, &owner).await;
    audit::mfa_enabled(&principal.user_id, client.ip, principal.transport);
    Ok(Json(json!({ "recovery_codes": codes })).into_response())
}

pub(super) async fn disable(
    State(auth): State<CrudAuth>,
    client: Client,
    form: Submitted<CodeForm, AnyTransport>,
) -> Result<Response, AuthError> {
    let (_, principal) = fresh_with_code(&auth, &client, form, "disable").await?;
    let owner = principal.user_id.to_string();
    let txn = db_store::begin_write(&auth.inner.db).await?;
    store::disable(&txn, &owner).await?;
    txn.commit().await?;
    revocation::user(&auth, &owner).await;
    audit::mfa_disabled(&principal.user_id, client.ip, principal.transport);
    Ok(super::ok_empty())
}

pub(super) async fn recovery_codes(
    State(auth): State<CrudAuth>,
    client: Client,
    form: Submitted<CodeForm, AnyTransport>,
) -> Result<Response, AuthError> {
    let (key, principal) = fresh_with_code(&auth, &client, form, "recovery_codes").await?;
    let owner = principal.user_id.to_string();
    let txn = db_store::begin_write(&auth.inner.db).await?;
    let codes = new_recovery_codes(&txn, key, &owner).await?;
    txn.commit().await?;
    audit::mfa_recovery_codes_regenerated(&principal.user_id, client.ip, principal.transport);
    Ok(Json(json!({ "recovery_codes": codes })).into_response())
}

#[derive(Deserialize)]
pub(super) struct VerifyRequest {
    /// The challenge `/login` or `/token` answered; absent after a provider
    /// sign-in, whose challenge is in the `crudauth_mfa` cookie.
    challenge: Option<String>,
    code: String,
}

const DEAD_CHALLENGE: AuthError = AuthError::InvalidToken("unknown, used or expired challenge");

pub(super) async fn verify(
    State(auth): State<CrudAuth>,
    client: Client,
    parts: Parts,
    Body(form): Body<VerifyRequest>,
) -> Result<Response, AuthError> {
    let key = key(&auth)?;
    let db = &auth.inner.db;
    let config = &auth.inner.config;
    let from_cookie = form.challenge.is_none();
    let challenge = match form.challenge {
        Some(challenge) => challenge,
        None => {
            // A cookie rides along on any request the browser makes: the
            // same origin checks as a session's unsafe request.
            csrf::check_origin(&parts, config)?;
            cookies::find(&parts.headers, &config.cookies.mfa_name()).ok_or(DEAD_CHALLENGE)?
        }
    };
    if !tokens::well_formed(&challenge) {
        return Err(DEAD_CHALLENGE);
    }
    let Some(row) = store::live_challenge(db, &challenge, MAX_CODE_ATTEMPTS).await? else {
        return Err(DEAD_CHALLENGE);
    };
    let session = row.transport == SessionTransport::NAME;
    if session && !from_cookie {
        // As at /login: a cross-site post would sign the victim in (the
        // cookie's challenge had its origin checked before it was read).
        csrf::check_origin(&parts, config)?;
    } else if !session && from_cookie {
        // The cookie only ever holds a session challenge.
        return Err(DEAD_CHALLENGE);
    }
    let Some(id) = auth.inner.users.parse_id(&row.user_id) else {
        return Err(DEAD_CHALLENGE);
    };
    let check = check_code(&auth, key, &row.user_id, &form.code);
    match guarded(&auth, &id, client.ip, "verify", check).await {
        Err(AuthError::InvalidCode) => {
            store::challenge_failed(db, &row.token_hash).await?;
            return Err(AuthError::InvalidCode);
        }
        other => other?,
    }
    // Single use: of two requests with one challenge, one deletes it.
    if !store::consume_challenge(db, &row.token_hash, MAX_CODE_ATTEMPTS).await? {
        return Err(DEAD_CHALLENGE);
    }
    // A password change or a deactivation since the password was checked
    // ends the login.
    let user = auth.inner.users.by_id(db, &id).await?.filter(|user| {
        user.is_active && tokens::password_epoch(&user.password_hash) == row.password_epoch
    });
    let Some(user) = user else {
        return Err(AuthError::InvalidToken("this login has ended"));
    };
    #[cfg(feature = "oidc")]
    if let Some(link) = row
        .pending_link
        .as_deref()
        .and_then(crate::store::identities::PendingLink::from_json)
    {
        // The provider sign-in's identity joins the account only now that
        // the account's own second factor was given.
        let txn = db_store::begin_write(db).await?;
        if !link.apply(&txn, &row.user_id).await? {
            // A concurrent sign-in linked this identity first.
            txn.rollback().await?;
            return Err(AuthError::OAuthFailed);
        }
        txn.commit().await?;
        let how = if link.relink { "relinked" } else { "linked" };
        audit::oauth_linked(&user.id, client.ip, &link.provider, how);
    }
    if session {
        let mut response =
            session::start(&auth, &user, client, &parts, row.remember_me, true).await?;
        if from_cookie
            && let Ok(clear) = HeaderValue::from_str(&config.cookies.mfa_challenge("", 0))
        {
            response.headers_mut().append(SET_COOKIE, clear);
        }
        Ok(response)
    } else {
        token::start(&auth, &user, &row.scope, true, client.ip).await
    }
}
