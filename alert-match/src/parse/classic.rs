//! The classic matcher grammar (`pkg/labels/parse.go`, unchanged from Alertmanager 0.25 to
//! 0.34).
//!
//! One `{` and one `}` are stripped, the rest is split on commas outside double quotes, and
//! each part must match `^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$`, where
//! Go's `\s` is `[\t\n\f\r ]`. The value is then unescaped (`\n`, `\"`, `\\`; any other
//! backslash stays literal).

use super::ParseError;
use crate::cache::RegexCache;
use crate::matcher::{MatchOp, Matcher};

/// Go's `\s` in the token regex.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// `labels.ParseMatchers`.
pub(super) fn parse_matchers(
    input: &str,
    cache: &mut RegexCache,
) -> Result<Vec<Matcher>, ParseError> {
    let (body, base) = match input.strip_prefix('{') {
        Some(rest) => (rest, 1),
        None => (input, 0),
    };
    let body = body.strip_suffix('}').unwrap_or(body);
    let mut parts = Vec::new();
    let (mut in_quotes, mut escaped, mut start) = (false, false, 0);
    for (i, c) in body.char_indices() {
        match c {
            ',' if !in_quotes => {
                parts.push((base + start, &body[start..i]));
                start = i + 1;
            }
            ',' => {}
            '"' if escaped => escaped = false,
            '"' => in_quotes = !in_quotes,
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    let last = &body[start..];
    let trimmed = last.trim();
    if !trimmed.is_empty() {
        parts.push((
            base + start + (last.len() - last.trim_start().len()),
            trimmed,
        ));
    }
    parts
        .into_iter()
        .map(|(offset, part)| parse_part(input, part, offset, cache))
        .collect()
}

/// `labels.ParseMatcher`: the whole input is one matcher; no braces, no splitting.
pub(super) fn parse_matcher(input: &str, cache: &mut RegexCache) -> Result<Matcher, ParseError> {
    parse_part(input, input, 0, cache)
}

/// Parses one comma-separated part found at byte `offset` of `input`.
fn parse_part(
    input: &str,
    part: &str,
    offset: usize,
    cache: &mut RegexCache,
) -> Result<Matcher, ParseError> {
    let bad_format = || ParseError::BadFormat {
        input: input.to_owned(),
        part: part.to_owned(),
        offset,
    };
    let s = part.trim_start_matches(is_go_space);
    let name_len = s
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
        })
        .map_or(s.len(), |(i, _)| i);
    if name_len == 0 {
        return Err(bad_format());
    }
    let (name, rest) = s.split_at(name_len);
    let rest = rest.trim_start_matches(is_go_space);
    let (op, rest) = [
        ("=~", MatchOp::Regex),
        ("=", MatchOp::Equal),
        ("!=", MatchOp::NotEqual),
        ("!~", MatchOp::NotRegex),
    ]
    .into_iter()
    .find_map(|(text, op)| rest.strip_prefix(text).map(|rest| (op, rest)))
    .ok_or_else(bad_format)?;
    let raw = rest.trim_start_matches(is_go_space);
    let value_offset = offset + (part.len() - raw.len());
    let raw = raw.trim_end_matches(is_go_space);
    let value = unescape(raw).ok_or_else(|| ParseError::UnescapedQuote {
        input: input.to_owned(),
        value: raw.to_owned(),
        offset: value_offset,
    })?;
    cache
        .matcher(name, op, value)
        .map_err(|error| ParseError::Regex {
            input: input.to_owned(),
            error,
            offset: value_offset,
        })
}

/// Unescapes a raw value; `None` for an unescaped `"` other than a closing one, or an
/// opening `"` without a closing one.
fn unescape(raw: &str) -> Option<String> {
    let (body, mut expect_quote) = match raw.strip_prefix('"') {
        Some(body) => (body, true),
        None => (raw, false),
    };
    let mut value = String::with_capacity(body.len());
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        let is_last = i == body.len() - 1;
        match c {
            '\\' if is_last => value.push('\\'),
            '\\' => escaped = true,
            '"' if expect_quote && is_last => expect_quote = false,
            '"' => return None,
            _ => value.push(c),
        }
    }
    (!expect_quote).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::parse::table::{Triples, err, ok};

    fn triples(input: &str) -> Triples {
        crate::parse::table::triples(|i| parse_matchers(i, &mut RegexCache::new()), input)
    }

    /// Beyond the conformance table: cases checked against upstream's `labels.ParseMatchers`.
    #[test]
    fn parses_like_upstream() {
        let cases = [
            ("foo=bar baz", ok(&[("foo", "=", "bar baz")])),
            ("{foo=bar,", ok(&[("foo", "=", "bar")])),
            ("{foo=bar,,}", err("bad matcher format: ")),
            ("a=b}c", ok(&[("a", "=", "b}c")])),
            ("{a=b} ", ok(&[("a", "=", "b}")])),
            (" {a=b}", err("bad matcher format: {a=b")),
            ("a\u{0b}=b", err("bad matcher format: a\u{0b}=b")),
            ("a\u{a0}=b", err("bad matcher format: a\u{a0}=b")),
            ("a:b=c", ok(&[("a:b", "=", "c")])),
            ("_=c", ok(&[("_", "=", "c")])),
            ("0a=c", err("bad matcher format: 0a=c")),
            ("a!~", ok(&[("a", "!~", "")])),
            // Only the last part is trimmed before it is reported.
            ("{a=b, c-d=e, f=g}", err("bad matcher format:  c-d=e")),
            ("{a=b, c-d=e}", err("bad matcher format: c-d=e")),
            ("a=\"x\\qy\"", ok(&[("a", "=", "x\\qy")])),
            (
                "a=\"x\\\"",
                err("matcher value contains unescaped double quote: \"x\\\""),
            ),
            // `\\` toggles the escape state twice, so the following `"` opens a quote.
            (r#"a="\\",b="c""#, ok(&[("a", "=", "\\"), ("b", "=", "c")])),
            // A comma right after a lone `\` still splits.
            (r#"a=\,b="c""#, ok(&[("a", "=", "\\"), ("b", "=", "c")])),
            (r#"a=\,"b,c""#, err("bad matcher format: \"b")),
        ];
        for (input, want) in cases {
            assert_eq!(triples(input), want, "{input:?}");
        }
    }

    #[test]
    fn unescapes_values() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#""bar""#, Some("bar")),
            (r"bar\n", Some("bar\n")),
            (r"bar\t", Some("bar\\t")),
            (r"bar\", Some("bar\\")),
            (r"bar\\", Some("bar\\")),
            (r#"bar\""#, Some("bar\"")),
            (r#""a\"b""#, Some("a\"b")),
            ("", Some("")),
            (r#"""#, None),
            (r#""bar"#, None),
            (r#"bar""#, None),
            (r#""a"b""#, None),
        ];
        for (raw, want) in cases {
            assert_eq!(unescape(raw).as_deref(), *want, "{raw}");
        }
    }

    #[test]
    fn single_matcher_reads_the_whole_input() {
        let m = parse_matcher("a=b,c=d", &mut RegexCache::new()).unwrap();
        assert_eq!((m.name(), m.value()), ("a", "b,c=d"));
        assert_eq!(
            parse_matcher("{a=b}", &mut RegexCache::new())
                .unwrap_err()
                .reason(),
            "bad matcher format: {a=b}"
        );
        assert_eq!(
            parse_matcher("", &mut RegexCache::new())
                .unwrap_err()
                .reason(),
            "bad matcher format: "
        );
    }

    #[test]
    fn errors_carry_byte_offsets() {
        let cases = [
            ("{a=b, c-d=e, f=g}", 5),
            ("{a=b,c=\"x}", 7),
            ("x=y, a=~(", 8),
        ];
        for (input, offset) in cases {
            assert_eq!(
                parse_matchers(input, &mut RegexCache::new())
                    .unwrap_err()
                    .offset(),
                Some(offset),
                "{input:?}"
            );
        }
    }
}
