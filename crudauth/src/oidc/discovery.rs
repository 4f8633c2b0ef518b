//! OpenID Connect Discovery 1.0: the issuer's configuration document and
//! its keys, refused unless they describe exactly the issuer asked for.

use std::net::IpAddr;

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::OidcError;

/// The parts of the configuration document crudauth uses.
#[derive(Debug, Deserialize)]
pub(super) struct Document {
    pub issuer: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

/// A checked document and the keys its `jwks_uri` served.
#[derive(Debug)]
pub(super) struct Discovered {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: Option<String>,
    pub keys: JwkSet,
}

/// Whether `url` may be used: `https`, or plain `http` to a loopback host
/// (a provider on the same machine, as in development and tests).
pub(super) fn secure_url(url: &str) -> bool {
    let Ok(url) = Url::parse(url) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        },
        _ => false,
    }
}

pub(super) async fn fetch_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, OidcError> {
    let failed = |reason: String| OidcError::Fetch {
        url: url.to_owned(),
        reason,
    };
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| failed(super::describe(&e)))?;
    if !response.status().is_success() {
        return Err(failed(format!("status {}", response.status())));
    }
    response
        .json()
        .await
        .map_err(|e| failed(format!("not the expected JSON: {}", super::describe(&e))))
}

/// Fetches and checks `issuer`'s document, then its JWKS.
pub(super) async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<Discovered, OidcError> {
    if !secure_url(issuer) {
        return Err(OidcError::InsecureIssuer(issuer.to_owned()));
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let document: Document = fetch_json(http, &url).await?;
    let checked = check(issuer, document)?;
    let keys: JwkSet = fetch_json(http, &checked.jwks_uri).await?;
    Ok(Discovered { keys, ..checked })
}

/// The checks of a document, apart from fetching it.
pub(super) fn check(issuer: &str, document: Document) -> Result<Discovered, OidcError> {
    // OpenID Connect Discovery 1.0 section 4.3: the issuer in the document
    // must be identical to the one the document was fetched for, or one
    // issuer could speak for another.
    if document.issuer != issuer {
        return Err(OidcError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: document.issuer,
        });
    }
    let endpoint = |field: &'static str, value: Option<String>| match value {
        None => Err(OidcError::BadEndpoint {
            field,
            reason: "missing".into(),
        }),
        Some(url) if !secure_url(&url) => Err(OidcError::BadEndpoint {
            field,
            reason: format!("{url:?} is not https (or http on loopback)"),
        }),
        Some(url) => Ok(url),
    };
    if let Some(methods) = &document.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(OidcError::BadEndpoint {
            field: "code_challenge_methods_supported",
            reason: "S256 (PKCE) is not offered".into(),
        });
    }
    Ok(Discovered {
        authorization_endpoint: endpoint(
            "authorization_endpoint",
            document.authorization_endpoint,
        )?,
        token_endpoint: endpoint("token_endpoint", document.token_endpoint)?,
        jwks_uri: endpoint("jwks_uri", document.jwks_uri)?,
        userinfo_endpoint: document
            .userinfo_endpoint
            .map(|url| endpoint("userinfo_endpoint", Some(url)))
            .transpose()?,
        keys: JwkSet { keys: Vec::new() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Google's document as published at
    /// <https://accounts.google.com/.well-known/openid-configuration>
    /// (abridged to the fields crudauth reads and a few it ignores).
    const GOOGLE: &str = r#"{
      "issuer": "https://accounts.google.com",
      "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
      "device_authorization_endpoint": "https://oauth2.googleapis.com/device/code",
      "token_endpoint": "https://oauth2.googleapis.com/token",
      "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
      "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
      "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
      "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token", "none"],
      "subject_types_supported": ["public"],
      "id_token_signing_alg_values_supported": ["RS256"],
      "scopes_supported": ["openid", "email", "profile"],
      "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
      "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "name", "picture", "sub"],
      "code_challenge_methods_supported": ["plain", "S256"],
      "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"]
    }"#;

    fn google() -> Document {
        serde_json::from_str(GOOGLE).unwrap()
    }

    #[test]
    fn googles_published_document_is_accepted() {
        let found = check("https://accounts.google.com", google()).unwrap();
        assert_eq!(found.token_endpoint, "https://oauth2.googleapis.com/token");
        assert_eq!(found.jwks_uri, "https://www.googleapis.com/oauth2/v3/certs");
        assert_eq!(
            found.userinfo_endpoint.as_deref(),
            Some("https://openidconnect.googleapis.com/v1/userinfo")
        );
    }

    #[test]
    fn a_document_for_another_issuer_is_refused() {
        let err = check("https://evil.example", google()).unwrap_err();
        assert!(matches!(err, OidcError::IssuerMismatch { .. }), "{err}");
        // A trailing slash is another issuer too (Discovery 1.0 section 4.3).
        let err = check("https://accounts.google.com/", google()).unwrap_err();
        assert!(matches!(err, OidcError::IssuerMismatch { .. }), "{err}");
    }

    #[test]
    fn missing_or_plain_http_endpoints_are_refused() {
        let mut document = google();
        document.token_endpoint = None;
        let err = check("https://accounts.google.com", document).unwrap_err();
        assert!(err.to_string().contains("token_endpoint"), "{err}");
        let mut document = google();
        document.jwks_uri = Some("http://www.googleapis.com/oauth2/v3/certs".into());
        let err = check("https://accounts.google.com", document).unwrap_err();
        assert!(err.to_string().contains("jwks_uri"), "{err}");
        let mut document = google();
        document.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(check("https://accounts.google.com", document).is_err());
    }

    #[test]
    fn only_loopback_hosts_may_use_plain_http() {
        assert!(secure_url("https://sso.example.com/realms/x"));
        assert!(secure_url("http://127.0.0.1:8080"));
        assert!(secure_url("http://[::1]:8080"));
        assert!(secure_url("http://localhost:8080"));
        assert!(!secure_url("http://sso.example.com"));
        assert!(!secure_url("http://127.0.0.1.evil.example"));
        assert!(!secure_url("ftp://sso.example.com"));
        assert!(!secure_url("not a url"));
    }
}
