//! The pure core of alertrun: what Alertmanager sends, and what an action receives.
//!
//! This crate holds:
//! - the serde model of the Alertmanager webhook ([`Notification`], [`Alert`]), accepting
//!   every field Alertmanager 0.25–0.34 and Grafana send, and unknown ones;
//! - the Alertmanager [`Fingerprint`] of a label set, and an alert's [`Episode`];
//! - the **env contract**: the variables every executor hands an action ([`mod@env`]);
//! - Kubernetes-style `$(VAR)` expansion of argv elements ([`expand`]);
//! - the object-safe [`Executor`] trait and the request/outcome types backends speak,
//!   including the [`Started`] handle of what a backend started, which a later alertrun
//!   process hands back to [`Executor::recover`] after a crash.
//!
//! It is not a server and not an executor: it does no I/O, reads no clock and starts no
//! runtime. Time comes in as a parameter; problems go out as errors.
//!
//! ```
//! use alert_core::{Fingerprint, Notification};
//!
//! let body = r#"{"version":"4","status":"firing","receiver":"r","groupKey":"{}:{}",
//!   "alerts":[{"status":"firing","labels":{"alertname":"T"},
//!   "startsAt":"2026-11-21T09:38:36.123+02:00","endsAt":"0001-01-01T00:00:00Z"}]}"#;
//! let n = Notification::from_json(body.as_bytes())?;
//! let alert = &n.alerts[0];
//! assert_eq!(Fingerprint::of(&alert.labels).to_string(), "d284efc389a5bf32");
//! assert!(alert.ends_at.is_none()); // a firing alert's endsAt is the zero time
//! # Ok::<(), alert_core::PayloadError>(())
//! ```
#![deny(missing_docs)]
#![warn(clippy::print_stdout)]

pub mod env;
mod executor;
pub mod expand;
mod fingerprint;
mod payload;
mod postable;
mod scrub;
#[cfg(feature = "test-util")]
pub mod testing;
mod time;

pub use executor::{
    BoxFuture, EndedBy, ExecError, ExecRequest, Executor, Exit, OnStart, Outcome, Recovered,
    Report, Started, StopReason, Subject, Tail,
};
pub use fingerprint::{Episode, Fingerprint};
pub use payload::{Alert, AlertStatus, LabelSet, Notification, PayloadError, PayloadLimits};
pub use postable::{PROMETHEUS_RECEIVER, PostableAlert};
pub use scrub::{MIN_FRAGMENT, REDACTED, Scrubber};
pub use time::Timestamp;
