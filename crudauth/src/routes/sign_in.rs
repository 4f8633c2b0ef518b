//! The step every sign-in takes before it issues a credential: an account
//! with a confirmed second factor gets a challenge (completed at
//! `/mfa/verify`) instead. `/login`, `/token` and the provider callback
//! call it; none of them calls another route file for it.

use std::net::IpAddr;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::AuthError;
use crate::mfa::CHALLENGE_SECS;
use crate::principal::LoadedUser;
use crate::state::CrudAuth;
use crate::store::mfa::{self as store, NewChallenge};
use crate::transport::bearer::BearerTransport;
use crate::transport::session::SessionTransport;
use crate::{audit, tokens};

/// What a login will issue once its second factor passes.
pub(super) enum Pending {
    Session {
        remember_me: bool,
    },
    Token {
        scope: String,
    },
    /// A provider sign-in's session, and the identity to link with it
    /// (JSON, see `store::identities::PendingLink`).
    #[cfg_attr(not(feature = "oidc"), allow(dead_code))]
    Provider {
        link: Option<String>,
    },
}

/// The answer of `/login` or `/token` for an account with a second factor:
/// a challenge instead of a credential. `None` for any other account.
pub(super) async fn challenge(
    auth: &CrudAuth,
    user: &LoadedUser,
    pending: Pending,
    ip: Option<IpAddr>,
) -> Result<Option<Response>, AuthError> {
    let Some(challenge) = open_challenge(auth, user, pending, ip).await? else {
        return Ok(None);
    };
    let body = json!({
        "mfa_required": true,
        "challenge": challenge,
        "expires_in": CHALLENGE_SECS,
    });
    Ok(Some(Json(body).into_response()))
}

/// For an account with a confirmed second factor, a stored challenge
/// that `/mfa/verify` completes into what `pending` describes, and its
/// secret; `None` for any other account. Every path that would sign an
/// account in goes through here first (SPEC section 13).
pub(super) async fn open_challenge(
    auth: &CrudAuth,
    user: &LoadedUser,
    pending: Pending,
    ip: Option<IpAddr>,
) -> Result<Option<String>, AuthError> {
    open_challenge_on(auth, &auth.inner.db, user, pending, ip).await
}

/// [`open_challenge`] on `db`, a transaction the caller commits.
pub(super) async fn open_challenge_on<C: sea_orm::ConnectionTrait>(
    auth: &CrudAuth,
    db: &C,
    user: &LoadedUser,
    pending: Pending,
    ip: Option<IpAddr>,
) -> Result<Option<String>, AuthError> {
    let owner = user.id.to_string();
    if !store::enabled(db, &owner).await? {
        return Ok(None);
    }
    if auth.inner.mfa.is_none() {
        // Without the key, the second factor cannot be checked; a login
        // without it would be a downgrade. Fail closed.
        tracing::error!(
            "crudauth: an account with a second factor tried to sign in, but no mfa_key is \
             configured (CRUDAUTH_MFA_KEY): refused"
        );
        return Err(AuthError::Unavailable);
    }
    let (transport, remember_me, scope, pending_link) = match pending {
        Pending::Session { remember_me } => {
            (SessionTransport::NAME, remember_me, String::new(), None)
        }
        Pending::Token { scope } => (BearerTransport::NAME, false, scope, None),
        Pending::Provider { link } => (SessionTransport::NAME, false, String::new(), link),
    };
    let challenge = store::create_challenge(
        db,
        NewChallenge {
            user_id: owner,
            transport,
            remember_me,
            scope,
            password_epoch: tokens::password_epoch(&user.password_hash),
            ttl_secs: CHALLENGE_SECS,
            pending_link,
        },
    )
    .await?;
    audit::mfa_challenged(&user.id, ip, transport);
    Ok(Some(challenge))
}
