//! The primary-key types a user entity may use, and how each is compared
//! with the text `user_id` columns of crudauth's tables.

use sea_orm::{DbBackend, Value};

use crate::principal::UserId;

/// The primary-key types a user entity may use: integers, uuids and text.
///
/// Implemented for `i32`, `i64`, `uuid::Uuid` and `String`; sealed, because
/// the runtime must know how each one is joined with its own tables.
pub trait UserKey: sealed::JoinCast + Into<Value> + Clone + Send + Sync + 'static {
    /// The key as a [`UserId`].
    fn to_user_id(&self) -> UserId;
    /// Converts a [`UserId`] back, when it is of this key's kind.
    fn from_user_id(id: &UserId) -> Option<Self>;
    /// Parses the text form crudauth stores in its own tables and tokens.
    fn parse(raw: &str) -> Option<Self>;
    /// A fresh key for a new row, or `None` when the database assigns one.
    fn generate() -> Option<Self>;
}

macro_rules! int_key {
    ($($t:ty),*) => {$(
        impl UserKey for $t {
            fn to_user_id(&self) -> UserId {
                UserId::Int(i64::from(*self))
            }
            fn from_user_id(id: &UserId) -> Option<Self> {
                match id {
                    UserId::Int(n) => <$t>::try_from(*n).ok(),
                    _ => None,
                }
            }
            fn parse(raw: &str) -> Option<Self> {
                raw.parse().ok()
            }
            fn generate() -> Option<Self> {
                None
            }
        }

        impl sealed::JoinCast for $t {
            fn join_cast(backend: DbBackend) -> Option<Cast> {
                Some(Cast::To(match backend {
                    DbBackend::Postgres => "BIGINT",
                    _ => "INTEGER",
                }))
            }
        }
    )*};
}
int_key!(i32, i64);

impl UserKey for uuid::Uuid {
    fn to_user_id(&self) -> UserId {
        UserId::Uuid(*self)
    }
    fn from_user_id(id: &UserId) -> Option<Self> {
        match id {
            UserId::Uuid(u) => Some(*u),
            _ => None,
        }
    }
    fn parse(raw: &str) -> Option<Self> {
        uuid::Uuid::parse_str(raw).ok()
    }
    fn generate() -> Option<Self> {
        Some(uuid::Uuid::new_v4())
    }
}

impl sealed::JoinCast for uuid::Uuid {
    fn join_cast(backend: DbBackend) -> Option<Cast> {
        // SQLite keeps uuids as blobs, which no cast of the text form matches.
        (backend == DbBackend::Postgres).then_some(Cast::To("UUID"))
    }
}

impl UserKey for String {
    fn to_user_id(&self) -> UserId {
        UserId::Text(self.clone())
    }
    fn from_user_id(id: &UserId) -> Option<Self> {
        match id {
            UserId::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn parse(raw: &str) -> Option<Self> {
        Some(raw.to_owned())
    }
    fn generate() -> Option<Self> {
        Some(uuid::Uuid::new_v4().to_string())
    }
}

impl sealed::JoinCast for String {
    fn join_cast(_: DbBackend) -> Option<Cast> {
        Some(Cast::Text)
    }
}

/// Per key type, the SQL cast that lets crudauth's text `user_id` columns be
/// joined with the user table. Private to the crate: it is why [`UserKey`]
/// is sealed.
pub(crate) mod sealed {
    use sea_orm::DbBackend;

    /// How a text `user_id` is compared with the user table's key in a join.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Cast {
        /// The key is text: compare directly.
        Text,
        /// Cast the text to this SQL type.
        To(&'static str),
    }

    /// The cast of a key type.
    pub trait JoinCast {
        /// The SQL type that crudauth's text `user_id` columns are cast to
        /// when joined with the user table; `None` when no portable cast
        /// exists (the runtime then uses two queries instead of one).
        fn join_cast(backend: DbBackend) -> Option<Cast>;
    }
}

use sealed::Cast;
