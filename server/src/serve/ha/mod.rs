//! High availability on the Kubernetes API (`server.ha`): several replicas of `alertrun
//! serve` all take webhooks, and each episode runs on exactly one of them.
//!
//! How, in one paragraph: before a replica records a run as queued it claims the run's
//! episode ([`claims`]); the replica whose claim the API server creates runs it, every
//! other records it `skipped` (`claimed by <replica>`) and answers 2xx, and a replica that
//! cannot reach the API refuses the notification (503) so that Alertmanager retries. The
//! owner renews its claims while their runs live and marks them finished at the end. A
//! replica that lost the race keeps an eye on the claim ([`Ha::watch`]); if its owner stops
//! renewing it, the first to update it at the version read either takes it over and runs
//! the episode again (`on_owner_lost: rerun`) or records it orphaned (`record`). One
//! replica, elected with a leader Lease, is the housekeeper: it prunes old claims and
//! records orphaned the lost claims nobody else settled. Correctness never depends on the
//! leader: every decision about an episode is a write to its own claim.
//!
//! This module is the state a replica keeps about claims (those it holds, those it
//! watches, whether it leads) and the calls it makes; dispatch decides when
//! (`dispatch/ha.rs`).

mod api_calls;
pub(crate) mod claims;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use tracing::warn;

pub use api_calls::HA_API_CALLS;
pub(crate) use claims::{ClaimError, ClaimView, Claimed, Claims, Episode, Owner, Renewed, Watched};

use crate::config::OnInterrupt;
use crate::serve::metrics::Metrics;
use crate::store::RunRecord;

/// The first part of the store setting that keeps a watch over a restart:
/// `claimwatch␟<claim name>`, holding a [`StoredWatch`].
const WATCH_SETTING: &str = "claimwatch";

/// The store setting's name of the watch of claim `name`.
pub(crate) fn watch_setting(name: &str) -> String {
    format!("{WATCH_SETTING}\u{1f}{name}")
}

/// The claim name of a watch's store setting, if `setting` is one.
pub(crate) fn parse_watch_setting(setting: &str) -> Option<&str> {
    setting.strip_prefix(WATCH_SETTING)?.strip_prefix('\u{1f}')
}

/// What the store keeps of a watch: which of this replica's runs recorded the episode (its
/// record and notification are in the store), and the rule's policy then.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredWatch {
    /// The `skipped` run of this replica.
    pub(crate) run: u64,
    /// `on_owner_lost: rerun`.
    pub(crate) rerun: bool,
}

/// An episode another replica won, watched in case its owner is lost.
#[derive(Clone, Debug)]
pub(crate) struct Watch {
    /// This replica's record of it (`skipped`, claimed by the owner): what a takeover
    /// rebuilds the run from.
    pub(crate) record: RunRecord,
    /// The notification it came in.
    pub(crate) body: Arc<[u8]>,
    /// The rule's `on_owner_lost`.
    pub(crate) on_owner_lost: OnInterrupt,
}

/// One replica's part in `server.ha`. Cheap to share (`Arc`).
#[derive(Debug)]
pub(crate) struct Ha {
    claims: Claims,
    metrics: Metrics,
    /// The claims this replica holds, by run id: the Lease as last written.
    held: Mutex<HashMap<u64, Lease>>,
    /// Episodes other replicas won, by claim name.
    watches: Mutex<HashMap<String, Watch>>,
    /// The leader Lease, while this replica leads.
    leader: Mutex<Option<Lease>>,
    /// When the housekeeper last swept the claims (unix ms).
    swept_at: Mutex<i64>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Ha {
    /// A replica's HA state over `claims`.
    pub(crate) fn new(claims: Claims, metrics: Metrics) -> Self {
        Self {
            claims,
            metrics,
            held: Mutex::new(HashMap::new()),
            watches: Mutex::new(HashMap::new()),
            leader: Mutex::new(None),
            swept_at: Mutex::new(i64::MIN),
        }
    }

    /// This replica's name.
    pub(crate) fn replica(&self) -> &str {
        self.claims.replica()
    }

    /// How long a claim holds without renewal.
    pub(crate) fn lease_duration(&self) -> Duration {
        self.claims.lease_duration()
    }

    /// The namespace of the claims.
    pub(crate) fn namespace(&self) -> &str {
        self.claims.namespace()
    }

    /// Whether this replica leads (is the housekeeper).
    pub(crate) fn is_leader(&self) -> bool {
        locked(&self.leader).is_some()
    }

    /// Claims each of `episodes` at `now`, all at once; counted by result.
    pub(crate) async fn claim_all(
        &self,
        episodes: Vec<(Episode, OnInterrupt)>,
        now: i64,
    ) -> Vec<Result<Claimed, ClaimError>> {
        let mut set = tokio::task::JoinSet::new();
        let n = episodes.len();
        for (i, (ep, policy)) in episodes.into_iter().enumerate() {
            let claims = self.claims.clone();
            set.spawn(async move {
                let began = Instant::now();
                let result = claims.claim(&ep, policy, now).await;
                (i, ep.run, result, began.elapsed())
            });
        }
        let mut out: Vec<Option<Result<Claimed, ClaimError>>> = (0..n).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            let Ok((i, run, result, took)) = joined else {
                continue;
            };
            let result = result.map(|(claimed, lease)| {
                if let Some(lease) = lease {
                    locked(&self.held).insert(run, lease);
                }
                claimed
            });
            self.metrics.claimed(result_name(&result), took);
            out[i] = Some(result);
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(ClaimError {
                        verb: "create",
                        name: String::new(),
                        namespace: String::new(),
                        source: Box::new(kube::Error::Service("the claim task panicked".into())),
                    })
                })
            })
            .collect()
    }

    /// Gives back the claims of runs `ids` (their notification was refused after all):
    /// deleted at the version this replica wrote, in the background.
    pub(crate) fn release(&self, ids: &[u64]) {
        let leases: Vec<Lease> = {
            let mut held = locked(&self.held);
            ids.iter().filter_map(|id| held.remove(id)).collect()
        };
        if leases.is_empty() {
            return;
        }
        let claims = self.claims.clone();
        tokio::spawn(async move {
            for lease in leases {
                if let Err(e) = claims.release(&lease).await {
                    warn!(error = %e, "cannot give back a claim: it expires by itself");
                }
            }
        });
    }

    /// Run `id` ended in `outcome`: its claim is marked finished (in the background).
    pub(crate) fn ended(self: &Arc<Self>, id: u64, outcome: &'static str, now: i64) {
        let Some(lease) = locked(&self.held).remove(&id) else {
            return;
        };
        let ha = Arc::clone(self);
        tokio::spawn(async move {
            match ha.claims.finish(&lease, outcome, now).await {
                Ok(Renewed::Held(_)) => {}
                Ok(Renewed::Lost(owner)) => warn!(run = id, owner = %owner.replica,
                    "the run's claim was taken over by another replica before it ended"),
                Err(e) => warn!(run = id, error = %e,
                    "cannot mark the run's claim finished: it expires, and the housekeeper records it orphaned"),
            }
        });
    }

    /// Renews every claim this replica holds at `now`. Returns the runs whose claims were
    /// taken by another replica meanwhile (their actions must stop: two live owners never
    /// exist at once).
    pub(crate) async fn renew_all(&self, now: i64) -> Vec<(u64, Owner)> {
        let held: Vec<(u64, Lease)> = locked(&self.held)
            .iter()
            .map(|(id, l)| (*id, l.clone()))
            .collect();
        let mut lost = Vec::new();
        for (id, lease) in held {
            match self.claims.renew(&lease, now).await {
                Ok(Renewed::Held(lease)) => {
                    if let Some(slot) = locked(&self.held).get_mut(&id) {
                        *slot = *lease;
                    }
                }
                Ok(Renewed::Lost(owner)) => {
                    locked(&self.held).remove(&id);
                    lost.push((id, owner));
                }
                Err(e) => warn!(run = id, error = %e,
                    "cannot renew the run's claim: retrying; another replica may take it over once it expires"),
            }
        }
        lost
    }

    /// Watches the episode of `watch` (claimed by another replica).
    pub(crate) fn watch(&self, name: String, watch: Watch) {
        locked(&self.watches).insert(name, watch);
    }

    /// Looks at every watched claim at `now`: those whose owner was lost are settled (taken
    /// over for a run id from `next_id`, or recorded orphaned) and returned with what
    /// happened and that id; done ones are dropped. Also returns the names of the claims
    /// no longer watched (their store settings go).
    pub(crate) async fn look(
        &self,
        now: i64,
        next_id: impl Fn() -> u64,
    ) -> (Vec<(Watch, Claimed, u64)>, Vec<String>) {
        let watched: Vec<(String, Watch)> = locked(&self.watches)
            .iter()
            .map(|(n, w)| (n.clone(), w.clone()))
            .collect();
        let mut settled = Vec::new();
        let mut dropped = Vec::new();
        for (name, watch) in watched {
            let began = Instant::now();
            let seen = match self.claims.watch(&name, now).await {
                Ok(Watched::Alive) => continue,
                Ok(Watched::Done) => {
                    locked(&self.watches).remove(&name);
                    dropped.push(name);
                    continue;
                }
                Ok(Watched::Lost(lease, from)) => {
                    let id = next_id();
                    self.claims
                        .settle(*lease, from, id, watch.on_owner_lost, now)
                        .await
                        .map(|(claimed, lease)| (claimed, lease, id))
                }
                Err(e) => Err(e),
            };
            match seen {
                Ok((claimed, lease, id)) => {
                    locked(&self.watches).remove(&name);
                    dropped.push(name.clone());
                    self.metrics
                        .claimed(result_name(&Ok(claimed.clone())), began.elapsed());
                    if let Some(lease) = lease {
                        locked(&self.held).insert(id, lease);
                    }
                    settled.push((watch, claimed, id));
                }
                Err(e) => warn!(claim = %name, error = %e, "cannot read a watched claim: retrying"),
            }
        }
        (settled, dropped)
    }

    /// One round of the housekeeper at `now`: keeps or takes the lead; while leading, and
    /// at most once every four leases, prunes claims last renewed before `prune_before` and
    /// records orphaned the lost claims no watcher settled within a lease duration.
    pub(crate) async fn housekeep(&self, now: i64, prune_before: i64) {
        let mine = locked(&self.leader).clone();
        let led = match self.claims.lead(mine.as_ref(), now).await {
            Ok(led) => led,
            Err(e) => {
                warn!(error = %e, "cannot renew the housekeeper's lease: not leading");
                None
            }
        };
        let leading = led.is_some();
        *locked(&self.leader) = led;
        self.metrics.set_leader(leading);
        if !leading {
            return;
        }
        // The lead is kept every third of the lease; the sweep (a list of every claim) runs
        // once every four leases (a minute by default).
        let every = i64::try_from(self.lease_duration().as_millis() * 4).unwrap_or(i64::MAX);
        {
            let mut swept = locked(&self.swept_at);
            if swept.saturating_add(every) > now {
                return;
            }
            *swept = now;
        }
        match self.claims.prune(prune_before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                claims = n,
                "housekeeper: pruned claims older than the history retention"
            ),
            Err(e) => warn!(error = %e, "housekeeper: cannot prune claims"),
        }
        match self.claims.sweep(now, self.lease_duration()).await {
            Ok(names) => {
                for name in names {
                    warn!(claim = %name, "housekeeper: the replica running this episode was lost and no other replica saw it: recorded orphaned");
                }
            }
            Err(e) => warn!(error = %e, "housekeeper: cannot sweep lost claims"),
        }
    }

    /// Every claim, for the history.
    ///
    /// # Errors
    /// When the API cannot be asked.
    pub(crate) async fn list(&self) -> Result<Vec<ClaimView>, ClaimError> {
        Ok(self
            .claims
            .list()
            .await?
            .into_iter()
            .map(|(v, _)| v)
            .collect())
    }

    /// Whether this replica still holds the claim named `name` (after a restart, before
    /// running again what it left): `false` when another replica took it or it was recorded
    /// orphaned or finished.
    ///
    /// # Errors
    /// When the API cannot be asked.
    pub(crate) async fn still_ours(&self, ep: &Episode, now: i64) -> Result<bool, ClaimError> {
        let (claimed, lease) = self.claims.claim(ep, OnInterrupt::Record, now).await?;
        match (claimed, lease) {
            (Claimed::Won, Some(lease)) => {
                let running = lease
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(claims::keys::STATE))
                    .is_none_or(|s| s == "running");
                if running {
                    locked(&self.held).insert(ep.run, lease);
                }
                Ok(running)
            }
            _ => Ok(false),
        }
    }
}

fn result_name(result: &Result<Claimed, ClaimError>) -> &'static str {
    match result {
        Ok(Claimed::Won) => "won",
        Ok(Claimed::Lost(_)) => "lost",
        Ok(Claimed::TakenOver { .. }) => "taken_over",
        Ok(Claimed::Orphaned { .. }) => "orphaned",
        Err(_) => "error",
    }
}
