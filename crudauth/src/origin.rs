//! Web origins (scheme, host, port), compared as browsers compare them, for
//! the `Origin` check and the public-origin setting.

use std::net::IpAddr;

use axum::http::Uri;

/// A parsed origin: lowercase scheme and host, and the port (explicit, or
/// the scheme's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Parses `scheme://host[:port]` (a trailing `/` allowed). Anything else,
    /// including `null`, a path or user info, is not an origin.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_end_matches('/');
        let uri: Uri = text.parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let authority = uri.authority()?;
        if authority.as_str().contains('@')
            || !matches!(uri.path(), "" | "/")
            || uri.query().is_some()
        {
            return None;
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        Some(Self {
            scheme,
            host,
            port: authority.port_u16(),
        })
    }

    /// The origin of a request reaching `authority` (a `Host` header or the
    /// URI authority of an HTTP/2 request) over `scheme`.
    pub(crate) fn of_authority(scheme: &str, authority: &str) -> Option<Self> {
        Self::parse(&format!("{scheme}://{authority}"))
    }

    fn effective_port(&self) -> Option<u16> {
        self.port.or(match self.scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        })
    }

    /// Whether `presented` (a request's `Origin`) is this origin: scheme,
    /// host and port all equal. A loopback host also matches over plain
    /// `http`, as browsers treat loopback as a secure context.
    pub(crate) fn admits(&self, presented: &Origin) -> bool {
        let same = |own: &Origin| {
            own.scheme == presented.scheme
                && own.host == presented.host
                && own.effective_port() == presented.effective_port()
        };
        same(self)
            || (self.is_loopback()
                && presented.scheme == "http"
                && same(&Origin {
                    scheme: "http".to_owned(),
                    ..self.clone()
                }))
    }

    fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback())
    }
}

/// `target` if it is a path on this origin, else `/`: `/x` is kept;
/// `//x` and `/\x` (which browsers read as another host), any scheme,
/// and control characters are not.
pub(crate) fn safe_redirect(target: Option<&str>) -> String {
    let Some(target) = target else {
        return "/".to_owned();
    };
    let bytes = target.as_bytes();
    let safe = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && target.len() <= 2048
        && !target.chars().any(|c| c.is_control() || c == '\\');
    if safe {
        target.to_owned()
    } else {
        "/".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{Origin, safe_redirect};

    #[test]
    fn only_same_origin_paths_are_kept() {
        for kept in ["/", "/x", "/account?tab=1#top", "/a/b"] {
            assert_eq!(safe_redirect(Some(kept)), kept);
        }
        for refused in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/x\\y",
            "/\t/evil.example",
        ] {
            assert_eq!(safe_redirect(Some(refused)), "/", "{refused:?}");
        }
        assert_eq!(safe_redirect(None), "/");
    }

    fn admits(own: &str, presented: &str) -> bool {
        Origin::parse(own)
            .unwrap()
            .admits(&Origin::parse(presented).unwrap())
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        assert!(admits("https://app.example", "https://APP.example/"));
        assert!(admits("https://app.example", "https://app.example:443"));
        assert!(!admits("https://app.example", "http://app.example"));
        assert!(!admits("https://app.example", "https://app.example:8443"));
        assert!(!admits("https://app.example", "https://evil.example"));
        assert!(!admits("http://app.example", "https://app.example"));
    }

    #[test]
    fn loopback_hosts_accept_plain_http() {
        for host in [
            "localhost:3000",
            "127.0.0.1:3000",
            "127.9.9.9:3000",
            "[::1]:3000",
        ] {
            assert!(
                admits(&format!("https://{host}"), &format!("http://{host}")),
                "{host}"
            );
        }
        assert!(admits("https://localhost", "http://localhost"));
        assert!(!admits("https://127.0.0.1:3000", "http://127.0.0.1:3001"));
    }

    #[test]
    fn only_origins_parse() {
        for text in [
            "null",
            "",
            "app.example",
            "https://",
            "https://u:p@app.example",
            "https://app.example/path",
            "https://app.example?q",
        ] {
            assert_eq!(Origin::parse(text), None, "{text:?}");
        }
    }
}
