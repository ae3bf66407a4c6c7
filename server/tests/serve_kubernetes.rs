//! `alertrun serve` with a Kubernetes Job action, driven as a user drives it: a webhook in,
//! a Job created through the API, its end and log recorded; across a `kill -9` and a
//! restart on the same state, and while the API server is down or unavailable. The API
//! server is a stub on loopback (no cluster runs here) that alertrun reaches through a
//! `KUBECONFIG`, so the real client, config loading, executor and store are used; the
//! stub (`support/kube_api.rs`, [`KubeApi`]) answers the calls the Job backend makes as the
//! API documents them, and records every request.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use support::history::{get_json, json_of, post_json, runs_page};
use support::kube_api::{
    CONTROLLER_UID, KubeApi, POD_LOG, job_uid, kubeconfig as kubeconfig_in, percent_decode,
};
use support::{Alertrun, free_port, wait_for};

const NS: &str = "remediation";
const RULE: &str = "delete-crashlooping-pod";
/// How long a test waits for something alertrun does within seconds.
const WAIT: Duration = Duration::from_secs(15);

/// A kubeconfig in `dir` for an API server at `addr`, namespace [`NS`].
fn kubeconfig(dir: &Path, addr: SocketAddr) -> PathBuf {
    kubeconfig_in(dir, addr, NS, "{}")
}

/// A kubeconfig in `dir` for an API server at `addr`, namespace [`NS`], whose user is
/// `user` (a YAML flow mapping, such as `{tokenFile: /path}`).
fn kubeconfig_as(dir: &Path, addr: SocketAddr, user: &str) -> PathBuf {
    kubeconfig_in(dir, addr, NS, user)
}

/// The example config (`examples/alertrun.yaml`): rule [`RULE`] creates a Job with a 2m
/// timeout.
fn example_config() -> PathBuf {
    repo_root().join("examples/alertrun.yaml")
}

/// A config with the example's Job rule alone and its `timeout` set to `timeout`.
fn config_with_timeout(dir: &Path, timeout: &str) -> PathBuf {
    let path = dir.join("alertrun.yaml");
    std::fs::write(
        &path,
        format!(
            "defaults:\n  namespace: {NS}\nrules:\n  - name: {RULE}\n    match:\n      \
             - alertname=\"KubePodCrashLooping\"\n    timeout: {timeout}\n    action:\n      \
             kubernetes:\n        image: bitnami/kubectl:1.33\n        \
             command: [kubectl, delete, pod, --namespace=$(ALERTRUN_LABEL_namespace), \
             --wait=false, --, $(ALERTRUN_LABEL_pod)]\n"
        ),
    )
    .unwrap();
    path
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example notification: pod `shop/web-7d9f-x2x1q` crash-looping.
fn firing() -> Value {
    let body = std::fs::read(repo_root().join("examples/payloads/pod-crashlooping.json")).unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// [`firing`], resolved: the same alert (fingerprint, startsAt) with an end.
fn resolved() -> Value {
    let mut n = firing();
    n["status"] = json!("resolved");
    n["alerts"][0]["status"] = json!("resolved");
    n["alerts"][0]["endsAt"] = json!("2026-11-21T09:30:04.512Z");
    n
}

/// Posts notification `n` to `/webhook`: alertrun's answer, which must be 200.
fn notify(addr: SocketAddr, n: &Value) -> Value {
    let answer = post_json(addr, "/webhook", n).unwrap();
    assert_eq!(
        answer.status(),
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    json_of(&answer)
}

/// The runs of [`RULE`], newest first.
fn runs(addr: SocketAddr) -> Vec<Value> {
    runs_page(addr, &format!("rule={RULE}&limit=100")).0
}

/// `GET /api/v1/runs/{id}`.
fn run(addr: SocketAddr, id: u64) -> Value {
    let (code, body) = get_json(addr, &format!("/api/v1/runs/{id}"));
    assert_eq!(code, 200, "GET /api/v1/runs/{id}: {body}");
    body
}

/// Waits until run `id` is in `state`, and returns it.
#[track_caller]
fn wait_state(addr: SocketAddr, id: u64, state: &str) -> Value {
    wait_for(&format!("run {id} recorded {state}"), WAIT, || {
        let r = run(addr, id);
        (r["state"] == state).then_some(r)
    })
}

/// The causes of a run's timeline entries, in order.
fn causes(run: &Value) -> Vec<String> {
    run["timeline"]
        .as_array()
        .unwrap_or_else(|| panic!("a run with no timeline: {run}"))
        .iter()
        .map(|t| {
            format!(
                "{}: {}",
                t["state"].as_str().unwrap(),
                t["cause"].as_str().unwrap()
            )
        })
        .collect()
}

/// The retry delays (ms) a run's timeline records ("... retrying in 500ms").
fn retry_delays(run: &Value) -> Vec<u64> {
    causes(run)
        .iter()
        .filter_map(|c| {
            c.split("retrying in ")
                .nth(1)?
                .strip_suffix("ms")?
                .parse()
                .ok()
        })
        .collect()
}

/// A stub whose Jobs stay active until completed, a kubeconfig for it (in the returned
/// directory), and alertrun started with that kubeconfig, the example alert's run queued.
fn start_with_held_jobs() -> (KubeApi, tempfile::TempDir, PathBuf, Alertrun) {
    let stub = KubeApi::start();
    stub.hold_jobs();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path(), NS);
    let alertrun = Alertrun::start(&example_config(), &[("KUBECONFIG", kubeconfig.as_os_str())]);
    assert_eq!(notify(alertrun.addr, &firing())["queued"], 1);
    (stub, dir, kubeconfig, alertrun)
}

/// Waits for the run of the example notification to be recorded `running` with a Job
/// handle, and returns it.
#[track_caller]
fn wait_running_with_handle(addr: SocketAddr) -> Value {
    wait_for("the run recorded running with its Job handle", WAIT, || {
        let runs = runs(addr);
        (runs.len() == 1 && runs[0]["state"] == "running" && runs[0]["started"]["kind"] == "job")
            .then(|| runs[0].clone())
    })
}

#[test]
fn a_webhook_creates_the_job_once_and_records_its_end_and_log() {
    let stub = KubeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path(), NS);
    let server = Alertrun::start(&example_config(), &[("KUBECONFIG", kubeconfig.as_os_str())]);
    for _ in 0..2 {
        notify(server.addr, &firing());
    }

    let run = wait_for("the Job's run recorded succeeded", WAIT, || {
        let runs = runs(server.addr);
        (runs.len() == 1 && runs[0]["state"] == "succeeded").then(|| runs[0].clone())
    });
    assert_eq!(run["executor"], "kubernetes");
    assert_eq!(run["exit"], "exit 0");
    assert_eq!(run["stdout"], POD_LOG);

    let seen = stub.seen();
    let creates = stub.seen_with("POST");
    assert_eq!(
        creates.len(),
        1,
        "one Job for one episode, however often notified: {seen:#?}"
    );
    let job = &creates[0].body;
    let name = job["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("ar-delete-crashlooping-pod-") && name.len() <= 63,
        "{name}"
    );
    assert_eq!(job["metadata"]["namespace"], NS);
    assert_eq!(
        job["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "alertrun"
    );
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["command"],
        json!([
            "kubectl",
            "delete",
            "pod",
            "--namespace=$(ALERTRUN_LABEL_namespace)",
            "--wait=false",
            "--",
            "$(ALERTRUN_LABEL_pod)"
        ])
    );
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap_or_default().to_owned(),
                v["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        env.contains(&("ALERTRUN_LABEL_pod".into(), "web-7d9f-x2x1q".into())),
        "{env:?}"
    );
    assert!(
        env.contains(&("ALERTRUN_LABEL_namespace".into(), "shop".into())),
        "{env:?}"
    );
    // The pods were found by the Job's controller-uid, never by name.
    let listed: Vec<String> = seen
        .iter()
        .filter(|s| s.method == "GET" && s.target.contains("/pods?"))
        .map(|s| percent_decode(&s.target))
        .collect();
    assert!(
        !listed.is_empty()
            && listed
                .iter()
                .all(|t| t.contains(&format!("labelSelector={CONTROLLER_UID}={}", job_uid(1)))),
        "{listed:#?}"
    );
}

#[test]
fn a_job_followed_across_kill_9_is_recorded_with_its_end() {
    let (stub, _dir, kubeconfig, mut first) = start_with_held_jobs();
    let envs = [("KUBECONFIG", kubeconfig.as_os_str())];

    let running = wait_running_with_handle(first.addr);
    let id = running["id"].as_u64().unwrap();
    let name = stub.seen_with("POST")[0].body["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        running["started"],
        json!({"kind": "job", "namespace": NS, "name": name, "uid": job_uid(1)})
    );
    first.kill();

    let before_restart = stub.seen().len();
    let second = Alertrun::start_in(&example_config(), &envs, first.into_state_dir());
    assert_eq!(
        run(second.addr, id)["state"],
        "running",
        "the Job still runs, and so does its run"
    );
    // The new alertrun reads the Job by name, as it follows it.
    let job_path = format!("/apis/batch/v1/namespaces/{NS}/jobs/{name}");
    wait_for("the restarted alertrun to read the Job", WAIT, || {
        stub.seen()[before_restart..]
            .iter()
            .any(|s| s.method == "GET" && s.target == job_path)
            .then_some(())
    });
    stub.complete(&name);

    let ended = wait_state(second.addr, id, "succeeded");
    assert_eq!(ended["exit"], "exit 0");
    assert_eq!(ended["stdout"], POD_LOG, "the pod's log is recorded");
    assert_eq!(ended["started"], running["started"]);
    let causes = causes(&ended);
    assert_eq!(
        causes.iter().filter(|c| c.starts_with("running: ")).count(),
        1,
        "started once: {causes:#?}"
    );
    assert_eq!(runs(second.addr).len(), 1, "no second run");
    let seen = stub.seen();
    assert_eq!(
        stub.seen_with("POST").len(),
        1,
        "no second Job is created: {seen:#?}"
    );
    assert!(
        stub.seen_with("DELETE").is_empty(),
        "a completed Job is left to its TTL: {seen:#?}"
    );
}

#[test]
fn a_resolve_after_restart_still_deletes_the_reattached_job() {
    let (stub, _dir, kubeconfig, mut first) = start_with_held_jobs();
    let envs = [("KUBECONFIG", kubeconfig.as_os_str())];
    let running = wait_running_with_handle(first.addr);
    let id = running["id"].as_u64().unwrap();
    let name = running["started"]["name"].as_str().unwrap().to_owned();
    first.kill();

    let second = Alertrun::start_in(&example_config(), &envs, first.into_state_dir());
    assert_eq!(run(second.addr, id)["state"], "running");
    notify(second.addr, &resolved());

    let ended = wait_state(second.addr, id, "cancelled");
    assert_eq!(ended["ended_by"], "resolved", "{ended}");
    let seen = stub.seen();
    let deletes = stub.seen_with("DELETE");
    assert_eq!(deletes.len(), 1, "{seen:#?}");
    assert_eq!(
        deletes[0].target.split('?').next().unwrap(),
        format!("/apis/batch/v1/namespaces/{NS}/jobs/{name}")
    );
    let background = deletes[0].body["propagationPolicy"] == "Background"
        || deletes[0].target.contains("propagationPolicy=Background");
    assert!(background, "the Job's pods go with it: {:?}", deletes[0]);
    assert_eq!(deletes[0].status, 200);
    assert_eq!(stub.seen_with("POST").len(), 1, "{seen:#?}");
}

#[test]
fn a_job_deleted_before_its_end_was_seen_is_recorded_unknown() {
    let stub = KubeApi::start();
    stub.hold_jobs();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path(), NS);
    let server = Alertrun::start(&example_config(), &[("KUBECONFIG", kubeconfig.as_os_str())]);
    notify(server.addr, &firing());
    let running = wait_running_with_handle(server.addr);
    let id = running["id"].as_u64().unwrap();
    stub.vanish(running["started"]["name"].as_str().unwrap());

    let ended = wait_state(server.addr, id, "unknown");
    assert_eq!(
        ended["reason"], "deleted before its outcome was seen",
        "{ended}"
    );
    assert_eq!(ended["exit"], Value::Null, "{ended}");
    // Nothing was deleted by alertrun, and the episode is not run again.
    assert!(stub.seen_with("DELETE").is_empty());
    notify(server.addr, &firing());
    thread::sleep(Duration::from_millis(300));
    assert_eq!(stub.seen_with("POST").len(), 1);
}

#[test]
fn a_job_gone_while_alertrun_was_down_is_recorded_unknown_after_the_restart() {
    let stub = KubeApi::start();
    stub.hold_jobs();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path(), NS);
    let envs = [("KUBECONFIG", kubeconfig.as_os_str())];
    let mut first = Alertrun::start(&example_config(), &envs);
    notify(first.addr, &firing());
    let running = wait_running_with_handle(first.addr);
    let id = running["id"].as_u64().unwrap();
    first.kill();
    stub.vanish(running["started"]["name"].as_str().unwrap());

    let second = Alertrun::start_in(&example_config(), &envs, first.into_state_dir());
    let ended = wait_state(second.addr, id, "unknown");
    assert_eq!(
        ended["reason"], "deleted before its outcome was seen",
        "{ended}"
    );
    assert_eq!(stub.seen_with("POST").len(), 1, "never created again");
}

#[test]
fn job_creation_while_the_api_server_is_down_is_retried_then_runs() {
    // The API server's port, with nothing listening on it yet: connections are refused.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(dir.path(), SocketAddr::from(([127, 0, 0, 1], port)));
    let server = Alertrun::start(&example_config(), &[("KUBECONFIG", kubeconfig.as_os_str())]);
    assert_eq!(notify(server.addr, &firing())["queued"], 1);
    let retrying = wait_for("two failed creates recorded", WAIT, || {
        let runs = runs(server.addr);
        let run = runs.first()?;
        (retry_delays(run).len() >= 2).then(|| run.clone())
    });
    assert_eq!(retrying["state"], "starting", "{retrying}");
    let id = retrying["id"].as_u64().unwrap();

    let stub = KubeApi::start_on(port);
    let ended = wait_state(server.addr, id, "succeeded");
    assert_eq!(ended["exit"], "exit 0");
    assert_eq!(ended["stdout"], POD_LOG);
    let causes = causes(&ended);
    let delays = retry_delays(&ended);
    assert!(
        delays.len() >= 2
            && delays
                .iter()
                .zip([500, 1000, 2000, 4000])
                .all(|(d, w)| *d == w),
        "retried with backoff from 0.5s, doubling: {causes:#?}"
    );
    let failed = causes
        .iter()
        .filter(|c| c.starts_with("starting: attempt "))
        .count();
    assert_eq!(failed, delays.len(), "{causes:#?}");
    assert!(
        causes
            .iter()
            .any(|c| c.starts_with("running: started Job ")),
        "{causes:#?}"
    );
    assert_eq!(
        stub.seen_with("POST").len(),
        1,
        "the first create that reaches the API server makes the Job"
    );
    assert_eq!(runs(server.addr).len(), 1);
}

#[test]
fn job_creation_that_never_succeeds_is_failed_to_start_and_the_next_delivery_runs_it() {
    // The API server is down (nothing listens on its port) for longer than the timeout.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(dir.path(), SocketAddr::from(([127, 0, 0, 1], port)));
    let config = config_with_timeout(dir.path(), "3s");
    let server = Alertrun::start(&config, &[("KUBECONFIG", kubeconfig.as_os_str())]);
    assert_eq!(notify(server.addr, &firing())["queued"], 1);
    let id = runs(server.addr)[0]["id"].as_u64().unwrap();

    let failed = wait_state(server.addr, id, "failed_to_start");
    let reason = failed["reason"].as_str().unwrap();
    assert!(reason.contains("Connection refused"), "{failed}");
    let causes = causes(&failed);
    let delays = retry_delays(&failed);
    assert!(
        !delays.is_empty() && delays.iter().zip([500, 1000, 2000]).all(|(d, w)| *d == w),
        "retried with backoff within the 3s timeout: {causes:#?}"
    );
    assert_eq!(
        causes.last().unwrap(),
        &format!(
            "failed_to_start: gave up after {} attempt(s): {reason}",
            delays.len() + 1
        ),
        "{causes:#?}"
    );
    assert!(failed["started"].is_null(), "nothing was started: {failed}");

    // The API server is back; Alertmanager delivers the alert again.
    let stub = KubeApi::start_on(port);
    assert_eq!(
        notify(server.addr, &firing())["queued"],
        1,
        "the episode stayed open"
    );
    let again = wait_for("a second run", WAIT, || {
        let runs = runs(server.addr);
        (runs.len() == 2).then(|| runs[0].clone())
    });
    let again_id = again["id"].as_u64().unwrap();
    assert_ne!(again_id, id);
    let ended = wait_state(server.addr, again_id, "succeeded");
    assert_eq!(ended["stdout"], POD_LOG);
    assert_eq!(run(server.addr, id)["state"], "failed_to_start");
    assert_eq!(
        stub.seen_with("POST").len(),
        1,
        "one Job, for the second run"
    );
}

/// kube's default config (`default_retry: true`) resends a `503`, `429` or `504` up to 15
/// times, with backoff doubling from 5 ms, inside one attempt of alertrun's: an API server
/// answering `503` held the first attempt for minutes, no retry was recorded, the rule's
/// timeout was not kept and SIGTERM waited. alertrun's client has kube's retries off.
#[test]
fn job_creation_answered_503_is_retried_by_alertrun_within_the_rule_timeout() {
    let stub = KubeApi::start();
    stub.fail_creates(usize::MAX);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path(), NS);
    let config = config_with_timeout(dir.path(), "3s");
    let server = Alertrun::start(&config, &[("KUBECONFIG", kubeconfig.as_os_str())]);
    assert_eq!(notify(server.addr, &firing())["queued"], 1);
    let id = runs(server.addr)[0]["id"].as_u64().unwrap();

    let failed = wait_for(
        "the run failed_to_start within its 3s timeout",
        Duration::from_secs(8),
        || {
            let r = run(server.addr, id);
            (r["state"] == "failed_to_start").then_some(r)
        },
    );
    let causes = causes(&failed);
    let attempts = stub.seen_with("POST");
    assert!(attempts.iter().all(|s| s.status == 503), "{attempts:#?}");
    assert_eq!(
        attempts.len(),
        retry_delays(&failed).len() + 1,
        "one create per recorded attempt: {causes:#?}"
    );
}

/// Recovery read the Job once; a transport error there (the API server unreachable at the
/// restart) ended the run `failed`, although the Job might still run, was no longer
/// followed, and a resolve no longer deleted it. Now recovery keeps trying until it can.
#[test]
fn a_job_reattached_while_the_api_server_is_unreachable_is_followed_once_it_is_back() {
    let (stub, _dir, kubeconfig, mut first) = start_with_held_jobs();
    let envs = [("KUBECONFIG", kubeconfig.as_os_str())];
    let running = wait_running_with_handle(first.addr);
    let id = running["id"].as_u64().unwrap();
    let name = running["started"]["name"].as_str().unwrap().to_owned();
    first.kill();

    stub.set_down(true);
    let before_restart = stub.seen().len();
    let second = Alertrun::start_in(&example_config(), &envs, first.into_state_dir());
    wait_for(
        "the restarted alertrun to try to read the Job",
        WAIT,
        || {
            stub.seen()[before_restart..]
                .iter()
                .any(|s| s.method == "GET" && s.target.ends_with(&format!("/jobs/{name}")))
                .then_some(())
        },
    );
    thread::sleep(Duration::from_millis(500));
    let during = run(second.addr, id);
    assert_eq!(
        during["state"], "running",
        "the Job may still run, so its run does too: {during}"
    );

    stub.set_down(false);
    stub.complete(&name);
    let ended = wait_state(second.addr, id, "succeeded");
    assert_eq!(ended["stdout"], POD_LOG);
}

/// The Job create was bounded neither by the rule's timeout nor by a stop (and kube 5's
/// default config has no read timeout), so an API server that took the request and never
/// answered held the run `starting`, and `alertrun` past SIGTERM, for good.
#[test]
fn an_unanswered_job_create_ends_within_the_rule_timeout() {
    let stub = KubeApi::start();
    stub.hang_creates();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path(), NS);
    let config = config_with_timeout(dir.path(), "3s");
    let mut server = Alertrun::start(&config, &[("KUBECONFIG", kubeconfig.as_os_str())]);
    assert_eq!(notify(server.addr, &firing())["queued"], 1);
    let id = runs(server.addr)[0]["id"].as_u64().unwrap();

    let ended = wait_for(
        "the run to end within its 3s timeout",
        Duration::from_secs(8),
        || {
            let r = run(server.addr, id);
            (!["queued", "starting", "running"].contains(&r["state"].as_str().unwrap()))
                .then_some(r)
        },
    );
    assert!(!stub.seen_with("POST").is_empty(), "{ended}");
    server.terminate(Duration::from_secs(5));
}

#[test]
fn a_token_file_ending_in_a_newline_is_sent_trimmed_as_kubectl_sends_it() {
    let stub = KubeApi::start();
    let dir = tempfile::tempdir().unwrap();
    // What `echo "$TOKEN" > token` writes.
    let token = dir.path().join("token");
    std::fs::write(&token, "token\n").unwrap();
    let kubeconfig = kubeconfig_as(
        dir.path(),
        stub.addr,
        &format!("{{tokenFile: \"{}\"}}", token.display()),
    );
    let server = Alertrun::start(&example_config(), &[("KUBECONFIG", kubeconfig.as_os_str())]);
    notify(server.addr, &firing());

    let run = wait_for("the Job's run recorded succeeded", WAIT, || {
        let runs = runs(server.addr);
        (runs.len() == 1 && runs[0]["state"] == "succeeded").then(|| runs[0].clone())
    });
    assert_eq!(run["exit"], "exit 0");
    let seen = stub.seen();
    assert_eq!(
        stub.seen_with("POST").len(),
        1,
        "the Job was created: {seen:#?}"
    );
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer token")),
        "every request carries the trimmed token: {seen:#?}"
    );
}
