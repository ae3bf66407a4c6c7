//! The UTF-8 matcher grammar of Alertmanager ≥0.27 (`matcher/parse/{lexer,parse,token}.go`).
//!
//! A port of upstream's lexer and state-machine parser, so that results and error texts
//! (`<startCol>:<endCol>: <fragment>: <reason>`, 0-based rune columns) match upstream exactly.
//! Quoted tokens are decoded like Go's `strconv.Unquote`.

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;

use super::ParseError;
use crate::cache::RegexCache;
use crate::matcher::{MatchOp, Matcher};
use crate::pattern::MatcherError;

/// Runes that end an unquoted token (`isReserved` in `lexer.go` and `matcher.go`).
pub(crate) fn is_reserved(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\\\"'`".contains(c)
}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if is_go_print(c) => out.push(c),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if c < ' ' || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if u32::from(c) < 0x1_0000 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and ASCII space.
fn is_go_print(c: char) -> bool {
    static PRINTABLE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[\pL\pM\pN\pP\pS]$").expect("a fixed, valid pattern compiles")
    });
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    PRINTABLE.is_match(c.encode_utf8(&mut [0; 4]))
}

/// Go's `strconv.Unquote` for a double-quoted token; `None` where Go returns an error, or
/// where the result is not valid UTF-8 (`token.unquote`).
fn go_unquote(token: &str) -> Option<String> {
    let inner = token.strip_prefix('"')?.strip_suffix('"')?;
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'\n' => return None,
            b'\\' => {
                let (bytes, used) = unquote_escape(&b[i + 1..])?;
                out.extend_from_slice(&bytes);
                i += 1 + used;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// One escape after a backslash (Go's `UnquoteChar` with `"` as the quote): the bytes it
/// stands for and how many input bytes it used.
fn unquote_escape(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    let hex = |digits: &[u8]| -> Option<u32> {
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    };
    let simple = |b: u8| Some((vec![b], 1));
    match *s.first()? {
        b'a' => simple(0x07),
        b'b' => simple(0x08),
        b'f' => simple(0x0c),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'v' => simple(0x0b),
        b'\\' => simple(b'\\'),
        b'"' => simple(b'"'),
        b'x' => Some((vec![u8::try_from(hex(s.get(1..3)?)?).ok()?], 3)),
        c @ (b'u' | b'U') => {
            let n = if c == b'u' { 4 } else { 8 };
            let ch = char::from_u32(hex(s.get(1..=n)?)?)?;
            Some((ch.to_string().into_bytes(), 1 + n))
        }
        b'0'..=b'7' => {
            let digits = s.get(..3)?;
            if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                return None;
            }
            let v = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
            Some((vec![u8::try_from(v).ok()?], 3))
        }
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Eof,
    OpenBrace,
    CloseBrace,
    Comma,
    Equals,
    NotEquals,
    Matches,
    NotMatches,
    Quoted,
    Unquoted,
}

/// Byte offsets and 0-based rune columns of a token.
#[derive(Clone, Copy, Debug, Default)]
struct Position {
    offset_start: usize,
    offset_end: usize,
    column_start: usize,
    column_end: usize,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    value: &'a str,
    pos: Position,
}

impl Token<'_> {
    fn unquote(&self) -> Option<String> {
        match self.kind {
            Kind::Quoted => go_unquote(self.value),
            _ => Some(self.value.to_owned()),
        }
    }
}

/// A parse failure: upstream's `errEOF` sentinel, or a message with the byte offset where
/// it was found.
#[derive(Clone, Debug)]
enum Error {
    Eof,
    Message(String, usize),
    CreateMatcher(MatcherError, usize),
}

impl Error {
    /// `fmt.Errorf("%w: %w", e, reason)`.
    fn wrap(self, reason: &str, eof_offset: usize) -> Self {
        match self {
            Error::Eof => Error::Message(format!("end of input: {reason}"), eof_offset),
            Error::Message(m, at) => Error::Message(format!("{m}: {reason}"), at),
            other => other,
        }
    }
}

struct Lexer<'a> {
    input: &'a str,
    err: Option<Error>,
    start: usize,
    pos: usize,
    width: usize,
    column: usize,
    cols: usize,
}

impl<'a> Lexer<'a> {
    fn scan(&mut self) -> Result<Token<'a>, Error> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        while let Some(r) = self.next() {
            match r {
                '{' => return Ok(self.emit(Kind::OpenBrace)),
                '}' => return Ok(self.emit(Kind::CloseBrace)),
                ',' => return Ok(self.emit(Kind::Comma)),
                '=' | '!' => {
                    self.rewind();
                    return self.remember(Self::scan_operator);
                }
                '"' => {
                    self.rewind();
                    return self.remember(Self::scan_quoted);
                }
                r if !is_reserved(r) => {
                    self.rewind();
                    return Ok(self.scan_unquoted());
                }
                r if r.is_whitespace() => self.skip(),
                _ => {
                    let p = self.position();
                    let fragment = &self.input[p.offset_start..p.offset_end];
                    let message = format!(
                        "{}:{}: {fragment}: invalid input",
                        p.column_start, p.column_end
                    );
                    let e = Error::Message(message, p.offset_start);
                    self.err = Some(e.clone());
                    return Err(e);
                }
            }
        }
        Ok(Token {
            kind: Kind::Eof,
            value: "",
            pos: self.position(),
        })
    }

    fn remember(
        &mut self,
        f: fn(&mut Self) -> Result<Token<'a>, Error>,
    ) -> Result<Token<'a>, Error> {
        let r = f(self);
        if let Err(e) = &r {
            self.err = Some(e.clone());
        }
        r
    }

    fn peek(&mut self) -> Result<Token<'a>, Error> {
        let saved = (self.start, self.pos, self.width, self.column, self.cols);
        let t = self.scan();
        (self.start, self.pos, self.width, self.column, self.cols) = saved;
        t
    }

    fn scan_operator(&mut self) -> Result<Token<'a>, Error> {
        if self.accept("!") {
            if self.accept("=") {
                return Ok(self.emit(Kind::NotEquals));
            }
            if self.accept("~") {
                return Ok(self.emit(Kind::NotMatches));
            }
            return Err(self.expected_error("=~"));
        }
        if self.accept("=") {
            if self.accept("~") {
                return Ok(self.emit(Kind::Matches));
            }
            return Ok(self.emit(Kind::Equals));
        }
        Err(self.expected_error("!="))
    }

    fn scan_quoted(&mut self) -> Result<Token<'a>, Error> {
        if !self.accept("\"") {
            return Err(self.expected_error("\""));
        }
        let mut escaped = false;
        while let Some(r) = self.next() {
            if escaped {
                escaped = false;
            } else if r == '\\' {
                escaped = true;
            } else if r == '"' {
                self.rewind();
                break;
            }
        }
        if !self.accept("\"") {
            let p = self.position();
            let fragment = &self.input[p.offset_start..p.offset_end];
            let message = format!(
                "{}:{}: {fragment}: missing end \"",
                p.column_start, p.column_end
            );
            return Err(Error::Message(message, p.offset_start));
        }
        Ok(self.emit(Kind::Quoted))
    }

    fn scan_unquoted(&mut self) -> Token<'a> {
        while let Some(r) = self.next() {
            if is_reserved(r) {
                self.rewind();
                break;
            }
        }
        self.emit(Kind::Unquoted)
    }

    fn expected_error(&self, expected: &str) -> Error {
        let p = self.position();
        let message = if p.offset_end >= self.input.len() {
            format!(
                "{}:{}: unexpected end of input, expected one of '{expected}'",
                p.column_start, p.column_end
            )
        } else {
            let fragment = &self.input[p.offset_start..p.offset_end];
            format!(
                "{}:{}: {fragment}: expected one of '{expected}'",
                p.column_start, p.column_end
            )
        };
        Error::Message(message, p.offset_start)
    }

    fn position(&self) -> Position {
        Position {
            offset_start: self.start,
            offset_end: self.pos,
            column_start: self.column,
            column_end: self.cols,
        }
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(r) if valid.contains(r) => true,
            _ => {
                self.rewind();
                false
            }
        }
    }

    fn emit(&mut self, kind: Kind) -> Token<'a> {
        let t = Token {
            kind,
            value: &self.input[self.start..self.pos],
            pos: self.position(),
        };
        self.start = self.pos;
        self.column = self.cols;
        t
    }

    fn next(&mut self) -> Option<char> {
        let Some(r) = self.input[self.pos..].chars().next() else {
            self.width = 0;
            return None;
        };
        self.width = r.len_utf8();
        self.pos += self.width;
        self.cols += 1;
        Some(r)
    }

    fn rewind(&mut self) {
        self.pos -= self.width;
        if self.width > 0 {
            self.cols -= 1;
        }
    }

    fn skip(&mut self) {
        self.start = self.pos;
        self.column = self.cols;
    }
}

/// The parser's states (upstream's `parseFunc`s).
#[derive(Clone, Copy)]
enum State {
    OpenBrace,
    CloseBrace,
    Matcher,
    EndOfMatcher,
    Comma,
    Eof,
}

struct Parser<'a, 'c> {
    lexer: Lexer<'a>,
    cache: &'c mut RegexCache,
    matchers: Vec<Matcher>,
    has_open_brace: bool,
}

const EXPECTED_EOF: &str = "expected end of input";
const NO_OPEN_BRACE: &str = "expected opening brace";
const NO_CLOSE_BRACE: &str = "expected close brace";
const NO_LABEL_NAME: &str = "expected label name";
const NO_LABEL_VALUE: &str = "expected label value";
const NO_OPERATOR: &str = "expected an operator such as '=', '!=', '=~' or '!~'";
const EXPECTED_COMMA: &str = "expected a comma";
const EXPECTED_COMMA_OR_CLOSE_BRACE: &str = "expected a comma or close brace";
const EXPECTED_MATCHER_OR_CLOSE_BRACE: &str = "expected a matcher or close brace after comma";

impl<'a> Parser<'a, '_> {
    fn run(&mut self) -> Result<(), Error> {
        let mut state = Some(State::OpenBrace);
        while let Some(s) = state {
            state = match s {
                State::OpenBrace => self.open_brace()?,
                State::CloseBrace => self.close_brace()?,
                State::Matcher => self.matcher()?,
                State::EndOfMatcher => self.end_of_matcher()?,
                State::Comma => self.comma()?,
                State::Eof => self.eof()?,
            };
        }
        Ok(())
    }

    fn end(&self) -> usize {
        self.lexer.input.len()
    }

    fn open_brace(&mut self) -> Result<Option<State>, Error> {
        match self.accept(&[Kind::OpenBrace]) {
            Ok(open) => self.has_open_brace = open,
            Err(Error::Eof) => return Ok(Some(State::Eof)),
            Err(e) => return Err(e),
        }
        match self.accept_peek(&[Kind::CloseBrace]) {
            Ok(true) | Err(Error::Eof) => Ok(Some(State::CloseBrace)),
            Ok(false) => Ok(Some(State::Matcher)),
            Err(e) => Err(e),
        }
    }

    fn close_brace(&mut self) -> Result<Option<State>, Error> {
        let closed = self.expect(&[Kind::CloseBrace]);
        let col = self.lexer.position().column_end;
        match (self.has_open_brace, closed) {
            (true, Err(e)) => {
                let inner = e.wrap(NO_CLOSE_BRACE, self.end());
                let Error::Message(m, _) = inner else {
                    return Err(inner);
                };
                Err(Error::Message(format!("0:{col}: {m}"), self.lexer.pos))
            }
            (false, Ok(t)) => {
                let message = format!("0:{col}: }}: {NO_OPEN_BRACE}");
                Err(Error::Message(message, t.pos.offset_start))
            }
            _ => Ok(Some(State::Eof)),
        }
    }

    fn matcher(&mut self) -> Result<Option<State>, Error> {
        let end = self.end();
        let t = self
            .expect(&[Kind::Quoted, Kind::Unquoted])
            .map_err(|e| e.wrap(NO_LABEL_NAME, end))?;
        let name = unquote(&t)?;
        let t = self
            .expect(&[
                Kind::Equals,
                Kind::NotEquals,
                Kind::Matches,
                Kind::NotMatches,
            ])
            .map_err(|e| e.wrap(NO_OPERATOR, end))?;
        let op = match t.kind {
            Kind::NotEquals => MatchOp::NotEqual,
            Kind::Matches => MatchOp::Regex,
            Kind::NotMatches => MatchOp::NotRegex,
            _ => MatchOp::Equal,
        };
        let t = self
            .expect(&[Kind::Unquoted, Kind::Quoted])
            .map_err(|e| e.wrap(NO_LABEL_VALUE, end))?;
        let value = unquote(&t)?;
        let m = self
            .cache
            .matcher(name, op, value)
            .map_err(|e| Error::CreateMatcher(e, t.pos.offset_start))?;
        self.matchers.push(m);
        Ok(Some(State::EndOfMatcher))
    }

    fn end_of_matcher(&mut self) -> Result<Option<State>, Error> {
        match self.expect_peek(&[Kind::Comma, Kind::CloseBrace]) {
            Ok(t) if t.kind == Kind::Comma => Ok(Some(State::Comma)),
            Ok(_) | Err(Error::Eof) => Ok(Some(State::CloseBrace)),
            Err(e) => Err(e.wrap(EXPECTED_COMMA_OR_CLOSE_BRACE, self.end())),
        }
    }

    fn comma(&mut self) -> Result<Option<State>, Error> {
        let end = self.end();
        self.expect(&[Kind::Comma])
            .map_err(|e| e.wrap(EXPECTED_COMMA, end))?;
        match self.expect_peek(&[Kind::CloseBrace, Kind::Unquoted, Kind::Quoted]) {
            Ok(t) if t.kind == Kind::CloseBrace => Ok(Some(State::CloseBrace)),
            Ok(_) => Ok(Some(State::Matcher)),
            Err(Error::Eof) => Ok(Some(State::CloseBrace)),
            Err(e) => Err(e.wrap(EXPECTED_MATCHER_OR_CLOSE_BRACE, end)),
        }
    }

    fn eof(&mut self) -> Result<Option<State>, Error> {
        let t = self
            .lexer
            .scan()
            .map_err(|e| e.wrap(EXPECTED_EOF, self.end()))?;
        if t.kind != Kind::Eof {
            let p = t.pos;
            let message = format!(
                "{}:{}: {}: {EXPECTED_EOF}",
                p.column_start, p.column_end, t.value
            );
            return Err(Error::Message(message, p.offset_start));
        }
        Ok(None)
    }

    fn accept(&mut self, kinds: &[Kind]) -> Result<bool, Error> {
        let ok = self.accept_peek(kinds)?;
        if ok {
            self.lexer.scan()?;
        }
        Ok(ok)
    }

    fn accept_peek(&mut self, kinds: &[Kind]) -> Result<bool, Error> {
        let t = self.lexer.peek()?;
        if t.kind == Kind::Eof {
            return Err(Error::Eof);
        }
        Ok(kinds.contains(&t.kind))
    }

    fn expect(&mut self, kinds: &[Kind]) -> Result<Token<'a>, Error> {
        let t = self.expect_peek(kinds)?;
        self.lexer.scan()?;
        Ok(t)
    }

    fn expect_peek(&mut self, kinds: &[Kind]) -> Result<Token<'a>, Error> {
        let t = self.lexer.peek()?;
        if t.kind == Kind::Eof {
            return Err(Error::Eof);
        }
        if !kinds.contains(&t.kind) {
            let p = t.pos;
            let message = format!(
                "{}:{}: unexpected {}",
                p.column_start, p.column_end, t.value
            );
            return Err(Error::Message(message, p.offset_start));
        }
        Ok(t)
    }
}

fn unquote(t: &Token<'_>) -> Result<String, Error> {
    t.unquote().ok_or_else(|| {
        let p = t.pos;
        let message = format!(
            "{}:{}: {}: invalid input",
            p.column_start, p.column_end, t.value
        );
        Error::Message(message, p.offset_start)
    })
}

/// `parse.Matchers`: zero or more matchers, optionally in braces.
pub(super) fn parse_matchers(
    input: &str,
    cache: &mut RegexCache,
) -> Result<Vec<Matcher>, ParseError> {
    let lexer = Lexer {
        input,
        err: None,
        start: 0,
        pos: 0,
        width: 0,
        column: 0,
        cols: 0,
    };
    let mut parser = Parser {
        lexer,
        cache,
        matchers: Vec::new(),
        has_open_brace: false,
    };
    match parser.run() {
        Ok(()) => Ok(parser.matchers),
        Err(Error::Eof) => Err(ParseError::Syntax {
            input: input.to_owned(),
            message: "end of input".to_owned(),
            offset: input.len(),
        }),
        Err(Error::Message(message, offset)) => Err(ParseError::Syntax {
            input: input.to_owned(),
            message,
            offset,
        }),
        Err(Error::CreateMatcher(error, offset)) => Err(ParseError::CreateMatcher {
            input: input.to_owned(),
            error,
            offset,
        }),
    }
}

/// `parse.Matcher`: exactly one matcher.
pub(super) fn parse_matcher(input: &str, cache: &mut RegexCache) -> Result<Matcher, ParseError> {
    let mut matchers = parse_matchers(input, cache)?;
    match matchers.len() {
        1 => Ok(matchers.remove(0)),
        0 => Err(ParseError::NoMatchers {
            input: input.to_owned(),
        }),
        found => Err(ParseError::ExpectedOneMatcher {
            input: input.to_owned(),
            found,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::parse::table::{Triples, err, ok};

    fn triples(input: &str) -> Triples {
        crate::parse::table::triples(|i| parse_matchers(i, &mut RegexCache::new()), input)
    }

    /// Beyond the conformance table: cases checked against upstream's `parse.Matchers`.
    #[test]
    fn parses_and_reports_like_upstream() {
        let op = "expected an operator such as '=', '!=', '=~' or '!~'";
        let cases = [
            (r#""a"="\\""#, ok(&[("a", "=", "\\")])),
            (r#"""="x""#, ok(&[("", "=", "x")])),
            ("🙂=1", ok(&[("🙂", "=", "1")])),
            ("a\u{a0}=\u{a0}b", ok(&[("a", "=", "b")])),
            ("a\u{0b}=b", ok(&[("a", "=", "b")])),
            ("{a=b} ", ok(&[("a", "=", "b")])),
            (" {a=b}", ok(&[("a", "=", "b")])),
            ("a = \"x\" , b=y", ok(&[("a", "=", "x"), ("b", "=", "y")])),
            (
                "foo!",
                err(&format!(
                    "3:4: unexpected end of input, expected one of '=~': {op}"
                )),
            ),
            (
                "foo=bar baz",
                err("8:11: unexpected baz: expected a comma or close brace"),
            ),
            ("{foo=bar,", err("0:9: end of input: expected close brace")),
            (
                "{foo=bar,,}",
                err("9:10: unexpected ,: expected a matcher or close brace after comma"),
            ),
            (r#""a"="\d""#, err(r#"4:8: "\d": invalid input"#)),
            ("a=b}c", err("0:4: }: expected opening brace")),
            ("{a=b}x", err("5:6: x: expected end of input")),
            ("a", err(&format!("end of input: {op}"))),
            ("{a=\"b\nc\"}", err("3:8: \"b\nc\": invalid input")),
            (r#"a="x\qy""#, err(r#"2:8: "x\qy": invalid input"#)),
            (
                "a=x\\",
                err("3:4: \\: invalid input: expected a comma or close brace"),
            ),
            ("{a=b,c}", err(&format!("6:7: unexpected }}: {op}"))),
            ("=x", err("0:1: unexpected =: expected label name")),
            ("a!~", err("end of input: expected label value")),
            (
                r#"a=~"(""#,
                err("failed to create matcher: error parsing regexp: missing closing ): `^(?:()$`"),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(triples(input), want, "{input:?}");
        }
    }

    #[test]
    fn errors_carry_byte_offsets() {
        let cases = [("a=b}c", 3), ("é=b baz", 5), ("a", 1), ("{a=~\"(\"}", 4)];
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

    #[test]
    fn single_matcher_counts_matchers() {
        assert_eq!(
            parse_matcher("", &mut RegexCache::new())
                .unwrap_err()
                .reason(),
            "no matchers"
        );
        assert_eq!(
            parse_matcher("a=b,c=d", &mut RegexCache::new())
                .unwrap_err()
                .reason(),
            "expected 1 matcher, found 2"
        );
        assert_eq!(
            parse_matcher("{a=b}", &mut RegexCache::new())
                .unwrap()
                .value(),
            "b"
        );
    }

    #[test]
    fn unquote_follows_go_strconv() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#""abc""#, Some("abc")),
            (r#""a\nb\t\"\\""#, Some("a\nb\t\"\\")),
            (r#""\a\b\f\r\v""#, Some("\u{7}\u{8}\u{c}\r\u{b}")),
            (r#""\x41\101""#, Some("AA")),
            (r#""\u00e9\U0001f642""#, Some("é🙂")),
            (r#""\xf0\x9f\x99\x82""#, Some("🙂")),
            ("\"tab\tcr\r\"", Some("tab\tcr\r")),
            (r#""\xf0\x9f""#, None),
            (r#""\ud800""#, None),
            (r#""\U00110000""#, None),
            (r#""\u00""#, None),
            (r#""\400""#, None),
            (r#""\12""#, None),
            (r#""\d""#, None),
            (r#""\'""#, None),
            ("\"a\nb\"", None),
            (r#""a"b""#, None),
        ];
        for (token, want) in cases {
            assert_eq!(go_unquote(token).as_deref(), *want, "{token}");
        }
    }

    #[test]
    fn quote_follows_go_strconv() {
        let cases = [
            ("a", r#""a""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("\n\t\u{7}\u{8}\u{c}\r\u{b}", r#""\n\t\a\b\f\r\v""#),
            ("\u{1}\u{7f}", r#""\x01\x7f""#),
            ("\u{a0}\u{200b}\u{85}", r#""\u00a0\u200b\u0085""#),
            ("\u{e0001}", r#""\U000e0001""#),
            ("é日🙂 ~", r#""é日🙂 ~""#),
        ];
        for (s, want) in cases {
            assert_eq!(go_quote(s), want);
            assert_eq!(go_unquote(want).as_deref(), Some(s), "{want}");
        }
    }

    #[test]
    fn reserved_runes_end_unquoted_tokens() {
        for c in "{}!=~,\\\"'` \t\n\u{b}\u{85}\u{a0}\u{2028}\u{3000}".chars() {
            assert!(is_reserved(c), "{c:?}");
        }
        for c in "a0._-:/🙂é\u{200b}".chars() {
            assert!(!is_reserved(c), "{c:?}");
        }
    }
}
