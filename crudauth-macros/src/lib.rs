//! Procedural macros for [crudauth](https://docs.rs/crudauth):
//! `#[authed(..)]` on axum handlers and `#[derive(AuthUser)]` on SeaORM
//! models.
//!
//! Use them through the `crudauth` crate, which re-exports both and
//! documents them with examples; the code they generate names
//! `::crudauth::__private` (or the path given with `crate = ".."`).

mod auth_user;
mod authed;
mod diagnostic;

use proc_macro::TokenStream;

/// Guards an axum handler and hands it the request's `Principal`.
///
/// See `crudauth::authed` for the options and examples.
#[proc_macro_attribute]
pub fn authed(args: TokenStream, item: TokenStream) -> TokenStream {
    authed::authed(args.into(), item.into()).into()
}

/// Implements `crudauth::AuthUser` for a SeaORM entity `Model`.
///
/// See `crudauth::AuthUser` for the roles and examples.
#[proc_macro_derive(AuthUser, attributes(auth))]
pub fn derive_auth_user(item: TokenStream) -> TokenStream {
    auth_user::derive(item.into()).into()
}
