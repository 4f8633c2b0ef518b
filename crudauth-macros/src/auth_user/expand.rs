//! Writes `impl AuthUser for Model`, reading each role's field through an
//! adapter trait so that a field of the wrong type is refused on its span.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::ast::{Model, Partial, RoleField};

pub(crate) fn expand(model: &Model) -> TokenStream {
    let Model {
        ident,
        generics,
        krate,
        id,
        email,
        username,
        password_hash,
        is_active,
        is_superuser,
        email_verified,
        scopes,
    } = model;
    let private = quote!(#krate::__private);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let column = |field: &RoleField| {
        let variant = &field.column;
        quote_spanned!(field.column.span()=> Column::#variant)
    };
    let optional_column = |field: &Option<RoleField>| match field {
        Some(field) => {
            let column = column(field);
            quote!(::core::option::Option::Some(#column))
        }
        None => quote!(::core::option::Option::None),
    };
    let columns = [
        ("email", optional_column(email)),
        ("username", optional_column(username)),
        ("is_active", optional_column(is_active)),
        ("is_superuser", optional_column(is_superuser)),
        ("email_verified", optional_column(email_verified)),
        ("scopes", optional_column(scopes)),
    ]
    .map(|(name, value)| {
        let name = syn::Ident::new(name, proc_macro2::Span::call_site());
        quote!(#name: #value)
    });
    let id_column = column(id);
    let hash_column = column(password_hash);

    // `<FieldType as Adapter>::method(&self.field)`, spanned on the type.
    let read = |field: &RoleField, adapter: &str, method: &str| {
        let (name, ty) = (&field.ident, &field.ty);
        let adapter = syn::Ident::new(adapter, ty.span());
        let method = syn::Ident::new(method, ty.span());
        quote_spanned!(ty.span()=> <#ty as #private::#adapter>::#method(&self.#name))
    };
    let id_ty = &id.ty;
    let key_ty = quote_spanned!(id_ty.span()=> <#id_ty as #private::KeyField>::Key);
    let key_value = read(id, "KeyField", "auth_key");
    // Spanned on the key's type so that an unsupported type is reported
    // there once, not also on the derive.
    let key = quote_spanned! {id_ty.span()=>
        fn key(&self) -> Self::Key {
            #key_value
        }
    };
    let hash = read(password_hash, "HashField", "auth_hash");

    let mut methods = TokenStream::new();
    for (field, name) in [(email, "email"), (username, "username")] {
        if let Some(field) = field {
            let name = syn::Ident::new(name, proc_macro2::Span::call_site());
            let value = read(field, "TextField", "auth_text");
            methods.extend(quote! {
                fn #name(&self) -> ::core::option::Option<&str> {
                    #value
                }
            });
        }
    }
    for (field, name) in [
        (is_active, "is_active"),
        (is_superuser, "is_superuser"),
        (email_verified, "email_verified"),
    ] {
        if let Some(field) = field {
            let name = syn::Ident::new(name, proc_macro2::Span::call_site());
            let value = read(field, "FlagField", "auth_flag");
            methods.extend(quote! {
                fn #name(&self) -> bool {
                    #value
                }
            });
        }
    }
    if let Some(field) = scopes {
        let value = read(field, "ScopesField", "auth_scopes");
        methods.extend(quote! {
            fn scopes(&self) -> ::std::vec::Vec<::std::string::String> {
                #value
            }
        });
    }

    // A model without generics is listed at link time, for
    // `crudauth::migration::migrations()` to find its table.
    let register = if generics.params.is_empty() {
        quote! {
            #private::inventory::submit! {
                #private::UserModelRegistration {
                    table: #private::user_table::<#ident>,
                }
            }
        }
    } else {
        TokenStream::new()
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #private::AuthUser for #ident #ty_generics #where_clause {
            type Key = #key_ty;

            fn auth_columns() -> #private::AuthColumns<Column> {
                #private::AuthColumns {
                    id: #id_column,
                    password_hash: #hash_column,
                    #(#columns,)*
                }
            }

            #key

            fn password_hash(&self) -> &str {
                #hash
            }

            #methods
        }

        #register
    }
}

/// An impl that type-checks but never runs, emitted beside the errors so the
/// model still counts as an `AuthUser` elsewhere and mistakes do not cascade.
pub(crate) fn stub(partial: &Partial) -> TokenStream {
    let Partial {
        ident,
        generics,
        krate,
        key,
    } = partial;
    let private = quote!(#krate::__private);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #private::AuthUser for #ident #ty_generics #where_clause {
            type Key = <#key as #private::KeyField>::Key;

            fn auth_columns() -> #private::AuthColumns<
                <<Self as #private::sea_orm::ModelTrait>::Entity as #private::sea_orm::EntityTrait>::Column,
            > {
                ::core::unreachable!()
            }

            fn key(&self) -> Self::Key {
                ::core::unreachable!()
            }

            fn password_hash(&self) -> &str {
                ::core::unreachable!()
            }
        }
    }
}
