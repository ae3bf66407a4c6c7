//! alertrun: turns Prometheus alerts into remediation.
//!
//! This crate composes the pieces: the config ([`Config`]), the offline commands behind
//! `alertrun check`, `explain` and `test`, and (in a later release) the webhook server.
//! Another crate can run the same checks from its own `cargo test`:
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
pub mod history;
pub mod lifecycle;
mod ruletest;
pub mod serve;
pub mod store;

pub use backend::Backends;
pub use config::{
    Action, Auth, Config, ConfigError, Limits, OnInterrupt, OnResolved, Policy, Problem, Repeat,
    Secret, ServerSettings, StateSettings, TlsSettings, check_exposure, default_namespace,
    default_timeout, parse_server,
};
pub use explain::{AlertReport, Report, RuleReport, Run, explain};
pub use ruletest::{TestFileError, TestReport, run_test_file};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
