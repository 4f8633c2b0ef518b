//! `#[derive(AuthUser)]`: read the model's fields into roles, validate,
//! expand.

mod ast;
mod attr;
mod expand;

use proc_macro2::TokenStream;

use crate::diagnostic::Errors;

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    // `#[sea_orm::model]` copies the model's derives onto a companion
    // `ModelEx` with relation fields; only `Model` is the entity's row.
    if input.ident == "ModelEx" {
        return TokenStream::new();
    }
    let mut errors = Errors::default();
    match ast::parse(input, &mut errors) {
        Ok(model) => expand::expand(&model),
        Err(partial) => {
            let stub = partial.as_deref().map(expand::stub);
            let errors = errors.into_compile_error();
            quote::quote!(#stub #errors)
        }
    }
}
