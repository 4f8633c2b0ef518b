//! What an application does from its own code, without a built-in route:
//! create an account, check a password behind the lockout, sign a user in
//! with a session, issue a token pair. Each takes the same steps as the
//! route that does it over HTTP.

use std::future::{Future, IntoFuture};
use std::net::IpAddr;
use std::pin::Pin;

use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponseParts, ResponseParts};

use super::account::validate_username;
use super::emit;
use super::session;
use super::token::{self, TokenPair, clamp_scopes};
use crate::credentials::validate_email;
use crate::error::AuthError;
use crate::events::AuthEvent;
use crate::extract::Client;
use crate::password::{self, policy::PasswordContext};
use crate::principal::{LoadedUser, UserId};
use crate::state::CrudAuth;
use crate::store::users::{Account, CreateError};
use crate::store::{self, mfa as mfa_store};
use crate::{audit, lockout};

/// An account for [`CrudAuth::create_user`]: known by its email address or
/// its username, with a password (without one, nobody can sign in with a
/// password until a reset sets it), optionally a superuser or with its
/// email already verified.
///
/// # Examples
///
/// ```
/// use crudauth::NewAccount;
///
/// let admin = NewAccount::email("ada@example.com")
///     .password("correct horse battery")
///     .superuser()
///     .verified();
/// # let _ = admin;
/// ```
#[derive(Clone)]
pub struct NewAccount {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
    superuser: bool,
    verified: bool,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("superuser", &self.superuser)
            .field("verified", &self.verified)
            .finish()
    }
}

impl NewAccount {
    /// An account known by its email address.
    pub fn email(email: impl Into<String>) -> Self {
        Self::new(Some(email.into()), None)
    }

    /// An account known by its username (for user models without an email
    /// column, or beside [`with_email`](Self::with_email)).
    pub fn username(username: impl Into<String>) -> Self {
        Self::new(None, Some(username.into()))
    }

    fn new(email: Option<String>, username: Option<String>) -> Self {
        Self {
            email,
            username,
            password: None,
            superuser: false,
            verified: false,
        }
    }

    /// Its email address too.
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Its username too.
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Its password, checked against the password policy.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// A superuser (the model needs an `is_superuser` column).
    pub fn superuser(mut self) -> Self {
        self.superuser = true;
        self
    }

    /// Its email address already verified (the model needs an
    /// `email_verified` column).
    pub fn verified(mut self) -> Self {
        self.verified = true;
        self
    }
}

pub(crate) async fn create_user(auth: &CrudAuth, account: NewAccount) -> Result<UserId, AuthError> {
    let users = &auth.inner.users;
    let db = &auth.inner.db;
    let email = match account.email.as_deref() {
        Some(email) => Some(validate_email(email)?),
        None if users.has_email() && account.username.is_none() => {
            return Err(AuthError::Invalid("email: required".into()));
        }
        None => None,
    };
    let username = account
        .username
        .as_deref()
        .map(validate_username)
        .transpose()?;
    if account.superuser && !users.has_superuser() {
        return Err(AuthError::Invalid(
            "superuser: the user model has no is_superuser column".into(),
        ));
    }
    if account.verified && !users.has_email_verified() {
        return Err(AuthError::Invalid(
            "verified: the user model has no email_verified column".into(),
        ));
    }
    let hash = match account.password {
        Some(password) => {
            auth.inner.password_policy.check(
                "password",
                &password,
                &PasswordContext::new(email.as_deref(), username.as_deref()),
            )?;
            auth.inner.hasher.hash(password).await?
        }
        None => password::unusable_password(),
    };
    let taken = || {
        if email.is_some() {
            AuthError::EmailTaken
        } else {
            AuthError::AlreadyRegistered
        }
    };
    if users.exists(db, email.as_deref(), None).await? {
        return Err(AuthError::EmailTaken);
    }
    if users.exists(db, None, username.as_deref()).await? {
        return Err(AuthError::AlreadyRegistered);
    }
    let txn = store::begin_write(db).await?;
    let row = Account {
        email: email.clone(),
        username,
        hash,
        verified: account.verified,
        superuser: account.superuser,
    };
    let user = match users.create_account(&txn, row).await {
        Ok(user) => user,
        Err(CreateError::Duplicate) => return Err(taken()),
        Err(CreateError::Db(err)) => return Err(err.into()),
    };
    txn.commit().await?;
    audit::user_created(&user.id, account.superuser);
    emit(
        auth,
        AuthEvent::Registered {
            user_id: user.id.clone(),
        },
    );
    Ok(user.id)
}

pub(crate) async fn check_password(
    auth: &CrudAuth,
    identifier: &str,
    password: String,
    ip: IpAddr,
) -> Result<UserId, AuthError> {
    let user = lockout::guarded_login(auth, Some(ip), identifier, password).await?;
    Ok(user.id)
}

/// The active account `id`, refused as the credential routes refuse one:
/// unknown or inactive is `invalid_credentials`.
async fn active(auth: &CrudAuth, id: &UserId) -> Result<LoadedUser, AuthError> {
    let user = auth.inner.users.by_id(&auth.inner.db, id).await?;
    user.filter(|u| u.is_active)
        .ok_or(AuthError::InvalidCredentials)
}

/// Refuses an account with a second factor unless the application says it
/// checked one.
async fn second_factor(auth: &CrudAuth, user: &LoadedUser, checked: bool) -> Result<(), AuthError> {
    if !checked && mfa_store::enabled(&auth.inner.db, &user.id.to_string()).await? {
        return Err(AuthError::MfaRequired);
    }
    Ok(())
}

type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, AuthError>> + Send + 'a>>;

/// A session sign-in from the application's code
/// ([`CrudAuth::sign_in`]); await it for the [`SessionLogin`].
#[derive(Debug)]
#[must_use = "a sign-in does nothing until it is awaited"]
pub struct SignIn<'a> {
    auth: &'a CrudAuth,
    user: UserId,
    mfa: bool,
    remember_me: bool,
    ip: Option<IpAddr>,
}

impl<'a> SignIn<'a> {
    pub(crate) fn new(auth: &'a CrudAuth, user: UserId) -> Self {
        Self {
            auth,
            user,
            mfa: false,
            remember_me: false,
            ip: None,
        }
    }

    /// The application checked the account's second factor itself: an
    /// enrolled account is signed in (its session counts as established
    /// with a second factor, for `#[authed(mfa)]`) instead of refused.
    pub fn with_mfa(mut self) -> Self {
        self.mfa = true;
        self
    }

    /// A long-lived session, as `/login`'s `remember_me`.
    pub fn remember_me(mut self) -> Self {
        self.remember_me = true;
        self
    }

    /// The client's address, kept with the session (`GET /sessions`).
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }
}

impl<'a> IntoFuture for SignIn<'a> {
    type Output = Result<SessionLogin, AuthError>;
    type IntoFuture = Pending<'a, SessionLogin>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let auth = self.auth;
            let user = active(auth, &self.user).await?;
            second_factor(auth, &user, self.mfa).await?;
            let client = Client {
                ip: self.ip,
                user_agent: None,
            };
            let opened =
                session::open(auth, &user, client, None, self.remember_me, self.mfa).await?;
            Ok(SessionLogin {
                user_id: user.id,
                csrf_token: opened.csrf_token,
                cookies: opened.cookies,
            })
        })
    }
}

/// A session just opened by [`CrudAuth::sign_in`]: return it with the
/// handler's answer (it sets the session and CSRF cookies), and give the
/// page its [`csrf_token`](Self::csrf_token).
///
/// # Examples
///
/// ```no_run
/// # async fn handler(auth: crudauth::CrudAuth, id: crudauth::UserId)
/// #     -> Result<impl axum::response::IntoResponse, crudauth::AuthError> {
/// let login = auth.sign_in(&id).await?;
/// let page = format!("<meta name=csrf content={}>", login.csrf_token());
/// Ok((login, axum::response::Html(page)))
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SessionLogin {
    user_id: UserId,
    csrf_token: String,
    cookies: [String; 2],
}

impl SessionLogin {
    /// The signed-in user.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// The session's CSRF token, for the `X-CSRF-Token` header or a form's
    /// `csrf_token` field.
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl IntoResponseParts for SessionLogin {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        for cookie in self.cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                res.headers_mut().append(SET_COOKIE, value);
            }
        }
        Ok(res)
    }
}

/// A token pair issued from the application's code
/// ([`CrudAuth::issue_tokens`]); await it for the [`TokenPair`].
#[derive(Debug)]
#[must_use = "tokens are issued only when this is awaited"]
pub struct IssueTokens<'a> {
    auth: &'a CrudAuth,
    user: UserId,
    scopes: Vec<String>,
    mfa: bool,
}

impl<'a> IssueTokens<'a> {
    pub(crate) fn new(auth: &'a CrudAuth, user: UserId, scopes: Vec<String>) -> Self {
        Self {
            auth,
            user,
            scopes,
            mfa: false,
        }
    }

    /// The application checked the account's second factor itself; see
    /// [`SignIn::with_mfa`].
    pub fn with_mfa(mut self) -> Self {
        self.mfa = true;
        self
    }
}

impl<'a> IntoFuture for IssueTokens<'a> {
    type Output = Result<TokenPair, AuthError>;
    type IntoFuture = Pending<'a, TokenPair>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let auth = self.auth;
            let user = active(auth, &self.user).await?;
            second_factor(auth, &user, self.mfa).await?;
            let scope = clamp_scopes(Some(&self.scopes.join(" ")), &user.scopes);
            token::issue(auth, &user, &scope, self.mfa, None).await
        })
    }
}
