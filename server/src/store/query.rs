//! Reads: one run, listings, recovery, counts.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::ControlFlow;

use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata, TableHandle as _,
};

use super::error::{Classify, StoreError};
use super::record::{DedupeEntry, Recovery, RuleActivity, RunFilter, RunPage, RunRecord, RunState};
use super::tables::{
    BY_RULE, DEDUPE, META, META_NEXT_ID, NOTIFICATIONS, RUNS, by_state, dangling, decode_head,
    decode_run, unpack,
};

pub(super) fn run(
    txn: &ReadTransaction,
    cx: Classify<'_>,
    id: u64,
) -> Result<Option<RunRecord>, StoreError> {
    let runs = txn.open_table(RUNS).map_err(|e| cx.error(e))?;
    let value = runs.get(id).map_err(|e| cx.error(e))?;
    value.map(|v| decode_run(cx, id, v.value())).transpose()
}

pub(super) fn notification(
    txn: &ReadTransaction,
    cx: Classify<'_>,
    id: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let notifications = txn.open_table(NOTIFICATIONS).map_err(|e| cx.error(e))?;
    let value = notifications.get(id).map_err(|e| cx.error(e))?;
    value
        .map(|v| unpack(cx, || format!("notification {id}"), v.value()).map(Cow::into_owned))
        .transpose()
}

pub(super) fn counts(
    txn: &ReadTransaction,
    cx: Classify<'_>,
) -> Result<BTreeMap<RunState, u64>, StoreError> {
    RunState::ALL
        .into_iter()
        .map(|state| {
            let index = txn.open_table(by_state(state)).map_err(|e| cx.error(e))?;
            Ok((state, index.len().map_err(|e| cx.error(e))?))
        })
        .collect()
}

/// Collects the runs that pass a filter, newest first.
struct Listing<'f> {
    filter: &'f RunFilter,
    limit: usize,
    found: Vec<RunRecord>,
    /// Runs looked at so far, and the last one.
    scanned: usize,
    last_scanned: Option<u64>,
    /// Whether the scan stopped before the history's end (page full, or the budget spent).
    stopped: bool,
}

impl Listing<'_> {
    /// Looks at one run; breaks when the listing is complete.
    fn visit(
        &mut self,
        cx: Classify<'_>,
        id: u64,
        bytes: &[u8],
    ) -> Result<ControlFlow<()>, StoreError> {
        if self
            .filter
            .max_scanned
            .is_some_and(|max| self.scanned >= max)
        {
            self.stopped = true;
            return Ok(ControlFlow::Break(()));
        }
        let head = decode_head(cx, id, bytes)?;
        if self
            .filter
            .since
            .is_some_and(|since| head.created_at < since)
        {
            return Ok(ControlFlow::Break(()));
        }
        self.scanned += 1;
        self.last_scanned = Some(id);
        if head.matches(self.filter) {
            let run = decode_run(cx, id, bytes)?;
            let labelled = self
                .filter
                .labels
                .iter()
                .all(|(name, value)| run.labels.get(name) == Some(value));
            if !labelled {
                return Ok(ControlFlow::Continue(()));
            }
            self.found.push(run);
            if self.found.len() >= self.limit {
                self.stopped = true;
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Visits the runs an index lists, in the order given.
    fn visit_ids(
        &mut self,
        cx: Classify<'_>,
        runs: &ReadOnlyTable<u64, &'static [u8]>,
        index: &str,
        ids: impl Iterator<Item = Result<u64, redb::StorageError>>,
    ) -> Result<(), StoreError> {
        for id in ids {
            let id = id.map_err(|e| cx.error(e))?;
            let value = runs.get(id).map_err(|e| cx.error(e))?;
            let value = value.ok_or_else(|| dangling(cx, index, id))?;
            if self.visit(cx, id, value.value())?.is_break() {
                break;
            }
        }
        Ok(())
    }
}

pub(super) fn runs(
    txn: &ReadTransaction,
    cx: Classify<'_>,
    filter: &RunFilter,
) -> Result<RunPage, StoreError> {
    let limit = filter.limit.min(RunFilter::MAX_LIMIT);
    if limit == 0 {
        return Ok(RunPage::default());
    }
    let runs = txn.open_table(RUNS).map_err(|e| cx.error(e))?;
    let mut before = filter.before.unwrap_or(u64::MAX);
    if let Some(until) = filter.until {
        before = before.min(first_id_at(cx, &runs, until)?.unwrap_or(u64::MAX));
    }
    let mut listing = Listing {
        filter,
        limit,
        found: Vec::new(),
        scanned: 0,
        last_scanned: None,
        stopped: false,
    };
    if let Some(rule) = filter.rule.as_deref() {
        let index = txn.open_table(BY_RULE).map_err(|e| cx.error(e))?;
        let range = index
            .range((rule, 0)..(rule, before))
            .map_err(|e| cx.error(e))?;
        let ids = range.rev().map(|entry| entry.map(|(k, _)| k.value().1));
        listing.visit_ids(cx, &runs, "runs_by_rule", ids)?;
    } else if let Some(state) = filter.state {
        let definition = by_state(state);
        let index = txn.open_table(definition).map_err(|e| cx.error(e))?;
        let range = index.range(..before).map_err(|e| cx.error(e))?;
        let ids = range.rev().map(|entry| entry.map(|(k, _)| k.value()));
        listing.visit_ids(cx, &runs, definition.name(), ids)?;
    } else {
        for entry in runs.range(..before).map_err(|e| cx.error(e))?.rev() {
            let (id, value) = entry.map_err(|e| cx.error(e))?;
            if listing.visit(cx, id.value(), value.value())?.is_break() {
                break;
            }
        }
    }
    let next = if listing.stopped {
        listing.last_scanned
    } else {
        None
    };
    Ok(RunPage {
        runs: listing.found,
        next,
        scanned: listing.scanned,
    })
}

/// The id of the oldest run created at or after `at` (unix ms), or none when every run is
/// older: a binary search over ids, which relies on ids being handed out in creation order.
/// About 2·log2(runs) reads, whatever the history's size.
fn first_id_at(
    cx: Classify<'_>,
    runs: &ReadOnlyTable<u64, &'static [u8]>,
    at: i64,
) -> Result<Option<u64>, StoreError> {
    // The first run with an id of at least `id`, and when it was created.
    let first_from = |id: u64| -> Result<Option<(u64, i64)>, StoreError> {
        let mut range = runs.range(id..).map_err(|e| cx.error(e))?;
        let Some(entry) = range.next() else {
            return Ok(None);
        };
        let (key, value) = entry.map_err(|e| cx.error(e))?;
        let head = decode_head(cx, key.value(), value.value())?;
        Ok(Some((key.value(), head.created_at)))
    };
    let (mut low, mut high) = (0_u64, u64::MAX);
    while low < high {
        let mid = low + (high - low) / 2;
        match first_from(mid)? {
            Some((id, created)) if created < at => low = id.saturating_add(1),
            _ => high = mid,
        }
    }
    Ok(first_from(low)?.map(|(id, _)| id))
}

/// `rule`'s newest run, and how many of its runs were created since `hour_ago` and
/// `day_ago` (unix ms): counted on the rule index's keys, from the first id of each window
/// (see [`first_id_at`]), without reading those runs.
pub(super) fn rule_activity(
    txn: &ReadTransaction,
    cx: Classify<'_>,
    rule: &str,
    hour_ago: i64,
    day_ago: i64,
) -> Result<RuleActivity, StoreError> {
    let runs = txn.open_table(RUNS).map_err(|e| cx.error(e))?;
    let index = txn.open_table(BY_RULE).map_err(|e| cx.error(e))?;
    let count_from = |at: i64| -> Result<u64, StoreError> {
        let Some(first) = first_id_at(cx, &runs, at)? else {
            return Ok(0);
        };
        let range = index
            .range((rule, first)..=(rule, u64::MAX))
            .map_err(|e| cx.error(e))?;
        let mut n = 0;
        for entry in range {
            entry.map_err(|e| cx.error(e))?;
            n += 1;
        }
        Ok(n)
    };
    let newest = index
        .range((rule, 0)..=(rule, u64::MAX))
        .map_err(|e| cx.error(e))?
        .next_back()
        .transpose()
        .map_err(|e| cx.error(e))?
        .map(|(k, _)| k.value().1);
    let last = match newest {
        Some(id) => {
            let value = runs.get(id).map_err(|e| cx.error(e))?;
            let value = value.ok_or_else(|| dangling(cx, "runs_by_rule", id))?;
            Some(decode_run(cx, id, value.value())?)
        }
        None => None,
    };
    Ok(RuleActivity {
        last,
        last_hour: count_from(hour_ago)?,
        last_day: count_from(day_ago)?,
    })
}

pub(super) fn recover(
    txn: &ReadTransaction,
    cx: Classify<'_>,
    each_dedupe: &mut dyn FnMut(u64, &str, DedupeEntry),
) -> Result<Recovery, StoreError> {
    let meta = txn.open_table(META).map_err(|e| cx.error(e))?;
    let next_id = meta
        .get(META_NEXT_ID)
        .map_err(|e| cx.error(e))?
        .map_or(1, |v| v.value());

    let dedupe_table = txn.open_table(DEDUPE).map_err(|e| cx.error(e))?;
    let all = dedupe_table.len().map_err(|e| cx.error(e))?;
    for entry in dedupe_table.iter().map_err(|e| cx.error(e))? {
        let (key, at) = entry.map_err(|e| cx.error(e))?;
        let (ran_at, seen_at) = at.value();
        each_dedupe(all, key.value(), DedupeEntry { ran_at, seen_at });
    }

    let mut ids = Vec::new();
    for state in RunState::ALL.into_iter().filter(|s| s.is_unfinished()) {
        let index = txn.open_table(by_state(state)).map_err(|e| cx.error(e))?;
        for entry in index.iter().map_err(|e| cx.error(e))? {
            ids.push(entry.map_err(|e| cx.error(e))?.0.value());
        }
    }
    ids.sort_unstable();

    let runs = txn.open_table(RUNS).map_err(|e| cx.error(e))?;
    let notification_table = txn.open_table(NOTIFICATIONS).map_err(|e| cx.error(e))?;
    let mut unfinished = Vec::with_capacity(ids.len());
    let mut notifications = BTreeMap::new();
    for id in ids {
        let value = runs.get(id).map_err(|e| cx.error(e))?;
        let value = value.ok_or_else(|| dangling(cx, "of unfinished runs", id))?;
        let run = decode_run(cx, id, value.value())?;
        if let Entry::Vacant(slot) = notifications.entry(run.notification) {
            // Present unless the file was damaged: commit refuses a run without its body.
            let body = notification_table
                .get(run.notification)
                .map_err(|e| cx.error(e))?;
            if let Some(body) = body {
                let what = || format!("notification {}", run.notification);
                slot.insert(unpack(cx, what, body.value())?.into_owned());
            }
        }
        unfinished.push(run);
    }
    Ok(Recovery {
        next_id,
        dedupe: Vec::new(),
        unfinished,
        notifications,
    })
}
