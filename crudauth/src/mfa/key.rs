//! `mfa_key`: AES-256-GCM over TOTP secrets, and an HMAC key (derived from
//! it) over recovery codes, so that a copy of the database alone yields
//! neither.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const NONCE_LEN: usize = 12;

/// The keys that seal second-factor secrets: the first seals, every one
/// opens, so that a key can be replaced without locking anyone out.
pub(crate) struct MfaKeys {
    keys: Vec<MfaKey>,
}

/// A secret opened by [`MfaKeys::open`].
pub(crate) struct Opened {
    pub secret: Vec<u8>,
    /// The secret sealed again under the first key, when an older one
    /// opened it: the caller stores it in place of the old ciphertext.
    pub resealed: Option<String>,
}

impl MfaKeys {
    /// Keys of exactly 32 bytes each, the sealing one first; `None` when
    /// one is not.
    pub(crate) fn new<'a>(keys: impl IntoIterator<Item = &'a [u8]>) -> Option<Self> {
        let keys = keys
            .into_iter()
            .map(MfaKey::new)
            .collect::<Option<Vec<_>>>()?;
        (!keys.is_empty()).then_some(Self { keys })
    }

    fn current(&self) -> &MfaKey {
        &self.keys[0]
    }

    /// Seals `secret` for `user` under the first key.
    pub(crate) fn seal(&self, user: &str, secret: &[u8]) -> String {
        self.current().seal(user, secret)
    }

    /// Opens a sealed secret with whichever key sealed it.
    pub(crate) fn open(&self, user: &str, sealed: &str) -> Option<Opened> {
        let (index, secret) = self
            .keys
            .iter()
            .enumerate()
            .find_map(|(i, key)| key.open(user, sealed).map(|secret| (i, secret)))?;
        let resealed = (index > 0).then(|| self.seal(user, &secret));
        Some(Opened { secret, resealed })
    }

    /// The stored form of a new recovery code, under the first key.
    pub(crate) fn recovery_hash(&self, user: &str, code: &str) -> String {
        self.current().recovery_hash(user, code)
    }

    /// Every stored form a presented recovery code may have: codes handed
    /// out before a rotation were hashed under an older key.
    pub(crate) fn recovery_hashes(&self, user: &str, code: &str) -> Vec<String> {
        self.keys
            .iter()
            .map(|key| key.recovery_hash(user, code))
            .collect()
    }
}

/// One key that seals second-factor secrets.
struct MfaKey {
    cipher: Aes256Gcm,
    hash_key: [u8; 32],
}

impl MfaKey {
    /// A key of exactly 32 bytes.
    fn new(bytes: &[u8]) -> Option<Self> {
        let cipher = Aes256Gcm::new_from_slice(bytes).ok()?;
        // A separate key for the HMAC, so that one key is never used by two
        // algorithms.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(bytes).ok()?;
        mac.update(b"crudauth recovery codes v1");
        let hash_key = mac.finalize().into_bytes().into();
        Some(Self { cipher, hash_key })
    }

    /// Encrypts `secret` for `user`: base64 of nonce then ciphertext. The
    /// user is the associated data, so a sealed secret copied onto another
    /// user's row does not open.
    fn seal(&self, user: &str, secret: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret,
            aad: user.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM encrypts any secret of a few bytes");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    /// The secret sealed for `user`; `None` when it was altered, sealed
    /// under another key, or for another user.
    fn open(&self, user: &str, sealed: &str) -> Option<Vec<u8>> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, msg) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg,
            aad: user.as_bytes(),
        };
        self.cipher.decrypt(Nonce::from_slice(nonce), payload).ok()
    }

    /// The stored form of `user`'s recovery code (already normalized).
    fn recovery_hash(&self, user: &str, code: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.hash_key)
            .expect("HMAC takes any key length");
        mac.update(user.as_bytes());
        mac.update(b"\0");
        mac.update(code.as_bytes());
        crate::tokens::b64(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_unaltered_and_for_their_user() {
        let key = MfaKey::new(&[7u8; 32]).unwrap();
        let sealed = key.seal("42", b"twenty bytes secret!");
        assert_eq!(key.open("42", &sealed).unwrap(), b"twenty bytes secret!");
        assert!(key.open("43", &sealed).is_none());
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(key.open("42", &STANDARD.encode(bytes)).is_none());
        assert!(
            MfaKey::new(&[7u8; 32])
                .unwrap()
                .open("42", "garbage")
                .is_none()
        );
        assert!(
            MfaKey::new(&[8u8; 32])
                .unwrap()
                .open("42", &sealed)
                .is_none()
        );
        assert!(MfaKey::new(&[7u8; 31]).is_none());
    }

    #[test]
    fn a_ring_opens_with_any_key_and_reseals_under_the_first() {
        let old = MfaKeys::new([&[1u8; 32][..]]).unwrap();
        let sealed = old.seal("42", b"twenty bytes secret!");
        let ring = MfaKeys::new([&[2u8; 32][..], &[1u8; 32][..]]).unwrap();
        let opened = ring.open("42", &sealed).unwrap();
        assert_eq!(opened.secret, b"twenty bytes secret!");
        let resealed = opened.resealed.expect("opened by the old key");
        // The new ciphertext opens under the new key alone, and is current.
        let new = MfaKeys::new([&[2u8; 32][..]]).unwrap();
        assert!(new.open("42", &sealed).is_none());
        let again = new.open("42", &resealed).unwrap();
        assert!(again.resealed.is_none());
        assert_eq!(again.secret, b"twenty bytes secret!");
        // An old recovery code's hash is among the ring's candidates.
        let hash = old.recovery_hash("42", "abcdefghij");
        assert!(ring.recovery_hashes("42", "abcdefghij").contains(&hash));
        assert_ne!(ring.recovery_hash("42", "abcdefghij"), hash);
        assert!(MfaKeys::new([&[2u8; 32][..], &[1u8; 31][..]]).is_none());
        assert!(MfaKeys::new(std::iter::empty()).is_none());
    }
}
