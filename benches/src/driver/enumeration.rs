//! `crudauth-bench enumeration` (issue 11): whether the request routes
//! tell account states apart by their answer or its timing.
//!
//! `POST /password/reset-request`, `POST /email/verify-request` and (with a
//! mail sender, so 202 for every email) `POST /register`, each for an
//! unknown address, an active account, an inactive one and (verify only)
//! an already verified one: shuffled together, sent one at a time over one
//! keep-alive connection, every address used once (the per-address mail
//! throttle would otherwise stop the mail path after three). Reported: the
//! median and p90 latency per route and class, the largest gap between a
//! route's medians, whether every answer of a route is byte-identical, and
//! the mails the server sent per kind (so that each class took the path it
//! stands for).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{DATE, HOST};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use super::PASSWORD;
use super::fixtures::own_server;
use super::report::load_average;
use crate::load::{Req, Sender, open};
use crate::process::{Backend, Server, TempDb, postgres_reachable};
use crate::recovery_server::{ACTIVE, INACTIVE, UNKNOWN, VERIFIED, address};

const USAGE: &str = "usage: crudauth-bench enumeration [--requests N] [--register N] \
[--warmup N] [--no-postgres]";

/// The knobs of `enumeration`.
#[derive(Debug, Clone)]
struct Knobs {
    /// Requests per class of the verify and reset routes.
    requests: usize,
    /// Requests per class of `/register` (each hashes a password).
    register: usize,
    /// Unmeasured requests per class and route first (register: a tenth).
    warmup: usize,
    postgres: bool,
}

fn knobs(args: &[String]) -> Result<Knobs, String> {
    let mut knobs = Knobs {
        requests: 1000,
        register: 100,
        warmup: 50,
        postgres: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = || {
            args.next()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{arg} needs a positive number\n{USAGE}"))
        };
        match arg.as_str() {
            "--requests" => knobs.requests = number()?,
            "--register" => knobs.register = number()?,
            "--warmup" => knobs.warmup = number()?,
            "--no-postgres" => knobs.postgres = false,
            _ => return Err(format!("unknown argument {arg}\n{USAGE}")),
        }
    }
    Ok(knobs)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Route {
    Reset,
    Verify,
    Register,
}

impl Route {
    fn path(self) -> &'static str {
        match self {
            Self::Reset => "/password/reset-request",
            Self::Verify => "/email/verify-request",
            Self::Register => "/register",
        }
    }

    fn classes(self) -> &'static [&'static str] {
        match self {
            Self::Verify => &[UNKNOWN, ACTIVE, INACTIVE, VERIFIED],
            _ => &[UNKNOWN, ACTIVE, INACTIVE],
        }
    }
}

/// Hands out each state's addresses in turn, so that none is used twice.
#[derive(Default)]
struct Addresses(BTreeMap<&'static str, usize>);

impl Addresses {
    fn next(&mut self, class: &'static str) -> String {
        let i = self.0.entry(class).or_default();
        *i += 1;
        address(class, *i - 1)
    }
}

/// Every (route, class) `per(route)` times, shuffled.
fn jobs(per: impl Fn(Route) -> usize) -> Vec<(Route, &'static str)> {
    let mut jobs = Vec::new();
    for route in [Route::Reset, Route::Verify, Route::Register] {
        for &class in route.classes() {
            jobs.extend(std::iter::repeat_n((route, class), per(route)));
        }
    }
    jobs.shuffle(&mut rand::rng());
    jobs
}

fn request(route: Route, email: &str) -> Req {
    let body = match route {
        Route::Register => json!({ "email": email, "password": PASSWORD }),
        _ => json!({ "email": email }),
    };
    Req::post_json(route.path(), &body).expect(StatusCode::ACCEPTED)
}

/// What a response showed the client, but its `Date`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
}

/// Sends `req` and times it from the first byte sent to the last received.
async fn timed(sender: &mut Sender, req: Req) -> Result<(Duration, Answer), String> {
    let mut request = Request::new(Full::new(req.body));
    *request.method_mut() = req.method;
    *request.uri_mut() = req.path.parse().map_err(|e| format!("{e}"))?;
    *request.headers_mut() = req.headers;
    request
        .headers_mut()
        .insert(HOST, HeaderValue::from_static("127.0.0.1"));
    sender.ready().await.map_err(|e| e.to_string())?;
    let began = Instant::now();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    let elapsed = began.elapsed();
    let mut headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != DATE)
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    headers.sort();
    Ok((
        elapsed,
        Answer {
            status: parts.status,
            headers,
            body,
        },
    ))
}

/// One backend's run.
#[derive(Debug, Default)]
struct Run {
    latencies: BTreeMap<(Route, &'static str), Vec<Duration>>,
    /// The first answer of each route, and the answers that differed.
    first: BTreeMap<Route, Answer>,
    differing: BTreeMap<(Route, &'static str), usize>,
    errors: usize,
    first_error: Option<String>,
    mails: Value,
    expected_mails: Value,
}

async fn run_backend(backend: Backend, knobs: &Knobs) -> Result<Run, String> {
    let warm_register = (knobs.warmup / 10).max(1);
    let per_route = |route: Route, requests: usize, register: usize| match route {
        Route::Register => register,
        _ => requests,
    };
    let warm = jobs(|r| per_route(r, knobs.warmup, warm_register));
    let measured = jobs(|r| per_route(r, knobs.requests, knobs.register));
    // Active and inactive accounts serve all three routes, verified ones
    // the verify route alone.
    let seed = 2 * (knobs.requests + knobs.warmup) + knobs.register + warm_register;
    let db = TempDb::create(backend).await?;
    let mut command = own_server("crudauth-recovery", Some(&db));
    command.env("BENCH_SEED", seed.to_string());
    let server = match Server::start(command) {
        Ok(server) => server,
        Err(err) => {
            db.remove().await;
            return Err(err);
        }
    };
    let outcome = drive(&server, &warm, &measured).await;
    drop(server);
    db.remove().await;
    let mut run = outcome?;
    // What each class should have set off: a reset link per active
    // account, a verification link per unverified active account and per
    // new registration, and a notice per registration of a taken email.
    let count = |route: Route, class: &str| {
        warm.iter()
            .chain(&measured)
            .filter(|(r, c)| *r == route && *c == class)
            .count()
    };
    run.expected_mails = json!({
        "reset_password": count(Route::Reset, ACTIVE),
        "verify_email": count(Route::Verify, ACTIVE) + count(Route::Register, UNKNOWN),
        "existing_account": count(Route::Register, ACTIVE) + count(Route::Register, INACTIVE),
    });
    Ok(run)
}

async fn drive(
    server: &Server,
    warm: &[(Route, &'static str)],
    measured: &[(Route, &'static str)],
) -> Result<Run, String> {
    let mut sender = open(server.addr).await?;
    let mut addresses = Addresses::default();
    let mut run = Run::default();
    for (i, &(route, class)) in warm.iter().chain(measured).enumerate() {
        let req = request(route, &addresses.next(class));
        let (elapsed, answer) = match timed(&mut sender, req).await {
            Ok(got) => got,
            Err(err) => {
                run.errors += 1;
                run.first_error.get_or_insert(err);
                sender = open(server.addr).await?;
                continue;
            }
        };
        if answer.status != StatusCode::ACCEPTED {
            run.errors += 1;
            run.first_error.get_or_insert_with(|| {
                format!(
                    "{} ({class}): {} {}",
                    route.path(),
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                )
            });
            continue;
        }
        let first = run.first.entry(route).or_insert_with(|| answer.clone());
        if *first != answer {
            *run.differing.entry((route, class)).or_default() += 1;
        }
        if i >= warm.len() {
            run.latencies
                .entry((route, class))
                .or_default()
                .push(elapsed);
        }
    }
    run.mails = settled_mails(server).await?;
    Ok(run)
}

/// The server's mail counts once its queue has drained (the counts stop
/// moving).
async fn settled_mails(server: &Server) -> Result<Value, String> {
    let mut last = Value::Null;
    for _ in 0..50 {
        let (status, _, body) = crate::load::once(server.addr, Req::get("/bench/mails")).await?;
        if status != StatusCode::OK {
            return Err(format!("/bench/mails: {status}"));
        }
        let now: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if now == last {
            return Ok(now);
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(last)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub async fn enumeration(args: &[String]) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run with `cargo run --release -p crudauth-bench -- enumeration`"
        );
    }
    let knobs = knobs(args)?;
    let mut backends = vec![Backend::Sqlite];
    if knobs.postgres {
        match postgres_reachable().await {
            Ok(()) => backends.push(Backend::Postgres),
            Err(err) => eprintln!("PostgreSQL rows skipped: {err}"),
        }
    }
    let load_before = load_average();
    let mut runs = Vec::new();
    for backend in backends {
        eprintln!("{}", backend.label());
        runs.push((backend.label(), run_backend(backend, &knobs).await?));
    }
    println!();
    println!(
        "{} requests per class (register: {}) after {} unmeasured, shuffled, one at a time over \
         one keep-alive connection; {} cores; load average before: {load_before}, after: {}",
        knobs.requests,
        knobs.register,
        knobs.warmup,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average(),
    );
    for (db, run) in &runs {
        report(db, run);
    }
    Ok(())
}

fn report(db: &str, run: &Run) {
    println!();
    println!("| route | db | class | n | median ms | p90 ms |");
    println!("|---|---|---|---:|---:|---:|");
    let mut medians: BTreeMap<Route, Vec<Duration>> = BTreeMap::new();
    for ((route, class), latencies) in &run.latencies {
        let mut sorted = latencies.clone();
        sorted.sort_unstable();
        let median = quantile(&sorted, 0.5);
        medians.entry(*route).or_default().push(median);
        println!(
            "| {} | {db} | {class} | {} | {:.3} | {:.3} |",
            route.path(),
            sorted.len(),
            ms(median),
            ms(quantile(&sorted, 0.9)),
        );
    }
    println!();
    println!("| route | db | largest gap between medians | byte-identical answers | verdict |");
    println!("|---|---|---|---|---|");
    for (route, medians) in &medians {
        let (low, high) = (
            medians.iter().min().copied().unwrap_or_default(),
            medians.iter().max().copied().unwrap_or_default(),
        );
        let gap = ms(high) - ms(low);
        let relative = gap / ms(low).max(1e-9);
        let differing: usize = run
            .differing
            .iter()
            .filter(|((r, _), _)| r == route)
            .map(|(_, n)| n)
            .sum();
        let identical = if differing == 0 {
            "yes".to_owned()
        } else {
            format!("NO: {differing} differ from the first")
        };
        // The bound is 10 %; the figure is printed for tighter ones.
        let verdict = if relative <= 0.10 && differing == 0 && run.errors == 0 {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "| {} | {db} | {gap:.3} ms = {:.1} % of the lowest | {identical} | {verdict} |",
            route.path(),
            relative * 100.0,
        );
    }
    println!();
    println!(
        "{db}: {} errors{}; mails sent {} (expected {}: {})",
        run.errors,
        run.first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        run.mails,
        run.expected_mails,
        if run.mails == run.expected_mails {
            "as expected"
        } else {
            "DIFFERENT"
        },
    );
    if let Some(answer) = run.first.get(&Route::Reset) {
        println!(
            "{db}: the reset answer: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
}
