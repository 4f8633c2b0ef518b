//! crudauth's cookies: names (with the `__Host-` prefix while `Secure` is
//! on), attributes, and tolerant parsing of the `Cookie` header.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use cookie::{Cookie, SameSite};

use crate::config::CookiePolicy;

/// The session cookie's name without prefix.
const SESSION: &str = "session_id";
/// The CSRF cookie's name without prefix.
const CSRF: &str = "csrf_token";
/// The name without prefix of the cookie holding a provider sign-in's
/// second-factor challenge.
const MFA: &str = "crudauth_mfa";

impl CookiePolicy {
    fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    pub(crate) fn session_name(&self) -> String {
        self.name(SESSION)
    }

    pub(crate) fn csrf_name(&self) -> String {
        self.name(CSRF)
    }

    pub(crate) fn mfa_name(&self) -> String {
        self.name(MFA)
    }

    /// `Set-Cookie` for the challenge a provider sign-in left for
    /// `/mfa/verify` (`HttpOnly`: no script needs it); an empty value and
    /// `max_age` 0 delete it.
    pub(crate) fn mfa_challenge(&self, challenge: &str, max_age: i64) -> String {
        self.build(self.mfa_name(), challenge.to_owned(), true, Some(max_age))
    }

    fn build(&self, name: String, value: String, http_only: bool, max_age: Option<i64>) -> String {
        let mut cookie = Cookie::build((name, value))
            .path("/")
            .secure(self.secure)
            .http_only(http_only)
            .same_site(SameSite::Lax);
        if let Some(secs) = max_age {
            cookie = cookie.max_age(cookie::time::Duration::seconds(secs));
        }
        cookie.build().to_string()
    }

    /// `Set-Cookie` values for a new session: the `HttpOnly` session cookie
    /// and the script-readable CSRF cookie (double-submit for browsers).
    pub(crate) fn issue(
        &self,
        session_token: &str,
        csrf_token: &str,
        max_age: Option<i64>,
    ) -> [String; 2] {
        [
            self.build(self.session_name(), session_token.to_owned(), true, max_age),
            self.build(self.csrf_name(), csrf_token.to_owned(), false, max_age),
        ]
    }

    /// `Set-Cookie` values that delete every crudauth cookie.
    pub(crate) fn clear(&self) -> [String; 2] {
        [
            self.build(self.session_name(), String::new(), true, Some(0)),
            self.build(self.csrf_name(), String::new(), false, Some(0)),
        ]
    }
}

/// The value of cookie `name`, ignoring any malformed pairs around it.
pub(crate) fn find(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| Cookie::split_parse(value.to_owned()))
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}
