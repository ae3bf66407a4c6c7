//! The HTTP routes of `alertrun serve`:
//!
//! | route | what |
//! | --- | --- |
//! | `POST /webhook` | an Alertmanager (or Grafana) webhook notification |
//! | `POST /api/v2/alerts` | alerts as Prometheus posts them to an Alertmanager |
//! | `GET /-/healthy` | `200 OK`, without authentication |
//!
//! Both POST routes authenticate (when `server.auth` is set), check the `Content-Type` and
//! `Content-Encoding`, read the body up to `limits.max_body_bytes` within
//! `limits.request_timeout`, parse it and hand the notification to the [`Intake`]. Status codes follow what Alertmanager does with them (ALERTMANAGER.md §2.3):
//! 200 once accepted; 503 with `Retry-After` when the intake refuses for now (Alertmanager
//! retries 5xx); 4xx for requests that will never succeed (400 malformed, 401 credentials,
//! 404, 405, 408 too slow, 413 too large, 415 not JSON or compressed). Never a redirect. Every error body
//! is JSON: `{"error": "<message>"}`, plus `"detail": {"path", "line", "column"}` for a body
//! that does not parse.

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use alert_core::{Notification, PayloadError, PayloadLimits, PostableAlert, Timestamp};
use bytes::{Buf, BufMut};
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tracing::{info, warn};
use warp::Filter;
use warp::http::header::{
    ALLOW, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::path::FullPath;
use warp::reply::Response;

use super::api::Api;
use super::auth;
use super::intake::{Accepted, Intake, Refused, Source};
use super::listener::PeerAddr;
use super::settings::ServerSettings;

pub use super::listener::{Bound, ServeError, bind};

/// The routes, as one filter that always answers (it never rejects). Serve it with
/// [`bind`], or drive it with `warp::test` without a socket.
pub fn routes(
    settings: Arc<ServerSettings>,
    intake: Arc<dyn Intake>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    routes_with(settings, intake, None)
}

/// [`routes`] plus the API endpoints `api` answers (history, rules, metrics, ready,
/// reload), authenticated like the intake except `GET /-/ready`.
pub fn routes_with(
    settings: Arc<ServerSettings>,
    intake: Arc<dyn Intake>,
    api: Option<Arc<dyn Api>>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let api_settings = Arc::clone(&settings);
    let state = State { settings, intake };
    let api = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and_then(
            move |method: Method, path: FullPath, query: String, headers: HeaderMap| {
                let api = api.clone();
                let settings = Arc::clone(&api_settings);
                async move {
                    let Some(api) = api else {
                        return Err(warp::reject::not_found());
                    };
                    let path = path.as_str().to_owned();
                    let Some(answer) = api.handle(&method, &path, &query) else {
                        return Err(warp::reject::not_found());
                    };
                    if let (Some(expected), false) = (&settings.auth, super::api::is_public(&path))
                    {
                        if let Err(failure) = auth::authorize(expected, &headers) {
                            warn!(
                                path,
                                reason = failure.as_str(),
                                "request refused: authentication failed"
                            );
                            return Ok(
                                HttpError::Unauthorized(auth::challenge(expected)).into_response()
                            );
                        }
                    }
                    Ok(answer.await)
                }
            },
        );
    let webhook = warp::path!("webhook").and(receiver(state.clone(), Source::Webhook));
    let alerts = warp::path!("api" / "v2" / "alerts").and(receiver(state, Source::PrometheusApi));
    let healthy = warp::path!("-" / "healthy")
        .and(warp::method())
        .and(warp::path::full())
        .map(|method, path: FullPath| healthy(method, path.as_str()));
    let other = warp::path::full()
        .map(|path: FullPath| HttpError::NotFound(path.as_str().to_string()).into_response());
    webhook
        .or(alerts)
        .unify()
        .or(healthy)
        .unify()
        .or(api)
        .unify()
        .or(other)
        .unify()
}

#[derive(Clone)]
struct State {
    settings: Arc<ServerSettings>,
    intake: Arc<dyn Intake>,
}

fn receiver(
    state: State,
    source: Source,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<PeerAddr>())
        .and(warp::body::stream())
        .then(move |method, path: FullPath, headers, peer, body| {
            let state = state.clone();
            async move {
                let request = Request {
                    source,
                    method,
                    path: path.as_str().to_string(),
                    headers,
                    peer,
                };
                receive(&state, request, body).await
            }
        })
}

fn healthy(method: Method, path: &str) -> Response {
    if method == Method::GET || method == Method::HEAD {
        let mut response = Response::new("OK".into());
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    } else {
        HttpError::MethodNotAllowed {
            method,
            path: path.to_string(),
            allow: "GET, HEAD",
        }
        .into_response()
    }
}

/// A POST to one of the receiving routes, without its body.
struct Request {
    source: Source,
    method: Method,
    path: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
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

async fn receive<S, B>(state: &State, request: Request, body: S) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    if request.method != Method::POST {
        return HttpError::MethodNotAllowed {
            method: request.method,
            path: request.path,
            allow: "POST",
        }
        .into_response();
    }
    let peer = request.peer.map(|p| p.0.to_string()).unwrap_or_default();
    if let Some(expected) = &state.settings.auth {
        if let Err(failure) = auth::authorize(expected, &request.headers) {
            warn!(
                peer,
                path = request.path,
                reason = failure.as_str(),
                "request refused: authentication failed"
            );
            return HttpError::Unauthorized(auth::challenge(expected)).into_response();
        }
    }
    let timeout = state.settings.limits.request_timeout;
    let mut summary = Summary::default();
    let result =
        match tokio::time::timeout(timeout, handle(state, &request, body, &mut summary)).await {
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
        source = source_name(request.source),
        peer,
        receiver = summary.receiver,
        group_key = summary.group_key,
        alerts = summary.alerts,
        outcome,
        queued = accepted.queued,
        skipped = accepted.skipped,
        error,
        "notification received"
    );
    match result {
        Ok(accepted) => accepted_response(accepted),
        Err(e) => e.into_response(),
    }
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
    request: &Request,
    body: S,
    summary: &mut Summary,
) -> Result<Accepted, HttpError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let limits = &state.settings.limits;
    check_content_type(&request.headers)?;
    check_content_encoding(&request.headers)?;
    let body = read_body(&request.headers, body, limits.max_body_bytes).await?;
    let payload_limits = PayloadLimits {
        max_alerts: limits.max_alerts,
    };
    let invalid = |error| HttpError::Invalid {
        endpoint: request.source,
        error,
    };
    let notification = match request.source {
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
    state
        .intake
        .accept(notification, request.source)
        .await
        .map_err(HttpError::Refused)
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
async fn read_body<S, B>(headers: &HeaderMap, body: S, limit: usize) -> Result<Vec<u8>, HttpError>
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
        capacity = usize::try_from(length).unwrap_or(limit);
    }
    let mut body = pin!(body);
    let mut bytes = Vec::with_capacity(capacity);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| HttpError::BodyRead(e.to_string()))?;
        if bytes.len().saturating_add(chunk.remaining()) > limit {
            return Err(HttpError::TooLarge { limit });
        }
        bytes.put(chunk);
    }
    Ok(bytes)
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
    json_response(StatusCode::OK, &body)
}

/// Every way a request can fail. [`HttpError::into_response`] is the one place that turns
/// them into status codes and bodies.
#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error(
        "no route for {0}: alertrun serves POST /webhook, POST /api/v2/alerts and GET /-/healthy"
    )]
    NotFound(String),
    #[error("method {method} is not allowed on {path}: use {allow}")]
    MethodNotAllowed {
        method: Method,
        path: String,
        allow: &'static str,
    },
    #[error("authentication required: send the configured credentials in the Authorization header")]
    Unauthorized(String),
    #[error("unsupported Content-Type {0:?}: send application/json")]
    UnsupportedMediaType(String),
    #[error("unsupported Content-Encoding {0:?}: send the body uncompressed")]
    UnsupportedEncoding(String),
    #[error("invalid Content-Length header")]
    BadContentLength,
    #[error(
        "request body is larger than the limit of {limit} bytes (server.limits.max_body_bytes)"
    )]
    TooLarge { limit: usize },
    #[error("cannot read the request body: {0}")]
    BodyRead(String),
    #[error("{}", payload_message(*.endpoint, .error))]
    Invalid {
        endpoint: Source,
        error: PayloadError,
    },
    #[error("{0}: try again later")]
    Refused(Refused),
    #[error("the request was not received and handled within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("the system clock is before 1970")]
    Clock,
}

fn payload_message(endpoint: Source, error: &PayloadError) -> String {
    match (endpoint, error) {
        (
            Source::PrometheusApi,
            PayloadError::Json {
                path,
                line,
                column,
                message,
            },
        ) => {
            format!("invalid alerts body at {path} (line {line}, column {column}): {message}")
        }
        (_, PayloadError::TooManyAlerts { count, limit }) => format!(
            "notification has {count} alerts, more than the limit of {limit} (server.limits.max_alerts)"
        ),
        (_, e) => e.to_string(),
    }
}

impl HttpError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::UnsupportedMediaType(_) | Self::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::BadContentLength | Self::BodyRead(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Invalid {
                error: PayloadError::TooManyAlerts { .. },
                ..
            } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Refused(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Clock => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn into_response(self) -> Response {
        let mut body = json!({"error": self.to_string()});
        if let Self::Invalid {
            error: PayloadError::Json {
                path, line, column, ..
            },
            ..
        } = &self
        {
            body["detail"] = json!({"path": path, "line": line, "column": column});
        }
        let mut response = json_response(self.status(), &body);
        let headers = response.headers_mut();
        match self {
            Self::MethodNotAllowed { allow, .. } => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            Self::Unauthorized(challenge) => {
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    headers.insert(WWW_AUTHENTICATE, v);
                }
            }
            Self::Refused(refused) => {
                let seconds = match refused {
                    Refused::QueueFull => "5",
                    Refused::ShuttingDown => "30",
                    Refused::StoreUnavailable => "10",
                };
                headers.insert(RETRY_AFTER, HeaderValue::from_static(seconds));
            }
            // The rest of a slow body may still be coming: do not reuse the connection.
            Self::Timeout(_) => {
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = Response::new(body.to_string().into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests;
