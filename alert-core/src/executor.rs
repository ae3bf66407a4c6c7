//! The one `Executor` trait every backend implements, and the types it speaks.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::env::EnvVar;
use crate::{AlertStatus, Fingerprint, Timestamp};

/// A boxed, `Send` future: what [`Executor::execute`] returns, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs one action for one alert (or group) and reports how it ended.
///
/// Backends are built from their own settings type, validated by their constructor; the
/// server keeps them as `Arc<dyn Executor>` and never names a backend type elsewhere.
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
    fn execute<'a>(
        &'a self,
        req: &'a ExecRequest,
        stop: BoxFuture<'a, StopReason>,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>>;
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
}
