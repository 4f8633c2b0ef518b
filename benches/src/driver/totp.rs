//! The bench user's authenticator: the RFC 6238 code (SHA-1, 6 digits,
//! 30 s steps) of the base32 secret `/mfa/totp/setup` answers.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// RFC 4648 base32, padding ignored.
fn from_base32(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut width) = (0u64, 0u32);
    for c in text.trim_end_matches('=').chars() {
        let digit = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            other => return Err(format!("not base32: {other:?}")),
        };
        acc = (acc << 5) | digit;
        width += 5;
        if width >= 8 {
            width -= 8;
            bytes.push((acc >> width) as u8);
            acc &= (1 << width) - 1;
        }
    }
    Ok(bytes)
}

/// The code of `secret` for the current step.
pub(super) fn code_now(secret: &str) -> Result<String, String> {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let key = from_base32(secret)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(&(unix / 30).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // RFC 4226 dynamic truncation.
    let at = usize::from(digest[digest.len() - 1] & 0x0f);
    let word = u32::from_be_bytes([digest[at], digest[at + 1], digest[at + 2], digest[at + 3]]);
    Ok(format!("{:06}", (word & 0x7fff_ffff) % 1_000_000))
}
