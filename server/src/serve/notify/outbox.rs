//! The outbox: notifications not yet delivered (or delivered, waiting to be shown on their
//! run), with their attempts. Pure: time comes in as unix milliseconds.
//!
//! An entry is `pending` until an attempt succeeds (`ok`) or the sink's `max_attempts`
//! are used up (`error`); between attempts it waits [`backoff`]. Its status goes onto its
//! run's record: at the run's end for what is known then ([`Outbox::run_ended`]), and
//! afterwards when an entry of an ended run is settled ([`Outbox::attempted`] returns
//! it). A settled entry is then forgotten. Every change is kept for
//! [`Outbox::take_changes`], which the dispatcher writes as store settings.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::NotificationStatus;

/// The store setting prefix of an entry: `outbox␟<id>`.
const SETTING: &str = "outbox";

/// The first wait between attempts; each failure doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a settled entry of a run whose end was never seen is kept.
const KEEP_SETTLED_MS: i64 = 24 * 3600 * 1000;

/// How long to wait after `attempts` failed attempts: 1 s, 2 s, 4 s … up to 5 min.
pub(crate) fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// One notification for one sink, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The run it is about.
    pub run: u64,
    /// The sink's name (its URL and key are read from the config at each attempt).
    pub sink: String,
    /// The event's name.
    pub event: String,
    /// The payload, rendered when the event happened (JSON).
    pub body: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due, unix ms.
    pub next_at: i64,
    /// `pending`, `ok` or `error`.
    pub result: String,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was made, unix ms.
    pub created_at: i64,
    /// Whether its run's end was recorded: its status then goes onto the run by itself.
    pub run_ended: bool,
}

impl Entry {
    /// A pending entry, due at `now`.
    pub(crate) fn new(run: u64, sink: &str, event: &str, body: String, now: i64) -> Self {
        Self {
            run,
            sink: sink.to_owned(),
            event: event.to_owned(),
            body,
            attempts: 0,
            next_at: now,
            result: PENDING.to_owned(),
            last_error: None,
            created_at: now,
            run_ended: false,
        }
    }

    /// Its status, as its run shows it.
    pub(crate) fn status(&self) -> NotificationStatus {
        NotificationStatus {
            sink: self.sink.clone(),
            event: self.event.clone(),
            result: self.result.clone(),
            attempts: self.attempts,
            last_error: self.last_error.clone(),
        }
    }

    fn is_settled(&self) -> bool {
        self.result != PENDING
    }
}

const PENDING: &str = "pending";

/// The entries by id, which ones are being tried now, and the changes not yet taken.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    entries: BTreeMap<u64, Entry>,
    in_flight: BTreeSet<u64>,
    next_id: u64,
    changed: BTreeSet<u64>,
}

impl Outbox {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `entry`; returns its id.
    pub(crate) fn add(&mut self, entry: Entry) -> u64 {
        self.next_id = self.next_id.max(1);
        let id = self.next_id;
        self.next_id += 1;
        self.entries.insert(id, entry);
        self.changed.insert(id);
        id
    }

    /// Puts back an entry the store kept; a pending one is due at once.
    pub(crate) fn restore(&mut self, id: u64, mut entry: Entry, now: i64) {
        if !entry.is_settled() {
            entry.next_at = entry.next_at.min(now);
        }
        self.next_id = self.next_id.max(id.saturating_add(1));
        self.entries.insert(id, entry);
    }

    /// Pending entries due at `now` and not being tried, at most `max`, marked as being
    /// tried. Settled entries of runs whose end never came are forgotten after a day.
    pub(crate) fn due(&mut self, now: i64, max: usize) -> Vec<(u64, Entry)> {
        let stale: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| e.is_settled() && now - e.created_at > KEEP_SETTLED_MS)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.forget(id);
        }
        let room = max.saturating_sub(self.in_flight.len());
        let due: Vec<(u64, Entry)> = self
            .entries
            .iter()
            .filter(|(id, e)| !e.is_settled() && e.next_at <= now && !self.in_flight.contains(id))
            .take(room)
            .map(|(id, e)| (*id, e.clone()))
            .collect();
        self.in_flight.extend(due.iter().map(|(id, _)| *id));
        due
    }

    /// Records how an attempt at entry `id` went (`Err`: why it failed). Returns the run
    /// and the entry's final status when the entry is settled and its run has ended: the
    /// caller writes it on the run; the entry is then forgotten.
    pub(crate) fn attempted(
        &mut self,
        id: u64,
        result: Result<(), String>,
        max_attempts: u32,
        now: i64,
    ) -> Option<(u64, NotificationStatus)> {
        self.in_flight.remove(&id);
        let entry = self.entries.get_mut(&id)?;
        entry.attempts = entry.attempts.saturating_add(1);
        match result {
            Ok(()) => {
                entry.result = "ok".to_owned();
                entry.last_error = None;
            }
            Err(why) => {
                entry.last_error = Some(why);
                if entry.attempts >= max_attempts {
                    entry.result = "error".to_owned();
                } else {
                    let wait = i64::try_from(backoff(entry.attempts).as_millis()).unwrap_or(0);
                    entry.next_at = now.saturating_add(wait);
                }
            }
        }
        self.changed.insert(id);
        let settled = entry.is_settled() && entry.run_ended;
        let status = (entry.run, entry.status());
        if settled {
            self.forget(id);
            return Some(status);
        }
        None
    }

    /// Run `run` ended: the statuses of its entries now, for its end record. Its settled
    /// entries are forgotten; its pending ones will report when they settle.
    pub(crate) fn run_ended(&mut self, run: u64) -> Vec<NotificationStatus> {
        let ids: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| e.run == run)
            .map(|(id, _)| *id)
            .collect();
        let mut statuses = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(entry) = self.entries.get_mut(&id) else {
                continue;
            };
            statuses.push(entry.status());
            if entry.is_settled() {
                self.forget(id);
            } else if !entry.run_ended {
                entry.run_ended = true;
                self.changed.insert(id);
            }
        }
        statuses
    }

    /// The changes since the last call: each changed entry, or `None` for one forgotten.
    pub(crate) fn take_changes(&mut self) -> Vec<(u64, Option<Entry>)> {
        std::mem::take(&mut self.changed)
            .into_iter()
            .map(|id| (id, self.entries.get(&id).cloned()))
            .collect()
    }

    /// How many entries are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn forget(&mut self, id: u64) {
        self.entries.remove(&id);
        self.in_flight.remove(&id);
        self.changed.insert(id);
    }
}

/// The store setting of entry `id`.
pub(crate) fn setting_name(id: u64) -> String {
    format!("{SETTING}\u{1f}{id}")
}

/// The entry id of a setting named by [`setting_name`]; `None` for another setting.
pub(crate) fn parse_setting_name(name: &str) -> Option<u64> {
    name.strip_prefix(SETTING)?
        .strip_prefix('\u{1f}')?
        .parse()
        .ok()
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
