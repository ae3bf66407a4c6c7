//! Helpers shared by the integration tests: requests, runs under a safety timeout, and
//! checks on processes and temporary files.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::future::pending;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use alert_core::env::EnvVar;
use alert_core::{ExecError, ExecRequest, Executor, Outcome, Report, Subject};
use executor_process::{ProcessAction, ProcessExecutor, ProcessOptions};
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// A safety net for things that should end long before it: never a speed assertion.
pub const SAFETY: Duration = Duration::from_secs(20);

/// A request with this env and input, and a deadline no test means to reach.
pub fn request(env: &[(&str, &str)], input: &[u8]) -> ExecRequest {
    ExecRequest {
        rule: "test".into(),
        dedup_key: "test/1".into(),
        subject: Subject::default(),
        env: env.iter().map(|(k, v)| EnvVar::new(*k, *v)).collect(),
        input: input.to_vec(),
        deadline: Duration::from_secs(60),
    }
}

/// An action from string literals.
pub fn action(argv: &[&str]) -> ProcessAction {
    ProcessAction::new(argv.iter().map(|s| s.to_string()).collect()).expect("a valid test command")
}

/// `/bin/sh -c SCRIPT`: a fixed test script, never alert data.
pub fn sh(script: &str) -> ProcessAction {
    action(&["/bin/sh", "-c", script])
}

/// Options with the test process's `PATH` only.
pub fn options() -> ProcessOptions {
    ProcessOptions::default()
        .with_inherited(vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())])
}

/// Runs `executor` on `req` with a stop that never comes, under the safety timeout.
pub async fn execute(executor: &ProcessExecutor, req: &ExecRequest) -> Result<Outcome, ExecError> {
    tokio::time::timeout(SAFETY, executor.execute(req, Box::pin(pending())))
        .await
        .expect("the run ends well within the safety timeout")
}

/// The report of a run that must have started.
pub async fn report(executor: &ProcessExecutor, req: &ExecRequest) -> Report {
    match execute(executor, req).await {
        Ok(Outcome::Finished(report)) => report,
        other => panic!("expected a finished run, got {other:?}"),
    }
}

/// The error message with all its sources, joined by ": ".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// NUL-separated fields, as `printf '%s\0'` and `env -0` write them.
pub fn split_nul(bytes: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(bytes).expect("test output is UTF-8");
    let mut fields: Vec<String> = text.split('\0').map(str::to_string).collect();
    assert_eq!(fields.pop().as_deref(), Some(""), "output ends with NUL");
    fields
}

/// `env -0` output as a map.
pub fn parse_env(bytes: &[u8]) -> BTreeMap<String, String> {
    split_nul(bytes)
        .into_iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("env prints NAME=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A fresh path in the temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "alertrun-process-test-{}-{n}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().expect("temporary paths are UTF-8 here")
    }

    /// The pids written to the file, once it holds a full line.
    pub fn pids(&self) -> Option<Vec<i32>> {
        let text = std::fs::read_to_string(&self.0).ok()?;
        if !text.ends_with('\n') {
            return None;
        }
        Some(
            text.split_whitespace()
                .map(|p| {
                    p.parse()
                        .unwrap_or_else(|e| panic!("pid {p:?} in {text:?}: {e}"))
                })
                .collect(),
        )
    }

    /// Waits (under the safety timeout) until the file holds a full line of pids.
    pub async fn wait_pids(&self) -> Vec<i32> {
        tokio::time::timeout(SAFETY, async {
            loop {
                if let Some(pids) = self.pids() {
                    return pids;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the script writes its pid file")
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether `pid` no longer runs: gone, or a zombie waiting for a reaper (PID 1 in a
/// container may never reap the orphans it inherits).
pub fn is_dead(pid: i32) -> bool {
    match kill(Pid::from_raw(pid), None) {
        Err(Errno::ESRCH) => true,
        Err(e) => panic!("kill({pid}, 0): {e}"),
        Ok(()) => std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                // The state follows the parenthesised command name.
                let after = &stat[stat.rfind(')').expect("stat has (comm)") + 1..];
                after.trim_start().starts_with(['Z', 'X'])
            })
            .unwrap_or(true),
    }
}

/// Whether `pid` dies soon after being killed (polled under the safety timeout).
pub async fn dies(pid: i32) -> bool {
    tokio::time::timeout(SAFETY, async {
        while !is_dead(pid) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .is_ok()
}
