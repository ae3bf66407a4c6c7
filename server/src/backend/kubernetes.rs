//! The Kubernetes backend (`executor_k8s`): an action runs as a Job.

#[cfg(feature = "server")]
use std::sync::Arc;

use alert_core::ExecRequest;
#[cfg(feature = "server")]
use alert_core::Executor;
use alert_core::env::EnvStyle;
use executor_k8s::JobAction;
#[cfg(feature = "server")]
use executor_k8s::{JobExecutor, JobOptions};
use serde_json::Value;

use super::{Action, ActionProblem, Preview, typed};

pub(super) fn parse(value: Value, default_namespace: &str) -> Result<Action, Vec<ActionProblem>> {
    let job: JobAction = typed("kubernetes", value)?;
    job.validate().map_err(|errors| {
        errors
            .into_iter()
            .map(|e| ActionProblem {
                path: if e.path.is_empty() || e.path.starts_with('[') {
                    format!("kubernetes{}", e.path)
                } else {
                    format!("kubernetes.{}", e.path)
                },
                message: e.message,
            })
            .collect::<Vec<_>>()
    })?;
    Ok(Action::Kubernetes {
        job: Box::new(job),
        default_namespace: default_namespace.to_owned(),
    })
}

pub(super) fn check_namespace(namespace: &str) -> Result<(), String> {
    if executor_k8s::is_dns1123_label(namespace) {
        Ok(())
    } else {
        Err(format!(
            "{namespace:?} is not a valid namespace (a DNS-1123 label)"
        ))
    }
}

/// Why a Job must not be created for `req`: variables whose names the API server refuses
/// (it would answer `422` and create nothing).
#[cfg(feature = "server")]
pub(super) fn request_problems(req: &ExecRequest) -> Vec<String> {
    let names = executor_k8s::invalid_env_names(&req.env);
    if names.is_empty() {
        Vec::new()
    } else {
        vec![executor_k8s::RenderError::EnvName(names).to_string()]
    }
}

/// The variables the template gives its containers whose names the API server refuses.
pub(super) fn template_env_problems(job: &JobAction) -> Vec<ActionProblem> {
    let mut problems = Vec::new();
    let spec = job.template.as_ref().and_then(|t| t.get("spec"));
    for list in ["initContainers", "containers"] {
        let containers = spec.and_then(|s| s.get(list)).and_then(Value::as_array);
        for (c, container) in containers.into_iter().flatten().enumerate() {
            let env = container.get("env").and_then(Value::as_array);
            for (j, var) in env.into_iter().flatten().enumerate() {
                let name = var.get("name").and_then(Value::as_str).unwrap_or_default();
                if !executor_k8s::is_env_name(name) {
                    problems.push(ActionProblem {
                        path: format!("kubernetes.template.spec.{list}[{c}].env[{j}].name"),
                        message: format!(
                            "{name:?} is a variable name Kubernetes refuses (a name must match \
                             [-._a-zA-Z][-._a-zA-Z0-9]*): the API server would refuse every Job \
                             of this rule; rename it"
                        ),
                    });
                }
            }
        }
    }
    problems
}

/// The names of `envs` the API server refuses, once each, as one message.
pub(super) fn env_name_problems(envs: &[Vec<alert_core::env::EnvVar>]) -> Vec<String> {
    let mut names: Vec<String> = envs
        .iter()
        .flat_map(|env| executor_k8s::invalid_env_names(env))
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "for the example payloads, {}",
        executor_k8s::RenderError::EnvName(names)
    )]
}

/// A warning for a Job action whose env style passes label and annotation names into
/// variable names as they are, so a name outside `[-._a-zA-Z0-9]` (a UTF-8 label such as
/// `ключ`) makes a variable the API server refuses.
pub(super) fn env_style_warning(style: EnvStyle) -> Option<String> {
    let how = match style {
        EnvStyle::AmExecutor => "am-executor passes label and annotation names verbatim",
        EnvStyle::Bailer => "bailer passes label names upper-cased but otherwise as they are",
        _ => return None,
    };
    Some(format!(
        "{how}: a name outside [-._a-zA-Z0-9] (such as a UTF-8 label `ключ`) makes a \
         variable name Kubernetes refuses, and that run is refused (recorded skipped); \
         env_style: native encodes every name"
    ))
}

/// The Job `job` would create for `req`, secret values redacted.
pub(super) fn preview(job: &JobAction, req: &ExecRequest, default_namespace: &str) -> Preview {
    let mut preview = Preview {
        executor: "kubernetes",
        ..Preview::default()
    };
    match executor_k8s::render_job(job, req, default_namespace) {
        Ok(mut j) => {
            executor_k8s::redact_job(&mut j, &req.env);
            preview.job = serde_json::to_value(j).ok();
        }
        Err(e) => preview.problems.push(e.to_string()),
    }
    preview
}

#[cfg(feature = "server")]
pub(super) fn executor(
    job: &JobAction,
    default_namespace: &str,
    cluster: Option<&kube::Client>,
) -> Result<Arc<dyn Executor>, String> {
    let client = cluster.ok_or("a Kubernetes Job action needs a cluster client")?;
    Ok(Arc::new(JobExecutor::new(
        client.clone(),
        job.clone(),
        default_namespace.to_owned(),
        JobOptions::default(),
    )))
}
