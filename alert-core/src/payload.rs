//! The Alertmanager webhook body (`"version": "4"`), and Grafana's (`"version": "1"`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::time::zero_is_none;
use crate::{Episode, Fingerprint, Timestamp};

/// Label names to values, ordered by name (the order Alertmanager sorts by).
pub type LabelSet = BTreeMap<String, String>;

/// Whether an alert (or a whole notification) is firing or resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The alert is active.
    Firing,
    /// The alert has ended.
    Resolved,
}

impl AlertStatus {
    /// `"firing"` or `"resolved"`, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert of a notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawAlert")]
pub struct Alert {
    /// Firing or resolved, as Alertmanager evaluated it when it sent the notification.
    pub status: AlertStatus,
    /// The alert's labels (Alertmanager drops empty-valued labels on intake).
    pub labels: LabelSet,
    /// The alert's annotations, the latest values Alertmanager saw.
    pub annotations: LabelSet,
    /// When this firing episode started.
    #[serde(rename = "startsAt")]
    pub starts_at: Timestamp,
    /// When the alert ended; `None` while firing (`0001-01-01T00:00:00Z` on the wire).
    #[serde(rename = "endsAt", with = "zero_is_none")]
    pub ends_at: Option<Timestamp>,
    /// A link to the expression that produced the alert; may be empty.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// The fingerprint the sender gave, or the one computed from the labels when absent.
    pub fingerprint: Fingerprint,
    /// Fields this model does not name (Grafana's `values`, `silenceURL`, …), kept as sent.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Alert {
    /// The alert's episode: (fingerprint, startsAt).
    pub fn episode(&self) -> Episode {
        Episode {
            fingerprint: self.fingerprint,
            starts_at: self.starts_at,
        }
    }

    /// The value of label `name`, or `""` when absent (Alertmanager's matching semantics).
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

#[derive(Deserialize)]
struct RawAlert {
    status: AlertStatus,
    #[serde(deserialize_with = "null_as_empty")]
    labels: LabelSet,
    #[serde(default, deserialize_with = "null_as_empty")]
    annotations: LabelSet,
    #[serde(rename = "startsAt")]
    starts_at: Timestamp,
    #[serde(rename = "endsAt", default, with = "zero_is_none")]
    ends_at: Option<Timestamp>,
    #[serde(rename = "generatorURL", default)]
    generator_url: String,
    #[serde(default)]
    fingerprint: Option<Fingerprint>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

impl TryFrom<RawAlert> for Alert {
    type Error = String;

    fn try_from(raw: RawAlert) -> Result<Self, String> {
        if raw.labels.is_empty() {
            return Err("alert has no labels: at least one label pair is required".into());
        }
        if raw.labels.contains_key("") {
            return Err("alert has a label with an empty name".into());
        }
        Ok(Alert {
            fingerprint: raw
                .fingerprint
                .unwrap_or_else(|| Fingerprint::of(&raw.labels)),
            status: raw.status,
            labels: raw.labels,
            annotations: raw.annotations,
            starts_at: raw.starts_at,
            ends_at: raw.ends_at,
            generator_url: raw.generator_url,
            extra: raw.extra,
        })
    }
}

/// One webhook notification: a flush of one Alertmanager aggregation group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The receiver's name (Alertmanager escapes it with `regexp.QuoteMeta`).
    #[serde(default)]
    pub receiver: String,
    /// `firing` if any alert in this notification is firing, else `resolved`.
    pub status: AlertStatus,
    /// Every alert currently in the group, old and new.
    pub alerts: Vec<Alert>,
    /// The `group_by` labels the alerts have.
    #[serde(rename = "groupLabels", default, deserialize_with = "null_as_empty")]
    pub group_labels: LabelSet,
    /// Labels equal in every alert of this notification.
    #[serde(rename = "commonLabels", default, deserialize_with = "null_as_empty")]
    pub common_labels: LabelSet,
    /// Annotations equal in every alert of this notification.
    #[serde(
        rename = "commonAnnotations",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub common_annotations: LabelSet,
    /// Alertmanager's external URL.
    #[serde(rename = "externalURL", default)]
    pub external_url: String,
    /// `"4"` for Alertmanager, `"1"` for Grafana.
    pub version: String,
    /// The group's key: route key and group labels. Opaque; stable for the group's life.
    #[serde(rename = "groupKey", default)]
    pub group_key: String,
    /// How many alerts `max_alerts` cut from this notification.
    #[serde(rename = "truncatedAlerts", default)]
    pub truncated_alerts: u64,
    /// Fields this model does not name (`notification_reason`, `routeLabels`, Grafana's
    /// `orgId`, `title`, …), kept as sent.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Limits applied when parsing a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadLimits {
    /// The most alerts one notification may carry.
    pub max_alerts: usize,
}

impl Default for PayloadLimits {
    fn default() -> Self {
        Self { max_alerts: 10_000 }
    }
}

/// Why a webhook body was refused. Every variant names the place in the body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The body is not JSON of the expected shape.
    #[error("invalid webhook body at {path} (line {line}, column {column}): {message}")]
    Json {
        /// The JSON path of the problem, such as `alerts[2].startsAt`, or `top level`.
        path: String,
        /// 1-based line in the body.
        line: usize,
        /// 1-based column in the body.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// The `version` field names a format alertrun does not know.
    #[error(
        "unsupported webhook version {0:?}: alertrun reads Alertmanager's \"4\" and Grafana's \"1\""
    )]
    UnsupportedVersion(String),
    /// More alerts than [`PayloadLimits::max_alerts`].
    #[error("notification has {count} alerts, more than the limit of {limit}")]
    TooManyAlerts {
        /// Alerts in the body.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
}

impl Notification {
    /// Parses a webhook body with the default [`PayloadLimits`].
    ///
    /// # Errors
    /// See [`Notification::from_json_with`].
    pub fn from_json(body: &[u8]) -> Result<Self, PayloadError> {
        Self::from_json_with(body, PayloadLimits::default())
    }

    /// Parses a webhook body: JSON, then the version and the limits.
    ///
    /// # Errors
    /// [`PayloadError::Json`] for malformed JSON, invalid UTF-8, wrong types, missing
    /// required fields or bad timestamps, naming the path; [`PayloadError::UnsupportedVersion`]
    /// and [`PayloadError::TooManyAlerts`] after a successful parse.
    pub fn from_json_with(body: &[u8], limits: PayloadLimits) -> Result<Self, PayloadError> {
        let n: Notification = parse_json(body)?;
        if n.version != "4" && n.version != "1" {
            return Err(PayloadError::UnsupportedVersion(n.version));
        }
        if n.alerts.len() > limits.max_alerts {
            return Err(PayloadError::TooManyAlerts {
                count: n.alerts.len(),
                limit: limits.max_alerts,
            });
        }
        Ok(n)
    }

    /// The receiver's name as configured: Alertmanager sends it through Go's
    /// `regexp.QuoteMeta` (`team.a` arrives as `team\\.a`); this undoes that escaping.
    pub fn receiver_name(&self) -> String {
        let mut out = String::with_capacity(self.receiver.len());
        let mut chars = self.receiver.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                c => out.push(c),
            }
        }
        out
    }

    /// The alerts with the given status.
    pub fn alerts_with_status(&self, status: AlertStatus) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(move |a| a.status == status)
    }
}

/// Parses JSON into `T`, reporting the path, line and column of the first problem.
///
/// Valid bodies take the plain serde_json path; only a failure is parsed again with path
/// tracking, which costs allocations on every key.
pub(crate) fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, PayloadError> {
    let mut fast = serde_json::Deserializer::from_slice(body);
    if let Ok(value) = T::deserialize(&mut fast) {
        if fast.end().is_ok() {
            return Ok(value);
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = match e.path().to_string().as_str() {
            "." | "?" => "top level".to_string(),
            p => p.to_string(),
        };
        let inner = e.into_inner();
        PayloadError::Json {
            path,
            line: inner.line(),
            column: inner.column(),
            message: strip_position(&inner.to_string()),
        }
    })?;
    // Anything after the JSON value (but whitespace) is garbage, not a second notification.
    de.end().map_err(|e| PayloadError::Json {
        path: "top level".to_string(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the error carries those separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

pub(crate) fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<LabelSet, D::Error> {
    Ok(Option::<LabelSet>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{
      "receiver": "remediator", "status": "firing",
      "alerts": [
        {"status": "resolved",
         "labels": {"alertname": "DiskFull", "instance": "node-1:9100", "job": "node", "severity": "critical"},
         "annotations": {"summary": "Disk / is 95% full"},
         "startsAt": "2026-11-21T09:38:36.123456789Z", "endsAt": "2026-11-21T09:39:03Z",
         "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk_used_ratio+%3E+0.9\u0026g0.tab=1",
         "fingerprint": "8109f918706f9da2"},
        {"status": "firing",
         "labels": {"alertname": "DiskFull", "instance": "node-2:9100", "job": "node", "severity": "critical"},
         "annotations": {"runbook_url": "https://runbooks.example/disk", "summary": "Disk / is 97% full"},
         "startsAt": "2024-05-01T12:00:00+02:00", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "", "fingerprint": "7f1e6246816521bd"}
      ],
      "groupLabels": {"alertname": "DiskFull"},
      "commonLabels": {"alertname": "DiskFull", "job": "node", "severity": "critical"},
      "commonAnnotations": {}, "externalURL": "http://alertmanager.example:9093",
      "version": "4", "groupKey": "{}:{alertname=\"DiskFull\"}", "truncatedAlerts": 0,
      "notification_reason": "new alerts added", "routeLabels": {}
    }"#;

    #[test]
    fn parses_the_documented_example() {
        let n = Notification::from_json(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(n.alerts.len(), 2);
        assert_eq!(n.alerts[0].status, AlertStatus::Resolved);
        assert_eq!(
            n.alerts[0].ends_at.unwrap().to_string(),
            "2026-11-21T09:39:03Z"
        );
        assert_eq!(n.alerts[1].ends_at, None);
        assert_eq!(
            n.alerts[1].starts_at.to_string(),
            "2024-05-01T12:00:00+02:00"
        );
        assert_eq!(n.group_key, "{}:{alertname=\"DiskFull\"}");
        assert_eq!(n.external_url, "http://alertmanager.example:9093");
        assert_eq!(n.extra["notification_reason"], "new alerts added");
        for a in &n.alerts {
            assert_eq!(a.fingerprint, Fingerprint::of(&a.labels));
        }
    }

    #[test]
    fn receiver_name_undoes_quote_meta() {
        let body = r#"{"version":"4","status":"firing","receiver":"team\\.a\\+b","alerts":[]}"#;
        let n = Notification::from_json(body.as_bytes()).unwrap();
        assert_eq!(n.receiver, "team\\.a\\+b");
        assert_eq!(n.receiver_name(), "team.a+b");
    }

    #[test]
    fn missing_fingerprint_is_computed() {
        let body = r#"{"version":"4","status":"firing","alerts":[{"status":"firing",
            "labels":{"alertname":"T"},"startsAt":"2026-01-01T00:00:00Z"}]}"#;
        let n = Notification::from_json(body.as_bytes()).unwrap();
        assert_eq!(n.alerts[0].fingerprint.to_string(), "d284efc389a5bf32");
        assert_eq!(n.alerts[0].ends_at, None);
    }

    #[test]
    fn errors_name_the_place() {
        for (body, want) in [
            (
                "{",
                "invalid webhook body at top level (line 1, column 1): EOF while parsing an object",
            ),
            (
                r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"yesterday"}]}"#,
                "at alerts[0].startsAt",
            ),
            (
                r#"{"version":"4","status":"burning","alerts":[]}"#,
                "at status",
            ),
            (
                r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{},"startsAt":"2026-01-01T00:00:00Z"}]}"#,
                "at least one label pair",
            ),
            (
                r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":1},"startsAt":"2026-01-01T00:00:00Z"}]}"#,
                "at alerts[0].labels.a",
            ),
            (
                r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"xyz"}]}"#,
                "invalid fingerprint \"xyz\"",
            ),
            (
                r#"{"version":"5","status":"firing","alerts":[]}"#,
                "unsupported webhook version \"5\"",
            ),
            (
                r#"{"status":"firing","alerts":[]}"#,
                "missing field `version`",
            ),
        ] {
            let e = Notification::from_json(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{body}\n  got: {e}\n  want: {want}");
        }
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let mut body = br#"{"version":"4","status":"firing","receiver":""#.to_vec();
        body.extend_from_slice(&[0xff, 0xfe]);
        body.extend_from_slice(br#"","alerts":[]}"#);
        let e = Notification::from_json(&body).unwrap_err().to_string();
        assert!(e.contains("invalid unicode") || e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn too_many_alerts_is_refused_with_the_count() {
        let alert = r#"{"status":"firing","labels":{"a":"b"},"startsAt":"2026-01-01T00:00:00Z"}"#;
        let alerts = [alert; 11].join(",");
        let body = format!(r#"{{"version":"4","status":"firing","alerts":[{alerts}]}}"#);
        let e = Notification::from_json_with(body.as_bytes(), PayloadLimits { max_alerts: 10 })
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "notification has 11 alerts, more than the limit of 10"
        );
    }

    #[test]
    fn nul_bytes_and_null_maps_are_accepted_by_the_model() {
        let body = r#"{"version":"1","status":"firing","commonLabels":null,"alerts":[{"status":"firing",
            "labels":{"a":"b\u0000c"},"annotations":null,"values":null,"startsAt":"2026-01-01T00:00:00Z"}],
            "orgId":1,"state":"alerting"}"#;
        let n = Notification::from_json(body.as_bytes()).unwrap();
        assert_eq!(n.alerts[0].labels["a"], "b\0c");
        assert!(n.common_labels.is_empty());
        assert_eq!(n.extra["orgId"], 1);
    }

    #[test]
    fn serialises_back_to_the_wire_names() {
        let n = Notification::from_json(EXAMPLE.as_bytes()).unwrap();
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(v["externalURL"], "http://alertmanager.example:9093");
        assert_eq!(v["alerts"][1]["endsAt"], "0001-01-01T00:00:00Z");
        assert!(
            v["alerts"][0]["generatorURL"]
                .as_str()
                .unwrap()
                .contains("g0.tab=1")
        );
        let again: Notification = serde_json::from_value(v).unwrap();
        assert_eq!(again, n);
    }
}
