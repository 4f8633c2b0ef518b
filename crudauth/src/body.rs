//! Reading request bodies for the built-in routes: JSON or urlencoded forms,
//! at most the configured limit (64 KiB by default), with the SPEC's status
//! for each kind of bad input.

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{Extensions, HeaderMap};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::csrf;
use crate::error::AuthError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Json,
    Form,
    Other,
}

pub(crate) fn kind(headers: &HeaderMap) -> Option<Kind> {
    let value = headers.get(CONTENT_TYPE)?;
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match essence.as_str() {
        "application/json" => Kind::Json,
        e if e.starts_with("application/") && e.ends_with("+json") => Kind::Json,
        "application/x-www-form-urlencoded" => Kind::Form,
        _ => Kind::Other,
    })
}

/// The declared length of a body, if any.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Refuses a declared length over `limit` before reading anything.
pub(crate) fn check_length(headers: &HeaderMap, limit: usize) -> Result<(), AuthError> {
    match declared_length(headers) {
        Some(len) if len > limit as u64 => Err(AuthError::PayloadTooLarge(limit)),
        _ => Ok(()),
    }
}

/// Reads at most `limit` bytes.
pub(crate) async fn bytes(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, AuthError> {
    check_length(headers, limit)?;
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AuthError::PayloadTooLarge(limit))
}

/// Reads (at most `limit` bytes) and decodes the body of a built-in route.
/// A form's `csrf_token` field is kept in `extensions` for the session
/// transport.
pub(crate) async fn read<T: DeserializeOwned>(
    headers: &HeaderMap,
    extensions: &mut Extensions,
    body: Body,
    limit: usize,
) -> Result<T, AuthError> {
    let raw = bytes(headers, body, limit).await?;
    let kind = match kind(headers) {
        Some(kind) => kind,
        // No content type and no body: an empty JSON object, so that routes
        // whose fields are all optional (logout) need no body at all.
        None if raw.iter().all(u8::is_ascii_whitespace) => return decode_json(b"{}"),
        None => return Err(AuthError::UnsupportedMediaType),
    };
    match kind {
        Kind::Json if raw.iter().all(u8::is_ascii_whitespace) => decode_json(b"{}"),
        Kind::Json => decode_json(&raw),
        Kind::Form => {
            csrf::capture_form_field(extensions, &raw);
            serde_urlencoded::from_bytes(&raw).map_err(|e| AuthError::Invalid(e.to_string()))
        }
        Kind::Other => Err(AuthError::UnsupportedMediaType),
    }
}

fn decode_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, AuthError> {
    let value = serde_json::from_slice(raw).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AuthError::Invalid(e.to_string()),
        _ => AuthError::BadRequest(e.to_string()),
    })?;
    // serde fills a struct from a JSON array too (`[]` is a `{}` whose
    // fields are all missing); every body crudauth reads is an object.
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AuthError::Invalid("the body must be a JSON object".into()));
    }
    Ok(value)
}

/// A boolean from JSON (`true`) or a form (`true`, `1`, `on`, `yes`).
pub(crate) fn flexible_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flex {
        Bool(bool),
        Text(String),
    }
    match Option::<Flex>::deserialize(deserializer)? {
        None => Ok(false),
        Some(Flex::Bool(b)) => Ok(b),
        Some(Flex::Text(t)) => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "on" | "yes" => Ok(true),
            "false" | "0" | "off" | "no" | "" => Ok(false),
            _ => Err(serde::de::Error::custom("expected a boolean")),
        },
    }
}
