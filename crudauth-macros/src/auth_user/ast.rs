//! The derive's input as a typed model: each field with its role, then the
//! roles checked for completeness and uniqueness.

use heck::ToUpperCamelCase;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Generics, Ident, Path, Type};

use super::attr::{self, Role};
use crate::diagnostic::Errors;

/// A field that plays a role.
#[derive(Clone)]
pub(crate) struct RoleField {
    pub ident: Ident,
    pub ty: Type,
    /// The SeaORM `Column` variant of the field.
    pub column: Ident,
}

/// A validated user model.
pub(crate) struct Model {
    pub ident: Ident,
    pub generics: Generics,
    pub krate: Path,
    pub id: RoleField,
    pub email: Option<RoleField>,
    pub username: Option<RoleField>,
    pub password_hash: RoleField,
    pub is_active: Option<RoleField>,
    pub is_superuser: Option<RoleField>,
    pub email_verified: Option<RoleField>,
    pub scopes: Option<RoleField>,
}

/// What is known when validation fails: enough for a stub impl.
pub(crate) struct Partial {
    pub ident: Ident,
    pub generics: Generics,
    pub krate: Path,
    pub key: Type,
}

/// A field and how it came by its role.
struct Candidate {
    field: RoleField,
    /// The `role` ident of `#[auth(role)]`, when claimed explicitly.
    explicit: Option<Ident>,
    ignored: bool,
}

/// The model, or on error what a stub impl needs (nothing when the input
/// cannot be a SeaORM model).
pub(crate) fn parse(
    input: DeriveInput,
    errors: &mut Errors,
) -> Result<Model, Option<Box<Partial>>> {
    let named = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named,
            Fields::Unnamed(fields) => {
                errors.spanned(
                    fields,
                    "`#[derive(AuthUser)]` needs named fields, as a SeaORM `Model` has: `struct Model { id: i64, .. }`",
                );
                return Err(None);
            }
            Fields::Unit => {
                errors.spanned(
                    &input.ident,
                    "`#[derive(AuthUser)]` needs named fields, as a SeaORM `Model` has: `struct Model { id: i64, .. }`",
                );
                return Err(None);
            }
        },
        Data::Enum(data) => {
            errors.spanned(
                data.enum_token,
                "`#[derive(AuthUser)]` goes on a SeaORM entity `Model` struct, not on an enum",
            );
            return Err(None);
        }
        Data::Union(data) => {
            errors.spanned(
                data.union_token,
                "`#[derive(AuthUser)]` goes on a SeaORM entity `Model` struct, not on a union",
            );
            return Err(None);
        }
    };
    let krate = attr::container_crate(&input.attrs, errors);

    let mut candidates: Vec<(Role, Candidate)> = Vec::new();
    let mut field_errors = Errors::default();
    for field in &named.named {
        let ident = field.ident.clone().expect("named fields have idents");
        let sea_orm = attr::sea_orm_field(&field.attrs);
        let name = ident.unraw().to_string();
        let column = match &sea_orm.enum_name {
            Some(renamed) => Ident::new(&renamed.value(), renamed.span()),
            None => Ident::new(&name.to_upper_camel_case(), ident.span()),
        };
        let role_field = || RoleField {
            ident: ident.clone(),
            ty: field.ty.clone(),
            column: column.clone(),
        };
        if let Some((role, key)) = attr::field_role(&field.attrs, &mut field_errors) {
            candidates.push((
                role,
                Candidate {
                    field: role_field(),
                    explicit: Some(key),
                    ignored: sea_orm.ignore,
                },
            ));
            continue;
        }
        let inferred = if sea_orm.primary_key {
            Some(Role::Id)
        } else {
            Role::by_field_name(&name)
        };
        if let Some(role) = inferred {
            candidates.push((
                role,
                Candidate {
                    field: role_field(),
                    explicit: None,
                    ignored: sea_orm.ignore,
                },
            ));
        }
    }

    // A mistyped `#[auth(..)]` would otherwise also read as a missing role.
    let attributes_valid = field_errors.is_empty();
    errors.extend(field_errors);
    let mut roles = Roles::default();
    for role in Role::ALL {
        let claimed: Vec<&Candidate> = candidates
            .iter()
            .filter(|(r, c)| *r == role && c.explicit.is_some())
            .map(|(_, c)| c)
            .collect();
        // An explicit `#[auth(role)]` switches off inference for that role.
        let chosen: Vec<&Candidate> = if claimed.is_empty() {
            candidates
                .iter()
                .filter(|(r, _)| *r == role)
                .map(|(_, c)| c)
                .collect()
        } else {
            claimed
        };
        if let [first, rest @ ..] = chosen.as_slice() {
            for extra in rest {
                let message = if first.explicit.is_some() {
                    format!(
                        "two fields claim the `{0}` role (`{1}` and `{2}`); `#[auth({0})]` goes on one field",
                        role.name(),
                        first.field.ident,
                        extra.field.ident
                    )
                } else if role == Role::Id {
                    format!(
                        "two primary-key fields (`{}` and `{}`); crudauth needs a single key: mark the one to look users up by with `#[auth(id)]`",
                        first.field.ident, extra.field.ident
                    )
                } else {
                    format!(
                        "two fields for the `{0}` role (`{1}` and `{2}`); mark the one to use with `#[auth({0})]`",
                        role.name(),
                        first.field.ident,
                        extra.field.ident
                    )
                };
                match &extra.explicit {
                    Some(key) => errors.spanned(key, message),
                    None => errors.spanned(&extra.field.ident, message),
                }
            }
            if first.ignored {
                errors.spanned(
                    &first.field.ident,
                    format!(
                        "field `{}` is `#[sea_orm(ignore)]`, so it has no column to play the `{}` role",
                        first.field.ident,
                        role.name()
                    ),
                );
            }
            roles.set(role, first.field.clone());
        }
    }

    let ident = input.ident;
    if attributes_valid {
        missing_roles(&roles, &ident, errors);
    }
    let generics = input.generics;
    match (roles.id, roles.password_hash) {
        (Some(id), Some(password_hash)) if errors.is_empty() => Ok(Model {
            ident,
            generics,
            krate,
            id,
            email: roles.email,
            username: roles.username,
            password_hash,
            is_active: roles.is_active,
            is_superuser: roles.is_superuser,
            email_verified: roles.email_verified,
            scopes: roles.scopes,
        }),
        (Some(id), _) => Err(Some(Box::new(Partial {
            ident,
            generics,
            krate,
            key: id.ty,
        }))),
        // Without a key this is not a SeaORM model (every entity has one),
        // so a stub would only add errors.
        (None, _) => Err(None),
    }
}

#[derive(Default)]
struct Roles {
    id: Option<RoleField>,
    email: Option<RoleField>,
    username: Option<RoleField>,
    password_hash: Option<RoleField>,
    is_active: Option<RoleField>,
    is_superuser: Option<RoleField>,
    email_verified: Option<RoleField>,
    scopes: Option<RoleField>,
}

impl Roles {
    fn set(&mut self, role: Role, field: RoleField) {
        let slot = match role {
            Role::Id => &mut self.id,
            Role::Email => &mut self.email,
            Role::Username => &mut self.username,
            Role::PasswordHash => &mut self.password_hash,
            Role::IsActive => &mut self.is_active,
            Role::IsSuperuser => &mut self.is_superuser,
            Role::EmailVerified => &mut self.email_verified,
            Role::Scopes => &mut self.scopes,
        };
        *slot = Some(field);
    }
}

fn missing_roles(roles: &Roles, ident: &Ident, errors: &mut Errors) {
    if roles.id.is_none() {
        errors.spanned(
            ident,
            "no primary key: mark the key field with `#[sea_orm(primary_key)]` (or `#[auth(id)]`)",
        );
    }
    if roles.email.is_none() && roles.username.is_none() {
        errors.spanned(
            ident,
            "no login field: add an `email` or a `username` field (`String` or `Option<String>`), or mark one with `#[auth(email)]` / `#[auth(username)]`",
        );
    }
    if roles.password_hash.is_none() {
        errors.spanned(
            ident,
            "no password hash: add a `password_hash: String` field, or mark one with `#[auth(password_hash)]`",
        );
    }
}
