//! Argon2id hashing on crudauth's own hashing threads, with rehash-on-login
//! and a dummy verify for unknown users. The hashes of other frameworks an
//! application enables ([`legacy`]) are verified on the same threads.
//!
//! Passwords are NFKC-normalised before they are hashed or verified, so
//! that the same passphrase typed on another keyboard or input method (a
//! fullwidth digit, a decomposed accent) is the same password.
//!
//! One thread per core, each with a reusable block buffer and a lowered
//! scheduling priority: logins use all the CPU that requests leave over but
//! cannot starve the async workers, and memory stays at cores × 19 MiB
//! instead of a fresh 19 MiB allocation per verify (which fragments the heap).

pub(crate) mod legacy;
pub(crate) mod policy;

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;
use unicode_normalization::UnicodeNormalization;

use self::legacy::LegacyHashes;
use crate::error::AuthError;

/// SPEC section 5: m = 19456 KiB, t = 2, p = 1.
const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// A stored hash asking for more memory than this (256 MiB) is refused
/// rather than allowed to exhaust the server.
const MAX_BLOCKS: usize = 262_144;

/// The form of a password that is hashed, verified and checked against the
/// policy.
pub(crate) fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

fn params() -> Params {
    Params::new(M_COST, T_COST, P_COST, None).expect("static argon2 parameters are valid")
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verified {
    pub ok: bool,
    /// The stored hash uses weaker parameters (or another algorithm) than the
    /// current policy and should be replaced.
    pub needs_rehash: bool,
}

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Handle to the hashing threads; they stop when the last handle is dropped.
#[derive(Debug)]
pub(crate) struct Hasher {
    jobs: mpsc::Sender<Job>,
    legacy: LegacyHashes,
}

impl Hasher {
    /// Starts one hashing thread per core; stored hashes in the `legacy`
    /// formats verify besides argon2.
    pub(crate) fn new(legacy: LegacyHashes) -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for index in 0..cores {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("crudauth-argon2-{index}"))
                .spawn(move || worker(&rx))?;
        }
        Ok(Self { jobs: tx, legacy })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |blocks| {
            // The request gave up (client gone, timeout): skip the hash.
            if !reply.is_closed() {
                let _ = reply.send(work(blocks));
            }
        });
        self.jobs.send(job).map_err(|_| AuthError::Unavailable)?;
        answer.await.map_err(|_| AuthError::Unavailable)
    }

    /// Hashes a new password (normalised) into a PHC string.
    pub(crate) async fn hash(&self, password: String) -> Result<String, AuthError> {
        self.run(move |blocks| hash_with(&normalize(&password), blocks))
            .await
    }

    /// Verifies `password` against `stored`; `None` runs a verify against a
    /// dummy hash so that an unknown user costs the same as a known one.
    pub(crate) async fn verify(
        &self,
        stored: Option<String>,
        password: String,
    ) -> Result<Verified, AuthError> {
        let legacy = self.legacy;
        self.run(move |blocks| match stored {
            Some(stored) => verify_normalized(legacy, &stored, &password, blocks),
            None => {
                let _ = verify_normalized(LegacyHashes::NONE, dummy_hash(), &password, blocks);
                Verified {
                    ok: false,
                    needs_rehash: false,
                }
            }
        })
        .await
    }
}

fn worker(jobs: &Mutex<mpsc::Receiver<Job>>) {
    // Requests come first: a login waits a little longer, a GET does not
    // queue behind argon2 for a core.
    let _ = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
    // Computed before the first login, so that the first unknown user does
    // not pay for two hashes.
    let _ = dummy_hash();
    // Grown at the first hash, so that an idle server holds no block memory.
    let mut blocks = Vec::new();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(&mut blocks),
            Err(_) => return,
        }
    }
}

/// Makes `blocks` hold at least `needed` blocks.
fn reserve(blocks: &mut Vec<Block>, needed: usize) {
    if blocks.len() < needed {
        blocks.resize(needed, Block::default());
    }
}

fn hash_with(password: &str, blocks: &mut Vec<Block>) -> String {
    reserve(blocks, params().block_count());
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    let params = params();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks.as_mut_slice())
        .expect("argon2 with valid parameters, salt and output length cannot fail");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("static parameters encode"),
        salt: Some(Salt::new(&salt).expect("16-byte salt is valid")),
        hash: Some(Output::new(&out).expect("32-byte output is valid")),
    }
    .to_string()
}

/// Recomputes the hash of `password` with the parameters and salt of
/// `stored`, in `blocks`, and compares in constant time.
fn recompute(stored: &PasswordHash, password: &str, blocks: &mut Vec<Block>) -> Option<bool> {
    let algorithm = Algorithm::try_from(stored.algorithm.as_str()).ok()?;
    let version = stored
        .version
        .map_or(Ok(Version::V0x13), Version::try_from)
        .ok()?;
    let params = Params::try_from(stored).ok()?;
    let (salt, expected) = (stored.salt.as_ref()?, stored.hash.as_ref()?);
    let needed = params.block_count();
    if needed > MAX_BLOCKS {
        return None;
    }
    reserve(blocks, needed);
    let mut out = vec![0u8; expected.as_bytes().len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
            blocks.as_mut_slice(),
        )
        .ok()?;
    Some(out.ct_eq(expected.as_bytes()).into())
}

/// Checks `password` against `stored`: argon2, or one of the `legacy`
/// formats, which asks to be replaced whatever its parameters.
fn verify_with(
    legacy: LegacyHashes,
    stored: &str,
    password: &str,
    blocks: &mut Vec<Block>,
) -> Verified {
    let outcome = match legacy.format_of(stored) {
        Some(format) => legacy::verify(format, stored, password).map(|ok| Verified {
            ok,
            needs_rehash: ok,
        }),
        None => PasswordHash::new(stored).ok().and_then(|parsed| {
            let ok = recompute(&parsed, password, blocks)?;
            Some(Verified {
                ok,
                needs_rehash: ok && is_weaker(&parsed),
            })
        }),
    };
    outcome.unwrap_or_else(|| {
        // An unusable stored hash (or one refused for its parameters) still
        // costs one verify, so that a broken row cannot be told apart by
        // timing.
        let _ = verify_with(LegacyHashes::NONE, dummy_hash(), password, blocks);
        Verified {
            ok: false,
            needs_rehash: false,
        }
    })
}

/// [`verify_with`] on the normalised password, then, if it differs and
/// failed, on the password as typed: a hash made before normalisation still
/// verifies, and asks to be replaced. An unknown user goes through the same
/// two verifies, so that the second one tells nothing about the account.
fn verify_normalized(
    legacy: LegacyHashes,
    stored: &str,
    password: &str,
    blocks: &mut Vec<Block>,
) -> Verified {
    let normalized = normalize(password);
    let verified = verify_with(legacy, stored, &normalized, blocks);
    if verified.ok || normalized == password {
        return verified;
    }
    let ok = verify_with(legacy, stored, password, blocks).ok;
    Verified {
        ok,
        needs_rehash: ok,
    }
}

fn is_weaker(parsed: &PasswordHash) -> bool {
    if parsed.algorithm.as_str() != "argon2id" {
        return true;
    }
    let get = |name: &str| parsed.params.get_decimal(name).unwrap_or(0);
    get("m") < M_COST || get("t") < T_COST || get("p") < P_COST
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password_blocking("crudauth-dummy-password-for-timing"))
}

/// What marks a stored password that no password matches (Django's
/// convention): an account made or claimed through a sign-in provider, or
/// created by the application without one.
const UNUSABLE: &str = "!unusable:";

/// A stored password nobody can sign in with. It is random, so that each
/// one starts a new password epoch (ending the sessions from before), and
/// it cannot be parsed, so a verify against it fails at the same cost as a
/// wrong password.
pub(crate) fn unusable_password() -> String {
    format!("{UNUSABLE}{}", crate::tokens::random_token())
}

#[cfg(feature = "oidc")]
/// Whether a stored password can be signed in with (`/set-password` is for
/// accounts where it cannot).
pub(crate) fn is_usable(stored: &str) -> bool {
    !stored.starts_with(UNUSABLE)
}

/// Hashes a password with the current policy (NFKC-normalised, argon2id),
/// for seeding users outside the HTTP routes (fixtures, admin tools). The
/// password rules of [`PasswordPolicy`](crate::PasswordPolicy) are not
/// applied. Blocks: call it from a blocking thread.
///
/// # Examples
///
/// ```
/// let phc = crudauth::hash_password_blocking("correct horse battery");
/// assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
/// ```
pub fn hash_password_blocking(password: &str) -> String {
    hash_with(
        &normalize(password),
        &mut vec![Block::default(); params().block_count()],
    )
}

#[cfg(test)]
mod tests {
    use argon2::PasswordHasher;

    use super::*;

    fn blocks() -> Vec<Block> {
        vec![Block::default(); params().block_count()]
    }

    #[test]
    fn hashes_verify_with_the_reference_implementation_and_back() {
        let ours = hash_password_blocking("pw-123456");
        let parsed = PasswordHash::new(&ours).unwrap();
        let reference = Argon2::default();
        assert!(
            argon2::PasswordVerifier::verify_password(&reference, b"pw-123456", &parsed).is_ok()
        );
        assert!(
            argon2::PasswordVerifier::verify_password(&reference, b"pw-1234567", &parsed).is_err()
        );
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"pw-123456")
            .unwrap()
            .to_string();
        assert_eq!(
            verify_with(LegacyHashes::NONE, &theirs, "pw-123456", &mut blocks()),
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(!verify_with(LegacyHashes::NONE, &theirs, "pw-12345", &mut blocks()).ok);
    }

    #[test]
    fn weaker_parameters_ask_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw-123456")
        .unwrap()
        .to_string();
        let verified = verify_with(LegacyHashes::NONE, &weak, "pw-123456", &mut blocks());
        assert!(verified.ok && verified.needs_rehash);
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params())
            .hash_password(b"pw-123456")
            .unwrap()
            .to_string();
        assert_eq!(
            verify_with(LegacyHashes::NONE, &argon2i, "pw-123456", &mut blocks()),
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert!(!verify_with(LegacyHashes::NONE, "not a phc string", "pw", &mut blocks()).ok);
    }

    #[test]
    fn stronger_stored_parameters_grow_the_buffer() {
        let strong = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32_768, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw-123456")
        .unwrap()
        .to_string();
        let mut small = blocks();
        assert!(verify_with(LegacyHashes::NONE, &strong, "pw-123456", &mut small).ok);
        assert!(small.len() >= 32_768);
    }

    #[test]
    fn a_hash_of_the_unnormalised_password_verifies_and_asks_for_a_rehash() {
        let typed = "ｐａｓｓｗｏｒｄ１２３";
        assert_eq!(normalize(typed), "password123");
        let raw = hash_with(typed, &mut blocks());
        assert_eq!(
            verify_normalized(LegacyHashes::NONE, &raw, typed, &mut blocks()),
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        // The normalised form is what the new hash is made of.
        let current = hash_password_blocking(typed);
        assert!(verify_with(LegacyHashes::NONE, &current, "password123", &mut blocks()).ok);
        assert_eq!(
            verify_normalized(LegacyHashes::NONE, &current, typed, &mut blocks()),
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(
            !verify_normalized(
                LegacyHashes::NONE,
                &raw,
                "ｐａｓｓｗｏｒｄ１２４",
                &mut blocks()
            )
            .ok
        );
    }

    #[tokio::test]
    async fn the_hashing_threads_answer_concurrently() {
        let hasher = Arc::new(Hasher::new(LegacyHashes::NONE).unwrap());
        let hash = hasher.hash("pw-123456".into()).await.unwrap();
        let checks = (0..6).map(|i| {
            let hasher = hasher.clone();
            let hash = hash.clone();
            tokio::spawn(async move {
                let password = if i % 2 == 0 { "pw-123456" } else { "wrong" };
                hasher.verify(Some(hash), password.into()).await.unwrap().ok
            })
        });
        let results: Vec<bool> = futures_join(checks).await;
        assert_eq!(results, [true, false, true, false, true, false]);
        assert!(!hasher.verify(None, "pw-123456".into()).await.unwrap().ok);
    }

    async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
        let mut out = Vec::new();
        for handle in handles {
            out.push(handle.await.unwrap());
        }
        out
    }
}
