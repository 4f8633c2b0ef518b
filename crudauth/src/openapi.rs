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

/// The `code`s of the error body, each once, from the error table (listed,
/// not an `enum`: a new code must not make older documents wrong).
fn codes() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = Vec::new();
    for code in crate::error::ERROR_CODES {
        if !codes.contains(code) {
            codes.push(code);
        }
    }
    codes
}

/// The document for `auth`'s built-in routes.
pub(crate) fn document(auth: &CrudAuth) -> OpenApi {
    let session = enabled::<SessionTransport>(auth);
    let bearer = enabled::<BearerTransport>(auth);
    let mfa = auth.inner.mfa.is_some();
    // With a second factor, a login may answer a challenge instead.
    let signed_in = |credential: &str| {
        if mfa {
            json!({ "oneOf": [schema(credential), schema("MfaChallenge")] })
        } else {
            schema(credential)
        }
    };
    // Which routes there are is the route table's to say: an operation
    // below is documented exactly when its route is mounted.
    let mounted: Vec<(String, &str)> = crate::routes::table::<CrudAuth>(auth)
        .iter()
        .map(|entry| {
            let route = entry.route;
            (route.method().as_str().to_ascii_lowercase(), route.path())
        })
        .collect();
    let base = &auth.inner.config.base_path;
    let mut paths = Map::new();
    let mut add = |path: &str, method: &str, operation: Value| {
        if !mounted.iter().any(|(m, p)| m == method && *p == path) {
            return;
        }
        let entry = paths
            .entry(format!("{base}{path}"))
            .or_insert_with(|| json!({}));
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
    {
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
    {
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
                    "Signed in; session and CSRF cookies set (or, for an account \
                     with a second factor, a challenge for `POST /mfa/verify`).",
                    signed_in("LoginOk"),
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
    {
        add(
            "/token",
            "post",
            operation(
                "token",
                "Issues an access token and a refresh token.",
                json!([]),
                Some("TokenRequest"),
                (
                    200,
                    "The token pair (or, for an account with a second factor, a \
                     challenge for `POST /mfa/verify`).",
                    signed_in("TokenPair"),
                ),
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

    add(
        "/sudo",
        "post",
        operation(
            "sudo",
            "Proves the signed-in user again (password, or a second-factor \
             code): the credential is fresh for the routes that ask for it.",
            any(true),
            Some("Sudo"),
            (200, "Fresh until.", schema("Fresh")),
            &[
                (400, "bad_request"),
                (401, "invalid_credentials"),
                (401, "unauthenticated"),
                (403, "csrf_failed"),
                (429, "locked"),
            ],
        ),
    );
    recovery_paths(&mut add, any(true));
    mfa_paths(&mut add, &any);
    #[cfg(feature = "oidc")]
    {
        let providers: Vec<&str> = auth.inner.oidc.iter().map(|p| p.name()).collect();
        oauth_paths(&mut add, &any, &providers);
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
            "schemas": schemas(auth, mfa),
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

/// The routes of account recovery (SPEC section 8).
fn recovery_paths(add: &mut impl FnMut(&str, &str, Value), signed_in: Value) {
    let request = |id: &str, summary: &str| {
        operation(
            id,
            summary,
            json!([]),
            Some("Address"),
            (
                202,
                "The same answer whoever the address names.",
                schema("Accepted"),
            ),
            &[(429, "rate_limited")],
        )
    };
    {
        add(
            "/email/verify-request",
            "post",
            request(
                "verify_email_request",
                "Mails a verification link to the address, if an unverified account has it.",
            ),
        );
        add(
            "/email/verify-confirm",
            "post",
            operation(
                "verify_email_confirm",
                "Redeems a verification link's token.",
                json!([]),
                Some("LinkToken"),
                (200, "The address is verified.", schema("EmailVerified")),
                &[(400, "invalid_token")],
            ),
        );
    }
    add(
        "/password/reset-request",
        "post",
        request(
            "password_reset_request",
            "Mails a password reset link to the address, if an account has it.",
        ),
    );
    add(
        "/password/reset-confirm",
        "post",
        operation(
            "password_reset_confirm",
            "Sets a new password with a reset link's token; every session and \
             token family of the account ends.",
            json!([]),
            Some("ResetConfirm"),
            (200, "Reset.", schema("Empty")),
            &[(400, "invalid_token")],
        ),
    );
    add(
        "/email/change-request",
        "post",
        operation(
            "email_change_request",
            "Mails a confirmation link to a new address (the password again first).",
            signed_in,
            Some("ChangeEmail"),
            (202, "A link is on its way.", schema("Accepted")),
            &[
                (401, "invalid_credentials"),
                (401, "unauthenticated"),
                (403, "csrf_failed"),
                (429, "locked"),
            ],
        ),
    );
    add(
        "/email/change-confirm",
        "post",
        operation(
            "email_change_confirm",
            "Redeems an email change link's token: the new address in place.",
            json!([]),
            Some("LinkToken"),
            (200, "The new address.", schema("EmailChanged")),
            &[(400, "invalid_token"), (409, "already_registered")],
        ),
    );
}

/// The routes of the second factor (SPEC section 10), mounted with an
/// `mfa_key`.
fn mfa_paths(add: &mut impl FnMut(&str, &str, Value), any: &impl Fn(bool) -> Value) {
    let signed_in = [(401, "unauthenticated"), (403, "csrf_failed")];
    let with = |more: &[(u16, &'static str)]| -> Vec<(u16, &'static str)> {
        signed_in.iter().chain(more).copied().collect()
    };
    add(
        "/mfa",
        "get",
        operation(
            "mfa_status",
            "Whether the signed-in user has a second factor, and how many \
             recovery codes are left.",
            any(false),
            None,
            (200, "The state.", schema("MfaStatus")),
            &[(401, "unauthenticated")],
        ),
    );
    add(
        "/mfa/totp/setup",
        "post",
        operation(
            "mfa_totp_setup",
            "Starts a TOTP enrolment (the password again): the secret, shown \
             once, to confirm with a code.",
            any(true),
            Some("PasswordProof"),
            (200, "The secret to enter.", schema("TotpSetup")),
            &with(&[
                (401, "invalid_credentials"),
                (409, "mfa_already_enabled"),
                (429, "locked"),
            ]),
        ),
    );
    add(
        "/mfa/totp/confirm",
        "post",
        operation(
            "mfa_totp_confirm",
            "Turns the second factor on with a first code: the recovery codes, \
             shown once.",
            any(true),
            Some("Code"),
            (200, "The recovery codes.", schema("RecoveryCodes")),
            &with(&[(400, "invalid_code"), (429, "locked")]),
        ),
    );
    add(
        "/mfa/totp/disable",
        "post",
        operation(
            "mfa_totp_disable",
            "Turns the second factor off (a fresh credential and a code).",
            any(true),
            Some("Code"),
            (200, "Off.", schema("Empty")),
            &with(&[
                (400, "invalid_code"),
                (403, "reauthentication_required"),
                (429, "locked"),
            ]),
        ),
    );
    add(
        "/mfa/recovery-codes",
        "post",
        operation(
            "mfa_recovery_codes",
            "Replaces the recovery codes (a fresh credential and a code).",
            any(true),
            Some("Code"),
            (200, "The new recovery codes.", schema("RecoveryCodes")),
            &with(&[
                (400, "invalid_code"),
                (403, "reauthentication_required"),
                (429, "locked"),
            ]),
        ),
    );
    add(
        "/mfa/verify",
        "post",
        operation(
            "mfa_verify",
            "Completes a login's challenge with a code (or a recovery code): \
             what the login started, a session or a token pair. Without \
             `challenge`, the one a provider sign-in left in the \
             `crudauth_mfa` cookie.",
            json!([]),
            Some("MfaVerify"),
            (
                200,
                "Signed in.",
                json!({ "oneOf": [schema("LoginOk"), schema("TokenPair")] }),
            ),
            &[
                (400, "invalid_code"),
                (401, "invalid_token"),
                (403, "csrf_failed"),
                (429, "locked"),
            ],
        ),
    );
}

/// The routes of signing in with a provider (SPEC section 9), mounted with
/// at least one provider; `providers` are their names.
#[cfg(feature = "oidc")]
fn oauth_paths(
    add: &mut impl FnMut(&str, &str, Value),
    any: &impl Fn(bool) -> Value,
    providers: &[&str],
) {
    let provider = json!({
        "name": "provider",
        "in": "path",
        "required": true,
        "schema": { "type": "string", "enum": providers },
    });
    let query = |name: &str, description: &str| {
        json!({
            "name": name,
            "in": "query",
            "required": false,
            "description": description,
            "schema": { "type": "string" },
        })
    };
    let redirect = |description: &str| {
        json!({
            "description": description,
            "headers": {
                "Location": { "required": true, "schema": { "type": "string" } },
            },
        })
    };
    let mut authorize = operation(
        "oauth_authorize",
        "Starts a sign-in with the provider: a redirect to it, and the flow \
         cookie.",
        json!([]),
        None,
        (302, "To the provider.", Value::Null),
        &[
            (401, "unauthenticated"),
            (403, "reauthentication_required"),
            (404, "not_found"),
            (429, "rate_limited"),
        ],
    );
    authorize["responses"]["302"] = redirect("To the provider; the flow cookie set.");
    authorize["parameters"] = json!([
        provider,
        query("redirect_to", "A same-origin path to land on afterwards."),
        query(
            "link",
            "`1`: the signed-in owner (fresh proof) links an identity they unlinked.",
        ),
    ]);
    add("/oauth/{provider}/authorize", "get", authorize);
    let mut callback = operation(
        "oauth_callback",
        "Where the provider sends the browser back: a session, and a redirect \
         to `redirect_to` (or to `/?error=<code>`; a client asking for JSON \
         gets the error body instead). An account with a second factor gets \
         no session: the challenge goes into the `crudauth_mfa` cookie and \
         `redirect_to` gains `mfa_required=1`.",
        json!([]),
        None,
        (302, "", Value::Null),
        &[
            (400, "invalid_state"),
            (400, "oauth_failed"),
            (400, "email_missing"),
            (400, "email_unverified"),
            (400, "provider_already_linked"),
            (400, "identity_unlinked"),
            (400, "account_inactive"),
            (404, "not_found"),
        ],
    );
    callback["responses"]["302"] =
        redirect("Signed in (session and CSRF cookies set), or the error as `?error=`.");
    callback["parameters"] = json!([
        provider,
        query("code", "The provider's authorization code."),
        query("state", "The flow's state."),
        query("error", "The provider's refusal."),
    ]);
    add("/oauth/{provider}/callback", "get", callback);
    add(
        "/oauth/identities",
        "get",
        operation(
            "oauth_identities",
            "The provider identities linked to the signed-in user.",
            any(false),
            None,
            (
                200,
                "The identities.",
                json!({ "type": "array", "items": schema("Identity") }),
            ),
            &[(401, "unauthenticated")],
        ),
    );
    let mut unlink = operation(
        "oauth_unlink",
        "Removes a provider's identity from the signed-in user (not the last \
         way to sign in).",
        any(true),
        Some("Empty"),
        (204, "Removed.", Value::Null),
        &[
            (401, "unauthenticated"),
            (403, "csrf_failed"),
            (403, "reauthentication_required"),
            (404, "not_found"),
            (409, "last_sign_in_method"),
        ],
    );
    unlink["parameters"] = json!([{
        "name": "provider",
        "in": "path",
        "required": true,
        "schema": { "type": "string" },
    }]);
    add("/oauth/identities/{provider}", "delete", unlink);
    add(
        "/set-password",
        "post",
        operation(
            "set_password",
            "Gives an account a provider made a password, within 5 minutes of \
             a sign-in or `/sudo`; every other session and token family ends.",
            any(true),
            Some("SetPassword"),
            (200, "Set.", schema("PasswordChanged")),
            &[
                (401, "unauthenticated"),
                (403, "csrf_failed"),
                (403, "reauthentication_required"),
                (409, "password_exists"),
            ],
        ),
    );
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
/// model has one, a new password's length is the policy's, and
/// `/register` takes the application's registrable columns too.
fn schemas(auth: &CrudAuth, mfa: bool) -> Value {
    let register_required = if auth.inner.users.has_email() {
        json!(["email", "password"])
    } else {
        json!(["username", "password"])
    };
    let (min_len, max_len) = auth.inner.password_policy.lengths();
    let password = json!({ "type": "string", "minLength": min_len, "maxLength": max_len });
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
    let text = json!({ "type": "string" });
    // What the address checks accept, so that a client (or a fuzzer)
    // holding to the document is not refused: one `@`, a dotted domain.
    let email = json!({ "type": "string", "maxLength": 254, "pattern": EMAIL_PATTERN });
    let mut all = json!({
        "Error": {
            "type": "object",
            "required": ["detail", "code"],
            "properties": {
                "detail": { "type": "string", "description": "A human message." },
                "code": {
                    "type": "string",
                    "description": format!("One meaning each: {}.", codes().join(", ")),
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
        "Accepted": {
            "type": "object",
            "required": ["detail"],
            "properties": { "detail": text },
        },
        "Address": {
            "type": "object",
            "required": ["email"],
            "properties": { "email": email },
        },
        "LinkToken": {
            "type": "object",
            "required": ["token"],
            "properties": { "token": { "type": "string", "description": "The `token` of the mailed link." } },
        },
        "EmailVerified": {
            "type": "object",
            "required": ["user_id", "email_verified"],
            "properties": { "user_id": id, "email_verified": { "type": "boolean", "enum": [true] } },
        },
        "ResetConfirm": {
            "type": "object",
            "required": ["token", "new_password"],
            "properties": { "token": text, "new_password": password },
        },
        "ChangeEmail": {
            "type": "object",
            "required": ["new_email", "password"],
            "properties": { "new_email": email, "password": text },
        },
        "EmailChanged": {
            "type": "object",
            "required": ["email"],
            "properties": { "email": text },
        },
        "Sudo": {
            "type": "object",
            "description": "The password, or a second-factor code.",
            "properties": { "password": text, "code": text },
            "minProperties": 1,
            "anyOf": [{ "required": ["password"] }, { "required": ["code"] }],
        },
        "Fresh": {
            "type": "object",
            "required": ["fresh_until"],
            "properties": { "fresh_until": { "type": "string", "format": "date-time" } },
        },
        "SetPassword": {
            "type": "object",
            "required": ["new_password"],
            "properties": { "new_password": password },
        },
        "Identity": {
            "type": "object",
            "required": ["provider", "subject", "created_at"],
            "properties": {
                "provider": text,
                "subject": text,
                "email": { "type": ["string", "null"] },
                "created_at": { "type": "string", "format": "date-time" },
            },
        },
    });
    if mfa {
        let more = json!({
            "MfaChallenge": {
                "type": "object",
                "required": ["mfa_required", "challenge", "expires_in"],
                "properties": {
                    "mfa_required": { "type": "boolean", "enum": [true] },
                    "challenge": text,
                    "expires_in": { "type": "integer" },
                },
            },
            "MfaStatus": {
                "type": "object",
                "required": ["enabled", "recovery_codes_remaining", "required"],
                "properties": {
                    "enabled": flag,
                    "recovery_codes_remaining": { "type": "integer", "minimum": 0 },
                    "required": {
                        "type": "boolean",
                        "description": "`.require_mfa(..)` holds this user to the enrolment routes until a second factor is confirmed"
                    },
                },
            },
            "PasswordProof": {
                "type": "object",
                "required": ["password"],
                "properties": { "password": text },
            },
            "Code": {
                "type": "object",
                "required": ["code"],
                "properties": { "code": { "type": "string", "description": "A TOTP code, or a recovery code." } },
            },
            "TotpSetup": {
                "type": "object",
                "required": ["secret", "otpauth_uri", "qr_svg"],
                "properties": { "secret": text, "otpauth_uri": text, "qr_svg": text },
            },
            "RecoveryCodes": {
                "type": "object",
                "required": ["recovery_codes"],
                "properties": { "recovery_codes": { "type": "array", "items": text } },
            },
            "MfaVerify": {
                "type": "object",
                "required": ["code"],
                "properties": { "challenge": text, "code": text },
            },
        });
        if let (Some(all), Value::Object(more)) = (all.as_object_mut(), more) {
            all.extend(more);
        }
    }
    for (name, schema) in auth.inner.users.register_schema() {
        all["Register"]["properties"][name] = schema;
    }
    all
}
