//! Alertmanager's matcher language and alertrun's rule selection.
//!
//! - [`Matchers::parse`] reads matchers exactly as Alertmanager ≥ 0.27 does by default: the
//!   classic syntax when it parses, else the UTF-8 syntax; regexes are anchored by string
//!   concatenation (`^(?:` + value + `)$`) and checked against Go RE2's meaning. Matchers
//!   parsed through one [`RegexCache`] share one compiled regex per distinct value.
//! - A [`Rule`] selects alerts by label and annotation matchers, status and receiver;
//!   a [`RuleSet`] indexes equality and regex matchers so selection stays fast with many rules.
//! - [`render`] turns a selection into the [`alert_core::ExecRequest`] an executor runs,
//!   and refuses an argv element that would start with `-` taken from an alert's value
//!   ([`option_values`]): a label must not become a program option.
//!
//! - A [`TimeInterval`] is one of Alertmanager's `time_intervals` specs (times, weekdays,
//!   days of month, months, years, location), read and evaluated as Alertmanager does; the
//!   time zones are bundled, so no file is read.
//!
//! It does no I/O and knows no backend: the action a rule runs is its caller's business.
//!
//! ```
//! use alert_match::Matchers;
//! use alert_core::LabelSet;
//!
//! let m = Matchers::parse(r#"{alertname="DiskFull", severity=~"warn|crit"}"#)?;
//! let mut labels = LabelSet::new();
//! labels.insert("alertname".into(), "DiskFull".into());
//! labels.insert("severity".into(), "crit".into());
//! assert!(m.matches(&labels));
//! labels.insert("severity".into(), "critical".into()); // anchored: "crit" is not "critical"
//! assert!(!m.matches(&labels));
//! # Ok::<(), alert_match::ParseError>(())
//! ```
#![deny(missing_docs)]
#![warn(clippy::print_stdout)]

mod option;
mod plan;
mod rule;
mod select;
mod time_interval;

pub use option::{
    Argument, ExposedArgument, OptionValue, exposed_arguments, is_alert_variable, option_values,
};
pub use plan::{RenderProblem, Rendered, render};
pub use rule::{Mode, Rule, StatusFilter, Verdict};
pub use select::{RuleSet, Selection, Target};
pub use time_interval::{Location, TimeInterval, TimeIntervalError};

mod cache;
mod matcher;
mod parse;
mod pattern;

pub use cache::RegexCache;
pub use matcher::{MatchOp, Matcher, Matchers};
pub use parse::{ParseError, Syntax, parse_matcher};
pub use pattern::MatcherError;
