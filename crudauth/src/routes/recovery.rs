//! `/email/verify-*`, `/password/reset-*`, `/email/change-*`, and the
//! non-enumerable `/register` of an application with a mail sender.
//!
//! Request routes answer one byte-identical 202 whatever the account's
//! state, and do the same database work for an unknown, inactive or
//! already verified account as for one that gets a mail: a token is issued
//! either way, bound to nobody when nobody is to get it. Confirm routes
//! check the token's binding to the account (its email, its password
//! epoch) again at redemption, and consume it in the transaction that acts
//! on it.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseTransaction;
use serde::Deserialize;
use serde_json::json;

use super::{emit, ok_empty};
use crate::credentials::validate_email;
use crate::error::AuthError;
use crate::events::AuthEvent;
use crate::extract::{AnyTransport, Body, Client, Submitted};
use crate::mail::{Email, EmailKind};
use crate::password::policy::PasswordContext;
use crate::principal::LoadedUser;
use crate::state::CrudAuth;
use crate::store::entities::one_time_token;
use crate::store::one_time::{self, NewToken};
use crate::store::users::CreateError;
use crate::store::{self, families, sessions};
use crate::tokens::{password_epoch, well_formed};
use crate::{audit, credentials, lockout, revocation};

const VERIFY_TTL: Duration = Duration::from_secs(24 * 3600);
const RESET_TTL: Duration = Duration::from_secs(3600);
const CHANGE_TTL: Duration = Duration::from_secs(3600);

/// The owner of a decoy token, issued for nobody and never mailed: a fresh
/// id each time, so that issuing it finds no older token to void, as for
/// an account asking for the first time. (One shared owner made every
/// decoy delete the one before it; PostgreSQL then walked ever more dead
/// index entries, and decoys grew slower than real tokens.)
fn nobody() -> String {
    format!("nobody-{}", uuid::Uuid::new_v4().simple())
}

/// The one answer of every request route.
fn accepted() -> Response {
    let body = json!({
        "detail": "if this address belongs to an account that needs it, a mail is on its way"
    });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

fn link(auth: &CrudAuth, path: &str, token: &str) -> String {
    let config = &auth.inner.config;
    let origin = config.public_origin.as_deref().unwrap_or("");
    format!("{origin}{}{path}?token={token}", config.base_path)
}

fn ttl_secs(ttl: Duration) -> i64 {
    ttl.as_secs() as i64
}

/// The account whose email is `email` (case-insensitively), if any.
async fn by_email(auth: &CrudAuth, email: &str) -> Result<Option<LoadedUser>, AuthError> {
    let user = credentials::find_login(auth, email).await?;
    Ok(user.filter(|u| {
        u.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    }))
}

/// Issues a token of `kind` for `user` (or for nobody), voiding that
/// user's older tokens of the same kind.
async fn issue(
    auth: &CrudAuth,
    kind: EmailKind,
    user: Option<&LoadedUser>,
    new_email: Option<String>,
    ttl: Duration,
) -> Result<String, AuthError> {
    let txn = store::begin_write(&auth.inner.db).await?;
    let token = issue_in(&txn, kind, user, new_email, ttl).await?;
    txn.commit().await?;
    Ok(token)
}

/// [`issue`] inside the caller's transaction.
async fn issue_in(
    txn: &DatabaseTransaction,
    kind: EmailKind,
    user: Option<&LoadedUser>,
    new_email: Option<String>,
    ttl: Duration,
) -> Result<String, AuthError> {
    let token = one_time::issue(
        txn,
        NewToken {
            purpose: kind.as_str(),
            user_id: user.map_or_else(nobody, |u| u.id.to_string()),
            bound_email: user.and_then(|u| u.email.clone()).unwrap_or_default(),
            password_epoch: user
                .map(|u| password_epoch(&u.password_hash))
                .unwrap_or_default(),
            new_email,
            ttl_secs: ttl_secs(ttl),
        },
    )
    .await?;
    Ok(token)
}

/// The token's row and its user, when the token is live, of `kind`, and
/// still bound to the account as it is now. Nothing is consumed yet.
async fn redeemable(
    auth: &CrudAuth,
    token: &str,
    kind: EmailKind,
) -> Result<(one_time_token::Model, LoadedUser), AuthError> {
    if !well_formed(token) {
        return Err(AuthError::InvalidLink);
    }
    let db = &auth.inner.db;
    let row = one_time::find(db, token, kind.as_str())
        .await?
        .ok_or(AuthError::InvalidLink)?;
    let id = auth
        .inner
        .users
        .parse_id(&row.user_id)
        .ok_or(AuthError::InvalidLink)?;
    let user = auth
        .inner
        .users
        .by_id(db, &id)
        .await?
        .filter(|u| u.is_active)
        .ok_or(AuthError::InvalidLink)?;
    let same_email = user
        .email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(&row.bound_email));
    // A verification proves the address it was sent to; a reset or an
    // email change acts on the password and address as they were when the
    // owner asked, so a change of either since kills it.
    let same_password = row.password_epoch == password_epoch(&user.password_hash);
    let bound = match kind {
        EmailKind::VerifyEmail => same_email,
        _ => same_email && same_password,
    };
    if !bound {
        return Err(AuthError::InvalidLink);
    }
    Ok((row, user))
}

#[derive(Deserialize)]
pub(super) struct Address {
    email: String,
}

#[derive(Deserialize)]
pub(super) struct Link {
    token: String,
}

/// A verify or reset request: the same work whoever the address names.
async fn request(
    auth: &CrudAuth,
    client: &Client,
    email: &str,
    kind: EmailKind,
) -> Result<Response, AuthError> {
    let email = validate_email(email)?;
    lockout::throttle_recovery(auth, client.ip).await?;
    let allowed = lockout::mail_allowed(auth, &email).await?;
    let user = by_email(auth, &email).await?.filter(|u| {
        u.is_active && allowed && !(kind == EmailKind::VerifyEmail && u.email_verified)
    });
    let config = &auth.inner.config;
    let (ttl, path) = match kind {
        EmailKind::VerifyEmail => (VERIFY_TTL, &config.verify_email_path),
        _ => (RESET_TTL, &config.reset_password_path),
    };
    let token = issue(auth, kind, user.as_ref(), None, ttl).await?;
    if let Some(to) = user.and_then(|u| u.email) {
        let link = link(auth, path, &token);
        auth.inner
            .mail
            .enqueue(Email::with_link(to, kind, link, ttl));
    }
    Ok(accepted())
}

/// `POST /email/verify-request`.
pub(super) async fn verify_request(
    State(auth): State<CrudAuth>,
    client: Client,
    Body(form): Body<Address>,
) -> Result<Response, AuthError> {
    request(&auth, &client, &form.email, EmailKind::VerifyEmail).await
}

/// `POST /password/reset-request`.
pub(super) async fn reset_request(
    State(auth): State<CrudAuth>,
    client: Client,
    Body(form): Body<Address>,
) -> Result<Response, AuthError> {
    request(&auth, &client, &form.email, EmailKind::ResetPassword).await
}

/// `POST /email/verify-confirm`.
pub(super) async fn verify_confirm(
    State(auth): State<CrudAuth>,
    client: Client,
    Body(form): Body<Link>,
) -> Result<Response, AuthError> {
    let (row, user) = redeemable(&auth, &form.token, EmailKind::VerifyEmail).await?;
    let txn = store::begin_write(&auth.inner.db).await?;
    let done = one_time::consume(&txn, &row).await?
        && auth
            .inner
            .users
            .mark_email_verified(&txn, &user.id, &row.bound_email)
            .await?;
    if !done {
        txn.rollback().await?;
        return Err(AuthError::InvalidLink);
    }
    txn.commit().await?;
    // The verified gate must see the change on the next request.
    revocation::user(&auth, &user.id.to_string()).await;
    audit::email_verified(&user.id, client.ip);
    Ok(Json(json!({ "user_id": user.id, "email_verified": true })).into_response())
}

#[derive(Deserialize)]
pub(super) struct ResetConfirm {
    token: String,
    new_password: String,
}

/// `POST /password/reset-confirm`: a new password, every session and token
/// family ended, the lockout cleared.
pub(super) async fn reset_confirm(
    State(auth): State<CrudAuth>,
    client: Client,
    Body(form): Body<ResetConfirm>,
) -> Result<Response, AuthError> {
    let (row, user) = redeemable(&auth, &form.token, EmailKind::ResetPassword).await?;
    auth.inner.password_policy.check(
        "new_password",
        &form.new_password,
        &PasswordContext::of(&user),
    )?;
    let hash = auth.inner.hasher.hash(form.new_password).await?;
    let owner = user.id.to_string();
    let txn = store::begin_write(&auth.inner.db).await?;
    // The conditional write makes a password change racing this reset
    // win: the token was bound to the password it would replace.
    let done = one_time::consume(&txn, &row).await?
        && auth
            .inner
            .users
            .replace_password_hash(&txn, &user.id, &user.password_hash, hash)
            .await?;
    if !done {
        txn.rollback().await?;
        return Err(AuthError::InvalidLink);
    }
    sessions::revoke_all(&txn, &owner, None).await?;
    families::revoke_user(&txn, &owner).await?;
    one_time::void_user(&txn, &owner).await?;
    txn.commit().await?;
    revocation::user(&auth, &owner).await;
    lockout::clear_account(&auth, &user).await?;
    audit::password_reset(&user.id, client.ip);
    emit(&auth, AuthEvent::PasswordChanged { user_id: user.id });
    Ok(ok_empty())
}

#[derive(Deserialize)]
pub(super) struct ChangeRequest {
    new_email: String,
    password: String,
}

/// `POST /email/change-request`: the password again (counted against the
/// account's lockout), then a link to the new address.
pub(super) async fn change_request(
    State(auth): State<CrudAuth>,
    form: Submitted<ChangeRequest, AnyTransport>,
) -> Result<Response, AuthError> {
    let (principal, form) = form.signed_in()?;
    let new_email = validate_email(&form.new_email)?;
    let db = &auth.inner.db;
    let user = auth.inner.users.by_id(db, &principal.user_id).await?;
    let user = lockout::guarded_password(&auth, user, &principal.user_id, form.password).await?;
    if user
        .email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(&new_email))
    {
        return Err(AuthError::Invalid(
            "new_email: is already this account's address".into(),
        ));
    }
    // A taken address still gets a 202 (the confirm answers 409), so that
    // this route does not tell which addresses have accounts.
    let allowed = lockout::mail_allowed(&auth, &new_email).await?;
    let kind = EmailKind::ChangeEmail;
    let token = issue(
        &auth,
        kind,
        Some(&user),
        Some(new_email.clone()),
        CHANGE_TTL,
    )
    .await?;
    if allowed {
        let link = link(&auth, &auth.inner.config.confirm_email_path, &token);
        auth.inner
            .mail
            .enqueue(Email::with_link(new_email, kind, link, CHANGE_TTL));
    }
    Ok(accepted())
}

/// `POST /email/change-confirm`: the new address in place (verified: the
/// link proved it), every outstanding link voided, a notice to the old
/// address.
pub(super) async fn change_confirm(
    State(auth): State<CrudAuth>,
    client: Client,
    Body(form): Body<Link>,
) -> Result<Response, AuthError> {
    let (row, user) = redeemable(&auth, &form.token, EmailKind::ChangeEmail).await?;
    let new_email = row.new_email.clone().ok_or(AuthError::InvalidLink)?;
    let users = &auth.inner.users;
    let db = &auth.inner.db;
    // Taken since the request: the token stays usable should the address
    // be freed before it expires.
    if users.exists(db, Some(&new_email), None).await? {
        return Err(AuthError::AlreadyRegistered);
    }
    let owner = user.id.to_string();
    let txn = store::begin_write(db).await?;
    if !one_time::consume(&txn, &row).await? {
        txn.rollback().await?;
        return Err(AuthError::InvalidLink);
    }
    match users
        .replace_email(&txn, &user.id, &row.bound_email, new_email.clone())
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            txn.rollback().await?;
            return Err(AuthError::InvalidLink);
        }
        Err(CreateError::Duplicate) => {
            txn.rollback().await?;
            return Err(AuthError::AlreadyRegistered);
        }
        Err(CreateError::Db(err)) => return Err(err.into()),
    }
    one_time::void_user(&txn, &owner).await?;
    txn.commit().await?;
    revocation::user(&auth, &owner).await;
    audit::email_changed(&user.id, client.ip);
    if let Some(old) = user.email {
        auth.inner
            .mail
            .enqueue(Email::notice(old, EmailKind::EmailChanged));
    }
    Ok(Json(json!({ "email": new_email })).into_response())
}

/// `/register` with a mail sender: 202 whether the email is new (a
/// verification mail) or taken (an `existing_account` notice). A taken
/// username is still 409: usernames are public.
pub(super) async fn register_quietly(
    auth: &CrudAuth,
    client: &Client,
    email: String,
    username: Option<String>,
    password: String,
    fields: Vec<(String, sea_orm::Value)>,
) -> Result<Response, AuthError> {
    let users = &auth.inner.users;
    let db = &auth.inner.db;
    if username.is_some() && users.exists(db, None, username.as_deref()).await? {
        return Err(AuthError::AlreadyRegistered);
    }
    let taken = users.exists(db, Some(&email), None).await?;
    // Hashed either way, so that a taken email costs what a new one does.
    let hash = auth.inner.hasher.hash(password).await?;
    let allowed = lockout::mail_allowed(auth, &email).await?;
    let kind = EmailKind::VerifyEmail;
    // The new user and its token commit together, and a taken email commits
    // its decoy token alone: one commit either way, so that a slow disk
    // (a PostgreSQL fsync is milliseconds) does not tell the two apart.
    let mut txn = store::begin_write(db).await?;
    let created = if taken {
        None
    } else {
        match users
            .create(&txn, Some(email.clone()), username, hash, fields)
            .await
        {
            Ok(user) => Some(user),
            // Taken by a concurrent registration; PostgreSQL has aborted
            // the transaction, so the decoy token needs a new one.
            Err(CreateError::Duplicate) => {
                txn.rollback().await?;
                txn = store::begin_write(db).await?;
                None
            }
            Err(CreateError::Db(err)) => return Err(err.into()),
        }
    };
    let token = issue_in(&txn, kind, created.as_ref(), None, VERIFY_TTL).await?;
    txn.commit().await?;
    match created {
        Some(user) => {
            if allowed && users.has_email_verified() {
                let link = link(auth, &auth.inner.config.verify_email_path, &token);
                auth.inner
                    .mail
                    .enqueue(Email::with_link(email, kind, link, VERIFY_TTL));
            }
            audit::registered(&user.id, client.ip);
            emit(auth, AuthEvent::Registered { user_id: user.id });
        }
        None if allowed => auth
            .inner
            .mail
            .enqueue(Email::notice(email, EmailKind::ExistingAccount)),
        None => {}
    }
    let body = json!({ "detail": "check your mailbox to finish registering" });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
