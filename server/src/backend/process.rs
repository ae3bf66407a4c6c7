//! The process backend (`executor_process`): an action runs as a local program.

#[cfg(feature = "server")]
use std::sync::Arc;
#[cfg(feature = "server")]
use std::time::Duration;

#[cfg(feature = "server")]
use alert_core::Executor;
use alert_core::env::EnvVar;
use executor_process::{ProcessAction, parse_signal};
#[cfg(feature = "server")]
use executor_process::{ProcessExecutor, ProcessOptions, inherited_env};
use serde_json::{Value, json};

use super::Preview;

pub(super) fn check_stop_signal(signal: &str) -> Result<(), String> {
    parse_signal(signal).map(drop).map_err(|e| e.to_string())
}

pub(super) fn summary(p: &ProcessAction) -> Value {
    json!({"process": {"command": p.command(), "workdir": p.workdir(), "pass_env": p.pass_env()}})
}

pub(super) fn preview(p: &ProcessAction, shown_env: &[EnvVar]) -> Preview {
    Preview {
        executor: "process",
        argv: Some(p.argv(shown_env)),
        workdir: p.workdir().map(|d| d.display().to_string()),
        pass_env: p.pass_env().to_vec(),
        job: None,
        problems: Vec::new(),
    }
}

/// Variables taken from alertrun's environment, shared by the executors that take the same.
#[cfg(feature = "server")]
pub(super) type Vars = Arc<[(String, String)]>;

/// The executor of a process action, with `inherited`: what [`inherited_env`] gives for it.
#[cfg(feature = "server")]
pub(super) fn executor(
    action: &ProcessAction,
    stop_signal: &str,
    grace: Duration,
    inherited: Vars,
) -> Result<Arc<dyn Executor>, String> {
    let signal = parse_signal(stop_signal).map_err(|e| e.to_string())?;
    let options = ProcessOptions::default()
        .with_stop_signal(signal)
        .with_grace(grace)
        .with_inherited(inherited);
    Ok(Arc::new(ProcessExecutor::new(action.clone(), options)))
}

/// What process actions take from alertrun's environment, read now, once for each distinct
/// `pass_env` list: the executors of one config share it.
#[cfg(feature = "server")]
#[derive(Default)]
pub(super) struct Inherited<'a> {
    by_pass_env: std::collections::HashMap<&'a [String], Vars>,
}

#[cfg(feature = "server")]
impl<'a> Inherited<'a> {
    /// The variables `action` inherits.
    pub(super) fn of(&mut self, action: &'a ProcessAction) -> Vars {
        Arc::clone(
            self.by_pass_env
                .entry(action.pass_env())
                .or_insert_with(|| inherited_env(action, |name| std::env::var(name).ok()).into()),
        )
    }
}

/// Makes alertrun the reaper of what its actions leave when they daemonise, so that
/// [`end_orphans`] can end them when it stops.
#[cfg(feature = "server")]
pub(crate) fn adopt_orphans() {
    if let Err(e) = executor_process::adopt_orphans() {
        tracing::warn!(error = %e,
            "cannot become the reaper of daemonised actions: they may outlive alertrun");
    }
}

/// Reaps, every 5 seconds, what actions left behind that ended (zombie children that the
/// runtime did not spawn). Runs until the process exits.
#[cfg(feature = "server")]
pub(crate) async fn reap_orphans() {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        if let Err(e) = tokio::task::spawn_blocking(executor_process::reap_orphans).await {
            tracing::warn!(error = %e, "cannot reap what actions left behind");
        }
    }
}

/// Ends what actions left running when they daemonised: SIGTERM, SIGKILL after `grace`.
/// Call it once every action has ended.
#[cfg(feature = "server")]
pub(crate) async fn end_orphans(grace: Duration) {
    match executor_process::end_orphans(executor_process::Signal::SIGTERM, grace).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            processes = n,
            "ended what actions left running when they daemonised"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot look for what actions left running"),
    }
}
