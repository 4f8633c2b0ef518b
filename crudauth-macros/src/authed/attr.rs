//! `#[authed(...)]` options: parsed into raw `key [= value]` pairs, then
//! validated into [`GuardOptions`].

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, Lit, LitStr, Path, Token, Type, bracketed, token};

use super::rate::{Rate, rate};
use crate::diagnostic::{Errors, did_you_mean, one_of};

/// The built-in transports, by the names `SessionTransport::NAME` and
/// `BearerTransport::NAME` carry at run time.
pub(crate) const BUILTIN_TRANSPORTS: &[&str] = &["session", "bearer"];

const OPTIONS: &[&str] = &[
    "optional",
    "transport",
    "superuser",
    "verified",
    "mfa",
    "fresh",
    "scopes",
    "rate",
    "check",
    "crate",
];

/// The validated options of one `#[authed(...)]`.
pub(crate) struct GuardOptions {
    pub optional: Option<Ident>,
    pub superuser: bool,
    pub verified: bool,
    pub mfa: bool,
    /// The freshness window in seconds, 1 to [`MAX_FRESH_SECS`].
    pub fresh_secs: Option<u64>,
    /// Empty: every enabled transport.
    pub transports: Vec<TransportSpec>,
    pub scopes: Vec<LitStr>,
    /// `rate = "<n>/<unit>"`.
    pub rate: Option<Rate>,
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
pub(crate) enum RawValue {
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
        mfa: false,
        fresh_secs: None,
        transports: Vec::new(),
        scopes: Vec::new(),
        rate: None,
        check: None,
        krate: syn::parse_quote!(::crudauth),
    };
    let mut seen: Vec<String> = Vec::new();
    // A valid `fresh` value, kept to point the `fresh`-with-`optional` error at.
    let mut fresh_literal: Option<RawValue> = None;
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
            let message = format!("duplicate option `{name}`; each option may appear once");
            match (&option.value, name.as_str()) {
                // Two limits are two literals to choose between: point at the second.
                (Some((_, value)), "rate") => errors.spanned(value, message),
                _ => errors.spanned(&option.key, message),
            }
            continue;
        }
        seen.push(name.clone());
        match name.as_str() {
            "optional" | "superuser" | "verified" | "mfa" => {
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
                    "verified" => options.verified = true,
                    _ => options.mfa = true,
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
                    "rate" => options.rate = rate(&value, &mut errors),
                    "check" => options.check = check(value, &mut errors),
                    "fresh" => {
                        options.fresh_secs = fresh(&value, &mut errors);
                        fresh_literal = options.fresh_secs.map(|_| value);
                    }
                    _ => {
                        if let Some(path) = crate_path(value, &mut errors) {
                            options.krate = path;
                        }
                    }
                }
            }
        }
    }
    if let (Some(_), Some(literal)) = (&options.optional, &fresh_literal) {
        errors.spanned(
            literal,
            "`fresh` cannot be combined with `optional`: an anonymous request has no sign-in to be fresh; drop `optional` and take `Principal`, or drop `fresh`",
        );
    }
    errors.finish(options)
}

fn missing_value(name: &str) -> String {
    let example = match name {
        "transport" => "transport = \"bearer\"",
        "scopes" => "scopes = [\"jobs:write\"]",
        "check" => "check = can_edit",
        "fresh" => "fresh = \"5m\"",
        "rate" => "rate = \"100/m\"",
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

/// The longest freshness window: past a day, "recently signed in" means
/// nothing.
const MAX_FRESH_SECS: u64 = 24 * 60 * 60;

const FRESH_SYNTAX: &str = "a whole number followed by `s`, `m` or `h`, as in `fresh = \"5m\"`";

fn fresh(value: &RawValue, errors: &mut Errors) -> Option<u64> {
    let literal = match value {
        RawValue::Lit(Lit::Str(literal)) => literal,
        RawValue::Lit(Lit::Int(number)) if number.suffix().is_empty() => {
            let n = number.base10_digits();
            errors.spanned(
                number,
                format!("`fresh` takes a string with a unit; {}", with_units(n)),
            );
            return None;
        }
        other => {
            errors.spanned(
                other,
                format!("`fresh` takes a duration string; write {FRESH_SYNTAX}"),
            );
            return None;
        }
    };
    let text = literal.value();
    duration_secs(&text)
        .map_err(|error| errors.spanned(literal, error.message(&text)))
        .ok()
}

/// Why a `fresh` duration was refused.
#[derive(Debug, PartialEq, Eq)]
enum DurationError {
    /// No leading number.
    NotADuration,
    MissingUnit,
    UnknownUnit,
    Zero,
    /// Over [`MAX_FRESH_SECS`], including numbers too large for `u64`.
    TooLong,
}

impl DurationError {
    fn message(&self, text: &str) -> String {
        match self {
            Self::NotADuration => format!("{text:?} is not a duration; write {FRESH_SYNTAX}"),
            Self::MissingUnit => {
                format!("missing unit in {text:?}; {}", with_units(text))
            }
            Self::UnknownUnit => {
                let unit = text.trim_start_matches(|c: char| c.is_ascii_digit());
                format!("unknown unit `{unit}` in {text:?}; write {FRESH_SYNTAX}")
            }
            Self::Zero => {
                format!(
                    "{text:?} is no time at all: `fresh` must be at least 1 second; write, for example, `fresh = \"5m\"`, or drop `fresh` for no freshness gate"
                )
            }
            Self::TooLong => {
                format!(
                    "{text:?} is longer than 24 hours, the longest `fresh` window; write at most `fresh = \"24h\"`"
                )
            }
        }
    }
}

/// The three ways to read a bare number `n`.
fn with_units(n: &str) -> String {
    format!("write `fresh = \"{n}s\"`, `\"{n}m\"` or `\"{n}h\"`")
}

/// `"<n>s"`, `"<n>m"` or `"<n>h"` in seconds, 1 s to 24 h.
fn duration_secs(text: &str) -> Result<u64, DurationError> {
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    if number.is_empty() {
        return Err(DurationError::NotADuration);
    }
    let scale = match unit {
        "" => return Err(DurationError::MissingUnit),
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        _ => return Err(DurationError::UnknownUnit),
    };
    let secs = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or(DurationError::TooLong)?;
    match secs {
        0 => Err(DurationError::Zero),
        secs if secs > MAX_FRESH_SECS => Err(DurationError::TooLong),
        secs => Ok(secs),
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

#[cfg(test)]
mod tests {
    use super::{DurationError, MAX_FRESH_SECS, OPTIONS, duration_secs};
    use crate::diagnostic::nearest;

    #[test]
    fn typos_of_the_second_factor_options_are_suggested() {
        assert_eq!(nearest("fersh", OPTIONS), Some("fresh"));
        assert_eq!(nearest("mfs", OPTIONS), Some("mfa"));
        assert_eq!(nearest("optinal", OPTIONS), Some("optional"));
    }

    #[test]
    fn durations_convert_to_seconds() {
        assert_eq!(duration_secs("1s"), Ok(1));
        assert_eq!(duration_secs("90s"), Ok(90));
        assert_eq!(duration_secs("5m"), Ok(300));
        assert_eq!(duration_secs("2h"), Ok(7200));
        assert_eq!(duration_secs("05m"), Ok(300));
    }

    #[test]
    fn durations_are_bounded_by_a_second_and_a_day() {
        assert_eq!(duration_secs("24h"), Ok(MAX_FRESH_SECS));
        assert_eq!(duration_secs("1440m"), Ok(MAX_FRESH_SECS));
        assert_eq!(duration_secs("86400s"), Ok(MAX_FRESH_SECS));
        assert_eq!(duration_secs("86401s"), Err(DurationError::TooLong));
        assert_eq!(duration_secs("25h"), Err(DurationError::TooLong));
        assert_eq!(duration_secs("0s"), Err(DurationError::Zero));
        assert_eq!(duration_secs("0h"), Err(DurationError::Zero));
    }

    #[test]
    fn numbers_too_large_for_u64_are_too_long_not_a_panic() {
        assert_eq!(
            duration_secs("99999999999999999999s"),
            Err(DurationError::TooLong)
        );
        // Fits `u64`, overflows once scaled to seconds.
        assert_eq!(
            duration_secs("9999999999999999999h"),
            Err(DurationError::TooLong)
        );
    }

    #[test]
    fn malformed_durations_name_what_is_wrong() {
        assert_eq!(duration_secs(""), Err(DurationError::NotADuration));
        assert_eq!(duration_secs("m"), Err(DurationError::NotADuration));
        assert_eq!(duration_secs("+5m"), Err(DurationError::NotADuration));
        assert_eq!(duration_secs(" 5m"), Err(DurationError::NotADuration));
        assert_eq!(duration_secs("5"), Err(DurationError::MissingUnit));
        assert_eq!(duration_secs("5x"), Err(DurationError::UnknownUnit));
        assert_eq!(duration_secs("5M"), Err(DurationError::UnknownUnit));
        assert_eq!(duration_secs("5 m"), Err(DurationError::UnknownUnit));
        assert_eq!(duration_secs("1.5h"), Err(DurationError::UnknownUnit));
        assert_eq!(duration_secs("5ms"), Err(DurationError::UnknownUnit));
    }

    #[test]
    fn zero_message_quotes_the_value() {
        assert!(
            DurationError::Zero
                .message("0s")
                .starts_with("\"0s\" is no time at all")
        );
    }

    #[test]
    fn unknown_unit_message_quotes_the_unit() {
        assert_eq!(
            DurationError::UnknownUnit.message("5x"),
            "unknown unit `x` in \"5x\"; write a whole number followed by `s`, `m` or `h`, as in `fresh = \"5m\"`"
        );
    }
}
