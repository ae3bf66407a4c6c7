//! The `notify:` section: where alertrun tells people and systems about runs.
//!
//! ```yaml
//! notify:
//!   default: [team-chat]              # sinks of the rules that name none (default: none)
//!   sinks:
//!     - name: team-chat
//!       slack: {url_file: /etc/alertrun/slack-url}   # or url: https://hooks.slack.com/…
//!       events: [awaiting_approval, finished, breaker]   # default: every event
//!       templates: {finished: "{icon} *{rule}* {state} on {alert}"}
//!     - name: audit
//!       webhook: {url: https://audit.example/alertrun, secret_file: /etc/alertrun/hook-key}
//! rules:
//!   - name: r
//!     notify: [audit]                 # this rule's sinks; [] for none
//! ```
//!
//! What this module is: the sinks' types, the checks of their values (URLs, secrets read
//! at load, template fields, event names) and of the sink names rules give. What it is
//! not: rendering or delivery (`serve::notify`), or state.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::server::Secret;

/// The `notify:` section, validated.
#[derive(Clone, Debug, Default)]
pub struct NotifySettings {
    /// The sinks, in config order.
    pub sinks: Vec<Sink>,
    /// The sinks of rules that name none.
    pub default: Vec<String>,
    /// Every sink name the config gives, also of sinks with problems (so that a rule
    /// naming one is not reported too).
    names: Vec<String>,
}

impl NotifySettings {
    /// The sink named `name`.
    pub fn sink(&self, name: &str) -> Option<&Sink> {
        self.sinks.iter().find(|s| s.name == name)
    }
}

/// One place notifications go.
#[derive(Clone, Debug)]
pub struct Sink {
    /// Its name, unique; rules and `default` name it.
    pub name: String,
    /// Where and how it is sent.
    pub kind: SinkKind,
    /// The events it is sent (every event when the config names none).
    pub events: Vec<EventKind>,
    /// Message templates by event, for a Slack sink (the defaults where none is given).
    pub templates: BTreeMap<EventKind, String>,
    /// Attempts before a notification is given up (first try included).
    pub max_attempts: u32,
}

impl Sink {
    /// Whether the sink is sent `event`.
    pub fn wants(&self, event: EventKind) -> bool {
        self.events.contains(&event)
    }
}

/// A sink's kind, with its destination.
#[derive(Clone)]
pub enum SinkKind {
    /// A generic webhook: the event and the run as JSON, signed with HMAC-SHA256.
    Webhook {
        /// Where the JSON is posted.
        url: String,
        /// The HMAC key.
        secret: Secret,
    },
    /// A Slack-compatible incoming webhook: `{"text": …}`. Its URL is a credential.
    Slack {
        /// The incoming webhook's URL.
        url: Secret,
    },
}

impl fmt::Debug for SinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkKind::Webhook { url, .. } => f
                .debug_struct("Webhook")
                .field("url", url)
                .finish_non_exhaustive(),
            SinkKind::Slack { .. } => f.debug_struct("Slack").finish_non_exhaustive(),
        }
    }
}

impl SinkKind {
    /// `webhook` or `slack`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SinkKind::Webhook { .. } => "webhook",
            SinkKind::Slack { .. } => "slack",
        }
    }
}

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A run waits for a human's approval.
    AwaitingApproval,
    /// A run's action started.
    Started,
    /// A run ended (or could not be started).
    Finished,
    /// A succeeded run was judged (effective, ineffective, recurred, unknown).
    Verdict,
    /// A circuit breaker opened or closed.
    Breaker,
}

impl EventKind {
    /// Every event, in the order the README lists them.
    pub const ALL: [EventKind; 5] = [
        EventKind::AwaitingApproval,
        EventKind::Started,
        EventKind::Finished,
        EventKind::Verdict,
        EventKind::Breaker,
    ];

    /// The event's name as the config and the JSON spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AwaitingApproval => "awaiting_approval",
            EventKind::Started => "started",
            EventKind::Finished => "finished",
            EventKind::Verdict => "verdict",
            EventKind::Breaker => "breaker",
        }
    }

    /// The event named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// The fields a Slack template may name, `{field}`; each is filled in once, escaped.
pub const TEMPLATE_FIELDS: &[&str] = &[
    "event",
    "icon",
    "rule",
    "alert",
    "target",
    "state",
    "exit",
    "duration",
    "reason",
    "output",
    "verdict",
    "why",
    "breaker",
    "run",
    "links",
    "generator_url",
    "external_url",
    "approve_url",
    "reject_url",
];

/// Attempts per notification when the sink does not say.
pub(crate) const DEFAULT_MAX_ATTEMPTS: u32 = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    #[serde(default)]
    pub(super) default: Vec<String>,
    #[serde(default)]
    pub(super) sinks: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSink {
    pub(super) name: String,
    #[serde(default)]
    pub(super) webhook: Option<RawWebhook>,
    #[serde(default)]
    pub(super) slack: Option<RawSlack>,
    #[serde(default)]
    pub(super) events: Option<Vec<String>>,
    #[serde(default)]
    pub(super) templates: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) max_attempts: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    pub(super) url: String,
    #[serde(default)]
    pub(super) secret_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) secret_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlack {
    #[serde(default)]
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) url_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) url_env: Option<String>,
}

/// Checks an `http://` or `https://` URL with a host; the message says what is wrong.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("invalid URL {url:?}: it must start with http:// or https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') || host.contains('@') {
        return Err(format!("invalid URL {url:?}: it names no host"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "invalid URL {url:?}: it contains whitespace or a control character"
        ));
    }
    Ok(())
}

/// Checks that `template` names only [`TEMPLATE_FIELDS`] and that its braces close.
pub(super) fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed {{ in template {template:?}"))?;
        let field = &after[..close];
        if !TEMPLATE_FIELDS.contains(&field) {
            return Err(format!(
                "unknown field {{{field}}} in template: use {}",
                TEMPLATE_FIELDS
                    .iter()
                    .map(|f| format!("{{{f}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

impl super::Validator<'_> {
    /// Checks the `notify:` section: each sink's destination, secret, events, templates
    /// and name (unique), and the names in `default`.
    pub(super) fn notify(&mut self, value: Option<serde_json::Value>) -> NotifySettings {
        let Some(raw) = value.and_then(|v| self.typed::<RawNotify>("notify", v)) else {
            return NotifySettings::default();
        };
        let mut sinks: Vec<Sink> = Vec::new();
        let mut names = Vec::new();
        for (i, value) in raw.sinks.into_iter().enumerate() {
            let base = format!("notify.sinks[{i}]");
            let Some(raw) = self.typed::<RawSink>(&base, value) else {
                continue;
            };
            if names.contains(&raw.name) {
                self.problem(
                    format!("{base}.name"),
                    format!("duplicate sink name {:?}", raw.name),
                );
            } else {
                names.push(raw.name.clone());
            }
            if let Some(sink) = self.sink(&base, raw) {
                sinks.push(sink);
            }
        }
        let default = self.sink_names("notify.default", &raw.default, &names);
        NotifySettings {
            sinks,
            default,
            names,
        }
    }

    /// The sinks a rule's `notify:` names (`None`: the default sinks), each defined.
    pub(super) fn rule_sinks(
        &mut self,
        base: &str,
        names: Option<&[String]>,
        settings: &NotifySettings,
    ) -> Vec<String> {
        let Some(names) = names else {
            return settings.default.clone();
        };
        self.sink_names(&format!("{base}.notify"), names, &settings.names)
    }

    /// `names`, each checked to be one of `defined`.
    fn sink_names(&mut self, path: &str, names: &[String], defined: &[String]) -> Vec<String> {
        for (i, name) in names.iter().enumerate() {
            if !defined.contains(name) {
                let known = if defined.is_empty() {
                    "notify.sinks defines none".to_owned()
                } else {
                    format!("notify.sinks defines {}", defined.join(", "))
                };
                self.problem(
                    format!("{path}[{i}]"),
                    format!("unknown sink {name:?} ({known})"),
                );
            }
        }
        names.to_vec()
    }

    fn sink(&mut self, base: &str, raw: RawSink) -> Option<Sink> {
        let before = self.problems.len();
        if raw.name.is_empty() {
            self.problem(format!("{base}.name"), "missing sink name");
        }
        let kind = match (raw.webhook, raw.slack) {
            (Some(webhook), None) => self.webhook(&format!("{base}.webhook"), webhook),
            (None, Some(slack)) => self.slack(&format!("{base}.slack"), slack),
            _ => {
                self.problem(base, "give exactly one of webhook or slack");
                None
            }
        };
        let events = match raw.events {
            None => EventKind::ALL.to_vec(),
            Some(names) => {
                let mut events = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    match EventKind::from_name(name) {
                        Some(event) => events.push(event),
                        None => self.problem(
                            format!("{base}.events[{i}]"),
                            format!("unknown event {name:?}: use {}", event_list()),
                        ),
                    }
                }
                events
            }
        };
        let mut templates = BTreeMap::new();
        for (name, template) in raw.templates {
            let path = format!("{base}.templates.{name}");
            let Some(event) = EventKind::from_name(&name) else {
                self.problem(
                    path,
                    format!("unknown event {name:?}: use {}", event_list()),
                );
                continue;
            };
            match check_template(&template) {
                Ok(()) => {
                    templates.insert(event, template);
                }
                Err(message) => self.problem(path, message),
            }
        }
        if raw.max_attempts == Some(0) {
            self.problem(
                format!("{base}.max_attempts"),
                "max_attempts must be at least 1",
            );
        }
        let sink = Sink {
            name: raw.name,
            kind: kind?,
            events,
            templates,
            max_attempts: raw.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS),
        };
        (self.problems.len() == before).then_some(sink)
    }

    fn webhook(&mut self, base: &str, raw: RawWebhook) -> Option<SinkKind> {
        if let Err(message) = check_url(&raw.url) {
            self.problem(format!("{base}.url"), message);
        }
        let secret = match (raw.secret_file, raw.secret_env) {
            (Some(file), None) => {
                let at = format!("{base}.secret_file");
                let read = self.secret_from_file(&at, &file, "webhook secret");
                read.map_err(|m| (at, m))
            }
            (None, Some(name)) => {
                let at = format!("{base}.secret_env");
                let read = self.secret_from_env(&at, &name, "webhook secret");
                read.map_err(|m| (at, m))
            }
            _ => Err((
                base.to_owned(),
                "set exactly one of secret_file or secret_env: the key that signs each body"
                    .to_owned(),
            )),
        };
        match secret {
            Ok(secret) => Some(SinkKind::Webhook {
                url: raw.url,
                secret,
            }),
            Err((path, message)) => {
                self.problem(path, message);
                None
            }
        }
    }

    fn slack(&mut self, base: &str, raw: RawSlack) -> Option<SinkKind> {
        let url = match (raw.url, raw.url_file, raw.url_env) {
            (Some(url), None, None) => Ok(Secret::new(url)),
            (None, Some(file), None) => {
                let at = format!("{base}.url_file");
                let read = self.secret_from_file(&at, &file, "Slack URL");
                read.map_err(|m| (at, m))
            }
            (None, None, Some(name)) => {
                let at = format!("{base}.url_env");
                let read = self.secret_from_env(&at, &name, "Slack URL");
                read.map_err(|m| (at, m))
            }
            _ => Err((
                base.to_owned(),
                "set exactly one of url, url_file or url_env".to_owned(),
            )),
        };
        let url = match url {
            Ok(url) => url,
            Err((path, message)) => {
                self.problem(path, message);
                return None;
            }
        };
        match check_url(url.as_str()) {
            // The URL is a credential: the message names where it came from, not it.
            Err(_) => {
                self.problem(
                    base,
                    "the Slack URL is not an http:// or https:// URL with a host",
                );
                None
            }
            Ok(()) => Some(SinkKind::Slack { url }),
        }
    }
}

fn event_list() -> String {
    EventKind::ALL
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        for (name, url, ok) in [
            ("https", "https://hooks.example.com/services/x", true),
            ("http with port", "http://127.0.0.1:8080/hook", true),
            ("no scheme", "hooks.example.com/x", false),
            ("other scheme", "ftp://example.com/", false),
            ("no host", "https:///path", false),
            ("port only", "http://:80/", false),
            ("credentials", "https://user:pw@example.com/", false),
            ("space", "https://example.com/a b", false),
        ] {
            assert_eq!(check_url(url).is_ok(), ok, "{name}: {url}");
        }
    }

    #[test]
    fn templates_name_known_fields_only() {
        assert!(check_template("{rule} {state} on {alert}: {links}").is_ok());
        assert!(check_template("no fields at all").is_ok());
        let unknown = check_template("{rule} {labels}").unwrap_err();
        assert!(unknown.starts_with("unknown field {labels}"), "{unknown}");
        assert!(check_template("{rule").unwrap_err().contains("unclosed"));
    }

    #[test]
    fn bad_sinks_and_unknown_names_are_config_errors_naming_the_place() {
        let yaml = r#"
notify:
  default: [audit, nowhere]
  sinks:
    - name: audit
      webhook: {url: "ftp://audit.example/x", secret_file: /nonexistent/alertrun-key}
    - name: chat
      slack: {url: "https://hooks.example/x"}
      events: [finished, done]
      templates: {started: "{rule} {labels}"}
    - name: chat
      webhook: {url: "https://audit.example/x"}
rules:
  - name: r
    notify: [chat, pager]
    action: {process: {command: [/bin/true]}}
"#;
        let err = super::super::Config::from_yaml(yaml).expect_err("refused");
        let shown: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
        for want in [
            "notify.sinks[0].webhook.url (line 6): invalid URL \"ftp://audit.example/x\"",
            "notify.sinks[0].webhook.secret_file (line 6): cannot read /nonexistent/alertrun-key",
            "notify.sinks[1].events[1] (line 9): unknown event \"done\"",
            "notify.sinks[1].templates.started (line 10): unknown field {labels}",
            "notify.sinks[2].name (line 11): duplicate sink name \"chat\"",
            "notify.sinks[2].webhook (line 12): set exactly one of secret_file or secret_env",
            "notify.default[1] (line 3): unknown sink \"nowhere\"",
            "rules[0].notify[1] (line 15): unknown sink \"pager\"",
        ] {
            assert!(
                !shown.iter().any(|s| s.starts_with("rules[0].notify[0]")),
                "{shown:#?}"
            );
            assert!(
                shown.iter().any(|s| s.starts_with(want)),
                "missing {want:?} in {shown:#?}"
            );
        }
    }

    #[test]
    fn a_rule_without_notify_gets_the_default_sinks_and_an_empty_list_none() {
        let yaml = r#"
notify:
  default: [chat]
  sinks:
    - {name: chat, slack: {url: "https://hooks.example/x"}}
rules:
  - {name: a, action: {process: {command: [/bin/true]}}}
  - {name: b, notify: [], action: {process: {command: [/bin/true]}}}
"#;
        let config = super::super::Config::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.policy(0).notify, ["chat"]);
        assert!(config.policy(1).notify.is_empty());
        let chat = config.notify().sink("chat").unwrap();
        assert_eq!(chat.events, EventKind::ALL);
        assert!(!format!("{chat:?}").contains("hooks.example"), "{chat:?}");
    }

    #[test]
    fn event_names_read_back() {
        for event in EventKind::ALL {
            assert_eq!(EventKind::from_name(event.as_str()), Some(event));
        }
        assert_eq!(EventKind::from_name("done"), None);
    }
}
