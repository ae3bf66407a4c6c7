//! `alertrun import`: turns the config of a tool people run today into an alertrun config
//! that does what the old one did.
//!
//! Two tools are known:
//!
//! - **prometheus-am-executor** (imgix/prometheus-am-executor): its YAML config (`-f`),
//!   its command line (`prometheus-am-executor -l :8080 CMD ARGS…`), or both, merged as
//!   the tool merges them. Each command becomes a `mode: per-group` process rule with
//!   `env_style: am-executor` ([`import_am_executor`]).
//! - **bailer** (nalbury/bailer): its `bailers:` list (or a Helm values file holding it
//!   under `config:`). Each bailer becomes a per-alert Kubernetes Job rule with
//!   `env_style: bailer` ([`import_bailer`]).
//!
//! What this is not: a reader of files or a runner of anything. Each importer is a pure
//! function from text to text: the input as the tool would read it, out comes the YAML of
//! an alertrun config and the [`Note`]s about it. The caller (the CLI) reads and writes
//! the files.
//!
//! The key design choice: **nothing is dropped silently, and nothing is guessed.** The
//! output is written by hand (not serialised), so that every field alertrun cannot carry
//! over gets a `# not carried over` comment saying why, and every place where alertrun
//! behaves otherwise than the old tool gets a `# differs` comment saying how and what to
//! write for the old behaviour; the same texts come back as [`Note`]s. Input the old tool
//! itself refused (a signal it does not know, a regular expression that does not compile,
//! a value of the wrong type) is an [`ImportError`] naming each place with its line, as
//! `alertrun check` names a broken config's. Fields the old tool ignored (unknown keys)
//! are noted, with a "did you mean" when one is close.
//!
//! The imported config passes `alertrun check` (the tests load every output with
//! [`crate::Config::from_yaml`]); a TLS file it names must exist for that, as it had to
//! for the old tool.

mod am_executor;
mod bailer;
mod yaml;

use std::fmt;

pub use am_executor::{AmExecutorInput, CommandLine, import_am_executor};
pub use bailer::{BailerOptions, import_bailer};

use crate::config::{Problem, list};

/// The text of an input file, with the name to show in the output's header.
#[derive(Clone, Copy, Debug)]
pub struct ImportSource<'a> {
    /// How the file is named in the output (its path as given).
    pub name: &'a str,
    /// Its contents.
    pub text: &'a str,
}

/// An imported config: the YAML, and what the reader should know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The alertrun config, with its comments.
    pub yaml: String,
    /// Every `# not carried over` and `# differs` comment of `yaml`, with its source place.
    pub notes: Vec<Note>,
}

/// What kind of note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKind {
    /// A field alertrun cannot carry over (or that the old tool ignored).
    NotCarriedOver,
    /// Carried over, but alertrun behaves otherwise; the note says how.
    Differs,
}

/// One note about the import, placed in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Not carried over, or different.
    pub kind: NoteKind,
    /// The input's path, such as `commands[1].resolved_signal` (empty: the whole input).
    pub path: String,
    /// 1-based line in the input, when known.
    pub line: Option<usize>,
    /// What and why.
    pub message: String,
}

impl NoteKind {
    /// `not carried over` or `differs`, as the comments start.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotCarriedOver => "not carried over",
            Self::Differs => "differs",
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.as_str())?;
        match (self.path.is_empty(), self.line) {
            (true, _) => {}
            (false, Some(line)) => write!(f, " ({}, line {line})", self.path)?,
            (false, None) => write!(f, " ({})", self.path)?,
        }
        write!(f, ": {}", self.message)
    }
}

/// The input cannot be imported: every problem, each with its place.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} problem{} in the {tool} config:\n{}", .problems.len(), if .problems.len() == 1 { "" } else { "s" }, list(.problems))]
pub struct ImportError {
    /// Which tool's config: `prometheus-am-executor` or `bailer`.
    pub tool: &'static str,
    /// The problems, in input order.
    pub problems: Vec<Problem>,
}

/// Collects the problems and notes of one import.
#[derive(Debug, Default)]
struct Findings {
    problems: Vec<Problem>,
    notes: Vec<Note>,
}

impl Findings {
    fn problem(&mut self, path: &str, line: Option<usize>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_owned(),
            line,
            message: message.into(),
        });
    }

    /// Records a note and returns its comment text (`not carried over (path): …`).
    fn note(
        &mut self,
        kind: NoteKind,
        path: &str,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> String {
        let note = Note {
            kind,
            path: path.to_owned(),
            line,
            message: message.into(),
        };
        let comment = note.to_string();
        self.notes.push(note);
        comment
    }

    /// The entries of a mapping; a problem at `path` otherwise ("expected `what`, found …").
    fn mapping<'a>(
        &mut self,
        node: &'a yaml::Node,
        path: &str,
        what: &str,
    ) -> Option<&'a [(String, usize, yaml::Node)]> {
        match &node.value {
            yaml::Value::Map(entries) => Some(entries),
            _ => {
                let message = format!("expected {what}, found {}", node.describe());
                self.problem(path, Some(node.line), message);
                None
            }
        }
    }

    /// A string field as yaml.v2 and viper fill one: any scalar's text (`0800` stays
    /// `0800`); null leaves it unset; a list or mapping is a problem at `path`.
    fn string(&mut self, node: &yaml::Node, path: &str) -> Option<String> {
        if node.is_null() {
            return None;
        }
        let s = node.as_scalar().map(str::to_owned);
        if s.is_none() {
            let message = format!("expected a string, found {}", node.describe());
            self.problem(path, Some(node.line), message);
        }
        s
    }

    /// A list of strings; null leaves it unset.
    fn strings(&mut self, node: &yaml::Node, path: &str) -> Option<Vec<String>> {
        match &node.value {
            yaml::Value::Seq(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| self.string(n, &format!("{path}[{i}]")).unwrap_or_default())
                    .collect(),
            ),
            _ if node.is_null() => None,
            _ => {
                let message = format!("expected a list of strings, found {}", node.describe());
                self.problem(path, Some(node.line), message);
                None
            }
        }
    }

    fn into_result(self, tool: &'static str, yaml: String) -> Result<Imported, ImportError> {
        if self.problems.is_empty() {
            Ok(Imported {
                yaml,
                notes: self.notes,
            })
        } else {
            Err(ImportError {
                tool,
                problems: self.problems,
            })
        }
    }
}

/// The known name closest to `name` (case-insensitively), when close enough to be a typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    known
        .iter()
        .filter(|k| **k != name)
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= 1.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// `unknown field "x" (did you mean y?)`: the start of a note about a field the old tool
/// ignored.
fn unknown_field(name: &str, known: &[&str]) -> String {
    match closest(name, known) {
        Some(k) => format!("unknown field {name:?} (did you mean {k}?)"),
        None => format!("unknown field {name:?}"),
    }
}

/// A rule name from `text`: ASCII letters, digits, `-`, `_` and `.` kept, runs of anything
/// else as one `-`; `fallback` when nothing is left; `-2`, `-3`… when `taken` has it.
fn rule_name(text: &str, fallback: &str, taken: &mut Vec<String>) -> String {
    let mut name = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_matches('-');
    let base = if name.is_empty() { fallback } else { name };
    let mut candidate = base.to_owned();
    let mut n = 1;
    while taken.contains(&candidate) {
        n += 1;
        candidate = format!("{base}-{n}");
    }
    taken.push(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion_and_strangers_none() {
        let known = ["match_labels", "notify_on_failure", "max", "cmd"];
        for (name, want) in [
            ("match_label", Some("match_labels")),
            ("matchlabels", Some("match_labels")),
            ("notify_on_fail", Some("notify_on_failure")),
            ("Max", Some("max")),
            ("cmd", None), // exact: not a typo
            ("timeout", None),
            ("x", None),
        ] {
            assert_eq!(closest(name, &known), want, "{name}");
        }
    }

    #[test]
    fn rule_names_are_valid_and_unique() {
        let mut taken = Vec::new();
        for (text, want) in [
            ("echo", "echo"),
            ("echo", "echo-2"),
            ("/usr/local/bin/reboot now", "usr-local-bin-reboot-now"),
            ("Pod Crash/Looping", "Pod-Crash-Looping"),
            ("ключ", "command"),
            ("", "command-2"),
            ("echo", "echo-3"),
        ] {
            assert_eq!(rule_name(text, "command", &mut taken), want, "{text:?}");
        }
    }
}
