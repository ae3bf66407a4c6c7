//! The seam between the HTTP layer and dispatch: the HTTP layer parses and authenticates,
//! then hands each notification to an [`Intake`], which must answer at once (no action runs
//! inside a request).

use alert_core::Notification;

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
}

/// Takes notifications. Implementations must not block: queue the work and return.
pub trait Intake: Send + Sync + 'static {
    /// Accepts `n`, or refuses it as a whole (nothing of it is queued or remembered).
    ///
    /// # Errors
    /// [`Refused`] when it cannot be taken now.
    fn accept(&self, n: Notification, source: Source) -> Result<Accepted, Refused>;
}
