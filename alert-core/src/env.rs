//! The env contract: the variables every executor hands an action.
//!
//! This module is the one place that spells the variable names. Every backend (local
//! process, Kubernetes Job) passes exactly these variables, so an action script works the
//! same wherever it runs. Values are passed raw (never through a shell); a value that
//! cannot be passed is reported as an [`EnvProblem`] naming the variable.
//!
//! # Styles
//!
//! A rule picks one [`EnvStyle`]:
//!
//! ## `native` (the default)
//!
//! Per alert (a rule with `mode: per-alert`):
//!
//! | variable | value |
//! |---|---|
//! | `ALERTRUN_RULE` | the rule's name |
//! | `ALERTRUN_STATUS` | `firing` or `resolved` |
//! | `ALERTRUN_LABEL_<name>` | every label (name encoded as below) |
//! | `ALERTRUN_ANNOTATION_<name>` | every annotation |
//! | `ALERTRUN_FINGERPRINT` | the 16-hex-digit fingerprint |
//! | `ALERTRUN_EPISODE` | `<fingerprint>@<startsAt in UTC, ns>`, the dedupe key |
//! | `ALERTRUN_STARTS_AT`, `ALERTRUN_ENDS_AT` | RFC 3339 as Alertmanager sent them; `ENDS_AT` is empty while firing |
//! | `ALERTRUN_GENERATOR_URL` | the alert's generator URL |
//! | `ALERTRUN_RECEIVER`, `ALERTRUN_EXTERNAL_URL`, `ALERTRUN_GROUP_KEY` | from the notification |
//! | `ALERTRUN_ALERT_JSON` | the alert as JSON |
//!
//! Per group (`mode: per-group`): `ALERTRUN_RULE`, `ALERTRUN_STATUS` (the notification's),
//! `ALERTRUN_RECEIVER`, `ALERTRUN_EXTERNAL_URL`, `ALERTRUN_GROUP_KEY`,
//! `ALERTRUN_ALERT_COUNT`, `ALERTRUN_FIRING_COUNT`, `ALERTRUN_RESOLVED_COUNT`,
//! `ALERTRUN_TRUNCATED_ALERTS`, `ALERTRUN_GROUP_LABEL_<name>`, `ALERTRUN_COMMON_LABEL_<name>`,
//! `ALERTRUN_COMMON_ANNOTATION_<name>` and `ALERTRUN_GROUP_JSON` (the whole notification).
//!
//! **Label names to env names.** Prometheus 3 allows any UTF-8 label name, so names are
//! encoded reversibly (after prometheus/common's value-encoding escape): a name matching
//! `[A-Za-z_][A-Za-z0-9_]*` that does not start with `U__` is kept as it is
//! (`ALERTRUN_LABEL_alertname`); any other name becomes `U__` followed by each character:
//! `_` as `__`, ASCII letters and digits as themselves, anything else as `_<hex code point>_`
//! (`service.name` → `ALERTRUN_LABEL_U__service_2e_name`). Distinct names never collide,
//! and every name is a valid POSIX and Kubernetes variable name.
//!
//! ## `am-executor` (compatible with prometheus-am-executor)
//!
//! Per group: `AMX_RECEIVER`, `AMX_STATUS`, `AMX_EXTERNAL_URL`, `AMX_ALERT_LEN`,
//! `AMX_LABEL_<name>` (commonLabels), `AMX_GLABEL_<name>` (groupLabels),
//! `AMX_ANNOTATION_<name>` (commonAnnotations), and for each alert n = 1, 2, …:
//! `AMX_ALERT_<n>_STATUS`, `AMX_ALERT_<n>_START` and `AMX_ALERT_<n>_END` (Unix seconds;
//! `END` is `0` while firing), `AMX_ALERT_<n>_URL`, `AMX_ALERT_<n>_FINGERPRINT`,
//! `AMX_ALERT_<n>_LABEL_<name>`, `AMX_ALERT_<n>_ANNOTATION_<name>`. Names are used verbatim,
//! not upper-cased. Used by a per-alert rule, the alert is a group of one: its own labels
//! and annotations are the common ones.
//!
//! ## `bailer` (compatible with bailer)
//!
//! Per alert only: `ALERT_<LABEL>` for every label, the name upper-cased with `-` turned
//! into `_`. Two labels that map to the same name (`service-name` and `service_name`) are
//! reported as a collision, never silently overwritten.
//!
//! # Values
//!
//! Values are raw strings. A value holding a NUL byte cannot be passed to a process, and a
//! variable longer than Linux's 128 KiB limit for one string cannot either: both are
//! problems for that variable, never a crash and never a silent truncation.

use std::collections::BTreeMap;
use std::fmt;

use crate::{Alert, AlertStatus, LabelSet, Notification};

/// `ALERTRUN_`: prefix of every native-style variable.
pub const NATIVE_PREFIX: &str = "ALERTRUN_";
/// `ALERTRUN_RULE`: the rule's name.
pub const RULE: &str = "ALERTRUN_RULE";
/// `ALERTRUN_STATUS`: `firing` or `resolved`.
pub const STATUS: &str = "ALERTRUN_STATUS";
/// `ALERTRUN_LABEL_`: prefix of one variable per label.
pub const LABEL_PREFIX: &str = "ALERTRUN_LABEL_";
/// `ALERTRUN_ANNOTATION_`: prefix of one variable per annotation.
pub const ANNOTATION_PREFIX: &str = "ALERTRUN_ANNOTATION_";
/// `ALERTRUN_FINGERPRINT`: the alert's fingerprint.
pub const FINGERPRINT: &str = "ALERTRUN_FINGERPRINT";
/// `ALERTRUN_EPISODE`: the alert's episode key.
pub const EPISODE: &str = "ALERTRUN_EPISODE";
/// `ALERTRUN_STARTS_AT`: when the episode started.
pub const STARTS_AT: &str = "ALERTRUN_STARTS_AT";
/// `ALERTRUN_ENDS_AT`: when the alert ended, empty while firing.
pub const ENDS_AT: &str = "ALERTRUN_ENDS_AT";
/// `ALERTRUN_GENERATOR_URL`: the alert's generator URL.
pub const GENERATOR_URL: &str = "ALERTRUN_GENERATOR_URL";
/// `ALERTRUN_RECEIVER`: the notification's receiver.
pub const RECEIVER: &str = "ALERTRUN_RECEIVER";
/// `ALERTRUN_EXTERNAL_URL`: Alertmanager's external URL.
pub const EXTERNAL_URL: &str = "ALERTRUN_EXTERNAL_URL";
/// `ALERTRUN_GROUP_KEY`: the notification's group key.
pub const GROUP_KEY: &str = "ALERTRUN_GROUP_KEY";
/// `ALERTRUN_ALERT_JSON`: the alert as JSON.
pub const ALERT_JSON: &str = "ALERTRUN_ALERT_JSON";
/// `ALERTRUN_ALERT_COUNT`: alerts in the notification (group form).
pub const ALERT_COUNT: &str = "ALERTRUN_ALERT_COUNT";
/// `ALERTRUN_FIRING_COUNT`: firing alerts in the notification (group form).
pub const FIRING_COUNT: &str = "ALERTRUN_FIRING_COUNT";
/// `ALERTRUN_RESOLVED_COUNT`: resolved alerts in the notification (group form).
pub const RESOLVED_COUNT: &str = "ALERTRUN_RESOLVED_COUNT";
/// `ALERTRUN_TRUNCATED_ALERTS`: alerts `max_alerts` cut (group form).
pub const TRUNCATED_ALERTS: &str = "ALERTRUN_TRUNCATED_ALERTS";
/// `ALERTRUN_GROUP_LABEL_`: prefix of one variable per group label (group form).
pub const GROUP_LABEL_PREFIX: &str = "ALERTRUN_GROUP_LABEL_";
/// `ALERTRUN_COMMON_LABEL_`: prefix of one variable per common label (group form).
pub const COMMON_LABEL_PREFIX: &str = "ALERTRUN_COMMON_LABEL_";
/// `ALERTRUN_COMMON_ANNOTATION_`: prefix of one variable per common annotation (group form).
pub const COMMON_ANNOTATION_PREFIX: &str = "ALERTRUN_COMMON_ANNOTATION_";
/// `ALERTRUN_GROUP_JSON`: the whole notification as JSON (group form).
pub const GROUP_JSON: &str = "ALERTRUN_GROUP_JSON";

/// `AMX_`: prefix of every am-executor-style variable.
pub const AMX_PREFIX: &str = "AMX_";
/// `ALERT_`: prefix of every bailer-style variable.
pub const BAILER_PREFIX: &str = "ALERT_";

/// The longest `NAME=value` string Linux passes to a process (`MAX_ARG_STRLEN`, 32 pages).
pub const MAX_VAR_BYTES: usize = 128 * 1024;

/// One environment variable handed to an action.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value, raw.
    pub value: String,
    /// Whether the value must never be logged or shown.
    pub secret: bool,
}

impl EnvVar {
    /// A variable whose value may be shown.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            secret: false,
        }
    }

    /// The value, or `<redacted>` for a secret.
    pub fn shown_value(&self) -> &str {
        if self.secret {
            "<redacted>"
        } else {
            &self.value
        }
    }
}

impl fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.name, self.shown_value())
    }
}

/// Which set of variable names a rule's action receives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EnvStyle {
    /// alertrun's own `ALERTRUN_*` variables.
    #[default]
    Native,
    /// prometheus-am-executor's `AMX_*` variables.
    AmExecutor,
    /// bailer's `ALERT_<LABEL>` variables (per alert only).
    Bailer,
}

/// A variable that could not be passed, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvProblem {
    /// The value holds a NUL byte, which no process environment can carry.
    #[error("{name}: value from {origin} contains a NUL byte at byte {at}")]
    Nul {
        /// The variable.
        name: String,
        /// Where the value came from, e.g. `label "pod"`.
        origin: String,
        /// Byte offset of the first NUL.
        at: usize,
    },
    /// `NAME=value` is longer than [`MAX_VAR_BYTES`].
    #[error("{name}: value from {origin} is {len} bytes; a variable may hold at most {max}")]
    TooLong {
        /// The variable.
        name: String,
        /// Where the value came from.
        origin: String,
        /// Bytes of `NAME=value`.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The name cannot be an environment variable name (it holds `=` or NUL).
    #[error("{name:?}: from {origin}, is not a valid variable name (contains '=' or NUL)")]
    InvalidName {
        /// The name.
        name: String,
        /// Where it came from.
        origin: String,
    },
    /// Two sources map to the same variable name.
    #[error("{name}: both {first} and {second} map to this name; neither is passed")]
    Collision {
        /// The variable.
        name: String,
        /// The first source.
        first: String,
        /// The second source.
        second: String,
    },
    /// The style cannot render this form (bailer has no per-group form).
    #[error("the {style} env style has no per-group form")]
    NoGroupForm {
        /// The style's name.
        style: &'static str,
    },
}

/// The rendered variables, and the ones that could not be passed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    /// The variables, in a stable order.
    pub vars: Vec<EnvVar>,
    /// Variables left out, each with the reason.
    pub problems: Vec<EnvProblem>,
}

/// At least one variable could not be passed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot pass the alert to the action: {}", list(.0))]
pub struct EnvError(pub Vec<EnvProblem>);

fn list(problems: &[EnvProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Env {
    /// The variables, or every problem when there is any: an action must not run with a
    /// variable silently missing.
    ///
    /// # Errors
    /// [`EnvError`] listing every problem.
    pub fn into_result(self) -> Result<Vec<EnvVar>, EnvError> {
        if self.problems.is_empty() {
            Ok(self.vars)
        } else {
            Err(EnvError(self.problems))
        }
    }

    /// The value of a variable, if rendered.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.as_str())
    }
}

/// What the contract needs besides the alert: the rule and the notification it came in.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The rule's name.
    pub rule: &'a str,
    /// The notification.
    pub notification: &'a Notification,
}

/// Renders the per-alert variables of `style` for one alert of `ctx.notification`.
pub fn alert_env(ctx: Context<'_>, alert: &Alert, style: EnvStyle) -> Env {
    let mut b = Builder::default();
    match style {
        EnvStyle::Native => native_alert(&mut b, ctx, alert),
        EnvStyle::AmExecutor => {
            let n = ctx.notification;
            amx_group(
                &mut b,
                n,
                &alert.labels,
                &alert.annotations,
                std::slice::from_ref(alert),
            );
        }
        EnvStyle::Bailer => {
            for (name, value) in &alert.labels {
                let var = format!("{BAILER_PREFIX}{}", name.to_uppercase().replace('-', "_"));
                b.push(var, value, || format!("label {name:?}"));
            }
        }
    }
    b.finish()
}

/// Renders the per-group variables of `style` for a whole notification.
pub fn group_env(ctx: Context<'_>, style: EnvStyle) -> Env {
    let n = ctx.notification;
    let mut b = Builder::default();
    match style {
        EnvStyle::Native => native_group(&mut b, ctx),
        EnvStyle::AmExecutor => {
            amx_group(
                &mut b,
                n,
                &n.common_labels,
                &n.common_annotations,
                &n.alerts,
            );
        }
        EnvStyle::Bailer => b.problems.push(EnvProblem::NoGroupForm { style: "bailer" }),
    }
    b.finish()
}

/// The env name suffix for a label or annotation name (see the module docs).
///
/// ```
/// use alert_core::env::encode_name;
/// assert_eq!(encode_name("alertname"), "alertname");
/// assert_eq!(encode_name("service.name"), "U__service_2e_name");
/// assert_eq!(encode_name("U__x"), "U__U____x");
/// assert_eq!(encode_name("é"), "U___e9_");
/// ```
pub fn encode_name(name: &str) -> String {
    if is_portable_name(name) && !name.starts_with("U__") {
        return name.to_string();
    }
    let mut out = String::from("U__");
    for c in name.chars() {
        match c {
            '_' => out.push_str("__"),
            c if c.is_ascii_alphanumeric() => out.push(c),
            c => out.push_str(&format!("_{:x}_", u32::from(c))),
        }
    }
    out
}

/// Whether `name` is a portable variable name, `[A-Za-z_][A-Za-z0-9_]*` (also Prometheus'
/// legacy label-name rule), usable from any shell and by Kubernetes.
pub fn is_portable_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
}

fn native_common(b: &mut Builder, ctx: Context<'_>, status: AlertStatus) {
    let n = ctx.notification;
    b.push(RULE.into(), ctx.rule, || "the rule name".into());
    b.push(STATUS.into(), status.as_str(), || "the status".into());
    b.push(RECEIVER.into(), &n.receiver, || "receiver".into());
    b.push(EXTERNAL_URL.into(), &n.external_url, || {
        "externalURL".into()
    });
    b.push(GROUP_KEY.into(), &n.group_key, || "groupKey".into());
}

fn native_alert(b: &mut Builder, ctx: Context<'_>, alert: &Alert) {
    native_common(b, ctx, alert.status);
    b.push(FINGERPRINT.into(), &alert.fingerprint.to_string(), || {
        "fingerprint".into()
    });
    b.push(EPISODE.into(), &alert.episode().key(), || {
        "the episode".into()
    });
    b.push(STARTS_AT.into(), &alert.starts_at.to_string(), || {
        "startsAt".into()
    });
    let ends = alert.ends_at.map(|t| t.to_string()).unwrap_or_default();
    b.push(ENDS_AT.into(), &ends, || "endsAt".into());
    b.push(GENERATOR_URL.into(), &alert.generator_url, || {
        "generatorURL".into()
    });
    b.map(LABEL_PREFIX, &alert.labels, "label", encode_name);
    b.map(
        ANNOTATION_PREFIX,
        &alert.annotations,
        "annotation",
        encode_name,
    );
    b.push(ALERT_JSON.into(), &to_json(alert), || "the alert".into());
}

fn native_group(b: &mut Builder, ctx: Context<'_>) {
    let n = ctx.notification;
    native_common(b, ctx, n.status);
    let firing = n.alerts_with_status(AlertStatus::Firing).count();
    b.push(ALERT_COUNT.into(), &n.alerts.len().to_string(), || {
        "alerts".into()
    });
    b.push(FIRING_COUNT.into(), &firing.to_string(), || "alerts".into());
    let resolved = n.alerts.len() - firing;
    b.push(RESOLVED_COUNT.into(), &resolved.to_string(), || {
        "alerts".into()
    });
    let truncated = n.truncated_alerts.to_string();
    b.push(TRUNCATED_ALERTS.into(), &truncated, || {
        "truncatedAlerts".into()
    });
    b.map(
        GROUP_LABEL_PREFIX,
        &n.group_labels,
        "group label",
        encode_name,
    );
    b.map(
        COMMON_LABEL_PREFIX,
        &n.common_labels,
        "common label",
        encode_name,
    );
    b.map(
        COMMON_ANNOTATION_PREFIX,
        &n.common_annotations,
        "common annotation",
        encode_name,
    );
    b.push(GROUP_JSON.into(), &to_json(n), || "the notification".into());
}

fn amx_group(
    b: &mut Builder,
    n: &Notification,
    common_labels: &LabelSet,
    common_annotations: &LabelSet,
    alerts: &[Alert],
) {
    let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
        AlertStatus::Firing
    } else {
        AlertStatus::Resolved
    };
    let verbatim = |s: &str| s.to_string();
    b.push("AMX_RECEIVER".into(), &n.receiver, || "receiver".into());
    b.push("AMX_STATUS".into(), status.as_str(), || "the status".into());
    b.push("AMX_EXTERNAL_URL".into(), &n.external_url, || {
        "externalURL".into()
    });
    b.push("AMX_ALERT_LEN".into(), &alerts.len().to_string(), || {
        "alerts".into()
    });
    b.map("AMX_LABEL_", common_labels, "common label", verbatim);
    b.map("AMX_GLABEL_", &n.group_labels, "group label", verbatim);
    b.map(
        "AMX_ANNOTATION_",
        common_annotations,
        "common annotation",
        verbatim,
    );
    for (i, a) in alerts.iter().enumerate() {
        let p = format!("AMX_ALERT_{}_", i + 1);
        let end = a.ends_at.map_or(0, |t| t.unix_seconds()).to_string();
        b.push(format!("{p}STATUS"), a.status.as_str(), || {
            "alert status".into()
        });
        b.push(
            format!("{p}START"),
            &a.starts_at.unix_seconds().to_string(),
            || "startsAt".into(),
        );
        b.push(format!("{p}END"), &end, || "endsAt".into());
        b.push(format!("{p}URL"), &a.generator_url, || {
            "generatorURL".into()
        });
        b.push(
            format!("{p}FINGERPRINT"),
            &a.fingerprint.to_string(),
            || "fingerprint".into(),
        );
        b.map(&format!("{p}LABEL_"), &a.labels, "label", verbatim);
        b.map(
            &format!("{p}ANNOTATION_"),
            &a.annotations,
            "annotation",
            verbatim,
        );
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serialising the model cannot fail: every map has string keys.
    serde_json::to_string(v).unwrap_or_default()
}

/// Collects variables, refusing NULs, over-long values, bad names and collisions.
#[derive(Default)]
struct Builder {
    vars: Vec<EnvVar>,
    /// Variable name → where its value came from, to report collisions.
    sources: BTreeMap<String, String>,
    problems: Vec<EnvProblem>,
    collided: Vec<String>,
}

impl Builder {
    fn map(&mut self, prefix: &str, map: &LabelSet, what: &str, encode: impl Fn(&str) -> String) {
        for (name, value) in map {
            self.push(format!("{prefix}{}", encode(name)), value, || {
                format!("{what} {name:?}")
            });
        }
    }

    fn push(&mut self, name: String, value: &str, source: impl FnOnce() -> String) {
        let source = source();
        if name.contains(['=', '\0']) {
            self.problems.push(EnvProblem::InvalidName {
                name,
                origin: source,
            });
            return;
        }
        if let Some(first) = self.sources.get(&name) {
            let first = first.clone();
            self.problems.push(EnvProblem::Collision {
                name: name.clone(),
                first,
                second: source,
            });
            self.collided.push(name);
            return;
        }
        self.sources.insert(name.clone(), source.clone());
        if let Some(at) = value.find('\0') {
            self.problems.push(EnvProblem::Nul {
                name,
                origin: source,
                at,
            });
            return;
        }
        let len = name.len() + 1 + value.len();
        if len >= MAX_VAR_BYTES {
            self.problems.push(EnvProblem::TooLong {
                name,
                origin: source,
                len,
                max: MAX_VAR_BYTES - 1,
            });
            return;
        }
        self.vars.push(EnvVar::new(name, value));
    }

    fn finish(mut self) -> Env {
        // A collided name is passed for neither source.
        self.vars.retain(|v| !self.collided.contains(&v.name));
        Env {
            vars: self.vars,
            problems: self.problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BODY: &str = r#"{"version":"4","status":"firing","receiver":"remediate",
      "externalURL":"http://am:9093","groupKey":"{}:{alertname=\"DiskFull\"}","truncatedAlerts":1,
      "groupLabels":{"alertname":"DiskFull"},
      "commonLabels":{"alertname":"DiskFull","job":"node"},
      "commonAnnotations":{"runbook":"r"},
      "alerts":[
       {"status":"firing","labels":{"alertname":"DiskFull","job":"node","instance":"n1","service.name":"api"},
        "annotations":{"summary":"full","runbook":"r"},"startsAt":"2024-05-01T12:00:00+02:00",
        "endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom/g","fingerprint":"0000000000000001"},
       {"status":"resolved","labels":{"alertname":"DiskFull","job":"node","instance":"n2"},
        "annotations":{"runbook":"r"},"startsAt":"2024-05-01T10:00:00Z",
        "endsAt":"2024-05-01T10:05:00.5Z","generatorURL":"","fingerprint":"0000000000000002"}]}"#;

    fn notification() -> Notification {
        Notification::from_json(BODY.as_bytes()).unwrap()
    }

    fn ctx(n: &Notification) -> Context<'_> {
        Context {
            rule: "clean-disk",
            notification: n,
        }
    }

    #[test]
    fn native_alert_env_has_the_documented_variables() {
        let n = notification();
        let env = alert_env(ctx(&n), &n.alerts[0], EnvStyle::Native);
        assert!(env.problems.is_empty(), "{:?}", env.problems);
        for (name, value) in [
            ("ALERTRUN_RULE", "clean-disk"),
            ("ALERTRUN_STATUS", "firing"),
            ("ALERTRUN_LABEL_alertname", "DiskFull"),
            ("ALERTRUN_LABEL_instance", "n1"),
            ("ALERTRUN_LABEL_U__service_2e_name", "api"),
            ("ALERTRUN_ANNOTATION_summary", "full"),
            ("ALERTRUN_FINGERPRINT", "0000000000000001"),
            (
                "ALERTRUN_EPISODE",
                "0000000000000001@2024-05-01T10:00:00.000000000Z",
            ),
            ("ALERTRUN_STARTS_AT", "2024-05-01T12:00:00+02:00"),
            ("ALERTRUN_ENDS_AT", ""),
            ("ALERTRUN_GENERATOR_URL", "http://prom/g"),
            ("ALERTRUN_RECEIVER", "remediate"),
            ("ALERTRUN_EXTERNAL_URL", "http://am:9093"),
            ("ALERTRUN_GROUP_KEY", "{}:{alertname=\"DiskFull\"}"),
        ] {
            assert_eq!(env.get(name), Some(value), "{name}");
        }
        let json: serde_json::Value =
            serde_json::from_str(env.get("ALERTRUN_ALERT_JSON").unwrap()).unwrap();
        assert_eq!(json["labels"]["service.name"], "api");
        assert_eq!(json["endsAt"], "0001-01-01T00:00:00Z");
    }

    #[test]
    fn resolved_alert_has_an_end() {
        let n = notification();
        let env = alert_env(ctx(&n), &n.alerts[1], EnvStyle::Native);
        assert_eq!(env.get("ALERTRUN_STATUS"), Some("resolved"));
        assert_eq!(env.get("ALERTRUN_ENDS_AT"), Some("2024-05-01T10:05:00.5Z"));
    }

    #[test]
    fn native_group_env_describes_the_notification() {
        let n = notification();
        let env = group_env(ctx(&n), EnvStyle::Native);
        assert!(env.problems.is_empty());
        for (name, value) in [
            ("ALERTRUN_STATUS", "firing"),
            ("ALERTRUN_ALERT_COUNT", "2"),
            ("ALERTRUN_FIRING_COUNT", "1"),
            ("ALERTRUN_RESOLVED_COUNT", "1"),
            ("ALERTRUN_TRUNCATED_ALERTS", "1"),
            ("ALERTRUN_GROUP_LABEL_alertname", "DiskFull"),
            ("ALERTRUN_COMMON_LABEL_job", "node"),
            ("ALERTRUN_COMMON_ANNOTATION_runbook", "r"),
        ] {
            assert_eq!(env.get(name), Some(value), "{name}");
        }
        let json: serde_json::Value =
            serde_json::from_str(env.get("ALERTRUN_GROUP_JSON").unwrap()).unwrap();
        assert_eq!(json["alerts"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn am_executor_group_env_matches_prometheus_am_executor() {
        let n = notification();
        let env = group_env(ctx(&n), EnvStyle::AmExecutor);
        assert!(env.problems.is_empty(), "{:?}", env.problems);
        for (name, value) in [
            ("AMX_RECEIVER", "remediate"),
            ("AMX_STATUS", "firing"),
            ("AMX_EXTERNAL_URL", "http://am:9093"),
            ("AMX_ALERT_LEN", "2"),
            ("AMX_LABEL_job", "node"),
            ("AMX_GLABEL_alertname", "DiskFull"),
            ("AMX_ANNOTATION_runbook", "r"),
            ("AMX_ALERT_1_STATUS", "firing"),
            ("AMX_ALERT_1_START", "1714557600"),
            ("AMX_ALERT_1_END", "0"),
            ("AMX_ALERT_1_URL", "http://prom/g"),
            ("AMX_ALERT_1_FINGERPRINT", "0000000000000001"),
            ("AMX_ALERT_1_LABEL_service.name", "api"),
            ("AMX_ALERT_1_ANNOTATION_summary", "full"),
            ("AMX_ALERT_2_STATUS", "resolved"),
            ("AMX_ALERT_2_END", "1714557900"),
        ] {
            assert_eq!(env.get(name), Some(value), "{name}");
        }
    }

    #[test]
    fn am_executor_per_alert_is_a_group_of_one() {
        let n = notification();
        let env = alert_env(ctx(&n), &n.alerts[1], EnvStyle::AmExecutor);
        assert_eq!(env.get("AMX_ALERT_LEN"), Some("1"));
        assert_eq!(env.get("AMX_STATUS"), Some("resolved"));
        assert_eq!(env.get("AMX_LABEL_instance"), Some("n2"));
        assert_eq!(env.get("AMX_ALERT_1_LABEL_instance"), Some("n2"));
        assert_eq!(env.get("AMX_ALERT_2_STATUS"), None);
    }

    #[test]
    fn bailer_upper_cases_and_reports_collisions() {
        let body = r#"{"version":"4","status":"firing","alerts":[{"status":"firing",
          "labels":{"alertname":"X","pod-name":"a","pod_name":"b","namespace":"ns"},
          "startsAt":"2026-01-01T00:00:00Z"}]}"#;
        let n = Notification::from_json(body.as_bytes()).unwrap();
        let env = alert_env(ctx(&n), &n.alerts[0], EnvStyle::Bailer);
        assert_eq!(env.get("ALERT_ALERTNAME"), Some("X"));
        assert_eq!(env.get("ALERT_NAMESPACE"), Some("ns"));
        assert_eq!(
            env.get("ALERT_POD_NAME"),
            None,
            "a collided name is passed for neither"
        );
        assert_eq!(
            env.problems,
            vec![EnvProblem::Collision {
                name: "ALERT_POD_NAME".into(),
                first: "label \"pod-name\"".into(),
                second: "label \"pod_name\"".into(),
            }]
        );
        let err = env.into_result().unwrap_err().to_string();
        assert!(
            err.contains("ALERT_POD_NAME: both label \"pod-name\" and label \"pod_name\""),
            "{err}"
        );
    }

    #[test]
    fn bailer_has_no_group_form() {
        let n = notification();
        let env = group_env(ctx(&n), EnvStyle::Bailer);
        assert_eq!(
            env.problems,
            vec![EnvProblem::NoGroupForm { style: "bailer" }]
        );
    }

    #[test]
    fn nul_in_a_value_is_an_error_for_that_variable_only() {
        let body = r#"{"version":"4","status":"firing","alerts":[{"status":"firing",
          "labels":{"alertname":"X","pod":"a\u0000b"},"startsAt":"2026-01-01T00:00:00Z"}]}"#;
        let n = Notification::from_json(body.as_bytes()).unwrap();
        let env = alert_env(ctx(&n), &n.alerts[0], EnvStyle::Native);
        assert_eq!(env.get("ALERTRUN_LABEL_pod"), None);
        assert_eq!(env.get("ALERTRUN_LABEL_alertname"), Some("X"));
        assert_eq!(
            env.problems[0].to_string(),
            "ALERTRUN_LABEL_pod: value from label \"pod\" contains a NUL byte at byte 1"
        );
        // The JSON form escapes the NUL, so it is still passed.
        assert!(
            env.get("ALERTRUN_ALERT_JSON")
                .unwrap()
                .contains("a\\u0000b")
        );
    }

    #[test]
    fn over_long_value_is_an_error_not_a_truncation() {
        let big = "x".repeat(1 << 20);
        let body = format!(
            r#"{{"version":"4","status":"firing","alerts":[{{"status":"firing",
              "labels":{{"alertname":"X","blob":"{big}"}},"startsAt":"2026-01-01T00:00:00Z"}}]}}"#
        );
        let n = Notification::from_json(body.as_bytes()).unwrap();
        let env = alert_env(ctx(&n), &n.alerts[0], EnvStyle::Native);
        assert_eq!(env.get("ALERTRUN_LABEL_blob"), None);
        assert!(env.problems.iter().any(
            |p| matches!(p, EnvProblem::TooLong { name, .. } if name == "ALERTRUN_LABEL_blob")
        ));
    }

    #[test]
    fn amx_name_with_equals_sign_is_invalid() {
        let body = r#"{"version":"4","status":"firing","alerts":[{"status":"firing",
          "labels":{"alertname":"X","a=b":"v"},"startsAt":"2026-01-01T00:00:00Z"}]}"#;
        let n = Notification::from_json(body.as_bytes()).unwrap();
        let env = alert_env(ctx(&n), &n.alerts[0], EnvStyle::AmExecutor);
        assert!(
            matches!(&env.problems[0], EnvProblem::InvalidName { name, .. } if name == "AMX_LABEL_a=b")
        );
        // Native encoding has no such problem.
        assert!(
            alert_env(ctx(&n), &n.alerts[0], EnvStyle::Native)
                .problems
                .is_empty()
        );
    }

    #[test]
    fn secret_values_are_not_shown() {
        let v = EnvVar {
            name: "TOKEN".into(),
            value: "hunter2".into(),
            secret: true,
        };
        assert_eq!(format!("{v:?}"), "TOKEN=\"<redacted>\"");
    }

    proptest! {
        #[test]
        fn encoded_names_are_valid_and_injective(a in "\\PC{1,6}", b in "\\PC{1,6}") {
            let (ea, eb) = (encode_name(&a), encode_name(&b));
            prop_assert!(ea.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{ea}");
            prop_assert!(!ea.starts_with(|c: char| c.is_ascii_digit()));
            prop_assert_eq!(a == b, ea == eb);
        }

        #[test]
        fn rendered_native_env_is_passable(
            labels in proptest::collection::btree_map("\\PC{1,6}", ".{0,12}", 1..6),
        ) {
            let alert = serde_json::json!({"status":"firing","labels":labels,"startsAt":"2026-01-01T00:00:00Z"});
            let body = serde_json::json!({"version":"4","status":"firing","alerts":[alert]}).to_string();
            let n = Notification::from_json(body.as_bytes()).unwrap();
            let env = alert_env(ctx(&n), &n.alerts[0], EnvStyle::Native);
            for v in &env.vars {
                prop_assert!(v.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                prop_assert!(!v.value.contains('\0'));
            }
            // Every label is passed or reported, never silently dropped.
            let nul_labels = labels.values().filter(|v| v.contains('\0')).count();
            prop_assert_eq!(env.problems.len(), nul_labels);
        }
    }
}
