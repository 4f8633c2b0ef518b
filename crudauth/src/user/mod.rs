//! The application's user entity as crudauth sees it: the [`AuthUser`] trait
//! (implemented by `#[derive(AuthUser)]`), its key types and the field
//! adapters the derive uses.

pub(crate) mod fields;
pub(crate) mod key;
pub(crate) mod register;

use sea_orm::{EntityTrait, FromQueryResult, IntoActiveModel, ModelTrait};

pub use key::UserKey;

/// The columns of the user entity that play a role in authentication.
#[derive(Debug, Clone, Copy)]
pub struct AuthColumns<C> {
    /// The primary key.
    pub id: C,
    /// The email column, if any.
    pub email: Option<C>,
    /// The username column, if any.
    pub username: Option<C>,
    /// The PHC password hash.
    pub password_hash: C,
    /// `is_active`, if any (absent means every user is active).
    pub is_active: Option<C>,
    /// `is_superuser`, if any.
    pub is_superuser: Option<C>,
    /// `email_verified`, if any.
    pub email_verified: Option<C>,
    /// The scopes column, if any.
    pub scopes: Option<C>,
}

/// A SeaORM `Model` that crudauth can authenticate.
///
/// Derive it with `#[derive(AuthUser)]`; the methods below are what the
/// derive writes, so a hand-written impl is possible but rarely needed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a crudauth user model",
    label = "add `#[derive(crudauth::AuthUser)]` to this SeaORM Model"
)]
pub trait AuthUser:
    ModelTrait<Entity: EntityTrait<Model = Self, ActiveModel: Send>>
    + FromQueryResult
    + IntoActiveModel<<Self::Entity as EntityTrait>::ActiveModel>
    + Sync
    + 'static
{
    /// The primary key's type.
    type Key: UserKey;

    /// Which columns hold which role.
    fn auth_columns() -> AuthColumns<<Self::Entity as EntityTrait>::Column>;
    /// The primary key.
    fn key(&self) -> Self::Key;
    /// The stored PHC password hash.
    fn password_hash(&self) -> &str;
    /// The email address, if the model has one.
    fn email(&self) -> Option<&str> {
        None
    }
    /// The username, if the model has one.
    fn username(&self) -> Option<&str> {
        None
    }
    /// Whether the user may log in.
    fn is_active(&self) -> bool {
        true
    }
    /// Whether the user passes `#[authed(superuser)]`.
    fn is_superuser(&self) -> bool {
        false
    }
    /// Whether the user passes `#[authed(verified)]`.
    fn email_verified(&self) -> bool {
        false
    }
    /// The scopes this user may be granted.
    fn scopes(&self) -> Vec<String> {
        Vec::new()
    }
}

impl<U: AuthUser + Send> crate::principal::UserRow for U {
    fn email(&self) -> Option<&str> {
        AuthUser::email(self)
    }

    fn username(&self) -> Option<&str> {
        AuthUser::username(self)
    }

    fn scopes(&self) -> Vec<String> {
        AuthUser::scopes(self)
    }
}
