//! Regex values with Go RE2 semantics, compiled by the `regex` crate.
//!
//! Alertmanager compiles `"^(?:" + value + ")$"` with Go's `regexp`. This module builds the
//! same string, parses it with `regex_syntax`'s AST parser and walks the AST so that every
//! value either means what it means in Go or is rejected with a [`MatcherError`]:
//!
//! - Perl classes and word boundaries get Go's ASCII meaning (`\d` → `[0-9]`, `\b` →
//!   `(?-u:\b)`, ...), and `\p{C}`/`\p{^X}` are rewritten to what Go means by them.
//! - Syntax Go rejects (the `x` flag, counts over 1000, nested repetition, `\u`, unknown
//!   `\p{…}` names, ...) is rejected with Go's own error text, as Alertmanager reports it.
//! - Syntax Go accepts with another meaning, or that only Rust rejects (`[a&&b]`, `\<`,
//!   `\Q…\E`, `x{,3}`, ...), is rejected as [`MatcherError::Unsupported`].

use std::ops::Range;

use regex::{Regex, RegexBuilder};
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

/// Go's script names (`unicode.Scripts`, Unicode 15.0 as in Go 1.21 and later).
const GO_SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

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
        self.at = source.to_original(self.at);
        if let ProblemKind::Go { expr: r, .. } | ProblemKind::Unsupported { construct: r, .. } =
            &mut self.kind
        {
            *r = source.to_original(r.start)..source.to_original(r.end);
        }
        self
    }
}

/// The problem Go would report first of the prescan's and Rust's. On a tie, a Go error wins
/// over an unsupported construct, and otherwise Rust's (more specific) one.
fn earliest(prescan: Option<Problem>, rust: Option<Problem>) -> Option<Problem> {
    match (prescan, rust) {
        (Some(a), Some(b)) if a.at < b.at || (a.at == b.at && a.is_go() && !b.is_go()) => Some(a),
        (a, b) => b.or(a),
    }
}

/// The pattern as written, and as handed to Rust: rewritten where Go and Rust read the same
/// text differently (`x{,3}`, `[a[b]`, `\<`, ...) so that Rust gets Go's meaning.
struct Source<'p> {
    original: &'p str,
    text: String,
    /// Pairs of offsets (in `text`, in `original`) around each rewritten part.
    checkpoints: Vec<(usize, usize)>,
}

impl Source<'_> {
    fn to_original(&self, at: usize) -> usize {
        let i = self.checkpoints.partition_point(|&(t, _)| t <= at);
        let (t, o) = i.checked_sub(1).map_or((0, 0), |i| self.checkpoints[i]);
        let limit = self
            .checkpoints
            .get(i)
            .map_or(self.original.len(), |&(_, o)| o);
        (o + (at - t)).min(limit)
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

/// Compiles a matcher's regex value exactly as Alertmanager anchors it: `^(?:value)$`, built
/// by string concatenation (so `a)|(b` means "starts with a or ends with b").
pub(crate) fn compile(value: &str) -> Result<Regex, MatcherError> {
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
        (None, Ok(translated)) => {
            return RegexBuilder::new(&translated)
                .octal(true)
                .nest_limit(NEST_LIMIT)
                .build()
                .map_err(|e| MatcherError::RegexCompile {
                    value: value.to_owned(),
                    message: regex_error_message(&e),
                });
        }
        (early, translated) => earliest(early, translated.err().map(|p| p.into_original(&source))),
    };
    let problem =
        problem.unwrap_or_else(|| Problem::compile(0, "rejected without a reason".to_owned()));
    Err(source.error(problem, value))
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
    if let Some(p) = problems.into_iter().min_by_key(|p| p.at) {
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
        checkpoints: Vec::new(),
        done: 0,
    };
    let problem = scan.run().err();
    let done = scan.done;
    scan.copy(done, p.len());
    (
        Source {
            original: p,
            text: scan.text,
            checkpoints: scan.checkpoints,
        },
        problem,
    )
}

struct Prescan<'p> {
    p: &'p str,
    text: String,
    checkpoints: Vec<(usize, usize)>,
    /// How much of `p` has been written to `text`.
    done: usize,
}

impl Prescan<'_> {
    fn copy(&mut self, from: usize, to: usize) {
        self.text.push_str(&self.p[from..to]);
        self.done = to;
    }

    fn replace(&mut self, from: usize, to: usize, with: &str) {
        self.checkpoints.push((self.text.len(), from));
        self.text.push_str(with);
        self.checkpoints.push((self.text.len(), to));
        self.done = to;
    }

    fn run(&mut self) -> Result<(), Problem> {
        let (p, b) = (self.p, self.p.as_bytes());
        let (mut i, mut last_repeat) = (0, None);
        while i < b.len() {
            let mut repeat_end = None;
            match b[i] {
                b'\\' => self.escape(i, false)?,
                b'[' => self.class(i)?,
                b'(' if p[i..].starts_with("(?P<") || p[i..].starts_with("(?<") => {
                    self.copy(i, p[i..].find('>').map_or(b.len(), |e| i + e + 1));
                }
                b'(' if p[i..].starts_with("(?") => {
                    let flags = p[i + 2..]
                        .bytes()
                        .take_while(|c| b"imsU-".contains(c))
                        .count();
                    let end = i + 2 + flags;
                    self.copy(
                        i,
                        if matches!(b.get(end), Some(b':' | b')')) {
                            end + 1
                        } else {
                            end
                        },
                    );
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
                    let end = if b.get(end) == Some(&b'?') {
                        end + 1
                    } else {
                        end
                    };
                    if let Some(prev) = last_repeat {
                        return Err(Problem::go(code::INVALID_REPEAT_OP, prev..end));
                    }
                    last_repeat = Some(i);
                    self.copy(i, end);
                }
                None => last_repeat = None,
            }
            i = self.done;
        }
        Ok(())
    }

    /// Go's reading of the escape at `i`, written out for Rust.
    fn escape(&mut self, i: usize, in_class: bool) -> Result<(), Problem> {
        let p = self.p;
        let Some(c) = p[i + 1..].chars().next() else {
            self.copy(i, p.len());
            return Ok(());
        };
        let end = match c {
            'Q' if !in_class => {
                return Err(Problem::unsupported(
                    i..i + 2,
                    "quoting (\\Q…\\E) is not supported; escape each metacharacter instead",
                ));
            }
            // Go reads `\<` and `\>` as literals; Rust as word boundaries.
            '<' | '>' => {
                self.replace(i, i + 2, &p[i + 1..i + 2]);
                return Ok(());
            }
            // Rust would read a `{` after `\b` as a special word boundary.
            'b' | 'B' if !in_class && p[i + 2..].starts_with('{') => {
                self.replace(i, i + 2, &format!("(?:{})", &p[i..i + 2]));
                return Ok(());
            }
            'A' | 'b' | 'B' | 'z' if !in_class => i + 2,
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => i + 2,
            'p' | 'P' if p[i + 2..].starts_with('{') => {
                p[i..].find('}').map_or(p.len(), |e| i + e + 1)
            }
            'p' | 'P' => i + 2 + p[i + 2..].chars().next().map_or(0, char::len_utf8),
            _ => match go_escape(&p[i..]) {
                Ok(len) => i + len,
                Err(len) => return Err(Problem::go(code::INVALID_ESCAPE, i..i + len)),
            },
        };
        self.copy(i, end);
        Ok(())
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
            if p[t..].starts_with('\\')
                && p[t + 1..].starts_with(['p', 'P', 'd', 'D', 's', 'S', 'w', 'W'])
            {
                self.escape(t, true)?;
                continue;
            }
            self.class_char(start)?;
            let t = self.done;
            if b.get(t) == Some(&b'-') && b.get(t + 1).is_some_and(|&c| c != b']') {
                self.copy(t, t + 1);
                self.class_char(start)?;
            }
        }
    }

    /// One character of the class at `start` (Go's `parseClassChar`), escaped for Rust where
    /// needed.
    fn class_char(&mut self, start: usize) -> Result<(), Problem> {
        let (p, t) = (self.p, self.done);
        match p[t..].chars().next() {
            // Go notices at the end, after any problem inside the class.
            None => Err(Problem::go(code::MISSING_BRACKET, start..p.len()).at(p.len())),
            Some('\\') => self.escape(t, true),
            Some(c @ ('[' | '-' | '&' | '~')) => {
                self.replace(t, t + 1, &format!("\\{c}"));
                Ok(())
            }
            Some(c) => {
                self.copy(t, t + c.len_utf8());
                Ok(())
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
        ErrorKind::ClassRangeInvalid | ErrorKind::UnicodeClassInvalid => {
            Problem::go(code::INVALID_CHAR_RANGE, start..end)
        }
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

/// A repetition operator without an operand: Go's error, unless Rust refuses to repeat a
/// flag group that Go would look through.
fn missing_repetition(p: &str, at: usize) -> Problem {
    let rest = &p[at..];
    let len = if rest.starts_with('{') {
        match go_repeat(rest) {
            Some(rep) => rep.len,
            None => return literal_brace(at),
        }
    } else {
        1
    };
    let len = if rest[len..].starts_with('?') {
        len + 1
    } else {
        len
    };
    // Rust cannot repeat a flag group such as `(?i)`; Go repeats the item before it, and
    // fails only when there is none.
    if p[..at].ends_with(')') && has_item_before_flag_groups(p, at) {
        return Problem::unsupported(
            at..at + len,
            "after a flag group repeats the preceding item in Go but is an error in Rust; \
             wrap that item in a group",
        );
    }
    Problem::go(code::MISSING_REPEAT_ARGUMENT, at..at + len)
}

/// Whether, skipping back over flag groups such as `(?i)` that end at `at`, Go finds an item
/// to repeat rather than the start of a group or alternative.
fn has_item_before_flag_groups(p: &str, mut at: usize) -> bool {
    let is_flags = |s: &str| s.bytes().all(|c| b"imsU-".contains(&c));
    while p[..at].ends_with(')') {
        match p[..at].rfind("(?") {
            Some(g) if is_flags(&p[g + 2..at - 1]) => at = g,
            _ => break,
        }
    }
    let before = &p[..at];
    let backslashes = before
        .bytes()
        .rev()
        .skip(1)
        .take_while(|&c| c == b'\\')
        .count();
    let opens = match before.bytes().last() {
        None => true,
        Some(b'(' | b'|') => backslashes % 2 == 0,
        Some(b':') => before
            .rfind("(?")
            .is_some_and(|g| is_flags(&before[g + 2..at - 1])),
        Some(b'>') => before
            .rfind("(?")
            .is_some_and(|g| before[g..].starts_with("(?P<") || before[g..].starts_with("(?<")),
        Some(_) => false,
    };
    !opens
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
        Ok(len) => Problem::unsupported(
            at..at + len,
            "is accepted by Go but not by Rust (e.g. a surrogate code point)",
        ),
    }
}

/// Go's `parseEscape` on `s` (starting with a backslash): `Ok(len)` when Go accepts the escape,
/// `Err(len)` with the length of the text Go names in its error.
fn go_escape(s: &str) -> Result<usize, usize> {
    let mut chars = s.char_indices().skip(1);
    let Some((_, c)) = chars.next() else {
        return Err(0);
    };
    let after = 1 + c.len_utf8();
    match c {
        '1'..='7' if !s[after..].starts_with(|d: char| ('0'..='7').contains(&d)) => Err(after),
        '0'..='7' => {
            let digits = s[after..]
                .chars()
                .take(2)
                .take_while(|d| ('0'..='7').contains(d));
            Ok(after + digits.count())
        }
        'a' | 'f' | 'n' | 'r' | 't' | 'v' => Ok(after),
        'x' => {
            let Some((_, c)) = chars.next() else {
                return Err(after);
            };
            if c != '{' {
                let y = chars.next();
                let end = y.map_or(s.len(), |(i, y)| i + y.len_utf8());
                let ok = c.is_ascii_hexdigit() && y.is_some_and(|(_, y)| y.is_ascii_hexdigit());
                return if ok { Ok(end) } else { Err(end) };
            }
            let (mut value, mut digits) = (0u32, 0);
            for (i, c) in chars {
                let end = i + c.len_utf8();
                if c == '}' {
                    return if digits > 0 { Ok(end) } else { Err(end) };
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
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(after),
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
        if name != "Any" && !GO_CATEGORIES.contains(&name) && !GO_SCRIPTS.contains(&name) {
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
                .push(Problem::go(code::INVALID_REPEAT_OP, expr));
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
mod tests {}
