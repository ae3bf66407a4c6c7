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
    /// How long past the Job's `activeDeadlineSeconds` alertrun waits for the Job
    /// controller to end it, before it deletes the Job itself (default
    /// [`default_deadline_grace`]). See [`JobExecutor`](crate::JobExecutor)'s "One clock".
    pub deadline_grace: Duration,
}

/// 1 s: a Job's end is noticed within a second, at one `GET` a second per running Job.
pub fn default_poll_interval() -> Duration {
    Duration::from_secs(1)
}

/// 10 s: the Job controller ends a Job at its deadline within a second or two; the rest
/// covers a poll interval and a slow API server.
pub fn default_deadline_grace() -> Duration {
    Duration::from_secs(10)
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
            deadline_grace: default_deadline_grace(),
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

    /// Sets [`JobOptions::deadline_grace`].
    pub fn with_deadline_grace(mut self, grace: Duration) -> Self {
        self.deadline_grace = grace;
        self
    }
}
