//! `crudauth-bench profile`: instructions per request under callgrind, a
//! figure that the machine's other load does not move.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use super::fixtures::{build_peer, prepare_with};
use super::{Kind, Options};
use crate::load::{self, Plan};
use crate::process::Backend;

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
    let cases: [(Kind, Option<&str>); 12] = [
        (Kind::Bare, None),
        (Kind::JwtOnly, None),
        (Kind::JwtSpec, None),
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
