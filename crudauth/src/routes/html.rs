//! Server-rendered forms: an HTML form posted to `/login`, `/logout`,
//! `/register`, `/password/reset-request`, `/password/reset-confirm` or
//! `/mfa/verify` by a browser (`Accept: text/html`) is answered with a
//! `303 See Other` to the form's `next` field (a path on this origin,
//! default `/`), with `error=<code>` added to it on failure; a login that
//! needs its second factor goes to `next` with `mfa_required=1`, its
//! challenge in the `crudauth_mfa` cookie that `/mfa/verify` reads. JSON
//! clients get what they always got.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::body::{self, Kind};
use crate::error::AuthError;
use crate::origin::safe_redirect;
use crate::route::Route;
use crate::state::CrudAuth;

/// The routes a server-rendered page posts its forms to.
pub(super) const FORM_ROUTES: [Route; 6] = [
    Route::Login,
    Route::Logout,
    Route::Register,
    Route::PasswordResetRequest,
    Route::PasswordResetConfirm,
    Route::MfaVerify,
];

/// The largest JSON answer read back to turn into a redirect.
const ANSWER_LIMIT: usize = 16 * 1024;

/// Whether a browser posted an HTML form and wants a page back.
fn is_html_form(headers: &HeaderMap) -> bool {
    body::kind(headers) == Some(Kind::Form)
        && headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// `path` with `name=value` added to its query, before any fragment (the
/// provider callback's `mfa_required=1` too).
pub(super) fn with_query(path: &str, name: &str, value: &str) -> String {
    let (path, fragment) = match path.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (path, None),
    };
    let joiner = if path.contains('?') { '&' } else { '?' };
    let value: String = url_escape(value);
    match fragment {
        Some(fragment) => format!("{path}{joiner}{name}={value}#{fragment}"),
        None => format!("{path}{joiner}{name}={value}"),
    }
}

/// The characters an error code may hold, others percent-encoded (codes
/// are `snake_case`, but nothing here relies on it).
fn url_escape(value: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'_').remove(b'-');
    percent_encoding::utf8_percent_encode(value, KEEP).to_string()
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The middleware on [`FORM_ROUTES`].
pub(super) async fn forms(State(auth): State<CrudAuth>, request: Request, next: Next) -> Response {
    if !is_html_form(request.headers()) {
        return next.run(request).await;
    }
    let limit = auth.inner.config.body_limit;
    let (parts, body) = request.into_parts();
    let raw = match body::bytes(&parts.headers, body, limit).await {
        Ok(raw) => raw,
        Err(err) => return see_other(&with_query("/", "error", err.code())),
    };
    let target = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&raw)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "next"))
        .map(|(_, v)| v);
    let target = safe_redirect(target.as_deref());
    let answer = next.run(Request::from_parts(parts, Body::from(raw))).await;
    redirect(&auth, answer, &target).await
}

/// The route's answer as a redirect to `target`, keeping its cookies.
async fn redirect(auth: &CrudAuth, answer: Response, target: &str) -> Response {
    let status = answer.status();
    let (parts, body) = answer.into_parts();
    let json: Value = axum::body::to_bytes(body, ANSWER_LIMIT)
        .await
        .ok()
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .unwrap_or(Value::Null);
    let mut extra_cookie = None;
    let location = if status.is_success() {
        match json["challenge"].as_str() {
            Some(challenge) if json["mfa_required"] == true => {
                extra_cookie = Some(
                    auth.inner
                        .config
                        .cookies
                        .mfa_challenge(challenge, crate::mfa::CHALLENGE_SECS),
                );
                with_query(target, "mfa_required", "1")
            }
            _ => target.to_owned(),
        }
    } else {
        let code = json["code"]
            .as_str()
            .unwrap_or_else(|| AuthError::BadRequest(String::new()).code());
        with_query(target, "error", code)
    };
    let mut response = see_other(&location);
    for cookie in parts.headers.get_all(SET_COOKIE) {
        response.headers_mut().append(SET_COOKIE, cookie.clone());
    }
    if let Some(cookie) = extra_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn the_query_gains_one_pair_before_the_fragment() {
        assert_eq!(with_query("/", "error", "locked"), "/?error=locked");
        assert_eq!(with_query("/a?b=1", "error", "x y"), "/a?b=1&error=x%20y");
        assert_eq!(
            with_query("/a#top", "mfa_required", "1"),
            "/a?mfa_required=1#top"
        );
    }
}
