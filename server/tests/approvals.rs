//! Approval before risky actions (issue 13), end to end through the real binary: a rule
//! with `approval: {required: true}` runs only after a valid approval, and runs exactly the
//! action that was approved. Approve by API, by CLI and by signed link (expired, tampered,
//! replayed and wrong-decision links refused); reject; timeout; resolved while waiting; a
//! reload while waiting; a restart that finds the rule changed; two approvers.

mod support;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use alertrun::testing::{AlertBuilder, NotificationBuilder, labels};
use serde_json::{Value, json};
use support::openmetrics::{Exposition, parse, value};
use support::{Alertrun, wait_for};

const TOKEN_ENV: &str = "ALERTRUN_TEST_APPROVAL_TOKEN";
const TOKEN: &str = "approval-token-123";
const LINK_ENV: &str = "ALERTRUN_TEST_LINK_SECRET";
const LINK_SECRET: &str = "link-secret-0123456789";
const WAIT: Duration = Duration::from_secs(20);

struct Bench {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Bench {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("alertrun-approvals.")
            .tempdir()
            .expect("a temp dir");
        let config = dir.path().join("alertrun.yaml");
        let bench = Self { dir, config };
        bench.write_config("done");
        bench
    }

    /// The config; the `fix` rule's action touches `<dir>/<marker>-<suffix>`.
    fn write_config(&self, suffix: &str) {
        let touch = |name: &str| {
            json!([
                "/usr/bin/touch",
                format!(
                    "{}/$(ALERTRUN_LABEL_marker)-{name}",
                    self.dir.path().display()
                )
            ])
        };
        let config = json!({
            "server": {
                "auth": {"bearer_token_env": TOKEN_ENV},
                "approvals": {"url": "http://alertrun.example/", "link_secret_env": LINK_ENV},
            },
            "rules": [
                {"name": "fix", "match": ["alertname=\"Fix\""],
                 "approval": {"required": true, "timeout": "10m"},
                 "action": {"process": {"command": touch(suffix)}}},
                {"name": "quick", "match": ["alertname=\"Quick\""],
                 "approval": {"required": true, "timeout": "2s"},
                 "action": {"process": {"command": touch("quick")}}},
                {"name": "two", "match": ["alertname=\"Two\""],
                 "approval": {"required": true, "approvers": ["alice", "bob"], "min_approvals": 2},
                 "action": {"process": {"command": touch("two")}}},
            ],
        });
        std::fs::write(&self.config, config.to_string()).expect("write the config");
    }

    fn envs() -> [(&'static str, &'static OsStr); 2] {
        [
            (TOKEN_ENV, OsStr::new(TOKEN)),
            (LINK_ENV, OsStr::new(LINK_SECRET)),
        ]
    }

    fn start(&self) -> Alertrun {
        Alertrun::start(&self.config, &Self::envs())
    }

    fn marker(&self, marker: &str, suffix: &str) -> PathBuf {
        self.dir.path().join(format!("{marker}-{suffix}"))
    }
}

/// An HTTP answer.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn call(
    method: &str,
    alertrun: &Alertrun,
    path_and_query: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let url = format!("http://{}{path_and_query}", alertrun.addr);
    let mut response = match method {
        "GET" => {
            let mut r = ureq::get(&url).config().http_status_as_error(false).build();
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.call()
        }
        _ => {
            let mut r = ureq::post(&url)
                .config()
                .http_status_as_error(false)
                .build();
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            match body {
                Some(b) => r.send_json(b),
                None => r.send_empty(),
            }
        }
    }
    .expect("an answer");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Answer { status, body }
}

/// Posts one alert; the id of the run it made.
fn fire(alertrun: &Alertrun, alertname: &str, marker: &str, resolved: bool) -> Option<u64> {
    let set = labels(&[("alertname", alertname), ("marker", marker)]);
    let alert = if resolved {
        AlertBuilder::resolved(set)
    } else {
        AlertBuilder::firing(set)
    }
    .starts_at("2026-12-05T01:00:00Z");
    let body = NotificationBuilder::new().alerts([alert]).to_json();
    let answer = call("POST", alertrun, "/webhook", Some(TOKEN), Some(&body));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let runs = all_runs_with_token(alertrun, &format!("rule={}", rule_of(alertname)));
    runs.iter()
        .find(|r| r["labels"]["marker"] == marker && !resolved)
        .and_then(|r| r["id"].as_u64())
}

fn rule_of(alertname: &str) -> &'static str {
    match alertname {
        "Fix" => "fix",
        "Quick" => "quick",
        _ => "two",
    }
}

fn all_runs_with_token(alertrun: &Alertrun, query: &str) -> Vec<Value> {
    let answer = call(
        "GET",
        alertrun,
        &format!("/api/v1/runs?{query}&limit=1000"),
        Some(TOKEN),
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn run(alertrun: &Alertrun, id: u64) -> Value {
    let answer = call(
        "GET",
        alertrun,
        &format!("/api/v1/runs/{id}"),
        Some(TOKEN),
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

fn wait_state(alertrun: &Alertrun, id: u64, state: &str) -> Value {
    wait_for(&format!("run {id} to be {state}"), WAIT, || {
        let r = run(alertrun, id);
        (r["state"] == state).then_some(r)
    })
}

/// `/metrics`, with the credentials it needs.
fn scrape_with_token(alertrun: &Alertrun) -> Exposition {
    let answer = call("GET", alertrun, "/metrics", Some(TOKEN), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    parse(&answer.body)
}

/// The path and query of a link to alertrun.
fn path_of(link: &str) -> String {
    link.strip_prefix("http://alertrun.example")
        .expect("a link to alertrun")
        .to_owned()
}

fn cli(args: &[&str]) -> (bool, String) {
    support::cli(args, &Bench::envs())
}

#[test]
fn issue_13_a_run_waits_for_approval_and_runs_once_approved_by_the_api() {
    let bench = Bench::new();
    let alertrun = bench.start();
    let id = fire(&alertrun, "Fix", "api", false).expect("a run");
    let waiting = run(&alertrun, id);
    assert_eq!(waiting["state"], "awaiting_approval", "{waiting}");
    let digest = waiting["approval"]["digest"].as_str().expect("a digest");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert!(
        waiting["approval_links"]["approve"].as_str().is_some(),
        "{waiting}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !bench.marker("api", "done").exists(),
        "nothing runs before approval"
    );
    let metrics = scrape_with_token(&alertrun);
    assert_eq!(
        value(&metrics, "alertrun_approvals_pending", &[]),
        Some(1.0)
    );

    // No credentials: refused; the run still waits.
    let path = format!("/api/v1/runs/{id}/approve?comment=looks%20right");
    assert_eq!(call("POST", &alertrun, &path, None, None).status, 401);
    let approved = call("POST", &alertrun, &path, Some(TOKEN), None);
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.json()["state"], "queued");
    let done = wait_state(&alertrun, id, "succeeded");
    assert!(bench.marker("api", "done").exists());
    let decision = &done["approval"]["decisions"][0];
    assert_eq!(
        (
            &decision["decision"],
            &decision["by"],
            &decision["how"],
            &decision["comment"]
        ),
        (
            &json!("approve"),
            &json!("token"),
            &json!("api"),
            &json!("looks right")
        ),
        "{done}"
    );
    // The timeline says it in words.
    let said: Vec<&str> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["cause"].as_str())
        .collect();
    assert!(
        said.contains(&"approved by token via api: looks right (1 of 1)"),
        "{said:?}"
    );
    // Decided once: a second approval finds nothing waiting.
    assert_eq!(
        call("POST", &alertrun, &path, Some(TOKEN), None).status,
        409
    );
    let metrics = scrape_with_token(&alertrun);
    assert_eq!(
        value(
            &metrics,
            "alertrun_approval_decisions",
            &[("rule", "fix"), ("outcome", "approved")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, "alertrun_approvals_pending", &[]),
        Some(0.0)
    );
}

#[test]
fn issue_13_a_rejection_by_the_cli_and_a_timeout_never_run() {
    let bench = Bench::new();
    let alertrun = bench.start();
    let id = fire(&alertrun, "Fix", "cli", false).expect("a run");
    let config = bench.config.to_str().expect("a UTF-8 path");
    let url = format!("http://{}", alertrun.addr);
    let (ok, out) = cli(&[
        "reject",
        "-c",
        config,
        "--url",
        &url,
        &id.to_string(),
        "--reason",
        "not during the freeze",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "run {id}: rejected: rejected by token: not during the freeze"
        )),
        "{out}"
    );
    let (ok, out) = cli(&["approve", "-c", config, "--url", &url, &id.to_string()]);
    assert!(!ok, "a rejected run cannot be approved: {out}");
    assert!(out.contains("not awaiting approval"), "{out}");

    let quick = fire(&alertrun, "Quick", "late", false).expect("a run");
    let timed_out = wait_state(&alertrun, quick, "rejected");
    assert_eq!(timed_out["reason"], "timeout", "{timed_out}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!bench.marker("cli", "done").exists());
    assert!(!bench.marker("late", "quick").exists());
    assert_eq!(
        value(
            &scrape_with_token(&alertrun),
            "alertrun_approval_decisions",
            &[("rule", "quick"), ("outcome", "timeout")]
        ),
        Some(1.0)
    );
}

#[test]
fn issue_13_signed_links_approve_once_and_refuse_tampering_expiry_and_the_other_decision() {
    let bench = Bench::new();
    let alertrun = bench.start();
    let id = fire(&alertrun, "Fix", "link", false).expect("a run");
    let waiting = run(&alertrun, id);
    let approve = path_of(
        waiting["approval_links"]["approve"]
            .as_str()
            .expect("a link"),
    );
    let reject = path_of(
        waiting["approval_links"]["reject"]
            .as_str()
            .expect("a link"),
    );

    // Tampered: one hex digit of the signature changed.
    let mut tampered = approve.clone();
    let last = tampered.pop().expect("a signature");
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(call("POST", &alertrun, &tampered, None, None).status, 403);
    // The approve link's signature on the reject path.
    let sig = approve.split("sig=").nth(1).expect("a sig");
    let crossed = format!("{}sig={sig}", reject.split("sig=").next().expect("a path"));
    assert_eq!(call("POST", &alertrun, &crossed, None, None).status, 403);
    // Correctly signed (with the server's key) but expired.
    let digest = waiting["approval"]["digest"].as_str().expect("a digest");
    let expired = 1_700_000_000;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, LINK_SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{id}.{digest}.approve.{expired}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let old = format!("/approvals/{id}/approve?expires={expired}&sig={hex}");
    let refused = call("POST", &alertrun, &old, None, None);
    assert_eq!(
        (refused.status, refused.body.contains("expired")),
        (403, true),
        "{}",
        refused.body
    );
    assert_eq!(run(&alertrun, id)["state"], "awaiting_approval");

    // The real link: GET shows a button (no decision yet), POST decides.
    let page = call("GET", &alertrun, &approve, None, None);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<button type=\"submit\">Approve run"),
        "{}",
        page.body
    );
    assert_eq!(
        run(&alertrun, id)["state"],
        "awaiting_approval",
        "a GET decides nothing"
    );
    let used = call("POST", &alertrun, &approve, None, None);
    assert_eq!(used.status, 200, "{}", used.body);
    wait_state(&alertrun, id, "succeeded");
    assert!(bench.marker("link", "done").exists());
    // Replayed: refused.
    assert_eq!(call("POST", &alertrun, &approve, None, None).status, 409);
    let done = run(&alertrun, id);
    assert_eq!(done["approval"]["decisions"][0]["how"], "link", "{done}");
}

#[test]
fn issue_13_a_run_whose_alert_resolves_while_it_waits_is_cancelled() {
    let bench = Bench::new();
    let alertrun = bench.start();
    let id = fire(&alertrun, "Fix", "gone", false).expect("a run");
    fire(&alertrun, "Fix", "gone", true);
    let cancelled = wait_state(&alertrun, id, "cancelled");
    assert!(
        cancelled["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("resolved"),
        "{cancelled}"
    );
    let path = format!("/api/v1/runs/{id}/approve");
    assert_eq!(
        call("POST", &alertrun, &path, Some(TOKEN), None).status,
        409
    );
}

#[test]
fn issue_13_the_approved_action_is_the_pending_one_across_a_reload_and_a_restart_refuses_a_changed_rule()
 {
    let bench = Bench::new();
    let alertrun = bench.start();
    let reloaded = fire(&alertrun, "Fix", "reload", false).expect("a run");
    let restarted = fire(&alertrun, "Fix", "restart", false).expect("a run");
    let kept = fire(&alertrun, "Two", "kept", false).expect("a run");
    // The rule's action changes, and the config is reloaded while they wait.
    bench.write_config("changed");
    let answer = call("POST", &alertrun, "/-/reload", Some(TOKEN), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let path = format!("/api/v1/runs/{reloaded}/approve");
    assert_eq!(
        call("POST", &alertrun, &path, Some(TOKEN), None).status,
        200
    );
    wait_state(&alertrun, reloaded, "succeeded");
    assert!(
        bench.marker("reload", "done").exists(),
        "the approved action ran"
    );
    assert!(
        !bench.marker("reload", "changed").exists(),
        "not the reloaded one"
    );

    // Restarted with the changed rule: the run that waited for the old action is refused;
    // the one whose rule did not change waits again.
    let state = alertrun.into_state_dir();
    let alertrun = Alertrun::start_in(&bench.config, &Bench::envs(), state);
    let refused = run(&alertrun, restarted);
    assert_eq!(refused["state"], "rejected", "{refused}");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not the one awaiting approval"),
        "{refused}"
    );
    assert_eq!(run(&alertrun, kept)["state"], "awaiting_approval");

    // Two approvers needed, each once; someone else is refused.
    let approve = |by: &str| {
        call(
            "POST",
            &alertrun,
            &format!("/api/v1/runs/{kept}/approve?by={by}"),
            Some(TOKEN),
            None,
        )
    };
    let first = approve("alice");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["state"], "awaiting_approval");
    assert_eq!(approve("alice").status, 409, "alice decided already");
    let carol = approve("carol");
    assert_eq!(carol.status, 403, "{}", carol.body);
    assert_eq!(approve("bob").json()["state"], "queued");
    let two = wait_state(&alertrun, kept, "succeeded");
    assert_eq!(
        two["approval"]["decisions"][0]["how"], "api (token)",
        "{two}"
    );
    assert!(bench.marker("kept", "two").exists());
}

#[test]
fn issue_13_bad_decisions_and_links_are_refused_naming_the_problem_and_the_server_keeps_serving() {
    let bench = Bench::new();
    let alertrun = bench.start();
    let id = fire(&alertrun, "Fix", "bad", false).expect("a run");
    let post = |path: &str| call("POST", &alertrun, path, Some(TOKEN), None);
    let refused = [
        (
            format!("/api/v1/runs/{id}/approve?color=red"),
            400,
            "unknown parameter \\\"color\\\"",
        ),
        (format!("/api/v1/runs/{id}/approve?by="), 400, "by is empty"),
        (
            format!("/api/v1/runs/{id}/approve?comment=a%0Ab"),
            400,
            "without control characters",
        ),
        ("/api/v1/runs/abc/approve".to_owned(), 400, "invalid run id"),
        (format!("/api/v1/runs/{id}/delete"), 404, "no route"),
        (
            format!("/api/v1/runs/{}/approve", id + 1000),
            409,
            "not awaiting approval",
        ),
        (format!("/approvals/{id}/approve"), 400, "expires= and sig="),
        (
            format!("/approvals/{id}/approve?expires=9999999999&sig=zz"),
            403,
            "not hex",
        ),
        (
            format!("/approvals/{id}/launch?expires=9999999999&sig=00"),
            403,
            "approve or reject",
        ),
    ];
    for (path, status, says) in refused {
        let answer = post(&path);
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert!(answer.body.contains(says), "{path}: {}", answer.body);
    }
    // Nothing was decided, and the server still takes decisions.
    assert_eq!(run(&alertrun, id)["state"], "awaiting_approval");
    let approved = post(&format!("/api/v1/runs/{id}/approve"));
    assert_eq!(approved.status, 200, "{}", approved.body);
    wait_state(&alertrun, id, "succeeded");
}
