//! Alertmanager silences, as the config writes them: the top-level `alertmanager:` section
//! (where alertrun asks and makes silences) and each rule's silence policy.
//!
//! ```yaml
//! alertmanager:                       # optional; default: the notification's externalURL
//!   url: http://alertmanager:9093     # http or https, with any path prefix
//!   bearer_token_file: /etc/alertrun/am-token   # or basic_auth: {username, password_file}
//!   timeout: 5s                       # each request (default 5s)
//! rules:
//!   - name: restart-pod
//!     silence_while_running: true     # silence the alert while the action runs (default false)
//!     respect_silences: true          # skip while someone else's silence covers it (default false)
//!     on_alertmanager_unreachable: act   # act | skip, when Alertmanager cannot be asked (default act)
//! ```
//!
//! What this module is: the settings' types, their defaults and the checks of their
//! values, reported with their place like every other problem. What it is not: the
//! Alertmanager client or the decisions (`crate::serve::silences` and
//! `crate::serve::alertmanager`), which need a runtime.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::raw::RawRule;
use super::{Secret, Validator, join};

/// The default `alertmanager.timeout`: long enough for a loaded Alertmanager, short enough
/// that a notification waiting on it is not refused by Alertmanager's own deadline (10 s).
pub fn default_alertmanager_timeout() -> Duration {
    Duration::from_secs(5)
}

/// The validated `alertmanager:` section: where alertrun asks about and makes silences.
#[derive(Clone, Debug)]
pub struct AlertmanagerSettings {
    /// The Alertmanager's base URL (no trailing `/`); `None`: the `externalURL` of the
    /// notification the run came from.
    pub url: Option<String>,
    /// The credentials sent to `url` (never to an `externalURL`).
    pub auth: Option<AlertmanagerAuth>,
    /// How long one request may take, connecting included.
    pub timeout: Duration,
}

impl Default for AlertmanagerSettings {
    fn default() -> Self {
        Self {
            url: None,
            auth: None,
            timeout: default_alertmanager_timeout(),
        }
    }
}

/// How alertrun authenticates to the configured Alertmanager (its `http_config` side).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AlertmanagerAuth {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `Authorization: Basic …`.
    Basic {
        /// The username.
        username: String,
        /// The password.
        password: Secret,
    },
}

/// What a rule with `respect_silences` does when Alertmanager cannot be asked (unreachable,
/// slow beyond `alertmanager.timeout`, an answer that does not read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnAlertmanagerUnreachable {
    /// Run the action as if no silence held (the default: an Alertmanager outage does not
    /// stop remediation).
    #[default]
    Act,
    /// Skip the run (recorded `skipped`, reason `silenced`); the next delivery tries again.
    Skip,
}

impl OnAlertmanagerUnreachable {
    /// Its config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OnAlertmanagerUnreachable::Act => "act",
            OnAlertmanagerUnreachable::Skip => "skip",
        }
    }
}

/// One rule's silence policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SilencePolicy {
    /// While the action runs, a silence in Alertmanager covers the alert (the group's
    /// common labels for a per-group rule), expired when the run ends.
    pub silence_while_running: bool,
    /// A run is skipped (reason `silenced`) while a silence someone else made covers the
    /// alert.
    pub respect_silences: bool,
    /// With `respect_silences`: what to do when Alertmanager cannot be asked.
    pub on_alertmanager_unreachable: OnAlertmanagerUnreachable,
}

impl SilencePolicy {
    /// Whether the rule talks to Alertmanager at all.
    pub fn uses_alertmanager(&self) -> bool {
        self.silence_while_running || self.respect_silences
    }

    /// What the policy does, in words, for `alertrun explain` (each depends on
    /// Alertmanager's state when the run is due).
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.respect_silences {
            out.push(format!(
                "silenced: skipped while a silence someone else made in Alertmanager covers \
                 the alert (depends on Alertmanager's state; when it cannot be asked: {})",
                self.on_alertmanager_unreachable.as_str()
            ));
        }
        if self.silence_while_running {
            out.push(
                "silence_while_running: a silence in Alertmanager covers the alert while the \
                 action runs"
                    .to_owned(),
            );
        }
        out
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlertmanager {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    basic_auth: Option<RawBasicAuth>,
    #[serde(default)]
    timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasicAuth {
    username: String,
    password_file: PathBuf,
}

impl Validator<'_> {
    /// Validates the `alertmanager:` section (absent or `null`: every default), reading
    /// the credential files.
    pub(super) fn alertmanager(&mut self, value: Option<Value>) -> AlertmanagerSettings {
        let value = match value {
            None | Some(Value::Null) => return AlertmanagerSettings::default(),
            Some(value) => value,
        };
        let Some(raw) = self.typed::<RawAlertmanager>("alertmanager", value) else {
            return AlertmanagerSettings::default();
        };
        let url = raw.url.and_then(|url| match check_url(&url) {
            Ok(url) => Some(url),
            Err(message) => {
                self.problem("alertmanager.url", message);
                None
            }
        });
        let auth = match (raw.bearer_token_file, raw.basic_auth) {
            (Some(_), Some(_)) => {
                self.problem(
                    "alertmanager",
                    "give bearer_token_file or basic_auth, not both",
                );
                None
            }
            (Some(file), None) => {
                match self.secret_from_file("alertmanager.bearer_token_file", &file, "token") {
                    Ok(token) => Some(AlertmanagerAuth::Bearer(token)),
                    Err(message) => {
                        self.problem("alertmanager.bearer_token_file", message);
                        None
                    }
                }
            }
            (None, Some(basic)) => self.alertmanager_basic(basic),
            (None, None) => None,
        };
        if auth.is_some() && url.is_none() {
            self.problem(
                "alertmanager",
                "credentials are sent only to alertmanager.url: set it (a notification's \
                 externalURL never gets them)",
            );
        }
        let timeout = raw
            .timeout
            .and_then(|t| self.duration("alertmanager.timeout", &t))
            .unwrap_or_else(default_alertmanager_timeout);
        AlertmanagerSettings { url, auth, timeout }
    }

    fn alertmanager_basic(&mut self, raw: RawBasicAuth) -> Option<AlertmanagerAuth> {
        if raw.username.is_empty() || raw.username.contains(':') {
            self.problem(
                "alertmanager.basic_auth.username",
                format!(
                    "invalid username {:?}: it must be non-empty, without ':'",
                    raw.username
                ),
            );
            return None;
        }
        let at = "alertmanager.basic_auth.password_file";
        match self.secret_from_file(at, &raw.password_file, "password") {
            Ok(password) => Some(AlertmanagerAuth::Basic {
                username: raw.username,
                password,
            }),
            Err(message) => {
                self.problem("alertmanager.basic_auth.password_file", message);
                None
            }
        }
    }

    /// A rule's silence policy; the field types were checked with the rule.
    pub(super) fn silences(&mut self, base: &str, raw: &RawRule) -> SilencePolicy {
        let respect_silences = raw.respect_silences.unwrap_or(false);
        if raw.on_alertmanager_unreachable.is_some() && !respect_silences {
            self.warning(
                join(base, "on_alertmanager_unreachable"),
                "has no effect without respect_silences: true".to_owned(),
            );
        }
        SilencePolicy {
            silence_while_running: raw.silence_while_running.unwrap_or(false),
            respect_silences,
            on_alertmanager_unreachable: raw.on_alertmanager_unreachable.unwrap_or_default(),
        }
    }
}

/// An Alertmanager base URL: `http://` or `https://`, a host, no query or fragment; the
/// trailing `/` dropped.
pub(crate) fn check_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = rest.map(|r| r.split('/').next().unwrap_or(""));
    match host {
        None => Err(format!(
            "invalid URL {url:?}: write http://HOST:PORT or https://HOST:PORT, with any path prefix"
        )),
        Some("") => Err(format!("invalid URL {url:?}: it names no host")),
        // A URL is logged and recorded: credentials go in bearer_token_file or basic_auth.
        Some(host) if host.contains('@') => Err(
            "invalid URL: it holds user info; give the credentials in basic_auth or \
             bearer_token_file"
                .to_owned(),
        ),
        Some(_) if url.contains(['?', '#']) || url.chars().any(char::is_whitespace) => Err(
            format!("invalid URL {url:?}: no query, fragment or whitespace"),
        ),
        Some(_) => Ok(url.trim_end_matches('/').to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_scheme_and_a_host_and_lose_a_trailing_slash() {
        let cases = [
            ("http://am:9093", Ok("http://am:9093")),
            (
                "https://am.example/prefix/",
                Ok("https://am.example/prefix"),
            ),
            ("am:9093", Err("write http://HOST:PORT")),
            ("http:///x", Err("names no host")),
            ("http://am:9093/?x=1", Err("no query")),
            ("http://user:pw@am:9093", Err("holds user info")),
        ];
        for (url, want) in cases {
            match (check_url(url), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{url}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{url}: {got}"),
                (got, want) => panic!("{url}: got {got:?}, want {want:?}"),
            }
        }
    }
}
