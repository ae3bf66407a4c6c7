//! `alertrun check --print`: the config as it loads, written back as a config that loads
//! and means the same.
//!
//! What it is: the document as written, with each rule's matchers in canonical form and
//! the settings a rule takes from `defaults` or a built-in default (`on`, `mode`,
//! `env_style`, `timeout`) written out, keys in a fixed order (a rule's name first).
//! Feeding the output back to `alertrun check` gives the same rules, and printing it
//! again gives the same text (the round-trip test over `examples/` holds both).
//!
//! What it is not: a summary built from the validated types. Those lose what the file
//! said (a Job's whole manifest, where a secret comes from) and would need a writer per
//! setting kept in step with every reader; the document keeps it all. Comments are not
//! kept (the YAML parser drops them). It prints nothing the file does not say: a secret
//! named by file or variable stays a name, never its value (a value written into the file
//! itself, such as an inline Slack URL, is printed as written).

use std::collections::BTreeMap;

use alert_core::env::EnvStyle;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};

use super::{Config, ConfigError, Problem};

/// The top-level keys in the order printed; others follow in name order.
const TOP_ORDER: &[&str] = &[
    "server",
    "alertmanager",
    "notify",
    "defaults",
    "time_intervals",
    "rules",
];

/// A rule's keys in the order printed; others follow in name order, `action` last.
const RULE_ORDER: &[&str] = &[
    "name",
    "description",
    "enabled",
    "dry_run",
    "match",
    "match_annotations",
    "receivers",
    "on",
    "mode",
    "target",
    "env_style",
    "timeout",
    "env",
    "secret_env",
];

/// Validates `text` and prints it as a config that loads and means the same (see the
/// module docs).
///
/// ```
/// let text = "rules:\n  - name: restart\n    match: ['severity = \"critical\"']\n    \
///             action: {process: {command: [/bin/true]}}\n";
/// let printed = alertrun::canonical_config(text)?;
/// assert!(printed.contains("- severity=\"critical\""), "{printed}");
/// assert!(printed.contains("timeout: 5m"), "{printed}");
/// assert_eq!(alertrun::canonical_config(&printed)?, printed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`ConfigError`] with every problem of `text`, as [`Config::from_yaml`] reports them.
pub fn canonical_config(text: &str) -> Result<String, ConfigError> {
    let config = Config::from_yaml(text)?;
    let problem = |message: String| ConfigError {
        problems: vec![Problem {
            path: String::new(),
            line: None,
            message,
        }],
    };
    // `from_yaml` parsed the same text, so this cannot fail; report it rather than panic.
    let mut doc: Value = serde_saphyr::from_str(text).map_err(|e| problem(e.to_string()))?;
    let rules = doc
        .get_mut("rules")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| problem("the config has no rules list".to_owned()))?;
    for (raw, rule) in rules.iter_mut().zip(config.rules().rules()) {
        let Some(raw) = raw.as_object_mut() else {
            continue;
        };
        let strings = |m: &alert_match::Matchers| -> Vec<String> {
            m.iter().map(ToString::to_string).collect()
        };
        raw.insert("match".to_owned(), json!(strings(&rule.matchers)));
        if !rule.annotation_matchers.is_empty() {
            let annotations = strings(&rule.annotation_matchers);
            raw.insert("match_annotations".to_owned(), json!(annotations));
        }
        raw.insert("on".to_owned(), json!(rule.on.as_str()));
        raw.insert("mode".to_owned(), json!(rule.mode.as_str()));
        raw.insert("env_style".to_owned(), json!(env_style(rule.env_style)));
        let timeout = humantime::format_duration(rule.timeout).to_string();
        raw.insert("timeout".to_owned(), json!(timeout));
    }
    let ordered = Ordered::top(&doc);
    serde_saphyr::to_string(&ordered).map_err(|e| problem(format!("cannot print: {e}")))
}

/// The config's spelling of an env style (`RawEnvStyle`).
fn env_style(style: EnvStyle) -> &'static str {
    match style {
        EnvStyle::AmExecutor => "am-executor",
        EnvStyle::Bailer => "bailer",
        _ => "native",
    }
}

/// A value printed with the keys of its maps in a chosen order.
enum Ordered<'a> {
    /// A map: its entries, in print order.
    Map(Vec<(&'a str, Ordered<'a>)>),
    List(Vec<Ordered<'a>>),
    Scalar(&'a Value),
}

impl<'a> Ordered<'a> {
    fn top(doc: &'a Value) -> Self {
        Self::map(doc, TOP_ORDER, &|key, value| match (key, value) {
            ("rules", Value::Array(rules)) => Self::List(
                rules
                    .iter()
                    .map(|r| Self::map(r, RULE_ORDER, &|_, v| Self::plain(v)))
                    .collect(),
            ),
            (_, v) => Self::plain(v),
        })
    }

    /// `value` with `first` keys first (when it is a map), each entry made by `entry`.
    fn map(value: &'a Value, first: &[&str], entry: &dyn Fn(&str, &'a Value) -> Self) -> Self {
        let Value::Object(map) = value else {
            return Self::plain(value);
        };
        let rank = |k: &str| {
            first
                .iter()
                .position(|f| *f == k)
                .unwrap_or(if k == "action" {
                    usize::MAX
                } else {
                    first.len()
                })
        };
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
        Self::Map(
            keys.into_iter()
                .map(|k| (k.as_str(), entry(k, &map[k])))
                .collect(),
        )
    }

    /// `value` with its maps' keys in name order.
    fn plain(value: &'a Value) -> Self {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, &Value> = map.iter().collect();
                Self::Map(
                    sorted
                        .into_iter()
                        .map(|(k, v)| (k.as_str(), Self::plain(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Self::List(items.iter().map(Self::plain).collect()),
            scalar => Self::Scalar(scalar),
        }
    }
}

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Self::List(items) => serializer.collect_seq(items),
            Self::Scalar(v) => v.serialize(serializer),
        }
    }
}
