//! alertrun's Kubernetes backend: one `batch/v1` Job per alert (or group).
//!
//! It has two parts. The pure one turns a rule's Kubernetes action ([`JobAction`], from
//! the YAML config) and a rendered [`ExecRequest`](alert_core::ExecRequest) into the
//! exact Job alertrun would create ([`render_job`]), which `alertrun explain` prints.
//! [`JobExecutor`] is the [`Executor`](alert_core::Executor) that talks to the cluster:
//! it creates that Job, follows it to its end (or deletes it at the deadline or on stop)
//! and reports its exit code and log tail.
//!
//! The key design choices:
//! - **One deterministic name per (rule, dedup key)** ([`job_name`]): a repeated
//!   notification `POST`s the same name and gets `409 AlreadyExists` instead of a second
//!   Job. Names are DNS-1123 labels of at most 63 characters, because the API server
//!   copies them into a pod label.
//! - **Alert data travels only in `env`**, with every `$` escaped as `$$`, because the
//!   kubelet expands `$(VAR)` in env values: a label value such as `$(SECRET_TOKEN)`
//!   arrives as that text, never as another variable's value. `command` and `args` are
//!   fixed config text and may reference the variables: `$(ALERTRUN_LABEL_pod)`.
//! - **A Job outlives alertrun**, so nothing about it lives only in memory: the
//!   [`Started::Job`](alert_core::Started::Job) handle (namespace, name, uid) goes to the
//!   caller as soon as the Job is created, and after a restart
//!   [`Executor::recover`](alert_core::Executor::recover) re-attaches to the Job by name,
//!   checks its uid, and follows it to its end. A create that meets `409 AlreadyExists`
//!   for a running Job of the same request follows it too, so retrying a create whose
//!   answer was lost never drops the Job the first attempt made.
//! - **The config is strict**: a pod `template` is a full `PodTemplateSpec`, and any key
//!   k8s-openapi does not know is an error with its path, not a silently dropped setting.
//!
//! The crate uses k8s-openapi without choosing a Kubernetes version: the binary does.
//! [`JobExecutor`] (kube, tokio) is behind the default feature `executor`; without it the
//! crate is the pure part, for tools that render Jobs but talk to no cluster.
//!
//! ```
//! use alert_core::{ExecRequest, Subject, env::EnvVar};
//! use executor_k8s::{JobAction, render_job};
//!
//! let action: JobAction = serde_json::from_value(serde_json::json!({
//!     "image": "bitnami/kubectl",
//!     "command": ["kubectl", "delete", "pod", "-n", "$(ALERTRUN_LABEL_namespace)",
//!                 "$(ALERTRUN_LABEL_pod)"],
//! }))?;
//! action.validate().expect("the action is valid");
//!
//! let req = ExecRequest {
//!     rule: "delete-crashlooping-pod".into(),
//!     dedup_key: "d284efc389a5bf32@2026-11-21T07:38:36.123000000Z".into(),
//!     subject: Subject::default(),
//!     env: vec![EnvVar::new("ALERTRUN_LABEL_pod", "web-$(SECRET)")],
//!     input: Vec::new(),
//!     deadline: std::time::Duration::from_secs(300),
//! };
//! let job = render_job(&action, &req, "ops")?;
//! assert_eq!(job.metadata.namespace.as_deref(), Some("ops"));
//!
//! let spec = job.spec.as_ref().expect("a rendered Job has a spec");
//! assert_eq!(spec.active_deadline_seconds, Some(300));
//! let container = &spec.template.spec.as_ref().expect("and a pod spec").containers[0];
//! let env = &container.env.as_ref().expect("and the request's env")[0];
//! assert_eq!(env.value.as_deref(), Some("web-$$(SECRET)"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![warn(clippy::print_stdout)]

mod action;
mod api_calls;
#[cfg(feature = "executor")]
mod cluster;
#[cfg(feature = "executor")]
mod executor;
mod metadata;
mod name;
#[cfg(feature = "executor")]
mod options;
mod problem;
mod render;
mod template;

pub use action::{
    JobAction, RestartPolicy, default_backoff_limit, default_container_name,
    default_restart_policy, default_ttl_seconds_after_finished,
};
pub use api_calls::{API_CALLS, ApiCall, api_call_in, api_call_of};
#[cfg(feature = "executor")]
pub use cluster::{ApiFailure, ApiMessage, ClusterError};
#[cfg(feature = "executor")]
pub use executor::{DELETED_BEFORE_OUTCOME, JobExecutor};
pub use name::{is_dns1123_label, job_name, label_value};
#[cfg(feature = "executor")]
pub use options::{
    JobOptions, default_deadline_grace, default_log_tail_bytes, default_log_tail_lines,
    default_poll_interval,
};

#[cfg(feature = "test-util")]
pub mod testing;
pub use problem::{JobConfigError, JobConfigErrorKind};
pub use render::{RenderError, invalid_env_names, is_env_name, redact_job, render_job};
