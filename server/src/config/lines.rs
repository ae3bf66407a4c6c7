//! Where each config path is in the YAML text, for error messages.
//!
//! Walks the parser's event stream (aliases are not expanded, so an alias bomb costs
//! nothing here) and records the line of every node under its path, spelled the way
//! `serde_path_to_error` spells paths: `rules[2].match[0]`.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

/// Config path → 1-based line.
#[derive(Debug, Default)]
pub(crate) struct Lines(HashMap<String, usize>);

enum Frame {
    Seq { path: String, next: usize },
    Map { path: String, key: Option<String> },
}

impl Lines {
    /// Maps every node of the first document in `text`. A YAML syntax error stops the walk
    /// early; the nodes seen so far keep their lines.
    pub(crate) fn of(text: &str) -> Self {
        let mut lines = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let line = span.start.line();
            match event {
                Event::Scalar(..)
                | Event::Alias(_)
                | Event::SequenceStart(..)
                | Event::MappingStart(..) => {
                    let path = match stack.last_mut() {
                        None => Some(String::new()),
                        Some(Frame::Map {
                            key: key @ None, ..
                        }) => {
                            // A mapping key: remember it; complex keys get no path.
                            *key = Some(match &event {
                                Event::Scalar(v, ..) => v.to_string(),
                                _ => String::from("?"),
                            });
                            if let Event::SequenceStart(..) | Event::MappingStart(..) = event {
                                // A complex key: its contents get paths under "?", never asked for.
                                stack.push(Frame::Map {
                                    path: "?".into(),
                                    key: Some("?".into()),
                                });
                            }
                            None
                        }
                        Some(Frame::Map {
                            path,
                            key: key @ Some(_),
                        }) => {
                            let k = key.take().unwrap_or_default();
                            Some(if path.is_empty() {
                                k
                            } else {
                                format!("{path}.{k}")
                            })
                        }
                        Some(Frame::Seq { path, next }) => {
                            *next += 1;
                            Some(format!("{path}[{}]", *next - 1))
                        }
                    };
                    if let Some(path) = path {
                        lines.entry(path.clone()).or_insert(line);
                        match event {
                            Event::SequenceStart(..) => stack.push(Frame::Seq { path, next: 0 }),
                            Event::MappingStart(..) => stack.push(Frame::Map { path, key: None }),
                            _ => {}
                        }
                    }
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        Self(lines)
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    pub(crate) fn line(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(line) = self.0.get(p) {
                return Some(*line);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_paths_like_serde_path_to_error() {
        let text = "defaults:\n  timeout: 5m\nrules:\n  - name: a\n    match:\n      - x=\"1\"\n      - y=~\"(\"\n  - name: b\n    match: [z=1]\n";
        let l = Lines::of(text);
        assert_eq!(l.line("defaults.timeout"), Some(2));
        assert_eq!(l.line("rules[0].name"), Some(4));
        assert_eq!(l.line("rules[0].match[1]"), Some(7));
        assert_eq!(l.line("rules[1].match[0]"), Some(9));
        assert_eq!(
            l.line("rules[1].action.process"),
            Some(8),
            "falls back to the rule"
        );
    }
}
