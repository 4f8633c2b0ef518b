//! The second factor's cryptography, with no storage and no HTTP: TOTP
//! codes (RFC 6238), the sealing of TOTP secrets at rest, and the keyed
//! hashes of recovery codes.

mod key;
mod totp;

pub(crate) use key::MfaKeys;
pub(crate) use totp::{
    CHALLENGE_SECS, MAX_CODE_ATTEMPTS, RECOVERY_CODES, base32, matching_step, new_recovery_code,
    new_secret, normalize_recovery_code, otpauth_uri, qr_svg,
};
