//! alertrun's local-process backend.
//!
//! A rule's process action is an argv vector, never a shell command line. Alert data
//! reaches it through the env contract ([`alert_core::env`]) and `$(VAR)` expansion inside
//! argv elements ([`ProcessAction::argv`]): each element stays exactly one argument, whatever
//! a label value holds.
//!
//! [`ProcessExecutor`] runs an action as an [`Executor`](alert_core::Executor): a new
//! process group per run, an environment of exactly `PATH`, the action's `pass_env` names
//! and the request's env, its deadline and stop requests enforced with signals to the whole
//! group, and the tails of its output kept. It is not a supervisor: a run ends with its
//! process group, and nothing is restarted.
//!
//! The key design choice is the process group: signals and the final `SIGKILL` go to the
//! group, so a script's background children end with it, also when the run is cancelled.
//!
//! The group also survives a crash of alertrun only until the next alertrun deals with
//! it: [`Executor::execute_observed`](alert_core::Executor::execute_observed) hands out a
//! [`Started::Process`](alert_core::Started::Process) handle (pid, group, start time and
//! boot id, read from Linux's `/proc`), and [`Executor::recover`](alert_core::Executor::recover)
//! ends the group it names if it still lives, leaving alone a process that merely reuses
//! its pid. See [`ProcessExecutor`].
//!
//! [`ProcessExecutor`] is behind the default feature `executor` (tokio). Without it the
//! crate is the pure part: [`ProcessAction`], its checks and expansion, and
//! [`parse_signal`], for tools that read configs but run nothing.
//!
//! ```
//! use std::time::Duration;
//! use alert_core::env::EnvVar;
//! use alert_core::{ExecRequest, Executor, Exit, Outcome, Subject};
//! use executor_process::{inherited_env, ProcessAction, ProcessExecutor, ProcessOptions};
//!
//! let action = ProcessAction::new(vec!["/bin/echo".into(), "--node=$(ALERTRUN_LABEL_instance)".into()])?;
//! let env = [EnvVar::new("ALERTRUN_LABEL_instance", "n1; rm -rf /")];
//! assert_eq!(action.argv(&env), ["/bin/echo", "--node=n1; rm -rf /"]);
//!
//! let options = ProcessOptions::default()
//!     .with_inherited(inherited_env(&action, |name| std::env::var(name).ok()));
//! let executor = ProcessExecutor::new(action, options);
//! let req = ExecRequest {
//!     rule: "restart".into(),
//!     dedup_key: "restart/1".into(),
//!     subject: Subject::default(),
//!     env: env.to_vec(),
//!     input: Vec::new(),
//!     deadline: Duration::from_secs(30),
//! };
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let outcome = runtime.block_on(executor.execute(&req, Box::pin(std::future::pending())))?;
//! let Outcome::Finished(report) = outcome else { panic!("a process run finishes here") };
//! assert_eq!(report.exit, Some(Exit::Code(0)));
//! assert_eq!(report.stdout.text(), "--node=n1; rm -rf /\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![warn(clippy::print_stdout)]

mod action;
mod error;
#[cfg(feature = "executor")]
mod executor;
#[cfg(feature = "executor")]
mod group;
#[cfg(feature = "executor")]
mod identity;
mod options;
#[cfg(feature = "executor")]
mod orphans;
#[cfg(feature = "executor")]
mod recover;
#[cfg(feature = "executor")]
mod stdio;

pub use action::{ActionError, ProcessAction};
pub use error::{RecoverError, SpawnError};
#[cfg(feature = "executor")]
pub use executor::ProcessExecutor;
pub use nix::sys::signal::Signal;
pub use options::{DEFAULT_PATH, ProcessOptions, SignalError, inherited_env, parse_signal};
#[cfg(feature = "executor")]
pub use orphans::{adopt_orphans, end_orphans, reap_orphans};
