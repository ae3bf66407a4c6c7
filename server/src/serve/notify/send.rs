//! One delivery attempt: a blocking HTTP POST of an entry's payload to its sink (call it
//! from `spawn_blocking`), with a timeout, and for a generic webhook the signature headers.
//!
//! What this module is not: retries (the outbox's), or logging. Its errors never hold a
//! sink's URL (a Slack URL is a credential) or key.

use std::time::Duration;

use crate::config::{Sink, SinkKind};

use super::sign::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};

/// How long one attempt may take, connection included.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// The sink answered with a status that is not 2xx.
    #[error("the sink answered {0}")]
    Status(u16),
    /// No answer: connection refused, timeout, TLS, a broken connection.
    #[error("no answer from the sink: {0}")]
    Transport(String),
}

/// Posts `body` (JSON) to `sink`, signed at `now_secs` for a webhook.
///
/// # Errors
/// [`SendError`] when the sink does not answer 2xx within [`TIMEOUT`].
pub(crate) fn send(sink: &Sink, body: &str, now_secs: u64) -> Result<(), SendError> {
    let url = match &sink.kind {
        SinkKind::Webhook { url, .. } => url.as_str(),
        SinkKind::Slack { url } => url.as_str(),
    };
    let mut request = ureq::post(url)
        .config()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .build()
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            concat!("alertrun/", env!("CARGO_PKG_VERSION")),
        );
    if let SinkKind::Webhook { secret, .. } = &sink.kind {
        let signed = signature(secret.as_str().as_bytes(), now_secs, body.as_bytes());
        request = request
            .header(TIMESTAMP_HEADER, now_secs.to_string())
            .header(SIGNATURE_HEADER, signed);
    }
    let response = request
        .send(body)
        .map_err(|e| SendError::Transport(transport(&e)))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(SendError::Status(status))
    }
}

/// What went wrong, without the URL: ureq's messages name the host at most.
fn transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Timeout(_) => format!("timed out after {}s", TIMEOUT.as_secs()),
        other => other.to_string(),
    }
}
