//! `crudauth-bench all`: every server in turn, each in its own process on a
//! fresh database, driven by the same load; then the login figures; then
//! one table and the targets of issue 5.

use std::collections::BTreeMap;
use std::path::Path;

use super::fixtures::{build_peer, prepare};
use super::logins::run_logins;
use super::measure::{Sample, measure};
use super::report::{load_average, print_report, report_sample};
use super::{Kind, Options, RowKey};
use crate::process::{Backend, postgres_reachable};

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
    cases.push((Kind::JwtOnly, Backend::Sqlite));
    cases.push((Kind::JwtSpec, Backend::Sqlite));
    cases.push((Kind::JwtMinimal, Backend::Sqlite));
    cases.push((Kind::CrudauthBearer, Backend::Sqlite));
    cases.push((Kind::UncachedBearer, Backend::Sqlite));
    if options.tuned {
        cases.push((Kind::TunedBearer, Backend::Sqlite));
        cases.push((Kind::JwtAll, Backend::Sqlite));
    }
    cases.push((Kind::AxumLogin, Backend::Sqlite));
    cases.push((Kind::CrudauthSession, Backend::Sqlite));
    cases.push((Kind::UncachedSession, Backend::Sqlite));
    if options.tuned {
        cases.push((Kind::TunedSession, Backend::Sqlite));
    }
    if postgres {
        cases.push((Kind::JwtOnly, Backend::Postgres));
        cases.push((Kind::JwtSpec, Backend::Postgres));
        cases.push((Kind::CrudauthBearer, Backend::Postgres));
        cases.push((Kind::UncachedBearer, Backend::Postgres));
        cases.push((Kind::CrudauthSession, Backend::Postgres));
        cases.push((Kind::UncachedSession, Backend::Postgres));
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
