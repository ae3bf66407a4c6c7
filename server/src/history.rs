//! Run history for people: the table `alertrun runs` prints, and one run in detail.

use std::fmt::Write as _;

use crate::lifecycle::VerdictKind;
use crate::store::{RunRecord, RunVerdict};

/// One line per run, newest first as given: id, state, rule, fingerprint, start, duration,
/// exit.
pub fn table(runs: &[RunRecord]) -> String {
    // The verdict column shows only when a run has one (rules with `verify`); the replica
    // column only with `server.ha` (a run with a claim).
    let verdicts = runs.iter().any(|r| r.verdict.is_some());
    let replicas = runs.iter().any(|r| r.claim.is_some());
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let mut row = vec![
                r.id.to_string(),
                r.state.as_str().to_owned(),
                r.rule.clone(),
                if r.fingerprint.is_empty() {
                    "(group)".to_owned()
                } else {
                    r.fingerprint.clone()
                },
                r.started_at
                    .or(Some(r.created_at))
                    .map(time)
                    .unwrap_or_default(),
                match (r.started_at, r.ended_at) {
                    (Some(s), Some(e)) => format!("{:.3}s", (e - s) as f64 / 1000.0),
                    _ => "-".to_owned(),
                },
                r.exit.clone().unwrap_or_else(|| "-".to_owned()),
            ];
            if verdicts {
                row.push(r.verdict.as_ref().map_or_else(|| "-".to_owned(), verdict));
            }
            if replicas {
                row.push(
                    r.claim
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |c| c.replica.clone()),
                );
            }
            row
        })
        .collect();
    let mut header = vec![
        "ID",
        "STATE",
        "RULE",
        "FINGERPRINT",
        "STARTED",
        "DURATION",
        "EXIT",
    ];
    if verdicts {
        header.push("VERDICT");
    }
    if replicas {
        header.push("REPLICA");
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells);
    }
    out
}

/// A verdict in a few words: "effective in 12.5s", "pending until …", "ineffective".
fn verdict(v: &RunVerdict) -> String {
    match (v.verdict, v.resolve_ms) {
        (VerdictKind::Effective, Some(ms)) => format!("effective in {:.1}s", ms as f64 / 1000.0),
        (VerdictKind::Pending, _) => format!("pending until {}", time(v.until)),
        (kind, _) => kind.as_str().to_owned(),
    }
}

/// Every field of one run, for `alertrun runs show ID`.
pub fn detail(r: &RunRecord) -> String {
    let mut out = String::new();
    let mut field = |name: &str, value: &str| {
        let _ = writeln!(out, "{name:<12} {value}");
    };
    field("run", &r.id.to_string());
    field("rule", &r.rule);
    field("state", r.state.as_str());
    if let Some(reason) = &r.reason {
        field("reason", reason);
    }
    field("executor", &r.executor);
    field("status", &r.status);
    field("fingerprint", &r.fingerprint);
    field("starts_at", &r.starts_at);
    field("group_key", &r.group_key);
    field("receiver", &r.receiver);
    field("notification", &r.notification.to_string());
    field("created", &time(r.created_at));
    field("started", &r.started_at.map(time).unwrap_or_default());
    field("ended", &r.ended_at.map(time).unwrap_or_default());
    field("exit", r.exit.as_deref().unwrap_or(""));
    field("ended_by", r.ended_by.as_deref().unwrap_or(""));
    if let Some(v) = &r.verdict {
        field("verdict", &verdict(v));
    }
    if let Some(c) = &r.claim {
        let mut text = format!("{} (claim {})", c.replica, c.name);
        if let Some(run) = c.run {
            let _ = write!(text, ", its run {run}");
        }
        if let Some(url) = &c.url {
            let _ = write!(text, " at {url}");
        }
        field("replica", &text);
    }
    field("dry_run", &r.dry_run.to_string());
    if let Some(silence) = &r.silence {
        field("silence", &silence_text(silence));
    }
    field("argv", &serde_json::to_string(&r.argv).unwrap_or_default());
    let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    field("labels", &labels.join(", "));
    let _ = writeln!(out, "env:");
    for (name, value) in &r.env {
        let _ = writeln!(out, "  {name}={value:?}");
    }
    for (name, tail) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        if !tail.is_empty() {
            let _ = writeln!(out, "{name}:");
            for l in tail.lines() {
                let _ = writeln!(out, "  {l}");
            }
        }
    }
    out
}

/// A run's silence in one line: its id and Alertmanager, until when, how it ended.
fn silence_text(s: &crate::store::RunSilence) -> String {
    let mut text = match &s.id {
        Some(id) => format!("{id} in {}", s.alertmanager),
        None => format!("none made in {}", s.alertmanager),
    };
    if let Some(ends) = s.ends_at {
        let _ = write!(text, ", until {}", time(ends));
    }
    if let Some(at) = s.expired_at {
        let _ = write!(text, ", expired {}", time(at));
    }
    if let Some(e) = &s.error {
        let _ = write!(text, " ({e})");
    }
    text
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds.
fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunSilence;

    #[test]
    fn a_runs_silence_shows_its_id_end_and_what_became_of_it() {
        let made = RunSilence {
            alertmanager: "http://am:9093".into(),
            id: Some("abc-1".into()),
            ends_at: Some(1_000),
            expired_at: Some(2_000),
            error: None,
        };
        assert_eq!(
            silence_text(&made),
            "abc-1 in http://am:9093, until 1970-01-01T00:00:01.000Z, expired 1970-01-01T00:00:02.000Z"
        );
        let failed = RunSilence {
            alertmanager: "http://am:9093".into(),
            error: Some("cannot reach Alertmanager".into()),
            ..RunSilence::default()
        };
        assert_eq!(
            silence_text(&failed),
            "none made in http://am:9093 (cannot reach Alertmanager)"
        );
    }
}
