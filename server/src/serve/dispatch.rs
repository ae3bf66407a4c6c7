//! Dispatch: from an accepted notification to durable, queued runs, and from the queue to
//! the executors. The decisions are the [`Ledger`]'s (crate::lifecycle); this module is
//! the async part around it: tasks that carry events in and effects out.
//!
//! Notifications go through one intake task, which takes whatever has arrived as one
//! batch. Selecting rules and rendering actions need no state and happen first; then,
//! under the state lock, the ledger admits each notification's selections (dedupe,
//! cooldown, queue room; a notification whose runs do not fit is refused whole) and gives
//! ids. The batch's runs and dedupe entries are written in one transaction (one fsync for
//! the batch), and only then does the ledger settle it, in one step: its runs queue, its
//! episodes count as run, and the notification is answered. When the write fails, the
//! batch is refused (503) and the ledger forgets it, so Alertmanager's retry finds
//! nothing half-done.
//!
//! A scheduler task starts queued runs in FIFO order as the global and per-rule
//! concurrency limits allow, recording each as `starting` before its action starts. A run
//! whose backend cannot start it is retried with backoff within its rule's timeout, then
//! recorded `failed_to_start`, which reopens its episode. After a crash,
//! [`Dispatcher::start`] re-queues what was queued and resolves what was starting or
//! running before anything else runs (see `recover`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alert_core::{AlertStatus, BoxFuture, ExecRequest, Executor, Notification, StopReason};
use alert_match::{Mode, Target, render};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::intake::{Accepted, Intake, Refused, Source};
use super::metrics::{Metrics, SkipReason, StoreOp};
use super::silences::{self, SilenceLookup};
use crate::backend;
use crate::config::{Config, OnResolved, Repeat};
use crate::lifecycle::rails::{self, Pause, Rails};
use crate::lifecycle::verify::{self, Verifications};
use crate::lifecycle::{
    Admission, DedupeKey, Event, Ledger, LiveRun, Namespace, NotDue, Refusal, RuleName, RunId,
    Selection, Subject,
};
use crate::store::{self, DedupeEntry, RunRecord, RunState, Store, StoreError};

pub(crate) mod approvals;
mod ha;
mod notify;
mod record;
mod recover;
mod run;
mod verdicts;

pub(crate) use crate::lifecycle::QueueLimits;
use record::enter;
pub(crate) use record::now_ms;
use run::{record_ends, schedule};

/// Unix milliseconds now. Tests pass a clock they move by hand.
pub(crate) type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A config and the executor of each of its rules, by rule name.
#[derive(Clone, Debug)]
pub(crate) struct Loaded {
    /// The config.
    pub config: Arc<Config>,
    /// Rule name → executor.
    pub executors: HashMap<String, Arc<dyn Executor>>,
}

/// How the dispatcher runs, besides the config.
#[derive(Clone)]
pub(crate) struct DispatchOptions {
    /// Queue limits.
    pub limits: QueueLimits,
    /// The store; `None` keeps everything in memory (not durable).
    pub store: Option<Store>,
    /// Where counters go.
    pub metrics: Metrics,
    /// The clock (unix ms): everything in dispatch that reads time reads it.
    pub clock: Clock,
    /// Record what would run for every rule, run nothing.
    pub dry_run: bool,
    /// `server.capture`: record every selection of every delivery (no dedupe), with its
    /// notification, run nothing, and leave no dedupe entry behind, so that acting later
    /// starts from a clean slate.
    pub capture: bool,
    /// `server.ha`: this replica's claims; `None`: the only replica.
    pub ha: Option<Arc<super::ha::Ha>>,
}

impl std::fmt::Debug for DispatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchOptions")
            .field("limits", &self.limits)
            .field("store", &self.store)
            .field("dry_run", &self.dry_run)
            .field("capture", &self.capture)
            .finish_non_exhaustive()
    }
}

/// Selects, deduplicates, records, queues and runs actions. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Dispatcher {
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
    /// Signalled when the last action holding a slot ends.
    idle: Notify,
    intake: mpsc::Sender<Submission>,
    updates: mpsc::UnboundedSender<Update>,
    /// The store writer task's inbox; `None` without a store.
    writer: Option<mpsc::UnboundedSender<WriteJob>>,
    /// Makes pauses, resumes and resets one at a time, each written before the next.
    control: tokio::sync::Mutex<()>,
    /// Makes the edits of stored runs after their end (verdicts, notification results)
    /// one at a time: each reads the run and writes it back.
    record_edits: tokio::sync::Mutex<()>,
    /// The writer thread, joined when the dispatcher goes, so that the store it holds is
    /// closed (cleanly: redb needs no repair at the next open) before alertrun exits.
    writer_thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Its channel closes: the thread finishes what it holds and ends.
        self.writer = None;
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}

/// The ledger, and what the dispatcher keeps beside it for each unfinished run.
struct State {
    ledger: Ledger,
    /// Queued runs, ready to start.
    queued: HashMap<RunId, Run>,
    /// How to ask each queued, starting or running run to stop.
    stops: HashMap<RunId, watch::Sender<Option<StopReason>>>,
    /// Starts that could not be recorded in a row; while above 0, no run is taken before
    /// `starts_paused_until`, and notifications that would queue runs are refused (503).
    start_failures: u32,
    starts_paused_until: Option<Instant>,
    /// The brakes between a due selection and its queue (`lifecycle::rails`).
    rails: Rails,
    /// Succeeded runs waiting for their verdict (`lifecycle::verify`).
    verify: Verifications,
    /// Runs waiting for approval, with the request they will execute (`approvals`).
    awaiting: HashMap<RunId, Run>,
    /// Notifications not yet delivered or not yet shown on their run (`notify`).
    outbox: crate::serve::notify::Outbox,
    /// Runs just ended, until `release` (a breaker they change is notified with them).
    outbox_runs: HashMap<RunId, RunRecord>,
}

/// How a batch handed to the writer was committed, when awaited.
type Written =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Arc<StoreError>>> + Send>>;

/// A batch for the writer thread, and where to say how its commit went.
struct WriteJob {
    batch: store::Batch,
    done: oneshot::Sender<Result<(), Arc<StoreError>>>,
}

/// The writer thread: every write goes through it; what is waiting is merged into one
/// commit, so concurrent intake, starts and ends share one fsync.
///
/// A thread of its own, not a task handing each commit to `spawn_blocking`: a commit then
/// costs no hop to a pool thread and back (two wake-ups, and a cold cache on whichever
/// thread the pool picks), which under an execution load was a good part of a commit's
/// 1.5 ms. It ends when every sender is gone.
fn write_batches(store: &Store, metrics: &Metrics, rx: mpsc::UnboundedReceiver<WriteJob>) {
    write_until_closed(store, metrics, rx);
    // Everything is in redb's own file and the journal is empty: the next start has
    // nothing to replay, so it needs no write (it starts on a full disk).
    if let Err(e) = store.checkpoint_at_close() {
        warn!(error = %e, "cannot fold the journal into the store at exit: the next start replays it");
    }
    tracing::debug!("store writer: every sender is gone, ending");
}

fn write_until_closed(store: &Store, metrics: &Metrics, mut rx: mpsc::UnboundedReceiver<WriteJob>) {
    const MAX_JOBS: usize = 1024;
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut merged = store::Batch::default();
        let mut dones = Vec::with_capacity(jobs.len());
        let mut ends = Vec::with_capacity(jobs.len());
        for job in jobs {
            merged.notifications.extend(job.batch.notifications);
            merged.runs.extend(job.batch.runs);
            merged.dedupe.extend(job.batch.dedupe);
            merged.dedupe_remove.extend(job.batch.dedupe_remove);
            merged.settings.extend(job.batch.settings);
            dones.push(job.done);
            ends.push(Ends::of(&merged));
        }
        let started = Instant::now();
        let result = commit(store, &merged);
        metrics.store_commit(started.elapsed());
        match result {
            Err(e)
                if dones.len() > 1
                    && !e.is_write_failure()
                    && ends.last() == Some(&Ends::of(&merged)) =>
            {
                // One job's own fault (a run whose notification is not stored) must not
                // fail the others merged with it: each is committed alone.
                metrics.store_error(StoreOp::Commit);
                let mut from = Ends::default();
                for (done, to) in dones.into_iter().zip(ends) {
                    let result = commit(store, &from.slice(&merged, to));
                    if result.is_err() {
                        metrics.store_error(StoreOp::Commit);
                    }
                    let _ = done.send(result);
                    from = to;
                }
            }
            result => {
                if result.is_err() {
                    metrics.store_error(StoreOp::Commit);
                }
                for done in dones {
                    let _ = done.send(result.clone());
                }
            }
        }
    }
}

/// Commits `batch`; a commit that panics is a [`StoreError::Panicked`], and the writer
/// goes on.
fn commit(store: &Store, batch: &store::Batch) -> Result<(), Arc<StoreError>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.commit(batch)))
        .unwrap_or_else(|panic| {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            Err(StoreError::from_panic(&detail))
        })
        .map_err(Arc::new)
}

/// Where one job's part of a merged batch ends, in each of its lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Ends {
    notifications: usize,
    runs: usize,
    dedupe: usize,
    dedupe_remove: usize,
    settings: usize,
}

impl Ends {
    fn of(batch: &store::Batch) -> Self {
        Self {
            notifications: batch.notifications.len(),
            runs: batch.runs.len(),
            dedupe: batch.dedupe.len(),
            dedupe_remove: batch.dedupe_remove.len(),
            settings: batch.settings.len(),
        }
    }

    /// The part of `merged` from `self` to `to`.
    fn slice(self, merged: &store::Batch, to: Ends) -> store::Batch {
        store::Batch {
            notifications: merged.notifications[self.notifications..to.notifications].to_vec(),
            runs: merged.runs[self.runs..to.runs].to_vec(),
            dedupe: merged.dedupe[self.dedupe..to.dedupe].to_vec(),
            dedupe_remove: merged.dedupe_remove[self.dedupe_remove..to.dedupe_remove].to_vec(),
            settings: merged.settings[self.settings..to.settings].to_vec(),
        }
    }
}

/// A run on its way: its durable record and what the executor needs.
struct Run {
    record: RunRecord,
    request: ExecRequest,
    executor: Arc<dyn Executor>,
    /// What the ledger follows of it.
    live: LiveRun,
    /// Moved to [`State::stops`] when the run is queued.
    stop_tx: Option<watch::Sender<Option<StopReason>>>,
    /// Its notification's body, to write again should the store have lost it (its file
    /// replaced while alertrun ran).
    body: Arc<[u8]>,
    stop: watch::Receiver<Option<StopReason>>,
    queued_at: Instant,
    /// What the rails count it against.
    target: rails::Target,
    /// Its rule's `verify`, to watch it once it succeeds.
    verify: Option<verdicts::VerifyPlan>,
    /// Its rule's `approval`, as it was when the run was admitted.
    approval: Option<crate::config::Approval>,
    /// Its rule's breaker settings, for a run recovered after a restart (the rails follow
    /// it again).
    breaker: Option<crate::config::BreakerSettings>,
}

/// What the recorder task writes.
enum Update {
    /// A run's end, and its notification's body.
    End(Box<RunRecord>, Arc<[u8]>),
    /// Answered once everything sent before it is written.
    Flush(oneshot::Sender<()>),
    /// Store settings to put or delete (the rails' state of targets).
    Settings(Vec<(String, Option<Vec<u8>>)>),
}

struct Submission {
    notification: Notification,
    /// The body as received, when it is the notification's JSON (a webhook's).
    received: Option<Arc<[u8]>>,
    source: Source,
    reply: oneshot::Sender<Result<Accepted, Refused>>,
}

/// What one notification of a batch turned into, before the batch is written.
struct Taken {
    reply: oneshot::Sender<Result<Accepted, Refused>>,
    notification: Notification,
    admission: Admission,
    /// Its runs that queue once written.
    runs: Vec<Run>,
    /// Its runs that wait for approval once written.
    awaiting: Vec<Run>,
    skipped: usize,
    /// What it writes: its runs, dedupe entries and body.
    write: store::Batch,
    /// Refused after it was admitted (its episodes could not be claimed).
    refused: Option<Refused>,
}

impl Dispatcher {
    /// A dispatcher for `loaded`. With a store, first recovers what a previous alertrun
    /// left (see `recover`); then starts the intake, scheduler and recorder tasks on the
    /// current tokio runtime.
    ///
    /// # Errors
    /// When the store cannot be read or the recovery cannot be written.
    pub(crate) async fn start(
        loaded: Loaded,
        options: DispatchOptions,
    ) -> Result<Self, StoreError> {
        let (intake_tx, intake_rx) = mpsc::channel(options.limits.max_queued.max(64));
        let (updates_tx, updates_rx) = mpsc::unbounded_channel();
        let (writer, writer_thread) = match options.store.clone() {
            Some(store) => {
                let (tx, rx) = mpsc::unbounded_channel();
                let metrics = options.metrics.clone();
                let thread = std::thread::Builder::new()
                    .name("alertrun-store".to_owned())
                    .spawn(move || write_batches(&store, &metrics, rx))
                    .map_err(|e| {
                        StoreError::from_panic(&format!("cannot start the store writer: {e}"))
                    })?;
                (Some(tx), Some(thread))
            }
            None => (None, None),
        };
        let inner = Arc::new(Inner {
            loaded: RwLock::new(Arc::new(loaded)),
            state: Mutex::new(State {
                ledger: Ledger::new(options.limits, 1),
                queued: HashMap::new(),
                stops: HashMap::new(),
                start_failures: 0,
                starts_paused_until: None,
                rails: Rails::new(),
                verify: Verifications::new(),
                awaiting: HashMap::new(),
                outbox: crate::serve::notify::Outbox::new(),
                outbox_runs: HashMap::new(),
            }),
            options,
            wake: Notify::new(),
            idle: Notify::new(),
            intake: intake_tx,
            updates: updates_tx,
            writer,
            writer_thread,
            control: tokio::sync::Mutex::new(()),
            record_edits: tokio::sync::Mutex::new(()),
        });
        if let Some(store) = inner.options.store.clone() {
            inner.restore_pauses(&store).await?;
            inner.recover(store).await?;
        }
        tokio::spawn(take_notifications(Arc::clone(&inner), intake_rx));
        tokio::spawn(schedule(Arc::clone(&inner)));
        tokio::spawn(record_ends(Arc::clone(&inner), updates_rx));
        tokio::spawn(verdicts::verify_windows(Arc::clone(&inner)));
        tokio::spawn(approvals::expire_approvals(Arc::clone(&inner)));
        tokio::spawn(notify::deliver_notifications(Arc::clone(&inner)));
        if inner.options.ha.is_some() {
            tokio::spawn(ha::keep_claims(Arc::clone(&inner)));
            tokio::spawn(ha::housekeep(Arc::clone(&inner)));
        }
        Ok(Self { inner })
    }

    /// Swaps in a new config; runs already queued or running keep the settings they were
    /// queued with.
    pub(crate) fn reload(&self, loaded: Loaded) {
        *self
            .inner
            .loaded
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
    }

    /// The config in use.
    pub(crate) fn config(&self) -> Arc<Config> {
        Arc::clone(&self.inner.loaded().config)
    }

    /// The store, when durable.
    /// `server.ha`: this replica's claims.
    pub(crate) fn ha(&self) -> Option<Arc<super::ha::Ha>> {
        self.inner.options.ha.clone()
    }

    pub(crate) fn store(&self) -> Option<&Store> {
        self.inner.options.store.as_ref()
    }

    /// Actions starting or running, and runs queued, now.
    pub(crate) fn load(&self) -> (usize, usize) {
        self.inner.lock().ledger.load()
    }

    /// Starting or running actions, and queued runs, of one rule now.
    pub(crate) fn rule_load(&self, rule: &str) -> (usize, usize) {
        self.inner.lock().ledger.rule_load(rule)
    }

    /// The circuit breakers of `rule` open now.
    pub(crate) fn open_breakers(&self, rule: &str) -> usize {
        self.inner.lock().rails.open_count(&RuleName::from(rule))
    }

    /// Now, by the dispatcher's clock (unix ms).
    pub(crate) fn now(&self) -> i64 {
        self.inner.now()
    }

    /// Forgets the dedupe entries of episodes not delivered since `idle_since` (unix ms),
    /// in memory; [`Store::prune`] does the same in the store.
    pub(crate) fn forget_idle(&self, idle_since: i64) -> usize {
        self.inner.lock().ledger.forget_idle(idle_since)
    }

    /// Pauses alertrun for `reason` (see `lifecycle::rails`): no run is queued until every
    /// reason is lifted; runs already queued or running go on. Durable before it returns.
    /// Returns the pauses holding now.
    ///
    /// # Errors
    /// When the pause cannot be stored; alertrun is then not paused for `reason`.
    pub(crate) async fn pause(&self, reason: &str, by: &str) -> Result<Vec<Pause>, StoreError> {
        let _one = self.inner.control.lock().await;
        let before = self.pauses();
        let now = self.now();
        let after = {
            let mut state = self.inner.lock();
            state.rails.pause(reason, by, now);
            state.rails.pauses().cloned().collect::<Vec<_>>()
        };
        self.inner.store_pauses(before, after).await
    }

    /// Lifts the pause of `reason`, or every pause when `None`. Durable before it returns.
    /// Returns the pauses still holding.
    ///
    /// # Errors
    /// When the change cannot be stored; the pauses are then as they were.
    pub(crate) async fn resume(&self, reason: Option<&str>) -> Result<Vec<Pause>, StoreError> {
        let _one = self.inner.control.lock().await;
        let before = self.pauses();
        let after = {
            let mut state = self.inner.lock();
            state.rails.resume(reason);
            state.rails.pauses().cloned().collect::<Vec<_>>()
        };
        self.inner.store_pauses(before, after).await
    }

    /// Closes the open breakers of `rule` (on `target` only, when given); returns the
    /// targets closed (stored, as every change of the rails' state).
    pub(crate) fn reset_breakers(&self, rule: &str, target: Option<&str>) -> Vec<String> {
        let mut state = self.inner.lock();
        let want = target.map(rails::Target::named);
        let changes = state.rails.reset(rule, want.as_ref());
        let open = state.rails.open_count(&RuleName::from(rule));
        self.inner.store_changes(&mut state);
        drop(state);
        self.inner.options.metrics.set_circuit_open(rule, open);
        changes
            .into_iter()
            .map(|c| {
                info!(rule = %c.rule, target = %c.target, "circuit breaker closed by hand");
                c.target.to_string()
            })
            .collect()
    }

    /// Forgets the rails' state that no rail needs any more (rate-limit entries past every
    /// rule's window, targets with nothing counted).
    pub(crate) fn forget_stale_rails(&self) {
        let config = self.config();
        let longest = (0..config.rules().rules().len())
            .filter_map(|i| config.policy(i).rails.max_runs)
            .map(|r| i64::try_from(r.per.as_millis()).unwrap_or(i64::MAX))
            .max()
            .unwrap_or(0);
        let now = self.now();
        let mut state = self.inner.lock();
        state.rails.forget_stale(longest, now);
        self.inner.store_changes(&mut state);
    }

    /// The pauses holding now.
    pub(crate) fn pauses(&self) -> Vec<Pause> {
        self.inner.lock().rails.pauses().cloned().collect()
    }

    /// Stops taking notifications: [`Intake::accept`] refuses from now on.
    pub(crate) fn close(&self) {
        self.inner.lock().ledger.close();
    }

    /// Stops taking notifications; lets running actions go on for up to `grace`, then asks
    /// them to stop (they are recorded `interrupted`) and waits until they all ended.
    /// Runs not started stay queued in the store, for the next start (without a store
    /// they are logged and lost).
    pub(crate) async fn shutdown(&self, grace: Duration) {
        self.close();
        if tokio::time::timeout(grace, self.idle()).await.is_err() {
            let mut state = self.inner.lock();
            for id in state.ledger.close() {
                if let Ok(step) = state.ledger.apply(id, Event::Shutdown) {
                    self.inner.send_effects(&state, id, &step.effects);
                }
            }
        }
        self.idle().await;
        let left: Vec<(RunId, String)> = {
            let state = self.inner.lock();
            state
                .ledger
                .queued()
                .map(|id| {
                    let rule = state.queued.get(&id).map(|r| r.record.rule.clone());
                    (id, rule.unwrap_or_default())
                })
                .collect()
        };
        for (id, rule) in left {
            if self.inner.options.store.is_some() {
                info!(
                    rule,
                    run = id,
                    "shutting down: queued action stays queued for the next start"
                );
            } else {
                warn!(
                    rule,
                    run = id,
                    "shutting down without a store: queued action is dropped"
                );
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
            if self.inner.lock().ledger.load().0 == 0 {
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
        self.take(n, None, source)
    }

    fn accept_received(
        &self,
        n: Notification,
        received: Arc<[u8]>,
        source: Source,
    ) -> BoxFuture<'static, Result<Accepted, Refused>> {
        self.take(n, Some(received), source)
    }
}

impl Dispatcher {
    /// [`Intake::accept`], keeping `received` (the body as received) as the stored
    /// notification when given.
    fn take(
        &self,
        n: Notification,
        received: Option<Arc<[u8]>>,
        source: Source,
    ) -> BoxFuture<'static, Result<Accepted, Refused>> {
        // A firing notification that selects no rule has nothing to record, run or stop:
        // answered at once, without a trip through the intake task.
        let firing = n.status == AlertStatus::Firing
            && n.alerts.iter().all(|a| a.status == AlertStatus::Firing);
        if firing && self.inner.loaded().config.rules().select(&n).is_empty() {
            let closing = self.inner.lock().ledger.is_closing();
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
                received,
                source,
                reply,
            };
            match intake.try_send(submission) {
                Ok(()) => answer.await.unwrap_or(Err(Refused::ShuttingDown)),
                Err(mpsc::error::TrySendError::Full(_)) => Err(Refused::QueueFull),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(Refused::ShuttingDown),
            }
        })
    }
}

/// The intake task: takes what has arrived as one batch, writes it once, answers all.
///
/// Planning and writing are pipelined: while batches are being written, the next ones are
/// admitted (the ledger holds the keys still being written as pending), and the writer
/// merges the batches waiting into one commit, so the store stays busy and commits grow
/// with the load.
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
        // Alertmanager's silences, asked here so that planning under the lock stays
        // synchronous (`super::silences`).
        let config = Arc::clone(&inner.loaded().config);
        let notifications = batch.iter().map(|s| &s.notification);
        let silences = SilenceLookup::for_batch(&config, notifications).await;
        if let Some(planned) = inner.plan_batch(batch, &silences) {
            let inner = Arc::clone(&inner);
            tokio::spawn(async move {
                inner.commit_batch(planned).await;
                drop(permit);
            });
        }
    }
}

/// A batch admitted and waiting to be written.
struct PlannedBatch {
    taken: Vec<Taken>,
    /// Its write, handed to the writer already; `None` when its episodes are claimed
    /// first (`server.ha`), each notification's write still on its `Taken`.
    written: Option<Written>,
}

/// A selection rendered into a run, before the ledger admits it.
struct Planned {
    selection: Selection,
    /// The rule's index in the config, for its rails.
    rule: usize,
    /// Whether it acts on a firing alert (or group), for the storm gate.
    firing: bool,
    /// A rail held it back: recorded skipped, its episode left unmarked.
    held: bool,
    /// The metric reason when it is recorded as skipped instead of queued.
    skip: Option<(SkipReason, String)>,
    run: Run,
}

/// The store setting that holds the pauses (JSON, a list of `Pause`).
const PAUSES: &str = "pauses";

impl Inner {
    /// Restores the pauses and the rails' state of each target the store kept, so that a
    /// restart stays paused and keeps its rate limits and breakers.
    async fn restore_pauses(&self, store: &Store) -> Result<(), StoreError> {
        let reader = store.clone();
        let settings = tokio::task::spawn_blocking(move || reader.settings())
            .await
            .map_err(|e| StoreError::from_panic(&e))??;
        self.restore_watches(store, &settings);
        let mut pauses: Vec<Pause> = Vec::new();
        {
            let mut state = self.lock();
            for (name, json) in settings {
                if name == PAUSES {
                    pauses = serde_json::from_slice(&json).map_err(|e| {
                        StoreError::from_panic(&format!("the stored pauses cannot be read: {e}"))
                    })?;
                } else if let Some(id) = crate::serve::notify::parse_setting_name(&name) {
                    if let Ok(entry) = serde_json::from_slice(&json) {
                        state.outbox.restore(id, entry, self.now());
                    }
                } else if let Some(id) = verify::parse_setting_name(&name) {
                    if let Ok(watch) = serde_json::from_slice(&json) {
                        state.verify.watch(id, watch);
                    }
                } else if let Some((rule, target)) = rails::parse_setting_name(&name) {
                    // A state that no longer reads (a later layout) is dropped: the rails
                    // then start afresh for that target, as before they were stored.
                    if let Ok(kept) = serde_json::from_slice(&json) {
                        state.rails.restore_target(rule, target, kept);
                    }
                }
            }
            let mut open: BTreeMap<&RuleName, usize> = BTreeMap::new();
            for (rule, _, _) in state.rails.open_breakers() {
                *open.entry(rule).or_default() += 1;
            }
            for (rule, count) in open {
                self.options.metrics.set_circuit_open(rule.as_str(), count);
            }
        }
        if !pauses.is_empty() {
            let reasons: Vec<&str> = pauses.iter().map(|p| p.reason.as_str()).collect();
            warn!(reasons = %reasons.join("; "), "alertrun is paused: no run is queued until `alertrun resume`");
        }
        self.options.metrics.set_paused(!pauses.is_empty());
        self.lock().rails.restore_pauses(pauses);
        Ok(())
    }

    /// Stores the pauses `after` a change; puts `before` back when that fails.
    async fn store_pauses(
        &self,
        before: Vec<Pause>,
        after: Vec<Pause>,
    ) -> Result<Vec<Pause>, StoreError> {
        if let Some(store) = self.options.store.clone() {
            let json = serde_json::to_vec(&after).expect("pauses always serialize");
            let written =
                tokio::task::spawn_blocking(move || store.put_setting(PAUSES, Some(&json)))
                    .await
                    .map_err(|e| StoreError::from_panic(&e))
                    .and_then(|r| r);
            if let Err(e) = written {
                self.lock().rails.restore_pauses(before);
                return Err(e);
            }
        }
        self.options.metrics.set_paused(!after.is_empty());
        Ok(after)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn now(&self) -> i64 {
        (self.options.clock)()
    }

    /// Carries out the stop effects of a transition of run `id`.
    fn send_effects(&self, state: &State, id: RunId, effects: &[crate::lifecycle::Effect]) {
        for effect in effects {
            if let crate::lifecycle::Effect::Stop(reason) = effect
                && let Some(stop) = state.stops.get(&id)
            {
                let _ = stop.send(Some(*reason));
            }
        }
    }

    /// Admits a batch under the state lock: selecting and rendering first, without it.
    fn plan_batch(
        self: &Arc<Self>,
        batch: Vec<Submission>,
        silences: &SilenceLookup,
    ) -> Option<PlannedBatch> {
        let loaded = self.loaded();
        let now = self.now();
        let rendered: Vec<(Submission, Vec<Planned>)> = batch
            .into_iter()
            .map(|submission| {
                let planned = self.plan(&loaded, &submission.notification, now);
                (submission, planned)
            })
            .collect();
        let mut taken: Vec<Taken> = Vec::with_capacity(rendered.len());
        let mut write = store::Batch::default();
        let mut decided = Vec::new();
        let mut state = self.lock();
        for (submission, planned) in rendered {
            let Submission {
                notification,
                received,
                source,
                reply,
            } = submission;
            if state.start_failures > 0 && planned.iter().any(|p| p.selection.queues) {
                // Runs cannot be recorded as started: queueing more would only pile up
                // work that cannot run. Alertmanager retries.
                let _ = reply.send(Err(Refused::StoreUnavailable));
                continue;
            }
            let selections: Vec<Selection> = planned.iter().map(|p| p.selection.clone()).collect();
            let mut admission = match state.ledger.admit(&selections, now) {
                Ok(admission) => admission,
                Err(refusal) => {
                    // Counted by the HTTP layer, which maps every refusal to its answer.
                    let _ = reply.send(Err(match refusal {
                        Refusal::Closing => Refused::ShuttingDown,
                        Refusal::QueueFull => Refused::QueueFull,
                    }));
                    continue;
                }
            };
            let mut planned = planned;
            calm_storms(&mut state.rails, &loaded.config, &notification, now);
            let judged = Self::observe_verdicts(&mut state, &notification, now);
            if !judged.is_empty() {
                self.settle_verdicts(&mut state, &judged);
                decided.extend(judged);
            }
            hold(
                &mut state,
                &loaded.config,
                &mut planned,
                &mut admission,
                (&notification, silences),
                now,
            );
            self.options
                .metrics
                .notification_received(source, notification.alerts.len());
            let mut t = Taken {
                reply,
                notification,
                admission,
                runs: Vec::new(),
                awaiting: Vec::new(),
                skipped: 0,
                write: store::Batch::default(),
                refused: None,
            };
            for (key, entry) in &t.admission.refresh {
                let ran_at = entry.ran_at.unwrap_or(entry.seen_at);
                t.write.dedupe.push((
                    key.to_store_key(),
                    DedupeEntry {
                        ran_at,
                        seen_at: entry.seen_at,
                    },
                ));
            }
            let notification_id = t.admission.notification.unwrap_or(0);
            let body: Arc<[u8]> = match (t.admission.notification, received) {
                (Some(_), Some(received)) => received,
                (Some(_), None) => {
                    Arc::from(serde_json::to_vec(&t.notification).unwrap_or_default())
                }
                (None, _) => Arc::from(Vec::new()),
            };
            let receiver = t.notification.receiver_name();
            for (p, verdict) in planned.into_iter().zip(&t.admission.verdicts) {
                let rule = p.run.record.rule.clone();
                let id = match verdict {
                    Ok(id) => *id,
                    Err(not_due) => {
                        let reason = match not_due {
                            NotDue::Dedupe => SkipReason::Dedupe,
                            NotDue::Cooldown => SkipReason::Cooldown,
                        };
                        self.options.metrics.rule_skipped(&rule, reason);
                        t.skipped += 1;
                        continue;
                    }
                };
                let mut run = p.run;
                run.body = Arc::clone(&body);
                run.record.id = id;
                run.record.notification = notification_id;
                enter(
                    &mut run.record,
                    RunState::Received,
                    now,
                    format!("notification {notification_id} from receiver {receiver}"),
                );
                match p.skip {
                    Some((metric, reason)) => {
                        run.record.silence = None;
                        self.options.metrics.rule_skipped(&rule, metric);
                        t.skipped += 1;
                        run.record.reason = Some(reason.clone());
                        run.record.ended_at = Some(now);
                        enter(&mut run.record, RunState::Skipped, now, reason);
                    }
                    None => match run.approval.clone() {
                        Some(approval) => {
                            Self::ask_approval(&loaded.config, p.rule, &mut run, &approval, now);
                        }
                        None => enter(
                            &mut run.record,
                            RunState::Queued,
                            now,
                            "recorded".to_owned(),
                        ),
                    },
                }
                if !p.held && !self.options.capture {
                    t.write
                        .dedupe
                        .push((p.selection.key.to_store_key(), DedupeEntry::at(now)));
                }
                t.write.runs.push(run.record.clone());
                match run.record.state {
                    RunState::Queued => t.runs.push(run),
                    RunState::AwaitingApproval => t.awaiting.push(run),
                    _ => {}
                }
            }
            if let Some(id) = t.admission.notification {
                t.write.notifications.push((id, Arc::clone(&body)));
            }
            taken.push(t);
        }
        write.settings.extend(changed_settings(&mut state));
        // With claims to make first (`server.ha`), the runs are written once claimed
        // (`commit_batch`); the rails' changes go now, in order.
        let claiming = self.claims_needed(&taken);
        if !claiming {
            for t in &mut taken {
                write.merge(std::mem::take(&mut t.write));
            }
        }
        // Handed over under the lock: see `Inner::submit`.
        let settings_written = self.submit(write);
        let written = if claiming {
            None
        } else {
            Some(settings_written)
        };
        drop(state);
        if !decided.is_empty() {
            let inner = Arc::clone(self);
            tokio::spawn(async move { inner.record_verdicts(decided).await });
        }
        if taken.is_empty() {
            return None;
        }
        Some(PlannedBatch { taken, written })
    }

    /// Writes an admitted batch; then, in one step under the lock, settles it in the
    /// ledger (its runs queue, or it is forgotten when the write failed) and answers.
    async fn commit_batch(&self, planned: PlannedBatch) {
        let PlannedBatch { mut taken, written } = planned;
        let written = match written {
            Some(written) => written.await,
            None => {
                self.claim_batch(&mut taken).await;
                let mut write = store::Batch::default();
                for t in &mut taken {
                    write.merge(std::mem::take(&mut t.write));
                }
                self.write(write).await
            }
        };
        if let Err(e) = &written {
            error!(error = %e, notifications = taken.len(),
                "cannot record accepted notifications: refusing them (503) so that Alertmanager retries");
        }
        let now = self.now();
        let mut answers = Vec::with_capacity(taken.len());
        {
            let mut state = self.lock();
            for t in taken {
                let queued: Vec<(RunId, LiveRun)> = t
                    .runs
                    .iter()
                    .map(|r| (r.record.id, r.live.clone()))
                    .collect();
                // A run waiting for approval is accepted work too.
                let count = queued.len() + t.awaiting.len();
                let refused = match (&written, t.refused) {
                    (_, Some(refused)) => Some(refused),
                    (Err(_), None) => Some(Refused::StoreUnavailable),
                    (Ok(()), None) => None,
                };
                state
                    .ledger
                    .settle(&t.admission, refused.is_none(), now, queued);
                if let Some(refused) = refused {
                    for run in t.runs.iter().chain(&t.awaiting) {
                        let at = run.record.created_at;
                        state.rails.withdraw(run.record.id, at);
                    }
                    answers.push((t.reply, Err(refused)));
                    continue;
                }
                for mut run in t.runs {
                    if let Some(stop) = run.stop_tx.take() {
                        state.stops.insert(run.record.id, stop);
                    }
                    state.queued.insert(run.record.id, run);
                }
                self.await_approvals(&mut state, t.awaiting);
                self.stop_resolved(&mut state, &t.notification, now);
                answers.push((
                    t.reply,
                    Ok(Accepted {
                        queued: count,
                        skipped: t.skipped,
                    }),
                ));
            }
            self.options.metrics.set_queued(state.ledger.load().1);
        }
        self.wake.notify_one();
        for (reply, answer) in answers {
            let _ = reply.send(answer);
        }
    }

    /// Asks the firing runs of alerts (and groups) that `n` reports resolved to stop, when
    /// their rule says so; a run still queued is dropped (recorded `cancelled`).
    fn stop_resolved(&self, state: &mut State, n: &Notification, now: i64) {
        let mut subjects: HashSet<Subject> = n
            .alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Resolved)
            .map(|a| Subject::Episode(Arc::from(a.episode().key())))
            .collect();
        if n.status == AlertStatus::Resolved {
            subjects.insert(Subject::Group(Arc::from(n.group_key.as_str())));
        }
        if subjects.is_empty() {
            return;
        }
        let resolution = state.ledger.resolve(&subjects);
        for id in resolution.stop {
            info!(run = id, "alert resolved: stopping its action");
            if let Some(stop) = state.stops.get(&id) {
                let _ = stop.send(Some(StopReason::Resolved));
            }
        }
        for id in resolution.cancelled {
            if state.awaiting.contains_key(&id) {
                if let Some(record) = self.end_awaiting_resolved(state, id, now) {
                    let _ = self
                        .updates
                        .send(Update::End(Box::new(record), Arc::from(Vec::new())));
                }
                continue;
            }
            state.stops.remove(&id);
            state.rails.ended(id, RunState::Cancelled, now);
            if let Some(run) = state.queued.remove(&id) {
                info!(rule = %run.record.rule, run = id,
                    "alert resolved before its action started: not starting it");
                let mut record = run.record;
                record.reason = Some("alert resolved before the action started".to_owned());
                record.ended_at = Some(now);
                enter(
                    &mut record,
                    RunState::Cancelled,
                    now,
                    "alert resolved".to_owned(),
                );
                let _ = self.updates.send(Update::End(Box::new(record), run.body));
            }
        }
    }

    /// Writes `batch` durably (no-op without a store): hands it to the writer task, which
    /// merges whatever is waiting (intake, starts, ends) into one commit, one fsync.
    async fn write(&self, batch: store::Batch) -> Result<(), Arc<StoreError>> {
        self.submit(batch).await
    }

    /// Hands `batch` to the writer now, and returns how its commit went when awaited.
    /// Commits happen in the order batches are handed over: what is taken from the state
    /// under its lock and handed over under the same lock (the rails' changes) is written
    /// in the order it changed, so an older value never overwrites a newer one.
    fn submit(&self, batch: store::Batch) -> Written {
        let sent = match &self.writer {
            Some(writer) if !batch.is_empty() => {
                let (done, result) = oneshot::channel();
                Some(writer.send(WriteJob { batch, done }).map(|()| result))
            }
            _ => None,
        };
        Box::pin(async move {
            let stopped = || Arc::new(StoreError::from_panic(&"the store writer stopped"));
            match sent {
                None => Ok(()),
                Some(Err(_)) => Err(stopped()),
                Some(Ok(result)) => result.await.unwrap_or_else(|_| Err(stopped())),
            }
        })
    }

    /// Under the lock, at now: takes what `take` finds due, and hands what that changed to
    /// the writer (the housekeeping tasks' step).
    fn take_due<T>(&self, take: impl FnOnce(&mut State, i64) -> T) -> T {
        let now = self.now();
        let mut state = self.lock();
        let due = take(&mut state, now);
        self.store_changes(&mut state);
        due
    }

    /// Hands what the rails and the verdict watches changed to the writer, under the lock
    /// `state` is held by (see [`Inner::submit`]). A write that fails goes to the
    /// recorder, which retries it.
    fn store_changes(&self, state: &mut State) {
        let settings = changed_settings(state);
        if settings.is_empty() || self.writer.is_none() {
            return;
        }
        let written = self.submit(store::Batch {
            settings: settings.clone(),
            ..store::Batch::default()
        });
        let recorder = self.updates.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if written.await.is_err() {
                    let _ = recorder.send(Update::Settings(settings));
                }
            });
        }
    }

    /// Every selection `n` fires, rendered, as runs to admit (without ids: the ledger gives
    /// them).
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
                    Subject::Episode(Arc::from(alert.episode().key())),
                    alert.status,
                    n.alerts.iter().position(|a| std::ptr::eq(a, alert)),
                ),
                Target::Group => (
                    Subject::Group(Arc::from(n.group_key.as_str())),
                    n.status,
                    None,
                ),
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
                0, // the notification's id, given when the batch is admitted
                alert_index,
                &rendered.request,
                dedupe_key,
                now,
            );
            record.silence = silences::planned(config.alertmanager(), &policy.silences, n);
            let mut skip = None;
            let mut problems: Vec<String> =
                rendered.problems.iter().map(ToString::to_string).collect();
            problems.extend(backend::request_problems(
                config.action(selection.rule),
                &rendered.request,
            ));
            if !problems.is_empty() {
                error!(rule = %rule.name, problems = %problems.join("; "), "action not run");
                skip = Some((SkipReason::Env, problems.join("; ")));
            } else if self.options.capture {
                record.dry_run = true;
                skip = Some((
                    SkipReason::DryRun,
                    "captured (server.capture): not run".to_owned(),
                ));
            } else if policy.dry_run || self.options.dry_run {
                info!(rule = %rule.name, argv = ?record.argv, "dry run: action not run");
                record.dry_run = true;
                skip = Some((SkipReason::DryRun, "dry run".to_owned()));
            }
            let live = live_run(&record, subject, status, policy);
            // A group is named by its key, where an alert has its fingerprint.
            let id = match selection.target {
                Target::Alert(_) => record.fingerprint.as_str(),
                Target::Group => record.group_key.as_str(),
            };
            let target = rails::Target::of(&policy.rails, &record.labels, id);
            let mut run = Run::new(record, rendered.request, executor, live);
            run.target = target;
            run.verify = verdicts::VerifyPlan::of(policy.rails.verify, n);
            run.approval.clone_from(&policy.approval);
            out.push(Planned {
                selection: Selection {
                    key: run.live.key.clone(),
                    // Capture records every delivery, repeats included.
                    repeat: if self.options.capture {
                        Repeat::Always
                    } else {
                        policy.repeat
                    },
                    queues: skip.is_none(),
                },
                rule: selection.rule,
                firing: status == AlertStatus::Firing,
                held: false,
                skip,
                run,
            });
        }
        out
    }
}

/// What the rails and the verdict watches changed, as store settings.
fn changed_settings(state: &mut State) -> Vec<(String, Option<Vec<u8>>)> {
    let mut settings = rails_settings(state.rails.take_changes());
    settings.extend(as_settings(
        state.verify.take_changes(),
        verify::setting_name,
    ));
    settings.extend(as_settings(
        state.outbox.take_changes(),
        crate::serve::notify::setting_name,
    ));
    settings
}

/// Changed values by key as store settings: named by `name`, as JSON (`None`: deleted).
fn as_settings<K, T: serde::Serialize>(
    changes: Vec<(K, Option<T>)>,
    name: impl Fn(K) -> String,
) -> Vec<(String, Option<Vec<u8>>)> {
    changes
        .into_iter()
        .map(|(key, value)| {
            let json = value.map(|v| serde_json::to_vec(&v).expect("a stored state serializes"));
            (name(key), json)
        })
        .collect()
}

/// The rails' changes as store settings.
fn rails_settings(
    changes: Vec<(RuleName, rails::Target, Option<rails::TargetState>)>,
) -> Vec<(String, Option<Vec<u8>>)> {
    changes
        .into_iter()
        .map(|(rule, target, state)| {
            let json = state.map(|s| serde_json::to_vec(&s).expect("a target state serializes"));
            (rails::setting_name(&rule, &target), json)
        })
        .collect()
}

/// Takes the resolved alerts of `n` out of the storm windows of the rules that have one,
/// whether or not those rules act on resolved alerts: a target that resolved no longer
/// fires.
fn calm_storms(rails: &mut Rails, config: &Config, n: &Notification, now: i64) {
    let resolved = || {
        n.alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Resolved)
    };
    if resolved().next().is_none() {
        return;
    }
    for (i, rule) in config.rules().rules().iter().enumerate() {
        let policy = &config.policy(i).rails;
        if policy.max_targets.is_none() {
            continue;
        }
        let name = RuleName::from(rule.name.as_str());
        for alert in resolved() {
            let fingerprint = alert.fingerprint.to_string();
            let target = rails::Target::of(policy, &alert.labels, &fingerprint);
            rails.observe(&name, &target, false, policy.max_targets, now);
        }
    }
}

/// Asks the rails about each selection of one notification that the ledger admitted and
/// that would queue: first the storm gate sees every target the notification fires, then
/// each selection is checked in the rails' order (its rule's time intervals decide
/// `muted`, and Alertmanager's silences, asked before, the last rail) and, when let
/// through, counted at once
/// (so that a rate limit of 1 holds back the second target of the same notification). One
/// held back is recorded `skipped` with the rail's reason, and its episode stays unmarked,
/// so that a later delivery runs it once the rail lets go.
fn hold(
    state: &mut State,
    config: &Config,
    planned: &mut [Planned],
    admission: &mut Admission,
    (n, silences): (&Notification, &SilenceLookup),
    now: i64,
) {
    for p in planned.iter() {
        let rule = RuleName::from(p.run.record.rule.as_str());
        let storm = config.policy(p.rule).rails.max_targets;
        state
            .rails
            .observe(&rule, &p.run.target, p.firing, storm, now);
    }
    for (p, verdict) in planned.iter_mut().zip(&admission.verdicts.clone()) {
        let (Ok(id), None) = (verdict, &p.skip) else {
            continue;
        };
        let rule = RuleName::from(p.run.record.rule.as_str());
        let policy = config.policy(p.rule);
        let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(now).unwrap_or(0));
        let muted = policy
            .schedule
            .is_muted(at)
            .map(|m| format!("rule {rule} is {m}"));
        let silence_policy = policy.silences;
        let policy = &policy.rails;
        let silenced = |()| {
            let labels = &p.run.record.labels;
            silences.check(config.alertmanager(), &silence_policy, n, labels)
        };
        match state
            .rails
            .check(&rule, &p.run.target, policy, muted.as_deref(), now)
            .and_then(silenced)
        {
            Ok(()) => state.rails.admitted(*id, &rule, &p.run.target, policy, now),
            Err(held) => {
                info!(rule = %rule, target = %p.run.target, rail = %held.rail,
                    reason = %held.reason, "held back by a rail: action not run");
                state.ledger.hold(admission, &p.selection);
                p.skip = Some((held.rail.into(), held.reason));
                p.held = true;
            }
        }
    }
}

/// The dedupe key of the run `record`.
fn live_key(record: &RunRecord) -> DedupeKey {
    DedupeKey {
        namespace: if record.dry_run {
            Namespace::DryRun
        } else {
            Namespace::Live
        },
        rule: RuleName::from(record.rule.as_str()),
        episode: Arc::from(record.dedupe_key.as_str()),
    }
}

/// What the ledger follows of the run `record` of a rule with `policy`, about `subject`.
fn live_run(
    record: &RunRecord,
    subject: Subject,
    status: AlertStatus,
    policy: &crate::config::Policy,
) -> LiveRun {
    let key = live_key(record);
    LiveRun {
        rule: key.rule.clone(),
        subject,
        status,
        stop_on_resolve: policy.on_resolved_while_running == OnResolved::Stop,
        concurrency: policy.concurrency,
        state: RunState::Queued,
        key,
    }
}

impl Run {
    /// A run of `record`, not yet queued; its stop channel is made when it is queued.
    fn new(
        record: RunRecord,
        request: ExecRequest,
        executor: &Arc<dyn Executor>,
        live: LiveRun,
    ) -> Self {
        let (stop_tx, stop) = watch::channel(None);
        Self {
            record,
            request,
            executor: Arc::clone(executor),
            live,
            stop_tx: Some(stop_tx),
            stop,
            body: Arc::from(Vec::new()),
            queued_at: Instant::now(),
            target: rails::Target::named(""),
            verify: None,
            approval: None,
            breaker: None,
        }
    }
}

/// The ticker of a housekeeping task: every `period`; a tick missed waits (no burst).
fn ticker(period: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
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

/// Whether a write failed because the store does not hold a notification its runs refer to
/// (its file was replaced while alertrun ran).
fn lost_notification(written: &Result<(), Arc<StoreError>>) -> bool {
    matches!(written, Err(e) if matches!(**e, StoreError::MissingNotification { .. }))
}

/// `batch` with the notification bodies of `runs` added (each once).
fn with_bodies<'a>(
    mut batch: store::Batch,
    runs: impl Iterator<Item = (u64, &'a Arc<[u8]>)>,
) -> store::Batch {
    let mut seen = HashSet::new();
    for (id, body) in runs {
        if !body.is_empty() && seen.insert(id) {
            batch.notifications.push((id, Arc::clone(body)));
        }
    }
    batch
}
