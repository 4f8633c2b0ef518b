//! What the command line sets.

use std::path::PathBuf;

/// `all`'s requests per server and round. A cached server answers about
/// 100 000 a second on this machine: at 30 000 a round lasted a third of a
/// second and one scheduling hiccup could decide its ratio (single rounds
/// of crudauth-bearer ÷ jwt-only ranged 0.55–1.60; at 100 000, 0.85–1.13).
pub const ALL_REQUESTS: usize = 100_000;

/// The knobs of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Measured requests per server and round.
    pub requests: usize,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Each server is measured this many times (interleaved); the median
    /// round is reported.
    pub rounds: usize,
    /// Logins per login measurement.
    pub logins: usize,
    pub postgres: bool,
    /// A prebuilt axum-login peer; built with cargo when absent.
    pub peer: Option<PathBuf>,
    /// Only the servers whose name contains one of these.
    pub only: Vec<String>,
    /// Also measure crudauth with a tuned database pool (diagnostic rows).
    pub tuned: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            requests: 30_000,
            connections: 16,
            rounds: 5,
            logins: 120,
            postgres: true,
            peer: None,
            only: Vec::new(),
            tuned: false,
        }
    }
}
