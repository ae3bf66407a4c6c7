//! Notifications of outcomes: what alertrun tells the `notify:` sinks about runs, how it
//! signs it, and how it keeps it until it is delivered.
//!
//! An event about a run (it awaits approval, started, finished, was judged, or its
//! breaker opened or closed) becomes one outbox [`Entry`] per sink of its rule that wants
//! the event, its payload rendered at once ([`message`]): for a generic webhook, the event
//! and the run record as JSON, signed at each attempt ([`sign`]); for a Slack-compatible
//! sink, a readable `text` from the sink's template. The [`Outbox`] keeps the entries, and
//! every change to it is a store setting (`outbox␟<id>`), written in order with the runs
//! (see `serve::dispatch::notify`, which owns the outbox and the delivery task). Delivery
//! ([`send`]) is a blocking HTTP POST with a timeout, retried with exponential backoff
//! ([`backoff`]) up to the sink's `max_attempts`: at least once, also across a restart.
//!
//! What this module is not: it decides no run's fate and holds no lock; a notification
//! that cannot be delivered never holds back intake or a run. Secrets (webhook keys, Slack
//! URLs) are never logged or stored: entries name their sink, and the key and URL are
//! read from the config in force at each attempt.

pub(crate) mod message;
mod outbox;
pub(crate) mod send;
pub(crate) mod sign;

pub(crate) use message::{AlertLinks, ApprovalLinks, BreakerNote, NotifyEvent, Subject};
pub(crate) use outbox::{Entry, Outbox, parse_setting_name, setting_name};
