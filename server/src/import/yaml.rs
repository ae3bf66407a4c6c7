//! YAML in and out for the importers.
//!
//! In: a small tree built from saphyr-parser's event stream, every node with its line and
//! every scalar with its text as written. The old tools are Go programs reading YAML with
//! yaml.v2 (am-executor) and viper (bailer): a string field takes a plain scalar's text as
//! it is (`port: 0800` is the string `0800`, `env: yes` is `yes`), and a bool field takes
//! YAML 1.1's `yes`/`no`/`on`/`off`. A typed tree (serde) would have turned `0800` into
//! `800` before we could see it. Aliases are expanded, within a budget of nodes, so an
//! alias bomb costs a bounded amount.
//!
//! Out: helpers that write scalars and flow lists so that they read back as the same
//! strings: plain when that is unambiguous, single-quoted otherwise, JSON-quoted (which is
//! YAML's double-quoted form) when a control character needs an escape.

use saphyr_parser::{Event, Parser, ScalarStyle};

/// At most this many nodes, aliases expanded: far above a real config.
const MAX_NODES: usize = 100_000;

/// A YAML node and the line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Node {
    pub(super) value: Value,
    pub(super) line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    /// The text, and whether it was written plain (unquoted, not a block scalar).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in document order: key, key's line, value.
    Map(Vec<(String, usize, Node)>),
}

impl Node {
    /// The scalar's text.
    pub(super) fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A plain `~`, `null` or nothing: what Go leaves at the zero value.
    pub(super) fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A YAML 1.1 bool, as yaml.v2 reads one.
    pub(super) fn as_bool(&self) -> Option<bool> {
        let Value::Scalar { text, plain: true } = &self.value else {
            return None;
        };
        match text.as_str() {
            "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
                Some(true)
            }
            "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off"
            | "OFF" => Some(false),
            _ => None,
        }
    }

    /// A plain decimal integer.
    pub(super) fn as_int(&self) -> Option<i64> {
        match &self.value {
            Value::Scalar { text, plain: true } => text.parse().ok(),
            _ => None,
        }
    }

    /// What the node is, for messages: `a list`, `a mapping`, `the text "x"`.
    pub(super) fn describe(&self) -> String {
        match &self.value {
            Value::Scalar { text, .. } => format!("{text:?}"),
            Value::Seq(_) => "a list".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
        }
    }
}

/// Parses the first document of `text`; `Ok(None)` when it has none (an empty file).
///
/// # Errors
/// The message and line of a YAML syntax error, a complex or duplicate key, or an input
/// over the node budget.
pub(super) fn parse(text: &str) -> Result<Option<Node>, (String, Option<usize>)> {
    enum Frame {
        Seq(Vec<Node>, usize, usize),
        Map(
            Vec<(String, usize, Node)>,
            Option<(String, usize)>,
            usize,
            usize,
        ),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: Vec<Option<Node>> = Vec::new();
    let mut nodes = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| {
            (
                format!("invalid YAML: {}", e.info()),
                Some(e.marker().line()),
            )
        })?;
        let line = span.start.line();
        let (node, anchor) = match event {
            Event::DocumentEnd if stack.is_empty() => break,
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), line, anchor));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(Vec::new(), None, line, anchor));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, line, anchor)) => (
                    Node {
                        value: Value::Seq(items),
                        line,
                    },
                    anchor,
                ),
                _ => continue,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, _, line, anchor)) => (
                    Node {
                        value: Value::Map(entries),
                        line,
                    },
                    anchor,
                ),
                _ => continue,
            },
            Event::Scalar(text, style, anchor, _) => (
                Node {
                    value: Value::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    line,
                },
                anchor,
            ),
            Event::Alias(id) => match anchors.get(id).cloned().flatten() {
                Some(mut node) => {
                    nodes += count(&node);
                    node.line = line;
                    (node, 0)
                }
                None => return Err(("alias of an unknown anchor".to_owned(), Some(line))),
            },
            _ => continue,
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err((
                format!("more than {MAX_NODES} nodes (aliases expanded)"),
                Some(line),
            ));
        }
        if anchor > 0 {
            if anchors.len() <= anchor {
                anchors.resize(anchor + 1, None);
            }
            anchors[anchor] = Some(node.clone());
        }
        match stack.last_mut() {
            None => return Ok(Some(node)),
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(entries, key @ None, ..)) => match node.value {
                Value::Scalar { text, .. } => {
                    if entries.iter().any(|(k, ..)| *k == text) {
                        return Err((format!("duplicate key {text:?}"), Some(node.line)));
                    }
                    *key = Some((text, node.line));
                }
                _ => return Err(("a key must be a plain value".to_owned(), Some(node.line))),
            },
            Some(Frame::Map(entries, key @ Some(_), ..)) => {
                let (k, l) = key.take().unwrap_or_default();
                entries.push((k, l, node));
            }
        }
    }
    Ok(None)
}

fn count(node: &Node) -> usize {
    match &node.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, _, n)| count(n)).sum::<usize>(),
    }
}

/// `s` as a YAML scalar that reads back as `s`, in block or flow context.
pub(super) fn scalar(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_owned()
    } else if s.chars().any(|c| c.is_control()) {
        // JSON's escapes are YAML's double-quoted escapes.
        serde_json::Value::String(s.to_owned()).to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// `[a, b, 'c d']`.
pub(super) fn flow_list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|s| scalar(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// Plain only where no YAML reader could take it for anything but this string: letters,
/// digits and `/ . _ - = + @ %` and inner `:`, not starting with an indicator, not a
/// keyword of YAML 1.1 or 1.2, and not anything number-like.
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/._-=+@%:".contains(c);
    let keyword = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
    );
    let number_like = s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || "._+-:xXoO".contains(c));
    (first.is_ascii_alphanumeric() || first == '/' || first == '_' || (first == '-' && s.len() > 1))
        && s.chars().all(allowed)
        && !s.ends_with(':')
        && !s.contains(": ")
        && !keyword
        && !number_like
}

/// `# text` lines at `indent`, the text wrapped at about 96 columns.
pub(super) fn comment(out: &mut String, indent: usize, text: &str) {
    let pad = " ".repeat(indent);
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && pad.len() + 2 + line.len() + 1 + word.len() > 96 {
            out.push_str(&format!("{pad}# {line}\n"));
            line = String::from("  ");
        } else if !line.is_empty() && line != "  " {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&format!("{pad}# {line}\n"));
}

/// The text with the comments' wrapped lines joined, to search for a whole note.
#[cfg(test)]
pub(super) fn unwrapped(yaml: &str) -> String {
    let mut out = yaml.to_owned();
    for indent in [0, 2, 4, 6, 8] {
        out = out.replace(&format!("\n{}#   ", " ".repeat(indent)), " ");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_back_as_the_same_strings_in_block_and_flow_context() {
        for s in [
            "echo",
            "/bin/true",
            "banana",
            "0.0.0.0:8080",
            "-c",
            "--flag=$(AMX_LABEL_x)",
            "-",
            "",
            "yes",
            "No",
            "null",
            "~",
            "0800",
            "1e3",
            "0x1F",
            ".inf",
            "a: b",
            "key:",
            "#not a comment",
            "it's",
            r#"pod=~"^nginx-(?s:.*)""#,
            "echo \"grab a bucket and start bailing!!!\"",
            "line\nbreak",
            "tab\there",
            "[x]",
            "{x}",
            "a, b",
            "*alias",
            "&anchor",
            "!tag",
            "|",
            ">",
            "%x",
            "@x",
            "`x`",
            "ключ",
            " leading",
            "trailing ",
        ] {
            let block = format!("v: {}\n", scalar(s));
            let flow = format!("v: {}\n", flow_list(&[s, "z"]));
            let got: serde_json::Value = serde_saphyr::from_str(&block).unwrap();
            assert_eq!(got["v"], serde_json::json!(s), "block {block:?}");
            let got: serde_json::Value = serde_saphyr::from_str(&flow).unwrap();
            assert_eq!(got["v"], serde_json::json!([s, "z"]), "flow {flow:?}");
        }
    }

    #[test]
    fn tree_keeps_scalar_text_lines_and_expands_aliases() {
        let text = "a: 0800\nb: &x\n  - yes\n  - 'no'\nc: *x\n";
        let root = parse(text).unwrap().unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("{root:?}")
        };
        assert_eq!(entries[0].0, "a");
        assert_eq!(entries[0].2.as_scalar(), Some("0800"));
        let Value::Seq(items) = &entries[2].2.value else {
            panic!()
        };
        assert_eq!(items[0].as_bool(), Some(true));
        assert_eq!(items[1].as_bool(), None, "a quoted 'no' is a string");
        assert_eq!(entries[2].2.line, 5);
        assert_eq!(entries[1].2.line, 2, "a block list starts at its anchor");
    }

    #[test]
    fn syntax_errors_duplicates_and_bombs_are_refused_with_a_line() {
        for (text, want) in [
            ("a: [1, 2\n", "invalid YAML"),
            ("a: 1\na: 2\n", "duplicate key \"a\""),
            ("? [x]\n: 1\n", "a key must be a plain value"),
        ] {
            let (message, line) = parse(text).unwrap_err();
            assert!(message.contains(want), "{text:?}: {message}");
            assert!(line.is_some(), "{text:?}");
        }
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_owned()
            } else {
                format!("b{}", i - 1)
            };
            bomb.push_str(&format!(
                "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let (message, _) = parse(&bomb).unwrap_err();
        assert!(message.contains("more than"), "{message}");
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
    }

    #[test]
    fn comments_wrap_and_stay_comments() {
        let mut out = String::new();
        let text = "word ".repeat(40);
        comment(&mut out, 4, text.trim());
        assert!(out.lines().count() > 1, "{out}");
        for line in out.lines() {
            assert!(line.starts_with("    # "), "{line:?}");
            assert!(line.len() <= 100, "{line:?}");
        }
    }
}
