//! Test doubles for crates that drive executors (feature `test-util`).

use std::sync::{Arc, Mutex, PoisonError};

use crate::{BoxFuture, ExecError, ExecRequest, Executor, Exit, Outcome, Report, StopReason};

/// An [`Executor`] that records every request and answers with a fixed outcome.
#[derive(Debug, Clone)]
pub struct RecordingExecutor {
    requests: Arc<Mutex<Vec<ExecRequest>>>,
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
            outcome,
        }
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<ExecRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(req.clone());
        let outcome = self.outcome.clone();
        Box::pin(async move { Ok(outcome) })
    }
}
