//! Recovery after a restart, before anything else runs: what a previous alertrun left
//! queued is queued again; what it left starting or running is resolved first (a
//! leftover ended, then recorded `interrupted`), and only then, for `on_interrupt: rerun`,
//! started again, so no episode ever has two live copies.

use std::sync::Arc;

use alert_core::Notification;
use alert_match::{Target, render};
use tracing::{info, warn};

use super::record::enter;
use super::{Inner, Loaded, Run};
use crate::config::{OnInterrupt, OnResolved};
use crate::lifecycle::{
    DedupeKey, Episode, Event, Ledger, LiveRun, Namespace, RuleName, Subject, next,
};
use crate::store::{self, RunRecord, RunState, Store, StoreError};

impl Inner {
    /// Re-queues the runs a previous alertrun left queued, and resolves the ones it left
    /// starting or running (queueing a new run for `on_interrupt: rerun`).
    pub(super) async fn recover(&self, store: Store) -> Result<(), StoreError> {
        let store_for_write = store.clone();
        let recovery = tokio::task::spawn_blocking(move || store.recover())
            .await
            .unwrap_or_else(|e| Err(StoreError::from_panic(&e)))?;
        let loaded = self.loaded();
        let now = self.now();
        {
            let mut state = self.lock();
            state.ledger = Ledger::new(self.options.limits, recovery.next_id);
            state
                .ledger
                .restore(recovery.dedupe.iter().filter_map(|(key, entry)| {
                    let key = DedupeKey::from_store_key(key)?;
                    Some((key, Episode::stored(entry.ran_at, entry.seen_at)))
                }));
        }
        let mut write = store::Batch::default();
        let mut requeue = Vec::new();
        for mut record in recovery.unfinished {
            let body = recovery.notifications.get(&record.notification);
            let rebuilt = body.and_then(|b| self.rebuild(&loaded, &record, b));
            match record.state {
                RunState::Starting | RunState::Running => {
                    let event = Event::Recovered { attachable: false };
                    let Ok(step) = next(record.state, event) else {
                        continue;
                    };
                    let was = record.state;
                    record.reason = Some(
                        match was {
                            RunState::Starting => "alertrun stopped while the action was starting",
                            _ => "alertrun stopped while the action ran",
                        }
                        .to_owned(),
                    );
                    warn!(rule = %record.rule, run = record.id, "recovery: action was interrupted by a restart");
                    enter(
                        &mut record,
                        step.state,
                        now,
                        "alertrun restarted".to_owned(),
                    );
                    let rerun = loaded
                        .config
                        .rules()
                        .rules()
                        .iter()
                        .position(|r| r.name == record.rule)
                        .is_some_and(|i| {
                            loaded.config.policy(i).on_interrupt == OnInterrupt::Rerun
                        });
                    if let (true, Some(mut run)) = (rerun, rebuilt) {
                        let id = self.lock().ledger.next_id();
                        run.record.id = id;
                        run.record.timeline.clear();
                        run.record.started_at = None;
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
                    write.runs.push(record);
                }
                RunState::Queued => match rebuilt {
                    Some(run) => requeue.push(run),
                    None => {
                        record.reason =
                            Some("after a restart its rule or notification is gone".to_owned());
                        enter(
                            &mut record,
                            RunState::Skipped,
                            now,
                            "rule or notification gone after a restart".to_owned(),
                        );
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
            recorded = write.runs.len(),
            "recovered the store"
        );
        for mut run in requeue {
            let id = run.record.id;
            if let Some(stop) = run.stop_tx.take() {
                state.stops.insert(id, stop);
            }
            state.ledger.enqueue(id, run.live.clone());
            state.queued.insert(id, run);
        }
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Renders a stored run again from its notification, with the current config.
    fn rebuild(&self, loaded: &Loaded, record: &RunRecord, body: &[u8]) -> Option<Run> {
        let n = Notification::from_json(body).ok()?;
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
        let mut record = record.clone();
        record.state = RunState::Queued;
        let key = DedupeKey {
            namespace: if record.dry_run {
                Namespace::DryRun
            } else {
                Namespace::Live
            },
            rule: RuleName::from(rule.name.as_str()),
            episode: Arc::from(record.dedupe_key.as_str()),
        };
        let live = LiveRun {
            rule: key.rule.clone(),
            subject,
            status,
            stop_on_resolve: policy.on_resolved_while_running == OnResolved::Stop,
            concurrency: policy.concurrency,
            state: RunState::Queued,
            key,
        };
        Some(Run::new(record, rendered.request, executor, live))
    }
}
