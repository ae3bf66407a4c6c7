//! `alertrun serve` as a child process: JSON (or text) logs on stderr, drained by a thread
//! and kept for assertions and failure messages.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

use super::ChildGuard;

/// A running `alertrun serve`; stopped on drop (its log printed if the test panics).
#[derive(Debug)]
pub(crate) struct Alertrun {
    guard: ChildGuard,
    /// Its state directory (`--state-dir`), removed on drop.
    pub(crate) state_dir: tempfile::TempDir,
    /// The address it listens on, from its "listening" log event.
    pub(crate) addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Alertrun {
    /// Starts `alertrun serve -c CONFIG --listen 127.0.0.1:0 --log-format json` with a
    /// fresh state directory and `envs` added to the inherited environment, and waits for
    /// its "listening" event.
    pub(crate) fn start(config: &Path, envs: &[(&str, &OsStr)]) -> Self {
        let state_dir = tempfile::tempdir().expect("a temporary state directory");
        Self::start_in(config, envs, state_dir)
    }

    /// [`Alertrun::start`] with a given state directory (to restart on the same state).
    pub(crate) fn start_in(
        config: &Path,
        envs: &[(&str, &OsStr)],
        state_dir: tempfile::TempDir,
    ) -> Self {
        Self::start_with_args(config, envs, state_dir, &[])
    }

    /// [`Alertrun::start_in`] with extra arguments for `alertrun serve` (e.g. `--dry-run`;
    /// `--log-format text` replaces the JSON logs).
    pub(crate) fn start_with_args(
        config: &Path,
        envs: &[(&str, &OsStr)],
        state_dir: tempfile::TempDir,
        args: &[&str],
    ) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_alertrun"));
        cmd.arg("serve")
            .arg("-c")
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .args(if args.contains(&"--log-format") {
                &[][..]
            } else {
                &["--log-format", "json"][..]
            })
            .arg("--state-dir")
            .arg(state_dir.path())
            .args(args)
            .env("RUST_LOG", "info")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start alertrun serve");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = listening_address(&line) {
                    let _ = tx.send(addr);
                }
                lines
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        let mut guard = ChildGuard::new("alertrun", child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => break addr,
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => {
                    let status = guard.wait_timeout(Duration::from_secs(1));
                    let log = log
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .join("\n");
                    panic!(
                        "alertrun serve did not log \"listening\" (exit: {status:?}); log:\n{log}"
                    );
                }
            }
            if let Some(status) = guard.exited() {
                // Let the reader thread drain what it printed before it died.
                thread::sleep(Duration::from_millis(200));
                let log = log
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .join("\n");
                panic!("alertrun serve exited with {status} before listening; log:\n{log}");
            }
        };
        Self {
            guard,
            state_dir,
            addr,
            log,
        }
    }

    /// Its stderr so far, one line per event.
    pub(crate) fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// The JSON log events whose message is `message`.
    pub(crate) fn events(&self, message: &str) -> Vec<Value> {
        let lines = self
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| event_message(v) == Some(message))
            .collect()
    }

    /// Sends SIGTERM and waits up to `timeout` for it to exit.
    ///
    /// # Panics
    /// When it is still running after `timeout` (it is then killed on drop).
    pub(crate) fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.guard.signal(Signal::SIGTERM);
        let status = self.guard.wait_timeout(timeout);
        status.unwrap_or_else(|| panic!("alertrun still running {timeout:?} after SIGTERM"))
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> i32 {
        self.guard.pid().as_raw()
    }

    /// Sends `signal` (e.g. SIGHUP to reload) unless it has exited.
    pub(crate) fn signal(&mut self, signal: Signal) {
        self.guard.signal(signal);
    }

    /// Kills it with SIGKILL, as a crash would, and waits until it is gone.
    pub(crate) fn kill(&mut self) -> ExitStatus {
        self.guard.signal(Signal::SIGKILL);
        let status = self.guard.wait_timeout(Duration::from_secs(10));
        status.unwrap_or_else(|| panic!("alertrun still running 10s after SIGKILL"))
    }

    /// Stops it if it still runs (SIGTERM, then SIGKILL) and hands back its state
    /// directory, to start another alertrun on the same state with [`Alertrun::start_in`].
    pub(crate) fn into_state_dir(mut self) -> tempfile::TempDir {
        self.guard.terminate(Duration::from_secs(15));
        let spare = tempfile::tempdir().expect("a temporary directory");
        std::mem::replace(&mut self.state_dir, spare)
    }
}

impl Drop for Alertrun {
    fn drop(&mut self) {
        // SIGTERM first, so that alertrun stops the actions it started.
        self.guard.terminate(Duration::from_secs(15));
        if thread::panicking() {
            thread::sleep(Duration::from_millis(100));
            eprintln!("--- alertrun log:\n{}", self.log());
        }
    }
}

/// The message of a JSON log event: flattened (`message`) or nested (`fields.message`).
fn event_message(v: &Value) -> Option<&str> {
    v["message"]
        .as_str()
        .or_else(|| v["fields"]["message"].as_str())
}

fn listening_address(line: &str) -> Option<SocketAddr> {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        // A text log line: `... listening address=127.0.0.1:1234 ...`.
        if !line.contains(" listening") {
            return None;
        }
        let (_, addr) = line.split_once(" address=")?;
        return addr.split_whitespace().next()?.parse().ok();
    };
    if event_message(&v) != Some("listening") {
        return None;
    }
    let addr = v["address"]
        .as_str()
        .or_else(|| v["fields"]["address"].as_str())?;
    addr.parse().ok()
}
