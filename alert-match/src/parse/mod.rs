//! Parsing matchers: the classic grammar, the UTF-8 grammar, and how Alertmanager chooses
//! between them (`matcher/compat/parse.go`).

mod classic;
mod utf8;

pub(crate) use utf8::{go_quote, is_reserved};

use crate::cache::RegexCache;
use crate::matcher::Matcher;
use crate::pattern::MatcherError;

/// Which matcher grammar to accept, as chosen by Alertmanager's feature flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Syntax {
    /// Alertmanager ≥0.27's default: the classic result when the classic grammar parses the
    /// input, else the UTF-8 result; when both fail, the classic error.
    #[default]
    Fallback,
    /// Only the classic grammar (`--enable-feature=classic-mode`, and all of ≤0.26).
    Classic,
    /// Only the UTF-8 grammar (`--enable-feature=utf8-strict-mode`).
    Utf8,
}

/// A matcher or list of matchers that does not parse.
///
/// [`reason`](Self::reason) gives Alertmanager's own error text; `Display` prefixes it with
/// the input: `invalid matcher "<input>": <reason>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Classic grammar: a comma-separated part is not `name op value`.
    #[error("invalid matcher {input:?}: bad matcher format: {part}")]
    BadFormat {
        /// The whole input.
        input: String,
        /// The offending part, as upstream prints it.
        part: String,
        /// Byte offset of the part in the input.
        offset: usize,
    },
    /// Classic grammar: a `"` inside a value that is not its closing quote, or an opening
    /// quote without a closing one.
    #[error("invalid matcher {input:?}: matcher value contains unescaped double quote: {value}")]
    UnescapedQuote {
        /// The whole input.
        input: String,
        /// The raw value, as upstream prints it.
        value: String,
        /// Byte offset of the value in the input.
        offset: usize,
    },
    /// UTF-8 grammar: a syntax error, in upstream's words with 0-based rune columns, e.g.
    /// `0:8: }: expected opening brace` or `end of input: expected label value`.
    #[error("invalid matcher {input:?}: {message}")]
    Syntax {
        /// The whole input.
        input: String,
        /// Upstream's error text.
        message: String,
        /// Byte offset in the input where the problem was found.
        offset: usize,
    },
    /// Classic grammar: the regex value does not compile.
    #[error("invalid matcher {input:?}: {error}")]
    Regex {
        /// The whole input.
        input: String,
        /// What is wrong with the regex.
        error: MatcherError,
        /// Byte offset of the value in the input.
        offset: usize,
    },
    /// UTF-8 grammar: the regex value does not compile.
    #[error("invalid matcher {input:?}: failed to create matcher: {error}")]
    CreateMatcher {
        /// The whole input.
        input: String,
        /// What is wrong with the regex.
        error: MatcherError,
        /// Byte offset of the value in the input.
        offset: usize,
    },
    /// A single matcher was expected but the input starts with `{` or ends with `}`.
    #[error("invalid matcher {input:?}: unexpected open or close brace: {input}")]
    UnexpectedBrace {
        /// The whole input.
        input: String,
    },
    /// A single matcher was expected but the input holds none (UTF-8 grammar).
    #[error("invalid matcher {input:?}: no matchers")]
    NoMatchers {
        /// The whole input.
        input: String,
    },
    /// A single matcher was expected but the input holds several (UTF-8 grammar).
    #[error("invalid matcher {input:?}: expected 1 matcher, found {found}")]
    ExpectedOneMatcher {
        /// The whole input.
        input: String,
        /// How many matchers the input holds.
        found: usize,
    },
}

impl ParseError {
    /// Alertmanager's error text for this input, without the `invalid matcher "…": ` prefix,
    /// e.g. `bad matcher format: a-b=c` or `0:8: }: expected opening brace`.
    pub fn reason(&self) -> String {
        match self {
            ParseError::BadFormat { part, .. } => format!("bad matcher format: {part}"),
            ParseError::UnescapedQuote { value, .. } => {
                format!("matcher value contains unescaped double quote: {value}")
            }
            ParseError::Syntax { message, .. } => message.clone(),
            ParseError::Regex { error, .. } => error.to_string(),
            ParseError::CreateMatcher { error, .. } => format!("failed to create matcher: {error}"),
            ParseError::UnexpectedBrace { input } => {
                format!("unexpected open or close brace: {input}")
            }
            ParseError::NoMatchers { .. } => "no matchers".to_owned(),
            ParseError::ExpectedOneMatcher { found, .. } => {
                format!("expected 1 matcher, found {found}")
            }
        }
    }

    /// The input that failed to parse.
    pub fn input(&self) -> &str {
        match self {
            ParseError::BadFormat { input, .. }
            | ParseError::UnescapedQuote { input, .. }
            | ParseError::Syntax { input, .. }
            | ParseError::Regex { input, .. }
            | ParseError::CreateMatcher { input, .. }
            | ParseError::UnexpectedBrace { input }
            | ParseError::NoMatchers { input }
            | ParseError::ExpectedOneMatcher { input, .. } => input,
        }
    }

    /// Byte offset in the input where the problem was found, where one is known.
    pub fn offset(&self) -> Option<usize> {
        match self {
            ParseError::BadFormat { offset, .. }
            | ParseError::UnescapedQuote { offset, .. }
            | ParseError::Syntax { offset, .. }
            | ParseError::Regex { offset, .. }
            | ParseError::CreateMatcher { offset, .. } => Some(*offset),
            ParseError::UnexpectedBrace { .. }
            | ParseError::NoMatchers { .. }
            | ParseError::ExpectedOneMatcher { .. } => None,
        }
    }
}

/// Parses a list of matchers with the given grammar, their regexes compiled through `cache`.
pub(crate) fn parse_matchers(
    input: &str,
    syntax: Syntax,
    cache: &mut RegexCache,
) -> Result<Vec<Matcher>, ParseError> {
    match syntax {
        Syntax::Classic => classic::parse_matchers(input, cache),
        Syntax::Utf8 => utf8::parse_matchers(input, cache),
        // Upstream parses with both and warns on disagreement, but returns the classic
        // result whenever there is one.
        Syntax::Fallback => classic::parse_matchers(input, cache)
            .or_else(|classic| utf8::parse_matchers(input, cache).map_err(|_| classic)),
    }
}

/// Parses exactly one matcher as Alertmanager's API `filter` parameter and amtool do
/// (`compat.Matcher` in the default fallback mode).
///
/// Unlike [`Matchers::parse`](crate::Matchers::parse), braces are rejected and the classic
/// grammar reads the whole input as one matcher (commas included).
///
/// # Errors
///
/// [`ParseError::UnexpectedBrace`] when the input starts with `{` or ends with `}`;
/// otherwise the classic grammar's error when neither grammar parses the input.
///
/// # Examples
///
/// ```
/// use alert_match::{MatchOp, parse_matcher};
///
/// let m = parse_matcher("severity=~\"critical|page\"").unwrap();
/// assert_eq!((m.name(), m.op(), m.value()), ("severity", MatchOp::Regex, "critical|page"));
/// assert!(parse_matcher("{severity=page}").is_err());
/// ```
pub fn parse_matcher(input: &str) -> Result<Matcher, ParseError> {
    parse_one(input, Syntax::Fallback, &mut RegexCache::new())
}

/// One matcher with the given grammar (`compat.Matcher` for each feature flag).
fn parse_one(input: &str, syntax: Syntax, cache: &mut RegexCache) -> Result<Matcher, ParseError> {
    let has_brace = input.starts_with('{') || input.ends_with('}');
    match syntax {
        Syntax::Classic => classic::parse_matcher(input, cache),
        _ if has_brace => Err(ParseError::UnexpectedBrace {
            input: input.to_owned(),
        }),
        Syntax::Utf8 => utf8::parse_matcher(input, cache),
        Syntax::Fallback => classic::parse_matcher(input, cache)
            .or_else(|classic| utf8::parse_matcher(input, cache).map_err(|_| classic)),
    }
}

/// Table-test helpers shared by the parsers' unit tests: results as (name, op, value)
/// triples, errors as upstream's reason text.
#[cfg(test)]
pub(crate) mod table {
    use super::{Matcher, ParseError};

    pub(crate) type Triples = Result<Vec<(String, String, String)>, String>;

    pub(crate) fn triples(
        parse: fn(&str) -> Result<Vec<Matcher>, ParseError>,
        input: &str,
    ) -> Triples {
        parse(input)
            .map(|ms| {
                let triple = |m: &Matcher| {
                    (
                        m.name().to_owned(),
                        m.op().to_string(),
                        m.value().to_owned(),
                    )
                };
                ms.iter().map(triple).collect()
            })
            .map_err(|e| e.reason())
    }

    pub(crate) fn ok(ms: &[(&str, &str, &str)]) -> Triples {
        Ok(ms
            .iter()
            .map(|&(n, o, v)| (n.into(), o.into(), v.into()))
            .collect())
    }

    pub(crate) fn err(reason: &str) -> Triples {
        Err(reason.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(input: &str, syntax: Syntax) -> Result<(String, String, String), String> {
        parse_one(input, syntax, &mut RegexCache::new())
            .map(|m| {
                (
                    m.name().to_owned(),
                    m.op().to_string(),
                    m.value().to_owned(),
                )
            })
            .map_err(|e| e.reason())
    }

    fn ok(n: &str, o: &str, v: &str) -> Result<(String, String, String), String> {
        Ok((n.to_owned(), o.to_owned(), v.to_owned()))
    }

    fn err(reason: &str) -> Result<(String, String, String), String> {
        Err(reason.to_owned())
    }

    /// `compat.Matcher` per feature flag (`matcher/compat/parse_test.go` and upstream runs).
    #[test]
    fn single_matcher_follows_compat() {
        let brace = |i: &str| err(&format!("unexpected open or close brace: {i}"));
        let cases = [
            (
                "a=b,c=d",
                ok("a", "=", "b,c=d"),
                err("expected 1 matcher, found 2"),
                ok("a", "=", "b,c=d"),
            ),
            (
                "{a=b}",
                err("bad matcher format: {a=b}"),
                brace("{a=b}"),
                brace("{a=b}"),
            ),
            ("a=b}", ok("a", "=", "b}"), brace("a=b}"), brace("a=b}")),
            (
                "",
                err("bad matcher format: "),
                err("no matchers"),
                err("bad matcher format: "),
            ),
            (
                "🙂=1",
                err("bad matcher format: 🙂=1"),
                ok("🙂", "=", "1"),
                ok("🙂", "=", "1"),
            ),
            (
                "a = \"x\" , b=y",
                err("matcher value contains unescaped double quote: \"x\" , b=y"),
                err("expected 1 matcher, found 2"),
                err("matcher value contains unescaped double quote: \"x\" , b=y"),
            ),
        ];
        for (input, classic, utf8, fallback) in cases {
            assert_eq!(single(input, Syntax::Classic), classic, "classic {input:?}");
            assert_eq!(single(input, Syntax::Utf8), utf8, "utf8 {input:?}");
            assert_eq!(
                single(input, Syntax::Fallback),
                fallback,
                "fallback {input:?}"
            );
            assert_eq!(
                parse_matcher(input).map(|m| m.value().to_owned()).ok(),
                fallback.ok().map(|f| f.2)
            );
        }
    }

    #[test]
    fn fallback_prefers_classic_on_disagreement() {
        // Row 100 of the conformance table: the grammars read `\x` differently.
        let input = r#"{foo="\xf0\x9f\x99\x82"}"#;
        let classic = parse_matchers(input, Syntax::Fallback, &mut RegexCache::new()).unwrap();
        assert_eq!(classic[0].value(), r"\xf0\x9f\x99\x82");
        assert_eq!(
            parse_matchers(input, Syntax::Utf8, &mut RegexCache::new()).unwrap()[0].value(),
            "🙂"
        );
        assert_eq!(Syntax::default(), Syntax::Fallback);
    }

    #[test]
    fn errors_display_input_and_reason() {
        let cases = [
            (
                "{a-b=c",
                "invalid matcher \"{a-b=c\": bad matcher format: a-b=c",
                Some(1),
            ),
            (
                "a=\"x",
                "invalid matcher \"a=\\\"x\": matcher value contains unescaped double quote: \"x",
                Some(2),
            ),
            (
                "x=~(",
                "invalid matcher \"x=~(\": error parsing regexp: missing closing ): `^(?:()$`",
                Some(3),
            ),
        ];
        for (input, display, offset) in cases {
            let e = parse_matchers(input, Syntax::Fallback, &mut RegexCache::new()).unwrap_err();
            assert_eq!(e.to_string(), display);
            assert_eq!(e.input(), input);
            assert_eq!(e.offset(), offset);
        }
        let e = parse_matchers("x=~(", Syntax::Utf8, &mut RegexCache::new()).unwrap_err();
        assert_eq!(
            e.reason(),
            "failed to create matcher: error parsing regexp: missing closing ): `^(?:()$`"
        );
        assert_eq!(e.offset(), Some(3));
        let e = parse_matcher("{a=b}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid matcher \"{a=b}\": unexpected open or close brace: {a=b}"
        );
        assert_eq!(e.offset(), None);
    }
}
