//! The authenticated identity handed to handlers, whatever the credential.

use std::any::Any;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A user's primary key, as the application's entity defines it.
///
/// Serializes as the underlying key: a JSON number for integer keys, a string
/// for uuid and text keys.
///
/// # Examples
///
/// ```
/// use crudauth::UserId;
/// assert_eq!(serde_json::to_string(&UserId::Int(42)).unwrap(), "42");
/// assert_eq!(UserId::Text("ada".into()).to_string(), "ada");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UserId {
    /// An integer key (`i32` or `i64` columns).
    Int(i64),
    /// A uuid key.
    Uuid(uuid::Uuid),
    /// A text key.
    Text(String),
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Uuid(u) => write!(f, "{}", u.hyphenated()),
            Self::Text(s) => f.write_str(s),
        }
    }
}

impl From<i64> for UserId {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

impl From<i32> for UserId {
    fn from(n: i32) -> Self {
        Self::Int(n.into())
    }
}

impl From<uuid::Uuid> for UserId {
    fn from(u: uuid::Uuid) -> Self {
        Self::Uuid(u)
    }
}

impl From<String> for UserId {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

/// The authenticated user of a request: the same type whether a session
/// cookie or a bearer token authenticated it.
///
/// Take it as a handler argument (or use [`authed`](crate::authed)); take
/// `Option<Principal>` for routes that also serve anonymous visitors.
///
/// # Examples
///
/// ```
/// use axum::Json;
/// use crudauth::Principal;
///
/// async fn me(user: Principal) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "id": user.user_id }))
/// }
/// ```
#[derive(Clone, Serialize)]
#[non_exhaustive]
pub struct Principal {
    /// The user's primary key.
    pub user_id: UserId,
    /// Whether the user is a superuser.
    pub is_superuser: bool,
    /// Whether the user's email address is verified.
    pub email_verified: bool,
    /// The scopes granted to this credential.
    pub scopes: BTreeSet<String>,
    /// The name of the transport that authenticated the request.
    pub transport: &'static str,
    /// The public id of the session, for session principals.
    pub session_id: Option<String>,
    /// Whether this session or token family was established with a second
    /// factor (`#[authed(mfa)]` requires it).
    pub mfa: bool,
    /// Unix seconds of the last password or second-factor proof behind this
    /// credential (its login, then each `POST /sudo` or password change);
    /// `#[authed(fresh = "5m")]` requires it recent. `None` when the
    /// transport cannot tell.
    pub authenticated_at: Option<i64>,
    #[serde(skip)]
    pub(crate) token_family: Option<String>,
    #[serde(skip)]
    pub(crate) loaded: Option<Arc<SharedUser>>,
}

impl Principal {
    /// A principal for a custom [`Transport`](crate::Transport).
    ///
    /// # Examples
    ///
    /// ```
    /// use crudauth::{Principal, UserId};
    /// let p = Principal::new(UserId::Int(7), "api_key");
    /// assert_eq!(p.transport, "api_key");
    /// assert!(!p.is_superuser);
    /// ```
    pub fn new(user_id: UserId, transport: &'static str) -> Self {
        Self {
            user_id,
            is_superuser: false,
            email_verified: false,
            scopes: BTreeSet::new(),
            transport,
            session_id: None,
            mfa: false,
            authenticated_at: None,
            token_family: None,
            loaded: None,
        }
    }

    /// Builds the principal of a user shared with the cache, granted
    /// `scopes`.
    pub(crate) fn for_shared(
        user: Arc<SharedUser>,
        transport: &'static str,
        scopes: BTreeSet<String>,
    ) -> Self {
        Self {
            user_id: user.id.clone(),
            is_superuser: user.is_superuser,
            email_verified: user.email_verified,
            scopes,
            transport,
            session_id: None,
            mfa: false,
            authenticated_at: None,
            token_family: None,
            loaded: Some(user),
        }
    }

    /// The loaded user row, when the transport loaded one of type `U`.
    ///
    /// # Examples
    ///
    /// ```
    /// use crudauth::{Principal, UserId};
    /// let p = Principal::new(UserId::Int(7), "api_key");
    /// assert!(p.user::<String>().is_none());
    /// ```
    pub fn user<U: Any>(&self) -> Option<&U> {
        let row: &dyn Any = &*self.loaded.as_deref()?.row;
        row.downcast_ref::<U>()
    }

    /// Whether every one of `required` is among the principal's scopes.
    ///
    /// # Examples
    ///
    /// ```
    /// use crudauth::{Principal, UserId};
    /// let mut p = Principal::new(UserId::Int(7), "bearer");
    /// p.scopes.insert("jobs:write".into());
    /// assert!(p.has_scopes(&["jobs:write"]));
    /// assert!(!p.has_scopes(&["jobs:write", "admin"]));
    /// ```
    pub fn has_scopes(&self, required: &[&str]) -> bool {
        required.iter().all(|s| self.scopes.contains(*s))
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("user_id", &self.user_id)
            .field("is_superuser", &self.is_superuser)
            .field("email_verified", &self.email_verified)
            .field("scopes", &self.scopes)
            .field("transport", &self.transport)
            .field("session_id", &self.session_id)
            .field("mfa", &self.mfa)
            .field("authenticated_at", &self.authenticated_at)
            .finish_non_exhaustive()
    }
}

/// The application's typed user row, behind the few questions the runtime
/// asks it after a credential has been checked. Implemented for every
/// [`AuthUser`](crate::AuthUser).
pub(crate) trait UserRow: Any + Send + Sync {
    fn email(&self) -> Option<&str>;
    fn username(&self) -> Option<&str>;
    /// The scopes the user may be granted.
    fn scopes(&self) -> Vec<String>;
}

/// What a principal keeps of its user: the facts its guards read and the
/// typed row for [`Principal::user`](crate::Principal::user). The principal
/// cache holds one per cached credential, so it holds no copies of the
/// row's fields: everything else is read from the row when asked.
pub(crate) struct SharedUser {
    pub id: UserId,
    pub is_superuser: bool,
    pub email_verified: bool,
    pub row: Arc<dyn UserRow>,
}

/// A user row as the runtime needs it while it checks a credential or
/// changes an account, with the typed row kept for sharing.
#[derive(Clone)]
pub(crate) struct LoadedUser {
    pub id: UserId,
    pub email: Option<String>,
    pub username: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub email_verified: bool,
    pub scopes: Vec<String>,
    pub row: Arc<dyn UserRow>,
}

impl LoadedUser {
    /// What a principal (and the cache) keeps of this user.
    pub(crate) fn share(&self) -> SharedUser {
        SharedUser {
            id: self.id.clone(),
            is_superuser: self.is_superuser,
            email_verified: self.email_verified,
            row: self.row.clone(),
        }
    }
}

impl std::fmt::Debug for LoadedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedUser")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
