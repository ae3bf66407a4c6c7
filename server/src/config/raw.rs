//! The config file as written: strict serde types, validated into `Config` by `mod.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Top level: `defaults` and `rules`. Each rule is kept as a value so that one broken rule
/// does not hide the problems of the others.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTop {
    #[serde(default)]
    pub(crate) defaults: Option<Value>,
    pub(crate) rules: Vec<Value>,
    /// `serve` settings (listen address, auth, TLS, limits, queue).
    #[serde(default)]
    pub(crate) server: Option<Value>,
    /// Named time intervals in Alertmanager's syntax, each kept as a value (as rules are).
    #[serde(default)]
    pub(crate) time_intervals: Option<Vec<Value>>,
    /// Where silences are asked about and made (`super::silences`).
    #[serde(default)]
    pub(crate) alertmanager: Option<Value>,
    /// Notification sinks (`config::notify`).
    #[serde(default)]
    pub(crate) notify: Option<Value>,
}

/// One of the config's `time_intervals`: Alertmanager's `<time_interval>`, its specs kept as
/// values so that each broken spec is reported.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeInterval {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) time_intervals: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    #[serde(default)]
    pub(crate) timeout: Option<String>,
    #[serde(default)]
    pub(crate) env_style: Option<RawEnvStyle>,
    #[serde(default)]
    pub(crate) namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(rename = "match", default)]
    pub(crate) matchers: Vec<String>,
    #[serde(default)]
    pub(crate) match_annotations: Vec<String>,
    #[serde(default)]
    pub(crate) receivers: Vec<String>,
    #[serde(default)]
    pub(crate) on: Option<RawStatus>,
    #[serde(default)]
    pub(crate) mode: Option<RawMode>,
    #[serde(default)]
    pub(crate) env_style: Option<RawEnvStyle>,
    #[serde(default)]
    pub(crate) timeout: Option<String>,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// Checked by the backend (`crate::backend::parse_action`).
    pub(crate) action: Value,
    #[serde(default)]
    pub(crate) secret_env: BTreeMap<String, RawSecret>,
    #[serde(default)]
    pub(crate) repeat: Option<String>,
    #[serde(default)]
    pub(crate) concurrency: Option<usize>,
    #[serde(default)]
    pub(crate) on_resolved_while_running: Option<RawOnResolved>,
    #[serde(default)]
    pub(crate) stop_signal: Option<String>,
    #[serde(default)]
    pub(crate) stop_grace: Option<String>,
    #[serde(default)]
    pub(crate) enabled: Option<bool>,
    #[serde(default)]
    pub(crate) dry_run: Option<bool>,
    #[serde(default)]
    pub(crate) on_interrupt: Option<RawOnInterrupt>,
    /// With `server.ha`: what another replica does when this one dies mid-run.
    #[serde(default)]
    pub(crate) on_owner_lost: Option<RawOnInterrupt>,
    #[serde(default)]
    pub(crate) allow_option_values: bool,
    #[serde(default)]
    pub(crate) target: Vec<String>,
    #[serde(default)]
    pub(crate) max_runs: Option<super::rails::RawMaxRuns>,
    #[serde(default)]
    pub(crate) breaker: Option<super::rails::RawBreaker>,
    #[serde(default)]
    pub(crate) max_targets: Option<Value>,
    #[serde(default)]
    pub(crate) verify: Option<super::rails::RawVerify>,
    #[serde(default)]
    pub(crate) approval: Option<super::rails::RawApproval>,
    /// Names of `time_intervals`: the rule acts only within one of them (none: always).
    #[serde(default)]
    pub(crate) active_time_intervals: Vec<String>,
    /// Names of `time_intervals`: the rule does not act within any of them.
    #[serde(default)]
    pub(crate) mute_time_intervals: Vec<String>,
    /// Silences (`super::silences`).
    #[serde(default)]
    pub(crate) silence_while_running: Option<bool>,
    #[serde(default)]
    pub(crate) respect_silences: Option<bool>,
    #[serde(default)]
    pub(crate) on_alertmanager_unreachable: Option<super::OnAlertmanagerUnreachable>,
    /// Names of `notify.sinks`: where this rule's runs are notified (none: the default).
    #[serde(default)]
    pub(crate) notify: Option<Vec<String>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawOnInterrupt {
    Record,
    Rerun,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawStatus {
    Firing,
    Resolved,
    Any,
}

/// Where a secret variable's value comes from: a file (one trailing newline dropped) or
/// one of alertrun's own environment variables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) enum RawSecret {
    File(std::path::PathBuf),
    Env(String),
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawOnResolved {
    Stop,
    Leave,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawMode {
    PerAlert,
    PerGroup,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawEnvStyle {
    Native,
    AmExecutor,
    Bailer,
}
