//! Label selectors as a list's `labelSelector` parameter writes them: requirements joined
//! by `,`, each `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists) or `!k`
//! (absent). `!=` and `notin` also match objects without the label, as the API's do.
//! Field selectors: `metadata.name` and `metadata.namespace` with `=`, `==`, `!=`.

use serde_json::Value;

use super::validation::{label_value, qualified_name};

#[derive(Debug)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    Absent,
}

/// One requirement: a key and what its value must be.
#[derive(Debug)]
pub(super) struct Requirement {
    key: String,
    op: Op,
}

/// Splits on the commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0_i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Parses a label selector; the error says why, as the API's `400` does.
pub(super) fn parse_labels(selector: &str) -> Result<Vec<Requirement>, String> {
    if selector.trim().is_empty() {
        return Ok(Vec::new());
    }
    split_top_level(selector)
        .into_iter()
        .map(|part| {
            let part = part.trim();
            let requirement = parse_requirement(part)?;
            if let Some(e) = qualified_name(&requirement.key).first() {
                return Err(format!(
                    "unable to parse requirement: key {:?}: {e}",
                    requirement.key
                ));
            }
            if let Op::In(values) | Op::NotIn(values) = &requirement.op {
                for v in values {
                    if let Some(e) = label_value(v).first() {
                        return Err(format!("unable to parse requirement: value {v:?}: {e}"));
                    }
                }
            }
            Ok(requirement)
        })
        .collect()
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let requirement = |key: &str, op| Requirement {
        key: key.trim().to_owned(),
        op,
    };
    if let Some(key) = part.strip_prefix('!') {
        return Ok(requirement(key, Op::Absent));
    }
    if let Some((head, rest)) = part.split_once('(') {
        let values = rest
            .strip_suffix(')')
            .ok_or_else(|| format!("unable to parse requirement: {part:?}: expected ')'"))?;
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_owned()).collect();
        let mut words = head.split_whitespace();
        let (Some(key), Some(op), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("unable to parse requirement: {part:?}"));
        };
        return match op {
            "in" => Ok(requirement(key, Op::In(values))),
            "notin" => Ok(requirement(key, Op::NotIn(values))),
            _ => Err(format!(
                "unable to parse requirement: unknown operator {op:?}"
            )),
        };
    }
    for (token, negated) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((key, value)) = part.split_once(token) {
            let values = vec![value.trim().to_owned()];
            let op = if negated {
                Op::NotIn(values)
            } else {
                Op::In(values)
            };
            return Ok(requirement(key, op));
        }
    }
    if part.contains(['<', '>', ' ']) {
        return Err(format!("unable to parse requirement: {part:?}"));
    }
    Ok(requirement(part, Op::Exists))
}

/// Whether an object with `labels` (an object, or null) meets every requirement.
pub(super) fn matches(requirements: &[Requirement], labels: &Value) -> bool {
    requirements.iter().all(|r| {
        let value = labels.get(&r.key).and_then(Value::as_str);
        match (&r.op, value) {
            (Op::In(values), Some(v)) => values.iter().any(|w| w == v),
            (Op::In(_), None) => false,
            (Op::NotIn(values), Some(v)) => !values.iter().any(|w| w == v),
            (Op::NotIn(_) | Op::Absent, None) => true,
            (Op::Exists, found) => found.is_some(),
            (Op::Absent, Some(_)) => false,
        }
    })
}

/// Parses a field selector over `metadata.name` and `metadata.namespace`: (field, value,
/// equal?) each.
pub(super) fn parse_fields(selector: &str) -> Result<Vec<(String, String, bool)>, String> {
    if selector.trim().is_empty() {
        return Ok(Vec::new());
    }
    selector
        .split(',')
        .map(|part| {
            let (field, value, equal) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, true)
            } else {
                return Err(format!(
                    "invalid selector: '{selector}'; can't understand '{part}'"
                ));
            };
            let field = field.trim();
            if !matches!(field, "metadata.name" | "metadata.namespace") {
                return Err(format!("field label not supported: {field}"));
            }
            Ok((field.to_owned(), value.trim().to_owned(), equal))
        })
        .collect()
}

/// Whether `object` meets every field requirement.
pub(super) fn matches_fields(requirements: &[(String, String, bool)], object: &Value) -> bool {
    requirements.iter().all(|(field, value, equal)| {
        let key = field.trim_start_matches("metadata.");
        let actual = object["metadata"][key].as_str().unwrap_or_default();
        (actual == value) == *equal
    })
}
