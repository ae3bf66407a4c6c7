//! Verdicts: whether a remediation worked, judged by whether its alert went away.
//!
//! A run of a rule with `verify: {within, recurrence}` that **succeeded** is watched:
//!
//! ```text
//!   succeeded ──(resolved notification within `within`)──> effective ──(fires again,
//!       │                                                  new startsAt, within
//!       │                                                  `recurrence`)──> recurred
//!       └──(window ends: Alertmanager still has it firing)──> ineffective
//!       └──(window ends: Alertmanager no longer has it)─────> effective (time unknown)
//!       └──(window ends: Alertmanager does not answer)──────> unknown
//! ```
//!
//! A per-alert run watches its alert's fingerprint; a per-group run watches its group, which
//! resolves when a notification of that group says `status: resolved` (every alert in it
//! resolved). The time to resolve runs from the action's end to the alert's `endsAt` (the
//! latest of the group's), never below zero. `unknown` is never counted as effective; it
//! feeds nothing to the circuit breaker, while `ineffective` and `recurred` count as runs
//! that did not resolve the alert.
//!
//! What this module is: the watches and the decisions, pure and synchronous, with time
//! passed in. What it is not: it asks no Alertmanager (the dispatcher does, for the watches
//! [`Verifications::due`] returns, and hands the answer to [`Verifications::answered`]),
//! writes nothing (each change is given out by [`Verifications::take_changes`], for the
//! store) and updates no run record.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::key::RuleName;
use super::ledger::RunId;
use super::rails::Target;

/// What a watch waits for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Watched {
    /// One alert, by fingerprint.
    Alert(String),
    /// A group, by Alertmanager's group key.
    Group(String),
}

/// The verdict on a run, as stored on it and counted in
/// `alertrun_remediation_verdicts_total{verdict}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Waiting for the alert to resolve, or for the window to end.
    Pending,
    /// The alert resolved within the window.
    Effective,
    /// The alert was still firing when the window ended.
    Ineffective,
    /// It resolved, then fired again within the recurrence window.
    Recurred,
    /// Nobody could say: Alertmanager did not answer at the window's end.
    Unknown,
}

impl VerdictKind {
    /// Its name, as the metric label and the API give it.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Pending => "pending",
            VerdictKind::Effective => "effective",
            VerdictKind::Ineffective => "ineffective",
            VerdictKind::Recurred => "recurred",
            VerdictKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What Alertmanager said of a watched alert at the window's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// It has it firing (active, or silenced or inhibited: still firing).
    Firing,
    /// It does not have it firing any more.
    Gone,
    /// It could not be asked, or did not answer in time; why.
    Unreachable(String),
}

/// One watch: a succeeded run waiting for its verdict, or an effective one watched for
/// recurrence. Stored as it is (a store setting), so that a restart keeps watching.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Watch {
    /// The run's rule.
    pub rule: String,
    /// What the rails count it against (as [`Target`] writes it).
    pub target: String,
    /// What resolves it.
    pub watched: Watched,
    /// The labels to ask Alertmanager about (the alert's; a group's common labels).
    pub labels: BTreeMap<String, String>,
    /// The Alertmanager that sent it (`externalURL`).
    pub external_url: String,
    /// When the action ended (unix ms).
    pub ended_at: i64,
    /// When the window ends (unix ms).
    pub until: i64,
    /// The recurrence window (ms).
    pub recurrence_ms: i64,
    /// Set once effective: when the alert resolved (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
}

/// A verdict reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decided {
    /// The run.
    pub id: RunId,
    /// Its rule.
    pub rule: RuleName,
    /// Its target.
    pub target: Target,
    /// The verdict.
    pub verdict: VerdictKind,
    /// From the action's end to the alert's resolution (effective, when known).
    pub resolve_ms: Option<i64>,
    /// Why, in words, for the run's timeline.
    pub why: String,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Verifications {
    watches: HashMap<RunId, Watch>,
    /// The watches by what they watch.
    by_watched: HashMap<Watched, HashSet<RunId>>,
    /// Watches whose window ended and whose answer is being asked.
    asking: HashSet<RunId>,
    /// Watches changed (or gone: `None`) since the last [`Verifications::take_changes`].
    changed: HashSet<RunId>,
}

impl Verifications {
    /// No watches.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Watches run `id` (restored from the store, or just succeeded).
    pub(crate) fn watch(&mut self, id: RunId, watch: Watch) {
        self.by_watched
            .entry(watch.watched.clone())
            .or_default()
            .insert(id);
        self.watches.insert(id, watch);
        self.changed.insert(id);
    }

    /// Whether nothing is watched.
    pub(crate) fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// `watched` resolved at `ends_at` (Alertmanager's `endsAt`, unix ms), seen at `now`:
    /// the runs it makes effective.
    pub(crate) fn resolved(&mut self, watched: &Watched, ends_at: i64, now: i64) -> Vec<Decided> {
        let ids: Vec<RunId> = self.ids_of(watched);
        let mut out = Vec::new();
        for id in ids {
            let Some(w) = self.watches.get_mut(&id) else {
                continue;
            };
            if w.resolved_at.is_some() || now > w.until || self.asking.contains(&id) {
                continue;
            }
            let resolve_ms = ends_at.min(now).saturating_sub(w.ended_at).max(0);
            w.resolved_at = Some(now);
            self.changed.insert(id);
            out.push(Decided {
                id,
                rule: RuleName::from(w.rule.as_str()),
                target: Target::named(&w.target),
                verdict: VerdictKind::Effective,
                resolve_ms: Some(resolve_ms),
                why: format!(
                    "effective: the alert resolved {} after the action ended",
                    seconds(resolve_ms)
                ),
            });
        }
        out
    }

    /// `watched` fires with `starts_at` (unix ms), seen at `now`: the effective runs it
    /// makes recurred (an alert that started after it resolved, within the recurrence
    /// window).
    pub(crate) fn fired(&mut self, watched: &Watched, starts_at: i64, now: i64) -> Vec<Decided> {
        let mut out = Vec::new();
        for id in self.ids_of(watched) {
            let Some(w) = self.watches.get(&id) else {
                continue;
            };
            let Some(resolved_at) = w.resolved_at else {
                continue;
            };
            // Still the episode that resolved (a late re-send), or past the window.
            let new_episode = matches!(w.watched, Watched::Group(_)) || starts_at > w.ended_at;
            if !new_episode || now > resolved_at.saturating_add(w.recurrence_ms) {
                continue;
            }
            let w = self.forget(id).expect("just seen");
            out.push(Decided {
                id,
                rule: RuleName::from(w.rule.as_str()),
                target: Target::named(&w.target),
                verdict: VerdictKind::Recurred,
                resolve_ms: None,
                why: format!(
                    "recurred: the alert fired again {} after it resolved",
                    seconds(now.saturating_sub(resolved_at))
                ),
            });
        }
        out
    }

    /// The watches whose window ended by `now` and that wait for a verdict: ask
    /// Alertmanager about each, then call [`Verifications::answered`]. Each is returned once
    /// (until answered). Also forgets effective runs past their recurrence window.
    pub(crate) fn due(&mut self, now: i64) -> Vec<(RunId, Watch)> {
        let done: Vec<RunId> = self
            .watches
            .iter()
            .filter(|(_, w)| {
                w.resolved_at
                    .is_some_and(|at| now > at.saturating_add(w.recurrence_ms))
            })
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            self.forget(id);
        }
        let mut due: Vec<(RunId, Watch)> = self
            .watches
            .iter()
            .filter(|(id, w)| {
                w.resolved_at.is_none() && now > w.until && !self.asking.contains(*id)
            })
            .map(|(id, w)| (*id, w.clone()))
            .collect();
        due.sort_by_key(|(id, _)| *id);
        self.asking.extend(due.iter().map(|(id, _)| *id));
        due
    }

    /// Alertmanager's `answer` on run `id`'s alert at its window's end, at `now`.
    pub(crate) fn answered(&mut self, id: RunId, answer: &Answer, now: i64) -> Option<Decided> {
        if !self.asking.remove(&id) {
            return None;
        }
        let w = self.watches.get(&id)?;
        if w.resolved_at.is_some() {
            return None;
        }
        let (verdict, why) = match answer {
            Answer::Firing => (
                VerdictKind::Ineffective,
                format!(
                    "ineffective: the alert was still firing {} after the action ended",
                    seconds(w.until.saturating_sub(w.ended_at))
                ),
            ),
            Answer::Gone => (
                VerdictKind::Effective,
                "effective: Alertmanager no longer had the alert firing at the window's end \
                 (when it resolved is not known)"
                    .to_owned(),
            ),
            Answer::Unreachable(e) => (
                VerdictKind::Unknown,
                format!("unknown: Alertmanager could not be asked at the window's end: {e}"),
            ),
        };
        let decided = Decided {
            id,
            rule: RuleName::from(w.rule.as_str()),
            target: Target::named(&w.target),
            verdict,
            resolve_ms: None,
            why,
        };
        if verdict == VerdictKind::Effective {
            let w = self.watches.get_mut(&id).expect("seen above");
            w.resolved_at = Some(now);
            self.changed.insert(id);
        } else {
            self.forget(id);
        }
        Some(decided)
    }

    /// What changed since the last call, for the store: each watch, or `None` for one gone.
    pub(crate) fn take_changes(&mut self) -> Vec<(RunId, Option<Watch>)> {
        let mut ids: Vec<RunId> = self.changed.drain().collect();
        ids.sort_unstable();
        ids.into_iter()
            .map(|id| (id, self.watches.get(&id).cloned()))
            .collect()
    }

    fn ids_of(&self, watched: &Watched) -> Vec<RunId> {
        let mut ids: Vec<RunId> = self
            .by_watched
            .get(watched)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    fn forget(&mut self, id: RunId) -> Option<Watch> {
        let w = self.watches.remove(&id)?;
        if let Some(ids) = self.by_watched.get_mut(&w.watched) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_watched.remove(&w.watched);
            }
        }
        self.asking.remove(&id);
        self.changed.insert(id);
        Some(w)
    }
}

/// The first part of the store setting that holds a watch.
const SETTING: &str = "verify";

/// The name of the store setting that holds run `id`'s watch: `verify␟id`.
pub(crate) fn setting_name(id: RunId) -> String {
    format!("{SETTING}\u{1f}{id}")
}

/// The run of a setting named by [`setting_name`]; `None` for another setting.
pub(crate) fn parse_setting_name(name: &str) -> Option<RunId> {
    name.strip_prefix(SETTING)?
        .strip_prefix('\u{1f}')?
        .parse()
        .ok()
}

/// Milliseconds as seconds, for people: "42s", "1.5s".
fn seconds(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
