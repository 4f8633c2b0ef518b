//! Writes the guard: a marker type carrying the options as a `GuardSpec`,
//! its link-time registration, and the handler taking `Authed<Marker>`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Stmt, parse_quote_spanned};

use super::attr::{GuardOptions, TransportSpec};
use super::handler::Handler;

pub(crate) fn expand(options: &GuardOptions, handler: Handler) -> TokenStream {
    let Handler {
        mut item,
        principal,
    } = handler;
    #[cfg(feature = "openapi")]
    super::openapi::document(options, &mut item);
    let krate = &options.krate;
    let private = quote!(#krate::__private);
    let name = item.sig.ident.unraw();
    let vis = &item.vis;
    let name_str = name.to_string();
    let marker = format_ident!("__crudauth_guard_{}", name);
    let guard = Ident::new("__crudauth_guard", Span::call_site());

    let spec = spec_consts(options, &private);
    let check = options.check.as_ref().map(|path| {
        let principal = quote_spanned!(path.span()=> __crudauth_principal);
        quote_spanned! {path.span()=>
            fn check(#principal: &#private::Principal) -> #private::CheckFuture<'_> {
                #private::CheckOutput::into_verdict(#path(#principal))
            }
        }
    });
    let registration = (!options.transports.is_empty()).then(|| {
        quote! {
            #private::inventory::submit! {
                #private::GuardRegistration {
                    handler: <#marker as #private::GuardSpec>::HANDLER,
                    transports: <#marker as #private::GuardSpec>::TRANSPORTS,
                }
            }
        }
    });

    match principal {
        Some(param) => {
            let FnArg::Typed(typed) = &mut item.sig.inputs[param.index] else {
                unreachable!("validation only accepts typed principal parameters");
            };
            let (pat, ty) = (&typed.pat, &typed.ty);
            let span = typed.span();
            let into = if param.optional {
                quote_spanned!(span=> into_option)
            } else {
                quote_spanned!(span=> into_principal)
            };
            let binding: Stmt = parse_quote_spanned! {span=>
                let #pat: #ty = #guard.#into();
            };
            item.block.stmts.insert(0, binding);
            typed.attrs.clear();
            typed.pat = parse_quote_spanned!(span=> #guard);
            typed.ty = parse_quote_spanned!(span=> #private::Authed<#marker>);
        }
        None => {
            let span = item.sig.ident.span();
            item.sig.inputs.insert(
                0,
                parse_quote_spanned!(span=> #guard: #private::Authed<#marker>),
            );
        }
    }

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #[derive(::core::fmt::Debug)]
        #vis enum #marker {}

        impl #private::GuardSpec for #marker {
            const HANDLER: &'static str =
                ::core::concat!(::core::module_path!(), "::", #name_str);
            #spec
            #check
        }

        #registration

        #item
    }
}

/// The consts that differ from `GuardSpec`'s defaults.
fn spec_consts(options: &GuardOptions, private: &TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    if options.optional.is_some() {
        out.extend(quote!(
            const OPTIONAL: bool = true;
        ));
    }
    if options.superuser {
        out.extend(quote!(
            const SUPERUSER: bool = true;
        ));
    }
    if options.verified {
        out.extend(quote!(
            const VERIFIED: bool = true;
        ));
    }
    if options.mfa {
        out.extend(quote!(
            const MFA: bool = true;
        ));
    }
    if let Some(secs) = options.fresh_secs {
        let secs = Literal::u64_unsuffixed(secs);
        out.extend(quote!(
            const FRESH_SECS: u64 = #secs;
        ));
    }
    if let Some(rate) = options.rate {
        let (count, per_secs) = (
            Literal::u32_unsuffixed(rate.count),
            Literal::u64_unsuffixed(rate.per_secs),
        );
        out.extend(quote!(
            const RATE: ::core::option::Option<#private::Rate> =
                ::core::option::Option::Some(#private::Rate::new(#count, #per_secs));
        ));
    }
    if !options.scopes.is_empty() {
        let scopes = &options.scopes;
        out.extend(quote!(const SCOPES: &'static [&'static str] = &[#(#scopes),*];));
    }
    if !options.transports.is_empty() {
        let refs = options.transports.iter().map(|t| match t {
            TransportSpec::Named(name) => quote!(#private::TransportRef::Named(#name)),
            TransportSpec::Type(ty) => quote_spanned! {ty.span()=>
                #private::TransportRef::Type {
                    name: ::core::stringify!(#ty),
                    id: #private::transport_id::<#ty>,
                }
            },
        });
        out.extend(quote! {
            const TRANSPORTS: &'static [#private::TransportRef] = &[#(#refs),*];
        });
    }
    out
}
