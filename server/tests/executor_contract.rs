//! The executor contract (STYLE §7 (c)): one table of scenarios, each run through every
//! [`Executor`] backend, asserting the same env and the same outcome semantics.
//!
//! - `ProcessExecutor` runs a real `/bin/sh` with a constant script from the config: it
//!   prints the environment it received (`/proc/$$/environ`, exactly what `execve` got, in
//!   order; `/usr/bin/env` run from `sh` would add the `PWD` that dash exports), then
//!   optionally sleeps, then exits with the code in `CONTRACT_EXIT`.
//! - `JobExecutor` runs against kube's mocked API server (tower-test), as in
//!   `executor-k8s/tests/mock_api.rs`: the scenario task captures the `POST`ed Job's
//!   container env and answers the Job `GET`s with `Complete`/`Failed` conditions and a pod
//!   whose container terminated with the scenario's exit code.
//!
//! The request is rendered once per scenario with `alert_match::render` from the firing
//! fixture, plus a hostile label (`$(HOME)`, a newline, a backtick), and handed to both
//! backends unchanged.
//!
//! Divergences between the backends are asserted, not hidden; see [`Divergence`] and the
//! `process_exit`/`job_exit` columns of [`scenarios`].
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::future::pending;
use std::time::Duration;

use alert_core::env::EnvVar;
use alert_core::expand::expand;
use alert_core::{
    BoxFuture, EndedBy, ExecRequest, Executor, Exit, Notification, Outcome, Report, StopReason,
};
use alert_match::{Target, render};
use alertrun::{Action, Config};
use executor_k8s::testing::{Call, Handle, mock_client};
use executor_k8s::{JobAction, JobExecutor, JobOptions, job_name};
use executor_process::{DEFAULT_PATH, ProcessAction, ProcessExecutor, ProcessOptions};
use http::{Method, StatusCode};
use k8s_openapi::api::batch::v1::Job;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::time::{sleep, timeout};

/// Every scenario, per backend, must end within this.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(10);
const UID: &str = "7c0e2a4b-1d3f-4e5a-8b6c-9d0e1f2a3b4c";
/// The hostile label value: a Kubernetes variable reference, a newline, shell syntax.
const HOSTILE: &str = "$(HOME)\nrm -rf / `id` $$ $(";

/// One process rule and one kubernetes rule, running the same constant script.
/// `$$$$` is `$$` after `$(VAR)` expansion (both backends apply Kubernetes' rules to argv):
/// the shell's own pid.
const CONFIG: &str = r#"
defaults:
  namespace: contract
rules:
  - name: contract-process
    match: ['alertname="DiskFull"']
    env:
      CONTRACT_STATIC: "static $$(HOME) value"
    action:
      process:
        command: [/bin/sh, -c, 'cat /proc/$$$$/environ; if [ -n "$CONTRACT_SLEEP" ]; then sleep "$CONTRACT_SLEEP"; fi; exit "$CONTRACT_EXIT"']
  - name: contract-job
    match: ['alertname="DiskFull"']
    action:
      kubernetes:
        image: busybox:1.36
        command: [/bin/sh, -c, 'cat /proc/$$$$/environ; if [ -n "$CONTRACT_SLEEP" ]; then sleep "$CONTRACT_SLEEP"; fi; exit "$CONTRACT_EXIT"']
"#;

/// How a scenario's action ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// It exits on its own with this code.
    Exit(i32),
    /// It runs past its deadline.
    Deadline,
    /// The caller stops it for this reason while it runs.
    Stop(StopReason),
}

/// One row: a request (from the rendered alert, with this deadline and these knobs) and
/// the outcome both backends must report.
#[derive(Debug)]
struct Scenario {
    name: &'static str,
    ending: Ending,
    deadline: Duration,
    success: bool,
    ended_by: Option<EndedBy>,
    /// What the process backend reports as the exit.
    process_exit: Option<Exit>,
    /// What the Job backend reports as the exit (from the mocked pod).
    job_exit: Option<Exit>,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "exit 0 is a success",
            ending: Ending::Exit(0),
            deadline: Duration::from_secs(8),
            success: true,
            ended_by: None,
            process_exit: Some(Exit::Code(0)),
            job_exit: Some(Exit::Code(0)),
        },
        Scenario {
            name: "exit 3 is a failure with its code",
            ending: Ending::Exit(3),
            deadline: Duration::from_secs(8),
            success: false,
            ended_by: None,
            process_exit: Some(Exit::Code(3)),
            job_exit: Some(Exit::Code(3)),
        },
        Scenario {
            name: "past the deadline it is ended by timeout",
            ending: Ending::Deadline,
            deadline: Duration::from_millis(300),
            success: false,
            ended_by: Some(EndedBy::Timeout),
            // Divergence: the process backend sees the SIGTERM as a signal; a Job's pod
            // only has the container runtime's exit code for it, 128 + 15 (the mocked pod
            // says what the kubelet reports).
            process_exit: Some(Exit::Signal(15)),
            job_exit: Some(Exit::Code(143)),
        },
        Scenario {
            name: "a stop while running ends it with the reason",
            ending: Ending::Stop(StopReason::Resolved),
            deadline: Duration::from_secs(8),
            success: false,
            ended_by: Some(EndedBy::Stop(StopReason::Resolved)),
            // Divergence: the process backend waits for its group to die and reports the
            // signal; the Job backend deletes the Job in the background and reads the pod
            // right away, which is still running, so no exit is known.
            process_exit: Some(Exit::Signal(15)),
            job_exit: None,
        },
    ]
}

/// A divergence between the backends that the suite pins down rather than hides.
#[derive(Debug, PartialEq, Eq)]
enum Divergence {
    /// The process gets its env sorted by name (std's `Command` keeps env in a
    /// `BTreeMap`); the Job's container env keeps the request's order.
    ProcessEnvSortedJobEnvInRequestOrder,
}

struct Fixture {
    request: ExecRequest,
    process: ProcessAction,
    job: JobAction,
    namespace: String,
}

/// Renders the request of the process rule for the firing fixture with a hostile label.
fn fixture() -> Fixture {
    let config = Config::from_yaml(CONFIG).unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../alert-core/tests/fixtures/firing.json"
    );
    let mut body: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    body["alerts"][0]["labels"]["hostile"] = json!(HOSTILE);
    let n = Notification::from_json(&serde_json::to_vec(&body).unwrap()).unwrap();
    let rules = config.rules().rules();
    let alert = &n.alerts[0];
    let rendered = render(&rules[0], &n, Target::Alert(alert));
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    assert!(
        rendered.request.env.iter().any(|v| v.value == HOSTILE),
        "the hostile label is in the env: {:?}",
        rendered.request.env
    );
    let Action::Process(process) = config.action(0) else {
        panic!("rule 0 is the process rule");
    };
    let Action::Kubernetes {
        job,
        default_namespace,
    } = config.action(1)
    else {
        panic!("rule 1 is the kubernetes rule");
    };
    Fixture {
        request: rendered.request,
        process: process.clone(),
        job: (**job).clone(),
        namespace: default_namespace.clone(),
    }
}

/// The fixture's request with the scenario's deadline and script knobs (in the env, so
/// they are part of the comparison too).
fn request_for(base: &ExecRequest, s: &Scenario) -> ExecRequest {
    let mut req = base.clone();
    req.deadline = s.deadline;
    let (exit, sleep) = match s.ending {
        Ending::Exit(code) => (code, ""),
        Ending::Deadline | Ending::Stop(_) => (0, "30"),
    };
    req.env.push(EnvVar::new("CONTRACT_EXIT", exit.to_string()));
    req.env.push(EnvVar::new("CONTRACT_SLEEP", sleep));
    req
}

type Pairs = Vec<(String, String)>;

fn pairs(env: &[EnvVar]) -> Pairs {
    env.iter()
        .map(|v| (v.name.clone(), v.value.clone()))
        .collect()
}

fn sorted(mut p: Pairs) -> Pairs {
    p.sort();
    p
}

fn finished(name: &str, backend: &str, outcome: Result<Outcome, alert_core::ExecError>) -> Report {
    match outcome {
        Ok(Outcome::Finished(report)) => report,
        other => panic!("{name}: {backend}: expected Finished, got {other:?}"),
    }
}

/// A stop future for `ending`: resolves when `rx` fires (never, for the other endings).
fn stop_future(rx: Option<oneshot::Receiver<StopReason>>) -> BoxFuture<'static, StopReason> {
    match rx {
        Some(rx) => Box::pin(async move {
            match rx.await {
                Ok(reason) => reason,
                Err(_) => pending().await,
            }
        }),
        None => Box::pin(pending()),
    }
}

// ---- the process backend ----------------------------------------------------------------

/// Runs `req` as a real process; returns the report and, when the script got as far as
/// printing it, the env it received (minus `PATH`), in the order it received it.
async fn run_process(action: &ProcessAction, req: &ExecRequest, s: &Scenario) -> (Report, Pairs) {
    let options = ProcessOptions::default()
        .with_grace(Duration::from_secs(2))
        .with_inherited(vec![("PATH".into(), DEFAULT_PATH.into())]);
    let executor = ProcessExecutor::new(action.clone(), options);
    let (tx, rx) = oneshot::channel();
    let stop = match s.ending {
        Ending::Stop(_) => stop_future(Some(rx)),
        _ => stop_future(None),
    };
    let stopper = async {
        if let Ending::Stop(reason) = s.ending {
            // Sometime while the script sleeps; the outcome does not depend on when.
            sleep(Duration::from_millis(200)).await;
            let _ = tx.send(reason);
        }
    };
    let (outcome, ()) = tokio::join!(executor.execute(req, stop), stopper);
    let report = finished(s.name, "process", outcome);
    let env = report
        .stdout
        .bytes
        .split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let entry = String::from_utf8(entry.to_vec()).unwrap();
            let (name, value) = entry.split_once('=').unwrap();
            (name.to_string(), value.to_string())
        })
        .filter(|(name, _)| name != "PATH")
        .collect();
    (report, env)
}

// ---- the Job backend, against the mocked API ----------------------------------------------

/// The paths of one Job in one namespace.
#[derive(Clone)]
struct Paths {
    namespace: String,
    name: String,
}

impl Paths {
    fn jobs(&self) -> String {
        format!("/apis/batch/v1/namespaces/{}/jobs", self.namespace)
    }

    fn job(&self) -> String {
        format!("{}/{}", self.jobs(), self.name)
    }

    fn pods(&self) -> String {
        format!("/api/v1/namespaces/{}/pods", self.namespace)
    }

    fn job_with(&self, status: &Value) -> Job {
        serde_json::from_value(json!({
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": UID},
            "status": status,
        }))
        .unwrap()
    }
}

/// Answers the create with the posted Job plus a uid; returns the container's env as the
/// kubelet would give it to the process: each value expanded by Kubernetes' rules (which
/// undoes the `$` → `$$` escaping), with a lookup that marks any reference it resolves.
async fn expect_create(h: &mut Handle, paths: &Paths) -> Pairs {
    let call = Call::expect(h, Method::POST, &paths.jobs()).await;
    assert_eq!(call.body["metadata"]["name"], paths.name.as_str());
    let env = call.body["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .expect("the container has an env")
        .iter()
        .map(|v| {
            let name = v["name"].as_str().unwrap().to_string();
            let raw = v["value"].as_str().expect("a plain value, not a ref");
            let value = expand(raw, |var| Some(format!("<kubelet expanded {var}>")));
            (name, value)
        })
        .collect();
    let mut job: Job = serde_json::from_value(call.body.clone()).unwrap();
    job.metadata.uid = Some(UID.to_string());
    call.reply(StatusCode::CREATED, &job);
    env
}

/// Answers `GET`s of the Job as running until its `DELETE`.
async fn running_until_delete(h: &mut Handle, paths: &Paths) {
    loop {
        let call = Call::next(h).await;
        if call.method == Method::GET && call.path == paths.job() {
            call.reply(StatusCode::OK, &paths.job_with(&json!({"active": 1})));
        } else if call.method == Method::DELETE && call.path == paths.job() {
            assert_eq!(call.body["propagationPolicy"], "Background");
            call.reply(StatusCode::OK, &paths.job_with(&json!({"active": 1})));
            return;
        } else {
            panic!("unexpected {} {}", call.method, call.path);
        }
    }
}

/// Answers the pod list with one pod (terminated with `exit_code`, or running), then its
/// log.
async fn expect_pod_and_log(h: &mut Handle, paths: &Paths, exit_code: Option<i32>) {
    let state = match exit_code {
        Some(code) => json!({"terminated": {"exitCode": code}}),
        None => json!({"running": {}}),
    };
    let pod = json!({
        "metadata": {"name": "contract-pod", "namespace": paths.namespace,
                     "creationTimestamp": "2026-11-21T10:26:30Z",
                     "labels": {"batch.kubernetes.io/controller-uid": UID}},
        "status": {"containerStatuses": [{"name": "action", "image": "busybox:1.36",
                   "imageID": "", "ready": false, "restartCount": 0, "state": state}]},
    });
    Call::expect(h, Method::GET, &paths.pods()).await.reply(
        StatusCode::OK,
        &json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [pod]}),
    );
    let log = format!("{}/contract-pod/log", paths.pods());
    Call::expect(h, Method::GET, &log)
        .await
        .reply_bytes(StatusCode::OK, Vec::new());
}

/// The API server's side of one scenario; returns the env of the posted Job.
async fn job_scenario(
    mut h: Handle,
    paths: Paths,
    ending: Ending,
    stop: oneshot::Sender<StopReason>,
) -> Pairs {
    let env = expect_create(&mut h, &paths).await;
    match ending {
        Ending::Exit(code) => {
            let condition = if code == 0 { "Complete" } else { "Failed" };
            Call::expect(&mut h, Method::GET, &paths.job()).await.reply(
                StatusCode::OK,
                &paths.job_with(&json!({"conditions": [{"type": condition, "status": "True"}]})),
            );
            expect_pod_and_log(&mut h, &paths, Some(code)).await;
        }
        Ending::Deadline => {
            running_until_delete(&mut h, &paths).await;
            expect_pod_and_log(&mut h, &paths, Some(128 + 15)).await;
        }
        Ending::Stop(reason) => {
            Call::expect(&mut h, Method::GET, &paths.job())
                .await
                .reply(StatusCode::OK, &paths.job_with(&json!({"active": 1})));
            stop.send(reason).unwrap();
            running_until_delete(&mut h, &paths).await;
            expect_pod_and_log(&mut h, &paths, None).await;
        }
    }
    env
}

/// Runs `req` as a Job against the mocked API; returns the report and the env of the
/// posted Job, unescaped.
async fn run_job(f: &Fixture, req: &ExecRequest, s: &Scenario) -> (Report, Pairs) {
    let (client, handle) = mock_client();
    let paths = Paths {
        namespace: f.namespace.clone(),
        name: job_name(&req.rule, &req.dedup_key),
    };
    let (tx, rx) = oneshot::channel();
    let api = tokio::spawn(job_scenario(handle, paths, s.ending, tx));
    // The Job's deadline (the request's, rounded up to 1 s) passes without the mocked Job
    // controller ending it: alertrun deletes it after this grace.
    let options = JobOptions::default()
        .with_poll_interval(Duration::from_millis(10))
        .with_deadline_grace(Duration::from_millis(50));
    let executor = JobExecutor::new(client, f.job.clone(), f.namespace.clone(), options);
    let stop = match s.ending {
        Ending::Stop(_) => stop_future(Some(rx)),
        _ => stop_future(None),
    };
    let outcome = executor.execute(req, stop).await;
    let env = api.await.expect("the mocked API's assertions held");
    (finished(s.name, "kubernetes", outcome), env)
}

// ---- the contract ----------------------------------------------------------------------

#[tokio::test]
async fn both_backends_give_the_same_env_and_the_same_outcomes() {
    let f = fixture();
    for s in scenarios() {
        let req = request_for(&f.request, &s);
        let (process, process_env) = timeout(SCENARIO_TIMEOUT, run_process(&f.process, &req, &s))
            .await
            .unwrap_or_else(|_| panic!("{}: process: ended in time", s.name));
        let (job, job_env) = timeout(SCENARIO_TIMEOUT, run_job(&f, &req, &s))
            .await
            .unwrap_or_else(|_| panic!("{}: kubernetes: ended in time", s.name));

        for (backend, report, exit) in [
            ("process", &process, s.process_exit),
            ("kubernetes", &job, s.job_exit),
        ] {
            let name = s.name;
            assert_eq!(report.success(), s.success, "{name}: {backend}: {report:?}");
            assert_eq!(report.ended_by, s.ended_by, "{name}: {backend}");
            assert_eq!(report.exit, exit, "{name}: {backend}");
        }

        // The Job always carries the env; the process printed it unless it was ended
        // before the script ran (possible only for the deadline and stop rows).
        let want = pairs(&req.env);
        assert_eq!(
            job_env, want,
            "{}: the Job's env is the request's, in order",
            s.name
        );
        if matches!(s.ending, Ending::Exit(_)) || !process_env.is_empty() {
            assert_eq!(
                sorted(process_env.clone()),
                sorted(job_env.clone()),
                "{}: both backends pass the same names and values",
                s.name
            );
            assert_eq!(
                process_env,
                sorted(want),
                "{}: {:?}",
                s.name,
                Divergence::ProcessEnvSortedJobEnvInRequestOrder
            );
        }
    }
}

/// Pins the env-order divergence down on its own: the rendered request is not in name
/// order, so the two backends really do hand the variables over in different orders.
/// If either backend changes, this test says which way.
#[tokio::test]
async fn env_order_diverges_process_sorts_by_name_job_keeps_request_order() {
    let f = fixture();
    let s = &scenarios()[0];
    let req = request_for(&f.request, s);
    let (_, process_env) = timeout(SCENARIO_TIMEOUT, run_process(&f.process, &req, s))
        .await
        .unwrap();
    let (_, job_env) = timeout(SCENARIO_TIMEOUT, run_job(&f, &req, s))
        .await
        .unwrap();
    let want = pairs(&req.env);
    assert_ne!(
        want,
        sorted(want.clone()),
        "the request is not in name order"
    );
    let found = if process_env == sorted(want.clone()) && job_env == want {
        Some(Divergence::ProcessEnvSortedJobEnvInRequestOrder)
    } else {
        None
    };
    assert_eq!(
        found,
        Some(Divergence::ProcessEnvSortedJobEnvInRequestOrder),
        "process: {process_env:?}\njob: {job_env:?}"
    );
}

/// The hostile label reaches both backends as its literal text: no `$(HOME)` expansion,
/// the newline kept.
#[tokio::test]
async fn a_hostile_label_value_arrives_literally_on_both_backends() {
    let f = fixture();
    let s = &scenarios()[0];
    let req = request_for(&f.request, s);
    let (_, process_env) = timeout(SCENARIO_TIMEOUT, run_process(&f.process, &req, s))
        .await
        .unwrap();
    let (_, job_env) = timeout(SCENARIO_TIMEOUT, run_job(&f, &req, s))
        .await
        .unwrap();
    for (backend, env) in [("process", &process_env), ("kubernetes", &job_env)] {
        let hostile = env
            .iter()
            .find(|(name, _)| name.ends_with("_hostile"))
            .unwrap_or_else(|| panic!("{backend}: {env:?}"));
        assert_eq!(hostile.1, HOSTILE, "{backend}");
        let static_var = env.iter().find(|(name, _)| name == "CONTRACT_STATIC");
        assert_eq!(
            static_var.map(|(_, v)| v.as_str()),
            Some("static $$(HOME) value"),
            "{backend}: a rule's static env is not expanded either"
        );
    }
}
