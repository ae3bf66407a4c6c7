//! Recovery after a restart, before anything else runs.
//!
//! - A run left `queued` is queued again.
//! - A run left `starting` had no action recorded as started: it is recorded `interrupted`.
//! - A run left `running` with a Kubernetes Job handle is re-attached: the Job is found by
//!   its name (and uid) and followed to its end as if nothing had happened; a resolve still
//!   deletes it.
//! - A run left `running` with a process handle: the process group, if it still lives
//!   (identified by pid, start time and boot id, never by pid alone), is ended (the rule's
//!   stop signal, SIGKILL after the grace) and the run recorded `interrupted`. Only then,
//!   for `on_interrupt: rerun`, is a new run queued, so no episode ever has two live
//!   copies. A run with no handle (a crash in the instant between the spawn and its
//!   record, or a record of an earlier release) is recorded `interrupted` and never re-run:
//!   its action might still be alive.

use std::sync::Arc;
use std::time::Duration;

use alert_core::{
    ExecRequest, Executor, Notification, Outcome, PayloadLimits, Recovered, Started, StopReason,
};
use alert_match::{Target, render};
use tracing::{error, info, warn};

use super::record::enter;
use super::run::{finish, shown_chain, stopped};
use super::{Inner, Loaded, Run};
use crate::config::OnInterrupt;
use crate::lifecycle::{End, Event, Ledger, Subject, next, retry_delay};
use crate::store::{self, RunRecord, RunState, Store, StoreError};

impl Inner {
    /// Re-queues the runs a previous alertrun left queued, and resolves the ones it left
    /// starting or running (see the module docs).
    pub(super) async fn recover(self: &Arc<Self>, store: Store) -> Result<(), StoreError> {
        let store_for_write = store.clone();
        let limits = self.options.limits;
        // The dedupe entries go straight from the store into the ledger's index, never
        // all at once as keys (a store of 100k episodes held 10 MB of them).
        let (recovery, ledger) = tokio::task::spawn_blocking(move || {
            let mut ledger = Ledger::new(limits, 1);
            let recovery = store.recover_each_dedupe(|all, key, entry| {
                ledger.restore(all, key, entry.ran_at, entry.seen_at);
            })?;
            ledger.resume_ids(recovery.next_id);
            Ok((recovery, ledger))
        })
        .await
        .unwrap_or_else(|e| Err(StoreError::from_panic(&e)))?;
        let loaded = self.loaded();
        self.lock().ledger = ledger;
        let mut write = store::Batch::default();
        let mut requeue = Vec::new();
        let mut awaiting = Vec::new();
        let mut attach = Vec::new();
        for mut record in recovery.unfinished {
            let body = recovery.notifications.get(&record.notification);
            let rebuilt = body.and_then(|b| self.rebuild(&loaded, &record, b));
            let now = self.now();
            match record.state {
                RunState::Running
                    if matches!(record.started, Some(Started::Job { .. })) && rebuilt.is_some() =>
                {
                    if let Some(run) = rebuilt {
                        // `server.ha`: renewed again while it is followed (the Job's name
                        // guards it whoever holds the claim).
                        let _ = self.still_ours(&record).await;
                        info!(rule = %record.rule, run = record.id,
                            "recovery: following the Job the previous alertrun started");
                        attach.push(run);
                    }
                }
                RunState::Starting | RunState::Running => {
                    let Ok(step) = next(record.state, Event::Recovered { attachable: false })
                    else {
                        continue;
                    };
                    let was_starting = record.state == RunState::Starting;
                    let ended = self.end_leftover(&loaded, &record, rebuilt.as_ref()).await;
                    warn!(rule = %record.rule, run = record.id, leftover = %ended.describe(),
                        "recovery: action was interrupted by a restart");
                    record.reason = Some(format!(
                        "alertrun stopped while the action {}; {}",
                        if record.state == RunState::Starting {
                            "was starting"
                        } else {
                            "ran"
                        },
                        ended.describe()
                    ));
                    enter(
                        &mut record,
                        step.state,
                        now,
                        format!("alertrun restarted: {}", ended.describe()),
                    );
                    // Its action is over: its silence, if any, goes too (humans are paged).
                    let settings = loaded.config.alertmanager();
                    crate::serve::silences::expire_silence(settings, &mut record, now).await;
                    let rerun = loaded
                        .config
                        .rules()
                        .rules()
                        .iter()
                        .position(|r| r.name == record.rule)
                        .is_some_and(|i| {
                            loaded.config.policy(i).on_interrupt == OnInterrupt::Rerun
                        });
                    let rerun = rerun && self.still_ours(&record).await;
                    match (rerun, rebuilt) {
                        (true, Some(mut run)) if ended.is_gone() => {
                            let id = self.lock().ledger.next_id();
                            run.record.id = id;
                            run.record.timeline.clear();
                            run.record.started_at = None;
                            run.record.started = None;
                            run.record.reason =
                                Some(format!("re-run of interrupted run {}", record.id));
                            enter(
                                &mut run.record,
                                RunState::Received,
                                now,
                                format!("re-run of interrupted run {}", record.id),
                            );
                            enter(
                                &mut run.record,
                                RunState::Queued,
                                now,
                                "recorded".to_owned(),
                            );
                            info!(rule = %record.rule, run = id, "recovery: running the interrupted action again");
                            write.runs.push(run.record.clone());
                            requeue.push(run);
                        }
                        (true, _) => warn!(rule = %record.rule, run = record.id,
                            "recovery: not running the action again: its earlier copy may still be alive"),
                        _ => {}
                    }
                    if was_starting
                        && record.started.is_none()
                        && crate::backend::starts_once_by_itself(&record.executor)
                    {
                        // Cut short while its Job was being created: the next delivery
                        // creates it or finds the one created, never a second one.
                        let key = super::live_key(&record);
                        self.lock().ledger.reopen(&key);
                        write.dedupe_remove.push(key.to_store_key());
                        info!(rule = %record.rule, run = record.id,
                            "recovery: the episode is open again for the next delivery");
                    }
                    self.notify_end(&mut record, body.map_or(&[][..], |b| &b[..]));
                    write.runs.push(record);
                }
                RunState::AwaitingApproval => {
                    let index = loaded
                        .config
                        .rules()
                        .rules()
                        .iter()
                        .position(|r| r.name == record.rule);
                    let same = rebuilt.as_ref().zip(index).is_some_and(|(run, i)| {
                        let digest = super::approvals::action_digest(
                            &loaded.config,
                            i,
                            &run.record.executor,
                            &run.request,
                        );
                        record.approval.as_ref().is_some_and(|a| a.digest == digest)
                    });
                    let ours = same && self.still_ours(&record).await;
                    match rebuilt {
                        Some(run) if ours => awaiting.push(run),
                        _ => {
                            let reason = if same {
                                "rejected: after a restart its claim is no longer this \
                                 replica's (taken over, or recorded orphaned): it waits here no \
                                 more (server.ha)"
                            } else {
                                "rejected: after a restart the rule's action is not the \
                                 one awaiting approval (the rule changed or is gone): \
                                 nothing runs that nobody approved"
                            }
                            .to_owned();
                            warn!(rule = %record.rule, run = record.id, "{reason}");
                            record.reason = Some(reason.clone());
                            enter(&mut record, RunState::Rejected, now, reason);
                            self.notify_end(&mut record, body.map_or(&[][..], |b| &b[..]));
                            write.runs.push(record);
                        }
                    }
                }
                RunState::Queued => match rebuilt {
                    Some(run) if self.still_ours(&record).await => requeue.push(run),
                    Some(_) => {
                        let reason = "after a restart its claim is no longer this replica's \
                                      (taken over, or recorded orphaned): not run here (server.ha)";
                        record.reason = Some(reason.to_owned());
                        enter(&mut record, RunState::Skipped, now, reason.to_owned());
                        self.notify_end(&mut record, body.map_or(&[][..], |b| &b[..]));
                        write.runs.push(record);
                    }
                    None => {
                        record.reason =
                            Some("after a restart its rule or notification is gone".to_owned());
                        enter(
                            &mut record,
                            RunState::Skipped,
                            now,
                            "rule or notification gone after a restart".to_owned(),
                        );
                        self.notify_end(&mut record, body.map_or(&[][..], |b| &b[..]));
                        write.runs.push(record);
                    }
                },
                _ => {}
            }
        }
        // Before the tasks run: written directly, not through the writer.
        let writer = store_for_write.clone();
        let batch = write.clone();
        tokio::task::spawn_blocking(move || writer.commit(&batch))
            .await
            .unwrap_or_else(|e| Err(StoreError::from_panic(&e)))?;
        let mut state = self.lock();
        info!(
            requeued = requeue.len(),
            attached = attach.len(),
            recorded = write.runs.len(),
            "recovered the store"
        );
        for mut run in requeue {
            let id = run.record.id;
            if let Some(stop) = run.stop_tx.take() {
                state.stops.insert(id, stop);
            }
            if let Some(breaker) = run.breaker {
                let rule = crate::lifecycle::RuleName::from(run.record.rule.as_str());
                state.rails.follow(id, &rule, &run.target, breaker);
            }
            state.ledger.enqueue(id, run.live.clone());
            state.queued.insert(id, run);
        }
        for run in awaiting {
            let id = run.record.id;
            info!(rule = %run.record.rule, run = id, "recovery: the run waits for approval again");
            state.ledger.await_approval(id, run.live.clone());
            state.awaiting.insert(id, run);
        }
        self.options
            .metrics
            .set_approvals_pending(state.awaiting.len());
        for mut run in attach {
            let id = run.record.id;
            if let Some(stop) = run.stop_tx.take() {
                state.stops.insert(id, stop);
            }
            state.ledger.adopt(id, run.live.clone());
            tokio::spawn(follow(Arc::clone(self), run));
        }
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Ends whatever the previous alertrun left of a run's action (a process group still
    /// alive), through the backend that started it.
    async fn end_leftover(
        &self,
        loaded: &Loaded,
        record: &RunRecord,
        rebuilt: Option<&Run>,
    ) -> Leftover {
        let Some(started) = &record.started else {
            return Leftover::Unknown;
        };
        // The rule's executor when the rule is still there; else any of the same kind.
        let kind = crate::backend::kind_of(started);
        let executor: Option<Arc<dyn Executor>> = rebuilt
            .map(|r| Arc::clone(&r.executor))
            .filter(|e| e.kind() == kind)
            .or_else(|| {
                loaded
                    .executors
                    .values()
                    .find(|e| e.kind() == kind)
                    .cloned()
            });
        let Some(executor) = executor else {
            error!(run = record.id, handle = %started,
                "recovery: no executor of this kind in the config to end what is left");
            return Leftover::Failed(format!("no {kind} executor in the config to end {started}"));
        };
        let request = rebuilt.map_or_else(|| bare_request(record), |r| r.request.clone());
        let never = Box::pin(std::future::pending::<StopReason>());
        match executor.recover(&request, started, never).await {
            Ok(Recovered::Gone) => Leftover::Gone,
            Ok(Recovered::Ended) => Leftover::Ended(started.to_string()),
            Ok(Recovered::Followed(_)) | Ok(_) => Leftover::Gone,
            Err(e) => Leftover::Failed(shown_chain(&e, &request)),
        }
    }

    /// Renders a stored run again from its notification, with the current config.
    pub(super) fn rebuild(&self, loaded: &Loaded, record: &RunRecord, body: &[u8]) -> Option<Run> {
        // The body was accepted under the limits of its time (a `max_alerts` above the
        // default, maybe since lowered): it is re-read with no alert-count limit, or a
        // notification answered 200 would lose its runs here.
        let accepted = PayloadLimits {
            max_alerts: usize::MAX,
        };
        let n = Notification::from_json_with(body, accepted).ok()?;
        let config = &loaded.config;
        let index = config
            .rules()
            .rules()
            .iter()
            .position(|r| r.name == record.rule)?;
        let rule = &config.rules().rules()[index];
        let policy = config.policy(index);
        let executor = loaded.executors.get(&rule.name)?;
        let (target, subject, status) = match record.alert_index {
            Some(i) => {
                let alert = n.alerts.get(i)?;
                (
                    Target::Alert(alert),
                    Subject::Episode(Arc::from(alert.episode().key())),
                    alert.status,
                )
            }
            None => (
                Target::Group,
                Subject::Group(Arc::from(n.group_key.as_str())),
                n.status,
            ),
        };
        let rendered = render(rule, &n, target);
        if !rendered.problems.is_empty() {
            return None;
        }
        let record_target = target;
        let record = record.clone();
        let live = super::live_run(&record, subject, status, policy);
        let mut run = Run::new(record, rendered.request, executor, live);
        run.body = Arc::from(body);
        run.verify = super::verdicts::VerifyPlan::of(policy.rails.verify, &n);
        run.approval.clone_from(&policy.approval);
        run.breaker = Some(policy.rails.breaker);
        // What its verdict counts against, as `plan` names it.
        let id = match record_target {
            Target::Alert(_) => run.record.fingerprint.as_str(),
            Target::Group => run.record.group_key.as_str(),
        };
        run.target = crate::lifecycle::rails::Target::of(&policy.rails, &run.record.labels, id);
        Some(run)
    }
}

/// What recovery found of a run's action.
enum Leftover {
    /// No handle was recorded: nothing is known.
    Unknown,
    /// Nothing of it was left.
    Gone,
    /// It was still alive and is ended now.
    Ended(String),
    /// It could not be ended (or checked).
    Failed(String),
}

impl Leftover {
    /// Whether nothing of the action is left, for sure.
    fn is_gone(&self) -> bool {
        matches!(self, Leftover::Gone | Leftover::Ended(_))
    }

    fn describe(&self) -> String {
        match self {
            Leftover::Unknown => "no start was recorded, so nothing could be ended".to_owned(),
            Leftover::Gone => "nothing of the action was left".to_owned(),
            Leftover::Ended(what) => format!("{what} was still alive and was ended"),
            Leftover::Failed(why) => format!("what is left could not be ended: {why}"),
        }
    }
}

/// A request naming only the run, for a backend asked to end what is left of it when its
/// rule is gone (a process group needs only its handle).
fn bare_request(record: &RunRecord) -> ExecRequest {
    ExecRequest {
        rule: record.rule.clone(),
        dedup_key: record.dedupe_key.clone(),
        subject: alert_core::Subject::default(),
        env: Vec::new(),
        input: Vec::new(),
        deadline: Duration::ZERO,
    }
}

/// Follows a Job the previous alertrun started, to its end, as its first run would have.
async fn follow(inner: Arc<Inner>, run: Run) {
    let Some(started) = run.record.started.clone() else {
        return;
    };
    let executor = Arc::clone(&run.executor);
    let began = tokio::time::Instant::now();
    let mut attempt = 0;
    // While the API server cannot be reached, the Job may well run on: keep trying to
    // find it (a resolve meanwhile is carried by the stop future of the next attempt,
    // which then deletes it). Only a shutdown ends the wait, leaving the run `running`
    // in the store, so that the next start re-attaches it.
    let result = loop {
        attempt += 1;
        let stop = Box::pin(stopped(run.stop.clone()));
        match executor.recover(&run.request, &started, stop).await {
            Err(e) if e.is_transient() => {
                let delay = retry_delay(attempt, Duration::ZERO, Duration::MAX)
                    .unwrap_or(Duration::from_secs(30));
                warn!(rule = %run.record.rule, run = run.record.id, attempt, error = %shown_chain(&e, &run.request),
                    retry_in_ms = delay.as_millis(), "recovery: cannot reach the Job to follow it: retrying");
                tokio::time::sleep(delay).await;
                if *run.stop.borrow() == Some(StopReason::Shutdown) {
                    info!(rule = %run.record.rule, run = run.record.id,
                        "shutting down: the Job stays recorded running, for the next start");
                    inner.release(run.record.id, Event::Ended(End::Interrupted));
                    return;
                }
            }
            other => break other,
        }
    };
    let duration = began.elapsed();
    match result {
        Ok(Recovered::Followed(outcome)) => {
            finish(
                &inner,
                run,
                &Ok::<Outcome, alert_core::ExecError>(outcome),
                duration,
            )
            .await;
        }
        Ok(_) => {
            let mut record = run.record;
            let now = inner.now();
            // Replaced by another of the same name while no alertrun watched.
            let why = format!(
                "{started} was replaced by another of the same name when alertrun restarted; \
                 how it ended is unknown"
            );
            record.reason = Some(why.clone());
            enter(&mut record, RunState::Unknown, now, why);
            let id = record.id;
            super::run::write_end(&inner, record, &run.body).await;
            inner.release(id, Event::Ended(End::Unknown));
        }
        Err(e) => {
            finish(&inner, run, &Err(e), duration).await;
        }
    }
}
