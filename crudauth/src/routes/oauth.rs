//! Sign in with a provider: `/oauth/{provider}/authorize` and `/callback`,
//! `/oauth/identities`, `DELETE /oauth/identities/{provider}`, and
//! `/set-password` for the accounts a provider made.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use serde_json::json;

use super::mfa::FRESH_SECS;
use super::sign_in::{self, Pending};
use super::{Empty, emit, with_cookies};
use crate::error::AuthError;
use crate::events::AuthEvent;
use crate::extract::{AnyTransport, Client, Current, Submitted};
use crate::guard::require_fresh;
use crate::oidc::{Flow, Identity, OidcProvider};
use crate::origin::safe_redirect;
use crate::password::policy::PasswordContext;
use crate::principal::LoadedUser;
use crate::state::CrudAuth;
use crate::store::identities::PendingLink;
use crate::store::mfa as mfa_store;
use crate::store::sessions::{self, NewSession};
use crate::store::users::{Account as AccountRow, CreateError};
use crate::store::{self, families, identities, one_time};
use crate::tokens::{now, password_epoch};
use crate::transport::session::SessionTransport;
use crate::{audit, cookies, csrf, lockout, password, revocation, tokens, transport};

/// The flow cookie's name without prefix.
const FLOW_COOKIE: &str = "oauth_state";

fn provider(auth: &CrudAuth, name: &str) -> Result<OidcProvider, AuthError> {
    auth.inner
        .oidc
        .iter()
        .find(|p| p.name() == name)
        .cloned()
        .ok_or(AuthError::NotFound)
}

fn redirect_uri(auth: &CrudAuth, provider: &str) -> String {
    let origin = auth
        .inner
        .config
        .public_origin
        .as_deref()
        .unwrap_or_default();
    let base = &auth.inner.config.base_path;
    format!(
        "{}{base}/oauth/{provider}/callback",
        origin.trim_end_matches('/')
    )
}

fn flow_cookie_name(auth: &CrudAuth) -> String {
    if auth.inner.config.cookies.secure {
        format!("__Host-{FLOW_COOKIE}")
    } else {
        FLOW_COOKIE.to_owned()
    }
}

/// The flow cookie: `HttpOnly`, `SameSite=Lax` (the provider's redirect
/// back is a top-level navigation, which Lax lets through), 10 minutes.
fn flow_cookie(auth: &CrudAuth, value: String, max_age: i64) -> String {
    Cookie::build((flow_cookie_name(auth), value))
        .path("/")
        .secure(auth.inner.config.cookies.secure)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

#[derive(Deserialize, Default)]
struct AuthorizeQuery {
    redirect_to: Option<String>,
    link: Option<String>,
}

pub(super) async fn authorize(
    State(auth): State<CrudAuth>,
    Path(name): Path<String>,
    client: Client,
    mut parts: Parts,
) -> Result<Response, AuthError> {
    let provider = provider(&auth, &name)?;
    lockout::throttle_oauth(&auth, client.ip).await?;
    let query: AuthorizeQuery =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default()).unwrap_or_default();
    // Linking an identity again is the owner's act: signed in in this
    // browser, with a proof as recent as the unlinking needed.
    let link_user = if query.link.as_deref() == Some("1") {
        let principal = transport::resolve(&mut parts, &auth, transport::session_only(&auth))
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        require_fresh(&principal, FRESH_SECS)?;
        Some(principal.user_id.to_string())
    } else {
        None
    };
    let (url, mut flow) = provider.authorize(&redirect_uri(&auth, &name));
    flow.redirect_to = safe_redirect(query.redirect_to.as_deref());
    flow.expires_at = now() + crate::oidc::FLOW_SECS;
    flow.link_user = link_user;
    let cookie = flow_cookie(&auth, flow.seal(&auth.inner.secret), crate::oidc::FLOW_SECS);
    let mut response = found(&url);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Deserialize, Default)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Every failure of the callback: a redirect to `/?error=<code>` for a
/// browser, the JSON error (400) for a client asking for JSON. The flow
/// cookie is cleared either way: a flow is good for one callback.
fn callback_failed(auth: &CrudAuth, headers: &HeaderMap, error: AuthError) -> Response {
    let wants_json = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"));
    let mut response = if wants_json {
        error.into_response()
    } else {
        found(&format!("/?error={}", error.code()))
    };
    if let Ok(value) = HeaderValue::from_str(&flow_cookie(auth, String::new(), 0)) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    response
}

pub(super) async fn callback(
    State(auth): State<CrudAuth>,
    Path(name): Path<String>,
    client: Client,
    parts: Parts,
) -> Response {
    let Ok(provider) = provider(&auth, &name) else {
        return AuthError::NotFound.into_response();
    };
    match sign_in(&auth, &provider, &client, &parts).await {
        Ok(response) => response,
        Err(error) => {
            audit::oauth_failed(client.ip, provider.name(), error.code());
            callback_failed(&auth, &parts.headers, error)
        }
    }
}

async fn sign_in(
    auth: &CrudAuth,
    provider: &OidcProvider,
    client: &Client,
    parts: &Parts,
) -> Result<Response, AuthError> {
    let query: CallbackQuery =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default()).unwrap_or_default();
    // The state must be the one this browser's flow cookie holds: else an
    // attacker could make a victim's browser complete the attacker's
    // sign-in (login CSRF) or replay a leaked callback URL.
    let flow = cookies::find(&parts.headers, &flow_cookie_name(auth))
        .and_then(|value| Flow::open(&auth.inner.secret, &value, now()))
        .filter(|flow| flow.provider == provider.name())
        .filter(|flow| flow.state_matches(query.state.as_deref().unwrap_or_default()))
        .ok_or(AuthError::InvalidState)?;
    if let Some(error) = query.error {
        tracing::info!(
            provider = provider.name(),
            error = %audit::escaped(&error.chars().take(64).collect::<String>()),
            "crudauth: the provider refused the sign-in"
        );
        return Err(AuthError::OAuthFailed);
    }
    let code = query.code.ok_or(AuthError::OAuthFailed)?;
    let identity = provider
        .sign_in(&code, &flow, &redirect_uri(auth, provider.name()))
        .await
        .map_err(|failed| {
            tracing::warn!(
                provider = provider.name(),
                reason = %audit::escaped(&failed.0),
                "crudauth: sign-in with the provider failed"
            );
            AuthError::OAuthFailed
        })?;
    let opened = link_or_create(auth, provider.name(), identity, &flow, client, parts).await?;
    let clear_flow = flow_cookie(auth, String::new(), 0);
    let (user, token) = match opened {
        Opened::Session(user, token) => (user, token),
        Opened::Challenge(challenge) => {
            // No session yet: the browser lands where it was going, told
            // to ask for the code, and holds the challenge in a cookie
            // that `/mfa/verify` reads.
            let mut response = found(&with_mfa_required(&flow.redirect_to));
            let cookie = auth
                .inner
                .config
                .cookies
                .mfa_challenge(&challenge, crate::mfa::CHALLENGE_SECS);
            for value in [clear_flow, cookie] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response
                        .headers_mut()
                        .append(axum::http::header::SET_COOKIE, value);
                }
            }
            return Ok(response);
        }
    };
    let csrf_token = csrf::token_for(&auth.inner.secret, &token);
    audit::login_succeeded(&user.id, client.ip, SessionTransport::NAME);
    emit(
        auth,
        AuthEvent::LoggedIn {
            user_id: user.id.clone(),
            transport: SessionTransport::NAME,
        },
    );
    let mut response = found(&flow.redirect_to);
    if let Ok(value) = HeaderValue::from_str(&clear_flow) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    Ok(with_cookies(
        response,
        auth.inner.config.cookies.issue(&token, &csrf_token, None),
    ))
}

/// `path` with `mfa_required=1` added to its query (before any fragment).
fn with_mfa_required(path: &str) -> String {
    super::html::with_query(path, "mfa_required", "1")
}

/// What a provider sign-in ends in.
enum Opened {
    /// A new session: the user and the session's secret token.
    Session(LoadedUser, String),
    /// The account has a second factor: the challenge's secret.
    Challenge(String),
}

/// SPEC section 9's rules, then a new session (or, for an account with a
/// second factor, a challenge), all in one transaction: a known identity
/// opens its account; an identity its owner unlinked is refused unless that
/// owner started this flow to link it again; else a verified email is
/// required, and links the account with that email (claiming it if its own
/// email was never verified) or makes a new one.
async fn link_or_create(
    auth: &CrudAuth,
    provider: &str,
    identity: Identity,
    flow: &Flow,
    client: &Client,
    parts: &Parts,
) -> Result<Opened, AuthError> {
    let db = &auth.inner.db;
    let users = &auth.inner.users;
    // Reads first, writes in one transaction after: on SQLite a read on
    // another connection would wait for the write lock this request holds.
    let known = identities::find(db, provider, &identity.subject).await?;
    let mut stale = None;
    if let Some(row) = known {
        let user = match users.parse_id(&row.user_id) {
            Some(id) => users.by_id(db, &id).await?,
            None => None,
        };
        match user {
            Some(user) if !user.is_active => return Err(AuthError::AccountInactive),
            Some(user) => return open_session(auth, Account::Known(user), client, parts).await,
            // The account was deleted: the identity is free again.
            None => stale = Some(row.id),
        }
    }
    if let Some(owner) = identities::unlinked_by(db, provider, &identity.subject).await? {
        // Unlinking a compromised provider account must keep it out, also
        // through the email it would otherwise link by.
        let user = match users.parse_id(&owner) {
            Some(id) => users.by_id(db, &id).await?,
            None => None,
        };
        if let Some(user) = user {
            if flow.link_user.as_deref() != Some(owner.as_str()) {
                return Err(AuthError::IdentityUnlinked);
            }
            if !user.is_active {
                return Err(AuthError::AccountInactive);
            }
            let email = identity.email.as_deref().map(str::to_lowercase);
            let link = Link {
                provider,
                subject: &identity.subject,
                email: email.as_deref(),
                stale,
            };
            return open_session(auth, Account::Relink(user, link), client, parts).await;
        }
    }
    let email = identity
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty() && e.len() <= crate::credentials::MAX_EMAIL && !e.contains('\0'))
        .ok_or(AuthError::EmailMissing)?
        .to_lowercase();
    if !identity.email_verified {
        return Err(AuthError::EmailUnverified);
    }
    let existing = users.by_login(db, &email).await?.filter(|u| {
        u.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    });
    let link = Link {
        provider,
        subject: &identity.subject,
        email: Some(&email),
        stale,
    };
    match existing {
        Some(user) if !user.is_active => Err(AuthError::AccountInactive),
        Some(user) => {
            if identities::has_provider(db, &user.id.to_string(), provider).await? {
                return Err(AuthError::ProviderAlreadyLinked);
            }
            open_session(auth, Account::Link(user, link), client, parts).await
        }
        None => open_session(auth, Account::Create(link), client, parts).await,
    }
}

/// Whose session to open.
enum Account<'a> {
    /// The account the identity is linked to.
    Known(LoadedUser),
    /// The account with the provider's verified email, to link.
    Link(LoadedUser, Link<'a>),
    /// The owner who unlinked the identity, linking it again.
    Relink(LoadedUser, Link<'a>),
    /// A new account for the identity.
    Create(Link<'a>),
}

/// An identity to link as part of opening the session.
struct Link<'a> {
    provider: &'a str,
    subject: &'a str,
    email: Option<&'a str>,
    stale: Option<String>,
}

async fn open_session(
    auth: &CrudAuth,
    account: Account<'_>,
    client: &Client,
    parts: &Parts,
) -> Result<Opened, AuthError> {
    let config = &auth.inner.config;
    let users = &auth.inner.users;
    let txn = store::begin_write(&auth.inner.db).await?;
    let relink = matches!(account, Account::Relink(..));
    let (user, link) = match account {
        Account::Known(user) => (Some(user), None),
        Account::Link(user, link) | Account::Relink(user, link) => (Some(user), Some(link)),
        Account::Create(link) => (None, Some(link)),
    };
    let mut linked = match (&user, &link) {
        (_, None) => None,
        (Some(_), Some(link)) if relink => Some((link.provider, "relinked")),
        (Some(_), Some(link)) => Some((link.provider, "linked")),
        (None, Some(link)) => Some((link.provider, "created")),
    };
    let mut user = match user {
        Some(user) => user,
        None => {
            let email = link
                .as_ref()
                .and_then(|l| l.email)
                .unwrap_or_default()
                .to_owned();
            let account = AccountRow {
                email: Some(email),
                hash: password::unusable_password(),
                verified: true,
                ..AccountRow::default()
            };
            match users.create_account(&txn, account).await {
                Ok(user) => user,
                // A registration with this email won the race.
                Err(CreateError::Duplicate) => return Err(AuthError::OAuthFailed),
                Err(CreateError::Db(err)) => return Err(err.into()),
            }
        }
    };
    let claiming = link.is_some() && !relink && !user.email_verified;
    if !claiming {
        // The provider proved who signed in there, not crudauth's second
        // factor: an enrolled account is challenged as at /login, and the
        // identity waits with the challenge, linked only once the code
        // passes.
        let link = link.as_ref().map(|link| {
            PendingLink {
                provider: link.provider.to_owned(),
                subject: link.subject.to_owned(),
                email: link.email.map(str::to_owned),
                relink,
                stale: link.stale.clone(),
            }
            .to_json()
        });
        let pending = Pending::Provider { link };
        if let Some(challenge) =
            sign_in::open_challenge_on(auth, &txn, &user, pending, client.ip).await?
        {
            txn.commit().await?;
            return Ok(Opened::Challenge(challenge));
        }
    }
    if let Some(link) = link {
        if let Some(stale) = &link.stale {
            identities::forget(&txn, stale).await?;
        }
        if relink {
            identities::forget_unlinked(&txn, link.provider, link.subject).await?;
        } else if !user.email_verified {
            // Claim: whoever registered this email never proved they own
            // it, and the provider says our user does. The password they
            // set (perhaps an attacker pre-registering the address) stops
            // working, and every session and token family ends.
            let unusable = password::unusable_password();
            if !users
                .replace_password_hash(&txn, &user.id, &user.password_hash, unusable.clone())
                .await?
            {
                txn.rollback().await?;
                return Err(AuthError::OAuthFailed);
            }
            users.set_email_verified(&txn, &user.id).await?;
            let owner = user.id.to_string();
            sessions::revoke_all(&txn, &owner, None).await?;
            families::revoke_user(&txn, &owner).await?;
            // A second factor the pre-registrant enrolled would challenge
            // the real owner for the attacker's code; their pending links
            // (an email change, a reset) and challenges go too.
            mfa_store::disable(&txn, &owner).await?;
            mfa_store::drop_challenges(&txn, &owner).await?;
            one_time::void_user(&txn, &owner).await?;
            user.password_hash = unusable;
            user.email_verified = true;
            linked = linked.map(|(provider, _)| (provider, "claimed"));
        }
        if !identities::link(
            &txn,
            link.provider,
            link.subject,
            &user.id.to_string(),
            link.email.map(str::to_owned),
        )
        .await?
        {
            // A concurrent callback linked this identity first.
            txn.rollback().await?;
            return Err(AuthError::OAuthFailed);
        }
    }
    // As at /login: a session id the browser brought is never adopted.
    if let Some(old) = cookies::find(&parts.headers, &config.cookies.session_name())
        && tokens::well_formed(&old)
        && let Some(row) = sessions::find_live(&txn, &old).await?
    {
        sessions::revoke(&txn, &row.user_id, &row.id).await?;
    }
    let created = sessions::create(
        &txn,
        NewSession {
            user_id: user.id.to_string(),
            idle_secs: config.session_idle.as_secs() as i64,
            lifetime_secs: config.session_absolute.as_secs() as i64,
            ip: client.ip.map(|ip| ip.to_string()),
            user_agent: client.user_agent.clone(),
            password_epoch: password_epoch(&user.password_hash),
            // The provider's sign-in is not crudauth's second factor.
            mfa: false,
            cap: config.max_sessions_per_user,
        },
    )
    .await?;
    txn.commit().await?;
    let token = created.token;
    for _ in 0..created.ended {
        audit::session_revoked(&user.id, "session_cap");
    }
    // A claim ended the account's sessions and families, and a session
    // the browser brought is gone: cached copies go too.
    revocation::user(auth, &user.id.to_string()).await;
    if let Some((provider, how)) = linked {
        audit::oauth_linked(&user.id, client.ip, provider, how);
    }
    Ok(Opened::Session(user, token))
}

pub(super) async fn list(
    State(auth): State<CrudAuth>,
    Current(principal, ..): Current<AnyTransport>,
) -> Result<Response, AuthError> {
    let rows = identities::of_user(&auth.inner.db, &principal.user_id.to_string()).await?;
    let listed: Vec<_> = rows
        .into_iter()
        .map(|row| {
            json!({
                "provider": row.provider,
                "subject": row.subject,
                "email": row.email,
                "created_at": chrono::DateTime::from_timestamp(row.created_at, 0)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
        })
        .collect();
    Ok(Json(listed).into_response())
}

pub(super) async fn unlink(
    State(auth): State<CrudAuth>,
    Path(name): Path<String>,
    client: Client,
    form: Submitted<Empty, AnyTransport>,
) -> Result<Response, AuthError> {
    let (principal, _) = form.signed_in()?;
    // A stolen session must not be able to cut the owner's way in.
    require_fresh(&principal, FRESH_SECS)?;
    let db = &auth.inner.db;
    let user = auth
        .inner
        .users
        .by_id(db, &principal.user_id)
        .await?
        .ok_or(AuthError::Unauthenticated)?;
    let owner = user.id.to_string();
    let txn = store::begin_write(db).await?;
    let rows = identities::of_user_for_update(&txn, &owner).await?;
    let (gone, kept): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.provider == name);
    if gone.is_empty() {
        txn.rollback().await?;
        return Err(AuthError::NotFound);
    }
    if kept.is_empty() && !password::is_usable(&user.password_hash) {
        txn.rollback().await?;
        return Err(AuthError::LastSignInMethod);
    }
    identities::unlink(&txn, &owner, &name).await?;
    for row in &gone {
        identities::remember_unlinked(&txn, &row.provider, &row.subject, &owner).await?;
    }
    txn.commit().await?;
    audit::oauth_unlinked(&user.id, client.ip, &name);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub(super) struct SetPassword {
    new_password: String,
}

pub(super) async fn set_password(
    State(auth): State<CrudAuth>,
    form: Submitted<SetPassword, AnyTransport>,
) -> Result<Response, AuthError> {
    let (principal, form) = form.signed_in()?;
    // A stolen cookie or refresh token must not turn into a password that
    // outlives it.
    require_fresh(&principal, FRESH_SECS)?;
    let db = &auth.inner.db;
    let user = auth
        .inner
        .users
        .by_id(db, &principal.user_id)
        .await?
        .ok_or(AuthError::Unauthenticated)?;
    if password::is_usable(&user.password_hash) {
        return Err(AuthError::PasswordExists);
    }
    auth.inner.password_policy.check(
        "new_password",
        &form.new_password,
        &PasswordContext::of(&user),
    )?;
    let hash = auth.inner.hasher.hash(form.new_password).await?;
    let response = super::account::replace_password(
        &auth,
        &principal,
        &user,
        hash,
        AuthError::PasswordExists,
        // Setting a first password proves nothing: the session keeps
        // the freshness it had.
        false,
    )
    .await?;
    audit::password_changed(&user.id, "set_password");
    emit(&auth, AuthEvent::PasswordChanged { user_id: user.id });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::with_mfa_required;

    #[test]
    fn mfa_required_joins_the_query_before_any_fragment() {
        assert_eq!(with_mfa_required("/"), "/?mfa_required=1");
        assert_eq!(with_mfa_required("/a?b=1"), "/a?b=1&mfa_required=1");
        assert_eq!(with_mfa_required("/a#top"), "/a?mfa_required=1#top");
        assert_eq!(with_mfa_required("/a?b#c?d"), "/a?b&mfa_required=1#c?d");
    }
}
