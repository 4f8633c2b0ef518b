//! Load on PostgreSQL: 200 concurrent clients each run one full cycle,
//! register → login → /me → token → refresh → double refresh → logout,
//! against the example server on a loopback socket. No answer may be a 5xx,
//! no session may be lost before its logout, and every refresh token is
//! accepted exactly once, also when presented twice at the same moment.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crudauth::LockoutPolicy;
use crudauth_tests::{Backend, Browser, PASSWORD, Server, start, token_pair};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

const CLIENTS: usize = 200;

/// What the clients saw, summed.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    server_errors: AtomicU64,
    cycles: AtomicU64,
    sessions_checked: AtomicU64,
    lost_sessions: AtomicU64,
    rotations: AtomicU64,
    double_presentations: AtomicU64,
    double_winners: AtomicU64,
    slowest_ms: AtomicU64,
    surprises: Mutex<Vec<String>>,
}

impl Tally {
    /// Counts an answer; `false` (and a note) unless it has `expected`.
    fn check(&self, who: usize, what: &str, res: &Response, expected: StatusCode) -> bool {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let status = res.status();
        if status.is_server_error() {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        if status != expected {
            self.note(format!(
                "client {who}: {what} answered {status}, expected {expected}"
            ));
            return false;
        }
        true
    }

    fn note(&self, surprise: String) {
        self.surprises.lock().unwrap().push(surprise);
    }

    fn session(&self, who: usize, what: &str, res: &Response) {
        self.sessions_checked.fetch_add(1, Ordering::Relaxed);
        if !self.check(who, what, res, StatusCode::OK) {
            self.lost_sessions.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn timed(tally: &Tally, request: reqwest::RequestBuilder) -> Response {
    let started = Instant::now();
    let res = request.send().await.expect("the server answers");
    let ms = started.elapsed().as_millis() as u64;
    tally.slowest_ms.fetch_max(ms, Ordering::Relaxed);
    res
}

/// One client's cycle. Returns early (noting why) when a step fails, since
/// the next steps depend on it.
async fn cycle(server: &Server, client: &Client, tally: &Tally, who: usize) {
    let email = format!("load{who}@example.com");
    let post = |path: &str, body: Value| client.post(server.url(path)).json(&body);
    let bearer = |token: &str| client.get(server.url("/me")).bearer_auth(token);
    let credentials = json!({ "username": email, "password": PASSWORD });

    let res = timed(
        tally,
        post("/register", json!({ "email": email, "password": PASSWORD })),
    )
    .await;
    if !tally.check(who, "register", &res, StatusCode::CREATED) {
        return;
    }
    let res = timed(tally, post("/login", credentials.clone())).await;
    if !tally.check(who, "login", &res, StatusCode::OK) {
        return;
    }
    let browser = Browser::from_login(res).await;
    let me = |browser: &Browser| {
        client
            .request(Method::GET, server.url("/me"))
            .header("cookie", browser.cookie())
    };
    tally.session(
        who,
        "GET /me after login",
        &timed(tally, me(&browser)).await,
    );

    let res = timed(tally, post("/token", credentials)).await;
    if !tally.check(who, "token", &res, StatusCode::OK) {
        return;
    }
    let (access, first) = token_pair(&res.json().await.unwrap());
    let res = timed(tally, bearer(&access)).await;
    tally.check(
        who,
        "GET /me with the first access token",
        &res,
        StatusCode::OK,
    );

    let res = timed(tally, post("/refresh", json!({ "refresh_token": first }))).await;
    if !tally.check(who, "refresh", &res, StatusCode::OK) {
        return;
    }
    tally.rotations.fetch_add(1, Ordering::Relaxed);
    let (access, second) = token_pair(&res.json().await.unwrap());
    if second == first {
        tally.note(format!("client {who}: refresh returned the same token"));
    }
    let res = timed(tally, bearer(&access)).await;
    tally.check(
        who,
        "GET /me with the rotated access token",
        &res,
        StatusCode::OK,
    );

    // The same token twice at once: exactly one rotation; the loser is reuse,
    // which revokes the family, so the winner's tokens die with it.
    let body = json!({ "refresh_token": second });
    let (one, two) = tokio::join!(
        timed(tally, post("/refresh", body.clone())),
        timed(tally, post("/refresh", body)),
    );
    tally.double_presentations.fetch_add(1, Ordering::Relaxed);
    tally.requests.fetch_add(2, Ordering::Relaxed);
    let statuses = [one.status(), two.status()];
    if statuses.iter().any(StatusCode::is_server_error) {
        tally.server_errors.fetch_add(1, Ordering::Relaxed);
    }
    let winners: Vec<Response> = [one, two]
        .into_iter()
        .filter(|r| r.status() == StatusCode::OK)
        .collect();
    let losers = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    if winners.len() != 1 || losers != 1 {
        tally.note(format!(
            "client {who}: one token presented twice answered {statuses:?}"
        ));
    }
    if let Some(winner) = winners.into_iter().next() {
        tally.double_winners.fetch_add(1, Ordering::Relaxed);
        tally.rotations.fetch_add(1, Ordering::Relaxed);
        let (access, _) = token_pair(&winner.json().await.unwrap());
        let res = timed(tally, bearer(&access)).await;
        tally.check(
            who,
            "GET /me with a token of the reused family",
            &res,
            StatusCode::UNAUTHORIZED,
        );
    }

    // The session is untouched by the bearer family's end, until logout.
    tally.session(
        who,
        "GET /me before logout",
        &timed(tally, me(&browser)).await,
    );
    let res = timed(
        tally,
        client
            .post(server.url("/logout"))
            .header("cookie", browser.cookie())
            .header("x-csrf-token", &browser.csrf),
    )
    .await;
    if !tally.check(who, "logout", &res, StatusCode::OK) {
        return;
    }
    let res = timed(tally, me(&browser)).await;
    tally.check(who, "GET /me after logout", &res, StatusCode::UNAUTHORIZED);
    tally.cycles.fetch_add(1, Ordering::Relaxed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_cycle_without_5xx_lost_sessions_or_double_rotations() {
    if !crudauth_tests::postgres_enabled().await {
        return;
    }
    // Every client comes from 127.0.0.1: the per-IP limits would otherwise
    // throttle the test, not the runtime.
    let server = Arc::new(
        start(Backend::Postgres, |b| {
            b.register_per_hour(u32::MAX).lockout(LockoutPolicy {
                ip_attempts: u32::MAX,
                ..LockoutPolicy::default()
            })
        })
        .await,
    );
    // Answers queue behind argon2 (two cores, 600 hashes): allow more than
    // the harness client's 30 s before calling one lost.
    let client = Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|who| {
            let server = Arc::clone(&server);
            let tally = Arc::clone(&tally);
            let client = client.clone();
            tokio::spawn(async move { cycle(&server, &client, &tally, who).await })
        })
        .collect();
    for client in clients {
        client.await.expect("client task");
    }
    let took = started.elapsed();

    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let surprises = tally.surprises.lock().unwrap();
    println!(
        "load: {CLIENTS} clients, {} full cycles in {took:.1?}; {} requests, {} 5xx, \
         {} of {} session checks lost, {} rotations, {} double presentations with {} winners, \
         slowest answer {} ms, {} surprises",
        count(&tally.cycles),
        count(&tally.requests),
        count(&tally.server_errors),
        count(&tally.lost_sessions),
        count(&tally.sessions_checked),
        count(&tally.rotations),
        count(&tally.double_presentations),
        count(&tally.double_winners),
        count(&tally.slowest_ms),
        surprises.len(),
    );
    assert!(surprises.is_empty(), "{surprises:#?}");
    assert_eq!(count(&tally.server_errors), 0);
    assert_eq!(count(&tally.lost_sessions), 0);
    assert_eq!(count(&tally.cycles), CLIENTS as u64);
    assert_eq!(count(&tally.double_winners), CLIENTS as u64);
    assert_eq!(count(&tally.rotations), 2 * CLIENTS as u64);
}
