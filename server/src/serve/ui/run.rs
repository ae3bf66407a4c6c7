//! `/runs/{id}`: what alertrun did about one alert, and whether it worked. The run's
//! timeline, the alert's labels and annotations, the action as rendered (secrets were
//! redacted before it was stored), its exit and output, and the links back: the alert's
//! `generatorURL`, the alert and a prefilled silence form in Alertmanager's UI, and the
//! `kubectl` commands of a Job. A run that has not ended reloads itself slowly; an ended
//! one never does.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::html::{Layout, Text, safe_url, state_badge, time};
use crate::store::RunRecord;

/// What the run's stored notification adds to its page.
#[derive(Debug, Default)]
pub(crate) struct RunLinks {
    /// Alertmanager's `externalURL`, when linkable.
    pub(crate) alertmanager: Option<String>,
    /// The alert's `generatorURL`, when linkable.
    pub(crate) generator: Option<String>,
    /// The alert's annotations (the group's common ones for a per-group run).
    pub(crate) annotations: BTreeMap<String, String>,
    /// The run's target under its rule (labels or fingerprint), when the rule is known.
    pub(crate) target: Option<String>,
}

impl RunLinks {
    /// Reads the links from the notification body `body` that run `run` came from.
    pub(crate) fn from_notification(body: &[u8], run: &RunRecord) -> Self {
        let Ok(n) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Self::default();
        };
        let alert = run.alert_index.and_then(|i| n["alerts"].get(i));
        let annotations = alert
            .map_or(&n["commonAnnotations"], |a| &a["annotations"])
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let linkable = |v: &serde_json::Value| v.as_str().and_then(safe_url).map(str::to_owned);
        Self {
            alertmanager: linkable(&n["externalURL"]),
            generator: alert.and_then(|a| linkable(&a["generatorURL"])),
            annotations,
            target: None,
        }
    }
}

/// The labels as an Alertmanager filter: `{a="1",b="x\"y"}`.
fn matcher_filter(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// `/runs/{id}`.
pub(crate) fn run(r: &RunRecord, links: &RunLinks) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<p class=\"summary\">{state} rule <a href=\"runs?{rq}\">{rule}</a> for alert \
         <strong>{alert}</strong> ({status}), fingerprint <a href=\"runs?{fq}\"><code>{fp}</code></a>{dry}</p>",
        state = state_badge(r.state.as_str()),
        rq = Text(&super::html::query(&[("rule", &r.rule)])),
        rule = Text(&r.rule),
        alert = Text(r.labels.get("alertname").map_or("", String::as_str)),
        status = Text(&r.status),
        fq = Text(&super::html::query(&[("fingerprint", &r.fingerprint)])),
        fp = Text(&r.fingerprint),
        dry = if r.dry_run {
            " (dry run: nothing ran)"
        } else {
            ""
        },
    );
    outcome(&mut body, r);
    decide_buttons(&mut body, r);
    timeline(&mut body, r);
    links_section(&mut body, r, links);
    let mut labels = String::new();
    for (k, v) in &r.labels {
        let _ = write!(
            labels,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            Text(k),
            Text(v)
        );
    }
    let _ = write!(
        body,
        "<h2>Alert</h2><table class=\"kv\"><caption>Labels</caption>{labels}</table>"
    );
    if !links.annotations.is_empty() {
        body.push_str("<table class=\"kv\"><caption>Annotations</caption>");
        for (k, v) in &links.annotations {
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                Text(k),
                Text(v)
            );
        }
        body.push_str("</table>");
    }
    action(&mut body, r);
    let title = format!("Run {}", r.id);
    Layout {
        title: &title,
        depth: 1,
        current: "runs",
        poll_seconds: r.state.is_unfinished().then_some(5),
    }
    .render(&body)
}

fn outcome(body: &mut String, r: &RunRecord) {
    let mut rows = Vec::new();
    if let Some(exit) = &r.exit {
        rows.push(("Exit", Text(exit).to_string()));
    }
    if let Some(by) = &r.ended_by {
        rows.push(("Ended by", Text(by).to_string()));
    }
    if let Some(reason) = &r.reason {
        rows.push(("Reason", Text(reason).to_string()));
    }
    if let Some(v) = &r.verdict {
        rows.push(("Verdict", v.verdict.as_str().to_owned()));
    }
    if rows.is_empty() {
        return;
    }
    body.push_str("<table class=\"kv\"><caption>Outcome</caption>");
    for (k, v) in rows {
        let _ = write!(body, "<tr><th scope=\"row\">{k}</th><td>{v}</td></tr>");
    }
    body.push_str("</table>");
}

fn decide_buttons(body: &mut String, r: &RunRecord) {
    if r.state.as_str() != "awaiting_approval" {
        return;
    }
    let expires = r
        .approval
        .as_ref()
        .map_or("-".to_owned(), |a| time(a.expires_at));
    let _ = write!(
        body,
        "<section aria-label=\"approval\"><p>Waiting for approval until {expires}.</p>\
         <p id=\"decision-status\" role=\"status\"></p>\
         <label for=\"comment-{id}\">Comment on run {id}</label> \
         <input id=\"comment-{id}\" data-comment-for=\"{id}\"> \
         <button type=\"button\" data-decide=\"approve\" data-run=\"{id}\">Approve run {id}</button> \
         <button type=\"button\" data-decide=\"reject\" data-run=\"{id}\">Reject run {id}</button></section>",
        id = r.id
    );
}

fn timeline(body: &mut String, r: &RunRecord) {
    body.push_str(
        "<h2>Timeline</h2><table><caption>Every state the run entered</caption><thead><tr>\
         <th scope=\"col\">When</th><th scope=\"col\">State</th><th scope=\"col\">Why</th></tr></thead><tbody>",
    );
    let mut rows: Vec<(i64, String, String)> = r
        .timeline
        .iter()
        .map(|t| {
            (
                t.at,
                state_badge(t.state.as_str()),
                Text(&t.cause).to_string(),
            )
        })
        .collect();
    if rows.is_empty() {
        // Records of earlier releases: what the run's fields say.
        rows.push((r.created_at, state_badge("received"), String::new()));
        if let Some(at) = r.started_at {
            rows.push((at, state_badge("running"), String::new()));
        }
        if let Some(at) = r.ended_at {
            rows.push((at, state_badge(r.state.as_str()), String::new()));
        }
    }
    if let Some(a) = &r.approval {
        for d in &a.decisions {
            let why = format!(
                "{} by {} ({}){}",
                Text(&d.decision),
                Text(&d.by),
                Text(&d.how),
                d.comment
                    .as_deref()
                    .map(|c| format!(": {}", Text(c)))
                    .unwrap_or_default()
            );
            rows.push((
                d.at,
                "<span class=\"state\">decision</span>".to_owned(),
                why,
            ));
        }
    }
    if let Some(v) = &r.verdict
        && let Some(at) = v.at
    {
        let verdict = v.verdict.as_str();
        rows.push((
            at,
            "<span class=\"state\">verified</span>".to_owned(),
            verdict.to_owned(),
        ));
    }
    rows.sort_by_key(|row| row.0);
    for (at, state, why) in rows {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{state}</td><td>{why}</td></tr>",
            time(at)
        );
    }
    body.push_str("</tbody></table>");
}

fn links_section(body: &mut String, r: &RunRecord, links: &RunLinks) {
    let mut items = Vec::new();
    if let Some(url) = &links.generator {
        items.push(format!(
            "<a href=\"{}\" rel=\"noreferrer\">The alert's source (generatorURL)</a>",
            Text(url)
        ));
    }
    if let Some(am) = &links.alertmanager {
        let am = am.trim_end_matches('/');
        let filter = super::html::query(&[("filter", &matcher_filter(&r.labels))]);
        items.push(format!(
            "<a href=\"{}\" rel=\"noreferrer\">The alert in Alertmanager</a>",
            Text(&format!("{am}/#/alerts?{filter}"))
        ));
        items.push(format!(
            "<a href=\"{}\" rel=\"noreferrer\">Silence it in Alertmanager (prefilled form)</a>",
            Text(&format!("{am}/#/silences/new?{filter}"))
        ));
    }
    if let Some(alert_core::Started::Job {
        namespace, name, ..
    }) = &r.started
    {
        items.push(format!(
            "The Job: <code>kubectl -n {ns} describe job {name}</code>, \
             <code>kubectl -n {ns} logs job/{name}</code>",
            ns = Text(namespace),
            name = Text(name)
        ));
    }
    let _ = write!(
        body,
        "<h2>Links</h2><ul><li><a href=\"api/v1/runs/{id}\">This run as JSON</a></li>\
         <li><a href=\"api/v1/notifications/{n}\">The notification it came from</a></li>",
        id = r.id,
        n = r.notification
    );
    if let Some(target) = &links.target {
        let q = super::html::query(&[("rule", &r.rule), ("target", target)]);
        let _ = write!(
            body,
            "<li><a href=\"runs?{}\">Every run of {} on this target</a> (<code>{}</code>)</li>",
            Text(&q),
            Text(&r.rule),
            Text(target)
        );
    }
    for item in items {
        let _ = write!(body, "<li>{item}</li>");
    }
    body.push_str("</ul>");
}

fn action(body: &mut String, r: &RunRecord) {
    let argv: Vec<String> = r.argv.iter().map(|a| Text(a).to_string()).collect();
    let _ = write!(
        body,
        "<h2>Action</h2><p>Executor {}; secrets are redacted.</p><pre>{}</pre>",
        Text(&r.executor),
        argv.join(" ")
    );
    if !r.env.is_empty() {
        body.push_str("<table class=\"kv\"><caption>Environment</caption>");
        for (k, v) in &r.env {
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{}</th><td><code>{}</code></td></tr>",
                Text(k),
                Text(v)
            );
        }
        body.push_str("</table>");
    }
    for (name, text) in [
        ("Standard output (tail)", &r.stdout),
        ("Standard error (tail)", &r.stderr),
    ] {
        if !text.is_empty() {
            let _ = write!(body, "<h3>{name}</h3><pre>{}</pre>", Text(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alertmanager_filter_quotes_hostile_values() {
        let labels = BTreeMap::from([
            ("alertname".to_owned(), "Disk\"Full".to_owned()),
            ("path".to_owned(), "C:\\x".to_owned()),
        ]);
        assert_eq!(
            matcher_filter(&labels),
            r#"{alertname="Disk\"Full",path="C:\\x"}"#
        );
    }
}
