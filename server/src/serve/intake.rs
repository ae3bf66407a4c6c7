//! The seam between the HTTP layer and dispatch: the HTTP layer parses and authenticates,
//! then hands each notification to an [`Intake`], which must answer at once (no action runs
//! inside a request).

use std::sync::Arc;

use alert_core::{BoxFuture, Notification};

/// Where a notification came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An Alertmanager webhook (`POST /webhook`).
    Webhook,
    /// Prometheus posting alerts as to an Alertmanager (`POST /api/v2/alerts`).
    PrometheusApi,
}

/// A notification taken: its runs are queued (or it selected nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Actions queued for it.
    pub queued: usize,
    /// Selections skipped because they already ran (dedupe, cooldown).
    pub skipped: usize,
}

/// Why a valid notification cannot be taken right now. The HTTP layer answers 503, so that
/// Alertmanager retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The run queue has no room for this notification's runs.
    #[error("the run queue is full")]
    QueueFull,
    /// alertrun is shutting down.
    #[error("alertrun is shutting down")]
    ShuttingDown,
    /// The store cannot record the notification's runs (read-only or full disk).
    #[error("the state store cannot record it now")]
    StoreUnavailable,
    /// `server.ha`: its episodes cannot be claimed on the Kubernetes API now (unreachable,
    /// or refusing): no replica may run them unclaimed, so Alertmanager must retry.
    #[error("its episodes cannot be claimed on the Kubernetes API now (server.ha)")]
    ClaimUnavailable,
}

/// Takes notifications. The returned future resolves once the notification's runs are
/// recorded (durably, with a store) and queued; no action runs inside it. Once called, the
/// notification is processed even if the future is dropped.
pub trait Intake: Send + Sync + 'static {
    /// Accepts `n`, or refuses it as a whole (nothing of it is queued or remembered).
    fn accept(
        &self,
        n: Notification,
        source: Source,
    ) -> BoxFuture<'static, Result<Accepted, Refused>>;

    /// [`Intake::accept`] with the body `n` was parsed from, as received (a webhook's), for
    /// an intake that keeps what Alertmanager sent byte for byte; the default drops it.
    fn accept_received(
        &self,
        n: Notification,
        received: Arc<[u8]>,
        source: Source,
    ) -> BoxFuture<'static, Result<Accepted, Refused>> {
        drop(received);
        self.accept(n, source)
    }
}
