//! A loopback Kubernetes API server for the tests that run `alertrun serve` against a
//! cluster: no cluster runs here, so the real client, config loading, executor, store and
//! claim protocol talk to this server instead, each alertrun process through its own
//! `KUBECONFIG` ([`KubeApi::kubeconfig`]) pointing at `http://127.0.0.1:<port>`.
//!
//! What it is: the few resources alertrun uses, answered as the Kubernetes API answers
//! them, JSON only, in any namespace:
//! - Jobs, their pods, logs and events, for the Job backend (`jobs.rs`: what a Job
//!   controller and kubelet would make of a Job is simulated, nothing is run);
//! - `coordination.k8s.io/v1` Leases, the claims of `server.ha` (`leases.rs`), with the
//!   API server's optimistic concurrency as it behaves: a global, increasing
//!   `resourceVersion`, `409 Conflict` on a stale one, `409 AlreadyExists`, validation
//!   (`422 Invalid`), label selectors, `limit`/`continue`, delete preconditions.
//!
//! Errors are `Status` objects shaped as the API server's (`kind: Status`, `status:
//! Failure`, `message`, `reason`, `details`, `code`), so that kube parses them into
//! `kube::Error::Api`. `server/tests/kube_api_stub.rs` holds the stub to that with the real
//! kube client.
//!
//! Faults on demand: every request answered `503` ([`KubeApi::set_unavailable`]), every
//! connection closed unanswered ([`KubeApi::set_down`]), a delay before each answer
//! ([`KubeApi::set_delay`]), Job creates failed or never answered. Every request is logged
//! (method, path with query, body, status, `Authorization`: [`KubeApi::seen`]) for exact
//! assertions. One server is shared safely by several alertrun processes and the test.
//!
//! What it is not: no watch, no admission, RBAC, authentication, managedFields, server-side
//! apply, PATCH, dry runs or finalizers; a list's `continue` pages the live objects rather
//! than a snapshot; other resources and paths answer `404 NotFound`.

mod jobs;
mod leases;
mod selector;
mod validation;

use std::collections::BTreeMap;
use std::io::{BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::http::{Kind, read_message};
use super::prom_time;

pub(crate) use jobs::{CONTROLLER_UID, POD_LOG, job_uid, pod_name};

/// One request the server saw.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: String,
    /// The path with its query, as sent.
    pub(crate) target: String,
    /// The body as JSON (`Null` when empty or not JSON).
    pub(crate) body: Value,
    /// The status answered; 0 when the connection was closed or held unanswered.
    pub(crate) status: u16,
    /// The `Authorization` header, as sent.
    pub(crate) authorization: Option<String>,
}

/// What the server holds and how it behaves.
#[derive(Debug, Default)]
struct Cluster {
    jobs: jobs::Jobs,
    leases: leases::Leases,
    /// The last `resourceVersion` given out: one counter for every write, as etcd's
    /// revision.
    revision: u64,
    /// How many objects were ever created (numbers their uids).
    uids: u64,
    /// Whether every request is answered `503 ServiceUnavailable`.
    unavailable: bool,
    /// Whether every request is dropped unanswered (the connection closed).
    down: bool,
    /// How long to wait before answering each request.
    delay: Duration,
    seen: Vec<Seen>,
}

impl Cluster {
    /// The next `resourceVersion`.
    fn next_revision(&mut self) -> u64 {
        self.revision += 1;
        self.revision
    }

    /// A fresh uid, as the API server gives one to each object it creates.
    fn next_uid(&mut self) -> String {
        self.uids += 1;
        format!("5d1c3a7e-2222-4333-8444-{:012}", self.uids)
    }
}

/// A loopback Kubernetes API server (see the module docs). Cloning shares it.
#[derive(Debug, Clone)]
pub(crate) struct KubeApi {
    pub(crate) addr: SocketAddr,
    cluster: Arc<Mutex<Cluster>>,
}

impl KubeApi {
    /// A server on a fresh loopback port.
    pub(crate) fn start() -> Self {
        Self::start_on(0)
    }

    /// A server on loopback port `port` (0: any).
    pub(crate) fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
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
        lock(&self.cluster)
    }

    /// Answers every request `503 ServiceUnavailable` (`true`), or normally again (`false`).
    pub(crate) fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// Drops every request unanswered (`true`), or answers again (`false`).
    pub(crate) fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Waits `delay` before answering each request from now on.
    pub(crate) fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// New Jobs stay active until [`KubeApi::complete`].
    pub(crate) fn hold_jobs(&self) {
        self.lock().jobs.hold = true;
    }

    /// Answers the next `n` Job creates `503` (`usize::MAX`: every one until told otherwise).
    pub(crate) fn fail_creates(&self, n: usize) {
        self.lock().jobs.failing_creates = n;
    }

    /// Never answers Job creates from now on.
    pub(crate) fn hang_creates(&self) {
        self.lock().jobs.hanging_creates = true;
    }

    /// Completes Job `name`: its pod terminates with exit code 0.
    ///
    /// # Panics
    /// When no Job has that name.
    pub(crate) fn complete(&self, name: &str) {
        self.lock().jobs.complete(name);
    }

    /// Removes Job `name` and its pod before anyone saw it end, as the TTL controller and
    /// the garbage collector do together when `ttlSecondsAfterFinished` is 0.
    ///
    /// # Panics
    /// When no Job has that name.
    pub(crate) fn vanish(&self, name: &str) {
        self.lock().jobs.vanish(name);
    }

    /// The Lease `namespace/name` as stored, if it exists.
    pub(crate) fn lease(&self, namespace: &str, name: &str) -> Option<Value> {
        self.lock().leases.stored(namespace, name)
    }

    /// Every Lease of `namespace` as stored, by name.
    pub(crate) fn leases(&self, namespace: &str) -> BTreeMap<String, Value> {
        self.lock().leases.all_in(namespace)
    }

    /// Every request so far, in order.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// The requests with `method` so far.
    pub(crate) fn seen_with(&self, method: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == method)
            .collect()
    }

    /// A kubeconfig in `dir` whose current context is this server and `namespace`.
    pub(crate) fn kubeconfig(&self, dir: &Path, namespace: &str) -> PathBuf {
        kubeconfig(dir, self.addr, namespace, "{}")
    }
}

/// Writes `dir/kubeconfig` for an API server at `addr` (plain HTTP), namespace
/// `namespace`, whose user is `user` (a YAML flow mapping, such as `{tokenFile: /path}`),
/// and returns its path.
pub(crate) fn kubeconfig(dir: &Path, addr: SocketAddr, namespace: &str, user: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: stub\n\
             clusters: [{{name: stub, cluster: {{server: \"http://{addr}\"}}}}]\n\
             contexts: [{{name: stub, context: {{cluster: stub, user: stub, namespace: {namespace}}}}}]\n\
             users: [{{name: stub, user: {user}}}]\n"
        ),
    )
    .expect("write the kubeconfig");
    path
}

fn lock(cluster: &Mutex<Cluster>) -> MutexGuard<'_, Cluster> {
    cluster.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the server answers: status, content type, body.
#[derive(Debug)]
struct Reply {
    code: u16,
    content_type: &'static str,
    body: String,
}

impl Reply {
    fn json(code: u16, body: &Value) -> Self {
        Self {
            code,
            content_type: "application/json",
            body: body.to_string(),
        }
    }
}

/// One request, parsed.
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    /// The query's parameters, decoded.
    query: BTreeMap<String, String>,
    body: Value,
}

fn serve_connection(stream: TcpStream, cluster: &Mutex<Cluster>) {
    // Each answer is one write, sent at once: with Nagle's algorithm on, a second write
    // would wait for the client's delayed ACK (40 ms), which no real API server makes one
    // wait.
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Ok(Some(request)) = read_message(&mut reader, Kind::Request) {
        let mut parts = request.start.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let authorization = request.header("authorization").map(str::to_owned);
        let delay = lock(cluster).delay;
        if !delay.is_zero() {
            thread::sleep(delay);
        }
        let reply = {
            let mut cluster = lock(cluster);
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let hang = cluster.jobs.hanging_creates && method == "POST" && jobs::is_jobs(path);
            let mut seen = Seen {
                method: method.clone(),
                target: target.clone(),
                body: body.clone(),
                status: 0,
                authorization,
            };
            if cluster.down || hang {
                cluster.seen.push(seen);
                drop(cluster);
                if hang {
                    thread::sleep(Duration::from_secs(60));
                }
                return;
            }
            let reply = if cluster.unavailable {
                failure(
                    503,
                    "ServiceUnavailable",
                    "etcdserver: request timed out",
                    None,
                )
            } else {
                let request = Request {
                    method: &method,
                    path,
                    query: parse_query(query),
                    body,
                };
                cluster.answer(&request)
            };
            seen.status = reply.code;
            cluster.seen.push(seen);
            reply
        };
        let answer = format!(
            "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n{}",
            reply.code,
            reply.content_type,
            reply.body.len(),
            reply.body
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

impl Cluster {
    fn answer(&mut self, request: &Request<'_>) -> Reply {
        if let Some(reply) = jobs::answer(self, request) {
            return reply;
        }
        if let Some(reply) = leases::answer(self, request) {
            return reply;
        }
        failure(
            404,
            "NotFound",
            &format!(
                "the server could not find the requested resource ({} {})",
                request.method, request.path
            ),
            None,
        )
    }
}

/// A `Status` answering a failed request, as the API server writes one.
fn failure(code: u16, reason: &str, message: &str, details: Option<Value>) -> Reply {
    let mut status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code});
    if reason.is_empty() {
        // The API server leaves an unknown reason out.
        status.as_object_mut().map(|s| s.remove("reason"));
    }
    if let Some(details) = details {
        status["details"] = details;
    }
    Reply::json(code, &status)
}

/// A `Status` answering a successful deletion: what it deleted, no message.
fn success(details: Value) -> Reply {
    let mut status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Success"});
    status["details"] = details;
    Reply::json(200, &status)
}

/// `404 NotFound` for `name` of `resource` (`leases.coordination.k8s.io`, `pods`).
fn not_found(group: &str, resource: &str, name: &str) -> Reply {
    let qualified = qualified(group, resource);
    failure(
        404,
        "NotFound",
        &format!("{qualified} \"{name}\" not found"),
        Some(details(group, resource, name)),
    )
}

/// `400 BadRequest` saying `message`.
fn bad_request(message: &str) -> Reply {
    failure(400, "BadRequest", message, None)
}

/// A resource named as the API's messages name it: `leases.coordination.k8s.io`, `pods`.
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

/// A Status's `details` for an object: its `kind` is the resource, as the API server
/// writes it.
fn details(group: &str, resource: &str, name: &str) -> Value {
    let mut details = json!({"name": name, "kind": resource});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    details
}

/// The time now as the API writes it: RFC 3339, UTC, whole seconds.
fn api_time_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    prom_time(UNIX_EPOCH + Duration::from_secs(secs))
}

/// A query string's parameters, `+` and `%XX` decoded as a form is.
fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// `%XX` escapes decoded (`+` is left alone: selectors hold none).
pub(crate) fn percent_decode(s: &str) -> String {
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
    String::from_utf8_lossy(&out).into_owned()
}
