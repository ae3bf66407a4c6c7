//! An executor whose runs wait at a gate the test opens.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use alert_core::{
    AlertStatus, BoxFuture, EndedBy, ExecError, ExecRequest, Executor, Exit, Outcome, Report,
    StopReason,
};
use tokio::sync::{Notify, Semaphore};

/// An [`Executor`] whose runs wait until the test [releases](Self::release) them or they
/// are stopped, then finish with exit code 0. Everything it does goes into a [`GateLog`];
/// [`until`](Self::until) waits for the log to reach a state.
///
/// Share one behind an `Arc` between the rules' executors and the test.
#[derive(Debug)]
pub struct GatedExecutor {
    log: Mutex<GateLog>,
    release: Semaphore,
    changed: Notify,
}

/// What a [`GatedExecutor`] did so far.
#[derive(Debug, Default, Clone)]
pub struct GateLog {
    /// Each run started, in order.
    pub started: Vec<GateStart>,
    /// (rule, reason) of each run stopped.
    pub stopped: Vec<(String, StopReason)>,
    /// How many runs ended (released or stopped).
    pub finished: usize,
    /// Runs going on now, per rule.
    pub running: HashMap<String, usize>,
    /// The most runs ever going on at once, per rule.
    pub peak: HashMap<String, usize>,
    /// The most runs ever going on at once, in all.
    pub peak_total: usize,
}

/// One run a [`GatedExecutor`] started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateStart {
    /// The rule's name.
    pub rule: String,
    /// The subject's status (`None` for no status).
    pub status: Option<AlertStatus>,
    /// The run's dedup key.
    pub dedup_key: String,
}

impl Default for GatedExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl GatedExecutor {
    /// A gate holding every run until released.
    pub fn new() -> Self {
        Self {
            log: Mutex::default(),
            release: Semaphore::new(0),
            changed: Notify::new(),
        }
    }

    /// Lets `runs` runs (waiting now or later) finish.
    pub fn release(&self, runs: usize) {
        self.release.add_permits(runs);
    }

    /// A copy of the log now.
    pub fn log(&self) -> GateLog {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until `done` holds for the log.
    ///
    /// # Panics
    /// After 10 s (a safety net, not a deadline), naming `what` and showing the log.
    pub async fn until(&self, what: &str, done: impl Fn(&GateLog) -> bool) {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                if done(&self.log()) {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .is_err()
        {
            panic!("gave up waiting until {what}; log: {:?}", self.log());
        }
    }

    fn update(&self, f: impl FnOnce(&mut GateLog)) {
        f(&mut self.log.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_waiters();
    }
}

impl GateLog {
    fn start(&mut self, req: &ExecRequest) {
        self.started.push(GateStart {
            rule: req.rule.clone(),
            status: req.subject.status,
            dedup_key: req.dedup_key.clone(),
        });
        let now = self.running.entry(req.rule.clone()).or_default();
        *now += 1;
        let now = *now;
        let peak = self.peak.entry(req.rule.clone()).or_default();
        *peak = (*peak).max(now);
        let total = self.running.values().sum();
        self.peak_total = self.peak_total.max(total);
    }

    fn finish(&mut self, rule: &str) {
        self.finished += 1;
        *self.running.entry(rule.to_owned()).or_default() -= 1;
    }
}

impl Executor for GatedExecutor {
    fn kind(&self) -> &'static str {
        "gated"
    }

    fn execute<'a>(
        &'a self,
        req: &'a ExecRequest,
        stop: BoxFuture<'a, StopReason>,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            self.update(|log| log.start(req));
            let ended_by = tokio::select! {
                permit = self.release.acquire() => {
                    permit.expect("the semaphore stays open").forget();
                    None
                }
                reason = stop => {
                    self.update(|log| log.stopped.push((req.rule.clone(), reason)));
                    Some(EndedBy::Stop(reason))
                }
            };
            self.update(|log| log.finish(&req.rule));
            Ok(Outcome::Finished(Report {
                exit: Some(Exit::Code(0)),
                ended_by,
                ..Report::default()
            }))
        })
    }
}
