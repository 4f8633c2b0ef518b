//! Password hashes made by other frameworks (SPEC section 14): bcrypt,
//! Django's `pbkdf2_sha256`, and PHC strings of pbkdf2-sha256 and scrypt.
//!
//! crudauth never makes one of these: each is verified at most once, by the
//! login that replaces it with argon2id. The key derivations are the
//! `bcrypt`, `pbkdf2` and `scrypt` crates'; this module only reads the
//! stored strings and refuses parameters no real deployment uses, for the
//! reason the argon2 path has `MAX_BLOCKS`: a stored row must not be able
//! to make one login cost minutes or gigabytes.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// bcrypt's cost is the log2 of its rounds: 16 is seconds of one core,
/// sixteen times the common 12.
const MAX_BCRYPT_COST: u32 = 16;
/// Recent Django releases use about a million iterations.
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;
/// scrypt's memory (128 · r · N bytes): the most the argon2 path allows.
const MAX_SCRYPT_MEMORY: u64 = super::MAX_BLOCKS as u64 * 1024;
/// scrypt's work is p passes over its memory; four such passes at most.
const MAX_SCRYPT_WORK: u64 = 4 * MAX_SCRYPT_MEMORY;
/// With r and p bounded too, scrypt's own buffer (128 · r · p) stays small.
const MAX_SCRYPT_R: u32 = 32;
const MAX_SCRYPT_P: u32 = 16;
/// A stored digest shorter than 128 bits would match a wrong password by
/// chance too often; a longer one than 64 bytes multiplies pbkdf2's work.
const DIGEST_LEN: std::ops::RangeInclusive<usize> = 16..=64;

/// A password hash format from another framework, verified (and replaced
/// by argon2id) once enabled with
/// [`CrudAuthBuilder::legacy_hashes`](crate::CrudAuthBuilder::legacy_hashes).
///
/// Stored parameters far above what any framework writes (a bcrypt cost
/// over 16, over ten million pbkdf2 iterations, an scrypt over 256 MiB, or
/// with r over 32 or p over 16) are refused rather than computed: such a
/// hash fails to verify.
///
/// # Examples
///
/// ```
/// use crudauth::{CrudAuth, LegacyHash};
///
/// let builder = CrudAuth::builder().legacy_hashes([
///     LegacyHash::Bcrypt,
///     LegacyHash::DjangoPbkdf2,
///     LegacyHash::Phc,
/// ]);
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LegacyHash {
    /// bcrypt in modular crypt format, `$2a$`, `$2b$` or `$2y$` (passlib,
    /// Devise, Laravel, Spring Security, PHP's `password_hash`). As with
    /// every bcrypt, only the first 72 bytes of a password count.
    Bcrypt,
    /// Django's default hasher:
    /// `pbkdf2_sha256$<iterations>$<salt>$<base64 digest>`.
    DjangoPbkdf2,
    /// PHC strings of pbkdf2-sha256, in RustCrypto's form
    /// (`$pbkdf2-sha256$i=600000,l=32$<salt>$<digest>`) or passlib's
    /// (`$pbkdf2-sha256$29000$<salt>$<digest>`, in its `.`-for-`+` base64),
    /// and of scrypt (`$scrypt$ln=16,r=8,p=1$<salt>$<digest>`, RustCrypto's
    /// and passlib's alike).
    Phc,
}

impl LegacyHash {
    /// The format `stored` is written in, judged by its prefix alone.
    fn of(stored: &str) -> Option<Self> {
        let starts = |prefixes: &[&str]| prefixes.iter().any(|p| stored.starts_with(p));
        if starts(&["$2a$", "$2b$", "$2y$"]) {
            Some(Self::Bcrypt)
        } else if starts(&["pbkdf2_sha256$"]) {
            Some(Self::DjangoPbkdf2)
        } else if starts(&["$pbkdf2-sha256$", "$scrypt$"]) {
            Some(Self::Phc)
        } else {
            None
        }
    }
}

/// The legacy formats one instance accepts (none unless the application
/// names some).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LegacyHashes(u8);

impl LegacyHashes {
    pub(crate) const NONE: Self = Self(0);

    fn bit(format: LegacyHash) -> u8 {
        1 << format as u8
    }

    /// The enabled format `stored` is written in, if it is in one.
    pub(crate) fn format_of(self, stored: &str) -> Option<LegacyHash> {
        LegacyHash::of(stored).filter(|format| self.0 & Self::bit(*format) != 0)
    }
}

impl FromIterator<LegacyHash> for LegacyHashes {
    fn from_iter<I: IntoIterator<Item = LegacyHash>>(formats: I) -> Self {
        Self(formats.into_iter().fold(0, |set, f| set | Self::bit(f)))
    }
}

/// Whether `password` is the one `stored` (written in `format`) was made
/// from; `None` when `stored` is malformed or asks for more work than the
/// caps allow.
pub(crate) fn verify(format: LegacyHash, stored: &str, password: &str) -> Option<bool> {
    match format {
        LegacyHash::Bcrypt => verify_bcrypt(stored, password),
        LegacyHash::DjangoPbkdf2 => verify_django(stored, password),
        LegacyHash::Phc => verify_phc(stored, password),
    }
}

fn verify_bcrypt(stored: &str, password: &str) -> Option<bool> {
    let parts: bcrypt::HashParts = stored.parse().ok()?;
    if parts.get_cost() > MAX_BCRYPT_COST {
        return None;
    }
    bcrypt::verify(password, stored).ok()
}

/// Django hashes the salt as the text it stores, not as decoded bytes.
fn verify_django(stored: &str, password: &str) -> Option<bool> {
    let ["pbkdf2_sha256", iterations, salt, digest] = fields(stored)? else {
        return None;
    };
    let expected = STANDARD.decode(digest).ok()?;
    pbkdf2_sha256(password, salt.as_bytes(), decimal(iterations)?, &expected)
}

fn verify_phc(stored: &str, password: &str) -> Option<bool> {
    let ["", algorithm, params, salt, digest] = fields(stored)? else {
        return None;
    };
    let (salt, expected) = (b64(salt)?, b64(digest)?);
    match algorithm {
        "pbkdf2-sha256" => {
            // passlib writes the bare iteration count; RustCrypto `i=`, and
            // `l=` for the digest's length.
            let rounds = match decimal(params) {
                Some(rounds) => rounds,
                None => {
                    let length = param(params, "l").map(|l| decimal(l).map(|l| l as usize));
                    if length.is_some_and(|l| l != Some(expected.len())) {
                        return None;
                    }
                    decimal(param(params, "i")?)?
                }
            };
            pbkdf2_sha256(password, &salt, rounds, &expected)
        }
        "scrypt" => {
            let log_n: u8 = decimal(param(params, "ln")?)?.try_into().ok()?;
            let r = decimal(param(params, "r")?)?;
            let p = decimal(param(params, "p")?)?;
            if !scrypt_within_caps(log_n, r, p) || !DIGEST_LEN.contains(&expected.len()) {
                return None;
            }
            let params = scrypt::Params::new(log_n, r, p, expected.len()).ok()?;
            let mut out = vec![0u8; expected.len()];
            scrypt::scrypt(password.as_bytes(), &salt, &params, &mut out).ok()?;
            Some(out.ct_eq(&expected).into())
        }
        _ => None,
    }
}

fn pbkdf2_sha256(password: &str, salt: &[u8], rounds: u32, expected: &[u8]) -> Option<bool> {
    if !(1..=MAX_PBKDF2_ROUNDS).contains(&rounds) || !DIGEST_LEN.contains(&expected.len()) {
        return None;
    }
    let mut out = vec![0u8; expected.len()];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, rounds, &mut out);
    Some(out.ct_eq(expected).into())
}

fn scrypt_within_caps(log_n: u8, r: u32, p: u32) -> bool {
    // The bound on log_n only keeps the products below in u64; the memory
    // cap is what refuses a large N.
    if !(1..=40).contains(&log_n)
        || !(1..=MAX_SCRYPT_R).contains(&r)
        || !(1..=MAX_SCRYPT_P).contains(&p)
    {
        return false;
    }
    let memory = (128 * u64::from(r)) << log_n;
    memory <= MAX_SCRYPT_MEMORY && memory * u64::from(p) <= MAX_SCRYPT_WORK
}

/// The `$`-separated fields of `stored`, when there are exactly `N`.
fn fields<const N: usize>(stored: &str) -> Option<[&str; N]> {
    stored.split('$').collect::<Vec<_>>().try_into().ok()
}

/// The value of `name` in a PHC parameter list (`ln=16,r=8,p=1`).
fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params
        .split(',')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Digits only: `str::parse` would also take a sign.
fn decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// PHC's unpadded base64, also in passlib's variant (`.` for `+`).
fn b64(text: &str) -> Option<Vec<u8>> {
    STANDARD_NO_PAD.decode(text.replace('.', "+")).ok()
}

#[cfg(test)]
mod tests {
    use argon2::Block;
    use proptest::prelude::*;

    use super::*;
    use crate::password::{Verified, hash_password_blocking, verify_normalized};

    /// What the vectors below were made from (precomposed umlauts, so that
    /// NFKC leaves it as it is).
    const PASSWORD: &str = "pässwörd-123";

    // Made with passlib 1.7.4 (bcrypt 4.0.1 as its backend, hashlib's
    // pbkdf2 and scrypt) in Python 3.11:
    //   from passlib.hash import bcrypt, django_pbkdf2_sha256, pbkdf2_sha256, scrypt
    //   bcrypt.using(rounds=6, ident="2b").hash("pässwörd-123")
    //   bcrypt.using(rounds=4, ident="2a").hash("pässwörd-123")
    //   bcrypt.using(rounds=4, ident="2y").hash("pässwörd-123")
    //   django_pbkdf2_sha256.using(rounds=10000).hash("pässwörd-123")
    //   pbkdf2_sha256.using(rounds=10000).hash("pässwörd-123")
    //   scrypt.using(rounds=10, block_size=8, parallelism=1).hash("pässwörd-123")
    //   bcrypt.using(rounds=4, ident="2b").hash("ｐａｓｓｗｏｒｄ１２３")
    const BCRYPT_2B: &str = "$2b$06$NdR0051602mehCwpMQQ09OI/hNVESBSvr3oFka8xazlErrdgd30Aa";
    const BCRYPT_2A: &str = "$2a$04$elF01lRmZ.wxIu0kpJDQMeyFGBGMl7gxDmXZ7LI/r1HCj35SG3wBa";
    const BCRYPT_2Y: &str = "$2y$04$Euxao46r87h5SSlNzlkVvOWhFxgVcc6FUKOoFxSNJgpIYbTks1.9a";
    const DJANGO: &str =
        "pbkdf2_sha256$10000$UUjTocwhrT2f$UtpZmaSRAbNI4Xll+juSzgjZG3K0WCc8WiGoqro+u2o=";
    const PASSLIB_PBKDF2: &str =
        "$pbkdf2-sha256$10000$WwuB8L6XMuZ8j/H.H8O4tw$EPzMYZ8oIgKZ/d35Ml/Th6nfy6D5m5Hw./xgxKjBp14";
    const PASSLIB_SCRYPT: &str =
        "$scrypt$ln=10,r=8,p=1$tBZCSEnpfe+d8/4fo/Reqw$ur9PV0q4FMQpFJybG2AoA2tRkY1w/9fa6NsZaq8RaSo";
    /// Of the fullwidth "ｐａｓｓｗｏｒｄ１２３", which NFKC makes "password123".
    const BCRYPT_FULLWIDTH: &str = "$2b$04$BlUAYF1zTM2CpKbE3CHyk.W/xkkPCbP6H7zYwMEZykreanN0uYY8y";

    // Made with the RustCrypto crates crudauth uses, pbkdf2 0.12.2 and
    // scrypt 0.11.0 with their `simple` feature, each with a fresh
    // `salt = SaltString::generate(&mut OsRng)`:
    //   Pbkdf2.hash_password_customized("pässwörd-123".as_bytes(), None, None,
    //       pbkdf2::Params { rounds: 10_000, output_length: 32 }, &salt)
    //   Scrypt.hash_password_customized("pässwörd-123".as_bytes(), None, None,
    //       scrypt::Params::new(10, 8, 1, 32).unwrap(), &salt)
    const RUSTCRYPTO_PBKDF2: &str = "$pbkdf2-sha256$i=10000,l=32$ftfY0PF0iU1ZAecGmuEmTA$q5oRR/ye7R/NfqviycKE20sL2sL5CsAK6a0IhHaY2Rw";
    const RUSTCRYPTO_SCRYPT: &str =
        "$scrypt$ln=10,r=8,p=1$KHQWQzfXvECskpqL3xhzUw$RZ4BEQaYOF2x7g3InI750LjUXBxSUc9YDxB6dC61IyM";

    /// Every vector of [`PASSWORD`], with its format.
    const VECTORS: [(LegacyHash, &str); 8] = [
        (LegacyHash::Bcrypt, BCRYPT_2B),
        (LegacyHash::Bcrypt, BCRYPT_2A),
        (LegacyHash::Bcrypt, BCRYPT_2Y),
        (LegacyHash::DjangoPbkdf2, DJANGO),
        (LegacyHash::Phc, PASSLIB_PBKDF2),
        (LegacyHash::Phc, PASSLIB_SCRYPT),
        (LegacyHash::Phc, RUSTCRYPTO_PBKDF2),
        (LegacyHash::Phc, RUSTCRYPTO_SCRYPT),
    ];

    const EVERY_FORMAT: [LegacyHash; 3] = [
        LegacyHash::Bcrypt,
        LegacyHash::DjangoPbkdf2,
        LegacyHash::Phc,
    ];

    fn check(enabled: LegacyHashes, stored: &str, password: &str) -> Verified {
        verify_normalized(enabled, stored, password, &mut Vec::<Block>::new())
    }

    fn all() -> LegacyHashes {
        EVERY_FORMAT.into_iter().collect()
    }

    const FAILED: Verified = Verified {
        ok: false,
        needs_rehash: false,
    };

    #[test]
    fn each_format_is_told_by_its_prefix() {
        for (format, stored) in VECTORS {
            assert_eq!(LegacyHash::of(stored), Some(format), "{stored}");
        }
        assert_eq!(LegacyHash::of(&hash_password_blocking(PASSWORD)), None);
        assert_eq!(LegacyHash::of("$2x$04$elF01lRmZ.wxIu0kpJDQMe"), None);
        assert_eq!(LegacyHash::of("pbkdf2_sha1$10000$salt$digest"), None);
        assert_eq!(LegacyHash::of("$pbkdf2-sha512$i=1,l=64$c2FsdA$"), None);
    }

    #[test]
    fn the_right_password_verifies_and_asks_for_argon2id() {
        for (format, stored) in VECTORS {
            assert_eq!(verify(format, stored, PASSWORD), Some(true), "{stored}");
            assert_eq!(
                check(all(), stored, PASSWORD),
                Verified {
                    ok: true,
                    needs_rehash: true
                },
                "{stored}"
            );
        }
    }

    #[test]
    fn a_wrong_password_does_not_verify() {
        for (format, stored) in VECTORS {
            for wrong in ["pässwörd-124", "passwörd-123", "pässwörd-123 ", ""] {
                assert_eq!(
                    verify(format, stored, wrong),
                    Some(false),
                    "{stored} {wrong:?}"
                );
                assert_eq!(check(all(), stored, wrong), FAILED, "{stored} {wrong:?}");
            }
        }
    }

    #[test]
    fn a_format_that_is_not_enabled_does_not_verify() {
        for (format, stored) in VECTORS {
            let others: LegacyHashes = EVERY_FORMAT.into_iter().filter(|f| *f != format).collect();
            assert_eq!(others.format_of(stored), None);
            assert_eq!(check(others, stored, PASSWORD), FAILED, "{stored}");
            assert_eq!(
                check(LegacyHashes::NONE, stored, PASSWORD),
                FAILED,
                "{stored}"
            );
        }
        assert_eq!(LegacyHashes::default(), LegacyHashes::NONE);
    }

    #[test]
    fn a_hash_of_the_password_as_typed_verifies_too() {
        let typed = "ｐａｓｓｗｏｒｄ１２３";
        // The normalised form is not what the hash was made of.
        assert_eq!(
            verify(LegacyHash::Bcrypt, BCRYPT_FULLWIDTH, "password123"),
            Some(false)
        );
        assert_eq!(
            check(all(), BCRYPT_FULLWIDTH, typed),
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert_eq!(check(all(), BCRYPT_FULLWIDTH, "password123"), FAILED);
    }

    #[test]
    fn a_tampered_digest_salt_or_parameter_does_not_verify() {
        // Still readable, no longer the password's: one character of the
        // digest, the salt or a parameter changed.
        let tampered = [
            (LegacyHash::Bcrypt, BCRYPT_2B.replace("09OI/h", "09OJ/h")),
            (LegacyHash::Bcrypt, BCRYPT_2B.replace("$NdR0", "$MdR0")),
            (LegacyHash::Bcrypt, BCRYPT_2B.replace("$06$", "$05$")),
            (LegacyHash::DjangoPbkdf2, DJANGO.replace("$UUjT", "$UUjU")),
            (LegacyHash::DjangoPbkdf2, DJANGO.replace("$Utp", "$Utq")),
            (
                LegacyHash::DjangoPbkdf2,
                DJANGO.replace("$10000$", "$10001$"),
            ),
            (LegacyHash::Phc, PASSLIB_PBKDF2.replace("$EPz", "$EPy")),
            (LegacyHash::Phc, PASSLIB_SCRYPT.replace("$ur9", "$ur8")),
            (LegacyHash::Phc, PASSLIB_SCRYPT.replace("r=8", "r=4")),
            (
                LegacyHash::Phc,
                RUSTCRYPTO_PBKDF2.replace("i=10000", "i=10001"),
            ),
            (LegacyHash::Phc, RUSTCRYPTO_SCRYPT.replace("ln=10", "ln=11")),
            (LegacyHash::Phc, RUSTCRYPTO_SCRYPT.replace("$KHQ", "$KHR")),
        ];
        for (format, stored) in &tampered {
            assert_eq!(verify(*format, stored, PASSWORD), Some(false), "{stored}");
        }
    }

    #[test]
    fn malformed_hashes_are_refused() {
        let malformed = [
            (LegacyHash::Bcrypt, BCRYPT_2B.replace("$06$", "$03$")),
            (LegacyHash::Bcrypt, BCRYPT_2B[..50].to_owned()),
            (
                LegacyHash::DjangoPbkdf2,
                DJANGO.replace("$10000$", "$-1000$"),
            ),
            (
                LegacyHash::DjangoPbkdf2,
                DJANGO.replace("$10000$", "$+1000$"),
            ),
            (LegacyHash::DjangoPbkdf2, DJANGO.replace("$10000$", "$0$")),
            (LegacyHash::DjangoPbkdf2, DJANGO.replace("u2o=", "u2o")),
            (LegacyHash::DjangoPbkdf2, format!("{DJANGO}$")),
            (
                LegacyHash::DjangoPbkdf2,
                "pbkdf2_sha256$10000$salt".to_owned(),
            ),
            // An 8-byte digest would match a wrong password too often.
            (
                LegacyHash::DjangoPbkdf2,
                "pbkdf2_sha256$10000$salt$AAAAAAAAAAA=".to_owned(),
            ),
            (LegacyHash::Phc, PASSLIB_PBKDF2.replace("$10000$", "$ten$")),
            (LegacyHash::Phc, PASSLIB_PBKDF2.replace("$EPz", "$EP!")),
            (LegacyHash::Phc, RUSTCRYPTO_PBKDF2.replace("l=32", "l=64")),
            (LegacyHash::Phc, RUSTCRYPTO_PBKDF2.replace("i=10000,", "")),
            (LegacyHash::Phc, RUSTCRYPTO_SCRYPT.replace("p=1", "q=1")),
            (LegacyHash::Phc, RUSTCRYPTO_SCRYPT.replace("ln=10", "ln=0")),
            (
                LegacyHash::Phc,
                RUSTCRYPTO_SCRYPT.replace("ln=10", "ln=999"),
            ),
            (
                LegacyHash::Phc,
                RUSTCRYPTO_SCRYPT.replace("$scrypt$", "$yescrypt$"),
            ),
        ];
        for (format, stored) in &malformed {
            assert_eq!(verify(*format, stored, PASSWORD), None, "{stored}");
            assert_eq!(check(all(), stored, PASSWORD), FAILED, "{stored}");
        }
    }

    #[test]
    fn hostile_parameters_are_refused_without_being_computed() {
        // Each would take minutes or gigabytes if it were run: a regression
        // shows as a hung test, not a slow pass.
        let hostile = [
            (LegacyHash::Bcrypt, BCRYPT_2B.replace("$06$", "$17$")),
            (LegacyHash::Bcrypt, BCRYPT_2B.replace("$06$", "$31$")),
            (
                LegacyHash::DjangoPbkdf2,
                DJANGO.replace("$10000$", "$10000001$"),
            ),
            (
                LegacyHash::DjangoPbkdf2,
                DJANGO.replace("$10000$", "$4294967295$"),
            ),
            (
                LegacyHash::Phc,
                PASSLIB_PBKDF2.replace("$10000$", "$4000000000$"),
            ),
            (
                LegacyHash::Phc,
                RUSTCRYPTO_PBKDF2.replace("i=10000", "i=99999999"),
            ),
            // 128 · 8 · 2^22 bytes: 4 GiB.
            (LegacyHash::Phc, PASSLIB_SCRYPT.replace("ln=10", "ln=22")),
            (LegacyHash::Phc, PASSLIB_SCRYPT.replace("ln=10", "ln=63")),
            (LegacyHash::Phc, PASSLIB_SCRYPT.replace("r=8", "r=1000000")),
            (LegacyHash::Phc, PASSLIB_SCRYPT.replace("p=1", "p=100000")),
            // 128 MiB of memory, passed over 16 times.
            (
                LegacyHash::Phc,
                RUSTCRYPTO_SCRYPT.replace("ln=10,r=8,p=1", "ln=17,r=8,p=16"),
            ),
        ];
        for (format, stored) in &hostile {
            assert_eq!(verify(*format, stored, PASSWORD), None, "{stored}");
            assert_eq!(check(all(), stored, PASSWORD), FAILED, "{stored}");
        }
        // What frameworks write stays within the caps: passlib's default
        // scrypt (ln=16, r=8, p=1) and RustCrypto's (ln=17).
        assert!(scrypt_within_caps(16, 8, 1) && scrypt_within_caps(17, 8, 1));
        assert!(!scrypt_within_caps(19, 8, 1));
    }

    proptest! {
        /// Whatever a row holds after a legacy prefix, reading it neither
        /// panics nor verifies. (Single digits keep every parameter cheap.)
        #[test]
        fn any_stored_string_is_refused_or_checked_without_panicking(
            prefix in prop_oneof![
                Just("$2b$"),
                Just("pbkdf2_sha256$"),
                Just("$pbkdf2-sha256$"),
                Just("$scrypt$"),
            ],
            rest in "([0-9]|(ln|r|p|i|l)=[0-9],?|[A-Za-z0-9./+=]{0,24}|\\$){0,10}",
        ) {
            let stored = format!("{prefix}{rest}");
            let format = LegacyHash::of(&stored).expect("a legacy prefix");
            prop_assert_ne!(verify(format, &stored, PASSWORD), Some(true));
        }
    }
}
