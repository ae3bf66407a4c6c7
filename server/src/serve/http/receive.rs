//! The receiving routes, `POST /webhook` and `POST /api/v2/alerts`: from a request to a
//! [`Notification`] handed to the [`Intake`].
//!
//! After the method and the credentials ([`Head::admit`]), each request's `Content-Type`
//! and `Content-Encoding` are checked, the body is read up to `limits.max_body_bytes` and
//! parsed, and the notification is handed over; reading and handing over together are
//! bounded by `limits.request_timeout`. One log line per request says how it ended. This
//! module neither runs actions (the intake answers at once) nor builds error responses
//! (it returns [`HttpError`]).

use std::pin::pin;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use alert_core::{Notification, PayloadLimits, PostableAlert, Timestamp};
use bytes::{Buf, BufMut};
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tracing::info;
use warp::Filter;
use warp::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::{Access, Allow, Head, HttpError, Routed, head};
use crate::config::ServerSettings;
use crate::serve::intake::{Accepted, Intake, Refused, Source};

/// `POST /webhook` and `POST /api/v2/alerts`.
pub(super) fn routes(
    settings: Arc<ServerSettings>,
    intake: Arc<dyn Intake>,
) -> impl Filter<Extract = (Routed,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let budget = Arc::new(Semaphore::new(body_budget(settings.limits.max_body_bytes)));
    let state = State {
        settings,
        intake,
        budget,
    };
    let webhook = warp::path!("webhook").and(receiver(state.clone(), Source::Webhook));
    let alerts = warp::path!("api" / "v2" / "alerts").and(receiver(state, Source::PrometheusApi));
    webhook.or(alerts).unify()
}

#[derive(Clone)]
struct State {
    settings: Arc<ServerSettings>,
    intake: Arc<dyn Intake>,
    /// Bytes of request bodies held at once, over all connections.
    budget: Arc<Semaphore>,
}

/// The most bytes of request bodies held at once, over all connections: 64 MiB, or four
/// of the largest bodies allowed when that is more. A body's bytes are counted as they
/// arrive; a request whose next chunk does not fit waits for room (within its
/// `request_timeout`), so slow or stalled clients cannot make memory grow past it.
pub(super) fn body_budget(max_body_bytes: usize) -> usize {
    (64 << 20)
        .max(max_body_bytes.saturating_mul(4))
        .min(Semaphore::MAX_PERMITS)
}

/// The most a body's buffer reserves before its bytes arrive, whatever `Content-Length`
/// says: it grows with what is received.
const INITIAL_BODY_CAPACITY: usize = 16 * 1024;

fn receiver(
    state: State,
    source: Source,
) -> impl Filter<Extract = (Routed,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    head()
        .and(warp::body::stream())
        .then(move |head: Head, body| {
            let state = state.clone();
            async move { receive(&state, source, head, body).await }
        })
}

/// What the log line says about a notification.
#[derive(Default)]
struct Summary {
    receiver: String,
    group_key: String,
    alerts: usize,
    /// The intake has it: a timeout from here on must not answer 4xx, because
    /// Alertmanager would not retry while the intake may still refuse it.
    handed_over: bool,
}

async fn receive<S, B>(state: &State, source: Source, head: Head, body: S) -> Routed
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    head.admit(&state.settings, Allow::Post, Access::Intake)?;
    let timeout = state.settings.limits.request_timeout;
    let mut summary = Summary::default();
    let result =
        match tokio::time::timeout(timeout, handle(state, source, &head, body, &mut summary)).await
        {
            Ok(result) => result,
            Err(_) if summary.handed_over => Err(HttpError::Refused(Refused::QueueFull)),
            Err(_) => Err(HttpError::Timeout(timeout)),
        };
    let (outcome, accepted) = match &result {
        Ok(a) => ("accepted", *a),
        Err(HttpError::Refused(_)) => ("refused", Accepted::default()),
        Err(_) => ("invalid", Accepted::default()),
    };
    let error = result.as_ref().err().map(ToString::to_string);
    info!(
        source = source_name(source),
        peer = head.peer(),
        receiver = summary.receiver,
        group_key = summary.group_key,
        alerts = summary.alerts,
        outcome,
        queued = accepted.queued,
        skipped = accepted.skipped,
        error,
        "notification received"
    );
    result.map(accepted_response)
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Webhook => "webhook",
        Source::PrometheusApi => "prometheus",
    }
}

/// Reads, parses and hands over one notification; fills `summary` as it learns.
async fn handle<S, B>(
    state: &State,
    source: Source,
    head: &Head,
    body: S,
    summary: &mut Summary,
) -> Result<Accepted, HttpError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let limits = &state.settings.limits;
    check_content_type(&head.headers)?;
    check_content_encoding(&head.headers)?;
    let (body, _held) =
        read_body(&head.headers, body, limits.max_body_bytes, &state.budget).await?;
    let payload_limits = PayloadLimits {
        max_alerts: limits.max_alerts,
    };
    let invalid = |error| HttpError::Invalid {
        endpoint: source,
        error,
    };
    let notification = match source {
        Source::Webhook => Notification::from_json_with(&body, payload_limits).map_err(invalid)?,
        Source::PrometheusApi => {
            let alerts = PostableAlert::from_json(&body, payload_limits).map_err(invalid)?;
            Notification::from_postable(alerts, now()?)
        }
    };
    *summary = Summary {
        receiver: notification.receiver.clone(),
        group_key: notification.group_key.clone(),
        alerts: notification.alerts.len(),
        handed_over: true,
    };
    // A webhook's body is kept as received (`GET /api/v1/notifications/{id}`); Prometheus'
    // alerts were made into a notification, which is kept instead.
    let accepted = match source {
        Source::Webhook => state
            .intake
            .accept_received(notification, Arc::from(body), source),
        Source::PrometheusApi => state.intake.accept(notification, source),
    };
    accepted.await.map_err(HttpError::Refused)
}

/// Accepts a missing `Content-Type` and JSON (`application/json`, with parameters, or any
/// `application/*+json`); refuses anything else.
fn check_content_type(headers: &HeaderMap) -> Result<(), HttpError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = essence.is_empty()
        || essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(HttpError::UnsupportedMediaType(text.into_owned()))
    }
}

/// Refuses compressed bodies: neither Alertmanager nor Prometheus compresses them.
fn check_content_encoding(headers: &HeaderMap) -> Result<(), HttpError> {
    match headers.get(CONTENT_ENCODING) {
        Some(v) if !v.as_bytes().eq_ignore_ascii_case(b"identity") => Err(
            HttpError::UnsupportedEncoding(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        ),
        _ => Ok(()),
    }
}

/// Reads the whole body, refusing more than `limit` bytes: at once when `Content-Length`
/// says so, else as soon as the bytes read pass the limit (chunked bodies).
pub(super) async fn read_body<S, B>(
    headers: &HeaderMap,
    body: S,
    limit: usize,
    budget: &Arc<Semaphore>,
) -> Result<(Vec<u8>, Option<OwnedSemaphorePermit>), HttpError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut capacity = 0;
    if let Some(value) = headers.get(CONTENT_LENGTH) {
        let length: u64 = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or(HttpError::BadContentLength)?;
        if length > limit as u64 {
            return Err(HttpError::TooLarge { limit });
        }
        capacity = usize::try_from(length)
            .unwrap_or(limit)
            .min(INITIAL_BODY_CAPACITY);
    }
    let mut body = pin!(body);
    let mut bytes = Vec::with_capacity(capacity);
    let mut held: Option<OwnedSemaphorePermit> = None;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| HttpError::BodyRead(e.to_string()))?;
        if bytes.len().saturating_add(chunk.remaining()) > limit {
            return Err(HttpError::TooLarge { limit });
        }
        let size = u32::try_from(chunk.remaining()).unwrap_or(u32::MAX);
        if size > 0 {
            // The budget is never closed; a failure could only mean it was.
            let permit = Arc::clone(budget)
                .acquire_many_owned(size)
                .await
                .map_err(|e| HttpError::BodyRead(e.to_string()))?;
            match &mut held {
                Some(held) => held.merge(permit),
                None => held = Some(permit),
            }
        }
        bytes.put(chunk);
    }
    Ok((bytes, held))
}

/// The wall clock as a [`Timestamp`] (alert-core reads no clock itself).
fn now() -> Result<Timestamp, HttpError> {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| HttpError::Clock)?;
    i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|secs| Timestamp::from_unix(secs, since_epoch.subsec_nanos()))
        .ok_or(HttpError::Clock)
}

fn accepted_response(accepted: Accepted) -> Response {
    let body =
        json!({"status": "accepted", "queued": accepted.queued, "skipped": accepted.skipped});
    super::json(StatusCode::OK, &body)
}

#[cfg(test)]
mod tests {
    //! The request timeout, which `warp::test` cannot reach (its bodies arrive whole).

    use std::time::Duration;

    use alert_core::BoxFuture;
    use warp::http::Method;

    use super::*;
    use crate::config::Limits;
    use crate::serve::http::tests::assert_counted_once;
    use crate::serve::metrics::{Metrics, RejectReason};

    /// Takes each notification and never answers.
    struct StuckIntake;

    impl Intake for StuckIntake {
        fn accept(
            &self,
            _: Notification,
            _: Source,
        ) -> BoxFuture<'static, Result<Accepted, Refused>> {
            Box::pin(std::future::pending())
        }
    }

    fn state(timeout: Duration) -> State {
        State {
            settings: Arc::new(ServerSettings {
                limits: Limits {
                    request_timeout: timeout,
                    ..Limits::default()
                },
                ..ServerSettings::default()
            }),
            intake: Arc::new(StuckIntake),
            budget: Arc::new(Semaphore::new(1 << 20)),
        }
    }

    fn post() -> Head {
        Head {
            method: Method::POST,
            path: "/webhook".into(),
            headers: HeaderMap::new(),
            peer: None,
        }
    }

    #[tokio::test]
    async fn body_that_never_arrives_is_refused_as_timeout() {
        let state = state(Duration::from_millis(20));
        let body = futures_util::stream::pending::<Result<bytes::Bytes, warp::Error>>();
        let error = receive(&state, Source::Webhook, post(), body)
            .await
            .unwrap_err();
        let metrics = Metrics::new();
        let response = error.into_response(&metrics);
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers()["connection"], "close");
        assert_counted_once(&metrics, RejectReason::Timeout);
    }

    #[tokio::test]
    async fn intake_that_does_not_answer_in_time_is_refused_as_queue_full() {
        let state = state(Duration::from_millis(20));
        let fixture: &[u8] = include_bytes!("../../../../alert-core/tests/fixtures/firing.json");
        let body =
            futures_util::stream::iter([Ok::<_, warp::Error>(bytes::Bytes::from_static(fixture))]);
        let error = receive(&state, Source::Webhook, post(), body)
            .await
            .unwrap_err();
        let metrics = Metrics::new();
        let response = error.into_response(&metrics);
        // Alertmanager retries a 503; it would drop a 408 that the intake may yet refuse.
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "5");
        assert_counted_once(&metrics, RejectReason::QueueFull);
    }
}
