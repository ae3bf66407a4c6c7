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
//! It creates a Job in the `default` namespace (pulling `busybox:1.36`), waits for it and
//! deletes it afterwards.

use std::future::pending;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alert_core::env::EnvVar;
use alert_core::{ExecRequest, Executor, Exit, Outcome, Subject};
use executor_k8s::{JobAction, JobExecutor, JobOptions, job_name};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams};
use serde_json::json;

#[tokio::test]
#[ignore = "needs a cluster"]
async fn a_job_runs_to_completion_on_a_real_cluster() {
    let client = kube::Client::try_default().await.unwrap();
    let action: JobAction = serde_json::from_value(json!({
        "image": "busybox:1.36",
        "command": ["sh", "-c", "echo hello from $(ALERTRUN_LABEL_pod)"],
    }))
    .unwrap();
    let options = JobOptions::default().with_poll_interval(Duration::from_millis(500));
    let executor = JobExecutor::new(client.clone(), action, "default".into(), options);
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let req = ExecRequest {
        rule: "cluster-test".into(),
        dedup_key: format!("run-{nonce}"),
        subject: Subject::default(),
        env: vec![EnvVar::new("ALERTRUN_LABEL_pod", "web-0")],
        input: Vec::new(),
        deadline: Duration::from_secs(180),
    };
    let outcome = executor.execute(&req, Box::pin(pending())).await;

    let jobs: Api<Job> = Api::namespaced(client, "default");
    let name = job_name(&req.rule, &req.dedup_key);
    jobs.delete(&name, &DeleteParams::background()).await.ok();

    let Ok(Outcome::Finished(report)) = outcome else {
        panic!("expected Finished, got {outcome:?}");
    };
    assert_eq!(report.exit, Some(Exit::Code(0)), "{report:?}");
    assert!(report.success());
    assert_eq!(report.stdout.text(), "hello from web-0\n");
}
