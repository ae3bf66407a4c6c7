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

/// The executor of a process action; its `pass_env` is read from alertrun's environment now.
#[cfg(feature = "server")]
pub(super) fn executor(
    action: &ProcessAction,
    stop_signal: &str,
    grace: Duration,
) -> Result<Arc<dyn Executor>, String> {
    let signal = parse_signal(stop_signal).map_err(|e| e.to_string())?;
    let options = ProcessOptions::default()
        .with_stop_signal(signal)
        .with_grace(grace)
        .with_inherited(inherited_env(action, |name| std::env::var(name).ok()));
    Ok(Arc::new(ProcessExecutor::new(action.clone(), options)))
}
