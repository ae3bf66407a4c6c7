//! Recovery after a restart: what a previous alertrun left queued is queued again; what it
//! left running is recorded interrupted.

use alert_core::Notification;
use alert_match::{Target, render};
use tracing::{info, warn};

use super::{Inner, Loaded, Run};
use crate::config::OnInterrupt;
use crate::store::{self, RunRecord, RunState, Store, StoreError};

impl Inner {
    /// Re-queues the runs a previous alertrun left queued and records the ones it left
    /// running as interrupted (queueing them again for `on_interrupt: rerun`).
    pub(super) async fn recover(&self, store: Store) -> Result<(), StoreError> {
        let store_for_write = store.clone();
        let recovery = tokio::task::spawn_blocking(move || store.recover())
            .await
            .unwrap_or_else(|e| Err(StoreError::from_panic(&e)))?;
        let loaded = self.loaded();
        let now = self.now();
        let mut write = store::Batch::default();
        let mut requeue = Vec::new();
        {
            let mut state = self.lock();
            state.next_id = recovery.next_id.max(1);
            state.ran.extend(recovery.dedupe);
        }
        for mut record in recovery.unfinished {
            let body = recovery.notifications.get(&record.notification);
            let rebuilt = body.and_then(|b| self.rebuild(&loaded, &record, b));
            match record.state {
                RunState::Running => {
                    record.state = RunState::Interrupted;
                    record.ended_at = Some(now);
                    record.reason = Some("alertrun stopped while the action ran".to_owned());
                    warn!(rule = %record.rule, run = record.id, "recovery: action was interrupted by a restart");
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
                        let id = {
                            let mut state = self.lock();
                            state.next_id += 1;
                            state.next_id - 1
                        };
                        run.record.id = id;
                        run.record.reason =
                            Some(format!("re-run of interrupted run {}", record.id));
                        info!(rule = %record.rule, run = id, "recovery: running the interrupted action again");
                        write.runs.push(run.record.clone());
                        requeue.push(run);
                    }
                    write.runs.push(record);
                }
                _ => match rebuilt {
                    Some(run) => requeue.push(run),
                    None => {
                        record.state = RunState::Skipped;
                        record.ended_at = Some(now);
                        record.reason =
                            Some("after a restart its rule or notification is gone".to_owned());
                        write.runs.push(record);
                    }
                },
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
        for run in requeue {
            state.enqueue(run);
        }
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
                (Target::Alert(alert), alert.episode().key(), alert.status)
            }
            None => (Target::Group, n.group_key.clone(), n.status),
        };
        let rendered = render(rule, &n, target);
        if !rendered.problems.is_empty() {
            return None;
        }
        let mut record = record.clone();
        record.state = RunState::Queued;
        Some(Run::new(
            record,
            rendered.request,
            executor,
            policy,
            subject,
            status,
        ))
    }
}
