//! A clock the test moves by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Unix milliseconds that change only through [`advance`](Self::advance). Clones share the
/// time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// Where a new clock starts: 2027-01-15T08:00:00Z, in unix milliseconds.
    pub const START: i64 = 1_800_000_000_000;

    /// A clock at [`START`](Self::START).
    pub fn new() -> Self {
        Self(Arc::new(AtomicI64::new(Self::START)))
    }

    /// The time now, in unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Moves the time forward by `by`.
    ///
    /// # Panics
    /// If `by` does not fit in i64 milliseconds.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).expect("the step fits in i64 milliseconds");
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// The clock as a function, for code that takes its clock that way (the dispatcher).
    pub fn reader(&self) -> impl Fn() -> i64 + Send + Sync + 'static {
        let clock = self.clone();
        move || clock.now_ms()
    }
}
