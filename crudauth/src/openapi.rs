//! The OpenAPI document of the built-in routes (feature `openapi`): the
//! routes `auth.router()` mounts for this configuration, their bodies and
//! answers, the error body, and the security schemes `session` (cookie),
//! `csrf` (header) and `bearer` (JWT).
//!
//! It is written as the JSON it serialises to, next to the HTTP contract it
//! describes, and read into utoipa's types; the example's schemathesis run
//! (`scripts/schemathesis.sh`) checks the answers against it.

use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi;

use crate::state::CrudAuth;
use crate::transport::bearer::BearerTransport;
use crate::transport::enabled;
use crate::transport::session::SessionTransport;

/// The error body, for the 401/403 answers `#[authed]` adds to a
/// `#[utoipa::path]`.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// A human message.
    detail: String,
    /// The machine-readable code.
    code: String,
}

/// The `code`s of the error body (listed, not an `enum`: a new code must
/// not make older documents wrong).
const CODES: &[&str] = &[
    "bad_request",
    "unauthenticated",
    "invalid_credentials",
    "invalid_token",
    "csrf_failed",
    "insufficient_privileges",
    "not_verified",
    "mfa_required",
    "reauthentication_required",
    "insufficient_scope",
    "access_denied",
    "not_found",
    "method_not_allowed",
    "already_registered",
    "payload_too_large",
    "unsupported_media_type",
    "invalid",
    "locked",
    "rate_limited",
    "unavailable",
];

/// The document for `auth`'s built-in routes.
pub(crate) fn document(auth: &CrudAuth) -> OpenApi {
    let session = enabled::<SessionTransport>(auth);
    let bearer = enabled::<BearerTransport>(auth);
    let mut paths = Map::new();
    let mut add = |path: &str, method: &str, operation: Value| {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method] = operation;
    };
    // Who may call a route any transport reaches: a session (with the CSRF
    // token on unsafe methods) or a bearer token.
    let any = |unsafe_method: bool| {
        let mut alternatives = Vec::new();
        if session {
            alternatives.push(session_requirement(unsafe_method));
        }
        if bearer {
            alternatives.push(json!({ "bearer": [] }));
        }
        Value::Array(alternatives)
    };

    add(
        "/register",
        "post",
        operation(
            "register",
            "Creates an account.",
            json!([]),
            Some("Register"),
            (201, "The new account.", schema("Registered")),
            &[(409, "already_registered"), (429, "rate_limited")],
        ),
    );
    add(
        "/change-password",
        "post",
        operation(
            "change_password",
            "Changes the signed-in user's password; every other session and \
             token family ends. A session caller gets a new session cookie and \
             CSRF token.",
            any(true),
            Some("ChangePassword"),
            (200, "Changed.", schema("PasswordChanged")),
            &[
                (401, "invalid_credentials"),
                (403, "csrf_failed"),
                (429, "locked"),
            ],
        ),
    );
    add(
        "/logout-all",
        "post",
        operation(
            "logout_all",
            "Ends the user's sessions and token families (all but the current \
             one with `keep_current`).",
            any(true),
            Some("LogoutAll"),
            (200, "How many ended.", schema("Revoked")),
            &[(401, "unauthenticated"), (403, "csrf_failed")],
        ),
    );
    if auth.inner.config.me_route {
        add(
            "/me",
            "get",
            operation(
                "me",
                "The signed-in user.",
                any(false),
                None,
                (200, "The principal.", schema("Me")),
                &[(401, "unauthenticated")],
            ),
        );
    }
    if session {
        add(
            "/login",
            "post",
            operation(
                "login",
                "Starts a cookie session; answers the CSRF token for unsafe \
                 requests on it.",
                json!([]),
                Some("Login"),
                (
                    200,
                    "Signed in; session and CSRF cookies set.",
                    schema("LoginOk"),
                ),
                &[
                    (401, "invalid_credentials"),
                    (403, "csrf_failed"),
                    (429, "locked"),
                ],
            ),
        );
        add(
            "/logout",
            "post",
            operation(
                "logout",
                "Ends the current session (if any) and clears crudauth's cookies.",
                json!([session_requirement(true), {}]),
                Some("Empty"),
                (200, "Signed out.", schema("Empty")),
                &[(403, "csrf_failed")],
            ),
        );
        add(
            "/sessions",
            "get",
            operation(
                "list_sessions",
                "The signed-in user's live sessions.",
                json!([session_requirement(false)]),
                None,
                (
                    200,
                    "The sessions.",
                    json!({ "type": "array", "items": schema("Session") }),
                ),
                &[(401, "unauthenticated")],
            ),
        );
        let mut revoke = operation(
            "revoke_session",
            "Ends one of the signed-in user's sessions.",
            json!([session_requirement(true)]),
            Some("Empty"),
            (204, "Ended.", Value::Null),
            &[
                (401, "unauthenticated"),
                (403, "csrf_failed"),
                (404, "not_found"),
            ],
        );
        revoke["parameters"] = json!([{
            "name": "id",
            "in": "path",
            "required": true,
            "schema": { "type": "string" },
        }]);
        add("/sessions/{id}", "delete", revoke);
    }
    if bearer {
        add(
            "/token",
            "post",
            operation(
                "token",
                "Issues an access token and a refresh token.",
                json!([]),
                Some("TokenRequest"),
                (200, "The token pair.", schema("TokenPair")),
                &[(401, "invalid_credentials"), (429, "locked")],
            ),
        );
        add(
            "/refresh",
            "post",
            operation(
                "refresh",
                "Rotates a refresh token: a new pair, and the presented token \
                 dead (presenting it again revokes the whole login).",
                json!([]),
                Some("RefreshRequest"),
                (200, "The new token pair.", schema("TokenPair")),
                &[(401, "invalid_token")],
            ),
        );
        add(
            "/revoke",
            "post",
            operation(
                "revoke",
                "Revokes a refresh token's login (RFC 7009: an unknown token is \
                 answered alike).",
                json!([]),
                Some("RefreshRequest"),
                (200, "Revoked.", schema("Empty")),
                &[],
            ),
        );
    }

    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "crudauth",
            "description": "Authentication routes: cookie sessions with CSRF, and JWT bearer tokens.",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "paths": paths,
        "components": {
            "schemas": schemas(auth.inner.users.has_email()),
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": auth.inner.config.cookies.session_name(),
                    "description": "The session cookie set by `POST /login`.",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRF-Token",
                    "description": "The session's CSRF token (the `csrf_token` of `POST /login`), \
                                    required with the session on unsafe methods.",
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from `POST /token` or `POST /refresh`.",
                },
            },
        },
    });
    serde_json::from_value(doc).expect("the built-in document is valid OpenAPI")
}

/// The session alternative of a security section.
fn session_requirement(unsafe_method: bool) -> Value {
    if unsafe_method {
        json!({ "session": [], "csrf": [] })
    } else {
        json!({ "session": [] })
    }
}

/// A reference to a component schema.
fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// One operation: its security, body, success, and the errors it can
/// answer (`errors` plus those every route can: 503, and the body errors
/// where a body is read).
fn operation(
    id: &str,
    summary: &str,
    security: Value,
    body: Option<&str>,
    success: (u16, &str, Value),
    errors: &[(u16, &str)],
) -> Value {
    let mut responses = Map::new();
    let (status, description, content) = success;
    let mut ok = json!({ "description": description });
    if !content.is_null() {
        ok["content"] = json!({ "application/json": { "schema": content } });
    }
    responses.insert(status.to_string(), ok);
    let mut all: Vec<(u16, String)> = errors.iter().map(|(s, c)| (*s, (*c).into())).collect();
    if body.is_some() {
        all.extend([
            (400, "bad_request".into()),
            (413, "payload_too_large".into()),
            (415, "unsupported_media_type".into()),
            (422, "invalid".into()),
        ]);
    }
    all.push((503, "unavailable".into()));
    for (status, code) in all {
        let entry = responses
            .entry(status.to_string())
            .or_insert_with(|| json!({ "description": "", "content": { "application/json": { "schema": schema("Error") } } }));
        let text = entry["description"].as_str().unwrap_or_default();
        let joined = if text.is_empty() {
            format!("`{code}`")
        } else {
            format!("{text}, `{code}`")
        };
        entry["description"] = Value::String(joined);
    }
    let mut op = json!({
        "operationId": id,
        "summary": summary,
        "tags": ["crudauth"],
        "security": security,
        "responses": responses,
    });
    if let Some(body) = body {
        op["requestBody"] = json!({
            "required": body != "Empty",
            "content": {
                "application/json": { "schema": schema(body) },
                "application/x-www-form-urlencoded": { "schema": schema(body) },
            },
        });
    }
    op
}

/// An email address `/register` accepts: one `@`, a dotted domain, no
/// whitespace or control character inside, surrounding blanks trimmed.
const EMAIL_PATTERN: &str = r"^\s*[^\s@\x00-\x1f\x7f-\x9f]+@[^\s@.\x00-\x1f\x7f-\x9f][^\s@\x00-\x1f\x7f-\x9f]*\.[^\s@\x00-\x1f\x7f-\x9f]*[^\s@.\x00-\x1f\x7f-\x9f]\s*$";
/// A username `/register` accepts: no `@`, no control character (a blank
/// one counts as none).
const USERNAME_PATTERN: &str = r"^[^@\x00-\x1f\x7f-\x9f]*$";

/// The request and answer bodies; `email` is required where the user
/// model has one.
fn schemas(has_email: bool) -> Value {
    let register_required = if has_email {
        json!(["email", "password"])
    } else {
        json!(["username", "password"])
    };
    let password = json!({ "type": "string", "minLength": 8, "maxLength": 256 });
    let id = json!({ "oneOf": [{ "type": "integer" }, { "type": "string" }] });
    let flag = json!({ "type": "boolean" });
    let pair = json!({
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "refresh_token", "scope"],
        "properties": {
            "access_token": { "type": "string" },
            "token_type": { "type": "string", "enum": ["bearer"] },
            "expires_in": { "type": "integer" },
            "refresh_token": { "type": "string" },
            "scope": { "type": "string" },
        },
    });
    json!({
        "Error": {
            "type": "object",
            "required": ["detail", "code"],
            "properties": {
                "detail": { "type": "string", "description": "A human message." },
                "code": {
                    "type": "string",
                    "description": format!("One meaning each: {}.", CODES.join(", ")),
                },
            },
        },
        "Empty": { "type": "object" },
        "Register": {
            "type": "object",
            "required": register_required,
            "properties": {
                // What `/register` accepts, so that a client (or a fuzzer)
                // holding to the document is not refused: printable ASCII,
                // one `@`, a dotted domain.
                "email": {
                    "type": "string",
                    "maxLength": 254,
                    "pattern": EMAIL_PATTERN,
                },
                "username": {
                    "type": "string",
                    "maxLength": 64,
                    "pattern": USERNAME_PATTERN,
                },
                "password": password,
            },
        },
        "Registered": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": id,
                "email": { "type": ["string", "null"] },
                "username": { "type": ["string", "null"] },
            },
        },
        "Login": {
            "type": "object",
            "required": ["username", "password"],
            "properties": {
                "username": { "type": "string", "description": "An email address (any case) or a username." },
                "password": { "type": "string" },
                "remember_me": flag,
            },
        },
        "LoginOk": {
            "type": "object",
            "required": ["user_id", "csrf_token"],
            "properties": { "user_id": id, "csrf_token": { "type": "string" } },
        },
        "Me": {
            "type": "object",
            "required": ["user_id", "is_superuser", "scopes", "transport"],
            "properties": {
                "user_id": id,
                "email": { "type": ["string", "null"] },
                "username": { "type": ["string", "null"] },
                "is_superuser": flag,
                "scopes": { "type": "array", "items": { "type": "string" } },
                "transport": { "type": "string" },
            },
        },
        "Session": {
            "type": "object",
            "required": ["id", "created_at", "last_seen_at", "current"],
            "properties": {
                "id": { "type": "string" },
                "created_at": { "type": "string", "format": "date-time" },
                "last_seen_at": { "type": "string", "format": "date-time" },
                "ip": { "type": ["string", "null"] },
                "user_agent": { "type": ["string", "null"] },
                "current": flag,
            },
        },
        "LogoutAll": {
            "type": "object",
            "properties": { "keep_current": flag },
        },
        "Revoked": {
            "type": "object",
            "required": ["revoked"],
            "properties": { "revoked": { "type": "integer", "minimum": 0 } },
        },
        "ChangePassword": {
            "type": "object",
            "required": ["current_password", "new_password"],
            "properties": {
                "current_password": { "type": "string" },
                "new_password": password,
            },
        },
        "PasswordChanged": {
            "type": "object",
            "properties": {
                "csrf_token": {
                    "type": "string",
                    "description": "The new session's CSRF token, for a session caller.",
                },
            },
        },
        "TokenRequest": {
            "type": "object",
            "required": ["username", "password"],
            "properties": {
                "username": { "type": "string" },
                "password": { "type": "string" },
                "scope": { "type": "string", "description": "Space-separated scopes to ask for." },
            },
        },
        "RefreshRequest": {
            "type": "object",
            "required": ["refresh_token"],
            "properties": { "refresh_token": { "type": "string" } },
        },
        "TokenPair": pair,
    })
}
