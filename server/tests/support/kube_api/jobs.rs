//! The Job backend's resources: Jobs (`batch/v1`), the pods the Job controller would make
//! for them, their logs and events. Nothing runs: a Job's one pod exists from its create,
//! `running` until the Job completes (at once, or after [`Jobs::hold`] when the test says
//! [`super::KubeApi::complete`]), then `terminated` with exit code 0 and the log
//! [`POD_LOG`].
//!
//! As the API documents them:
//! - `POST /apis/batch/v1/namespaces/{ns}/jobs`: `201` with the Job, a fresh
//!   `metadata.uid` and `metadata.creationTimestamp`; `409 AlreadyExists` when a Job of that
//!   name exists; while [`Jobs::failing_creates`] says so, `503 ServiceUnavailable` (as an
//!   API server without etcd answers).
//! - `GET .../jobs/{name}`: the Job with its `status`: `active: 1` until it completes, then
//!   `succeeded: 1` and the conditions `SuccessCriteriaMet` and `Complete` `True`.
//! - `DELETE .../jobs/{name}`: removes the Job and its pod at once (as `propagationPolicy:
//!   Background` ends, sooner), `200` with a `Success` Status.
//! - `GET /api/v1/namespaces/{ns}/pods?labelSelector=K=V`: a `PodList` of the pod of each
//!   Job whose labels (those the Job controller sets: `batch.kubernetes.io/controller-uid`
//!   and `batch.kubernetes.io/job-name`) match the one equality `K=V`.
//! - `GET /api/v1/namespaces/{ns}/pods/{name}/log`: that pod's log, [`POD_LOG`].
//! - `GET /api/v1/namespaces/{ns}/events`: an empty `EventList` (no pod is ever refused).
//!
//! Not modelled: the Job controller's retries, admission, `resourceVersion` on Jobs,
//! set-based pod selectors (answered `404`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Cluster, Reply, Request, api_time_now, failure, not_found, success};

/// What the stub's pods print (the example rule's `kubectl delete pod`).
pub(crate) const POD_LOG: &str = "pod \"web-7d9f-x2x1q\" deleted\n";
/// The label the Job controller puts on a Job's pods: the Job's uid.
pub(crate) const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";

/// The uid of the `n`th Job created (from 1).
pub(crate) fn job_uid(n: usize) -> String {
    format!("0b7c6d9e-1111-4222-8333-{n:012}")
}

/// The name of the pod of Job `job` (the controller's: the Job's name and a suffix).
pub(crate) fn pod_name(job: &str) -> String {
    format!("{job}-x7k2p")
}

/// A Job held.
#[derive(Debug)]
struct StubJob {
    /// The Job as created (with `metadata.uid` and `metadata.creationTimestamp` set).
    object: Value,
    /// Whether it has completed (its pod terminated with exit code 0).
    complete: bool,
}

/// The Jobs of every namespace, and how their creates behave.
#[derive(Debug, Default)]
pub(super) struct Jobs {
    /// By (namespace, name).
    held: BTreeMap<(String, String), StubJob>,
    /// How many Jobs were ever created (numbers their uids).
    created: usize,
    /// How many more Job creates to answer `503` (`usize::MAX`: all).
    pub(super) failing_creates: usize,
    /// Whether new Jobs stay active until completed.
    pub(super) hold: bool,
    /// Whether Job creates are never answered (the connection held open).
    pub(super) hanging_creates: bool,
}

impl Jobs {
    fn find(&mut self, name: &str) -> (String, String) {
        self.held
            .keys()
            .find(|(_, n)| n == name)
            .unwrap_or_else(|| panic!("no Job named {name}"))
            .clone()
    }

    pub(super) fn complete(&mut self, name: &str) {
        let key = self.find(name);
        self.held.get_mut(&key).expect("found above").complete = true;
    }

    pub(super) fn vanish(&mut self, name: &str) {
        let key = self.find(name);
        self.held.remove(&key);
    }
}

/// Whether `path` is a namespace's Job collection.
pub(super) fn is_jobs(path: &str) -> bool {
    matches!(
        segments(path).as_slice(),
        ["apis", "batch", "v1", "namespaces", _, "jobs"]
    )
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_start_matches('/').split('/').collect()
}

/// The answer to a request for a Job, pod, log or event; `None` for other paths.
pub(super) fn answer(cluster: &mut Cluster, request: &Request<'_>) -> Option<Reply> {
    let jobs = &mut cluster.jobs;
    let key = |ns: &str, name: &str| (ns.to_owned(), name.to_owned());
    Some(match (request.method, segments(request.path).as_slice()) {
        ("POST", ["apis", "batch", "v1", "namespaces", ns, "jobs"]) => {
            create(jobs, ns, request.body.clone())
        }
        ("GET", ["apis", "batch", "v1", "namespaces", ns, "jobs", name]) => {
            match jobs.held.get(&key(ns, name)) {
                Some(job) => Reply::json(200, &job_with_status(job)),
                None => not_found("batch", "jobs", name),
            }
        }
        ("DELETE", ["apis", "batch", "v1", "namespaces", ns, "jobs", name]) => {
            match jobs.held.remove(&key(ns, name)) {
                Some(job) => success(json!({"name": name, "group": "batch", "kind": "jobs",
                    "uid": job.object["metadata"]["uid"]})),
                None => not_found("batch", "jobs", name),
            }
        }
        ("GET", ["api", "v1", "namespaces", ns, "pods"]) => list_pods(jobs, ns, request),
        ("GET", ["api", "v1", "namespaces", _, "events"]) => Reply::json(
            200,
            &json!({"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": []}),
        ),
        ("GET", ["api", "v1", "namespaces", ns, "pods", pod, "log"]) => {
            let exists = jobs
                .held
                .keys()
                .any(|(n, job)| n == ns && pod_name(job) == *pod);
            if exists {
                Reply {
                    code: 200,
                    content_type: "text/plain",
                    body: POD_LOG.to_owned(),
                }
            } else {
                not_found("", "pods", pod)
            }
        }
        _ => return None,
    })
}

fn create(jobs: &mut Jobs, ns: &str, mut job: Value) -> Reply {
    if jobs.failing_creates > 0 {
        if jobs.failing_creates != usize::MAX {
            jobs.failing_creates -= 1;
        }
        return failure(
            503,
            "ServiceUnavailable",
            "etcdserver: request timed out",
            None,
        );
    }
    let name = job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if jobs.held.contains_key(&(ns.to_owned(), name.clone())) {
        return failure(
            409,
            "AlreadyExists",
            &format!("jobs.batch \"{name}\" already exists"),
            Some(json!({"name": name, "group": "batch", "kind": "jobs"})),
        );
    }
    jobs.created += 1;
    job["metadata"]["namespace"] = json!(ns);
    job["metadata"]["uid"] = json!(job_uid(jobs.created));
    job["metadata"]["creationTimestamp"] = json!(api_time_now());
    let reply = Reply::json(201, &job);
    let complete = !jobs.hold;
    jobs.held.insert(
        (ns.to_owned(), name),
        StubJob {
            object: job,
            complete,
        },
    );
    reply
}

fn list_pods(jobs: &Jobs, ns: &str, request: &Request<'_>) -> Reply {
    let selector = request
        .query
        .get("labelSelector")
        .cloned()
        .unwrap_or_default();
    let Some((key, value)) = selector.split_once('=') else {
        return failure(
            404,
            "NotFound",
            &format!("the stub has no selector {selector:?}"),
            None,
        );
    };
    let items: Vec<Value> = jobs
        .held
        .iter()
        .filter(|((n, name), job)| {
            let uid = job.object["metadata"]["uid"].as_str().unwrap_or_default();
            n == ns
                && ((key == CONTROLLER_UID && value == uid)
                    || (key == JOB_NAME && value == name.as_str()))
        })
        .map(|((_, name), job)| pod_of(ns, name, job))
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items});
    Reply::json(200, &list)
}

fn job_with_status(job: &StubJob) -> Value {
    let mut object = job.object.clone();
    object["status"] = if job.complete {
        json!({"succeeded": 1, "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True"},
            {"type": "Complete", "status": "True"}]})
    } else {
        json!({"active": 1})
    };
    object
}

fn pod_of(ns: &str, job: &str, stub: &StubJob) -> Value {
    let uid = stub.object["metadata"]["uid"].clone();
    let container = stub.object["spec"]["template"]["spec"]["containers"][0]["name"].clone();
    let state = if stub.complete {
        json!({"terminated": {"exitCode": 0, "reason": "Completed"}})
    } else {
        json!({"running": {}})
    };
    json!({
        "metadata": {"name": pod_name(job), "namespace": ns,
                     "creationTimestamp": stub.object["metadata"]["creationTimestamp"],
                     "labels": {CONTROLLER_UID: uid, JOB_NAME: job}},
        "spec": {"containers": [{"name": container, "image": "bitnami/kubectl:1.33"}]},
        "status": {"containerStatuses": [{
            "name": container, "image": "bitnami/kubectl:1.33", "imageID": "", "ready": false,
            "restartCount": 0, "state": state}]}
    })
}
