//! A run's states, and the timeline of transitions a run record keeps.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a run is in its life. The transitions between states are
/// `lifecycle::next`'s; the module docs draw them.
///
/// `Received`, `Queued`, `Starting`, `Running`, `AwaitingApproval` and `Verifying` are
/// unfinished: [`Store::recover`](crate::store::Store::recover) returns them and
/// [`Store::prune`](crate::store::Store::prune) never deletes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for a free slot.
    Queued,
    /// The action is running.
    Running,
    /// The action ended with success.
    Succeeded,
    /// The action started and ended with failure.
    Failed,
    /// The action exceeded its timeout and was stopped.
    TimedOut,
    /// The action was stopped on purpose, or never started, because its alert resolved.
    Cancelled,
    /// alertrun stopped (or died) while the run was unfinished.
    Interrupted,
    /// The run was not started, for the reason it records (cooldown, dry run, ...).
    Skipped,
    /// A slot is taken and the action is being started (retried with backoff while the
    /// backend cannot start it).
    Starting,
    /// The action could not be started within the rule's deadline; its episode stays open,
    /// so Alertmanager's next repeat of the alert tries again.
    FailedToStart,
    /// Waiting for people's approval (a rule with `approval: {required: true}`).
    AwaitingApproval,
    /// Ended; waiting to see whether its alert resolves (reserved: no transition enters it
    /// yet).
    Verifying,
    /// Selected by a rule in a notification that is being recorded; the first entry of
    /// every timeline, never the state of a stored run.
    Received,
    /// The action started, and then vanished before its end could be seen (a Kubernetes
    /// Job deleted by someone, or by its TTL, with no pod left to tell): it may have
    /// succeeded or failed. The reason says what was seen.
    Unknown,
    /// Its approval was refused, or did not come in time (reason `timeout`): it never ran.
    Rejected,
}

impl RunState {
    /// Every state, in the order of their store codes.
    pub const ALL: [RunState; 15] = [
        RunState::Queued,
        RunState::Running,
        RunState::Succeeded,
        RunState::Failed,
        RunState::TimedOut,
        RunState::Cancelled,
        RunState::Interrupted,
        RunState::Skipped,
        RunState::Starting,
        RunState::FailedToStart,
        RunState::AwaitingApproval,
        RunState::Verifying,
        RunState::Received,
        RunState::Unknown,
        RunState::Rejected,
    ];

    /// The name used in JSON and API filters: "queued", "timed_out", ...
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed_out",
            RunState::Cancelled => "cancelled",
            RunState::Interrupted => "interrupted",
            RunState::Skipped => "skipped",
            RunState::Starting => "starting",
            RunState::FailedToStart => "failed_to_start",
            RunState::AwaitingApproval => "awaiting_approval",
            RunState::Verifying => "verifying",
            RunState::Received => "received",
            RunState::Unknown => "unknown",
            RunState::Rejected => "rejected",
        }
    }

    /// Whether the run still has to be started or finished.
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            RunState::Received
                | RunState::Queued
                | RunState::Starting
                | RunState::Running
                | RunState::AwaitingApproval
                | RunState::Verifying
        )
    }

    /// Whether the run holds a slot of the concurrency limits.
    pub fn holds_slot(self) -> bool {
        matches!(self, RunState::Starting | RunState::Running)
    }

    /// The byte that stands for the state in the store's indexes. Part of the file format:
    /// never renumber.
    pub(crate) fn code(self) -> u8 {
        match self {
            RunState::Queued => 0,
            RunState::Running => 1,
            RunState::Succeeded => 2,
            RunState::Failed => 3,
            RunState::TimedOut => 4,
            RunState::Cancelled => 5,
            RunState::Interrupted => 6,
            RunState::Skipped => 7,
            RunState::Starting => 8,
            RunState::FailedToStart => 9,
            RunState::AwaitingApproval => 10,
            RunState::Verifying => 11,
            RunState::Received => 12,
            RunState::Unknown => 13,
            RunState::Rejected => 14,
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run state name that is not one of [`RunState`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown run state {0:?}: use received, queued, starting, running, succeeded, failed, \
     failed_to_start, timed_out, cancelled, interrupted, unknown, skipped, awaiting_approval, \
     rejected or verifying"
)]
pub struct ParseRunStateError(pub String);

impl FromStr for RunState {
    type Err = ParseRunStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| ParseRunStateError(s.to_owned()))
    }
}

/// One step of a run's timeline: the state it entered, when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The state entered.
    pub state: RunState,
    /// When, in unix milliseconds.
    pub at: i64,
    /// Why, in words: "notification 12 from receiver ops", "slot free", "exit 0".
    pub cause: String,
}
