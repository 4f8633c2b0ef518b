//! `crudauth-bench cache-memory`: the resident memory that cached
//! principals cost. Sessions (or, with `--bearer`, token families) are
//! written straight into the database (no argon2 per login), each is
//! requested once so that the server caches it, and the server's resident
//! set is read before and after. Each credential belongs to its own user.
//! A bearer principal also leaves its access token in the memo of verified
//! tokens, so its figure includes the memo's share.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{AUTHORIZATION, COOKIE};
use rand::RngCore;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use sha2::{Digest, Sha256};

use super::fixtures::{mint_access_token, prepare};
use super::{EMAIL, Kind};
use crate::load::{self, Req};
use crate::process::{Backend, Server};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn resident_kib(server: &Server) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS".to_owned())
}

/// Caches `count` sessions (or token families, with `bearer`) in a
/// crudauth server and prints what they cost.
pub async fn cache_memory(count: usize, bearer: bool) -> Result<(), String> {
    let kind = if bearer {
        Kind::CrudauthBearer
    } else {
        Kind::CrudauthSession
    };
    let (server, db, _) = prepare(kind, Backend::Sqlite, Path::new("")).await?;
    let db = db.ok_or("a database")?;
    let conn = Database::connect(&db.url)
        .await
        .map_err(|e| e.to_string())?;
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT password_hash FROM users WHERE email = '{EMAIL}'"),
        ))
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the benchmark user")?;
    let hash: String = row
        .try_get("", "password_hash")
        .map_err(|e| e.to_string())?;
    let epoch = hex(&Sha256::digest(hash.as_bytes()))[..32].to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    // One user per session: a cached principal then costs its own user
    // row, as on a site whose visitors are all different people.
    for chunk in 0..count.div_ceil(500) {
        let values: Vec<String> = (chunk * 500..count.min(chunk * 500 + 500))
            .map(|i| format!("('cached{i}@memory.bench', '{hash}', TRUE, FALSE, FALSE, 'jobs:read jobs:write')"))
            .collect();
        conn.execute_unprepared(&format!(
            "INSERT INTO users (email, password_hash, is_active, is_superuser, email_verified, \
             scopes) VALUES {}",
            values.join(", ")
        ))
        .await
        .map_err(|e| e.to_string())?;
    }
    let users: Vec<i64> = conn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id FROM users WHERE email LIKE 'cached%@memory.bench' ORDER BY id",
        ))
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|row| row.try_get("", "id"))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    if users.len() != count {
        return Err(format!("{} of {count} users inserted", users.len()));
    }
    let requests = if bearer {
        families(&conn, &users, &epoch, now).await?
    } else {
        sessions(&conn, &users, &epoch, now).await?
    };
    // Warm the server's pools and allocator with a few uncounted requests.
    for req in &requests[..100.min(count)] {
        load::once(server.addr, req.clone()).await?;
    }
    let before = resident_kib(&server)?;
    let started = std::time::Instant::now();
    let mut failures = 0;
    for req in requests {
        let (status, _, _) = load::once(server.addr, req).await?;
        if !status.is_success() {
            failures += 1;
        }
    }
    let after = resident_kib(&server)?;
    // Entries older than the TTL may have gone: the figure would then count
    // fewer principals than it claims.
    let ttl: u64 = std::env::var("CRUDAUTH_CACHE_TTL_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    if started.elapsed().as_secs() >= ttl {
        eprintln!(
            "warning: caching took {:?}, longer than the cache TTL ({ttl} s); \
             run with CRUDAUTH_CACHE_TTL_SECS=3600",
            started.elapsed()
        );
    }
    let added = after.saturating_sub(before);
    println!(
        "{count} cached {} of {count} users: resident {before} KiB -> {after} KiB, +{added} KiB \
         ({:.0} bytes each; {failures} failed requests); target: 100 000 add <= 64 MiB: {}",
        if bearer { "token families" } else { "sessions" },
        added as f64 * 1024.0 / count as f64,
        if added as f64 * 100_000.0 / count as f64 <= 64.0 * 1024.0 && failures == 0 {
            "met"
        } else {
            "NOT MET"
        }
    );
    drop(server);
    db.remove().await;
    Ok(())
}

/// One session per user; the requests that present them.
async fn sessions(
    conn: &DatabaseConnection,
    users: &[i64],
    epoch: &str,
    now: u64,
) -> Result<Vec<Req>, String> {
    let columns = "crudauth_sessions (id, token_hash, user_id, created_at, last_seen_at, \
                   idle_secs, expires_at, ip, user_agent, password_epoch)";
    insert_in_batches(conn, users, columns, |user_id| {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let digest = hex(&Sha256::digest(token.as_bytes()));
        let values = format!(
            "('{}', '{digest}', '{user_id}', {now}, {now}, 1800, {}, '127.0.0.1', 'bench', '{epoch}')",
            uuid::Uuid::new_v4(),
            now + 86_400
        );
        // The session cookie keeps its `__Host-` prefix only with Secure
        // cookies; the one the server does not use is ignored.
        let cookie = format!("__Host-session_id={token}; session_id={token}");
        (values, Req::get("/me").header(COOKIE, &cookie))
    })
    .await
}

/// One token family per user, each with an access token as `/token` would
/// issue it; the requests that present them.
async fn families(
    conn: &DatabaseConnection,
    users: &[i64],
    epoch: &str,
    now: u64,
) -> Result<Vec<Req>, String> {
    let columns = "crudauth_token_families (id, user_id, scope, created_at, expires_at, \
                   revoked_at, password_epoch, mfa, authenticated_at)";
    insert_in_batches(conn, users, columns, |user_id| {
        let family = uuid::Uuid::new_v4().to_string();
        let values = format!(
            "('{family}', '{user_id}', 'jobs:read jobs:write', {now}, {}, NULL, '{epoch}', \
             FALSE, {now})",
            now + 86_400
        );
        let token = mint_access_token(&user_id.to_string(), &family);
        let bearer = format!("Bearer {token}");
        (values, Req::get("/me").header(AUTHORIZATION, &bearer))
    })
    .await
}

/// Inserts one row per user into `columns` (`table (column, ...)`), 500 to
/// a statement; `row` gives a user's `VALUES` tuple and the request that
/// presents the credential it holds.
async fn insert_in_batches(
    conn: &DatabaseConnection,
    users: &[i64],
    columns: &str,
    mut row: impl FnMut(i64) -> (String, Req),
) -> Result<Vec<Req>, String> {
    let mut requests = Vec::with_capacity(users.len());
    for chunk in users.chunks(500) {
        let mut values = Vec::with_capacity(chunk.len());
        for user_id in chunk {
            let (tuple, req) = row(*user_id);
            values.push(tuple);
            requests.push(req);
        }
        conn.execute_unprepared(&format!(
            "INSERT INTO {columns} VALUES {}",
            values.join(", ")
        ))
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(requests)
}
