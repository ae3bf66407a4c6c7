//! What to do next when an offline command or a client command fails for a reason the user
//! can fix: a payload in the wrong shape for `explain`, no server answering `runs`, a
//! config whose server credentials were not read.
//!
//! One wording: what is wrong, where, then what to do (`run … first`, `pass …`).

use std::path::Path;

use alert_core::{Notification, PayloadLimits, PostableAlert, Timestamp};
use alertrun::Config;

/// The notification in `file`: a webhook payload, or with `prometheus` (`Some(true)`) the
/// alerts array Prometheus posts to Alertmanager; `None` takes either, by its shape.
pub(super) fn payload(file: &Path, prometheus: Option<bool>) -> anyhow::Result<Notification> {
    let body =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let is_array = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    if prometheus.unwrap_or(is_array) {
        let alerts = PostableAlert::from_json(&body, PayloadLimits::default())
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        return Ok(Notification::from_postable(alerts, now()?));
    }
    Notification::from_json(&body).map_err(|e| {
        if is_array {
            anyhow::anyhow!(
                "{}: this is a JSON array of alerts, what Prometheus sends to Alertmanager \
                 (POST /api/v2/alerts); explain wants a webhook payload, what Alertmanager \
                 sends to a receiver ({{\"version\": \"4\", \"receiver\": …, \"alerts\": \
                 […]}}): pass --prometheus to explain these alerts as alertrun serve takes \
                 them on /api/v2/alerts, or wrap them in a webhook payload",
                file.display()
            )
        } else {
            anyhow::anyhow!("{}: {e}", file.display())
        }
    })
}

/// Now, the time an alert Prometheus posted without `startsAt` starts at.
fn now() -> anyhow::Result<Timestamp> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    Timestamp::from_unix(secs, since.subsec_nanos())
        .ok_or_else(|| anyhow::anyhow!("the system clock is out of range"))
}

/// The error of a request to `url` that got no answer, with the way on when nothing
/// listens there.
pub(super) fn unreachable(url: &str, e: ureq::Error) -> anyhow::Error {
    let refused = match &e {
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        ureq::Error::ConnectionFailed => true,
        _ => false,
    };
    if refused {
        anyhow::anyhow!(
            "cannot reach {url}: no alertrun serve answers there: start it (alertrun serve -c \
             CONFIG), check --url or the config's server.listen, or read the history without \
             a server: alertrun runs --state-dir DIR (while no server uses DIR)"
        )
    } else {
        anyhow::Error::new(e).context(format!("cannot reach {url}"))
    }
}

/// Refuses a config whose server credentials were not read: a client command needs them
/// (a rule's `secret_env` it does not). Unread TLS files only hide that the server uses
/// TLS, which `--url https://…` says.
pub(super) fn server_secrets(path: &Path, config: &Config, has_url: bool) -> anyhow::Result<()> {
    for s in config.unread_secrets() {
        if s.path.starts_with("server.auth") {
            anyhow::bail!(
                "{}: {s}: the server's credentials are needed to talk to it: run this where \
                 they can be read",
                path.display()
            );
        }
        if s.path.starts_with("server.tls") && !has_url {
            anyhow::bail!(
                "{}: {s}: the server uses TLS: pass --url https://HOST:PORT (its certificate \
                 must be trusted by the system)",
                path.display()
            );
        }
    }
    Ok(())
}
