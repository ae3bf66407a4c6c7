//! A rule: which alerts it selects, and how its action is fed.

use std::fmt;
use std::time::Duration;

use alert_core::env::{EnvStyle, EnvVar};
use alert_core::{Alert, AlertStatus, Notification};

use crate::{Argument, Matcher, Matchers};

/// Whether a rule runs once per alert or once per notification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Each matching alert of a notification runs the action once, with its own data.
    #[default]
    PerAlert,
    /// The action runs once per notification with the whole group's data, when at least one
    /// of its alerts matches.
    PerGroup,
}

impl Mode {
    /// `per-alert` or `per-group`, as in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerAlert => "per-alert",
            Self::PerGroup => "per-group",
        }
    }
}

/// Which alert statuses a rule acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StatusFilter {
    /// Firing alerts only.
    #[default]
    Firing,
    /// Resolved alerts only.
    Resolved,
    /// Both.
    Any,
}

impl StatusFilter {
    /// Whether an alert with `status` passes.
    pub fn admits(self, status: AlertStatus) -> bool {
        matches!(
            (self, status),
            (Self::Any, _)
                | (Self::Firing, AlertStatus::Firing)
                | (Self::Resolved, AlertStatus::Resolved)
        )
    }

    /// `firing`, `resolved` or `any`, as in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
            Self::Any => "any",
        }
    }
}

/// A validated rule's selection and how its action is fed. The action itself belongs to
/// the caller (alertrun's config pairs each `Rule` with a backend).
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// Matchers on the alert's labels (all must match).
    pub matchers: Matchers,
    /// Matchers on the alert's annotations (all must match; absent is `""`).
    pub annotation_matchers: Matchers,
    /// When not empty, the notification's receiver must be one of these names.
    pub receivers: Vec<String>,
    /// Which statuses the rule acts on.
    pub on: StatusFilter,
    /// Per alert or per group.
    pub mode: Mode,
    /// Which env names the action receives.
    pub env_style: EnvStyle,
    /// Static variables from the config, before the alert's.
    pub env: Vec<EnvVar>,
    /// Names the action inherits from alertrun's own environment (a process action's
    /// `pass_env`): an alert's variable of one of these names is a collision, as with
    /// [`Rule::env`], never an override.
    pub pass_env: Vec<String>,
    /// How long the action may run.
    pub timeout: Duration,
    /// The action's argv elements that `$(VAR)` references are expanded in (for a Job,
    /// every container's `command` and `args`), checked by [`crate::render`].
    pub arguments: Vec<Argument>,
    /// Whether an element may start with `-` taken from an alert's value
    /// (`allow_option_values`; see [`crate::option_values`]).
    pub allow_option_values: bool,
}

/// Why a rule did or did not select an alert.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Verdict {
    /// Every condition held.
    Matched,
    /// A label matcher failed; the alert's value (`""` when absent) is given.
    Label {
        /// The matcher that failed.
        matcher: Matcher,
        /// The alert's value of that label, `None` when absent.
        value: Option<String>,
    },
    /// An annotation matcher failed.
    Annotation {
        /// The matcher that failed.
        matcher: Matcher,
        /// The alert's value of that annotation, `None` when absent.
        value: Option<String>,
    },
    /// The alert's status is not one the rule acts on.
    Status {
        /// What the rule acts on.
        wanted: StatusFilter,
        /// The alert's status.
        got: AlertStatus,
    },
    /// The notification came through another receiver.
    Receiver {
        /// The receiver's name.
        got: String,
    },
}

impl Verdict {
    /// True for [`Verdict::Matched`].
    pub fn is_match(&self) -> bool {
        matches!(self, Self::Matched)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<String>| match v {
            Some(v) => format!("{v:?}"),
            None => "absent".to_string(),
        };
        match self {
            Self::Matched => f.write_str("matched"),
            Self::Label { matcher, value } => {
                write!(
                    f,
                    "label matcher {matcher} failed: value is {}",
                    shown(value)
                )
            }
            Self::Annotation { matcher, value } => {
                write!(
                    f,
                    "annotation matcher {matcher} failed: value is {}",
                    shown(value)
                )
            }
            Self::Status { wanted, got } => {
                write!(f, "alert is {got}; rule acts on {}", wanted.as_str())
            }
            Self::Receiver { got } => write!(f, "receiver {got:?} is not one of the rule's"),
        }
    }
}

impl Rule {
    /// Whether the rule selects `alert` of a notification that came through `receiver`
    /// (the unescaped name, [`Notification::receiver_name`]), and if not, the first reason.
    pub fn verdict(&self, receiver: &str, alert: &Alert) -> Verdict {
        if !self.receivers.is_empty() && !self.receivers.iter().any(|r| r == receiver) {
            return Verdict::Receiver {
                got: receiver.to_string(),
            };
        }
        if !self.on.admits(alert.status) {
            return Verdict::Status {
                wanted: self.on,
                got: alert.status,
            };
        }
        if let Some(m) = self.matchers.first_mismatch(&alert.labels) {
            let value = alert.labels.get(m.name()).cloned();
            return Verdict::Label {
                matcher: m.clone(),
                value,
            };
        }
        if let Some(m) = self.annotation_matchers.first_mismatch(&alert.annotations) {
            let value = alert.annotations.get(m.name()).cloned();
            return Verdict::Annotation {
                matcher: m.clone(),
                value,
            };
        }
        Verdict::Matched
    }

    /// Whether the rule selects `alert`.
    pub fn selects(&self, receiver: &str, alert: &Alert) -> bool {
        (self.receivers.is_empty() || self.receivers.iter().any(|r| r == receiver))
            && self.on.admits(alert.status)
            && self.matchers.matches(&alert.labels)
            && self.annotation_matchers.matches(&alert.annotations)
    }

    /// For a per-group rule: whether any alert of `n` is selected.
    pub fn selects_group(&self, n: &Notification) -> bool {
        let receiver = n.receiver_name();
        n.alerts.iter().any(|a| self.selects(&receiver, a))
    }
}
