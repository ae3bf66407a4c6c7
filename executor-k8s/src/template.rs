//! The `template` of a Kubernetes action: a full `PodTemplateSpec`, read strictly.
//!
//! k8s-openapi's `Deserialize` skips keys it does not know, which would turn a typo
//! (`imagePullPolicyy`) into a silently ignored setting. So the template is read, written
//! back, and every key of the input that did not survive the round trip is an error.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, PodTemplateSpec};
use serde_json::Value;

use crate::name::{is_dns1123_label, is_label_key, is_label_value};
use crate::problem::{JobConfigError, JobConfigErrorKind, child, index};

/// Reads `value` as a `PodTemplateSpec`, adding every problem to `errors`. Returns `None`
/// when the value cannot be read at all (a type error), `Some` otherwise, even with
/// unknown fields reported.
pub(crate) fn parse(
    value: &Value,
    path: &str,
    errors: &mut Vec<JobConfigError>,
) -> Option<PodTemplateSpec> {
    let spec: PodTemplateSpec = match serde_path_to_error::deserialize(value) {
        Ok(spec) => spec,
        Err(e) => {
            let at = e.path().iter().fold(path.to_string(), |at, segment| {
                use serde_path_to_error::Segment;
                match segment {
                    Segment::Seq { index: i } => index(&at, *i),
                    Segment::Map { key } => child(&at, key),
                    Segment::Enum { variant } => child(&at, variant),
                    Segment::Unknown => child(&at, "?"),
                }
            });
            errors.push(JobConfigError::new(
                at,
                JobConfigErrorKind::Type(e.into_inner().to_string()),
            ));
            return None;
        }
    };
    match serde_json::to_value(&spec) {
        Ok(round_trip) => unknown_keys(value, &round_trip, path, errors),
        // k8s-openapi types always serialise; should one not, say so rather than guess.
        Err(e) => errors.push(JobConfigError::new(
            path,
            JobConfigErrorKind::Type(format!("cannot be written back: {e}")),
        )),
    }
    Some(spec)
}

/// Every key of `input` that `round_trip` lacks, at its path. A `null` stands for "unset"
/// and is never reported.
fn unknown_keys(input: &Value, round_trip: &Value, path: &str, errors: &mut Vec<JobConfigError>) {
    match (input, round_trip) {
        (Value::Object(input), Value::Object(kept)) => {
            for (key, value) in input {
                if value.is_null() {
                    continue;
                }
                let at = child(path, key);
                match kept.get(key) {
                    Some(kept) => unknown_keys(value, kept, &at, errors),
                    None => errors.push(JobConfigError::new(at, JobConfigErrorKind::UnknownField)),
                }
            }
        }
        (Value::Array(input), Value::Array(kept)) => {
            for (i, (value, kept)) in input.iter().zip(kept).enumerate() {
                unknown_keys(value, kept, &index(path, i), errors);
            }
        }
        _ => {}
    }
}

/// Checks what Kubernetes would reject in a Job's pod template, and what alertrun sets
/// itself, without looking at the action's shortcuts.
pub(crate) fn check(template: &PodTemplateSpec, path: &str, errors: &mut Vec<JobConfigError>) {
    if let Some(meta) = &template.metadata {
        let path = child(path, "metadata");
        if meta.namespace.is_some() {
            errors.push(JobConfigError::new(
                child(&path, "namespace"),
                JobConfigErrorKind::NotAllowed("the Job's namespace applies: set `namespace`"),
            ));
        }
        check_keys(meta.labels.as_ref(), &child(&path, "labels"), true, errors);
        check_keys(
            meta.annotations.as_ref(),
            &child(&path, "annotations"),
            false,
            errors,
        );
    }
    let Some(spec) = &template.spec else {
        return;
    };
    let path = child(path, "spec");
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|c| !c.is_empty())
    {
        errors.push(JobConfigError::new(
            child(&path, "ephemeralContainers"),
            JobConfigErrorKind::NotAllowed("ephemeral containers cannot be set in a pod template"),
        ));
    }
    if let Some(policy) = spec
        .restart_policy
        .as_ref()
        .filter(|p| !matches!(p.as_str(), "Never" | "OnFailure"))
    {
        errors.push(JobConfigError::new(
            child(&path, "restartPolicy"),
            JobConfigErrorKind::RestartPolicy(policy.clone()),
        ));
    }
    let mut seen = BTreeSet::new();
    let init = spec.init_containers.as_deref().unwrap_or_default();
    for (list, containers) in [("initContainers", init), ("containers", &spec.containers)] {
        for (i, container) in containers.iter().enumerate() {
            let at = index(&child(&path, list), i);
            check_container_name(container, &at, &mut seen, errors);
            // A main container's image may still come from the `image` shortcut.
            if list == "initContainers" && container.image.as_deref().is_none_or(str::is_empty) {
                errors.push(JobConfigError::new(
                    child(&at, "image"),
                    JobConfigErrorKind::MissingImage,
                ));
            }
        }
    }
}

fn check_container_name<'a>(
    container: &'a Container,
    path: &str,
    seen: &mut BTreeSet<&'a str>,
    errors: &mut Vec<JobConfigError>,
) {
    let name = container.name.as_str();
    let at = child(path, "name");
    if name.is_empty() {
        errors.push(JobConfigError::new(at, JobConfigErrorKind::MissingName));
    } else if !is_dns1123_label(name) {
        errors.push(JobConfigError::new(
            at,
            JobConfigErrorKind::NotDnsLabel(name.to_string()),
        ));
    } else if !seen.insert(name) {
        errors.push(JobConfigError::new(
            at,
            JobConfigErrorKind::DuplicateContainerName(name.to_string()),
        ));
    }
}

fn check_keys(
    map: Option<&BTreeMap<String, String>>,
    path: &str,
    values_are_labels: bool,
    errors: &mut Vec<JobConfigError>,
) {
    for (key, value) in map.into_iter().flatten() {
        let at = child(path, key);
        if !is_label_key(key) {
            errors.push(JobConfigError::new(
                at,
                JobConfigErrorKind::InvalidKey(key.clone()),
            ));
        } else if values_are_labels && !is_label_value(value) {
            errors.push(JobConfigError::new(
                at,
                JobConfigErrorKind::InvalidLabelValue(value.clone()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(template) = parse(value, "template", &mut errors) {
            check(&template, "template", &mut errors);
        }
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn template_problems_table() {
        for (case, template, want) in [
            (
                "valid",
                json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}},
                       "spec": {"containers": [{"name": "a", "image": "i",
                                "resources": {"limits": {"cpu": 1, "memory": "64Mi"}}}],
                                "nodeSelector": {"kubernetes.io/os": "linux"},
                                "tolerations": [], "priorityClassName": null}}),
                vec![],
            ),
            (
                "unknown keys at every depth",
                json!({"spec": {"containers": [{"name": "a", "imagePullPolicyy": "Always"}],
                                "hostNetworkk": true},
                       "metdata": {}}),
                vec![
                    "template.metdata: unknown field",
                    "template.spec.containers[0].imagePullPolicyy: unknown field",
                    "template.spec.hostNetworkk: unknown field",
                ],
            ),
            (
                "type error names the path",
                json!({"spec": {"containers": [{"name": "a", "image": "i"},
                                               {"name": "b", "ports": [{"containerPort": "80"}]}]}}),
                vec![
                    "template.spec.containers[1].ports[0].containerPort: \
                     invalid type: string \"80\", expected i32",
                ],
            ),
            (
                "missing container name",
                json!({"spec": {"containers": [{"image": "i"}]}}),
                vec!["template.spec.containers[0].name: no name: every container needs one"],
            ),
            (
                "names, images, policy, namespace, ephemeral",
                json!({"metadata": {"namespace": "x",
                                    "labels": {"bad key!": "v", "ok": "bad value!"},
                                    "annotations": {"-x": "anything goes $(HERE)"}},
                       "spec": {"restartPolicy": "Always",
                                "initContainers": [{"name": "a"}],
                                "containers": [{"name": "a", "image": "i"}, {"name": "B_"}],
                                "ephemeralContainers": [{"name": "e"}]}}),
                vec![
                    "template.metadata.namespace: not allowed: the Job's namespace applies: \
                     set `namespace`",
                    "template.metadata.labels[\"bad key!\"]: \"bad key!\" is not a valid label \
                     or annotation key",
                    "template.metadata.labels.ok: \"bad value!\" is not a valid label value \
                     (at most 63 of [-A-Za-z0-9_.], alphanumeric at both ends)",
                    "template.metadata.annotations[\"-x\"]: \"-x\" is not a valid label or \
                     annotation key",
                    "template.spec.ephemeralContainers: not allowed: ephemeral containers \
                     cannot be set in a pod template",
                    "template.spec.restartPolicy: \"Always\" is not allowed for a Job: use \
                     Never or OnFailure",
                    "template.spec.initContainers[0].image: no image: set `image` or the \
                     container's `image`",
                    "template.spec.containers[0].name: container name \"a\" is used twice",
                    "template.spec.containers[1].name: \"B_\" is not a DNS-1123 label \
                     (lowercase letters, digits and '-', at most 63)",
                ],
            ),
        ] {
            assert_eq!(problems(&template), want, "{case}");
        }
    }
}
