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

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// One rule's rails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rails {
    /// The label names whose values name the target; empty: the alert's fingerprint.
    pub target: Vec<String>,
    /// At most so many runs per target within a window.
    pub max_runs: Option<RateLimit>,
    /// When the breaker of (rule, target) opens.
    pub breaker: BreakerSettings,
    /// At most so many distinct targets firing within a window.
    pub max_targets: Option<StormGate>,
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
