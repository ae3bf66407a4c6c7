//! Claims: which replica runs an episode, decided by the Kubernetes API.
//!
//! A claim is a `coordination.k8s.io/v1` Lease named after the episode (the name its Job
//! would get: `executor_k8s::job_name(rule, episode)`), held by the replica that runs it.
//! The API server's create is the decision: the one replica whose `POST` is answered `201`
//! owns the episode; every other gets `409 AlreadyExists` and reads who does. Nothing else
//! is consensus here: no clock is compared across replicas except the Lease's own
//! `renewTime` against `leaseDurationSeconds`, as Kubernetes' leader election does.
//!
//! While its run lives the owner renews the claim (every third of the lease duration); at
//! the end it marks it finished (`alertrun.io/state: finished`, with the outcome), so it is
//! never taken over. A claim still `running` and not renewed for its lease duration has lost
//! its owner: another replica may take it over, or record it orphaned, each with a `PUT`
//! that carries the `resourceVersion` it read. The API server refuses a stale one (`409
//! Conflict`), so of replicas racing for the same lost claim exactly one wins, and a live
//! owner's renewal (which changes the resourceVersion) beats a takeover based on an older
//! read.
//!
//! What it is not: when to claim and what a lost claim means for a run (dispatch decides,
//! `super::Ha` glues), nor a lock held across the API server being unreachable: a call that
//! fails is an error, and the caller refuses the notification (503) rather than run without
//! a claim.
//!
//! Every call is one of [`HA_API_CALLS`](super::HA_API_CALLS); the tests take each request
//! from kube's mocked service and assert it exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};

use crate::config::OnInterrupt;
use crate::serve::metrics::Metrics;

/// Labels and annotations of claims.
pub(crate) mod keys {
    /// Every object alertrun makes.
    pub(crate) const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// `claim` or `leader`.
    pub(crate) const KIND: &str = "alertrun.io/kind";
    /// The rule, as a label value (changed and hashed when the name is not one).
    pub(crate) const RULE: &str = "alertrun.io/rule";
    /// The alert's fingerprint (per-alert rules).
    pub(crate) const FINGERPRINT: &str = "alertrun.io/fingerprint";
    /// The alertname, as a label value.
    pub(crate) const ALERTNAME: &str = "alertrun.io/alertname";
    /// Annotation: the rule's name as written.
    pub(crate) const RULE_NAME: &str = "alertrun.io/rule-name";
    /// Annotation: the episode (`<fingerprint>@<startsAt>`, or the group's state).
    pub(crate) const EPISODE: &str = "alertrun.io/episode";
    /// Annotation: the notification's group key.
    pub(crate) const GROUP_KEY: &str = "alertrun.io/group-key";
    /// Annotation: the owner's run id.
    pub(crate) const RUN: &str = "alertrun.io/run";
    /// Annotation: where the owner's API answers.
    pub(crate) const URL: &str = "alertrun.io/url";
    /// Annotation: `running`, `finished` or `orphaned`.
    pub(crate) const STATE: &str = "alertrun.io/state";
    /// Annotation: the run's end state, once finished.
    pub(crate) const OUTCOME: &str = "alertrun.io/outcome";
}

/// The longest group key kept in an annotation (an annotation is for people; the claim's
/// name is what decides).
const MAX_GROUP_KEY: usize = 1024;

/// The name of the housekeeper's leader Lease (no claim name starts like it: claims start
/// with `ar-`).
pub(crate) const LEADER_LEASE: &str = "alertrun-housekeeper";

/// What a replica wants to claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Episode {
    /// The claim's name (the episode's Job name).
    pub(crate) name: String,
    /// The rule.
    pub(crate) rule: String,
    /// The episode's key within the rule.
    pub(crate) episode: String,
    /// The alert's fingerprint; `None` for a per-group run.
    pub(crate) fingerprint: Option<String>,
    /// The alertname, when the alert (or the group) has one.
    pub(crate) alertname: Option<String>,
    /// The notification's group key.
    pub(crate) group_key: String,
    /// This replica's run id for it.
    pub(crate) run: u64,
    /// When a claim that is done (finished or orphaned) may be claimed again, counted from
    /// its acquisition: `None` never (`repeat: once`), zero at once (`repeat: always`), the
    /// cooldown of `repeat: 30m`.
    pub(crate) reclaim_after: Option<Duration>,
}

impl Episode {
    /// The episode of `rule` and `episode` (a dedupe key's episode text): its claim's name
    /// is the name its Job gets.
    pub(crate) fn name_of(rule: &str, episode: &str) -> String {
        executor_k8s::job_name(rule, episode)
    }
}

/// Who holds a claim that is not this replica's, and how far its run is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    /// The replica holding it.
    pub(crate) replica: String,
    /// Its run id, when the claim says.
    pub(crate) run: Option<u64>,
    /// Where its API answers, when the claim says.
    pub(crate) url: Option<String>,
    /// `running`, `finished` or `orphaned`.
    pub(crate) state: String,
}

/// The answer to a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Claimed {
    /// This replica owns it (created now, or by its own earlier attempt).
    Won,
    /// Its owner was lost and this replica took it over (`on_owner_lost: rerun`).
    TakenOver {
        /// The replica that lost it.
        from: String,
    },
    /// Its owner was lost and this replica recorded it orphaned (`on_owner_lost: record`):
    /// nobody runs it again.
    Orphaned {
        /// The replica that lost it.
        from: String,
    },
    /// Another replica owns it (alive, or it finished, or it was recorded orphaned).
    Lost(Owner),
}

/// A call to the API about a claim that failed: the caller must not act as if it held it.
#[derive(Debug, thiserror::Error)]
#[error("cannot {verb} the claim {name:?} in namespace {namespace:?}")]
pub(crate) struct ClaimError {
    /// `create`, `get`, `update`, `list` or `delete`.
    pub(crate) verb: &'static str,
    /// The claim (or `*` for a list).
    pub(crate) name: String,
    /// Its namespace.
    pub(crate) namespace: String,
    /// The API's answer, or the transport error.
    #[source]
    pub(crate) source: Box<kube::Error>,
}

/// A claim as the history shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub(crate) struct ClaimView {
    /// The Lease's name.
    pub(crate) name: String,
    /// The rule, as written.
    pub(crate) rule: String,
    /// The episode.
    pub(crate) episode: String,
    /// The alert's fingerprint, for a per-alert rule.
    pub(crate) fingerprint: Option<String>,
    /// The replica holding it.
    pub(crate) replica: String,
    /// Its run id on that replica.
    pub(crate) run: Option<u64>,
    /// Where that replica's API answers.
    pub(crate) url: Option<String>,
    /// `running`, `finished` or `orphaned`.
    pub(crate) state: String,
    /// The run's end state, once finished.
    pub(crate) outcome: Option<String>,
    /// When it was last renewed (unix ms).
    pub(crate) renewed_at: Option<i64>,
}

/// The claims of one replica, in one namespace.
#[derive(Clone)]
pub(crate) struct Claims {
    api: Api<Lease>,
    namespace: String,
    replica: String,
    url: Option<String>,
    lease: Duration,
    metrics: Metrics,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims")
            .field("namespace", &self.namespace)
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

/// What a claim that exists already means for this replica.
enum Existing {
    /// Ours, running.
    Ours(Lease),
    /// Done, and the rule repeats: claimable again.
    Again(Lease),
    /// Someone else's, alive or done.
    Theirs(Owner),
    /// Its owner stopped renewing it while it ran.
    Lost(Lease, String),
}

fn micro(ms: i64) -> MicroTime {
    MicroTime(jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
}

fn annotation<'a>(lease: &'a Lease, key: &str) -> Option<&'a str> {
    lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn set_annotation(lease: &mut Lease, key: &str, value: String) {
    lease
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_owned(), value);
}

fn holder(lease: &Lease) -> &str {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        .unwrap_or_default()
}

fn acquired_ms(lease: &Lease) -> Option<i64> {
    let spec = lease.spec.as_ref()?;
    Some(spec.acquire_time.as_ref()?.0.as_millisecond())
}

fn renewed_ms(lease: &Lease) -> Option<i64> {
    let spec = lease.spec.as_ref()?;
    let at = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?;
    Some(at.0.as_millisecond())
}

/// Whether `lease` is a running claim whose owner has not renewed it for its duration.
pub(crate) fn is_lost(lease: &Lease, now: i64) -> bool {
    let running = annotation(lease, keys::STATE).unwrap_or("running") == "running";
    let seconds = lease
        .spec
        .as_ref()
        .and_then(|s| s.lease_duration_seconds)
        .unwrap_or(0);
    running && renewed_ms(lease).is_some_and(|at| at + i64::from(seconds) * 1000 < now)
}

fn owner_of(lease: &Lease) -> Owner {
    Owner {
        replica: holder(lease).to_owned(),
        run: annotation(lease, keys::RUN).and_then(|r| r.parse().ok()),
        url: annotation(lease, keys::URL).map(str::to_owned),
        state: annotation(lease, keys::STATE)
            .unwrap_or("running")
            .to_owned(),
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

impl Claims {
    /// The claims of `replica` (reached at `url`) in `namespace`, held for `lease`.
    pub(crate) fn new(
        client: kube::Client,
        namespace: &str,
        replica: &str,
        url: Option<&str>,
        lease: Duration,
        metrics: Metrics,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            replica: replica.to_owned(),
            url: url.map(str::to_owned),
            lease,
            metrics,
        }
    }

    /// Whether `e` is a 409 (another replica, or a write of ours, was first), counted.
    fn conflict(&self, e: &kube::Error) -> bool {
        let conflict = is_status(e, 409);
        if conflict {
            self.metrics.claim_conflict();
        }
        conflict
    }

    /// This replica's name.
    pub(crate) fn replica(&self) -> &str {
        &self.replica
    }

    /// The namespace of the claims.
    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    /// How long a claim holds without renewal.
    pub(crate) fn lease_duration(&self) -> Duration {
        self.lease
    }

    fn error(&self, verb: &'static str, name: &str, source: kube::Error) -> ClaimError {
        ClaimError {
            verb,
            name: name.to_owned(),
            namespace: self.namespace.clone(),
            source: Box::new(source),
        }
    }

    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.lease.as_secs()).unwrap_or(i32::MAX)
    }

    /// The Lease that claims `ep` for this replica at `now`.
    fn lease_for(&self, ep: &Episode, now: i64) -> Lease {
        let mut labels = BTreeMap::from([
            (keys::MANAGED_BY.to_owned(), "alertrun".to_owned()),
            (keys::KIND.to_owned(), "claim".to_owned()),
            (keys::RULE.to_owned(), executor_k8s::label_value(&ep.rule)),
        ]);
        if let Some(fp) = &ep.fingerprint {
            labels.insert(keys::FINGERPRINT.to_owned(), executor_k8s::label_value(fp));
        }
        if let Some(name) = &ep.alertname {
            labels.insert(keys::ALERTNAME.to_owned(), executor_k8s::label_value(name));
        }
        let group_key: String = ep.group_key.chars().take(MAX_GROUP_KEY).collect();
        let mut annotations = BTreeMap::from([
            (keys::RULE_NAME.to_owned(), ep.rule.clone()),
            (keys::EPISODE.to_owned(), ep.episode.clone()),
            (keys::GROUP_KEY.to_owned(), group_key),
            (keys::RUN.to_owned(), ep.run.to_string()),
            (keys::STATE.to_owned(), "running".to_owned()),
        ]);
        if let Some(url) = &self.url {
            annotations.insert(keys::URL.to_owned(), url.clone());
        }
        Lease {
            metadata: ObjectMeta {
                name: Some(ep.name.clone()),
                labels: Some(labels),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.replica.clone()),
                lease_duration_seconds: Some(self.lease_seconds()),
                acquire_time: Some(micro(now)),
                renew_time: Some(micro(now)),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        }
    }

    /// Claims `ep` at `now`. An existing claim of a lost owner is taken over or recorded
    /// orphaned, as `on_owner_lost` says.
    ///
    /// # Errors
    /// When the API cannot be asked (or refuses for another reason than the claim existing):
    /// the caller must not run the episode.
    pub(crate) async fn claim(
        &self,
        ep: &Episode,
        on_owner_lost: OnInterrupt,
        now: i64,
    ) -> Result<(Claimed, Option<Lease>), ClaimError> {
        // At most twice: a claim deleted between our create and our read is created again.
        for _ in 0..2 {
            let lease = self.lease_for(ep, now);
            match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => return Ok((Claimed::Won, Some(created))),
                Err(e) if self.conflict(&e) => {}
                Err(e) => return Err(self.error("create", &ep.name, e)),
            }
            let existing = match self.api.get(&ep.name).await {
                Ok(existing) => existing,
                Err(e) if is_status(&e, 404) => continue,
                Err(e) => return Err(self.error("get", &ep.name, e)),
            };
            return match self.judge(existing, now, ep.reclaim_after) {
                Existing::Ours(lease) => Ok((Claimed::Won, Some(lease))),
                Existing::Again(lease) => self.claim_again(lease, ep, now).await,
                Existing::Theirs(owner) => Ok((Claimed::Lost(owner), None)),
                Existing::Lost(lease, from) => {
                    self.settle_lost(lease, from, Some(ep.run), on_owner_lost, now)
                        .await
                }
            };
        }
        Err(self.error(
            "get",
            &ep.name,
            kube::Error::Api(
                kube::core::Status::failure("the claim was deleted twice while read", "NotFound")
                    .with_code(404)
                    .boxed(),
            ),
        ))
    }

    fn judge(&self, lease: Lease, now: i64, reclaim_after: Option<Duration>) -> Existing {
        let done = annotation(&lease, keys::STATE).is_some_and(|s| s != "running");
        if done {
            let again = reclaim_after.is_some_and(|after| {
                let after = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
                acquired_ms(&lease).is_none_or(|at| at.saturating_add(after) <= now)
            });
            if again {
                Existing::Again(lease)
            } else {
                Existing::Theirs(owner_of(&lease))
            }
        } else if holder(&lease) == self.replica {
            Existing::Ours(lease)
        } else if is_lost(&lease, now) {
            let from = holder(&lease).to_owned();
            Existing::Lost(lease, from)
        } else {
            Existing::Theirs(owner_of(&lease))
        }
    }

    /// Claims again, for `ep`'s new run, a claim that is done and whose rule repeats, at
    /// the version read; `Lost` when another replica was first.
    async fn claim_again(
        &self,
        mut lease: Lease,
        ep: &Episode,
        now: i64,
    ) -> Result<(Claimed, Option<Lease>), ClaimError> {
        let name = ep.name.clone();
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(&self.replica) {
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.replica.clone());
        spec.acquire_time = Some(micro(now));
        spec.renew_time = Some(micro(now));
        spec.lease_duration_seconds = Some(self.lease_seconds());
        set_annotation(&mut lease, keys::RUN, ep.run.to_string());
        set_annotation(&mut lease, keys::STATE, "running".to_owned());
        if let Some(a) = lease.metadata.annotations.as_mut() {
            a.remove(keys::OUTCOME);
            match &self.url {
                Some(url) => {
                    a.insert(keys::URL.to_owned(), url.clone());
                }
                None => {
                    a.remove(keys::URL);
                }
            }
        }
        match self
            .api
            .replace(&name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => Ok((Claimed::Won, Some(written))),
            Err(e) if self.conflict(&e) => {
                let now_held = self
                    .api
                    .get(&name)
                    .await
                    .map_err(|e| self.error("get", &name, e))?;
                Ok((Claimed::Lost(owner_of(&now_held)), None))
            }
            Err(e) => Err(self.error("update", &name, e)),
        }
    }

    /// Takes over (rerun) or records orphaned (record) a lost claim read as `lease`, with an
    /// update carrying its resourceVersion; a conflict means another replica (or the owner,
    /// renewing late) got there first, and the claim is read again to say who holds it.
    async fn settle_lost(
        &self,
        mut lease: Lease,
        from: String,
        run: Option<u64>,
        on_owner_lost: OnInterrupt,
        now: i64,
    ) -> Result<(Claimed, Option<Lease>), ClaimError> {
        let name = lease.metadata.name.clone().unwrap_or_default();
        let claimed = match on_owner_lost {
            OnInterrupt::Rerun => {
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                spec.holder_identity = Some(self.replica.clone());
                spec.acquire_time = Some(micro(now));
                spec.renew_time = Some(micro(now));
                spec.lease_duration_seconds = Some(self.lease_seconds());
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                if let Some(run) = run {
                    set_annotation(&mut lease, keys::RUN, run.to_string());
                }
                match &self.url {
                    Some(url) => set_annotation(&mut lease, keys::URL, url.clone()),
                    None => {
                        if let Some(a) = lease.metadata.annotations.as_mut() {
                            a.remove(keys::URL);
                        }
                    }
                }
                Claimed::TakenOver { from }
            }
            OnInterrupt::Record => {
                set_annotation(&mut lease, keys::STATE, "orphaned".to_owned());
                set_annotation(&mut lease, keys::OUTCOME, format!("owner {from} lost"));
                Claimed::Orphaned { from }
            }
        };
        match self
            .api
            .replace(&name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                let held = matches!(claimed, Claimed::TakenOver { .. }).then_some(written);
                Ok((claimed, held))
            }
            Err(e) if self.conflict(&e) => {
                let now_held = self
                    .api
                    .get(&name)
                    .await
                    .map_err(|e| self.error("get", &name, e))?;
                Ok((Claimed::Lost(owner_of(&now_held)), None))
            }
            Err(e) => Err(self.error("update", &name, e)),
        }
    }

    /// Reads the claim `name` that another replica won, for a replica that saw the same
    /// episode: whether its owner lives, is done (or the claim is gone), or was lost.
    ///
    /// # Errors
    /// When the API cannot be asked.
    pub(crate) async fn watch(&self, name: &str, now: i64) -> Result<Watched, ClaimError> {
        let lease = match self.api.get(name).await {
            Ok(lease) => lease,
            Err(e) if is_status(&e, 404) => return Ok(Watched::Done),
            Err(e) => return Err(self.error("get", name, e)),
        };
        Ok(match self.judge(lease, now, None) {
            Existing::Ours(_) | Existing::Again(_) => Watched::Done,
            Existing::Theirs(owner) if owner.state == "running" => Watched::Alive,
            Existing::Theirs(_) => Watched::Done,
            Existing::Lost(lease, from) => Watched::Lost(Box::new(lease), from),
        })
    }

    /// Settles a lost claim a watch found: taken over for run `run` (`rerun`), or recorded
    /// orphaned (`record`); `Lost` when another replica was first.
    ///
    /// # Errors
    /// When the API cannot be asked.
    pub(crate) async fn settle(
        &self,
        lease: Lease,
        from: String,
        run: u64,
        on_owner_lost: OnInterrupt,
        now: i64,
    ) -> Result<(Claimed, Option<Lease>), ClaimError> {
        self.settle_lost(lease, from, Some(run), on_owner_lost, now)
            .await
    }

    /// Renews this replica's claim, last written as `lease`, at `now`: the renewed Lease,
    /// or the owner that took it (the API refused our resourceVersion and the claim is no
    /// longer ours).
    ///
    /// # Errors
    /// When the API cannot be asked.
    pub(crate) async fn renew(&self, lease: &Lease, now: i64) -> Result<Renewed, ClaimError> {
        let mut next = lease.clone();
        if let Some(spec) = next.spec.as_mut() {
            spec.renew_time = Some(micro(now));
        }
        self.write_ours(next, false).await
    }

    /// Marks this replica's claim finished with `outcome` (the run's end state), so that it
    /// is never taken over.
    ///
    /// # Errors
    /// When the API cannot be asked.
    pub(crate) async fn finish(
        &self,
        lease: &Lease,
        outcome: &str,
        now: i64,
    ) -> Result<Renewed, ClaimError> {
        let mut next = lease.clone();
        if let Some(spec) = next.spec.as_mut() {
            spec.renew_time = Some(micro(now));
        }
        set_annotation(&mut next, keys::STATE, "finished".to_owned());
        set_annotation(&mut next, keys::OUTCOME, outcome.to_owned());
        self.write_ours(next, true).await
    }

    /// Writes `next` (this replica's claim, changed) with the resourceVersion it was read
    /// at; on a conflict, reads it again: another holder → that owner; still ours (a write
    /// of ours raced, such as a renewal and the run's end) → written again once on the new
    /// version when `again` (the end must land), else left as it is now (a renewal skipped
    /// must never overwrite the end that beat it).
    async fn write_ours(&self, next: Lease, again: bool) -> Result<Renewed, ClaimError> {
        let name = next.metadata.name.clone().unwrap_or_default();
        match self.api.replace(&name, &PostParams::default(), &next).await {
            Ok(written) => return Ok(Renewed::Held(Box::new(written))),
            Err(e) if self.conflict(&e) => {}
            Err(e) if is_status(&e, 404) => {
                return Ok(Renewed::Lost(Owner {
                    replica: String::new(),
                    run: None,
                    url: None,
                    state: "deleted".to_owned(),
                }));
            }
            Err(e) => return Err(self.error("update", &name, e)),
        }
        let current = self
            .api
            .get(&name)
            .await
            .map_err(|e| self.error("get", &name, e))?;
        if holder(&current) != self.replica {
            return Ok(Renewed::Lost(owner_of(&current)));
        }
        if !again {
            return Ok(Renewed::Held(Box::new(current)));
        }
        let mut retry = next;
        retry.metadata.resource_version = current.metadata.resource_version;
        match self
            .api
            .replace(&name, &PostParams::default(), &retry)
            .await
        {
            Ok(written) => Ok(Renewed::Held(Box::new(written))),
            Err(e) => Err(self.error("update", &name, e)),
        }
    }

    /// Deletes this replica's claim, last written as `lease` (a notification refused after
    /// it was claimed: Alertmanager's retry claims it again, on any replica). Only that
    /// version is deleted: a claim changed since is left.
    ///
    /// # Errors
    /// When the API cannot be asked (the claim then expires by itself).
    pub(crate) async fn release(&self, lease: &Lease) -> Result<(), ClaimError> {
        let name = lease.metadata.name.clone().unwrap_or_default();
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: lease.metadata.resource_version.clone(),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        match self.api.delete(&name, &params).await {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) || is_status(&e, 409) => Ok(()),
            Err(e) => Err(self.error("delete", &name, e)),
        }
    }

    /// Every claim in the namespace (all replicas'), newest renewal first.
    ///
    /// # Errors
    /// When the API cannot be asked.
    pub(crate) async fn list(&self) -> Result<Vec<(ClaimView, Lease)>, ClaimError> {
        let params = ListParams::default().labels(&format!(
            "{}=alertrun,{}=claim",
            keys::MANAGED_BY,
            keys::KIND
        ));
        let list = self
            .api
            .list(&params)
            .await
            .map_err(|e| self.error("list", "*", e))?;
        let mut views: Vec<(ClaimView, Lease)> = list
            .items
            .into_iter()
            .map(|lease| (view_of(&lease), lease))
            .collect();
        views.sort_by_key(|v| std::cmp::Reverse(v.0.renewed_at));
        Ok(views)
    }

    /// Deletes the claims that are done (finished or orphaned) and were last renewed before
    /// `before` (unix ms); each only at the version read. Returns how many went.
    ///
    /// # Errors
    /// When the API cannot be asked.
    pub(crate) async fn prune(&self, before: i64) -> Result<usize, ClaimError> {
        let mut pruned = 0;
        for (view, lease) in self.list().await? {
            if view.state != "running" && view.renewed_at.is_some_and(|at| at < before) {
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        resource_version: lease.metadata.resource_version.clone(),
                        uid: None,
                    }),
                    ..DeleteParams::default()
                };
                match self.api.delete(&view.name, &params).await {
                    Ok(_) => pruned += 1,
                    Err(e) if is_status(&e, 404) || is_status(&e, 409) => {}
                    Err(e) => return Err(self.error("delete", &view.name, e)),
                }
            }
        }
        Ok(pruned)
    }

    /// Records orphaned every claim whose owner has been lost for longer than `grace`
    /// beyond its lease (no replica that saw the episode took it over by then). Returns
    /// the names so recorded.
    ///
    /// # Errors
    /// When the API cannot be asked.
    pub(crate) async fn sweep(&self, now: i64, grace: Duration) -> Result<Vec<String>, ClaimError> {
        let later = now - i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let mut recorded = Vec::new();
        for (view, lease) in self.list().await? {
            if is_lost(&lease, later) {
                let from = view.replica.clone();
                if let (Claimed::Orphaned { .. }, _) = self
                    .settle_lost(lease, from, None, OnInterrupt::Record, now)
                    .await?
                {
                    recorded.push(view.name);
                }
            }
        }
        Ok(recorded)
    }

    /// One round of the housekeeper's election at `now`, given the leader Lease this
    /// replica last wrote (if it leads): whether it leads now, and the Lease to renew next.
    ///
    /// # Errors
    /// When the API cannot be asked: the caller stops leading.
    pub(crate) async fn lead(
        &self,
        mine: Option<&Lease>,
        now: i64,
    ) -> Result<Option<Lease>, ClaimError> {
        if let Some(lease) = mine {
            return match self.renew(lease, now).await? {
                Renewed::Held(lease) => Ok(Some(*lease)),
                Renewed::Lost(_) => Ok(None),
            };
        }
        let current = match self.api.get(LEADER_LEASE).await {
            Ok(current) => current,
            Err(e) if is_status(&e, 404) => {
                let mut lease = self.lease_for(
                    &Episode {
                        name: LEADER_LEASE.to_owned(),
                        rule: String::new(),
                        episode: String::new(),
                        fingerprint: None,
                        alertname: None,
                        group_key: String::new(),
                        run: 0,
                        reclaim_after: None,
                    },
                    now,
                );
                lease.metadata.labels = Some(BTreeMap::from([
                    (keys::MANAGED_BY.to_owned(), "alertrun".to_owned()),
                    (keys::KIND.to_owned(), "leader".to_owned()),
                ]));
                lease.metadata.annotations = None;
                return match self.api.create(&PostParams::default(), &lease).await {
                    Ok(created) => Ok(Some(created)),
                    Err(e) if is_status(&e, 409) => Ok(None),
                    Err(e) => Err(self.error("create", LEADER_LEASE, e)),
                };
            }
            Err(e) => return Err(self.error("get", LEADER_LEASE, e)),
        };
        if holder(&current) == self.replica || is_lost(&current, now) {
            let mut next = current;
            let spec = next.spec.get_or_insert_with(LeaseSpec::default);
            if spec.holder_identity.as_deref() != Some(&self.replica) {
                spec.holder_identity = Some(self.replica.clone());
                spec.acquire_time = Some(micro(now));
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            spec.renew_time = Some(micro(now));
            spec.lease_duration_seconds = Some(self.lease_seconds());
            return match self
                .api
                .replace(LEADER_LEASE, &PostParams::default(), &next)
                .await
            {
                Ok(written) => Ok(Some(written)),
                Err(e) if is_status(&e, 409) => Ok(None),
                Err(e) => Err(self.error("update", LEADER_LEASE, e)),
            };
        }
        Ok(None)
    }
}

/// What a replica that lost the race for an episode learns on a later look.
#[derive(Clone, Debug)]
pub(crate) enum Watched {
    /// Its owner still renews it.
    Alive,
    /// It is done (finished, orphaned, pruned, or ours): nothing more to watch.
    Done,
    /// Its owner (named) stopped renewing it while it ran: the Lease as read, to settle.
    Lost(Box<Lease>, String),
}

/// A write to this replica's own claim.
#[derive(Clone, Debug)]
pub(crate) enum Renewed {
    /// Written: the claim as it is now.
    Held(Box<Lease>),
    /// No longer ours: another replica took it over (or it was deleted).
    Lost(Owner),
}

fn view_of(lease: &Lease) -> ClaimView {
    let owner = owner_of(lease);
    ClaimView {
        name: lease.metadata.name.clone().unwrap_or_default(),
        rule: annotation(lease, keys::RULE_NAME)
            .unwrap_or_default()
            .to_owned(),
        episode: annotation(lease, keys::EPISODE)
            .unwrap_or_default()
            .to_owned(),
        fingerprint: lease
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(keys::FINGERPRINT))
            .cloned(),
        replica: owner.replica,
        run: owner.run,
        url: owner.url,
        state: owner.state,
        outcome: annotation(lease, keys::OUTCOME).map(str::to_owned),
        renewed_at: renewed_ms(lease),
    }
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
