//! The attributes the derive reads: `#[auth(..)]` (ours) and the parts of
//! `#[sea_orm(..)]` that decide the key and the `Column` variant.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitStr, Path, Token};

use crate::diagnostic::{Errors, did_you_mean, one_of};

/// What a field can stand for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    Id,
    Email,
    Username,
    PasswordHash,
    IsActive,
    IsSuperuser,
    EmailVerified,
    Scopes,
}

impl Role {
    pub(crate) const ALL: [Role; 8] = [
        Role::Id,
        Role::Email,
        Role::Username,
        Role::PasswordHash,
        Role::IsActive,
        Role::IsSuperuser,
        Role::EmailVerified,
        Role::Scopes,
    ];

    /// The role's name in `#[auth(..)]` and in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Id => "id",
            Role::Email => "email",
            Role::Username => "username",
            Role::PasswordHash => "password_hash",
            Role::IsActive => "is_active",
            Role::IsSuperuser => "is_superuser",
            Role::EmailVerified => "email_verified",
            Role::Scopes => "scopes",
        }
    }

    /// The role a field plays by its name alone. The key is found by
    /// `#[sea_orm(primary_key)]` instead.
    pub(crate) fn by_field_name(name: &str) -> Option<Role> {
        Some(match name {
            "email" => Role::Email,
            "username" => Role::Username,
            "password_hash" | "hashed_password" => Role::PasswordHash,
            "is_active" => Role::IsActive,
            "is_superuser" => Role::IsSuperuser,
            "email_verified" => Role::EmailVerified,
            "scopes" => Role::Scopes,
            _ => return None,
        })
    }

    fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

fn role_names() -> Vec<&'static str> {
    Role::ALL.iter().map(|r| r.name()).collect()
}

/// One `key [= "value"]` inside `#[auth(..)]`.
struct AuthArg {
    key: Ident,
    value: Option<(Token![=], LitStr)>,
}

impl Parse for AuthArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            Some((input.parse()?, input.parse()?))
        } else {
            None
        };
        Ok(Self { key, value })
    }
}

fn auth_args(attr: &Attribute, errors: &mut Errors) -> Vec<AuthArg> {
    let parsed = attr
        .meta
        .require_list()
        .and_then(|list| list.parse_args_with(Punctuated::<AuthArg, Token![,]>::parse_terminated));
    match parsed {
        Ok(args) if !args.is_empty() => args.into_iter().collect(),
        Ok(_) | Err(_) => {
            errors.spanned(
                attr,
                format!(
                    "expected `#[auth(role)]` with a role among {}",
                    one_of(&role_names(), '`')
                ),
            );
            Vec::new()
        }
    }
}

/// The role a field claims with `#[auth(role)]`.
pub(crate) fn field_role(attrs: &[Attribute], errors: &mut Errors) -> Option<(Role, Ident)> {
    let mut claimed: Option<(Role, Ident)> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("auth")) {
        for arg in auth_args(attr, errors) {
            let name = arg.key.unraw().to_string();
            let Some(role) = Role::parse(&name) else {
                let hint = if name == "crate" {
                    "; `crate = \"..\"` goes on the struct".to_owned()
                } else {
                    did_you_mean(&name, &role_names(), '`')
                };
                errors.spanned(
                    &arg.key,
                    format!(
                        "unknown `#[auth(..)]` key `{name}`; expected a role among {}{hint}",
                        one_of(&role_names(), '`')
                    ),
                );
                continue;
            };
            if let Some((_, value)) = &arg.value {
                errors.spanned(
                    value,
                    format!("a role takes no value; write `#[auth({name})]`"),
                );
                continue;
            }
            if let Some((first, _)) = &claimed {
                errors.spanned(
                    &arg.key,
                    format!(
                        "this field already plays the `{}` role; a field plays one role",
                        first.name()
                    ),
                );
                continue;
            }
            claimed = Some((role, arg.key));
        }
    }
    claimed
}

/// `#[auth(crate = "..")]` on the struct.
pub(crate) fn container_crate(attrs: &[Attribute], errors: &mut Errors) -> Path {
    let mut krate: Path = syn::parse_quote!(::crudauth);
    for attr in attrs.iter().filter(|a| a.path().is_ident("auth")) {
        for arg in auth_args(attr, errors) {
            let name = arg.key.unraw().to_string();
            match (&*name, &arg.value) {
                ("crate", Some((_, path))) => match path.parse::<Path>() {
                    Ok(path) => krate = path,
                    Err(_) => errors.spanned(
                        path,
                        "expected the path of crudauth, as in `crate = \"my_app::crudauth\"`",
                    ),
                },
                ("crate", None) => errors.spanned(
                    &arg.key,
                    "`crate` needs a value, as in `#[auth(crate = \"my_app::crudauth\")]`",
                ),
                _ if Role::parse(&name).is_some() => errors.spanned(
                    &arg.key,
                    format!("`#[auth({name})]` goes on the field that plays the role, not on the struct"),
                ),
                _ => errors.spanned(
                    &arg.key,
                    format!(
                        "unknown `#[auth(..)]` key `{name}` on the struct; expected `crate = \"..\"`{}",
                        did_you_mean(&name, &["crate"], '`')
                    ),
                ),
            }
        }
    }
    krate
}

/// What the field's `#[sea_orm(..)]` says about it.
#[derive(Default)]
pub(crate) struct SeaOrmField {
    pub primary_key: bool,
    pub ignore: bool,
    /// `enum_name = ".."`: the `Column` variant, when renamed.
    pub enum_name: Option<LitStr>,
}

/// Reads `#[sea_orm(..)]`; anything malformed is left for sea-orm to report.
pub(crate) fn sea_orm_field(attrs: &[Attribute]) -> SeaOrmField {
    let mut out = SeaOrmField::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("sea_orm")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("primary_key") {
                out.primary_key = true;
            } else if meta.path.is_ident("ignore") {
                out.ignore = true;
            } else if meta.path.is_ident("enum_name") {
                out.enum_name = Some(meta.value()?.parse()?);
                return Ok(());
            }
            if meta.input.peek(Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                content.parse::<TokenStream>()?;
            }
            Ok(())
        });
    }
    out
}
