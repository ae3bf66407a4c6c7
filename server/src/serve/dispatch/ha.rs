//! Dispatch with `server.ha`: when the episodes of a batch are claimed, what a claim won,
//! lost or found lost does to the batch's runs, and the tasks that renew this replica's
//! claims, watch the ones it lost, and keep house while it leads (`crate::serve::ha`).
//!
//! A batch's runs are claimed after the ledger admitted them and before they are written:
//! a run whose claim another replica won is written `skipped` (`claimed by <replica>`) and
//! its episode marked, so the next delivery to this replica is a local dedupe without an
//! API call; a notification one of whose claims cannot be made (the API unreachable) is
//! refused whole (503) and the claims it did win are given back, so Alertmanager's retry
//! finds nothing half-done on any replica.

use std::sync::Arc;
use std::time::Duration;

use alert_core::StopReason;
use tracing::{error, info, warn};

use super::record::enter;
use super::{Inner, Taken};
use crate::config::{Config, OnInterrupt, Repeat};
use crate::serve::ha::{Claimed, Episode, StoredWatch, Watch, watch_setting};
use crate::serve::intake::Refused;
use crate::serve::metrics::SkipReason;
use crate::store::{self, RunClaim, RunRecord, RunState};

/// The claim of the episode of `record`, whose rule repeats as `repeat`.
pub(super) fn episode_of(record: &RunRecord, repeat: Repeat) -> Episode {
    Episode {
        name: Episode::name_of(&record.rule, &record.dedupe_key),
        rule: record.rule.clone(),
        episode: record.dedupe_key.clone(),
        fingerprint: record.alert_index.map(|_| record.fingerprint.clone()),
        alertname: record.labels.get("alertname").cloned(),
        group_key: record.group_key.clone(),
        run: record.id,
        reclaim_after: match repeat {
            Repeat::Once => None,
            Repeat::Always => Some(std::time::Duration::ZERO),
            Repeat::After(after) => Some(after),
        },
    }
}

/// The rule's `repeat` (`once` for a rule gone since).
pub(super) fn repeat_of(config: &Config, rule: &str) -> Repeat {
    config
        .rules()
        .rules()
        .iter()
        .position(|r| r.name == rule)
        .map_or(Repeat::Once, |i| config.policy(i).repeat)
}

/// The rule's `on_owner_lost` (`record` for a rule gone since).
pub(super) fn on_owner_lost(config: &Config, rule: &str) -> OnInterrupt {
    config
        .rules()
        .rules()
        .iter()
        .position(|r| r.name == rule)
        .map_or(OnInterrupt::Record, |i| config.policy(i).on_owner_lost)
}

impl Inner {
    /// After a restart, watches again the claims this replica watched (`settings`, the
    /// store's), each from its stored run and notification.
    pub(super) fn restore_watches(&self, store: &store::Store, settings: &[(String, Vec<u8>)]) {
        let Some(ha) = &self.options.ha else {
            return;
        };
        for (name, json) in settings {
            let Some(claim) = crate::serve::ha::parse_watch_setting(name) else {
                continue;
            };
            let Ok(stored) = serde_json::from_slice::<StoredWatch>(json) else {
                continue;
            };
            let record = store.run(stored.run).ok().flatten();
            let body = record
                .as_ref()
                .and_then(|r| store.notification(r.notification).ok().flatten());
            if let (Some(record), Some(body)) = (record, body) {
                ha.watch(
                    claim.to_owned(),
                    Watch {
                        record,
                        body: Arc::from(body),
                        on_owner_lost: if stored.rerun {
                            OnInterrupt::Rerun
                        } else {
                            OnInterrupt::Record
                        },
                    },
                );
            }
        }
    }

    /// After a restart, whether this replica may go on with `record` (queue it again, or
    /// run it again): without `server.ha` always; with it, only while its claim is still
    /// this replica's and running (not taken over, orphaned or finished meanwhile). When
    /// the API cannot be asked, no: a run is never started twice.
    pub(super) async fn still_ours(&self, record: &RunRecord) -> bool {
        let Some(ha) = &self.options.ha else {
            return true;
        };
        // Never claimed again here: only what is still this replica's goes on.
        match ha
            .still_ours(&episode_of(record, Repeat::Once), self.now())
            .await
        {
            Ok(ours) => ours,
            Err(e) => {
                error!(run = record.id, error = %e,
                    "recovery: cannot check the run's claim on the Kubernetes API: not running it");
                false
            }
        }
    }

    /// Whether `taken`'s runs are claimed before they are written (`server.ha`, and some
    /// run would start or wait for approval).
    pub(super) fn claims_needed(&self, taken: &[Taken]) -> bool {
        self.options.ha.is_some()
            && !self.options.capture
            && taken
                .iter()
                .any(|t| !t.runs.is_empty() || !t.awaiting.is_empty())
    }

    /// Claims the episodes of every run of `taken` and rewrites each notification's runs
    /// and write by the answers (see the module docs).
    pub(super) async fn claim_batch(&self, taken: &mut [Taken]) {
        let Some(ha) = self.options.ha.clone() else {
            return;
        };
        let config = self.loaded().config.clone();
        let now = self.now();
        let mut episodes = Vec::new();
        for (ti, t) in taken.iter().enumerate() {
            for run in t.runs.iter().chain(&t.awaiting) {
                let policy = on_owner_lost(&config, &run.record.rule);
                let repeat = repeat_of(&config, &run.record.rule);
                episodes.push((ti, episode_of(&run.record, repeat), policy));
            }
        }
        if episodes.is_empty() {
            return;
        }
        let asked = episodes
            .iter()
            .map(|(_, ep, policy)| (ep.clone(), *policy))
            .collect();
        let answers = ha.claim_all(asked, now).await;
        let mut refused: Vec<bool> = vec![false; taken.len()];
        for ((ti, _, _), answer) in episodes.iter().zip(&answers) {
            if let Err(e) = answer {
                error!(error = %e, "cannot claim an episode on the Kubernetes API: refusing its notification (503) so that Alertmanager retries");
                refused[*ti] = true;
            }
        }
        let me = ha.replica().to_owned();
        for ((ti, ep, policy), answer) in episodes.into_iter().zip(answers) {
            let t = &mut taken[ti];
            if refused[ti] {
                continue;
            }
            let Ok(claimed) = answer else { continue };
            let mine = RunClaim {
                name: ep.name.clone(),
                replica: me.clone(),
                run: None,
                url: None,
            };
            match claimed {
                Claimed::Won => set_claim(t, ep.run, &mine, None),
                Claimed::TakenOver { from } => set_claim(
                    t,
                    ep.run,
                    &mine,
                    Some(format!(
                        "claim taken over from replica {from}, which stopped renewing it"
                    )),
                ),
                Claimed::Lost(owner) => {
                    let claim = RunClaim {
                        name: ep.name.clone(),
                        replica: owner.replica.clone(),
                        run: owner.run,
                        url: owner.url.clone(),
                    };
                    let reason = match owner.run {
                        Some(run) => {
                            format!("claimed by replica {} (its run {run})", owner.replica)
                        }
                        None => format!("claimed by replica {}", owner.replica),
                    };
                    if let Some(record) =
                        self.end_unclaimed(t, ep.run, claim, RunState::Skipped, reason, now)
                    {
                        self.options
                            .metrics
                            .rule_skipped(&record.rule, SkipReason::Claimed);
                        if owner.state == "running" {
                            let body = t.notification_body();
                            // Kept over a restart: the record and the body are written
                            // with it.
                            let stored = StoredWatch {
                                run: record.id,
                                rerun: policy == OnInterrupt::Rerun,
                            };
                            t.write
                                .settings
                                .push((watch_setting(&ep.name), serde_json::to_vec(&stored).ok()));
                            ha.watch(
                                ep.name.clone(),
                                Watch {
                                    record,
                                    body,
                                    on_owner_lost: policy,
                                },
                            );
                        }
                    }
                }
                Claimed::Orphaned { from } => {
                    let claim = RunClaim {
                        name: ep.name.clone(),
                        replica: from.clone(),
                        run: None,
                        url: None,
                    };
                    let reason = format!(
                        "replica {from}, which ran it, was lost (its claim not renewed): recorded, not run again (on_owner_lost: record)"
                    );
                    if let Some(record) =
                        self.end_unclaimed(t, ep.run, claim, RunState::Interrupted, reason, now)
                    {
                        self.options
                            .metrics
                            .rule_skipped(&record.rule, SkipReason::OwnerLost);
                    }
                }
            }
        }
        for (ti, t) in taken.iter_mut().enumerate() {
            if refused[ti] {
                let ids: Vec<u64> = t
                    .runs
                    .iter()
                    .chain(&t.awaiting)
                    .map(|r| r.record.id)
                    .collect();
                ha.release(&ids);
                t.write = store::Batch::default();
                t.refused = Some(Refused::ClaimUnavailable);
            }
        }
    }

    /// Ends run `id` of `t` unrun (another replica owns its episode, or its owner was lost):
    /// out of the runs to queue, its record ended in `state` for `reason`. Returns the record.
    fn end_unclaimed(
        &self,
        t: &mut Taken,
        id: u64,
        claim: RunClaim,
        state: RunState,
        reason: String,
        now: i64,
    ) -> Option<RunRecord> {
        t.runs.retain(|r| r.record.id != id);
        t.awaiting.retain(|r| r.record.id != id);
        t.skipped += 1;
        let record = t.write.runs.iter_mut().find(|r| r.id == id)?;
        // Not run here: it counts against no rail of this replica.
        self.lock().rails.withdraw(id, record.created_at);
        record.claim = Some(claim);
        record.approval = None;
        record.silence = None;
        record.reason = Some(reason.clone());
        record.ended_at = Some(now);
        enter(record, state, now, reason);
        info!(rule = %record.rule, run = id, reason = record.reason.as_deref().unwrap_or_default(),
            "not running: another replica owns the episode");
        Some(record.clone())
    }
}

/// Puts `claim` on run `id` of `t` (its stored record and the run), with a timeline note.
fn set_claim(t: &mut Taken, id: u64, claim: &RunClaim, note: Option<String>) {
    for run in t.runs.iter_mut().chain(t.awaiting.iter_mut()) {
        if run.record.id == id {
            run.record.claim = Some(claim.clone());
            if let Some(note) = &note {
                run.record.reason = Some(note.clone());
            }
        }
    }
    if let Some(record) = t.write.runs.iter_mut().find(|r| r.id == id) {
        record.claim = Some(claim.clone());
        if let Some(note) = note {
            record.reason = Some(note);
        }
    }
}

impl Taken {
    /// The body of its notification as stored (or about to be).
    fn notification_body(&self) -> Arc<[u8]> {
        self.write
            .notifications
            .first()
            .map(|(_, b)| Arc::clone(b))
            .unwrap_or_else(|| {
                Arc::from(serde_json::to_vec(&self.notification).unwrap_or_default())
            })
    }
}

/// How often claims are renewed and watched claims looked at: a third of the lease, as
/// Kubernetes' own leader election renews.
fn period(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(500))
}

/// The task that renews this replica's claims and looks at the ones it lost.
pub(super) async fn keep_claims(inner: Arc<Inner>) {
    let Some(ha) = inner.options.ha.clone() else {
        return;
    };
    let mut tick = super::ticker(period(ha.lease_duration()));
    loop {
        tick.tick().await;
        let now = inner.now();
        for (id, owner) in ha.renew_all(now).await {
            error!(run = id, owner = %owner.replica,
                "this replica's claim was taken over by another replica (renewals failed for a whole lease): stopping its action");
            if let Some(stop) = inner.lock().stops.get(&id) {
                let _ = stop.send(Some(StopReason::Shutdown));
            }
        }
        let (settled, dropped) = ha.look(now, || inner.lock().ledger.next_id()).await;
        if !dropped.is_empty() {
            let write = store::Batch {
                settings: dropped.iter().map(|n| (watch_setting(n), None)).collect(),
                ..store::Batch::default()
            };
            if let Err(e) = inner.write(write).await {
                warn!(error = %e, "cannot forget watched claims in the store: they are read again after a restart");
            }
        }
        for (watch, claimed, id) in settled {
            inner.owner_lost(watch, claimed, id).await;
        }
    }
}

impl Inner {
    /// A watched episode's owner was lost and this replica settled its claim as `claimed`:
    /// it runs it again as run `id` (taken over), or records it orphaned.
    async fn owner_lost(&self, watch: Watch, claimed: Claimed, id: u64) {
        let Some(ha) = self.options.ha.clone() else {
            return;
        };
        let now = self.now();
        let loaded = self.loaded();
        let name = Episode::name_of(&watch.record.rule, &watch.record.dedupe_key);
        match claimed {
            Claimed::TakenOver { from } => {
                let Some(mut run) = self.rebuild(&loaded, &watch.record, &watch.body) else {
                    warn!(rule = %watch.record.rule, "a taken-over episode's rule or notification is gone: not running it");
                    ha.ended(id, "skipped", now);
                    return;
                };
                let note = format!(
                    "taken over from replica {from}, which stopped renewing its claim (on_owner_lost: rerun)"
                );
                run.record.id = id;
                run.record.timeline.clear();
                run.record.state = RunState::Received;
                run.record.reason = Some(note.clone());
                run.record.ended_at = None;
                run.record.created_at = now;
                run.record.claim = Some(RunClaim {
                    name,
                    replica: ha.replica().to_owned(),
                    run: None,
                    url: None,
                });
                enter(&mut run.record, RunState::Received, now, note);
                enter(
                    &mut run.record,
                    RunState::Queued,
                    now,
                    "recorded".to_owned(),
                );
                let write = store::Batch {
                    runs: vec![run.record.clone()],
                    ..store::Batch::default()
                };
                if let Err(e) = self.write(write).await {
                    error!(error = %e, "cannot record a taken-over run: not running it");
                    ha.ended(id, "failed_to_start", now);
                    return;
                }
                warn!(rule = %run.record.rule, run = id, from = %from,
                    "the replica running this episode was lost: taken over, running it again");
                let mut state = self.lock();
                if let Some(stop) = run.stop_tx.take() {
                    state.stops.insert(id, stop);
                }
                state.ledger.enqueue(id, run.live.clone());
                state.queued.insert(id, run);
                drop(state);
                self.wake.notify_one();
            }
            Claimed::Orphaned { from } => {
                let mut record = watch.record;
                let reason = format!(
                    "replica {from}, which ran it, was lost (its claim not renewed): recorded, not run again (on_owner_lost: record)"
                );
                record.id = id;
                record.timeline.clear();
                record.created_at = now;
                record.claim = Some(RunClaim {
                    name,
                    replica: from.clone(),
                    run: None,
                    url: None,
                });
                record.reason = Some(reason.clone());
                record.ended_at = Some(now);
                enter(
                    &mut record,
                    RunState::Received,
                    now,
                    "owner replica lost".to_owned(),
                );
                enter(&mut record, RunState::Interrupted, now, reason);
                warn!(rule = %record.rule, run = id, from = %from,
                    "the replica running this episode was lost: recorded orphaned, not run again");
                self.options
                    .metrics
                    .rule_skipped(&record.rule, SkipReason::OwnerLost);
                let write = store::Batch {
                    runs: vec![record],
                    ..store::Batch::default()
                };
                if let Err(e) = self.write(write).await {
                    error!(error = %e, "cannot record an orphaned episode");
                }
            }
            Claimed::Won | Claimed::Lost(_) => {}
        }
    }
}

/// The housekeeper's task: every third of the lease, keep or take the lead; while leading,
/// prune the claims older than the history retention and record orphaned the lost claims
/// nobody settled.
pub(super) async fn housekeep(inner: Arc<Inner>) {
    let Some(ha) = inner.options.ha.clone() else {
        return;
    };
    let mut tick = super::ticker(period(ha.lease_duration()));
    loop {
        tick.tick().await;
        let now = inner.now();
        let retention = inner.loaded().config.server().state.history_max_age;
        let before = now - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        ha.housekeep(now, before).await;
    }
}
