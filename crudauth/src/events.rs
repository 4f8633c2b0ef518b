//! Account events passed to the application's hooks.

use crate::principal::UserId;

/// Something that happened to an account, passed to hooks registered with
/// [`CrudAuthBuilder::hook`](crate::CrudAuthBuilder::hook).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEvent {
    /// A user registered through `POST /register`.
    Registered {
        /// The new user.
        user_id: UserId,
    },
    /// A user logged in (`/login` or `/token`).
    LoggedIn {
        /// The user.
        user_id: UserId,
        /// The transport's name: `"session"` or `"bearer"`.
        transport: &'static str,
    },
    /// A session ended through `POST /logout`.
    LoggedOut {
        /// The user.
        user_id: UserId,
    },
    /// A user changed their password.
    PasswordChanged {
        /// The user.
        user_id: UserId,
    },
}
