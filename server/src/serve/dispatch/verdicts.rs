//! Verdicts in the dispatcher: the watches of `lifecycle::verify` fed from intake, asked of
//! Alertmanager at each window's end, and carried out (the run's record, the metrics, the
//! circuit breaker, the store).
//!
//! A succeeded run of a rule with `verify` is watched once its end is written
//! ([`Inner::watch_verdict`]). Intake hands every notification to
//! [`Inner::observe_verdicts`] under the dispatcher's lock (resolved alerts make runs
//! effective; an alert firing again after an effective run makes it recurred). A task,
//! [`verify_windows`], asks Alertmanager about each watch whose window ended. Every verdict
//! goes through [`Inner::settle_verdicts`] (metrics, breaker, under the lock) and
//! [`Inner::record_verdicts`] (the run's record, written after). Watches are store settings
//! (`verify␟run id`), written in the order they change, so a restart keeps watching.
//!
//! What this module is not: the decisions (those are `lifecycle::verify`'s), or an
//! Alertmanager client for anything but one question: is this alert still firing?

use std::sync::Arc;
use std::time::Duration;

use crate::lifecycle::rails::ms;

use tracing::{info, warn};

use super::{Inner, State};
use crate::config::AlertmanagerSettings;
use crate::config::Verify;
use crate::lifecycle::RunId;
use crate::lifecycle::rails::{self, Verdict};
use crate::lifecycle::verify::{Answer, Decided, VerdictKind, Watch, Watched};
use crate::serve::silences;
use crate::store::{self, RunRecord, RunVerdict, Store, StoreError};
use alert_core::{AlertStatus, LabelSet, Notification};

/// What a run needs to be watched once it succeeds: its rule's `verify`, and the
/// Alertmanager that sent it.
#[derive(Clone, Debug)]
pub(super) struct VerifyPlan {
    pub verify: Verify,
    pub external_url: String,
}

impl VerifyPlan {
    /// The plan of a run of a rule with `verify`, from notification `n`.
    pub(super) fn of(verify: Option<Verify>, n: &Notification) -> Option<Self> {
        verify.map(|verify| Self {
            verify,
            external_url: n.external_url.clone(),
        })
    }
}

impl Inner {
    /// Marks `record` (ending succeeded, at `now`) as waiting for its verdict.
    pub(super) fn pending_verdict(record: &mut RunRecord, plan: &VerifyPlan, now: i64) {
        record.verdict = Some(RunVerdict {
            verdict: VerdictKind::Pending,
            until: now.saturating_add(ms(plan.verify.within)),
            at: None,
            resolve_ms: None,
        });
    }

    /// Watches the succeeded run `record` (its end written) for its verdict.
    pub(super) fn watch_verdict(
        &self,
        record: &RunRecord,
        target: &rails::Target,
        plan: &VerifyPlan,
    ) {
        let Some(pending) = &record.verdict else {
            return;
        };
        let watched = match record.alert_index {
            Some(_) => Watched::Alert(record.fingerprint.clone()),
            None => Watched::Group(record.group_key.clone()),
        };
        let watch = Watch {
            rule: record.rule.clone(),
            target: target.to_string(),
            watched,
            labels: record.labels.clone(),
            external_url: plan.external_url.clone(),
            ended_at: record.ended_at.unwrap_or_default(),
            until: pending.until,
            recurrence_ms: ms(plan.verify.recurrence),
            resolved_at: None,
        };
        let mut state = self.lock();
        state.verify.watch(record.id, watch);
        self.store_changes(&mut state);
    }

    /// What notification `n` says of the watched alerts and groups: the verdicts it makes.
    pub(super) fn observe_verdicts(state: &mut State, n: &Notification, now: i64) -> Vec<Decided> {
        let mut decided = Vec::new();
        if state.verify.is_empty() {
            return decided;
        }
        let mut latest_end = i64::MIN;
        let mut earliest_start = i64::MAX;
        for alert in &n.alerts {
            let watched = Watched::Alert(alert.fingerprint.to_string());
            match alert.status {
                AlertStatus::Resolved => {
                    let ends_at = alert.ends_at.as_ref().map_or(now, |t| t.unix_millis());
                    latest_end = latest_end.max(ends_at);
                    decided.extend(state.verify.resolved(&watched, ends_at, now));
                }
                AlertStatus::Firing => {
                    let starts_at = alert.starts_at.unix_millis();
                    earliest_start = earliest_start.min(starts_at);
                    decided.extend(state.verify.fired(&watched, starts_at, now));
                }
            }
        }
        let group = Watched::Group(n.group_key.clone());
        match n.status {
            AlertStatus::Resolved => {
                let ends_at = if latest_end == i64::MIN {
                    now
                } else {
                    latest_end
                };
                decided.extend(state.verify.resolved(&group, ends_at, now));
            }
            AlertStatus::Firing => {
                decided.extend(state.verify.fired(&group, earliest_start.min(now), now));
            }
        }
        decided
    }

    /// Counts `decided` and feeds it to the circuit breakers, under the lock.
    pub(super) fn settle_verdicts(&self, state: &mut State, decided: &[Decided]) {
        let config = self.loaded().config.clone();
        let now = self.now();
        for d in decided {
            info!(rule = %d.rule, run = d.id, verdict = d.verdict.as_str(), why = %d.why,
                "remediation verdict");
            self.options.metrics.verdict(
                d.rule.as_str(),
                d.verdict.as_str(),
                d.resolve_ms
                    .and_then(|ms| u64::try_from(ms).ok())
                    .map(Duration::from_millis),
            );
            let verdict = match d.verdict {
                VerdictKind::Effective => Verdict::Effective,
                VerdictKind::Ineffective | VerdictKind::Recurred => Verdict::Ineffective,
                VerdictKind::Unknown => Verdict::Unknown,
                VerdictKind::Pending => continue,
            };
            let Some(index) = config
                .rules()
                .rules()
                .iter()
                .position(|r| r.name == d.rule.as_str())
            else {
                continue;
            };
            let policy = config.policy(index).rails.breaker;
            if let Some(change) = state
                .rails
                .verdict(&d.rule, &d.target, verdict, &policy, now)
            {
                super::run::breaker_changed(&change);
                self.notify_breaker(state, &change, d.id);
                let open = state.rails.open_count(&change.rule);
                self.options
                    .metrics
                    .set_circuit_open(change.rule.as_str(), open);
            }
        }
        self.store_changes(state);
    }

    /// Writes each verdict on its run's record (read from the store, changed, written).
    pub(super) async fn record_verdicts(&self, decided: Vec<Decided>) {
        let Some(store) = self.options.store.clone() else {
            return;
        };
        if decided.is_empty() {
            return;
        }
        let _one = self.record_edits.lock().await;
        let ids: Vec<RunId> = decided.iter().map(|d| d.id).collect();
        let reader = store.clone();
        let read = tokio::task::spawn_blocking(move || read_runs(&reader, &ids)).await;
        let records = match read {
            Ok(Ok(records)) => records,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read runs to record their verdicts");
                return;
            }
            Err(e) => {
                warn!(error = %e, "cannot read runs to record their verdicts");
                return;
            }
        };
        let now = self.now();
        let loaded = self.loaded();
        let mut runs = Vec::new();
        for (d, record) in decided.iter().zip(records) {
            let Some(mut record) = record else {
                continue;
            };
            // The silence kept while the verdict was pending ends with it.
            if d.verdict != VerdictKind::Recurred {
                silences::expire_silence(loaded.config.alertmanager(), &mut record, now).await;
            }
            let until = record.verdict.as_ref().map_or(now, |v| v.until);
            record.verdict = Some(RunVerdict {
                verdict: d.verdict,
                until,
                at: Some(now),
                resolve_ms: d.resolve_ms,
            });
            record.timeline.push(store::Transition {
                state: record.state,
                at: now,
                cause: d.why.clone(),
            });
            self.notify(&crate::serve::notify::NotifyEvent::Verdict, &record, &[]);
            runs.push(record);
        }
        let count = runs.len();
        if let Err(e) = self
            .write(store::Batch {
                runs,
                ..store::Batch::default()
            })
            .await
        {
            warn!(error = %e, runs = count, "cannot record verdicts on their runs");
        }
    }
}

/// The runs `ids`, in order (`None` for one gone).
fn read_runs(store: &Store, ids: &[RunId]) -> Result<Vec<Option<RunRecord>>, StoreError> {
    ids.iter().map(|id| store.run(*id)).collect()
}

/// The task that asks Alertmanager about each watch whose window ended, every second.
pub(super) async fn verify_windows(inner: Arc<Inner>) {
    let mut tick = super::ticker(Duration::from_secs(1));
    loop {
        tick.tick().await;
        // Effective runs past their recurrence window are forgotten: stored too.
        let due = inner.take_due(|state, now| state.verify.due(now));
        for (id, watch) in due {
            let loaded = inner.loaded();
            let answer = ask(loaded.config.alertmanager(), &watch).await;
            drop(loaded);
            let decided = {
                let now = inner.now();
                let mut state = inner.lock();
                let decided: Vec<Decided> = state
                    .verify
                    .answered(id, &answer, now)
                    .into_iter()
                    .collect();
                inner.settle_verdicts(&mut state, &decided);
                decided
            };
            inner.record_verdicts(decided).await;
        }
    }
}

/// Asks the Alertmanager of `watch` (`alertmanager.url`, or the `externalURL` of the
/// notification) whether it still has the alert (any alert of the group) firing.
async fn ask(settings: &AlertmanagerSettings, watch: &Watch) -> Answer {
    let Some(base) = silences::alertmanager_at(settings, &watch.external_url) else {
        return Answer::Unreachable(
            "the notification named no usable Alertmanager (externalURL) and alertmanager.url is \
             not set"
                .to_owned(),
        );
    };
    let client = silences::client(settings, &base);
    let labels: LabelSet = watch
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let state = match watch.watched {
        Watched::Alert(_) => client.alert_state(&labels).await,
        Watched::Group(_) => client.any_alert_state(&labels).await,
    };
    match state {
        Ok(Some(_)) => Answer::Firing,
        Ok(None) => Answer::Gone,
        Err(e) => Answer::Unreachable(e.to_string()),
    }
}
