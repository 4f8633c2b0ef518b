//! `#[authed(...)]` options: parsed into raw `key [= value]` pairs, then
//! validated into [`GuardOptions`].

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, Lit, LitStr, Path, Token, Type, bracketed, token};

use crate::diagnostic::{Errors, did_you_mean, one_of};

/// The built-in transports, by the names `SessionTransport::NAME` and
/// `BearerTransport::NAME` carry at run time.
pub(crate) const BUILTIN_TRANSPORTS: &[&str] = &["session", "bearer"];

const OPTIONS: &[&str] = &[
    "optional",
    "transport",
    "superuser",
    "verified",
    "scopes",
    "check",
    "crate",
];

/// The validated options of one `#[authed(...)]`.
pub(crate) struct GuardOptions {
    pub optional: Option<Ident>,
    pub superuser: bool,
    pub verified: bool,
    /// Empty: every enabled transport.
    pub transports: Vec<TransportSpec>,
    pub scopes: Vec<LitStr>,
    pub check: Option<Path>,
    /// The path of the runtime crate, `::crudauth` unless `crate = ".."`.
    pub krate: Path,
}

/// One accepted transport.
pub(crate) enum TransportSpec {
    /// A built-in, by name.
    Named(LitStr),
    /// A custom transport, by type.
    Type(Box<Type>),
}

/// `key` or `key = value`, before validation.
struct RawOption {
    key: Ident,
    value: Option<(Token![=], RawValue)>,
}

/// A value as written, before it is known what the key expects.
enum RawValue {
    Lit(Lit),
    List(token::Bracket, Punctuated<RawValue, Token![,]>),
    Type(Box<Type>),
    /// Anything else, kept to point an error at.
    Other(TokenStream),
}

impl ToTokens for RawValue {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Self::Lit(lit) => lit.to_tokens(tokens),
            Self::List(bracket, items) => bracket.surround(tokens, |inner| items.to_tokens(inner)),
            Self::Type(ty) => ty.to_tokens(tokens),
            Self::Other(other) => other.to_tokens(tokens),
        }
    }
}

impl Parse for RawValue {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Lit) {
            return Ok(Self::Lit(input.parse()?));
        }
        if input.peek(token::Bracket) {
            let content;
            let bracket = bracketed!(content in input);
            let items = content.parse_terminated(Self::parse, Token![,])?;
            return Ok(Self::List(bracket, items));
        }
        let fork = input.fork();
        if let Ok(ty) = fork.parse::<Type>()
            && (fork.is_empty() || fork.peek(Token![,]))
        {
            input.parse::<Type>()?;
            return Ok(Self::Type(Box::new(ty)));
        }
        let mut other = TokenStream::new();
        while !input.is_empty() && !input.peek(Token![,]) {
            other.extend([input.parse::<TokenTree>()?]);
        }
        if other.is_empty() {
            return Err(input.error("expected a value after `=`"));
        }
        Ok(Self::Other(other))
    }
}

impl Parse for RawOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if !input.peek(Ident::peek_any) {
            return Err(input.error(
                "expected an option such as `optional`, `transport = \"bearer\"` or `scopes = [\"jobs:write\"]`",
            ));
        }
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            Some((input.parse()?, input.parse()?))
        } else if input.is_empty() || input.peek(Token![,]) {
            None
        } else {
            return Err(input.error(format!("expected `,` or `= value` after `{key}`")));
        };
        Ok(Self { key, value })
    }
}

/// Parses and validates the attribute's arguments, reporting every mistake.
pub(crate) fn parse(args: TokenStream) -> syn::Result<GuardOptions> {
    let raw =
        syn::parse::Parser::parse2(Punctuated::<RawOption, Token![,]>::parse_terminated, args)?;
    let mut errors = Errors::default();
    let mut options = GuardOptions {
        optional: None,
        superuser: false,
        verified: false,
        transports: Vec::new(),
        scopes: Vec::new(),
        check: None,
        krate: syn::parse_quote!(::crudauth),
    };
    let mut seen: Vec<String> = Vec::new();
    for option in raw {
        let name = option.key.unraw().to_string();
        if !OPTIONS.contains(&name.as_str()) {
            errors.spanned(
                &option.key,
                format!(
                    "unknown option `{name}`; expected one of {}{}",
                    one_of(OPTIONS, '`'),
                    did_you_mean(&name, OPTIONS, '`'),
                ),
            );
            continue;
        }
        if seen.contains(&name) {
            errors.spanned(
                &option.key,
                format!("duplicate option `{name}`; each option may appear once"),
            );
            continue;
        }
        seen.push(name.clone());
        match name.as_str() {
            "optional" | "superuser" | "verified" => {
                if let Some((eq, value)) = &option.value {
                    let key = &option.key;
                    errors.spanned(
                        quote!(#key #eq #value),
                        format!("`{name}` is a flag and takes no value; write `#[authed({name})]`"),
                    );
                    continue;
                }
                match name.as_str() {
                    "optional" => options.optional = Some(option.key),
                    "superuser" => options.superuser = true,
                    _ => options.verified = true,
                }
            }
            _ => {
                let Some((_, value)) = option.value else {
                    errors.spanned(&option.key, missing_value(&name));
                    continue;
                };
                match name.as_str() {
                    "transport" => options.transports = transports(value, &mut errors),
                    "scopes" => options.scopes = scopes(value, &mut errors),
                    "check" => options.check = check(value, &mut errors),
                    _ => {
                        if let Some(path) = crate_path(value, &mut errors) {
                            options.krate = path;
                        }
                    }
                }
            }
        }
    }
    errors.finish(options)
}

fn missing_value(name: &str) -> String {
    let example = match name {
        "transport" => "transport = \"bearer\"",
        "scopes" => "scopes = [\"jobs:write\"]",
        "check" => "check = can_edit",
        _ => "crate = \"my_app::crudauth\"",
    };
    format!("`{name}` needs a value, as in `#[authed({example})]`")
}

const TRANSPORT_SYNTAX: &str = "expected a transport name (`transport = \"bearer\"`), a list (`transport = [\"session\", \"bearer\"]`) or a transport type (`transport = ApiKeyTransport`)";

fn transports(value: RawValue, errors: &mut Errors) -> Vec<TransportSpec> {
    let (items, list) = match value {
        RawValue::List(bracket, items) => {
            if items.is_empty() {
                errors.push(syn::Error::new(
                    bracket.span.join(),
                    "empty transport list; name at least one, as in `transport = [\"bearer\"]`, or drop `transport` to accept every enabled transport",
                ));
                return Vec::new();
            }
            (items.into_iter().collect(), true)
        }
        single => (vec![single], false),
    };
    let mut out: Vec<TransportSpec> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for item in items {
        let (spec, key) = match item {
            RawValue::Lit(Lit::Str(name)) => {
                let value = name.value();
                if !BUILTIN_TRANSPORTS.contains(&value.as_str()) {
                    errors.spanned(&name, unknown_transport(&value));
                    continue;
                }
                (TransportSpec::Named(name), format!("{value:?}"))
            }
            RawValue::Type(ty) => {
                if let Some(name) = builtin_written_as_type(&ty) {
                    errors.spanned(
                        &ty,
                        format!(
                            "built-in transports are named by string; write `transport = {name:?}`"
                        ),
                    );
                    continue;
                }
                let key = format!("`{}`", ty.to_token_stream()).replace(' ', "");
                (TransportSpec::Type(ty), key)
            }
            RawValue::List(..) if list => {
                errors.spanned(
                    &item,
                    "transport lists do not nest; write `transport = [\"session\", \"bearer\"]`",
                );
                continue;
            }
            other => {
                errors.spanned(&other, TRANSPORT_SYNTAX);
                continue;
            }
        };
        if keys.contains(&key) {
            let tokens = match &spec {
                TransportSpec::Named(name) => name.to_token_stream(),
                TransportSpec::Type(ty) => ty.to_token_stream(),
            };
            errors.spanned(
                tokens,
                format!("duplicate transport {key} in the list; name each transport once"),
            );
            continue;
        }
        keys.push(key);
        out.push(spec);
    }
    out
}

/// `transport = bearer`: a built-in's name, unquoted, read as a type.
fn builtin_written_as_type(ty: &Type) -> Option<&'static str> {
    let Type::Path(path) = ty else { return None };
    let ident = path.path.get_ident()?.to_string();
    BUILTIN_TRANSPORTS
        .iter()
        .copied()
        .find(|name| *name == ident)
}

fn unknown_transport(name: &str) -> String {
    format!(
        "unknown transport {name:?}; expected one of {}{}\nhelp: a custom transport is named by its type, without quotes: `transport = ApiKeyTransport`",
        one_of(BUILTIN_TRANSPORTS, '"'),
        did_you_mean(name, BUILTIN_TRANSPORTS, '"'),
    )
}

fn scopes(value: RawValue, errors: &mut Errors) -> Vec<LitStr> {
    let items = match value {
        RawValue::List(bracket, items) if items.is_empty() => {
            errors.push(syn::Error::new(
                bracket.span.join(),
                "empty scope list; name the required scopes, as in `scopes = [\"jobs:write\"]`, or drop `scopes`",
            ));
            return Vec::new();
        }
        RawValue::List(_, items) => items,
        RawValue::Lit(Lit::Str(single)) => {
            errors.spanned(
                &single,
                format!(
                    "`scopes` takes a list; write `scopes = [{:?}]`",
                    single.value()
                ),
            );
            return Vec::new();
        }
        other => {
            errors.spanned(
                &other,
                "expected a list of scopes, as in `scopes = [\"jobs:write\"]`",
            );
            return Vec::new();
        }
    };
    let mut out: Vec<LitStr> = Vec::new();
    for item in items {
        let RawValue::Lit(Lit::Str(scope)) = item else {
            errors.spanned(&item, "expected a scope string, as in `\"jobs:write\"`");
            continue;
        };
        let text = scope.value();
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            errors.spanned(
                &scope,
                "a scope is one non-empty word without spaces; list several as `[\"a\", \"b\"]`",
            );
        } else if out.iter().any(|s| s.value() == text) {
            errors.spanned(
                &scope,
                format!("duplicate scope {text:?}; name each scope once"),
            );
        } else {
            out.push(scope);
        }
    }
    out
}

fn check(value: RawValue, errors: &mut Errors) -> Option<Path> {
    match value {
        RawValue::Type(ty) => match *ty {
            Type::Path(path) if path.qself.is_none() => Some(path.path),
            other => {
                errors.spanned(other, CHECK_SYNTAX);
                None
            }
        },
        other => {
            errors.spanned(other, CHECK_SYNTAX);
            None
        }
    }
}

const CHECK_SYNTAX: &str = "expected the path of a function `fn(&Principal) -> bool` (sync or async), as in `check = can_edit`";

fn crate_path(value: RawValue, errors: &mut Errors) -> Option<Path> {
    let parsed = match &value {
        RawValue::Lit(Lit::Str(path)) => path.parse::<Path>().ok(),
        _ => None,
    };
    if parsed.is_none() {
        errors.spanned(
            &value,
            "expected the path of crudauth as a string, as in `crate = \"my_app::crudauth\"`",
        );
    }
    parsed
}
