//! A mocked Kubernetes API for tests of code that drives a [`JobExecutor`](crate::JobExecutor)
//! (feature `test-util`): a [`kube::Client`] whose requests the test takes one by one,
//! asserts, and answers.
//!
//! Every request is checked against [`API_CALLS`]: one the list does not name (so the
//! shipped Role would not grant it) fails the test at once, and [`calls_seen`] tells
//! which of the list's calls the process has seen, for a test that every entry is used.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use crate::{API_CALLS, ApiCall, api_call_in};

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde::Serialize;
use serde_json::Value;
use tower_test::mock::{self, SendResponse};

/// The test's side of the mocked API.
pub type Handle = mock::Handle<Request<Body>, Response<Body>>;

/// How long [`Call::next`] waits for the client's next request.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// The calls of [`API_CALLS`] that [`Call::next`] has seen in this process.
static SEEN: Mutex<BTreeSet<ApiCall>> = Mutex::new(BTreeSet::new());

/// The calls of [`API_CALLS`] that mocked APIs have been sent in this process so far.
pub fn calls_seen() -> BTreeSet<ApiCall> {
    SEEN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// A client talking to the mocked API (default namespace `default`), and its handle.
pub fn mock_client() -> (kube::Client, Handle) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), handle)
}

/// One request the client made, taken apart for asserting.
#[derive(Debug)]
pub struct Call {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The query pairs, decoded.
    pub query: Vec<(String, String)>,
    /// The JSON body, or `Null` when empty.
    pub body: Value,
    respond: SendResponse<Response<Body>>,
}

impl Call {
    /// The next request, within [`CALL_TIMEOUT`].
    ///
    /// # Panics
    /// When no request comes in time, or its body or query is not what an API client sends
    /// (the test fails).
    pub async fn next(handle: &mut Handle) -> Self {
        Self::next_in(handle, API_CALLS, "executor_k8s::API_CALLS").await
    }

    /// The next request, within [`CALL_TIMEOUT`], checked against `calls` (another
    /// component's list, named `list` in the failure message) instead of [`API_CALLS`].
    ///
    /// # Panics
    /// As [`Call::next`].
    pub async fn next_in(handle: &mut Handle, calls: &[ApiCall], list: &str) -> Self {
        let (request, respond) = tokio::time::timeout(CALL_TIMEOUT, handle.next_request())
            .await
            .expect("the executor made the next call in time")
            .expect("the client is alive");
        let (parts, body) = request.into_parts();
        let call =
            api_call_in(calls, parts.method.as_str(), parts.uri.path()).unwrap_or_else(|| {
                panic!(
                    "{} {} is not one of {list} ({} calls): add it there, and \
                 its verb to the Role in deploy/",
                    parts.method,
                    parts.uri.path(),
                    calls.len()
                )
            });
        SEEN.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(call);
        let bytes = body
            .collect_bytes()
            .await
            .expect("the request body can be read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("the request body is JSON")
        };
        Self {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
                .expect("the query is form-encoded"),
            body,
            respond,
        }
    }

    /// The next request, asserted to be `method path`.
    ///
    /// # Panics
    /// When it is another request (the test fails).
    pub async fn expect(handle: &mut Handle, method: Method, path: &str) -> Self {
        let call = Self::next(handle).await;
        assert_eq!((&call.method, call.path.as_str()), (&method, path));
        call
    }

    /// The value of query parameter `key`.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Answers with `status` and `body` as JSON.
    ///
    /// # Panics
    /// When `body` does not serialise.
    pub fn reply(self, status: StatusCode, body: &impl Serialize) {
        self.reply_bytes(
            status,
            serde_json::to_vec(body).expect("the reply serialises"),
        );
    }

    /// Fails the call as a transport error would (the connection broke, or timed out):
    /// the client sees no answer, only `error`.
    pub fn fail(self, error: impl Into<Box<dyn std::error::Error + Send + Sync>>) {
        self.respond.send_error(error);
    }

    /// Answers with `status` and raw `body` bytes.
    pub fn reply_bytes(self, status: StatusCode, body: Vec<u8>) {
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        self.respond.send_response(response);
    }
}
