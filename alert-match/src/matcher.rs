//! Matchers: one test on one label, and the AND of several (`pkg/labels/matcher.go`).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use alert_core::LabelSet;
use regex::Regex;

use crate::cache::RegexCache;
use crate::parse::{ParseError, Syntax, go_quote, is_reserved};
use crate::pattern::MatcherError;

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchOp {
    /// `=`: the value equals, byte for byte.
    Equal,
    /// `!=`: the value differs.
    NotEqual,
    /// `=~`: the whole value matches the regex.
    Regex,
    /// `!~`: the whole value does not match the regex.
    NotRegex,
}

impl MatchOp {
    /// The operator as written: `=`, `!=`, `=~` or `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One label test: `name op value`, e.g. `severity=~"critical|page"`.
///
/// Two matchers are equal when name, operator and value are. Cloning one is cheap: the
/// compiled regex is shared.
#[derive(Clone, Debug)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    regex: Option<Arc<Regex>>,
}

impl Matcher {
    /// Builds a matcher. For `=~` and `!~` the value is compiled as Alertmanager does, as
    /// `"^(?:" + value + ")$"` with Go's regex semantics.
    ///
    /// # Errors
    ///
    /// A [`MatcherError`] when the regex value is invalid in Go, or valid in Go but not
    /// reproducible with Rust's `regex` crate.
    ///
    /// # Examples
    ///
    /// ```
    /// use alert_match::{MatchOp, Matcher};
    ///
    /// let m = Matcher::new("svc", MatchOp::Regex, "api|web").unwrap();
    /// assert!(m.matches_value("web") && !m.matches_value("api-gw"));
    /// assert!(Matcher::new("svc", MatchOp::Regex, "(").is_err());
    /// ```
    pub fn new(
        name: impl Into<String>,
        op: MatchOp,
        value: impl Into<String>,
    ) -> Result<Self, MatcherError> {
        RegexCache::new().matcher(name, op, value)
    }

    /// A matcher from its checked parts: `regex` is the compiled `value` of a `=~`/`!~`.
    pub(crate) fn from_parts(
        name: String,
        op: MatchOp,
        value: String,
        regex: Option<Arc<Regex>>,
    ) -> Self {
        Matcher {
            name,
            op,
            value,
            regex,
        }
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// The value: a string, or for `=~`/`!~` the regex as written (unanchored).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The compiled, anchored regex of a `=~`/`!~` matcher.
    pub(crate) fn regex(&self) -> Option<&Regex> {
        self.regex.as_deref()
    }

    /// The compiled regex as shared with other matchers of the same value.
    #[cfg(test)]
    pub(crate) fn shared_regex(&self) -> Option<&Arc<Regex>> {
        self.regex.as_ref()
    }

    /// Whether a label value satisfies this matcher.
    pub fn matches_value(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            // `new` compiles a regex for both regex operators.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Whether a label set satisfies this matcher. A missing label counts as the empty
    /// string, as in Alertmanager, so `team=""` and `team!="ops"` match an alert without
    /// `team`.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matches_value(labels.get(self.name.as_str()).map_or("", String::as_str))
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Hash for Matcher {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (&self.name, self.op, &self.value).hash(state);
    }
}

/// Prints the matcher as Alertmanager ≥0.27 does (`Matcher.String()`), in a form that
/// [`Matchers::parse`] reads back: `name<op>"value"`, the value escaped `\` → `\\`,
/// line feed → `\n`, `"` → `\"`. When the name holds whitespace or one of ``{}!=~,\"'` ``
/// (or is empty), name and value are both printed with Go's `strconv.Quote`.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() || self.name.chars().any(is_reserved) {
            return write!(
                f,
                "{}{}{}",
                go_quote(&self.name),
                self.op,
                go_quote(&self.value)
            );
        }
        write!(f, "{}{}\"", self.name, self.op)?;
        for c in self.value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '"' => f.write_str("\\\"")?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        f.write_str("\"")
    }
}

/// A list of matchers that must all match (AND).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Matchers(Vec<Matcher>);

impl Matchers {
    /// Parses matchers as Alertmanager ≥0.27 does by default (fallback mode): with the
    /// classic grammar when it accepts the input, else with the UTF-8 grammar.
    ///
    /// # Errors
    ///
    /// The classic grammar's [`ParseError`] when neither grammar accepts the input.
    ///
    /// # Examples
    ///
    /// ```
    /// use alert_match::Matchers;
    /// use alert_core::LabelSet;
    ///
    /// let ms = Matchers::parse(r#"{severity=~"critical|page", team!="ops"}"#).unwrap();
    /// let labels = LabelSet::from([("severity".to_owned(), "page".to_owned())]);
    /// assert!(ms.matches(&labels));
    /// assert_eq!(ms.to_string(), r#"{severity=~"critical|page", team!="ops"}"#);
    /// ```
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        Self::parse_with(input, Syntax::Fallback)
    }

    /// Parses matchers with the given grammar.
    ///
    /// # Errors
    ///
    /// A [`ParseError`] with Alertmanager's error text for that grammar (for
    /// [`Syntax::Fallback`], the classic one).
    pub fn parse_with(input: &str, syntax: Syntax) -> Result<Self, ParseError> {
        RegexCache::new().parse_with(input, syntax)
    }

    /// Wraps already built matchers.
    pub fn new(matchers: Vec<Matcher>) -> Self {
        Matchers(matchers)
    }

    /// The matchers, in order.
    pub fn as_slice(&self) -> &[Matcher] {
        &self.0
    }

    /// Iterates over the matchers.
    pub fn iter(&self) -> std::slice::Iter<'_, Matcher> {
        self.0.iter()
    }

    /// How many matchers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (an empty list matches every label set).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every matcher matches the label set.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.first_mismatch(labels).is_none()
    }

    /// The first matcher that does not match the label set, if any.
    pub fn first_mismatch(&self, labels: &LabelSet) -> Option<&Matcher> {
        self.0.iter().find(|m| !m.matches(labels))
    }

    /// Sorts as Alertmanager sorts config matchers: by name, then value, then operator
    /// (`=`, `!=`, `=~`, `!~`).
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| {
            (a.name.as_str(), a.value.as_str(), a.op).cmp(&(
                b.name.as_str(),
                b.value.as_str(),
                b.op,
            ))
        });
        self
    }
}

/// `{` + the matchers joined by `, ` + `}`; [`Matchers::parse`] reads it back.
impl fmt::Display for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

impl IntoIterator for Matchers {
    type Item = Matcher;
    type IntoIter = std::vec::IntoIter<Matcher>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Matchers {
    type Item = &'a Matcher;
    type IntoIter = std::slice::Iter<'a, Matcher>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use alert_core::testing::labels;

    use super::*;

    fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
        Matcher::new(name, op, value).unwrap()
    }

    const OPS: [MatchOp; 4] = [
        MatchOp::Equal,
        MatchOp::NotEqual,
        MatchOp::Regex,
        MatchOp::NotRegex,
    ];

    #[test]
    fn display_prints_like_alertmanager() {
        let cases = [
            (m("foo", MatchOp::Equal, "bar"), r#"foo="bar""#),
            (m("foo", MatchOp::NotRegex, "a|b"), r#"foo!~"a|b""#),
            (
                m("foo", MatchOp::Equal, "a\\b\"c\nd\te"),
                "foo=\"a\\\\b\\\"c\\nd\te\"",
            ),
            (m("foo.bar", MatchOp::NotEqual, "x"), r#"foo.bar!="x""#),
            (m("🙂", MatchOp::Equal, "x"), r#"🙂="x""#),
            (
                m("a b", MatchOp::Equal, "\u{200b}\n"),
                r#""a b"="\u200b\n""#,
            ),
            (m("a=b", MatchOp::Regex, ".*"), r#""a=b"=~".*""#),
            (m("", MatchOp::Equal, "x"), r#"""="x""#),
        ];
        for (matcher, want) in cases {
            assert_eq!(matcher.to_string(), want);
            assert_eq!(Matchers::parse(want).unwrap().as_slice(), [matcher]);
        }
        let ms = Matchers::new(vec![
            m("a", MatchOp::Equal, "1"),
            m("b", MatchOp::Regex, "2"),
        ]);
        assert_eq!(ms.to_string(), r#"{a="1", b=~"2"}"#);
        assert_eq!(Matchers::default().to_string(), "{}");
        assert_eq!(OPS.map(|op| op.to_string()), ["=", "!=", "=~", "!~"]);
    }

    #[test]
    fn matching_treats_missing_labels_as_empty() {
        let cases = [
            (m("team", MatchOp::Equal, ""), true, false),
            (m("team", MatchOp::NotEqual, "ops"), true, false),
            (m("team", MatchOp::Regex, ".*"), true, true),
            (m("team", MatchOp::NotRegex, ".+"), true, false),
            (m("team", MatchOp::Regex, ".+"), false, true),
            (m("team", MatchOp::Equal, "OPS"), false, false),
            (m("team", MatchOp::Regex, "op"), false, false),
        ];
        let without = labels(&[("alertname", "X")]);
        let with_ops = labels(&[("team", "ops")]);
        for (matcher, absent, ops) in cases {
            assert_eq!(matcher.matches(&without), absent, "{matcher} without team");
            assert_eq!(matcher.matches(&with_ops), ops, "{matcher} with team=ops");
        }
    }

    #[test]
    fn matchers_are_a_conjunction() {
        let ms = Matchers::parse(r#"{a="1", b=~"x|y", c!="3"}"#).unwrap();
        assert!(ms.matches(&labels(&[("a", "1"), ("b", "y")])));
        let miss = labels(&[("a", "1"), ("b", "z")]);
        assert!(!ms.matches(&miss));
        assert_eq!(ms.first_mismatch(&miss).map(Matcher::name), Some("b"));
        assert!(Matchers::default().matches(&miss));
        assert_eq!(
            (ms.len(), ms.is_empty(), (&ms).into_iter().count()),
            (3, false, 3)
        );
    }

    #[test]
    fn sorted_orders_by_name_value_then_operator() {
        let ms = Matchers::new(vec![
            m("b", MatchOp::Equal, "1"),
            m("a", MatchOp::NotRegex, "2"),
            m("a", MatchOp::Equal, "2"),
            m("a", MatchOp::Regex, "10"),
            m("a", MatchOp::NotEqual, "2"),
        ]);
        assert_eq!(
            ms.sorted().to_string(),
            r#"{a=~"10", a="2", a!="2", a!~"2", b="1"}"#
        );
    }

    #[test]
    fn equality_ignores_the_compiled_regex() {
        assert_eq!(m("a", MatchOp::Regex, "x"), m("a", MatchOp::Regex, "x"));
        assert_ne!(m("a", MatchOp::Regex, "x"), m("a", MatchOp::NotRegex, "x"));
    }

    fn op() -> impl Strategy<Value = MatchOp> {
        prop::sample::select(OPS.to_vec())
    }

    /// Names and values from any Unicode; regex values from regex-like text.
    fn matcher() -> impl Strategy<Value = Matcher> {
        let regex_value = prop_oneof![
            any::<String>().prop_map(|s| regex::escape(&s)),
            "[a-z.*+?|()\\[\\]^${},0-9\\\\-]{0,12}",
        ];
        (any::<String>(), op(), any::<String>(), regex_value).prop_filter_map(
            "regex value must compile",
            |(name, op, value, regex_value)| match op {
                MatchOp::Equal | MatchOp::NotEqual => Matcher::new(name, op, value).ok(),
                MatchOp::Regex | MatchOp::NotRegex => Matcher::new(name, op, regex_value).ok(),
            },
        )
    }

    proptest! {
        #[test]
        fn printing_then_parsing_is_identity(ms in prop::collection::vec(matcher(), 0..4)) {
            for one in &ms {
                let printed = one.to_string();
                prop_assert_eq!(Matchers::parse(&printed).map(|p| p.as_slice().to_vec()), Ok(vec![one.clone()]));
            }
            let all = Matchers::new(ms);
            prop_assert_eq!(Matchers::parse(&all.to_string()), Ok(all));
        }

        #[test]
        fn adding_a_matcher_never_widens(
            base in prop::collection::vec(("[abc]", op(), "[xy]{0,2}"), 0..4),
            extra in ("[abc]", op(), "[xy]{0,2}"),
            set in prop::collection::btree_map("[abc]", "[xy]{0,2}", 0..3),
        ) {
            let build = |v: &[(String, MatchOp, String)]| {
                Matchers::new(v.iter().map(|(n, o, val)| m(n, *o, val)).collect())
            };
            let narrower: Vec<_> = base.iter().cloned().chain([extra]).collect();
            if build(&narrower).matches(&set) {
                prop_assert!(build(&base).matches(&set));
            }
        }
    }
}
