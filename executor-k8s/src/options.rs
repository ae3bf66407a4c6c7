//! How a [`JobExecutor`](crate::JobExecutor) follows Jobs and collects their output.

use std::time::Duration;

/// How a [`JobExecutor`](crate::JobExecutor) follows Jobs and collects their output.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobOptions {
    /// How often the Job is read while it runs (default [`default_poll_interval`]).
    pub poll_interval: Duration,
    /// The most bytes of pod log kept in [`Report::stdout`](alert_core::Report::stdout) (default
    /// [`default_log_tail_bytes`]).
    pub log_tail_bytes: usize,
    /// How many lines of pod log are asked for (default [`default_log_tail_lines`]).
    pub log_tail_lines: i64,
}

/// 1 s: a Job's end is noticed within a second, at one `GET` a second per running Job.
pub fn default_poll_interval() -> Duration {
    Duration::from_secs(1)
}

/// 64 KiB of log in a report.
pub fn default_log_tail_bytes() -> usize {
    64 * 1024
}

/// 1000 lines of log asked for (then cut to [`default_log_tail_bytes`]).
pub fn default_log_tail_lines() -> i64 {
    1000
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            poll_interval: default_poll_interval(),
            log_tail_bytes: default_log_tail_bytes(),
            log_tail_lines: default_log_tail_lines(),
        }
    }
}

impl JobOptions {
    /// Sets [`JobOptions::poll_interval`].
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets [`JobOptions::log_tail_bytes`].
    pub fn with_log_tail_bytes(mut self, bytes: usize) -> Self {
        self.log_tail_bytes = bytes;
        self
    }

    /// Sets [`JobOptions::log_tail_lines`].
    pub fn with_log_tail_lines(mut self, lines: i64) -> Self {
        self.log_tail_lines = lines;
        self
    }
}
