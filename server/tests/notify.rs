//! Notifications of outcomes, as a user meets them: the real `alertrun serve` binary, a
//! receiver on loopback (tests/support/receiver.rs) that verifies each webhook's HMAC
//! signature, and the run history.
//!
//! - every event of a run (started, finished, verdict, breaker) reaches a generic webhook,
//!   signed so that the receiver verifies it and a tampered body does not verify;
//! - a Slack sink gets a readable `text`, with hostile label values escaped;
//! - a receiver that answers 500 at first gets the notification on a later attempt, and
//!   the run and `/metrics` show the attempts;
//! - a notification not yet delivered when alertrun stops is delivered after a restart.
//!
//! Actions are `/bin/echo` and `/bin/false`; deadlines are generous.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use alertrun::testing::{self, AlertBuilder, NotificationBuilder};
use ring::hmac;
use serde_json::{Value, json};
use support::history::{get_json, json_of, post_json};
use support::openmetrics::{scrape, value};
use support::receiver::{Receiver, verify};
use support::{Alertrun, free_port, wait_for};
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(60);
const KEY: &[u8] = b"a-webhook-key-of-the-receiver";

/// A config directory: the webhook key file and the config.
struct Setup {
    dir: TempDir,
    config: PathBuf,
}

impl Setup {
    /// A config with an `audit` webhook sink and a `chat` Slack sink on `receiver`.
    fn new(receiver: u16, rules: &[Value]) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let key = dir.path().join("hook-key");
        std::fs::write(&key, KEY).expect("write the key");
        let config = json!({
            "notify": {
                "default": ["audit"],
                "sinks": [
                    {"name": "audit", "webhook": {
                        "url": format!("http://127.0.0.1:{receiver}/audit"),
                        "secret_file": key.display().to_string()}},
                    {"name": "chat", "slack": {"url": format!("http://127.0.0.1:{receiver}/slack")},
                     "events": ["finished", "breaker"]},
                ],
            },
            "rules": rules,
        });
        let path = dir.path().join("alertrun.yaml");
        std::fs::write(&path, serde_json::to_string_pretty(&config).expect("JSON"))
            .expect("write the config");
        Self { dir, config: path }
    }

    fn path(&self) -> &Path {
        let _ = &self.dir;
        &self.config
    }
}

fn rule(name: &str, alertname: &str, command: &[&str]) -> Value {
    json!({
        "name": name,
        "match": [format!("alertname=\"{alertname}\"")],
        "action": {"process": {"command": command}},
    })
}

fn firing(labels: &[(&str, &str)]) -> AlertBuilder {
    AlertBuilder::firing(testing::labels(labels))
}

#[track_caller]
fn post(addr: std::net::SocketAddr, alerts: Vec<AlertBuilder>) {
    let body = NotificationBuilder::new().alerts(alerts).to_json();
    let resp = post_json(addr, "/webhook", &body).expect("POST /webhook");
    assert_eq!(resp.status(), 200, "POST /webhook: {}", json_of(&resp));
}

/// The delivered webhook bodies of `event` on `/audit`.
fn events(receiver: &Receiver, event: &str) -> Vec<Value> {
    receiver
        .delivered("/audit")
        .into_iter()
        .filter(|b| b["event"] == event)
        .collect()
}

#[test]
fn every_event_reaches_the_webhook_signed_and_the_slack_sink_escaped() {
    let receiver = Receiver::start(0, KEY, 0);
    let mut fix = rule("fix", "DiskFull", &["/bin/echo", "cleaned"]);
    fix["notify"] = json!(["audit", "chat"]);
    fix["verify"] = json!({"within": "1m"});
    fix["target"] = json!(["instance"]);
    let mut broken = rule("broken", "Broken", &["/bin/false"]);
    broken["breaker"] = json!({"failures": 1});
    let setup = Setup::new(receiver.addr.port(), &[fix, broken]);
    let alertrun = Alertrun::start(setup.path(), &[]);
    let hostile = "<!channel> & <https://evil.example|click>";
    post(
        alertrun.addr,
        vec![firing(&[("alertname", "DiskFull"), ("instance", hostile)])],
    );
    post(alertrun.addr, vec![firing(&[("alertname", "Broken")])]);
    wait_for("started and finished of both runs", WAIT, || {
        (events(&receiver, "started").len() == 2 && events(&receiver, "finished").len() == 2)
            .then_some(())
    });
    // The alert resolves: the run of `fix` was effective.
    let resolved = AlertBuilder::resolved(testing::labels(&[
        ("alertname", "DiskFull"),
        ("instance", hostile),
    ]));
    post(alertrun.addr, vec![resolved]);
    let verdict = wait_for("the verdict", WAIT, || events(&receiver, "verdict").pop());
    assert_eq!(
        verdict["run"]["verdict"]["verdict"], "effective",
        "{verdict}"
    );
    let breaker = wait_for("the breaker", WAIT, || events(&receiver, "breaker").pop());
    assert_eq!(breaker["rule"], "broken");
    assert_eq!(breaker["breaker"]["state"], "open", "{breaker}");

    let finished = events(&receiver, "finished");
    let fixed = finished.iter().find(|b| b["rule"] == "fix").unwrap();
    assert_eq!(fixed["run"]["state"], "succeeded");
    assert_eq!(fixed["run"]["exit"], "exit 0");
    assert_eq!(fixed["run"]["stdout"], "cleaned\n");
    assert_eq!(fixed["run"]["labels"]["instance"], hostile);
    assert!(
        fixed["generator_url"].as_str().unwrap().starts_with("http"),
        "{fixed}"
    );
    let failed = finished.iter().find(|b| b["rule"] == "broken").unwrap();
    assert_eq!(failed["run"]["state"], "failed");

    // Every webhook body verifies; the same body changed by one byte does not.
    let audit: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.path == "/audit")
        .collect();
    assert!(audit.len() >= 6, "{audit:?}");
    let key = hmac::Key::new(hmac::HMAC_SHA256, KEY);
    for r in &audit {
        assert!(r.verified, "signature did not verify: {r:?}");
        let mut tampered = r.body.clone();
        tampered[10] ^= 1;
        assert!(!verify(
            &key,
            r.timestamp.as_deref(),
            r.signature.as_deref(),
            &tampered
        ));
        let wrong = hmac::Key::new(hmac::HMAC_SHA256, b"another key");
        assert!(!verify(
            &wrong,
            r.timestamp.as_deref(),
            r.signature.as_deref(),
            &r.body
        ));
    }

    // The Slack sink: only the events it chose, readable, hostile values escaped.
    let slack = receiver.delivered("/slack");
    assert_eq!(
        slack.len(),
        1,
        "only fix names chat; it chose finished and breaker: {slack:?}"
    );
    let text = slack[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with(":white_check_mark: *fix* succeeded on DiskFull ({instance=\""),
        "{text}"
    );
    assert!(
        text.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"),
        "{text}"
    );
    assert!(!text.contains("<!channel>"), "{text}");
    assert!(text.contains("|alert source>"), "{text}");
    assert!(text.contains("```cleaned```"), "{text}");
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| r.path != "/slack" || r.signature.is_none())
    );

    // The run shows its notifications.
    let id = fixed["run"]["id"].as_u64().unwrap();
    let shown = wait_for("the run to show its notifications", WAIT, || {
        let (_, run) = get_json(alertrun.addr, &format!("/api/v1/runs/{id}"));
        let list = run["notifications"].as_array()?.clone();
        let done = list.len() >= 3 && list.iter().all(|n| n["result"] == "ok");
        done.then_some(list)
    });
    let mut seen: Vec<(String, String)> = shown
        .iter()
        .map(|n| {
            (
                n["sink"].as_str().unwrap().into(),
                n["event"].as_str().unwrap().into(),
            )
        })
        .collect();
    seen.sort();
    let want = [
        ("audit", "finished"),
        ("audit", "started"),
        ("chat", "finished"),
    ];
    for (sink, event) in want {
        assert!(seen.contains(&(sink.into(), event.into())), "{seen:?}");
    }
    let metrics = scrape(alertrun.addr);
    let ok = value(
        &metrics,
        "alertrun_notifications_sent",
        &[("sink", "audit"), ("result", "ok")],
    );
    assert!(ok.unwrap_or(0.0) >= 6.0, "{ok:?}");
}

#[test]
fn a_receiver_that_fails_at_first_gets_the_notification_on_a_later_attempt() {
    let receiver = Receiver::start(0, KEY, 2);
    let setup = Setup::new(
        receiver.addr.port(),
        &[rule("fix", "DiskFull", &["/bin/echo"])],
    );
    let alertrun = Alertrun::start(setup.path(), &[]);
    post(alertrun.addr, vec![firing(&[("alertname", "DiskFull")])]);
    wait_for("started and finished delivered", WAIT, || {
        (events(&receiver, "started").len() == 1 && events(&receiver, "finished").len() == 1)
            .then_some(())
    });
    let refused = receiver
        .received()
        .iter()
        .filter(|r| r.status == 500)
        .count();
    assert_eq!(refused, 2);
    let metrics = scrape(alertrun.addr);
    let errors = value(
        &metrics,
        "alertrun_notifications_sent",
        &[("sink", "audit"), ("result", "error")],
    );
    assert_eq!(errors, Some(2.0));
    let id = events(&receiver, "finished")[0]["run"]["id"]
        .as_u64()
        .unwrap();
    let shown = wait_for("the run to show both notifications delivered", WAIT, || {
        let (_, run) = get_json(alertrun.addr, &format!("/api/v1/runs/{id}"));
        let list = run["notifications"].as_array()?.clone();
        (list.len() == 2 && list.iter().all(|n| n["result"] == "ok")).then_some(list)
    });
    let attempts: u64 = shown.iter().map(|n| n["attempts"].as_u64().unwrap()).sum();
    assert_eq!(
        attempts, 4,
        "two refused attempts and two delivered: {shown:?}"
    );
}

#[test]
fn a_notification_not_delivered_before_a_stop_is_delivered_after_the_restart() {
    let port = free_port();
    let setup = Setup::new(port, &[rule("fix", "DiskFull", &["/bin/echo", "done"])]);
    let alertrun = Alertrun::start(setup.path(), &[]);
    post(alertrun.addr, vec![firing(&[("alertname", "DiskFull")])]);
    wait_for("a failed delivery of finished", WAIT, || {
        alertrun
            .events("notification not delivered: retrying")
            .iter()
            .any(|e| e.to_string().contains("finished"))
            .then_some(())
    });
    let state = alertrun.into_state_dir();
    let receiver = Receiver::start(port, KEY, 0);
    let again = Alertrun::start_in(setup.path(), &[], state);
    let finished = wait_for("finished delivered after the restart", WAIT, || {
        events(&receiver, "finished").pop()
    });
    assert_eq!(finished["run"]["state"], "succeeded");
    assert_eq!(finished["run"]["stdout"], "done\n");
    assert_eq!(events(&receiver, "started").len(), 1);
    assert!(receiver.received().iter().all(|r| r.verified));
    drop(again);
}

#[test]
fn a_run_awaiting_approval_is_announced_with_links_that_approve_it() {
    let receiver = Receiver::start(0, KEY, 0);
    let mut gated = rule("gated", "Gated", &["/bin/echo", "drained"]);
    gated["approval"] = json!({"required": true});
    let setup = Setup::new(receiver.addr.port(), &[gated]);
    // Links need alertrun's URL: the config gets server.approvals.
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(setup.path()).expect("the config"))
            .expect("JSON");
    config["server"] = json!({"approvals": {
        "url": "http://alertrun.example", "link_secret_env": "ALERTRUN_TEST_NOTIFY_LINK_KEY"}});
    std::fs::write(setup.path(), config.to_string()).expect("write the config");
    let alertrun = Alertrun::start(
        setup.path(),
        &[(
            "ALERTRUN_TEST_NOTIFY_LINK_KEY",
            std::ffi::OsStr::new("a-link-key-long-enough"),
        )],
    );
    post(alertrun.addr, vec![firing(&[("alertname", "Gated")])]);
    let asked = wait_for("the approval request", WAIT, || {
        events(&receiver, "awaiting_approval").pop()
    });
    assert_eq!(asked["run"]["state"], "awaiting_approval", "{asked}");
    let approve = asked["approval"]["approve_url"]
        .as_str()
        .expect("an approve link");
    let path = approve
        .strip_prefix("http://alertrun.example")
        .expect("a link to alertrun");
    // The link from the notification approves the run.
    let resp = ureq::post(&format!("http://{}{path}", alertrun.addr))
        .config()
        .http_status_as_error(false)
        .build()
        .send_empty()
        .expect("an answer");
    assert_eq!(resp.status().as_u16(), 200);
    let finished = wait_for("the run to finish", WAIT, || {
        events(&receiver, "finished").pop()
    });
    assert_eq!(finished["run"]["state"], "succeeded", "{finished}");
    assert_eq!(
        finished["run"]["approval"]["decisions"][0]["how"], "link",
        "{finished}"
    );
}

#[test]
fn a_run_a_crash_interrupted_is_notified_finished_after_the_restart() {
    let receiver = Receiver::start(0, KEY, 0);
    let slow = rule("slow", "Slow", &["/bin/sleep", "30"]);
    let setup = Setup::new(receiver.addr.port(), &[slow]);
    let mut alertrun = Alertrun::start(setup.path(), &[]);
    post(alertrun.addr, vec![firing(&[("alertname", "Slow")])]);
    wait_for("the run to start", WAIT, || {
        events(&receiver, "started").pop()
    });
    alertrun.kill();
    let state = alertrun.into_state_dir();
    let _restarted = Alertrun::start_in(setup.path(), &[], state);
    let finished = wait_for("the interrupted run's end", WAIT, || {
        events(&receiver, "finished").pop()
    });
    assert_eq!(finished["run"]["state"], "interrupted", "{finished}");
}
