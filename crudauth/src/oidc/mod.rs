//! Sign in with an OpenID provider (any issuer, by discovery), GitHub or
//! Google: the provider's endpoints and keys, the authorization request,
//! and the code exchange that ends in a verified [`Identity`]. Nothing here
//! knows crudauth's tables; `routes/oauth.rs` links the identity to a user.
//!
//! The OAuth 2 parts (PKCE, the token request and its errors) are the
//! `oauth2` crate's; the ID token is checked with `jsonwebtoken`, the JWT
//! crate crudauth already pins, against the provider's JWKS.

mod discovery;
mod flow;
mod id_token;
mod userinfo;

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

pub(crate) use flow::{FLOW_SECS, Flow};
pub(crate) use id_token::IdTokenValidator;

/// How long any request to a provider may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest time between two JWKS fetches for an unknown key id, so
/// that tokens naming made-up keys cannot make us hammer the provider.
const JWKS_REFRESH: Duration = Duration::from_secs(60);

/// Why [`OidcProvider::discover`] (or a preset) refused a provider.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The provider's name is not usable in a URL path.
    #[error("provider name {0:?}: use 1 to 32 characters among a-z, 0-9, '-' and '_'")]
    BadName(String),
    /// The issuer is not an `https` URL (plain `http` only on loopback).
    #[error("issuer {0:?} is not an https URL (plain http is accepted only for a loopback host)")]
    InsecureIssuer(String),
    /// A request to the provider failed.
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// What was fetched.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The discovery document names another issuer than the one asked for.
    #[error(
        "the discovery document of {expected:?} names issuer {found:?}; they must be identical"
    )]
    IssuerMismatch {
        /// The issuer given to `discover`.
        expected: String,
        /// The document's `issuer`.
        found: String,
    },
    /// The discovery document lacks an endpoint, or gives an unusable one.
    #[error("the discovery document has no usable `{field}`: {reason}")]
    BadEndpoint {
        /// The document's field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The provider's keys cannot check ID tokens.
    #[error("the provider's JWKS has no key crudauth can verify ID tokens with")]
    NoUsableKey,
}

/// An identity provider users can sign in with: an OpenID Connect issuer
/// found by discovery, or a preset ([`github`](Self::github),
/// [`google`](Self::google)). Give it to
/// [`CrudAuthBuilder::oidc_provider`](crate::CrudAuthBuilder::oidc_provider).
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), crudauth::OidcError> {
/// use crudauth::OidcProvider;
///
/// // A confidential client; pass `None` for a public (PKCE-only) client.
/// let keycloak = OidcProvider::discover(
///     "keycloak",
///     "https://sso.example.com/realms/main",
///     "my-app",
///     Some("client-secret"),
/// )
/// .await?;
/// let github = OidcProvider::github("Iv1.0123", "github-secret")?;
/// # let _ = (keycloak, github);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OidcProvider {
    pub(crate) inner: Arc<ProviderInner>,
}

pub(crate) struct ProviderInner {
    name: String,
    client: Client,
    kind: Kind,
    scopes: &'static [&'static str],
    http: reqwest::Client,
}

/// What the provider proves identities with.
enum Kind {
    /// OpenID Connect: an ID token, and the user-info endpoint when the
    /// token lacks the email.
    Oidc {
        validator: RwLock<(IdTokenValidator, Instant)>,
        jwks_uri: String,
        userinfo: Option<String>,
    },
    /// GitHub: plain OAuth 2, then its user API.
    Github { api: String },
}

impl fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcProvider")
            .field("name", &self.inner.name)
            .field("client_id", self.inner.client.client_id())
            .finish_non_exhaustive()
    }
}

/// The `id_token` of a token response (absent from GitHub's).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type Tokens = StandardTokenResponse<IdTokenField, BasicTokenType>;
type Client = oauth2::Client<
    BasicErrorResponse,
    Tokens,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

/// Why a sign-in at the provider failed; the cause goes to the log, the
/// client gets `oauth_failed`.
#[derive(Debug)]
pub(crate) struct SignInFailed(pub String);

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        // The token endpoint must answer, not send us elsewhere (SSRF).
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent("crudauth")
        .build()
        .unwrap_or_default()
}

fn check_name(name: &str) -> Result<(), OidcError> {
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(OidcError::BadName(name.to_owned()))
    }
}

fn client(
    client_id: &str,
    secret: Option<&str>,
    auth_url: &str,
    token_url: &str,
) -> Result<Client, OidcError> {
    let endpoint = |field, reason: url::ParseError| OidcError::BadEndpoint {
        field,
        reason: reason.to_string(),
    };
    let client = oauth2::Client::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(
            AuthUrl::new(auth_url.to_owned()).map_err(|e| endpoint("authorization_endpoint", e))?,
        )
        .set_token_uri(
            TokenUrl::new(token_url.to_owned()).map_err(|e| endpoint("token_endpoint", e))?,
        );
    Ok(match secret {
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.to_owned())),
        None => client,
    })
}

impl OidcProvider {
    /// Finds an OpenID Connect issuer's endpoints and keys from its
    /// `/.well-known/openid-configuration`. `name` is the provider's part
    /// of crudauth's paths (`/oauth/{name}/authorize`); `secret` is `None`
    /// for a public client, which then relies on PKCE alone.
    ///
    /// # Errors
    ///
    /// An [`OidcError`] when the name is unusable, the issuer is not https
    /// (plain http is accepted on loopback), the document or the JWKS
    /// cannot be fetched, the document names another issuer, or an endpoint
    /// is missing.
    pub async fn discover(
        name: &str,
        issuer: &str,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<Self, OidcError> {
        check_name(name)?;
        let http = http_client();
        let found = discovery::discover(&http, issuer).await?;
        Ok(Self {
            inner: Arc::new(ProviderInner {
                name: name.to_owned(),
                client: client(
                    client_id,
                    secret,
                    &found.authorization_endpoint,
                    &found.token_endpoint,
                )?,
                kind: Kind::Oidc {
                    validator: RwLock::new((
                        IdTokenValidator::new(issuer, client_id, found.keys),
                        Instant::now(),
                    )),
                    jwks_uri: found.jwks_uri,
                    userinfo: found.userinfo_endpoint,
                },
                scopes: &["openid", "email"],
                http,
            }),
        })
    }

    /// Google, by discovery of `https://accounts.google.com`, named
    /// `google`.
    ///
    /// # Errors
    ///
    /// As [`discover`](Self::discover).
    pub async fn google(client_id: &str, secret: &str) -> Result<Self, OidcError> {
        Self::discover("google", GOOGLE_ISSUER, client_id, Some(secret)).await
    }

    /// GitHub (an OAuth 2 app, not OpenID Connect), named `github`: the
    /// identity is the numeric user id of `GET /user`, the email the
    /// primary one of `GET /user/emails` with its `verified` flag.
    ///
    /// # Errors
    ///
    /// None in practice: GitHub's endpoints are fixed.
    pub fn github(client_id: &str, secret: &str) -> Result<Self, OidcError> {
        Ok(Self {
            inner: Arc::new(ProviderInner {
                name: "github".to_owned(),
                client: client(
                    client_id,
                    Some(secret),
                    "https://github.com/login/oauth/authorize",
                    "https://github.com/login/oauth/access_token",
                )?,
                kind: Kind::Github {
                    api: "https://api.github.com".to_owned(),
                },
                scopes: &["read:user", "user:email"],
                http: http_client(),
            }),
        })
    }

    /// The name in crudauth's paths.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Where to send the browser, and what the callback must be given back:
    /// `(url, state, nonce, pkce_verifier)`.
    pub(crate) fn authorize(&self, redirect_uri: &str) -> (String, Flow) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = crate::tokens::random_token();
        let nonce = crate::tokens::random_token();
        let mut request = self
            .inner
            .client
            .authorize_url(|| CsrfToken::new(state.clone()))
            .set_pkce_challenge(challenge)
            .add_scopes(self.inner.scopes.iter().map(|s| Scope::new((*s).into())));
        if matches!(self.inner.kind, Kind::Oidc { .. }) {
            request = request.add_extra_param("nonce", nonce.clone());
        }
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).ok();
        if let Some(redirect) = redirect {
            request = request.set_redirect_uri(Cow::Owned(redirect));
        }
        let (url, _) = request.url();
        let flow = Flow {
            provider: self.inner.name.clone(),
            state,
            nonce,
            verifier: verifier.secret().clone(),
            redirect_to: "/".to_owned(),
            expires_at: 0,
            link_user: None,
        };
        (url.to_string(), flow)
    }

    /// Exchanges `code` (with the flow's PKCE verifier) and proves who
    /// signed in: the ID token's signature, issuer, audience, expiry and
    /// nonce, then the user-info endpoint if the token lacks the email.
    pub(crate) async fn sign_in(
        &self,
        code: &str,
        flow: &Flow,
        redirect_uri: &str,
    ) -> Result<Identity, SignInFailed> {
        let inner = &self.inner;
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| SignInFailed(format!("redirect uri: {e}")))?;
        let tokens: Tokens = inner
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&inner.http)
            .await
            .map_err(|e| SignInFailed(format!("token request: {}", describe(&e))))?;
        let access = tokens.access_token().secret();
        match &inner.kind {
            Kind::Github { api } => userinfo::github(&inner.http, api, access).await,
            Kind::Oidc {
                userinfo: endpoint, ..
            } => {
                let raw = tokens
                    .extra_fields()
                    .id_token
                    .as_deref()
                    .ok_or_else(|| SignInFailed("the token response has no id_token".into()))?;
                let claims = self.validate(raw, &flow.nonce).await?;
                let mut identity = claims.identity();
                if identity.email.is_none()
                    && let Some(endpoint) = endpoint
                {
                    identity =
                        userinfo::oidc(&inner.http, endpoint, access, &identity.subject).await?;
                }
                Ok(identity)
            }
        }
    }

    /// Checks an ID token, fetching the JWKS again (at most once a minute)
    /// when it names a key we do not know: providers rotate keys.
    async fn validate(&self, raw: &str, nonce: &str) -> Result<id_token::Claims, SignInFailed> {
        let Kind::Oidc {
            validator,
            jwks_uri,
            ..
        } = &self.inner.kind
        else {
            return Err(SignInFailed("not an OpenID provider".into()));
        };
        let outcome = {
            let guard = validator.read().unwrap_or_else(|e| e.into_inner());
            let outcome = guard.0.validate(raw, nonce);
            let stale = guard.1.elapsed() >= JWKS_REFRESH;
            match outcome {
                Err(id_token::Invalid::UnknownKey) if stale => None,
                other => Some(other),
            }
        };
        let outcome = match outcome {
            Some(outcome) => outcome,
            None => {
                let keys: JwkSet = discovery::fetch_json(&self.inner.http, jwks_uri)
                    .await
                    .map_err(|e| SignInFailed(e.to_string()))?;
                let mut guard = validator.write().unwrap_or_else(|e| e.into_inner());
                guard.0.set_keys(keys);
                guard.1 = Instant::now();
                guard.0.validate(raw, nonce)
            }
        };
        outcome.map_err(|why| SignInFailed(format!("ID token refused: {why}")))
    }
}

/// Google's issuer.
const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// The whole chain of an error, for the log.
fn describe(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(next) = source {
        out.push_str(": ");
        out.push_str(&next.to_string());
        source = next.source();
    }
    out
}
