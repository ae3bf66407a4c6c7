//! What to do next, added to a config problem's message.
//!
//! serde says what it expected (`unknown field `mtch`, expected one of …`, `invalid type:
//! boolean `false`, expected a string`); this module adds the step that fixes it, in one
//! style: `did you mean `match`?`, `quote it: 'off'`, `write a list: match:
//! ['severity="critical"']`, `the config is empty: …`. Every problem of the config passes
//! through [`with_hint`] (from `Validator::problem`), whichever section reported it.
//!
//! It is not a second validator: it never finds a problem, only words one, and a message it
//! does not recognise is returned as it came.

use serde_json::Value;

/// `message`, reported at `path` (on `line` of `text`), with what to do next when known.
pub(super) fn with_hint(path: &str, message: String, text: &str, line: Option<usize>) -> String {
    if path.is_empty() && message.contains("expected struct RawTop") {
        return empty_or_not_a_mapping(&message);
    }
    let message = without_type_names(message);
    if let Some(hint) = did_you_mean(&message) {
        return format!("{message}; did you mean `{hint}`?");
    }
    if let Some(hint) = quote_it(&message, line.and_then(|l| text.lines().nth(l - 1))) {
        return format!("{message}: {hint}");
    }
    if let Some(hint) = list_of_matchers(path, &message, text) {
        return format!("{message}: {hint}");
    }
    message
}

/// `expected struct RawRule` names an internal type: say `expected a mapping` instead.
fn without_type_names(message: String) -> String {
    let Some(at) = message.find("struct Raw") else {
        return message;
    };
    let end = message[at + 7..]
        .find(|c: char| !c.is_ascii_alphanumeric())
        .map_or(message.len(), |e| at + 7 + e);
    format!(
        "{}a mapping (key: value){}",
        &message[..at],
        &message[end..]
    )
}

/// The whole document is not a mapping: empty (or only comments), or a list or a scalar.
fn empty_or_not_a_mapping(message: &str) -> String {
    let start = "start from examples/alertrun.yaml, or write `rules:` with one rule \
                 (name, match, action)";
    if message.contains("invalid type: null") || message.contains("invalid type: unit") {
        format!("the config is empty: {start}")
    } else {
        let got = message
            .strip_prefix("invalid type: ")
            .and_then(|m| m.split(", expected").next())
            .unwrap_or("something else");
        format!("the config must be a mapping with a `rules:` list, not a {got}: {start}")
    }
}

/// For `unknown field `x`, expected one of `a`, `b`` (or a variant): the known name closest
/// to `x`, when it is close enough to be a typo.
fn did_you_mean(message: &str) -> Option<String> {
    let rest = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))?;
    let (unknown, known) = rest.split_once('`')?;
    let known = known.split_once("expected")?.1;
    known
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|k| (strsim::damerau_levenshtein(unknown, k), k))
        .filter(|(d, k)| *d > 0 && *d <= (k.len().max(unknown.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_owned())
}

/// YAML 1.1 reads unquoted `off`, `on`, `yes`, `no` (and `true`, `false`) as booleans, and
/// a number as a number, where a string was meant.
fn quote_it(message: &str, line: Option<&str>) -> Option<String> {
    let rest = message.strip_prefix("invalid type: ")?;
    if !message.ends_with("expected a string") {
        return None;
    }
    if let Some(b) = rest.strip_prefix("boolean `") {
        let value = b.starts_with("true");
        const WORDS: [&str; 18] = [
            "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "n", "N", "no", "No", "NO",
            "off", "Off", "OFF", "false",
        ];
        let word = line.and_then(|l| {
            l.split(|c: char| c.is_whitespace() || ",[]{}:".contains(c))
                .find(|t| {
                    WORDS
                        .iter()
                        .position(|w| w == t)
                        .is_some_and(|i| (i < 9) == value)
                })
        });
        return Some(match word {
            Some(w) => format!("YAML reads an unquoted {w} as a boolean; quote it: '{w}'"),
            None => "YAML read a boolean (an unquoted yes, no, on, off); quote the value".into(),
        });
    }
    let number = ["integer `", "floating point `", "u64 `", "i64 `"]
        .iter()
        .find_map(|p| rest.strip_prefix(p))?;
    let number = number.split('`').next()?;
    Some(format!(
        "YAML reads {number} as a number; quote it: '{number}'"
    ))
}

/// `match:` written as a string or a map: the same matchers as a list.
fn list_of_matchers(path: &str, message: &str, text: &str) -> Option<String> {
    let key = path.rsplit('.').next()?;
    if !matches!(key, "match" | "match_annotations") || !message.contains("expected a sequence") {
        return None;
    }
    let doc: Value = serde_saphyr::from_str(text).ok()?;
    let items: Vec<String> = match value_at(&doc, path)? {
        Value::String(s) => vec![s.clone()],
        Value::Object(map) => map
            .iter()
            .map(|(name, v)| {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                format!("{name}={v:?}")
            })
            .collect(),
        _ => return None,
    };
    let quoted: Vec<String> = items
        .iter()
        .map(|i| format!("'{}'", i.replace('\'', "''")))
        .collect();
    Some(format!(
        "write a list of matchers (all must hold): {key}: [{}]",
        quoted.join(", ")
    ))
}

/// The node at a path such as `rules[2].match`.
pub(super) fn value_at<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    let mut node = doc;
    for part in path.split('.') {
        let (key, indexes) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            node = node.get(key)?;
        }
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            node = node.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_next_step() {
        let table = [
            (
                "a typo of a rule key",
                "rules[0].mtch",
                "unknown field `mtch`, expected one of `name`, `match`, `action`",
                "",
                "did you mean `match`?",
            ),
            (
                "a typo of a top-level key",
                "rulez",
                "unknown field `rulez`, expected one of `defaults`, `rules`, `server`",
                "",
                "did you mean `rules`?",
            ),
            (
                "an unquoted off as a rule name",
                "rules[0].name",
                "invalid type: boolean `false`, expected a string",
                "rules:\n  - name: off\n",
                "quote it: 'off'",
            ),
            (
                "an unquoted yes in an argv",
                "rules[0].action.process.command[2]",
                "invalid type: boolean `true`, expected a string",
                "rules:\n  - command: [echo, off, yes]\n",
                "quote it: 'yes'",
            ),
            (
                "a number as a rule name",
                "rules[0].name",
                "invalid type: integer `42`, expected a string",
                "",
                "quote it: '42'",
            ),
            (
                "a map-style match",
                "rules[0].match",
                "invalid type: map, expected a sequence",
                "rules:\n  - name: a\n    match: {severity: critical}\n",
                "match: ['severity=\"critical\"']",
            ),
            (
                "a string-style match",
                "rules[0].match",
                "invalid type: string \"x=~'a'\", expected a sequence",
                "rules:\n  - name: a\n    match: \"x=~'a'\"\n",
                "match: ['x=~''a''']",
            ),
            (
                "an empty config",
                "",
                "invalid type: null, expected struct RawTop",
                "",
                "the config is empty: start from examples/alertrun.yaml",
            ),
            (
                "a list for a config",
                "",
                "invalid type: sequence, expected struct RawTop",
                "",
                "must be a mapping with a `rules:` list, not a sequence",
            ),
        ];
        for (name, path, message, text, want) in table {
            let line = (!text.is_empty()).then_some(2);
            let got = with_hint(path, message.to_owned(), text, line);
            assert!(got.contains(want), "{name}: {got}");
        }
    }

    #[test]
    fn far_names_get_no_suggestion() {
        let m = "unknown field `colour`, expected one of `name`, `match`";
        assert_eq!(with_hint("rules[0].colour", m.to_owned(), "", None), m);
    }
}
