//! Compiling each distinct regex once, however many matchers use it.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use crate::matcher::{MatchOp, Matcher, Matchers};
use crate::parse::{self, ParseError, Syntax};
use crate::pattern::{self, MatcherError};

/// Compiled regexes by value, shared by every matcher made through the cache.
///
/// A compiled regex costs kilobytes (its automata, and later its match caches), and a
/// config with many rules tends to repeat a few regex values. Matchers parsed through one
/// `RegexCache` share one compiled [`Regex`] per distinct pattern: two values that
/// translate to the same Rust pattern compile once, and a value seen before is not even
/// translated again. Drop the cache once the matchers are built; they keep what they use.
///
/// ```
/// use alert_match::RegexCache;
///
/// let mut regexes = RegexCache::new();
/// let a = regexes.parse(r#"{service=~"api|web", team="ops"}"#)?;
/// let b = regexes.parse(r#"{service=~"api|web"}"#)?;
/// assert_eq!(regexes.len(), 1); // "api|web" compiled once for both
/// # Ok::<(), alert_match::ParseError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct RegexCache {
    /// By regex value as written.
    by_value: HashMap<String, Arc<Regex>>,
    /// By translated, anchored pattern: what the regex crate compiles.
    by_pattern: HashMap<String, Arc<Regex>>,
}

impl RegexCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many distinct regexes it has compiled.
    pub fn len(&self) -> usize {
        self.by_pattern.len()
    }

    /// Whether it has compiled none.
    pub fn is_empty(&self) -> bool {
        self.by_pattern.is_empty()
    }

    /// [`Matchers::parse`], with the regexes shared through this cache.
    ///
    /// # Errors
    ///
    /// As [`Matchers::parse`].
    pub fn parse(&mut self, input: &str) -> Result<Matchers, ParseError> {
        self.parse_with(input, Syntax::Fallback)
    }

    /// [`Matchers::parse_with`], with the regexes shared through this cache.
    ///
    /// # Errors
    ///
    /// As [`Matchers::parse_with`].
    pub fn parse_with(&mut self, input: &str, syntax: Syntax) -> Result<Matchers, ParseError> {
        parse::parse_matchers(input, syntax, self).map(Matchers::new)
    }

    /// [`Matcher::new`], with the regex shared through this cache.
    ///
    /// # Errors
    ///
    /// As [`Matcher::new`].
    pub fn matcher(
        &mut self,
        name: impl Into<String>,
        op: MatchOp,
        value: impl Into<String>,
    ) -> Result<Matcher, MatcherError> {
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(self.regex(&value)?),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher::from_parts(name.into(), op, value, regex))
    }

    /// The compiled regex of a `=~`/`!~` value: the one compiled before for an equal value
    /// or pattern, else a new one.
    fn regex(&mut self, value: &str) -> Result<Arc<Regex>, MatcherError> {
        if let Some(regex) = self.by_value.get(value) {
            return Ok(Arc::clone(regex));
        }
        let pattern = pattern::anchored(value)?;
        let regex = match self.by_pattern.get(&pattern) {
            Some(regex) => Arc::clone(regex),
            None => {
                let regex = Arc::new(pattern::build(&pattern, value)?);
                self.by_pattern.insert(pattern, Arc::clone(&regex));
                regex
            }
        };
        self.by_value.insert(value.to_owned(), Arc::clone(&regex));
        Ok(regex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regex_of(m: &Matcher) -> &Arc<Regex> {
        m.shared_regex().expect("a regex matcher has a regex")
    }

    #[test]
    fn identical_regex_texts_share_one_compiled_regex() {
        let mut cache = RegexCache::new();
        let a = cache.parse(r#"{service=~"api|web", team="ops"}"#).unwrap();
        let b = cache.parse(r#"{host!~"api|web"}"#).unwrap();
        let c = cache.matcher("service", MatchOp::Regex, "api|web").unwrap();
        let shared = regex_of(&a.as_slice()[0]);
        assert!(Arc::ptr_eq(shared, regex_of(&b.as_slice()[0])));
        assert!(Arc::ptr_eq(shared, regex_of(&c)));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn values_with_one_translation_share_one_compiled_regex() {
        // Go reads `\<` as `<`: both values become the same Rust pattern.
        let mut cache = RegexCache::new();
        let a = cache.matcher("x", MatchOp::Regex, r"a\<").unwrap();
        let b = cache.matcher("x", MatchOp::Regex, "a<").unwrap();
        assert!(Arc::ptr_eq(regex_of(&a), regex_of(&b)));
        assert_eq!(cache.len(), 1);
        assert!(a.matches_value("a<") && !a.matches_value("a"));
    }

    #[test]
    fn distinct_regex_texts_compile_separately() {
        let mut cache = RegexCache::new();
        let a = cache.matcher("x", MatchOp::Regex, "a|b").unwrap();
        let b = cache.matcher("x", MatchOp::Regex, "b|a").unwrap();
        assert!(!Arc::ptr_eq(regex_of(&a), regex_of(&b)));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_cached_matcher_equals_and_matches_like_a_fresh_one() {
        let mut cache = RegexCache::new();
        let table = [
            ("severity", MatchOp::Regex, "warn|crit"),
            ("severity", MatchOp::NotRegex, "warn|crit"),
            ("team", MatchOp::Equal, "ops"),
        ];
        for (name, op, value) in table {
            let cached = cache.matcher(name, op, value).unwrap();
            let fresh = Matcher::new(name, op, value).unwrap();
            assert_eq!(cached, fresh);
            for v in ["warn", "crit", "critical", "ops", ""] {
                assert_eq!(
                    cached.matches_value(v),
                    fresh.matches_value(v),
                    "{name}{op}{value} on {v:?}"
                );
            }
        }
    }

    #[test]
    fn an_invalid_regex_is_an_error_every_time_and_is_not_kept() {
        let mut cache = RegexCache::new();
        for _ in 0..2 {
            let e = cache.matcher("x", MatchOp::Regex, "(").unwrap_err();
            assert!(matches!(e, MatcherError::InvalidRegex { .. }), "{e:?}");
        }
        assert!(cache.is_empty());
    }
}
