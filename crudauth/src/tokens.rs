//! Random secrets and their stored form: 256-bit tokens, base64url on the
//! wire, SHA-256 in the database so that a leaked table grants nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh 256-bit secret, base64url-encoded (43 characters).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    b64(&bytes)
}

/// The stored form of a secret token.
pub(crate) fn digest(token: &str) -> String {
    hex(&raw_digest(token))
}

/// A secret token's SHA-256, unencoded (the principal cache's key).
pub(crate) fn raw_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Lower-case hex, the stored form of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for &byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

/// Whether `token` has the shape of [`random_token`]'s output; anything else
/// is refused before it costs a database query.
pub(crate) fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The password epoch of a stored hash: sessions and token families carry
/// the epoch they were created under, and one that differs from the user's
/// current epoch is dead. Deriving it from the hash means that every change
/// of the password (through crudauth or straight in the user table) starts
/// a new epoch, and that the hot paths, which load the user row anyway,
/// check it without another query.
pub(crate) fn password_epoch(password_hash: &str) -> String {
    let mut full = digest(password_hash);
    full.truncate(32);
    full
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_stored_as_sha256_hex() {
        let token = random_token();
        assert!(well_formed(&token));
        assert_ne!(token, random_token());
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}!", &token[..42])));
    }
}
