//! ID token validation (OpenID Connect Core 1.0 section 3.1.3.7): the
//! signature with the provider's published keys, `iss`, `aud` (and `azp`),
//! `exp`, and the `nonce` this browser's flow sent.

use std::fmt;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;

use super::Identity;

/// Clock difference tolerated with the provider's clock.
const LEEWAY_SECS: u64 = 30;

/// Checks ID tokens of one issuer for one client.
#[derive(Debug, Clone)]
pub(crate) struct IdTokenValidator {
    issuer: String,
    client_id: String,
    keys: JwkSet,
}

/// The claims crudauth reads from a valid ID token.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Claims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    aud: serde_json::Value,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "flexible_bool")]
    email_verified: bool,
}

impl Claims {
    pub(crate) fn identity(&self) -> Identity {
        Identity {
            subject: self.sub.clone(),
            email: self.email.clone(),
            email_verified: self.email_verified,
        }
    }
}

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Invalid {
    Malformed,
    /// The token names a key the JWKS does not hold (perhaps rotated in).
    UnknownKey,
    /// `none`, an HMAC algorithm, or one the key is not for.
    Algorithm,
    /// Bad signature, issuer, audience, or expired: jsonwebtoken's verdict.
    Rejected(String),
    Nonce,
    AuthorizedParty,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("not a JWT"),
            Self::UnknownKey => f.write_str("signed with a key the provider does not publish"),
            Self::Algorithm => f.write_str("an algorithm crudauth does not accept for this key"),
            Self::Rejected(why) => write!(f, "{why}"),
            Self::Nonce => f.write_str("the nonce is not the one this sign-in sent"),
            Self::AuthorizedParty => f.write_str("issued to another client (azp)"),
        }
    }
}

/// Asymmetric algorithms only: an HMAC-signed ID token would be keyed with
/// the client secret, which public clients do not have and which the
/// JWKS must never be trusted to supply.
const ACCEPTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl IdTokenValidator {
    pub(crate) fn new(issuer: &str, client_id: &str, keys: JwkSet) -> Self {
        Self {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            keys,
        }
    }

    pub(crate) fn set_keys(&mut self, keys: JwkSet) {
        self.keys = keys;
    }

    /// The claims of `token` if it is valid now for this issuer and client,
    /// and carries `nonce`.
    pub(crate) fn validate(&self, token: &str, nonce: &str) -> Result<Claims, Invalid> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Invalid::Malformed)?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(Invalid::Algorithm);
        }
        let jwk = match header.kid.as_deref() {
            Some(kid) => self.keys.find(kid),
            // Without a key id, only a JWKS of one key is unambiguous.
            None if self.keys.keys.len() == 1 => self.keys.keys.first(),
            None => None,
        }
        .ok_or(Invalid::UnknownKey)?;
        if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
            return Err(Invalid::Algorithm);
        }
        if let Some(declared) = &jwk.common.key_algorithm
            && format!("{declared:?}") != format!("{:?}", header.alg)
        {
            return Err(Invalid::Algorithm);
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| Invalid::UnknownKey)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| Invalid::Rejected(e.to_string()))?
            .claims;
        let sent = claims.nonce.as_deref().unwrap_or_default();
        if nonce.is_empty() || !bool::from(sent.as_bytes().ct_eq(nonce.as_bytes())) {
            return Err(Invalid::Nonce);
        }
        // Core 1.0 section 3.1.3.7 items 4 and 5: with several audiences the
        // token must say it was issued to this client.
        let several = claims.aud.as_array().is_some_and(|a| a.len() > 1);
        if (several || claims.azp.is_some())
            && claims.azp.as_deref() != Some(self.client_id.as_str())
        {
            return Err(Invalid::AuthorizedParty);
        }
        Ok(claims)
    }
}

/// A boolean claim, also as the string `"true"` some providers send.
pub(crate) fn flexible_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flexible {
        Bool(bool),
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Flexible::deserialize(d)? {
        Flexible::Bool(b) => b,
        Flexible::Text(s) => s.eq_ignore_ascii_case("true"),
        Flexible::Other(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    /// Two P-256 keys (PKCS#8) made for these tests: `a` is published, `b`
    /// is not.
    const KEY_A: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFjJRmMn1lRsFx6Om
QoXcBDTcSZ23G23U0avT7QNS7uKhRANCAAQq83M/Z6cm3d+YYpwv46QbF0RSPI88
ZDiQ0QgO2F+KyYyTnq+J+182bHT7m4Uu9dxZNsA9eT/V555qhQ0oaSbu
-----END PRIVATE KEY-----";
    const KEY_B: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2Vx5MksWLtfXCyK7
OB1WB17FfXMmLBJEL3gzU0ETONuhRANCAATAAbvmkeGyimRHLYZDvAX9l5pGH/ms
nmu/xMyfNQoQs0FIQADc2fTOEGwsEdS6kE++xurz4IPPgXLakf1Ka8hA
-----END PRIVATE KEY-----";
    const ISSUER: &str = "https://id.example";
    const CLIENT: &str = "my-app";
    const NONCE: &str = "n-0S6_WzA2Mj";

    fn validator() -> IdTokenValidator {
        let jwks: JwkSet = serde_json::from_value(json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "a", "use": "sig", "alg": "ES256",
            "x": "KvNzP2enJt3fmGKcL-OkGxdEUjyPPGQ4kNEIDthfisk",
            "y": "jJOer4n7XzZsdPubhS713Fk2wD15P9XnnmqFDShpJu4"
        }]}))
        .unwrap();
        IdTokenValidator::new(ISSUER, CLIENT, jwks)
    }

    fn claims() -> serde_json::Value {
        let now = crate::tokens::now();
        json!({
            "iss": ISSUER, "aud": CLIENT, "sub": "248289761001", "iat": now, "exp": now + 300,
            "nonce": NONCE, "email": "jane@example.com", "email_verified": true
        })
    }

    fn sign(claims: &serde_json::Value, key: &str, kid: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        use base64::Engine;
        let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let key = EncodingKey::from_ec_der(&der);
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    fn check(claims: &serde_json::Value) -> Result<Claims, Invalid> {
        validator().validate(&sign(claims, KEY_A, "a"), NONCE)
    }

    fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut claims = claims();
        claims[key] = value;
        claims
    }

    #[test]
    fn a_valid_token_gives_the_subject_and_verified_email() {
        let identity = check(&claims()).unwrap().identity();
        assert_eq!(identity.subject, "248289761001");
        assert_eq!(identity.email.as_deref(), Some("jane@example.com"));
        assert!(identity.email_verified);
    }

    #[test]
    fn wrong_audience_is_refused() {
        assert!(matches!(
            check(&with("aud", json!("another-app"))),
            Err(Invalid::Rejected(_))
        ));
        // Several audiences without this client as authorized party.
        assert_eq!(
            check(&with("aud", json!([CLIENT, "another-app"]))).unwrap_err(),
            Invalid::AuthorizedParty
        );
    }

    #[test]
    fn wrong_issuer_is_refused() {
        assert!(matches!(
            check(&with("iss", json!("https://evil.example"))),
            Err(Invalid::Rejected(_))
        ));
    }

    #[test]
    fn wrong_or_missing_nonce_is_refused() {
        assert_eq!(
            check(&with("nonce", json!("another-flow"))).unwrap_err(),
            Invalid::Nonce
        );
        let mut claims = claims();
        claims.as_object_mut().unwrap().remove("nonce");
        assert_eq!(check(&claims).unwrap_err(), Invalid::Nonce);
    }

    #[test]
    fn an_expired_token_is_refused() {
        let past = crate::tokens::now() - 600;
        let mut claims = with("exp", json!(past));
        claims["iat"] = json!(past - 300);
        assert!(matches!(check(&claims), Err(Invalid::Rejected(_))));
    }

    #[test]
    fn a_bad_signature_is_refused() {
        // Signed by an unpublished key under the published key's id.
        let token = sign(&claims(), KEY_B, "a");
        assert!(matches!(
            validator().validate(&token, NONCE),
            Err(Invalid::Rejected(_))
        ));
        // A tampered payload.
        let token = sign(&claims(), KEY_A, "a");
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = crate::tokens::b64(
            serde_json::to_string(&with("sub", json!("someone-else")))
                .unwrap()
                .as_bytes(),
        );
        parts[1] = &forged;
        assert!(matches!(
            validator().validate(&parts.join("."), NONCE),
            Err(Invalid::Rejected(_))
        ));
        // A key id the provider does not publish.
        let token = sign(&claims(), KEY_B, "b");
        assert_eq!(
            validator().validate(&token, NONCE).unwrap_err(),
            Invalid::UnknownKey
        );
    }

    #[test]
    fn hmac_and_none_tokens_are_refused() {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"the client secret").unwrap(),
        )
        .unwrap();
        assert_eq!(
            validator().validate(&token, NONCE).unwrap_err(),
            Invalid::Algorithm
        );
        let unsigned = format!(
            "{}.{}.",
            crate::tokens::b64(br#"{"alg":"none","kid":"a"}"#),
            crate::tokens::b64(claims().to_string().as_bytes())
        );
        assert!(validator().validate(&unsigned, NONCE).is_err());
    }
}
