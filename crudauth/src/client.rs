//! Who is asking: the client address (the socket peer, or what the trusted
//! proxies saw), for session metadata, lockout and throttling.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// The client's address: the socket peer, or with `hops = N > 0` the N-th
/// address from the right of `X-Forwarded-For` (each trusted proxy appends
/// the address it saw, so entries further left are client-controlled).
pub(crate) fn client_ip(parts: &Parts, hops: usize) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if hops == 0 {
        return peer;
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded
        .len()
        .checked_sub(hops)
        .and_then(|i| forwarded.get(i).copied())
        .or(peer)
}

/// Logs once per process when requests arrive without the socket peer
/// (the app was not served with `into_make_service_with_connect_info`):
/// the per-IP limits then have no address to count.
pub(crate) fn warn_without_peer<B>(request: &axum::http::Request<B>, hops: usize) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    if hops == 0
        && request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none()
    {
        WARNED.call_once(|| {
            tracing::warn!(
                "crudauth: requests carry no client address; serve the app with \
                 `into_make_service_with_connect_info::<SocketAddr>()` so that the \
                 per-IP lockout and registration throttle can count"
            );
        });
    }
}
