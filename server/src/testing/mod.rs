//! The test fixture kit (feature `test-util`): what alertrun's unit and integration tests
//! build their inputs with, in one place.
//!
//! What it is:
//! - the pure builders of [`alert_core::testing`], re-exported: [`labels`],
//!   [`AlertBuilder`] and [`NotificationBuilder`] for webhook notifications, and the
//!   [`RecordingExecutor`] that answers at once (and can fail its next starts);
//! - [`ManualClock`]: unix milliseconds that move only when the test moves them, for the
//!   dispatcher's cooldowns and retention;
//! - [`GatedExecutor`] (with feature `server`, it needs tokio): an executor whose runs wait
//!   until the test releases them or they are stopped, logging what started, stopped and
//!   ran at once, so that tests of queues and limits can hold runs where they want them.
//!
//! What it is not: part of alertrun's API (it is off by default, and the crate's own tests
//! turn it on through their dev-dependency on the crate itself), a place for one test's
//! helpers (a helper used by one test file stays in that file), or a fixture corpus: real
//! webhook bodies stay in `alert-core/tests/fixtures/`.
//!
//! ```
//! use std::time::Duration;
//!
//! use alertrun::testing::{AlertBuilder, ManualClock, NotificationBuilder, labels};
//!
//! let n = NotificationBuilder::new()
//!     .alert(AlertBuilder::firing(labels(&[("alertname", "DiskFull")])).starts_at("2026-11-21T10:30:00Z"))
//!     .build();
//! assert_eq!(n.alerts[0].label("alertname"), "DiskFull");
//!
//! let clock = ManualClock::new();
//! let now = clock.reader();
//! clock.advance(Duration::from_secs(60));
//! assert_eq!(now(), ManualClock::START + 60_000);
//! ```

mod clock;
#[cfg(feature = "server")]
mod gate;

pub use alert_core::testing::{
    AlertBuilder, ENDS_AT, NotificationBuilder, RecordingExecutor, STARTS_AT, labels,
};
pub use clock::ManualClock;
#[cfg(feature = "server")]
pub use gate::{GateLog, GateStart, GatedExecutor};
