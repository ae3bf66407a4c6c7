//! Reads: one run, listings, recovery, counts.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::ControlFlow;

use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata, TableHandle as _,
};

use super::error::{Classify, StoreError};
use super::record::{DedupeEntry, Recovery, RunFilter, RunRecord, RunState};
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
}

impl Listing<'_> {
    /// Looks at one run; breaks when the listing is complete.
    fn visit(
        &mut self,
        cx: Classify<'_>,
        id: u64,
        bytes: &[u8],
    ) -> Result<ControlFlow<()>, StoreError> {
        let head = decode_head(cx, id, bytes)?;
        if self
            .filter
            .since
            .is_some_and(|since| head.created_at < since)
        {
            return Ok(ControlFlow::Break(()));
        }
        if head.matches(self.filter) {
            self.found.push(decode_run(cx, id, bytes)?);
            if self.found.len() >= self.limit {
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
) -> Result<Vec<RunRecord>, StoreError> {
    let limit = filter.limit.min(RunFilter::MAX_LIMIT);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let before = filter.before.unwrap_or(u64::MAX);
    let runs = txn.open_table(RUNS).map_err(|e| cx.error(e))?;
    let mut listing = Listing {
        filter,
        limit,
        found: Vec::new(),
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
    Ok(listing.found)
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
