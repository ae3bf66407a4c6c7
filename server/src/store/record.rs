//! What the store keeps: runs, their states, and the batches and queries that move them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub(crate) use crate::lifecycle::{RunState, Transition};

/// One run of one rule's action, for one alert or one group, as stored.
///
/// The caller fills in every field; the store keeps the record whole and replaces it
/// whole when a `Batch` holds the same `id` again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique id, from the same counter as notification ids.
    pub id: u64,
    /// Name of the rule that selected the alert.
    pub rule: String,
    /// Executor kind, e.g. "process".
    pub executor: String,
    /// Id of the stored notification body this run came from.
    pub notification: u64,
    /// Index into the notification's alerts for a per-alert run; `None` for a per-group run.
    pub alert_index: Option<usize>,
    /// Fingerprint of the alert (of the group for a per-group run).
    pub fingerprint: String,
    /// Labels of the alert (common labels for a per-group run).
    pub labels: BTreeMap<String, String>,
    /// "firing" or "resolved".
    pub status: String,
    /// The alert's `startsAt`, as Alertmanager sent it.
    pub starts_at: String,
    /// Alertmanager's group key.
    pub group_key: String,
    /// Alertmanager's receiver name.
    pub receiver: String,
    /// The key that keeps this run from being started twice.
    pub dedupe_key: String,
    /// Where the run is in its life.
    pub state: RunState,
    /// Why it was skipped, failed or interrupted.
    pub reason: Option<String>,
    /// When the run was created, in unix milliseconds.
    pub created_at: i64,
    /// When the action started, in unix milliseconds.
    pub started_at: Option<i64>,
    /// When the action ended, in unix milliseconds.
    pub ended_at: Option<i64>,
    /// How the action exited: "exit 0", "signal 15".
    pub exit: Option<String>,
    /// What ended the action early: "timeout", "resolved", "shutdown".
    pub ended_by: Option<String>,
    /// Tail of the action's standard output (lossy UTF-8).
    pub stdout: String,
    /// Tail of the action's standard error (lossy UTF-8).
    pub stderr: String,
    /// The program and its arguments, secrets already redacted.
    pub argv: Vec<String>,
    /// The action's environment, secret values already redacted.
    pub env: Vec<(String, String)>,
    /// Whether the action was only rendered, not run.
    pub dry_run: bool,
    /// Every state the run entered, oldest first, with when and why (records of earlier
    /// releases have none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Transition>,
    /// What the backend started (a process group, a Job), stored as soon as it started, so
    /// that a restarted alertrun can end or follow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<alert_core::Started>,
    /// Whether its action worked: set when it succeeded under a rule with `verify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<RunVerdict>,
    /// The silence alertrun made in Alertmanager while the action ran (a rule with
    /// `silence_while_running`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence: Option<RunSilence>,
    /// What its approval waits for and who decided: set for a rule with `approval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRecord>,
    /// What became of the notifications about it (`notify:` sinks), one per sink and event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotificationStatus>,
    /// With `server.ha`: the claim of its episode, and which replica holds it (this one for
    /// a run it ran; another for a run recorded `skipped` because that one claimed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<RunClaim>,
}

/// Which replica runs an episode (`server.ha`), as the run's claim said when recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunClaim {
    /// The claim's name (a Lease in the claims' namespace).
    pub name: String,
    /// The replica holding it.
    pub replica: String,
    /// That replica's run id, when another replica holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u64>,
    /// Where that replica's API answers, when another replica holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A run's approval: what was asked to be approved, until when, and the decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// `sha256:<hex>` of the rendered action (rule, executor, argv and env as recorded,
    /// secrets redacted): what an approval approves, and what runs.
    pub digest: String,
    /// When it times out, in unix milliseconds.
    pub expires_at: i64,
    /// Distinct approvals needed.
    pub min_approvals: u32,
    /// The decisions so far, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<ApprovalDecision>,
}

/// One person's decision on a run waiting for approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    /// `approve` or `reject`.
    pub decision: String,
    /// Who: the name decided for (`by=`), or the caller's identity.
    pub by: String,
    /// How: `api`, `cli` or `link`, with the caller's identity when it differs from `by`.
    pub how: String,
    /// When, in unix milliseconds.
    pub at: i64,
    /// Their comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// How one notification about a run went: its sink, its event, and its delivery so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationStatus {
    /// The sink's name.
    pub sink: String,
    /// The event: `started`, `finished`, `verdict`, `awaiting_approval`, `breaker`.
    pub event: String,
    /// `pending` (still being tried), `ok` (delivered) or `error` (given up).
    pub result: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The verdict on a succeeded run (see `verify:` in the README's "Safety").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunVerdict {
    /// `pending` until decided.
    pub verdict: crate::lifecycle::VerdictKind,
    /// When the verification window ends, in unix milliseconds.
    pub until: i64,
    /// When it was decided, in unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    /// From the action's end to the alert's `endsAt`, in milliseconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_ms: Option<i64>,
}

/// A run's silence in Alertmanager: where, its id once made, and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSilence {
    /// The Alertmanager's base URL; empty when the notification named none and
    /// `alertmanager.url` is not set.
    pub alertmanager: String,
    /// Its id, once Alertmanager made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When it ends unless expired first, in unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
    /// When alertrun expired it, in unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<i64>,
    /// Why it could not be made, or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything one [`Store::commit`](super::Store::commit) writes, in one transaction.
#[derive(Default, Debug, Clone)]
pub struct Batch {
    /// Notification bodies (the webhook's JSON) by id; an existing id is replaced. Shared,
    /// so that the runs of a notification can keep its body without a copy.
    pub notifications: Vec<(u64, std::sync::Arc<[u8]>)>,
    /// Runs to insert, or to replace where the id exists.
    pub runs: Vec<RunRecord>,
    /// Dedupe entries to insert or replace.
    pub dedupe: Vec<(String, DedupeEntry)>,
    /// Dedupe keys to remove. Applied before `dedupe`, so a key in both is kept.
    pub dedupe_remove: Vec<String>,
    /// Settings to put (`Some`) or delete (`None`), by name: what alertrun keeps besides
    /// runs, in step with them (the rails' state of a target, written with the run that
    /// changed it). See [`Store::settings`](super::Store::settings).
    pub settings: Vec<(String, Option<Vec<u8>>)>,
}

impl Batch {
    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.notifications.is_empty()
            && self.runs.is_empty()
            && self.dedupe.is_empty()
            && self.dedupe_remove.is_empty()
            && self.settings.is_empty()
    }

    /// Adds `other`'s writes after this batch's.
    pub fn merge(&mut self, other: Batch) {
        self.notifications.extend(other.notifications);
        self.runs.extend(other.runs);
        self.dedupe.extend(other.dedupe);
        self.dedupe_remove.extend(other.dedupe_remove);
        self.settings.extend(other.settings);
    }
}

/// A dedupe entry: when the episode's last run was accepted, and when the episode was
/// last delivered (unix ms). [`Store::prune`](super::Store::prune) deletes entries by
/// the second, so an episode that keeps firing stays deduplicated however long it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DedupeEntry {
    /// When its last run was accepted.
    pub ran_at: i64,
    /// When it was last delivered.
    pub seen_at: i64,
}

impl DedupeEntry {
    /// An entry run and seen at `at`.
    pub fn at(at: i64) -> Self {
        Self {
            ran_at: at,
            seen_at: at,
        }
    }
}

/// What a restart needs, from [`Store::recover`](super::Store::recover).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovery {
    /// The next free id: one past the highest run or notification id ever committed, or 1.
    pub next_id: u64,
    /// Every dedupe entry, by key.
    pub dedupe: Vec<(String, DedupeEntry)>,
    /// Every unfinished run ([`RunState::is_unfinished`]), oldest (lowest id) first.
    pub unfinished: Vec<RunRecord>,
    /// The notification bodies that the unfinished runs refer to, by id.
    pub notifications: BTreeMap<u64, Vec<u8>>,
}

/// Which runs [`Store::runs`](super::Store::runs) lists. Filters are ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs of this rule.
    pub rule: Option<String>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// Only runs with this fingerprint.
    pub fingerprint: Option<String>,
    /// Only runs whose alert's `alertname` label is this one (not indexed: see
    /// `max_scanned`).
    pub alertname: Option<String>,
    /// Only runs whose labels hold each of these `(name, value)` pairs: a target's labels
    /// (not indexed: see `max_scanned`).
    pub labels: Vec<(String, String)>,
    /// Only runs created at or after this time, in unix milliseconds.
    ///
    /// Runs are listed newest first and the listing stops at the first run created before
    /// `since`: this relies on ids being handed out in creation order. A run whose
    /// `created_at` is out of order (the clock stepped back) may be left out.
    pub since: Option<i64>,
    /// Only runs created before this time, in unix milliseconds. The listing starts at the
    /// newest run created before it, found by a binary search over ids (which relies on
    /// ids being handed out in creation order, like `since`).
    pub until: Option<i64>,
    /// Only runs with an id below this one: the paging cursor (the last id of the
    /// previous page).
    pub before: Option<u64>,
    /// Look at no more than this many runs (none: no bound). A listing by a filter no
    /// index serves (fingerprint, alertname) that matches rarely would read the whole
    /// history; with a bound it stops, and [`RunPage::next`] says where to go on.
    pub max_scanned: Option<usize>,
    /// At most this many runs; capped at [`RunFilter::MAX_LIMIT`]; 0 lists none.
    pub limit: usize,
}

impl RunFilter {
    /// The most runs one listing returns.
    pub const MAX_LIMIT: usize = 1000;
    /// The limit of [`RunFilter::default`].
    pub const DEFAULT_LIMIT: usize = 100;
}

impl Default for RunFilter {
    /// No filters, [`RunFilter::DEFAULT_LIMIT`] runs.
    fn default() -> Self {
        RunFilter {
            rule: None,
            state: None,
            fingerprint: None,
            alertname: None,
            labels: Vec::new(),
            since: None,
            until: None,
            before: None,
            max_scanned: None,
            limit: RunFilter::DEFAULT_LIMIT,
        }
    }
}

/// One page of a listing ([`Store::runs_page`](super::Store::runs_page)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunPage {
    /// The runs found, newest first.
    pub runs: Vec<RunRecord>,
    /// The `before` of the next page: the last run listed when the page is full, the last
    /// run looked at when `max_scanned` stopped the scan; none when the history ends here.
    pub next: Option<u64>,
    /// How many runs were looked at.
    pub scanned: usize,
}

/// A rule's recent activity, from the store's rule index ([`Store::rule_activity`](super::Store::rule_activity)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleActivity {
    /// Its newest run.
    pub last: Option<RunRecord>,
    /// Its runs created in the last hour.
    pub last_hour: u64,
    /// Its runs created in the last day.
    pub last_day: u64,
}

/// The few fields of a stored run that indexes, filters and pruning look at, decoded
/// without copying the rest (output tails can be large).
#[derive(Deserialize)]
pub(super) struct RunHead<'a> {
    #[serde(borrow)]
    pub(super) rule: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub(super) fingerprint: std::borrow::Cow<'a, str>,
    pub(super) notification: u64,
    pub(super) state: RunState,
    pub(super) created_at: i64,
    /// Only `alertname` of the labels is decoded.
    #[serde(borrow, default)]
    pub(super) labels: HeadLabels<'a>,
}

/// The labels of a [`RunHead`]: `alertname` alone.
#[derive(Deserialize, Default)]
pub(super) struct HeadLabels<'a> {
    #[serde(borrow, default)]
    pub(super) alertname: Option<std::borrow::Cow<'a, str>>,
}

impl RunHead<'_> {
    /// The same head, owning its strings.
    pub(super) fn into_owned(self) -> RunHead<'static> {
        RunHead {
            rule: std::borrow::Cow::Owned(self.rule.into_owned()),
            fingerprint: std::borrow::Cow::Owned(self.fingerprint.into_owned()),
            notification: self.notification,
            state: self.state,
            created_at: self.created_at,
            labels: HeadLabels {
                alertname: self
                    .labels
                    .alertname
                    .map(|a| std::borrow::Cow::Owned(a.into_owned())),
            },
        }
    }

    /// Whether the run passes the filter's field tests (`before` and `since` are the
    /// caller's: they steer the scan).
    pub(super) fn matches(&self, filter: &RunFilter) -> bool {
        filter.rule.as_deref().is_none_or(|r| r == self.rule)
            && filter.state.is_none_or(|s| s == self.state)
            && filter
                .fingerprint
                .as_deref()
                .is_none_or(|f| f == self.fingerprint)
            && filter
                .alertname
                .as_deref()
                .is_none_or(|a| self.labels.alertname.as_deref() == Some(a))
    }
}
