//! Side-by-side benchmarks of crudauth and its peers (issue 5).
//!
//! ```text
//! cargo run --release -p crudauth-bench -- all [--requests N] [--connections N]
//!     [--rounds N] [--logins N] [--no-postgres] [--tuned] [--only NAME]... [--peer PATH]
//! cargo run --release -p crudauth-bench -- profile [--requests N] [--only NAME]...
//! cargo run --release -p crudauth-bench -- gates [--requests N] [--rounds N] [--no-postgres]
//! cargo run --release -p crudauth-bench -- layer [--requests N] [--rounds N]
//! cargo run --release -p crudauth-bench -- rate [--requests N] [--rounds N]
//! cargo run --release -p crudauth-bench -- enumeration [--requests N] [--register N] [--no-postgres]
//! crudauth-bench server <bare|jwt-minimal|crudauth|crudauth-tuned>
//! ```
//!
//! `all` starts every server as its own process on loopback, one after
//! another, drives each with the same fixed number of `GET /me` requests
//! from the in-process load generator, measures logins, and prints one
//! table (see BENCHMARKS.md at the repository root). `profile` runs each
//! server under callgrind instead and prints the instructions it executes
//! per `GET /me`, a figure that the machine's other load does not move.
//! `gates` compares `#[authed]` with `#[authed(mfa, fresh = "5m")]`
//! (issue 13), `layer` an application's route behind `auth.layer()` with
//! the same route without it (issue 24), `rate` a `#[authed(rate = ..)]`
//! route with the same route without it (issue 28), and `enumeration` times the
//! recovery routes per account state (issue 11).

mod driver;
mod gates_server;
mod layer_server;
mod load;
mod process;
mod rate_server;
mod recovery_server;
mod servers;

use std::process::ExitCode;

const USAGE: &str = "usage: crudauth-bench all [--requests N] [--connections N] [--rounds N] \
[--logins N] [--no-postgres] [--tuned] [--only NAME]... [--peer PATH]\n       crudauth-bench profile [--requests N] [--only NAME]... [--peer PATH]\n       crudauth-bench cache-memory [--bearer] [COUNT]\n       crudauth-bench gates [--requests N] [--connections N] [--rounds N] [--no-postgres]\n       crudauth-bench layer [--requests N] [--connections N] [--rounds N]\n       crudauth-bench rate [--requests N] [--connections N] [--rounds N]\n       crudauth-bench enumeration [--requests N] [--register N] [--warmup N] [--no-postgres]\n       crudauth-bench server <bare|jwt-only|jwt-minimal|crudauth|crudauth-uncached|crudauth-tuned|crudauth-gates|crudauth-gates-uncached|crudauth-recovery|crudauth-layer|crudauth-rate>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("server") => match args.get(1) {
            Some(kind) => serve(kind),
            None => Err(USAGE.to_owned()),
        },
        Some("cache-memory") => {
            let bearer = args.get(1).is_some_and(|a| a == "--bearer");
            let count = match args.get(1 + usize::from(bearer)) {
                Some(n) => n.parse().map_err(|_| format!("not a count: {n}\n{USAGE}")),
                None => Ok(100_000),
            };
            count.and_then(|count| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?
                    .block_on(driver::cache_memory(count, bearer))
            })
        }
        Some("enumeration") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|runtime| runtime.block_on(driver::enumeration(&args[1..]))),
        Some("gates") => parse(&args[1..]).and_then(|options| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(driver::gates(options))
        }),
        Some("layer") => parse(&args[1..]).and_then(|options| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(driver::layer(options))
        }),
        Some("rate") => parse(&args[1..]).and_then(|options| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(driver::rate(options))
        }),
        Some(verb @ ("all" | "profile")) => {
            let mut defaults = driver::Options::default();
            if verb == "all" {
                defaults.requests = driver::ALL_REQUESTS;
            }
            parse_over(&args[1..], defaults)
        }
        .and_then(|options| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            if verb == "all" {
                runtime.block_on(driver::all(options))
            } else {
                runtime.block_on(driver::profile(options))
            }
        }),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("crudauth-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn serve(kind: &str) -> Result<(), String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(servers::run(kind))
        .map_err(|e| format!("server {kind}: {e}"))
}

fn parse(args: &[String]) -> Result<driver::Options, String> {
    parse_over(args, driver::Options::default())
}

/// The command line over `options`, the verb's defaults.
fn parse_over(args: &[String], mut options: driver::Options) -> Result<driver::Options, String> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        let number = |v: &String| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{arg}: not a positive number: {v}"))
        };
        match arg.as_str() {
            "--requests" => options.requests = number(value()?)?,
            "--connections" => options.connections = number(value()?)?,
            "--rounds" => options.rounds = number(value()?)?,
            "--logins" => options.logins = number(value()?)?,
            "--no-postgres" => options.postgres = false,
            "--tuned" => options.tuned = true,
            "--only" => options.only.push(value()?.clone()),
            "--peer" => options.peer = Some(value()?.into()),
            _ => return Err(format!("unknown argument {arg}\n{USAGE}")),
        }
    }
    Ok(options)
}
