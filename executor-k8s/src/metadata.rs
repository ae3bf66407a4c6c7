//! The labels and annotations alertrun puts on its Jobs.
//!
//! Labels are for selecting (`app.kubernetes.io/managed-by=alertrun`), so they hold only
//! valid label values: sanitised, with a hash when changed. Annotations hold the raw
//! strings, for people and for telling a hash collision from a true duplicate.

use std::collections::BTreeMap;

use alert_core::ExecRequest;

use crate::name::label_value;

/// Label on every Job alertrun creates, and on its pods.
pub(crate) const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`].
pub(crate) const MANAGED_BY: &str = "alertrun";
/// Label: the rule, as a label value.
pub(crate) const RULE_LABEL: &str = "alertrun.dev/rule";
/// Label: the alertname, as a label value; absent when there is none.
pub(crate) const ALERTNAME_LABEL: &str = "alertrun.dev/alertname";
/// Label: the alert's fingerprint (16 hex digits); per-alert actions only.
pub(crate) const FINGERPRINT_LABEL: &str = "alertrun.dev/fingerprint";

/// Annotation: the rule, raw.
pub(crate) const RULE_ANNOTATION: &str = "alertrun.dev/rule";
/// Annotation: the dedup key the Job's name was derived from, raw.
pub(crate) const DEDUP_KEY_ANNOTATION: &str = "alertrun.dev/dedup-key";
/// Annotation: when the alert's episode started, in UTC with nanoseconds.
pub(crate) const EPISODE_START_ANNOTATION: &str = "alertrun.dev/episode-start";
/// Annotation: the notification's group key.
pub(crate) const GROUP_KEY_ANNOTATION: &str = "alertrun.dev/group-key";
/// Annotation: the alert's `summary` annotation.
pub(crate) const SUMMARY_ANNOTATION: &str = "alertrun.dev/summary";
/// Annotation: the alert's generator URL.
pub(crate) const GENERATOR_URL_ANNOTATION: &str = "alertrun.dev/generator-url";
/// Annotation: `firing` or `resolved`.
pub(crate) const STATUS_ANNOTATION: &str = "alertrun.dev/status";

/// Kubernetes' limit on the annotations of one object, keys and values together
/// (`TotalAnnotationSizeLimitB`).
pub(crate) const MAX_ANNOTATION_BYTES: usize = 256 * 1024;

/// The labels of the Job and of its pods.
pub(crate) fn labels(req: &ExecRequest) -> BTreeMap<String, String> {
    let subject = &req.subject;
    let mut labels = BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
        (RULE_LABEL.to_string(), label_value(&req.rule)),
    ]);
    if !subject.alertname.is_empty() {
        labels.insert(ALERTNAME_LABEL.to_string(), label_value(&subject.alertname));
    }
    if let Some(fingerprint) = subject.fingerprint {
        labels.insert(FINGERPRINT_LABEL.to_string(), fingerprint.to_string());
    }
    labels
}

/// The annotations of the Job: raw strings, empty ones left out.
pub(crate) fn annotations(req: &ExecRequest) -> BTreeMap<String, String> {
    let subject = &req.subject;
    [
        (RULE_ANNOTATION, req.rule.clone()),
        (DEDUP_KEY_ANNOTATION, req.dedup_key.clone()),
        (
            EPISODE_START_ANNOTATION,
            subject
                .starts_at
                .map(|t| t.to_utc_string())
                .unwrap_or_default(),
        ),
        (GROUP_KEY_ANNOTATION, subject.group_key.clone()),
        (SUMMARY_ANNOTATION, subject.summary.clone()),
        (GENERATOR_URL_ANNOTATION, subject.generator_url.clone()),
        (
            STATUS_ANNOTATION,
            subject
                .status
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        ),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(key, value)| (key.to_string(), value))
    .collect()
}

/// The bytes the API server counts for `annotations`: keys plus values.
pub(crate) fn annotation_bytes(annotations: &BTreeMap<String, String>) -> usize {
    annotations.iter().map(|(k, v)| k.len() + v.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alert_core::{AlertStatus, Fingerprint, Subject, Timestamp};
    use std::time::Duration;

    fn request(rule: &str, subject: Subject) -> ExecRequest {
        ExecRequest {
            rule: rule.to_string(),
            dedup_key: "key".to_string(),
            subject,
            env: Vec::new(),
            input: Vec::new(),
            deadline: Duration::from_secs(1),
        }
    }

    #[test]
    fn group_request_has_no_alert_labels_and_no_empty_annotations() {
        let req = request("restart web", Subject::default());
        let labels = labels(&req);
        assert_eq!(
            labels.keys().collect::<Vec<_>>(),
            [RULE_LABEL, MANAGED_BY_LABEL]
        );
        assert!(labels[RULE_LABEL].starts_with("restart-web-"));
        assert_eq!(
            annotations(&req),
            BTreeMap::from([
                (RULE_ANNOTATION.to_string(), "restart web".to_string()),
                (DEDUP_KEY_ANNOTATION.to_string(), "key".to_string()),
            ])
        );
    }

    #[test]
    fn alert_request_has_every_label_and_annotation() {
        let subject = Subject {
            alertname: "Disk full!".to_string(),
            status: Some(AlertStatus::Firing),
            fingerprint: Some(Fingerprint::from(0xd284_efc3_89a5_bf32)),
            starts_at: Timestamp::parse("2026-11-21T09:38:36.123+02:00").ok(),
            group_key: "{}:{alertname=\"x\"}".to_string(),
            summary: "disk $(HOME) is full".to_string(),
            generator_url: "http://prom/graph".to_string(),
        };
        let req = request("disk", subject);
        let labels = labels(&req);
        assert_eq!(labels[FINGERPRINT_LABEL], "d284efc389a5bf32");
        assert!(labels[ALERTNAME_LABEL].starts_with("Disk-full-"));
        let annotations = annotations(&req);
        assert_eq!(annotations.len(), 7);
        assert_eq!(
            annotations[EPISODE_START_ANNOTATION],
            "2026-11-21T07:38:36.123000000Z"
        );
        assert_eq!(annotations[SUMMARY_ANNOTATION], "disk $(HOME) is full");
        assert_eq!(annotations[STATUS_ANNOTATION], "firing");
    }
}
