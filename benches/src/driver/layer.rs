//! `crudauth-bench layer` (issue 24): what `auth.layer()` costs an
//! application's own routes. One server per round serves the same two
//! routes with and without the layer (see `layer_server.rs`); each pair is
//! read in alternating slices, so that the machine's other load weighs on
//! both alike. Target: under 2 % fewer requests per second behind the
//! layer.

use http::StatusCode;
use serde_json::json;

use super::Options;
use super::fixtures::{expect, own_server};
use super::gates::{interleaved, median};
use super::measure::Sample;
use super::report::{load_average, report_sample};
use crate::load::Req;
use crate::process::{Backend, Server, TempDb};

/// The largest throughput loss behind the layer that meets the target.
const TARGET: f64 = 0.02;

/// The pairs: a GET, and a POST whose 1 KiB JSON body the handler reads.
fn pairs() -> Vec<(&'static str, Req, Req)> {
    let body = json!({ "note": "x".repeat(1024) });
    vec![
        (
            "GET /hello",
            Req::get("/bare/hello"),
            Req::get("/layered/hello"),
        ),
        (
            "POST /echo (1 KiB JSON)",
            Req::post_json("/bare/echo", &body),
            Req::post_json("/layered/echo", &body),
        ),
    ]
}

pub async fn layer(options: Options) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run with `cargo run --release -p crudauth-bench -- layer`"
        );
    }
    let load_before = load_average();
    let mut samples: Vec<Vec<(Sample, Sample)>> = pairs().iter().map(|_| Vec::new()).collect();
    for round in 0..options.rounds {
        eprintln!("round {} of {}", round + 1, options.rounds);
        let db = TempDb::create(Backend::Sqlite).await?;
        let server = match Server::start(own_server("crudauth-layer", Some(&db))) {
            Ok(server) => server,
            Err(err) => {
                db.remove().await;
                return Err(err);
            }
        };
        let outcome = measure_round(&server, round, &options, &mut samples).await;
        drop(server);
        db.remove().await;
        outcome?;
    }
    print_layer(&options, &samples, &load_before);
    Ok(())
}

async fn measure_round(
    server: &Server,
    round: usize,
    options: &Options,
    samples: &mut [Vec<(Sample, Sample)>],
) -> Result<(), String> {
    for ((name, bare, layered), into) in pairs().into_iter().zip(samples.iter_mut()) {
        // Both sides answer alike before they are measured.
        let a = expect(server, bare.clone(), StatusCode::OK).await?;
        let b = expect(server, layered.clone(), StatusCode::OK).await?;
        if a != b {
            return Err(format!("{name}: the two sides answer {a} and {b}"));
        }
        let (bare_sample, layered_sample) =
            interleaved(server, &bare, &layered, options, round % 2 == 1).await;
        report_sample(&format!("{name} without the layer"), "sqlite", &bare_sample);
        report_sample(
            &format!("{name} behind the layer"),
            "sqlite",
            &layered_sample,
        );
        into.push((bare_sample, layered_sample));
    }
    Ok(())
}

fn print_layer(options: &Options, samples: &[Vec<(Sample, Sample)>], load_before: &str) {
    println!();
    println!(
        "{} requests per route and round over {} keep-alive connections, {} rounds; {} cores; \
         load average before: {load_before}, after: {}",
        options.requests,
        options.connections,
        options.rounds,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average(),
    );
    println!();
    println!(
        "| route | without the layer, req/s | behind the layer, req/s | layered ÷ bare (median of rounds) | errors | verdict |"
    );
    println!("|---|---:|---:|---|---:|---|");
    for ((name, ..), rounds) in pairs().iter().zip(samples) {
        let mut ratios: Vec<f64> = rounds
            .iter()
            .map(|(bare, layered)| layered.stats.rps() / bare.stats.rps())
            .collect();
        let mut bare_rps: Vec<f64> = rounds.iter().map(|(b, _)| b.stats.rps()).collect();
        let mut layered_rps: Vec<f64> = rounds.iter().map(|(_, l)| l.stats.rps()).collect();
        let errors: usize = rounds
            .iter()
            .map(|(b, l)| b.stats.errors + l.stats.errors)
            .sum();
        let ratio = median(&mut ratios);
        let verdict = if errors == 0 && ratio >= 1.0 - TARGET {
            "meets < 2 %"
        } else {
            "misses"
        };
        println!(
            "| {name} | {:.0} | {:.0} | {ratio:.3} | {errors} | {verdict} |",
            median(&mut bare_rps),
            median(&mut layered_rps),
        );
    }
}
