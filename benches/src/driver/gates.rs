//! `crudauth-bench gates` (issue 13): what `#[authed(mfa, fresh = "5m")]`
//! costs over `#[authed]`. One server per database and cache setting and
//! round serves both routes; the same access token (from a login that
//! passed its second factor) reads them in alternating slices; then more
//! requests of each count the SQL statements it sends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use http::header::AUTHORIZATION;
use serde_json::json;

use super::fixtures::{credentials, expect, own_server};
use super::measure::Sample;
use super::report::{load_average, report_sample};
use super::{EMAIL, Options, PASSWORD};
use crate::load::{self, Plan, Req, Stats};
use crate::process::{Backend, Server, TempDb, postgres_reachable};
use crudauth_tests::totp_code;

const PLAIN: &str = "/gates/plain";
const GATED: &str = "/gates/mfa-fresh";

/// Requests per statement count: enough that a background statement (a
/// purge, a sliding-expiry write) shows as a fraction, not a whole.
const COUNTED: usize = 2000;

/// The gated route's credential must be under five minutes old at its
/// last request.
const FRESH: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Case {
    backend: &'static str,
    cached: bool,
}

#[derive(Debug, Default)]
struct Results {
    plain: Vec<Sample>,
    gated: Vec<Sample>,
    /// Statements per request, per round.
    plain_statements: Vec<f64>,
    gated_statements: Vec<f64>,
}

fn bearer(path: &str, token: &str) -> Req {
    Req::get(path).header(AUTHORIZATION, &format!("Bearer {token}"))
}

fn text(value: &serde_json::Value, field: &str, what: &str) -> Result<String, String> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{what} answered without {field}: {value}"))
}

/// Registers the bench user, checks that the gate refuses its
/// password-only token, enrols TOTP, and returns the access token of a
/// login completed with a recovery code (the TOTP step just used to
/// confirm would be refused as a replay).
async fn mfa_token(server: &Server) -> Result<String, String> {
    let account = json!({ "email": EMAIL, "password": PASSWORD });
    expect(
        server,
        Req::post_json("/register", &account),
        StatusCode::CREATED,
    )
    .await?;
    let login = Req::post_json("/token", &credentials());
    let password_only = text(
        &expect(server, login.clone(), StatusCode::OK).await?,
        "access_token",
        "/token",
    )?;
    expect(server, bearer(PLAIN, &password_only), StatusCode::OK).await?;
    let refused = expect(server, bearer(GATED, &password_only), StatusCode::FORBIDDEN).await?;
    if refused["code"] != "mfa_required" {
        return Err(format!(
            "{GATED} refused a password-only token with {refused}"
        ));
    }
    let with_token = |path: &str, body: serde_json::Value| {
        Req::post_json(path, &body).header(AUTHORIZATION, &format!("Bearer {password_only}"))
    };
    let setup = expect(
        server,
        with_token("/mfa/totp/setup", json!({ "password": PASSWORD })),
        StatusCode::OK,
    )
    .await?;
    let secret = text(&setup, "secret", "/mfa/totp/setup")?;
    let confirmed = expect(
        server,
        with_token(
            "/mfa/totp/confirm",
            json!({ "code": totp_code(&secret, 0) }),
        ),
        StatusCode::OK,
    )
    .await?;
    let recovery = confirmed["recovery_codes"][0]
        .as_str()
        .ok_or_else(|| format!("/mfa/totp/confirm answered {confirmed}"))?
        .to_owned();
    let challenged = expect(server, login, StatusCode::OK).await?;
    let challenge = text(&challenged, "challenge", "/token of an enrolled account")?;
    let verified = expect(
        server,
        Req::post_json(
            "/mfa/verify",
            &json!({ "challenge": challenge, "code": recovery }),
        ),
        StatusCode::OK,
    )
    .await?;
    let token = text(&verified, "access_token", "/mfa/verify")?;
    expect(server, bearer(GATED, &token), StatusCode::OK).await?;
    Ok(token)
}

async fn statements_so_far(server: &Server) -> Result<u64, String> {
    let got = expect(server, Req::get("/bench/statements"), StatusCode::OK).await?;
    got["statements"]
        .as_u64()
        .ok_or_else(|| format!("/bench/statements answered {got}"))
}

/// SQL statements per request of `req`, over [`COUNTED`] requests.
async fn statements_per_request(server: &Server, req: &Req) -> Result<f64, String> {
    let before = statements_so_far(server).await?;
    let plan = Plan {
        requests: COUNTED,
        connections: 4,
        limit: Duration::from_secs(120),
        pace: None,
    };
    let r = req.clone();
    let stats = load::drive(server.addr, &plan, Arc::new(move |_| r.clone()), None).await;
    let after = statements_so_far(server).await?;
    if stats.errors > 0 || stats.ok() == 0 {
        return Err(format!(
            "{}: {} errors while counting statements (first: {})",
            req.path,
            stats.errors,
            stats.first_error.unwrap_or_default()
        ));
    }
    Ok((after - before) as f64 / stats.ok() as f64)
}

/// The measured requests of each route are sent in this many slices,
/// plain and gated taking turns (ABBA…), so that a change in the machine's
/// other load during the run weighs on both alike.
const SLICES: usize = 10;

fn merge(into: &mut Stats, part: Stats) {
    into.latencies.extend(part.latencies);
    into.errors += part.errors;
    if into.first_error.is_none() {
        into.first_error = part.first_error;
    }
    into.elapsed += part.elapsed;
}

/// Warm-up of both routes, then their measured requests in alternating
/// slices; the peak RSS is the server's over both.
pub(super) async fn interleaved(
    server: &Server,
    plain: &Req,
    gated: &Req,
    options: &Options,
    gated_first: bool,
) -> (Sample, Sample) {
    let plan = |requests| Plan {
        requests,
        connections: options.connections,
        limit: Duration::from_secs(120),
        pace: None,
    };
    for req in [plain, gated] {
        let r = req.clone();
        let warm = plan((options.requests / 10).max(200));
        load::drive(server.addr, &warm, Arc::new(move |_| r.clone()), None).await;
    }
    server.reset_peak_rss();
    let (mut plain_stats, mut gated_stats) = (Stats::default(), Stats::default());
    let slice = plan((options.requests / SLICES).max(1));
    for i in 0..SLICES {
        let mut turns = [(plain, false), (gated, true)];
        if (i % 2 == 1) != gated_first {
            turns.reverse();
        }
        for (req, is_gated) in turns {
            let r = req.clone();
            let stats = load::drive(server.addr, &slice, Arc::new(move |_| r.clone()), None).await;
            merge(
                if is_gated {
                    &mut gated_stats
                } else {
                    &mut plain_stats
                },
                stats,
            );
        }
    }
    let rss_kib = server.peak_rss_kib();
    let sample = |mut stats: Stats| {
        stats.latencies.sort_unstable();
        Sample { stats, rss_kib }
    };
    (sample(plain_stats), sample(gated_stats))
}

async fn one_server(
    case: Case,
    backend: Backend,
    round: usize,
    options: &Options,
    results: &mut Results,
) -> Result<(), String> {
    let db = TempDb::create(backend).await?;
    let kind = if case.cached {
        "crudauth-gates"
    } else {
        "crudauth-gates-uncached"
    };
    let server = match Server::start(own_server(kind, Some(&db))) {
        Ok(server) => server,
        Err(err) => {
            db.remove().await;
            return Err(err);
        }
    };
    let outcome = measure_pair(&server, case, round, options, results).await;
    drop(server);
    db.remove().await;
    outcome
}

async fn measure_pair(
    server: &Server,
    case: Case,
    round: usize,
    options: &Options,
    results: &mut Results,
) -> Result<(), String> {
    let token = mfa_token(server).await?;
    let proven = Instant::now();
    let label = format!(
        "{}, cache {}",
        case.backend,
        if case.cached { "on" } else { "off" }
    );
    let plain = bearer(PLAIN, &token);
    let gated = bearer(GATED, &token);
    let (plain_sample, gated_sample) =
        interleaved(server, &plain, &gated, options, round % 2 == 1).await;
    report_sample("`#[authed]`", &label, &plain_sample);
    report_sample("`#[authed(mfa, fresh = \"5m\")]`", &label, &gated_sample);
    for (req, counts) in [
        (&plain, &mut results.plain_statements),
        (&gated, &mut results.gated_statements),
    ] {
        let statements = statements_per_request(server, req).await?;
        eprintln!("    {}: {statements:.3} statements per request", req.path);
        counts.push(statements);
    }
    results.plain.push(plain_sample);
    results.gated.push(gated_sample);
    if proven.elapsed() >= FRESH {
        eprintln!(
            "warning: this pair took over five minutes: the gated route's last requests \
             were refused as stale (fewer --requests)"
        );
    }
    Ok(())
}

pub async fn gates(options: Options) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run with `cargo run --release -p crudauth-bench -- gates`"
        );
    }
    let mut backends = vec![Backend::Sqlite];
    if options.postgres {
        match postgres_reachable().await {
            Ok(()) => backends.push(Backend::Postgres),
            Err(err) => eprintln!("PostgreSQL rows skipped: {err}"),
        }
    }
    let load_before = load_average();
    let mut results: BTreeMap<Case, Results> = BTreeMap::new();
    for round in 0..options.rounds {
        eprintln!("round {} of {}", round + 1, options.rounds);
        for &backend in &backends {
            for cached in [true, false] {
                let case = Case {
                    backend: backend.label(),
                    cached,
                };
                let entry = results.entry(case).or_default();
                one_server(case, backend, round, &options, entry).await?;
            }
        }
    }
    print_gates(&options, &results, &load_before);
    Ok(())
}

pub(super) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn print_gates(options: &Options, results: &BTreeMap<Case, Results>, load_before: &str) {
    println!();
    println!(
        "{} requests per route and round over {} keep-alive connections, {} rounds; \
         statements counted over {COUNTED} more requests per route and round; {} cores; \
         load average before: {load_before}, after: {}",
        options.requests,
        options.connections,
        options.rounds,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average(),
    );
    println!();
    println!(
        "| db | principal cache | `#[authed]` req/s | `#[authed(mfa, fresh = \"5m\")]` req/s \
         | gated ÷ plain | statements per request, plain / gated | errors | verdict |"
    );
    println!("|---|---|---:|---:|---|---|---:|---|");
    for (case, r) in results {
        let mut ratios: Vec<f64> = r
            .gated
            .iter()
            .zip(&r.plain)
            .map(|(g, p)| g.stats.rps() / p.stats.rps().max(1e-9))
            .collect();
        let spread = {
            let mut sorted = ratios.clone();
            sorted.sort_by(f64::total_cmp);
            sorted
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ratio = median(&mut ratios);
        let plain_rps = median(&mut r.plain.iter().map(|s| s.stats.rps()).collect::<Vec<_>>());
        let gated_rps = median(&mut r.gated.iter().map(|s| s.stats.rps()).collect::<Vec<_>>());
        let plain_statements = median(&mut r.plain_statements.clone());
        let gated_statements = median(&mut r.gated_statements.clone());
        // The counts are averages over many requests: equal means equal
        // to well within one statement in a hundred requests.
        let same = r
            .plain_statements
            .iter()
            .zip(&r.gated_statements)
            .all(|(p, g)| (p - g).abs() < 0.01);
        let errors: usize = r.plain.iter().chain(&r.gated).map(|s| s.stats.errors).sum();
        let verdict = match (ratio >= 0.95, same && errors == 0) {
            (true, true) => "met",
            (false, true) => "MISSED: slower",
            (_, false) => "MISSED: statements or errors",
        };
        println!(
            "| {} | {} | {plain_rps:.0} | {gated_rps:.0} | {ratio:.3} × (rounds {spread}) \
             | {plain_statements:.3} / {gated_statements:.3} | {errors} | {verdict} |",
            case.backend,
            if case.cached { "on" } else { "off" },
        );
    }
    println!();
    println!("target (issue 13): gated ≥ 0.95 × plain, and the same statements per request");
}
