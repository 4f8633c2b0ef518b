//! [`AuthLayer`]: the request-level duties no extractor can do for the
//! application's own routes: the 64 KiB body limit, the `csrf_token` field
//! of HTML forms for the session transport, and JSON bodies on the
//! framework's own 4xx answers.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONNECTION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tower::{Layer, Service};

use crate::body::{self, Kind, LIMIT};
use crate::error::AuthError;
use crate::state::CrudAuth;
use crate::{client, csrf};

/// The layer returned by [`CrudAuth::layer`]: add it to the whole
/// application, outermost.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    auth: CrudAuth,
}

impl AuthLayer {
    pub(crate) fn new(auth: CrudAuth) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: CrudAuth,
}

impl<S> Service<Request> for AuthService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone is the one that was not made ready; keep the ready one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(handle(inner, self.auth.clone(), request))
    }
}

async fn handle<S>(mut inner: S, auth: CrudAuth, request: Request) -> Result<Response, Infallible>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    client::warn_without_peer(&request, auth.inner.config.trusted_proxy_hops);
    if let Err(err) = body::check_length(request.headers()) {
        return Ok(closing(err.into_response()));
    }
    let (mut parts, body) = request.into_parts();
    let is_form = body::kind(&parts.headers) == Some(Kind::Form);
    let body = if csrf::token_may_be_in_form(&parts, is_form) {
        let raw = match axum::body::to_bytes(body, LIMIT).await {
            Ok(raw) => raw,
            Err(_) => return Ok(closing(AuthError::PayloadTooLarge(LIMIT).into_response())),
        };
        csrf::capture_form_field(&mut parts.extensions, &raw);
        Body::from(raw)
    } else {
        Body::new(http_body_util::Limited::new(body, LIMIT))
    };
    let response = inner.call(Request::from_parts(parts, body)).await?;
    let response = jsonify(response).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Ok(closing(response));
    }
    Ok(response)
}

/// Marks an answer given before the request's body was read to its end:
/// the rest of the body is still on the connection, so the server closes
/// it, and says so, lest a client send its next request on it.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
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
