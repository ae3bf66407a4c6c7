//! The run lifecycle: the states a run moves through, the one function that moves it, and
//! the ledger that makes every decision depending on other runs.
//!
//! A **run** is one execution of one rule's action for one episode (or group state). Its
//! life, as [`next`] allows it:
//!
//! ```text
//!              received
//!             /        \
//!        (queue)      (skip: dry run, cooldown, env) ──> skipped
//!           |
//!         queued ──(alert resolved)──────────────────> cancelled
//!           |  ^
//!     (slot free)  (start not recorded: untake)
//!           v  |
//!        starting ──(backend cannot start; retried with backoff
//!           |        until the rule's deadline)────────> failed_to_start  (episode reopened)
//!      (started)
//!           v
//!        running ──> succeeded | failed | timed_out | cancelled (resolved) | interrupted (shutdown)
//!
//!   after a restart: queued ─> queued again; starting ─> interrupted (leftover ended);
//!   running ─> running (a Job re-attached and followed) or interrupted (a process ended)
//!   received ──(rule needs approval)──> awaiting_approval ──(approved)──> queued
//!       awaiting_approval ──(rejected, or timed out)──> rejected
//!       awaiting_approval ──(approved, but a rail holds it)──> skipped
//!       awaiting_approval ──(alert resolved)──> cancelled
//!   reserved for later work: verifying
//! ```
//!
//! Every transition is recorded in the store with its time and cause
//! ([`Transition`]), so a run's record holds its timeline, not only its last state.
//!
//! What this module is: pure, synchronous decisions, unit-tested without tokio
//! ([`next`]'s table test, the [`Ledger`]'s tests). What it is not: it runs nothing,
//! writes nothing and reads no clock; time comes in as unix milliseconds. The dispatcher
//! (`serve::dispatch`) carries events in and effects out.

mod episodes;
mod key;
mod ledger;
pub(crate) mod rails;
mod state;
mod transition;
pub(crate) mod verify;

pub(crate) use key::{DedupeKey, Namespace, RuleName, Subject};
pub(crate) use ledger::{
    Admission, Ledger, LiveRun, NotDue, QueueLimits, Refusal, RunId, Selection,
};
pub use state::{ParseRunStateError, RunState, Transition};
pub(crate) use transition::{Effect, End, Event, next, retry_delay};
pub use verify::VerdictKind;
