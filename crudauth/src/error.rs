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
    /// [`rate_limits`](crate::CrudAuthBuilder::rate_limits) names a store
    /// that cannot be used.
    #[error("invalid setting `rate_limits`: {0}")]
    RateLimitStore(String),
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

/// Declares [`AuthError`] from one table: each variant with its status,
/// its `code` and its message, said once. `status()`, `code()` and the
/// list of codes the OpenAPI document names are read from it.
macro_rules! auth_errors {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident $(($($field:ty),*))? => $status:ident, $code:literal, $message:literal;
    )*) => {
        /// Why a request was refused. Every variant becomes a JSON response
        /// `{"detail": "...", "code": "..."}` with the status of the SPEC's table.
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[non_exhaustive]
        pub enum AuthError {
            $(
                $(#[doc = $doc])*
                #[error($message)]
                $variant $(($($field),*))?,
            )*
        }

        impl AuthError {
            /// The HTTP status this error is answered with.
            pub fn status(&self) -> StatusCode {
                match self {
                    $(Self::$variant { .. } => StatusCode::$status,)*
                }
            }

            /// The machine-readable `code` of the JSON body.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => $code,)*
                }
            }
        }

        /// Every `code` an [`AuthError`] can carry, in the table's order
        /// (two variants may share one).
        #[cfg_attr(not(feature = "openapi"), allow(dead_code))]
        pub(crate) const ERROR_CODES: &[&str] = &[$($code),*];
    };
}

auth_errors! {
    /// 400: the body is not valid JSON or form syntax.
    BadRequest(String) => BAD_REQUEST, "bad_request", "malformed request body: {0}";
    /// 400: a one-time link's token (email verification, password reset,
    /// email change) is unknown, used, expired, superseded, or no longer
    /// matches the account.
    InvalidLink => BAD_REQUEST, "invalid_token", "this link is invalid, already used or expired; request a new one";
    /// 400: a second-factor code (or recovery code) was refused.
    InvalidCode => BAD_REQUEST, "invalid_code", "invalid or already used code";
    /// 401: no usable credential on a guarded route.
    Unauthenticated => UNAUTHORIZED, "unauthenticated", "authentication required";
    /// 401: the username/password pair (or current password) was refused.
    InvalidCredentials => UNAUTHORIZED, "invalid_credentials", "invalid username or password";
    /// 401: a bearer or refresh token is present but bad.
    InvalidToken(&'static str) => UNAUTHORIZED, "invalid_token", "invalid token: {0}";
    /// 403: CSRF token missing or wrong, or a cross-site request.
    CsrfFailed(&'static str) => FORBIDDEN, "csrf_failed", "CSRF check failed: {0}";
    /// 403: the superuser gate.
    InsufficientPrivileges => FORBIDDEN, "insufficient_privileges", "superuser privileges required";
    /// 403: the verified-email gate.
    NotVerified => FORBIDDEN, "not_verified", "a verified email address is required";
    /// 403: the second-factor gate: the credential was not established with
    /// a second factor.
    MfaRequired => FORBIDDEN, "mfa_required", "this action requires signing in with a second factor";
    /// 403: `.require_mfa(..)` applies to this user, whose credential was
    /// not established with a second factor: enrol one, or sign in with it.
    MfaEnrolmentRequired => FORBIDDEN, "mfa_enrolment_required", "this account must use a second factor: enrol one (POST /mfa/totp/setup), or sign in again with it";
    /// 403: the freshness gate: the last password proof is too old.
    ReauthenticationRequired => FORBIDDEN, "reauthentication_required", "this action requires a recent sign-in; authenticate again";
    /// 403: the scopes gate.
    InsufficientScope(String) => FORBIDDEN, "insufficient_scope", "insufficient scope: requires {0}";
    /// 403: the custom check gate.
    AccessDenied => FORBIDDEN, "access_denied", "access denied";
    /// 404: unknown route or resource.
    NotFound => NOT_FOUND, "not_found", "not found";
    /// 405: wrong method on a known route.
    MethodNotAllowed => METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed";
    /// 409: a second factor is already enabled; disable it first.
    MfaAlreadyEnabled => CONFLICT, "mfa_already_enabled", "two-factor authentication is already enabled";
    /// 409: duplicate email or username.
    AlreadyRegistered => CONFLICT, "already_registered", "a user with this email or username is already registered";
    /// 409: [`CrudAuth::create_user`](crate::CrudAuth::create_user) with an
    /// email address another account has.
    EmailTaken => CONFLICT, "email_taken", "an account with this email address already exists";
    /// 413: body over the limit.
    PayloadTooLarge(usize) => PAYLOAD_TOO_LARGE, "payload_too_large", "request body is larger than {0} bytes";
    /// 415: a body that is neither JSON nor a form.
    UnsupportedMediaType => UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "unsupported content type: send application/json or application/x-www-form-urlencoded";
    /// 422: well-formed but invalid fields; the message names the field.
    Invalid(String) => UNPROCESSABLE_ENTITY, "invalid", "{0}";
    /// 429: login lockout.
    Locked(u64) => TOO_MANY_REQUESTS, "locked", "too many failed attempts; retry in {0} seconds";
    /// 429: a route's `#[authed(rate = ..)]`, or the registration and
    /// recovery throttles.
    RateLimited(u64) => TOO_MANY_REQUESTS, "rate_limited", "too many requests; retry in {0} seconds";
    /// 503: the database cannot be reached.
    Unavailable => SERVICE_UNAVAILABLE, "unavailable", "the service is temporarily unavailable";
    /// 400: a sign-in callback without this browser's state cookie, or with
    /// another state.
    InvalidState => BAD_REQUEST, "invalid_state", "this sign-in was not started in this browser, or has expired; start again";
    /// 400: the provider refused, could not be reached, or gave a token
    /// that does not verify.
    OAuthFailed => BAD_REQUEST, "oauth_failed", "signing in with the provider failed";
    /// 400: the provider gave no email address.
    EmailMissing => BAD_REQUEST, "email_missing", "the provider gave no email address";
    /// 400: the provider does not say the email address is verified.
    EmailUnverified => BAD_REQUEST, "email_unverified", "the provider has not verified this email address";
    /// 400: the account with this email is linked to another identity of
    /// the same provider.
    ProviderAlreadyLinked => BAD_REQUEST, "provider_already_linked", "this account is already linked to another identity of this provider";
    /// 400: the account a sign-in would open is inactive.
    AccountInactive => BAD_REQUEST, "account_inactive", "this account is inactive";
    /// 400: the owner unlinked this provider identity; only they can link
    /// it again (signed in, with a fresh proof, through `?link=1`).
    IdentityUnlinked => BAD_REQUEST, "identity_unlinked", "this identity was unlinked from its account; sign in another way and link it again";
    /// 409: unlinking would leave the account no way to sign in.
    LastSignInMethod => CONFLICT, "last_sign_in_method", "this is the account's last way to sign in; set a password first";
    /// 409: `/set-password` on an account that has a password.
    PasswordExists => CONFLICT, "password_exists", "this account has a password; use /change-password";
}

impl From<sea_orm::DbErr> for AuthError {
    fn from(err: sea_orm::DbErr) -> Self {
        // Database failures are answered 503 so that clients retry; the cause
        // goes to the log, never to the client.
        tracing::error!(error = %err, "crudauth: database error");
        Self::Unavailable
    }
}

/// The body of every error answer crudauth gives: `{"detail", "code"}`, a
/// human message and a machine-readable code (one of [`AuthError`]'s,
/// or `bad_request`, `not_found`, `method_not_allowed`,
/// `payload_too_large`, `unsupported_media_type`, `invalid` for the
/// framework's own refusals). With the `openapi` feature it is the
/// document's `Error` schema, for an application's own `#[utoipa::path]`
/// answers.
///
/// # Examples
///
/// ```
/// let body: crudauth::ErrorBody =
///     serde_json::from_str(r#"{"detail": "authentication required", "code": "unauthenticated"}"#)
///         .unwrap();
/// assert_eq!(body.code, "unauthenticated");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Error))]
pub struct ErrorBody {
    /// A human message.
    pub detail: String,
    /// The machine-readable code.
    pub code: String,
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            detail: self.to_string(),
            code: self.code().to_owned(),
        };
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
