//! Silences end to end, with the real Alertmanager (Debian's `prometheus-alertmanager`,
//! 0.25) holding them and `alertrun serve` taking alerts as Prometheus posts them
//! (`POST /api/v2/alerts`), with `alertmanager.url` naming that Alertmanager:
//! - a running action's silence is in Alertmanager (the alert's labels as equality
//!   matchers, `createdBy: alertrun`, the run id in its comment) and is expired when the
//!   action fails;
//! - a restart after a crash expires the silence of the run the crash interrupted;
//! - a human's silence covering an alert makes a `respect_silences` rule skip (reason
//!   `silenced`), and the run goes once the silence is expired and the alert comes again;
//! - an Alertmanager that accepts connections and never answers: `act` acts, `skip` skips
//!   with a reason, and the intake does not hang (this one needs no Alertmanager).
//!
//! Without Alertmanager the first two print why and pass, unless `CI` is set.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use support::history::{get_json, post_json};
use support::openmetrics::{scrape, value};
use support::{Alertmanager, Alertrun, alert, wait_for};
use tempfile::TempDir;

/// How long to wait for something that should take a second or two.
const WAIT: Duration = Duration::from_secs(20);

/// An Alertmanager whose route goes nowhere: it only holds silences here.
fn start_alertmanager(dir: &Path) -> Option<Alertmanager> {
    let binary = support::require_alertmanager()?;
    let config = json!({
        "route": {"receiver": "nowhere"},
        "receivers": [{"name": "nowhere"}],
    });
    Some(Alertmanager::start(
        &binary,
        &dir.join("am"),
        &config.to_string(),
    ))
}

/// `alertrun serve` with `rules`, asking the Alertmanager at `url` within `timeout`.
fn start_alertrun(dir: &Path, url: &str, timeout: &str, rules: &Value) -> Alertrun {
    let config = json!({
        "alertmanager": {"url": url, "timeout": timeout},
        "rules": rules,
    });
    let path = dir.join("alertrun.yaml");
    std::fs::write(&path, config.to_string()).expect("write the alertrun config");
    Alertrun::start(&path, &[])
}

/// A fresh Alertmanager and an alertrun with `rules` asking it; `None` (after saying why)
/// without an Alertmanager binary. Drop order: Alertmanager, alertrun, the directory.
fn start_with_alertmanager(rules: &Value) -> Option<(Alertmanager, Alertrun, TempDir)> {
    let dir = TempDir::new().expect("a temporary directory");
    let am = start_alertmanager(dir.path())?;
    let alertrun = start_alertrun(dir.path(), &format!("http://{}", am.addr), "5s", rules);
    Some((am, alertrun, dir))
}

/// Posts one firing alert with `labels` to alertrun as Prometheus does; panics unless 200.
fn fire(alertrun: &Alertrun, labels: &[(&str, &str)]) {
    let starts = SystemTime::now() - Duration::from_secs(1);
    let body = json!([alert(
        labels,
        &[],
        starts,
        starts + Duration::from_secs(300)
    )]);
    let answer = post_json(alertrun.addr, "/api/v2/alerts", &body).expect("post the alert");
    assert_eq!(
        answer.status(),
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
}

/// The runs of `rule`, newest first.
fn runs(alertrun: &Alertrun, rule: &str) -> Vec<Value> {
    let (status, body) = get_json(alertrun.addr, &format!("/api/v1/runs?rule={rule}"));
    assert_eq!(status, 200, "{body}");
    body["runs"].as_array().cloned().unwrap_or_default()
}

/// Waits for a run of `rule` in `state` and returns it.
#[track_caller]
fn run_in(alertrun: &Alertrun, rule: &str, state: &str) -> Value {
    wait_for(&format!("a {state} run of {rule}"), WAIT, || {
        runs(alertrun, rule)
            .into_iter()
            .find(|r| r["state"] == state)
    })
}

#[test]
fn a_running_actions_silence_is_in_alertmanager_and_expired_when_the_action_fails() {
    let rules = json!([{
        "name": "silence-fail",
        "match": ["alertname=\"E2eSilence\""],
        "silence_while_running": true,
        "action": {"process": {"command": ["/bin/sh", "-c", "sleep 2; exit 1"]}},
    }]);
    let Some((am, alertrun, _dir)) = start_with_alertmanager(&rules) else {
        return;
    };
    let labels = [
        ("alertname", "E2eSilence"),
        ("instance", "node-1:9100"),
        ("severity", "critical"),
    ];
    fire(&alertrun, &labels);

    let running = run_in(&alertrun, "silence-fail", "running");
    let id = running["silence"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the running run names its silence: {running:#}"))
        .to_owned();
    let silence = am
        .silences()
        .into_iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap_or_else(|| panic!("Alertmanager has silence {id}: {:#?}", am.silences()));
    assert_eq!(silence["status"]["state"], "active", "{silence:#}");
    assert_eq!(silence["createdBy"], "alertrun");
    let comment = silence["comment"].as_str().unwrap_or_default();
    assert!(
        comment.contains(&format!("run {} of rule silence-fail", running["id"])),
        "{comment}"
    );
    let mut matchers: Vec<Value> = silence["matchers"].as_array().cloned().unwrap_or_default();
    matchers.sort_by_key(|m| m["name"].as_str().unwrap_or_default().to_owned());
    let want: Vec<Value> = labels
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value, "isRegex": false, "isEqual": true}))
        .collect();
    assert_eq!(matchers, want);

    // The action fails: its silence is expired at once, so that humans are paged.
    let failed = run_in(&alertrun, "silence-fail", "failed");
    assert!(failed["silence"]["expired_at"].is_i64(), "{failed:#}");
    let expired = am.silences().into_iter().find(|s| s["id"] == id.as_str());
    assert_eq!(
        expired.map(|s| s["status"]["state"].clone()),
        Some(json!("expired"))
    );
}

#[test]
fn a_restart_expires_the_silence_of_a_run_a_crash_interrupted() {
    let rules = json!([{
        "name": "silence-crash",
        "match": ["alertname=\"E2eCrash\""],
        "silence_while_running": true,
        "action": {"process": {"command": ["/bin/sh", "-c", "sleep 60"]}},
    }]);
    let Some((am, mut alertrun, dir)) = start_with_alertmanager(&rules) else {
        return;
    };
    fire(&alertrun, &[("alertname", "E2eCrash")]);
    let running = run_in(&alertrun, "silence-crash", "running");
    let id = running["silence"]["id"]
        .as_str()
        .expect("a silence id")
        .to_owned();
    let state = |id: &str| {
        let silence = am.silences().into_iter().find(|s| s["id"] == id);
        silence.map(|s| s["status"]["state"].clone())
    };
    assert_eq!(state(&id), Some(json!("active")));

    alertrun.kill();
    let config = dir.path().join("alertrun.yaml");
    let alertrun = Alertrun::start_in(&config, &[], alertrun.into_state_dir());
    let interrupted = run_in(&alertrun, "silence-crash", "interrupted");
    assert!(
        interrupted["silence"]["expired_at"].is_i64(),
        "{interrupted:#}"
    );
    assert_eq!(state(&id), Some(json!("expired")));
}

#[test]
fn a_humans_silence_holds_a_respecting_rule_until_it_is_expired() {
    let rules = json!([{
        "name": "respect",
        "match": ["alertname=\"E2eRespect\""],
        "respect_silences": true,
        "action": {"process": {"command": ["/bin/true"]}},
    }]);
    let Some((am, alertrun, _dir)) = start_with_alertmanager(&rules) else {
        return;
    };
    let matchers = json!([
        {"name": "alertname", "value": "E2eRespect", "isRegex": false, "isEqual": true},
        {"name": "instance", "value": "node-.*", "isRegex": true, "isEqual": true},
    ]);
    let id = am.create_silence(&matchers, "jane", "swapping the disk");
    let labels = [("alertname", "E2eRespect"), ("instance", "node-1:9100")];
    fire(&alertrun, &labels);

    let skipped = run_in(&alertrun, "respect", "skipped");
    let reason = skipped["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with(&format!("silence {id} by jane covers the alert until "))
            && reason.ends_with(": swapping the disk"),
        "{reason}"
    );
    let skips = value(
        &scrape(alertrun.addr),
        "alertrun_rule_skips",
        &[("rule", "respect"), ("reason", "silenced")],
    );
    assert_eq!(skips, Some(1.0));

    // The silence ends; Prometheus sends the still-firing alert again: the run goes.
    am.expire_silence(&id);
    fire(&alertrun, &labels);
    run_in(&alertrun, "respect", "succeeded");
    assert_eq!(runs(&alertrun, "respect").len(), 2);
}

#[test]
fn an_alertmanager_that_never_answers_lets_act_rules_act_and_skip_rules_skip() {
    let dir = TempDir::new().unwrap();
    // Accepts connections (the kernel does), answers nothing.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let rule = |name: &str, on: &str| {
        json!({
            "name": name,
            "match": ["alertname=\"E2eUnreachable\""],
            "respect_silences": true,
            "on_alertmanager_unreachable": on,
            "action": {"process": {"command": ["/bin/true"]}},
        })
    };
    let rules = json!([rule("acts", "act"), rule("skips", "skip")]);
    let alertrun = start_alertrun(dir.path(), &url, "1s", &rules);
    let asked = Instant::now();
    fire(&alertrun, &[("alertname", "E2eUnreachable")]);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the notification waited {:?} for a silent Alertmanager",
        asked.elapsed()
    );
    run_in(&alertrun, "acts", "succeeded");
    let skipped = run_in(&alertrun, "skips", "skipped");
    let reason = skipped["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("Alertmanager could not be asked about silences: Alertmanager at ")
            && reason.contains("did not answer within 1s")
            && reason.ends_with("the rule says on_alertmanager_unreachable: skip"),
        "{reason}"
    );
    drop(silent);
}
