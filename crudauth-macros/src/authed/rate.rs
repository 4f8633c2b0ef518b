//! `rate = "<n>/<unit>"`: how many requests a principal may make to one
//! handler per second, minute or hour.

use syn::{Lit, LitStr};

use super::attr::RawValue;
use crate::diagnostic::Errors;

/// The most requests a `rate` may allow per period: past a million, a
/// limit no longer limits anything a counter should be asked about.
pub(crate) const MAX_RATE: u64 = 1_000_000;

const RATE_SYNTAX: &str =
    "a whole number of requests, `/`, and `s`, `m` or `h`, as in `rate = \"100/m\"`";

/// A validated `rate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    /// Requests allowed per period, 1 to [`MAX_RATE`].
    pub count: u32,
    /// The period in seconds: 1, 60 or 3600.
    pub per_secs: u64,
}

/// Why a `rate` literal was refused.
#[derive(Debug, PartialEq, Eq)]
enum RateError {
    /// No `/`.
    MissingUnit,
    /// The part before `/` is not a whole number.
    NotANumber,
    UnknownUnit,
    Zero,
    /// Over [`MAX_RATE`], including numbers too large for `u64`.
    TooMany,
}

impl RateError {
    fn message(&self, text: &str) -> String {
        match self {
            Self::MissingUnit => format!(
                "missing period in {text:?}; write `rate = \"{text}/s\"`, `\"{text}/m\"` or `\"{text}/h\"`"
            ),
            Self::NotANumber => format!("{text:?} is not a rate; write {RATE_SYNTAX}"),
            Self::UnknownUnit => {
                let unit = text.split_once('/').map_or("", |(_, unit)| unit);
                format!("unknown period `{unit}` in {text:?}; write {RATE_SYNTAX}")
            }
            Self::Zero => format!(
                "{text:?} allows no request at all: `rate` must allow at least 1; to refuse every request, do not route the handler"
            ),
            Self::TooMany => format!(
                "{text:?} allows more than 1000000 requests a period, the most a `rate` can count; write at most `rate = \"1000000/s\"`, or drop `rate`"
            ),
        }
    }
}

/// Reads the value of `rate = ..`, reporting a mistake on the literal.
pub(crate) fn rate(value: &RawValue, errors: &mut Errors) -> Option<Rate> {
    let literal: &LitStr = match value {
        RawValue::Lit(Lit::Str(literal)) => literal,
        RawValue::Lit(Lit::Int(number)) if number.suffix().is_empty() => {
            let n = number.base10_digits();
            errors.spanned(
                number,
                format!(
                    "`rate` takes a string with a period; write `rate = \"{n}/s\"`, `\"{n}/m\"` or `\"{n}/h\"`"
                ),
            );
            return None;
        }
        other => {
            errors.spanned(
                other,
                format!("`rate` takes a string literal: {RATE_SYNTAX}"),
            );
            return None;
        }
    };
    let text = literal.value();
    parse(&text)
        .map_err(|error| errors.spanned(literal, error.message(&text)))
        .ok()
}

/// `"<n>/s"`, `"<n>/m"` or `"<n>/h"`, n from 1 to [`MAX_RATE`].
fn parse(text: &str) -> Result<Rate, RateError> {
    let Some((number, unit)) = text.split_once('/') else {
        return Err(
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                RateError::MissingUnit
            } else {
                RateError::NotANumber
            },
        );
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RateError::NotANumber);
    }
    let per_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        _ => return Err(RateError::UnknownUnit),
    };
    match number.parse::<u64>() {
        Ok(0) => Err(RateError::Zero),
        Ok(n) if n <= MAX_RATE => Ok(Rate {
            count: n as u32,
            per_secs,
        }),
        _ => Err(RateError::TooMany),
    }
}

#[cfg(test)]
mod tests {
    use super::{Rate, RateError, parse};

    #[test]
    fn rates_read_as_a_count_per_period() {
        assert_eq!(
            parse("100/m"),
            Ok(Rate {
                count: 100,
                per_secs: 60
            })
        );
        assert_eq!(
            parse("1/s"),
            Ok(Rate {
                count: 1,
                per_secs: 1
            })
        );
        assert_eq!(
            parse("1000000/h"),
            Ok(Rate {
                count: 1_000_000,
                per_secs: 3600
            })
        );
        assert_eq!(parse("005/m").map(|r| r.count), Ok(5));
    }

    #[test]
    fn rates_are_bounded_by_one_and_a_million() {
        assert_eq!(parse("0/m"), Err(RateError::Zero));
        assert_eq!(parse("1000001/s"), Err(RateError::TooMany));
        assert_eq!(parse("99999999999999999999999/s"), Err(RateError::TooMany));
    }

    #[test]
    fn malformed_rates_name_what_is_wrong() {
        assert_eq!(parse("10"), Err(RateError::MissingUnit));
        assert_eq!(parse("10/x"), Err(RateError::UnknownUnit));
        assert_eq!(parse("10/min"), Err(RateError::UnknownUnit));
        assert_eq!(parse("10/"), Err(RateError::UnknownUnit));
        assert_eq!(parse("10 /m"), Err(RateError::NotANumber));
        assert_eq!(parse("/m"), Err(RateError::NotANumber));
        assert_eq!(parse("-1/m"), Err(RateError::NotANumber));
        assert_eq!(parse("ten/m"), Err(RateError::NotANumber));
        assert_eq!(parse(""), Err(RateError::NotANumber));
    }

    #[test]
    fn messages_quote_the_refused_value() {
        assert!(
            RateError::Zero
                .message("0/m")
                .starts_with("\"0/m\" allows no request")
        );
        assert!(
            RateError::UnknownUnit
                .message("10/x")
                .starts_with("unknown period `x` in \"10/x\"")
        );
        assert!(RateError::MissingUnit.message("10").contains("\"10/m\""));
    }
}
