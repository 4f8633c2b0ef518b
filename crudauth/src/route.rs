//! [`Route`]: the name of each built-in route, with its method and path,
//! for switching routes off ([`CrudAuthBuilder::disable`]) and for listing
//! them.
//!
//! [`CrudAuthBuilder::disable`]: crate::CrudAuthBuilder::disable

use axum::http::Method;

/// One built-in route of [`CrudAuth::router`](crate::CrudAuth::router).
/// Its [`path`](Self::path) is relative to the base path
/// ([`CrudAuthBuilder::base_path`](crate::CrudAuthBuilder::base_path)).
///
/// Which routes are mounted depends on the configuration (the session
/// transport mounts `/login`, an MFA key the `/mfa` routes, …); any of
/// them can also be switched off with
/// [`CrudAuthBuilder::disable`](crate::CrudAuthBuilder::disable): a
/// disabled route answers 404 and is absent from the OpenAPI document.
///
/// # Examples
///
/// ```
/// use crudauth::Route;
///
/// assert_eq!(Route::Register.path(), "/register");
/// assert_eq!(Route::SessionRevoke.method(), axum::http::Method::DELETE);
/// assert!(Route::ALL.contains(&Route::Token));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `POST /register`: creates an account.
    Register,
    /// `POST /login`: signs in with the session transport.
    Login,
    /// `POST /logout`: ends the current session.
    Logout,
    /// `POST /logout-all`: ends the user's sessions and token families.
    LogoutAll,
    /// `GET /me`: the signed-in principal.
    Me,
    /// `GET /sessions`: the user's sessions.
    Sessions,
    /// `DELETE /sessions/{id}`: ends one of them.
    SessionRevoke,
    /// `POST /token`: a token pair for a password.
    Token,
    /// `POST /refresh`: a refresh token exchanged for a new pair.
    Refresh,
    /// `POST /revoke`: ends a token family.
    Revoke,
    /// `POST /change-password`.
    ChangePassword,
    /// `POST /sudo`: a fresh proof for the current credential.
    Sudo,
    /// `POST /password/reset-request`: mails a reset link.
    PasswordResetRequest,
    /// `POST /password/reset-confirm`: sets a new password with the link's
    /// token.
    PasswordResetConfirm,
    /// `POST /email/change-request`: mails a link to a new address.
    EmailChangeRequest,
    /// `POST /email/change-confirm`.
    EmailChangeConfirm,
    /// `POST /email/verify-request`: mails a verification link.
    EmailVerifyRequest,
    /// `POST /email/verify-confirm`.
    EmailVerifyConfirm,
    /// `GET /mfa`: whether the user has a second factor.
    MfaStatus,
    /// `POST /mfa/totp/setup`: a new TOTP secret, to confirm.
    MfaTotpSetup,
    /// `POST /mfa/totp/confirm`: turns it on.
    MfaTotpConfirm,
    /// `POST /mfa/totp/disable`: turns it off.
    MfaTotpDisable,
    /// `POST /mfa/recovery-codes`: new recovery codes.
    MfaRecoveryCodes,
    /// `POST /mfa/verify`: answers a sign-in's second-factor challenge.
    MfaVerify,
    /// `GET /oauth/{provider}/authorize`: starts a provider sign-in.
    OauthAuthorize,
    /// `GET /oauth/{provider}/callback`: where the provider sends the
    /// browser back.
    OauthCallback,
    /// `GET /oauth/identities`: the user's linked providers.
    OauthIdentities,
    /// `DELETE /oauth/identities/{provider}`: unlinks one.
    OauthUnlink,
    /// `POST /set-password`: a first password for a provider-made account.
    SetPassword,
}

impl Route {
    /// Every built-in route.
    pub const ALL: &'static [Route] = &[
        Route::Register,
        Route::Login,
        Route::Logout,
        Route::LogoutAll,
        Route::Me,
        Route::Sessions,
        Route::SessionRevoke,
        Route::Token,
        Route::Refresh,
        Route::Revoke,
        Route::ChangePassword,
        Route::Sudo,
        Route::PasswordResetRequest,
        Route::PasswordResetConfirm,
        Route::EmailChangeRequest,
        Route::EmailChangeConfirm,
        Route::EmailVerifyRequest,
        Route::EmailVerifyConfirm,
        Route::MfaStatus,
        Route::MfaTotpSetup,
        Route::MfaTotpConfirm,
        Route::MfaTotpDisable,
        Route::MfaRecoveryCodes,
        Route::MfaVerify,
        Route::OauthAuthorize,
        Route::OauthCallback,
        Route::OauthIdentities,
        Route::OauthUnlink,
        Route::SetPassword,
    ];

    /// The route's method.
    pub fn method(self) -> Method {
        match self {
            Route::Me
            | Route::Sessions
            | Route::MfaStatus
            | Route::OauthAuthorize
            | Route::OauthCallback
            | Route::OauthIdentities => Method::GET,
            Route::SessionRevoke | Route::OauthUnlink => Method::DELETE,
            _ => Method::POST,
        }
    }

    /// The route's path, relative to the base path, in axum's syntax
    /// (`/sessions/{id}`).
    pub fn path(self) -> &'static str {
        match self {
            Route::Register => "/register",
            Route::Login => "/login",
            Route::Logout => "/logout",
            Route::LogoutAll => "/logout-all",
            Route::Me => "/me",
            Route::Sessions => "/sessions",
            Route::SessionRevoke => "/sessions/{id}",
            Route::Token => "/token",
            Route::Refresh => "/refresh",
            Route::Revoke => "/revoke",
            Route::ChangePassword => "/change-password",
            Route::Sudo => "/sudo",
            Route::PasswordResetRequest => "/password/reset-request",
            Route::PasswordResetConfirm => "/password/reset-confirm",
            Route::EmailChangeRequest => "/email/change-request",
            Route::EmailChangeConfirm => "/email/change-confirm",
            Route::EmailVerifyRequest => "/email/verify-request",
            Route::EmailVerifyConfirm => "/email/verify-confirm",
            Route::MfaStatus => "/mfa",
            Route::MfaTotpSetup => "/mfa/totp/setup",
            Route::MfaTotpConfirm => "/mfa/totp/confirm",
            Route::MfaTotpDisable => "/mfa/totp/disable",
            Route::MfaRecoveryCodes => "/mfa/recovery-codes",
            Route::MfaVerify => "/mfa/verify",
            Route::OauthAuthorize => "/oauth/{provider}/authorize",
            Route::OauthCallback => "/oauth/{provider}/callback",
            Route::OauthIdentities => "/oauth/identities",
            Route::OauthUnlink => "/oauth/identities/{provider}",
            Route::SetPassword => "/set-password",
        }
    }
}

/// Whether `path` can be a base path: empty (the root), or `/` and
/// segments of letters, digits and `-._~`, without a trailing slash.
pub(crate) fn valid_base_path(path: &str) -> bool {
    path.is_empty()
        || (path.starts_with('/')
            && path[1..].split('/').all(|segment| {
                !segment.is_empty()
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_own_method_and_path() {
        let mut seen = std::collections::HashSet::new();
        for route in Route::ALL {
            assert!(seen.insert((route.method(), route.path())), "{route:?}");
            assert!(route.path().starts_with('/'));
        }
        assert_eq!(seen.len(), Route::ALL.len());
    }

    #[test]
    fn base_paths() {
        for good in ["", "/auth", "/api/v1/auth", "/a.b-c_d~"] {
            assert!(valid_base_path(good), "{good:?}");
        }
        for bad in [
            "/", "auth", "/auth/", "//auth", "/a//b", "/{id}", "/a*", "/a?b", "/é", "/a b",
        ] {
            assert!(!valid_base_path(bad), "{bad:?}");
        }
    }
}
