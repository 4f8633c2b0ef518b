//! [`CrudAuth::layer`]: the request-level duties that no extractor can do:
//! the 64 KiB body limit, the `csrf_token` form field for the session
//! transport, and JSON bodies on the framework's own 4xx answers.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::auth::CrudAuth;
use crate::body::{self, Kind, LIMIT};
use crate::csrf::{self, FormToken};
use crate::error::AuthError;

impl CrudAuth {
    /// A layer for the whole application: bodies over 64 KiB get 413 before
    /// any work, an HTML form's `csrf_token` field satisfies the session
    /// transport's CSRF check, and axum's plain-text 400/404/405/413/415/422
    /// answers become crudauth's JSON errors. [`CrudAuth::router`] is already
    /// wrapped in it; add it to your own router as the outermost layer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn app(auth: crudauth::CrudAuth) -> axum::Router {
    /// axum::Router::new()
    ///     .merge(auth.router())
    ///     .layer(auth.layer())
    ///     .with_state(auth)
    /// # }
    /// ```
    pub fn layer(&self) -> AuthLayer {
        middleware::from_fn(run as fn(Request, Next) -> LayerFuture)
    }
}

/// The layer returned by [`CrudAuth::layer`].
pub type AuthLayer = middleware::FromFnLayer<fn(Request, Next) -> LayerFuture, (), (Request,)>;

/// The future of [`CrudAuth::layer`]'s middleware.
pub type LayerFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

fn run(request: Request, next: Next) -> LayerFuture {
    Box::pin(handle(request, next))
}

async fn handle(request: Request, next: Next) -> Response {
    if let Err(err) = body::check_length(request.headers()) {
        return err.into_response();
    }
    let (mut parts, body) = request.into_parts();
    let body = if !csrf::is_safe(&parts.method)
        && body::kind(&parts.headers) == Some(Kind::Form)
        && !parts.headers.contains_key(csrf::HEADER)
        && parts.extensions.get::<FormToken>().is_none()
    {
        let raw = match axum::body::to_bytes(body, LIMIT).await {
            Ok(raw) => raw,
            Err(_) => return AuthError::PayloadTooLarge(LIMIT).into_response(),
        };
        if let Some(token) = body::form_csrf_token(&raw) {
            parts.extensions.insert(FormToken(token));
        }
        Body::from(raw)
    } else {
        Body::new(http_body_util::Limited::new(body, LIMIT))
    };
    let response = next.run(Request::from_parts(parts, body)).await;
    jsonify(response).await
}

/// Rewrites a plain-text client-error answer of the framework (an unknown
/// route, a wrong method, an extractor's rejection) as crudauth's JSON
/// error, keeping its status and text.
async fn jsonify(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        _ => return response,
    };
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match http_body_util::Limited::new(body, 4096).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes())
            .trim()
            .to_owned(),
        Err(_) => String::new(),
    };
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let json = serde_json::json!({ "detail": detail, "code": code }).to_string();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json))
}
