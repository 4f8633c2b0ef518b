//! Access tokens: HS256 JWTs with the algorithm pinned server-side and every
//! claim validated with zero leeway.
//!
//! A token that passed verification is remembered (when the principal cache
//! is on, with its TTL and a twentieth of its capacity): the same bytes
//! presented again are recognised by their signature and a comparison of
//! the signed part, and only the time claims are checked again. Decoding
//! and validating the ten claims of an access token costs more than the
//! rest of a cached request. The keys never change while the process runs,
//! so nothing but time can end a remembered verdict.

use std::sync::{Arc, Once};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::cache::Table;
use crate::config::CrudAuthConfig;
use crate::error::{AuthError, ConfigError};
use crate::tokens::now;

/// Installs jsonwebtoken's RustCrypto provider once per process, so that a
/// second backend enabled elsewhere in the dependency tree cannot leave it
/// without a default (which panics at the first encode).
pub(crate) fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
    });
}

/// Signing and verification keys with the issuer and audience in force.
pub(crate) struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    audience: String,
    /// Built once: every request validates against the same rules.
    validation: Validation,
    /// Tokens already verified, by signature; `None` when caching is off.
    seen: Option<Table<Mac, Verified>>,
}

/// An HS256 signature, the key of verified tokens. Equality is constant
/// time: a lookup must not tell how much of a guess matched.
struct Mac([u8; 32]);

impl std::hash::Hash for Mac {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Consistent with the constant-time equality: equal bytes, equal
        // hashes.
        self.0.hash(state);
    }
}

impl PartialEq for Mac {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Mac {}

/// The memo of verified tokens holds a twentieth of the principal cache's
/// capacity: an entry costs about 700 bytes (mostly the token's signed
/// part), more than the principal it resolves to, and only the tokens in
/// use right now gain from it. A token it cannot hold is decoded again.
const SEEN_SHARE: u64 = 20;

/// A token's signed part and its signature, when the signature is one an
/// HS256 key could have made; `None` leaves the token to full verification.
fn split_signed(token: &str) -> Option<(&[u8], Mac)> {
    let (signed, signature) = token.rsplit_once('.')?;
    let mut mac = [0; 32];
    URL_SAFE_NO_PAD
        .decode_slice(signature, &mut mac)
        .ok()
        .filter(|n| *n == mac.len())?;
    Some((signed.as_bytes(), Mac(mac)))
}

/// Byte equality in time that depends on the length only.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && std::hint::black_box(a.iter().zip(b).fold(0, |d, (x, y)| d | (x ^ y))) == 0
}

impl Keys {
    pub(crate) fn new(secret: &[u8], config: &CrudAuthConfig) -> Result<Self, ConfigError> {
        install_provider();
        let weak = |_| ConfigError::WeakSecret(secret.len());
        Ok(Self {
            encoding: EncodingKey::from_secret(secret).map_err(weak)?,
            decoding: DecodingKey::from_secret(secret).map_err(weak)?,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            validation: validation(&config.issuer, &config.audience),
            seen: (!config.cache_ttl.is_zero()).then(|| {
                let capacity = config.cache_capacity / SEEN_SHARE;
                Table::new(
                    config.cache_ttl,
                    usize::try_from(capacity).unwrap_or(usize::MAX),
                )
            }),
        })
    }
}

fn validation(issuer: &str, audience: &str) -> Validation {
    // The algorithm comes from our configuration, never from the token's
    // header: a token announcing `none`, HS512 or RS256 is refused.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    validation
}

/// The only accepted `typ` claim of an access token.
const ACCESS: &str = "access";

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub typ: String,
    pub scope: String,
    pub sid: String,
}

/// What the bearer path reads of a verified access token. The other
/// claims are checked by the validation rules and not kept: a request pays
/// for no allocation it does not use.
#[derive(Debug, Deserialize)]
pub(crate) struct Verified {
    pub sub: String,
    pub iat: i64,
    exp: i64,
    nbf: i64,
    /// The part of the token its signature covers, kept when the token is
    /// remembered: a remembered signature vouches for these bytes only.
    #[serde(skip)]
    signed: Box<[u8]>,
    typ: Typ,
    pub scope: String,
    pub sid: String,
}

/// The `typ` claim: only an access token is accepted.
#[derive(Debug, Deserialize, PartialEq, Eq)]
enum Typ {
    #[serde(rename = "access")]
    Access,
    #[serde(other)]
    Other,
}

/// How a presented token failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// Correctly signed but past `exp`: treated as no token at all.
    Expired,
    /// Anything else: a present, bad credential.
    Invalid(&'static str),
}

impl Keys {
    /// Signs an access token for `sub` in family `sid`.
    pub(crate) fn issue(
        &self,
        sub: &str,
        sid: &str,
        scope: &str,
        ttl_secs: i64,
    ) -> Result<String, AuthError> {
        let at = now();
        let claims = Claims {
            sub: sub.to_owned(),
            exp: at + ttl_secs,
            iat: at,
            nbf: at,
            jti: uuid::Uuid::new_v4().to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            typ: ACCESS.to_owned(),
            scope: scope.to_owned(),
            sid: sid.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(
            |err| {
                tracing::error!(error = %err, "crudauth: signing an access token failed");
                AuthError::Unavailable
            },
        )
    }

    /// Verifies signature, algorithm and every claim; a token verified
    /// before has only its time claims checked again.
    pub(crate) fn verify(&self, token: &str) -> Result<Arc<Verified>, Rejected> {
        let Some((seen, (signed, mac))) = self.seen.as_ref().zip(split_signed(token)) else {
            return self.decode(token).map(Arc::new);
        };
        if let Some(known) = seen.get(&mac)
            && same_bytes(&known.signed, signed)
        {
            known.in_time(now())?;
            return Ok(known);
        }
        let mut claims = self.decode(token)?;
        claims.signed = signed.into();
        let claims = Arc::new(claims);
        seen.insert(mac, claims.clone());
        Ok(claims)
    }

    /// Full verification, with jsonwebtoken.
    fn decode(&self, token: &str) -> Result<Verified, Rejected> {
        let data = jsonwebtoken::decode::<Verified>(token, &self.decoding, &self.validation)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => Rejected::Expired,
                ErrorKind::InvalidSignature => Rejected::Invalid("bad signature"),
                ErrorKind::InvalidAlgorithm => Rejected::Invalid("algorithm not accepted"),
                ErrorKind::ImmatureSignature => Rejected::Invalid("token not valid yet"),
                ErrorKind::InvalidIssuer => Rejected::Invalid("wrong issuer"),
                ErrorKind::InvalidAudience => Rejected::Invalid("wrong audience"),
                ErrorKind::MissingRequiredClaim(_) => Rejected::Invalid("missing claim"),
                _ => Rejected::Invalid("malformed token"),
            })?;
        let claims = data.claims;
        if claims.typ != Typ::Access {
            return Err(Rejected::Invalid("not an access token"));
        }
        claims.in_time(now())?;
        Ok(claims)
    }
}

impl Verified {
    /// The time claims at `at`, as jsonwebtoken reads them with no leeway:
    /// expired once `exp` is in the past, immature while `nbf` is ahead.
    fn in_time(&self, at: i64) -> Result<(), Rejected> {
        if self.exp < at {
            return Err(Rejected::Expired);
        }
        if self.nbf > at {
            return Err(Rejected::Invalid("token not valid yet"));
        }
        if self.iat > at {
            return Err(Rejected::Invalid("token issued in the future"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";

    fn keys(cache_ttl: Duration) -> Keys {
        let config = CrudAuthConfig {
            cache_ttl,
            ..CrudAuthConfig::default()
        };
        Keys::new(SECRET, &config).unwrap()
    }

    #[test]
    fn a_token_seen_before_is_served_from_memory() {
        let keys = keys(Duration::from_secs(60));
        let token = keys.issue("42", "family", "a", 600).unwrap();
        let first = keys.verify(&token).unwrap();
        let again = keys.verify(&token).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second verification decoded"
        );

        let off = self::keys(Duration::ZERO);
        let token = off.issue("42", "family", "a", 600).unwrap();
        let first = off.verify(&token).unwrap();
        assert!(!Arc::ptr_eq(&first, &off.verify(&token).unwrap()));
    }

    #[test]
    fn a_full_memo_evicts_and_decodes_again() {
        let config = CrudAuthConfig {
            cache_ttl: Duration::from_secs(60),
            cache_capacity: 40,
            ..CrudAuthConfig::default()
        };
        let keys = Keys::new(SECRET, &config).unwrap();
        let tokens: Vec<String> = (0..50)
            .map(|n| keys.issue(&n.to_string(), "family", "a", 600).unwrap())
            .collect();
        for _ in 0..2 {
            for (n, token) in tokens.iter().enumerate() {
                assert_eq!(keys.verify(token).unwrap().sub, n.to_string());
            }
        }
        let seen = keys.seen.as_ref().unwrap();
        let held = tokens
            .iter()
            .filter(|t| seen.get(&split_signed(t).unwrap().1).is_some())
            .count();
        // The documented share: a twentieth of the cache's capacity.
        let room = (config.cache_capacity / 20) as usize;
        assert!(
            (1..=room).contains(&held),
            "{held} tokens held with room for {room}"
        );
    }

    #[test]
    fn a_remembered_signature_vouches_for_its_own_bytes_only() {
        let keys = keys(Duration::from_secs(60));
        let token = keys.issue("42", "family", "a", 600).unwrap();
        keys.verify(&token).unwrap();
        let mut parts = token.split('.');
        let (head, payload, signature) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let mut tampered = claims.clone();
        tampered["sub"] = "1".into();
        tampered["scope"] = "a admin".into();
        let tampered = URL_SAFE_NO_PAD.encode(tampered.to_string());
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        for forged in [
            format!("{head}.{tampered}.{signature}"),
            format!("{none}.{payload}.{signature}"),
            format!("{head}.{payload}x.{signature}"),
            format!("{head}{payload}.{signature}"),
            format!(".{signature}"),
        ] {
            assert!(
                matches!(keys.verify(&forged), Err(Rejected::Invalid(_))),
                "{forged} accepted on a remembered signature"
            );
        }
        assert_eq!(keys.verify(&token).unwrap().sub, "42");
    }

    #[test]
    fn a_remembered_token_expires_on_time() {
        let keys = keys(Duration::from_secs(60));
        // Valid through the second of its `exp`, as jsonwebtoken reads it:
        // a second of life is room enough to verify it once.
        let token = keys.issue("42", "family", "a", 1).unwrap();
        let claims = keys.verify(&token).expect("verified before its exp");
        let (_, mac) = split_signed(&token).unwrap();
        assert!(keys.seen.as_ref().unwrap().get(&mac).is_some());
        while now() <= claims.exp {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(keys.verify(&token).unwrap_err(), Rejected::Expired);
    }

    #[test]
    fn time_claims_read_as_jsonwebtoken_reads_them() {
        let at = 1_000;
        let claims = |exp, nbf, iat| Verified {
            sub: "42".into(),
            iat,
            exp,
            nbf,
            typ: Typ::Access,
            scope: String::new(),
            sid: "family".into(),
            signed: Box::default(),
        };
        assert_eq!(claims(at, at, at).in_time(at), Ok(()));
        assert_eq!(claims(at - 1, at, at).in_time(at), Err(Rejected::Expired));
        assert!(matches!(
            claims(at + 9, at + 1, at).in_time(at),
            Err(Rejected::Invalid(_))
        ));
        assert!(matches!(
            claims(at + 9, at, at + 1).in_time(at),
            Err(Rejected::Invalid(_))
        ));
    }
}
