//! Everything a measurement needs before its first request: the server
//! processes (ours, the peer, under callgrind or not), their databases, and
//! the benchmark user's credentials.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use http::StatusCode;
use http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use super::{EMAIL, Kind, PASSWORD, SECRET};
use crate::load::{self, Req};
use crate::process::{Backend, Server, TempDb};
use crate::servers::{Claims, SPEC_ISSUER, SpecClaims};

fn crudauth_env(command: &mut Command) {
    command
        .env("CRUDAUTH_SECRET_KEY", SECRET)
        .env("CRUDAUTH_INSECURE_COOKIES", "1")
        // Lockout and the registration throttle would turn a benchmark's
        // repeated logins into 429s; their queries still run.
        .env("CRUDAUTH_LOCKOUT_ATTEMPTS", "1000000000")
        .env("CRUDAUTH_LOCKOUT_IP_ATTEMPTS", "1000000000")
        .env("CRUDAUTH_REGISTER_PER_HOUR", "1000000")
        .env_remove("RUST_LOG");
}

pub(super) fn own_server(kind: &str, db: Option<&TempDb>) -> Command {
    let exe = std::env::current_exe().expect("the running executable");
    let mut command = Command::new(exe);
    command.args(["server", kind]);
    if let Some(db) = db {
        command.env("DATABASE_URL", &db.url);
    }
    command
        .env("BENCH_EMAIL", EMAIL)
        .env("BENCH_PASSWORD", PASSWORD)
        .env("BENCH_SECRET", SECRET);
    crudauth_env(&mut command);
    command
}

fn mint_jwt() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let claims = Claims {
        sub: "1".to_owned(),
        iat: now,
        exp: now + 3600,
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()).expect("an HMAC key"),
    )
    .expect("HS256 signing")
}

/// A token with crudauth's claims, for the `jwt-only, crudauth's claims`
/// peer: the same claims, of the same lengths, as `/token` issues.
fn mint_spec_jwt() -> String {
    mint_access_token("1", &uuid::Uuid::new_v4().to_string())
}

/// An access token for user `sub` in family `sid`, signed with the
/// benchmark's secret as a crudauth server of the harness would sign it.
pub(super) fn mint_access_token(sub: &str, sid: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let claims = SpecClaims {
        sub: sub.to_owned(),
        exp: now + 900,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().to_string(),
        iss: SPEC_ISSUER.to_owned(),
        aud: SPEC_ISSUER.to_owned(),
        typ: "access".to_owned(),
        scope: "jobs:read jobs:write".to_owned(),
        sid: sid.to_owned(),
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()).expect("an HMAC key"),
    )
    .expect("HS256 signing")
}

/// The `Cookie` header a browser would send after this response.
fn cookie_header(headers: &http::HeaderMap) -> String {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| !v.to_ascii_lowercase().contains("max-age=0"))
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) async fn expect(server: &Server, req: Req, status: StatusCode) -> Result<Value, String> {
    let path = req.path.clone();
    let (got, headers, body) = load::once(server.addr, req).await?;
    if got != status {
        return Err(format!(
            "{path}: status {got} (expected {status}): {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let mut value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert(
            "__cookie".to_owned(),
            Value::String(cookie_header(&headers)),
        );
    }
    Ok(value)
}

pub(super) fn credentials() -> Value {
    json!({ "username": EMAIL, "password": PASSWORD })
}

async fn register(server: &Server) -> Result<(), String> {
    let body = json!({ "email": EMAIL, "password": PASSWORD });
    expect(
        server,
        Req::post_json("/register", &body),
        StatusCode::CREATED,
    )
    .await
    .map(drop)
}

async fn bearer_token(server: &Server) -> Result<String, String> {
    let token = expect(
        server,
        Req::post_json("/token", &credentials()),
        StatusCode::OK,
    )
    .await?;
    token["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("/token answered {token}"))
}

async fn session_cookie(server: &Server) -> Result<String, String> {
    let login = expect(
        server,
        Req::post_json("/login", &credentials()),
        StatusCode::OK,
    )
    .await?;
    Ok(login["__cookie"].as_str().unwrap_or_default().to_owned())
}

/// Starts one server on a fresh database and returns it with the request
/// that reads its `/me` as the benchmark user.
pub(super) async fn prepare(
    kind: Kind,
    backend: Backend,
    peer: &Path,
) -> Result<(Server, Option<TempDb>, Req), String> {
    prepare_with(kind, backend, peer, None).await
}

/// `command` run under callgrind, uninstrumented until switched on.
fn under_callgrind(command: &Command, out: &Path) -> Command {
    let mut wrapped = Command::new("valgrind");
    wrapped
        .arg("--tool=callgrind")
        // Instrumentation starts once the server is set up and warm.
        .arg("--instr-atstart=no")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(format!("--log-file={}.log", out.display()))
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(name, value),
            None => wrapped.env_remove(name),
        };
    }
    wrapped
}

pub(super) async fn prepare_with(
    kind: Kind,
    backend: Backend,
    peer: &Path,
    callgrind: Option<&Path>,
) -> Result<(Server, Option<TempDb>, Req), String> {
    let start = |command: Command| match callgrind {
        Some(out) => Server::start(under_callgrind(&command, out)),
        None => Server::start(command),
    };
    let db = match kind {
        Kind::Bare | Kind::JwtOnly | Kind::JwtSpec => None,
        _ => Some(TempDb::create(backend).await?),
    };
    let started = match kind {
        Kind::Bare => start(own_server("bare", None)),
        Kind::JwtOnly => start(own_server("jwt-only", None)),
        Kind::JwtSpec => start(own_server("jwt-only-spec", None)),
        Kind::UncachedBearer | Kind::UncachedSession => {
            start(own_server("crudauth-uncached", db.as_ref()))
        }
        Kind::JwtMinimal => start(own_server("jwt-minimal", db.as_ref())),
        Kind::JwtAll => start(own_server("jwt-minimal-all", db.as_ref())),
        Kind::AxumLogin => {
            let mut command = Command::new(peer);
            command
                .env("DATABASE_URL", &db.as_ref().expect("a database").url)
                .env("BENCH_EMAIL", EMAIL)
                .env("BENCH_PASSWORD", PASSWORD);
            start(command)
        }
        Kind::TunedBearer | Kind::TunedSession => start(own_server("crudauth-tuned", db.as_ref())),
        _ => start(own_server("crudauth", db.as_ref())),
    };
    let server = match started {
        Ok(server) => server,
        Err(err) => {
            if let Some(db) = db {
                db.remove().await;
            }
            return Err(err);
        }
    };
    let req = match kind {
        Kind::Bare => Ok(Req::get("/me")),
        Kind::JwtMinimal | Kind::JwtAll | Kind::JwtOnly => {
            Ok(Req::get("/me").header(AUTHORIZATION, &format!("Bearer {}", mint_jwt())))
        }
        Kind::JwtSpec => {
            Ok(Req::get("/me").header(AUTHORIZATION, &format!("Bearer {}", mint_spec_jwt())))
        }
        Kind::AxumLogin => session_cookie(&server)
            .await
            .map(|cookie| Req::get("/me").header(COOKIE, &cookie)),
        Kind::CrudauthSession | Kind::TunedSession | Kind::UncachedSession => {
            match register(&server).await {
                Ok(()) => session_cookie(&server)
                    .await
                    .map(|cookie| Req::get("/me").header(COOKIE, &cookie)),
                Err(err) => Err(err),
            }
        }
        Kind::CrudauthBearer
        | Kind::PairPlain
        | Kind::PairAuthed
        | Kind::TunedBearer
        | Kind::UncachedBearer => match register(&server).await {
            Ok(()) => bearer_token(&server)
                .await
                .map(|token| Req::get("/me").header(AUTHORIZATION, &format!("Bearer {token}"))),
            Err(err) => Err(err),
        },
    };
    match req {
        Ok(req) => Ok((server, db, req)),
        Err(err) => {
            drop(server);
            if let Some(db) = db {
                db.remove().await;
            }
            Err(err)
        }
    }
}

/// Builds the axum-login peer (its own workspace) into this target dir.
pub(super) fn build_peer() -> Result<PathBuf, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("axum-login-peer/Cargo.toml");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the target directory")?
        .to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("building the axum-login peer ({})", manifest.display());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the axum-login peer failed: {status}"));
    }
    Ok(target.join("release").join("axum-login-peer"))
}
