//! The client side: an HTTP client, a logged-in browser, and what a test
//! asserts about an answer.

use std::time::Duration;

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// The password of every user the tests register.
pub const PASSWORD: &str = "correct horse battery";

/// A client that does not follow redirects.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A client of one running server (in process or not): its address and an
/// HTTP client without a cookie store, so that each request carries exactly
/// the credentials the test gives it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `http://host:port`.
    pub base: String,
    pub client: Client,
}

impl Endpoint {
    /// The client of the server at `base` (`http://host:port`).
    pub fn new(base: String) -> Self {
        Self {
            base,
            client: client(),
        }
    }

    /// `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Registers a user and returns its id.
    pub async fn register(&self, email: &str) -> Value {
        let res = self
            .post_json("/register", json!({ "email": email, "password": PASSWORD }))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "register {email}");
        res.json::<Value>().await.unwrap()["id"].clone()
    }

    /// Logs in through `/login` and returns the browser's state.
    pub async fn login(&self, username: &str) -> Browser {
        self.login_with(username, PASSWORD, None)
            .await
            .expect("login succeeds")
    }

    /// Logs in through `/login` with `password` (and `cookie`, if given);
    /// any answer but 200 is the error.
    pub async fn login_with(
        &self,
        username: &str,
        password: &str,
        cookie: Option<&str>,
    ) -> Result<Browser, Response> {
        let mut req = self
            .client
            .post(self.url("/login"))
            .json(&json!({ "username": username, "password": password }));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        let res = req.send().await.expect("request");
        if res.status() != StatusCode::OK {
            return Err(res);
        }
        Ok(Browser::from_login(res).await)
    }

    /// A request carrying the browser's cookie (and CSRF header if `csrf`).
    pub async fn as_browser(
        &self,
        browser: &Browser,
        method: Method,
        path: &str,
        csrf: Option<&str>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("cookie", browser.cookie());
        if let Some(token) = csrf {
            req = req.header("x-csrf-token", token);
        }
        req.send().await.expect("request")
    }

    /// A request, not yet sent, carrying the browser's cookie and its CSRF
    /// token.
    pub fn with_cookie(&self, method: Method, path: &str, browser: &Browser) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("cookie", browser.cookie())
            .header("x-csrf-token", &browser.csrf)
    }

    /// POSTs `body` as JSON with the browser's cookie and CSRF token.
    pub async fn post_as_browser(&self, browser: &Browser, path: &str, body: Value) -> Response {
        self.with_cookie(Method::POST, path, browser)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// A request, not yet sent, carrying `token` as a bearer.
    pub fn with_bearer(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// Obtains a token pair through `/token`.
    pub async fn token(&self, username: &str) -> Value {
        let res = self
            .post_json(
                "/token",
                json!({ "username": username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "token for {username}");
        res.json().await.unwrap()
    }

    /// The access token of a fresh token pair, obtained through `/token`.
    pub async fn access_token(&self, username: &str) -> String {
        token_pair(&self.token(username).await).0
    }

    /// `GET path` with `token` as a bearer.
    pub async fn get_bearer(&self, path: &str, token: &str) -> Response {
        self.with_bearer(Method::GET, path, token)
            .send()
            .await
            .expect("request")
    }
}

/// A logged-in browser: its cookies and CSRF token.
#[derive(Debug, Clone)]
pub struct Browser {
    pub session: String,
    pub csrf: String,
    pub user_id: Value,
    pub set_cookies: Vec<String>,
}

impl Browser {
    /// The browser's state from a successful `/login` answer.
    pub async fn from_login(res: Response) -> Self {
        let set_cookies = set_cookies(res.headers());
        let body: Value = res.json().await.unwrap();
        let session = set_cookies
            .iter()
            .find(|c| c.contains("session_id="))
            .map(|c| c.split(';').next().unwrap().to_owned())
            .expect("session cookie");
        Self {
            session,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            user_id: body["user_id"].clone(),
            set_cookies,
        }
    }

    /// The `Cookie` header value.
    pub fn cookie(&self) -> String {
        format!("{}; {}", self.session, self.csrf_cookie())
    }

    fn csrf_cookie(&self) -> String {
        self.set_cookies
            .iter()
            .find(|c| c.contains("csrf_token="))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
            .unwrap_or_default()
    }
}

pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The access and refresh tokens of a `/token` or `/refresh` answer.
pub fn token_pair(pair: &Value) -> (String, String) {
    (
        pair["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned(),
        pair["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_owned(),
    )
}

/// The `Retry-After` of a refusal, in seconds.
pub fn retry_after(res: &Response) -> u64 {
    res.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds")
}

/// Asserts a crudauth JSON error.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status for expected code {code}");
    let body: Value = res.json().await.expect("JSON error body");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["detail"].is_string(), "detail: {body}");
    body
}

/// An argon2id hash of `password` with weaker parameters than crudauth's,
/// as an older deployment would have stored: a login upgrades it.
pub fn weak_hash(password: &str) -> String {
    use argon2::password_hash::PasswordHasher;
    let params = argon2::Params::new(8 * 1024, 1, 1, None).expect("valid parameters");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(password.as_bytes())
        .expect("hash")
        .to_string()
}
