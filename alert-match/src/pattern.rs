//! Regex values with Go RE2 semantics, compiled by the `regex` crate.
//!
//! Alertmanager compiles `"^(?:" + value + ")$"` with Go's `regexp`. This module builds the
//! same string and makes sure that every value either means what it means in Go or is
//! rejected with a [`MatcherError`]:
//!
//! 1. A prescan reads the pattern as Go's parser tokenizes it. It rewrites what Rust reads
//!    differently (a `{` Go takes literally as in `x{,3}`, `[`/`&&`/`--`/`~~` inside classes,
//!    `\<`, `(?)`, the literal text of a `\Q…\E`, escaped character by character), and finds
//!    the errors only the token order shows (`a**`, `(*`, escapes).
//! 2. `regex_syntax`'s AST parser parses the result and an AST walk applies Go's remaining
//!    rules (flags, capture names, `\p{..}` names, nested counts over 1000) and gives Perl
//!    classes and word boundaries Go's ASCII meaning (`\d` → `[0-9]`, `\b` → `(?-u:\b)`).
//! 3. What Go rejects is rejected with Go's own error text, as Alertmanager reports it
//!    ([`MatcherError::InvalidRegex`]); what Go accepts but cannot be reproduced
//!    (`\x{D800}`, a repetition right after a flag group) is [`MatcherError::UnsupportedRegex`].

use std::ops::Range;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use regex_syntax::ast::parse::ParserBuilder;
use regex_syntax::ast::{self, Ast, ClassSetItem, ErrorKind, Span};

/// Go's `regexp/syntax` error codes (`ErrorCode` in `regexp/syntax/parse.go`).
mod code {
    pub(super) const INVALID_CHAR_RANGE: &str = "invalid character class range";
    pub(super) const INVALID_ESCAPE: &str = "invalid escape sequence";
    pub(super) const INVALID_NAMED_CAPTURE: &str = "invalid named capture";
    pub(super) const INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
    pub(super) const INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
    pub(super) const INVALID_REPEAT_SIZE: &str = "invalid repeat count";
    pub(super) const MISSING_BRACKET: &str = "missing closing ]";
    pub(super) const MISSING_PAREN: &str = "missing closing )";
    pub(super) const MISSING_REPEAT_ARGUMENT: &str = "missing argument to repetition operator";
    pub(super) const NESTING_DEPTH: &str = "expression nests too deeply";
    pub(super) const TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
    pub(super) const UNEXPECTED_PAREN: &str = "unexpected )";
}

/// Go allows repetition counts up to this, also as a product of nested counts.
const MAX_REPEAT: u64 = 1000;
/// Go's `maxHeight`; Rust's default nest limit (250) would reject patterns Go accepts.
const NEST_LIMIT: u32 = 1000;

/// Go's general categories (`unicode.Categories`), usable as `\p{..}` names.
const GO_CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs",
];

/// Go's script names (`unicode.Scripts`, Unicode 15.0 as in Go 1.21 and later), separated
/// by spaces.
const GO_SCRIPTS: &str = concat!(
    "Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak ",
    "Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian ",
    "Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot ",
    "Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan ",
    "Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Greek ",
    "Gujarati Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew ",
    "Hiragana Imperial_Aramaic Inherited Inscriptional_Pahlavi Inscriptional_Parthian ",
    "Javanese Kaithi Kannada Katakana Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer ",
    "Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani ",
    "Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek ",
    "Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani ",
    "Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu ",
    "Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian ",
    "Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage ",
    "Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang ",
    "Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian ",
    "Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham ",
    "Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Toto ",
    "Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square ",
);

/// Whether Go's `unicodeTable` knows the name of a `\p{..}` class.
fn is_go_unicode_class(name: &str) -> bool {
    name == "Any"
        || GO_CATEGORIES.contains(&name)
        || GO_SCRIPTS.split_whitespace().any(|s| s == name)
}

/// Go's POSIX class names (`posixGroup`), each also allowed with a leading `^`.
const GO_POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// A regex value that Alertmanager would not accept, or that this crate cannot run with
/// Alertmanager's meaning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MatcherError {
    /// Go's `regexp` rejects the value, so Alertmanager does too. The message is Go's own,
    /// naming the offending part of `^(?:value)$`.
    #[error("error parsing regexp: {code}: `{expr}`")]
    InvalidRegex {
        /// The regex value as written in the matcher.
        value: String,
        /// Go's error code text, e.g. `missing closing ]`.
        code: &'static str,
        /// The offending part of the wrapped expression, as Go reports it.
        expr: String,
    },
    /// Go accepts the value but Rust's `regex` would give it another meaning or reject it.
    #[error("unsupported regexp {value:?}: `{construct}` {reason}")]
    UnsupportedRegex {
        /// The regex value as written in the matcher.
        value: String,
        /// The construct that differs.
        construct: String,
        /// Why it is rejected and how to write it instead.
        reason: &'static str,
    },
    /// Rust's `regex` could not build the value, e.g. because it exceeds the size limit.
    #[error("regexp {value:?} cannot be compiled: {message}")]
    RegexCompile {
        /// The regex value as written in the matcher.
        value: String,
        /// What the regex crate reported.
        message: String,
    },
}

/// Why a pattern is rejected, and where Go's left-to-right parse would notice.
#[derive(Debug)]
struct Problem {
    at: usize,
    kind: ProblemKind,
}

#[derive(Debug)]
enum ProblemKind {
    Go {
        code: &'static str,
        expr: Range<usize>,
    },
    Unsupported {
        construct: Range<usize>,
        reason: &'static str,
    },
    Compile(String),
}

impl Problem {
    fn go(code: &'static str, expr: Range<usize>) -> Self {
        Problem {
            at: expr.start,
            kind: ProblemKind::Go { code, expr },
        }
    }

    fn unsupported(construct: Range<usize>, reason: &'static str) -> Self {
        Problem {
            at: construct.start,
            kind: ProblemKind::Unsupported { construct, reason },
        }
    }

    fn compile(at: usize, message: String) -> Self {
        Problem {
            at,
            kind: ProblemKind::Compile(message),
        }
    }

    fn at(mut self, at: usize) -> Self {
        self.at = at;
        self
    }

    fn is_go(&self) -> bool {
        matches!(self.kind, ProblemKind::Go { .. })
    }

    /// Moves offsets in the text Rust parsed to offsets in the pattern as written.
    fn into_original(mut self, source: &Source<'_>) -> Self {
        self.at = source.to_original(self.at, false);
        if let ProblemKind::Go { expr: r, .. } | ProblemKind::Unsupported { construct: r, .. } =
            &mut self.kind
        {
            *r = source.to_original(r.start, false)..source.to_original(r.end, true);
        }
        self
    }
}

/// The problem Alertmanager would report: the first Go error, as Go would go on past a
/// construct that is only unsupported here; else the first unsupported construct. On a tie
/// the earlier-listed problem wins.
fn first_problem(problems: impl IntoIterator<Item = Problem>) -> Option<Problem> {
    problems.into_iter().reduce(|a, b| {
        let key = |p: &Problem| (p.is_go(), std::cmp::Reverse(p.at));
        if key(&b) > key(&a) { b } else { a }
    })
}

/// Chooses between the prescan's problem and Rust's. The prescan reads tokens as Go does and
/// stops at its problem, leaving the rest of the text unrewritten, so Rust's problem counts
/// only when it comes earlier: then a Go error wins over an unsupported construct (Go reads
/// on past the latter), and of two unsupported constructs the earlier one.
fn prescan_or_rust(prescan: Option<Problem>, rust: Option<Problem>) -> Option<Problem> {
    match (prescan, rust) {
        (Some(p), Some(r)) if r.at < p.at && (r.is_go() || !p.is_go()) => Some(r),
        (p, r) => p.or(r),
    }
}

/// The pattern as written, and as handed to Rust: rewritten where Go and Rust read the same
/// text differently (`x{,3}`, `[a[b]`, `\<`, ...) so that Rust gets Go's meaning.
struct Source<'p> {
    original: &'p str,
    text: String,
    /// Each rewritten part: where it is in `text`, and what it replaced in `original`.
    rewrites: Vec<(Range<usize>, Range<usize>)>,
}

impl Source<'_> {
    /// Maps an offset in `text` to `original`: inside a rewritten part, a range `start` maps
    /// to the start of what was written and an `end` to its end.
    fn to_original(&self, at: usize, end: bool) -> usize {
        let i = self
            .rewrites
            .partition_point(|(t, _)| if end { t.start < at } else { t.start <= at });
        let Some((t, o)) = i.checked_sub(1).map(|i| &self.rewrites[i]) else {
            return at;
        };
        match (at < t.end, at <= t.end && end) {
            (_, true) => o.end,
            (true, false) => o.start,
            (false, false) => o.end + (at - t.end),
        }
    }

    fn error(&self, problem: Problem, value: &str) -> MatcherError {
        let value = value.to_owned();
        let text = |r: Range<usize>| self.original.get(r).unwrap_or_default().to_owned();
        match problem.kind {
            ProblemKind::Go { code, expr } => MatcherError::InvalidRegex {
                value,
                code,
                expr: text(expr),
            },
            ProblemKind::Unsupported { construct, reason } => MatcherError::UnsupportedRegex {
                value,
                construct: text(construct),
                reason,
            },
            ProblemKind::Compile(message) => MatcherError::RegexCompile { value, message },
        }
    }
}

/// Compiles regexes already built by [`compile`] (their `as_str()`) into one set with the
/// same options. `None` when the set exceeds the regex crate's size limit.
pub(crate) fn set_of<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Option<RegexSet> {
    RegexSetBuilder::new(patterns)
        .octal(true)
        .nest_limit(NEST_LIMIT)
        .build()
        .ok()
}

/// Compiles a matcher's regex value exactly as Alertmanager anchors it: `^(?:value)$`, built
/// by string concatenation (so `a)|(b` means "starts with a or ends with b").
#[cfg(test)]
pub(crate) fn compile(value: &str) -> Result<Regex, MatcherError> {
    build(&anchored(value)?, value)
}

/// The Rust pattern with Go's meaning of the regex value `value` (anchored as [`compile`]
/// anchors it), or why there is none. Equal values give equal patterns.
pub(crate) fn anchored(value: &str) -> Result<String, MatcherError> {
    let pattern = format!("^(?:{value})$");
    let (source, early) = prescan(&pattern);
    let parsed = ParserBuilder::new()
        .octal(true)
        .nest_limit(NEST_LIMIT)
        .build()
        .parse(&source.text)
        .map_err(|e| ast_error(&source.text, &e));
    let translated = parsed.and_then(|ast| translate(&source.text, &ast));
    let problem = match (early, translated) {
        (None, Ok(translated)) => return Ok(translated),
        (early, translated) => {
            let late = translated.err().map(|p| p.into_original(&source));
            prescan_or_rust(early, late)
        }
    };
    let problem =
        problem.unwrap_or_else(|| Problem::compile(0, "rejected without a reason".to_owned()));
    Err(source.error(problem, value))
}

/// Compiles a pattern made by [`anchored`] from the regex value `value`.
pub(crate) fn build(pattern: &str, value: &str) -> Result<Regex, MatcherError> {
    RegexBuilder::new(pattern)
        .octal(true)
        .nest_limit(NEST_LIMIT)
        .build()
        .map_err(|e| MatcherError::RegexCompile {
            value: value.to_owned(),
            message: regex_error_message(&e),
        })
}

/// Checks a parsed pattern against Go's rules and returns the equivalent Rust pattern.
fn translate(text: &str, ast: &Ast) -> Result<String, Problem> {
    let checker = Checker {
        text,
        edits: Vec::new(),
        problems: Vec::new(),
        weights: Vec::new(),
    };
    let (mut edits, problems) = ast::visit(ast, checker)?;
    if let Some(p) = first_problem(problems) {
        return Err(p);
    }
    edits.sort_by_key(|(span, _)| span.start.offset);
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (span, replacement) in edits {
        out.push_str(&text[at..span.start.offset]);
        out.push_str(&replacement);
        at = span.end.offset;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

fn regex_error_message(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => s
            .lines()
            .last()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_owned(),
        other => other.to_string(),
    }
}

/// Reads the pattern the way Go's parser tokenizes it, left to right: rewrites what Rust
/// would read differently, and finds what Rust's AST cannot show (nested repetition) and
/// the first invalid escape. Returns the text for Rust and the first problem found (with
/// offsets in the pattern as written).
fn prescan(p: &str) -> (Source<'_>, Option<Problem>) {
    let mut scan = Prescan {
        p,
        text: String::with_capacity(p.len() + 8),
        rewrites: Vec::new(),
        done: 0,
    };
    let problem = scan.run().err();
    let done = scan.done;
    scan.copy(done, p.len());
    (
        Source {
            original: p,
            text: scan.text,
            rewrites: scan.rewrites,
        },
        problem,
    )
}

struct Prescan<'p> {
    p: &'p str,
    text: String,
    rewrites: Vec<(Range<usize>, Range<usize>)>,
    /// How much of `p` has been written to `text`.
    done: usize,
}

impl Prescan<'_> {
    fn copy(&mut self, from: usize, to: usize) {
        self.text.push_str(&self.p[from..to]);
        self.done = to;
    }

    fn replace(&mut self, from: usize, to: usize, with: &str) {
        let start = self.text.len();
        self.text.push_str(with);
        self.rewrites.push((start..self.text.len(), from..to));
        self.done = to;
    }

    /// Go's main loop (`parse` in `regexp/syntax/parse.go`), as far as tokens go: what
    /// starts a group or an alternative, and which repetition operators follow which.
    fn run(&mut self) -> Result<(), Problem> {
        let (p, b) = (self.p, self.p.as_bytes());
        // `after_open`: no operand yet in the current group or alternative.
        let (mut i, mut last_repeat, mut after_open) = (0, None, true);
        while i < b.len() {
            let mut repeat_end = None;
            let mut opens = Some(false);
            match b[i] {
                b'\\' if p[i..].starts_with("\\Q\\E") => {
                    // An empty quote is no operand, but it ends a repetition: `a*\Q\E*` is
                    // `(a*)*` in Go, which Rust sees through an empty group (`a*(?:)*`).
                    let with = if last_repeat.is_some() { "(?:)" } else { "" };
                    self.replace(i, i + 4, with);
                    opens = None;
                }
                b'\\' => self.escape(i, false)?,
                b'[' => self.class(i)?,
                b'(' if p[i..].starts_with("(?") => {
                    if let Some(problem) = flags_problem(p, i) {
                        return Err(problem);
                    }
                    let named = p[i..].starts_with("(?P<") || p[i..].starts_with("(?<");
                    let end = if named {
                        p[i..].find('>')
                    } else {
                        p[i..].find([':', ')'])
                    };
                    let end = end.map_or(b.len(), |e| i + e + 1);
                    opens = (named || p[..end].ends_with(':')).then_some(true);
                    if &p[i..end] == "(?)" {
                        // `(?)` sets no flag: nothing in Go, an error in Rust.
                        self.replace(i, end, "");
                    } else {
                        self.copy(i, end);
                    }
                }
                b'(' | b'|' => {
                    opens = Some(true);
                    self.copy(i, i + 1);
                }
                b'*' | b'+' | b'?' => repeat_end = Some(i + 1),
                b'{' => match go_repeat(&p[i..]) {
                    None => self.replace(i, i + 1, "\\{"),
                    Some(rep)
                        if rep.min > MAX_REPEAT
                            || rep.max.is_some_and(|m| m > MAX_REPEAT || m < rep.min) =>
                    {
                        return Err(Problem::go(code::INVALID_REPEAT_SIZE, i..i + rep.len));
                    }
                    Some(rep) => repeat_end = Some(i + rep.len),
                },
                _ => self.copy(i, i + p[i..].chars().next().map_or(1, char::len_utf8)),
            }
            match repeat_end {
                Some(end) => {
                    let end = end + usize::from(b.get(end) == Some(&b'?'));
                    if let Some(prev) = last_repeat {
                        return Err(Problem::go(code::INVALID_REPEAT_OP, prev..end).at(i));
                    }
                    if after_open {
                        return Err(Problem::go(code::MISSING_REPEAT_ARGUMENT, i..end));
                    }
                    last_repeat = Some(i);
                    self.copy(i, end);
                }
                None => last_repeat = None,
            }
            after_open = opens.unwrap_or(after_open);
            i = self.done;
        }
        Ok(())
    }

    /// Go's reading of the escape at `i`, written out for Rust.
    fn escape(&mut self, i: usize, in_class: bool) -> Result<(), Problem> {
        let p = self.p;
        let end = match p[i + 1..].chars().next() {
            Some('Q') if !in_class => {
                self.quote(i);
                return Ok(());
            }
            // Rust would read a `{` after `\b` as a special word boundary.
            Some('b' | 'B') if !in_class && p[i + 2..].starts_with('{') => {
                self.replace(i, i + 2, &format!("(?:{})", &p[i..i + 2]));
                return Ok(());
            }
            Some('A' | 'b' | 'B' | 'z') if !in_class => i + 2,
            Some('d' | 'D' | 's' | 'S' | 'w' | 'W') => i + 2,
            Some('p' | 'P') => {
                let end = if p[i + 2..].starts_with('{') {
                    p[i..].find('}').map_or(p.len(), |e| i + e + 1)
                } else {
                    i + 2 + p[i + 2..].chars().next().map_or(0, char::len_utf8)
                };
                let name = p[i + 2..end].strip_prefix('{').unwrap_or(&p[i + 2..end]);
                let name = name.strip_suffix('}').unwrap_or(name);
                let closed = !p[i + 2..].starts_with('{') || p[i..end].ends_with('}');
                if !closed || !is_go_unicode_class(name.strip_prefix('^').unwrap_or(name)) {
                    return Err(Problem::go(code::INVALID_CHAR_RANGE, i..end));
                }
                end
            }
            _ => return self.plain_escape(i).map(|_| ()),
        };
        self.copy(i, end);
        Ok(())
    }

    /// Go's `\Q…\E` at `i`: everything up to the next `\E` (or the end of the pattern, the
    /// anchoring's `)$` included) is literal text, one literal per character, so that a
    /// repetition after it applies to the last character only. Written out for Rust as the
    /// same characters, each escaped. (`run` writes out an empty quote: it is no operand.)
    fn quote(&mut self, i: usize) {
        let p = self.p;
        let (literal, end) = match p[i + 2..].find("\\E") {
            Some(e) => (&p[i + 2..i + 2 + e], i + 2 + e + 2),
            None => (&p[i + 2..], p.len()),
        };
        self.replace(i, end, &regex_syntax::escape(literal));
    }

    /// An escape standing for one character (Go's `parseEscape`); returns its value.
    fn plain_escape(&mut self, i: usize) -> Result<u32, Problem> {
        match go_escape(&self.p[i..]) {
            // Go reads `\<` and `\>` as literals; Rust as word boundaries.
            Ok((2, value @ (0x3c | 0x3e))) => {
                self.replace(i, i + 2, &self.p[i + 1..i + 2]);
                Ok(value)
            }
            Ok((len, value)) => {
                self.copy(i, i + len);
                Ok(value)
            }
            Err(len) => Err(Problem::go(code::INVALID_ESCAPE, i..i + len)),
        }
    }

    /// Go's reading of the class at `start` (a `[`), written out for Rust with Go's meaning:
    /// every `[`, `&`, `~` and `-` that Go reads as a literal is escaped, so Rust sees no
    /// nested class or set operation.
    fn class(&mut self, start: usize) -> Result<(), Problem> {
        let (p, b) = (self.p, self.p.as_bytes());
        self.copy(
            start,
            start
                + if p[start + 1..].starts_with('^') {
                    2
                } else {
                    1
                },
        );
        let mut first = true;
        loop {
            let t = self.done;
            if b.get(t) == Some(&b']') && !first {
                self.copy(t, t + 1);
                return Ok(());
            }
            first = false;
            if let Some(end) = p[t..]
                .starts_with("[:")
                .then(|| p[t + 2..].find(":]"))
                .flatten()
            {
                let end = t + 2 + end + 2;
                let name = &p[t + 2..end - 2];
                if !GO_POSIX_CLASSES.contains(&name.strip_prefix('^').unwrap_or(name)) {
                    return Err(Problem::go(code::INVALID_CHAR_RANGE, t..end));
                }
                self.copy(t, end);
                continue;
            }
            let letter = p[t..].strip_prefix('\\').and_then(|r| r.chars().next());
            if letter.is_some_and(|c| "pPdDsSwW".contains(c)) {
                self.escape(t, true)?;
                continue;
            }
            let lo = self.class_char(start)?;
            let dash = self.done;
            if b.get(dash) == Some(&b'-') && b.get(dash + 1).is_some_and(|&c| c != b']') {
                self.copy(dash, dash + 1);
                if self.class_char(start)? < lo {
                    return Err(Problem::go(code::INVALID_CHAR_RANGE, t..self.done));
                }
            }
        }
    }

    /// One character of the class at `start` (Go's `parseClassChar`), escaped for Rust where
    /// needed; returns its value.
    fn class_char(&mut self, start: usize) -> Result<u32, Problem> {
        let (p, t) = (self.p, self.done);
        match p[t..].chars().next() {
            // Go notices at the end, after any problem inside the class.
            None => Err(Problem::go(code::MISSING_BRACKET, start..p.len()).at(p.len())),
            Some('\\') => self.plain_escape(t),
            Some(c @ ('[' | '-' | '&' | '~')) => {
                self.replace(t, t + 1, &format!("\\{c}"));
                Ok(u32::from(c))
            }
            Some(c) => {
                self.copy(t, t + c.len_utf8());
                Ok(u32::from(c))
            }
        }
    }
}

/// Maps a Rust parse error to what Go reports for the same pattern.
fn ast_error(p: &str, e: &ast::Error) -> Problem {
    let span = e.span();
    let (start, end) = (span.start.offset, span.end.offset.max(span.start.offset));
    match e.kind() {
        ErrorKind::ClassEscapeInvalid | ErrorKind::UnsupportedBackreference => {
            Problem::go(code::INVALID_ESCAPE, start..end)
        }
        // Go notices a reversed range once it has read its end.
        ErrorKind::ClassRangeInvalid => Problem::go(code::INVALID_CHAR_RANGE, start..end).at(end),
        ErrorKind::UnicodeClassInvalid => Problem::go(code::INVALID_CHAR_RANGE, start..end),
        ErrorKind::ClassRangeLiteral => Problem::unsupported(
            start..end,
            "as a range endpoint is accepted by Go (reading `-` literally) but not by Rust; \
             escape the `-` as \\-",
        ),
        ErrorKind::ClassUnclosed => Problem::go(code::MISSING_BRACKET, start..p.len()).at(p.len()),
        ErrorKind::GroupUnclosed => Problem::go(code::MISSING_PAREN, 0..p.len()).at(p.len() + 1),
        ErrorKind::GroupUnopened => Problem::go(code::UNEXPECTED_PAREN, 0..p.len()).at(start),
        ErrorKind::NestLimitExceeded(_) => Problem::go(code::NESTING_DEPTH, 0..p.len()).at(start),
        ErrorKind::EscapeHexEmpty
        | ErrorKind::EscapeHexInvalid
        | ErrorKind::EscapeHexInvalidDigit
        | ErrorKind::EscapeUnrecognized => {
            escape_problem(p, rfind_from(p, start, "\\").unwrap_or(start))
        }
        ErrorKind::EscapeUnexpectedEof => unexpected_eof(p),
        ErrorKind::FlagDanglingNegation
        | ErrorKind::FlagDuplicate { .. }
        | ErrorKind::FlagRepeatedNegation { .. }
        | ErrorKind::FlagUnexpectedEof
        | ErrorKind::FlagUnrecognized
        | ErrorKind::UnsupportedLookAround => match rfind_from(p, start, "(?") {
            Some(g) => flags_problem(p, g).unwrap_or_else(|| {
                Problem::unsupported(
                    group_head(p, g),
                    "repeats a flag, which Go allows but Rust rejects; write each flag once",
                )
            }),
            None => Problem::compile(start, e.kind().to_string()),
        },
        ErrorKind::GroupNameDuplicate { .. }
        | ErrorKind::GroupNameEmpty
        | ErrorKind::GroupNameInvalid
        | ErrorKind::GroupNameUnexpectedEof => match rfind_from(p, start, "(?") {
            Some(g) => capture_name_problem(p, g).unwrap_or_else(|| {
                Problem::unsupported(
                    group_head(p, g),
                    "is a capture name Go accepts but Rust rejects (duplicate, or not starting \
                     with a letter or `_`); rename the group",
                )
            }),
            None => Problem::compile(start, e.kind().to_string()),
        },
        ErrorKind::RepetitionMissing => missing_repetition(p, start),
        ErrorKind::RepetitionCountInvalid
        | ErrorKind::RepetitionCountDecimalEmpty
        | ErrorKind::RepetitionCountUnclosed
        | ErrorKind::DecimalEmpty
        | ErrorKind::DecimalInvalid => {
            let at = rfind_from(p, start, "{").unwrap_or(start);
            match go_repeat(&p[at..]) {
                Some(rep) => Problem::go(code::INVALID_REPEAT_SIZE, at..at + rep.len),
                None => literal_brace(at),
            }
        }
        ErrorKind::SpecialWordBoundaryUnclosed
        | ErrorKind::SpecialWordBoundaryUnrecognized
        | ErrorKind::SpecialWordOrRepetitionUnexpectedEof => Problem::unsupported(
            rfind_from(p, start, "\\b").map_or(start..end, |b| b..b + 3),
            "is a word boundary followed by a literal or a repetition in Go but a special word \
             boundary in Rust; escape the brace as \\{",
        ),
        other => Problem::compile(start, other.to_string()),
    }
}

fn literal_brace(at: usize) -> Problem {
    Problem::unsupported(
        at..at + 1,
        "is a literal brace in Go but a repetition (or an error) in Rust; escape it as \\{",
    )
}

/// Rust reached the end of the pattern inside an escape: an unclosed `\p{` or `\x{`.
fn unexpected_eof(p: &str) -> Problem {
    let last = ["\\p{", "\\P{", "\\x{"]
        .iter()
        .filter_map(|s| p.rfind(s))
        .max();
    match last {
        Some(i) if p[i + 1..].starts_with('x') => escape_problem(p, i),
        Some(i) => Problem::go(code::INVALID_CHAR_RANGE, i..p.len()),
        None => Problem::go(code::TRAILING_BACKSLASH, p.len()..p.len()),
    }
}

/// A repetition operator Rust finds without an operand. The prescan reports those Go
/// rejects too, so this is one after a flag group: Go repeats the item before the group.
fn missing_repetition(p: &str, at: usize) -> Problem {
    let len = match p[at..].strip_prefix('{') {
        Some(_) => go_repeat(&p[at..]).map_or(1, |rep| rep.len),
        None => 1,
    };
    let len = len + usize::from(p[at + len..].starts_with('?'));
    Problem::unsupported(
        at..at + len,
        "after a flag group repeats the preceding item in Go but is an error in Rust; wrap \
         that item in a group",
    )
}

/// The last `needle` starting at or before byte `at` (a char boundary).
fn rfind_from(p: &str, at: usize, needle: &str) -> Option<usize> {
    let at = at.min(p.len());
    if p[at..].starts_with(needle) {
        Some(at)
    } else {
        p[..at].rfind(needle)
    }
}

/// The head of the group at `g`, up to and including its `:`, `)` or `>`, for messages.
fn group_head(p: &str, g: usize) -> Range<usize> {
    g..p[g..].find([':', ')', '>']).map_or(p.len(), |e| g + e + 1)
}

/// Runs Go's `parsePerlFlags` on the group at `g` (a `(?`); `None` when Go accepts it.
fn flags_problem(p: &str, g: usize) -> Option<Problem> {
    let s = &p[g..];
    if s.starts_with("(?P<") || s.starts_with("(?<") {
        return capture_name_problem(p, g);
    }
    let mut t = &s[2..];
    let (mut negated, mut saw_flag) = (false, false);
    while let Some(c) = t.chars().next() {
        t = &t[c.len_utf8()..];
        match c {
            'i' | 'm' | 's' | 'U' => saw_flag = true,
            '-' if !negated => (negated, saw_flag) = (true, false),
            ':' | ')' if !negated || saw_flag => return None,
            _ => break,
        }
    }
    Some(Problem::go(code::INVALID_PERL_OP, g..g + s.len() - t.len()))
}

/// Go's check of `(?P<name>` and (Go 1.22+) `(?<name>` at `g`; `None` when Go accepts it.
fn capture_name_problem(p: &str, g: usize) -> Option<Problem> {
    let s = &p[g..];
    let name_at = if s.starts_with("(?P<") { 4 } else { 3 };
    let Some(end) = s.find('>') else {
        return Some(Problem::go(code::INVALID_NAMED_CAPTURE, g..p.len()));
    };
    let name = s.get(name_at..end).unwrap_or_default();
    let valid = !name.is_empty() && name.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric());
    (!valid).then(|| Problem::go(code::INVALID_NAMED_CAPTURE, g..g + end + 1))
}

/// Go's reading of the escape at `at`: its error, or (when Go accepts it) an unsupported one.
fn escape_problem(p: &str, at: usize) -> Problem {
    match go_escape(&p[at..]) {
        Err(len) => Problem::go(code::INVALID_ESCAPE, at..at + len),
        Ok((len, _)) => Problem::unsupported(
            at..at + len,
            "is accepted by Go but not by Rust (e.g. a surrogate code point)",
        ),
    }
}

/// Go's `parseEscape` on `s` (starting with a backslash): `Ok((len, value))` when Go accepts
/// the escape, `Err(len)` with the length of the text Go names in its error.
fn go_escape(s: &str) -> Result<(usize, u32), usize> {
    let mut chars = s.char_indices().skip(1);
    let Some((_, c)) = chars.next() else {
        return Err(0);
    };
    let after = 1 + c.len_utf8();
    let octal = |d: &char| ('0'..='7').contains(d);
    match c {
        '1'..='7' if !s[after..].starts_with(|d: char| octal(&d)) => Err(after),
        '0'..='7' => {
            let digits: String = s[1..].chars().take(3).take_while(octal).collect();
            Ok((
                1 + digits.len(),
                u32::from_str_radix(&digits, 8).unwrap_or_default(),
            ))
        }
        'a' => Ok((after, 0x07)),
        'f' => Ok((after, 0x0c)),
        'n' => Ok((after, 0x0a)),
        'r' => Ok((after, 0x0d)),
        't' => Ok((after, 0x09)),
        'v' => Ok((after, 0x0b)),
        'x' => {
            let Some((_, c)) = chars.next() else {
                return Err(after);
            };
            if c != '{' {
                let y = chars.next();
                let end = y.map_or(s.len(), |(i, y)| i + y.len_utf8());
                return match (c.to_digit(16), y.and_then(|(_, y)| y.to_digit(16))) {
                    (Some(x), Some(y)) => Ok((end, x * 16 + y)),
                    _ => Err(end),
                };
            }
            let (mut value, mut digits) = (0u32, 0);
            for (i, c) in chars {
                let end = i + c.len_utf8();
                if c == '}' {
                    return if digits > 0 {
                        Ok((end, value))
                    } else {
                        Err(end)
                    };
                }
                let Some(d) = c.to_digit(16) else {
                    return Err(end);
                };
                value = value * 16 + d;
                digits += 1;
                if value > 0x10_FFFF {
                    return Err(end);
                }
            }
            Err(s.len())
        }
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((after, u32::from(c))),
        _ => Err(after),
    }
}

/// A `{n}`, `{n,}` or `{n,m}` as Go's `parseRepeat` reads it.
#[derive(Debug, PartialEq)]
struct GoRepeat {
    min: u64,
    max: Option<u64>,
    /// Bytes from `{` to `}` inclusive.
    len: usize,
}

/// Go's `parseRepeat`: `None` when Go reads the `{` as a literal. Numbers of 9 or more digits
/// are too big for Go and come back as `u64::MAX`.
fn go_repeat(s: &str) -> Option<GoRepeat> {
    fn int(s: &str) -> Option<(u64, &str)> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        let (digits, rest) = s.split_at(n);
        if n == 0 || (n > 1 && digits.starts_with('0')) {
            return None;
        }
        Some((
            if n >= 9 {
                u64::MAX
            } else {
                digits.parse().ok()?
            },
            rest,
        ))
    }
    let (min, rest) = int(s.strip_prefix('{')?)?;
    let (max, rest) = match rest.strip_prefix(',') {
        None => (Some(min), rest),
        Some(r) if r.starts_with('}') => (None, r),
        Some(r) => int(r).map(|(m, r)| (Some(m), r))?,
    };
    rest.starts_with('}').then(|| GoRepeat {
        min,
        max,
        len: s.len() - rest.len() + 1,
    })
}

/// The AST walk: Go's checks on what Rust parsed, plus the edits that give Go's meaning.
struct Checker<'p> {
    text: &'p str,
    edits: Vec<(Span, String)>,
    problems: Vec<Problem>,
    /// Per open node: the largest product of repetition counts below it (Go's
    /// `repeatIsValid`).
    weights: Vec<u64>,
}

fn range(span: &Span) -> Range<usize> {
    span.start.offset..span.end.offset
}

impl Checker<'_> {
    fn edit(&mut self, span: Span, text: &str) {
        self.edits.push((span, text.to_owned()));
    }

    fn literal(&mut self, lit: &ast::Literal) {
        let text = &self.text[range(&lit.span)];
        let bad = match &lit.kind {
            ast::LiteralKind::HexFixed(k) | ast::LiteralKind::HexBrace(k) => {
                (*k != ast::HexLiteralKind::X).then_some(2)
            }
            ast::LiteralKind::Octal if text.len() == 2 && !text.ends_with('0') => Some(2),
            _ => None,
        };
        if let Some(len) = bad {
            let start = lit.span.start.offset;
            self.problems
                .push(Problem::go(code::INVALID_ESCAPE, start..start + len));
        }
    }

    fn perl_class(&mut self, class: &ast::ClassPerl) {
        let body = match class.kind {
            ast::ClassPerlKind::Digit => "0-9",
            ast::ClassPerlKind::Space => "\\t\\n\\f\\r ",
            ast::ClassPerlKind::Word => "0-9A-Za-z_",
        };
        let caret = if class.negated { "^" } else { "" };
        self.edit(class.span, &format!("[{caret}{body}]"));
    }

    fn unicode_class(&mut self, class: &ast::ClassUnicode) {
        let (name, caret) = match &class.kind {
            ast::ClassUnicodeKind::OneLetter(c) => (c.to_string(), false),
            ast::ClassUnicodeKind::Named(n) => match n.strip_prefix('^') {
                Some(n) => (n.to_owned(), true),
                None => (n.clone(), false),
            },
            ast::ClassUnicodeKind::NamedValue { .. } => (String::new(), false),
        };
        let name = name.as_str();
        if !is_go_unicode_class(name) {
            self.problems
                .push(Problem::go(code::INVALID_CHAR_RANGE, range(&class.span)));
            return;
        }
        let text = match (name, class.negated != caret) {
            // Go's C has no unassigned code points (Cn); Rust's does.
            ("C", false) => "[\\p{Cc}\\p{Cf}\\p{Co}]".to_owned(),
            ("C", true) => "[^\\p{Cc}\\p{Cf}\\p{Co}]".to_owned(),
            // Surrogates never occur in a Rust string, and Rust has no table for them.
            ("Cs", false) => "[^\\x{0}-\\x{10FFFF}]".to_owned(),
            ("Cs", true) => "[\\x{0}-\\x{10FFFF}]".to_owned(),
            (name, false) => format!("\\p{{{name}}}"),
            (name, true) => format!("\\P{{{name}}}"),
        };
        self.edit(class.span, &text);
    }

    fn assertion(&mut self, a: &ast::Assertion) {
        let reason = match a.kind {
            ast::AssertionKind::WordBoundary => return self.edit(a.span, "(?-u:\\b)"),
            ast::AssertionKind::NotWordBoundary => return self.edit(a.span, "(?-u:\\B)"),
            ast::AssertionKind::StartLine
            | ast::AssertionKind::EndLine
            | ast::AssertionKind::StartText
            | ast::AssertionKind::EndText => return,
            ast::AssertionKind::WordBoundaryStartAngle
            | ast::AssertionKind::WordBoundaryEndAngle => {
                "is a literal in Go but a word-boundary assertion in Rust; drop the backslash"
            }
            _ => {
                "is a word boundary followed by literal text in Go but a special word boundary \
                 in Rust; escape the brace as \\{"
            }
        };
        self.problems
            .push(Problem::unsupported(range(&a.span), reason));
    }

    /// Go's checks for `{n,m}` syntax and nesting (`a**`, `a{2}{3}`).
    fn repetition(&mut self, rep: &ast::Repetition) {
        let op = &self.text[range(&rep.op.span)];
        let at = rep.op.span.start.offset;
        if let ast::RepetitionKind::Range(_) = rep.op.kind {
            let go = go_repeat(op);
            if !go.is_some_and(|go| matches!(&op[go.len..], "" | "?")) {
                return self.problems.push(literal_brace(at));
            }
        }
        if let Ast::Repetition(inner) = &*rep.ast {
            let expr = inner.op.span.start.offset..rep.op.span.end.offset;
            self.problems
                .push(Problem::go(code::INVALID_REPEAT_OP, expr).at(at));
        }
    }

    /// Go's `repeatIsValid`: nested counts may multiply to at most 1000.
    fn repetition_weight(&mut self, rep: &ast::Repetition, below: u64) -> u64 {
        let (min, max) = match &rep.op.kind {
            ast::RepetitionKind::Range(ast::RepetitionRange::Exactly(n)) => (*n, Some(*n)),
            ast::RepetitionKind::Range(ast::RepetitionRange::AtLeast(n)) => (*n, None),
            ast::RepetitionKind::Range(ast::RepetitionRange::Bounded(m, n)) => (*m, Some(*n)),
            _ => return below,
        };
        if max == Some(0) {
            return 1;
        }
        let weight = u64::from(max.unwrap_or(min).max(1)).saturating_mul(below);
        if (min >= 2 || max.is_some_and(|m| m >= 2)) && weight > MAX_REPEAT {
            self.problems
                .push(Problem::go(code::INVALID_REPEAT_SIZE, range(&rep.op.span)));
        }
        weight
    }
}

impl ast::Visitor for Checker<'_> {
    type Output = (Vec<(Span, String)>, Vec<Problem>);
    type Err = Problem;

    fn finish(self) -> Result<Self::Output, Problem> {
        Ok((self.edits, self.problems))
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), Problem> {
        self.weights.push(1);
        match ast {
            Ast::Literal(lit) => self.literal(lit),
            Ast::ClassPerl(class) => self.perl_class(class),
            Ast::ClassUnicode(class) => self.unicode_class(class),
            Ast::Assertion(a) => self.assertion(a),
            Ast::Group(g) => {
                let at = g.span.start.offset;
                let problem = match &g.kind {
                    ast::GroupKind::CaptureIndex(_) => None,
                    ast::GroupKind::CaptureName { .. } => capture_name_problem(self.text, at),
                    ast::GroupKind::NonCapturing(_) => flags_problem(self.text, at),
                };
                self.problems.extend(problem);
            }
            Ast::Flags(f) => self
                .problems
                .extend(flags_problem(self.text, f.span.start.offset)),
            _ => {}
        }
        Ok(())
    }

    fn visit_post(&mut self, ast: &Ast) -> Result<(), Problem> {
        let below = self.weights.pop().unwrap_or(1);
        let weight = match ast {
            Ast::Repetition(rep) => {
                self.repetition(rep);
                self.repetition_weight(rep, below)
            }
            _ => below,
        };
        if let Some(parent) = self.weights.last_mut() {
            *parent = (*parent).max(weight);
        }
        Ok(())
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), Problem> {
        match item {
            ClassSetItem::Literal(lit) => self.literal(lit),
            ClassSetItem::Range(r) => {
                self.literal(&r.start);
                self.literal(&r.end);
            }
            ClassSetItem::Perl(class) => self.perl_class(class),
            ClassSetItem::Unicode(class) => self.unicode_class(class),
            ClassSetItem::Bracketed(b) => self.problems.push(Problem::unsupported(
                range(&b.span),
                "nested in a character class: Go reads `[` literally there; escape it as \\[",
            )),
            ClassSetItem::Empty(_) | ClassSetItem::Ascii(_) | ClassSetItem::Union(_) => {}
        }
        Ok(())
    }

    fn visit_class_set_binary_op_pre(&mut self, op: &ast::ClassSetBinaryOp) -> Result<(), Problem> {
        self.problems.push(Problem::unsupported(
            range(&op.span),
            "is a set operation in Rust but literal text in Go; escape the characters",
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a value compiles to: a regex matching exactly `yes` of the probes, Go's error
    /// text, or an unsupported construct.
    enum Want {
        Matches(&'static [&'static str]),
        Go(&'static str),
        Unsupported(&'static str),
    }

    use Want::{Go, Matches, Unsupported};

    const PROBES: &[&str] = &[
        "", "a", "b", "c", "z", "0", "5", "12", "٣", "-", "&", "<", "[", "{", "x{,3}", "A", "K",
        "\u{212A}", "\n", "\t", " ", "\u{0B}", "\u{A0}", "é", "日本", "a_1", "éfoo", "é foo",
        "xfoo", "foo", "-_/@", "ab", "api-gw", "web", "\u{378}", "\u{AD}",
    ];

    fn check(value: &str, want: &Want) {
        let got = compile(value);
        match (want, &got) {
            (Matches(yes), Ok(re)) => {
                let matched: Vec<&str> =
                    PROBES.iter().copied().filter(|p| re.is_match(p)).collect();
                assert_eq!(&matched, yes, "{value:?}");
            }
            (Go(text), Err(e @ MatcherError::InvalidRegex { .. })) => {
                assert_eq!(
                    e.to_string(),
                    format!("error parsing regexp: {text}"),
                    "{value:?}"
                );
            }
            (Unsupported(construct), Err(MatcherError::UnsupportedRegex { construct: c, .. })) => {
                assert_eq!(c, construct, "{value:?}");
            }
            (_, got) => panic!("{value:?}: unexpected {got:?}"),
        }
    }

    /// ALERTMANAGER.md §3.6, the "Go (what AM does)" column, observed against Go's `regexp`.
    #[test]
    fn go_re2_differences_follow_go() {
        let cases: &[(&str, Want)] = &[
            (r"\d+", Matches(&["0", "5", "12"])),
            (
                r"\w+",
                Matches(&[
                    "a", "b", "c", "z", "0", "5", "12", "A", "K", "a_1", "xfoo", "foo", "ab", "web",
                ]),
            ),
            (r"\s", Matches(&["\n", "\t", " "])),
            (r".*\bfoo\b.*", Matches(&["éfoo", "é foo", "foo"])),
            (r"[a&&b]", Matches(&["a", "b", "&"])),
            (
                r"[a-z--b]",
                Matches(&["a", "b", "c", "z", "0", "5", "-", "<", "[", "A", "K"]),
            ),
            (
                r"(?x) a b ",
                Go("invalid or unsupported Perl syntax: `(?x`"),
            ),
            (
                r"\p{Letter}",
                Go(r"invalid character class range: `\p{Letter}`"),
            ),
            (
                r"\p{Alphabetic}",
                Go(r"invalid character class range: `\p{Alphabetic}`"),
            ),
            (
                r"\p{Emoji}",
                Go(r"invalid character class range: `\p{Emoji}`"),
            ),
            (
                r"\p{greek}",
                Go(r"invalid character class range: `\p{greek}`"),
            ),
            (
                r"\p{sc=Greek}",
                Go(r"invalid character class range: `\p{sc=Greek}`"),
            ),
            (r"a{1001}", Go("invalid repeat count: `{1001}`")),
            (r"(a{100}){11}", Go("invalid repeat count: `{11}`")),
            // `\Q…\E`: literal text up to `\E`, one literal per character (issue 16).
            (r"\Q.*\E", Matches(&[])),
            (r"\Q[\E|\Q{\E", Matches(&["[", "{"])),
            (r"\Qx{,3}\E", Matches(&["x{,3}"])),
            (r"\Q-_/@\E", Matches(&["-_/@"])),
            (r"\Qa\Eb", Matches(&["ab"])),
            (r"\Qab\E*", Matches(&["a", "ab"])),
            (r"(?i)\Qa\E", Matches(&["a", "A"])),
            (r"a\Q\E*", Matches(&["", "a"])),
            (r"a|\Q\Eb", Matches(&["a", "b"])),
            (
                r"(\Q\E*)",
                Go("missing argument to repetition operator: `*`"),
            ),
            (r"a*\Q\E*", Matches(&["", "a"])),
            // Without `\E`, the quote runs to the end: the anchoring's `)$` too.
            (r"\Qa", Go(r"missing closing ): `^(?:\Qa)$`")),
            (r"[\Q]", Go(r"invalid escape sequence: `\Q`")),
            (r"\101", Matches(&["A"])),
            (r"(?<n>a)", Matches(&["a"])),
            (r"(?P<n>a)", Matches(&["a"])),
            (r"a++", Go("invalid nested repetition operator: `++`")),
            (r"a**", Go("invalid nested repetition operator: `**`")),
            (
                r"a{2}{3}",
                Go("invalid nested repetition operator: `{2}{3}`"),
            ),
            (r"\<", Matches(&["<"])),
            (r"[\d-z]", Matches(&["z", "0", "5", "-"])),
            (r"x{,3}", Matches(&["x{,3}"])),
        ];
        for (value, want) in cases {
            check(value, want);
        }
    }

    /// The "same in both" row of ALERTMANAGER.md §3.6.
    #[test]
    fn shared_syntax_behaves_as_in_go() {
        let cases: &[(&str, Want)] = &[
            ("(?i)k", Matches(&["K", "\u{212A}"])),
            (
                "(?s).",
                Matches(&[
                    "a", "b", "c", "z", "0", "5", "٣", "-", "&", "<", "[", "{", "A", "K",
                    "\u{212A}", "\n", "\t", " ", "\u{0B}", "\u{A0}", "é", "\u{378}", "\u{AD}",
                ]),
            ),
            (
                ".",
                Matches(&[
                    "a", "b", "c", "z", "0", "5", "٣", "-", "&", "<", "[", "{", "A", "K",
                    "\u{212A}", "\t", " ", "\u{0B}", "\u{A0}", "é", "\u{378}", "\u{AD}",
                ]),
            ),
            ("a$", Matches(&["a"])),
            ("(?U)a+", Matches(&["a"])),
            ("[[:alpha:]]", Matches(&["a", "b", "c", "z", "A", "K"])),
            (r"\pN", Matches(&["0", "5", "٣"])),
            (r"\x41", Matches(&["A"])),
            (r"a\z", Matches(&["a"])),
            (r"\Aa", Matches(&["a"])),
            (r"\-\_\/\@", Matches(&["-_/@"])),
            ("a|", Matches(&["", "a"])),
            ("", Matches(&[""])),
            ("(?=a)", Go("invalid or unsupported Perl syntax: `(?=`")),
            (r"\1", Go(r"invalid escape sequence: `\1`")),
            (r"\C", Go(r"invalid escape sequence: `\C`")),
            (r"\Z", Go(r"invalid escape sequence: `\Z`")),
            (r"\e", Go(r"invalid escape sequence: `\e`")),
            ("invalid[regexp", Go("missing closing ]: `[regexp)$`")),
            ("a)", Go("unexpected ): `^(?:a))$`")),
            ("(a", Go("missing closing ): `^(?:(a)$`")),
            ("a)|(b", Matches(&["a", "b", "a_1", "ab", "api-gw", "web"])),
        ];
        for (value, want) in cases {
            check(value, want);
        }
    }

    /// The rewrites that give Rust's engine Go's meaning, and Go's other rules.
    #[test]
    fn translation_gives_go_meaning() {
        let cases: &[(&str, Want)] = &[
            (r"[\w]", Matches(&["a", "b", "c", "z", "0", "5", "A", "K"])),
            (
                r"[^\d]+",
                Matches(&[
                    "a", "b", "c", "z", "٣", "-", "&", "<", "[", "{", "A", "K", "\u{212A}", "\n",
                    "\t", " ", "\u{0B}", "\u{A0}", "é", "日本", "éfoo", "é foo", "xfoo", "foo",
                    "-_/@", "ab", "api-gw", "web", "\u{378}", "\u{AD}",
                ]),
            ),
            (
                r"\S",
                Matches(&[
                    "a", "b", "c", "z", "0", "5", "٣", "-", "&", "<", "[", "{", "A", "K",
                    "\u{212A}", "\u{0B}", "\u{A0}", "é", "\u{378}", "\u{AD}",
                ]),
            ),
            (
                r"(?i)\W",
                Matches(&[
                    "٣", "-", "&", "<", "[", "{", "\n", "\t", " ", "\u{0B}", "\u{A0}", "é",
                    "\u{378}", "\u{AD}",
                ]),
            ),
            (r"\B", Matches(&[""])),
            (r"\pC", Matches(&["\n", "\t", "\u{0B}", "\u{AD}"])),
            (r"\P{^C}", Matches(&["\n", "\t", "\u{0B}", "\u{AD}"])),
            (r"\p{Cs}", Matches(&[])),
            (
                r"\p{^L}",
                Matches(&[
                    "0", "5", "٣", "-", "&", "<", "[", "{", "\n", "\t", " ", "\u{0B}", "\u{A0}",
                    "\u{378}", "\u{AD}",
                ]),
            ),
            (r"[[]", Matches(&["["])),
            (r"[a[b]", Matches(&["a", "b", "["])),
            (r"[]a]", Matches(&["a"])),
            ("(?)a", Matches(&["a"])),
            ("{", Matches(&["{"])),
            (r"a\b{2}", Matches(&["a"])),
            (r"\p{Kawi}", Matches(&[])),
            (r"\u0041", Go(r"invalid escape sequence: `\u`")),
            (r"(?P<a.b>x)", Go("invalid named capture: `(?P<a.b>`")),
            (
                r"(?-u:\w)",
                Go("invalid or unsupported Perl syntax: `(?-u`"),
            ),
            (r"(?R)a", Go("invalid or unsupported Perl syntax: `(?R`")),
            (r"[[:foo:]]", Go("invalid character class range: `[:foo:]`")),
            (r"[z-a]", Go("invalid character class range: `z-a`")),
            (r"[a-\d]", Go(r"invalid escape sequence: `\d`")),
            ("{2}", Go("missing argument to repetition operator: `{2}`")),
            ("(*)", Go("missing argument to repetition operator: `*`")),
            (r"\8", Go(r"invalid escape sequence: `\8`")),
            (
                r"\p{Garay}",
                Go(r"invalid character class range: `\p{Garay}`"),
            ),
            (r"\x{D800}", Unsupported(r"\x{D800}")),
            ("a(?i)*", Unsupported("*")),
            ("(?ii)a", Unsupported("(?ii)")),
            ("(?P<n>a)(?P<n>b)", Unsupported("(?P<n>")),
            ("(?P<1>a)", Unsupported("(?P<1>")),
        ];
        for (value, want) in cases {
            check(value, want);
        }
    }

    #[test]
    fn every_go_unicode_class_name_compiles() {
        let names = GO_CATEGORIES
            .iter()
            .copied()
            .chain(GO_SCRIPTS.split_whitespace());
        for name in names.chain(["Any"]) {
            for value in [format!(r"\p{{{name}}}"), format!(r"[^\P{{{name}}}]")] {
                assert!(compile(&value).is_ok(), "{value}");
            }
        }
        assert!(!is_go_unicode_class(""));
    }

    #[test]
    fn errors_name_the_value() {
        let cases = [
            ("(", "error parsing regexp: missing closing ): `^(?:()$`"),
            (
                r"\Qa",
                r"error parsing regexp: missing closing ): `^(?:\Qa)$`",
            ),
            (
                r"\pL{1000}",
                r#"regexp "\\pL{1000}" cannot be compiled: Compiled regex exceeds size limit of 10485760 bytes."#,
            ),
        ];
        for (value, want) in cases {
            let e = compile(value).unwrap_err();
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn go_repeat_reads_counts_as_go_does() {
        let cases = [
            ("{2}", Some((2, Some(2), 3))),
            ("{2,}x", Some((2, None, 4))),
            ("{0,10}", Some((0, Some(10), 6))),
            ("{123456789}", Some((u64::MAX, Some(u64::MAX), 11))),
            ("{,3}", None),
            ("{01}", None),
            ("{ 1 }", None),
            ("{1", None),
            ("{", None),
        ];
        for (text, want) in cases {
            let got = go_repeat(text).map(|r| (r.min, r.max, r.len));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn go_escape_reads_escapes_as_go_does() {
        let cases = [
            (r"\101x", Ok((4, 0o101))),
            (r"\0", Ok((2, 0))),
            (r"\08", Ok((2, 0))),
            (r"\1x", Err(2)),
            (r"\x41", Ok((4, 0x41))),
            (r"\x{263a}", Ok((8, 0x263a))),
            (r"\x{}", Err(4)),
            (r"\xZZ", Err(4)),
            (r"\x{zz}", Err(4)),
            (r"\x{110000}", Err(9)),
            (r"\t", Ok((2, 9))),
            (r"\-", Ok((2, 0x2d))),
            (r"\é", Err(3)),
            (r"\q", Err(2)),
        ];
        for (text, want) in cases {
            assert_eq!(go_escape(text), want, "{text}");
        }
    }

    #[test]
    fn offsets_map_back_through_rewrites() {
        let (source, problem) = prescan("^(?:x{,3}[a[b](?))$");
        assert!(problem.is_none());
        assert_eq!(source.text, r"^(?:x\{,3}[a\[b])$");
        // `\{` maps to `{`; the removed `(?)` collapses to a point.
        assert_eq!(source.to_original(5, false), 5);
        assert_eq!(source.to_original(7, true), 6);
        assert_eq!(source.to_original(16, false), 17);
        assert_eq!(source.to_original(16, true), 14);
    }
}
