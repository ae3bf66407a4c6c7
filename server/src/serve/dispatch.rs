//! Dispatch: from an accepted notification to queued runs, and from the queue to the
//! executors.
//!
//! [`Dispatcher::accept`] never waits for an action: under one lock it selects the rules
//! each alert fires, drops the selections the rule's repeat policy says already ran,
//! checks that the queue has room for all the rest (else the notification is refused as a
//! whole, so Alertmanager's retry finds nothing half-done), stops running actions whose
//! alert resolved, and queues the runs. A scheduler task starts queued runs in FIFO order
//! as the global and per-rule concurrency limits allow.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use alert_core::{AlertStatus, ExecRequest, Executor, Notification, Outcome, StopReason};
use alert_match::{Mode, Target, render};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::intake::{Accepted, Intake, Refused, Source};
use crate::config::{Config, OnResolved, Repeat};

/// The global limits of the run queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// Actions running at once, over all rules.
    pub max_running: usize,
    /// Runs waiting to start; a notification whose runs do not fit is refused (503).
    pub max_queued: usize,
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self {
            max_running: 16,
            max_queued: 1024,
        }
    }
}

/// Selects, deduplicates, queues and runs actions. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: Arc<Config>,
    executors: Vec<Arc<dyn Executor>>,
    limits: QueueLimits,
    state: Mutex<State>,
    /// Wakes the scheduler: a run was queued or one ended.
    wake: Notify,
    /// Signalled when the last running action ends.
    idle: Notify,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Run>,
    running: usize,
    running_by_rule: Vec<usize>,
    /// (rule, dedupe key) → when its last run was queued.
    ran: HashMap<(usize, String), Instant>,
    /// Runs queued or running, by (rule, subject): how to stop them.
    live: HashMap<(usize, String), Vec<Live>>,
    closing: bool,
    next_id: u64,
}

/// A queued run.
struct Run {
    id: u64,
    rule: usize,
    subject: String,
    request: ExecRequest,
    stop: oneshot::Receiver<StopReason>,
}

/// A run not yet ended, as seen by a later notification.
struct Live {
    id: u64,
    status: AlertStatus,
    stop: Option<oneshot::Sender<StopReason>>,
}

/// A selection that will run, before it is queued.
struct Planned {
    rule: usize,
    subject: String,
    dedupe: String,
    status: AlertStatus,
    request: ExecRequest,
}

impl Dispatcher {
    /// A dispatcher for `config`, with `executors[i]` running rule `i`'s action. Starts the
    /// scheduler on the current tokio runtime.
    ///
    /// # Panics
    /// When the number of executors differs from the number of rules.
    pub fn start(
        config: Arc<Config>,
        executors: Vec<Arc<dyn Executor>>,
        limits: QueueLimits,
    ) -> Self {
        let rules = config.rules().rules().len();
        assert_eq!(executors.len(), rules, "one executor per rule");
        let inner = Arc::new(Inner {
            config,
            executors,
            limits,
            state: Mutex::new(State {
                running_by_rule: vec![0; rules],
                ..State::default()
            }),
            wake: Notify::new(),
            idle: Notify::new(),
        });
        tokio::spawn(schedule(Arc::clone(&inner)));
        Self { inner }
    }

    /// Actions running and runs queued now.
    pub fn load(&self) -> (usize, usize) {
        let state = self.inner.lock();
        (state.running, state.queue.len())
    }

    /// Stops taking notifications: [`Intake::accept`] refuses from now on.
    pub fn close(&self) {
        self.inner.lock().closing = true;
    }

    /// Stops taking notifications, drops the runs not started yet (each logged), asks every
    /// running action to stop, and waits until they all ended.
    pub async fn shutdown(&self) {
        let dropped = {
            let mut state = self.inner.lock();
            state.closing = true;
            for lives in state.live.values_mut() {
                for live in lives {
                    if let Some(stop) = live.stop.take() {
                        let _ = stop.send(StopReason::Shutdown);
                    }
                }
            }
            std::mem::take(&mut state.queue)
        };
        for run in dropped {
            warn!(rule = %run.request.rule, subject = %run.subject, run = run.id,
                "shutting down: queued action not started");
            self.inner.lock().forget(run.rule, &run.subject, run.id);
        }
        loop {
            let idle = self.inner.idle.notified();
            if self.inner.lock().running == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Intake for Dispatcher {
    fn accept(&self, n: Notification, _source: Source) -> Result<Accepted, Refused> {
        let config = &self.inner.config;
        let planned: Vec<Planned> = config
            .rules()
            .select(&n)
            .into_iter()
            .filter_map(|s| plan(config, &n, s.rule, s.target))
            .collect();
        let now = Instant::now();
        let mut state = self.inner.lock();
        if state.closing {
            return Err(Refused::ShuttingDown);
        }
        // Due under the repeat policy, and not already planned by this same notification
        // (an alert listed twice).
        let mut planned_now = std::collections::HashSet::new();
        let (fresh, skipped): (Vec<Planned>, Vec<Planned>) = planned.into_iter().partition(|p| {
            state.due(config, p, now) && planned_now.insert((p.rule, p.dedupe.clone()))
        });
        if !fresh.is_empty() && state.queue.len() + fresh.len() > self.inner.limits.max_queued {
            return Err(Refused::QueueFull);
        }
        state.stop_resolved(config, &n);
        let queued = fresh.len();
        for p in fresh {
            state.ran.insert((p.rule, p.dedupe), now);
            let (tx, rx) = oneshot::channel();
            let id = state.next_id;
            state.next_id += 1;
            state
                .live
                .entry((p.rule, p.subject.clone()))
                .or_default()
                .push(Live {
                    id,
                    status: p.status,
                    stop: Some(tx),
                });
            state.queue.push_back(Run {
                id,
                rule: p.rule,
                subject: p.subject,
                request: p.request,
                stop: rx,
            });
        }
        drop(state);
        if queued > 0 {
            self.inner.wake.notify_one();
        }
        Ok(Accepted {
            queued,
            skipped: skipped.len(),
        })
    }
}

/// Renders one selection, or logs why it cannot run.
fn plan(config: &Config, n: &Notification, rule: usize, target: Target<'_>) -> Option<Planned> {
    let r = &config.rules().rules()[rule];
    let rendered = render(r, n, target);
    let (subject, status) = match target {
        Target::Alert(alert) => (alert.episode().key(), alert.status),
        Target::Group => (n.group_key.clone(), n.status),
    };
    if !rendered.problems.is_empty() {
        let problems: Vec<String> = rendered.problems.iter().map(ToString::to_string).collect();
        error!(rule = %r.name, subject = %subject, problems = %problems.join("; "),
            "action not run: its environment cannot be passed");
        return None;
    }
    let dedupe = match r.mode {
        Mode::PerAlert => format!("{}#{}", rendered.request.dedup_key, status.as_str()),
        Mode::PerGroup => rendered.request.dedup_key.clone(),
    };
    Some(Planned {
        rule,
        subject,
        dedupe,
        status,
        request: rendered.request,
    })
}

impl State {
    /// Whether `p` should run now under its rule's repeat policy.
    fn due(&self, config: &Config, p: &Planned, now: Instant) -> bool {
        let Some(&last) = self.ran.get(&(p.rule, p.dedupe.clone())) else {
            return true;
        };
        match config.policy(p.rule).repeat {
            Repeat::Once => false,
            Repeat::Always => true,
            Repeat::After(cooldown) => now.duration_since(last) >= cooldown,
        }
    }

    /// Asks the firing runs of alerts (and groups) that `n` reports resolved to stop, for
    /// the rules whose policy says so; a run still queued is dropped.
    fn stop_resolved(&mut self, config: &Config, n: &Notification) {
        let mut subjects: Vec<String> = n
            .alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Resolved)
            .map(|a| a.episode().key())
            .collect();
        if n.status == AlertStatus::Resolved {
            subjects.push(n.group_key.clone());
        }
        let mut unqueue = Vec::new();
        for ((rule, subject), lives) in &mut self.live {
            if !subjects.contains(subject)
                || config.policy(*rule).on_resolved_while_running == OnResolved::Leave
            {
                continue;
            }
            for live in lives.iter_mut().filter(|l| l.status == AlertStatus::Firing) {
                if let Some(stop) = live.stop.take() {
                    info!(rule = %config.rules().rules()[*rule].name, subject = %subject,
                        run = live.id, "alert resolved: stopping its action");
                    let _ = stop.send(StopReason::Resolved);
                    unqueue.push(live.id);
                }
            }
        }
        // A run that has not started yet simply never starts.
        let before = self.queue.len();
        let mut dropped = Vec::new();
        self.queue.retain(|run| {
            let keep = !unqueue.contains(&run.id);
            if !keep {
                dropped.push((run.rule, run.subject.clone(), run.id));
            }
            keep
        });
        debug_assert!(self.queue.len() + dropped.len() == before);
        for (rule, subject, id) in dropped {
            info!(rule = %config.rules().rules()[rule].name, subject = %subject, run = id,
                "alert resolved before its action started: not starting it");
            self.forget(rule, &subject, id);
        }
    }

    /// Removes run `id` from the live runs.
    fn forget(&mut self, rule: usize, subject: &str, id: u64) {
        let key = (rule, subject.to_owned());
        if let Some(lives) = self.live.get_mut(&key) {
            lives.retain(|l| l.id != id);
            if lives.is_empty() {
                self.live.remove(&key);
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the runs that may start now, in FIFO order, skipping runs whose rule is at
    /// its concurrency limit.
    fn startable(&self) -> Vec<Run> {
        let mut state = self.lock();
        let mut start = Vec::new();
        let mut i = 0;
        while i < state.queue.len() && state.running < self.limits.max_running {
            let rule = state.queue[i].rule;
            let limit = self.config.policy(rule).concurrency.unwrap_or(usize::MAX);
            if state.running_by_rule[rule] < limit {
                state.running += 1;
                state.running_by_rule[rule] += 1;
                start.extend(state.queue.remove(i));
            } else {
                i += 1;
            }
        }
        start
    }

    fn finished(&self, run: &Run) {
        let mut state = self.lock();
        state.running -= 1;
        state.running_by_rule[run.rule] -= 1;
        state.forget(run.rule, &run.subject, run.id);
        let idle = state.running == 0;
        drop(state);
        self.wake.notify_one();
        if idle {
            self.idle.notify_waiters();
        }
    }
}

async fn schedule(inner: Arc<Inner>) {
    loop {
        let woken = inner.wake.notified();
        for run in inner.startable() {
            tokio::spawn(execute(Arc::clone(&inner), run));
        }
        woken.await;
    }
}

async fn execute(inner: Arc<Inner>, mut run: Run) {
    let executor = Arc::clone(&inner.executors[run.rule]);
    let req = &run.request;
    let fingerprint = req
        .subject
        .fingerprint
        .map(|f| f.to_string())
        .unwrap_or_default();
    // `<fingerprint>@<startsAt>` for an alert; a group run has no episode.
    let episode = if req.subject.fingerprint.is_some() {
        run.subject.clone()
    } else {
        String::new()
    };
    info!(rule = %req.rule, fingerprint, episode, status = req.subject.status.map_or("", |s| s.as_str()),
        group_key = %req.subject.group_key, run = run.id, executor = executor.kind(), "action started");
    let stop = std::mem::replace(&mut run.stop, oneshot::channel().1);
    let stop = Box::pin(async move {
        match stop.await {
            Ok(reason) => reason,
            Err(_) => std::future::pending().await,
        }
    });
    let started = Instant::now();
    let result = executor.execute(req, stop).await;
    let duration_ms = started.elapsed().as_millis();
    match result {
        Ok(Outcome::Finished(report)) => {
            let exit = report.exit.map(|e| e.to_string()).unwrap_or_default();
            let ended_by = match report.ended_by {
                Some(alert_core::EndedBy::Timeout) => "timeout",
                Some(alert_core::EndedBy::Stop(reason)) => reason.as_str(),
                _ => "",
            };
            match report.ended_by {
                None if report.success() => {
                    info!(rule = %req.rule, fingerprint, episode, run = run.id, exit, duration_ms,
                        stdout = %log_tail(&report.stdout), "action succeeded");
                }
                None => {
                    warn!(rule = %req.rule, fingerprint, episode, run = run.id, exit, duration_ms,
                        stderr = %log_tail(&report.stderr), "action failed");
                }
                Some(alert_core::EndedBy::Stop(_)) => {
                    info!(rule = %req.rule, fingerprint, episode, run = run.id, exit, ended_by,
                        duration_ms, "action stopped");
                }
                Some(_) => {
                    warn!(rule = %req.rule, fingerprint, episode, run = run.id, exit, ended_by,
                        duration_ms, stderr = %log_tail(&report.stderr), "action timed out");
                }
            }
        }
        Ok(other) => {
            info!(rule = %req.rule, fingerprint, episode, run = run.id, outcome = ?other, duration_ms,
                "action handed off");
        }
        Err(e) => {
            error!(rule = %req.rule, fingerprint, episode, run = run.id, duration_ms,
                error = format!("{:#}", anyhow::Error::from(e)), "action could not run");
        }
    }
    inner.finished(&run);
}

/// The last line-ish part of an output for a log line: at most 1 KiB, trailing
/// whitespace dropped.
fn log_tail(tail: &alert_core::Tail) -> String {
    const MAX: usize = 1024;
    let text = tail.text();
    let text = text.trim_end();
    let mut start = text.len().saturating_sub(MAX);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
