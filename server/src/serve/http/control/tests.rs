//! Socket-less tests of the control routes through the whole [`app`](crate::serve::http::app),
//! with an [`Api`] that gives fixed answers and a real store in a temporary directory.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use alert_core::{BoxFuture, Notification};
use bytes::Bytes;
use serde_json::Value;
use warp::http::Response as HttpResponse;
use warp::reply::Response;

use super::super::tests::{assert_none_counted, error_of, json_body};
use super::*;
use crate::config::{Auth, Secret};
use crate::serve::api::{ReloadError, Reloaded, RuleStatus};
use crate::serve::intake::{Accepted, Intake, Refused, Source};
use crate::store::{Batch, RunRecord};

/// An intake the control tests never reach.
pub(in crate::serve::http) struct NoIntake;

impl Intake for NoIntake {
    fn accept(&self, _: Notification, _: Source) -> BoxFuture<'static, Result<Accepted, Refused>> {
        Box::pin(async { Err(Refused::ShuttingDown) })
    }
}

/// Fixed answers; counts reloads.
pub(in crate::serve::http) struct FakeApi {
    ready: AtomicBool,
    reload: Mutex<Result<Reloaded, ReloadError>>,
    reloads: Mutex<usize>,
    pub(in crate::serve::http) history: Option<Store>,
}

impl Api for FakeApi {
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    fn reload(&self) -> BoxFuture<'_, Result<Reloaded, ReloadError>> {
        *self.reloads.lock().unwrap() += 1;
        let result = self.reload.lock().unwrap().clone();
        Box::pin(async move { result })
    }

    fn rules(&self) -> Vec<RuleStatus> {
        vec![RuleStatus {
            name: "clean-disk".into(),
            description: "frees space".into(),
            matchers: vec!["alertname=\"DiskFull\"".into()],
            mode: "per-alert",
            on: "firing",
            enabled: true,
            dry_run: false,
            running: 1,
            queued: 2,
            verify: Some("within 10m".into()),
            ..RuleStatus::default()
        }]
    }

    fn history(&self) -> Option<Store> {
        self.history.clone()
    }

    fn status(&self) -> Option<crate::serve::status::ServerStatus> {
        Some(crate::serve::status::ServerStatus {
            version: "0.1.0".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            config_path: "/etc/alertrun/alertrun.yaml".into(),
            config_sha256: "ab".repeat(32),
            store_path: None,
            ..crate::serve::status::ServerStatus::default()
        })
    }
}

pub(in crate::serve::http) struct Bench {
    pub(in crate::serve::http) api: Arc<FakeApi>,
    metrics: Metrics,
    pub(in crate::serve::http) routes: BoxedFilter<(Response,)>,
    _dir: Option<tempfile::TempDir>,
}

pub(in crate::serve::http) const TOKEN: &str = "Bearer s3cret";

/// The app with a [`FakeApi`] (with a store holding runs 1 to 3 when `durable`), behind a
/// bearer token.
pub(in crate::serve::http) fn control(durable: bool) -> Bench {
    control_under(durable, None)
}

/// [`control`], with every route under `route_prefix`.
pub(in crate::serve::http) fn control_under(durable: bool, route_prefix: Option<&str>) -> Bench {
    let dir = durable.then(|| tempfile::tempdir().unwrap());
    let history = dir.as_ref().map(|d| {
        let store = Store::open(d.path()).unwrap();
        let batch = Batch {
            notifications: vec![(100, std::sync::Arc::from(&b"{}"[..]))],
            runs: (1..=3).map(record).collect(),
            ..Batch::default()
        };
        store.commit(&batch).unwrap();
        store
    });
    let api = Arc::new(FakeApi {
        ready: AtomicBool::new(false),
        reload: Mutex::new(Ok(Reloaded {
            rules: 1,
            restart_needed: vec!["server.listen"],
        })),
        reloads: Mutex::new(0),
        history,
    });
    let settings = ServerSettings {
        auth: Some(Auth::Bearer {
            token: Secret::new("s3cret"),
        }),
        route_prefix: route_prefix.map(str::to_owned),
        ..ServerSettings::default()
    };
    let metrics = Metrics::new();
    let backends = Backends::new(Arc::new(NoIntake))
        .with_api(api.clone())
        .with_metrics(metrics.clone());
    let routes = super::super::app(Arc::new(settings), backends)
        .map(|r| r)
        .boxed();
    Bench {
        api,
        metrics,
        routes,
        _dir: dir,
    }
}

pub(in crate::serve::http) fn record(id: u64) -> RunRecord {
    RunRecord {
        id,
        rule: if id == 2 { "other" } else { "clean-disk" }.into(),
        executor: "process".into(),
        notification: 100,
        alert_index: Some(0),
        fingerprint: "d284efc389a5bf32".into(),
        labels: BTreeMap::from([("alertname".into(), "DiskFull".into())]),
        status: "firing".into(),
        starts_at: "2026-01-01T00:00:00Z".into(),
        group_key: "{}:{}".into(),
        receiver: "remediator".into(),
        dedupe_key: format!("key-{id}"),
        state: RunState::Succeeded,
        reason: None,
        created_at: 1_700_000_000_000 + i64::try_from(id).unwrap(),
        started_at: None,
        ended_at: None,
        exit: Some("exit 0".into()),
        ended_by: None,
        stdout: String::new(),
        stderr: String::new(),
        argv: vec!["true".into()],
        env: Vec::new(),
        dry_run: false,
        timeline: Vec::new(),
        started: None,
        verdict: None,
        silence: None,
        approval: None,
        notifications: Vec::new(),
        claim: None,
    }
}

impl Bench {
    pub(in crate::serve::http) async fn send(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
    ) -> HttpResponse<Bytes> {
        let mut request = warp::test::request().method(method).path(path);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.reply(&self.routes).await
    }

    pub(in crate::serve::http) async fn get(&self, path: &str) -> HttpResponse<Bytes> {
        self.send("GET", path, Some(TOKEN)).await
    }
}

#[tokio::test]
async fn ready_answers_503_until_ready_then_200_without_credentials() {
    let c = control(false);
    let response = c.send("GET", "/-/ready", None).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.body().as_ref(), b"not ready\n");
    c.api.ready.store(true, Ordering::SeqCst);
    let response = c.send("GET", "/-/ready", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), b"ready\n");
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
}

#[tokio::test]
async fn reload_answers_the_number_of_rules_in_force() {
    let c = control(false);
    let response = c.send("POST", "/-/reload", Some(TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        json_body(&response),
        json!({"status": "reloaded", "rules": 1, "restart_needed": ["server.listen"]})
    );
    assert_eq!(*c.api.reloads.lock().unwrap(), 1);
}

#[tokio::test]
async fn failed_reload_is_400_with_the_reason() {
    let c = control(false);
    *c.api.reload.lock().unwrap() = Err(ReloadError::new("alertrun.yaml: rules[1].match[0]: bad"));
    let response = c.send("POST", "/-/reload", Some(TOKEN)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        json_body(&response),
        json!({"error": "alertrun.yaml: rules[1].match[0]: bad"})
    );
    assert_none_counted(&c.metrics);
}

#[tokio::test]
async fn metrics_serve_the_exposition_on_get_and_head() {
    let c = control(false);
    c.metrics.notification_received(Source::Webhook, 9);
    for method in ["GET", "HEAD"] {
        let response = c.send(method, "/metrics", Some(TOKEN)).await;
        assert_eq!(response.status(), 200, "{method}");
        assert_eq!(response.headers()["content-type"], METRICS_CONTENT_TYPE);
    }
    let response = c.get("/metrics").await;
    let body = std::str::from_utf8(response.body()).unwrap();
    assert!(
        body.contains("alertrun_alerts_received_total 9\n"),
        "{body}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
}

#[tokio::test]
async fn rules_list_each_rule_with_its_load() {
    let c = control(false);
    let response = c.get("/api/v1/rules").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        json_body(&response),
        json!({"rules": [{
            "name": "clean-disk",
            "description": "frees space",
            "match": ["alertname=\"DiskFull\""],
            "mode": "per-alert",
            "on": "firing",
            "enabled": true,
            "dry_run": false,
            "running": 1,
            "queued": 2,
            "action": null,
            "repeat": "",
            "rate_limit": null,
            "breaker": null,
            "open_breakers": 0,
            "verify": "within 10m",
            "approval": false,
            "target": [],
        }]})
    );
}

/// The ids of a `GET /api/v1/runs` answer's runs, in order.
fn run_ids(page: &Value) -> Vec<Value> {
    page["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect()
}

#[tokio::test]
async fn runs_list_newest_first_and_page_with_next() {
    let c = control(true);
    let response = c.get("/api/v1/runs?limit=2").await;
    assert_eq!(response.status(), 200);
    let page = json_body(&response);
    assert_eq!(run_ids(&page), [json!(3), json!(2)]);
    assert_eq!(page["next"], 2);
    let rest = json_body(&c.get("/api/v1/runs?limit=2&before=2").await);
    assert_eq!(rest["runs"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next"], Value::Null);
    let other = json_body(&c.get("/api/v1/runs?rule=other&state=succeeded").await);
    assert_eq!(other["runs"][0]["id"], 2);
    assert_eq!(other["runs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn runs_by_an_unindexed_filter_stop_after_a_bounded_scan_and_say_where_to_go_on() {
    let c = control(true);
    let store = c.api.history.clone().unwrap();
    let newest = 3 + u64::try_from(MAX_SCANNED).unwrap() + 1;
    store
        .commit(&Batch {
            runs: (4..=newest).map(record).collect(),
            ..Batch::default()
        })
        .unwrap();
    let mut rare = record(1);
    rare.labels.insert("alertname".into(), "Rare".into());
    store
        .commit(&Batch {
            runs: vec![rare],
            ..Batch::default()
        })
        .unwrap();

    let first = json_body(&c.get("/api/v1/runs?alertname=Rare").await);
    assert_eq!(first["runs"], json!([]));
    assert_eq!(first["scanned"], MAX_SCANNED);
    let next = first["next"].as_u64().expect("a next page");
    assert_eq!(next, newest - u64::try_from(MAX_SCANNED).unwrap() + 1);

    let second = json_body(
        &c.get(&format!("/api/v1/runs?alertname=Rare&before={next}"))
            .await,
    );
    assert_eq!(run_ids(&second), [json!(1)]);
    assert_eq!(second["next"], Value::Null);
}

#[tokio::test]
async fn run_by_id_is_the_whole_record() {
    let c = control(true);
    let response = c.get("/api/v1/runs/2").await;
    assert_eq!(response.status(), 200);
    assert_eq!(json_body(&response), json!(record(2)));
}

#[tokio::test]
async fn unknown_run_is_404_and_bad_id_400() {
    let c = control(true);
    let rows = [
        ("/api/v1/runs/999", 404, "no run 999"),
        (
            "/api/v1/runs/not-a-number",
            400,
            "invalid run id \"not-a-number\": a number",
        ),
    ];
    for (path, status, error) in rows {
        let response = c.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(error_of(&response), error, "{path}");
    }
}

#[tokio::test]
async fn stored_notification_is_its_body_unknown_404_bad_id_400() {
    let c = control(true);
    let response = c.get("/api/v1/notifications/100").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.body().as_ref(), b"{}");
    let rows = [
        ("/api/v1/notifications/999", 404, "no notification 999"),
        (
            "/api/v1/notifications/x",
            400,
            "invalid notification id \"x\"",
        ),
    ];
    for (path, status, error) in rows {
        let response = c.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert!(
            error_of(&response).starts_with(error),
            "{path}: {}",
            error_of(&response)
        );
    }
    let response = control(false).get("/api/v1/notifications/100").await;
    assert_eq!(response.status(), 404);
    assert_none_counted(&c.metrics);
}

#[tokio::test]
async fn status_names_the_config_and_its_hash() {
    let c = control(false);
    let response = c.get("/api/v1/status").await;
    assert_eq!(response.status(), 200);
    let body = json_body(&response);
    assert_eq!(body["config_path"], "/etc/alertrun/alertrun.yaml");
    assert_eq!(body["config_sha256"], "ab".repeat(32));
    assert_eq!(body["store_path"], Value::Null);
}

#[tokio::test]
async fn bad_run_queries_are_400_naming_the_parameter() {
    let c = control(true);
    let rows = [
        ("state=exploded", "invalid state \"exploded\""),
        ("limit=0", "invalid limit \"0\": 1 to 1000"),
        ("limit=1001", "invalid limit \"1001\""),
        ("since=yesterday", "invalid since \"yesterday\""),
        ("before=x", "invalid before \"x\": a run id"),
        ("colour=blue", "unknown parameter \"colour\""),
    ];
    for (query, error) in rows {
        let response = c.get(&format!("/api/v1/runs?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let message = error_of(&response);
        assert!(message.starts_with(error), "{query}: {message}");
    }
    assert_none_counted(&c.metrics);
}

#[tokio::test]
async fn history_without_a_store_is_404_saying_why() {
    let c = control(false);
    for path in ["/api/v1/runs", "/api/v1/runs/1"] {
        let response = c.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(
            error_of(&response).contains("server.state.durable: false"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn control_routes_need_the_credentials_and_count_no_refused_notification() {
    let c = control(true);
    let rows = [
        ("POST", "/-/reload"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/rules"),
        ("GET", "/api/v1/runs"),
        ("GET", "/api/v1/runs/1"),
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/notifications/100"),
    ];
    for (method, path) in rows {
        for authorization in [None, Some("Bearer wrong")] {
            let response = c.send(method, path, authorization).await;
            assert_eq!(response.status(), 401, "{method} {path} {authorization:?}");
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"alertrun\""
            );
            assert!(error_of(&response).contains("authentication required"));
        }
    }
    assert_eq!(*c.api.reloads.lock().unwrap(), 0, "never reloaded");
    assert_none_counted(&c.metrics);
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_before_credentials() {
    let c = control(true);
    let rows = [
        ("GET", "/-/reload", "POST"),
        ("POST", "/-/ready", "GET, HEAD"),
        ("POST", "/metrics", "GET, HEAD"),
        ("DELETE", "/api/v1/rules", "GET, HEAD"),
        ("POST", "/api/v1/runs", "GET, HEAD"),
        ("PUT", "/api/v1/runs/1", "GET, HEAD"),
    ];
    for (method, path, allow) in rows {
        let response = c.send(method, path, None).await;
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        let error = error_of(&response);
        assert!(error.contains(path) && error.contains(method), "{error}");
    }
    assert_eq!(*c.api.reloads.lock().unwrap(), 0);
    assert_none_counted(&c.metrics);
}

#[tokio::test]
async fn unknown_control_paths_are_404() {
    let c = control(true);
    for path in [
        "/api/v1",
        "/api/v1/runs/1/log",
        "/api/v1/rule",
        "/-/readyz",
        "/metrics/x",
    ] {
        let response = c.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(error_of(&response).contains(path), "{path}");
    }
}

#[tokio::test]
async fn without_an_api_only_metrics_are_served() {
    let metrics = Metrics::new();
    let routes = super::super::app(
        Arc::new(ServerSettings::default()),
        Backends::new(Arc::new(NoIntake)).with_metrics(metrics),
    );
    for (method, path, status) in [
        ("GET", "/metrics", 200),
        ("GET", "/-/ready", 404),
        ("POST", "/-/reload", 404),
        ("GET", "/api/v1/rules", 404),
        ("GET", "/api/v1/runs", 404),
    ] {
        let response = warp::test::request()
            .method(method)
            .path(path)
            .reply(&routes)
            .await;
        assert_eq!(response.status(), status, "{method} {path}");
    }
}
