//! `alertrun explain`: for each alert, every rule, matched or not and why; for a match,
//! exactly what would run.

use std::fmt::Write as _;

use alert_core::env::EnvVar;
use alert_core::{Alert, ExecRequest, Notification};
use alert_match::{Mode, Target, Verdict, render};
use serde::Serialize;
use serde_json::{Value, json};

use crate::backend;
use crate::config::{Action, Config};

/// What a notification would do under a config.
#[derive(Debug, Serialize)]
pub struct Report {
    /// One entry per alert, in payload order.
    pub alerts: Vec<AlertReport>,
    /// One entry per per-group rule.
    pub groups: Vec<RuleReport>,
}

/// One alert and every per-alert rule's verdict on it.
#[derive(Debug, Serialize)]
pub struct AlertReport {
    /// Position in the payload, from 0.
    pub index: usize,
    /// `firing` or `resolved`.
    pub status: String,
    /// The alert's fingerprint.
    pub fingerprint: String,
    /// The alert's labels.
    pub labels: alert_core::LabelSet,
    /// Per-alert rules, in config order.
    pub rules: Vec<RuleReport>,
}

/// One rule's verdict, and for a match what would run.
#[derive(Debug, Serialize)]
pub struct RuleReport {
    /// The rule's name.
    pub rule: String,
    /// Whether it fires.
    pub matched: bool,
    /// Why not, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What would run, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<Run>,
}

/// What a matched rule would run.
#[derive(Debug, Serialize)]
pub struct Run {
    /// `process` or `kubernetes`.
    pub executor: &'static str,
    /// The dedupe key of this run.
    pub dedup_key: String,
    /// The action's deadline, e.g. `5m`.
    pub timeout: String,
    /// The argv, for a process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    /// The working directory, for a process that sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Variables of alertrun's own environment passed through (besides PATH).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pass_env: Vec<String>,
    /// The env the action receives (secret values redacted), in order.
    pub env: Vec<(String, String)>,
    /// The Job manifest, for Kubernetes (secret values redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<Value>,
    /// Why the action could not run as it stands (variables that cannot be passed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// What the rule's rate limit and breaker count this run against (`target:`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// The rails the run must pass, in order; each depends on the server's state.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rails: Vec<String>,
}

/// Explains `n` under `config`.
pub fn explain(config: &Config, n: &Notification) -> Report {
    let rules = config.rules().rules();
    let receiver = n.receiver_name();
    let alerts = n
        .alerts
        .iter()
        .enumerate()
        .map(|(index, alert)| AlertReport {
            index,
            status: alert.status.to_string(),
            fingerprint: alert.fingerprint.to_string(),
            labels: alert.labels.clone(),
            rules: rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.mode == Mode::PerAlert)
                .map(|(i, r)| {
                    verdict_report(
                        config,
                        i,
                        n,
                        &r.verdict(&receiver, alert),
                        Target::Alert(alert),
                    )
                })
                .collect(),
        })
        .collect();
    let groups = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.mode == Mode::PerGroup)
        .map(|(i, r)| {
            let verdict = if r.selects_group(n) {
                Verdict::Matched
            } else {
                n.alerts.first().map_or(
                    Verdict::Receiver {
                        got: receiver.clone(),
                    },
                    |a: &Alert| r.verdict(&receiver, a),
                )
            };
            verdict_report(config, i, n, &verdict, Target::Group)
        })
        .collect();
    Report { alerts, groups }
}

fn verdict_report(
    config: &Config,
    i: usize,
    n: &Notification,
    v: &Verdict,
    t: Target<'_>,
) -> RuleReport {
    let rule = &config.rules().rules()[i];
    if !v.is_match() {
        let reason = if matches!(t, Target::Group) {
            format!("no alert matches (first alert: {v})")
        } else {
            v.to_string()
        };
        return RuleReport {
            rule: rule.name.clone(),
            matched: false,
            reason: Some(reason),
            run: None,
        };
    }
    let rendered = render(rule, n, t);
    let problems = rendered.problems.iter().map(ToString::to_string).collect();
    let mut run = run_of(config.action(i), &rendered.request, problems);
    let rails = &config.policy(i).rails;
    // A group's own name, where an alert has its fingerprint.
    let fingerprint = rendered
        .request
        .subject
        .fingerprint
        .map_or_else(|| n.group_key.clone(), |f| f.to_string());
    let labels = match t {
        Target::Alert(alert) => alert.labels.clone(),
        Target::Group => n.common_labels.clone(),
    };
    run.target = rails.target_of(&labels, &fingerprint);
    run.rails = rails.describe();
    run.rails.extend(config.policy(i).silences.describe());
    RuleReport {
        rule: rule.name.clone(),
        matched: true,
        reason: None,
        run: Some(run),
    }
}

/// What `action` would run for `req`.
pub(crate) fn run_of(action: &Action, req: &ExecRequest, mut problems: Vec<String>) -> Run {
    let env = req
        .env
        .iter()
        .map(|v| (v.name.clone(), v.shown_value().to_string()))
        .collect();
    let preview = backend::preview(action, req, &shown_env(&req.env));
    problems.extend(preview.problems);
    Run {
        executor: preview.executor,
        dedup_key: req.dedup_key.clone(),
        timeout: humantime::format_duration(req.deadline).to_string(),
        argv: preview.argv,
        workdir: preview.workdir,
        pass_env: preview.pass_env,
        env,
        job: preview.job,
        problems,
        target: String::new(),
        rails: Vec::new(),
    }
}

impl Report {
    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for a in &self.alerts {
            let labels = a
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>();
            let _ = writeln!(
                out,
                "alert {} [{}] {} {{{}}}",
                a.index,
                a.status,
                a.fingerprint,
                labels.join(", ")
            );
            for r in &a.rules {
                write_rule(&mut out, r);
            }
        }
        if !self.groups.is_empty() {
            let _ = writeln!(out, "group");
            for r in &self.groups {
                write_rule(&mut out, r);
            }
        }
        out
    }

    /// The report as JSON for machines.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|e| json!({ "error": e.to_string() }))
    }

    /// How many (rule, target) runs the report contains.
    pub fn run_count(&self) -> usize {
        let alerts = self.alerts.iter().flat_map(|a| &a.rules);
        alerts.chain(&self.groups).filter(|r| r.matched).count()
    }
}

fn write_rule(out: &mut String, r: &RuleReport) {
    let Some(run) = &r.run else {
        let _ = writeln!(
            out,
            "  - {}: no match: {}",
            r.rule,
            r.reason.as_deref().unwrap_or("")
        );
        return;
    };
    let _ = writeln!(
        out,
        "  + {}: MATCH, runs {} (timeout {})",
        r.rule, run.executor, run.timeout
    );
    if let Some(argv) = &run.argv {
        let _ = writeln!(
            out,
            "      argv: {}",
            serde_json::to_string(argv).unwrap_or_default()
        );
    }
    if let Some(dir) = &run.workdir {
        let _ = writeln!(out, "      workdir: {dir}");
    }
    if !run.pass_env.is_empty() {
        let _ = writeln!(out, "      pass_env: PATH, {}", run.pass_env.join(", "));
    }
    if run.job.is_none() {
        let _ = writeln!(out, "      env:");
        for (k, v) in &run.env {
            let _ = writeln!(out, "        {k}={}", shell_quote_for_display(v));
        }
    }
    if let Some(job) = &run.job {
        let _ = writeln!(out, "      job: |");
        let yaml = serde_saphyr::to_string(job).unwrap_or_else(|e| format!("<cannot print: {e}>"));
        for line in yaml.lines() {
            let _ = writeln!(out, "        {line}");
        }
    }
    for p in &run.problems {
        let _ = writeln!(out, "      PROBLEM: {p}");
    }
    if !run.rails.is_empty() {
        let _ = writeln!(
            out,
            "      rails (depend on the server's state): target {}",
            run.target
        );
        for rail in &run.rails {
            let _ = writeln!(out, "        - {rail}");
        }
    }
}

/// Shows a value on one line: as is when plain, JSON-quoted when it holds anything odd.
fn shell_quote_for_display(v: &str) -> String {
    if v.chars()
        .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    {
        v.to_string()
    } else {
        serde_json::to_string(v).unwrap_or_default()
    }
}

/// `env` with each secret's value replaced by `<redacted>`, so that a `$(SECRET)` in argv
/// is not shown expanded.
fn shown_env(env: &[EnvVar]) -> Vec<EnvVar> {
    env.iter()
        .map(|v| EnvVar::new(v.name.clone(), v.shown_value()))
        .collect()
}
