//! `alertrun serve` with a Kubernetes Job action, driven as a user drives it: a webhook in,
//! a Job created through the API, its end and log recorded. The API server is a stub on
//! loopback (no cluster runs here) that alertrun reaches through a `KUBECONFIG`, so the
//! real client, config loading and executor are used; the stub answers like the API does
//! and records every request.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::io::{BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use support::http::{Kind, read_message};
use support::{Alertrun, wait_for};

const NS: &str = "remediation";
const JOB_UID: &str = "0b7c6d9e-1111-4222-8333-444455556666";

/// The requests the stub saw: (method, path with query, body).
type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

/// A stub Kubernetes API: creates Jobs, reports them Complete, lists one pod for them and
/// serves its log.
fn stub_api() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&log);
            thread::spawn(move || serve_connection(stream, &log));
        }
    });
    (addr, seen)
}

fn serve_connection(stream: TcpStream, seen: &Seen) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut created: Option<Value> = None;
    while let Ok(Some(request)) = read_message(&mut reader, Kind::Request) {
        let mut parts = request.start.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        seen.lock()
            .unwrap()
            .push((method.clone(), target.clone(), body.clone()));
        let path = target.split('?').next().unwrap_or_default();
        let jobs = format!("/apis/batch/v1/namespaces/{NS}/jobs");
        let (status, content_type, reply) = if method == "POST" && path == jobs {
            let mut job = body;
            job["metadata"]["uid"] = json!(JOB_UID);
            created = Some(job.clone());
            (201, "application/json", job.to_string())
        } else if method == "GET" && path.starts_with(&format!("{jobs}/")) {
            let name = path.rsplit('/').next().unwrap_or_default();
            let mut job = created.clone().unwrap_or_else(|| {
                json!({"apiVersion": "batch/v1", "kind": "Job",
                       "metadata": {"name": name, "namespace": NS, "uid": JOB_UID}})
            });
            job["status"] =
                json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]});
            (200, "application/json", job.to_string())
        } else if method == "GET" && path == format!("/api/v1/namespaces/{NS}/pods") {
            let pod = json!({
                "metadata": {"name": "fix-pod-1", "namespace": NS,
                             "creationTimestamp": "2026-11-21T10:00:00Z"},
                "spec": {"containers": [{"name": "action", "image": "kubectl"}]},
                "status": {"containerStatuses": [{
                    "name": "action", "image": "kubectl", "imageID": "", "ready": false,
                    "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}]}
            });
            let list =
                json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [pod]});
            (200, "application/json", list.to_string())
        } else if method == "GET" && path.ends_with("/log") {
            (
                200,
                "text/plain",
                "pod \"web-7d9f-x2x1q\" deleted\n".to_owned(),
            )
        } else {
            let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": format!("stub has no {method} {path}"), "reason": "NotFound", "code": 404});
            (404, "application/json", status.to_string())
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            reply.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(reply.as_bytes()).is_err()
        {
            return;
        }
    }
}

#[test]
fn a_webhook_creates_the_job_once_and_records_its_end_and_log() {
    let (api, seen) = stub_api();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: stub\n\
             clusters: [{{name: stub, cluster: {{server: \"http://{api}\"}}}}]\n\
             contexts: [{{name: stub, context: {{cluster: stub, user: stub, namespace: {NS}}}}}]\n\
             users: [{{name: stub, user: {{}}}}]\n"
        ),
    )
    .unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let server = Alertrun::start(
        &root.join("examples/alertrun.yaml"),
        &[("KUBECONFIG", kubeconfig.as_os_str())],
    );
    let body = std::fs::read(root.join("examples/payloads/pod-crashlooping.json")).unwrap();
    for _ in 0..2 {
        let answer = support::http::request(server.addr, "POST", "/webhook", Some(&body)).unwrap();
        assert_eq!(answer.status, 200, "{}", answer.text());
    }

    let run = wait_for(
        "the Job's run recorded succeeded",
        Duration::from_secs(30),
        || {
            let page = support::http::request(
                server.addr,
                "GET",
                "/api/v1/runs?rule=delete-crashlooping-pod",
                None,
            )
            .ok()?;
            let page: Value = serde_json::from_slice(&page.body).ok()?;
            let runs = page["runs"].as_array()?.clone();
            (runs.len() == 1 && runs[0]["state"] == "succeeded").then(|| runs[0].clone())
        },
    );
    assert_eq!(run["executor"], "kubernetes");
    assert_eq!(run["exit"], "exit 0");
    assert_eq!(run["stdout"], "pod \"web-7d9f-x2x1q\" deleted\n");

    let seen = seen.lock().unwrap().clone();
    let creates: Vec<&(String, String, Value)> =
        seen.iter().filter(|(m, _, _)| m == "POST").collect();
    assert_eq!(
        creates.len(),
        1,
        "one Job for one episode, however often notified: {seen:#?}"
    );
    let job = &creates[0].2;
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
            "--namespace",
            "$(ALERTRUN_LABEL_namespace)",
            "$(ALERTRUN_LABEL_pod)",
            "--wait=false"
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
    assert!(
        seen.iter().any(|(m, t, _)| m == "GET"
            && t.contains("/pods?")
            && t.contains("controller-uid%3D0b7c6d9e")
            || t.contains(&format!("controller-uid={JOB_UID}"))),
        "{seen:#?}"
    );
}
