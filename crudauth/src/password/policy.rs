//! The rules a new password must pass, applied by every route that sets
//! one (`/register`, `/change-password`, `/password/reset-confirm`,
//! `/set-password`) and by the `create-user` command.

use std::fmt;
use std::sync::Arc;

use crate::error::{AuthError, ConfigError};
use crate::principal::LoadedUser;

/// The longest `max_len` a policy may allow: well above any passphrase, and
/// far below the 64 KiB a body may carry.
const LONGEST: usize = 4096;

/// Who a new password is for, as a custom rule sees it.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct PasswordContext<'a> {
    /// The account's email address, if it has one.
    pub email: Option<&'a str>,
    /// The account's username, if it has one.
    pub username: Option<&'a str>,
}

impl<'a> PasswordContext<'a> {
    /// The context of an account with this email and username.
    pub fn new(email: Option<&'a str>, username: Option<&'a str>) -> Self {
        Self { email, username }
    }

    pub(crate) fn of(user: &'a LoadedUser) -> Self {
        Self::new(user.email.as_deref(), user.username.as_deref())
    }
}

type Rule = Arc<dyn Fn(&str, &PasswordContext<'_>) -> Result<(), String> + Send + Sync>;

/// What a new password must be: between `min_len` and `max_len` characters
/// (8 and 256 by default), optionally with an uppercase letter, a lowercase
/// letter, a digit or a symbol, and passing the application's own rules.
///
/// Rules see the password NFKC-normalised, as it is hashed, and count its
/// characters (not bytes). A refusal is a 422 `invalid` whose detail names
/// the field and the rule: `new_password: must contain a digit`.
///
/// # Examples
///
/// ```
/// use crudauth::PasswordPolicy;
///
/// let policy = PasswordPolicy::default()
///     .min_len(12)
///     .require_digit()
///     .validator(|password, user| match user.email {
///         Some(email) if password.to_lowercase().contains(&email.to_lowercase()) => {
///             Err("must not contain the email address")
///         }
///         _ => Ok(()),
///     });
/// # let _ = crudauth::CrudAuth::builder().password_policy(policy);
/// ```
#[derive(Clone)]
pub struct PasswordPolicy {
    min_len: usize,
    max_len: usize,
    upper: bool,
    lower: bool,
    digit: bool,
    symbol: bool,
    rules: Vec<Rule>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_len: 8,
            max_len: 256,
            upper: false,
            lower: false,
            digit: false,
            symbol: false,
            rules: Vec::new(),
        }
    }
}

impl fmt::Debug for PasswordPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPolicy")
            .field("min_len", &self.min_len)
            .field("max_len", &self.max_len)
            .field("upper", &self.upper)
            .field("lower", &self.lower)
            .field("digit", &self.digit)
            .field("symbol", &self.symbol)
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl PasswordPolicy {
    /// The fewest characters (default 8; at least 1).
    pub fn min_len(mut self, chars: usize) -> Self {
        self.min_len = chars;
        self
    }

    /// The most characters (default 256; at most 4096).
    pub fn max_len(mut self, chars: usize) -> Self {
        self.max_len = chars;
        self
    }

    /// Requires an uppercase letter.
    pub fn require_upper(mut self) -> Self {
        self.upper = true;
        self
    }

    /// Requires a lowercase letter.
    pub fn require_lower(mut self) -> Self {
        self.lower = true;
        self
    }

    /// Requires a digit.
    pub fn require_digit(mut self) -> Self {
        self.digit = true;
        self
    }

    /// Requires a symbol: a character that is neither a letter, a digit nor
    /// whitespace.
    pub fn require_symbol(mut self) -> Self {
        self.symbol = true;
        self
    }

    /// Adds a rule of the application's own: `rule(password, user)` returns
    /// `Err(reason)` to refuse, and the reason ("must not contain the email
    /// address") is the detail of the 422. Rules run in the order added,
    /// after the built-in ones.
    pub fn validator<F, E>(mut self, rule: F) -> Self
    where
        F: Fn(&str, &PasswordContext<'_>) -> Result<(), E> + Send + Sync + 'static,
        E: fmt::Display,
    {
        self.rules
            .push(Arc::new(move |password, user| match rule(password, user) {
                Ok(()) => Ok(()),
                Err(reason) => Err(reason.to_string()),
            }));
        self
    }

    /// The fewest and the most characters a password may have.
    #[cfg(feature = "openapi")]
    pub(crate) fn lengths(&self) -> (usize, usize) {
        (self.min_len, self.max_len)
    }

    /// Refuses bounds no password can meet, or that invite huge inputs.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |reason| {
            Err(ConfigError::Invalid {
                setting: "password_policy",
                reason,
            })
        };
        if self.min_len == 0 {
            return invalid("min_len must be at least 1");
        }
        if self.min_len > self.max_len {
            return invalid("min_len is above max_len: no password could pass");
        }
        if self.max_len > LONGEST {
            return invalid("max_len must be at most 4096 characters");
        }
        Ok(())
    }

    /// Checks `password`, normalised, as the value of `field` for `user`;
    /// the error names the field and the first rule it breaks.
    pub(crate) fn check(
        &self,
        field: &str,
        password: &str,
        user: &PasswordContext<'_>,
    ) -> Result<(), AuthError> {
        self.broken_rule(&super::normalize(password), user)
            .map_or(Ok(()), |rule| {
                Err(AuthError::Invalid(format!("{field}: {rule}")))
            })
    }

    fn broken_rule(&self, password: &str, user: &PasswordContext<'_>) -> Option<String> {
        let len = password.chars().count();
        if len < self.min_len {
            return Some(format!("must be at least {} characters", self.min_len));
        }
        if len > self.max_len {
            return Some(format!("must be at most {} characters", self.max_len));
        }
        type Class = fn(char) -> bool;
        let classes: [(bool, Class, &str); 4] = [
            (
                self.upper,
                char::is_uppercase,
                "must contain an uppercase letter",
            ),
            (
                self.lower,
                char::is_lowercase,
                "must contain a lowercase letter",
            ),
            (self.digit, char::is_numeric, "must contain a digit"),
            (self.symbol, is_symbol, "must contain a symbol"),
        ];
        for (required, class, rule) in classes {
            if required && !password.chars().any(class) {
                return Some(rule.to_owned());
            }
        }
        self.rules
            .iter()
            .find_map(|rule| rule(password, user).err())
    }
}

fn is_symbol(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(policy: &PasswordPolicy, password: &str) -> Option<String> {
        policy.broken_rule(
            password,
            &PasswordContext::new(Some("ada@example.com"), None),
        )
    }

    #[test]
    fn the_default_only_bounds_the_length_in_characters() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            broken(&policy, "short").unwrap(),
            "must be at least 8 characters"
        );
        assert_eq!(
            broken(&policy, "ééééééé"),
            Some("must be at least 8 characters".into())
        );
        assert_eq!(broken(&policy, "éééééééé"), None);
        assert_eq!(
            broken(&policy, &"x".repeat(257)).unwrap(),
            "must be at most 256 characters"
        );
    }

    #[test]
    fn each_class_rule_names_itself() {
        let policy = PasswordPolicy::default()
            .require_upper()
            .require_lower()
            .require_digit()
            .require_symbol();
        assert_eq!(
            broken(&policy, "lower-1-case").unwrap(),
            "must contain an uppercase letter"
        );
        assert_eq!(
            broken(&policy, "UPPER-1-CASE").unwrap(),
            "must contain a lowercase letter"
        );
        assert_eq!(
            broken(&policy, "Mixed-no-digit").unwrap(),
            "must contain a digit"
        );
        assert_eq!(
            broken(&policy, "Mixed 1 nosymbol").unwrap(),
            "must contain a symbol"
        );
        assert_eq!(broken(&policy, "Mixed-1-case"), None);
    }

    #[test]
    fn custom_rules_see_the_user_and_run_after_the_built_in_ones() {
        let policy = PasswordPolicy::default().validator(|password, user| match user.email {
            Some(email) if password.contains(email) => Err("must not contain the email"),
            _ => Ok(()),
        });
        assert_eq!(
            broken(&policy, "x"),
            Some("must be at least 8 characters".into())
        );
        assert_eq!(
            broken(&policy, "my ada@example.com pass").unwrap(),
            "must not contain the email"
        );
        assert_eq!(broken(&policy, "my own passphrase"), None);
    }

    #[test]
    fn impossible_bounds_are_refused() {
        assert!(PasswordPolicy::default().min_len(0).validate().is_err());
        assert!(
            PasswordPolicy::default()
                .min_len(20)
                .max_len(10)
                .validate()
                .is_err()
        );
        assert!(
            PasswordPolicy::default()
                .max_len(10_000)
                .validate()
                .is_err()
        );
        assert!(PasswordPolicy::default().min_len(12).validate().is_ok());
    }
}
