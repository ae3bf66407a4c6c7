//! How the process backend ends, bounds and equips the actions it runs.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::ProcessAction;

/// `PATH` handed to actions when alertrun's own environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Settings of a [`ProcessExecutor`](crate::ProcessExecutor) besides the action itself.
///
/// Build one from [`ProcessOptions::default`] and the `with_*` setters:
///
/// ```
/// use std::time::Duration;
/// use executor_process::{inherited_env, parse_signal, ProcessAction, ProcessOptions};
///
/// let action = ProcessAction::new(vec!["/usr/bin/env".into()])?;
/// let options = ProcessOptions::default()
///     .with_stop_signal(parse_signal("INT")?)
///     .with_grace(Duration::from_secs(3))
///     .with_inherited(inherited_env(&action, |name| std::env::var(name).ok()));
/// assert_eq!(options.inherited[0].0, "PATH");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessOptions {
    /// What a stop request sends to the action's process group. Default `SIGTERM`.
    pub stop_signal: Signal,
    /// How long the group has between the first signal (stop or timeout) and `SIGKILL`.
    /// Default 10 s.
    pub grace: Duration,
    /// How many bytes of the end of each of stdout and stderr are kept. Default 64 KiB.
    pub output_limit: usize,
    /// Variables from alertrun's own environment for every run, before the request's env:
    /// see [`inherited_env`]. Default: none (the action then gets no `PATH` unless the
    /// request sets one). Shared: the executors of actions with the same `pass_env` can
    /// hold one copy (10,000 rules held 1.7 MB of copies of `PATH`).
    pub inherited: Arc<[(String, String)]>,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        Self {
            stop_signal: Signal::SIGTERM,
            grace: default_grace(),
            output_limit: default_output_limit(),
            inherited: Arc::new([]),
        }
    }
}

/// 10 s between the first signal and `SIGKILL`.
fn default_grace() -> Duration {
    Duration::from_secs(10)
}

/// 64 KiB of each output stream.
fn default_output_limit() -> usize {
    64 * 1024
}

impl ProcessOptions {
    /// Sets [`ProcessOptions::stop_signal`].
    pub fn with_stop_signal(mut self, signal: Signal) -> Self {
        self.stop_signal = signal;
        self
    }

    /// Sets [`ProcessOptions::grace`].
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sets [`ProcessOptions::output_limit`].
    pub fn with_output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }

    /// Sets [`ProcessOptions::inherited`]: a `Vec`, or an `Arc` shared with other options.
    pub fn with_inherited(mut self, vars: impl Into<Arc<[(String, String)]>>) -> Self {
        self.inherited = vars.into();
        self
    }
}

/// The variables `action` takes from alertrun's own environment, as `lookup` sees it
/// (pass `|name| std::env::var(name).ok()`; this crate reads no environment itself).
///
/// That is `PATH` ([`DEFAULT_PATH`] when `lookup` has none), then each of the action's
/// [`pass_env`](ProcessAction::pass_env) names that `lookup` knows, in order. Nothing
/// else of alertrun's environment reaches an action: not `HOME`, not `USER`, no secrets.
///
/// ```
/// use executor_process::{inherited_env, ProcessAction, DEFAULT_PATH};
///
/// let action = ProcessAction::new(vec!["/bin/true".into()])?
///     .with_pass_env(vec!["HOME".into(), "UNSET".into()])?;
/// let lookup = |name: &str| (name == "HOME").then(|| "/root".to_string());
/// assert_eq!(
///     inherited_env(&action, lookup),
///     [("PATH".into(), DEFAULT_PATH.into()), ("HOME".into(), "/root".into())]
/// );
/// # Ok::<(), executor_process::ActionError>(())
/// ```
pub fn inherited_env(
    action: &ProcessAction,
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let path = lookup("PATH").unwrap_or_else(|| DEFAULT_PATH.to_string());
    let mut vars = vec![("PATH".to_string(), path)];
    for name in action.pass_env() {
        if name == "PATH" {
            continue;
        }
        if let Some(value) = lookup(name) {
            vars.push((name.clone(), value));
        }
    }
    vars
}

/// A signal name that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown signal {name:?}: give a signal name such as SIGTERM, TERM, SIGINT, HUP or sigusr1"
)]
pub struct SignalError {
    name: String,
}

impl SignalError {
    /// The name as given.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// For config code that collects problems as text.
impl From<SignalError> for String {
    fn from(e: SignalError) -> Self {
        e.to_string()
    }
}

/// Parses a signal name, with or without the `SIG` prefix, in any case: `SIGTERM`, `TERM`,
/// `sigterm` and `Term` are all `SIGTERM`.
///
/// ```
/// use executor_process::{parse_signal, Signal};
///
/// assert_eq!(parse_signal("usr1")?, Signal::SIGUSR1);
/// assert!(parse_signal("SIGNOPE").unwrap_err().to_string().contains("such as SIGTERM"));
/// # Ok::<(), executor_process::SignalError>(())
/// ```
///
/// # Errors
/// [`SignalError`] when the name is not a signal of this platform.
pub fn parse_signal(name: &str) -> Result<Signal, SignalError> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse().map_err(|_| SignalError {
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_parse_with_or_without_prefix_in_any_case() {
        for (name, want) in [
            ("SIGTERM", Some(Signal::SIGTERM)),
            ("TERM", Some(Signal::SIGTERM)),
            ("sigterm", Some(Signal::SIGTERM)),
            ("Term", Some(Signal::SIGTERM)),
            (" SIGINT ", Some(Signal::SIGINT)),
            ("hup", Some(Signal::SIGHUP)),
            ("SIGUSR1", Some(Signal::SIGUSR1)),
            ("KILL", Some(Signal::SIGKILL)),
            ("", None),
            ("SIG", None),
            ("15", None),
            ("SIGSIGTERM", None),
            ("TERMINATE", None),
        ] {
            assert_eq!(parse_signal(name).ok(), want, "{name:?}");
        }
    }

    #[test]
    fn a_bad_signal_name_is_named_with_examples() {
        let e = parse_signal("SIGNOPE").unwrap_err();
        assert_eq!(e.name(), "SIGNOPE");
        assert_eq!(
            String::from(e),
            "unknown signal \"SIGNOPE\": give a signal name such as SIGTERM, TERM, SIGINT, \
             HUP or sigusr1"
        );
    }

    #[test]
    fn defaults_are_term_ten_seconds_and_64_kib() {
        let o = ProcessOptions::default();
        assert_eq!(o.stop_signal, Signal::SIGTERM);
        assert_eq!(o.grace, Duration::from_secs(10));
        assert_eq!(o.output_limit, 65536);
        assert!(o.inherited.is_empty());
    }

    #[test]
    fn inherited_env_is_path_then_the_passed_names_that_are_set() {
        let action = ProcessAction::new(vec!["/bin/true".into()])
            .unwrap()
            .with_pass_env(vec![
                "B".into(),
                "MISSING".into(),
                "PATH".into(),
                "A".into(),
            ])
            .unwrap();
        let lookup = |name: &str| match name {
            "PATH" => Some("/opt/bin".to_string()),
            "A" => Some("a".to_string()),
            "B" => Some(String::new()),
            "HOME" => Some("/home/me".to_string()),
            _ => None,
        };
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            inherited_env(&action, lookup),
            pairs(&[("PATH", "/opt/bin"), ("B", ""), ("A", "a")])
        );
        assert_eq!(
            inherited_env(&action, |_| None),
            pairs(&[("PATH", DEFAULT_PATH)])
        );
    }
}
