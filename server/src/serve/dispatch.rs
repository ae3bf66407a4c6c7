//! Dispatch: from an accepted notification to durable, queued runs, and from the queue to
//! the executors.
//!
//! Notifications go through one intake task, which takes whatever has arrived as one
//! batch: under the state lock it selects the rules each alert fires, drops the selections
//! the rule's repeat policy says already ran, and checks that the queue has room (else that
//! notification is refused whole); then it writes the batch's runs and dedupe entries to
//! the store in one transaction (one fsync for the batch), and only then queues the runs
//! and answers. When the write fails, the batch is refused (503) and nothing of it is
//! remembered, so Alertmanager's retry finds nothing half-done.
//!
//! A scheduler task starts queued runs in FIFO order as the global and per-rule
//! concurrency limits allow, recording each as running before its action starts; a
//! recorder task writes each run's end. After a crash, [`Dispatcher::start`] re-queues
//! what was queued and records what was running as interrupted.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alert_core::{AlertStatus, BoxFuture, ExecRequest, Executor, Notification, StopReason};
use alert_match::{Mode, Target, render};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::intake::{Accepted, Intake, Refused, Source};
use super::metrics::{Metrics, RejectReason, SkipReason, StoreOp};
use crate::config::{Config, OnResolved, Repeat};
use crate::store::{self, RunRecord, RunState, Store, StoreError};

mod record;
mod recover;
mod run;

pub(crate) use record::now_ms;
use run::{record_ends, schedule};

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

/// Unix milliseconds now. Tests pass a clock they move by hand.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A config and the executor of each of its rules, by rule name.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The config.
    pub config: Arc<Config>,
    /// Rule name → executor.
    pub executors: HashMap<String, Arc<dyn Executor>>,
}

/// How the dispatcher runs, besides the config.
#[derive(Clone)]
pub struct DispatchOptions {
    /// Queue limits.
    pub limits: QueueLimits,
    /// The store; `None` keeps everything in memory (not durable).
    pub store: Option<Store>,
    /// Where counters go.
    pub metrics: Metrics,
    /// The clock (unix ms).
    pub clock: Clock,
    /// Record what would run for every rule, run nothing.
    pub dry_run: bool,
}

impl std::fmt::Debug for DispatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchOptions")
            .field("limits", &self.limits)
            .field("store", &self.store)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

impl DispatchOptions {
    /// In memory, default limits, the system clock.
    pub fn in_memory(metrics: Metrics) -> Self {
        Self {
            limits: QueueLimits::default(),
            store: None,
            metrics,
            clock: Arc::new(now_ms),
            dry_run: false,
        }
    }
}

/// Selects, deduplicates, records, queues and runs actions. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("limits", &self.inner.options.limits)
            .finish_non_exhaustive()
    }
}

struct Inner {
    loaded: RwLock<Arc<Loaded>>,
    options: DispatchOptions,
    state: Mutex<State>,
    /// Wakes the scheduler: a run was queued or one ended.
    wake: Notify,
    /// Signalled when the last running action ends.
    idle: Notify,
    intake: mpsc::Sender<Submission>,
    updates: mpsc::UnboundedSender<Update>,
    /// The store writer task's inbox; `None` without a store.
    writer: Option<mpsc::UnboundedSender<WriteJob>>,
}

/// A batch for the writer task, and where to say how its commit went.
struct WriteJob {
    batch: store::Batch,
    done: oneshot::Sender<Result<(), Arc<StoreError>>>,
}

/// The writer task: every write goes through it; what is waiting is merged into one
/// commit, so concurrent intake, starts and ends share one fsync.
async fn write_batches(store: Store, metrics: Metrics, mut rx: mpsc::UnboundedReceiver<WriteJob>) {
    const MAX_JOBS: usize = 1024;
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut merged = store::Batch::default();
        let mut dones = Vec::with_capacity(jobs.len());
        for job in jobs {
            merged.notifications.extend(job.batch.notifications);
            merged.runs.extend(job.batch.runs);
            merged.dedupe.extend(job.batch.dedupe);
            merged.dedupe_remove.extend(job.batch.dedupe_remove);
            dones.push(job.done);
        }
        let store = store.clone();
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || store.commit(&merged))
            .await
            .unwrap_or_else(|e| Err(StoreError::from_panic(&e)))
            .map_err(Arc::new);
        metrics.store_commit(started.elapsed());
        if result.is_err() {
            metrics.store_error(StoreOp::Commit);
        }
        for done in dones {
            let _ = done.send(result.clone());
        }
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<Run>,
    running: usize,
    running_by_rule: HashMap<String, usize>,
    /// `rule \x1f dedupe key` → when its last run was accepted (unix ms).
    ran: HashMap<String, i64>,
    /// Dedupe keys of batches planned but not yet written.
    pending: HashSet<String>,
    /// Runs those batches will queue.
    pending_queued: usize,
    /// Runs queued or running, by (rule, subject): how to stop them.
    live: HashMap<(String, String), Vec<Live>>,
    closing: bool,
    next_id: u64,
}

/// A run on its way: its durable record and what the executor needs.
struct Run {
    record: RunRecord,
    request: ExecRequest,
    executor: Arc<dyn Executor>,
    concurrency: Option<usize>,
    subject: String,
    status: AlertStatus,
    stop_on_resolve: bool,
    /// Moved into [`Live`] when the run is queued.
    stop_tx: Option<oneshot::Sender<StopReason>>,
    stop: oneshot::Receiver<StopReason>,
    queued_at: Instant,
}

impl Run {
    /// A run of `record` (rule `policy`), not yet queued.
    fn new(
        record: RunRecord,
        request: ExecRequest,
        executor: &Arc<dyn Executor>,
        policy: &crate::config::Policy,
        subject: String,
        status: AlertStatus,
    ) -> Self {
        let (stop_tx, stop) = oneshot::channel();
        Self {
            record,
            request,
            executor: Arc::clone(executor),
            concurrency: policy.concurrency,
            subject,
            status,
            stop_on_resolve: policy.on_resolved_while_running == OnResolved::Stop,
            stop_tx: Some(stop_tx),
            stop,
            queued_at: Instant::now(),
        }
    }
}

/// What the recorder task writes.
enum Update {
    /// A run's end.
    End(Box<RunRecord>),
    /// Answered once everything sent before it is written.
    Flush(oneshot::Sender<()>),
}

/// A run not yet ended, as seen by a later notification.
struct Live {
    id: u64,
    status: AlertStatus,
    stop_on_resolve: bool,
    stop: Option<oneshot::Sender<StopReason>>,
}

struct Submission {
    notification: Notification,
    source: Source,
    reply: oneshot::Sender<Result<Accepted, Refused>>,
}

/// What one notification of a batch turned into, before the batch is written.
struct Taken {
    reply: oneshot::Sender<Result<Accepted, Refused>>,
    notification: Notification,
    runs: Vec<Run>,
    dedupe: Vec<(String, i64)>,
    skipped: usize,
}

impl Dispatcher {
    /// A dispatcher for `loaded`. With a store, first recovers what a previous alertrun
    /// left: queued runs are queued again; runs that were running are recorded
    /// `interrupted` (and queued again when their rule says `on_interrupt: rerun`). Starts
    /// the intake, scheduler and recorder tasks on the current tokio runtime.
    ///
    /// # Errors
    /// When the store cannot be read or the recovery cannot be written.
    pub async fn start(loaded: Loaded, options: DispatchOptions) -> Result<Self, StoreError> {
        let (intake_tx, intake_rx) = mpsc::channel(options.limits.max_queued.max(64));
        let (updates_tx, updates_rx) = mpsc::unbounded_channel();
        let writer = options.store.clone().map(|store| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(write_batches(store, options.metrics.clone(), rx));
            tx
        });
        let inner = Arc::new(Inner {
            loaded: RwLock::new(Arc::new(loaded)),
            options,
            state: Mutex::new(State {
                next_id: 1,
                ..State::default()
            }),
            wake: Notify::new(),
            idle: Notify::new(),
            intake: intake_tx,
            updates: updates_tx,
            writer,
        });
        if let Some(store) = inner.options.store.clone() {
            inner.recover(store).await?;
        }
        tokio::spawn(take_notifications(Arc::clone(&inner), intake_rx));
        tokio::spawn(schedule(Arc::clone(&inner)));
        tokio::spawn(record_ends(Arc::clone(&inner), updates_rx));
        Ok(Self { inner })
    }

    /// Swaps in a new config; runs already queued or running keep the settings they were
    /// queued with.
    pub fn reload(&self, loaded: Loaded) {
        *self
            .inner
            .loaded
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
    }

    /// The config in use.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.inner.loaded().config)
    }

    /// The store, when durable.
    pub fn store(&self) -> Option<&Store> {
        self.inner.options.store.as_ref()
    }

    /// Actions running and runs queued now.
    pub fn load(&self) -> (usize, usize) {
        let state = self.inner.lock();
        (state.running, state.queue.len())
    }

    /// Running and queued runs of one rule now.
    pub fn rule_load(&self, rule: &str) -> (usize, usize) {
        let state = self.inner.lock();
        let running = state.running_by_rule.get(rule).copied().unwrap_or(0);
        let queued = state.queue.iter().filter(|r| r.record.rule == rule).count();
        (running, queued)
    }

    /// Stops taking notifications: [`Intake::accept`] refuses from now on.
    pub fn close(&self) {
        self.inner.lock().closing = true;
    }

    /// Stops taking notifications; lets running actions go on for up to `grace`, then asks
    /// them to stop (they are recorded `interrupted`) and waits until they all ended.
    /// Runs not started stay queued in the store, for the next start (without a store
    /// they are logged and lost).
    pub async fn shutdown(&self, grace: Duration) {
        self.close();
        if tokio::time::timeout(grace, self.idle()).await.is_err() {
            let mut state = self.inner.lock();
            for lives in state.live.values_mut() {
                for live in lives {
                    if let Some(stop) = live.stop.take() {
                        let _ = stop.send(StopReason::Shutdown);
                    }
                }
            }
        }
        self.idle().await;
        let left = std::mem::take(&mut self.inner.lock().queue);
        for run in &left {
            if self.inner.options.store.is_some() {
                info!(rule = %run.record.rule, run = run.record.id,
                    "shutting down: queued action stays queued for the next start");
            } else {
                warn!(rule = %run.record.rule, run = run.record.id,
                    "shutting down without a store: queued action is dropped");
            }
        }
        // Let the recorder write the last ends.
        let (done_tx, done_rx) = oneshot::channel();
        let _ = self.inner.updates.send(Update::Flush(done_tx));
        let _ = tokio::time::timeout(Duration::from_secs(10), done_rx).await;
    }

    async fn idle(&self) {
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
    fn accept(
        &self,
        n: Notification,
        source: Source,
    ) -> BoxFuture<'static, Result<Accepted, Refused>> {
        // A firing notification that selects no rule has nothing to record, run or stop:
        // answered at once, without a trip through the intake task.
        let firing = n.status == AlertStatus::Firing
            && n.alerts.iter().all(|a| a.status == AlertStatus::Firing);
        if firing && self.inner.loaded().config.rules().select(&n).is_empty() {
            let closing = self.inner.lock().closing;
            if !closing {
                self.inner
                    .options
                    .metrics
                    .notification_received(source, n.alerts.len());
            }
            return Box::pin(async move {
                if closing {
                    Err(Refused::ShuttingDown)
                } else {
                    Ok(Accepted::default())
                }
            });
        }
        let intake = self.inner.intake.clone();
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let submission = Submission {
                notification: n,
                source,
                reply,
            };
            match intake.try_send(submission) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => return Err(Refused::QueueFull),
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(Refused::ShuttingDown),
            }
            answer.await.unwrap_or(Err(Refused::ShuttingDown))
        })
    }
}

/// The intake task: takes what has arrived as one batch, writes it once, answers all.
///
/// Planning and writing are pipelined: while batches are being written, the next ones are
/// planned (their dedupe keys checked against the keys still being written too), and the
/// writer merges the batches waiting into one commit, so the store stays busy and commits
/// grow with the load.
async fn take_notifications(inner: Arc<Inner>, mut rx: mpsc::Receiver<Submission>) {
    const MAX_BATCH: usize = 512;
    // Batches being written at once; the writer merges them into one commit.
    const IN_FLIGHT: usize = 4;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(s) => batch.push(s),
                Err(_) => break,
            }
        }
        if let Some(planned) = inner.plan_batch(batch) {
            let inner = Arc::clone(&inner);
            tokio::spawn(async move {
                inner.commit_batch(planned).await;
                drop(permit);
            });
        }
    }
}

/// A batch planned and waiting to be written.
struct PlannedBatch {
    taken: Vec<Taken>,
    write: store::Batch,
    /// Runs it will queue.
    queued: usize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn now(&self) -> i64 {
        (self.options.clock)()
    }

    /// Plans a batch under the state lock: its dedupe keys and queued runs count as
    /// pending until [`Inner::commit_batch`] settles them.
    fn plan_batch(&self, batch: Vec<Submission>) -> Option<PlannedBatch> {
        let loaded = self.loaded();
        let now = self.now();
        if self.lock().closing {
            for submission in batch {
                let _ = submission.reply.send(Err(Refused::ShuttingDown));
            }
            return None;
        }
        // Selecting and rendering need no state: done before the lock is taken.
        let rendered: Vec<(Submission, Vec<Planned>, Option<Vec<u8>>)> = batch
            .into_iter()
            .map(|submission| {
                let planned = self.plan(&loaded, &submission.notification, now);
                let body = (!planned.is_empty())
                    .then(|| serde_json::to_vec(&submission.notification).unwrap_or_default());
                (submission, planned, body)
            })
            .collect();
        let mut taken: Vec<Taken> = Vec::with_capacity(rendered.len());
        let mut write = store::Batch::default();
        let mut state = self.lock();
        let mut in_batch = HashSet::new();
        let mut queued_in_batch = 0;
        for (submission, planned, body) in rendered {
            let Submission {
                notification,
                source,
                reply,
            } = submission;
            if state.closing {
                let _ = reply.send(Err(Refused::ShuttingDown));
                continue;
            }
            self.options
                .metrics
                .notification_received(source, notification.alerts.len());
            let mut t = Taken {
                reply,
                notification,
                runs: Vec::new(),
                dedupe: Vec::new(),
                skipped: 0,
            };
            let mut mine = HashSet::new();
            for p in planned {
                let key = format!("{}\u{1f}{}", p.run.record.rule, p.run.record.dedupe_key);
                let due = state.due(&key, p.repeat, now)
                    && (p.repeat == Repeat::Always || !state.pending.contains(&key))
                    && !in_batch.contains(&key)
                    && mine.insert(key.clone());
                if !due {
                    self.options
                        .metrics
                        .rule_skipped(&p.run.record.rule, p.skip_reason());
                    t.skipped += 1;
                    continue;
                }
                if let Some(reason) = p.skip {
                    self.options
                        .metrics
                        .rule_skipped(&p.run.record.rule, reason);
                    t.skipped += 1;
                }
                t.dedupe.push((key, now));
                t.runs.push(p.run);
            }
            let queued = t
                .runs
                .iter()
                .filter(|r| r.record.state == RunState::Queued)
                .count();
            if queued > 0
                && state.queue.len() + state.pending_queued + queued_in_batch + queued
                    > self.options.limits.max_queued
            {
                self.options
                    .metrics
                    .notification_rejected(RejectReason::QueueFull);
                let _ = t.reply.send(Err(Refused::QueueFull));
                continue;
            }
            queued_in_batch += queued;
            in_batch.extend(mine);
            if !t.runs.is_empty() {
                let notification_id = state.next_id;
                state.next_id += 1;
                for run in &mut t.runs {
                    run.record.notification = notification_id;
                    run.record.id = state.next_id;
                    state.next_id += 1;
                }
                write
                    .notifications
                    .push((notification_id, body.unwrap_or_default()));
                write.runs.extend(t.runs.iter().map(|r| r.record.clone()));
                write.dedupe.extend(t.dedupe.iter().cloned());
            }
            taken.push(t);
        }
        state.pending.extend(in_batch);
        state.pending_queued += queued_in_batch;
        if taken.is_empty() {
            return None;
        }
        Some(PlannedBatch {
            taken,
            write,
            queued: queued_in_batch,
        })
    }

    /// Writes a planned batch; then queues its runs and answers 200, or, when the write
    /// failed, forgets it and answers 503.
    async fn commit_batch(&self, planned: PlannedBatch) {
        let PlannedBatch {
            taken,
            write,
            queued: pending_queued,
        } = planned;
        let written = self.write(write).await;
        {
            let mut state = self.lock();
            for t in &taken {
                for (key, _) in &t.dedupe {
                    state.pending.remove(key);
                }
            }
            state.pending_queued -= pending_queued;
        }
        if let Err(e) = written {
            error!(error = %e, notifications = taken.len(),
                "cannot record accepted notifications: refusing them (503) so that Alertmanager retries");
            for t in taken {
                self.options
                    .metrics
                    .notification_rejected(RejectReason::StoreUnavailable);
                let _ = t.reply.send(Err(Refused::StoreUnavailable));
            }
            return;
        }
        let mut answers = Vec::with_capacity(taken.len());
        {
            let mut state = self.lock();
            for t in taken {
                for cancelled in state.stop_resolved(&t.notification) {
                    let _ = self.updates.send(Update::End(Box::new(cancelled)));
                }
                state.ran.extend(t.dedupe);
                let mut queued = 0;
                for run in t.runs {
                    if run.record.state == RunState::Queued {
                        queued += 1;
                        state.enqueue(run);
                    }
                }
                answers.push((
                    t.reply,
                    Accepted {
                        queued,
                        skipped: t.skipped,
                    },
                ));
            }
            self.options.metrics.set_queued(state.queue.len());
        }
        self.wake.notify_one();
        for (reply, accepted) in answers {
            let _ = reply.send(Ok(accepted));
        }
    }

    /// Writes `batch` durably (no-op without a store): hands it to the writer task, which
    /// merges whatever is waiting (intake, starts, ends) into one commit, one fsync.
    async fn write(&self, batch: store::Batch) -> Result<(), Arc<StoreError>> {
        let Some(writer) = &self.writer else {
            return Ok(());
        };
        if batch.is_empty() {
            return Ok(());
        }
        let (done, result) = oneshot::channel();
        let job = WriteJob { batch, done };
        if writer.send(job).is_err() {
            return Err(Arc::new(StoreError::from_panic(
                &"the store writer stopped",
            )));
        }
        result.await.unwrap_or_else(|_| {
            Err(Arc::new(StoreError::from_panic(
                &"the store writer stopped",
            )))
        })
    }

    /// Every selection `n` fires, rendered, as queued (or skipped) runs without ids
    /// (run and notification ids are given under the state lock).
    fn plan(&self, loaded: &Loaded, n: &Notification, now: i64) -> Vec<Planned> {
        let config = &loaded.config;
        let rules = config.rules().rules();
        let mut out = Vec::new();
        for selection in config.rules().select(n) {
            let rule = &rules[selection.rule];
            let policy = config.policy(selection.rule);
            self.options.metrics.rule_matched(&rule.name);
            if !policy.enabled {
                self.options
                    .metrics
                    .rule_skipped(&rule.name, SkipReason::Disabled);
                continue;
            }
            let Some(executor) = loaded.executors.get(&rule.name) else {
                continue;
            };
            let rendered = render(rule, n, selection.target);
            let (subject, status, alert_index) = match selection.target {
                Target::Alert(alert) => (
                    alert.episode().key(),
                    alert.status,
                    n.alerts.iter().position(|a| std::ptr::eq(a, alert)),
                ),
                Target::Group => (n.group_key.clone(), n.status, None),
            };
            let dedupe_key = match rule.mode {
                Mode::PerAlert => format!("{}#{}", rendered.request.dedup_key, status.as_str()),
                Mode::PerGroup => rendered.request.dedup_key.clone(),
            };
            let mut record = record::queued(
                config,
                selection.rule,
                executor.kind(),
                n,
                0, // the notification's id, given when the batch is taken
                alert_index,
                &rendered.request,
                dedupe_key,
                now,
            );
            let mut skip = None;
            if !rendered.problems.is_empty() {
                let problems: Vec<String> =
                    rendered.problems.iter().map(ToString::to_string).collect();
                error!(rule = %rule.name, subject = %subject, problems = %problems.join("; "),
                    "action not run: its environment cannot be passed");
                skip = Some((
                    SkipReason::Env,
                    format!("environment cannot be passed: {}", problems.join("; ")),
                ));
            } else if policy.dry_run || self.options.dry_run {
                info!(rule = %rule.name, subject = %subject, argv = ?record.argv, "dry run: action not run");
                record.dry_run = true;
                skip = Some((SkipReason::DryRun, "dry run".to_owned()));
            }
            if let Some((_, reason)) = &skip {
                record.state = RunState::Skipped;
                record.reason = Some(reason.clone());
                record.ended_at = Some(now);
            }
            out.push(Planned {
                repeat: policy.repeat,
                skip: skip.map(|(metric, _)| metric),
                run: Run::new(record, rendered.request, executor, policy, subject, status),
            });
        }
        out
    }
}

/// A selection that will be queued (or recorded as skipped), before it has an id.
struct Planned {
    repeat: Repeat,
    /// The metric reason when it is recorded as skipped instead of queued.
    skip: Option<SkipReason>,
    run: Run,
}

impl Planned {
    /// The metric reason for not queueing it because it already ran.
    fn skip_reason(&self) -> SkipReason {
        match self.repeat {
            Repeat::After(_) => SkipReason::Cooldown,
            _ => SkipReason::Dedupe,
        }
    }
}

impl State {
    /// Whether a selection with dedupe `key` may run now under `repeat`.
    fn due(&self, key: &str, repeat: Repeat, now: i64) -> bool {
        let Some(&last) = self.ran.get(key) else {
            return true;
        };
        match repeat {
            Repeat::Once => false,
            Repeat::Always => true,
            Repeat::After(cooldown) => {
                now.saturating_sub(last) >= i64::try_from(cooldown.as_millis()).unwrap_or(i64::MAX)
            }
        }
    }

    fn enqueue(&mut self, mut run: Run) {
        self.live
            .entry((run.record.rule.clone(), run.subject.clone()))
            .or_default()
            .push(Live {
                id: run.record.id,
                status: run.status,
                stop_on_resolve: run.stop_on_resolve,
                stop: run.stop_tx.take(),
            });
        self.queue.push_back(run);
    }

    /// Asks the firing runs of alerts (and groups) that `n` reports resolved to stop, when
    /// their rule says so; a run still queued is dropped (recorded `cancelled`).
    fn stop_resolved(&mut self, n: &Notification) -> Vec<RunRecord> {
        let mut subjects: HashSet<String> = n
            .alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Resolved)
            .map(|a| a.episode().key())
            .collect();
        if n.status == AlertStatus::Resolved {
            subjects.insert(n.group_key.clone());
        }
        let mut stopped = HashSet::new();
        for ((rule, subject), lives) in &mut self.live {
            if !subjects.contains(subject) {
                continue;
            }
            for live in lives
                .iter_mut()
                .filter(|l| l.status == AlertStatus::Firing && l.stop_on_resolve)
            {
                if let Some(stop) = live.stop.take() {
                    info!(rule = %rule, subject = %subject, run = live.id,
                        "alert resolved: stopping its action");
                    let _ = stop.send(StopReason::Resolved);
                    stopped.insert(live.id);
                }
            }
        }
        let mut cancelled = Vec::new();
        let queue = std::mem::take(&mut self.queue);
        for run in queue {
            if stopped.contains(&run.record.id) {
                info!(rule = %run.record.rule, subject = %run.subject, run = run.record.id,
                    "alert resolved before its action started: not starting it");
                self.forget(&run.record.rule, &run.subject, run.record.id);
                let mut record = run.record;
                record.state = RunState::Cancelled;
                record.reason = Some("alert resolved before the action started".to_owned());
                cancelled.push(record);
            } else {
                self.queue.push_back(run);
            }
        }
        cancelled
    }

    /// Removes run `id` from the live runs.
    fn forget(&mut self, rule: &str, subject: &str, id: u64) {
        let key = (rule.to_owned(), subject.to_owned());
        if let Some(lives) = self.live.get_mut(&key) {
            lives.retain(|l| l.id != id);
            if lives.is_empty() {
                self.live.remove(&key);
            }
        }
    }
}

impl Inner {
    /// Takes the runs that may start now, in FIFO order, skipping runs whose rule is at
    /// its concurrency limit.
    fn startable(&self) -> Vec<Run> {
        let mut state = self.lock();
        let mut start = Vec::new();
        if state.closing {
            // Shutting down: what is queued stays queued (in the store, for the next start).
            return start;
        }
        let mut i = 0;
        while i < state.queue.len() && state.running < self.options.limits.max_running {
            let run = &state.queue[i];
            let rule = run.record.rule.clone();
            let limit = run.concurrency.unwrap_or(usize::MAX);
            if state.running_by_rule.get(&rule).copied().unwrap_or(0) < limit {
                state.running += 1;
                *state.running_by_rule.entry(rule).or_default() += 1;
                start.extend(state.queue.remove(i));
            } else {
                i += 1;
            }
        }
        self.options.metrics.set_queued(state.queue.len());
        self.options.metrics.set_running(state.running);
        let oldest = state
            .queue
            .front()
            .map_or(0.0, |r| r.queued_at.elapsed().as_secs_f64());
        self.options.metrics.set_oldest_queued_age(oldest);
        start
    }

    /// Puts runs that could not be started back at the front of the queue, in order.
    fn unstart(&self, runs: Vec<Run>) {
        let mut state = self.lock();
        for run in runs.into_iter().rev() {
            state.running -= 1;
            if let Some(n) = state.running_by_rule.get_mut(&run.record.rule) {
                *n -= 1;
            }
            state.queue.push_front(run);
        }
    }

    fn finished(&self, run: &Run) {
        let mut state = self.lock();
        state.running -= 1;
        if let Some(n) = state.running_by_rule.get_mut(&run.record.rule) {
            *n -= 1;
        }
        state.forget(&run.record.rule, &run.subject, run.record.id);
        let idle = state.running == 0;
        self.options.metrics.set_running(state.running);
        drop(state);
        self.wake.notify_one();
        if idle {
            self.idle.notify_waiters();
        }
    }
}

/// Seconds since the Unix epoch, now (for metrics timestamps).
pub(crate) fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
