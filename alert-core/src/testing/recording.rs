//! An executor that answers at once and records what it was asked.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::{BoxFuture, ExecError, ExecRequest, Executor, Exit, Outcome, Report, StopReason};

/// An [`Executor`] that records every request it starts and answers with a fixed outcome.
///
/// It can fail its next starts with [`ExecError::Transient`] ("connection refused"), as a
/// backend that cannot be reached does ([`fail_next`](Self::fail_next)); a failed start is
/// counted in [`attempts`](Self::attempts) but not recorded as a request. Clones share the
/// record.
#[derive(Debug, Clone)]
pub struct RecordingExecutor {
    requests: Arc<Mutex<Vec<ExecRequest>>>,
    attempts: Arc<AtomicUsize>,
    failures: Arc<AtomicUsize>,
    outcome: Outcome,
}

impl RecordingExecutor {
    /// A recorder that reports every action as finished successfully.
    pub fn new() -> Self {
        Self::answering(Outcome::Finished(Report {
            exit: Some(Exit::Code(0)),
            ..Report::default()
        }))
    }

    /// A recorder that answers every request with `outcome`.
    pub fn answering(outcome: Outcome) -> Self {
        Self {
            requests: Arc::default(),
            attempts: Arc::default(),
            failures: Arc::default(),
            outcome,
        }
    }

    /// Fails the next `starts` requests as transient (`usize::MAX`: until told otherwise;
    /// 0: no more).
    pub fn fail_next(&self, starts: usize) {
        self.failures.store(starts, Ordering::SeqCst);
    }

    /// The requests started so far, in order.
    pub fn requests(&self) -> Vec<ExecRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many times [`Executor::execute`] was called, failed starts included.
    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

impl Default for RecordingExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl Executor for RecordingExecutor {
    fn kind(&self) -> &'static str {
        "recording"
    }

    fn execute<'a>(
        &'a self,
        req: &'a ExecRequest,
        _stop: BoxFuture<'a, StopReason>,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let result = if failing {
            Err(ExecError::Transient {
                backend: "recording",
                source: "connection refused".into(),
            })
        } else {
            self.requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(req.clone());
            Ok(self.outcome.clone())
        };
        Box::pin(async move { result })
    }
}
