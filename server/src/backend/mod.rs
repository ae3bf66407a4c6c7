//! The action backends: a rule's action runs as a local process or as a Kubernetes Job.
//!
//! This module is the only place in the server that names a backend (the
//! `executor_process` and `executor_k8s` crates, and the arms of [`Action`]): it checks an
//! action when the config is loaded, previews it for `explain`, `test` and `check --print`,
//! shows the argv a run record keeps, and builds each rule's executor at start-up and on
//! reload ([`Backends`], which keeps the cluster client between reloads). The rest of the
//! server sees actions through these functions and executors as `Arc<dyn Executor>`.
//!
//! Adding a backend: one file beside `process.rs` and `kubernetes.rs`, one arm in
//! [`Action`] and in the `match`es of this file (the compiler lists them).

mod kubernetes;
mod process;
#[cfg(feature = "server")]
mod token_file;

#[cfg(feature = "server")]
use std::collections::HashMap;
#[cfg(feature = "server")]
use std::sync::Arc;
#[cfg(feature = "server")]
use std::time::Duration;

use alert_core::ExecRequest;
#[cfg(feature = "server")]
use alert_core::Executor;
use alert_core::env::EnvVar;
use alert_match::Argument;
use executor_k8s::JobAction;
use executor_process::ProcessAction;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A rule's action.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Action {
    /// Run a local process.
    Process(ProcessAction),
    /// Create a Kubernetes Job in `namespace`.
    Kubernetes {
        /// The Job's settings.
        job: Box<JobAction>,
        /// The namespace used when the action does not set one.
        default_namespace: String,
    },
}

impl Action {
    /// The backend's name, as written in the config: `process` or `kubernetes`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Process(_) => "process",
            Action::Kubernetes { .. } => "kubernetes",
        }
    }

    /// The action in short, as `alertrun check --print` shows it.
    pub fn to_summary(&self) -> Value {
        match self {
            Action::Process(p) => process::summary(p),
            Action::Kubernetes { .. } => Value::from("kubernetes"),
        }
    }

    /// The names of alertrun's own variables the action inherits: a process action's
    /// `pass_env` (none for a Job).
    pub fn pass_env(&self) -> &[String] {
        match self {
            Action::Process(p) => p.pass_env(),
            Action::Kubernetes { .. } => &[],
        }
    }

    #[cfg(feature = "server")]
    fn needs_cluster(&self) -> bool {
        matches!(self, Action::Kubernetes { .. })
    }
}

/// `action: {process: …}` or `action: {kubernetes: …}`; the body is checked by the backend.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum RawAction {
    Process(Value),
    Kubernetes(Value),
}

/// A problem in an action, at its path under `action` (such as `kubernetes.image`; empty
/// for the action itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ActionProblem {
    pub(crate) path: String,
    pub(crate) message: String,
}

/// Parses and checks a rule's `action:` value; a Job action without a namespace gets
/// `default_namespace`.
///
/// # Errors
/// Every problem found, each at its path under `action`.
pub(crate) fn parse_action(
    value: Value,
    default_namespace: &str,
) -> Result<Action, Vec<ActionProblem>> {
    match typed::<RawAction>("", value)? {
        RawAction::Process(v) => typed("process", v).map(Action::Process),
        RawAction::Kubernetes(v) => kubernetes::parse(v, default_namespace),
    }
}

/// Checks `defaults.namespace`, the namespace of Job actions that set none.
pub(crate) fn check_namespace(namespace: &str) -> Result<(), String> {
    kubernetes::check_namespace(namespace)
}

/// Checks a rule's `stop_signal`, the signal that stops a process action.
pub(crate) fn check_stop_signal(signal: &str) -> Result<(), String> {
    process::check_stop_signal(signal)
}

/// What an action would run for one request: the backend's part of an `explain` report.
#[derive(Debug, Default)]
pub(crate) struct Preview {
    /// The backend's name.
    pub(crate) executor: &'static str,
    /// The argv, for a process (secret values redacted).
    pub(crate) argv: Option<Vec<String>>,
    /// The working directory, for a process that sets one.
    pub(crate) workdir: Option<String>,
    /// Variables of alertrun's own environment passed through (besides PATH).
    pub(crate) pass_env: Vec<String>,
    /// The Job manifest, for Kubernetes (secret values redacted).
    pub(crate) job: Option<Value>,
    /// Why the action could not run as it stands.
    pub(crate) problems: Vec<String>,
}

/// What `action` would run for `req`; `shown_env` is `req.env` with secret values redacted.
pub(crate) fn preview(action: &Action, req: &ExecRequest, shown_env: &[EnvVar]) -> Preview {
    match action {
        Action::Process(p) => process::preview(p, shown_env),
        Action::Kubernetes {
            job,
            default_namespace,
        } => kubernetes::preview(job, req, default_namespace),
    }
}

/// Why `action` must not run `req` though it rendered: for a Job, variable names the API
/// server refuses. The run is then recorded skipped, like a variable that cannot be passed.
#[cfg(feature = "server")]
pub(crate) fn request_problems(action: &Action, req: &ExecRequest) -> Vec<String> {
    match action {
        Action::Process(_) => Vec::new(),
        Action::Kubernetes { .. } => kubernetes::request_problems(req),
    }
}

/// For `check --payloads`: the variable names `action` would refuse in requests with these
/// envs (a Job's names the API server refuses), as one message; empty for a process.
pub(crate) fn env_name_problems(action: &Action, envs: &[Vec<EnvVar>]) -> Vec<String> {
    match action {
        Action::Process(_) => Vec::new(),
        Action::Kubernetes { .. } => kubernetes::env_name_problems(envs),
    }
}

/// The variables of a Job template's containers whose names the API server would refuse,
/// each as (path under `action`, message); none for a process.
pub(crate) fn template_env_problems(action: &Action) -> Vec<ActionProblem> {
    match action {
        Action::Process(_) => Vec::new(),
        Action::Kubernetes { job, .. } => kubernetes::template_env_problems(job),
    }
}

/// A warning for `check` when `action` cannot take every variable `style` may produce.
pub(crate) fn env_style_warning(
    action: &Action,
    style: alert_core::env::EnvStyle,
) -> Option<String> {
    match action {
        Action::Process(_) => None,
        Action::Kubernetes { .. } => kubernetes::env_style_warning(style),
    }
}

/// The argvs of `action` that `$(VAR)` references are expanded in, each element with its
/// path under `action.<kind>` (`command[2]`): a process's command; a Job's containers'
/// `command` and `args`, which the kubelet expands.
pub(crate) fn argvs(action: &Action) -> Vec<Vec<Argument>> {
    match action {
        Action::Process(p) => vec![
            p.command()
                .iter()
                .enumerate()
                .map(|(i, e)| Argument::new(format!("command[{i}]"), e.clone()))
                .collect(),
        ],
        Action::Kubernetes { job, .. } => job
            .argvs()
            .into_iter()
            .map(|argv| {
                argv.into_iter()
                    .map(|(at, e)| Argument::new(at, e))
                    .collect()
            })
            .collect(),
    }
}

/// The argv a run record shows: a process's argv with `$(VAR)` expanded from `shown_env`
/// (the request's env with secret values redacted); empty for a Job, whose command the
/// kubelet expands.
#[cfg(feature = "server")]
pub(crate) fn shown_argv(action: &Action, shown_env: &[EnvVar]) -> Vec<String> {
    match action {
        Action::Process(p) => p.argv(shown_env),
        Action::Kubernetes { .. } => Vec::new(),
    }
}

#[cfg(feature = "server")]
pub(crate) use process::{adopt_orphans, end_orphans, reap_orphans};

/// The kind ([`Executor::kind`]) of the backend that hands out `started`.
#[cfg(feature = "server")]
pub(crate) fn kind_of(started: &alert_core::Started) -> &'static str {
    match started {
        alert_core::Started::Process { .. } => "process",
        _ => "kubernetes",
    }
}

/// Whether a backend of `kind` never starts the same request twice by itself, so that a
/// start cut short by a crash before its handle was recorded may safely be tried again:
/// a Job's name is derived from the rule and the dedup key, and a second create of it is
/// refused (then followed, or reported a duplicate).
#[cfg(feature = "server")]
pub(crate) fn starts_once_by_itself(kind: &str) -> bool {
    kind == "kubernetes"
}

/// The cluster client: the in-cluster service account, else `KUBECONFIG` /
/// `~/.kube/config`, with kube's own retries off and every request bounded.
///
/// alertrun retries a Job create itself, with a backoff bounded by the rule's timeout and
/// recorded in the run's timeline; kube's default retry layer would resend a 429, 503 or
/// 504 up to 15 times inside one of those attempts, past the rule's timeout and past a
/// shutdown. A request the API server never answers ends after the read timeout, and the
/// same retries take over.
#[cfg(feature = "server")]
async fn cluster_client() -> Result<kube::Client, kube::Error> {
    let mut config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    config.default_retry = false;
    config.connect_timeout = Some(Duration::from_secs(10));
    config.read_timeout = Some(Duration::from_secs(30));
    config.reset_reader_on_write = true;
    // A token file (a kubeconfig's `tokenFile`, the in-cluster service account token) is
    // sent trimmed, as kubectl sends it: kube would send a trailing newline and fail.
    let token_file = token_file::take(&mut config.auth_info)?;
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(match token_file {
        Some(layer) => builder.with_layer(&layer).build(),
        None => builder.build(),
    })
}

/// What building one rule's executor needs: its name, action and stop policy.
#[cfg(feature = "server")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct RuleAction<'a> {
    /// The rule's name.
    pub(crate) rule: &'a str,
    /// Its action.
    pub(crate) action: &'a Action,
    /// The signal that stops a process action (checked at config load).
    pub(crate) stop_signal: &'a str,
    /// Time between the stop signal and SIGKILL.
    pub(crate) stop_grace: Duration,
}

/// Why the executors of a config could not be built.
#[cfg(feature = "server")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum BackendError {
    /// A rule has a Job action and no cluster is reachable.
    #[error(
        "rules use Kubernetes Job actions, but no cluster is configured: \
         run in a pod with a service account, or set KUBECONFIG"
    )]
    NoCluster(#[source] kube::Error),
    /// A rule's action cannot be run as configured.
    #[error("rule {rule}: {message}")]
    Rule {
        /// The rule's name.
        rule: String,
        /// What is wrong.
        message: String,
    },
}

/// Builds each rule's executor. Keeps the cluster client, made the first time a rule needs
/// one (the in-cluster service account, else `KUBECONFIG` / `~/.kube/config`), for later
/// reloads.
#[cfg(feature = "server")]
#[derive(Clone, Default)]
pub(crate) struct Backends {
    cluster: Option<kube::Client>,
}

#[cfg(feature = "server")]
impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("cluster", &self.cluster.is_some())
            .finish()
    }
}

#[cfg(feature = "server")]
impl Backends {
    /// Backends with no cluster client yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The cluster client, made now if none was yet (`server.ha` needs one whatever the
    /// rules' actions are).
    ///
    /// # Errors
    /// When no cluster client can be made.
    pub(crate) async fn cluster(&mut self) -> Result<kube::Client, BackendError> {
        if let Some(client) = &self.cluster {
            return Ok(client.clone());
        }
        let client = cluster_client().await.map_err(BackendError::NoCluster)?;
        self.cluster = Some(client.clone());
        Ok(client)
    }

    /// The executor of each rule, by rule name.
    ///
    /// # Errors
    /// When a rule has a Job action and no cluster client can be made, or a rule's action
    /// cannot be run as configured.
    pub(crate) async fn executors<'a>(
        &mut self,
        rules: impl Iterator<Item = RuleAction<'a>> + Clone,
    ) -> Result<HashMap<String, Arc<dyn Executor>>, BackendError> {
        if self.cluster.is_none() && rules.clone().any(|r| r.action.needs_cluster()) {
            let client = cluster_client().await.map_err(BackendError::NoCluster)?;
            self.cluster = Some(client);
        }
        let mut inherited = process::Inherited::default();
        rules
            .map(|r| {
                let executor = match r.action {
                    Action::Process(p) => {
                        process::executor(p, r.stop_signal, r.stop_grace, inherited.of(p))
                    }
                    Action::Kubernetes {
                        job,
                        default_namespace,
                    } => kubernetes::executor(job, default_namespace, self.cluster.as_ref()),
                };
                executor
                    .map(|e| (r.rule.to_owned(), e))
                    .map_err(|message| BackendError::Rule {
                        rule: r.rule.to_owned(),
                        message,
                    })
            })
            .collect()
    }
}

/// Deserialises `value` into `T`, a failure reported at `base` + the inner path.
fn typed<T: DeserializeOwned>(base: &str, value: Value) -> Result<T, Vec<ActionProblem>> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (base.is_empty(), inner.as_str()) {
            (_, ".") => base.to_owned(),
            (true, inner) => inner.to_owned(),
            (false, inner) if inner.starts_with('[') => format!("{base}{inner}"),
            (false, inner) => format!("{base}.{inner}"),
        };
        vec![ActionProblem {
            path,
            message: e.into_inner().to_string(),
        }]
    })
}

#[cfg(test)]
mod tests;
