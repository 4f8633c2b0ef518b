//! The OpenAPI document: crudauth's built-in routes as configured, and the
//! security sections `#[authed]` writes into `#[utoipa::path]`, read from
//! the example server's `GET /openapi.json` and from handlers of this file.

use crudauth::{Principal, authed};
use crudauth_tests::{Backend, assert_error, on_both_backends, start};
use reqwest::StatusCode;
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

on_both_backends!(
    the_example_serves_its_whole_document,
    bodies_hold_to_the_document
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
