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

/// The key that seals second-factor secrets.
pub(crate) struct MfaKey {
    cipher: Aes256Gcm,
    hash_key: [u8; 32],
}

impl MfaKey {
    /// A key of exactly 32 bytes.
    pub(crate) fn new(bytes: &[u8]) -> Option<Self> {
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
    pub(crate) fn seal(&self, user: &str, secret: &[u8]) -> String {
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
    pub(crate) fn open(&self, user: &str, sealed: &str) -> Option<Vec<u8>> {
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
    pub(crate) fn recovery_hash(&self, user: &str, code: &str) -> String {
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
}
