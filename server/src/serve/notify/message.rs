//! What a notification says: the JSON body of a generic webhook, and the text of a
//! Slack-compatible message from the sink's template (or the default one).
//!
//! Templates are filled in once: each `{field}` (`config::TEMPLATE_FIELDS`) is replaced by
//! its value, and the result is never scanned again, so an alert's label that reads
//! `{approve_url}` stays that text. Every value is escaped for Slack's mrkdwn (`&`, `<`,
//! `>`), so a hostile label cannot make a link, a mention (`<!channel>`) or break the
//! message; only the links alertrun builds itself (`{links}`) carry `<url|text>`.
//!
//! What this module is not: delivery, or the choice of sinks.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::config::EventKind;
use crate::lifecycle::rails::rfc3339;
use crate::store::{RunRecord, RunState};

/// The links of an `awaiting_approval` event, made by whoever asks for the approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApprovalLinks {
    /// Where a person approves the run.
    pub approve_url: String,
    /// Where a person rejects it.
    pub reject_url: String,
}

/// A circuit breaker that opened or closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BreakerNote {
    /// Whether it opened (else it closed).
    pub opened: bool,
    /// Why it opened (empty when it closed).
    pub why: String,
    /// When an open breaker lets a trial through, in unix ms.
    pub until: Option<i64>,
}

/// What a notification is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NotifyEvent {
    /// The run waits for a human; the links approve or reject it.
    AwaitingApproval(ApprovalLinks),
    /// The run's action started.
    Started,
    /// The run ended (or could not be started).
    Finished,
    /// The run was judged (its record's `verdict`).
    Verdict,
    /// The breaker of the run's rule and target opened or closed.
    Breaker(BreakerNote),
}

impl NotifyEvent {
    /// The event's kind, as sinks choose them.
    pub(crate) fn kind(&self) -> EventKind {
        match self {
            NotifyEvent::AwaitingApproval(_) => EventKind::AwaitingApproval,
            NotifyEvent::Started => EventKind::Started,
            NotifyEvent::Finished => EventKind::Finished,
            NotifyEvent::Verdict => EventKind::Verdict,
            NotifyEvent::Breaker(_) => EventKind::Breaker,
        }
    }
}

/// Where the alert came from: its `generatorURL` and Alertmanager's `externalURL`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AlertLinks {
    pub generator_url: String,
    pub external_url: String,
}

impl AlertLinks {
    /// The links in a stored notification `body` (the webhook JSON), for the alert at
    /// `alert_index` (the first alert's generator for a group); empty where absent.
    pub(crate) fn from_body(body: &[u8], alert_index: Option<usize>) -> Self {
        let Ok(n) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
        Self {
            generator_url: text(&n["alerts"][alert_index.unwrap_or(0)]["generatorURL"]),
            external_url: text(&n["externalURL"]),
        }
    }
}

/// What one notification is about: the event, its run, its rule and target, its links.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Subject<'a> {
    pub event: &'a NotifyEvent,
    pub record: &'a RunRecord,
    pub target: &'a str,
    pub links: &'a AlertLinks,
    /// When it happened, unix ms.
    pub at: i64,
}

/// The body a generic webhook is sent: the event, when, the rule, target and links, the
/// run record, and the event's own part (`approval`, `breaker`).
pub(crate) fn webhook_body(s: &Subject<'_>) -> String {
    let mut body = json!({
        "event": s.event.kind().as_str(),
        "at": rfc3339(s.at),
        "rule": s.record.rule,
        "target": s.target,
        "generator_url": s.links.generator_url,
        "external_url": s.links.external_url,
        "run": s.record,
    });
    match s.event {
        NotifyEvent::AwaitingApproval(links) => {
            body["approval"] = json!({
                "approve_url": links.approve_url,
                "reject_url": links.reject_url,
            });
        }
        NotifyEvent::Breaker(b) => {
            body["breaker"] = json!({
                "state": if b.opened { "open" } else { "closed" },
                "why": b.why,
                "until": b.until.map(rfc3339),
            });
        }
        _ => {}
    }
    body.to_string()
}

/// The default template of each event.
pub(crate) fn default_template(event: EventKind) -> &'static str {
    match event {
        EventKind::AwaitingApproval => {
            "{icon} *{rule}* on {alert} ({target}) awaits approval: \
             <{approve_url}|Approve> · <{reject_url}|Reject>\n{links}"
        }
        EventKind::Started => "{icon} *{rule}* started on {alert} ({target}), run {run}\n{links}",
        EventKind::Finished => {
            "{icon} *{rule}* {state} on {alert} ({target}): {exit} after {duration}, \
             run {run}\n{links}\n```{output}```"
        }
        EventKind::Verdict => {
            "{icon} *{rule}* on {alert} ({target}): the remediation was {verdict}, run {run}\n{links}"
        }
        EventKind::Breaker => {
            "{icon} circuit breaker of *{rule}* on {target} {breaker}: {why}\n{links}"
        }
    }
}

/// The body a Slack-compatible sink is sent: `{"text": …}` from `template`.
pub(crate) fn slack_body(s: &Subject<'_>, template: &str) -> String {
    json!({ "text": fill(template, |field| value(s, field)) }).to_string()
}

/// `template` with each `{field}` replaced by `value(field)`, in one pass.
fn fill(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push_str(&value(&after[..close]));
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes `text` for Slack's mrkdwn: `&`, `<` and `>` as entities.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The escaped value of template field `field` for `s`.
fn value(s: &Subject<'_>, field: &str) -> String {
    let r = s.record;
    let raw = match field {
        "event" => s.event.kind().as_str().to_owned(),
        "icon" => return icon(s).to_owned(),
        "rule" => r.rule.clone(),
        "alert" => r
            .labels
            .get("alertname")
            .cloned()
            .unwrap_or_else(|| r.fingerprint.clone()),
        "target" => s.target.to_owned(),
        "state" => r.state.as_str().replace('_', " "),
        "exit" => r.exit.clone().unwrap_or_else(|| "no exit".to_owned()),
        "duration" => duration(r),
        "reason" => r.reason.clone().unwrap_or_default(),
        "output" => output(r),
        "verdict" => r
            .verdict
            .as_ref()
            .map_or("pending", |v| v.verdict.as_str())
            .to_owned(),
        "why" => match s.event {
            NotifyEvent::Breaker(b) if b.opened => b.why.clone(),
            NotifyEvent::Breaker(_) => "runs go through again".to_owned(),
            _ => r.reason.clone().unwrap_or_default(),
        },
        "breaker" => match s.event {
            NotifyEvent::Breaker(b) if b.opened => match b.until {
                Some(until) => format!("opened until {}", rfc3339(until)),
                None => "opened".to_owned(),
            },
            NotifyEvent::Breaker(_) => "closed".to_owned(),
            _ => String::new(),
        },
        "run" => r.id.to_string(),
        "links" => return links(s.links),
        "generator_url" => s.links.generator_url.clone(),
        "external_url" => s.links.external_url.clone(),
        "approve_url" | "reject_url" => match s.event {
            NotifyEvent::AwaitingApproval(l) if field == "approve_url" => l.approve_url.clone(),
            NotifyEvent::AwaitingApproval(l) => l.reject_url.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    escape(&raw)
}

fn icon(s: &Subject<'_>) -> &'static str {
    match s.event {
        NotifyEvent::AwaitingApproval(_) => ":raising_hand:",
        NotifyEvent::Started => ":arrow_forward:",
        NotifyEvent::Finished if s.record.state == RunState::Succeeded => ":white_check_mark:",
        NotifyEvent::Finished => ":x:",
        NotifyEvent::Verdict => match s.record.verdict.as_ref().map(|v| v.verdict.as_str()) {
            Some("effective") => ":white_check_mark:",
            _ => ":warning:",
        },
        NotifyEvent::Breaker(b) if b.opened => ":rotating_light:",
        NotifyEvent::Breaker(_) => ":white_check_mark:",
    }
}

/// `<generator|alert source> · <external|Alertmanager>`, each only when known.
fn links(links: &AlertLinks) -> String {
    let mut out = String::new();
    for (url, text) in [
        (&links.generator_url, "alert source"),
        (&links.external_url, "Alertmanager"),
    ] {
        if url.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str(" · ");
        }
        let _ = write!(out, "<{}|{text}>", escape(url).replace('|', "%7C"));
    }
    out
}

/// How long the action ran, for people: `1.2s`; `-` when it did not start.
fn duration(r: &RunRecord) -> String {
    match (r.started_at, r.ended_at) {
        (Some(start), Some(end)) => format!("{:.1}s", (end - start).max(0) as f64 / 1000.0),
        _ => "-".to_owned(),
    }
}

/// The end of the action's output that says most: standard error when it failed and
/// wrote some, else standard output; at most 500 bytes, and never a code fence.
fn output(r: &RunRecord) -> String {
    const MAX: usize = 500;
    let text = if r.state != RunState::Succeeded && !r.stderr.trim().is_empty() {
        &r.stderr
    } else {
        &r.stdout
    };
    let text = text.trim_end();
    if text.is_empty() {
        return "(no output)".to_owned();
    }
    let mut start = text.len().saturating_sub(MAX);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].replace("```", "'''")
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
