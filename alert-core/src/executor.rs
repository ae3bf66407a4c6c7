//! The one `Executor` trait every backend implements, and the types it speaks.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::env::EnvVar;
use crate::{AlertStatus, Fingerprint, Timestamp};

/// A boxed, `Send` future: what [`Executor::execute`] returns, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Told, once and as soon as an action has started, the [`Started`] handle of it: see
/// [`Executor::execute_observed`].
pub type OnStart<'a> = &'a (dyn Fn(Started) + Send + Sync);

/// Runs one action for one alert (or group) and reports how it ended.
///
/// Backends are built from their own settings type, validated by their constructor; the
/// server keeps them as `Arc<dyn Executor>` and never names a backend type elsewhere.
///
/// # Surviving a crash of alertrun
///
/// What a backend starts may outlive the alertrun process that started it (a Kubernetes
/// Job always does; a process group does when alertrun is killed with `SIGKILL`). So a
/// backend whose work can outlive it:
/// 1. tells the caller, through [`execute_observed`](Self::execute_observed)'s `on_start`,
///    the [`Started`] handle of what it started, as soon as it started it, so the caller
///    can store the handle with the run before anything else happens;
/// 2. takes such a handle back in [`recover`](Self::recover), in a later alertrun process,
///    and makes sure nothing of that run goes on unsupervised: it ends it
///    ([`Recovered::Ended`]), follows it to its end ([`Recovered::Followed`]), or finds
///    nothing left ([`Recovered::Gone`]).
///
/// # Never started, or started then failed
///
/// `execute_observed` calls `on_start` before it returns whenever it started something.
/// So an `Err` without a call to `on_start` means nothing was started: the caller may try
/// again when [`ExecError::is_transient`] says the failure may pass. An `Err` after
/// `on_start` is a run that started and then failed; trying again could run the action
/// twice.
pub trait Executor: Send + Sync + fmt::Debug {
    /// Stable backend name for logs and metrics, e.g. `"process"`, `"k8s-job"`.
    fn kind(&self) -> &'static str;

    /// Starts the action and resolves when it finished or was handed off.
    ///
    /// `stop` resolves when the caller wants the action ended early (its alert resolved,
    /// alertrun is shutting down); the backend then ends it its configured way (a process:
    /// the rule's signal to its process group, SIGKILL after a grace) and reports the run
    /// with [`Report::ended_by`] set. A `stop` that never resolves lets the action run to
    /// its end or its deadline ([`std::future::pending`]).
    ///
    /// Implementations honour `req.deadline`, track what they spawn, and clean up when the
    /// returned future is dropped.
    ///
    /// This is [`execute_observed`](Self::execute_observed) without being told the
    /// [`Started`] handle; backends that override that method implement this one by
    /// calling it with an `on_start` that does nothing.
    fn execute<'a>(
        &'a self,
        req: &'a ExecRequest,
        stop: BoxFuture<'a, StopReason>,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>>;

    /// [`execute`](Self::execute), calling `on_start` once with the [`Started`] handle of
    /// the action as soon as it has started, before following it.
    ///
    /// `on_start` is called at most once, from inside the returned future, and must not
    /// block: store the handle (or send it to whoever stores it) and return. It is not
    /// called when nothing was started: an `Err` (the action could not be started) or
    /// [`Outcome::Duplicate`] (an earlier request started it, and it is not followed here).
    ///
    /// The provided implementation calls `execute` and never calls `on_start`: right for a
    /// backend whose work cannot outlive the alertrun process (a test double), which then
    /// has nothing to [`recover`](Self::recover) either.
    fn execute_observed<'a>(
        &'a self,
        req: &'a ExecRequest,
        stop: BoxFuture<'a, StopReason>,
        on_start: OnStart<'a>,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        let _ = on_start;
        self.execute(req, stop)
    }

    /// Deals with what an earlier alertrun process started for `req` (its `on_start` was
    /// given `started`), before anything else runs for that run's episode.
    ///
    /// Each backend says which [`Recovered`] it answers: a process backend ends a process
    /// group that still lives ([`Recovered::Ended`]); a Kubernetes backend follows a Job
    /// that still exists to its end, as [`execute`](Self::execute) would have
    /// ([`Recovered::Followed`]). Either answers [`Recovered::Gone`] when nothing of it is
    /// left. `stop` ends a followed action early, as for `execute`.
    ///
    /// # Errors
    ///
    /// [`ExecError::Rejected`] when `started` is not a handle this backend hands out (a
    /// rule moved from one backend to another between the two processes; ask the backend
    /// of the handle's kind). [`ExecError::Backend`] when the backend could not find out or
    /// could not end what is left: the caller must not assume it is gone.
    ///
    /// The provided implementation rejects every handle. That is exact for a backend that
    /// keeps the provided [`execute_observed`](Self::execute_observed): it never hands out
    /// a handle, so any handle it is given was started by another backend.
    fn recover<'a>(
        &'a self,
        req: &'a ExecRequest,
        started: &'a Started,
        stop: BoxFuture<'a, StopReason>,
    ) -> BoxFuture<'a, Result<Recovered, ExecError>> {
        let _ = (req, stop);
        let error = ExecError::Rejected {
            backend: self.kind(),
            reason: format!(
                "cannot recover {started}: this backend starts nothing that outlives alertrun"
            ),
        };
        Box::pin(std::future::ready(Err(error)))
    }
}

/// What a backend started for one run: enough for a later alertrun process to find it
/// again, and to tell it from something else that now has the same name or number.
///
/// The caller stores it with the run (it serialises with serde, tagged by `kind`:
/// `{"kind":"process","pid":4242,...}`) and hands it to [`Executor::recover`] after a
/// restart. Only backends construct it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Started {
    /// A local process group.
    ///
    /// A pid alone is not an identity: after the process ended, the kernel may give the
    /// number to another process. The start time (in clock ticks since boot) tells the
    /// process from a later one with the same pid, and the boot id tells this boot from
    /// an earlier one (after a reboot, nothing of the run is left).
    Process {
        /// The pid of the process alertrun spawned: the group's leader.
        pid: u32,
        /// The process group the action runs in (the leader's pid when the backend made
        /// the leader start a new group, as the process backend does).
        pgid: u32,
        /// When the leader started: field 22 (`starttime`) of `/proc/<pid>/stat`, in
        /// clock ticks since boot.
        start_time: u64,
        /// The boot the leader started in: `/proc/sys/kernel/random/boot_id`.
        boot_id: String,
    },
    /// A Kubernetes Job.
    Job {
        /// Its namespace.
        namespace: String,
        /// Its name (deterministic per rule and dedup key).
        name: String,
        /// Its uid, which tells it from a later Job of the same name.
        uid: String,
    },
}

impl fmt::Display for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Process {
                pid,
                pgid,
                start_time,
                ..
            } => write!(
                f,
                "process group {pgid} (leader pid {pid}, started at tick {start_time})"
            ),
            Self::Job {
                namespace,
                name,
                uid,
            } => write!(f, "Job {namespace}/{name} (uid {uid})"),
        }
    }
}

/// What [`Executor::recover`] found of a run an earlier alertrun process started, and
/// what it did about it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recovered {
    /// Nothing of it is left: it ended while no alertrun watched, and how it ended is
    /// unknown (or it was replaced: a reused pid, a Job of the same name and another
    /// uid, which are left alone). The caller records that the run's outcome is not
    /// known (alertrun: `interrupted` for a process, whose supervisor died with it;
    /// `unknown` for a re-attached Job).
    Gone,
    /// It was still running, and this call ended it: nothing of it is left now. The caller
    /// records the run `interrupted`.
    Ended,
    /// It was still there, and this call followed it to its end as
    /// [`Executor::execute`] would have, with the same deadline and `stop` handling. The
    /// caller records the outcome as the run's.
    Followed(Outcome),
}

/// Why a caller asks a running action to stop before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// The alert (or group) the action runs for resolved, and the rule says to stop.
    Resolved,
    /// alertrun is shutting down.
    Shutdown,
}

impl StopReason {
    /// `resolved` or `shutdown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolved => "resolved",
            Self::Shutdown => "shutdown",
        }
    }
}

/// Everything a backend needs to run one action, already rendered.
///
/// Backends never see the raw webhook, so all of them expose the same variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecRequest {
    /// The rule whose action this is.
    pub rule: String,
    /// A key unique to (rule, episode) or (rule, group): backends that can deduplicate on
    /// their own (a Kubernetes Job name) derive from it.
    pub dedup_key: String,
    /// What the action is about, for a backend to label and annotate its work with.
    pub subject: Subject,
    /// The env contract for this alert or group, in order.
    pub env: Vec<EnvVar>,
    /// The alert (or group) as JSON, for an action's standard input.
    pub input: Vec<u8>,
    /// How long the action may run.
    pub deadline: Duration,
}

/// Descriptive facts about the alert (or group) an action is for. Backends use them to
/// name, label and annotate what they start; the action itself reads the env.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// The `alertname` label (the common one for a group; empty when there is none).
    pub alertname: String,
    /// The alert's status, or the notification's for a group.
    pub status: Option<AlertStatus>,
    /// The alert's fingerprint; `None` for a group.
    pub fingerprint: Option<Fingerprint>,
    /// When the alert's episode started; `None` for a group.
    pub starts_at: Option<Timestamp>,
    /// The notification's group key.
    pub group_key: String,
    /// The `summary` annotation, if any.
    pub summary: String,
    /// The alert's generator URL; empty for a group.
    pub generator_url: String,
}

/// How an action ended, when it did not fail to start.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Ran to its end here (or was ended): how, and what it printed.
    Finished(Report),
    /// Handed off, e.g. to a Kubernetes Job of this name.
    Submitted {
        /// Where to find it.
        reference: String,
    },
    /// Already started by an earlier request; nothing new was started.
    Duplicate,
}

/// The record of a finished action.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// How it exited, when known.
    pub exit: Option<Exit>,
    /// Who ended it, when it did not end on its own.
    pub ended_by: Option<EndedBy>,
    /// The tail of its standard output.
    pub stdout: Tail,
    /// The tail of its standard error.
    pub stderr: Tail,
    /// How long it ran.
    pub duration: Duration,
    /// Why it ended as it did, in the backend's words, when the backend knows more than
    /// the exit code says: e.g. a Kubernetes Job's `Failed` condition
    /// (`"DeadlineExceeded: Job was active longer than specified deadline"`).
    pub reason: Option<String>,
}

impl Report {
    /// Whether the action succeeded: it exited 0 on its own.
    pub fn success(&self) -> bool {
        self.ended_by.is_none() && self.exit == Some(Exit::Code(0))
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exit {
    /// Exited with this status code.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(c) => write!(f, "exit {c}"),
            Self::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

/// Why an action was ended before it finished on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndedBy {
    /// It ran past [`ExecRequest::deadline`].
    Timeout,
    /// The caller asked it to stop.
    Stop(StopReason),
    /// It disappeared before its end could be seen, and nothing left tells how it ended
    /// (a Kubernetes Job deleted by someone, or by its TTL, whose pods are gone too): its
    /// outcome is unknown. [`Report::reason`] says what was seen.
    Vanished,
}

/// The last bytes of an output stream, up to a limit, and how many came before them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tail {
    /// The last bytes written, at most the limit given to [`Tail::push`].
    pub bytes: Vec<u8>,
    /// How many earlier bytes were dropped to keep within the limit.
    pub dropped: u64,
}

impl Tail {
    /// Appends `data`, keeping only the last `limit` bytes.
    pub fn push(&mut self, data: &[u8], limit: usize) {
        if data.len() >= limit {
            self.dropped += (self.bytes.len() + data.len() - limit) as u64;
            self.bytes.clear();
            self.bytes.extend_from_slice(&data[data.len() - limit..]);
            return;
        }
        let excess = (self.bytes.len() + data.len()).saturating_sub(limit);
        if excess > 0 {
            self.bytes.drain(..excess);
            self.dropped += excess as u64;
        }
        self.bytes.extend_from_slice(data);
    }

    /// The bytes as text, invalid UTF-8 replaced.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}

/// Why an action could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The backend refused the request as given.
    #[error("{backend} rejected the action: {reason}")]
    Rejected {
        /// The backend's [`Executor::kind`].
        backend: &'static str,
        /// Why.
        reason: String,
    },
    /// The backend itself failed (spawn error, API error).
    #[error("{backend} backend failed")]
    Backend {
        /// The backend's [`Executor::kind`].
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
    /// The backend could not start the action now (or, from [`Executor::recover`], could
    /// not look at what an earlier process started), for a reason that may pass: no
    /// resources for a new process, an API server that is unreachable, overloaded (5xx),
    /// throttling (429) or too slow to answer. Backends return it only before anything
    /// was started (or done), so trying again later is safe and may succeed: see
    /// [`ExecError::is_transient`]. A failure after the start is always `Backend`.
    #[error("{backend} backend cannot start the action for now")]
    Transient {
        /// The backend's [`Executor::kind`].
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
}

impl ExecError {
    /// Whether the failure may pass, so that starting the action again (with backoff) is
    /// worth it: [`ExecError::Transient`] only.
    ///
    /// [`ExecError::Rejected`] (the request as rendered is refused) and
    /// [`ExecError::Backend`] (a failure that repeats: a missing program, a 403, a 422)
    /// are not. Trying again is safe only when [`Executor::execute_observed`] did not call
    /// its `on_start`: otherwise the action started, and may still be running.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_the_last_bytes_and_counts_the_rest() {
        let mut t = Tail::default();
        t.push(b"abc", 5);
        t.push(b"def", 5);
        assert_eq!((t.bytes.as_slice(), t.dropped), (&b"bcdef"[..], 1));
        t.push(b"0123456789", 5);
        assert_eq!((t.bytes.as_slice(), t.dropped), (&b"56789"[..], 11));
        t.push(b"", 5);
        assert_eq!(t.text(), "56789");
    }

    #[test]
    fn only_a_clean_zero_exit_is_success() {
        let ok = Report {
            exit: Some(Exit::Code(0)),
            ..Report::default()
        };
        assert!(ok.success());
        let timed_out = Report {
            ended_by: Some(EndedBy::Timeout),
            ..ok.clone()
        };
        assert!(!timed_out.success());
        assert!(!Report::default().success());
        let failed = Report {
            exit: Some(Exit::Code(1)),
            ..ok
        };
        assert!(!failed.success());
    }
    #[test]
    fn a_started_handle_round_trips_through_json_tagged_by_kind() {
        for (handle, json) in [
            (
                Started::Process {
                    pid: 4242,
                    pgid: 4242,
                    start_time: 123_456,
                    boot_id: "5f1c0d9e-2b8a-4c3e-9f7d-1a2b3c4d5e6f".into(),
                },
                r#"{"kind":"process","pid":4242,"pgid":4242,"start_time":123456,"boot_id":"5f1c0d9e-2b8a-4c3e-9f7d-1a2b3c4d5e6f"}"#,
            ),
            (
                Started::Job {
                    namespace: "ops".into(),
                    name: "restart-web-1a2b3c4d".into(),
                    uid: "0f6f3c1e".into(),
                },
                r#"{"kind":"job","namespace":"ops","name":"restart-web-1a2b3c4d","uid":"0f6f3c1e"}"#,
            ),
        ] {
            assert_eq!(serde_json::to_string(&handle).unwrap(), json);
            assert_eq!(serde_json::from_str::<Started>(json).unwrap(), handle);
        }
        assert!(serde_json::from_str::<Started>(r#"{"kind":"vm","id":1}"#).is_err());
    }
    #[test]
    fn a_started_handle_names_what_it_is() {
        let process = Started::Process {
            pid: 7,
            pgid: 7,
            start_time: 99,
            boot_id: "b".into(),
        };
        assert_eq!(
            process.to_string(),
            "process group 7 (leader pid 7, started at tick 99)"
        );
        let job = Started::Job {
            namespace: "ops".into(),
            name: "j".into(),
            uid: "u".into(),
        };
        assert_eq!(job.to_string(), "Job ops/j (uid u)");
    }

    #[test]
    fn only_transient_errors_are_worth_retrying() {
        let source = || -> Box<dyn Error + Send + Sync> { "cause".into() };
        for (case, error, want) in [
            (
                "rejected",
                ExecError::Rejected {
                    backend: "b",
                    reason: "bad".into(),
                },
                false,
            ),
            (
                "backend",
                ExecError::Backend {
                    backend: "b",
                    source: source(),
                },
                false,
            ),
            (
                "transient",
                ExecError::Transient {
                    backend: "b",
                    source: source(),
                },
                true,
            ),
        ] {
            assert_eq!(error.is_transient(), want, "{case}");
        }
    }

    /// A backend that keeps every provided method.
    #[derive(Debug)]
    struct Plain;

    impl Executor for Plain {
        fn kind(&self) -> &'static str {
            "plain"
        }

        fn execute<'a>(
            &'a self,
            _req: &'a ExecRequest,
            _stop: BoxFuture<'a, StopReason>,
        ) -> BoxFuture<'a, Result<Outcome, ExecError>> {
            Box::pin(std::future::ready(Ok(Outcome::Duplicate)))
        }
    }

    /// Polls a future that is ready at once (the provided methods never wait).
    fn now<T>(mut future: BoxFuture<'_, T>) -> T {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("the provided methods are ready at once"),
        }
    }

    fn request() -> ExecRequest {
        ExecRequest {
            rule: "r".into(),
            dedup_key: "k".into(),
            subject: Subject::default(),
            env: Vec::new(),
            input: Vec::new(),
            deadline: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_provided_execute_observed_runs_execute_and_reports_no_start() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let on_start = |_: Started| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        let req = request();
        let executor: &dyn Executor = &Plain;
        let outcome =
            now(executor.execute_observed(&req, Box::pin(std::future::pending()), &on_start));
        assert!(matches!(outcome, Ok(Outcome::Duplicate)), "{outcome:?}");
        assert_eq!(calls.into_inner(), 0);
    }

    #[test]
    fn the_provided_recover_rejects_every_handle() {
        let req = request();
        let started = Started::Job {
            namespace: "ops".into(),
            name: "j".into(),
            uid: "u".into(),
        };
        let executor: &dyn Executor = &Plain;
        let e =
            now(executor.recover(&req, &started, Box::pin(std::future::pending()))).unwrap_err();
        assert!(
            matches!(
                e,
                ExecError::Rejected {
                    backend: "plain",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!e.is_transient());
        assert_eq!(
            e.to_string(),
            "plain rejected the action: cannot recover Job ops/j (uid u): this backend \
             starts nothing that outlives alertrun"
        );
    }
}
