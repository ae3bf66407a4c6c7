//! Scrubbing secret values out of text before it is stored, shown or logged.
//!
//! See [`Scrubber`].

use std::borrow::Cow;
use std::fmt;

use crate::env::EnvVar;

/// What a secret (or a fragment of one) is replaced with.
pub const REDACTED: &str = "<redacted>";

/// The shortest fragment of a secret that [`Scrubber::scrub_cut`] removes at a cut edge.
pub const MIN_FRAGMENT: usize = 4;

/// Replaces secret values in text with [`REDACTED`].
///
/// An action may print its secrets (`curl -v`, `set -x`, a tool echoing a bad argument),
/// and an error may name them. A [`Scrubber`] built from the secret values replaces them
/// with [`REDACTED`] in such text:
///
/// - [`Scrubber::scrub`], for whole texts (reasons, error messages): every occurrence of
///   a secret, of any length, is replaced. Occurrences are found from the left, the
///   longest secret first where several start at the same byte. A secret's `Debug` form
///   (quotes and backslashes escaped, as in `{:?}` of an error) is scrubbed as well.
/// - [`Scrubber::scrub_cut`], for texts that may have been cut out of a longer one (the
///   tail of an output): besides whole occurrences, a text that starts with the end of a
///   secret, ends with its beginning, or lies wholly inside one loses that fragment too,
///   when the fragment is at least [`MIN_FRAGMENT`] bytes long. Shorter fragments are
///   kept: three bytes of a secret tell little, and redacting them would garble most
///   outputs.
///
/// ```
/// use alert_core::Scrubber;
///
/// let scrubber = Scrubber::new(["hunter22"]);
/// assert_eq!(scrubber.scrub("+ curl -u admin:hunter22 x"), "+ curl -u admin:<redacted> x");
/// // A tail that starts inside the secret: its end is gone too.
/// assert_eq!(scrubber.scrub_cut("ter22\nok"), "<redacted>\nok");
/// assert_eq!(scrubber.scrub("nothing to hide"), "nothing to hide");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scrubber {
    /// Distinct non-empty patterns (the secrets and their `Debug` forms), longest first.
    patterns: Vec<String>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl Scrubber {
    /// A scrubber for `secrets`; empty ones are ignored.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.is_empty() {
                continue;
            }
            let debug = format!("{secret:?}");
            let escaped = &debug[1..debug.len() - 1];
            if escaped != secret {
                patterns.push(escaped.to_owned());
            }
            patterns.push(secret.to_owned());
        }
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        patterns.dedup();
        Self { patterns }
    }

    /// A scrubber for the values of the variables of `env` marked
    /// [`secret`](EnvVar::secret).
    pub fn from_env(env: &[EnvVar]) -> Self {
        Self::new(env.iter().filter(|v| v.secret).map(|v| v.value.as_str()))
    }

    /// Whether it has no secret to scrub.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// `text` with every occurrence of a secret replaced by [`REDACTED`]; borrowed when
    /// there is none.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        // The next occurrence of each pattern at or after `done`, found lazily.
        let mut next: Vec<Option<usize>> = self
            .patterns
            .iter()
            .map(|p| text.find(p.as_str()))
            .collect();
        let mut out = String::new();
        let mut done = 0;
        let mut found = false;
        loop {
            let mut best: Option<(usize, usize)> = None;
            for (i, pattern) in self.patterns.iter().enumerate() {
                let at = match next[i] {
                    Some(at) if at >= done => at,
                    Some(_) => {
                        next[i] = text[done..].find(pattern.as_str()).map(|at| at + done);
                        match next[i] {
                            Some(at) => at,
                            None => continue,
                        }
                    }
                    None => continue,
                };
                // Patterns are longest first: at a tie, the first found is the longest.
                if best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, i));
                }
            }
            let Some((at, i)) = best else { break };
            found = true;
            out.push_str(&text[done..at]);
            out.push_str(REDACTED);
            done = at + self.patterns[i].len();
        }
        if !found {
            return Cow::Borrowed(text);
        }
        out.push_str(&text[done..]);
        Cow::Owned(out)
    }

    /// Like [`Scrubber::scrub`], for a text that may be cut out of a longer one: a start
    /// that is the end of a secret, an end that is its beginning, and a text that lies
    /// wholly inside a secret are replaced too, when at least [`MIN_FRAGMENT`] bytes long.
    /// Replacement characters (`U+FFFD`) before a start fragment, left where the cut split
    /// a character, go with it.
    pub fn scrub_cut<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if text.len() >= MIN_FRAGMENT && self.patterns.iter().any(|p| p.contains(text)) {
            return Cow::Owned(REDACTED.to_owned());
        }
        let split = text.len() - text.trim_start_matches('\u{FFFD}').len();
        let head = match self.longest(|p| starts_with_end_of(&text[split..], p)) {
            0 => 0,
            n => split + n,
        };
        let tail = self.longest(|p| ends_with_start_of(text, p));
        if head == 0 && tail == 0 {
            return self.scrub(text);
        }
        if head + tail >= text.len() {
            return Cow::Owned(REDACTED.to_owned());
        }
        let mut out = String::new();
        if head > 0 {
            out.push_str(REDACTED);
        }
        out.push_str(&self.scrub(&text[head..text.len() - tail]));
        if tail > 0 {
            out.push_str(REDACTED);
        }
        Cow::Owned(out)
    }

    /// The greatest length `fragment` finds over the patterns (0 for none).
    fn longest(&self, fragment: impl Fn(&str) -> usize) -> usize {
        self.patterns.iter().map(|p| fragment(p)).max().unwrap_or(0)
    }
}

/// The length of the longest end of `secret`, at least [`MIN_FRAGMENT`] bytes, that
/// `text` starts with; 0 for none. (A match ends where `secret` ends, on a character
/// boundary, and valid UTF-8 never starts inside a character, so it is a boundary of
/// `text` too.)
fn starts_with_end_of(text: &str, secret: &str) -> usize {
    let (text, secret) = (text.as_bytes(), secret.as_bytes());
    (MIN_FRAGMENT..=secret.len().min(text.len()))
        .rev()
        .find(|&n| text.starts_with(&secret[secret.len() - n..]))
        .unwrap_or(0)
}

/// The length of the longest beginning of `secret`, at least [`MIN_FRAGMENT`] bytes, that
/// `text` ends with; 0 for none.
fn ends_with_start_of(text: &str, secret: &str) -> usize {
    let (text, secret) = (text.as_bytes(), secret.as_bytes());
    (MIN_FRAGMENT..=secret.len().min(text.len()))
        .rev()
        .find(|&n| text.ends_with(&secret[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scrub_table() {
        let s = Scrubber::new(["hunter22", "pa\"ss\\wd", "", "hunter2"]);
        for (case, text, want) in [
            ("no secret", "all fine", "all fine"),
            ("empty text", "", ""),
            ("one", "token=hunter22;", "token=<redacted>;"),
            ("twice", "hunter22hunter22", "<redacted><redacted>"),
            ("the longest at a tie", "hunter22", "<redacted>"),
            ("the shorter one", "hunter2!", "<redacted>!"),
            ("raw", "pw pa\"ss\\wd", "pw <redacted>"),
            (
                "as Debug shows it",
                r#"program "pa\"ss\\wd""#,
                r#"program "<redacted>""#,
            ),
            ("a fragment is kept by scrub", "nter22", "nter22"),
        ] {
            assert_eq!(s.scrub(text), want, "{case}");
        }
    }

    #[test]
    fn scrub_cut_table() {
        let s = Scrubber::new(["abcdefgh"]);
        for (case, text, want) in [
            ("starts with the end", "efgh\nrest", "<redacted>\nrest"),
            ("ends with the beginning", "rest\nabcd", "rest\n<redacted>"),
            ("both", "defgh mid abcde", "<redacted> mid <redacted>"),
            ("inside", "cdef", "<redacted>"),
            ("too short a start", "fgh rest", "fgh rest"),
            ("too short an end", "rest abc", "rest abc"),
            ("whole in the middle", "x abcdefgh y", "x <redacted> y"),
            ("end and beginning meet", "efghabcd", "<redacted>"),
            (
                "a split character before",
                "\u{FFFD}\u{FFFD}efgh x",
                "<redacted> x",
            ),
            ("unrelated", "nothing", "nothing"),
        ] {
            assert_eq!(s.scrub_cut(text), want, "{case}");
        }
    }

    #[test]
    fn from_env_takes_the_secret_values_only() {
        let env = [
            EnvVar::new("SHOWN", "visible"),
            EnvVar {
                name: "TOKEN".into(),
                value: "s3cr3t-value".into(),
                secret: true,
            },
        ];
        let s = Scrubber::from_env(&env);
        assert_eq!(s.scrub("visible s3cr3t-value"), "visible <redacted>");
        assert!(Scrubber::from_env(&env[..1]).is_empty());
        assert_eq!(format!("{s:?}"), "Scrubber { patterns: 1 }");
    }

    /// `text` with the markers cut out, so that no secret can be found across one.
    fn outside_markers(text: &str) -> String {
        text.replace(REDACTED, "\0")
    }

    proptest! {
        #[test]
        fn no_secret_survives_scrub(
            secrets in proptest::collection::vec("[a-c<>\"\\\\é]{1,6}", 1..4),
            pieces in proptest::collection::vec(("[a-c<>x é\n]{0,5}", 0..4usize), 0..8),
        ) {
            let mut text = String::new();
            for (filler, pick) in pieces {
                text.push_str(&filler);
                if let Some(secret) = secrets.get(pick) {
                    text.push_str(secret);
                }
            }
            let scrubbed = outside_markers(&Scrubber::new(&secrets).scrub(&text));
            for secret in &secrets {
                prop_assert!(!scrubbed.contains(secret.as_str()), "{secret:?} in {scrubbed:?}");
            }
        }

        #[test]
        fn text_without_secrets_is_unchanged(
            secret in "[a-z]{1,12}",
            text in "[^a-z]{0,40}",
        ) {
            let s = Scrubber::new([&secret]);
            prop_assert!(matches!(s.scrub(&text), Cow::Borrowed(t) if t == text));
            prop_assert_eq!(s.scrub_cut(&text), text.as_str());
        }

        #[test]
        fn no_fragment_survives_a_cut(
            secret in "[a-f]{4,12}",
            pieces in proptest::collection::vec(("[ .X\n]{0,5}", any::<bool>()), 0..6),
            cut in (any::<proptest::sample::Index>(), any::<proptest::sample::Index>()),
        ) {
            let mut text = String::new();
            for (filler, with_secret) in pieces {
                text.push_str(&filler);
                if with_secret {
                    text.push_str(&secret);
                }
            }
            let (a, b) = (cut.0.index(text.len() + 1), cut.1.index(text.len() + 1));
            let window = &text[a.min(b)..a.max(b)];
            let scrubbed = outside_markers(&Scrubber::new([&secret]).scrub_cut(window));
            // Only secret text is made of a-f: what is left of it holds no fragment of the
            // secret as long as MIN_FRAGMENT (two short ones may meet where copies did).
            for run in scrubbed.split(|c: char| !c.is_ascii_lowercase()) {
                for piece in run.as_bytes().windows(MIN_FRAGMENT) {
                    let piece = std::str::from_utf8(piece).expect("ASCII");
                    prop_assert!(!secret.contains(piece), "{piece:?} left of {window:?}");
                }
            }
        }
    }
}
