//! The login figures: argon2id's cost in this process, logins per second,
//! `GET /me` latency while logins saturate the CPU, and the timing of
//! unknown users against wrong passwords.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use http::StatusCode;
use serde_json::json;

use super::fixtures::{credentials, prepare};
use super::measure::Sample;
use super::{EMAIL, Kind, Options, PASSWORD};
use crate::load::{self, Plan, Req, Stats};
use crate::process::Backend;

/// The login figures on the crudauth example (SQLite).
#[derive(Debug, Default)]
pub(super) struct Logins {
    pub(super) label: &'static str,
    /// Raw verifies per second, one thread per core, in this process.
    pub(super) parallel_rate: f64,
    pub(super) verify: Duration,
    pub(super) cores: usize,
    pub(super) logins: Option<Sample>,
    pub(super) idle_probe: Stats,
    pub(super) loaded_probe: Stats,
    pub(super) loaded_logins: Stats,
    pub(super) unknown: Stats,
    pub(super) wrong_password: Stats,
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

pub(super) async fn run_logins(
    peer: &Path,
    options: &Options,
    kind: Kind,
) -> Result<Logins, String> {
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
