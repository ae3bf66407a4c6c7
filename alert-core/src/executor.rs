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
    /// Implementations honour `req.deadline`, track what they spawn, and clean up when the
    /// returned future is dropped.
    fn execute<'a>(&'a self, req: &'a ExecRequest) -> BoxFuture<'a, Result<Outcome, ExecError>>;
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
    /// Ran to completion here.
    Finished {
        /// Whether it reported success (exit status 0, Job Complete).
        success: bool,
    },
    /// Handed off, e.g. to a Kubernetes Job of this name.
    Submitted {
        /// Where to find it.
        reference: String,
    },
    /// Already started by an earlier request; nothing new was started.
    Duplicate,
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
    /// The action ran past its deadline and was stopped.
    #[error("action exceeded its deadline of {0:?}")]
    Timeout(Duration),
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
