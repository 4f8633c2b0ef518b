//! Access tokens: HS256 JWTs with the algorithm pinned server-side and every
//! claim validated with zero leeway.

use std::sync::Once;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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

    /// Verifies signature, algorithm and every claim.
    pub(crate) fn verify(&self, token: &str) -> Result<Verified, Rejected> {
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
        if claims.iat > now() {
            return Err(Rejected::Invalid("token issued in the future"));
        }
        Ok(claims)
    }
}
