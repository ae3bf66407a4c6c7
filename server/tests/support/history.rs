//! alertrun's own API as a user sees it: posting notifications, the run history
//! (`/api/v1/runs`), and waiting until every accepted run has ended.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use super::http::{self, Message};
use super::wait_for;

/// `GET path`: the status and the body as JSON (`Null` when it is not JSON).
pub(crate) fn get_json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let resp = http::request(addr, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let body = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp.status, body)
}

/// `POST path` with `body` as JSON: the whole response, or the I/O error (e.g. when
/// alertrun died while answering).
pub(crate) fn post_json(addr: SocketAddr, path: &str, body: &Value) -> std::io::Result<Message> {
    let bytes = serde_json::to_vec(body).expect("a JSON value serialises");
    http::exchange(addr, "POST", path, Some(&bytes))
}

/// A response body as JSON (`Null` when it is not JSON).
pub(crate) fn json_of(msg: &Message) -> Value {
    serde_json::from_slice(&msg.body).unwrap_or(Value::Null)
}

/// One page of `GET /api/v1/runs?query`: the runs and `next`.
///
/// # Panics
/// Unless alertrun answers 200 with a `runs` array.
pub(crate) fn runs_page(addr: SocketAddr, query: &str) -> (Vec<Value>, Option<u64>) {
    let (status, body) = get_json(addr, &format!("/api/v1/runs?{query}"));
    assert_eq!(status, 200, "GET /api/v1/runs?{query}: {body}");
    let runs = body["runs"]
        .as_array()
        .unwrap_or_else(|| panic!("GET /api/v1/runs?{query}: no runs array: {body}"))
        .clone();
    (runs, body["next"].as_u64())
}

/// Every run that passes `query` (no `limit`/`before`), newest first, following `next`.
pub(crate) fn all_runs(addr: SocketAddr, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let mut q = format!("{query}&limit=1000");
        if let Some(b) = before {
            q.push_str(&format!("&before={b}"));
        }
        let (page, next) = runs_page(addr, &q);
        all.extend(page);
        match next {
            Some(n) => before = Some(n),
            None => return all,
        }
    }
}

/// Waits until the history holds no `queued` or `running` run.
pub(crate) fn wait_settled(addr: SocketAddr, timeout: Duration) {
    wait_for(
        "every run to end (none queued, starting or running)",
        timeout,
        || {
            let unfinished = ["queued", "starting", "running"].iter().any(|state| {
                !runs_page(addr, &format!("state={state}&limit=1"))
                    .0
                    .is_empty()
            });
            (!unfinished).then_some(())
        },
    );
}

/// A label of a run record.
pub(crate) fn run_label<'a>(run: &'a Value, name: &str) -> &'a str {
    run["labels"][name].as_str().unwrap_or("")
}

/// The `state` of a run record.
pub(crate) fn run_state(run: &Value) -> &str {
    run["state"].as_str().unwrap_or("")
}
