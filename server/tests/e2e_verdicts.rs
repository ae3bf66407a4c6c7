//! Verdicts against a real Alertmanager (issue 12): a remediation whose alert resolves is
//! judged effective from Alertmanager's resolved notification, with its time to resolve; one
//! whose alert is still firing at the window's end is judged ineffective by asking
//! Alertmanager's alerts API, and opens its circuit breaker; an Alertmanager that cannot be
//! asked gives `unknown`, never effective.
//!
//! Alertmanager is Debian's `prometheus-alertmanager`, started on loopback; a run without it
//! says so and fails under `CI`.

mod support;

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use support::history::{all_runs, run_state};
use support::openmetrics::{scrape, value};
use support::{Alertmanager, Alertrun, Timing, alert, free_port, wait_for, webhook_config};

const WAIT: Duration = Duration::from_secs(30);

/// The run of `rule`, once it has a verdict other than pending.
fn judged(alertrun: &Alertrun, rule: &str) -> Value {
    wait_for(&format!("a verdict on the run of {rule}"), WAIT, || {
        let runs = all_runs(alertrun.addr, &format!("rule={rule}"));
        runs.into_iter().find(|r| {
            r["verdict"]["verdict"]
                .as_str()
                .is_some_and(|v| v != "pending")
        })
    })
}

#[test]
fn issue_12_verdicts_from_a_real_alertmanager() {
    let Some(am_binary) = support::require_alertmanager() else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("alertrun-verdicts.")
        .tempdir()
        .expect("a temp dir");
    let config = dir.path().join("alertrun.yaml");
    let rule = |name: &str, alertname: &str, within: &str| {
        json!({
            "name": name,
            "match": [format!("alertname=\"{alertname}\"")],
            "verify": {"within": within},
            "breaker": {"ineffective": 1, "backoff": "1h"},
            "action": {"process": {"command": ["/bin/true"]}},
        })
    };
    // Silenced while it runs and until its verdict: nobody is paged meanwhile.
    let mut stubborn_rule = rule("stubborn", "Stubborn", "3s");
    stubborn_rule["silence_while_running"] = json!(true);
    // No Alertmanager URL in the config: alertrun asks the one that sent the notification
    // (its externalURL, which this Alertmanager sets to its own address).
    std::fs::write(
        &config,
        json!({"rules": [rule("fix", "Fixable", "1m"), stubborn_rule]}).to_string(),
    )
    .expect("write the config");
    let alertrun = Alertrun::start(&config, &[]);
    let timing = Timing {
        group_wait: "1s",
        group_interval: "1s",
        repeat_interval: "1h",
    };
    let am_config = webhook_config(
        &format!("http://{}/webhook", alertrun.addr),
        &["alertname"],
        timing,
    );
    let am = Alertmanager::start_reachable(&am_binary, &dir.path().join("am"), &am_config);

    let starts = SystemTime::now() - Duration::from_secs(1);
    let later = SystemTime::now() + Duration::from_secs(3600);
    let fixable = |ends| {
        alert(
            &[("alertname", "Fixable"), ("instance", "a")],
            &[],
            starts,
            ends,
        )
    };
    let stubborn = alert(
        &[("alertname", "Stubborn"), ("instance", "b")],
        &[],
        starts,
        later,
    );
    am.post_alerts(&[fixable(later), stubborn]);
    for rule in ["fix", "stubborn"] {
        wait_for(&format!("{rule} to succeed"), WAIT, || {
            let runs = all_runs(alertrun.addr, &format!("rule={rule}"));
            runs.iter()
                .any(|r| run_state(r) == "succeeded" && r["verdict"]["verdict"] == "pending")
                .then_some(())
        });
    }

    // The fixable alert resolves: Alertmanager's resolved notification makes it effective.
    am.post_alerts(&[fixable(SystemTime::now())]);
    let fix = judged(&alertrun, "fix");
    assert_eq!(fix["verdict"]["verdict"], "effective", "{fix}");
    let resolve_ms = fix["verdict"]["resolve_ms"]
        .as_i64()
        .expect("a time to resolve");
    assert!((0..60_000).contains(&resolve_ms), "{fix}");
    let timeline = fix["timeline"].to_string();
    assert!(
        timeline.contains("effective: the alert resolved"),
        "{timeline}"
    );

    // The stubborn one is still firing when its 3 s window ends: Alertmanager's alerts API
    // says so, and its breaker (ineffective: 1) opens.
    let stubborn = judged(&alertrun, "stubborn");
    assert_eq!(stubborn["verdict"]["verdict"], "ineffective", "{stubborn}");
    // Its silence lasted past the action's end, to the verdict, which expired it.
    let silence = &stubborn["silence"];
    let (ended, expired) = (
        stubborn["ended_at"].as_i64().expect("ended"),
        silence["expired_at"]
            .as_i64()
            .expect("expired by the verdict"),
    );
    assert!(expired >= ended + 3_000, "{stubborn}");
    assert!(
        silence["ends_at"].as_i64().expect("an end") >= ended + 3_000,
        "{stubborn}"
    );
    let metrics = scrape(alertrun.addr);
    let counted = |rule: &str, verdict: &str| {
        value(
            &metrics,
            "alertrun_remediation_verdicts",
            &[("rule", rule), ("verdict", verdict)],
        )
    };
    assert_eq!(counted("fix", "effective"), Some(1.0));
    assert_eq!(counted("stubborn", "ineffective"), Some(1.0));
    let text = support::http::request(alertrun.addr, "GET", "/metrics", None)
        .expect("GET /metrics")
        .text();
    assert!(
        text.contains("alertrun_remediation_time_to_resolve_seconds_count{rule=\"fix\"} 1"),
        "{text}"
    );
    assert_eq!(
        value(&metrics, "alertrun_circuit_open", &[("rule", "stubborn")]),
        Some(1.0),
        "an ineffective run opens a breaker set to open after one"
    );
    assert!(
        alertrun
            .events("circuit breaker open: runs of this rule on this target are skipped; a human is needed (alertrun breaker reset)")
            .iter()
            .any(|e| e["fields"]["rule"] == "stubborn" || e["rule"] == "stubborn"),
        "the breaker's opening is logged"
    );
}

#[test]
fn issue_12_an_alertmanager_that_cannot_be_asked_gives_unknown_never_effective() {
    let dir = tempfile::Builder::new()
        .prefix("alertrun-verdicts.")
        .tempdir()
        .expect("a temp dir");
    let config = dir.path().join("alertrun.yaml");
    std::fs::write(
        &config,
        json!({
            "rules": [{
                "name": "fix",
                "match": ["alertname=\"Down\""],
                "verify": {"within": "1s"},
                "action": {"process": {"command": ["/bin/true"]}},
            }],
        })
        .to_string(),
    )
    .expect("write the config");
    let alertrun = Alertrun::start(&config, &[]);
    let mut body = alertrun::testing::NotificationBuilder::new()
        .alerts([alertrun::testing::AlertBuilder::firing(
            alertrun::testing::labels(&[("alertname", "Down")]),
        )])
        .to_json();
    // An Alertmanager that sent it and is gone since: nothing listens there.
    body["externalURL"] = json!(format!("http://127.0.0.1:{}", free_port()));
    let answer = support::history::post_json(alertrun.addr, "/webhook", &body).expect("posted");
    assert_eq!(answer.status(), 200);
    let run = judged(&alertrun, "fix");
    assert_eq!(run["verdict"]["verdict"], "unknown", "{run}");
    let timeline = run["timeline"].to_string();
    assert!(timeline.contains("could not be asked"), "{timeline}");
    assert_eq!(
        value(
            &scrape(alertrun.addr),
            "alertrun_remediation_verdicts",
            &[("rule", "fix"), ("verdict", "unknown")]
        ),
        Some(1.0)
    );
}
