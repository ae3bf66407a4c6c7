//! Notifications in the dispatcher: events about runs put into the outbox (under the
//! dispatcher's lock, so that they are written in order with the runs), the task that
//! delivers them, and their results shown on the runs. The payloads, signing and sending
//! are `serve::notify`'s.
//!
//! [`Inner::notify`] is the one entry point for an event about a run; the run's start and
//! end, verdicts and breakers call it here, and the approval code calls it with
//! [`NotifyEvent::AwaitingApproval`]. An entry is handed to the store writer before the
//! run change that caused it (and usually lands in the same commit), so a run change that
//! is durable has its notifications durable too; it is deleted only once settled and shown
//! on its run. What this module is not: it never waits on a sink while holding the lock,
//! and a sink that is down never slows intake or a run.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::{Inner, State};
use crate::config::{EventKind, SinkKind};
use crate::lifecycle::RunId;
use crate::lifecycle::rails::{Breaker, BreakerChange};
use crate::serve::notify::{AlertLinks, BreakerNote, Entry, NotifyEvent, Subject, message, send};
use crate::store::{self, NotificationStatus, RunRecord};

/// At most so many deliveries at once.
const MAX_IN_FLIGHT: usize = 16;
/// How often the delivery task looks for due entries.
const TICK: Duration = Duration::from_millis(250);

impl Inner {
    /// Tells the sinks of `record`'s rule that want it about `event`: one outbox entry per
    /// sink, its payload rendered now, handed to the store writer at once and delivered in
    /// the background. `body` is the run's stored notification (the webhook JSON), for the
    /// alert's links; empty when not at hand. Never blocks on a sink.
    pub(crate) fn notify(&self, event: &NotifyEvent, record: &RunRecord, body: &[u8]) {
        let mut state = self.lock();
        self.enqueue(&mut state, event, record, body);
        self.store_changes(&mut state);
    }

    /// The run `record` ends: queues its `finished` notifications and puts on it the
    /// status of every notification about it so far. Its end is written after this, by
    /// the caller.
    pub(super) fn notify_end(&self, record: &mut RunRecord, body: &[u8]) {
        let mut state = self.lock();
        self.enqueue(&mut state, &NotifyEvent::Finished, record, body);
        if !self.loaded().config.notify().sinks.is_empty() {
            // For a breaker its end changes (`notify_breaker`, from `release`).
            state.outbox_runs.insert(record.id, record.clone());
        }
        let statuses = state.outbox.run_ended(record.id);
        merge(&mut record.notifications, statuses);
        self.store_changes(&mut state);
    }

    /// A breaker changed when run `id` (of `record`, when at hand) ended or was judged:
    /// queues its `breaker` notifications. Under the lock; the caller stores the changes.
    pub(super) fn notify_breaker(&self, state: &mut State, change: &BreakerChange, id: RunId) {
        let note = match &change.breaker {
            Breaker::Open { until, why, .. } => BreakerNote {
                opened: true,
                why: why.clone(),
                until: Some(*until),
            },
            Breaker::Closed { .. } => BreakerNote {
                opened: false,
                why: String::new(),
                until: None,
            },
            _ => return,
        };
        // The breaker's run, as far as a notification needs it: its rule and target.
        let record = state
            .outbox_runs
            .remove(&id)
            .unwrap_or_else(|| stand_in(id, change));
        self.enqueue(state, &NotifyEvent::Breaker(note), &record, &[]);
    }

    /// Puts one entry per interested sink into the outbox.
    pub(super) fn enqueue(
        &self,
        state: &mut State,
        event: &NotifyEvent,
        record: &RunRecord,
        body: &[u8],
    ) {
        let loaded = self.loaded();
        let config = &loaded.config;
        let Some(index) = config
            .rules()
            .rules()
            .iter()
            .position(|r| r.name == record.rule)
        else {
            return;
        };
        let kind = event.kind();
        let sinks: Vec<_> = config
            .policy(index)
            .notify
            .iter()
            .filter_map(|name| config.notify().sink(name))
            .filter(|sink| sink.wants(kind))
            .collect();
        if sinks.is_empty() {
            return;
        }
        let id = match record.alert_index {
            Some(_) => record.fingerprint.as_str(),
            None => record.group_key.as_str(),
        };
        let target = config.policy(index).rails.target_of(&record.labels, id);
        let links = AlertLinks::from_body(body, record.alert_index);
        let now = self.now();
        let subject = Subject {
            event,
            record,
            target: &target,
            links: &links,
            at: now,
        };
        for sink in sinks {
            let payload = match &sink.kind {
                SinkKind::Webhook { .. } => message::webhook_body(&subject),
                SinkKind::Slack { .. } => {
                    let template = sink
                        .templates
                        .get(&kind)
                        .map_or(message::default_template(kind), String::as_str);
                    message::slack_body(&subject, template)
                }
            };
            let mut entry = Entry::new(record.id, &sink.name, kind.as_str(), payload, now);
            // A finished entry's run ends with it (`notify_end`); later events come after.
            entry.run_ended = record.ended_at.is_some() && kind != EventKind::Finished;
            state.outbox.add(entry);
        }
    }

    /// Writes `status` onto run `run`'s record, when the store has it ended.
    async fn show_on_run(&self, run: u64, status: NotificationStatus) {
        let Some(store) = self.options.store.clone() else {
            return;
        };
        let _one = self.record_edits.lock().await;
        let read = tokio::task::spawn_blocking(move || store.run(run)).await;
        let Ok(Ok(Some(mut record))) = read else {
            return;
        };
        if record.state.is_unfinished() {
            return;
        }
        merge(&mut record.notifications, vec![status]);
        if let Err(e) = self
            .write(store::Batch {
                runs: vec![record],
                ..store::Batch::default()
            })
            .await
        {
            warn!(run, error = %e, "cannot show a notification's result on its run");
        }
    }
}

/// `statuses` put into `shown`, replacing the one of the same sink and event.
fn merge(shown: &mut Vec<NotificationStatus>, statuses: Vec<NotificationStatus>) {
    for status in statuses {
        match shown
            .iter_mut()
            .find(|s| s.sink == status.sink && s.event == status.event)
        {
            Some(old) => *old = status,
            None => shown.push(status),
        }
    }
}

/// A run record naming only the rule and the target of a breaker change, for a breaker
/// whose run is no longer at hand.
fn stand_in(id: RunId, change: &BreakerChange) -> RunRecord {
    let mut record: RunRecord = serde_json::from_value(serde_json::json!({
        "id": id, "rule": change.rule.as_str(), "executor": "", "notification": 0,
        "alert_index": null, "fingerprint": "", "labels": {}, "status": "",
        "starts_at": "", "group_key": change.target.to_string(), "receiver": "",
        "dedupe_key": "", "state": "succeeded", "reason": null, "created_at": 0,
        "started_at": null, "ended_at": null, "exit": null, "ended_by": null,
        "stdout": "", "stderr": "", "argv": [], "env": [], "dry_run": false,
    }))
    .expect("a stand-in run record deserializes");
    record.ended_at = Some(0);
    record
}

/// The delivery task: every [`TICK`], starts the due deliveries (at most
/// [`MAX_IN_FLIGHT`] at once), each on its own task.
pub(super) async fn deliver_notifications(inner: Arc<Inner>) {
    let mut tick = super::ticker(TICK);
    loop {
        tick.tick().await;
        let due = inner.take_due(|state, now| state.outbox.due(now, MAX_IN_FLIGHT));
        for (id, entry) in due {
            tokio::spawn(deliver(Arc::clone(&inner), id, entry));
        }
    }
}

/// One attempt at entry `id`; its result recorded, counted, logged, and once settled
/// shown on its run.
async fn deliver(inner: Arc<Inner>, id: u64, entry: Entry) {
    let sink = inner.loaded().config.notify().sink(&entry.sink).cloned();
    let (result, max_attempts) = match sink {
        None => (
            Err(format!("sink {:?} is no longer in the config", entry.sink)),
            1,
        ),
        Some(sink) => {
            let now_secs = u64::try_from(inner.now() / 1000).unwrap_or(0);
            let attempts = sink.max_attempts;
            let body = entry.body.clone();
            let sent = tokio::task::spawn_blocking(move || send::send(&sink, &body, now_secs))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            (sent, attempts)
        }
    };
    inner
        .options
        .metrics
        .notification_sent(&entry.sink, result.is_ok());
    let attempt = entry.attempts + 1;
    match &result {
        Ok(()) => info!(sink = %entry.sink, event = %entry.event, run = entry.run, attempt,
            "notification delivered"),
        Err(e) if attempt >= max_attempts => warn!(sink = %entry.sink, event = %entry.event,
            run = entry.run, attempt, error = %e, "notification given up"),
        Err(e) => warn!(sink = %entry.sink, event = %entry.event, run = entry.run, attempt,
            error = %e, "notification not delivered: retrying"),
    }
    let settled = {
        let now = inner.now();
        let mut state = inner.lock();
        let settled = state.outbox.attempted(id, result, max_attempts, now);
        inner.store_changes(&mut state);
        settled
    };
    if let Some((run, status)) = settled {
        inner.show_on_run(run, status).await;
    }
}
