//! Who is asking: the client address (the socket peer, or what the trusted
//! proxies saw), for session metadata, lockout and throttling.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// The client's address: the socket peer, or with `hops = N > 0` the N-th
/// raw `X-Forwarded-For` entry from the right (each trusted proxy appends
/// the address it saw, so entries further left are client-controlled).
///
/// Every comma-separated entry of every header line counts, parsable or
/// not: skipping one the proxy wrote in a form we do not read (`ip:port`)
/// would shift the count onto an entry the client wrote. A chain shorter
/// than `hops` yields its left-most entry, and a chosen entry that is not
/// an address yields the socket peer. IPv4-mapped IPv6 addresses are the
/// IPv4 address, so that one client has one address whatever the stack.
pub(crate) fn client_ip(parts: &Parts, hops: usize) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical());
    if hops == 0 {
        return peer;
    }
    let chain: Vec<&[u8]> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|line| line.as_bytes().split(|b| *b == b','))
        .collect();
    let Some(chosen) = chain.get(chain.len().saturating_sub(hops)) else {
        return peer;
    };
    std::str::from_utf8(chosen)
        .ok()
        .and_then(forwarded_entry)
        .map(|ip| ip.to_canonical())
        .or(peer)
}

/// One `X-Forwarded-For` entry: `ip`, `ip:port`, `[v6]` or `[v6]:port`.
fn forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|v6| v6.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
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

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};

    use axum::extract::ConnectInfo;
    use axum::http::Request;

    use super::{client_ip, forwarded_entry};

    const PEER: &str = "192.0.2.1";

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn client(lines: &[&[u8]], hops: usize) -> Option<IpAddr> {
        let mut request = Request::builder();
        for line in lines {
            request = request.header("x-forwarded-for", *line);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        let peer: SocketAddr = format!("{PEER}:4000").parse().unwrap();
        parts.extensions.insert(ConnectInfo(peer));
        client_ip(&parts, hops)
    }

    #[test]
    fn entries_may_carry_ports_and_brackets() {
        assert_eq!(forwarded_entry(" 203.0.113.7 "), ip("203.0.113.7"));
        assert_eq!(forwarded_entry("203.0.113.7:5555"), ip("203.0.113.7"));
        assert_eq!(forwarded_entry("2001:db8::1"), ip("2001:db8::1"));
        assert_eq!(forwarded_entry("[2001:db8::1]"), ip("2001:db8::1"));
        assert_eq!(forwarded_entry("[2001:db8::1]:443"), ip("2001:db8::1"));
        for garbage in [
            "",
            "unknown",
            "_hidden",
            "[2001:db8::1",
            "1.2.3.4:port",
            "[1.2.3.4]",
        ] {
            assert_eq!(forwarded_entry(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn the_nth_raw_entry_from_the_right_is_the_client() {
        let chain: &[u8] = b"198.51.100.1, 203.0.113.7:5555, 10.0.0.2";
        assert_eq!(client(&[chain], 1), ip("10.0.0.2"));
        assert_eq!(client(&[chain], 2), ip("203.0.113.7"));
        assert_eq!(client(&[chain], 3), ip("198.51.100.1"));
    }

    #[test]
    fn unparsable_entries_still_count() {
        // The proxy's own entry is unreadable: the spoofed entry left of it
        // must not move into its place.
        assert_eq!(client(&[b"198.51.100.1, unknown"], 1), ip(PEER));
        assert_eq!(client(&[b"198.51.100.1, , 10.0.0.2"], 2), ip(PEER));
        assert_eq!(client(&[b"198.51.100.1, \xff\xfe, 10.0.0.2"], 2), ip(PEER));
    }

    #[test]
    fn every_header_line_counts() {
        let lines: &[&[u8]] = &[b"198.51.100.1", b"203.0.113.7, 10.0.0.2"];
        assert_eq!(client(lines, 2), ip("203.0.113.7"));
        assert_eq!(client(lines, 3), ip("198.51.100.1"));
    }

    #[test]
    fn a_short_chain_yields_its_left_most_entry() {
        assert_eq!(client(&[b"203.0.113.7, 10.0.0.2"], 5), ip("203.0.113.7"));
        assert_eq!(client(&[], 1), ip(PEER));
        assert_eq!(client(&[b"203.0.113.7"], 0), ip(PEER));
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        assert_eq!(client(&[b"[::ffff:203.0.113.7]:80"], 1), ip("203.0.113.7"));
        assert_eq!(client(&[b"::ffff:203.0.113.7"], 1), ip("203.0.113.7"));
    }
}
