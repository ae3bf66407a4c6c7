//! The read and control endpoints beside the intake: run history, rules, metrics,
//! readiness and reload. The HTTP layer authenticates them like the intake (all but
//! `GET /-/ready`) and hands each request to an [`Api`].

use alert_core::BoxFuture;
use warp::http::{HeaderValue, Method, StatusCode, header::CONTENT_TYPE};
use warp::reply::Response;

/// Answers the API requests.
pub trait Api: Send + Sync + 'static {
    /// The answer to `method path?query`, or `None` when `path` is not an API path.
    fn handle(
        &self,
        method: &Method,
        path: &str,
        query: &str,
    ) -> Option<BoxFuture<'static, Response>>;
}

/// Whether `path` may be asked without credentials.
pub(crate) fn is_public(path: &str) -> bool {
    path == "/-/ready"
}

/// A JSON response.
pub fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = Response::new(body.to_string().into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A plain-text response.
pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json(status, &serde_json::json!({ "error": message.into() }))
}
