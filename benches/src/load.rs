//! The load generator: a fixed number of requests spread over several
//! keep-alive HTTP/1.1 connections, each latency recorded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One request to send, and the status that counts as success.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub expect: StatusCode,
}

impl Req {
    pub fn get(path: &str) -> Self {
        Self {
            method: Method::GET,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            expect: StatusCode::OK,
        }
    }

    pub fn post_json(path: &str, body: &serde_json::Value) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Self {
            method: Method::POST,
            path: path.to_owned(),
            headers,
            body: Bytes::from(body.to_string()),
            expect: StatusCode::OK,
        }
    }

    pub fn header(mut self, name: http::header::HeaderName, value: &str) -> Self {
        self.headers
            .insert(name, HeaderValue::from_str(value).expect("a valid header"));
        self
    }

    pub fn expect(mut self, status: StatusCode) -> Self {
        self.expect = status;
        self
    }
}

/// How much load, over how many connections, for how long at most.
#[derive(Debug, Clone)]
pub struct Plan {
    pub requests: usize,
    pub connections: usize,
    /// A run stops here even when requests remain.
    pub limit: Duration,
    /// One request per `pace` per connection (an open-ish loop for latency
    /// probes); `None` sends the next request as soon as one returns.
    pub pace: Option<Duration>,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Latencies of the successful requests, sorted.
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Stats {
    pub fn ok(&self) -> usize {
        self.latencies.len()
    }

    pub fn rps(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0..=1) of the successful latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

type MakeReq = dyn Fn(usize) -> Req + Send + Sync;

/// Sends `plan.requests` requests built by `make(index)` to `addr`, stopping
/// early at `plan.limit` or when `stop` is raised.
pub async fn drive(
    addr: SocketAddr,
    plan: &Plan,
    make: Arc<MakeReq>,
    stop: Option<Arc<AtomicBool>>,
) -> Stats {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + plan.limit;
    let mut tasks = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        let next = next.clone();
        let make = make.clone();
        let stop = stop.clone();
        let total = plan.requests;
        let pace = plan.pace;
        tasks.push(tokio::spawn(async move {
            connection(addr, next, total, deadline, pace, make, stop).await
        }));
    }
    let mut stats = Stats::default();
    for task in tasks {
        let part = task.await.unwrap_or_else(|err| Stats {
            errors: 1,
            first_error: Some(format!("load task failed: {err}")),
            ..Stats::default()
        });
        stats.latencies.extend(part.latencies);
        stats.errors += part.errors;
        if stats.first_error.is_none() {
            stats.first_error = part.first_error;
        }
    }
    stats.elapsed = started.elapsed();
    stats.latencies.sort_unstable();
    stats
}

async fn connection(
    addr: SocketAddr,
    next: Arc<AtomicUsize>,
    total: usize,
    deadline: Instant,
    pace: Option<Duration>,
    make: Arc<MakeReq>,
    stop: Option<Arc<AtomicBool>>,
) -> Stats {
    let mut stats = Stats::default();
    let fail = |stats: &mut Stats, why: String| {
        stats.errors += 1;
        stats.first_error.get_or_insert(why);
    };
    let mut sender = match open(addr).await {
        Ok(sender) => sender,
        Err(why) => {
            fail(&mut stats, why);
            return stats;
        }
    };
    let mut ticks = pace.map(|every| {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    loop {
        if Instant::now() >= deadline || stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
        if let Some(ticks) = ticks.as_mut() {
            ticks.tick().await;
        }
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= total {
            break;
        }
        let req = make(index);
        let expect = req.expect;
        let request = build(req);
        let began = Instant::now();
        match exchange(&mut sender, request).await {
            Ok(status) if status == expect => stats.latencies.push(began.elapsed()),
            Ok(status) => fail(&mut stats, format!("status {status}, expected {expect}")),
            Err(why) => {
                fail(&mut stats, why);
                // The connection may be gone: open another one.
                match open(addr).await {
                    Ok(fresh) => sender = fresh,
                    Err(why) => {
                        fail(&mut stats, why);
                        return stats;
                    }
                }
            }
        }
    }
    stats
}

pub(crate) type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One keep-alive HTTP/1.1 connection.
pub(crate) async fn open(addr: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn build(req: Req) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(req.body));
    *request.method_mut() = req.method;
    *request.uri_mut() = req.path.parse().expect("a valid path");
    *request.headers_mut() = req.headers;
    request
        .headers_mut()
        .insert(HOST, HeaderValue::from_static("127.0.0.1"));
    request
}

async fn exchange(
    sender: &mut Sender,
    request: Request<Full<Bytes>>,
) -> Result<StatusCode, String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(status)
}

/// One request on a fresh connection, for setup steps; returns the status,
/// the headers and the body.
pub async fn once(addr: SocketAddr, req: Req) -> Result<(StatusCode, HeaderMap, Bytes), String> {
    let mut sender = open(addr).await?;
    sender.ready().await.map_err(|e| e.to_string())?;
    let response = sender
        .send_request(build(req))
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((parts.status, parts.headers, body))
}
