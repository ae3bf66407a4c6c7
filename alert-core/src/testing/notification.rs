//! Builders of webhook notifications, as Alertmanager sends them.

use serde_json::{Map, Value, json};

use crate::{AlertStatus, LabelSet, Notification};

/// When a built alert starts firing, unless told otherwise.
pub const STARTS_AT: &str = "2026-11-21T10:00:00Z";
/// When a built resolved alert ended, unless told otherwise.
pub const ENDS_AT: &str = "2026-11-21T11:00:00Z";
/// The `endsAt` Alertmanager sends for a firing alert (Go's zero time).
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
const GENERATOR_URL: &str = "http://prometheus.example:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1";
const EXTERNAL_URL: &str = "http://alertmanager.example:9093";

/// A label set from `(name, value)` pairs; a repeated name keeps its last value.
pub fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|&(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// One alert of a [`NotificationBuilder`]: firing or resolved, its labels, annotations and
/// times. No `fingerprint` is sent: the receiver computes it from the labels.
#[derive(Debug, Clone)]
pub struct AlertBuilder {
    status: AlertStatus,
    labels: LabelSet,
    annotations: LabelSet,
    starts_at: String,
    ends_at: String,
}

impl AlertBuilder {
    /// A firing alert with `labels`, started at [`STARTS_AT`].
    pub fn firing(labels: LabelSet) -> Self {
        Self {
            status: AlertStatus::Firing,
            labels,
            annotations: LabelSet::new(),
            starts_at: STARTS_AT.to_owned(),
            ends_at: ZERO_TIME.to_owned(),
        }
    }

    /// A resolved alert with `labels`, from [`STARTS_AT`] to [`ENDS_AT`].
    pub fn resolved(labels: LabelSet) -> Self {
        Self {
            status: AlertStatus::Resolved,
            ends_at: ENDS_AT.to_owned(),
            ..Self::firing(labels)
        }
    }

    /// The alert's `startsAt` (RFC 3339), which with the labels makes its episode.
    pub fn starts_at(mut self, time: &str) -> Self {
        time.clone_into(&mut self.starts_at);
        self
    }

    /// The alert's annotations.
    pub fn annotations(mut self, annotations: LabelSet) -> Self {
        self.annotations = annotations;
        self
    }

    /// The alert as it stands in a webhook body.
    pub fn to_json(&self) -> Value {
        json!({
            "status": self.status,
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "generatorURL": GENERATOR_URL,
        })
    }
}

/// A version 4 webhook notification of the alerts added, grouped by `alertname`.
///
/// The rest follows from the alerts as Alertmanager makes it: the status is `firing` if any
/// alert fires, the common labels are those every alert has, the group labels and the group
/// key name the first alert's `alertname`. The receiver is `alertrun`.
#[derive(Debug, Clone)]
pub struct NotificationBuilder {
    receiver: String,
    group_key: Option<String>,
    alerts: Vec<AlertBuilder>,
}

impl Default for NotificationBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl NotificationBuilder {
    /// A notification without alerts yet.
    pub fn new() -> Self {
        Self {
            receiver: "alertrun".to_owned(),
            group_key: None,
            alerts: Vec::new(),
        }
    }

    /// Adds an alert.
    pub fn alert(mut self, alert: AlertBuilder) -> Self {
        self.alerts.push(alert);
        self
    }

    /// Adds alerts.
    pub fn alerts(mut self, alerts: impl IntoIterator<Item = AlertBuilder>) -> Self {
        self.alerts.extend(alerts);
        self
    }

    /// The group key, instead of `{}:{alertname="…"}`.
    pub fn group_key(mut self, key: &str) -> Self {
        self.group_key = Some(key.to_owned());
        self
    }

    /// The body Alertmanager would post.
    pub fn to_json(&self) -> Value {
        let firing = self.alerts.iter().any(|a| a.status == AlertStatus::Firing);
        let mut common = self
            .alerts
            .first()
            .map(|a| a.labels.clone())
            .unwrap_or_default();
        for alert in &self.alerts {
            common.retain(|name, value| alert.labels.get(name) == Some(value));
        }
        let alertname = self
            .alerts
            .first()
            .and_then(|a| a.labels.get("alertname"))
            .map_or("", String::as_str);
        let group_key = self
            .group_key
            .clone()
            .unwrap_or_else(|| format!("{{}}:{{alertname=\"{alertname}\"}}"));
        json!({
            "version": "4",
            "receiver": self.receiver,
            "status": if firing { AlertStatus::Firing } else { AlertStatus::Resolved },
            "alerts": self.alerts.iter().map(AlertBuilder::to_json).collect::<Vec<_>>(),
            "groupLabels": {"alertname": alertname},
            "commonLabels": common,
            "commonAnnotations": Map::new(),
            "externalURL": EXTERNAL_URL,
            "groupKey": group_key,
            "truncatedAlerts": 0,
        })
    }

    /// The notification, parsed from [`to_json`](Self::to_json) as alertrun parses a body.
    ///
    /// # Panics
    /// If the body does not parse (a `startsAt` that is not a time, an empty label set).
    pub fn build(&self) -> Notification {
        let body = self.to_json().to_string();
        Notification::from_json(body.as_bytes())
            .unwrap_or_else(|e| panic!("the built notification does not parse: {e}\n{body}"))
    }
}
