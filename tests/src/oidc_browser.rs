//! A browser for the sign-in with the test provider: the example app
//! trusting a real `oidc-provider` (named `test`), and a cookie-keeping
//! client that follows the redirects a browser would.

use std::collections::{BTreeMap, HashMap};

use crudauth::{CrudAuthBuilder, OidcProvider};
use reqwest::header::{CACHE_CONTROL, COOKIE, LOCATION};
use reqwest::{Response, StatusCode, Url};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{
    Backend, CLIENT_ID, CLIENT_SECRET, PASSWORD, Server, TestProvider, config, free_port,
    set_cookies, start_router_on,
};

/// A browser's cookies, per `host:port`.
#[derive(Debug, Default, Clone)]
pub struct Jar(HashMap<String, BTreeMap<String, String>>);

impl Jar {
    pub fn header(&self, url: &Url) -> String {
        self.0
            .get(&authority(url))
            .map(|c| {
                c.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    pub fn keep(&mut self, url: &Url, res: &Response) {
        let cookies = self.0.entry(authority(url)).or_default();
        for set in set_cookies(res.headers()) {
            let pair = set.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if set.contains("Max-Age=0") {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub fn get(&self, base: &str, name: &str) -> Option<String> {
        let url = Url::parse(base).unwrap();
        self.0.get(&authority(&url))?.get(name).cloned()
    }

    pub fn set(&mut self, base: &str, name: &str, value: &str) {
        let url = Url::parse(base).unwrap();
        self.0
            .entry(authority(&url))
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }
}

fn authority(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// The app, the provider it trusts (named `test`), and its base URL.
#[derive(Debug)]
pub struct Setup {
    pub server: Server,
    pub provider: TestProvider,
    pub base: String,
}

/// Accounts at the provider: `id -> (email, verified)`.
pub fn accounts(list: &[(&str, &str, bool)]) -> Value {
    let mut map = serde_json::Map::new();
    for (id, email, verified) in list {
        map.insert(
            (*id).to_owned(),
            json!({ "email": email, "email_verified": verified }),
        );
    }
    Value::Object(map)
}

pub async fn setup_with(
    backend: Backend,
    list: &[(&str, &str, bool)],
    client: (&str, Option<&str>),
    tweak: impl FnOnce(CrudAuthBuilder) -> CrudAuthBuilder,
) -> Option<Setup> {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let provider = TestProvider::start(&accounts(list), &[format!("{base}/oauth/test/callback")])?;
    let oidc = OidcProvider::discover("test", &provider.issuer, client.0, client.1)
        .await
        .expect("discovery of the test provider");
    let origin = base.clone();
    let server = start_router_on(
        port,
        backend,
        move |db| {
            tweak(
                example_web_and_api::auth_builder(db, config())
                    .me_route(true)
                    .public_origin(origin)
                    .oidc_provider(oidc),
            )
        },
        |auth| auth.router().layer(auth.layer()).with_state(auth.clone()),
    )
    .await;
    Some(Setup {
        server,
        provider,
        base,
    })
}

pub async fn setup(backend: Backend, list: &[(&str, &str, bool)]) -> Option<Setup> {
    setup_with(backend, list, (CLIENT_ID, Some(CLIENT_SECRET)), |b| b).await
}

/// One hop a browser made.
#[derive(Debug)]
pub struct Hop {
    pub status: StatusCode,
    pub cache_control: Option<String>,
}

impl Setup {
    pub async fn get(&self, jar: &mut Jar, url: &str) -> Response {
        let parsed = Url::parse(url).unwrap();
        let res = self
            .server
            .client
            .get(url)
            .header(COOKIE, jar.header(&parsed))
            .send()
            .await
            .expect("request");
        jar.keep(&parsed, &res);
        res
    }

    /// Follows redirects from `url` until `stop` accepts the next URL
    /// (returned, not fetched); every hop is recorded.
    pub async fn drive(
        &self,
        jar: &mut Jar,
        url: &str,
        hops: &mut Vec<Hop>,
        stop: impl Fn(&str) -> bool,
    ) -> String {
        let mut url = url.to_owned();
        for _ in 0..20 {
            let res = self.get(jar, &url).await;
            hops.push(Hop {
                status: res.status(),
                cache_control: res
                    .headers()
                    .get(CACHE_CONTROL)
                    .map(|v| v.to_str().unwrap().to_owned()),
            });
            let Some(location) = res.headers().get(LOCATION) else {
                panic!(
                    "{url} answered {} without a redirect: {}",
                    res.status(),
                    res.text().await.unwrap_or_default()
                );
            };
            let next = Url::parse(&url)
                .unwrap()
                .join(location.to_str().unwrap())
                .unwrap()
                .to_string();
            if stop(&next) {
                return next;
            }
            url = next;
        }
        panic!("too many redirects");
    }

    /// Starts a sign-in at `/oauth/test/authorize{query}` and lets the
    /// provider log in `account`; returns the callback URL, not yet visited.
    pub async fn to_callback(&self, jar: &mut Jar, query: &str, account: &str) -> String {
        let mut hops = Vec::new();
        let start = format!("{}/oauth/test/authorize{query}", self.base);
        let res = self.get(jar, &start).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        let at_provider = res.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(
            at_provider.starts_with(&self.provider.issuer),
            "{at_provider}"
        );
        assert!(
            at_provider.contains("code_challenge_method=S256"),
            "{at_provider}"
        );
        assert!(at_provider.contains("nonce="), "{at_provider}");
        let with_hint = format!("{at_provider}&login_hint={account}");
        let callback = format!("{}/oauth/test/callback", self.base);
        self.drive(jar, &with_hint, &mut hops, |next| {
            next.starts_with(&callback)
        })
        .await
    }

    /// Visits the callback; returns where the app sends the browser and the
    /// callback's answer.
    pub async fn finish(&self, jar: &mut Jar, callback: &str) -> (String, Hop) {
        let mut hops = Vec::new();
        let landing = self.drive(jar, callback, &mut hops, |_| true).await;
        let landing = landing
            .strip_prefix(&self.base)
            .unwrap_or(&landing)
            .to_owned();
        (landing, hops.pop().unwrap())
    }

    /// A whole sign-in; returns the landing path.
    pub async fn sign_in(&self, jar: &mut Jar, query: &str, account: &str) -> String {
        let callback = self.to_callback(jar, query, account).await;
        self.finish(jar, &callback).await.0
    }

    pub async fn me(&self, jar: &mut Jar) -> Response {
        self.get(jar, &format!("{}/me", self.base)).await
    }

    /// An unsafe request as this browser, with its CSRF cookie as token.
    pub async fn send(
        &self,
        jar: &mut Jar,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Response {
        let url = format!("{}{path}", self.base);
        let parsed = Url::parse(&url).unwrap();
        let csrf = jar.get(&self.base, "__Host-csrf_token").unwrap_or_default();
        let res = self
            .server
            .client
            .request(method, &url)
            .header(COOKIE, jar.header(&parsed))
            .header("x-csrf-token", csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        jar.keep(&parsed, &res);
        res
    }

    pub async fn sql(&self, sql: &str) {
        self.server.sql(sql).await;
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .server
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.server.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    pub async fn password_login(&self, email: &str) -> Response {
        self.server
            .post_json("/login", json!({ "username": email, "password": PASSWORD }))
            .await
    }
}
