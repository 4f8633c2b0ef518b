//! Property tests of every parser that reads what a client sends: the body
//! reader, the `Cookie` header, `Authorization`, JWT decoding and
//! `X-Forwarded-For`. Arbitrary input never panics, and every refusal is
//! one of the documented 4xx answers. (`cargo fuzz` needs a nightly
//! toolchain, which this project does not use.)
//!
//! `CRUDAUTH_FUZZ_CASES` sets the cases per property (default 1000).

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, Request, StatusCode};
use proptest::prelude::*;
use serde::Deserialize;

use crate::config::CrudAuthConfig;
use crate::jwt::{Keys, Rejected};
use crate::transport::bearer::bearer_token;
use crate::{body, client, cookies};

/// The default body limit of the built-in routes.
const LIMIT: usize = 64 * 1024;

fn config() -> ProptestConfig {
    let cases = std::env::var("CRUDAUTH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    ProptestConfig {
        cases,
        // Failures are shrunk and reported; none are kept on disk.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Bytes a header value may hold (visible ASCII, tab, space, obs-text).
fn header_value() -> impl Strategy<Value = HeaderValue> {
    proptest::collection::vec(
        prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff],
        0..200,
    )
    .prop_map(|bytes| HeaderValue::from_bytes(&bytes).expect("valid header bytes"))
}

fn parts_with(headers: &[(axum::http::HeaderName, HeaderValue)]) -> Parts {
    let mut request = Request::builder().uri("/").body(()).unwrap();
    for (name, value) in headers {
        request.headers_mut().append(name, value.clone());
    }
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 4000))));
    request.into_parts().0
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
struct Login {
    username: String,
    password: String,
    #[serde(default, deserialize_with = "body::flexible_bool")]
    remember_me: bool,
}

fn content_type() -> impl Strategy<Value = Option<HeaderValue>> {
    prop_oneof![
        Just(None),
        Just(Some(HeaderValue::from_static("application/json"))),
        Just(Some(HeaderValue::from_static(
            "application/json; charset=utf-8"
        ))),
        Just(Some(HeaderValue::from_static(
            "application/merge-patch+json"
        ))),
        Just(Some(HeaderValue::from_static(
            "application/x-www-form-urlencoded"
        ))),
        Just(Some(HeaderValue::from_static("text/plain"))),
        header_value().prop_map(Some),
    ]
}

/// JSON-ish and form-ish bodies, and plain noise.
fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        "\\{(\"(username|password|remember_me|csrf_token)\": ?(\"[^\"]{0,20}\"|true|1|null|\\[\\]),? ?){0,4}\\}?"
            .prop_map(String::into_bytes),
        "((username|password|remember_me|csrf_token)=[a-z%0-9+&=]{0,12}&?){0,4}"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_body_reader_answers_a_documented_status(
        ct in content_type(),
        raw in body_bytes(),
        declared in proptest::option::of(0u64..200_000),
    ) {
        let mut headers = HeaderMap::new();
        if let Some(ct) = ct {
            headers.insert(CONTENT_TYPE, ct);
        }
        if let Some(len) = declared {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut extensions = Extensions::new();
        let outcome = runtime.block_on(body::read::<Login>(
            &headers,
            &mut extensions,
            Body::from(raw),
            LIMIT,
        ));
        if let Err(err) = outcome {
            let status = err.status();
            prop_assert!(
                [
                    StatusCode::BAD_REQUEST,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ]
                .contains(&status),
                "{status} for {err}"
            );
            if declared.is_some_and(|len| len > LIMIT as u64) {
                prop_assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
            }
        }
    }

    #[test]
    fn cookie_parsing_finds_the_named_value_among_noise(
        noise in proptest::collection::vec(header_value(), 0..4),
        value in "[A-Za-z0-9_-]{0,64}",
        position in 0usize..4,
    ) {
        let name = "__Host-session_id";
        let mut headers = HeaderMap::new();
        for v in &noise {
            headers.append(COOKIE, v.clone());
            let _ = cookies::find(&headers, name);
        }
        let ours = format!("{name}={value}");
        let mut lines: Vec<HeaderValue> = noise
            .iter()
            .filter(|v| !v.as_bytes().windows(name.len()).any(|w| w == name.as_bytes()))
            .cloned()
            .collect();
        lines.insert(position.min(lines.len()), HeaderValue::from_str(&ours).unwrap());
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(COOKIE, line);
        }
        prop_assert_eq!(cookies::find(&headers, name), Some(value));
    }

    #[test]
    fn authorization_parsing_takes_only_bearer_credentials(value in prop_oneof![
        header_value(),
        "(?i:bearer)[ \t]{0,3}[ -~]{0,80}".prop_map(|s| HeaderValue::from_str(&s).unwrap()),
    ]) {
        let parts = parts_with(&[(AUTHORIZATION, value.clone())]);
        match bearer_token(&parts) {
            None => {
                let text = value.to_str().unwrap();
                let scheme = text.trim().split(' ').next().unwrap_or("");
                prop_assert!(!scheme.eq_ignore_ascii_case("bearer"));
            }
            Some(Ok(token)) => {
                prop_assert!(!token.is_empty());
                prop_assert_eq!(token, token.trim());
                let text = value.to_str().unwrap().trim().to_ascii_lowercase();
                prop_assert!(text.starts_with("bearer "));
            }
            Some(Err(err)) => prop_assert_eq!(err.status(), StatusCode::UNAUTHORIZED),
        }
    }

    #[test]
    fn jwt_decoding_refuses_every_forgery(
        noise in "[A-Za-z0-9_.=-]{0,300}",
        flip in any::<prop::sample::Index>(),
        replacement in "[A-Za-z0-9_-]",
    ) {
        let keys = Keys::new(SECRET, &CrudAuthConfig::default()).unwrap();
        prop_assert!(matches!(keys.verify(&noise), Err(Rejected::Invalid(_))));
        // A real token with one character changed, the real one verified
        // first so that its signature is remembered.
        let token = keys.issue("42", "family", "a b", 600).unwrap();
        prop_assert!(keys.verify(&token).is_ok());
        let at = flip.index(token.len());
        let mut forged = token.clone();
        forged.replace_range(at..=at, &replacement);
        if forged != token {
            match keys.verify(&forged) {
                Err(Rejected::Invalid(_)) => {}
                // base64url's last character has spare bits: a change there
                // may decode to the same signature.
                Ok(claims) => prop_assert!(at >= token.len() - 2 && claims.sub == "42"),
                Err(Rejected::Expired) => prop_assert!(false, "forgery read as expired"),
            }
        }
    }

    /// Built from known entries, the chain's answer is known: the
    /// `hops`-th entry from the right (the left-most of a shorter chain),
    /// as an address whatever form it was written in, or the peer when
    /// that entry is not an address.
    #[test]
    fn x_forwarded_for_picks_the_hops_th_entry_from_the_right(
        entries in proptest::collection::vec(
            (any::<[u8; 4]>(), any::<[u16; 8]>(), 0u8..6, 1u16..),
            1..6,
        ),
        split in 0usize..6,
        hops in 1usize..8,
    ) {
        let written: Vec<(String, Option<IpAddr>)> = entries
            .iter()
            .map(|(v4, v6, form, port)| {
                let v4 = std::net::Ipv4Addr::from(*v4);
                let v6 = std::net::Ipv6Addr::from(*v6);
                match form {
                    0 => (v4.to_string(), Some(IpAddr::V4(v4))),
                    1 => (format!("{v4}:{port}"), Some(IpAddr::V4(v4))),
                    2 => (format!(" {v6} "), Some(IpAddr::V6(v6))),
                    3 => (format!("[{v6}]:{port}"), Some(IpAddr::V6(v6))),
                    4 => (format!("[{v6}]"), Some(IpAddr::V6(v6))),
                    _ => ("unknown".to_owned(), None),
                }
            })
            .collect();
        let texts: Vec<&str> = written.iter().map(|(t, _)| t.as_str()).collect();
        // One header line, or two when `split` falls inside the chain.
        let lines = if (1..texts.len()).contains(&split) {
            vec![texts[..split].join(","), texts[split..].join(", ")]
        } else {
            vec![texts.join(",")]
        };
        let headers: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    axum::http::HeaderName::from_static("x-forwarded-for"),
                    HeaderValue::from_str(l).unwrap(),
                )
            })
            .collect();
        let peer: IpAddr = [192, 0, 2, 1].into();
        let chosen = &written[written.len().saturating_sub(hops)];
        let expected = chosen.1.map(|ip| ip.to_canonical()).unwrap_or(peer);
        prop_assert_eq!(
            client::client_ip(&parts_with(&headers), hops),
            Some(expected),
            "{:?} with {} hops",
            lines,
            hops
        );
    }

    /// Whatever the header lines hold, the answer is an address: never a
    /// panic, never none while the peer is known.
    #[test]
    fn x_forwarded_for_of_any_header_value_is_an_address(
        lines in proptest::collection::vec(header_value(), 0..3),
        hops in 0usize..5,
    ) {
        let headers: Vec<_> = lines
            .iter()
            .map(|l| (axum::http::HeaderName::from_static("x-forwarded-for"), l.clone()))
            .collect();
        let ip = client::client_ip(&parts_with(&headers), hops);
        prop_assert!(ip.is_some());
        if hops == 0 || lines.is_empty() {
            prop_assert_eq!(ip, Some(IpAddr::from([192, 0, 2, 1])));
        }
    }
}

const SECRET: &[u8] = b"fuzz-secret-key-of-at-least-32-bytes!!";
