//! `.require_mfa(..)`: which principals must have a second factor before
//! any guarded route answers them.

use crate::principal::Principal;

/// Who must enrol a second factor. Such a user without one still signs in,
/// but every `#[authed]` route and every built-in route but the enrolment
/// ones (`GET /mfa`, `/mfa/totp/setup`, `/mfa/totp/confirm`, `/logout`,
/// `/me`) answers 403 `mfa_enrolment_required` until the enrolment is
/// confirmed, which counts as a second factor for that session or token
/// family.
///
/// # Examples
///
/// ```
/// use crudauth::{MfaRequirement, Principal};
///
/// fn staff(principal: &Principal) -> bool {
///     principal.scopes.iter().any(|s| s == "staff")
/// }
/// let everyone = MfaRequirement::All;
/// let some = MfaRequirement::When(staff);
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum MfaRequirement {
    /// Superusers only.
    Superusers,
    /// Every user.
    All,
    /// The principals for which the function answers `true`.
    When(fn(&Principal) -> bool),
}

impl MfaRequirement {
    /// Whether `principal` must have passed a second factor.
    pub(crate) fn applies(&self, principal: &Principal) -> bool {
        match self {
            Self::Superusers => principal.is_superuser,
            Self::All => true,
            Self::When(applies) => applies(principal),
        }
    }
}
