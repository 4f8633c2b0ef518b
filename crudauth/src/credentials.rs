//! The password check shared by `/login`, `/token` (behind the lockout),
//! `/change-password` and whatever else asks for the current password:
//! unknown user, wrong password and inactive user are one error, and each
//! costs one argon2 verify.

use crate::error::AuthError;
use crate::principal::LoadedUser;
use crate::state::CrudAuth;
use crate::store::{self, families, sessions};
use crate::tokens::password_epoch;

/// Checks `password` against `user`, rehashing a hash made with weaker
/// parameters. The returned user carries the hash in force afterwards, so
/// that credentials issued from it get the current password epoch.
pub(crate) async fn check_password(
    auth: &CrudAuth,
    user: Option<LoadedUser>,
    password: String,
) -> Result<LoadedUser, AuthError> {
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = auth.inner.hasher.verify(stored, password.clone()).await?;
    let mut user = match user {
        Some(user) if verified.ok && user.is_active => user,
        _ => return Err(AuthError::InvalidCredentials),
    };
    if verified.needs_rehash {
        let hash = auth.inner.hasher.hash(password.clone()).await?;
        if rehash(auth, &user, &hash).await? {
            user.password_hash = hash;
        } else {
            // The hash changed since it was read: a concurrent rehash of the
            // same password, or a password change. Only the stored hash can
            // say which, and credentials must carry its epoch.
            let current = auth.inner.users.by_id(&auth.inner.db, &user.id).await?;
            let stored = current.as_ref().map(|u| u.password_hash.clone());
            let verified = auth.inner.hasher.verify(stored, password).await?;
            match current {
                Some(current) if verified.ok && current.is_active => user = current,
                _ => return Err(AuthError::InvalidCredentials),
            }
        }
    }
    Ok(user)
}

/// Stores a stronger hash of the same password, only if the stored hash is
/// still the one verified (a password change in between wins), and moves
/// the user's sessions and families to the new epoch with it.
async fn rehash(auth: &CrudAuth, user: &LoadedUser, hash: &str) -> Result<bool, AuthError> {
    let txn = store::begin_write(&auth.inner.db).await?;
    let replaced = auth
        .inner
        .users
        .replace_password_hash(&txn, &user.id, &user.password_hash, hash.to_owned())
        .await?;
    if !replaced {
        txn.rollback().await?;
        return Ok(false);
    }
    let owner = user.id.to_string();
    let (from, to) = (password_epoch(&user.password_hash), password_epoch(hash));
    sessions::move_epoch(&txn, &owner, &from, &to).await?;
    families::move_epoch(&txn, &owner, &from, &to).await?;
    txn.commit().await?;
    Ok(true)
}

/// The user a login identifier names, if any.
pub(crate) async fn find_login(
    auth: &CrudAuth,
    identifier: &str,
) -> Result<Option<LoadedUser>, AuthError> {
    let identifier = identifier.trim();
    // Registration refuses control characters and over-long identifiers, and
    // PostgreSQL text cannot hold NUL: such an identifier names nobody, and
    // must not reach the database as a failing query (a 503).
    if identifier.contains('\0') || !plausible_identifier(identifier) {
        return Ok(None);
    }
    Ok(auth
        .inner
        .users
        .by_login(&auth.inner.db, identifier)
        .await?)
}

/// The longest email address (RFC 5321's path limit) and username.
pub(crate) const MAX_EMAIL: usize = 254;
pub(crate) const MAX_USERNAME: usize = 64;

/// Whether an identifier could name an account at all.
fn plausible_identifier(identifier: &str) -> bool {
    let chars = identifier.chars().count();
    if identifier.contains('@') {
        chars <= MAX_EMAIL
    } else {
        chars <= MAX_USERNAME
    }
}

/// An email address as crudauth stores it (trimmed, lowercased), or 422
/// naming the field: one `@`, a dotted domain, no space or control
/// character, at most 254 bytes.
pub(crate) fn validate_email(email: &str) -> Result<String, AuthError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email.to_lowercase())
    } else {
        Err(AuthError::Invalid(
            "email: not a valid email address".into(),
        ))
    }
}
