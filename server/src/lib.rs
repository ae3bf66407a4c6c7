//! alertrun: turns Prometheus alerts into remediation.
//!
//! This crate composes the pieces: the config ([`Config`]), the offline commands behind
//! `alertrun check`, `explain` and `test`, and, behind the default feature `server`, the
//! webhook server of `alertrun serve` with its run store and history.
//!
//! Another crate can run the same checks from its own `cargo test`. It needs only the
//! offline part, so it can leave out the server (no warp, hyper, kube, redb or tokio
//! runtime in its build):
//!
//! ```toml
//! [dev-dependencies]
//! alertrun = { version = "0.1", default-features = false }
//! ```
//!
//! ```
//! use alertrun::{Config, run_test_file};
//! use std::path::Path;
//!
//! let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
//! let config = Config::load(&root.join("alertrun.yaml"))?;
//! let report = run_test_file(&config, &root.join("tests.yaml"))?;
//! assert!(report.is_success(), "{:?}", report.failed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod backend;
mod config;
mod explain;
#[cfg(feature = "server")]
mod history;
mod import;
#[cfg(feature = "server")]
mod lifecycle;
mod ruletest;
#[cfg(feature = "server")]
mod serve;
#[cfg(feature = "server")]
mod store;
#[cfg(feature = "test-util")]
pub mod testing;

/// How `check` and `runs` read the config's secrets.
pub use config::Secrets;
pub use config::{
    Action, AlertmanagerAuth, AlertmanagerSettings, Approval, ApprovalLinks, Auth, BreakerSettings,
    Config, ConfigError, DEFAULT_APPROVAL_TIMEOUT, DEFAULT_LEASE_DURATION, DEFAULT_RECURRENCE,
    DEFAULT_STORM_WINDOW, EventKind, HaSettings, Limits, Muted, NamedInterval, NotifySettings,
    OnAlertmanagerUnreachable, OnInterrupt, OnResolved, Policy, Problem, Rails, RateLimit, Repeat,
    Schedule, Secret, ServerSettings, SilencePolicy, Sink, SinkKind, StateSettings, StormGate,
    TEMPLATE_FIELDS, TlsSettings, Verify, canonical_config, check_exposure,
    default_alertmanager_timeout, default_namespace, default_timeout, parse_server,
};
pub use explain::{AlertReport, Report, RuleReport, Run, explain};
pub use import::{
    AmExecutorInput, BailerOptions, CommandLine, ImportError, ImportSource, Imported, Note,
    NoteKind, import_am_executor, import_bailer,
};
pub use ruletest::{TestFileError, TestReport, run_test_file};

#[cfg(feature = "server")]
pub use history::{detail as run_detail, table as runs_table};
#[cfg(feature = "server")]
pub use lifecycle::VerdictKind;
#[cfg(feature = "server")]
pub use lifecycle::{ParseRunStateError, RunState, Transition};
#[cfg(feature = "server")]
pub use serve::ha::HA_API_CALLS;
#[cfg(feature = "server")]
pub use serve::http::{Bound, ServeError, bind};
#[cfg(feature = "server")]
pub use serve::intake::{Accepted, Intake, Refused, Source};
#[cfg(feature = "server")]
pub use serve::status::{HaStatus, ServerStatus, load_config_hashed, sha256_hex};
#[cfg(feature = "server")]
pub use serve::{ServeOptions, run as serve};
#[cfg(feature = "server")]
pub use store::{
    ApprovalDecision, ApprovalRecord, Batch, DedupeEntry, NotificationStatus, Recovery,
    RuleActivity, RunClaim, RunFilter, RunPage, RunRecord, RunSilence, RunVerdict, Store,
    StoreError,
};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
