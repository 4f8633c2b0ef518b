//! Error collection and near-name suggestions shared by both macros.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Collects every error of one expansion so a single compile reports all.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn extend(&mut self, other: Errors) {
        if let Some(error) = other.0 {
            self.push(error);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// `Ok(value)` when nothing went wrong.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }

    pub(crate) fn into_compile_error(self) -> TokenStream {
        self.0.map(|e| e.to_compile_error()).unwrap_or_default()
    }
}

/// Edit distance counting an insertion, a deletion, a substitution or a
/// swap of two neighbours as one edit (optimal string alignment),
/// case-insensitive: `emial` is one edit from `email`.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate nearest to `typo`, when it is near enough to be a typo
/// rather than a different word.
pub(crate) fn nearest<'a>(typo: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (typo.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (distance(typo, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `` `a`, `b`, `c` `` or `"a", "b"`: the candidates, each wrapped in `quote`.
pub(crate) fn one_of(candidates: &[&str], quote: char) -> String {
    candidates
        .iter()
        .map(|c| format!("{quote}{c}{quote}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` — did you mean `x`?` when a candidate is near, else nothing.
pub(crate) fn did_you_mean(typo: &str, candidates: &[&str], quote: char) -> String {
    nearest(typo, candidates)
        .map(|c| format!(" — did you mean {quote}{c}{quote}?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_single_edits() {
        assert_eq!(distance("bearer", "bearer"), 0);
        assert_eq!(distance("bearr", "bearer"), 1);
        assert_eq!(distance("sesion", "session"), 1);
        assert_eq!(distance("optinal", "optional"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("emial", "email"), 1);
        assert_eq!(distance("BEARER", "bearer"), 0);
    }

    #[test]
    fn nearest_ignores_distant_words() {
        let transports = ["session", "bearer"];
        assert_eq!(nearest("bearr", &transports), Some("bearer"));
        assert_eq!(nearest("Bearer", &transports), Some("bearer"));
        assert_eq!(nearest("sesion", &transports), Some("session"));
        assert_eq!(nearest("jwt", &transports), None);
        assert_eq!(nearest("oauth", &transports), None);
    }

    #[test]
    fn did_you_mean_renders_the_suggestion() {
        assert_eq!(
            did_you_mean("berer", &["session", "bearer"], '"'),
            " — did you mean \"bearer\"?"
        );
        assert_eq!(did_you_mean("zzz", &["session"], '"'), "");
        assert_eq!(one_of(&["a", "b"], '`'), "`a`, `b`");
    }
}
