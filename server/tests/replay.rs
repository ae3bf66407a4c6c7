//! Capture and replay, and `alertrun runs` grown up (issue 16), as a user meets them: the
//! real `alertrun serve`, then the client commands against its API and its state directory.
//!
//! - `runs --json`, `--since` and `--before` (durations ago and RFC 3339);
//! - `GET /api/v1/status` names the config and its hash; `runs -c` refuses a server that
//!   runs another config;
//! - `notifications show ID` gives back the notification as received (unknown fields too),
//!   `replay ID --to URL` posts it again, `explain --notification ID` explains it offline;
//! - `runs --state-dir` on a directory without a store is an error, not an empty history.

// The helpers below are test code too; `allow-unwrap-in-tests` covers only `#[test]`s.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use support::Alertrun;
use support::history::{get_json, json_of, post_json, wait_settled};

const CONFIG: &str = r#"
rules:
  - name: note-disk
    match: ['alertname="NodeDiskFull"']
    action:
      process:
        command: [/bin/true]
"#;

fn alertrun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .output()
        .expect("alertrun runs")
}

/// Runs `args`; on success its stdout, else a panic with its stderr.
fn ok(args: &[&str]) -> String {
    let out = alertrun(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "alertrun {args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `args`, which must fail; its stderr.
fn fails(args: &[&str]) -> String {
    let out = alertrun(args);
    assert!(!out.status.success(), "alertrun {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The example payload, with a field Alertmanager may add one day.
fn payload() -> Value {
    serde_json::from_str(&payload_text()).unwrap()
}

/// The payload as posted: the example's text as written (its key order, its whitespace),
/// with a field alertrun does not know.
fn payload_text() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/payloads/node-disk-full.json");
    std::fs::read_to_string(path).unwrap().replacen(
        '{',
        "{\n  \"futureField\": {\"kept\":   true},",
        1,
    )
}

/// Posts the payload as written to `server`, and waits until its runs ended.
fn post_and_settle(server: &Alertrun) {
    let answer = support::http::request(
        server.addr,
        "POST",
        "/webhook",
        Some(payload_text().as_bytes()),
    )
    .unwrap();
    assert!(answer.status < 300, "{}", answer.text());
    wait_settled(server.addr, Duration::from_secs(30));
}

/// Starts `alertrun serve` on `config`, posts the payload, waits until its runs ended;
/// the server and its base URL.
fn serve_and_post(config: &Path) -> (Alertrun, String) {
    let server = Alertrun::start(config, &[]);
    let url = format!("http://{}", server.addr);
    post_and_settle(&server);
    (server, url)
}

#[test]
fn runs_notifications_replay_and_explain_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertrun.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let other = dir.path().join("other.yaml");
    std::fs::write(&other, CONFIG.replace("note-disk", "other-rule")).unwrap();
    let (server, url) = serve_and_post(&config);
    let c = config.to_str().unwrap();

    // The status route names the config and its hash.
    let (status, body) = get_json(server.addr, "/api/v1/status");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["config_sha256"],
        alertrun::sha256_hex(CONFIG.as_bytes()),
        "{body}"
    );
    assert!(body["store_path"].as_str().is_some(), "{body}");

    // runs --json: the API's shape; each run names its notification.
    let runs: Value =
        serde_json::from_str(&ok(&["runs", "-c", c, "--url", &url, "--json"])).unwrap();
    let runs = runs["runs"].as_array().unwrap().clone();
    assert!(!runs.is_empty());
    assert!(runs.iter().all(|r| r["rule"] == "note-disk"));
    let notification = runs[0]["notification"].as_u64().unwrap();
    let id = notification.to_string();

    // --since and --before: durations ago and RFC 3339.
    let count = |extra: &[&str]| {
        let mut args = vec!["runs", "-c", c, "--url", &url, "--json"];
        args.extend_from_slice(extra);
        let v: Value = serde_json::from_str(&ok(&args)).unwrap();
        v["runs"].as_array().unwrap().len()
    };
    assert_eq!(count(&["--since", "1h"]), runs.len());
    assert_eq!(count(&["--before", "1h"]), 0);
    assert_eq!(count(&["--before", "2999-01-01T00:00:00Z"]), runs.len());
    assert_eq!(count(&["--since", "2999-01-01T00:00:00Z"]), 0);
    let e = fails(&["runs", "-c", c, "--url", &url, "--since", "yesterday"]);
    assert!(e.contains("--since \"yesterday\" is not a time"), "{e}");

    // A server that runs another config is refused.
    let e = fails(&["runs", "-c", other.to_str().unwrap(), "--url", &url]);
    assert!(e.contains("runs another config"), "{e}");

    // The notification as received, byte for byte: every field, the unknown one too, in
    // the order and spacing Alertmanager wrote them.
    let shown = ok(&["notifications", "show", &id, "-c", c, "--url", &url]);
    assert_eq!(shown.trim_end(), payload_text().trim_end());

    // explain --notification: offline, from the stored body.
    let explained = ok(&["explain", "-c", c, "--url", &url, "--notification", &id]);
    assert!(explained.contains("note-disk"), "{explained}");

    // replay: posted again, accepted.
    let to = format!("{url}/webhook");
    let replayed = ok(&["replay", &id, "-c", c, "--url", &url, "--to", &to]);
    assert!(
        replayed.contains(&format!("notification {id} posted to {to}: 200")),
        "{replayed}"
    );

    // From the state directory, once the server is gone.
    let state = server.into_state_dir();
    let s = state.path().to_str().unwrap();
    let offline: Value = serde_json::from_str(&ok(&["runs", "--state-dir", s, "--json"])).unwrap();
    assert!(!offline["runs"].as_array().unwrap().is_empty());
    let shown: Value =
        serde_json::from_str(&ok(&["notifications", "show", &id, "--state-dir", s])).unwrap();
    assert_eq!(shown, payload());
    let explained = ok(&["explain", "-c", c, "--state-dir", s, "--notification", &id]);
    assert!(explained.contains("note-disk"), "{explained}");
}

#[test]
fn runs_refuse_a_state_dir_without_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("not-a-state-dir");
    let e = fails(&["runs", "--state-dir", empty.to_str().unwrap()]);
    assert!(e.contains("no store at"), "{e}");
    assert!(!empty.exists(), "runs created {}", empty.display());
}

/// `server.capture: true`: the webhook-debugging mode records each selected run of every
/// delivery with its notification, runs nothing, and leaves no dedupe entry: once capture
/// is off, the same episode runs.
#[test]
fn capture_records_every_delivery_runs_nothing_and_leaves_no_dedupe() {
    let dir = tempfile::tempdir().unwrap();
    let touched = dir.path().join("ran");
    let config = dir.path().join("alertrun.yaml");
    let rules = format!(
        "rules:\n  - name: capture\n    action: {{process: {{command: [/usr/bin/touch, {}]}}}}\n",
        touched.display()
    );
    std::fs::write(&config, format!("server: {{capture: true}}\n{rules}")).unwrap();
    let (server, url) = serve_and_post(&config);
    let again = post_json(server.addr, "/webhook", &payload()).unwrap();
    assert!(again.status() < 300, "{}", json_of(&again));
    wait_settled(server.addr, Duration::from_secs(30));
    let c = config.to_str().unwrap();
    let runs: Value =
        serde_json::from_str(&ok(&["runs", "-c", c, "--url", &url, "--json"])).unwrap();
    let runs = runs["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 4, "two alerts, two deliveries: {runs:?}");
    assert!(
        runs.iter()
            .all(|r| r["state"] == "skipped" && r["dry_run"] == true),
        "{runs:?}"
    );
    assert!(
        runs[0]["reason"]
            .as_str()
            .unwrap()
            .contains("server.capture"),
        "{runs:?}"
    );
    let id = runs[0]["notification"].as_u64().unwrap().to_string();
    let shown: Value =
        serde_json::from_str(&ok(&["notifications", "show", &id, "-c", c, "--url", &url])).unwrap();
    assert_eq!(shown, payload());
    assert!(!touched.exists(), "capture mode ran the action");

    // Capture off, same state: the captured episodes run.
    std::fs::write(&config, &rules).unwrap();
    let state = server.into_state_dir();
    let server = Alertrun::start_in(&config, &[], state);
    post_and_settle(&server);
    assert!(
        touched.exists(),
        "the action did not run once capture was off"
    );
}
