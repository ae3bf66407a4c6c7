//! Reading prometheus-am-executor's YAML config as it reads it (yaml.v2 into its `Config`
//! and `Command` types: unknown keys ignored, a string field takes any scalar's text, a
//! bool YAML 1.1's words) and merging its command line in as `mergeConfigs` does.

use super::{COMMAND_KEYS, COMMAND_LINE, CommandLine, TOP_KEYS};
use crate::import::yaml::{self, Node, Value};
use crate::import::{Findings, NoteKind, unknown_field};

/// One of its commands, as read.
#[derive(Debug, Default)]
pub(super) struct Command {
    /// `commands[0]` or `command line`.
    pub(super) place: String,
    pub(super) line: Option<usize>,
    pub(super) cmd: String,
    pub(super) args: Vec<String>,
    /// Name, value, line.
    pub(super) match_labels: Vec<(String, String, Option<usize>)>,
    pub(super) max: i64,
    pub(super) notify_on_failure: Option<bool>,
    pub(super) ignore_resolved: Option<bool>,
    /// The signal, and its line.
    pub(super) resolved_signal: Option<(String, Option<usize>)>,
    /// Notes made while reading it (fields am-executor ignored), for its rule.
    pub(super) comments: Vec<String>,
}

impl Command {
    /// `Command.Equal` of am-executor: same cmd, args and match_labels.
    fn same_as(&self, other: &Command) -> bool {
        self.cmd == other.cmd && self.args == other.args && self.labels() == other.labels()
    }

    /// The match_labels, sorted (a Go map has no order).
    fn labels(&self) -> Vec<(&str, &str)> {
        let mut l: Vec<(&str, &str)> = self
            .match_labels
            .iter()
            .map(|(n, v, _)| (n.as_str(), v.as_str()))
            .collect();
        l.sort_unstable();
        l
    }

    /// `commands[0].field`; the command line has no fields, so just `command line`.
    pub(super) fn path(&self, field: &str) -> String {
        if self.line.is_some() {
            format!("{}.{field}", self.place)
        } else {
            self.place.clone()
        }
    }
}

/// The merged config, as am-executor would run it.
#[derive(Debug, Default)]
pub(super) struct Settings {
    /// Address, where it came from, line.
    pub(super) listen: Option<(String, String, Option<usize>)>,
    pub(super) verbose: Option<(String, Option<usize>)>,
    pub(super) tls_key: Option<(String, Option<usize>)>,
    pub(super) tls_crt: Option<(String, Option<usize>)>,
    pub(super) commands: Vec<Command>,
    /// Notes made while reading the top level, for the output's head.
    pub(super) comments: Vec<String>,
}

pub(super) fn read_file(text: &str, settings: &mut Settings, f: &mut Findings) {
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return,
        Err((message, line)) => return f.problem("", line, message),
    };
    let Some(entries) = f.mapping(&root, "", "a mapping (listen_address, commands, …)") else {
        return;
    };
    for (key, key_line, node) in entries {
        let line = Some(*key_line);
        match key.as_str() {
            "listen_address" => {
                settings.listen = f
                    .string(node, key)
                    .filter(|s| !s.is_empty())
                    .map(|s| (s, "listen_address".to_owned(), line));
            }
            "verbose" => {
                if let Some(true) = boolean(node, key, f) {
                    settings.verbose = Some(("verbose".to_owned(), line));
                }
            }
            "tls_key" => settings.tls_key = f.string(node, key).map(|s| (s, line)),
            "tls_crt" => settings.tls_crt = f.string(node, key).map(|s| (s, line)),
            "commands" => match &node.value {
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let command = read_command(item, &format!("commands[{i}]"), f);
                        if !settings.commands.iter().any(|c| c.same_as(&command)) {
                            settings.commands.push(command);
                        }
                    }
                }
                _ if node.is_null() => {}
                _ => f.problem(
                    key,
                    line,
                    format!("expected a list of commands, found {}", node.describe()),
                ),
            },
            _ => {
                let message = format!("{}: am-executor ignored it", unknown_field(key, &TOP_KEYS));
                settings
                    .comments
                    .push(f.note(NoteKind::NotCarriedOver, key, line, message));
            }
        }
    }
}

fn read_command(node: &Node, place: &str, f: &mut Findings) -> Command {
    let mut c = Command {
        place: place.to_owned(),
        line: Some(node.line),
        ..Command::default()
    };
    let Some(entries) = f.mapping(node, place, "a command (cmd, args, …)") else {
        return c;
    };
    for (key, key_line, value) in entries {
        let path = format!("{place}.{key}");
        let line = Some(*key_line);
        match key.as_str() {
            "cmd" => c.cmd = f.string(value, &path).unwrap_or_default(),
            "args" => c.args = f.strings(value, &path).unwrap_or_default(),
            "match_labels" => match &value.value {
                Value::Map(labels) => {
                    for (name, l, v) in labels {
                        let v = f.string(v, &format!("{path}.{name}")).unwrap_or_default();
                        c.match_labels.push((name.clone(), v, Some(*l)));
                    }
                }
                _ if value.is_null() => {}
                _ => f.problem(
                    &path,
                    line,
                    format!(
                        "expected a mapping of label names to values, found {}",
                        value.describe()
                    ),
                ),
            },
            "max" => match value.as_int() {
                Some(n) => c.max = n,
                None if value.is_null() => {}
                None => f.problem(
                    &path,
                    line,
                    format!("expected a whole number, found {}", value.describe()),
                ),
            },
            "notify_on_failure" => c.notify_on_failure = boolean(value, &path, f),
            "ignore_resolved" => c.ignore_resolved = boolean(value, &path, f),
            "resolved_signal" => {
                c.resolved_signal = f
                    .string(value, &path)
                    .filter(|s| !s.is_empty())
                    .map(|s| (s, line));
            }
            _ => {
                let message = format!(
                    "{}: am-executor ignored it",
                    unknown_field(key, &COMMAND_KEYS)
                );
                c.comments
                    .push(f.note(NoteKind::NotCarriedOver, &path, line, message));
            }
        }
    }
    if c.cmd.is_empty() {
        f.problem(
            place,
            Some(node.line),
            "no `cmd`: am-executor would fail to run this command (give cmd: NAME)",
        );
    }
    c
}

pub(super) fn merge_command_line(line: &CommandLine, settings: &mut Settings) {
    if let Some(listen) = line.listen.as_ref().filter(|l| !l.is_empty()) {
        settings.listen = Some((listen.clone(), "-l".to_owned(), None));
    }
    if line.verbose {
        settings.verbose = Some(("-v".to_owned(), None));
    }
    if let Some((cmd, args)) = line.command.split_first() {
        let command = Command {
            place: COMMAND_LINE.to_owned(),
            cmd: cmd.clone(),
            args: args.to_vec(),
            ..Command::default()
        };
        if !settings.commands.iter().any(|c| c.same_as(&command)) {
            settings.commands.push(command);
        }
    }
}

fn boolean(node: &Node, path: &str, f: &mut Findings) -> Option<bool> {
    if node.is_null() {
        return None;
    }
    let b = node.as_bool();
    if b.is_none() {
        f.problem(
            path,
            Some(node.line),
            format!("expected true or false, found {}", node.describe()),
        );
    }
    b
}
