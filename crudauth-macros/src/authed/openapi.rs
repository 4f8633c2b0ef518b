//! With crudauth's `openapi` feature: a `#[utoipa::path(..)]` below
//! `#[authed]` gets the guard's security requirements (its transports, its
//! scopes on bearer, `()` when optional) and its 401/403 answers, unless
//! the attribute states them itself. Only the attribute's arguments change:
//! the error body it names, `__private::ErrorBody`, exists with the feature.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::quote;
use syn::{ItemFn, Meta};

use super::attr::{GuardOptions, TransportSpec};

/// Methods that need no CSRF token (RFC 9110's safe methods).
const SAFE: &[&str] = &["get", "head", "options", "trace"];

pub(crate) fn document(options: &GuardOptions, item: &mut ItemFn) {
    for attr in &mut item.attrs {
        let segments: Vec<String> = attr
            .path()
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        if !segments.ends_with(&["utoipa".to_owned(), "path".to_owned()]) {
            continue;
        }
        if let Meta::List(list) = &mut attr.meta {
            list.tokens = rewrite(options, list.tokens.clone());
        }
    }
}

/// The top-level, comma-separated arguments.
fn split(tokens: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut items = vec![Vec::new()];
    for token in tokens {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ',' => items.push(Vec::new()),
            _ => items.last_mut().expect("never empty").push(token),
        }
    }
    items.retain(|item| !item.is_empty());
    items
}

fn leading_ident(item: &[TokenTree]) -> Option<String> {
    match item.first() {
        Some(TokenTree::Ident(ident)) => Some(ident.to_string()),
        _ => None,
    }
}

/// Whether a `responses(..)` list has an entry `status = <code>`.
fn has_status(responses: &TokenStream, code: &str) -> bool {
    fn walk(tokens: TokenStream, code: &str) -> bool {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        tokens.windows(3).any(|w| match w {
            [
                TokenTree::Ident(key),
                TokenTree::Punct(eq),
                TokenTree::Literal(value),
            ] => {
                key == "status"
                    && eq.as_char() == '='
                    && value.to_string().trim_matches('"') == code
            }
            _ => false,
        }) || tokens.iter().any(|t| match t {
            TokenTree::Group(g) => walk(g.stream(), code),
            _ => false,
        })
    }
    walk(responses.clone(), code)
}

fn rewrite(options: &GuardOptions, tokens: TokenStream) -> TokenStream {
    let mut items = split(tokens);
    let unsafe_method = match items.first().and_then(|i| leading_ident(i)) {
        Some(method) if SAFE.contains(&method.as_str()) => false,
        // A method list, or a method we cannot read: ask for the token.
        _ => true,
    };
    let named = |name: &str| {
        options.transports.is_empty()
            || options
                .transports
                .iter()
                .any(|t| matches!(t, TransportSpec::Named(lit) if lit.value() == name))
    };
    let session = named("session");
    let bearer = named("bearer");

    if !items
        .iter()
        .any(|i| leading_ident(i).as_deref() == Some("security"))
    {
        let mut alternatives = Vec::new();
        if session {
            alternatives.push(if unsafe_method {
                quote!(("session" = [], "csrf" = []))
            } else {
                quote!(("session" = []))
            });
        }
        if bearer {
            let scopes = &options.scopes;
            alternatives.push(quote!(("bearer" = [#(#scopes),*])));
        }
        if options.optional.is_some() {
            alternatives.push(quote!(()));
        }
        if !alternatives.is_empty() {
            items.push(quote!(security(#(#alternatives),*)).into_iter().collect());
        }
    }

    let gated = options.superuser
        || options.verified
        || options.mfa
        || options.fresh_secs.is_some()
        || !options.scopes.is_empty()
        || options.check.is_some();
    let mut forbidden = Vec::new();
    if session && unsafe_method {
        forbidden.push("`csrf_failed`");
    }
    if options.superuser {
        forbidden.push("`insufficient_privileges`");
    }
    if options.verified {
        forbidden.push("`not_verified`");
    }
    if options.mfa {
        forbidden.push("`mfa_required`");
    }
    if options.fresh_secs.is_some() {
        forbidden.push("`reauthentication_required`");
    }
    if !options.scopes.is_empty() {
        forbidden.push("`insufficient_scope`");
    }
    if options.check.is_some() {
        forbidden.push("`access_denied`");
    }

    let position = items
        .iter()
        .position(|i| leading_ident(i).as_deref() == Some("responses"));
    let existing = position
        .and_then(|p| match items[p].get(1) {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                Some(g.stream())
            }
            _ => None,
        })
        .unwrap_or_default();
    let krate = &options.krate;
    let body = quote!(#krate::__private::ErrorBody);
    let mut added = Vec::new();
    if !has_status(&existing, "401") {
        let text = if options.optional.is_some() {
            "A credential was present but invalid (`invalid_token`); body `{detail, code}`."
        } else {
            "No usable credential (`unauthenticated`), or an invalid one (`invalid_token`); \
             body `{detail, code}`."
        };
        added.push(quote!((status = 401, description = #text, body = #body)));
    }
    if (gated || (session && unsafe_method)) && !has_status(&existing, "403") {
        let text = format!(
            "Refused: {}; body `{{detail, code}}`.",
            forbidden.join(", ")
        );
        added.push(quote!((status = 403, description = #text, body = #body)));
    }
    if let Some(rate) = options.rate
        && !has_status(&existing, "429")
    {
        let period = match rate.per_secs {
            1 => "second",
            60 => "minute",
            _ => "hour",
        };
        let text = format!(
            "Over the limit of {} requests a {period} (`rate_limited`); `Retry-After` gives the seconds to wait; body `{{detail, code}}`.",
            rate.count
        );
        added.push(quote!((status = 429, description = #text, body = #body)));
    }
    if added.is_empty() {
        return join(items);
    }
    let ends_with_comma = matches!(
        existing.clone().into_iter().last(),
        Some(TokenTree::Punct(p)) if p.as_char() == ','
    );
    let mut stream = existing;
    if !stream.is_empty() && !ends_with_comma {
        stream.extend(quote!(,));
    }
    stream.extend(quote!(#(#added),*));
    let responses: Vec<TokenTree> = vec![
        TokenTree::Ident(Ident::new("responses", Span::call_site())),
        TokenTree::Group(Group::new(Delimiter::Parenthesis, stream)),
    ];
    match position {
        Some(p) => items[p] = responses,
        None => items.push(responses),
    }
    join(items)
}

fn join(items: Vec<Vec<TokenTree>>) -> TokenStream {
    let items = items
        .into_iter()
        .map(|item| item.into_iter().collect::<TokenStream>());
    quote!(#(#items),*)
}
