//! Shared pieces of the end-to-end tests: a real Alertmanager, `alertrun serve` as a child,
//! a recording tap between them, the recorder action, and polling.
//!
//! Every child process is owned by a guard that stops it on drop, also when a test panics;
//! on a panic the guards print what they know (logs, deliveries) to stderr.
// Each test binary uses a different part of this module.
#![allow(dead_code, unused_imports)]

mod alertmanager;
mod alertrun;
pub(crate) mod history;
pub(crate) mod http;
pub(crate) mod kube_api;
pub(crate) mod openmetrics;
pub(crate) mod receiver;
mod recorder;
mod tap;
mod tmpfs;
pub(crate) mod webdriver;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub(crate) use alertmanager::{
    Alertmanager, Timing, alert, find_alertmanager, prom_time, webhook_config,
};
pub(crate) use alertrun::Alertrun;
pub(crate) use recorder::{Record, Recorder, find_python};
pub(crate) use tap::{Delivery, Tap};
pub(crate) use tmpfs::Tmpfs;

/// The Alertmanager binary (see [`find_alertmanager`]), or `None` after saying loudly that
/// the test is skipped (a failure under `CI`: [`require_tool`]).
pub(crate) fn require_alertmanager() -> Option<PathBuf> {
    let install = "install Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager) \
                   or set ALERTMANAGER=/path/to/alertmanager";
    require_tool("Alertmanager", find_alertmanager(), install)
}

/// Runs the `alertrun` command line `args`, with `envs` added, as an operator types it:
/// whether it succeeded, and its stdout and stderr together.
pub(crate) fn cli(args: &[&str], envs: &[(&str, &std::ffi::OsStr)]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("alertrun runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Polls `probe` every 50 ms until it returns `Some`, for at most `timeout`.
///
/// # Panics
/// On timeout, naming `what`.
#[track_caller]
pub(crate) fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// `name` as found on PATH.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A tool the test needs: `Some(path)`, or `None` after printing why the test is skipped.
///
/// # Panics
/// When the tool is missing and `CI` is set: CI must run the test, not skip it.
pub(crate) fn require_tool(what: &str, found: Option<PathBuf>, install: &str) -> Option<PathBuf> {
    if found.is_some() {
        return found;
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{what} not found, and CI is set so this test may not be skipped: {install}");
    }
    eprintln!("SKIPPED: {what} not found ({install})");
    None
}

/// Owns a child process: stops it on drop (SIGTERM, then SIGKILL after a grace period).
#[derive(Debug)]
pub(crate) struct ChildGuard {
    name: &'static str,
    child: Child,
}

impl ChildGuard {
    pub(crate) fn new(name: &'static str, child: Child) -> Self {
        Self { name, child }
    }

    pub(crate) fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pids fit in i32"))
    }

    /// The exit status if it has exited (reaped once, remembered).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends `signal` unless it has exited already.
    pub(crate) fn signal(&mut self, signal: Signal) {
        if self.exited().is_none() {
            let _ = kill(self.pid(), signal);
        }
    }

    /// Waits up to `timeout` for it to exit.
    pub(crate) fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL.
    pub(crate) fn terminate(&mut self, grace: Duration) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        if let Some(status) = self.wait_timeout(grace) {
            return status;
        }
        eprintln!("{} outlived SIGTERM by {grace:?}: killing it", self.name);
        let _ = self.child.kill();
        self.child.wait().expect("wait for a killed child")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.terminate(Duration::from_secs(5));
        }
    }
}
