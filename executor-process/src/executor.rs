//! Running a process action: spawn, watch, end, report.

use std::io;
use std::pin::pin;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use alert_core::{
    BoxFuture, EndedBy, ExecError, ExecRequest, Executor, Exit, OnStart, Outcome, Recovered,
    Report, Started, StopReason, Tail,
};
use nix::sys::signal::Signal;
use tokio::process::{Child, Command};
use tokio::time::{sleep, timeout};

use crate::group::ProcessGroup;
use crate::recover::{Ending, Leftover, end_leftover};
use crate::stdio::{read_tail, write_input};
use crate::{ProcessAction, ProcessOptions, SpawnError};

/// The backend's [`Executor::kind`].
const KIND: &str = "process";

/// How long output is still read once the action's process group is gone. Pipes close when
/// their last writer dies, so this only matters for a process that left the group (a
/// daemon that called `setsid`) and kept a pipe open.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Runs a [`ProcessAction`] as a local process, one process group per run.
///
/// # The child's environment
///
/// The child starts from an empty environment, then gets, in this order (a later variable
/// of the same name wins):
/// 1. [`ProcessOptions::inherited`]: `PATH` and the action's `pass_env` names taken from
///    alertrun's environment (see [`inherited_env`](crate::inherited_env));
/// 2. the request's env contract ([`ExecRequest::env`]), in order.
///
/// Nothing else: no `HOME`, `USER` or other variable of alertrun's reaches it unless
/// `pass_env` names it. A program given as a bare name is looked up in the child's `PATH`.
///
/// # No shell
///
/// The argv is [`ProcessAction::argv`] of the request's env: each configured element with
/// `$(VAR)` expanded, each still exactly one argument. It is handed to `execve` as is, never
/// to a shell, so quotes, `;`, `$(...)`, backticks and newlines in alert data are inert.
///
/// # One run
///
/// - stdin gets [`ExecRequest::input`], then end of file; a child that does not read it,
///   or exits early, is fine.
/// - stdout and stderr are read concurrently; the last [`ProcessOptions::output_limit`]
///   bytes of each are kept in the [`Report`].
/// - The child leads a new process group. Past [`ExecRequest::deadline`] the group gets
///   `SIGTERM`; on a stop request it gets [`ProcessOptions::stop_signal`]; in both cases
///   `SIGKILL` follows after [`ProcessOptions::grace`] if the leader still runs.
/// - When the leader has ended, however it ended, the rest of its group is killed with
///   `SIGKILL`: nothing it started in the background outlives the run. The same happens
///   when the future of [`Executor::execute`] is dropped before it completes.
///
/// # Handles and recovery after a crash
///
/// Right after the spawn, [`execute_observed`](Executor::execute_observed) reads the
/// leader's identity from `/proc` and calls `on_start` with [`Started::Process`]: its pid,
/// its group (the same number), its start time (field 22 of `/proc/<pid>/stat`) and the
/// boot id. Should `/proc` not say (it is not mounted), the group is killed at once and
/// the run fails with [`SpawnError::Identity`]: a run that could not be found again after
/// a crash may not run. Outside Linux there is no `/proc`: `on_start` is never called.
///
/// [`recover`](Executor::recover) takes such a handle from an earlier alertrun process
/// and makes sure nothing of that run goes on:
/// - another boot id, or a leader pid that now belongs to a process with another start
///   time (the pid was reused: that process is not ours and is left alone), or no live
///   member of the group: [`Recovered::Gone`];
/// - else the group (the live processes whose group is the handle's and whose start time
///   is not before the leader's: the leader may be gone while its children remain) gets
///   [`ProcessOptions::stop_signal`], `SIGKILL` after [`ProcessOptions::grace`], and
///   `recover` returns [`Recovered::Ended`] once no member is left (zombies do not
///   count). `stop` is not awaited: ending the group is bounded by the grace and a few
///   seconds after `SIGKILL`.
///
/// It never returns [`Recovered::Followed`]: a process that alertrun did not spawn cannot
/// be waited for, its exit status goes to its new parent, and its output pipes died with
/// the earlier alertrun.
///
/// # Errors
///
/// `execute` fails with [`ExecError::Backend`] (backend `"process"`) whose source is a
/// [`SpawnError`] naming the program or the working directory, with the OS error as its
/// source; with [`ExecError::Transient`] instead when [`SpawnError::is_transient`] (no
/// resources: `EAGAIN`, `ENOMEM`, ...). An action that started always yields
/// [`Outcome::Finished`], whatever its exit.
///
/// `recover` fails with [`ExecError::Rejected`] for a handle that is not a process group,
/// and with [`ExecError::Backend`] whose source is a [`RecoverError`](crate::RecoverError)
/// when `/proc` cannot be read or members survive `SIGKILL`.
#[derive(Debug)]
pub struct ProcessExecutor {
    action: ProcessAction,
    options: ProcessOptions,
}

impl ProcessExecutor {
    /// An executor running `action` with `options`.
    pub fn new(action: ProcessAction, options: ProcessOptions) -> Self {
        Self { action, options }
    }

    /// The action it runs.
    pub fn action(&self) -> &ProcessAction {
        &self.action
    }

    /// Its options.
    pub fn options(&self) -> &ProcessOptions {
        &self.options
    }

    /// The command for one run of `argv` (program first, already expanded).
    fn command(&self, argv: &[String], req: &ExecRequest) -> Command {
        let (program, args) = argv
            .split_first()
            .expect("ProcessAction::new refuses an empty command, and argv keeps its length");
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(self.options.inherited.iter().map(|(k, v)| (k, v)))
            .envs(req.env.iter().map(|v| (&v.name, &v.value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = self.action.workdir() {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Tells a missing or unusable workdir from a program that cannot run: the OS reports
    /// both as the same error of the spawn.
    async fn spawn_error(&self, program: &str, source: io::Error) -> SpawnError {
        if let Some(dir) = self.action.workdir() {
            let is_dir = tokio::fs::metadata(dir).await.is_ok_and(|m| m.is_dir());
            if !is_dir {
                return SpawnError::Workdir {
                    dir: dir.to_path_buf(),
                    source,
                };
            }
        }
        SpawnError::Program {
            program: program.to_string(),
            source,
        }
    }

    async fn run(
        &self,
        req: &ExecRequest,
        stop: BoxFuture<'_, StopReason>,
        on_start: OnStart<'_>,
    ) -> Result<Report, SpawnError> {
        let argv = self.action.argv(&req.env);
        // Errors and logs name the program with its secret values redacted.
        let program = self
            .action
            .shown_argv(&req.env)
            .into_iter()
            .next()
            .expect("ProcessAction::new refuses an empty command, and argv keeps its length");
        let mut child = match self.command(&argv, req).spawn() {
            Ok(child) => child,
            Err(source) => return Err(self.spawn_error(&program, source).await),
        };
        let pid = child
            .id()
            .expect("a child that was just spawned and not yet awaited has a pid");
        let group = ProcessGroup::led_by(pid);
        tracing::debug!(rule = %req.rule, program = %program, pid, "started action");
        // On error, dropping `group` (armed) and `child` (kill_on_drop) kills the run.
        identify(pid, on_start)
            .await
            .map_err(|source| SpawnError::Identity {
                program: program.clone(),
                source,
            })?;

        let (status, mut report) = self.follow(&mut child, &group, req, stop).await;
        group.release();
        let status = status.map_err(|source| SpawnError::Wait { program, source })?;
        report.exit = exit_of(status);
        Ok(report)
    }

    /// Feeds the child its input and reads its output while watching it; returns once it
    /// ended, its group was killed and its output read (or given up on after
    /// [`DRAIN_LIMIT`]), with everything but the exit filled in.
    async fn follow(
        &self,
        child: &mut Child,
        group: &ProcessGroup,
        req: &ExecRequest,
        stop: BoxFuture<'_, StopReason>,
    ) -> (io::Result<ExitStatus>, Report) {
        let started = Instant::now();
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let limit = self.options.output_limit;
        let (mut out, mut err) = (Tail::default(), Tail::default());
        let (status, ended_by, duration) = {
            let mut io = pin!(async {
                tokio::join!(
                    write_input(stdin, &req.input),
                    read_tail(stdout, &mut out, limit),
                    read_tail(stderr, &mut err, limit),
                )
            });
            let mut watch = pin!(self.watch(child, group, req.deadline, stop));
            let mut io_done = false;
            let (status, ended_by) = loop {
                tokio::select! {
                    ended = &mut watch => break ended,
                    _ = &mut io, if !io_done => io_done = true,
                }
            };
            let duration = started.elapsed();
            if !io_done && timeout(DRAIN_LIMIT, io).await.is_err() {
                tracing::warn!(
                    rule = %req.rule,
                    "a process outside the action's group keeps its output open; output after \
                     {DRAIN_LIMIT:?} is lost"
                );
            }
            (status, ended_by, duration)
        };
        let report = Report {
            exit: None,
            ended_by,
            stdout: out,
            stderr: err,
            duration,
            reason: None,
        };
        (status, report)
    }

    /// Waits for the leader to end on its own, or ends its group at the deadline or on
    /// request; then kills whatever is left of the group.
    async fn watch(
        &self,
        child: &mut Child,
        group: &ProcessGroup,
        deadline: Duration,
        stop: BoxFuture<'_, StopReason>,
    ) -> (io::Result<ExitStatus>, Option<EndedBy>) {
        let why = tokio::select! {
            biased;
            status = child.wait() => {
                group.signal(Signal::SIGKILL);
                return (status, None);
            }
            () = sleep(deadline) => EndedBy::Timeout,
            reason = stop => EndedBy::Stop(reason),
        };
        let signal = match why {
            EndedBy::Stop(_) => self.options.stop_signal,
            _ => Signal::SIGTERM,
        };
        tracing::debug!(?why, ?signal, "ending action");
        group.signal(signal);
        let status = match timeout(self.options.grace, child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                tracing::debug!(grace = ?self.options.grace, "action outlived its grace");
                group.signal(Signal::SIGKILL);
                child.wait().await
            }
        };
        group.signal(Signal::SIGKILL);
        (status, Some(why))
    }
}

/// How a process ended, from its wait status.
fn exit_of(status: ExitStatus) -> Option<Exit> {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .map(Exit::Code)
        .or_else(|| status.signal().map(Exit::Signal))
}

/// Tells `on_start` who the just-spawned leader `pid` is (Linux: from `/proc`).
#[cfg(target_os = "linux")]
async fn identify(pid: u32, on_start: OnStart<'_>) -> Result<(), crate::RecoverError> {
    let started = crate::recover::blocking(move || crate::identity::identify(pid)).await?;
    on_start(started);
    Ok(())
}

/// Without `/proc` a process cannot be told from a later one with its pid, so no handle
/// is handed out: `on_start` is not called, and a crash of alertrun leaves the run to
/// the caller's judgement.
#[cfg(not(target_os = "linux"))]
async fn identify(_pid: u32, _on_start: OnStart<'_>) -> Result<(), crate::RecoverError> {
    Ok(())
}

/// An `on_start` that ignores the handle, for plain [`Executor::execute`].
fn ignore(_: Started) {}

impl Executor for ProcessExecutor {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn execute<'a>(
        &'a self,
        req: &'a ExecRequest,
        stop: BoxFuture<'a, StopReason>,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        self.execute_observed(req, stop, &ignore)
    }

    fn execute_observed<'a>(
        &'a self,
        req: &'a ExecRequest,
        stop: BoxFuture<'a, StopReason>,
        on_start: OnStart<'a>,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            self.run(req, stop, on_start)
                .await
                .map(Outcome::Finished)
                .map_err(|e| {
                    let source = Box::new(e);
                    if source.is_transient() {
                        ExecError::Transient {
                            backend: KIND,
                            source,
                        }
                    } else {
                        ExecError::Backend {
                            backend: KIND,
                            source,
                        }
                    }
                })
        })
    }

    fn recover<'a>(
        &'a self,
        req: &'a ExecRequest,
        started: &'a Started,
        _stop: BoxFuture<'a, StopReason>,
    ) -> BoxFuture<'a, Result<Recovered, ExecError>> {
        Box::pin(async move {
            let Started::Process {
                pid,
                pgid,
                start_time,
                boot_id,
            } = started
            else {
                return Err(ExecError::Rejected {
                    backend: KIND,
                    reason: format!("cannot recover {started}: not a process group"),
                });
            };
            let leftover = Leftover {
                pid: *pid,
                pgid: *pgid,
                start_time: *start_time,
                boot_id,
            };
            let ending = Ending {
                signal: self.options.stop_signal,
                grace: self.options.grace,
            };
            tracing::debug!(rule = %req.rule, %started, "recovering");
            end_leftover(&leftover, ending)
                .await
                .map_err(|e| ExecError::Backend {
                    backend: KIND,
                    source: Box::new(e),
                })
        })
    }
}
