//! The ledger: every decision about runs that depends on what else is going on, made
//! synchronously, under one lock, with time passed in.
//!
//! It knows the dedupe entries (which episodes ran, which are being recorded), the queue,
//! which runs hold slots, and which live runs a resolved alert should stop. It does no I/O
//! and holds no actions: the dispatcher keeps each run's request and executor by
//! [`RunId`], asks the ledger what to do, records what it answers and carries out the
//! effects. Each decision is one method call, so no other decision can observe a
//! half-made one (a dedupe key is always pending, done, or absent: never briefly none of
//! them between planning and commit).

use std::collections::{HashMap, HashSet, VecDeque};

use alert_core::{AlertStatus, StopReason};

use super::episodes::{Episode, EpisodeIndex};
use super::key::{DedupeKey, RuleName, Subject};
use super::state::RunState;
use super::transition::{Effect, Event, IllegalTransition, Step, next};
use crate::config::Repeat;

/// A run's id: unique, from the same counter as notification ids.
pub(crate) type RunId = u64;

/// The global limits of the run queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueueLimits {
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

/// How often a delivery of an episode that already ran refreshes its dedupe entry's
/// last-seen time in the store: at most one write per episode per interval.
pub(crate) const SEEN_REFRESH_MS: i64 = 60 * 60 * 1000;

/// A run the ledger follows until it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LiveRun {
    /// Its rule.
    pub rule: RuleName,
    /// What it acts on.
    pub subject: Subject,
    /// The status it was selected for.
    pub status: AlertStatus,
    /// Whether a resolve of its subject stops it.
    pub stop_on_resolve: bool,
    /// Its rule's concurrency limit.
    pub concurrency: Option<usize>,
    /// Where it is.
    pub state: RunState,
    /// Its dedupe key.
    pub key: DedupeKey,
}

/// One rule's selection of one alert (or group), asking to be admitted.
#[derive(Clone, Debug)]
pub(crate) struct Selection {
    /// The dedupe key.
    pub key: DedupeKey,
    /// The rule's repeat policy.
    pub repeat: Repeat,
    /// Whether it would be queued (else recorded as skipped: dry run, bad env).
    pub queues: bool,
}

/// Why a selection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotDue {
    /// Its episode already ran (or is being recorded).
    Dedupe,
    /// Its episode ran less than the rule's cooldown ago.
    Cooldown,
}

/// A notification's selections, admitted: each one an id, or why it is not due.
#[derive(Debug, Default)]
pub(crate) struct Admission {
    /// Per selection, in order.
    pub verdicts: Vec<Result<RunId, NotDue>>,
    /// The notification's id, when any selection was admitted.
    pub notification: Option<RunId>,
    /// Dedupe entries whose last-seen time to refresh in the store.
    pub refresh: Vec<(DedupeKey, Episode)>,
    keys: Vec<DedupeKey>,
    queued: usize,
}

/// Why a notification was refused whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its runs do not fit in the queue.
    QueueFull,
    /// alertrun is shutting down.
    Closing,
}

/// What a resolved notification does to live runs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// Queued runs that will never start (now `Cancelled`).
    pub cancelled: Vec<RunId>,
    /// Starting or running actions to ask to stop.
    pub stop: Vec<RunId>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Ledger {
    limits: QueueLimits,
    episodes: EpisodeIndex,
    runs: HashMap<RunId, LiveRun>,
    queue: VecDeque<RunId>,
    running: usize,
    running_by_rule: HashMap<RuleName, usize>,
    pending_queued: usize,
    closing: bool,
    next_id: u64,
}

impl Ledger {
    /// An empty ledger; ids start at `next_id` (at least 1).
    pub(crate) fn new(limits: QueueLimits, next_id: u64) -> Self {
        Self {
            limits,
            episodes: EpisodeIndex::new(),
            runs: HashMap::new(),
            queue: VecDeque::new(),
            running: 0,
            running_by_rule: HashMap::new(),
            pending_queued: 0,
            closing: false,
            next_id: next_id.max(1),
        }
    }

    /// Restores a dedupe entry read from the store, under its key's store text
    /// ([`DedupeKey::to_store_key`]), one of `all`; `false` for text that is no key.
    pub(crate) fn restore(&mut self, all: u64, store_key: &str, ran_at: i64, seen_at: i64) -> bool {
        self.episodes
            .restore(all, store_key, Episode::stored(ran_at, seen_at))
    }

    /// Ids go on from `next_id` (the store's next free one after a restart).
    pub(crate) fn resume_ids(&mut self, next_id: u64) {
        self.next_id = self.next_id.max(next_id);
    }

    /// A fresh id (for a notification, or a run created by recovery).
    pub(crate) fn next_id(&mut self) -> RunId {
        self.next_id += 1;
        self.next_id - 1
    }

    /// Whether selections under `key` with `repeat` may run at `now`.
    fn due(&self, key: &DedupeKey, repeat: Repeat, now: i64) -> Result<(), NotDue> {
        let Some(episode) = self.episodes.get(self.episodes.digest(key)) else {
            return Ok(());
        };
        match repeat {
            Repeat::Always => Ok(()),
            _ if episode.pending => Err(NotDue::Dedupe),
            Repeat::Once if episode.ran_at.is_some() => Err(NotDue::Dedupe),
            Repeat::Once => Ok(()),
            Repeat::After(cooldown) => match episode.ran_at {
                Some(last)
                    if now.saturating_sub(last)
                        < i64::try_from(cooldown.as_millis()).unwrap_or(i64::MAX) =>
                {
                    Err(NotDue::Cooldown)
                }
                _ => Ok(()),
            },
        }
    }

    /// Admits one notification's selections: decides which are due, checks the queue has
    /// room for the ones that queue, and gives ids. Admitted keys are pending until
    /// [`Ledger::settle`].
    ///
    /// # Errors
    /// [`Refusal`] when the notification must be refused whole; nothing is remembered.
    pub(crate) fn admit(
        &mut self,
        selections: &[Selection],
        now: i64,
    ) -> Result<Admission, Refusal> {
        if self.closing {
            return Err(Refusal::Closing);
        }
        let mut admission = Admission::default();
        let mut mine = HashSet::new();
        for s in selections {
            let verdict = if mine.contains(&s.key) && s.repeat != Repeat::Always {
                Err(NotDue::Dedupe)
            } else {
                self.due(&s.key, s.repeat, now)
            };
            if verdict.is_ok() {
                mine.insert(s.key.clone());
                admission.queued += usize::from(s.queues);
            } else {
                let digest = self.episodes.digest(&s.key);
                if let Some(mut episode) = self.episodes.get(digest)
                    && now.saturating_sub(episode.seen_at) >= SEEN_REFRESH_MS
                    && !episode.pending
                {
                    episode.seen_at = now;
                    self.episodes.set(digest, episode);
                    admission.refresh.push((s.key.clone(), episode));
                }
            }
            admission.verdicts.push(verdict.map(|()| 0));
        }
        if admission.queued > 0
            && self.queue.len() + self.pending_queued + admission.queued > self.limits.max_queued
        {
            return Err(Refusal::QueueFull);
        }
        if admission.verdicts.iter().any(Result::is_ok) {
            admission.notification = Some(self.next_id());
        }
        for (s, verdict) in selections.iter().zip(&mut admission.verdicts) {
            if let Ok(id) = verdict {
                *id = self.next_id();
                let digest = self.episodes.digest(&s.key);
                let mut episode = self.episodes.get(digest).unwrap_or(Episode {
                    ran_at: None,
                    seen_at: now,
                    pending: false,
                });
                episode.pending = true;
                self.episodes.set(digest, episode);
                admission.keys.push(s.key.clone());
            }
        }
        self.pending_queued += admission.queued;
        Ok(admission)
    }

    /// Takes back selection `s` of `admission`, admitted but held back by a rail
    /// (`super::rails`): it keeps its id, to be recorded skipped, but no longer queues, and
    /// its episode is as it was before, so a later delivery runs it once the rail lets go.
    pub(crate) fn hold(&mut self, admission: &mut Admission, s: &Selection) {
        let Some(i) = admission.keys.iter().position(|k| *k == s.key) else {
            return;
        };
        admission.keys.remove(i);
        if s.queues {
            admission.queued -= 1;
            self.pending_queued -= 1;
        }
        let digest = self.episodes.digest(&s.key);
        if let Some(mut episode) = self.episodes.get(digest) {
            episode.pending = false;
            if episode.ran_at.is_none() {
                self.episodes.remove(digest);
            } else {
                self.episodes.set(digest, episode);
            }
        }
    }

    /// Settles an admission once its write ended: when `written`, its episodes ran at
    /// `now` and `queued` (its runs that queue, in order) join the queue; otherwise it is
    /// forgotten, the episodes as they were before it.
    pub(crate) fn settle(
        &mut self,
        admission: &Admission,
        written: bool,
        now: i64,
        queued: Vec<(RunId, LiveRun)>,
    ) {
        self.pending_queued -= admission.queued;
        for key in &admission.keys {
            let digest = self.episodes.digest(key);
            let Some(mut episode) = self.episodes.get(digest) else {
                continue;
            };
            episode.pending = false;
            if written {
                episode.ran_at = Some(now);
                episode.seen_at = now;
            } else if episode.ran_at.is_none() {
                self.episodes.remove(digest);
                continue;
            }
            self.episodes.set(digest, episode);
        }
        if written {
            for (id, run) in queued {
                self.enqueue(id, run);
            }
        }
    }

    /// Puts a run in the queue (admitted, or recovered after a restart).
    pub(crate) fn enqueue(&mut self, id: RunId, mut run: LiveRun) {
        run.state = RunState::Queued;
        self.runs.insert(id, run);
        self.queue.push_back(id);
    }

    /// Follows a run waiting for approval (admitted, or recovered after a restart): not in
    /// the queue until approved.
    pub(crate) fn await_approval(&mut self, id: RunId, mut run: LiveRun) {
        run.state =
            next(RunState::Received, Event::Await).map_or(RunState::AwaitingApproval, |s| s.state);
        self.runs.insert(id, run);
    }

    /// Follows a run that a previous alertrun started and this one re-attached to: it is
    /// `running` and holds a slot.
    pub(crate) fn adopt(&mut self, id: RunId, mut run: LiveRun) {
        run.state = RunState::Running;
        self.running += 1;
        *self.running_by_rule.entry(run.rule.clone()).or_default() += 1;
        self.runs.insert(id, run);
    }

    /// Moves run `id` with `event`, keeping slots and the queue in step with its state.
    ///
    /// # Errors
    /// [`IllegalTransition`] when the run is not followed here or cannot take the event.
    pub(crate) fn apply(&mut self, id: RunId, event: Event) -> Result<Step, IllegalTransition> {
        let Some(run) = self.runs.get_mut(&id) else {
            return Err(IllegalTransition {
                state: RunState::Received,
                event,
            });
        };
        let step = next(run.state, event)?;
        let was = run.state;
        run.state = step.state;
        let rule = run.rule.clone();
        if !was.holds_slot() && step.state.holds_slot() {
            self.running += 1;
            *self.running_by_rule.entry(rule.clone()).or_default() += 1;
        }
        for effect in &step.effects {
            match effect {
                Effect::FreeSlot => {
                    self.running -= 1;
                    if let Some(n) = self.running_by_rule.get_mut(&rule) {
                        *n -= 1;
                    }
                }
                Effect::ReopenEpisode => {
                    if let Some(run) = self.runs.get(&id) {
                        self.episodes.remove(self.episodes.digest(&run.key));
                    }
                }
                _ => {}
            }
        }
        if step.state == RunState::Queued && was == RunState::Starting {
            self.queue.push_front(id);
        }
        if step.state == RunState::Queued && was == RunState::AwaitingApproval {
            self.queue.push_back(id);
        }
        if was == RunState::Queued && step.state != RunState::Queued {
            self.queue.retain(|q| *q != id);
        }
        if !step.state.is_unfinished() {
            self.runs.remove(&id);
        }
        Ok(step)
    }

    /// Takes the runs that may start now, in FIFO order, passing over runs whose rule is at
    /// its concurrency limit; each is now `Starting`. None while closing.
    pub(crate) fn take_startable(&mut self) -> Vec<RunId> {
        let mut start = Vec::new();
        if self.closing {
            return start;
        }
        let mut i = 0;
        while i < self.queue.len() && self.running < self.limits.max_running {
            let id = self.queue[i];
            let Some(run) = self.runs.get(&id) else {
                self.queue.remove(i);
                continue;
            };
            let limit = run.concurrency.unwrap_or(usize::MAX);
            if self.running_by_rule.get(&run.rule).copied().unwrap_or(0) < limit {
                if self.apply(id, Event::Take).is_ok() {
                    start.push(id);
                } else {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        start
    }

    /// The live runs that a notification resolving `subjects` stops or cancels (firing runs
    /// whose rule stops on resolve). Queued ones are `Cancelled` already.
    pub(crate) fn resolve(&mut self, subjects: &HashSet<Subject>) -> Resolution {
        let mut resolution = Resolution::default();
        let mut hit: Vec<RunId> = self
            .runs
            .iter()
            .filter(|(_, r)| {
                // A run waiting for approval is cancelled whatever its rule does on
                // resolve: nobody should approve a fix for what went away.
                r.status == AlertStatus::Firing
                    && (r.stop_on_resolve || r.state == RunState::AwaitingApproval)
                    && subjects.contains(&r.subject)
            })
            .map(|(id, _)| *id)
            .collect();
        hit.sort_unstable();
        for id in hit {
            match self.apply(id, Event::Resolved) {
                Ok(step) if step.state == RunState::Cancelled => resolution.cancelled.push(id),
                Ok(step) if step.effects.contains(&Effect::Stop(StopReason::Resolved)) => {
                    resolution.stop.push(id);
                }
                _ => {}
            }
        }
        resolution
    }

    /// Stops taking notifications and starting runs; returns the starting and running
    /// actions, to ask to stop when the grace is over.
    pub(crate) fn close(&mut self) -> Vec<RunId> {
        self.closing = true;
        let mut ids: Vec<RunId> = self
            .runs
            .iter()
            .filter(|(_, r)| r.state.holds_slot())
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Whether [`Ledger::close`] was called.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing
    }

    /// Forgets that the episode of `key` ran, so that its next delivery runs it.
    pub(crate) fn reopen(&mut self, key: &DedupeKey) {
        self.episodes.remove(self.episodes.digest(key));
    }

    /// Forgets dedupe entries not delivered since `idle_since` (unix ms); returns how many.
    pub(crate) fn forget_idle(&mut self, idle_since: i64) -> usize {
        self.episodes.forget_idle(idle_since)
    }

    /// Actions holding slots, and runs queued.
    pub(crate) fn load(&self) -> (usize, usize) {
        (self.running, self.queue.len())
    }

    /// One rule's actions holding slots, and runs queued.
    pub(crate) fn rule_load(&self, rule: &str) -> (usize, usize) {
        let running = self
            .running_by_rule
            .iter()
            .find(|(r, _)| r.as_str() == rule)
            .map_or(0, |(_, n)| *n);
        let queued = self
            .queue
            .iter()
            .filter(|id| self.runs.get(id).is_some_and(|r| r.rule.as_str() == rule))
            .count();
        (running, queued)
    }

    /// The queued run ids, oldest first.
    pub(crate) fn queued(&self) -> impl Iterator<Item = RunId> + '_ {
        self.queue.iter().copied()
    }

    /// The dedupe entry of `key`.
    #[cfg_attr(not(test), allow(dead_code, reason = "only tests call it"))]
    pub(crate) fn episode(&self, key: &DedupeKey) -> Option<Episode> {
        self.episodes.get(self.episodes.digest(key))
    }

    /// How many dedupe entries are remembered.
    #[cfg(test)]
    pub(crate) fn episode_count(&self) -> usize {
        self.episodes.len()
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
