//! The test fixture kit's pure half (feature `test-util`): labels, webhook notifications
//! and a recording executor.
//!
//! What it is: small typed builders for the inputs tests keep writing by hand, so that a
//! test names only what it is about (which labels, firing or resolved, when it started)
//! and gets the rest of a realistic Alertmanager webhook body filled in:
//! - [`labels`]: a [`LabelSet`](crate::LabelSet) from `(name, value)` pairs;
//! - [`AlertBuilder`] and [`NotificationBuilder`]: a version 4 webhook body, as JSON to
//!   post ([`NotificationBuilder::to_json`]) or parsed into a
//!   [`Notification`](crate::Notification) ([`NotificationBuilder::build`]);
//! - [`RecordingExecutor`]: an [`Executor`](crate::Executor) that answers at once, records
//!   what it was asked, and can fail its next starts as an unreachable backend does.
//!
//! What it is not: a fixture corpus (real webhook bodies stay in `tests/fixtures/`, and the
//! tests about parsing use them), nor anything with a runtime or a clock. The parts that
//! need tokio (a gated executor, a manual clock for the dispatcher) are `alertrun::testing`,
//! which re-exports this module, so that alertrun's tests import one kit.
//!
//! Everything here panics on misuse instead of returning errors: it is for tests only.
//!
//! ```
//! use alert_core::AlertStatus;
//! use alert_core::testing::{AlertBuilder, NotificationBuilder, labels};
//!
//! let n = NotificationBuilder::new()
//!     .alert(AlertBuilder::firing(labels(&[("alertname", "DiskFull"), ("node", "a")])))
//!     .alert(AlertBuilder::resolved(labels(&[("alertname", "DiskFull"), ("node", "b")])))
//!     .build();
//! assert_eq!(n.status, AlertStatus::Firing);
//! assert_eq!(n.group_key, r#"{}:{alertname="DiskFull"}"#);
//! assert_eq!(n.common_labels, labels(&[("alertname", "DiskFull")]));
//! ```

mod notification;
mod recording;

pub use notification::{AlertBuilder, ENDS_AT, NotificationBuilder, STARTS_AT, labels};
pub use recording::RecordingExecutor;
