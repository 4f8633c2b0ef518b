//! How `#[derive(AuthUser)]` reads a model's fields: one adapter trait per
//! kind of role, implemented for the column types each role accepts, so a
//! field of another type is refused with a message on the field's type.

use crate::user::key::UserKey;

/// A primary-key column: the types with a [`UserKey`] impl.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a crudauth user key",
    label = "use `i32`, `i64`, `uuid::Uuid` or `String` for the primary key"
)]
pub trait KeyField {
    /// The key type.
    type Key: UserKey;
    /// A copy of the key.
    fn auth_key(&self) -> Self::Key;
}

impl KeyField for i32 {
    type Key = i32;
    fn auth_key(&self) -> i32 {
        *self
    }
}

impl KeyField for i64 {
    type Key = i64;
    fn auth_key(&self) -> i64 {
        *self
    }
}

impl KeyField for uuid::Uuid {
    type Key = uuid::Uuid;
    fn auth_key(&self) -> uuid::Uuid {
        *self
    }
}

impl KeyField for String {
    type Key = String;
    fn auth_key(&self) -> String {
        self.clone()
    }
}

/// An `email` or `username` column.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold an email or username",
    label = "use `String`, or `Option<String>` for a nullable column"
)]
pub trait TextField {
    /// The text, if any.
    fn auth_text(&self) -> Option<&str>;
}

impl TextField for String {
    fn auth_text(&self) -> Option<&str> {
        Some(self)
    }
}

impl TextField for Option<String> {
    fn auth_text(&self) -> Option<&str> {
        self.as_deref()
    }
}

/// The password-hash column.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a password hash",
    label = "use `String` for the PHC hash"
)]
pub trait HashField {
    /// The PHC string.
    fn auth_hash(&self) -> &str;
}

impl HashField for String {
    fn auth_hash(&self) -> &str {
        self
    }
}

/// An `is_active`, `is_superuser` or `email_verified` column.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a flag such as `is_active`",
    label = "use `bool`, or `Option<bool>` where null means false"
)]
pub trait FlagField {
    /// The flag.
    fn auth_flag(&self) -> bool;
}

impl FlagField for bool {
    fn auth_flag(&self) -> bool {
        *self
    }
}

impl FlagField for Option<bool> {
    fn auth_flag(&self) -> bool {
        self.unwrap_or(false)
    }
}

/// The `scopes` column.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold scopes",
    label = "use `String` (space-separated), `Option<String>` or `Vec<String>`"
)]
pub trait ScopesField {
    /// The scopes, one per entry.
    fn auth_scopes(&self) -> Vec<String>;
}

impl ScopesField for String {
    fn auth_scopes(&self) -> Vec<String> {
        self.split_whitespace().map(str::to_owned).collect()
    }
}

impl ScopesField for Option<String> {
    fn auth_scopes(&self) -> Vec<String> {
        self.as_deref()
            .map(|s| s.to_owned().auth_scopes())
            .unwrap_or_default()
    }
}

impl ScopesField for Vec<String> {
    fn auth_scopes(&self) -> Vec<String> {
        self.iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_on_whitespace_whatever_the_column_type() {
        assert_eq!(" a  b ".to_owned().auth_scopes(), ["a", "b"]);
        assert_eq!(Some("a b".to_owned()).auth_scopes(), ["a", "b"]);
        assert!(None::<String>.auth_scopes().is_empty());
        assert_eq!(
            vec!["a".to_owned(), "b c".to_owned()].auth_scopes(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn nullable_columns_read_as_absent_or_false() {
        assert_eq!(None::<String>.auth_text(), None);
        assert_eq!(Some("ada".to_owned()).auth_text(), Some("ada"));
        assert!(!None::<bool>.auth_flag());
        assert!(Some(true).auth_flag());
    }

    #[test]
    fn keys_are_copied_out() {
        assert_eq!(7i64.auth_key(), 7);
        assert_eq!("k".to_owned().auth_key(), "k");
    }
}
