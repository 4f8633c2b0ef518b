//! The layers: [`AuthLayer`] for the whole application, which does only
//! what no extractor can (the `csrf_token` field of HTML forms) and
//! otherwise hands requests and answers through untouched; and
//! [`JsonErrors`], which crudauth's own routes carry (their body limit,
//! and axum's plain-text rejections as crudauth's JSON error body) and an
//! application may add to its routes too.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tower::{Layer, Service};

use crate::body::{self, Kind};
use crate::error::{AuthError, ErrorBody};
use crate::state::CrudAuth;
use crate::{client, csrf};

/// The layer returned by [`CrudAuth::layer`]: add it to the whole
/// application, outermost. It changes no request or answer of the
/// application's routes: it reads the `csrf_token` field of an HTML form
/// (up to the body limit) so that the session transport's CSRF check can
/// find it, and passes the body on as it came.
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

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// The inner service, made ready, swapped out of `slot` for a clone that
/// was not.
fn take_ready<S: Clone>(slot: &mut S) -> S {
    let clone = slot.clone();
    std::mem::replace(slot, clone)
}

impl<S> Service<Request> for AuthService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let config = &self.auth.inner.config;
        client::warn_without_peer(&request, config.trusted_proxy_hops);
        let (parts, body) = request.into_parts();
        let is_form = body::kind(&parts.headers) == Some(Kind::Form);
        // Only a declared length that crudauth would read: a larger form (or
        // one of unknown length) goes on as it came, and its sender puts the
        // token in the header instead.
        let limit = config.body_limit;
        let capture = csrf::token_may_be_in_form(&parts, is_form)
            && body::declared_length(&parts.headers).is_some_and(|len| len <= limit as u64);
        if !capture {
            return Box::pin(self.inner.call(Request::from_parts(parts, body)));
        }
        let mut inner = take_ready(&mut self.inner);
        Box::pin(async move {
            let mut parts = parts;
            let raw = match axum::body::to_bytes(body, limit).await {
                Ok(raw) => raw,
                // The client stopped sending before its declared length.
                Err(_) => {
                    let err = AuthError::BadRequest("the request body ended early".into());
                    return Ok(closing(err.into_response()));
                }
            };
            csrf::capture_form_field(&mut parts.extensions, &raw);
            inner
                .call(Request::from_parts(parts, Body::from(raw)))
                .await
        })
    }
}

/// A layer giving routes crudauth's error answers: a body over the limit is
/// refused with 413 `payload_too_large` before it is read (and the
/// connection closed), and axum's plain-text 400/404/405/413/415/422
/// answers (a wrong method, an extractor's rejection) become crudauth's
/// JSON error body `{detail, code}`, keeping their status.
///
/// crudauth's own routes carry it; add it to the application's routes for
/// the same answers there (`Router::layer(JsonErrors::new())`).
#[derive(Debug, Clone, Copy)]
pub struct JsonErrors {
    limit: Option<usize>,
}

impl JsonErrors {
    /// The layer, without a body limit of its own.
    pub fn new() -> Self {
        Self { limit: None }
    }

    /// The layer, refusing declared bodies over `limit` bytes.
    pub(crate) fn limited(limit: usize) -> Self {
        Self { limit: Some(limit) }
    }
}

impl Default for JsonErrors {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for JsonErrors {
    type Service = JsonErrorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JsonErrorsService {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`JsonErrors`].
#[derive(Debug, Clone)]
pub struct JsonErrorsService<S> {
    inner: S,
    limit: Option<usize>,
}

impl<S> Service<Request> for JsonErrorsService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if let Some(limit) = self.limit
            && let Err(err) = body::check_length(request.headers(), limit)
        {
            return Box::pin(async move { Ok(closing(err.into_response())) });
        }
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = jsonify(future.await?).await;
            if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                // Refused before the body was read to its end.
                return Ok(closing(response));
            }
            Ok(response)
        })
    }
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
    let body = ErrorBody {
        detail,
        code: code.to_owned(),
    };
    let json = serde_json::to_string(&body).unwrap_or_default();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json))
}
