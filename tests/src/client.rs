//! The client side: an HTTP client, a logged-in browser, and what a test
//! asserts about an answer.

use std::time::Duration;

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

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

/// Asserts a crudauth JSON error.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status for expected code {code}");
    let body: Value = res.json().await.expect("JSON error body");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["detail"].is_string(), "detail: {body}");
    body
}
