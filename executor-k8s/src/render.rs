//! From a rule's action and a rendered request to the exact `batch/v1` Job.

use std::collections::BTreeSet;
use std::time::Duration;

use alert_core::ExecRequest;
use alert_core::env::EnvVar;
use alert_core::expand::escape;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar as K8sEnvVar, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::action::JobAction;
use crate::metadata::{MAX_ANNOTATION_BYTES, annotation_bytes, annotations, labels};
use crate::name::{is_dns1123_label, job_name};
use crate::problem::{JobConfigError, JobConfigErrorKind, List, child, index};

/// What [`redact_job`] writes instead of a secret value.
const REDACTED: &str = "<redacted>";

/// Why a Job could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The action itself is invalid (what [`JobAction::validate`] reports).
    #[error("invalid Kubernetes action: {}", List(.0))]
    Config(Vec<JobConfigError>),
    /// The default namespace the caller passed is not a DNS-1123 label.
    #[error("invalid default namespace {0:?}: not a DNS-1123 label")]
    DefaultNamespace(String),
    /// Template containers define env vars the request sets too; alertrun does not
    /// override them silently.
    #[error("env of the template conflicts with the request: {}", List(.0))]
    EnvConflict(Vec<JobConfigError>),
    /// Variables of the request have names the API server refuses in a container's env
    /// (see [`invalid_env_names`]): the Job is not created, the run is refused.
    #[error(
        "variable names Kubernetes refuses in a Job (a name must match \
         [-._a-zA-Z][-._a-zA-Z0-9]*): {}; the Job is not created",
        Quoted(.0)
    )]
    EnvName(Vec<String>),
    /// The annotations would exceed Kubernetes' 256 KiB limit (a huge summary, say).
    #[error(
        "annotations of Job {job:?} take {bytes} bytes, over the limit of {MAX_ANNOTATION_BYTES}"
    )]
    AnnotationsTooLarge {
        /// The Job's name.
        job: String,
        /// Bytes of keys and values.
        bytes: usize,
    },
}

/// Renders the Job alertrun creates for `req` under `action`, in `action.namespace` or
/// else `default_namespace`.
///
/// - `metadata.name` is [`job_name`]`(rule, dedup_key)`, so the same request always names
///   the same Job and a repeat gets `409 AlreadyExists`.
/// - Labels `app.kubernetes.io/managed-by: alertrun`, `alertrun.dev/rule`,
///   `alertrun.dev/alertname` (when there is one) and `alertrun.dev/fingerprint` (per
///   alert) go on the Job and on the pod template (where the template's own labels are
///   kept, except under these keys). Label values are sanitised: a value that is not a
///   valid label value has its other characters replaced by `-` and a hash appended.
/// - Annotations `alertrun.dev/{rule,dedup-key,episode-start,group-key,summary,
///   generator-url,status}` hold the raw strings; empty ones are left out.
/// - Every variable of `req.env` is appended to the `env` of every container and init
///   container, its value with each `$` written `$$`: the kubelet expands `$(VAR)` in env
///   values, and an alert's text must never read another variable. Secret variables are
///   passed too; see [`redact_job`] before showing the Job.
/// - `backoffLimit`, `ttlSecondsAfterFinished` and `activeDeadlineSeconds` come from the
///   action, the last defaulting to `req.deadline` rounded up to whole seconds.
///
/// # Errors
/// [`RenderError::Config`] when the action is invalid, [`RenderError::DefaultNamespace`],
/// [`RenderError::EnvName`] when a variable's name is one Kubernetes refuses,
/// [`RenderError::EnvConflict`] when a template container already defines a variable of
/// the request, and [`RenderError::AnnotationsTooLarge`].
pub fn render_job(
    action: &JobAction,
    req: &ExecRequest,
    default_namespace: &str,
) -> Result<Job, RenderError> {
    let plan = action.plan().map_err(RenderError::Config)?;
    let refused = invalid_env_names(&req.env);
    if !refused.is_empty() {
        return Err(RenderError::EnvName(refused));
    }
    let namespace = match plan.namespace {
        Some(namespace) => namespace,
        None if is_dns1123_label(default_namespace) => default_namespace.to_string(),
        None => return Err(RenderError::DefaultNamespace(default_namespace.to_string())),
    };
    let name = job_name(&req.rule, &req.dedup_key);
    let labels = labels(req);
    let annotations = annotations(req);
    let bytes = annotation_bytes(&annotations);
    if bytes > MAX_ANNOTATION_BYTES {
        return Err(RenderError::AnnotationsTooLarge { job: name, bytes });
    }

    let mut template = plan.template;
    let pod_meta = template.metadata.get_or_insert_with(ObjectMeta::default);
    pod_meta
        .labels
        .get_or_insert_with(Default::default)
        .extend(labels.clone());
    if let Some(spec) = template.spec.as_mut() {
        add_env(spec, &req.env)?;
    }

    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace),
            labels: Some(labels),
            annotations: Some(annotations).filter(|a| !a.is_empty()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(plan.backoff_limit),
            ttl_seconds_after_finished: Some(plan.ttl_seconds_after_finished),
            active_deadline_seconds: Some(
                plan.active_deadline_seconds
                    .unwrap_or_else(|| whole_seconds(req.deadline)),
            ),
            template,
            ..JobSpec::default()
        }),
        status: None,
    })
}

/// Replaces the value of every env entry of the Job's containers that is a secret
/// variable of `env` (the request's) with `<redacted>`, for showing the Job to a person.
///
/// Template variables cannot share a name with the request's ([`render_job`] refuses),
/// so only variables alertrun added are touched.
pub fn redact_job(job: &mut Job, env: &[EnvVar]) {
    let secrets: BTreeSet<&str> = env
        .iter()
        .filter(|var| var.secret)
        .map(|var| var.name.as_str())
        .collect();
    let Some(pod) = job
        .spec
        .as_mut()
        .and_then(|spec| spec.template.spec.as_mut())
    else {
        return;
    };
    let init = pod.init_containers.iter_mut().flatten();
    for container in init.chain(pod.containers.iter_mut()) {
        for var in container.env.iter_mut().flatten() {
            if secrets.contains(var.name.as_str()) {
                var.value = Some(REDACTED.to_string());
            }
        }
    }
}

/// Appends `env`, escaped, to every container and init container of `spec`.
fn add_env(spec: &mut PodSpec, env: &[EnvVar]) -> Result<(), RenderError> {
    let ours: Vec<K8sEnvVar> = env
        .iter()
        .map(|var| K8sEnvVar {
            name: var.name.clone(),
            value: Some(escape(&var.value)),
            value_from: None,
        })
        .collect();
    let names: BTreeSet<&str> = env.iter().map(|var| var.name.as_str()).collect();
    let mut conflicts = Vec::new();
    let init = spec.init_containers.iter_mut().flatten();
    let lists = init
        .enumerate()
        .map(|(i, c)| ("initContainers", i, c))
        .chain(
            spec.containers
                .iter_mut()
                .enumerate()
                .map(|(i, c)| ("containers", i, c)),
        );
    for (list, i, container) in lists {
        let at = index(&child("template.spec", list), i);
        find_conflicts(container, &names, &at, &mut conflicts);
        container
            .env
            .get_or_insert_with(Vec::new)
            .extend(ours.iter().cloned());
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(RenderError::EnvConflict(conflicts))
    }
}

fn find_conflicts(
    container: &Container,
    names: &BTreeSet<&str>,
    path: &str,
    conflicts: &mut Vec<JobConfigError>,
) {
    for (i, var) in container.env.iter().flatten().enumerate() {
        if names.contains(var.name.as_str()) {
            conflicts.push(JobConfigError::new(
                child(&index(&child(path, "env"), i), "name"),
                JobConfigErrorKind::EnvConflict(var.name.clone()),
            ));
        }
    }
}

/// `d` in whole seconds, rounded up, at least 1 (Kubernetes' minimum) and at most
/// `i64::MAX`.
pub(crate) fn whole_seconds(d: Duration) -> i64 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    i64::try_from(secs).unwrap_or(i64::MAX).max(1)
}

/// Whether the API server accepts `name` as a container's env var name: the
/// `[-._a-zA-Z][-._a-zA-Z0-9]*` that API servers apply (those with the feature
/// `RelaxedEnvironmentVariableValidation` accept more;
/// alertrun keeps to the rule every supported cluster applies).
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '-' | '.' | '_'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// The names in `env` that [`is_env_name`] refuses, in order.
pub fn invalid_env_names(env: &[EnvVar]) -> Vec<String> {
    env.iter()
        .filter(|v| !is_env_name(&v.name))
        .map(|v| v.name.clone())
        .collect()
}

/// Names, each quoted, joined by `, `.
struct Quoted<'a>(&'a [String]);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name:?}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_rounds_up_to_whole_seconds() {
        for (d, want) in [
            (Duration::ZERO, 1),
            (Duration::from_millis(1), 1),
            (Duration::from_secs(300), 300),
            (Duration::from_millis(300_001), 301),
            (Duration::MAX, i64::MAX),
        ] {
            assert_eq!(whole_seconds(d), want, "{d:?}");
        }
    }
}
