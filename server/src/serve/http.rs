//! The HTTP app of `alertrun serve`: every route, as warp filters composed by one [`app`].
//!
//! | route | credentials | what |
//! | --- | --- | --- |
//! | `POST /webhook` | yes | an Alertmanager (or Grafana) webhook notification |
//! | `POST /api/v2/alerts` | yes | alerts as Prometheus posts them to an Alertmanager |
//! | `GET /-/healthy` | no | `200 OK` while the process serves |
//! | `GET /-/ready` | no | `200` once config and store are loaded and the port is bound, else `503` |
//! | `POST /-/reload` | yes | reads the config again (`400` naming the problem when it is bad) |
//! | `GET /metrics` | yes | the OpenMetrics exposition ([`Metrics`]) |
//! | `GET /api/v1/rules` | yes | the rules in force and their load |
//! | `GET /api/v1/runs`, `GET /api/v1/runs/{id}` | yes | run history (durable state only) |
//! | `GET /`, `/status`, `/rules`, `/runs`, `/runs/{id}`, `/approvals` | yes | the status page (`pages.rs`) |
//! | `GET /ui/ui.css`, `GET /ui/ui.js` | no | the status page's assets |
//!
//! Each route matches its path, then never rejects: it checks the method (405 with `Allow`)
//! and the credentials (401 with `WWW-Authenticate`) and yields `Result<Response,
//! HttpError>`; a path no route knows falls to a last route that answers 404. [`app`] maps
//! every `Err` through `HttpError::into_response`, the one place that picks status codes,
//! writes the JSON error body `{"error", "detail"}` and counts refused notifications in
//! `alertrun_notifications_rejected_total{reason}`: 400, 401, 408, 413 and 415 on the
//! receiving routes and the intake's 503s (queue full, shutting down, store unavailable).
//! The request timeout and the body limit are enforced here, not in the listener, so they
//! are counted like the rest.
//!
//! Status codes on the receiving routes follow what Alertmanager does with them
//! (ALERTMANAGER.md §2.3): 200 once accepted; 503 with `Retry-After` when the intake
//! refuses for now (Alertmanager retries 5xx); 4xx for requests that will never succeed.
//! Never a redirect. With `server.route_prefix` (`/alertrun`) every route is served under
//! it (`/alertrun/webhook`, `/alertrun/-/ready`), as Alertmanager's `--web.route-prefix`
//! does, and every other path is 404. A body that does not parse gets `"detail": {"path", "line", "column"}`.
//!
//! What this module is not: the listener (sockets, TLS, the connection limit and the header
//! timeout are in listener.rs, behind [`bind`]); what happens to a notification once
//! accepted (the [`Intake`]); the server's readiness and reload logic (the [`Api`]).
//! Tests drive [`app`] with `warp::test`, without a socket.

mod control;
mod error;
mod origin;
mod pages;
mod receive;

use std::convert::Infallible;
use std::sync::Arc;

use tracing::warn;
use warp::Filter;
use warp::http::header::CONTENT_TYPE;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::path::FullPath;
use warp::reply::Response;

use super::api::Api;
use super::auth;
use super::intake::Intake;
use super::listener::PeerAddr;
use super::metrics::Metrics;
use crate::config::ServerSettings;
use error::HttpError;

pub use super::listener::{Bound, ServeError, bind};

/// What a route yields once its path matched.
type Routed = Result<Response, HttpError>;

/// What the app hands requests to.
#[derive(Clone)]
pub struct Backends {
    /// Takes the notifications of the receiving routes.
    pub intake: Arc<dyn Intake>,
    /// Answers `/-/ready`, `/-/reload` and `/api/v1/*`; without it those paths are 404.
    pub api: Option<Arc<dyn Api>>,
    /// Served at `/metrics`; every refused notification is counted here.
    pub metrics: Metrics,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("api", &self.api.is_some())
            .finish_non_exhaustive()
    }
}

impl Backends {
    /// The intake alone, with metrics of its own and no control API.
    pub fn new(intake: Arc<dyn Intake>) -> Self {
        Self {
            intake,
            api: None,
            metrics: Metrics::new(),
        }
    }

    /// With the control API `api`.
    #[must_use]
    pub fn with_api(mut self, api: Arc<dyn Api>) -> Self {
        self.api = Some(api);
        self
    }

    /// Counting into, and serving, `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }
}

/// The whole app, as one filter that always answers (it never rejects). Serve it with
/// [`Bound::serve_with`], or drive it with `warp::test` without a socket.
pub(crate) fn app(
    settings: Arc<ServerSettings>,
    backends: Backends,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let metrics = backends.metrics.clone();
    let open = Arc::clone(&settings);
    let healthy = warp::path!("-" / "healthy")
        .and(head())
        .map(move |head: Head| {
            head.admit(&open, Allow::Get, Access::Anyone)?;
            Ok(text(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                "OK".into(),
            ))
        });
    let unknown = warp::path::full()
        .map(|path: FullPath| -> Routed { Err(HttpError::NotFound(path.as_str().to_owned())) });
    let pages = pages::routes(Arc::clone(&settings), backends.api.clone());
    let prefix = route_prefix(settings.route_prefix.as_deref());
    let routes = receive::routes(Arc::clone(&settings), Arc::clone(&backends.intake))
        .or(healthy)
        .unify()
        .or(control::routes(settings, backends))
        .unify()
        .or(pages)
        .unify();
    prefix
        .and(routes)
        .or(unknown)
        .unify()
        .map(move |routed: Routed| routed.unwrap_or_else(|e| e.into_response(&metrics)))
}

/// Takes the segments of `server.route_prefix` off the path, so that every route (written
/// from the root) matches the rest; a path outside the prefix goes on to the 404 route.
fn route_prefix(prefix: Option<&str>) -> warp::filters::BoxedFilter<()> {
    let mut filter = warp::any().boxed();
    for segment in prefix
        .unwrap_or_default()
        .split('/')
        .filter(|s| !s.is_empty())
    {
        filter = filter.and(warp::path(segment.to_owned())).boxed();
    }
    filter
}

/// The request line and headers: what every route checks before its own work.
struct Head {
    method: Method,
    path: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
}

fn head() -> impl Filter<Extract = (Head,), Error = Infallible> + Clone + Send + Sync + 'static {
    warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<PeerAddr>())
        .map(|method, path: FullPath, headers, peer| Head {
            method,
            path: path.as_str().to_owned(),
            headers,
            peer,
        })
}

/// The methods a route answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Allow {
    /// `POST` only.
    Post,
    /// `GET` and `HEAD`.
    Get,
    /// `GET`, `HEAD` and `POST`.
    GetPost,
}

impl Allow {
    fn permits(self, method: &Method) -> bool {
        match self {
            Self::Post => method == Method::POST,
            Self::Get => method == Method::GET || method == Method::HEAD,
            Self::GetPost => Self::Get.permits(method) || Self::Post.permits(method),
        }
    }

    /// The `Allow` header's value.
    fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Get => "GET, HEAD",
            Self::GetPost => "GET, HEAD, POST",
        }
    }
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Anyone: no credentials asked.
    Anyone,
    /// A receiving route: the configured credentials; a failure refuses a notification.
    Intake,
    /// The control API: the same credentials as the intake.
    Control,
}

impl Head {
    /// Checks the method, then (unless `access` is [`Access::Anyone`]) the credentials.
    fn admit(
        &self,
        settings: &ServerSettings,
        allow: Allow,
        access: Access,
    ) -> Result<(), HttpError> {
        if !allow.permits(&self.method) {
            return Err(HttpError::MethodNotAllowed {
                method: self.method.clone(),
                path: self.path.clone(),
                allow,
            });
        }
        if access == Access::Control && self.method == Method::POST {
            origin::same_origin(&self.headers).map_err(|why| {
                warn!(
                    peer = self.peer(),
                    path = self.path,
                    why,
                    "request refused: cross-site"
                );
                HttpError::CrossSite(why)
            })?;
        }
        let Some(expected) = settings.auth.as_ref().filter(|_| access != Access::Anyone) else {
            return Ok(());
        };
        auth::authorize(expected, &self.headers).map_err(|failure| {
            warn!(
                peer = self.peer(),
                path = self.path,
                reason = failure.as_str(),
                "request refused: authentication failed"
            );
            HttpError::Unauthorized {
                challenge: auth::challenge(expected),
                notification: access == Access::Intake,
            }
        })
    }

    /// Who sent the request, as a decision records it: the basic-auth user, `token` for a
    /// bearer token, `anonymous` when the server asks no credentials.
    fn who(&self, settings: &ServerSettings) -> String {
        match &settings.auth {
            Some(crate::config::Auth::Basic { username, .. }) => username.clone(),
            Some(crate::config::Auth::Bearer { .. }) => "token".to_owned(),
            None => "anonymous".to_owned(),
        }
    }

    /// The peer's address for the logs, or `""` when unknown (in tests).
    fn peer(&self) -> String {
        self.peer.map(|p| p.0.to_string()).unwrap_or_default()
    }
}

/// A JSON response.
fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    text(status, "application/json", body.to_string())
}

/// A response with a body of type `content_type`.
fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests;
