//! Socket-less tests of the receiving routes, `/-/healthy` and routing, through
//! `warp::test`: every status code, and every refused notification counted once under its
//! reason. The control routes have their own tests (control/tests.rs).

use std::cell::RefCell;
use std::sync::{Mutex, Once};

use alert_core::{AlertStatus, Notification};
use bytes::Bytes;
use serde_json::{Value, json};
use warp::http::Response as HttpResponse;
use warp::http::header::CONTENT_LENGTH;

use super::receive::read_body;
use super::*;
use crate::config::{Auth, Limits, Secret};
use crate::serve::intake::{Accepted, Refused, Source};
use crate::serve::metrics::RejectReason;

const FIRING: &[u8] = include_bytes!("../../../../alert-core/tests/fixtures/firing.json");
const MIXED: &[u8] = include_bytes!("../../../../alert-core/tests/fixtures/mixed.json");

/// Records what it accepts; refuses when told to.
#[derive(Default)]
struct RecordingIntake {
    calls: Mutex<Vec<(Notification, Source)>>,
    refuse: Mutex<Option<Refused>>,
}

impl Intake for RecordingIntake {
    fn accept(
        &self,
        n: Notification,
        source: Source,
    ) -> alert_core::BoxFuture<'static, Result<Accepted, Refused>> {
        let result = match *self.refuse.lock().unwrap() {
            Some(refused) => Err(refused),
            None => {
                let accepted = Accepted {
                    queued: n.alerts.len(),
                    skipped: 1,
                };
                self.calls.lock().unwrap().push((n, source));
                Ok(accepted)
            }
        };
        Box::pin(async move { result })
    }
}

impl RecordingIntake {
    fn calls(&self) -> Vec<(Notification, Source)> {
        self.calls.lock().unwrap().clone()
    }
}

struct App {
    intake: Arc<RecordingIntake>,
    metrics: Metrics,
    routes: warp::filters::BoxedFilter<(Response,)>,
}

fn app(settings: ServerSettings) -> App {
    capture_logs();
    let intake = Arc::new(RecordingIntake::default());
    let metrics = Metrics::new();
    let backends = Backends::new(intake.clone()).with_metrics(metrics.clone());
    let routes = super::app(Arc::new(settings), backends).map(|r| r).boxed();
    App {
        intake,
        metrics,
        routes,
    }
}

fn bearer(token: &str) -> ServerSettings {
    ServerSettings {
        auth: Some(Auth::Bearer {
            token: Secret::new(token),
        }),
        ..ServerSettings::default()
    }
}

impl App {
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse<Bytes> {
        let mut request = warp::test::request().method(method).path(path).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.reply(&self.routes).await
    }

    async fn post(&self, path: &str, body: &[u8]) -> HttpResponse<Bytes> {
        self.send("POST", path, &[("content-type", "application/json")], body)
            .await
    }
}

pub(super) fn json_body(response: &HttpResponse<Bytes>) -> Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{response:?}"
    );
    serde_json::from_slice(response.body()).unwrap()
}

pub(super) fn error_of(response: &HttpResponse<Bytes>) -> String {
    json_body(response)["error"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn valid_webhook_is_accepted_and_handed_to_the_intake() {
    let app = app(ServerSettings::default());
    let response = app.post("/webhook", FIRING).await;
    assert_eq!(response.status(), 200, "{response:?}");
    assert_eq!(
        json_body(&response),
        json!({"status": "accepted", "queued": 1, "skipped": 1})
    );
    let calls = app.intake.calls();
    assert_eq!(calls.len(), 1);
    let (n, source) = &calls[0];
    assert_eq!(*source, Source::Webhook);
    assert_eq!(n.receiver, "remediator");
    assert_eq!(n.alerts[0].label("alertname"), "DiskFull");
}

#[tokio::test]
async fn json_content_types_and_none_are_accepted() {
    let app = app(ServerSettings::default());
    for content_type in [
        Some("application/json"),
        Some("Application/JSON; charset=utf-8"),
        Some("application/vnd.alertmanager+json"),
        None,
    ] {
        let headers: Vec<_> = content_type
            .map(|c| ("content-type", c))
            .into_iter()
            .collect();
        let response = app.send("POST", "/webhook", &headers, FIRING).await;
        assert_eq!(response.status(), 200, "{content_type:?}: {response:?}");
    }
}

#[tokio::test]
async fn wrong_content_type_is_415_and_not_handed_over() {
    let app = app(ServerSettings::default());
    for content_type in [
        "application/x-www-form-urlencoded",
        "text/html",
        "multipart/form-data; boundary=x",
    ] {
        let response = app
            .send(
                "POST",
                "/webhook",
                &[("content-type", content_type)],
                FIRING,
            )
            .await;
        assert_eq!(response.status(), 415, "{content_type}");
        assert!(error_of(&response).contains("send application/json"));
    }
    let response = app
        .send("POST", "/webhook", &[("content-encoding", "gzip")], FIRING)
        .await;
    assert_eq!(response.status(), 415);
    assert!(error_of(&response).contains("send the body uncompressed"));
    assert!(app.intake.calls().is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_place() {
    let app = app(ServerSettings::default());
    let mut invalid_utf8 = br#"{"version":"4","status":"firing","receiver":""#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe]);
    invalid_utf8.extend_from_slice(br#"","alerts":[]}"#);
    let rows: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", b"not json".to_vec(), "at top level (line 1, column 2)"),
        ("truncated", FIRING[..100].to_vec(), "at alerts[0]"),
        ("empty", Vec::new(), "EOF while parsing"),
        (
            "wrong type",
            br#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":1},"startsAt":"2026-01-01T00:00:00Z"}]}"#.to_vec(),
            "at alerts[0].labels.a",
        ),
        (
            "missing field",
            br#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"}}]}"#.to_vec(),
            "missing field `startsAt`",
        ),
        ("invalid UTF-8", invalid_utf8, "at receiver"),
        ("unknown version", br#"{"version":"5","status":"firing","alerts":[]}"#.to_vec(), "unsupported webhook version \"5\""),
    ];
    for (name, body, want) in rows {
        let response = app.post("/webhook", &body).await;
        assert_eq!(response.status(), 400, "{name}: {response:?}");
        let error = error_of(&response);
        assert!(error.contains(want), "{name}: {error}");
    }
    let response = app.post("/webhook", b"[1]").await;
    assert_eq!(
        json_body(&response)["detail"],
        json!({"path": "top level", "line": 1, "column": 0})
    );
    assert!(app.intake.calls().is_empty());
}

#[tokio::test]
async fn nul_bytes_in_strings_reach_the_intake_as_the_model_allows() {
    let app = app(ServerSettings::default());
    let body = String::from_utf8(FIRING.to_vec()).unwrap().replace(
        "\"severity\":\"critical\"",
        "\"severity\":\"crit\\u0000ical\"",
    );
    let response = app.post("/webhook", body.as_bytes()).await;
    assert_eq!(response.status(), 200, "{response:?}");
    assert_eq!(
        app.intake.calls()[0].0.alerts[0].label("severity"),
        "crit\0ical"
    );
}

#[tokio::test]
async fn too_many_alerts_is_413_naming_the_limit() {
    let app = app(ServerSettings {
        limits: Limits {
            max_alerts: 1,
            ..Limits::default()
        },
        ..ServerSettings::default()
    });
    let response = app.post("/webhook", MIXED).await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        error_of(&response),
        "notification has 2 alerts, more than the limit of 1 (server.limits.max_alerts)"
    );
    let response = app
        .post(
            "/api/v2/alerts",
            br#"[{"labels":{"a":"1"}},{"labels":{"a":"2"}}]"#,
        )
        .await;
    assert_eq!(response.status(), 413);
    assert!(app.intake.calls().is_empty());
}

#[tokio::test]
async fn oversize_body_is_413_before_it_is_read() {
    let app = app(ServerSettings {
        limits: Limits {
            max_body_bytes: 100,
            ..Limits::default()
        },
        ..ServerSettings::default()
    });
    let response = app.post("/webhook", FIRING).await;
    assert_eq!(response.status(), 413);
    assert!(error_of(&response).contains("limit of 100 bytes"));
    assert!(app.intake.calls().is_empty());
}

#[tokio::test]
async fn chunked_body_is_cut_at_the_limit() {
    let chunks = |sizes: &[usize]| {
        futures_util::stream::iter(
            sizes
                .iter()
                .map(|n| Ok::<_, warp::Error>(Bytes::from(vec![b' '; *n])))
                .collect::<Vec<_>>(),
        )
    };
    let none = HeaderMap::new();
    let budget = Arc::new(tokio::sync::Semaphore::new(1 << 20));
    assert_eq!(
        read_body(&none, chunks(&[4, 4, 2]), 10, &budget)
            .await
            .unwrap()
            .0
            .len(),
        10
    );
    let e = read_body(&none, chunks(&[4, 4, 3]), 10, &budget)
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::TooLarge { limit: 10 }), "{e}");
    let mut lying = HeaderMap::new();
    lying.insert(CONTENT_LENGTH, HeaderValue::from_static("5"));
    let e = read_body(&lying, chunks(&[6, 6]), 10, &budget)
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::TooLarge { .. }), "{e}");
}

#[tokio::test]
async fn a_declared_length_reserves_nothing_until_the_bytes_arrive() {
    // Issue 17, item 3: 1,000 connections that sent only headers declaring 4 MiB took the
    // server from 21 MB to 2 GB resident.
    let mut big = HeaderMap::new();
    big.insert(CONTENT_LENGTH, HeaderValue::from_static("4194304"));
    let budget = Arc::new(tokio::sync::Semaphore::new(1 << 20));
    let one_chunk =
        futures_util::stream::iter(vec![Ok::<_, warp::Error>(Bytes::from_static(b"{}"))]);
    let (bytes, _held) = read_body(&big, one_chunk, 8 << 20, &budget).await.unwrap();
    assert!(
        bytes.capacity() <= 16 * 1024,
        "reserved {}",
        bytes.capacity()
    );
}

#[tokio::test]
async fn bodies_in_flight_wait_for_room_in_the_budget_and_give_it_back() {
    let budget = Arc::new(tokio::sync::Semaphore::new(10));
    let none = HeaderMap::new();
    let eight =
        || futures_util::stream::iter(vec![Ok::<_, warp::Error>(Bytes::from(vec![b' '; 8]))]);
    let (first, held) = read_body(&none, eight(), 100, &budget).await.unwrap();
    assert_eq!(first.len(), 8);
    assert_eq!(
        budget.available_permits(),
        2,
        "the first body holds 8 bytes"
    );
    let second = tokio::time::timeout(
        std::time::Duration::from_millis(50),
        read_body(&none, eight(), 100, &budget),
    )
    .await;
    assert!(
        second.is_err(),
        "a second body waits while the budget is spent"
    );
    drop(held);
    let (second, _held) = read_body(&none, eight(), 100, &budget).await.unwrap();
    assert_eq!(second.len(), 8, "and is read once the first is released");
}

#[test]
fn the_body_budget_is_64_mib_or_four_largest_bodies() {
    assert_eq!(super::receive::body_budget(4 << 20), 64 << 20);
    assert_eq!(super::receive::body_budget(32 << 20), 128 << 20);
}

#[tokio::test]
async fn bearer_token_is_required_and_checked() {
    let app = app(bearer("s3cret"));
    for (name, header) in [
        ("missing", None),
        ("wrong", Some("Bearer nope")),
        ("basic instead", Some("Basic czNjcmV0OnMzY3JldA==")),
    ] {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(header.map(|h| ("authorization", h)));
        let response = app.send("POST", "/webhook", &headers, FIRING).await;
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"alertrun\""
        );
        assert!(error_of(&response).contains("authentication required"));
    }
    // Credentials are checked before anything else about the request.
    let response = app
        .send(
            "POST",
            "/api/v2/alerts",
            &[("content-type", "text/html")],
            b"x",
        )
        .await;
    assert_eq!(response.status(), 401);
    assert!(app.intake.calls().is_empty(), "the intake is never called");
    let response = app
        .send(
            "POST",
            "/webhook",
            &[("authorization", "Bearer s3cret")],
            FIRING,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.intake.calls().len(), 1);
}

#[tokio::test]
async fn basic_auth_checks_the_password() {
    let app = app(ServerSettings {
        auth: Some(Auth::Basic {
            username: "am".into(),
            password: Secret::new("pw"),
        }),
        ..ServerSettings::default()
    });
    // base64("am:no") and base64("am:pw").
    let response = app
        .send(
            "POST",
            "/webhook",
            &[("authorization", "Basic YW06bm8=")],
            FIRING,
        )
        .await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=\"alertrun\"")
    );
    assert!(app.intake.calls().is_empty());
    let response = app
        .send(
            "POST",
            "/webhook",
            &[("authorization", "Basic YW06cHc=")],
            FIRING,
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn refusing_intake_is_503_with_retry_after() {
    let app = app(ServerSettings::default());
    for (refused, retry_after) in [(Refused::QueueFull, "5"), (Refused::ShuttingDown, "30")] {
        *app.intake.refuse.lock().unwrap() = Some(refused);
        let response = app.post("/webhook", FIRING).await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], retry_after);
        assert_eq!(error_of(&response), format!("{refused}: try again later"));
    }
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let app = app(bearer("s3cret"));
    let rows = [
        ("GET", "/webhook", 405, Some("POST")),
        ("PUT", "/api/v2/alerts", 405, Some("POST")),
        ("POST", "/-/healthy", 405, Some("GET, HEAD")),
        ("GET", "/", 404, None),
        ("POST", "/webhooks", 404, None),
        ("POST", "/api/v1/alerts", 404, None),
        ("POST", "/webhook/extra", 404, None),
    ];
    for (method, path, status, allow) in rows {
        let response = app.send(method, path, &[], b"").await;
        assert_eq!(response.status(), status, "{method} {path}");
        assert_eq!(
            response.headers().get("allow").map(|v| v.to_str().unwrap()),
            allow,
            "{method} {path}"
        );
        assert!(error_of(&response).contains(path), "{method} {path}");
    }
    let response = app.send("POST", "/webhook/", &[], FIRING).await;
    assert!(
        !response.status().is_redirection(),
        "never a redirect: {response:?}"
    );
}

#[tokio::test]
async fn health_answers_ok_without_credentials() {
    let app = app(bearer("s3cret"));
    for method in ["GET", "HEAD"] {
        let response = app.send(method, "/-/healthy", &[], b"").await;
        assert_eq!(response.status(), 200, "{method}");
    }
    let response = app.send("GET", "/-/healthy", &[], b"").await;
    assert_eq!(response.body().as_ref(), b"OK");
}

#[tokio::test]
async fn prometheus_alerts_become_a_notification_for_receiver_prometheus() {
    let app = app(ServerSettings::default());
    let body = br#"[
      {"labels":{"alertname":"DiskFull","instance":"a"},"startsAt":"2026-01-01T00:00:00.000Z",
       "endsAt":"2999-01-01T00:00:00.000Z"},
      {"labels":{"alertname":"DiskFull","instance":"b"},"startsAt":"2026-01-01T00:00:00.000Z",
       "endsAt":"2026-01-01T00:05:00.000Z","annotations":{"summary":"s"}}
    ]"#;
    let response = app.post("/api/v2/alerts", body).await;
    assert_eq!(response.status(), 200, "{response:?}");
    let calls = app.intake.calls();
    let (n, source) = &calls[0];
    assert_eq!(*source, Source::PrometheusApi);
    assert_eq!(n.receiver, "prometheus");
    assert_eq!(n.status, AlertStatus::Firing);
    let statuses: Vec<_> = n.alerts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [AlertStatus::Firing, AlertStatus::Resolved]);
    assert_eq!(n.common_labels.len(), 1);
}

#[tokio::test]
async fn bad_prometheus_body_is_400_naming_the_alert() {
    let app = app(ServerSettings::default());
    let response = app
        .post("/api/v2/alerts", br#"[{"labels":{"a":"b"}},{"labels":{}}]"#)
        .await;
    assert_eq!(response.status(), 400);
    let error = error_of(&response);
    assert!(error.starts_with("invalid alerts body at [1]"), "{error}");
    assert!(error.contains("at least one label pair"), "{error}");
    let response = app.post("/api/v2/alerts", FIRING).await;
    assert!(error_of(&response).contains("expected a sequence"));
}

#[tokio::test]
async fn logs_one_line_per_notification_and_never_the_credential() {
    let app = app(bearer("s3cret"));
    CAPTURED.with_borrow_mut(|c| *c = Some(Vec::new()));
    app.send(
        "POST",
        "/webhook",
        &[("authorization", "Bearer wrong-token")],
        FIRING,
    )
    .await;
    app.send(
        "POST",
        "/webhook",
        &[("authorization", "Bearer s3cret")],
        FIRING,
    )
    .await;
    app.send(
        "POST",
        "/webhook",
        &[("authorization", "Bearer s3cret")],
        b"{",
    )
    .await;
    let logs = CAPTURED.with_borrow_mut(Option::take).unwrap();
    let logs = String::from_utf8(logs).unwrap();
    assert!(
        !logs.contains("s3cret") && !logs.contains("wrong-token"),
        "{logs}"
    );
    let lines: Vec<_> = logs.lines().collect();
    assert_eq!(lines.len(), 3, "{logs}");
    assert!(
        lines[0].contains("WARN") && lines[0].contains("wrong credentials"),
        "{logs}"
    );
    for want in [
        "INFO",
        "receiver=\"remediator\"",
        "alerts=1",
        "outcome=\"accepted\"",
        "queued=1",
        "skipped=1",
    ] {
        assert!(lines[1].contains(want), "{want}: {}", lines[1]);
    }
    assert!(
        lines[1].contains(r#"group_key="{}/{alertname=\"DiskFull\"}"#),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("outcome=\"invalid\"") && lines[2].contains("error="),
        "{}",
        lines[2]
    );
}

/// Each `alertrun_notifications_rejected_total` series of `metrics`, by reason.
pub(super) fn rejections(metrics: &Metrics) -> Vec<(RejectReason, f64)> {
    let text = metrics.encode();
    RejectReason::ALL
        .iter()
        .map(|&reason| {
            let series = format!(
                "alertrun_notifications_rejected_total{{reason=\"{}\"}} ",
                reason.as_str()
            );
            let value = text
                .lines()
                .find_map(|line| line.strip_prefix(&series))
                .unwrap_or_else(|| panic!("no series {series} in\n{text}"));
            (reason, value.parse().unwrap())
        })
        .collect()
}

/// Asserts that exactly one notification was refused so far, for `reason`.
pub(super) fn assert_counted_once(metrics: &Metrics, reason: RejectReason) {
    for (r, value) in rejections(metrics) {
        let want = if r == reason { 1.0 } else { 0.0 };
        assert_eq!(value, want, "rejected{{reason={}}}", r.as_str());
    }
}

/// Asserts that no notification was counted as refused.
pub(super) fn assert_none_counted(metrics: &Metrics) {
    for (r, value) in rejections(metrics) {
        assert_eq!(value, 0.0, "rejected{{reason={}}}", r.as_str());
    }
}

impl App {
    /// Asserts the answer's status and error message, that the intake got nothing and
    /// that exactly this one refusal was counted, for `reason`.
    fn assert_refused(
        &self,
        response: &HttpResponse<Bytes>,
        status: u16,
        error: &str,
        reason: RejectReason,
    ) {
        assert_eq!(response.status(), status, "{response:?}");
        let message = error_of(response);
        assert!(message.contains(error), "{message:?} lacks {error:?}");
        assert_counted_once(&self.metrics, reason);
    }
}

#[tokio::test]
async fn malformed_body_is_refused_as_invalid() {
    let app = app(ServerSettings::default());
    let response = app.post("/webhook", b"{").await;
    app.assert_refused(&response, 400, "EOF while parsing", RejectReason::Invalid);
    assert_eq!(json_body(&response)["detail"]["path"], "top level");
    assert!(app.intake.calls().is_empty());
}

#[tokio::test]
async fn unreadable_content_length_is_refused_as_invalid() {
    let app = app(ServerSettings::default());
    let response = app
        .send("POST", "/webhook", &[("content-length", "lots")], FIRING)
        .await;
    app.assert_refused(
        &response,
        400,
        "invalid Content-Length",
        RejectReason::Invalid,
    );
}

#[tokio::test]
async fn wrong_credentials_are_refused_as_unauthorized() {
    let app = app(bearer("s3cret"));
    let response = app
        .send(
            "POST",
            "/api/v2/alerts",
            &[("authorization", "Bearer no")],
            b"[]",
        )
        .await;
    app.assert_refused(
        &response,
        401,
        "authentication required",
        RejectReason::Unauthorized,
    );
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"alertrun\""
    );
}

#[tokio::test]
async fn oversize_body_is_refused_as_too_large() {
    let app = app(ServerSettings {
        limits: Limits {
            max_body_bytes: 100,
            ..Limits::default()
        },
        ..ServerSettings::default()
    });
    let response = app.post("/webhook", FIRING).await;
    app.assert_refused(&response, 413, "limit of 100 bytes", RejectReason::TooLarge);
}

#[tokio::test]
async fn too_many_alerts_are_refused_as_too_large() {
    let app = app(ServerSettings {
        limits: Limits {
            max_alerts: 1,
            ..Limits::default()
        },
        ..ServerSettings::default()
    });
    let response = app.post("/webhook", MIXED).await;
    app.assert_refused(
        &response,
        413,
        "server.limits.max_alerts",
        RejectReason::TooLarge,
    );
}

#[tokio::test]
async fn compressed_body_is_refused_as_unsupported_media_type() {
    let app = app(ServerSettings::default());
    let response = app
        .send("POST", "/webhook", &[("content-encoding", "gzip")], FIRING)
        .await;
    app.assert_refused(
        &response,
        415,
        "send the body uncompressed",
        RejectReason::UnsupportedMediaType,
    );
}

#[tokio::test]
async fn form_body_is_refused_as_unsupported_media_type() {
    let app = app(ServerSettings::default());
    let response = app
        .send(
            "POST",
            "/webhook",
            &[("content-type", "application/x-www-form-urlencoded")],
            FIRING,
        )
        .await;
    app.assert_refused(
        &response,
        415,
        "send application/json",
        RejectReason::UnsupportedMediaType,
    );
}

/// Refuses each notification as told, and records nothing.
async fn refused_by_intake(refused: Refused) -> (App, HttpResponse<Bytes>) {
    let app = app(ServerSettings::default());
    *app.intake.refuse.lock().unwrap() = Some(refused);
    let response = app.post("/webhook", FIRING).await;
    (app, response)
}

#[tokio::test]
async fn full_queue_is_refused_as_queue_full_with_retry_after() {
    let (app, response) = refused_by_intake(Refused::QueueFull).await;
    app.assert_refused(
        &response,
        503,
        "the run queue is full: try again later",
        RejectReason::QueueFull,
    );
    assert_eq!(response.headers()["retry-after"], "5");
}

#[tokio::test]
async fn shutdown_is_refused_as_shutting_down_with_retry_after() {
    let (app, response) = refused_by_intake(Refused::ShuttingDown).await;
    app.assert_refused(
        &response,
        503,
        "alertrun is shutting down: try again later",
        RejectReason::ShuttingDown,
    );
    assert_eq!(response.headers()["retry-after"], "30");
}

#[tokio::test]
async fn unwritable_store_is_refused_as_store_unavailable_with_retry_after() {
    let (app, response) = refused_by_intake(Refused::StoreUnavailable).await;
    app.assert_refused(
        &response,
        503,
        "the state store cannot record it now: try again later",
        RejectReason::StoreUnavailable,
    );
    assert_eq!(response.headers()["retry-after"], "10");
}

#[tokio::test]
async fn accepted_notifications_and_routing_errors_count_no_refusal() {
    let app = app(bearer("s3cret"));
    let ok = app
        .send(
            "POST",
            "/webhook",
            &[("authorization", "Bearer s3cret")],
            FIRING,
        )
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(app.send("GET", "/webhook", &[], b"").await.status(), 405);
    assert_eq!(
        app.send("POST", "/webhooks", &[], FIRING).await.status(),
        404
    );
    assert_eq!(app.send("POST", "/-/healthy", &[], b"").await.status(), 405);
    assert_none_counted(&app.metrics);
}

thread_local! {
    /// Log output of this thread's test, while it captures.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Installs, once, a global subscriber that writes into [`CAPTURED`] of the logging thread
/// (each `#[tokio::test]` runs on its own thread). Global, not scoped: a scoped subscriber
/// races with other tests' threads caching "no interest" in the same callsites. Every test
/// goes through [`app`], so this runs before any of these callsites is first hit.
fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadWriter)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test in this binary sets a global subscriber");
    });
}

struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with_borrow_mut(|c| c.as_mut().map(|c| c.extend_from_slice(buf)));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
