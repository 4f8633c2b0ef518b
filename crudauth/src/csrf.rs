//! Cross-site request forgery defence for cookie sessions: a synchronizer
//! token bound to the session, plus `Sec-Fetch-Site` / `Origin` checks.

use axum::http::request::Parts;
use axum::http::{Extensions, Method, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::CrudAuthConfig;
use crate::error::AuthError;
use crate::origin::Origin;
use crate::tokens::b64;
use crate::{audit, client};

/// The request header carrying the token.
const HEADER: &str = "x-csrf-token";
/// The form field carrying the token.
const FORM_FIELD: &str = "csrf_token";

/// The `csrf_token` field of a urlencoded body, kept in the request's
/// extensions by whoever read the body (the layer for the application's
/// routes, the body extractor for the built-in ones).
#[derive(Debug, Clone)]
struct FormToken(String);

/// Keeps the `csrf_token` field of a urlencoded body for [`verify`].
pub(crate) fn capture_form_field(extensions: &mut Extensions, raw: &[u8]) {
    if extensions.get::<FormToken>().is_some() {
        return;
    }
    let field = serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == FORM_FIELD));
    if let Some((_, token)) = field {
        extensions.insert(FormToken(token));
    }
}

/// Whether an unsafe request's CSRF token can only be in its form body: the
/// layer then reads the body to capture it.
pub(crate) fn token_may_be_in_form(parts: &Parts, is_form: bool) -> bool {
    is_form
        && !is_safe(&parts.method)
        && !parts.headers.contains_key(HEADER)
        && parts.extensions.get::<FormToken>().is_none()
}

/// Methods that change nothing and need no token (RFC 9110 section 9.2.1).
pub(crate) fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The token for a session. It is derived from the session's secret id, so it
/// is bound to that session and changes whenever the id does (at login).
pub(crate) fn token_for(secret: &[u8], session_token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"crudauth-csrf\0");
    mac.update(session_token.as_bytes());
    b64(&mac.finalize().into_bytes())
}

/// Refuses a cross-site request (see [`origin_check`]), with an audit event.
pub(crate) fn check_origin(parts: &Parts, config: &CrudAuthConfig) -> Result<(), AuthError> {
    audited(parts, config, origin_check(parts, config))
}

/// The full check for an unsafe request riding a session cookie (origin,
/// then the synchronizer token), with an audit event when it refuses.
pub(crate) fn verify(
    parts: &Parts,
    expected: &str,
    config: &CrudAuthConfig,
) -> Result<(), AuthError> {
    let outcome = origin_check(parts, config).and_then(|()| token_check(parts, expected));
    audited(parts, config, outcome)
}

/// Reports a refusal to the audit trail.
fn audited(
    parts: &Parts,
    config: &CrudAuthConfig,
    outcome: Result<(), AuthError>,
) -> Result<(), AuthError> {
    if let Err(AuthError::CsrfFailed(why)) = &outcome {
        let ip = client::client_ip(parts, config.trusted_proxy_hops);
        audit::csrf_refused(ip, reason_code(why));
    }
    outcome
}

/// The audit trail's stable `reason` for a refusal's message (the message
/// is for people and may change; the code is for alerts and queries).
fn reason_code(message: &str) -> &'static str {
    match message {
        CROSS_SITE => "cross_site",
        MALFORMED_ORIGIN => "malformed_origin",
        CROSS_ORIGIN => "cross_origin",
        MISSING_TOKEN => "missing_token",
        WRONG_TOKEN => "wrong_token",
        _ => "refused",
    }
}

const CROSS_SITE: &str = "cross-site request refused";
const MALFORMED_ORIGIN: &str = "malformed Origin header";
const CROSS_ORIGIN: &str = "cross-origin request refused";
const MISSING_TOKEN: &str = "missing CSRF token: send the X-CSRF-Token header";
const WRONG_TOKEN: &str = "wrong CSRF token";

/// Refuses a cross-site request: `Sec-Fetch-Site: cross-site`, or an `Origin`
/// that is neither the request's own nor a trusted origin.
///
/// The request's own origin is the configured public origin; without one,
/// `https://` (`http://` with insecure cookies) and the `Host`, or the URI
/// authority of an HTTP/2 request. Matching the host alone would let a page
/// served over plain http on the same host (a network attacker's injection)
/// post to the https app.
fn origin_check(parts: &Parts, config: &CrudAuthConfig) -> Result<(), AuthError> {
    let headers = &parts.headers;
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return Err(AuthError::CsrfFailed(CROSS_SITE));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin
        .to_str()
        .map_err(|_| AuthError::CsrfFailed(MALFORMED_ORIGIN))?
        .trim_end_matches('/');
    if config
        .trusted_origins
        .iter()
        .any(|t| t.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return Ok(());
    }
    let refused = || AuthError::CsrfFailed(CROSS_ORIGIN);
    let presented = Origin::parse(origin).ok_or_else(refused)?;
    let own = match &config.public_origin {
        Some(public) => Origin::parse(public),
        None => {
            let scheme = if config.cookies.secure {
                "https"
            } else {
                "http"
            };
            let authority = match headers.get(header::HOST) {
                Some(host) => host.to_str().ok(),
                None => parts.uri.authority().map(|a| a.as_str()),
            };
            authority.and_then(|a| Origin::of_authority(scheme, a))
        }
    };
    match own {
        Some(own) if own.admits(&presented) => Ok(()),
        _ => Err(refused()),
    }
}

/// The synchronizer token: the header, or a form's `csrf_token` field.
fn token_check(parts: &Parts, expected: &str) -> Result<(), AuthError> {
    let presented = match parts.headers.get(HEADER) {
        Some(value) => Some(value.as_bytes().to_vec()),
        None => parts
            .extensions
            .get::<FormToken>()
            .map(|t| t.0.as_bytes().to_vec()),
    };
    let Some(presented) = presented else {
        return Err(AuthError::CsrfFailed(MISSING_TOKEN));
    };
    if presented.ct_eq(expected.as_bytes()).into() {
        Ok(())
    } else {
        Err(AuthError::CsrfFailed(WRONG_TOKEN))
    }
}
