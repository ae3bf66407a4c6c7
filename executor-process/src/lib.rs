//! alertrun's local-process backend.
//!
//! A rule's process action is an argv vector, never a shell command line. Alert data
//! reaches it through the env contract ([`alert_core::env`]) and `$(VAR)` expansion inside
//! argv elements ([`ProcessAction::argv`]): each element stays exactly one argument, whatever
//! a label value holds.
//!
//! This release holds the action's configuration and its argv rendering, which
//! `alertrun explain` shows; spawning comes with `alertrun serve`.
//!
//! ```
//! use executor_process::ProcessAction;
//! use alert_core::env::EnvVar;
//!
//! let action = ProcessAction::new(vec!["/usr/bin/cleanup".into(), "--node=$(ALERTRUN_LABEL_instance)".into()])?;
//! let env = [EnvVar::new("ALERTRUN_LABEL_instance", "n1; rm -rf /")];
//! assert_eq!(action.argv(&env), ["/usr/bin/cleanup", "--node=n1; rm -rf /"]);
//! # Ok::<(), executor_process::ActionError>(())
//! ```
#![deny(missing_docs)]
#![warn(clippy::print_stdout)]

mod action;

pub use action::{ActionError, ProcessAction};
