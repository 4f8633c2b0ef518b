//! `crudauth-bench rate` (issue 28): what `#[authed(rate = ..)]` costs a
//! request under its limit, with counters in the process and in Redis, and
//! how fast requests over the limit are refused. One server per store and
//! round (see `rate_server.rs`); the same access token reads each pair in
//! alternating slices. Targets: under the limit ≥ 0.95 × the unlimited
//! route in-process, ≥ 0.8 × with Redis; refusals ≥ 2 × accepted requests.

use http::StatusCode;
use http::header::AUTHORIZATION;

use super::Options;
use super::fixtures::{credentials, expect, own_server};
use super::gates::{interleaved, median};
use super::measure::Sample;
use super::report::{load_average, report_sample};
use super::{EMAIL, PASSWORD};
use crate::load::Req;
use crate::process::{Backend, Server, TempDb};

/// The shared store of the Redis rows: the Redis server `.ci/run` starts.
const REDIS_URL: &str = "redis://127.0.0.1:6379/10";

#[derive(Default)]
struct Rounds {
    /// (unlimited, under the limit)
    under: Vec<(Sample, Sample)>,
    /// (under the limit, over it)
    over: Vec<(Sample, Sample)>,
}

fn bearer(path: &str, token: &str) -> Req {
    Req::get(path).header(AUTHORIZATION, &format!("Bearer {token}"))
}

pub async fn rate(options: Options) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run with `cargo run --release -p crudauth-bench -- rate`"
        );
    }
    let load_before = load_average();
    let stores = [("in-process", None), ("Redis", Some(REDIS_URL))];
    let mut results: Vec<Rounds> = stores.iter().map(|_| Rounds::default()).collect();
    for round in 0..options.rounds {
        eprintln!("round {} of {}", round + 1, options.rounds);
        for ((label, redis), rounds) in stores.iter().zip(results.iter_mut()) {
            let db = TempDb::create(Backend::Sqlite).await?;
            let mut command = own_server("crudauth-rate", Some(&db));
            if let Some(url) = redis {
                command.env("CRUDAUTH_REDIS_URL", url);
            }
            let server = match Server::start(command) {
                Ok(server) => server,
                Err(err) => {
                    db.remove().await;
                    return Err(err);
                }
            };
            let outcome = measure(&server, label, round, &options, rounds).await;
            drop(server);
            db.remove().await;
            outcome?;
        }
    }
    print_rate(&options, &stores, &results, &load_before);
    Ok(())
}

async fn measure(
    server: &Server,
    label: &str,
    round: usize,
    options: &Options,
    into: &mut Rounds,
) -> Result<(), String> {
    let account = serde_json::json!({ "email": EMAIL, "password": PASSWORD });
    expect(
        server,
        Req::post_json("/register", &account),
        StatusCode::CREATED,
    )
    .await?;
    let pair = expect(
        server,
        Req::post_json("/token", &credentials()),
        StatusCode::OK,
    )
    .await?;
    let token = pair["access_token"]
        .as_str()
        .ok_or_else(|| format!("/token answered {pair}"))?
        .to_owned();
    let plain = bearer("/rate/plain", &token);
    let limited = bearer("/rate/limited", &token);
    // The first request spends the hour's budget; every later one is 429.
    expect(server, bearer("/rate/over", &token), StatusCode::OK).await?;
    let refused = expect(
        server,
        bearer("/rate/over", &token),
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await?;
    if refused["code"] != "rate_limited" {
        return Err(format!("/rate/over answered {refused}"));
    }
    let over = bearer("/rate/over", &token).expect(StatusCode::TOO_MANY_REQUESTS);
    let flip = round % 2 == 1;
    let (a, b) = interleaved(server, &plain, &limited, options, flip).await;
    report_sample("`#[authed]`", label, &a);
    report_sample("`#[authed(rate = \"1000000/s\")]`", label, &b);
    into.under.push((a, b));
    let (c, d) = interleaved(server, &limited, &over, options, flip).await;
    report_sample("under the limit", label, &c);
    report_sample("over the limit (429)", label, &d);
    into.over.push((c, d));
    Ok(())
}

fn ratio(rounds: &[(Sample, Sample)]) -> (f64, f64, f64, usize) {
    let mut ratios: Vec<f64> = rounds
        .iter()
        .map(|(a, b)| b.stats.rps() / a.stats.rps().max(1e-9))
        .collect();
    let mut first: Vec<f64> = rounds.iter().map(|(a, _)| a.stats.rps()).collect();
    let mut second: Vec<f64> = rounds.iter().map(|(_, b)| b.stats.rps()).collect();
    let errors = rounds
        .iter()
        .map(|(a, b)| a.stats.errors + b.stats.errors)
        .sum();
    (
        median(&mut first),
        median(&mut second),
        median(&mut ratios),
        errors,
    )
}

fn print_rate(
    options: &Options,
    stores: &[(&str, Option<&str>)],
    results: &[Rounds],
    load_before: &str,
) {
    println!();
    println!(
        "{} requests per route and round over {} keep-alive connections, {} rounds; bearer, \
         SQLite, principal cache on; {} cores; load average before: {load_before}, after: {}",
        options.requests,
        options.connections,
        options.rounds,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average(),
    );
    println!();
    println!(
        "| store | comparison | first, req/s | second, req/s | second ÷ first (median) | errors | target | verdict |"
    );
    println!("|---|---|---:|---:|---|---:|---|---|");
    for ((label, redis), rounds) in stores.iter().zip(results) {
        let target = if redis.is_some() { 0.8 } else { 0.95 };
        let rows = [
            (
                "`#[authed]` → `rate`, under the limit",
                ratio(&rounds.under),
                target,
            ),
            ("under the limit → over it (429)", ratio(&rounds.over), 2.0),
        ];
        for (what, (first, second, r, errors), target) in rows {
            let verdict = if errors == 0 && r >= target {
                "met"
            } else {
                "MISSED"
            };
            println!(
                "| {label} | {what} | {first:.0} | {second:.0} | {r:.3} | {errors} | ≥ {target} | {verdict} |"
            );
        }
    }
}
