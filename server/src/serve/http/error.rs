//! [`HttpError`]: every way a request to the app fails, and [`HttpError::into_response`],
//! the one place that turns a failure into a status code, headers and the JSON body
//! `{"error": "<message>", "detail": {...}}` (`detail` only where there is more to say), and
//! that counts each refused notification in `alertrun_notifications_rejected_total{reason}`.
//!
//! Routes never build an error response: they return `Err(HttpError)`, and the app maps
//! it here. Which failures count as a refused notification is decided here too
//! ([`HttpError::reject_reason`]): those of a POST to a receiving route once its method is
//! right (401, 400, 408, 413, 415, 503). Routing failures (404, 405), the control API's
//! failures and a broken clock (500) refuse no notification and are not counted.

use std::time::Duration;

use alert_core::PayloadError;
use serde_json::json;
use warp::http::header::{ALLOW, CONNECTION, RETRY_AFTER, WWW_AUTHENTICATE};
use warp::http::{HeaderValue, Method, StatusCode};
use warp::reply::Response;

use super::Allow;
use crate::serve::api::{ControlError, DecideError, ReloadError};
use crate::serve::intake::{Refused, Source};
use crate::serve::metrics::{Metrics, RejectReason};
use crate::store::StoreError;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error(
        "no route for {0}: alertrun serves POST /webhook, POST /api/v2/alerts, GET /-/healthy, \
         GET /-/ready, POST /-/reload, GET /metrics, GET /api/v1/{{rules,runs,runs/ID,status,notifications/ID}} \
         and the status page at GET /"
    )]
    NotFound(String),
    #[error("method {method} is not allowed on {path}: use {}", .allow.as_str())]
    MethodNotAllowed {
        method: Method,
        path: String,
        allow: Allow,
    },
    /// Missing or wrong credentials; `challenge` is the `WWW-Authenticate` value and
    /// `notification` says whether the request was a POST to a receiving route.
    #[error("authentication required: send the configured credentials in the Authorization header")]
    Unauthorized {
        challenge: String,
        notification: bool,
    },

    // The receiving routes.
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

    // The control API.
    #[error("{0}")]
    ReloadFailed(ReloadError),
    #[error("run history needs the state store: this server runs with server.state.durable: false")]
    NoHistory,
    #[error("invalid run id {0:?}: a number")]
    BadRunId(String),
    #[error("no run {0}")]
    NoRun(u64),
    #[error("no notification {0}: the store keeps a notification while a run refers to it")]
    NoNotification(u64),
    #[error("{0}")]
    BadQuery(String),
    #[error("{0}")]
    Store(StoreError),
    #[error("the history query failed: {0}")]
    Task(String),
    #[error("{0}")]
    Control(ControlError),
    #[error("{0}")]
    Decision(DecideError),
    /// A control POST a browser sent from another site (CSRF).
    #[error(
        "refused a cross-site request ({0}): the control API takes POSTs from its own pages, \
         the CLI and scripts, not from another site's forms"
    )]
    CrossSite(&'static str),
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
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) | Self::NoHistory | Self::NoRun(_) | Self::NoNotification(_) => {
                StatusCode::NOT_FOUND
            }
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::UnsupportedMediaType(_) | Self::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::BadContentLength
            | Self::BodyRead(_)
            | Self::ReloadFailed(_)
            | Self::BadRunId(_)
            | Self::BadQuery(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. }
            | Self::Invalid {
                error: PayloadError::TooManyAlerts { .. },
                ..
            } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Refused(_) | Self::Store(_) | Self::Control(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Clock | Self::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Decision(e) => match e {
                DecideError::NotAwaiting(_) | DecideError::AlreadyDecided { .. } => {
                    StatusCode::CONFLICT
                }
                DecideError::Forbidden(_) | DecideError::BadLink(_) => StatusCode::FORBIDDEN,
                DecideError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
            Self::CrossSite(_) => StatusCode::FORBIDDEN,
        }
    }

    /// The `reason` under which this failure counts as a refused notification, if it is one.
    pub(crate) fn reject_reason(&self) -> Option<RejectReason> {
        let reason = match self {
            Self::Unauthorized {
                notification: true, ..
            } => RejectReason::Unauthorized,
            Self::UnsupportedMediaType(_) | Self::UnsupportedEncoding(_) => {
                RejectReason::UnsupportedMediaType
            }
            Self::BadContentLength | Self::BodyRead(_) => RejectReason::Invalid,
            Self::TooLarge { .. }
            | Self::Invalid {
                error: PayloadError::TooManyAlerts { .. },
                ..
            } => RejectReason::TooLarge,
            Self::Invalid { .. } => RejectReason::Invalid,
            Self::Timeout(_) => RejectReason::Timeout,
            Self::Refused(Refused::QueueFull) => RejectReason::QueueFull,
            Self::Refused(Refused::ShuttingDown) => RejectReason::ShuttingDown,
            Self::Refused(Refused::StoreUnavailable) => RejectReason::StoreUnavailable,
            Self::Refused(Refused::ClaimUnavailable) => RejectReason::ClaimUnavailable,
            Self::NotFound(_)
            | Self::MethodNotAllowed { .. }
            | Self::Unauthorized { .. }
            | Self::Clock
            | Self::ReloadFailed(_)
            | Self::NoHistory
            | Self::BadRunId(_)
            | Self::NoRun(_)
            | Self::NoNotification(_)
            | Self::BadQuery(_)
            | Self::Store(_)
            | Self::Control(_)
            | Self::Decision(_)
            | Self::CrossSite(_)
            | Self::Task(_) => return None,
        };
        Some(reason)
    }

    /// The answer to the client; counts the refusal in `metrics` when it refuses a
    /// notification.
    pub(crate) fn into_response(self, metrics: &Metrics) -> Response {
        if let Some(reason) = self.reject_reason() {
            metrics.notification_rejected(reason);
        }
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
        let mut response = super::json(self.status(), &body);
        let headers = response.headers_mut();
        match self {
            Self::MethodNotAllowed { allow, .. } => {
                headers.insert(ALLOW, HeaderValue::from_static(allow.as_str()));
            }
            Self::Unauthorized { challenge, .. } => {
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    headers.insert(WWW_AUTHENTICATE, v);
                }
            }
            Self::Refused(refused) => {
                let seconds = match refused {
                    Refused::QueueFull => "5",
                    Refused::ShuttingDown => "30",
                    Refused::StoreUnavailable => "10",
                    Refused::ClaimUnavailable => "5",
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
