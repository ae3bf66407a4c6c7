//! Maintenance windows: the config's `time_intervals` (Alertmanager's own `<time_interval>`
//! list, so a user pastes what they wrote for Alertmanager) and each rule's
//! `active_time_intervals` / `mute_time_intervals`, resolved into the rule's [`Schedule`].
//!
//! A schedule answers one question, [`Schedule::is_muted`]: given an instant, is the rule's
//! action held back, and why. The semantics are Alertmanager's route semantics, in its
//! pipeline order (the active-time stage, then the mute-time stage): a rule with active
//! intervals is muted when the instant is in none of them; a rule is muted when the instant
//! is in any of its mute intervals; a rule with neither is never muted. A named interval
//! holds when any of its specs holds ([`alert_match::TimeInterval`] evaluates one spec).
//!
//! It is not the decision to skip a run: the dispatcher asks the schedule and records the
//! skip with its reason, beside the other rails. Names are checked here, once, when the
//! config is loaded: an unknown name or a name defined twice is a config error, so a
//! schedule never meets a name it cannot resolve. `location: Local` is the machine's zone,
//! read once at load (`TZ`, else `/etc/localtime`, else UTC, as Go's `time.Local`) and only
//! when a spec uses it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use alert_match::{Location, TimeInterval};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// One named interval: a name and its specs (Alertmanager's `<time_interval>`).
#[derive(Debug, PartialEq, Eq)]
pub struct NamedInterval {
    /// The name rules refer to.
    pub name: String,
    /// The specs; the interval holds when any of them holds (none: never).
    pub intervals: Vec<TimeInterval>,
}

impl NamedInterval {
    fn contains(&self, at: Timestamp, local: &TimeZone) -> bool {
        self.intervals.iter().any(|i| i.contains(at, local))
    }

    fn uses_local(&self) -> bool {
        self.intervals
            .iter()
            .any(|i| i.location() == Some(&Location::Local))
    }
}

/// When a rule's action may run: its active and mute time intervals. The default (neither)
/// is always active and costs one pointer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule(Option<Arc<Windows>>);

#[derive(Debug, PartialEq, Eq)]
struct Windows {
    active: Vec<Arc<NamedInterval>>,
    mute: Vec<Arc<NamedInterval>>,
    /// What `location: Local` means.
    local: TimeZone,
}

/// Why a rule is muted now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Muted {
    /// The rule has active time intervals and the instant is in none of them (all named).
    Inactive(Vec<String>),
    /// The instant is in these mute time intervals of the rule.
    InMuteInterval(Vec<String>),
}

impl Muted {
    /// A stable word for metrics and run records: `inactive_time_interval` or
    /// `mute_time_interval` (Alertmanager's suppression reasons say `active_time_interval`
    /// and `mute_time_interval`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Inactive(_) => "inactive_time_interval",
            Self::InMuteInterval(_) => "mute_time_interval",
        }
    }

    /// The intervals that decided it.
    pub fn intervals(&self) -> &[String] {
        match self {
            Self::Inactive(names) | Self::InMuteInterval(names) => names,
        }
    }
}

impl fmt::Display for Muted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inactive(names) => {
                write!(
                    f,
                    "outside its active time intervals ({})",
                    names.join(", ")
                )
            }
            Self::InMuteInterval(names) => {
                write!(f, "in its mute time intervals ({})", names.join(", "))
            }
        }
    }
}

impl Schedule {
    /// A schedule of the given named intervals; `local` is what `location: Local` means.
    pub(crate) fn new(
        active: Vec<Arc<NamedInterval>>,
        mute: Vec<Arc<NamedInterval>>,
        local: TimeZone,
    ) -> Self {
        if active.is_empty() && mute.is_empty() {
            return Self::default();
        }
        Self(Some(Arc::new(Windows {
            active,
            mute,
            local,
        })))
    }

    /// Whether the rule's action is held back at `now`, and why; `None`: it may run.
    /// An instant beyond what the calendar represents (±9999 years) is read as its nearest
    /// representable one.
    pub fn is_muted(&self, now: SystemTime) -> Option<Muted> {
        let windows = self.0.as_deref()?;
        let at = Timestamp::try_from(now).unwrap_or_else(|_| {
            if now > SystemTime::UNIX_EPOCH {
                Timestamp::MAX
            } else {
                Timestamp::MIN
            }
        });
        let holds = |i: &&Arc<NamedInterval>| i.contains(at, &windows.local);
        if !windows.active.is_empty() && !windows.active.iter().any(|i| holds(&i)) {
            return Some(Muted::Inactive(names(&windows.active)));
        }
        let muting: Vec<String> = windows
            .mute
            .iter()
            .filter(holds)
            .map(|i| i.name.clone())
            .collect();
        (!muting.is_empty()).then_some(Muted::InMuteInterval(muting))
    }

    /// The names of the active time intervals, in config order.
    pub fn active(&self) -> Vec<String> {
        self.0
            .as_ref()
            .map(|w| names(&w.active))
            .unwrap_or_default()
    }

    /// The names of the mute time intervals, in config order.
    pub fn mute(&self) -> Vec<String> {
        self.0.as_ref().map(|w| names(&w.mute)).unwrap_or_default()
    }
}

fn names(intervals: &[Arc<NamedInterval>]) -> Vec<String> {
    intervals.iter().map(|i| i.name.clone()).collect()
}

/// The config's named intervals, by name, and the zone `Local` stands for.
#[derive(Clone, Debug)]
pub(crate) struct Intervals {
    by_name: BTreeMap<String, Arc<NamedInterval>>,
    local: TimeZone,
}

impl Intervals {
    /// Named intervals (names already checked to be unique and non-empty); the machine's
    /// zone is read only when one of them uses `Local`.
    pub(crate) fn new(named: Vec<NamedInterval>) -> Self {
        let local = if named.iter().any(NamedInterval::uses_local) {
            machine_zone()
        } else {
            TimeZone::UTC
        };
        Self::with_local(named, local)
    }

    pub(crate) fn with_local(named: Vec<NamedInterval>, local: TimeZone) -> Self {
        let by_name = named
            .into_iter()
            .map(|n| (n.name.clone(), Arc::new(n)))
            .collect();
        Self { by_name, local }
    }

    /// The interval called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<NamedInterval>> {
        self.by_name.get(name)
    }

    /// The defined names, for a message about an unknown one.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    pub(crate) fn local(&self) -> &TimeZone {
        &self.local
    }

    /// Every named interval, in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &NamedInterval> {
        self.by_name.values().map(|n| &**n)
    }
}

/// The machine's zone as Go's `time.Local` finds it: `TZ`, else `/etc/localtime`, else UTC.
fn machine_zone() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

#[cfg(test)]
mod tests;
