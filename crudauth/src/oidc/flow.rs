//! One sign-in in flight, bound to the browser that started it: the state,
//! nonce, PKCE verifier and where to land afterwards travel in a short-lived
//! cookie sealed with an HMAC of the secret key, so no server table is
//! needed and another browser's callback cannot be completed in this one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How long a sign-in may take at the provider.
pub(crate) const FLOW_SECS: i64 = 600;

/// What the authorize step leaves for the callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Flow {
    #[serde(rename = "p")]
    pub provider: String,
    #[serde(rename = "s")]
    pub state: String,
    #[serde(rename = "n")]
    pub nonce: String,
    #[serde(rename = "v")]
    pub verifier: String,
    #[serde(rename = "r")]
    pub redirect_to: String,
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// The signed-in owner who started the flow with `?link=1` within a
    /// fresh proof: the one account an identity it unlinked may be linked
    /// to again.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub link_user: Option<String>,
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    // A label of its own, so that no other value crudauth MACs with the same
    // key can pass for a flow.
    mac.update(b"crudauth-oauth-flow\0");
    mac.update(payload.as_bytes());
    mac
}

impl Flow {
    /// The cookie value: `base64url(json).base64url(hmac)`.
    pub(crate) fn seal(&self, secret: &[u8]) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(json);
        let tag = URL_SAFE_NO_PAD.encode(mac(secret, &payload).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The flow a cookie holds, if its MAC is ours and it has not expired.
    pub(crate) fn open(secret: &[u8], value: &str, now: i64) -> Option<Self> {
        let (payload, tag) = value.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        mac(secret, payload).verify_slice(&tag).ok()?;
        let flow: Self = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (flow.expires_at > now).then_some(flow)
    }

    /// Whether the callback's `state` is this flow's, in constant time.
    pub(crate) fn state_matches(&self, state: &str) -> bool {
        !state.is_empty() && bool::from(self.state.as_bytes().ct_eq(state.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> Flow {
        Flow {
            provider: "acme".into(),
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            redirect_to: "/next".into(),
            expires_at: 1_000,
            link_user: None,
        }
    }

    #[test]
    fn a_sealed_flow_opens_only_with_its_key_before_it_expires() {
        let sealed = flow().seal(b"key one");
        assert_eq!(Flow::open(b"key one", &sealed, 999), Some(flow()));
        assert_eq!(Flow::open(b"key two", &sealed, 999), None);
        assert_eq!(Flow::open(b"key one", &sealed, 1_000), None);
        let (payload, tag) = sealed.split_once('.').unwrap();
        let mut other = flow();
        other.redirect_to = "https://evil.example".into();
        let forged = other.seal(b"key two");
        let forged_payload = forged.split_once('.').unwrap().0;
        assert_eq!(
            Flow::open(b"key one", &format!("{forged_payload}.{tag}"), 999),
            None
        );
        assert_eq!(Flow::open(b"key one", payload, 999), None);
        assert_eq!(Flow::open(b"key one", "garbage", 999), None);
    }
}
