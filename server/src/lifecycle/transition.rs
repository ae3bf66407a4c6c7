//! The transition function: (state, event) → (new state, effects), for one run.
//!
//! It is the only place that says which moves a run may make; the [`Ledger`](super::Ledger)
//! and the dispatcher ask it, then carry out the effects it names. An event that makes no
//! sense in a state (a finished run asked to start) is an [`IllegalTransition`], never a
//! silent no-op: the callers treat it as a bug and log it.

use std::time::Duration;

use alert_core::StopReason;

use super::state::RunState;

/// Something that happens to a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// The notification that selected it is recorded: it waits for a slot.
    #[cfg_attr(not(test), allow(dead_code, reason = "only tests construct it"))]
    Queue,
    /// It is recorded without running: dry run, env that cannot be passed; after a restart,
    /// its rule or notification is gone; or the backend found it started already.
    Skip,
    /// A slot is free: its action is being started.
    Take,
    /// Its start could not be recorded: back to the front of the queue.
    Untake,
    /// The backend started its action.
    Started,
    /// The backend could not start its action; `retry_in` is set while the rule's deadline
    /// leaves room for another attempt (see [`retry_delay`]).
    StartFailed {
        /// When to try again; `None`: give up.
        retry_in: Option<Duration>,
    },
    /// Its action ended (on its own, or because it was asked to stop).
    Ended(End),
    /// Its alert (or group) resolved, and its rule stops on resolve.
    Resolved,
    /// alertrun is shutting down.
    Shutdown,
    /// Its rule needs approval: it waits for people's decisions.
    Await,
    /// Approved (enough approvals, and the rails still let it): it queues.
    Approve,
    /// Rejected by a person, or its approval timed out.
    Reject,
    /// alertrun restarted and found the run unfinished. `attachable`: the backend can
    /// follow what the previous alertrun started (a Kubernetes Job, by its name).
    Recovered {
        /// Whether the backend can follow the earlier action to its end.
        attachable: bool,
    },
}

/// How an action that started ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Exited 0 (or a Job completed).
    Succeeded,
    /// Exited non-zero, was killed, or its backend failed after it started.
    Failed,
    /// Ran past the rule's timeout and was stopped.
    TimedOut,
    /// Stopped because its alert resolved.
    Cancelled,
    /// Stopped because alertrun shut down.
    Interrupted,
    /// Vanished before its end was seen: how it ended is not known.
    Unknown,
}

impl End {
    /// The state the run enters.
    pub(crate) fn state(self) -> RunState {
        match self {
            End::Succeeded => RunState::Succeeded,
            End::Failed => RunState::Failed,
            End::TimedOut => RunState::TimedOut,
            End::Cancelled => RunState::Cancelled,
            End::Interrupted => RunState::Interrupted,
            End::Unknown => RunState::Unknown,
        }
    }
}

/// What the caller must do after a transition, besides recording it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Start the action.
    Start,
    /// Try to start the action again after this delay.
    RetryStart(Duration),
    /// Ask the running action to stop.
    Stop(StopReason),
    /// Give the run's concurrency slot back.
    FreeSlot,
    /// Forget that the episode ran, so the next delivery of the alert runs it.
    ReopenEpisode,
    /// Put it back in the queue (after a restart).
    Requeue,
    /// Follow the action the previous alertrun started to its end.
    Attach,
    /// End whatever the previous alertrun left of the action, then record it interrupted.
    EndLeftover,
    /// Wait for approval again (after a restart), once its action is checked unchanged.
    AwaitAgain,
}

/// A transition's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    /// The run's new state (may equal the old one).
    pub state: RunState,
    /// What to do, in order.
    pub effects: Vec<Effect>,
}

/// An event that a run in this state cannot take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a run in state {state} cannot take event {event:?}")]
pub(crate) struct IllegalTransition {
    /// The run's state.
    pub state: RunState,
    /// The event.
    pub event: Event,
}

/// The one transition function of the run lifecycle.
///
/// # Errors
/// [`IllegalTransition`] when `event` makes no sense in `state`.
pub(crate) fn next(state: RunState, event: Event) -> Result<Step, IllegalTransition> {
    use Effect as F;
    use Event as E;
    use RunState as S;
    let step = |state, effects: &[Effect]| {
        Ok(Step {
            state,
            effects: effects.to_vec(),
        })
    };
    match (state, event) {
        (S::Received, E::Queue) => step(S::Queued, &[]),
        (S::Received, E::Skip) => step(S::Skipped, &[]),
        (S::Received, E::Await) => step(S::AwaitingApproval, &[]),

        (S::AwaitingApproval, E::Approve) => step(S::Queued, &[]),
        (S::AwaitingApproval, E::Reject) => step(S::Rejected, &[]),
        // Approved, but a rail (a pause, an open breaker) holds it at decision time.
        (S::AwaitingApproval, E::Skip) => step(S::Skipped, &[]),
        (S::AwaitingApproval, E::Resolved) => step(S::Cancelled, &[]),
        // It waits in the store for the next start.
        (S::AwaitingApproval, E::Shutdown) => step(S::AwaitingApproval, &[]),
        (S::AwaitingApproval, E::Recovered { .. }) => step(S::AwaitingApproval, &[F::AwaitAgain]),

        (S::Queued, E::Take) => step(S::Starting, &[F::Start]),
        // After a restart, its rule or notification is gone.
        (S::Queued, E::Skip) => step(S::Skipped, &[]),
        (S::Queued, E::Resolved) => step(S::Cancelled, &[]),
        // Shutting down: what is queued stays queued in the store, for the next start.
        (S::Queued, E::Shutdown) => step(S::Queued, &[]),
        (S::Queued, E::Recovered { .. }) => step(S::Queued, &[F::Requeue]),

        (S::Starting, E::Untake) => step(S::Queued, &[F::FreeSlot]),
        (S::Starting, E::Started) => step(S::Running, &[]),
        // The backend found the action already started by an earlier request.
        (S::Starting, E::Skip) => step(S::Skipped, &[F::FreeSlot]),
        (S::Starting, E::StartFailed { retry_in: Some(d) }) => {
            step(S::Starting, &[F::RetryStart(d)])
        }
        (S::Starting, E::StartFailed { retry_in: None }) => {
            step(S::FailedToStart, &[F::FreeSlot, F::ReopenEpisode])
        }
        (S::Starting | S::Running, E::Resolved) => step(state, &[F::Stop(StopReason::Resolved)]),
        (S::Starting | S::Running, E::Shutdown) => step(state, &[F::Stop(StopReason::Shutdown)]),
        (S::Starting | S::Running, E::Ended(end)) => step(end.state(), &[F::FreeSlot]),
        // A start may have been under way: whatever it left is ended, never run twice.
        (S::Starting, E::Recovered { .. }) => step(S::Interrupted, &[F::EndLeftover]),
        (S::Running, E::Recovered { attachable: true }) => step(S::Running, &[F::Attach]),
        (S::Running, E::Recovered { attachable: false }) => step(S::Interrupted, &[F::EndLeftover]),
        (state, event) => Err(IllegalTransition { state, event }),
    }
}

/// The delay before start attempt `attempt + 1` (1-based `attempt` just failed): 500 ms,
/// doubling, at most 30 s; `None` when the attempt after it would begin past `deadline`
/// (measured from the first attempt, `elapsed` ago).
pub(crate) fn retry_delay(attempt: u32, elapsed: Duration, deadline: Duration) -> Option<Duration> {
    let exponent = attempt.saturating_sub(1).min(16);
    let delay = (Duration::from_millis(500) * 2u32.pow(exponent)).min(Duration::from_secs(30));
    (elapsed + delay < deadline).then_some(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    use Effect as F;
    use Event as E;
    use RunState as S;

    const SECOND: Duration = Duration::from_secs(1);

    /// Every legal (state, event) pair, with the state it leads to and its effects.
    #[test]
    fn the_transition_table() {
        let table: &[(S, E, S, &[Effect])] = &[
            (S::Received, E::Queue, S::Queued, &[]),
            (S::Received, E::Skip, S::Skipped, &[]),
            (S::Received, E::Await, S::AwaitingApproval, &[]),
            (S::AwaitingApproval, E::Approve, S::Queued, &[]),
            (S::AwaitingApproval, E::Reject, S::Rejected, &[]),
            (S::AwaitingApproval, E::Skip, S::Skipped, &[]),
            (S::AwaitingApproval, E::Resolved, S::Cancelled, &[]),
            (S::AwaitingApproval, E::Shutdown, S::AwaitingApproval, &[]),
            (
                S::AwaitingApproval,
                E::Recovered { attachable: false },
                S::AwaitingApproval,
                &[F::AwaitAgain],
            ),
            (S::Queued, E::Take, S::Starting, &[F::Start]),
            (S::Queued, E::Skip, S::Skipped, &[]),
            (S::Queued, E::Resolved, S::Cancelled, &[]),
            (S::Queued, E::Shutdown, S::Queued, &[]),
            (
                S::Queued,
                E::Recovered { attachable: false },
                S::Queued,
                &[F::Requeue],
            ),
            (
                S::Queued,
                E::Recovered { attachable: true },
                S::Queued,
                &[F::Requeue],
            ),
            (S::Starting, E::Untake, S::Queued, &[F::FreeSlot]),
            (S::Starting, E::Started, S::Running, &[]),
            (S::Starting, E::Skip, S::Skipped, &[F::FreeSlot]),
            (
                S::Starting,
                E::StartFailed {
                    retry_in: Some(SECOND),
                },
                S::Starting,
                &[F::RetryStart(SECOND)],
            ),
            (
                S::Starting,
                E::StartFailed { retry_in: None },
                S::FailedToStart,
                &[F::FreeSlot, F::ReopenEpisode],
            ),
            (
                S::Starting,
                E::Resolved,
                S::Starting,
                &[F::Stop(StopReason::Resolved)],
            ),
            (
                S::Starting,
                E::Shutdown,
                S::Starting,
                &[F::Stop(StopReason::Shutdown)],
            ),
            (
                S::Starting,
                E::Ended(End::Cancelled),
                S::Cancelled,
                &[F::FreeSlot],
            ),
            (
                S::Starting,
                E::Ended(End::Interrupted),
                S::Interrupted,
                &[F::FreeSlot],
            ),
            (
                S::Starting,
                E::Recovered { attachable: true },
                S::Interrupted,
                &[F::EndLeftover],
            ),
            (
                S::Starting,
                E::Recovered { attachable: false },
                S::Interrupted,
                &[F::EndLeftover],
            ),
            (
                S::Running,
                E::Ended(End::Succeeded),
                S::Succeeded,
                &[F::FreeSlot],
            ),
            (S::Running, E::Ended(End::Failed), S::Failed, &[F::FreeSlot]),
            (
                S::Running,
                E::Ended(End::TimedOut),
                S::TimedOut,
                &[F::FreeSlot],
            ),
            (
                S::Running,
                E::Ended(End::Cancelled),
                S::Cancelled,
                &[F::FreeSlot],
            ),
            (
                S::Running,
                E::Ended(End::Interrupted),
                S::Interrupted,
                &[F::FreeSlot],
            ),
            (
                S::Running,
                E::Ended(End::Unknown),
                S::Unknown,
                &[F::FreeSlot],
            ),
            (
                S::Running,
                E::Resolved,
                S::Running,
                &[F::Stop(StopReason::Resolved)],
            ),
            (
                S::Running,
                E::Shutdown,
                S::Running,
                &[F::Stop(StopReason::Shutdown)],
            ),
            (
                S::Running,
                E::Recovered { attachable: true },
                S::Running,
                &[F::Attach],
            ),
            (
                S::Running,
                E::Recovered { attachable: false },
                S::Interrupted,
                &[F::EndLeftover],
            ),
        ];
        for (state, event, want, effects) in table {
            let got = next(*state, *event).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                got,
                Step {
                    state: *want,
                    effects: effects.to_vec()
                },
                "{state} + {event:?}"
            );
        }
    }

    /// Every pair not in the table is refused: the table is the whole lifecycle.
    #[test]
    fn every_other_pair_is_illegal() {
        let events = [
            E::Queue,
            E::Skip,
            E::Take,
            E::Untake,
            E::Started,
            E::StartFailed { retry_in: None },
            E::Ended(End::Succeeded),
            E::Resolved,
            E::Shutdown,
            E::Recovered { attachable: false },
            E::Await,
            E::Approve,
            E::Reject,
        ];
        let mut legal = 0;
        for state in RunState::ALL {
            for event in events {
                match next(state, event) {
                    Ok(_) => legal += 1,
                    Err(e) => assert_eq!(e, IllegalTransition { state, event }),
                }
            }
        }
        // The table above, counted over these representative events.
        assert_eq!(legal, 26);
    }

    #[test]
    fn finished_runs_take_no_event() {
        for state in RunState::ALL.into_iter().filter(|s| !s.is_unfinished()) {
            assert!(next(state, E::Take).is_err(), "{state}");
            assert!(next(state, E::Resolved).is_err(), "{state}");
            assert!(
                next(state, E::Recovered { attachable: true }).is_err(),
                "{state}"
            );
        }
    }

    #[test]
    fn start_retries_back_off_and_stop_at_the_deadline() {
        let deadline = Duration::from_secs(60);
        let delays: Vec<_> = (1..=8)
            .map(|a| retry_delay(a, Duration::ZERO, deadline))
            .collect();
        let ms = |m| Some(Duration::from_millis(m));
        assert_eq!(
            delays,
            [
                ms(500),
                ms(1000),
                ms(2000),
                ms(4000),
                ms(8000),
                ms(16000),
                ms(30000),
                ms(30000)
            ]
        );
        assert_eq!(retry_delay(1, Duration::from_secs(59), deadline), ms(500));
        assert_eq!(retry_delay(3, Duration::from_secs(59), deadline), None);
        assert_eq!(retry_delay(u32::MAX, Duration::ZERO, deadline), ms(30000));
    }
}
