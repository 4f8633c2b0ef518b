//! The test's own authenticator app: a TOTP code (RFC 6238, SHA-1, 6
//! digits, 30 s) computed from the base32 secret `/mfa/totp/setup` shows.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The key every MFA test server seals second-factor secrets with.
pub const MFA_KEY: [u8; 32] = *b"test-mfa-key-32-bytes-exactly!!!";

fn base32_decode(text: &str) -> Vec<u8> {
    data_encoding::BASE32_NOPAD
        .decode(text.trim_end_matches('=').as_bytes())
        .expect("a base32 secret")
}

/// The code of `secret` (base32) `steps` steps away from now.
pub fn totp_code(secret: &str, steps: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp_code_at(secret, now + steps * 30)
}

/// The code of `secret` (base32) at Unix time `at`.
pub fn totp_code_at(secret: &str, at: i64) -> String {
    let counter = at / 30;
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&base32_decode(secret)).unwrap();
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let value = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]) % 1_000_000;
    format!("{value:06}")
}

#[cfg(test)]
mod tests {
    use super::totp_code_at;

    /// RFC 6238 appendix B, SHA-1: the secret "12345678901234567890" (here
    /// in base32) and the last six digits of its eight-digit codes.
    #[test]
    fn the_test_authenticator_agrees_with_rfc_6238() {
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        for (at, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(totp_code_at(secret, at), code, "at {at}");
        }
    }
}
