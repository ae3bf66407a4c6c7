//! The body Prometheus POSTs to an Alertmanager's `/api/v2/alerts`: a JSON array of
//! `PostableAlert`s (Alertmanager's `api/v2/openapi.yaml`), and how it becomes a
//! [`Notification`] as if an Alertmanager had sent it at once.

use serde::Deserialize;

use crate::payload::{null_as_empty, parse_json};
use crate::time::zero_is_none;
use crate::{
    Alert, AlertStatus, Fingerprint, LabelSet, Notification, PayloadError, PayloadLimits, Timestamp,
};

/// The receiver name of a notification made from alerts Prometheus posted directly
/// ([`Notification::from_postable`]): rules can select them with `receivers: [prometheus]`.
pub const PROMETHEUS_RECEIVER: &str = "prometheus";

/// One alert as Prometheus (or another client) posts it to `/api/v2/alerts`.
///
/// Unknown fields are ignored, as Alertmanager does. Empty-valued labels are dropped, as
/// Alertmanager does on intake, so an empty label and a missing one look the same.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawPostableAlert")]
pub struct PostableAlert {
    /// The alert's labels: at least one, none with an empty name or value.
    pub labels: LabelSet,
    /// The alert's annotations (may be empty).
    pub annotations: LabelSet,
    /// When the alert started firing; `None` when absent or the zero time.
    pub starts_at: Option<Timestamp>,
    /// When the alert ends (resolved if in the past, else "firing, valid until"); `None`
    /// when absent or the zero time.
    pub ends_at: Option<Timestamp>,
    /// A link to the expression that produced the alert; may be empty.
    pub generator_url: String,
}

#[derive(Deserialize)]
struct RawPostableAlert {
    labels: LabelSet,
    #[serde(default, deserialize_with = "null_as_empty")]
    annotations: LabelSet,
    #[serde(rename = "startsAt", default, with = "zero_is_none")]
    starts_at: Option<Timestamp>,
    #[serde(rename = "endsAt", default, with = "zero_is_none")]
    ends_at: Option<Timestamp>,
    #[serde(rename = "generatorURL", default)]
    generator_url: Option<String>,
}

impl TryFrom<RawPostableAlert> for PostableAlert {
    type Error = String;

    fn try_from(raw: RawPostableAlert) -> Result<Self, String> {
        let mut labels = raw.labels;
        if labels.contains_key("") {
            return Err("alert has a label with an empty name".into());
        }
        labels.retain(|_, value| !value.is_empty());
        if labels.is_empty() {
            return Err("alert has no labels: at least one label pair is required".into());
        }
        if let (Some(start), Some(end)) = (raw.starts_at, raw.ends_at) {
            if end < start {
                return Err(format!("endsAt {end} is before startsAt {start}"));
            }
        }
        Ok(Self {
            labels,
            annotations: raw.annotations,
            starts_at: raw.starts_at,
            ends_at: raw.ends_at,
            generator_url: raw.generator_url.unwrap_or_default(),
        })
    }
}

impl PostableAlert {
    /// Parses a `/api/v2/alerts` body: a JSON array of alerts.
    ///
    /// # Errors
    /// [`PayloadError::Json`] for malformed JSON, invalid UTF-8, wrong types, missing or
    /// empty `labels` and bad timestamps, naming the path (`[2].startsAt`);
    /// [`PayloadError::TooManyAlerts`] for more than [`PayloadLimits::max_alerts`] alerts.
    pub fn from_json(body: &[u8], limits: PayloadLimits) -> Result<Vec<Self>, PayloadError> {
        let alerts: Vec<Self> = parse_json(body)?;
        if alerts.len() > limits.max_alerts {
            return Err(PayloadError::TooManyAlerts {
                count: alerts.len(),
                limit: limits.max_alerts,
            });
        }
        Ok(alerts)
    }

    /// The alert as an Alertmanager webhook would show it at `now`: resolved when `endsAt`
    /// is set and not after `now`, else firing (with no `endsAt`, as Alertmanager writes
    /// firing alerts). A missing `startsAt` becomes `endsAt` when that is set, else `now`
    /// (Alertmanager's `postAlertsHandler`). The fingerprint is computed from the labels.
    pub fn into_alert(self, now: Timestamp) -> Alert {
        let resolved = self.ends_at.is_some_and(|end| end <= now);
        Alert {
            status: if resolved {
                AlertStatus::Resolved
            } else {
                AlertStatus::Firing
            },
            fingerprint: Fingerprint::of(&self.labels),
            starts_at: self.starts_at.or(self.ends_at).unwrap_or(now),
            ends_at: if resolved { self.ends_at } else { None },
            labels: self.labels,
            annotations: self.annotations,
            generator_url: self.generator_url,
            extra: Default::default(),
        }
    }
}

impl Notification {
    /// A notification holding `alerts` as posted, as if an Alertmanager had sent them at
    /// `now` in one group: receiver [`PROMETHEUS_RECEIVER`], version `"4"`, an empty
    /// `groupKey` and `groupLabels`, `commonLabels`/`commonAnnotations` holding the pairs
    /// every alert shares, and status firing if any alert is. Alerts keep the posted order.
    pub fn from_postable(alerts: Vec<PostableAlert>, now: Timestamp) -> Self {
        let alerts: Vec<Alert> = alerts.into_iter().map(|a| a.into_alert(now)).collect();
        let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        };
        Self {
            receiver: PROMETHEUS_RECEIVER.to_string(),
            status,
            group_labels: LabelSet::new(),
            common_labels: common_pairs(alerts.iter().map(|a| &a.labels)),
            common_annotations: common_pairs(alerts.iter().map(|a| &a.annotations)),
            alerts,
            external_url: String::new(),
            version: "4".to_string(),
            group_key: String::new(),
            truncated_alerts: 0,
            extra: Default::default(),
        }
    }
}

/// The pairs every set has (Alertmanager's `commonLabels`); empty when there are no sets.
fn common_pairs<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let mut common = sets.next().cloned().unwrap_or_default();
    for set in sets {
        common.retain(|name, value| set.get(name) == Some(value));
    }
    common
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-21T09:40:00Z";

    fn now() -> Timestamp {
        Timestamp::parse(NOW).unwrap()
    }

    fn parse(body: &str) -> Result<Vec<PostableAlert>, PayloadError> {
        PostableAlert::from_json(body.as_bytes(), PayloadLimits::default())
    }

    /// Prometheus 3's body, key order as go-swagger writes it (ALERTMANAGER.md §4.1).
    const PROMETHEUS: &str = r#"[
      {"annotations":{"summary":"Disk / is 97% full"},
       "endsAt":"2026-11-21T09:43:36.123Z","startsAt":"2026-11-21T09:38:36.123Z",
       "generatorURL":"http://prom:9090/graph?g0.expr=disk_used_ratio+%3E+0.9\u0026g0.tab=1",
       "labels":{"alertname":"DiskFull","instance":"node-2:9100","job":"node","severity":"critical"}},
      {"endsAt":"2026-11-21T09:39:00.000Z","startsAt":"2026-11-21T09:30:00.000Z",
       "labels":{"alertname":"DiskFull","instance":"node-1:9100","job":"node","severity":"critical"}}
    ]"#;

    #[test]
    fn prometheus_body_becomes_a_notification() {
        let n = Notification::from_postable(parse(PROMETHEUS).unwrap(), now());
        assert_eq!(n.receiver, "prometheus");
        assert_eq!(n.version, "4");
        assert_eq!(n.group_key, "");
        assert_eq!(n.status, AlertStatus::Firing);
        let [firing, resolved] = &n.alerts[..] else {
            panic!("want two alerts: {n:?}")
        };
        assert_eq!(firing.status, AlertStatus::Firing);
        assert_eq!(firing.ends_at, None, "firing alerts carry no endsAt");
        assert_eq!(firing.starts_at.to_string(), "2026-11-21T09:38:36.123Z");
        assert!(firing.generator_url.contains("g0.tab=1"));
        assert_eq!(resolved.status, AlertStatus::Resolved);
        assert_eq!(
            resolved.ends_at.map(|t| t.to_string()).as_deref(),
            Some("2026-11-21T09:39:00Z")
        );
        for a in &n.alerts {
            assert_eq!(a.fingerprint, Fingerprint::of(&a.labels));
        }
        let common: Vec<_> = n.common_labels.keys().map(String::as_str).collect();
        assert_eq!(common, ["alertname", "job", "severity"]);
        assert!(
            n.common_annotations.is_empty(),
            "{:?}",
            n.common_annotations
        );
    }

    #[test]
    fn status_and_starts_at_follow_alertmanager() {
        // (name, startsAt, endsAt, want status, want startsAt)
        let rows = [
            ("no times", None, None, AlertStatus::Firing, NOW),
            (
                "ends in the future",
                None,
                Some("2026-11-21T09:45:00Z"),
                AlertStatus::Firing,
                "2026-11-21T09:45:00Z",
            ),
            ("ends now", None, Some(NOW), AlertStatus::Resolved, NOW),
            (
                "ended",
                Some("2026-11-21T09:00:00Z"),
                Some("2026-11-21T09:10:00Z"),
                AlertStatus::Resolved,
                "2026-11-21T09:00:00Z",
            ),
            (
                "zero times are absent",
                Some("0001-01-01T00:00:00.000Z"),
                Some("0001-01-01T00:00:00Z"),
                AlertStatus::Firing,
                NOW,
            ),
        ];
        for (name, start, end, status, want_start) in rows {
            let mut alert = serde_json::json!({"labels": {"a": "b"}});
            if let Some(s) = start {
                alert["startsAt"] = s.into();
            }
            if let Some(e) = end {
                alert["endsAt"] = e.into();
            }
            let body = serde_json::to_string(&[alert]).unwrap();
            let mut alerts = parse(&body).unwrap();
            let a = alerts.remove(0).into_alert(now());
            assert_eq!(a.status, status, "{name}");
            assert_eq!(a.starts_at.to_string(), want_start, "{name}");
        }
    }

    #[test]
    fn empty_valued_labels_are_dropped_and_fingerprinted_without() {
        let alerts = parse(r#"[{"labels":{"alertname":"T","empty":""}}]"#).unwrap();
        assert_eq!(alerts[0].labels.len(), 1);
        let a = alerts[0].clone().into_alert(now());
        assert_eq!(a.fingerprint.to_string(), "d284efc389a5bf32");
    }

    #[test]
    fn empty_array_is_an_empty_resolved_notification() {
        let n = Notification::from_postable(parse(" [] \n").unwrap(), now());
        assert!(n.alerts.is_empty());
        assert_eq!(n.status, AlertStatus::Resolved);
        assert!(n.common_labels.is_empty());
    }

    #[test]
    fn bad_bodies_name_the_place() {
        for (body, want) in [
            (
                "",
                "at top level (line 1, column 0): EOF while parsing a value",
            ),
            (
                "{}",
                "at top level (line 1, column 0): invalid type: map, expected a sequence",
            ),
            ("[{}]", "at [0]"),
            ("[{}]", "missing field `labels`"),
            (r#"[{"labels":null}]"#, "at [0].labels"),
            (r#"[{"labels":{}}]"#, "at least one label pair"),
            (r#"[{"labels":{"a":""}}]"#, "at least one label pair"),
            (r#"[{"labels":{"":"x"}}]"#, "empty name"),
            (r#"[{"labels":{"a":1}}]"#, "at [0].labels.a"),
            (
                r#"[{"labels":{"a":"b"}},{"labels":{"a":"b"},"startsAt":"yesterday"}]"#,
                "at [1].startsAt",
            ),
            (
                r#"[{"labels":{"a":"b"},"annotations":[]}]"#,
                "at [0].annotations",
            ),
            (
                r#"[{"labels":{"a":"b"},"startsAt":"2026-01-02T00:00:00Z","endsAt":"2026-01-01T00:00:00Z"}]"#,
                "endsAt 2026-01-01T00:00:00Z is before startsAt 2026-01-02T00:00:00Z",
            ),
            (r#"[{"labels":{"a":"b"}}] []"#, "trailing characters"),
        ] {
            let e = parse(body).unwrap_err().to_string();
            assert!(e.contains(want), "{body}\n  got: {e}\n  want: {want}");
        }
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut body = br#"[{"labels":{"a":""#.to_vec();
        body.extend_from_slice(&[0xc3, 0x28]);
        body.extend_from_slice(br#""}}]"#);
        let e = PostableAlert::from_json(&body, PayloadLimits::default()).unwrap_err();
        assert!(
            matches!(&e, PayloadError::Json { path, .. } if path == "[0].labels.a"),
            "{e}"
        );
    }

    #[test]
    fn unknown_fields_and_nul_bytes_are_kept_as_the_model_allows() {
        let body =
            r#"[{"labels":{"a":"b\u0000c"},"status":{"state":"active"},"annotations":null}]"#;
        let alerts = parse(body).unwrap();
        assert_eq!(alerts[0].labels["a"], "b\0c");
        assert!(alerts[0].annotations.is_empty());
    }

    #[test]
    fn too_many_alerts_is_refused_with_the_count() {
        let body = format!("[{}]", [r#"{"labels":{"a":"b"}}"#; 3].join(","));
        let e =
            PostableAlert::from_json(body.as_bytes(), PayloadLimits { max_alerts: 2 }).unwrap_err();
        assert_eq!(
            e.to_string(),
            "notification has 3 alerts, more than the limit of 2"
        );
    }
}
