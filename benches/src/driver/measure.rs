//! One measured run of `GET /me` against a running server.

use std::sync::Arc;
use std::time::Duration;

use super::Options;
use crate::load::{self, Plan, Req, Stats};
use crate::process::Server;

/// One measured run of one server.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    pub(super) stats: Stats,
    pub(super) rss_kib: Option<u64>,
}

fn get_plan(options: &Options) -> Plan {
    Plan {
        requests: options.requests,
        connections: options.connections,
        limit: Duration::from_secs(120),
        pace: None,
    }
}

/// Warm-up, then the measured run with the peak RSS of the run alone.
pub(super) async fn measure(server: &Server, req: &Req, options: &Options) -> Sample {
    let warm = Plan {
        requests: (options.requests / 10).max(200),
        ..get_plan(options)
    };
    let r = req.clone();
    load::drive(server.addr, &warm, Arc::new(move |_| r.clone()), None).await;
    server.reset_peak_rss();
    let r = req.clone();
    let stats = load::drive(
        server.addr,
        &get_plan(options),
        Arc::new(move |_| r.clone()),
        None,
    )
    .await;
    Sample {
        rss_kib: server.peak_rss_kib(),
        stats,
    }
}
