//! `crudauth-bench all`: every server in turn, each in its own process on a
//! fresh database, driven by the same load; then the login figures; then
//! one table and the targets of issue 5.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use http::StatusCode;
use http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use crate::load::{self, Plan, Req, Stats};
use crate::process::{Backend, Server, TempDb, postgres_reachable};
use crate::servers::Claims;

const SECRET: &str = "crudauth-bench-secret-key-of-at-least-32-bytes";
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "correct horse battery";

/// The knobs of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Measured requests per server and round.
    pub requests: usize,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Each server is measured this many times (interleaved); the median
    /// round is reported.
    pub rounds: usize,
    /// Logins per login measurement.
    pub logins: usize,
    pub postgres: bool,
    /// A prebuilt axum-login peer; built with cargo when absent.
    pub peer: Option<PathBuf>,
    /// Only the servers whose name contains one of these.
    pub only: Vec<String>,
    /// Also measure crudauth with a tuned database pool (diagnostic rows).
    pub tuned: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            requests: 30_000,
            connections: 16,
            rounds: 5,
            logins: 120,
            postgres: true,
            peer: None,
            only: Vec::new(),
            tuned: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Bare,
    JwtMinimal,
    AxumLogin,
    CrudauthBearer,
    CrudauthSession,
    PairPlain,
    PairAuthed,
    TunedBearer,
    TunedSession,
    JwtAll,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::JwtMinimal => "jwt-minimal",
            Self::AxumLogin => "axum-login",
            Self::CrudauthBearer => "crudauth-bearer",
            Self::CrudauthSession => "crudauth-session",
            Self::PairPlain => "crudauth-bearer, plain `Principal`",
            Self::PairAuthed => "crudauth-bearer, `#[authed]`",
            Self::TunedBearer => "crudauth-bearer, tuned pool",
            Self::TunedSession => "crudauth-session, tuned pool",
            Self::JwtAll => "jwt-minimal, `.all()`",
        }
    }
}

type RowKey = (Kind, &'static str);

/// One measured run of one server.
#[derive(Debug, Clone)]
struct Sample {
    stats: Stats,
    rss_kib: Option<u64>,
}

fn median_by_rps(samples: &[Sample]) -> &Sample {
    let mut order: Vec<&Sample> = samples.iter().collect();
    order.sort_by(|a, b| a.stats.rps().total_cmp(&b.stats.rps()));
    order[order.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn crudauth_env(command: &mut Command) {
    command
        .env("CRUDAUTH_SECRET_KEY", SECRET)
        .env("CRUDAUTH_INSECURE_COOKIES", "1")
        // Lockout and the registration throttle would turn a benchmark's
        // repeated logins into 429s; their queries still run.
        .env("CRUDAUTH_LOCKOUT_ATTEMPTS", "1000000000")
        .env("CRUDAUTH_LOCKOUT_IP_ATTEMPTS", "1000000000")
        .env("CRUDAUTH_REGISTER_PER_HOUR", "1000000")
        .env_remove("RUST_LOG");
}

fn own_server(kind: &str, db: Option<&TempDb>) -> Command {
    let exe = std::env::current_exe().expect("the running executable");
    let mut command = Command::new(exe);
    command.args(["server", kind]);
    if let Some(db) = db {
        command.env("DATABASE_URL", &db.url);
    }
    command
        .env("BENCH_EMAIL", EMAIL)
        .env("BENCH_PASSWORD", PASSWORD)
        .env("BENCH_SECRET", SECRET);
    crudauth_env(&mut command);
    command
}

fn mint_jwt() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let claims = Claims {
        sub: "1".to_owned(),
        iat: now,
        exp: now + 3600,
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()).expect("an HMAC key"),
    )
    .expect("HS256 signing")
}

/// The `Cookie` header a browser would send after this response.
fn cookie_header(headers: &http::HeaderMap) -> String {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| !v.to_ascii_lowercase().contains("max-age=0"))
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

async fn expect(server: &Server, req: Req, status: StatusCode) -> Result<Value, String> {
    let path = req.path.clone();
    let (got, headers, body) = load::once(server.addr, req).await?;
    if got != status {
        return Err(format!(
            "{path}: status {got} (expected {status}): {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let mut value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert(
            "__cookie".to_owned(),
            Value::String(cookie_header(&headers)),
        );
    }
    Ok(value)
}

fn credentials() -> Value {
    json!({ "username": EMAIL, "password": PASSWORD })
}

async fn register(server: &Server) -> Result<(), String> {
    let body = json!({ "email": EMAIL, "password": PASSWORD });
    expect(
        server,
        Req::post_json("/register", &body),
        StatusCode::CREATED,
    )
    .await
    .map(drop)
}

async fn bearer_token(server: &Server) -> Result<String, String> {
    let token = expect(
        server,
        Req::post_json("/token", &credentials()),
        StatusCode::OK,
    )
    .await?;
    token["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("/token answered {token}"))
}

async fn session_cookie(server: &Server) -> Result<String, String> {
    let login = expect(
        server,
        Req::post_json("/login", &credentials()),
        StatusCode::OK,
    )
    .await?;
    Ok(login["__cookie"].as_str().unwrap_or_default().to_owned())
}

/// Starts one server on a fresh database and returns it with the request
/// that reads its `/me` as the benchmark user.
async fn prepare(
    kind: Kind,
    backend: Backend,
    peer: &Path,
) -> Result<(Server, Option<TempDb>, Req), String> {
    prepare_with(kind, backend, peer, None).await
}

/// `command` run under callgrind, uninstrumented until switched on.
fn under_callgrind(command: &Command, out: &Path) -> Command {
    let mut wrapped = Command::new("valgrind");
    wrapped
        .arg("--tool=callgrind")
        // Instrumentation starts once the server is set up and warm.
        .arg("--instr-atstart=no")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(format!("--log-file={}.log", out.display()))
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(name, value),
            None => wrapped.env_remove(name),
        };
    }
    wrapped
}

async fn prepare_with(
    kind: Kind,
    backend: Backend,
    peer: &Path,
    callgrind: Option<&Path>,
) -> Result<(Server, Option<TempDb>, Req), String> {
    let start = |command: Command| match callgrind {
        Some(out) => Server::start(under_callgrind(&command, out)),
        None => Server::start(command),
    };
    let db = match kind {
        Kind::Bare => None,
        _ => Some(TempDb::create(backend).await?),
    };
    let started = match kind {
        Kind::Bare => start(own_server("bare", None)),
        Kind::JwtMinimal => start(own_server("jwt-minimal", db.as_ref())),
        Kind::JwtAll => start(own_server("jwt-minimal-all", db.as_ref())),
        Kind::AxumLogin => {
            let mut command = Command::new(peer);
            command
                .env("DATABASE_URL", &db.as_ref().expect("a database").url)
                .env("BENCH_EMAIL", EMAIL)
                .env("BENCH_PASSWORD", PASSWORD);
            start(command)
        }
        Kind::TunedBearer | Kind::TunedSession => start(own_server("crudauth-tuned", db.as_ref())),
        _ => start(own_server("crudauth", db.as_ref())),
    };
    let server = match started {
        Ok(server) => server,
        Err(err) => {
            if let Some(db) = db {
                db.remove().await;
            }
            return Err(err);
        }
    };
    let req = match kind {
        Kind::Bare => Ok(Req::get("/me")),
        Kind::JwtMinimal | Kind::JwtAll => {
            Ok(Req::get("/me").header(AUTHORIZATION, &format!("Bearer {}", mint_jwt())))
        }
        Kind::AxumLogin => session_cookie(&server)
            .await
            .map(|cookie| Req::get("/me").header(COOKIE, &cookie)),
        Kind::CrudauthSession | Kind::TunedSession => match register(&server).await {
            Ok(()) => session_cookie(&server)
                .await
                .map(|cookie| Req::get("/me").header(COOKIE, &cookie)),
            Err(err) => Err(err),
        },
        Kind::CrudauthBearer | Kind::PairPlain | Kind::PairAuthed | Kind::TunedBearer => {
            match register(&server).await {
                Ok(()) => bearer_token(&server)
                    .await
                    .map(|token| Req::get("/me").header(AUTHORIZATION, &format!("Bearer {token}"))),
                Err(err) => Err(err),
            }
        }
    };
    match req {
        Ok(req) => Ok((server, db, req)),
        Err(err) => {
            drop(server);
            if let Some(db) = db {
                db.remove().await;
            }
            Err(err)
        }
    }
}

fn get_plan(options: &Options) -> Plan {
    Plan {
        requests: options.requests,
        connections: options.connections,
        limit: Duration::from_secs(120),
        pace: None,
    }
}

/// Warm-up, then the measured run with the peak RSS of the run alone.
async fn measure(server: &Server, req: &Req, options: &Options) -> Sample {
    let warm = Plan {
        requests: (options.requests / 10).max(200),
        ..get_plan(options)
    };
    let r = req.clone();
    load::drive(server.addr, &warm, Arc::new(move |_| r.clone()), None).await;
    server.reset_peak_rss();
    let r = req.clone();
    let stats = load::drive(
        server.addr,
        &get_plan(options),
        Arc::new(move |_| r.clone()),
        None,
    )
    .await;
    Sample {
        rss_kib: server.peak_rss_kib(),
        stats,
    }
}

async fn run_get(
    kind: Kind,
    backend: Backend,
    peer: &Path,
    options: &Options,
    results: &mut BTreeMap<RowKey, Vec<Sample>>,
) -> Result<(), String> {
    let (server, db, req) = prepare(kind, backend, peer).await?;
    let sample = measure(&server, &req, options).await;
    drop(server);
    if let Some(db) = db {
        db.remove().await;
    }
    report_sample(kind.name(), backend.label(), &sample);
    results
        .entry((kind, backend.label()))
        .or_default()
        .push(sample);
    Ok(())
}

/// The `#[authed]` pair on one server, alternating which goes first.
async fn run_pair(
    round: usize,
    peer: &Path,
    options: &Options,
    results: &mut BTreeMap<RowKey, Vec<Sample>>,
) -> Result<(), String> {
    let (server, db, req) = prepare(Kind::PairPlain, Backend::Sqlite, peer).await?;
    let mut order = [
        (Kind::PairPlain, "/pair/plain"),
        (Kind::PairAuthed, "/pair/authed"),
    ];
    if round % 2 == 1 {
        order.reverse();
    }
    for (kind, path) in order {
        let mut r = req.clone();
        r.path = path.to_owned();
        let sample = measure(&server, &r, options).await;
        report_sample(kind.name(), "sqlite", &sample);
        results.entry((kind, "sqlite")).or_default().push(sample);
    }
    drop(server);
    if let Some(db) = db {
        db.remove().await;
    }
    Ok(())
}

fn report_sample(name: &str, db: &str, sample: &Sample) {
    let s = &sample.stats;
    eprintln!(
        "  {name:<38} {db:<8} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  rss {:>6.1} MiB  errors {}{}",
        s.rps(),
        ms(s.quantile(0.50)),
        ms(s.quantile(0.99)),
        sample.rss_kib.unwrap_or(0) as f64 / 1024.0,
        s.errors,
        s.first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
    );
}

/// The login figures on the crudauth example (SQLite).
#[derive(Debug, Default)]
struct Logins {
    label: &'static str,
    /// Raw verifies per second, one thread per core, in this process.
    parallel_rate: f64,
    verify: Duration,
    cores: usize,
    logins: Option<Sample>,
    idle_probe: Stats,
    loaded_probe: Stats,
    loaded_logins: Stats,
    unknown: Stats,
    wrong_password: Stats,
}

/// Median wall time of one argon2id verify at crudauth's parameters, in
/// this process, on an otherwise idle machine.
fn verify_time() -> Duration {
    let phc = crudauth::hash_password_blocking(PASSWORD);
    let parsed = PasswordHash::new(&phc).expect("a PHC string");
    let argon2 = argon2::Argon2::default();
    let mut times: Vec<Duration> = (0..9)
        .map(|_| {
            let began = Instant::now();
            let _ = argon2.verify_password(PASSWORD.as_bytes(), &parsed);
            began.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

/// Verifies per second with one thread per core, each verifying in a loop:
/// what the hardware gives argon2id right now, other load included.
fn parallel_verify_rate(cores: usize) -> f64 {
    let phc = crudauth::hash_password_blocking(PASSWORD);
    let began = Instant::now();
    let per_thread = 6;
    std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| {
                let parsed = PasswordHash::new(&phc).expect("a PHC string");
                let argon2 = argon2::Argon2::default();
                for _ in 0..per_thread {
                    let _ = argon2.verify_password(PASSWORD.as_bytes(), &parsed);
                }
            });
        }
    });
    (cores * per_thread) as f64 / began.elapsed().as_secs_f64()
}

async fn run_logins(peer: &Path, options: &Options, kind: Kind) -> Result<Logins, String> {
    let mut out = Logins {
        label: if kind == Kind::TunedBearer {
            "crudauth POST /login, tuned pool"
        } else {
            "crudauth POST /login"
        },
        verify: verify_time(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ..Logins::default()
    };
    out.parallel_rate = parallel_verify_rate(out.cores);
    let (server, db, me) = prepare(kind, Backend::Sqlite, peer).await?;
    let login = Req::post_json("/login", &credentials());
    let logins = Plan {
        requests: options.logins,
        // Enough callers to keep every hashing permit busy.
        connections: 2 * out.cores + 2,
        limit: Duration::from_secs(120),
        pace: None,
    };
    let l = login.clone();
    load::drive(
        server.addr,
        &Plan {
            requests: 8,
            ..logins.clone()
        },
        Arc::new(move |_| l.clone()),
        None,
    )
    .await;
    server.reset_peak_rss();
    let l = login.clone();
    let stats = load::drive(server.addr, &logins, Arc::new(move |_| l.clone()), None).await;
    out.logins = Some(Sample {
        rss_kib: server.peak_rss_kib(),
        stats,
    });

    // An authenticated reader at a steady 500 requests/s, first alone, then
    // while three times as many logins saturate the CPU: a p99 over a
    // thousand-odd probes, not the third-worst of a few hundred.
    let probe = Plan {
        requests: 100_000,
        connections: 1,
        limit: Duration::from_secs(60),
        pace: Some(Duration::from_millis(2)),
    };
    let m = me.clone();
    out.idle_probe = load::drive(
        server.addr,
        &Plan {
            requests: 1500,
            ..probe.clone()
        },
        Arc::new(move |_| m.clone()),
        None,
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let m = me.clone();
    let l = login.clone();
    let (loaded_logins, loaded_probe) = tokio::join!(
        async {
            // Let the probe start first.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let more = Plan {
                requests: 3 * logins.requests,
                ..logins.clone()
            };
            let stats = load::drive(server.addr, &more, Arc::new(move |_| l.clone()), None).await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            stats
        },
        load::drive(
            server.addr,
            &probe,
            Arc::new(move |_| m.clone()),
            Some(stop.clone())
        ),
    );
    out.loaded_logins = loaded_logins;
    out.loaded_probe = loaded_probe;

    // Timing equality: one caller, blocks of unknown users and of a known
    // user with a wrong password, interleaved so that drift hits both.
    let one = Plan {
        requests: 10,
        connections: 1,
        limit: Duration::from_secs(60),
        pace: None,
    };
    let mut unknown = Stats::default();
    let mut wrong = Stats::default();
    for block in 0..16 {
        if block % 2 == 0 {
            let stats = load::drive(
                server.addr,
                &one,
                Arc::new(move |i| {
                    let body = json!({
                        "username": format!("nobody-{block}-{i}@example.com"),
                        "password": PASSWORD,
                    });
                    Req::post_json("/login", &body).expect(StatusCode::UNAUTHORIZED)
                }),
                None,
            )
            .await;
            merge(&mut unknown, stats);
        } else {
            let body = json!({ "username": EMAIL, "password": "not the password" });
            let req = Req::post_json("/login", &body).expect(StatusCode::UNAUTHORIZED);
            let stats = load::drive(server.addr, &one, Arc::new(move |_| req.clone()), None).await;
            merge(&mut wrong, stats);
        }
    }
    out.unknown = unknown;
    out.wrong_password = wrong;
    drop(server);
    if let Some(db) = db {
        db.remove().await;
    }
    Ok(out)
}

fn merge(into: &mut Stats, part: Stats) {
    into.latencies.extend(part.latencies);
    into.latencies.sort_unstable();
    into.errors += part.errors;
    into.elapsed += part.elapsed;
    if into.first_error.is_none() {
        into.first_error = part.first_error;
    }
}

/// Builds the axum-login peer (its own workspace) into this target dir.
fn build_peer() -> Result<PathBuf, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("axum-login-peer/Cargo.toml");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the target directory")?
        .to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("building the axum-login peer ({})", manifest.display());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the axum-login peer failed: {status}"));
    }
    Ok(target.join("release").join("axum-login-peer"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

pub async fn all(options: Options) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run with `cargo run --release -p crudauth-bench -- all`"
        );
    }
    let peer = match &options.peer {
        Some(peer) => peer.clone(),
        None => build_peer()?,
    };
    let postgres = if options.postgres {
        match postgres_reachable().await {
            Ok(()) => true,
            Err(err) => {
                eprintln!("PostgreSQL rows skipped: {err}");
                false
            }
        }
    } else {
        false
    };
    let load_before = load_average();
    let wanted = |name: &str| {
        options.only.is_empty() || options.only.iter().any(|o| name.contains(o.as_str()))
    };
    // Each crudauth server runs right after the peer it is compared with.
    let mut cases: Vec<(Kind, Backend)> = vec![(Kind::Bare, Backend::Sqlite)];
    cases.push((Kind::JwtMinimal, Backend::Sqlite));
    cases.push((Kind::CrudauthBearer, Backend::Sqlite));
    if options.tuned {
        cases.push((Kind::TunedBearer, Backend::Sqlite));
        cases.push((Kind::JwtAll, Backend::Sqlite));
    }
    cases.push((Kind::AxumLogin, Backend::Sqlite));
    cases.push((Kind::CrudauthSession, Backend::Sqlite));
    if options.tuned {
        cases.push((Kind::TunedSession, Backend::Sqlite));
    }
    if postgres {
        cases.push((Kind::CrudauthBearer, Backend::Postgres));
        cases.push((Kind::CrudauthSession, Backend::Postgres));
        if options.tuned {
            cases.push((Kind::TunedBearer, Backend::Postgres));
            cases.push((Kind::TunedSession, Backend::Postgres));
        }
    }
    cases.retain(|(kind, _)| wanted(kind.name()));
    let mut results: BTreeMap<RowKey, Vec<Sample>> = BTreeMap::new();
    for round in 0..options.rounds {
        eprintln!("round {} of {}", round + 1, options.rounds);
        for &(kind, backend) in &cases {
            run_get(kind, backend, &peer, &options, &mut results).await?;
        }
        if wanted("authed") {
            run_pair(round, &peer, &options, &mut results).await?;
        }
    }
    let mut logins = Vec::new();
    if wanted("logins") {
        eprintln!("logins");
        logins.push(run_logins(&peer, &options, Kind::CrudauthBearer).await?);
        if options.tuned {
            eprintln!("logins, tuned pool");
            logins.push(run_logins(&peer, &options, Kind::TunedBearer).await?);
        }
    }
    print_report(&options, &results, &logins, &load_before);
    Ok(())
}

fn row(name: &str, db: &str, sample: &Sample) -> String {
    let s = &sample.stats;
    format!(
        "| {name} | {db} | {:.0} | {:.2} | {:.2} | {} | {} |",
        s.rps(),
        ms(s.quantile(0.50)),
        ms(s.quantile(0.99)),
        sample
            .rss_kib
            .map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
        s.errors,
    )
}

/// A ratio target: ours, the peer, what it says, and the bound.
type Target = (RowKey, RowKey, &'static str, fn(f64) -> bool);

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn print_report(
    options: &Options,
    results: &BTreeMap<RowKey, Vec<Sample>>,
    logins: &[Logins],
    load_before: &str,
) {
    println!();
    println!(
        "{} requests per server and round over {} keep-alive connections, median of {} rounds; \
         {} cores; load average before: {load_before}, after: {}",
        options.requests,
        options.connections,
        options.rounds,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average(),
    );
    println!();
    println!("| server | db | req/s | p50 ms | p99 ms | peak RSS MiB | errors |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (key, samples) in results {
        println!("{}", row(key.0.name(), key.1, median_by_rps(samples)));
    }
    for l in logins {
        if let Some(sample) = &l.logins {
            println!("{}", row(l.label, "sqlite", sample));
        }
    }
    println!();
    println!("| target | measured | verdict |");
    println!("|---|---|---|");
    // Each ratio is taken within a round, between servers measured one
    // right after the other, and the median over rounds is reported: the
    // machine's other load drifts less within a round than across rounds.
    let ratio = |ours: RowKey, peer: RowKey| -> Option<(f64, String)> {
        let (ours, peer) = (results.get(&ours)?, results.get(&peer)?);
        let mut ratios: Vec<f64> = ours
            .iter()
            .zip(peer)
            .map(|(a, b)| a.stats.rps() / b.stats.rps().max(1e-9))
            .collect();
        ratios.sort_by(f64::total_cmp);
        let spread = format!(
            "rounds {}",
            ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        ratios.get(ratios.len() / 2).map(|r| (*r, spread))
    };
    let targets: [Target; 3] = [
        (
            (Kind::CrudauthBearer, "sqlite"),
            (Kind::JwtMinimal, "sqlite"),
            "crudauth-bearer ≥ 0.9 × jwt-minimal (sqlite)",
            |r| r >= 0.9,
        ),
        (
            (Kind::CrudauthSession, "sqlite"),
            (Kind::AxumLogin, "sqlite"),
            "crudauth-session ≥ 1.3 × axum-login (sqlite)",
            |r| r >= 1.3,
        ),
        (
            (Kind::PairAuthed, "sqlite"),
            (Kind::PairPlain, "sqlite"),
            "`#[authed]` within 3 % of a plain `Principal` (wall clock; see `profile`)",
            |r| (r - 1.0).abs() <= 0.03,
        ),
    ];
    for (ours, peer, what, ok) in targets {
        if let Some((r, spread)) = ratio(ours, peer) {
            println!("| {what} | {r:.3} × ({spread}) | {} |", verdict(ok(r)));
        }
    }
    if options.tuned {
        for (ours, peer, what) in [
            (
                (Kind::TunedBearer, "sqlite"),
                (Kind::JwtMinimal, "sqlite"),
                "diagnostic: crudauth-bearer, tuned pool ÷ jwt-minimal (sqlite)",
            ),
            (
                (Kind::TunedSession, "sqlite"),
                (Kind::AxumLogin, "sqlite"),
                "diagnostic: crudauth-session, tuned pool ÷ axum-login (sqlite)",
            ),
            (
                (Kind::CrudauthBearer, "sqlite"),
                (Kind::JwtAll, "sqlite"),
                "diagnostic: crudauth-bearer ÷ jwt-minimal with `.all()` (sqlite)",
            ),
        ] {
            if let Some((r, spread)) = ratio(ours, peer) {
                println!("| {what} | {r:.3} × ({spread}) | — |");
            }
        }
    }
    for l in logins {
        let tag = if l.label.contains("tuned") {
            ", tuned pool"
        } else {
            ""
        };
        if let Some(sample) = &l.logins {
            let ceiling = l.cores as f64 / l.verify.as_secs_f64();
            let got = sample.stats.rps();
            println!(
                "| logins ≥ 0.8 × cores ÷ verify ({} ÷ {:.1} ms = {ceiling:.1}/s){tag} | {got:.1}/s = {:.2} × (raw verifies on {} threads: {:.1}/s) | {} |",
                l.cores,
                ms(l.verify),
                got / ceiling,
                l.cores,
                l.parallel_rate,
                verdict(got >= 0.8 * ceiling)
            );
        }
        let idle = l.idle_probe.quantile(0.99);
        let loaded = l.loaded_probe.quantile(0.99);
        println!(
            "| GET /me p99 during logins ≤ 5 × idle p99 ({:.2} ms){tag} | {:.2} ms = {:.1} × ({} probes, {} logins at {:.1}/s, {} errors) | {} |",
            ms(idle),
            ms(loaded),
            loaded.as_secs_f64() / idle.as_secs_f64().max(1e-9),
            l.loaded_probe.ok(),
            l.loaded_logins.ok(),
            l.loaded_logins.rps(),
            l.loaded_probe.errors + l.loaded_logins.errors + l.idle_probe.errors,
            verdict(loaded <= idle * 5 && l.loaded_probe.ok() > 0)
        );
        let unknown = l.unknown.quantile(0.5);
        let wrong = l.wrong_password.quantile(0.5);
        let gap = (ms(unknown) - ms(wrong)).abs() / ms(wrong).max(1e-9);
        println!(
            "| median /login, unknown user within 10 % of wrong password{tag} | {:.2} ms vs {:.2} ms: {:.1} % ({} + {} samples, {} errors) | {} |",
            ms(unknown),
            ms(wrong),
            gap * 100.0,
            l.unknown.ok(),
            l.wrong_password.ok(),
            l.unknown.errors + l.wrong_password.errors,
            verdict(gap <= 0.10 && l.unknown.ok() > 0 && l.wrong_password.ok() > 0)
        );
    }
}

// ---- profile: instructions per request under callgrind -------------------

fn callgrind_control(pid: u32, args: &[&str]) -> Result<(), String> {
    let status = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("callgrind_control: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("callgrind_control {args:?} failed: {status}"))
    }
}

/// The `totals:` instruction count of every dump written to `out` or
/// `out.N` (the files are removed).
fn read_instructions(out: &Path) -> Result<u64, String> {
    let dir = out.parent().ok_or("no dump directory")?;
    let stem = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("bad dump name")?;
    let mut total = 0;
    let mut found = false;
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name != stem && !name.starts_with(&format!("{stem}.")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let count = text
            .lines()
            .find_map(|l| l.strip_prefix("totals:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(count) = count {
            total += count;
            found = true;
        }
        if std::env::var_os("CRUDAUTH_BENCH_KEEP_CALLGRIND").is_some() {
            eprintln!("callgrind dump kept: {}", path.display());
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
    if found {
        Ok(total)
    } else {
        Err(format!("no callgrind dump at {}", out.display()))
    }
}

/// Instructions the server executes per request (all its threads), counted
/// by callgrind: steady whatever else the machine does.
async fn profile_one(
    kind: Kind,
    backend: Backend,
    path: Option<&str>,
    peer: &Path,
    requests: usize,
) -> Result<f64, String> {
    let out = std::env::temp_dir().join(format!(
        "crudauth-bench-{}.callgrind",
        uuid::Uuid::new_v4().simple()
    ));
    let (server, db, mut req) = prepare_with(kind, backend, peer, Some(&out)).await?;
    if let Some(path) = path {
        req.path = path.to_owned();
    }
    let plan = Plan {
        requests,
        connections: 4,
        limit: Duration::from_secs(300),
        pace: None,
    };
    let r = req.clone();
    load::drive(
        server.addr,
        &Plan {
            requests: requests / 4,
            ..plan.clone()
        },
        Arc::new(move |_| r.clone()),
        None,
    )
    .await;
    let pid = server.pid();
    let counted = async {
        callgrind_control(pid, &["--instr=on"])?;
        let r = req.clone();
        let stats = load::drive(server.addr, &plan, Arc::new(move |_| r.clone()), None).await;
        callgrind_control(pid, &["--instr=off"])?;
        callgrind_control(pid, &["--dump"])?;
        if stats.errors > 0 || stats.ok() == 0 {
            return Err(format!(
                "{}: {} errors ({:?})",
                kind.name(),
                stats.errors,
                stats.first_error
            ));
        }
        Ok(stats.ok())
    }
    .await;
    drop(server);
    if let Some(db) = db {
        db.remove().await;
    }
    let ok = counted?;
    let instructions = read_instructions(&out)?;
    Ok(instructions as f64 / ok as f64)
}

/// `crudauth-bench profile`: instructions per `GET /me` for each server.
pub async fn profile(options: Options) -> Result<(), String> {
    let peer = match &options.peer {
        Some(peer) => peer.clone(),
        None => build_peer()?,
    };
    let wanted = |name: &str| {
        options.only.is_empty() || options.only.iter().any(|o| name.contains(o.as_str()))
    };
    let cases: [(Kind, Option<&str>); 10] = [
        (Kind::Bare, None),
        (Kind::JwtMinimal, None),
        (Kind::JwtAll, None),
        (Kind::AxumLogin, None),
        (Kind::CrudauthBearer, None),
        (Kind::CrudauthSession, None),
        (Kind::TunedBearer, None),
        (Kind::TunedSession, None),
        (Kind::PairPlain, Some("/pair/plain")),
        (Kind::PairAuthed, Some("/pair/authed")),
    ];
    println!("| server (sqlite) | instructions per GET /me |");
    println!("|---|---:|");
    for (kind, path) in cases {
        if !wanted(kind.name()) {
            continue;
        }
        let per = profile_one(kind, Backend::Sqlite, path, &peer, options.requests).await?;
        println!("| {} | {:.0} |", kind.name(), per);
    }
    Ok(())
}
