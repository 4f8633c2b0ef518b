//! The error types: [`ConfigError`] for a wrong setup, [`AuthError`] for a
//! refused request, and [`AuthRejection`], the error as extractors answer it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A configuration mistake found by [`CrudAuthBuilder::build`](crate::CrudAuthBuilder::build)
/// or [`CrudAuthConfig::from_env`](crate::CrudAuthConfig::from_env).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No database was given.
    #[error("no database: call `.database(db)` with a sea_orm::DatabaseConnection")]
    MissingDatabase,
    /// No user model was given.
    #[error(
        "no user model: call `.user_model::<user::Model>()` with a Model that implements AuthUser"
    )]
    MissingUserModel,
    /// The signing secret is missing or too short to be safe.
    #[error(
        "the secret key is {0} bytes long; it must be at least 32 bytes (generate one with `openssl rand -base64 48`)"
    )]
    WeakSecret(usize),
    /// No transport was enabled.
    #[error("no transport: add at least one with `.transport(SessionTransport::new())`")]
    NoTransport,
    /// The same transport was added twice.
    #[error("transport \"{0}\" is enabled twice; each transport may appear once in the chain")]
    DuplicateTransport(&'static str),
    /// `#[authed]` handlers narrow to transports this `CrudAuth` does not enable.
    #[error("{}", render_unknown_transports(handlers))]
    UnknownTransports {
        /// Each handler and the transport it names.
        handlers: Vec<NarrowedHandler>,
    },
    /// An environment variable holds a value that cannot be used.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    BadEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// [`register_fields`](crate::CrudAuthBuilder::register_fields) names a
    /// column that clients must not set, or that they cannot.
    #[error("`register_fields` lists \"{field}\": {reason}")]
    RegisterField {
        /// The field as listed.
        field: String,
        /// Why it cannot be listed, and what to do instead.
        reason: String,
    },
    /// A setting is out of range.
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid {
        /// The setting.
        setting: &'static str,
        /// What it must be.
        reason: &'static str,
    },
}

/// A `#[authed]` handler that names a transport the chain lacks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct NarrowedHandler {
    /// `module::path::handler`.
    pub handler: String,
    /// The transport, as written: `"bearer"` or `` `path::Type` ``.
    pub transport: String,
}

fn render_unknown_transports(list: &[NarrowedHandler]) -> String {
    let mut out = String::from(
        "handlers narrow to transports this CrudAuth does not enable (add them with `.transport(..)`):",
    );
    for NarrowedHandler { handler, transport } in list {
        out.push_str(&format!(
            "\n  - handler `{handler}` requires transport {transport}"
        ));
    }
    out
}

/// Why a request was refused. Every variant becomes a JSON response
/// `{"detail": "...", "code": "..."}` with the status of the SPEC's table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// 400: the body is not valid JSON or form syntax.
    #[error("malformed request body: {0}")]
    BadRequest(String),
    /// 400: a one-time link's token (email verification, password reset,
    /// email change) is unknown, used, expired, superseded, or no longer
    /// matches the account.
    #[error("this link is invalid, already used or expired; request a new one")]
    InvalidLink,
    /// 400: a second-factor code (or recovery code) was refused.
    #[error("invalid or already used code")]
    InvalidCode,
    /// 401: no usable credential on a guarded route.
    #[error("authentication required")]
    Unauthenticated,
    /// 401: the username/password pair (or current password) was refused.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// 401: a bearer or refresh token is present but bad.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// 403: CSRF token missing or wrong, or a cross-site request.
    #[error("CSRF check failed: {0}")]
    CsrfFailed(&'static str),
    /// 403: the superuser gate.
    #[error("superuser privileges required")]
    InsufficientPrivileges,
    /// 403: the verified-email gate.
    #[error("a verified email address is required")]
    NotVerified,
    /// 403: the second-factor gate: the credential was not established with
    /// a second factor.
    #[error("this action requires signing in with a second factor")]
    MfaRequired,
    /// 403: the freshness gate: the last password proof is too old.
    #[error("this action requires a recent sign-in; authenticate again")]
    ReauthenticationRequired,
    /// 403: the scopes gate.
    #[error("insufficient scope: requires {0}")]
    InsufficientScope(String),
    /// 403: the custom check gate.
    #[error("access denied")]
    AccessDenied,
    /// 404: unknown route or resource.
    #[error("not found")]
    NotFound,
    /// 405: wrong method on a known route.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: a second factor is already enabled; disable it first.
    #[error("two-factor authentication is already enabled")]
    MfaAlreadyEnabled,
    /// 409: duplicate email or username.
    #[error("a user with this email or username is already registered")]
    AlreadyRegistered,
    /// 413: body over the limit.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415: a body that is neither JSON nor a form.
    #[error("unsupported content type: send application/json or application/x-www-form-urlencoded")]
    UnsupportedMediaType,
    /// 422: well-formed but invalid fields; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// 429: login lockout.
    #[error("too many failed attempts; retry in {0} seconds")]
    Locked(u64),
    /// 429: registration throttle.
    #[error("too many registrations; retry in {0} seconds")]
    RateLimited(u64),
    /// 503: the database cannot be reached.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// 400: a sign-in callback without this browser's state cookie, or with
    /// another state.
    #[error("this sign-in was not started in this browser, or has expired; start again")]
    InvalidState,
    /// 400: the provider refused, could not be reached, or gave a token
    /// that does not verify.
    #[error("signing in with the provider failed")]
    OAuthFailed,
    /// 400: the provider gave no email address.
    #[error("the provider gave no email address")]
    EmailMissing,
    /// 400: the provider does not say the email address is verified.
    #[error("the provider has not verified this email address")]
    EmailUnverified,
    /// 400: the account with this email is linked to another identity of
    /// the same provider.
    #[error("this account is already linked to another identity of this provider")]
    ProviderAlreadyLinked,
    /// 400: the account a sign-in would open is inactive.
    #[error("this account is inactive")]
    AccountInactive,
    /// 400: the owner unlinked this provider identity; only they can link
    /// it again (signed in, with a fresh proof, through `?link=1`).
    #[error("this identity was unlinked from its account; sign in another way and link it again")]
    IdentityUnlinked,
    /// 409: unlinking would leave the account no way to sign in.
    #[error("this is the account's last way to sign in; set a password first")]
    LastSignInMethod,
    /// 409: `/set-password` on an account that has a password.
    #[error("this account has a password; use /change-password")]
    PasswordExists,
}

impl AuthError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::InvalidLink | Self::InvalidCode => StatusCode::BAD_REQUEST,
            Self::Unauthenticated | Self::InvalidCredentials | Self::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            Self::CsrfFailed(_)
            | Self::InsufficientPrivileges
            | Self::NotVerified
            | Self::MfaRequired
            | Self::ReauthenticationRequired
            | Self::InsufficientScope(_)
            | Self::AccessDenied => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::AlreadyRegistered | Self::MfaAlreadyEnabled => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Locked(_) | Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InvalidState
            | Self::OAuthFailed
            | Self::EmailMissing
            | Self::EmailUnverified
            | Self::ProviderAlreadyLinked
            | Self::IdentityUnlinked
            | Self::AccountInactive => StatusCode::BAD_REQUEST,
            Self::LastSignInMethod | Self::PasswordExists => StatusCode::CONFLICT,
        }
    }

    /// The machine-readable `code` of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::InvalidCode => "invalid_code",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken(_) | Self::InvalidLink => "invalid_token",
            Self::CsrfFailed(_) => "csrf_failed",
            Self::InsufficientPrivileges => "insufficient_privileges",
            Self::NotVerified => "not_verified",
            Self::MfaRequired => "mfa_required",
            Self::ReauthenticationRequired => "reauthentication_required",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::AccessDenied => "access_denied",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::AlreadyRegistered => "already_registered",
            Self::MfaAlreadyEnabled => "mfa_already_enabled",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Invalid(_) => "invalid",
            Self::Locked(_) => "locked",
            Self::RateLimited(_) => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::InvalidState => "invalid_state",
            Self::OAuthFailed => "oauth_failed",
            Self::EmailMissing => "email_missing",
            Self::EmailUnverified => "email_unverified",
            Self::ProviderAlreadyLinked => "provider_already_linked",
            Self::AccountInactive => "account_inactive",
            Self::IdentityUnlinked => "identity_unlinked",
            Self::LastSignInMethod => "last_sign_in_method",
            Self::PasswordExists => "password_exists",
        }
    }
}

impl From<sea_orm::DbErr> for AuthError {
    fn from(err: sea_orm::DbErr) -> Self {
        // Database failures are answered 503 so that clients retry; the cause
        // goes to the log, never to the client.
        tracing::error!(error = %err, "crudauth: database error");
        Self::Unavailable
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "detail": self.to_string(), "code": self.code() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Self::Locked(secs) | Self::RateLimited(secs) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if self.status() == StatusCode::UNAUTHORIZED {
            response.extensions_mut().insert(Unauthorized {
                invalid_token: matches!(self, Self::InvalidToken(_)),
            });
        }
        response
    }
}

/// Marks a 401 rendered from an [`AuthError`], for [`add_bearer_challenge`].
#[derive(Debug, Clone, Copy)]
struct Unauthorized {
    invalid_token: bool,
}

/// Adds the RFC 6750 challenge to a 401 that crudauth rendered; the one
/// place that writes `WWW-Authenticate`.
pub(crate) fn add_bearer_challenge(mut response: Response) -> Response {
    if let Some(marker) = response.extensions().get::<Unauthorized>().copied() {
        let value = if marker.invalid_token {
            "Bearer error=\"invalid_token\""
        } else {
            "Bearer"
        };
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    }
    response
}

/// The rejection of crudauth's extractors ([`Principal`](crate::Principal),
/// `Option<Principal>`, the `#[authed]` guard): an [`AuthError`] answered as
/// its JSON body, with `WWW-Authenticate: Bearer` on 401s when the
/// application accepts bearer tokens.
///
/// # Examples
///
/// ```
/// use axum::Json;
/// use crudauth::{AuthRejection, Principal};
///
/// async fn whoami(user: Result<Principal, AuthRejection>) -> Json<serde_json::Value> {
///     match user {
///         Ok(user) => Json(serde_json::json!({ "id": user.user_id })),
///         Err(why) => Json(serde_json::json!({ "anonymous": why.error().code() })),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRejection {
    error: AuthError,
    bearer_challenge: bool,
}

impl AuthRejection {
    pub(crate) fn new(error: AuthError, bearer_challenge: bool) -> Self {
        Self {
            error,
            bearer_challenge,
        }
    }

    /// Why the request was refused.
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// The error, for handlers that answer it their own way.
    pub fn into_error(self) -> AuthError {
        self.error
    }
}

impl From<AuthRejection> for AuthError {
    fn from(rejection: AuthRejection) -> Self {
        rejection.error
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let response = self.error.into_response();
        if self.bearer_challenge {
            add_bearer_challenge(response)
        } else {
            response
        }
    }
}
