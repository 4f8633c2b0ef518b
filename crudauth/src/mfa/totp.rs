//! TOTP per RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! drift either way; and the shapes of the secrets shown to the user.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per step.
const STEP: i64 = 30;
/// Steps of clock drift accepted either way.
const DRIFT: i64 = 1;
/// How long a login challenge lives.
pub(crate) const CHALLENGE_SECS: i64 = 300;
/// Wrong codes that end a challenge.
pub(crate) const MAX_CODE_ATTEMPTS: i32 = 5;
/// Recovery codes per set.
pub(crate) const RECOVERY_CODES: usize = 10;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A fresh 160-bit secret (RFC 4226's recommended length).
pub(crate) fn new_secret() -> [u8; 20] {
    let mut secret = [0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// RFC 4648 base32 without padding, as authenticator apps take secrets.
pub(crate) fn base32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(bytes)
}

/// The 6-digit code of `secret` at step `counter` (RFC 4226 HOTP).
fn code_at(secret: &[u8], counter: i64) -> [u8; 6] {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let value = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]) % 1_000_000;
    let mut digits = [0u8; 6];
    let mut rest = value;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    digits
}

/// The step at which `code` is `secret`'s code, within the drift around
/// `now` (Unix seconds). Every candidate is compared, in constant time, so
/// the answer's timing says nothing about which one matched.
pub(crate) fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code: Vec<u8> = code.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if code.len() != 6 || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let current = now.div_euclid(STEP);
    let mut found = None;
    for step in current - DRIFT..=current + DRIFT {
        if bool::from(code_at(secret, step).ct_eq(&code[..])) {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI an authenticator app reads from the QR code.
pub(crate) fn otpauth_uri(issuer: &str, account: &str, secret: &str) -> String {
    let issuer = encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
        encode(account)
    )
}

/// RFC 3986's unreserved characters: the only ones left as they are.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

/// `uri` as an SVG QR code.
pub(crate) fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
    )
}

/// A fresh recovery code: 10 base32 characters (50 bits), `xxxxx-xxxxx`.
pub(crate) fn new_recovery_code() -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| char::from(BASE32[usize::from(b & 31)].to_ascii_lowercase()))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A recovery code as typed, in the form it was hashed in; `None` when it
/// cannot be one.
pub(crate) fn normalize_recovery_code(code: &str) -> Option<String> {
    let code: String = code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == 10
        && code
            .bytes()
            .all(|b| BASE32.contains(&b.to_ascii_uppercase())))
    .then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1 secret, truncated to 6 digits.
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(&code_at(secret, time / 30), code.as_bytes());
            assert_eq!(matching_step(secret, code, time), Some(time / 30));
        }
        // One step of drift either way, not two.
        assert_eq!(matching_step(secret, "287082", 59 + 30), Some(1));
        assert_eq!(matching_step(secret, "287082", 59 + 60), None);
        assert_eq!(matching_step(secret, "28708", 59), None);
        assert_eq!(matching_step(secret, "28708a", 59), None);
    }

    #[test]
    fn secrets_are_base32_and_recovery_codes_normalize() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(&new_secret()).len(), 32);
        let code = new_recovery_code();
        let normalized = normalize_recovery_code(&code.to_uppercase()).unwrap();
        assert_eq!(normalized, code.replace('-', ""));
        assert!(normalize_recovery_code("123456").is_none());
        assert!(
            otpauth_uri("crudauth", "ada@example.com", "ABC")
                .starts_with("otpauth://totp/crudauth:ada%40example.com?secret=ABC&")
        );
        // Everything but the unreserved characters, UTF-8 bytes included.
        assert_eq!(encode("Acme Inc. ~_-é:"), "Acme%20Inc.%20~_-%C3%A9%3A");
        assert!(qr_svg("otpauth://totp/x").unwrap().contains("<svg"));
    }
}
