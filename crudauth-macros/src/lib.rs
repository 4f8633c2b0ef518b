//! Procedural macros for crudauth: `#[authed]` and `#[derive(AuthUser)]`.

use proc_macro::TokenStream;

/// Guards an axum handler (placeholder until the DSL lands).
#[proc_macro_attribute]
pub fn authed(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Implements `crudauth::AuthUser` (placeholder until the derive lands).
#[proc_macro_derive(AuthUser, attributes(auth))]
pub fn derive_auth_user(_item: TokenStream) -> TokenStream {
    TokenStream::new()
}
