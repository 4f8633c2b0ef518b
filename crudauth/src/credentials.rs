//! The password check shared by `/login`, `/token` (behind the lockout) and
//! `/change-password`: unknown user, wrong password and inactive user are one
//! error, and each costs one argon2 verify.

use crate::error::AuthError;
use crate::principal::LoadedUser;
use crate::state::CrudAuth;

/// Checks `password` against `user`, rehashing a hash made with weaker
/// parameters.
pub(crate) async fn check_password(
    auth: &CrudAuth,
    user: Option<LoadedUser>,
    password: String,
) -> Result<LoadedUser, AuthError> {
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = auth.inner.hasher.verify(stored, password.clone()).await?;
    let user = match user {
        Some(user) if verified.ok && user.is_active => user,
        _ => return Err(AuthError::InvalidCredentials),
    };
    if verified.needs_rehash {
        let hash = auth.inner.hasher.hash(password).await?;
        auth.inner
            .users
            .set_password_hash(&auth.inner.db, &user.id, hash)
            .await?;
    }
    Ok(user)
}

/// Looks a login identifier up and checks its password.
pub(crate) async fn check_login(
    auth: &CrudAuth,
    identifier: &str,
    password: String,
) -> Result<LoadedUser, AuthError> {
    // Registration refuses control characters and PostgreSQL text cannot
    // hold NUL: such an identifier names nobody, and must not reach the
    // database as a failing query (a 503).
    let user = if identifier.contains('\0') {
        None
    } else {
        auth.inner
            .users
            .by_login(&auth.inner.db, identifier.trim())
            .await?
    };
    check_password(auth, user, password).await
}
