//! `alertrun serve` with a Kubernetes Job action, driven as a user drives it: a webhook in,
//! a Job created through the API, its end and log recorded; across a `kill -9` and a
//! restart on the same state, and while the API server is down or unavailable. The API
//! server is a stub on loopback (no cluster runs here) that alertrun reaches through a
//! `KUBECONFIG`, so the real client, config loading, executor and store are used; the
//! stub ([`StubApi`]) answers the calls the Job backend makes as the API documents them,
//! and records every request.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::history::{get_json, json_of, post_json, runs_page};
use support::http::{Kind, read_message};
use support::{Alertrun, free_port, prom_time, wait_for};

const NS: &str = "remediation";
const RULE: &str = "delete-crashlooping-pod";
/// What the stub's pods print (the example rule's `kubectl delete pod`).
const POD_LOG: &str = "pod \"web-7d9f-x2x1q\" deleted\n";
/// The label the Job controller puts on a Job's pods: the Job's uid.
const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// How long a test waits for something alertrun does within seconds.
const WAIT: Duration = Duration::from_secs(15);

/// One request the stub saw.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    /// The path with its query, as sent.
    target: String,
    /// The body as JSON (`Null` when empty or not JSON).
    body: Value,
    /// The status the stub answered.
    status: u16,
    /// The `Authorization` header, as sent.
    authorization: Option<String>,
}

/// A Job the stub holds.
#[derive(Debug)]
struct StubJob {
    /// The Job as created (with `metadata.uid` and `metadata.creationTimestamp` set).
    object: Value,
    /// Whether it has completed (its pod terminated with exit code 0).
    complete: bool,
}

/// What the stub holds and how it behaves.
#[derive(Debug, Default)]
struct Cluster {
    /// The Jobs of namespace [`NS`], by name.
    jobs: BTreeMap<String, StubJob>,
    /// How many Jobs were ever created (numbers their uids).
    created: usize,
    /// How many more Job creates to answer `503 ServiceUnavailable` (`usize::MAX`: all).
    failing_creates: usize,
    /// Whether new Jobs stay active until [`StubApi::complete`] (else they complete at once).
    hold: bool,
    /// Whether every request is dropped unanswered (the connection closed).
    down: bool,
    /// Whether Job creates are never answered (the connection held open).
    hanging_creates: bool,
    seen: Vec<Seen>,
}

/// A stub Kubernetes API server on loopback, for namespace [`NS`] only.
///
/// What it implements, as the Kubernetes API reference documents it (JSON only):
/// - `POST /apis/batch/v1/namespaces/{ns}/jobs`: creates the Job: `201` with the Job, a
///   fresh `metadata.uid` and `metadata.creationTimestamp`; `409` `AlreadyExists` when a
///   Job of that name exists. While [`StubApi::fail_creates`] says so, `503`
///   `ServiceUnavailable` instead (as an API server without etcd answers).
/// - `GET /apis/batch/v1/namespaces/{ns}/jobs/{name}`: the Job with its `status`: `active: 1`
///   until it completes, then `succeeded: 1` and the conditions `SuccessCriteriaMet` and
///   `Complete` `True`. A Job completes at once, or, after [`StubApi::hold_jobs`], when
///   the test calls [`StubApi::complete`].
/// - `DELETE /apis/batch/v1/namespaces/{ns}/jobs/{name}`: removes the Job and its pod at
///   once (as `propagationPolicy: Background` ends, sooner), `200` with a `Success` Status.
/// - `GET /api/v1/namespaces/{ns}/pods?labelSelector=K=V`: a `PodList` of the one pod of
///   each Job whose labels (those the Job controller sets: `batch.kubernetes.io/controller-uid`
///   and `batch.kubernetes.io/job-name`) match the one equality `K=V`; its container is `running`, or
///   `terminated` with exit code 0 once the Job completed.
/// - `GET /api/v1/namespaces/{ns}/pods/{name}/log`: that pod's log, [`POD_LOG`].
/// - `GET /api/v1/namespaces/{ns}/events`: an empty `EventList` (no pod is ever refused).
/// - [`StubApi::vanish`] removes a Job and its pod, as the TTL controller and the garbage
///   collector do together when `ttlSecondsAfterFinished` is 0 (or someone deletes it).
///
/// While [`StubApi::set_down`], every request is recorded (status 0) and its connection
/// closed unanswered, as by a server going away; after [`StubApi::hang_creates`], a Job
/// create is recorded (status 0) and never answered, as by an API server whose storage
/// stalls.
///
/// Every other request (other namespaces or resources, watches, set-based selectors) is
/// answered `404` `NotFound`, and nothing of the Job controller, admission, RBAC or
/// `resourceVersion` is modelled.
#[derive(Debug, Clone)]
struct StubApi {
    addr: SocketAddr,
    cluster: Arc<Mutex<Cluster>>,
}

impl StubApi {
    /// A stub on a fresh loopback port.
    fn start() -> Self {
        Self::start_on(0)
    }

    /// A stub on loopback port `port` (0: any).
    fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let addr = listener.local_addr().unwrap();
        let cluster: Arc<Mutex<Cluster>> = Arc::default();
        let shared = Arc::clone(&cluster);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let cluster = Arc::clone(&shared);
                thread::spawn(move || serve_connection(stream, &cluster));
            }
        });
        Self { addr, cluster }
    }

    fn lock(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// New Jobs stay active until [`StubApi::complete`].
    fn hold_jobs(&self) {
        self.lock().hold = true;
    }

    /// Answers the next `n` Job creates `503` (`usize::MAX`: every one until told otherwise).
    fn fail_creates(&self, n: usize) {
        self.lock().failing_creates = n;
    }

    /// Drops every request unanswered (`true`), or answers again (`false`).
    fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Never answers Job creates from now on.
    fn hang_creates(&self) {
        self.lock().hanging_creates = true;
    }

    /// Completes Job `name`: its pod terminates with exit code 0.
    fn complete(&self, name: &str) {
        self.lock().jobs.get_mut(name).unwrap().complete = true;
    }

    /// Removes Job `name` and its pod before anyone saw it end.
    fn vanish(&self, name: &str) {
        self.lock().jobs.remove(name).unwrap();
    }

    /// Every request so far, in order.
    fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// The requests with `method` so far.
    fn seen_with(&self, method: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == method)
            .collect()
    }

    /// A kubeconfig in `dir` whose current context is this stub, namespace [`NS`].
    fn kubeconfig(&self, dir: &Path) -> PathBuf {
        kubeconfig(dir, self.addr)
    }
}

/// A kubeconfig in `dir` for an API server at `addr`, namespace [`NS`].
fn kubeconfig(dir: &Path, addr: SocketAddr) -> PathBuf {
    kubeconfig_as(dir, addr, "{}")
}

/// A kubeconfig in `dir` for an API server at `addr`, namespace [`NS`], whose user is
/// `user` (a YAML flow mapping, such as `{tokenFile: /path}`).
fn kubeconfig_as(dir: &Path, addr: SocketAddr, user: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: stub\n\
             clusters: [{{name: stub, cluster: {{server: \"http://{addr}\"}}}}]\n\
             contexts: [{{name: stub, context: {{cluster: stub, user: stub, namespace: {NS}}}}}]\n\
             users: [{{name: stub, user: {user}}}]\n"
        ),
    )
    .unwrap();
    path
}

fn serve_connection(stream: TcpStream, cluster: &Mutex<Cluster>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Ok(Some(request)) = read_message(&mut reader, Kind::Request) {
        let mut parts = request.start.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let authorization = request.header("authorization").map(str::to_owned);
        let (status, content_type, reply) = {
            let mut cluster = cluster.lock().unwrap_or_else(PoisonError::into_inner);
            let hang = cluster.hanging_creates && method == "POST";
            if cluster.down || hang {
                cluster.seen.push(Seen {
                    method,
                    target,
                    body,
                    status: 0,
                    authorization,
                });
                drop(cluster);
                if hang {
                    thread::sleep(Duration::from_secs(60));
                }
                return;
            }
            let answer = cluster.answer(&method, &target, body.clone());
            cluster.seen.push(Seen {
                method,
                target,
                body,
                status: answer.0,
                authorization,
            });
            answer
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

/// A `Status` object, as the API answers errors and deletions.
fn status(code: u16, reason: &str, message: &str) -> (u16, &'static str, String) {
    let outcome = if code < 300 { "Success" } else { "Failure" };
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": outcome, "message": message, "reason": reason, "code": code});
    (code, "application/json", body.to_string())
}

/// The time now as the API writes it: RFC 3339, UTC, whole seconds.
fn api_time_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    prom_time(UNIX_EPOCH + Duration::from_secs(secs))
}

/// `%XX` escapes of a query value decoded (`+` is left alone: selectors hold none).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

impl Cluster {
    fn answer(&mut self, method: &str, target: &str, body: Value) -> (u16, &'static str, String) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let jobs = format!("/apis/batch/v1/namespaces/{NS}/jobs");
        let pods = format!("/api/v1/namespaces/{NS}/pods");
        let job_name = path.strip_prefix(&format!("{jobs}/"));
        let log_of = path
            .strip_prefix(&format!("{pods}/"))
            .and_then(|p| p.strip_suffix("/log"));
        match (method, path) {
            ("POST", p) if p == jobs => self.create(body),
            ("GET", _) if job_name.is_some() => match self.jobs.get(job_name.unwrap()) {
                Some(job) => (200, "application/json", job_with_status(job).to_string()),
                None => not_found("jobs", job_name.unwrap()),
            },
            ("DELETE", _) if job_name.is_some() => {
                let name = job_name.unwrap();
                match self.jobs.remove(name) {
                    Some(_) => status(200, "", &format!("job {name} deleted")),
                    None => not_found("jobs", name),
                }
            }
            ("GET", p) if p == pods => self.list_pods(query),
            ("GET", p) if p == format!("/api/v1/namespaces/{NS}/events") => {
                let list = json!({"apiVersion": "v1", "kind": "EventList", "metadata": {},
                                  "items": []});
                (200, "application/json", list.to_string())
            }
            ("GET", _) if log_of.is_some() => {
                let pod = log_of.unwrap();
                if self.jobs.keys().any(|job| pod_name(job) == pod) {
                    (200, "text/plain", POD_LOG.to_owned())
                } else {
                    not_found("pods", pod)
                }
            }
            _ => status(404, "NotFound", &format!("the stub has no {method} {path}")),
        }
    }

    fn create(&mut self, mut job: Value) -> (u16, &'static str, String) {
        if self.failing_creates > 0 {
            if self.failing_creates != usize::MAX {
                self.failing_creates -= 1;
            }
            return status(503, "ServiceUnavailable", "etcdserver: request timed out");
        }
        let name = job["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if self.jobs.contains_key(&name) {
            return status(
                409,
                "AlreadyExists",
                &format!("jobs.batch \"{name}\" already exists"),
            );
        }
        self.created += 1;
        job["metadata"]["namespace"] = json!(NS);
        job["metadata"]["uid"] = json!(job_uid(self.created));
        job["metadata"]["creationTimestamp"] = json!(api_time_now());
        let created = job.clone();
        self.jobs.insert(
            name,
            StubJob {
                object: job,
                complete: !self.hold,
            },
        );
        (201, "application/json", created.to_string())
    }

    fn list_pods(&self, query: &str) -> (u16, &'static str, String) {
        let selector = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("labelSelector="))
            .map(percent_decode)
            .unwrap_or_default();
        let Some((key, value)) = selector.split_once('=') else {
            return status(
                404,
                "NotFound",
                &format!("the stub has no selector {selector:?}"),
            );
        };
        let items: Vec<Value> = self
            .jobs
            .iter()
            .filter(|(name, job)| {
                let uid = job.object["metadata"]["uid"].as_str().unwrap_or_default();
                (key == CONTROLLER_UID && value == uid)
                    || (key == "batch.kubernetes.io/job-name" && value == name.as_str())
            })
            .map(|(name, job)| pod_of(name, job))
            .collect();
        let list = json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items});
        (200, "application/json", list.to_string())
    }
}

fn not_found(resource: &str, name: &str) -> (u16, &'static str, String) {
    status(404, "NotFound", &format!("{resource} \"{name}\" not found"))
}

/// The uid of the `n`th Job created (from 1).
fn job_uid(n: usize) -> String {
    format!("0b7c6d9e-1111-4222-8333-{n:012}")
}

/// The name of the pod of Job `job` (the controller's: the Job's name and a suffix).
fn pod_name(job: &str) -> String {
    format!("{job}-x7k2p")
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

fn pod_of(job: &str, stub: &StubJob) -> Value {
    let uid = stub.object["metadata"]["uid"].clone();
    let container = stub.object["spec"]["template"]["spec"]["containers"][0]["name"].clone();
    let state = if stub.complete {
        json!({"terminated": {"exitCode": 0, "reason": "Completed"}})
    } else {
        json!({"running": {}})
    };
    json!({
        "metadata": {"name": pod_name(job), "namespace": NS,
                     "creationTimestamp": stub.object["metadata"]["creationTimestamp"],
                     "labels": {CONTROLLER_UID: uid, "batch.kubernetes.io/job-name": job}},
        "spec": {"containers": [{"name": container, "image": "bitnami/kubectl:1.33"}]},
        "status": {"containerStatuses": [{
            "name": container, "image": "bitnami/kubectl:1.33", "imageID": "", "ready": false,
            "restartCount": 0, "state": state}]}
    })
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
fn start_with_held_jobs() -> (StubApi, tempfile::TempDir, PathBuf, Alertrun) {
    let stub = StubApi::start();
    stub.hold_jobs();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path());
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
    let stub = StubApi::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path());
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
    let stub = StubApi::start();
    stub.hold_jobs();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path());
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
    let stub = StubApi::start();
    stub.hold_jobs();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path());
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

    let stub = StubApi::start_on(port);
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
    let stub = StubApi::start_on(port);
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
    let stub = StubApi::start();
    stub.fail_creates(usize::MAX);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path());
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
    let stub = StubApi::start();
    stub.hang_creates();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = stub.kubeconfig(dir.path());
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
    let stub = StubApi::start();
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
