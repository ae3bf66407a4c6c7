//! The Kubernetes backend (`executor_k8s`): an action runs as a Job.

#[cfg(feature = "server")]
use std::sync::Arc;

use alert_core::ExecRequest;
#[cfg(feature = "server")]
use alert_core::Executor;
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
