//! `JobExecutor` against a real cluster: opt in, it needs one.
//!
//! Runs with the current context of `KUBECONFIG` (or `~/.kube/config`, or in-cluster
//! config), e.g. a kind cluster:
//!
//! ```text
//! kind create cluster
//! KUBECONFIG=~/.kube/config cargo test -p executor-k8s --test cluster -- --ignored
//! ```
//!
//! Each test creates its Jobs in the namespace `ALERTRUN_TEST_NAMESPACE` (default
//! `default`), pulling `busybox:1.36`, and deletes them afterwards. Between them they
//! cover every scenario of the mocked-API suite (`mock_api.rs`) that a real cluster can
//! produce: success with the log, failure with the pod's exit code and the Job's reason,
//! the Job's own deadline, a stop (resolve) that deletes the Job and its pods, a Job that
//! vanishes (TTL 0) before its end is seen, a replayed request (`409`), an image that
//! cannot be pulled, and a pod refused by admission (PodSecurity `restricted`). The pod
//! lookup by the 1.27 label or the legacy one is whichever the cluster sets.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::future::pending;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alert_core::env::EnvVar;
use alert_core::{
    BoxFuture, EndedBy, ExecRequest, Executor, Exit, Outcome, Report, StopReason, Subject,
};
use executor_k8s::{DELETED_BEFORE_OUTCOME, JobAction, JobExecutor, JobOptions, job_name};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

fn namespace() -> String {
    std::env::var("ALERTRUN_TEST_NAMESPACE").unwrap_or_else(|_| "default".into())
}

/// A request for a fresh dedup key (so that runs of the suite never meet old Jobs).
fn request(rule: &str, deadline: Duration) -> ExecRequest {
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    ExecRequest {
        rule: rule.into(),
        dedup_key: format!("run-{nonce}"),
        subject: Subject::default(),
        env: vec![EnvVar::new("ALERTRUN_LABEL_pod", "web-0")],
        input: Vec::new(),
        deadline,
    }
}

/// An executor for a busybox action running `script`, with `extra` action fields.
async fn executor(script: &str, extra: Value) -> (kube::Client, JobExecutor) {
    let client = kube::Client::try_default().await.unwrap();
    let mut action = json!({"image": "busybox:1.36", "command": ["sh", "-c", script]});
    for (key, value) in extra.as_object().into_iter().flatten() {
        action[key] = value.clone();
    }
    let action: JobAction = serde_json::from_value(action).unwrap();
    let options = JobOptions::default().with_poll_interval(Duration::from_millis(500));
    let executor = JobExecutor::new(client.clone(), action, namespace(), options);
    (client, executor)
}

/// Runs `req` to its end, deletes its Job, and returns the report.
async fn run(
    client: &kube::Client,
    executor: &JobExecutor,
    req: &ExecRequest,
    stop: BoxFuture<'_, StopReason>,
) -> Report {
    let outcome = executor.execute(req, stop).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace());
    jobs.delete(
        &job_name(&req.rule, &req.dedup_key),
        &DeleteParams::background(),
    )
    .await
    .ok();
    match outcome {
        Ok(Outcome::Finished(report)) => report,
        other => panic!("expected Finished, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs a cluster"]
async fn a_job_runs_to_completion_on_a_real_cluster() {
    let (client, executor) = executor("echo hello from $(ALERTRUN_LABEL_pod)", json!({})).await;
    let req = request("cluster-success", Duration::from_secs(180));
    let report = run(&client, &executor, &req, Box::pin(pending())).await;
    assert_eq!(report.exit, Some(Exit::Code(0)), "{report:?}");
    assert!(report.success());
    assert_eq!(report.stdout.text(), "hello from web-0\n");
}

#[tokio::test]
#[ignore = "needs a cluster"]
async fn a_failing_job_reports_its_pods_exit_code_and_the_jobs_reason() {
    let (client, executor) = executor("echo failing; exit 3", json!({})).await;
    let req = request("cluster-failure", Duration::from_secs(180));
    let report = run(&client, &executor, &req, Box::pin(pending())).await;
    assert_eq!(report.exit, Some(Exit::Code(3)), "{report:?}");
    assert_eq!(report.ended_by, None, "{report:?}");
    assert_eq!(report.stdout.text(), "failing\n");
    let reason = report.reason.unwrap_or_default();
    assert!(reason.starts_with("BackoffLimitExceeded"), "{reason}");
}

#[tokio::test]
#[ignore = "needs a cluster"]
async fn the_jobs_deadline_ends_it_as_a_timeout_naming_the_deadline() {
    let (client, executor) = executor("sleep 600", json!({})).await;
    let req = request("cluster-deadline", Duration::from_secs(5));
    let report = run(&client, &executor, &req, Box::pin(pending())).await;
    assert_eq!(report.ended_by, Some(EndedBy::Timeout), "{report:?}");
    let reason = report.reason.unwrap_or_default();
    assert!(
        reason.starts_with("DeadlineExceeded") && reason.contains("activeDeadlineSeconds of 5"),
        "{reason}"
    );
}

#[tokio::test]
#[ignore = "needs a cluster"]
async fn a_stop_deletes_the_job_and_its_pods() {
    let (client, executor) = executor("echo started; sleep 600", json!({})).await;
    let req = request("cluster-stop", Duration::from_secs(180));
    let stop: BoxFuture<'_, StopReason> = Box::pin(async {
        tokio::time::sleep(Duration::from_secs(20)).await;
        StopReason::Resolved
    });
    let report = run(&client, &executor, &req, stop).await;
    assert_eq!(
        report.ended_by,
        Some(EndedBy::Stop(StopReason::Resolved)),
        "{report:?}"
    );
    let jobs: Api<Job> = Api::namespaced(client, &namespace());
    let name = job_name(&req.rule, &req.dedup_key);
    for _ in 0..60 {
        if jobs.get_opt(&name).await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("Job {name} still exists a minute after the stop");
}

#[tokio::test]
#[ignore = "needs a cluster"]
async fn a_job_its_ttl_deletes_before_the_next_read_is_resolved_or_unknown() {
    let client = kube::Client::try_default().await.unwrap();
    let action: JobAction = serde_json::from_value(json!({"image": "busybox:1.36",
        "command": ["sh", "-c", "exit 0"], "ttl_seconds_after_finished": 0}))
    .unwrap();
    // Read rarely, so that the TTL controller deletes the Job before the first read.
    let slow = JobOptions::default().with_poll_interval(Duration::from_secs(20));
    let slow = JobExecutor::new(client.clone(), action, namespace(), slow);
    let req = request("cluster-vanish", Duration::from_secs(180));
    let report = run(&client, &slow, &req, Box::pin(pending())).await;
    match report.ended_by {
        // The pod was still there: its exit code.
        None => assert_eq!(report.exit, Some(Exit::Code(0)), "{report:?}"),
        // Gone with its pod: unknown, never a failure.
        Some(EndedBy::Vanished) => {
            assert_eq!(report.reason.as_deref(), Some(DELETED_BEFORE_OUTCOME));
        }
        other => panic!("unexpected end {other:?}: {report:?}"),
    }
}

#[tokio::test]
#[ignore = "needs a cluster"]
async fn a_replayed_request_meets_its_finished_job_as_a_duplicate() {
    let (client, executor) = executor("echo once", json!({})).await;
    let req = request("cluster-replay", Duration::from_secs(180));
    let first = executor.execute(&req, Box::pin(pending())).await.unwrap();
    assert!(
        matches!(first, Outcome::Finished(ref r) if r.success()),
        "{first:?}"
    );
    let again = executor.execute(&req, Box::pin(pending())).await.unwrap();
    let jobs: Api<Job> = Api::namespaced(client, &namespace());
    jobs.delete(
        &job_name(&req.rule, &req.dedup_key),
        &DeleteParams::background(),
    )
    .await
    .ok();
    assert_eq!(again, Outcome::Duplicate);
}

#[tokio::test]
#[ignore = "needs a cluster"]
async fn an_image_that_cannot_be_pulled_is_the_reason() {
    let client = kube::Client::try_default().await.unwrap();
    let action: JobAction = serde_json::from_value(json!({
        "image": "registry.invalid/alertrun/none:0", "command": ["true"]}))
    .unwrap();
    let options = JobOptions::default().with_poll_interval(Duration::from_millis(500));
    let executor = JobExecutor::new(client.clone(), action, namespace(), options);
    let req = request("cluster-image", Duration::from_secs(30));
    let report = run(&client, &executor, &req, Box::pin(pending())).await;
    assert_eq!(report.ended_by, Some(EndedBy::Timeout), "{report:?}");
    let reason = report.reason.unwrap_or_default();
    assert!(
        reason.contains("ErrImagePull") || reason.contains("ImagePullBackOff"),
        "{reason}"
    );
}

#[tokio::test]
#[ignore = "needs a cluster"]
async fn a_pod_refused_by_pod_security_admission_is_the_reason() {
    // A namespace of its own that enforces the `restricted` profile: busybox as root is
    // refused, and the Job controller records FailedCreate events.
    let client = kube::Client::try_default().await.unwrap();
    let name = format!(
        "alertrun-psa-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    );
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name,
        "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    namespaces
        .patch(
            &name,
            &PatchParams::apply("alertrun-test"),
            &Patch::Apply(&ns),
        )
        .await
        .unwrap();
    let action: JobAction = serde_json::from_value(json!({
        "image": "busybox:1.36", "command": ["true"]}))
    .unwrap();
    let options = JobOptions::default().with_poll_interval(Duration::from_millis(500));
    let executor = JobExecutor::new(client.clone(), action, name.clone(), options);
    let req = request("cluster-psa", Duration::from_secs(20));
    let outcome = executor.execute(&req, Box::pin(pending())).await;
    namespaces
        .delete(&name, &DeleteParams::background())
        .await
        .ok();
    let Ok(Outcome::Finished(report)) = outcome else {
        panic!("expected Finished, got {outcome:?}");
    };
    assert_eq!(report.ended_by, Some(EndedBy::Timeout), "{report:?}");
    let reason = report.reason.unwrap_or_default();
    assert!(
        reason.contains("FailedCreate") && reason.contains("PodSecurity"),
        "{reason}"
    );
}
