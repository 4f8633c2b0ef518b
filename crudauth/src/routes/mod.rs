//! The built-in routes of SPEC section 4, one file per family.

mod account;
mod management;
mod session;
mod token;

use session::with_cookies;

use axum::Router;
use axum::extract::FromRef;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use crate::auth::CrudAuth;
use crate::error::AuthError;
use crate::principal::Principal;
use crate::transport::{Mask, resolve};
use crate::user::LoadedUser;
use crate::{BearerTransport, SessionTransport};

impl CrudAuth {
    /// The built-in routes: `/register`, `/me` (unless switched off),
    /// `/logout-all`, `/change-password`, plus `/login`, `/logout`,
    /// `/sessions` with the session transport and `/token`, `/refresh`,
    /// `/revoke` with the bearer transport. Already wrapped in
    /// [`CrudAuth::layer`].
    pub fn router<S>(&self) -> Router<S>
    where
        CrudAuth: FromRef<S>,
        S: Clone + Send + Sync + 'static,
    {
        let mut router = Router::new()
            .route("/register", post(account::register))
            .route("/change-password", post(account::change_password))
            .route("/logout-all", post(management::logout_all));
        if self.config().me_route {
            router = router.route("/me", get(account::me));
        }
        if self.has_transport::<SessionTransport>() {
            router = router
                .route("/login", post(session::login))
                .route("/logout", post(session::logout))
                .route("/sessions", get(session::list))
                .route("/sessions/{id}", delete(session::revoke));
        }
        if self.has_transport::<BearerTransport>() {
            router = router
                .route("/token", post(token::token))
                .route("/refresh", post(token::refresh))
                .route("/revoke", post(token::revoke));
        }
        router.layer(self.layer())
    }

    /// Resolves the principal for a built-in route, refusing anonymous
    /// requests.
    pub(crate) async fn require(
        &self,
        parts: &mut Parts,
        mask: Mask,
    ) -> Result<Principal, AuthError> {
        resolve(parts, self, mask)
            .await?
            .ok_or(AuthError::Unauthenticated)
    }

    pub(crate) fn session_only(&self) -> Mask {
        self.mask_of(|id| id == std::any::TypeId::of::<SessionTransport>())
    }

    /// The shared credential check of `/login`, `/token` and
    /// `/change-password`: unknown user, wrong password and inactive user are
    /// one error, and each costs one argon2 verify.
    pub(crate) async fn check_password(
        &self,
        user: Option<LoadedUser>,
        password: String,
    ) -> Result<LoadedUser, AuthError> {
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let verified = self.hasher().verify(stored, password.clone()).await?;
        let user = match user {
            Some(user) if verified.ok && user.is_active => user,
            _ => return Err(AuthError::InvalidCredentials),
        };
        if verified.needs_rehash {
            let hash = self.hasher().hash(password).await?;
            self.users()
                .set_password_hash(self.db(), &user.id, hash)
                .await?;
        }
        Ok(user)
    }

    /// Looks a login identifier up and checks its password.
    pub(crate) async fn check_credentials(
        &self,
        identifier: &str,
        password: String,
    ) -> Result<LoadedUser, AuthError> {
        // Registration refuses control characters and PostgreSQL text cannot
        // hold NUL: such an identifier names nobody, and must not reach the
        // database as a failing query (a 503).
        let user = if identifier.contains('\0') {
            None
        } else {
            self.users().by_login(self.db(), identifier.trim()).await?
        };
        self.check_password(user, password).await
    }
}

/// Turns a handler's result into the response, with the bearer challenge on
/// 401s when bearer is enabled.
pub(crate) fn respond(auth: &CrudAuth, result: Result<Response, AuthError>) -> Response {
    result.unwrap_or_else(|err| auth.reject(err))
}

/// A `200 {}` body.
pub(crate) fn ok_empty() -> Response {
    axum::Json(serde_json::json!({})).into_response()
}
