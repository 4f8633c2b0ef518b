//! `#[authed(...)]`: parse the options, validate them with the handler,
//! expand.

mod attr;
mod expand;
mod handler;
#[cfg(feature = "openapi")]
mod openapi;
mod rate;

use proc_macro2::TokenStream;
use quote::quote;

use crate::diagnostic::Errors;

pub(crate) fn authed(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new_spanned(&item, "`#[authed]` goes on an `async fn` handler")
                .to_compile_error();
            return quote!(#item #error);
        }
    };
    let mut errors = Errors::default();
    let options = attr::parse(args).map_err(|error| errors.push(error)).ok();
    let handler = handler::validate(function, options.as_ref(), &mut errors);
    match options {
        Some(options) if errors.is_empty() => expand::expand(&options, handler),
        _ => {
            let error = errors.into_compile_error();
            quote!(#item #error)
        }
    }
}
