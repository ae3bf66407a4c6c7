//! The rails: the brakes a selected alert passes before its run is queued.
//!
//! A rule that selected an alert, and whose episode is due (dedupe and cooldown, the
//! [`Ledger`](super::Ledger)'s), still does not run when a rail holds it back. The rails
//! are asked in a fixed order, and the first that refuses names the reason the run is
//! recorded `skipped` with ([`Rail`]):
//!
//! 1. **paused**: an operator paused alertrun (`alertrun pause --reason`); several reasons
//!    can hold at once, and alertrun runs again when the last is lifted. Runs already
//!    started go on.
//! 2. **muted**: the rule's maintenance windows (`mute_time_intervals`, or
//!    `active_time_intervals` that do not hold now), decided by the caller and passed in.
//! 3. **storm**: more distinct targets of the rule fired within its window than its
//!    `max_targets`: a mass outage is not a job for per-target remediation, so none of them
//!    is acted on until the storm drains.
//! 4. **circuit_open**: the rule's last runs on this target failed (or did not help)
//!    several times in a row; the breaker lets one trial run through after a back-off
//!    (half-open), closes when it succeeds and opens again, with a longer back-off, when it
//!    fails. An operator can close it at once (`reset`).
//! 5. **rate_limited**: the rule already ran `count` times on this target within `per`.
//!
//! Silences (`respect_silences`) need Alertmanager's answer, so the dispatcher asks them
//! last, after these rails admitted a run.
//!
//! A **target** is what a rule acts on, named by label values (`target: [namespace, pod]`)
//! or, by default, by the alert's fingerprint. Rate limits and breakers count per (rule,
//! target); the storm gate counts distinct targets per rule.
//!
//! What this module is: the rails' state and decisions, pure and synchronous, with time
//! passed in (unit-tested with a hand-moved clock). What it is not: it reads no clock,
//! writes nothing and knows no config file. The dispatcher asks it under the same lock as
//! the ledger, and stores the pauses (the operator's) and each target's state as store
//! settings.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::key::RuleName;
use super::ledger::RunId;
use super::state::RunState;
use crate::config::{BreakerSettings, Rails as RailPolicy, StormGate};

/// What a rule's run acts on: the values of the rule's target labels, or the alert's
/// fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Target(Arc<str>);

impl Target {
    /// The target of an alert with `labels` and `fingerprint` under `rails` (see
    /// [`RailPolicy::target_of`]).
    pub(crate) fn of(
        rails: &RailPolicy,
        labels: &BTreeMap<String, String>,
        fingerprint: &str,
    ) -> Self {
        Self(Arc::from(rails.target_of(labels, fingerprint)))
    }

    /// A target by its text, as [`Target::of`] wrote it (an operator names one to reset).
    pub(crate) fn named(text: &str) -> Self {
        Self(Arc::from(text))
    }

    /// The target as text.
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A rail, in the order they are asked; also the `reason` label of
/// `alertrun_rule_skips_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Rail {
    /// alertrun is paused.
    Paused,
    /// Outside the rule's active time, or inside a mute time.
    Muted,
    /// Too many targets fire at once.
    Storm,
    /// The breaker of (rule, target) is open.
    CircuitOpen,
    /// The rule ran on the target as often as its rate limit allows.
    RateLimited,
    /// A silence someone else made covers the alert (`crate::serve::silences`).
    Silenced,
}

impl Rail {
    /// Every rail, in the order they are asked.
    #[cfg(test)]
    pub(crate) const ORDER: [Rail; 6] = [
        Rail::Paused,
        Rail::Muted,
        Rail::Storm,
        Rail::CircuitOpen,
        Rail::RateLimited,
        Rail::Silenced,
    ];

    /// Its name in metrics, records and `explain`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Rail::Paused => "paused",
            Rail::Muted => "muted",
            Rail::Storm => "storm",
            Rail::CircuitOpen => "circuit_open",
            Rail::RateLimited => "rate_limited",
            Rail::Silenced => "silenced",
        }
    }
}

impl fmt::Display for Rail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rail's refusal: which, and why, in words for the run record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Held {
    /// The rail.
    pub rail: Rail,
    /// Why, e.g. "circuit open until 2026-12-05T10:00:00Z after 3 failed runs".
    pub reason: String,
}

/// One reason alertrun is paused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pause {
    /// The reason, as the operator gave it; also its key.
    pub reason: String,
    /// Who paused (the token's or user's name, or "cli").
    pub by: String,
    /// When, in unix milliseconds.
    pub at: i64,
}

/// A circuit breaker's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum Breaker {
    /// Runs go through; counts the failures and ineffective runs in a row.
    Closed {
        /// Failed runs in a row.
        failures: u32,
        /// Runs judged ineffective in a row.
        ineffective: u32,
    },
    /// Runs are skipped until `until`.
    Open {
        /// Unix ms when it lets a trial through.
        until: i64,
        /// How many times it opened since it was last closed.
        trips: u32,
        /// Why it opened.
        why: String,
    },
    /// One trial run may go; `trial` is it, once admitted.
    HalfOpen {
        /// How many times it opened since it was last closed.
        trips: u32,
        /// The trial run, while it has not ended.
        trial: Option<RunId>,
    },
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker::Closed {
            failures: 0,
            ineffective: 0,
        }
    }
}

impl Breaker {
    /// Whether it keeps runs from starting at `now` (open, or half-open with a trial out).
    fn holds(&self, now: i64) -> bool {
        match self {
            Breaker::Closed { .. } => false,
            Breaker::Open { until, .. } => now < *until,
            Breaker::HalfOpen { trial, .. } => trial.is_some(),
        }
    }

    /// Whether it is open or half-open (for the `alertrun_circuit_open` gauge).
    pub(crate) fn is_open(&self) -> bool {
        !matches!(self, Breaker::Closed { .. })
    }
}

/// How a run ended, as the breaker counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Succeeded.
    Succeeded,
    /// Failed, timed out or could not start.
    Failed,
    /// Neither: cancelled, interrupted, skipped, state unknown.
    Neutral,
}

impl Outcome {
    /// How the breaker counts a run that ended in `state`.
    pub(crate) fn of(state: RunState) -> Self {
        match state {
            RunState::Succeeded => Outcome::Succeeded,
            RunState::Failed | RunState::TimedOut | RunState::FailedToStart => Outcome::Failed,
            _ => Outcome::Neutral,
        }
    }
}

/// A verdict on a succeeded run: whether its alert went away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The alert resolved within the verification window.
    Effective,
    /// It was still firing at the window's end, or fired again soon after.
    Ineffective,
    /// Nobody could say (Alertmanager did not answer): counts neither way.
    Unknown,
}

/// A breaker that changed between open and closed, for the log line and the gauge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BreakerChange {
    /// The rule.
    pub rule: RuleName,
    /// The target.
    pub target: Target,
    /// Its new state.
    pub breaker: Breaker,
}

/// What the rails remember of one (rule, target), as the store keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TargetState {
    /// When its admitted runs were admitted (unix ms), oldest first, within the longest
    /// rate window seen.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub admitted: VecDeque<i64>,
    /// Its breaker.
    #[serde(default)]
    pub breaker: Breaker,
}

impl TargetState {
    /// Whether it holds nothing worth keeping (it can be forgotten).
    fn is_blank(&self) -> bool {
        self.admitted.is_empty() && self.breaker == Breaker::default()
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Rails {
    pauses: BTreeMap<String, Pause>,
    targets: HashMap<(RuleName, Target), TargetState>,
    /// Per rule: the firing targets and when each was last seen firing.
    storms: HashMap<RuleName, HashMap<Target, i64>>,
    /// Runs admitted and not yet ended: which (rule, target) they count for, and the
    /// breaker settings of their rule when they were admitted.
    live: HashMap<RunId, ((RuleName, Target), BreakerSettings)>,
    /// Targets whose state changed since [`Rails::take_changes`].
    changed: HashSet<(RuleName, Target)>,
}

impl Rails {
    /// Empty rails: not paused, every breaker closed.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Restores the pauses the store kept.
    pub(crate) fn restore_pauses(&mut self, pauses: Vec<Pause>) {
        self.pauses = pauses.into_iter().map(|p| (p.reason.clone(), p)).collect();
    }

    /// Restores the state of (rule, target) the store kept. A half-open breaker's trial
    /// run did not survive the restart (no run does), so it waits for a trial again.
    pub(crate) fn restore_target(
        &mut self,
        rule: RuleName,
        target: Target,
        mut state: TargetState,
    ) {
        if let Breaker::HalfOpen { trial, .. } = &mut state.breaker {
            *trial = None;
        }
        self.targets.insert((rule, target), state);
    }

    /// What changed since the last call, to store with the write that changed it: each
    /// target's state, or `None` for one forgotten.
    pub(crate) fn take_changes(&mut self) -> Vec<(RuleName, Target, Option<TargetState>)> {
        let mut keys: Vec<(RuleName, Target)> = self.changed.drain().collect();
        keys.sort();
        keys.into_iter()
            .map(|key| {
                let state = self.targets.get(&key).cloned();
                (key.0, key.1, state)
            })
            .collect()
    }

    /// Pauses alertrun for `reason`. Returns whether that reason was new.
    pub(crate) fn pause(&mut self, reason: &str, by: &str, now: i64) -> bool {
        if self.pauses.contains_key(reason) {
            return false;
        }
        self.pauses.insert(
            reason.to_owned(),
            Pause {
                reason: reason.to_owned(),
                by: by.to_owned(),
                at: now,
            },
        );
        true
    }

    /// Lifts the pause of `reason`, or every pause when `None`; returns how many were lifted.
    pub(crate) fn resume(&mut self, reason: Option<&str>) -> usize {
        match reason {
            Some(reason) => usize::from(self.pauses.remove(reason).is_some()),
            None => std::mem::take(&mut self.pauses).len(),
        }
    }

    /// The pauses holding, oldest reason first by name.
    pub(crate) fn pauses(&self) -> impl Iterator<Item = &Pause> {
        self.pauses.values()
    }

    /// Notes that `target` of `rule` fires (or resolved, when `firing` is false) at `now`,
    /// for the storm gate. Call it for every selection of a notification before asking
    /// [`Rails::check`] about any, so that a storm arriving in one notification stops all
    /// of it, not all but the first few.
    pub(crate) fn observe(
        &mut self,
        rule: &RuleName,
        target: &Target,
        firing: bool,
        storm: Option<StormGate>,
        now: i64,
    ) {
        let Some(storm) = storm else {
            self.storms.remove(rule);
            return;
        };
        let seen = self.storms.entry(rule.clone()).or_default();
        if firing {
            seen.insert(target.clone(), now);
        } else {
            seen.remove(target);
        }
        seen.retain(|_, at| now.saturating_sub(*at) < ms(storm.within));
    }

    /// Asks the rails, in order, whether `rule` may run on `target` at `now`. `muted` is
    /// the caller's answer for the rule's time intervals. Asking changes nothing but an
    /// open breaker whose back-off ended, which becomes half-open.
    ///
    /// # Errors
    /// [`Held`]: the first rail that refuses, with why.
    pub(crate) fn check(
        &mut self,
        rule: &RuleName,
        target: &Target,
        policy: &RailPolicy,
        muted: Option<&str>,
        now: i64,
    ) -> Result<(), Held> {
        if let Some(reason) = self.paused_reason() {
            return Err(Held {
                rail: Rail::Paused,
                reason,
            });
        }
        if let Some(why) = muted {
            return Err(Held {
                rail: Rail::Muted,
                reason: why.to_owned(),
            });
        }
        if let Some(storm) = policy.max_targets {
            let firing = self.storm_size(rule, storm, now);
            if firing > storm.max_targets {
                return Err(Held {
                    rail: Rail::Storm,
                    reason: format!(
                        "{firing} targets of rule {rule} fired within {}, more than its max_targets {}: none is acted on until fewer fire",
                        duration_text(ms(storm.within)),
                        storm.max_targets
                    ),
                });
            }
        }
        let key = (rule.clone(), target.clone());
        if let Some(state) = self.targets.get_mut(&key) {
            if let Breaker::Open { until, trips, .. } = state.breaker
                && now >= until
            {
                state.breaker = Breaker::HalfOpen { trips, trial: None };
                self.changed.insert(key.clone());
            }
            if state.breaker.holds(now) {
                return Err(Held {
                    rail: Rail::CircuitOpen,
                    reason: breaker_text(&state.breaker),
                });
            }
            if let Some(rate) = policy.max_runs {
                let recent = state
                    .admitted
                    .iter()
                    .filter(|at| now.saturating_sub(**at) < ms(rate.per))
                    .count();
                if recent >= rate.count as usize {
                    let next = state
                        .admitted
                        .iter()
                        .rev()
                        .nth(rate.count as usize - 1)
                        .map_or(now, |at| at + ms(rate.per));
                    return Err(Held {
                        rail: Rail::RateLimited,
                        reason: format!(
                            "rule {rule} ran {recent} times on {target} within {} (max_runs {}); the next run may go at {}",
                            duration_text(ms(rate.per)),
                            rate.count,
                            rfc3339(next)
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Follows run `id` of (rule, target) again after a restart, without counting it (its
    /// admission was counted, and stored, before): its end feeds the breaker.
    pub(crate) fn follow(
        &mut self,
        id: RunId,
        rule: &RuleName,
        target: &Target,
        breaker: BreakerSettings,
    ) {
        self.live
            .insert(id, ((rule.clone(), target.clone()), breaker));
    }

    /// Counts run `id`, admitted at `now`, against (rule, target): its rate limit, and the
    /// breaker's trial when half-open.
    pub(crate) fn admitted(
        &mut self,
        id: RunId,
        rule: &RuleName,
        target: &Target,
        policy: &RailPolicy,
        now: i64,
    ) {
        let key = (rule.clone(), target.clone());
        let half_open = matches!(
            self.targets.get(&key).map(|s| &s.breaker),
            Some(Breaker::HalfOpen { .. })
        );
        // Only what a rail counts is remembered (and stored): a rule without a rate limit
        // adds nothing per run while its breaker is closed.
        if policy.max_runs.is_some() || half_open {
            let state = self.targets.entry(key.clone()).or_default();
            if let Some(rate) = policy.max_runs {
                state.admitted.push_back(now);
                while state
                    .admitted
                    .front()
                    .is_some_and(|at| now.saturating_sub(*at) >= ms(rate.per))
                {
                    state.admitted.pop_front();
                }
            }
            if let Breaker::HalfOpen { trial, .. } = &mut state.breaker {
                *trial = Some(id);
            }
            self.changed.insert(key.clone());
        }
        self.live.insert(id, (key, policy.breaker));
    }

    /// Takes back the admission of run `id` at `at` (its write failed: it never ran).
    pub(crate) fn withdraw(&mut self, id: RunId, at: i64) {
        let Some((key, _)) = self.live.remove(&id) else {
            return;
        };
        if let Some(state) = self.targets.get_mut(&key) {
            if let Some(i) = state.admitted.iter().rposition(|t| *t == at) {
                state.admitted.remove(i);
            }
            if let Breaker::HalfOpen { trial, .. } = &mut state.breaker
                && *trial == Some(id)
            {
                *trial = None;
            }
        }
        self.changed.insert(key);
    }

    /// Notes that run `id` ended in `state` at `now`; returns the breaker's change between
    /// open and closed, if any. Runs the rails did not admit (recovered after a restart)
    /// count for nothing.
    pub(crate) fn ended(&mut self, id: RunId, state: RunState, now: i64) -> Option<BreakerChange> {
        let (key, policy) = self.live.remove(&id)?;
        let policy = &policy;
        let outcome = Outcome::of(state);
        let target = self.targets.entry(key.clone()).or_default();
        let before = target.breaker.clone();
        target.breaker = match (std::mem::take(&mut target.breaker), outcome) {
            (Breaker::HalfOpen { trips, trial }, Outcome::Neutral) => Breaker::HalfOpen {
                trips,
                trial: trial.filter(|t| *t != id),
            },
            (Breaker::HalfOpen { .. }, Outcome::Succeeded) => Breaker::default(),
            (Breaker::HalfOpen { trips, .. }, Outcome::Failed) => {
                open(policy, trips + 1, now, "its trial run failed".to_owned())
            }
            (Breaker::Closed { ineffective, .. }, Outcome::Succeeded) => Breaker::Closed {
                failures: 0,
                ineffective,
            },
            (
                Breaker::Closed {
                    failures,
                    ineffective,
                },
                Outcome::Failed,
            ) => {
                let failures = failures + 1;
                if policy.failures > 0 && failures >= policy.failures {
                    open(policy, 1, now, format!("{failures} failed runs in a row"))
                } else {
                    Breaker::Closed {
                        failures,
                        ineffective,
                    }
                }
            }
            (other, _) => other,
        };
        self.change(key, &before)
    }

    /// Notes a verdict on a succeeded run of (rule, target); returns the breaker's change
    /// between open and closed, if any.
    pub(crate) fn verdict(
        &mut self,
        rule: &RuleName,
        target: &Target,
        verdict: Verdict,
        policy: &BreakerSettings,
        now: i64,
    ) -> Option<BreakerChange> {
        let key = (rule.clone(), target.clone());
        let state = self.targets.entry(key.clone()).or_default();
        let before = state.breaker.clone();
        state.breaker = match (std::mem::take(&mut state.breaker), verdict) {
            (
                Breaker::Closed {
                    failures,
                    ineffective,
                },
                Verdict::Ineffective,
            ) => {
                let ineffective = ineffective + 1;
                if policy.ineffective > 0 && ineffective >= policy.ineffective {
                    open(
                        policy,
                        1,
                        now,
                        format!("{ineffective} runs in a row did not resolve the alert"),
                    )
                } else {
                    Breaker::Closed {
                        failures,
                        ineffective,
                    }
                }
            }
            (Breaker::Closed { failures, .. }, Verdict::Effective) => Breaker::Closed {
                failures,
                ineffective: 0,
            },
            (
                Breaker::HalfOpen { trips, .. } | Breaker::Open { trips, .. },
                Verdict::Ineffective,
            ) => open(
                policy,
                trips + 1,
                now,
                "its trial run did not resolve the alert".to_owned(),
            ),
            (other, _) => other,
        };
        self.change(key, &before)
    }

    /// Closes the breakers of `rule` (on `target` only, when given); returns how many were
    /// open.
    pub(crate) fn reset(&mut self, rule: &str, target: Option<&Target>) -> Vec<BreakerChange> {
        let keys: Vec<(RuleName, Target)> = self
            .targets
            .iter()
            .filter(|((r, t), s)| {
                r.as_str() == rule && target.is_none_or(|want| want == t) && s.breaker.is_open()
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut changes = Vec::new();
        for key in keys {
            let Some(state) = self.targets.get_mut(&key) else {
                continue;
            };
            let before = std::mem::take(&mut state.breaker);
            changes.extend(self.change(key, &before));
        }
        changes
    }

    /// How many targets of `rule` have a breaker that is not closed.
    pub(crate) fn open_count(&self, rule: &RuleName) -> usize {
        self.open_breakers().filter(|(r, _, _)| *r == rule).count()
    }

    /// The breakers that are not closed, by rule and target.
    pub(crate) fn open_breakers(&self) -> impl Iterator<Item = (&RuleName, &Target, &Breaker)> {
        self.targets
            .iter()
            .filter(|(_, s)| s.breaker.is_open())
            .map(|((r, t), s)| (r, t, &s.breaker))
    }

    /// Forgets what no rail needs at `now`: rate-limit entries older than `longest_rate_ms`
    /// and closed breakers with nothing counted, so memory follows the targets that matter.
    pub(crate) fn forget_stale(&mut self, longest_rate_ms: i64, now: i64) {
        let mut gone = Vec::new();
        for (key, state) in &mut self.targets {
            state
                .admitted
                .retain(|at| now.saturating_sub(*at) < longest_rate_ms);
            let live = self.live.values().any(|(k, _)| k == key);
            if state.is_blank() && !live {
                gone.push(key.clone());
            }
        }
        for key in gone {
            self.targets.remove(&key);
            self.changed.insert(key);
        }
    }

    /// The state of (rule, target).
    #[cfg(test)]
    pub(crate) fn target_state(&self, rule: &RuleName, target: &Target) -> Option<&TargetState> {
        self.targets.get(&(rule.clone(), target.clone()))
    }

    fn paused_reason(&self) -> Option<String> {
        if self.pauses.is_empty() {
            return None;
        }
        let reasons: Vec<&str> = self.pauses.keys().map(String::as_str).collect();
        Some(format!("alertrun is paused: {}", reasons.join("; ")))
    }

    fn storm_size(&self, rule: &RuleName, storm: StormGate, now: i64) -> usize {
        self.storms.get(rule).map_or(0, |seen| {
            seen.values()
                .filter(|at| now.saturating_sub(**at) < ms(storm.within))
                .count()
        })
    }

    /// Notes that the breaker of `key` was `was`: marks the state to store when it
    /// changed, forgets a state with nothing to remember, and returns the change between
    /// open and closed, if any.
    fn change(&mut self, key: (RuleName, Target), was: &Breaker) -> Option<BreakerChange> {
        let state = self.targets.get(&key)?;
        let breaker = state.breaker.clone();
        if breaker != *was {
            self.changed.insert(key.clone());
        }
        if state.is_blank() && !self.live.values().any(|(k, _)| *k == key) {
            self.targets.remove(&key);
        }
        // Opened, closed, or opened again after a failed trial.
        let changed = breaker.is_open() != was.is_open()
            || matches!(breaker, Breaker::Open { .. }) && breaker != *was;
        changed.then_some(BreakerChange {
            rule: key.0,
            target: key.1,
            breaker,
        })
    }
}

/// The first part of the store setting that holds a target's state.
const SETTING: &str = "rails";

/// The name of the store setting that holds the state of (rule, target): `rails␟rule␟target`
/// (rule names cannot hold the separator, and a target writes control characters of label
/// values as JSON escapes).
pub(crate) fn setting_name(rule: &RuleName, target: &Target) -> String {
    format!("{SETTING}\u{1f}{rule}\u{1f}{target}")
}

/// The (rule, target) of a setting named by [`setting_name`]; `None` for another setting.
pub(crate) fn parse_setting_name(name: &str) -> Option<(RuleName, Target)> {
    let rest = name.strip_prefix(SETTING)?.strip_prefix('\u{1f}')?;
    let (rule, target) = rest.split_once('\u{1f}')?;
    Some((RuleName::from(rule), Target::named(target)))
}

/// A duration in milliseconds, as the run lifecycle counts time (saturating).
pub(crate) fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An open breaker, for its `trips`-th time since it was last closed.
fn open(policy: &BreakerSettings, trips: u32, now: i64, why: String) -> Breaker {
    let backoff = ms(policy.backoff)
        .saturating_mul(1_i64 << trips.saturating_sub(1).min(30))
        .min(ms(policy.max_backoff).max(ms(policy.backoff)));
    Breaker::Open {
        until: now.saturating_add(backoff),
        trips,
        why,
    }
}

fn breaker_text(breaker: &Breaker) -> String {
    match breaker {
        Breaker::Open { until, why, .. } => format!(
            "circuit open until {} after {why}; a human is needed (alertrun breaker reset)",
            rfc3339(*until)
        ),
        Breaker::HalfOpen {
            trial: Some(trial), ..
        } => format!("circuit half-open: trial run {trial} has not ended"),
        _ => "circuit closed".to_owned(),
    }
}

/// `ms` as a duration in Alertmanager's style: "1h", "1m 30s".
pub(crate) fn duration_text(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or(0);
    humantime::format_duration(std::time::Duration::from_millis(ms)).to_string()
}

/// Unix milliseconds as RFC 3339 UTC, to the second.
pub(crate) fn rfc3339(ms: i64) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
#[path = "rails_tests.rs"]
mod tests;
