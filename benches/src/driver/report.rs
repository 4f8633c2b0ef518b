//! What the commands print: a line per measured run while they go, then
//! the table and the targets.

use std::collections::BTreeMap;
use std::time::Duration;

use super::logins::Logins;
use super::measure::Sample;
use super::{Kind, Options, RowKey};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median_by_rps(samples: &[Sample]) -> &Sample {
    let mut order: Vec<&Sample> = samples.iter().collect();
    order.sort_by(|a, b| a.stats.rps().total_cmp(&b.stats.rps()));
    order[order.len() / 2]
}

pub(super) fn report_sample(name: &str, db: &str, sample: &Sample) {
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

pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
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

pub(super) fn print_report(
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
    let targets: [Target; 13] = [
        (
            (Kind::CrudauthBearer, "sqlite"),
            (Kind::JwtOnly, "sqlite"),
            "crudauth-bearer ≥ 0.8 × jwt-only (sqlite)",
            |r| r >= 0.8,
        ),
        (
            (Kind::CrudauthSession, "sqlite"),
            (Kind::JwtOnly, "sqlite"),
            "crudauth-session ≥ 0.8 × jwt-only (sqlite)",
            |r| r >= 0.8,
        ),
        (
            (Kind::CrudauthBearer, "postgres"),
            (Kind::JwtOnly, "postgres"),
            "crudauth-bearer ≥ 0.8 × jwt-only (postgres)",
            |r| r >= 0.8,
        ),
        (
            (Kind::CrudauthSession, "postgres"),
            (Kind::JwtOnly, "postgres"),
            "crudauth-session ≥ 0.8 × jwt-only (postgres)",
            |r| r >= 0.8,
        ),
        (
            (Kind::CrudauthBearer, "sqlite"),
            (Kind::JwtSpec, "sqlite"),
            "crudauth-bearer ≥ 0.8 × jwt-only verifying crudauth's claims (sqlite)",
            |r| r >= 0.8,
        ),
        (
            (Kind::CrudauthBearer, "postgres"),
            (Kind::JwtSpec, "postgres"),
            "crudauth-bearer ≥ 0.8 × jwt-only verifying crudauth's claims (postgres)",
            |r| r >= 0.8,
        ),
        (
            (Kind::CrudauthSession, "sqlite"),
            (Kind::AxumLogin, "sqlite"),
            "crudauth-session ≥ 2.5 × axum-login (sqlite)",
            |r| r >= 2.5,
        ),
        (
            (Kind::CrudauthBearer, "sqlite"),
            (Kind::AxumLogin, "sqlite"),
            "crudauth-bearer ≥ 2.5 × axum-login (sqlite)",
            |r| r >= 2.5,
        ),
        (
            (Kind::UncachedBearer, "sqlite"),
            (Kind::JwtMinimal, "sqlite"),
            "cache off (every request's path, a credential's first): crudauth-bearer ≥ 0.9 × jwt-minimal (sqlite), as before the cache",
            |r| r >= 0.9,
        ),
        (
            (Kind::UncachedSession, "sqlite"),
            (Kind::AxumLogin, "sqlite"),
            "cache off: crudauth-session ≥ 1.3 × axum-login (sqlite), as before the cache",
            |r| r >= 1.3,
        ),
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
