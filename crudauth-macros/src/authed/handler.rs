//! The guarded handler: an `async fn` with at most one principal parameter.

use syn::{FnArg, GenericArgument, ItemFn, PatType, PathArguments, Type};

use super::attr::GuardOptions;
use crate::diagnostic::Errors;

/// A validated handler and where its principal comes in.
pub(crate) struct Handler {
    pub item: ItemFn,
    pub principal: Option<PrincipalParam>,
}

/// The parameter `#[authed]` fills.
pub(crate) struct PrincipalParam {
    /// Its position among the inputs.
    pub index: usize,
    pub optional: bool,
}

/// Whether `ty` is `Principal` (`Some(false)`) or `Option<Principal>`
/// (`Some(true)`), by the last segment of its path, as written.
fn principal_kind(ty: &Type) -> Option<bool> {
    let last = match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last()?,
        Type::Paren(inner) => return principal_kind(&inner.elem),
        Type::Group(inner) => return principal_kind(&inner.elem),
        _ => return None,
    };
    match &last.arguments {
        PathArguments::None if last.ident == "Principal" => Some(false),
        PathArguments::AngleBracketed(args) if last.ident == "Option" && args.args.len() == 1 => {
            match args.args.first() {
                Some(GenericArgument::Type(inner)) if principal_kind(inner) == Some(false) => {
                    Some(true)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Checks the handler, and against the options when they parsed.
pub(crate) fn validate(
    item: ItemFn,
    options: Option<&GuardOptions>,
    errors: &mut Errors,
) -> Handler {
    let flag = options.map(|o| &o.optional);
    if item.sig.asyncness.is_none() {
        errors.spanned(
            item.sig.fn_token,
            format!(
                "`#[authed]` needs an `async fn`: axum handlers are async; write `async fn {}(..)`",
                item.sig.ident
            ),
        );
    }
    let mut principal: Option<PrincipalParam> = None;
    for (index, input) in item.sig.inputs.iter().enumerate() {
        let PatType { pat, ty, .. } = match input {
            FnArg::Typed(typed) => typed,
            FnArg::Receiver(receiver) => {
                errors.spanned(
                    receiver,
                    "`#[authed]` guards free functions, not methods; move the handler out of the `impl` block",
                );
                continue;
            }
        };
        let Some(optional) = principal_kind(ty) else {
            continue;
        };
        if principal.is_some() {
            errors.spanned(
                input,
                "more than one principal parameter; `#[authed]` fills exactly one `Principal` (or `Option<Principal>` with `optional`)",
            );
            continue;
        }
        match (optional, flag) {
            (true, Some(None)) => errors.spanned(
                ty,
                "`Option<Principal>` needs `#[authed(optional)]`; add `optional`, or take `Principal` to refuse anonymous requests",
            ),
            (false, Some(Some(flag))) => errors.spanned(
                ty,
                format!(
                    "`{flag}` hands the handler an `Option<Principal>`; write `{}: Option<Principal>`",
                    quote::ToTokens::to_token_stream(pat),
                ),
            ),
            _ => {}
        }
        principal = Some(PrincipalParam { index, optional });
    }
    Handler { item, principal }
}

#[cfg(test)]
mod tests {
    use super::principal_kind;
    use syn::parse_quote;

    #[test]
    fn principal_is_recognised_by_its_last_segment() {
        assert_eq!(principal_kind(&parse_quote!(Principal)), Some(false));
        assert_eq!(
            principal_kind(&parse_quote!(crudauth::Principal)),
            Some(false)
        );
        assert_eq!(principal_kind(&parse_quote!(Option<Principal>)), Some(true));
        assert_eq!(
            principal_kind(&parse_quote!(std::option::Option<crudauth::Principal>)),
            Some(true)
        );
        assert_eq!(principal_kind(&parse_quote!(Option<String>)), None);
        assert_eq!(principal_kind(&parse_quote!(Json<Principal>)), None);
        assert_eq!(principal_kind(&parse_quote!(&Principal)), None);
    }
}
