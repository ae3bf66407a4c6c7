//! `JobExecutor` against kube's mocked API server (tower-test): each test runs one
//! scenario that asserts every request's method, path, query and body in order and
//! answers with typed objects. Every call is awaited under a 1 s timeout and every test
//! under 5 s, so a missing or extra call fails fast instead of hanging.
#![allow(
    clippy::unwrap_used,
    reason = "the scenario helpers are test code: a failed unwrap is a failed test"
)]

use std::error::Error as _;
use std::future::pending;
use std::sync::Mutex;
use std::time::Duration;

use alert_core::env::EnvVar;
use alert_core::{
    BoxFuture, EndedBy, ExecError, ExecRequest, Executor, Exit, Outcome, Recovered, Started,
    StopReason, Subject,
};
use executor_k8s::testing::{Call, Handle, mock_client};
use executor_k8s::{DELETED_BEFORE_OUTCOME, JobAction, JobExecutor, JobOptions, job_name};
use http::{Method, StatusCode};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::time::timeout;

const NS: &str = "ops";
const RULE: &str = "restart-web";
const DEDUP_KEY: &str = "d284efc389a5bf32@2026-11-21T07:38:36.123000000Z";
const UID: &str = "0f6f3c1e-5b8a-4c1e-9d7e-2a1b3c4d5e6f";
const TEST_TIMEOUT: Duration = Duration::from_secs(5);

fn jobs_path() -> String {
    format!("/apis/batch/v1/namespaces/{NS}/jobs")
}

fn job_path() -> String {
    format!("{}/{}", jobs_path(), job_name(RULE, DEDUP_KEY))
}

/// The action of most tests: `extra` fields are added to it.
fn action(extra: &Value) -> JobAction {
    let mut action = json!({
        "namespace": NS,
        "image": "busybox:1.36",
        "command": ["sh", "-c", "echo restarting $(ALERTRUN_LABEL_pod)"],
    });
    for (key, value) in extra.as_object().into_iter().flatten() {
        action[key] = value.clone();
    }
    serde_json::from_value(action).unwrap()
}

/// How long past a Job's `activeDeadlineSeconds` the test executors wait for the Job
/// controller before deleting the Job themselves.
const GRACE: Duration = Duration::from_millis(50);

fn executor_for(client: kube::Client, action: JobAction) -> JobExecutor {
    let options = JobOptions::default()
        .with_poll_interval(Duration::from_millis(10))
        .with_log_tail_bytes(8)
        .with_deadline_grace(GRACE);
    JobExecutor::new(client, action, "default".to_string(), options)
}

fn executor(client: kube::Client) -> JobExecutor {
    executor_for(client, action(&json!({})))
}

fn request(deadline: Duration) -> ExecRequest {
    ExecRequest {
        rule: RULE.into(),
        dedup_key: DEDUP_KEY.into(),
        subject: Subject {
            alertname: "WebDown".into(),
            ..Subject::default()
        },
        env: vec![EnvVar::new("ALERTRUN_LABEL_pod", "web-0")],
        input: Vec::new(),
        deadline,
    }
}

/// Answers the create, asserting the Job the executor posted, with that Job plus a uid.
async fn expect_create(handle: &mut Handle) {
    let call = Call::expect(handle, Method::POST, &jobs_path()).await;
    let name = job_name(RULE, DEDUP_KEY);
    let body = &call.body;
    assert_eq!(body["metadata"]["name"], name.as_str());
    assert_eq!(body["metadata"]["namespace"], NS);
    assert_eq!(
        body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "alertrun"
    );
    assert_eq!(body["spec"]["backoffLimit"], 0);
    let container = &body["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "action");
    assert_eq!(container["image"], "busybox:1.36");
    assert_eq!(
        container["env"],
        json!([{"name": "ALERTRUN_LABEL_pod", "value": "web-0"}])
    );
    let mut job: Job = serde_json::from_value(call.body.clone()).unwrap();
    job.metadata.uid = Some(UID.to_string());
    call.reply(StatusCode::CREATED, &job);
}

fn job_with(status: &Value) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": job_name(RULE, DEDUP_KEY), "namespace": NS, "uid": UID},
        "status": status,
    }))
    .unwrap()
}

/// Answers one `GET` of the Job with `status`.
async fn expect_get(handle: &mut Handle, status: Value) {
    Call::expect(handle, Method::GET, &job_path())
        .await
        .reply(StatusCode::OK, &job_with(&status));
}

/// Answers `GET`s of the Job as running until the `DELETE`, which it asserts is
/// Background.
async fn running_until_delete(handle: &mut Handle) {
    loop {
        let call = Call::next(handle).await;
        match (&call.method, call.path.as_str()) {
            (&Method::GET, path) if path == job_path() => {
                call.reply(StatusCode::OK, &job_with(&json!({"active": 1})));
            }
            (&Method::DELETE, path) if path == job_path() => {
                assert_eq!(call.body["propagationPolicy"], "Background");
                call.reply(StatusCode::OK, &job_with(&json!({"active": 1})));
                return;
            }
            (method, path) => panic!("unexpected {method} {path}"),
        }
    }
}

fn pod(name: &str, created: &str, exit_code: Option<i32>) -> Pod {
    let state = match exit_code {
        Some(code) => json!({"terminated": {"exitCode": code}}),
        None => json!({"running": {}}),
    };
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS, "creationTimestamp": created,
                     "labels": {"batch.kubernetes.io/controller-uid": UID}},
        "status": {"containerStatuses": [{"name": "action", "image": "busybox:1.36",
                   "imageID": "", "ready": false, "restartCount": 0, "state": state}]},
    }))
    .unwrap()
}

/// The label selector of the 1.27 pod list, `batch.kubernetes.io/controller-uid=<uid>`.
fn selector() -> String {
    format!("batch.kubernetes.io/controller-uid={UID}")
}

/// The label selector of the legacy pod list (before 1.27), `controller-uid=<uid>`.
fn legacy_selector() -> String {
    format!("controller-uid={UID}")
}

/// Answers one pod list, asserting its label `selector`, with `pods`.
async fn expect_pod_list(handle: &mut Handle, selector: &str, pods: &[Pod]) {
    let call = Call::expect(
        handle,
        Method::GET,
        &format!("/api/v1/namespaces/{NS}/pods"),
    )
    .await;
    assert_eq!(call.query("labelSelector"), Some(selector));
    call.reply(StatusCode::OK, &pod_list(pods));
}

/// Answers the log of pod `newest` with `log`, asserting its parameters.
async fn expect_log(handle: &mut Handle, newest: &str, log: &str) {
    let path = format!("/api/v1/namespaces/{NS}/pods/{newest}/log");
    let call = Call::expect(handle, Method::GET, &path).await;
    assert_eq!(call.query("container"), Some("action"));
    assert_eq!(call.query("tailLines"), Some("1000"));
    assert!(call.query("limitBytes").is_some());
    call.reply_bytes(StatusCode::OK, log.as_bytes().to_vec());
}

/// Answers the pod list (asserting the 1.27 controller-uid selector) with `pods`, then
/// the log of the newest, `newest`, with `log`.
async fn expect_pods_and_log(handle: &mut Handle, pods: Vec<Pod>, newest: &str, log: &str) {
    expect_pod_list(handle, &selector(), &pods).await;
    expect_log(handle, newest, log).await;
}

fn pod_list(items: &[Pod]) -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items})
}

/// Both pod lists, by the 1.27 label and then the legacy one, answered with no pods.
async fn expect_no_pods(h: &mut Handle) {
    expect_pod_list(h, &selector(), &[]).await;
    expect_pod_list(h, &legacy_selector(), &[]).await;
}

/// Answers the list of the Job's `FailedCreate` events, asserting its field selector,
/// with `events`.
async fn expect_events(h: &mut Handle, events: &[Value]) {
    let call = Call::expect(h, Method::GET, &format!("/api/v1/namespaces/{NS}/events")).await;
    assert_eq!(
        call.query("fieldSelector"),
        Some(format!("involvedObject.uid={UID},reason=FailedCreate").as_str())
    );
    call.reply(
        StatusCode::OK,
        &json!({"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": events}),
    );
}

/// A Job that did not complete and left no pod: both pod lists and the event list,
/// answered empty.
async fn expect_no_pods_or_events(h: &mut Handle) {
    expect_no_pods(h).await;
    expect_events(h, &[]).await;
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code,
           "details": {"name": job_name(RULE, DEDUP_KEY), "group": "batch", "kind": "jobs"}})
}

/// Runs the executor against `scenario`, both under [`TEST_TIMEOUT`].
async fn run<S, F>(
    deadline: Duration,
    stop: BoxFuture<'static, StopReason>,
    scenario: S,
) -> Result<Outcome, ExecError>
where
    S: FnOnce(Handle) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    run_action(action(&json!({})), deadline, stop, scenario).await
}

/// [`run`] with a 300 s deadline and no stop: the Job decides how it ends.
async fn run_to_end<S, F>(scenario: S) -> Result<Outcome, ExecError>
where
    S: FnOnce(Handle) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    run(Duration::from_secs(300), Box::pin(pending()), scenario).await
}

/// [`run`] with another action.
async fn run_action<S, F>(
    action: JobAction,
    deadline: Duration,
    stop: BoxFuture<'static, StopReason>,
    scenario: S,
) -> Result<Outcome, ExecError>
where
    S: FnOnce(Handle) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let (client, handle) = mock_client();
    let scenario = tokio::spawn(scenario(handle));
    let executor = executor_for(client, action);
    let req = request(deadline);
    let outcome = timeout(TEST_TIMEOUT, executor.execute(&req, stop))
        .await
        .expect("the executor ended in time");
    timeout(TEST_TIMEOUT, scenario)
        .await
        .expect("the scenario ended in time")
        .expect("the scenario's assertions held");
    outcome
}

fn finished(outcome: Result<Outcome, ExecError>) -> alert_core::Report {
    match outcome {
        Ok(Outcome::Finished(report)) => report,
        other => panic!("expected Finished, got {other:?}"),
    }
}

#[tokio::test]
async fn complete_job_reports_success_with_the_newest_pods_log_tail() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_get(&mut h, json!({"active": 1})).await;
        expect_get(
            &mut h,
            json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}),
        )
        .await;
        let pods = vec![
            pod("web-old", "2026-11-21T07:38:40Z", Some(1)),
            pod("web-new", "2026-11-21T07:39:40Z", Some(0)),
        ];
        expect_pods_and_log(&mut h, pods, "web-new", "line 1\nline 2\ndone\n").await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!(report.exit, Some(Exit::Code(0)));
    assert_eq!(report.ended_by, None);
    assert!(report.success());
    // log_tail_bytes is 8: the last 8 bytes, and the count of those before.
    assert_eq!(report.stdout.text(), " 2\ndone\n");
    assert_eq!(report.stdout.dropped, 11);
}

#[tokio::test]
async fn failed_job_reports_failure_with_the_pods_exit_code() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_get(
            &mut h,
            json!({"failed": 1, "conditions": [
                {"type": "FailureTarget", "status": "True"},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}),
        )
        .await;
        let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", Some(3))];
        expect_pods_and_log(&mut h, pods, "web-a", "boom\n").await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!(report.exit, Some(Exit::Code(3)));
    assert_eq!(report.ended_by, None);
    assert!(!report.success());
    assert_eq!(report.stdout.text(), "boom\n");
}

#[tokio::test]
async fn pods_are_found_by_the_1_27_label_without_the_legacy_list() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_get(&mut h, complete()).await;
        // The first list finds the pod: no legacy list, the log comes next.
        let pods = [pod("web-a", "2026-11-21T07:38:40Z", Some(0))];
        expect_pod_list(&mut h, &selector(), &pods).await;
        expect_log(&mut h, "web-a", "done\n").await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!(report.exit, Some(Exit::Code(0)));
    assert_eq!(report.stdout.text(), "done\n");
}

#[tokio::test]
async fn pods_are_found_by_the_legacy_label_on_clusters_before_1_27() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_get(
            &mut h,
            json!({"failed": 1, "conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}),
        )
        .await;
        // Before 1.27 the pods carry only `controller-uid`: the first list is empty.
        expect_pod_list(&mut h, &selector(), &[]).await;
        let mut legacy = pod("web-a", "2026-11-21T07:38:40Z", Some(3));
        legacy.metadata.labels = Some([("controller-uid".to_string(), UID.to_string())].into());
        expect_pod_list(&mut h, &legacy_selector(), &[legacy]).await;
        expect_log(&mut h, "web-a", "boom\n").await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!(report.exit, Some(Exit::Code(3)));
    assert_eq!(report.stdout.text(), "boom\n");
}

#[tokio::test]
async fn failed_job_without_pods_reports_exit_one() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_get(
            &mut h,
            json!({"conditions": [{"type": "Failed", "status": "True",
                                   "reason": "BackoffLimitExceeded"}]}),
        )
        .await;
        expect_no_pods_or_events(&mut h).await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!(report.exit, Some(Exit::Code(1)));
    assert!(report.stdout.bytes.is_empty());
    assert_eq!(report.reason.as_deref(), Some("BackoffLimitExceeded"));
}

/// Runs a Job whose first read shows its `Failed` condition with `reason` and `message`
/// and whose one pod exited 2; returns the report.
async fn failed_with(reason: &'static str, message: &'static str) -> alert_core::Report {
    let outcome = run_to_end(move |mut h| async move {
        expect_create(&mut h).await;
        expect_get(
            &mut h,
            json!({"failed": 1, "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": reason, "message": message},
                {"type": "Failed", "status": "True", "reason": reason, "message": message}]}),
        )
        .await;
        let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", Some(2))];
        expect_pods_and_log(&mut h, pods, "web-a", "no\n").await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!(report.exit, Some(Exit::Code(2)));
    assert!(!report.success());
    report
}

#[tokio::test]
async fn the_jobs_deadline_ends_the_run_as_a_timeout_that_names_it() {
    // The Job's activeDeadlineSeconds is the rule's timeout (300 s): the Job controller
    // ends it, and the run is a timeout whichever of the two clocks one might expect.
    let report = failed_with(
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
    )
    .await;
    assert_eq!(report.ended_by, Some(EndedBy::Timeout));
    assert_eq!(
        report.reason.as_deref(),
        Some(
            "DeadlineExceeded: Job was active longer than specified deadline (the Job's \
             activeDeadlineSeconds of 300 ended it; the rule's timeout is 300s)"
        )
    );
}

#[tokio::test]
async fn backoff_limit_exceeded_is_recorded_as_the_reason() {
    let report = failed_with(
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    .await;
    assert_eq!(
        report.reason.as_deref(),
        Some("BackoffLimitExceeded: Job has reached the specified backoff limit")
    );
    assert_eq!(report.ended_by, None);
}

#[tokio::test]
async fn pod_failure_policy_is_recorded_as_the_reason() {
    let message = "Container action for pod ops/web-a failed with exit code 2 matching \
                   FailJob rule at index 0";
    let report = failed_with("PodFailurePolicy", message).await;
    assert_eq!(report.reason, Some(format!("PodFailurePolicy: {message}")));
    assert_eq!(report.ended_by, None);
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_is_the_reason_when_the_deadline_ends_the_run() {
    let outcome = run(
        Duration::from_millis(100),
        Box::pin(pending()),
        |mut h| async move {
            expect_create(&mut h).await;
            running_until_delete(&mut h).await;
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": "web-a", "namespace": NS,
                             "creationTimestamp": "2026-11-21T07:38:40Z"},
                "status": {"phase": "Pending", "containerStatuses": [{"name": "action",
                           "image": "busybox:1.36", "imageID": "", "ready": false,
                           "restartCount": 0, "state": {"waiting": {
                               "reason": "ImagePullBackOff",
                               "message": "Back-off pulling image \"busybox:1.36\""}}}]},
            }))
            .unwrap();
            expect_pod_list(&mut h, &selector(), &[pod]).await;
            // A waiting container has no log yet: the API server answers 400.
            let path = format!("/api/v1/namespaces/{NS}/pods/web-a/log");
            Call::expect(&mut h, Method::GET, &path).await.reply(
                StatusCode::BAD_REQUEST,
                &status(
                    400,
                    "BadRequest",
                    "container \"action\" in pod \"web-a\" is waiting to start",
                ),
            );
        },
    )
    .await;
    let report = finished(outcome);
    assert_eq!(report.ended_by, Some(EndedBy::Timeout));
    assert_eq!(report.exit, None);
    assert_eq!(
        report.reason.as_deref(),
        Some(
            "pod web-a: ImagePullBackOff: Back-off pulling image \"busybox:1.36\" (the Job \
             was still active 50ms past its activeDeadlineSeconds of 1: alertrun deleted it)"
        )
    );
}

/// A Job of that name, as alertrun would have created it for `rule` and `dedup_key`.
fn job_for(rule: &str, dedup_key: &str, uid: &str, status: &Value) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": job_name(RULE, DEDUP_KEY), "namespace": NS, "uid": uid,
                     "labels": {"app.kubernetes.io/managed-by": "alertrun"},
                     "annotations": {"alertrun.dev/rule": rule,
                                     "alertrun.dev/dedup-key": dedup_key}},
        "spec": {"template": {"spec": {"containers": [{"name": "action",
                                                       "image": "busybox:1.36"}]}}},
        "status": status,
    }))
    .unwrap()
}

/// The create, answered `409 AlreadyExists`.
async fn expect_create_conflict(h: &mut Handle) {
    let call = Call::expect(h, Method::POST, &jobs_path()).await;
    let message = format!(
        "jobs.batch \"{}\" already exists",
        job_name(RULE, DEDUP_KEY)
    );
    call.reply(
        StatusCode::CONFLICT,
        &status(409, "AlreadyExists", &message),
    );
}

fn complete() -> Value {
    json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
}

/// Runs `execute_observed` against `scenario`; also returns every handle `on_start` got.
async fn run_observed<S, F>(
    deadline: Duration,
    scenario: S,
) -> (Result<Outcome, ExecError>, Vec<Started>)
where
    S: FnOnce(Handle) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let (client, handle) = mock_client();
    let scenario = tokio::spawn(scenario(handle));
    let executor = executor(client);
    let req = request(deadline);
    let seen = Mutex::new(Vec::new());
    let on_start = |started: Started| seen.lock().unwrap().push(started);
    let outcome = timeout(
        TEST_TIMEOUT,
        executor.execute_observed(&req, Box::pin(pending()), &on_start),
    )
    .await
    .expect("the executor ended in time");
    timeout(TEST_TIMEOUT, scenario)
        .await
        .expect("the scenario ended in time")
        .expect("the scenario's assertions held");
    (outcome, seen.into_inner().unwrap())
}

/// Runs `recover` of `started` against `scenario`.
async fn recover<S, F>(
    started: Started,
    stop: BoxFuture<'static, StopReason>,
    scenario: S,
) -> Result<Recovered, ExecError>
where
    S: FnOnce(Handle) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let (client, handle) = mock_client();
    let scenario = tokio::spawn(scenario(handle));
    let executor = executor(client);
    let req = request(Duration::from_secs(300));
    let recovered = timeout(TEST_TIMEOUT, executor.recover(&req, &started, stop))
        .await
        .expect("the executor ended in time");
    timeout(TEST_TIMEOUT, scenario)
        .await
        .expect("the scenario ended in time")
        .expect("the scenario's assertions held");
    recovered
}

fn our_handle() -> Started {
    Started::Job {
        namespace: NS.into(),
        name: job_name(RULE, DEDUP_KEY),
        uid: UID.into(),
    }
}

#[tokio::test]
async fn on_start_gets_the_jobs_handle_right_after_the_create() {
    let (outcome, seen) = run_observed(Duration::from_secs(300), |mut h| async move {
        expect_create(&mut h).await;
        expect_get(&mut h, complete()).await;
        expect_no_pods(&mut h).await;
    })
    .await;
    assert_eq!(finished(outcome).exit, Some(Exit::Code(0)));
    assert_eq!(seen, [our_handle()]);
}

#[tokio::test]
async fn an_existing_job_that_finished_is_a_duplicate() {
    let (outcome, seen) = run_observed(Duration::from_secs(300), |mut h| async move {
        expect_create_conflict(&mut h).await;
        Call::expect(&mut h, Method::GET, &job_path())
            .await
            .reply(StatusCode::OK, &job_for(RULE, DEDUP_KEY, UID, &complete()));
    })
    .await;
    assert!(matches!(outcome, Ok(Outcome::Duplicate)), "{outcome:?}");
    assert!(seen.is_empty(), "nothing was started: {seen:?}");
}

#[tokio::test]
async fn an_existing_job_of_another_request_is_a_duplicate_even_while_it_runs() {
    let (outcome, seen) = run_observed(Duration::from_secs(300), |mut h| async move {
        expect_create_conflict(&mut h).await;
        let other = job_for(RULE, "another-episode", UID, &json!({"active": 1}));
        Call::expect(&mut h, Method::GET, &job_path())
            .await
            .reply(StatusCode::OK, &other);
    })
    .await;
    assert!(matches!(outcome, Ok(Outcome::Duplicate)), "{outcome:?}");
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn an_existing_job_gone_before_it_was_read_is_a_duplicate() {
    let (outcome, seen) = run_observed(Duration::from_secs(300), |mut h| async move {
        expect_create_conflict(&mut h).await;
        Call::expect(&mut h, Method::GET, &job_path()).await.reply(
            StatusCode::NOT_FOUND,
            &status(404, "NotFound", "jobs.batch not found"),
        );
    })
    .await;
    assert!(matches!(outcome, Ok(Outcome::Duplicate)), "{outcome:?}");
    assert!(seen.is_empty(), "{seen:?}");
}

/// A create retried after a lost answer meets the Job its first attempt created: it is
/// followed, not dropped.
#[tokio::test]
async fn an_existing_running_job_of_the_same_request_is_followed() {
    let (outcome, seen) = run_observed(Duration::from_secs(300), |mut h| async move {
        expect_create_conflict(&mut h).await;
        Call::expect(&mut h, Method::GET, &job_path()).await.reply(
            StatusCode::OK,
            &job_for(RULE, DEDUP_KEY, UID, &json!({"active": 1})),
        );
        expect_get(&mut h, json!({"active": 1})).await;
        expect_get(&mut h, complete()).await;
        let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", Some(0))];
        expect_pods_and_log(&mut h, pods, "web-a", "done\n").await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!(report.exit, Some(Exit::Code(0)));
    assert_eq!(report.stdout.text(), "done\n");
    assert_eq!(seen, [our_handle()]);
}

/// Transport failures, throttling and server errors while creating may pass; a refused
/// request does not. Either way nothing started.
#[tokio::test]
async fn create_failures_worth_retrying_are_transient_and_start_nothing() {
    for (case, answer, transient) in [
        (
            "500",
            Some((StatusCode::INTERNAL_SERVER_ERROR, "InternalError")),
            true,
        ),
        (
            "503",
            Some((StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")),
            true,
        ),
        ("504", Some((StatusCode::GATEWAY_TIMEOUT, "Timeout")), true),
        (
            "429",
            Some((StatusCode::TOO_MANY_REQUESTS, "TooManyRequests")),
            true,
        ),
        ("transport", None, true),
        ("403", Some((StatusCode::FORBIDDEN, "Forbidden")), false),
        (
            "422",
            Some((StatusCode::UNPROCESSABLE_ENTITY, "Invalid")),
            false,
        ),
    ] {
        let (outcome, seen) = run_observed(Duration::from_secs(300), |mut h| async move {
            let call = Call::expect(&mut h, Method::POST, &jobs_path()).await;
            match answer {
                Some((code, reason)) => {
                    call.reply(code, &status(code.as_u16(), reason, "try later"));
                }
                None => call.fail("connection reset by peer"),
            }
        })
        .await;
        let Err(e) = outcome else {
            panic!("{case}: expected an error, got {outcome:?}");
        };
        assert_eq!(e.is_transient(), transient, "{case}: {e:?}");
        assert_eq!(
            matches!(e, ExecError::Transient { .. }),
            transient,
            "{case}: {e:?}"
        );
        assert!(seen.is_empty(), "{case}: {seen:?}");
    }
}

#[tokio::test]
async fn recover_follows_a_job_that_still_runs_to_its_end() {
    let recovered = recover(our_handle(), Box::pin(pending()), |mut h| async move {
        expect_get(&mut h, json!({"active": 1})).await;
        expect_get(&mut h, json!({"active": 1})).await;
        expect_get(
            &mut h,
            json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]}),
        )
        .await;
        let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", Some(2))];
        expect_pods_and_log(&mut h, pods, "web-a", "no luck\n").await;
    })
    .await;
    let Ok(Recovered::Followed(outcome)) = recovered else {
        panic!("expected Followed, got {recovered:?}");
    };
    let report = finished(Ok(outcome));
    assert_eq!(report.exit, Some(Exit::Code(2)));
    assert_eq!(report.ended_by, None);
    assert_eq!(report.stdout.text(), "no luck\n");
}

#[tokio::test]
async fn recover_of_a_job_that_ended_meanwhile_reports_its_end_without_deleting_it() {
    let recovered = recover(our_handle(), Box::pin(pending()), |mut h| async move {
        expect_get(&mut h, complete()).await;
        let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", Some(0))];
        expect_pods_and_log(&mut h, pods, "web-a", "ok\n").await;
    })
    .await;
    let Ok(Recovered::Followed(outcome)) = recovered else {
        panic!("expected Followed, got {recovered:?}");
    };
    assert!(finished(Ok(outcome)).success());
}

#[tokio::test]
async fn recover_stop_deletes_the_job_in_background() {
    let (stop_tx, stop_rx) = oneshot::channel();
    let stop: BoxFuture<'static, StopReason> =
        Box::pin(async move { stop_rx.await.unwrap_or(StopReason::Shutdown) });
    let recovered = recover(our_handle(), stop, |mut h| async move {
        expect_get(&mut h, json!({"active": 1})).await;
        stop_tx.send(StopReason::Resolved).unwrap();
        running_until_delete(&mut h).await;
        expect_no_pods_or_events(&mut h).await;
    })
    .await;
    let Ok(Recovered::Followed(outcome)) = recovered else {
        panic!("expected Followed, got {recovered:?}");
    };
    let report = finished(Ok(outcome));
    assert_eq!(report.ended_by, Some(EndedBy::Stop(StopReason::Resolved)));
}

#[tokio::test]
async fn recover_past_the_deadline_deletes_the_job() {
    let recovered = recover(our_handle(), Box::pin(pending()), |mut h| async move {
        // Created an hour ago: the request's 300 s deadline passed while no one watched.
        let mut job = job_with(&json!({"active": 1}));
        job.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now()
                    - k8s_openapi::jiff::SignedDuration::from_hours(1),
            ));
        Call::expect(&mut h, Method::GET, &job_path())
            .await
            .reply(StatusCode::OK, &job);
        running_until_delete(&mut h).await;
        expect_no_pods_or_events(&mut h).await;
    })
    .await;
    let Ok(Recovered::Followed(outcome)) = recovered else {
        panic!("expected Followed, got {recovered:?}");
    };
    let report = finished(Ok(outcome));
    assert_eq!(report.ended_by, Some(EndedBy::Timeout));
    // The Job read shows no activeDeadlineSeconds: the rule's timeout is the only clock.
    assert_eq!(
        report.reason.as_deref(),
        Some("the rule's timeout of 300s ended it: alertrun deleted the Job")
    );
    assert!(
        report.duration >= Duration::from_secs(3600),
        "{:?}",
        report.duration
    );
}

#[tokio::test]
async fn recover_of_a_deleted_job_without_pods_is_unknown() {
    let recovered = recover(our_handle(), Box::pin(pending()), |mut h| async move {
        expect_gone(&mut h).await;
        expect_no_pods_or_events(&mut h).await;
    })
    .await;
    let Ok(Recovered::Followed(outcome)) = recovered else {
        panic!("expected Followed, got {recovered:?}");
    };
    let report = finished(Ok(outcome));
    assert_eq!(
        (report.exit, report.ended_by),
        (None, Some(EndedBy::Vanished))
    );
    assert_eq!(report.reason.as_deref(), Some(DELETED_BEFORE_OUTCOME));
}

#[tokio::test]
async fn recover_of_a_deleted_job_reads_its_end_from_its_pod() {
    let recovered = recover(our_handle(), Box::pin(pending()), |mut h| async move {
        // Deleted by its TTL while alertrun was down; the garbage collector has not yet
        // taken its pod.
        expect_gone(&mut h).await;
        let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", Some(4))];
        expect_pods_and_log(
            &mut h, pods, "web-a", "nope
",
        )
        .await;
    })
    .await;
    let Ok(Recovered::Followed(outcome)) = recovered else {
        panic!("expected Followed, got {recovered:?}");
    };
    let report = finished(Ok(outcome));
    assert_eq!((report.exit, report.ended_by), (Some(Exit::Code(4)), None));
    assert_eq!(report.stdout.text(), "nope\n");
    assert_eq!(
        report.reason.as_deref(),
        Some("the Job was deleted before its outcome was seen; the exit code is its pod web-a's")
    );
}

#[tokio::test]
async fn recover_leaves_a_job_of_the_same_name_with_another_uid_alone() {
    let recovered = recover(our_handle(), Box::pin(pending()), |mut h| async move {
        let other = job_for(RULE, DEDUP_KEY, "another-uid", &json!({"active": 1}));
        Call::expect(&mut h, Method::GET, &job_path())
            .await
            .reply(StatusCode::OK, &other);
    })
    .await;
    assert!(matches!(recovered, Ok(Recovered::Gone)), "{recovered:?}");
}

#[tokio::test]
async fn recover_rejects_a_process_handle() {
    let process = Started::Process {
        pid: 1,
        pgid: 1,
        start_time: 1,
        boot_id: "b".into(),
    };
    let recovered = recover(process, Box::pin(pending()), |_h| async move {}).await;
    let Err(e) = recovered else {
        panic!("expected an error, got {recovered:?}");
    };
    assert!(
        matches!(
            e,
            ExecError::Rejected {
                backend: "kubernetes",
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn forbidden_create_names_verb_resource_and_namespace() {
    let outcome = run_to_end(|mut h| async move {
        let call = Call::expect(&mut h, Method::POST, &jobs_path()).await;
        let message = "jobs.batch is forbidden: User \"system:serviceaccount:ops:alertrun\" \
                       cannot create resource \"jobs\" in API group \"batch\" in the namespace \
                       \"ops\"";
        call.reply(StatusCode::FORBIDDEN, &status(403, "Forbidden", message));
    })
    .await;
    let Err(e) = outcome else {
        panic!("expected an error, got {outcome:?}");
    };
    assert!(
        matches!(
            e,
            ExecError::Backend {
                backend: "kubernetes",
                ..
            }
        ),
        "{e:?}"
    );
    let cause = e
        .source()
        .expect("the backend error has a cause")
        .to_string();
    assert_eq!(
        cause,
        "forbidden: alertrun's account may not create jobs in namespace \"ops\": \
         add verb \"create\" on \"jobs\" (API group \"batch\") to its Role there"
    );
    // Below it, the API server's own message (naming the account), and no Debug dump.
    let below = e
        .source()
        .and_then(std::error::Error::source)
        .map(ToString::to_string);
    assert_eq!(
        below.as_deref(),
        Some(
            "jobs.batch is forbidden: User \"system:serviceaccount:ops:alertrun\" \
             cannot create resource \"jobs\" in API group \"batch\" in the namespace \"ops\""
        )
    );
    let mut chain = String::new();
    let mut next: Option<&dyn std::error::Error> = Some(&e);
    while let Some(err) = next {
        chain.push_str(&err.to_string());
        next = err.source();
    }
    assert!(
        !chain.contains("Status {") && !chain.contains("ApiError"),
        "{chain}"
    );
}

#[tokio::test]
async fn other_create_errors_are_backend_errors() {
    let outcome = run_to_end(|mut h| async move {
        let call = Call::expect(&mut h, Method::POST, &jobs_path()).await;
        call.reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            &status(422, "Invalid", "Job.batch is invalid"),
        );
    })
    .await;
    let Err(e) = outcome else {
        panic!("expected an error, got {outcome:?}");
    };
    let cause = e.source().expect("the backend error has a cause");
    assert_eq!(cause.to_string(), "cannot create jobs in namespace \"ops\"");
    // The API server's answer in a line, without a dump of its Status.
    let below = cause.source().expect("and the API's answer below it");
    assert_eq!(below.to_string(), "422 Invalid: Job.batch is invalid");
    assert!(below.source().is_none());
}

#[tokio::test]
async fn deadline_deletes_the_job_in_background_and_reports_timeout() {
    let outcome = run(
        Duration::from_millis(100),
        Box::pin(pending()),
        |mut h| async move {
            expect_create(&mut h).await;
            running_until_delete(&mut h).await;
            let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", Some(137))];
            expect_pods_and_log(&mut h, pods, "web-a", "working\n").await;
        },
    )
    .await;
    let report = finished(outcome);
    assert_eq!(report.ended_by, Some(EndedBy::Timeout));
    assert_eq!(report.exit, Some(Exit::Code(137)));
    assert_eq!(report.stdout.text(), "working\n");
    // The Job's deadline (100 ms, rounded up to 1 s) passed and the Job controller did not
    // end it within the grace: alertrun did, and says so.
    assert!(
        report.duration >= Duration::from_secs(1) + GRACE,
        "{:?}",
        report.duration
    );
    assert_eq!(
        report.reason.as_deref(),
        Some(
            "the Job was still active 50ms past its activeDeadlineSeconds of 1: alertrun \
             deleted it"
        )
    );
}

#[tokio::test]
async fn a_rule_timeout_below_the_jobs_own_deadline_ends_the_run_first() {
    let outcome = run_action(
        action(&json!({"active_deadline_seconds": 600})),
        Duration::from_millis(100),
        Box::pin(pending()),
        |mut h| async move {
            let call = Call::expect(&mut h, Method::POST, &jobs_path()).await;
            assert_eq!(call.body["spec"]["activeDeadlineSeconds"], 600);
            let mut job: Job = serde_json::from_value(call.body.clone()).unwrap();
            job.metadata.uid = Some(UID.to_string());
            call.reply(StatusCode::CREATED, &job);
            running_until_delete(&mut h).await;
            expect_no_pods_or_events(&mut h).await;
        },
    )
    .await;
    let report = finished(outcome);
    assert_eq!(report.ended_by, Some(EndedBy::Timeout));
    assert!(
        report.duration < Duration::from_secs(1),
        "{:?}",
        report.duration
    );
    assert_eq!(
        report.reason.as_deref(),
        Some("the rule's timeout of 100ms ended it: alertrun deleted the Job")
    );
}

#[tokio::test]
async fn a_pod_refused_by_admission_is_the_reason_from_its_failed_create_event() {
    let refused = "Error creating: pods \"restart-web-x-abcde\" is forbidden: violates \
                   PodSecurity \"restricted:latest\": runAsNonRoot != true";
    let outcome = run_to_end(move |mut h| async move {
        expect_create(&mut h).await;
        // No pod could be created; the Job ran into its deadline.
        expect_get(&mut h, json!({"active": 0})).await;
        expect_get(
            &mut h,
            json!({"conditions": [{"type": "Failed", "status": "True",
                       "reason": "DeadlineExceeded",
                       "message": "Job was active longer than specified deadline"}]}),
        )
        .await;
        expect_no_pods(&mut h).await;
        let event = |at: &str, message: &str| {
            json!({"metadata": {"name": format!("ev-{at}"), "namespace": NS},
                       "involvedObject": {"kind": "Job", "uid": UID},
                       "reason": "FailedCreate", "type": "Warning",
                       "lastTimestamp": at, "message": message})
        };
        expect_events(
            &mut h,
            &[
                event("2026-11-21T07:39:00Z", refused),
                event("2026-11-21T07:38:40Z", "an older refusal"),
            ],
        )
        .await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!(
        (report.exit, report.ended_by),
        (None, Some(EndedBy::Timeout))
    );
    assert_eq!(
        report.reason,
        Some(format!(
            "DeadlineExceeded: Job was active longer than specified deadline; \
             FailedCreate: {refused} (the Job's activeDeadlineSeconds of 300 ended it; the \
             rule's timeout is 300s)"
        ))
    );
}

#[tokio::test]
async fn a_poll_that_fails_is_retried_until_the_jobs_end() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_get(&mut h, json!({"active": 1})).await;
        Call::expect(&mut h, Method::GET, &job_path()).await.reply(
            StatusCode::SERVICE_UNAVAILABLE,
            &status(503, "ServiceUnavailable", "etcdserver: leader changed"),
        );
        Call::expect(&mut h, Method::GET, &job_path())
            .await
            .fail("connection reset by peer");
        Call::expect(&mut h, Method::GET, &job_path()).await.reply(
            StatusCode::TOO_MANY_REQUESTS,
            &status(429, "TooManyRequests", "slow down"),
        );
        expect_get(&mut h, complete()).await;
        let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", Some(0))];
        expect_pods_and_log(&mut h, pods, "web-a", "ok\n").await;
    })
    .await;
    let report = finished(outcome);
    assert!(report.success(), "{report:?}");
    assert_eq!(report.stdout.text(), "ok\n");
}

#[tokio::test]
async fn every_api_call_is_granted_and_every_granted_call_is_made() {
    // Every request a mocked API sees must be in API_CALLS (`Call::next` fails the test
    // otherwise); these two scenarios make every call in the list.
    let (stop_tx, stop_rx) = oneshot::channel();
    let stop: BoxFuture<'static, StopReason> =
        Box::pin(async move { stop_rx.await.unwrap_or(StopReason::Shutdown) });
    run(Duration::from_secs(300), stop, |mut h| async move {
        expect_create(&mut h).await;
        expect_get(&mut h, json!({"active": 1})).await;
        stop_tx.send(StopReason::Resolved).unwrap();
        running_until_delete(&mut h).await;
        let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", None)];
        expect_pods_and_log(&mut h, pods, "web-a", "\n").await;
    })
    .await
    .unwrap();
    run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_get(
            &mut h,
            json!({"conditions": [{"type": "Failed", "status": "True"}]}),
        )
        .await;
        expect_no_pods_or_events(&mut h).await;
    })
    .await
    .unwrap();
    let granted: std::collections::BTreeSet<_> = executor_k8s::API_CALLS.iter().copied().collect();
    assert_eq!(executor_k8s::testing::calls_seen(), granted);
}

#[tokio::test]
async fn stop_deletes_the_job_in_background_and_reports_the_reason() {
    let (stop_tx, stop_rx) = oneshot::channel();
    let stop: BoxFuture<'static, StopReason> =
        Box::pin(async move { stop_rx.await.unwrap_or(StopReason::Shutdown) });
    let outcome = run(Duration::from_secs(300), stop, |mut h| async move {
        expect_create(&mut h).await;
        expect_get(&mut h, json!({"active": 1})).await;
        stop_tx.send(StopReason::Resolved).unwrap();
        running_until_delete(&mut h).await;
        let call = Call::expect(
            &mut h,
            Method::GET,
            &format!("/api/v1/namespaces/{NS}/pods"),
        )
        .await;
        call.reply(
            StatusCode::OK,
            &pod_list(&[pod("web-a", "2026-11-21T07:38:40Z", None)]),
        );
        let path = format!("/api/v1/namespaces/{NS}/pods/web-a/log");
        Call::expect(&mut h, Method::GET, &path)
            .await
            .reply_bytes(StatusCode::OK, b"halfway\n".to_vec());
    })
    .await;
    let report = finished(outcome);
    assert_eq!(report.ended_by, Some(EndedBy::Stop(StopReason::Resolved)));
    assert_eq!(report.exit, None);
    assert_eq!(report.stdout.text(), "halfway\n");
}

#[tokio::test]
async fn job_deleted_by_someone_else_ends_the_wait() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        let call = Call::expect(&mut h, Method::GET, &job_path()).await;
        call.reply(
            StatusCode::NOT_FOUND,
            &status(404, "NotFound", "jobs.batch not found"),
        );
        expect_no_pods_or_events(&mut h).await;
    })
    .await;
    let report = finished(outcome);
    // Neither a success nor a failure: its outcome is unknown.
    assert_eq!(
        (report.exit, report.ended_by),
        (None, Some(EndedBy::Vanished))
    );
    assert!(!report.success());
    assert_eq!(report.reason.as_deref(), Some(DELETED_BEFORE_OUTCOME));
    assert_eq!(
        DELETED_BEFORE_OUTCOME,
        "deleted before its outcome was seen"
    );
}

/// Answers one `GET` of the Job with `404 NotFound`.
async fn expect_gone(h: &mut Handle) {
    Call::expect(h, Method::GET, &job_path()).await.reply(
        StatusCode::NOT_FOUND,
        &status(404, "NotFound", "jobs.batch not found"),
    );
}

#[tokio::test]
async fn a_vanished_job_is_resolved_from_its_terminated_pod() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_get(&mut h, json!({"active": 1})).await;
        // ttlSecondsAfterFinished: 0 deleted it before the next read; its pod remains.
        expect_gone(&mut h).await;
        let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", Some(0))];
        expect_pods_and_log(&mut h, pods, "web-a", "done\n").await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!((report.exit, report.ended_by), (Some(Exit::Code(0)), None));
    assert!(report.success());
    assert_eq!(report.stdout.text(), "done\n");
    assert_eq!(
        report.reason.as_deref(),
        Some("the Job was deleted before its outcome was seen; the exit code is its pod web-a's")
    );
}

#[tokio::test]
async fn a_vanished_job_with_a_running_pod_is_deleted_before_its_outcome_was_seen() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_gone(&mut h).await;
        let pods = vec![pod("web-a", "2026-11-21T07:38:40Z", None)];
        expect_pods_and_log(&mut h, pods, "web-a", "half\n").await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!(
        (report.exit, report.ended_by),
        (None, Some(EndedBy::Vanished))
    );
    assert_eq!(report.reason.as_deref(), Some(DELETED_BEFORE_OUTCOME));
}

#[tokio::test]
async fn a_vanished_job_after_failure_target_is_failed_with_its_reason() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_get(
            &mut h,
            json!({"failed": 1, "conditions": [{"type": "FailureTarget", "status": "True",
                       "reason": "BackoffLimitExceeded",
                       "message": "Job has reached the specified backoff limit"}]}),
        )
        .await;
        expect_gone(&mut h).await;
        expect_no_pods_or_events(&mut h).await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!((report.exit, report.ended_by), (Some(Exit::Code(1)), None));
    assert_eq!(
        report.reason.as_deref(),
        Some("BackoffLimitExceeded: Job has reached the specified backoff limit")
    );
}

#[tokio::test]
async fn a_vanished_job_after_success_criteria_met_is_complete() {
    let outcome = run_to_end(|mut h| async move {
        expect_create(&mut h).await;
        expect_get(
            &mut h,
            json!({"succeeded": 1, "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True"}]}),
        )
        .await;
        expect_gone(&mut h).await;
        expect_no_pods(&mut h).await;
    })
    .await;
    let report = finished(outcome);
    assert_eq!((report.exit, report.ended_by), (Some(Exit::Code(0)), None));
    assert!(report.success());
    assert_eq!(report.reason, None);
}

#[test]
fn kind_is_kubernetes() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let (client, _handle) = mock_client();
    assert_eq!(executor(client).kind(), "kubernetes");
}
