//! Argon2id hashing on blocking threads, bounded so that logins cannot starve
//! the async workers, with rehash-on-login and a dummy verify for unknown
//! users.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::AuthError;

/// SPEC section 5: m = 19456 KiB, t = 2, p = 1.
const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(M_COST, T_COST, P_COST, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verified {
    pub ok: bool,
    /// The stored hash uses weaker parameters (or another algorithm) than the
    /// current policy and should be replaced.
    pub needs_rehash: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Hasher {
    /// One permit per core: more concurrent hashes only queue inside the OS
    /// scheduler and take CPU from request handling.
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub(crate) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AuthError::Unavailable)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| AuthError::Unavailable)
    }

    /// Hashes a new password into a PHC string.
    pub(crate) async fn hash(&self, password: String) -> Result<String, AuthError> {
        self.blocking(move || hash_now(&password)).await
    }

    /// Verifies `password` against `stored`; `None` runs a verify against a
    /// dummy hash so that an unknown user costs the same as a known one.
    pub(crate) async fn verify(
        &self,
        stored: Option<String>,
        password: String,
    ) -> Result<Verified, AuthError> {
        self.blocking(move || match stored {
            Some(stored) => verify_now(&stored, &password),
            None => {
                let _ = verify_now(dummy_hash(), &password);
                Verified {
                    ok: false,
                    needs_rehash: false,
                }
            }
        })
        .await
    }
}

fn hash_now(password: &str) -> String {
    argon2()
        .hash_password(password.as_bytes())
        .expect("argon2 hashing with valid parameters cannot fail")
        .to_string()
}

fn verify_now(stored: &str, password: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else {
        // An unparsable stored hash still costs one verify, so that a broken
        // row cannot be told apart by timing.
        let _ = verify_now(dummy_hash(), password);
        return Verified {
            ok: false,
            needs_rehash: false,
        };
    };
    let ok = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    Verified {
        ok,
        needs_rehash: ok && is_weaker(&parsed),
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
    DUMMY.get_or_init(|| hash_now("crudauth-dummy-password-for-timing"))
}

/// Hashes a password with the current policy, for seeding users outside the
/// HTTP routes (fixtures, admin tools). Blocks: call it from a blocking thread.
///
/// # Examples
///
/// ```
/// let phc = crudauth::hash_password_blocking("correct horse battery");
/// assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
/// ```
pub fn hash_password_blocking(password: &str) -> String {
    hash_now(password)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let verified = verify_now(&weak, "pw-123456");
        assert!(verified.ok && verified.needs_rehash);
        let strong = hash_now("pw-123456");
        assert_eq!(
            verify_now(&strong, "pw-123456"),
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(!verify_now(&strong, "wrong").ok);
        assert!(!verify_now("not a phc string", "pw").ok);
    }
}
