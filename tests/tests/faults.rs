//! Database faults on PostgreSQL: a TCP proxy between the example server and
//! the database is cut and restored. While the database is gone every route
//! that needs it answers 503 `unavailable` within seconds; the server
//! recovers by itself; and a request cut midway loses or half-writes nothing.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crudauth::LockoutPolicy;
use crudauth_tests::{Browser, PASSWORD, Server, TestDb, start_sharing, start_through, token_pair};
use example_web_and_api::ACQUIRE_TIMEOUT;
use reqwest::{Method, RequestBuilder, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a request may take to be refused while the database is gone:
/// the example's pool gives up waiting for a connection after
/// [`ACQUIRE_TIMEOUT`], and a request may wait twice (a read, then its
/// retry on a fresh connection). A request that hung instead would wait for
/// sqlx's default of 30 s. The loops below poll up to this deadline too.
const PROMPT: Duration = Duration::from_secs(2 * ACQUIRE_TIMEOUT.as_secs() + 2);

/// A TCP proxy in front of PostgreSQL. `cut` closes the listening socket
/// (new connections are refused, as by a stopped server) and every open
/// connection in both directions; `restore` listens again on the same port.
/// `trip_on` kills the next connection that sends a given byte string,
/// without forwarding it: a fault at a chosen point of a request.
struct Proxy {
    addr: SocketAddr,
    upstream: String,
    acceptor: Option<JoinHandle<()>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    trip: Arc<Mutex<Option<Vec<u8>>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let mut proxy = Self {
            addr: listener.local_addr().expect("proxy address"),
            upstream: upstream.to_owned(),
            acceptor: None,
            links: Arc::default(),
            trip: Arc::default(),
        };
        proxy.accept_on(listener);
        proxy
    }

    fn accept_on(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let links = Arc::clone(&self.links);
        let trip = Arc::clone(&self.trip);
        self.acceptor = Some(tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let link = tokio::spawn(forward(client, upstream.clone(), Arc::clone(&trip)));
                let mut links = links.lock().unwrap();
                links.retain(|l| !l.is_finished());
                links.push(link);
            }
        }));
    }

    async fn drop_links(&self) {
        let links = std::mem::take(&mut *self.links.lock().unwrap());
        for link in &links {
            link.abort();
        }
        for link in links {
            let _ = link.await;
        }
    }

    async fn cut(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
            let _ = acceptor.await;
        }
        self.drop_links().await;
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("listen again on the proxy's port");
        self.accept_on(listener);
    }

    /// Arms a one-shot fault on `pattern`. Open connections are dropped
    /// first: the pool reconnects, and a fresh connection sends each
    /// statement's text (a connection that prepared it before would send
    /// only its name).
    async fn trip_on(&self, pattern: &str) {
        self.drop_links().await;
        *self.trip.lock().unwrap() = Some(pattern.as_bytes().to_vec());
    }

    /// Whether the armed fault fired.
    fn tripped(&self) -> bool {
        self.trip.lock().unwrap().is_none()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
        }
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

async fn forward(client: TcpStream, upstream: String, trip: Arc<Mutex<Option<Vec<u8>>>>) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            {
                let mut armed = trip.lock().unwrap();
                if armed
                    .as_deref()
                    .is_some_and(|p| chunk.windows(p.len()).any(|w| w == p))
                {
                    *armed = None;
                    return;
                }
            }
            if server_tx.write_all(chunk).await.is_err() {
                return;
            }
        }
    };
    let down = tokio::io::copy(&mut server_rx, &mut client_tx);
    // Whichever direction ends first ends the link: both sockets close.
    tokio::select! {
        () = up => {}
        _ = down => {}
    }
}

/// `host:port` of a database URL.
fn authority(url: &str) -> &str {
    let start = url
        .find('@')
        .map(|i| i + 1)
        .unwrap_or_else(|| url.find("//").expect("a URL with an authority") + 2);
    let rest = &url[start..];
    &rest[..rest.find('/').unwrap_or(rest.len())]
}

/// A fresh PostgreSQL database, a proxy in front of it, the example server
/// connected through the proxy, and a direct connection for inspection.
async fn behind_proxy(
    tweak: impl FnOnce(crudauth::CrudAuthBuilder) -> crudauth::CrudAuthBuilder,
) -> Option<(Server, Proxy, DatabaseConnection)> {
    if !crudauth_tests::postgres_enabled().await {
        return None;
    }
    let test_db = TestDb::create(crudauth_tests::Backend::Postgres).await;
    let direct_url = test_db.url.clone();
    let upstream = authority(&direct_url);
    let upstream = if upstream.contains(':') {
        upstream.to_owned()
    } else {
        format!("{upstream}:5432")
    };
    let proxy = Proxy::start(&upstream).await;
    let proxied = direct_url.replacen(authority(&direct_url), &proxy.addr.to_string(), 1);
    let server = start_through(test_db, &proxied, tweak).await;
    let direct = Database::connect(&direct_url)
        .await
        .expect("direct connection");
    Some((server, proxy, direct))
}

/// The test user's state as a client sees it.
struct Credentials {
    browser: Browser,
    access: String,
    refresh: String,
}

async fn signed_up(server: &Server, email: &str) -> Credentials {
    server.register(email).await;
    let browser = server.login(email).await;
    let (access, refresh) = token_pair(&server.token(email).await);
    Credentials {
        browser,
        access,
        refresh,
    }
}

/// Every route that needs the database, as a client holding `creds` calls it.
fn probes(server: &Server, creds: &Credentials) -> Vec<(&'static str, RequestBuilder)> {
    let post = |path: &str| server.client.post(server.url(path));
    let login = json!({ "username": "ada@example.com", "password": PASSWORD });
    vec![
        (
            "GET /me (cookie)",
            server.with_cookie(Method::GET, "/me", &creds.browser),
        ),
        (
            "GET /me (bearer)",
            server.with_bearer(Method::GET, "/me", &creds.access),
        ),
        (
            "GET /account (cookie)",
            server.with_cookie(Method::GET, "/account", &creds.browser),
        ),
        (
            "GET /sessions (cookie)",
            server.with_cookie(Method::GET, "/sessions", &creds.browser),
        ),
        (
            "POST /api/jobs (bearer)",
            server.with_bearer(Method::POST, "/api/jobs", &creds.access).json(&json!({})),
        ),
        ("POST /login", post("/login").json(&login)),
        ("POST /token", post("/token").json(&login)),
        (
            "POST /refresh",
            post("/refresh").json(&json!({ "refresh_token": creds.refresh })),
        ),
        (
            "POST /register",
            post("/register").json(&json!({ "email": "bob@example.com", "password": PASSWORD })),
        ),
        (
            "POST /logout (cookie)",
            server.with_cookie(Method::POST, "/logout", &creds.browser),
        ),
        (
            "POST /change-password (bearer)",
            server.with_bearer(Method::POST, "/change-password", &creds.access).json(
                &json!({ "current_password": PASSWORD, "new_password": "a brand new password" }),
            ),
        ),
        (
            "POST /logout-all (bearer)",
            server.with_bearer(Method::POST, "/logout-all", &creds.access).json(&json!({})),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_answers_503_promptly_and_recovers_by_itself() {
    let Some((server, mut proxy, _direct)) = behind_proxy(|b| b).await else {
        return;
    };
    let creds = signed_up(&server, "ada@example.com").await;

    proxy.cut().await;
    let started = Instant::now();
    let answers = futures_util::future::join_all(probes(&server, &creds).into_iter().map(
        |(what, request)| async move {
            let sent = Instant::now();
            let res = request.send().await.expect("the server answers");
            let took = sent.elapsed();
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (what, status, body, took)
        },
    ))
    .await;
    let mut slowest = Duration::ZERO;
    for (what, status, body, took) in &answers {
        assert_eq!(
            (*status, body["code"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")),
            "{what} while the database is down: {body}"
        );
        assert!(body["detail"].is_string(), "{what}: {body}");
        assert!(took < &PROMPT, "{what} took {took:?}");
        slowest = slowest.max(*took);
    }
    println!(
        "database down: {} routes answered 503 in at most {slowest:?} (all within {:?})",
        answers.len(),
        started.elapsed()
    );

    proxy.restore().await;
    let restored = Instant::now();
    loop {
        let res = server
            .with_cookie(Method::GET, "/me", &creds.browser)
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::OK {
            break;
        }
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(restored.elapsed() < PROMPT, "no recovery after restore");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("database back: recovered in {:?}", restored.elapsed());

    // The same credentials work again: nothing attempted during the outage
    // (logout, logout-all, refresh, password change) took effect.
    let me = server
        .with_bearer(Method::GET, "/me", &creds.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let refreshed = server
        .post_json("/refresh", json!({ "refresh_token": creds.refresh }))
        .await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "the refresh token survived"
    );
    let login = server.login_with("ada@example.com", PASSWORD, None).await;
    assert!(login.is_ok(), "the password is unchanged");
    let bob = server
        .post_json(
            "/register",
            json!({ "email": "bob@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(bob.status(), StatusCode::CREATED);
}

/// What `server` answers to the held cookie and bearer token on `GET /me`.
async fn me_statuses(server: &Server, creds: &Credentials) -> [StatusCode; 2] {
    let cookie = server.with_cookie(Method::GET, "/me", &creds.browser);
    let bearer = server.with_bearer(Method::GET, "/me", &creds.access);
    let (cookie, bearer) = tokio::join!(cookie.send(), bearer.send());
    [
        cookie.expect("the server answers").status(),
        bearer.expect("the server answers").status(),
    ]
}

/// Instance B reaches the database through the proxy, A directly. While
/// B's link (its revocation listener's included) is cut, A ends every
/// credential of a user that B had cached. B never serves them again: not
/// while cut (losing the listener emptied its cache, although its TTL is
/// ten minutes) and not once the link and the listener are back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_while_the_listener_is_cut_is_never_accepted_after() {
    let long = |b: crudauth::CrudAuthBuilder| b.principal_cache(Duration::from_secs(600), 1_000);
    let Some((b, mut proxy, _direct)) = behind_proxy(long).await else {
        return;
    };
    let direct_url = b
        .db_url
        .replacen(&proxy.addr.to_string(), &proxy.upstream, 1);
    let a = start_sharing(&direct_url, long).await;
    let creds = signed_up(&a, "ada@example.com").await;
    assert_eq!(
        me_statuses(&b, &creds).await,
        [StatusCode::OK; 2],
        "cached on B"
    );

    proxy.cut().await;
    // With its cache kept, B would go on answering 200 for ten minutes.
    let cut = Instant::now();
    loop {
        let statuses = me_statuses(&b, &creds).await;
        if !statuses.contains(&StatusCode::OK) {
            assert_eq!(statuses, [StatusCode::SERVICE_UNAVAILABLE; 2]);
            break;
        }
        assert!(
            cut.elapsed() < PROMPT,
            "B still serves from its cache while cut: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let res = a
        .with_bearer(Method::POST, "/logout-all", &creds.access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "logout-all on A");

    proxy.restore().await;
    let restored = Instant::now();
    let mut refused = None;
    // Past the listener's longest reconnection backoff (2 s): every answer
    // from the restore on, before and after it is back, is a refusal.
    while restored.elapsed() < Duration::from_secs(4) {
        let statuses = me_statuses(&b, &creds).await;
        for status in statuses {
            assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::SERVICE_UNAVAILABLE,
                "B answered {status} to a revoked credential after the link came back"
            );
        }
        if statuses == [StatusCode::UNAUTHORIZED; 2] {
            refused.get_or_insert(restored.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("B never refused the revoked credentials");
    assert!(refused < PROMPT);
    assert_eq!(
        me_statuses(&b, &creds).await,
        [StatusCode::UNAUTHORIZED; 2],
        "B refuses for good"
    );
    println!("B refused the revoked credentials {refused:?} after the link came back");
}

/// Counts of rows that break an invariant (all must be zero), and sizes.
async fn audit(db: &DatabaseConnection) -> Value {
    let sql = r#"SELECT
        (SELECT count(*) FROM users
            WHERE email = '' OR password_hash NOT LIKE '$argon2id$%') AS incomplete_users,
        (SELECT count(*) FROM crudauth_sessions s
            WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id::text = s.user_id)) AS orphan_sessions,
        (SELECT count(*) FROM crudauth_token_families f
            WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id::text = f.user_id)) AS orphan_families,
        (SELECT count(*) FROM crudauth_refresh_tokens r
            WHERE NOT EXISTS (SELECT 1 FROM crudauth_token_families f WHERE f.id = r.family_id)) AS orphan_tokens,
        (SELECT count(*) FROM crudauth_token_families f WHERE f.revoked_at IS NULL
            AND (SELECT count(*) FROM crudauth_refresh_tokens r
                 WHERE r.family_id = f.id AND r.used_at IS NULL) <> 1) AS families_without_one_live_token,
        (SELECT count(*) FROM users) AS users,
        (SELECT count(*) FROM crudauth_sessions) AS sessions,
        (SELECT count(*) FROM crudauth_token_families) AS families,
        (SELECT count(*) FROM crudauth_refresh_tokens) AS refresh_tokens"#;
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("audit query")
        .expect("one row");
    let mut out = serde_json::Map::new();
    for column in [
        "incomplete_users",
        "orphan_sessions",
        "orphan_families",
        "orphan_tokens",
        "families_without_one_live_token",
        "users",
        "sessions",
        "families",
        "refresh_tokens",
    ] {
        let n: i64 = row.try_get("", column).expect(column);
        out.insert(column.to_owned(), n.into());
    }
    Value::Object(out)
}

fn assert_consistent(audit: &Value) {
    for column in [
        "incomplete_users",
        "orphan_sessions",
        "orphan_families",
        "orphan_tokens",
        "families_without_one_live_token",
    ] {
        assert_eq!(audit[column], 0, "{column}: {audit}");
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("count query")
        .expect("one row")
        .try_get("", "n")
        .expect("n")
}

/// Fires the armed fault with `request`, which must then answer 503.
async fn tripped(proxy: &Proxy, what: &str, request: RequestBuilder) {
    let res = request.send().await.expect("the server answers");
    assert!(proxy.tripped(), "{what}: the fault never fired");
    crudauth_tests::assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_cut_before_its_commit_leaves_the_old_token_usable() {
    let Some((server, proxy, direct)) = behind_proxy(|b| b).await else {
        return;
    };
    let creds = signed_up(&server, "ada@example.com").await;
    let refresh = |token: &str| {
        server
            .client
            .post(server.url("/refresh"))
            .json(&json!({ "refresh_token": token }))
    };
    // After the claim of the old token, before its successor is stored;
    // and with everything written but the commit. (A cut under the reads
    // before them is retried on another connection: see
    // `reads_on_dead_connections_run_again_on_live_ones`.)
    for point in [r#"INSERT INTO "crudauth_refresh_tokens""#, "COMMIT"] {
        proxy.trip_on(point).await;
        tripped(&proxy, point, refresh(&creds.refresh)).await;
        assert_consistent(&audit(&direct).await);
    }
    let res = refresh(&creds.refresh).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the old token was never spent"
    );
    let pair: Value = res.json().await.unwrap();
    let me = server
        .get_bearer("/me", pair["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let audit = audit(&direct).await;
    assert_consistent(&audit);
    assert_eq!(audit["refresh_tokens"], 2, "one rotation happened: {audit}");
}

/// The example's pool does not ping a connection before handing it out.
/// After every pooled connection died (`trip_on` drops them all) and with
/// the very read that resolves the credential cut as well, requests are
/// still answered: each read runs again on another connection. So is a
/// refresh, whose first read is its token's owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_on_dead_connections_run_again_on_live_ones() {
    let uncached = |b: crudauth::CrudAuthBuilder| b.principal_cache(Duration::ZERO, 1);
    let Some((server, proxy, direct)) = behind_proxy(uncached).await else {
        return;
    };
    let creds = signed_up(&server, "ada@example.com").await;
    for point in [r#"FROM "users""#, r#"JOIN "crudauth_sessions""#] {
        proxy.trip_on(point).await;
        assert_eq!(
            me_statuses(&server, &creds).await,
            [StatusCode::OK; 2],
            "{point}"
        );
        assert!(proxy.tripped(), "{point}: the fault never fired");
    }
    proxy.trip_on(r#"FROM "crudauth_token_families""#).await;
    let res = server
        .client
        .post(server.url("/refresh"))
        .json(&json!({ "refresh_token": creds.refresh }))
        .send()
        .await
        .unwrap();
    assert!(proxy.tripped(), "the owner's read was never cut");
    assert_eq!(res.status(), StatusCode::OK, "refresh after a cut read");
    assert_consistent(&audit(&direct).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_grant_cut_midway_leaves_no_family_without_a_token() {
    let Some((server, proxy, direct)) = behind_proxy(|b| b).await else {
        return;
    };
    server.register("ada@example.com").await;
    let grant = || {
        server
            .client
            .post(server.url("/token"))
            .json(&json!({ "username": "ada@example.com", "password": PASSWORD }))
    };
    for point in [r#"INSERT INTO "crudauth_refresh_tokens""#, "COMMIT"] {
        proxy.trip_on(point).await;
        tripped(&proxy, point, grant()).await;
        let audit = audit(&direct).await;
        assert_consistent(&audit);
        assert_eq!(audit["families"], 0, "{point}: {audit}");
    }
    assert_eq!(grant().send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_cut_midway_leaves_no_user_behind() {
    let Some((server, proxy, direct)) = behind_proxy(|b| b).await else {
        return;
    };
    proxy.trip_on(r#"INSERT INTO "users""#).await;
    tripped(
        &proxy,
        "register",
        server
            .client
            .post(server.url("/register"))
            .json(&json!({ "email": "ada@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!(count(&direct, "SELECT count(*) AS n FROM users").await, 0);
    server.register("ada@example.com").await;
    server.login("ada@example.com").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_cut_midway_keeps_the_session_it_would_replace() {
    let Some((server, proxy, direct)) = behind_proxy(|b| b).await else {
        return;
    };
    let creds = signed_up(&server, "ada@example.com").await;
    // A login that brings a cookie ends that session and starts another:
    // cut while the new one is being stored.
    proxy.trip_on(r#"INSERT INTO "crudauth_sessions""#).await;
    tripped(
        &proxy,
        "login",
        server
            .client
            .post(server.url("/login"))
            .header("cookie", creds.browser.cookie())
            .json(&json!({ "username": "ada@example.com", "password": PASSWORD })),
    )
    .await;
    let me = server
        .with_cookie(Method::GET, "/me", &creds.browser)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "a failed login must not end the session it would have replaced"
    );
    assert_consistent(&audit(&direct).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_cut_midway_never_leaves_old_credentials_beside_the_new_password() {
    let Some((server, proxy, direct)) = behind_proxy(|b| b).await else {
        return;
    };
    const NEW: &str = "a brand new password";
    // Each point is one statement of the change, all in one transaction:
    // the new hash (conditional), the caller's rotated session, the other
    // sessions, the token families.
    for (i, point) in [
        r#"UPDATE "users""#,
        r#"INSERT INTO "crudauth_sessions""#,
        r#"DELETE FROM "crudauth_sessions""#,
        r#"UPDATE "crudauth_token_families""#,
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("user{i}@example.com");
        let creds = signed_up(&server, &email).await;
        let changer = server.login(&email).await;
        proxy.trip_on(point).await;
        tripped(
            &proxy,
            point,
            server
                .with_cookie(Method::POST, "/change-password", &changer)
                .json(&json!({ "current_password": PASSWORD, "new_password": NEW })),
        )
        .await;
        let new_password_works = server.login_with(&email, NEW, None).await.is_ok();
        let old_session = server
            .with_cookie(Method::GET, "/me", &creds.browser)
            .send()
            .await
            .unwrap()
            .status();
        let old_token = server.get_bearer("/me", &creds.access).await.status();
        println!(
            "cut at {point}: new password works: {new_password_works}, \
             other session: {old_session}, old access token: {old_token}"
        );
        // Every cut point is inside the transaction: it rolls back whole,
        // and nothing is lost. The old password, the caller's session and
        // the other credentials all still work.
        assert!(!new_password_works, "cut at {point}: the change committed");
        assert!(server.login_with(&email, PASSWORD, None).await.is_ok());
        assert_eq!(old_session, StatusCode::OK, "cut at {point}");
        assert_eq!(old_token, StatusCode::OK, "cut at {point}");
        let caller = server
            .with_cookie(Method::GET, "/me", &changer)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(caller, StatusCode::OK, "cut at {point}");
    }
    assert_consistent(&audit(&direct).await);
}

/// A login that upgrades a weak hash and is cut while writing it leaves
/// the stored hash as it was (the upgrade and the move of the user's
/// credentials to the new epoch are one transaction); the next login
/// upgrades it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehash_cut_midway_keeps_the_stored_hash() {
    let Some((server, proxy, direct)) = behind_proxy(|b| b).await else {
        return;
    };
    server.register("ada@example.com").await;
    let weak = crudauth_tests::weak_hash(PASSWORD);
    direct
        .execute_unprepared(&format!(
            "UPDATE users SET password_hash = '{weak}' WHERE email = 'ada@example.com'"
        ))
        .await
        .unwrap();
    proxy.trip_on(r#"UPDATE "users""#).await;
    tripped(
        &proxy,
        "rehash",
        server
            .client
            .post(server.url("/token"))
            .json(&json!({ "username": "ada@example.com", "password": PASSWORD })),
    )
    .await;
    let stored = text(
        &direct,
        "SELECT password_hash AS n FROM users WHERE email = 'ada@example.com'",
    )
    .await;
    assert_eq!(stored, weak, "the cut rehash wrote nothing");
    let token = token_pair(&server.token("ada@example.com").await).0;
    assert_eq!(
        server.get_bearer("/me", &token).await.status(),
        StatusCode::OK
    );
    let stored = text(
        &direct,
        "SELECT password_hash AS n FROM users WHERE email = 'ada@example.com'",
    )
    .await;
    assert_ne!(stored, weak, "the next login upgraded the hash");
    assert_consistent(&audit(&direct).await);
}

async fn text(db: &DatabaseConnection, sql: &str) -> String {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query")
        .expect("one row")
        .try_get("", "n")
        .expect("n")
}

/// One simulated client in the burst: what it holds and what it saw.
#[derive(Default)]
struct Client {
    email: String,
    /// `None` while a registration's outcome is unknown (it answered 503).
    registered: Option<bool>,
    browser: Option<Browser>,
    tokens: Option<(String, String)>,
    /// The last refresh answered 503: its rotation may have committed.
    refresh_in_doubt: bool,
    ok: u64,
    unavailable: u64,
    unacknowledged_rotations: u64,
    errors: Vec<String>,
}

impl Client {
    fn saw(&mut self, what: &str, status: StatusCode, expected: &[StatusCode]) -> bool {
        if status == StatusCode::SERVICE_UNAVAILABLE {
            self.unavailable += 1;
            false
        } else if expected.contains(&status) {
            self.ok += 1;
            true
        } else {
            self.errors
                .push(format!("{}: {what} answered {status}", self.email));
            false
        }
    }

    async fn step(&mut self, server: &Server, round: u32) {
        let creds = json!({ "username": self.email, "password": PASSWORD });
        if self.registered != Some(true) {
            let res = server
                .post_json(
                    "/register",
                    json!({ "email": self.email, "password": PASSWORD }),
                )
                .await;
            let status = res.status();
            // A registration that answered 503 may still have committed.
            let in_doubt = self.registered.is_none();
            if (status == StatusCode::CONFLICT && in_doubt)
                || self.saw("register", status, &[StatusCode::CREATED])
            {
                self.registered = Some(true);
            } else if status == StatusCode::SERVICE_UNAVAILABLE {
                self.registered = None;
            }
            return;
        }
        if self.browser.is_none() || round % 8 == 7 {
            match server.login_with(&self.email, PASSWORD, None).await {
                Ok(browser) => {
                    self.ok += 1;
                    self.browser = Some(browser);
                }
                Err(res) => {
                    self.saw("login", res.status(), &[]);
                }
            }
            return;
        }
        let Some((access, refresh)) = self.tokens.clone() else {
            let res = server.post_json("/token", creds).await;
            if self.saw("token", res.status(), &[StatusCode::OK]) {
                let pair: Value = res.json().await.unwrap();
                self.tokens = Some(token_pair(&pair));
            }
            return;
        };
        let browser = self.browser.clone().unwrap();
        let me = server.as_browser(&browser, Method::GET, "/me", None).await;
        self.saw(
            "GET /me with a live session",
            me.status(),
            &[StatusCode::OK],
        );
        let res = server
            .post_json("/refresh", json!({ "refresh_token": refresh }))
            .await;
        let status = res.status();
        if status == StatusCode::UNAUTHORIZED && self.refresh_in_doubt {
            // The 503'd rotation had committed: the held token was spent, and
            // presenting it again revoked its family. Start a new one.
            self.unacknowledged_rotations += 1;
            self.refresh_in_doubt = false;
            self.tokens = None;
            return;
        }
        if self.saw("refresh", status, &[StatusCode::OK]) {
            let pair: Value = res.json().await.unwrap();
            self.tokens = Some(token_pair(&pair));
            self.refresh_in_doubt = false;
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            self.refresh_in_doubt = true;
        }
        // A rotation, done or not, leaves the family's access tokens valid.
        let access = self.tokens.as_ref().map_or(access, |(a, _)| a.clone());
        let me = server.get_bearer("/me", &access).await;
        self.saw("GET /me with a live token", me.status(), &[StatusCode::OK]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_during_a_burst_lose_or_half_write_nothing() {
    let Some((server, mut proxy, direct)) = behind_proxy(|b| {
        b.register_per_hour(u32::MAX).lockout(LockoutPolicy {
            ip_attempts: u32::MAX,
            ..LockoutPolicy::default()
        })
    })
    .await
    else {
        return;
    };
    let server = Arc::new(server);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..12)
        .map(|i| {
            let server = Arc::clone(&server);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut client = Client {
                    email: format!("burst{i}@example.com"),
                    registered: Some(false),
                    ..Client::default()
                };
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    client.step(&server, round).await;
                    round += 1;
                }
                client
            })
        })
        .collect();
    // Two outages, each longer than the pool's acquire timeout so that
    // requests both die mid-statement and wait out the timeout.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        proxy.cut().await;
        tokio::time::sleep(ACQUIRE_TIMEOUT + Duration::from_secs(1)).await;
        proxy.restore().await;
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::Relaxed);
    let mut clients: Vec<Client> = futures_util::future::join_all(clients)
        .await
        .into_iter()
        .map(|c| c.expect("client task"))
        .collect();

    let after_burst = audit(&direct).await;
    println!("after the burst: {after_burst}");
    assert_consistent(&after_burst);

    // Every client can carry on with what it holds.
    let mut unacknowledged_final = 0;
    for client in &mut clients {
        if client.registered != Some(true) {
            let res = server
                .post_json(
                    "/register",
                    json!({ "email": client.email, "password": PASSWORD }),
                )
                .await;
            let allowed: &[StatusCode] = if client.registered.is_none() {
                &[StatusCode::CREATED, StatusCode::CONFLICT]
            } else {
                &[StatusCode::CREATED]
            };
            assert!(
                allowed.contains(&res.status()),
                "{}: {}",
                client.email,
                res.status()
            );
        }
        assert!(
            server
                .login_with(&client.email, PASSWORD, None)
                .await
                .is_ok(),
            "{}: the user row is complete",
            client.email
        );
        if let Some(browser) = &client.browser {
            let me = server.as_browser(browser, Method::GET, "/me", None).await;
            assert_eq!(
                me.status(),
                StatusCode::OK,
                "{}: held session",
                client.email
            );
        }
        if let Some((_, refresh)) = &client.tokens {
            let res = server
                .post_json("/refresh", json!({ "refresh_token": refresh }))
                .await;
            if client.refresh_in_doubt && res.status() == StatusCode::UNAUTHORIZED {
                unacknowledged_final += 1;
            } else {
                assert_eq!(
                    res.status(),
                    StatusCode::OK,
                    "{}: held refresh token",
                    client.email
                );
            }
        }
    }
    let errors: Vec<&String> = clients.iter().flat_map(|c| &c.errors).collect();
    let ok: u64 = clients.iter().map(|c| c.ok).sum();
    let unavailable: u64 = clients.iter().map(|c| c.unavailable).sum();
    let unacknowledged: u64 = clients
        .iter()
        .map(|c| c.unacknowledged_rotations)
        .sum::<u64>()
        + unacknowledged_final;
    println!(
        "burst: {} clients, {ok} answers as expected, {unavailable} answered 503, \
         {unacknowledged} refreshes committed though answered 503, {} unexpected",
        clients.len(),
        errors.len()
    );
    assert!(errors.is_empty(), "unexpected answers: {errors:#?}");
    assert!(unavailable > 0, "the outages were felt");
    assert!(ok > 0);
    let end = audit(&direct).await;
    println!("at the end: {end}");
    assert_consistent(&end);
}
