//! The OpenAPI document: crudauth's built-in routes as configured, and the
//! security sections `#[authed]` writes into `#[utoipa::path]`, read from
//! the example server's `GET /openapi.json` and from handlers of this file.

use crudauth::{OidcProvider, Principal, SmtpSender, authed};
use crudauth_tests::{Backend, MFA_KEY, assert_error, on_both_backends, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use utoipa::OpenApi;

/// The `security` of `method path`.
fn security(doc: &Value, path: &str, method: &str) -> Value {
    doc["paths"][path][method]["security"].clone()
}

/// The response `status` of `method path`.
fn response(doc: &Value, path: &str, method: &str, status: u16) -> Value {
    doc["paths"][path][method]["responses"][status.to_string()].clone()
}

async fn the_example_serves_its_whole_document(backend: Backend) {
    let server = start(backend, |b| b).await;
    let res = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["session"],
        json!({ "type": "apiKey", "in": "cookie", "name": "__Host-session_id",
                "description": "The session cookie set by `POST /login`." })
    );
    assert_eq!(schemes["csrf"]["in"], "header");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["bearer"]["bearerFormat"], "JWT");
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], json!(["detail", "code"]));

    // Every built-in route (the example serves its own /me).
    for (path, method) in [
        ("/register", "post"),
        ("/login", "post"),
        ("/logout", "post"),
        ("/sessions", "get"),
        ("/sessions/{id}", "delete"),
        ("/logout-all", "post"),
        ("/change-password", "post"),
        ("/token", "post"),
        ("/refresh", "post"),
        ("/revoke", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} documented");
        assert!(op["responses"]["503"].is_object(), "{method} {path}: 503");
        for (status, answer) in op["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    answer["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{method} {path} {status}"
                );
            }
        }
    }
    assert_eq!(security(&doc, "/login", "post"), json!([]));
    assert_eq!(
        security(&doc, "/change-password", "post"),
        json!([{ "session": [], "csrf": [] }, { "bearer": [] }])
    );
    assert_eq!(
        security(&doc, "/sessions", "get"),
        json!([{ "session": [] }])
    );
    assert_eq!(
        response(&doc, "/register", "post", 409)["description"],
        "`already_registered`"
    );
    let login_body = &doc["paths"]["/login"]["post"]["requestBody"]["content"];
    assert!(login_body["application/json"].is_object());
    assert!(login_body["application/x-www-form-urlencoded"].is_object());

    // The example's own routes: the guard wrote each security section.
    assert_eq!(
        security(&doc, "/me", "get"),
        json!([{ "session": [] }, { "bearer": [] }])
    );
    assert_eq!(
        security(&doc, "/account", "get"),
        json!([{ "session": [] }])
    );
    assert_eq!(
        security(&doc, "/api/jobs", "post"),
        json!([{ "bearer": [] }])
    );
    assert_eq!(
        security(&doc, "/api/admin", "get"),
        json!([{ "session": [] }, { "bearer": [] }])
    );
    assert!(
        response(&doc, "/me", "get", 401)["description"]
            .as_str()
            .unwrap()
            .contains("`unauthenticated`")
    );
    assert!(
        response(&doc, "/me", "get", 403).is_null(),
        "no gate on GET /me"
    );
    assert!(
        response(&doc, "/api/jobs", "post", 403).is_null(),
        "bearer only"
    );
    assert!(
        response(&doc, "/api/admin", "get", 403)["description"]
            .as_str()
            .unwrap()
            .contains("`insufficient_privileges`")
    );
    // The hand-written 401 of a route stays as written.
    assert_eq!(
        response(&doc, "/api/notes", "post", 401)["description"],
        "No usable credential."
    );
}

/// What schemathesis found (scripts/schemathesis.sh), pinned: a JSON array
/// is no object (serde would fill a struct from it), and a blank username
/// counts as none, as the document says.
async fn bodies_hold_to_the_document(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let token = server.access_token("ada@example.com").await;
    let res = server
        .with_bearer(reqwest::Method::POST, "/logout-all", &token)
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert_eq!(body["detail"], "the body must be a JSON object");
    let res = server
        .post_json(
            "/register",
            json!({ "email": "bo@example.com", "username": " ", "password": "long enough" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

/// Every `(path, method)` the server's configuration mounts, from the
/// route table (`auth.routes()`), which `router()` mounts from too.
fn mounted_routes(server: &crudauth_tests::Server) -> Vec<(String, String)> {
    let found: Vec<(String, String)> = server
        .auth
        .routes()
        .into_iter()
        .map(|(method, path)| (path.to_owned(), method.as_str().to_ascii_lowercase()))
        .collect();
    assert!(found.len() > 20, "{found:?}");
    found
}

/// Every `$ref` in `value` names a schema the document has.
fn refs_resolve(doc: &Value, value: &Value, at: &str) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    let name = inner
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                        .unwrap_or_else(|| panic!("{at}: a $ref outside the schemas: {inner}"));
                    assert!(
                        doc["components"]["schemas"][name].is_object(),
                        "{at}: {name} is no schema"
                    );
                } else {
                    refs_resolve(doc, inner, &format!("{at}/{key}"));
                }
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                refs_resolve(doc, inner, &format!("{at}/{i}"));
            }
        }
        _ => {}
    }
}

/// An instance with every route family: both transports, recovery (a mail
/// sender, the email and email_verified columns), a second factor, and a
/// provider; `/me` is the example's.
async fn fully_configured(backend: Backend) -> crudauth_tests::Server {
    let github = OidcProvider::github("client-id", "client-secret").unwrap();
    let sender = SmtpSender::new("smtp://127.0.0.1:9", "crudauth <no-reply@example.com>").unwrap();
    start(backend, move |b| {
        b.mfa_key(MFA_KEY)
            .public_origin("http://127.0.0.1")
            .email_sender(sender)
            .oidc_provider(github)
    })
    .await
}

async fn every_served_route_is_documented_and_the_document_resolves(backend: Backend) {
    let server = fully_configured(backend).await;
    // The example's whole document: crudauth's routes and its own (among
    // them its `/me`, in place of the built-in one).
    let res = server.client.get(server.url("/openapi.json")).send().await;
    let doc: Value = res.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in mounted_routes(&server) {
        let op = &doc["paths"][&path][&method];
        assert!(op.is_object(), "{method} {path} is not documented");
        // Served: the router answers it (not its 404/405 for what it lacks).
        let concrete = path.replace("{id}", "x").replace("{provider}", "github");
        let res = server
            .client
            .request(
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                server.url(&concrete),
            )
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert!(status != 405 && status < 500, "{method} {path}: {status}");
        let documented = op["responses"].as_object().unwrap();
        assert!(
            documented.contains_key(&status.to_string()),
            "{method} {path}: {status} is not among {:?}",
            documented.keys().collect::<Vec<_>>()
        );
    }
    // Each documented operation: a unique id, security schemes the document
    // defines, its path parameters declared, every error the error body.
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "{id} twice");
            for requirement in op["security"].as_array().unwrap() {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(scheme), "{method} {path}: {scheme}");
                }
            }
            for name in path
                .split('{')
                .skip(1)
                .map(|p| p.split('}').next().unwrap())
            {
                let declared = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true);
                assert!(declared, "{method} {path}: parameter {name}");
            }
            for (status, answer) in op["responses"].as_object().unwrap() {
                assert!(
                    answer["description"].is_string(),
                    "{method} {path} {status}"
                );
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        answer["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    refs_resolve(&doc, &doc, "#");
    // The families' security: unsafe calls with a session need the CSRF
    // token; the mailed-link and challenge routes take no credential.
    let both_unsafe = json!([{ "session": [], "csrf": [] }, { "bearer": [] }]);
    for (path, method) in [
        ("/sudo", "post"),
        ("/email/change-request", "post"),
        ("/mfa/totp/setup", "post"),
        ("/mfa/totp/disable", "post"),
        ("/oauth/identities/{provider}", "delete"),
        ("/set-password", "post"),
    ] {
        assert_eq!(security(&doc, path, method), both_unsafe, "{method} {path}");
    }
    assert_eq!(
        security(&doc, "/mfa", "get"),
        json!([{ "session": [] }, { "bearer": [] }])
    );
    for path in [
        "/password/reset-confirm",
        "/email/verify-confirm",
        "/mfa/verify",
    ] {
        assert_eq!(security(&doc, path, "post"), json!([]), "{path}");
    }
    assert_eq!(
        doc["paths"]["/oauth/{provider}/authorize"]["get"]["parameters"][0]["schema"]["enum"],
        json!(["github"])
    );
    assert!(
        response(&doc, "/login", "post", 200)["content"]["application/json"]["schema"]["oneOf"]
            .is_array(),
        "a login may answer a challenge"
    );
}

/// Without a second factor, mail or provider, their routes are neither
/// served nor documented.
async fn unconfigured_families_are_not_documented(backend: Backend) {
    let server = start(backend, |b| b).await;
    let doc = serde_json::to_value(server.auth.openapi()).unwrap();
    for path in ["/mfa", "/mfa/verify", "/oauth/identities", "/set-password"] {
        assert!(doc["paths"][path].is_null(), "{path} documented");
    }
    assert!(doc["paths"]["/sudo"]["post"].is_object());
    refs_resolve(&doc, &doc, "#");
}

/// `/docs` is a page a person reads: Swagger UI, served from the binary,
/// pointed at the example's own document.
async fn the_docs_page_reads_the_document(backend: Backend) {
    let server = start(backend, |b| b).await;
    let res = server
        .client
        .get(server.url("/docs/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = res.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    // Its configuration names the document it shows, and the document is
    // there.
    let res = server
        .client
        .get(server.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let script = res.text().await.unwrap();
    assert!(script.contains("/openapi.json"), "{script}");
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"] {
        let res = server.client.get(server.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        assert!(res.bytes().await.unwrap().len() > 1000, "{asset}");
    }
    let res = server.client.get(server.url("/docs")).send().await.unwrap();
    assert!(
        res.status().is_redirection() || res.status() == StatusCode::OK,
        "{}",
        res.status()
    );
}

on_both_backends!(
    the_docs_page_reads_the_document,
    the_example_serves_its_whole_document,
    bodies_hold_to_the_document,
    every_served_route_is_documented_and_the_document_resolves,
    unconfigured_families_are_not_documented,
);

// Documented, not served: only the document is read.
#[allow(dead_code)]
#[authed(transport = "bearer", scopes = ["jobs:write", "jobs:read"])]
#[utoipa::path(post, path = "/scoped", responses((status = 200, description = "Done.")))]
async fn scoped(_user: Principal) -> &'static str {
    "done"
}

#[allow(dead_code)]
#[authed(optional)]
#[utoipa::path(post, path = "/maybe", responses(
    (status = 200, description = "Done."),
    (status = 401, description = "Mine."),
))]
async fn maybe(_user: Option<Principal>) -> &'static str {
    "done"
}

#[allow(dead_code)]
#[authed(transport = "session", verified, check = is_owner)]
#[utoipa::path(delete, path = "/checked", security(("custom" = [])))]
async fn checked(_user: Principal) -> &'static str {
    "done"
}

fn is_owner(user: &Principal) -> bool {
    user.is_superuser
}

#[derive(OpenApi)]
#[openapi(paths(scoped, maybe, checked))]
struct Guarded;

#[test]
fn authed_writes_transports_scopes_and_refusals_into_utoipa_path() {
    let doc: Value = serde_json::to_value(Guarded::openapi()).unwrap();
    assert_eq!(
        security(&doc, "/scoped", "post"),
        json!([{ "bearer": ["jobs:write", "jobs:read"] }])
    );
    let forbidden = response(&doc, "/scoped", "post", 403)["description"].clone();
    assert!(forbidden.as_str().unwrap().contains("`insufficient_scope`"));
    assert!(
        !forbidden.as_str().unwrap().contains("csrf"),
        "no session here"
    );
    assert_eq!(
        response(&doc, "/scoped", "post", 401)["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );

    // Optional: anonymous is an alternative; a 401 the user wrote is kept.
    assert_eq!(
        security(&doc, "/maybe", "post"),
        json!([{ "session": [], "csrf": [] }, { "bearer": [] }, {}])
    );
    assert_eq!(
        response(&doc, "/maybe", "post", 401)["description"],
        "Mine."
    );
    assert!(
        response(&doc, "/maybe", "post", 403)["description"]
            .as_str()
            .unwrap()
            .contains("`csrf_failed`")
    );

    // A security section the user wrote is kept; the refusals are added.
    assert_eq!(
        security(&doc, "/checked", "delete"),
        json!([{ "custom": [] }])
    );
    let forbidden = response(&doc, "/checked", "delete", 403)["description"].clone();
    for code in ["csrf_failed", "not_verified", "access_denied"] {
        assert!(forbidden.as_str().unwrap().contains(code), "{forbidden}");
    }
}

/// Whether the built-in `/me` is documented follows `me_route`. (The
/// transports' routes follow the chain too, but this binary's narrowed
/// handlers need both transports enabled.)
#[tokio::test]
async fn the_document_follows_the_configuration() {
    for me_route in [true, false] {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        let auth = example_web_and_api::auth_builder(db, crudauth_tests::config())
            .me_route(me_route)
            .build()
            .unwrap();
        let doc = serde_json::to_value(auth.openapi()).unwrap();
        assert_eq!(doc["paths"]["/me"].is_object(), me_route);
        if me_route {
            assert_eq!(
                security(&doc, "/me", "get"),
                json!([{ "session": [] }, { "bearer": [] }])
            );
        }
    }
}

/// `/register`'s body lists the application's registrable columns as their
/// types, and new passwords carry the policy's lengths.
#[tokio::test]
async fn the_document_follows_the_registration_settings() {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let auth = example_web_and_api::auth_builder(db, crudauth_tests::config())
        .password_policy(crudauth::PasswordPolicy::default().min_len(12).max_len(64))
        .build()
        .unwrap();
    let doc = serde_json::to_value(auth.openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let register = &schemas["Register"]["properties"];
    assert_eq!(
        register["display_name"],
        json!({ "type": ["string", "null"], "pattern": r"^[^\x00]*$" })
    );
    assert!(register["is_superuser"].is_null(), "not registrable");
    for (schema, field) in [
        ("Register", "password"),
        ("ChangePassword", "new_password"),
        ("ResetConfirm", "new_password"),
    ] {
        let password = &schemas[schema]["properties"][field];
        assert_eq!(password["minLength"], 12, "{schema}.{field}");
        assert_eq!(password["maxLength"], 64, "{schema}.{field}");
    }
}
