//! A rule's rails, as the config writes them: its target, rate limit, circuit breaker and
//! storm gate (what they decide is `crate::lifecycle::rails`'s).
//!
//! ```yaml
//! target: [namespace, pod]            # default: the alert's fingerprint
//! max_runs: {count: 3, per: 1h}       # per target; default: none
//! breaker: {failures: 3, ineffective: 3, backoff: 1h, max_backoff: 24h}   # the defaults
//! max_targets: {count: 10, within: 10m}   # or `max_targets: 10` (within 10m); default: none
//! ```
//!
//! What this module is: the settings' types, their defaults and the checks of their
//! values. What it is not: the decisions, or state.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// One rule's rails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rails {
    /// The label names whose values name the target; empty: the alert's fingerprint (a
    /// group's key, for a per-group rule).
    pub target: Vec<String>,
    /// At most so many runs per target within a window.
    pub max_runs: Option<RateLimit>,
    /// When the breaker of (rule, target) opens.
    pub breaker: BreakerSettings,
    /// At most so many distinct targets firing within a window.
    pub max_targets: Option<StormGate>,
    /// Whether, and how long, a succeeded run waits for its alert to resolve (verdicts).
    pub verify: Option<Verify>,
}

impl Rails {
    /// The target a run of an alert with `labels` and `fingerprint` counts against: the
    /// values of the `target` labels as a label set, `{namespace="shop", pod="web-1"}`
    /// (a missing label counts as empty, as in Alertmanager's matchers; values quoted as
    /// JSON strings, so that no value can pass for another's separator), or the
    /// fingerprint when `target` names no label.
    pub fn target_of(&self, labels: &BTreeMap<String, String>, fingerprint: &str) -> String {
        if self.target.is_empty() {
            return fingerprint.to_owned();
        }
        let mut text = String::from("{");
        for (i, name) in self.target.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            let value = labels.get(name).map_or("", String::as_str);
            text.push_str(name);
            text.push('=');
            text.push_str(&Value::from(value).to_string());
        }
        text.push('}');
        text
    }

    /// The rails a run of the rule passes, in the order they are asked, in words; each
    /// decision depends on the server's state at the time (`alertrun explain` shows them).
    pub fn describe(&self) -> Vec<String> {
        let mut rails = vec!["not paused (alertrun pause)".to_owned()];
        if let Some(storm) = self.max_targets {
            rails.push(format!(
                "storm gate: at most {} targets firing within {}",
                storm.max_targets,
                humantime::format_duration(storm.within)
            ));
        }
        let b = self.breaker;
        if b.failures > 0 || b.ineffective > 0 {
            rails.push(format!(
                "circuit breaker: opens after {} failed runs in a row, for {} (up to {})",
                b.failures,
                humantime::format_duration(b.backoff),
                humantime::format_duration(b.max_backoff)
            ));
        }
        if let Some(rate) = self.max_runs {
            rails.push(format!(
                "max_runs: {} per {} on this target",
                rate.count,
                humantime::format_duration(rate.per)
            ));
        }
        if let Some(v) = self.verify {
            rails.push(format!(
                "after a success: verdict once the alert resolves (effective) or not within {} \
                 (ineffective); firing again within {} of resolving: recurred",
                humantime::format_duration(v.within),
                humantime::format_duration(v.recurrence)
            ));
        }
        rails
    }
}

/// `max_runs: {count: 3, per: 1h}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Runs allowed per target in the window (at least 1).
    pub count: u32,
    /// The window.
    pub per: Duration,
}

/// `breaker: {failures: 3, ineffective: 3, backoff: 1h, max_backoff: 24h}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failed runs (failed, timed out, failed to start) that open it; 0: never.
    pub failures: u32,
    /// Consecutive runs judged ineffective that open it; 0: never.
    pub ineffective: u32,
    /// How long it stays open the first time; each failed trial doubles it.
    pub backoff: Duration,
    /// The longest it stays open.
    pub max_backoff: Duration,
}

impl Default for BreakerSettings {
    /// Three failures (or three ineffective runs) in a row open it for an hour, then two,
    /// four, up to a day: an action that failed three times running will not fix the
    /// fourth time what a human has not looked at, and an hour is long enough for the
    /// alert's own `repeat_interval` (4 h by default) not to hammer it.
    fn default() -> Self {
        Self {
            failures: 3,
            ineffective: 3,
            backoff: Duration::from_secs(3600),
            max_backoff: Duration::from_secs(24 * 3600),
        }
    }
}

/// `max_targets: {count: 10, within: 10m}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StormGate {
    /// Distinct targets allowed to fire within the window; more stops the rule.
    pub max_targets: usize,
    /// The window.
    pub within: Duration,
}

/// `verify: {within: 10m, recurrence: 1h}`: after a run succeeds, the alert resolving
/// within `within` makes it effective; firing again within `recurrence` of resolving makes
/// it recurred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verify {
    /// How long the alert has to resolve after the action ended.
    pub within: Duration,
    /// How long after it resolved a new firing of the same alert counts against the run.
    pub recurrence: Duration,
}

/// `approval: {required: true, timeout: 30m, approvers: [...], min_approvals: 1,
/// forbid_self: false}`: a run waits for people's approval before it queues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// How long a run waits; then it is rejected with reason `timeout`.
    pub timeout: Duration,
    /// Who may decide (identities or the names they decide for); empty: anyone who may
    /// call the API.
    pub approvers: Vec<String>,
    /// Distinct approvals needed.
    pub min_approvals: u32,
    /// Refuse an approval by the person the alert names in its `requested_by` label or
    /// annotation.
    pub forbid_self: bool,
}

/// `approval.timeout` when not given.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// `verify.recurrence` when not given: an alert back within the hour was not fixed.
pub const DEFAULT_RECURRENCE: Duration = Duration::from_secs(3600);

/// The storm gate's window when `max_targets` gives only a count.
pub const DEFAULT_STORM_WINDOW: Duration = Duration::from_secs(600);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMaxRuns {
    pub(super) count: u32,
    pub(super) per: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBreaker {
    pub(super) failures: Option<u32>,
    pub(super) ineffective: Option<u32>,
    pub(super) backoff: Option<String>,
    pub(super) max_backoff: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApproval {
    #[serde(default)]
    pub(super) required: Option<bool>,
    #[serde(default)]
    pub(super) timeout: Option<String>,
    #[serde(default)]
    pub(super) approvers: Vec<String>,
    #[serde(default)]
    pub(super) min_approvals: Option<u32>,
    #[serde(default)]
    pub(super) forbid_self: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVerify {
    pub(super) within: String,
    pub(super) recurrence: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMaxTargets {
    pub(super) count: usize,
    pub(super) within: Option<String>,
}

/// Reads `max_targets:`, a count or `{count, within}`.
pub(super) fn max_targets(value: Value) -> Result<RawMaxTargets, Value> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(|count| RawMaxTargets {
                count,
                within: None,
            })
            .ok_or(Value::Number(n)),
        other => Err(other),
    }
}
