//! alertrun's YAML config: parsed once, fully validated, then immutable.
//!
//! Every problem is reported, not only the first, each naming its path and line:
//! `rules[2].match[0] (line 14): invalid matcher "severity=~(": …`. Unknown keys are
//! errors.

mod ha;
mod hints;
mod lines;
mod lints;
mod notify;
mod print;
mod rails;
mod raw;
mod schedule;
mod secrets;
mod server;
mod silences;
mod tls;

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use alert_core::env::{EnvStyle, EnvVar};
use alert_match::{Matchers, Mode, RegexCache, Rule, RuleSet, StatusFilter, TimeInterval};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::backend;
pub use crate::backend::Action;
#[cfg(feature = "server")]
use crate::backend::RuleAction;
pub use ha::{DEFAULT_LEASE_DURATION, HaSettings};
use lines::Lines;
pub use notify::{EventKind, NotifySettings, Sink, SinkKind, TEMPLATE_FIELDS};
pub use print::canonical_config;
pub use rails::{
    Approval, BreakerSettings, DEFAULT_APPROVAL_TIMEOUT, DEFAULT_RECURRENCE, DEFAULT_STORM_WINDOW,
    Rails, RateLimit, StormGate, Verify,
};
use raw::{
    RawDefaults, RawEnvStyle, RawMode, RawOnInterrupt, RawOnResolved, RawRule, RawSecret,
    RawStatus, RawTimeInterval, RawTop,
};
use schedule::Intervals;
pub use schedule::{Muted, NamedInterval, Schedule};
pub use secrets::Secrets;
#[cfg(test)]
pub(crate) use server::DEFAULT_DEDUPE_IDLE;
pub use server::{
    ApprovalLinks, Auth, Limits, Secret, ServerSettings, StateSettings, TlsSettings,
    check_exposure, parse_server,
};
#[cfg(feature = "server")]
pub(crate) use silences::check_url as check_alertmanager_url;
pub use silences::{
    AlertmanagerAuth, AlertmanagerSettings, OnAlertmanagerUnreachable, SilencePolicy,
    default_alertmanager_timeout,
};

/// The largest config file alertrun reads.
pub(crate) const MAX_CONFIG_BYTES: usize = 8 << 20;

/// The largest secret file alertrun reads.
const MAX_SECRET_BYTES: usize = 64 << 10;

/// Default action timeout when neither the rule nor `defaults` sets one.
pub fn default_timeout() -> Duration {
    Duration::from_secs(300)
}

/// Default Kubernetes namespace for Job actions.
pub fn default_namespace() -> String {
    "default".to_string()
}

/// How often a rule's action runs for the same episode (or group state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Repeat {
    /// Once per episode, and once more when it resolves if the rule acts on that
    /// (`repeat: once`, the default).
    #[default]
    Once,
    /// On every notification that selects it (`repeat: always`).
    Always,
    /// Again when the previous run for the episode started at least this long ago
    /// (`repeat: 30m`).
    After(Duration),
}

/// What happens to a rule's running action when its alert resolves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnResolved {
    /// Send the rule's stop signal (SIGTERM by default), then SIGKILL after the grace.
    #[default]
    Stop,
    /// Let it run to its end.
    Leave,
}

/// What a restart does with a run that was in flight when alertrun died.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnInterrupt {
    /// Record it `interrupted` and leave it: a remediation may not be safe to repeat.
    #[default]
    Record,
    /// Record it `interrupted` and run it again.
    Rerun,
}

/// How `serve` runs a rule's action: repeats, concurrency, stopping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// `enabled: false` selects nothing to run; matches are counted as skipped.
    pub enabled: bool,
    /// Record what would run, without running it.
    pub dry_run: bool,
    /// After a crash.
    pub on_interrupt: OnInterrupt,
    /// With `server.ha`: when the replica running it dies (its claim not renewed), whether
    /// another replica runs it again (`Rerun`) or records it orphaned (`Record`).
    pub on_owner_lost: OnInterrupt,
    /// Repeat policy.
    pub repeat: Repeat,
    /// At most this many of the rule's actions run at once; `None`: only the global limit.
    pub concurrency: Option<usize>,
    /// On resolve while running.
    pub on_resolved_while_running: OnResolved,
    /// The signal that stops a process action (a name such as `SIGTERM`).
    pub stop_signal: String,
    /// Time between the stop signal and SIGKILL.
    pub stop_grace: Duration,
    /// Its target, rate limit, circuit breaker and storm gate.
    pub rails: Rails,
    /// Its active and mute time intervals (maintenance windows).
    pub schedule: Schedule,
    /// Its Alertmanager silences: made while it runs, respected before it runs.
    pub silences: SilencePolicy,
    /// Whether its runs wait for people's approval.
    pub approval: Option<Approval>,
    /// The names of the sinks its runs are notified to (`notify:`, else `notify.default`).
    pub notify: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            enabled: true,
            dry_run: false,
            on_interrupt: OnInterrupt::Record,
            on_owner_lost: OnInterrupt::Record,
            repeat: Repeat::Once,
            concurrency: None,
            on_resolved_while_running: OnResolved::Stop,
            stop_signal: "SIGTERM".to_owned(),
            stop_grace: Duration::from_secs(10),
            rails: Rails::default(),
            schedule: Schedule::default(),
            silences: SilencePolicy::default(),
            approval: None,
            notify: Vec::new(),
        }
    }
}

/// A validated config: the rules (indexed for selection) and each rule's action.
#[derive(Clone, Debug)]
pub struct Config {
    rules: RuleSet,
    actions: Vec<Action>,
    policies: Vec<Policy>,
    descriptions: Vec<String>,
    server: ServerSettings,
    warnings: Vec<Problem>,
    unread_secrets: Vec<Problem>,
    time_intervals: Intervals,
    alertmanager: AlertmanagerSettings,
    notify: NotifySettings,
}

/// One problem in a config, with its place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Path in the document, such as `rules[2].match[0]`; empty for the document itself.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "config"
        } else {
            &self.path
        };
        match self.line {
            Some(line) => write!(f, "{path} (line {line}): {}", self.message),
            None => write!(f, "{path}: {}", self.message),
        }
    }
}

/// Every problem found in a config.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} problem{} in the config:\n{}", .problems.len(), if .problems.len() == 1 { "" } else { "s" }, list(.problems))]
pub struct ConfigError {
    /// The problems, in document order.
    pub problems: Vec<Problem>,
}

/// The problems, one a line, indented (also `alertrun import`'s).
pub(crate) fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file when it cannot be read, or every problem in it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, Secrets::Required)
    }

    /// [`Config::load`], reading the secrets as `secrets` says.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with(path: &Path, secrets: Secrets) -> Result<Self, ConfigError> {
        Self::from_yaml_with(&Self::read(path)?, secrets)
    }

    /// The text of a config file: UTF-8, at most 8 MiB.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file when it cannot be read.
    pub fn read(path: &Path) -> Result<String, ConfigError> {
        read_text(path, MAX_CONFIG_BYTES).map_err(|message| ConfigError {
            problems: vec![Problem {
                path: String::new(),
                line: None,
                message,
            }],
        })
    }

    /// Parses and validates config text.
    ///
    /// # Errors
    /// [`ConfigError`] listing every problem with its path and line.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        Self::from_yaml_with(text, Secrets::Required)
    }

    /// [`Config::from_yaml`], reading the secrets as `secrets` says.
    ///
    /// # Errors
    /// As [`Config::from_yaml`].
    pub fn from_yaml_with(text: &str, secrets: Secrets) -> Result<Self, ConfigError> {
        let mut v = Validator::new(text);
        v.secrets = secrets;
        let config = v.config(text);
        match config {
            Some(mut config) if v.problems.is_empty() => {
                config.warnings = v.warnings;
                config.unread_secrets = v.unread;
                Ok(config)
            }
            _ => Err(ConfigError {
                problems: v.problems,
            }),
        }
    }

    /// The rules, in config order.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// What is valid but hazardous, with path and line, for `alertrun check` to show: an
    /// argv element that begins with an alert's value where the program may read an
    /// option (not after a `--` element, not in `--flag=$(VAR)` form).
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// The secrets not read, each at its path with why, when loaded with
    /// [`Secrets::WhenReadable`]; their values are placeholders.
    pub fn unread_secrets(&self) -> &[Problem] {
        &self.unread_secrets
    }

    /// The action of rule `index`.
    pub fn action(&self, index: usize) -> &Action {
        &self.actions[index]
    }

    /// The `server:` section (every default when absent).
    pub fn server(&self) -> &ServerSettings {
        &self.server
    }

    /// The `alertmanager:` section (every default when absent).
    pub fn alertmanager(&self) -> &AlertmanagerSettings {
        &self.alertmanager
    }

    /// How `serve` runs rule `index`.
    pub fn policy(&self, index: usize) -> &Policy {
        &self.policies[index]
    }

    /// The named time intervals (`time_intervals`), in name order.
    pub fn time_intervals(&self) -> impl Iterator<Item = &NamedInterval> {
        self.time_intervals.iter()
    }

    /// The `notify:` section: the sinks and the default ones.
    pub fn notify(&self) -> &NotifySettings {
        &self.notify
    }

    /// The description of rule `index` (may be empty).
    pub fn description(&self, index: usize) -> &str {
        &self.descriptions[index]
    }

    /// Each rule's name, action and stop policy, in config order: what its executor is
    /// built from.
    #[cfg(feature = "server")]
    pub(crate) fn rule_actions(&self) -> impl Iterator<Item = RuleAction<'_>> + Clone {
        let rules = self.rules.rules().iter();
        rules
            .zip(self.actions.iter().zip(&self.policies))
            .map(|(rule, (action, policy))| RuleAction {
                rule: &rule.name,
                action,
                stop_signal: &policy.stop_signal,
                stop_grace: policy.stop_grace,
            })
    }
}

/// Reads a secret from a file: UTF-8, at most 64 KiB, one trailing line ending (`\n` or
/// `\r\n`) removed; the message names the file.
pub(crate) fn read_secret_file(path: &Path) -> Result<String, String> {
    let mut text = read_text(path, MAX_SECRET_BYTES)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// Parses a duration such as `30s` or `1h30m`; zero is refused.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err(format!("duration {text:?} must be more than zero")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!(
            "invalid duration {text:?}: {e} (write e.g. 30s, 5m, 1h30m)"
        )),
    }
}

/// Reads a UTF-8 text file of at most `limit` bytes; the message names the file.
pub(crate) fn read_text(path: &Path, limit: usize) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() > limit {
        return Err(format!(
            "{} is {} bytes, more than the limit of {limit}",
            path.display(),
            bytes.len()
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("{} is not UTF-8: {e}", path.display()))
}

struct Validator<'a> {
    text: &'a str,
    /// Where each path is in `text`: mapped on the first problem or warning, as a valid
    /// config needs no lines (the map costs about 0.9 KB per rule).
    lines: OnceCell<Lines>,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    /// Whether every secret must be read.
    secrets: Secrets,
    /// The secrets not read (with [`Secrets::WhenReadable`]).
    unread: Vec<Problem>,
    /// One compiled regex per distinct regex value across all rules.
    regexes: RegexCache,
}

struct Defaults {
    timeout: Duration,
    env_style: EnvStyle,
    namespace: String,
}

impl<'a> Validator<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            lines: OnceCell::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
            secrets: Secrets::Required,
            unread: Vec::new(),
            regexes: RegexCache::new(),
        }
    }

    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        let line = self.line(&path);
        let message = hints::with_hint(&path, message.into(), self.text, line);
        self.problems.push(Problem {
            path,
            line,
            message,
        });
    }

    fn line(&self, path: &str) -> Option<usize> {
        self.lines.get_or_init(|| Lines::of(self.text)).line(path)
    }

    fn warning(&mut self, path: String, message: String) {
        let line = self.line(&path);
        self.warnings.push(Problem {
            path,
            line,
            message,
        });
    }

    /// Deserialises `value` into `T`, reporting a failure at `base` + the inner path.
    fn typed<T: DeserializeOwned>(&mut self, base: &str, value: Value) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(t) => Some(t),
            Err(e) => {
                let inner = e.path().to_string();
                let path = join(base, if inner == "." { "" } else { &inner });
                self.problem(path, e.into_inner().to_string());
                None
            }
        }
    }

    fn config(&mut self, text: &str) -> Option<Config> {
        let doc: Value = match serde_saphyr::from_str(text) {
            Ok(doc) => doc,
            Err(e) => {
                self.problems.push(Problem {
                    path: String::new(),
                    line: None,
                    message: yaml_message(&e),
                });
                return None;
            }
        };
        let top: RawTop = self.typed("", doc)?;
        let server = self.server(top.server);
        let defaults = self.defaults(top.defaults);
        let intervals = self.time_intervals(top.time_intervals);
        let alertmanager = self.alertmanager(top.alertmanager);
        let notify = self.notify(top.notify);
        // Sized once: a grown Vec keeps up to half its capacity unused for as long as the
        // config lives.
        let n = top.rules.len();
        let mut rules = Vec::with_capacity(n);
        let mut actions = Vec::with_capacity(n);
        let mut policies = Vec::with_capacity(n);
        let mut descriptions = Vec::with_capacity(n);
        let mut names = BTreeSet::new();
        for (i, value) in top.rules.into_iter().enumerate() {
            let base = format!("rules[{i}]");
            let Some(raw) = self.typed::<RawRule>(&base, value) else {
                continue;
            };
            if !names.insert(raw.name.clone()) {
                self.problem(
                    join(&base, "name"),
                    format!(
                        "duplicate rule name {:?}: give each rule its own (runs, breakers and \
                         approvals are kept by rule name)",
                        raw.name
                    ),
                );
            }
            let description = raw.description.clone();
            let sinks = self.rule_sinks(&base, raw.notify.as_deref(), &notify);
            if let Some((rule, action, mut policy)) = self.rule(&base, raw, &defaults, &intervals) {
                policy.notify = sinks;
                rules.push(rule);
                actions.push(action);
                policies.push(policy);
                descriptions.push(description);
            }
        }
        Some(Config {
            rules: RuleSet::new(rules),
            actions,
            policies,
            descriptions,
            server,
            warnings: Vec::new(),
            unread_secrets: Vec::new(),
            time_intervals: intervals,
            alertmanager,
            notify,
        })
    }

    /// The named time intervals: every spec checked, names present and unique.
    fn time_intervals(&mut self, values: Option<Vec<Value>>) -> Intervals {
        let mut named = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, value) in values.unwrap_or_default().into_iter().enumerate() {
            let base = format!("time_intervals[{i}]");
            let Some(raw) = self.typed::<RawTimeInterval>(&base, value) else {
                continue;
            };
            if raw.name.is_empty() {
                self.problem(join(&base, "name"), "missing name in time interval");
                continue;
            }
            if !seen.insert(raw.name.clone()) {
                self.problem(
                    join(&base, "name"),
                    format!("duplicate time interval name {:?}", raw.name),
                );
                continue;
            }
            let specs = raw
                .time_intervals
                .unwrap_or_default()
                .into_iter()
                .enumerate();
            let intervals = specs
                .filter_map(|(j, spec)| {
                    self.typed::<TimeInterval>(&format!("{base}.time_intervals[{j}]"), spec)
                })
                .collect();
            named.push(NamedInterval {
                name: raw.name,
                intervals,
            });
        }
        Intervals::new(named)
    }

    /// A rule's `active_time_intervals` and `mute_time_intervals`, each name defined.
    fn schedule(&mut self, base: &str, raw: &RawRule, intervals: &Intervals) -> Schedule {
        let mut resolve = |field: &str, names: &[String]| {
            let mut found = Vec::with_capacity(names.len());
            for (i, name) in names.iter().enumerate() {
                match intervals.get(name) {
                    Some(interval) => found.push(interval.clone()),
                    None => {
                        let defined: Vec<&str> = intervals.names().collect();
                        let known = if defined.is_empty() {
                            "no time_intervals are defined".to_owned()
                        } else {
                            format!("time_intervals defines {}", defined.join(", "))
                        };
                        self.problem(
                            format!("{}[{i}]", join(base, field)),
                            format!(
                                "rule {:?} names undefined time interval {name:?} ({known})",
                                raw.name
                            ),
                        );
                    }
                }
            }
            found
        };
        let active = resolve("active_time_intervals", &raw.active_time_intervals);
        let mute = resolve("mute_time_intervals", &raw.mute_time_intervals);
        Schedule::new(active, mute, intervals.local().clone())
    }

    fn defaults(&mut self, value: Option<Value>) -> Defaults {
        let raw: RawDefaults = value
            .and_then(|v| self.typed("defaults", v))
            .unwrap_or_default();
        let timeout = match raw.timeout {
            Some(t) => self
                .duration("defaults.timeout", &t)
                .unwrap_or_else(default_timeout),
            None => default_timeout(),
        };
        let namespace = raw.namespace.unwrap_or_else(default_namespace);
        if let Err(message) = backend::check_namespace(&namespace) {
            self.problem("defaults.namespace", message);
        }
        Defaults {
            timeout,
            env_style: raw.env_style.map_or(EnvStyle::Native, env_style),
            namespace,
        }
    }

    fn rule(
        &mut self,
        base: &str,
        raw: RawRule,
        d: &Defaults,
        intervals: &Intervals,
    ) -> Option<(Rule, Action, Policy)> {
        if !is_rule_name(&raw.name) {
            self.problem(
                join(base, "name"),
                format!(
                    "invalid rule name {:?}: use 1 to 100 ASCII letters, digits, '-', '_' or '.'",
                    raw.name
                ),
            );
        }
        let matchers = self.matchers(&join(base, "match"), &raw.matchers);
        let annotation_matchers =
            self.matchers(&join(base, "match_annotations"), &raw.match_annotations);
        let timeout = match &raw.timeout {
            Some(t) => self.duration(&join(base, "timeout"), t),
            None => Some(d.timeout),
        };
        let mode = match raw.mode {
            Some(RawMode::PerGroup) => Mode::PerGroup,
            _ => Mode::PerAlert,
        };
        let env_style = raw.env_style.map_or(d.env_style, env_style);
        if env_style == EnvStyle::Bailer && mode == Mode::PerGroup {
            self.problem(
                join(base, "env_style"),
                "the bailer env style is per alert; it cannot be used with `mode: per-group`",
            );
        }
        let env = self.static_env(&join(base, "env"), raw.env.clone());
        for name in raw.secret_env.keys().filter(|n| raw.env.contains_key(*n)) {
            self.problem(
                join(&join(base, "secret_env"), name),
                format!("{name} is also set in env: give each variable once"),
            );
        }
        let policy = self.policy(base, &raw, intervals);
        let set_here: BTreeMap<String, &str> = raw
            .env
            .keys()
            .map(|n| (n.clone(), "env"))
            .chain(raw.secret_env.keys().map(|n| (n.clone(), "secret_env")))
            .collect();
        let secrets = self.secret_env(&join(base, "secret_env"), raw.secret_env);
        let action = self.action(&join(base, "action"), raw.action, d);
        let pass_env = action.as_ref().map(|a| a.pass_env().to_vec());
        for (i, name) in pass_env.iter().flatten().enumerate() {
            if let Some(section) = set_here.get(name) {
                self.problem(
                    format!("{}[{i}]", join(base, "action.process.pass_env")),
                    format!("{name} is also set in {section}: give each variable once"),
                );
            }
        }
        let env: Option<Vec<EnvVar>> = match (env, secrets) {
            (Some(env), Some(secrets)) => Some(env.into_iter().chain(secrets).collect()),
            _ => None,
        };
        if let Some(warning) = action
            .as_ref()
            .and_then(|a| backend::env_style_warning(a, env_style))
        {
            self.warning(join(base, "env_style"), warning);
        }
        let argvs = action.as_ref().map(backend::argvs).unwrap_or_default();
        if let (Some(action), Some(env)) = (&action, &env) {
            let at = join(&join(base, "action"), action.kind());
            for argv in &argvs {
                for e in alert_match::exposed_arguments(argv, env_style, env) {
                    self.warning(join(&at, &e.at), e.to_string());
                }
            }
        }
        let rule = Rule {
            name: raw.name,
            matchers: matchers?,
            annotation_matchers: annotation_matchers?,
            receivers: raw.receivers,
            on: match raw.on {
                Some(RawStatus::Resolved) => StatusFilter::Resolved,
                Some(RawStatus::Any) => StatusFilter::Any,
                _ => StatusFilter::Firing,
            },
            mode,
            env_style,
            env: env?,
            pass_env: pass_env.unwrap_or_default(),
            timeout: timeout?,
            arguments: argvs.into_iter().flatten().collect(),
            allow_option_values: raw.allow_option_values,
        };
        Some((rule, action?, policy?))
    }

    fn policy(&mut self, base: &str, raw: &RawRule, intervals: &Intervals) -> Option<Policy> {
        let before = self.problems.len();
        let mut policy = Policy {
            enabled: raw.enabled.unwrap_or(true),
            dry_run: raw.dry_run.unwrap_or(false),
            on_interrupt: match raw.on_interrupt {
                Some(RawOnInterrupt::Rerun) => OnInterrupt::Rerun,
                _ => OnInterrupt::Record,
            },
            on_owner_lost: match raw.on_owner_lost {
                Some(RawOnInterrupt::Rerun) => OnInterrupt::Rerun,
                _ => OnInterrupt::Record,
            },
            ..Policy::default()
        };
        match raw.repeat.as_deref() {
            None | Some("once") => {}
            Some("always") => policy.repeat = Repeat::Always,
            Some(text) => match humantime::parse_duration(text) {
                Ok(d) if !d.is_zero() => policy.repeat = Repeat::After(d),
                _ => self.problem(
                    join(base, "repeat"),
                    format!("invalid repeat {text:?}: use once, always, or a cooldown such as 30m"),
                ),
            },
        }
        match raw.concurrency {
            Some(0) => self.problem(
                join(base, "concurrency"),
                "concurrency must be at least 1 (leave it out for no per-rule limit)",
            ),
            n => policy.concurrency = n,
        }
        if let Some(RawOnResolved::Leave) = raw.on_resolved_while_running {
            policy.on_resolved_while_running = OnResolved::Leave;
        }
        if let Some(signal) = &raw.stop_signal {
            match backend::check_stop_signal(signal) {
                Ok(()) => policy.stop_signal = signal.clone(),
                Err(message) => self.problem(join(base, "stop_signal"), message),
            }
        }
        if let Some(grace) = &raw.stop_grace {
            policy.stop_grace = self
                .duration(&join(base, "stop_grace"), grace)
                .unwrap_or(policy.stop_grace);
        }
        policy.rails = self.rails(base, raw);
        policy.approval = self.approval(base, raw);
        policy.schedule = self.schedule(base, raw, intervals);
        policy.silences = self.silences(base, raw);
        (self.problems.len() == before).then_some(policy)
    }

    /// Checks a rule's `approval`.
    fn approval(&mut self, base: &str, raw: &RawRule) -> Option<Approval> {
        let a = raw.approval.as_ref()?;
        let path = join(base, "approval");
        if a.required == Some(false) {
            return None;
        }
        if a.required.is_none() {
            self.problem(
                join(&path, "required"),
                "say required: true (an approval section that does not say so is a mistake)",
            );
            return None;
        }
        let timeout = match &a.timeout {
            Some(text) => self.duration(&join(&path, "timeout"), text)?,
            None => DEFAULT_APPROVAL_TIMEOUT,
        };
        if timeout.is_zero() {
            self.problem(join(&path, "timeout"), "must be longer than 0s");
        }
        let min_approvals = a.min_approvals.unwrap_or(1);
        if min_approvals == 0 {
            self.problem(
                join(&path, "min_approvals"),
                "at least 1 (leave approval out to run without)",
            );
        }
        if !a.approvers.is_empty() && (a.approvers.len() as u64) < u64::from(min_approvals) {
            self.problem(
                join(&path, "min_approvals"),
                format!(
                    "{min_approvals} approvals needed but only {} approvers named",
                    a.approvers.len()
                ),
            );
        }
        Some(Approval {
            timeout,
            approvers: a.approvers.clone(),
            min_approvals,
            forbid_self: a.forbid_self,
        })
    }

    /// Checks a rule's rails (`target`, `max_runs`, `breaker`, `max_targets`, `verify`).
    fn rails(&mut self, base: &str, raw: &RawRule) -> Rails {
        let mut rails = Rails::default();
        for (i, name) in raw.target.iter().enumerate() {
            if !alert_core::env::is_portable_name(name) {
                self.problem(
                    format!("{base}.target[{i}]"),
                    format!("invalid label name {name:?}: use [A-Za-z_][A-Za-z0-9_]*"),
                );
            } else if raw.target[..i].contains(name) {
                self.problem(
                    format!("{base}.target[{i}]"),
                    format!("{name} is named twice"),
                );
            }
        }
        rails.target.clone_from(&raw.target);
        if let Some(max) = &raw.max_runs {
            let path = join(base, "max_runs");
            if max.count == 0 {
                self.problem(
                    join(&path, "count"),
                    "count must be at least 1 (set enabled: false to run nothing)",
                );
            }
            if let Some(per) = self.duration(&join(&path, "per"), &max.per) {
                rails.max_runs = Some(RateLimit {
                    count: max.count,
                    per,
                });
            }
        }
        if let Some(b) = &raw.breaker {
            let path = join(base, "breaker");
            let d = rails.breaker;
            let mut duration = |key: &str, text: &Option<String>, default: Duration| {
                text.as_deref()
                    .and_then(|t| self.duration(&join(&path, key), t))
                    .unwrap_or(default)
            };
            let backoff = duration("backoff", &b.backoff, d.backoff);
            let max_backoff = duration("max_backoff", &b.max_backoff, d.max_backoff.max(backoff));
            if max_backoff < backoff {
                self.problem(
                    join(&path, "max_backoff"),
                    "max_backoff must not be shorter than backoff",
                );
            }
            rails.breaker = BreakerSettings {
                failures: b.failures.unwrap_or(d.failures),
                ineffective: b.ineffective.unwrap_or(d.ineffective),
                backoff,
                max_backoff,
            };
        }
        if let Some(value) = raw.max_targets.clone() {
            let path = join(base, "max_targets");
            let parsed = match rails::max_targets(value) {
                Ok(count) => Some(count),
                Err(value) => self.typed::<rails::RawMaxTargets>(&path, value),
            };
            if let Some(max) = parsed {
                if max.count == 0 {
                    self.problem(
                        &path,
                        "max_targets must be at least 1 (set enabled: false to run nothing)",
                    );
                }
                let within = max
                    .within
                    .as_deref()
                    .and_then(|t| self.duration(&join(&path, "within"), t));
                rails.max_targets = Some(StormGate {
                    max_targets: max.count,
                    within: within.unwrap_or(DEFAULT_STORM_WINDOW),
                });
            }
        }
        if let Some(v) = &raw.verify {
            let path = join(base, "verify");
            let within = self.duration(&join(&path, "within"), &v.within);
            let recurrence = match &v.recurrence {
                Some(text) => self.duration(&join(&path, "recurrence"), text),
                None => Some(DEFAULT_RECURRENCE),
            };
            if within == Some(Duration::ZERO) {
                self.problem(
                    join(&path, "within"),
                    "within must be longer than 0s (leave verify out to judge nothing)",
                );
            }
            if let (Some(within), Some(recurrence)) = (within, recurrence) {
                rails.verify = Some(Verify { within, recurrence });
            }
        }
        rails
    }

    /// Reads each `secret_env` value from its file or alertrun's environment; the values
    /// are marked secret, so logs, `explain` and run history show `<redacted>`.
    fn secret_env(
        &mut self,
        base: &str,
        secrets: BTreeMap<String, RawSecret>,
    ) -> Option<Vec<EnvVar>> {
        let before = self.problems.len();
        let mut vars = Vec::new();
        for (name, source) in secrets {
            let path = join(base, &name);
            if !self.var_name(&path, &name) {
                continue;
            }
            let read = match source {
                RawSecret::File(file) => read_secret_file(&file),
                RawSecret::Env(var) => secrets::env_var(&var),
            };
            let value = self.secret_text(&path, read);
            match value {
                Ok(v) if v.contains('\0') => {
                    self.problem(&path, "secret value contains a NUL byte")
                }
                Ok(value) => vars.push(EnvVar {
                    name,
                    value,
                    secret: true,
                }),
                Err(message) => self.problem(&path, message),
            }
        }
        (self.problems.len() == before).then_some(vars)
    }

    /// Checks a variable name set in the config; reports and returns false when invalid.
    fn var_name(&mut self, path: &str, name: &str) -> bool {
        if !alert_core::env::is_portable_name(name) {
            self.problem(
                path,
                format!("invalid variable name {name:?}: use [A-Za-z_][A-Za-z0-9_]*"),
            );
            false
        } else if name.starts_with("ALERTRUN_") {
            self.problem(
                path,
                format!("{name}: the ALERTRUN_ prefix is reserved for the alert's variables"),
            );
            false
        } else {
            true
        }
    }

    /// Parses each matcher string; all of a rule's strings are ANDed and sorted, as
    /// Alertmanager does with a route's `matchers`.
    fn matchers(&mut self, base: &str, strings: &[String]) -> Option<Matchers> {
        let mut all = Vec::new();
        let mut ok = true;
        for (i, s) in strings.iter().enumerate() {
            match self.regexes.parse(s) {
                Ok(m) => all.extend(m),
                Err(e) => {
                    self.problem(format!("{base}[{i}]"), e.to_string());
                    ok = false;
                }
            }
        }
        all.shrink_to_fit();
        ok.then(|| Matchers::new(all).sorted())
    }

    fn duration(&mut self, path: &str, text: &str) -> Option<Duration> {
        parse_duration(text)
            .map_err(|message| self.problem(path, message))
            .ok()
    }

    fn static_env(&mut self, base: &str, env: BTreeMap<String, String>) -> Option<Vec<EnvVar>> {
        let before = self.problems.len();
        let mut vars = Vec::new();
        for (name, value) in env {
            let path = join(base, &name);
            if !self.var_name(&path, &name) {
                continue;
            }
            if value.contains('\0') {
                self.problem(&path, "value contains a NUL byte");
            } else {
                vars.push(EnvVar::new(name, value));
            }
        }
        (self.problems.len() == before).then_some(vars)
    }

    fn action(&mut self, base: &str, value: Value, d: &Defaults) -> Option<Action> {
        match backend::parse_action(value, &d.namespace) {
            Ok(action) => Some(action),
            Err(problems) => {
                for p in problems {
                    self.problem(join(base, &p.path), p.message);
                }
                None
            }
        }
    }
}

fn env_style(raw: RawEnvStyle) -> EnvStyle {
    match raw {
        RawEnvStyle::Native => EnvStyle::Native,
        RawEnvStyle::AmExecutor => EnvStyle::AmExecutor,
        RawEnvStyle::Bailer => EnvStyle::Bailer,
    }
}

fn yaml_message(e: &serde_saphyr::Error) -> String {
    format!("invalid YAML: {e}")
}

fn join(base: &str, rest: &str) -> String {
    match (base.is_empty(), rest.is_empty(), rest.starts_with('[')) {
        (true, _, _) => rest.to_string(),
        (_, true, _) => base.to_string(),
        (_, _, true) => format!("{base}{rest}"),
        _ => format!("{base}.{rest}"),
    }
}

fn is_rule_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
