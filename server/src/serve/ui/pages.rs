//! The pages that list: `/status`, `/rules`, `/runs` and `/approvals`.

use std::fmt::Write as _;

use super::html::{Layout, Text, duration, query, state_badge, time};
use crate::serve::api::RuleStatus;
use crate::serve::status::ServerStatus;
use crate::store::{RuleActivity, RunPage, RunRecord};

/// `/status`.
pub(crate) fn status(s: &ServerStatus) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        (
            "Version",
            format!("{} ({})", Text(&s.version), Text(&s.build)),
        ),
        ("Started", Text(&s.started_at).to_string()),
        (
            "Config file",
            format!("<code>{}</code>", Text(&s.config_path)),
        ),
        (
            "Config SHA-256",
            format!("<code>{}</code>", Text(&s.config_sha256)),
        ),
    ];
    let reload = match &s.last_reload {
        None => "none since the start".to_owned(),
        Some(r) => format!(
            "{} at {}{}",
            state_badge(&r.result),
            Text(&r.at),
            r.error
                .as_deref()
                .map(|e| format!(": {}", Text(e)))
                .unwrap_or_default()
        ),
    };
    rows.push(("Last reload", reload));
    let store = match &s.store_path {
        None => "none: history is kept in memory only (<code>server.state.durable: false</code>)"
            .to_owned(),
        Some(path) => format!(
            "<code>{}</code>, {}",
            Text(path),
            s.store_bytes
                .map_or_else(|| "size unknown".to_owned(), |b| format!("{} MiB", b >> 20))
        ),
    };
    rows.push(("Store", store));
    if let Some(r) = &s.retention {
        rows.push((
            "Retention",
            format!("{} or {} runs", Text(&r.max_age), r.max_runs),
        ));
    }
    rows.push(("Running", s.running.to_string()));
    rows.push(("Queued", s.queued.to_string()));
    let paused = if s.paused {
        let mut why = String::from("<strong>paused</strong>: no new run is queued<ul>");
        for p in &s.pauses {
            let _ = write!(
                why,
                "<li>{} (by {}, {})</li>",
                Text(&p.reason),
                Text(&p.by),
                Text(&p.at)
            );
        }
        why + "</ul>"
    } else {
        "no".to_owned()
    };
    rows.push(("Paused", paused));
    let ha = match &s.ha {
        None => "single replica".to_owned(),
        Some(role) => format!(
            "replica <code>{}</code>, {}; claims in namespace <code>{}</code>, lease {} s",
            Text(&role.replica),
            if role.leader {
                "the housekeeper (leader)"
            } else {
                "not the housekeeper"
            },
            Text(&role.namespace),
            role.lease_duration_seconds
        ),
    };
    rows.push(("HA role", ha));
    let mut body = String::from("<table class=\"kv\"><caption>Server</caption>");
    for (name, value) in rows {
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{name}</th><td>{value}</td></tr>"
        );
    }
    body.push_str("</table>");
    page("Status", "status", &body)
}

/// A rule and what the store says of its recent runs (none without a store).
#[derive(Debug)]
pub(crate) struct RuleRow {
    /// The rule as `GET /api/v1/rules` lists it.
    pub(crate) rule: RuleStatus,
    /// Its recent runs.
    pub(crate) activity: Option<RuleActivity>,
    /// The verdicts on its last [`RuleRow::VERDICT_RUNS`] runs, by verdict (a rule with
    /// `verify` and a store only).
    pub(crate) verdicts: Option<std::collections::BTreeMap<&'static str, usize>>,
}

impl RuleRow {
    /// How many of a rule's newest runs its verdict share is taken over.
    pub(crate) const VERDICT_RUNS: usize = 100;
}

/// `/rules`.
pub(crate) fn rules(rows: &[RuleRow]) -> String {
    let mut body = String::from(
        "<table><caption>Rules in force, in config order</caption><thead><tr>\
         <th scope=\"col\">Rule</th><th scope=\"col\">Matchers</th><th scope=\"col\">Mode</th>\
         <th scope=\"col\">On</th><th scope=\"col\">Enabled</th><th scope=\"col\">Action</th>\
         <th scope=\"col\">Rails</th><th scope=\"col\">Running</th>\
         <th scope=\"col\">Queued</th><th scope=\"col\">Last run</th>\
         <th scope=\"col\">Runs 1h</th><th scope=\"col\">Runs 24h</th></tr></thead><tbody>",
    );
    for row in rows {
        let r = &row.rule;
        let matchers: Vec<String> = r
            .matchers
            .iter()
            .map(|m| format!("<code>{}</code>", Text(m)))
            .collect();
        let enabled = match (r.enabled, r.dry_run) {
            (false, _) => "disabled",
            (true, true) => "dry run",
            (true, false) => "yes",
        };
        let (last, hour, day) = match &row.activity {
            None => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
            Some(a) => (
                a.last.as_ref().map_or_else(
                    || "never".to_owned(),
                    |run| {
                        format!(
                            "<a href=\"runs/{}\">#{}</a> {} {}",
                            run.id,
                            run.id,
                            state_badge(run.state.as_str()),
                            time(run.created_at)
                        )
                    },
                ),
                a.last_hour.to_string(),
                a.last_day.to_string(),
            ),
        };
        let _ = write!(
            body,
            "<tr><th scope=\"row\"><a href=\"runs?{q}\">{name}</a><div class=\"muted\">{desc}</div></th>\
             <td>{m}</td><td>{mode}</td><td>{on}</td><td>{enabled}</td><td>{action}</td>\
             <td>{rails}</td><td>{running}</td>\
             <td>{queued}</td><td>{last}</td><td>{hour}</td><td>{day}</td></tr>",
            q = Text(&query(&[("rule", &r.name)])),
            name = Text(&r.name),
            desc = Text(&r.description),
            m = matchers.join(" "),
            mode = r.mode,
            on = r.on,
            action = action_summary(&r.action),
            rails = rails(r) + &row.verdicts.as_ref().map(verdict_share).unwrap_or_default(),
            running = r.running,
            queued = r.queued,
        );
    }
    body.push_str("</tbody></table>");
    page("Rules", "rules", &body)
}

/// A rule's action in short: its command, or its backend's name.
fn action_summary(action: &serde_json::Value) -> String {
    let text = match action {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => {
            match map.get("process").and_then(|p| p["command"].as_array()) {
                Some(argv) => argv
                    .iter()
                    .map(|a| a.as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" "),
                None => action.to_string(),
            }
        }
        other => other.to_string(),
    };
    format!("<code>{}</code>", Text(&text))
}

/// A rule's rails in words: repeat, approval, rate limit, breaker, verification.
fn rails(r: &RuleStatus) -> String {
    let mut parts = vec![format!("repeat {}", Text(&r.repeat))];
    if r.approval {
        parts.push("approval".to_owned());
    }
    if let Some(limit) = &r.rate_limit {
        parts.push(format!("at most {}", Text(limit)));
    }
    if let Some(breaker) = &r.breaker {
        let open = if r.open_breakers > 0 {
            format!(" (<strong>{} open</strong>)", r.open_breakers)
        } else {
            String::new()
        };
        parts.push(format!("breaker: {}{open}", Text(breaker)));
    }
    if let Some(verify) = &r.verify {
        parts.push(format!("verify {}", Text(verify)));
    }
    parts.join("<br>")
}

/// The verdict share: `effective 8, ineffective 2` over the last runs.
fn verdict_share(verdicts: &std::collections::BTreeMap<&'static str, usize>) -> String {
    if verdicts.is_empty() {
        return String::new();
    }
    let counts: Vec<String> = verdicts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!(
        "<br>verdicts of the last {} runs: {}",
        RuleRow::VERDICT_RUNS,
        counts.join(", ")
    )
}

/// The filters of `/runs`, as given in its query (kept as text to fill the form again).
#[derive(Clone, Debug, Default)]
pub(crate) struct RunsQuery {
    /// `state=`.
    pub(crate) state: String,
    /// `rule=`.
    pub(crate) rule: String,
    /// `alertname=`.
    pub(crate) alertname: String,
    /// `fingerprint=`.
    pub(crate) fingerprint: String,
    /// `target=`.
    pub(crate) target: String,
    /// `since=`.
    pub(crate) since: String,
    /// `until=`.
    pub(crate) until: String,
}

impl RunsQuery {
    /// The non-empty filters, as query pairs.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("state", self.state.as_str()),
            ("rule", &self.rule),
            ("alertname", &self.alertname),
            ("fingerprint", &self.fingerprint),
            ("target", &self.target),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }
}

/// `/runs`: the filter form, one page of runs, and the link to the next page.
pub(crate) fn runs(q: &RunsQuery, found: &RunPage, states: &[&str]) -> String {
    let mut body = String::from(
        "<form class=\"filters\" method=\"get\" action=\"runs\" aria-label=\"filter runs\">",
    );
    let mut options = String::from("<option value=\"\">any</option>");
    for s in states {
        let selected = if *s == q.state { " selected" } else { "" };
        let _ = write!(options, "<option{selected}>{}</option>", Text(s));
    }
    let _ = write!(
        body,
        "<label>State <select name=\"state\">{options}</select></label>"
    );
    for (name, label, value, hint) in [
        ("rule", "Rule", &q.rule, ""),
        ("alertname", "Alert name", &q.alertname, ""),
        ("fingerprint", "Fingerprint", &q.fingerprint, ""),
        ("target", "Target", &q.target, "{pod=\"web-1\"}"),
        ("since", "Since", &q.since, "RFC 3339 or unix ms"),
        ("until", "Until", &q.until, "RFC 3339 or unix ms"),
    ] {
        let _ = write!(
            body,
            "<label>{label} <input name=\"{name}\" value=\"{}\" placeholder=\"{hint}\"></label>",
            Text(value)
        );
    }
    body.push_str("<button type=\"submit\">Filter</button> <a href=\"runs\">clear</a></form>");
    body.push_str(&runs_table(&found.runs, "Runs, newest first"));
    if found.runs.is_empty() {
        body.push_str("<p>No run on this page matches.</p>");
    }
    if let Some(next) = found.next {
        let before = next.to_string();
        let mut pairs = q.pairs();
        pairs.push(("before", &before));
        let _ = write!(
            body,
            "<p class=\"pager\"><a rel=\"next\" href=\"runs?{}\">Older runs</a> \
             <span class=\"muted\">({} runs looked at for this page)</span></p>",
            Text(&query(&pairs)),
            found.scanned
        );
    }
    page("Runs", "runs", &body)
}

/// A table of runs, each linked to its page.
fn runs_table(runs: &[RunRecord], caption: &str) -> String {
    let mut t = format!(
        "<table><caption>{}</caption><thead><tr><th scope=\"col\">Run</th>\
         <th scope=\"col\">State</th><th scope=\"col\">Rule</th><th scope=\"col\">Alert</th>\
         <th scope=\"col\">Fingerprint</th><th scope=\"col\">Created</th>\
         <th scope=\"col\">Took</th><th scope=\"col\">Exit / reason</th></tr></thead><tbody>",
        Text(caption)
    );
    for r in runs {
        let took = match (r.started_at, r.ended_at) {
            (Some(s), Some(e)) => duration(e - s),
            _ => "-".to_owned(),
        };
        let outcome = r.reason.as_deref().or(r.exit.as_deref()).unwrap_or("");
        let _ = write!(
            t,
            "<tr><td><a href=\"runs/{id}\">#{id}</a></td><td>{state}</td>\
             <td><a href=\"runs?{rq}\">{rule}</a></td><td>{alert}</td>\
             <td><code>{fp}</code></td><td>{created}</td><td>{took}</td><td>{outcome}</td></tr>",
            id = r.id,
            state = state_badge(r.state.as_str()),
            rq = Text(&query(&[("rule", &r.rule)])),
            rule = Text(&r.rule),
            alert = Text(r.labels.get("alertname").map_or("", String::as_str)),
            fp = Text(&r.fingerprint),
            created = time(r.created_at),
            outcome = Text(outcome),
        );
    }
    t.push_str("</tbody></table>");
    t
}

/// `/approvals`: runs waiting for a person, with buttons that POST to the API.
pub(crate) fn approvals(runs: &[RunRecord]) -> String {
    let mut body = String::from(
        "<p>Approving or rejecting sends the API's own request \
         (<code>POST /api/v1/runs/ID/approve</code> or <code>reject</code>) with your \
         credentials.</p><p id=\"decision-status\" role=\"status\"></p>",
    );
    if runs.is_empty() {
        body.push_str("<p>No run is waiting for approval.</p>");
    }
    for r in runs {
        let (expires, needed) = r.approval.as_ref().map_or(("-".to_owned(), 1), |a| {
            (time(a.expires_at), a.min_approvals)
        });
        let _ = write!(
            body,
            "<section class=\"approval\" aria-labelledby=\"run-{id}\"><h2 id=\"run-{id}\">\
             <a href=\"runs/{id}\">Run #{id}</a> of rule {rule}</h2>\
             <p>Alert {alert}, fingerprint <code>{fp}</code>; expires {expires}; \
             {needed} approval(s) needed.</p><p><code>{argv}</code></p>\
             <label for=\"comment-{id}\">Comment on run {id}</label> \
             <input id=\"comment-{id}\" data-comment-for=\"{id}\"> \
             <button type=\"button\" data-decide=\"approve\" data-run=\"{id}\">Approve run {id}</button> \
             <button type=\"button\" data-decide=\"reject\" data-run=\"{id}\">Reject run {id}</button>\
             </section>",
            id = r.id,
            rule = Text(&r.rule),
            alert = Text(r.labels.get("alertname").map_or("", String::as_str)),
            fp = Text(&r.fingerprint),
            argv = Text(&r.argv.join(" ")),
        );
    }
    page("Approvals", "approvals", &body)
}

fn page(title: &str, current: &str, body: &str) -> String {
    Layout {
        title,
        depth: 0,
        current,
        poll_seconds: None,
    }
    .render(body)
}
