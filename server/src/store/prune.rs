//! Deleting old history, one small write transaction at a time.

use redb::{Database, ReadableDatabase, ReadableTable};

use super::error::{Classify, StoreError};
use super::tables::{DEDUPE, WriteTables, decode_head};

/// The most records one prune transaction deletes, so a writer never waits long.
pub(super) const CHUNK: usize = 256;

/// Which finished runs are history to delete.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// Runs created before this (unix ms) go.
    pub(super) older_than: i64,
    /// Runs not among this many newest go.
    pub(super) keep_count: u64,
}

/// Where the previous transaction of one prune stopped: the runs before `after` that it
/// kept (unfinished ones) need not be looked at again.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Resume {
    /// Look at runs with ids above this one.
    pub(super) after: Option<u64>,
    /// How many runs up to `after` are still stored: the position of the next run.
    pub(super) kept: usize,
}

/// Deletes up to `max` finished runs beyond the limits, oldest first, in one transaction.
/// Returns how many it deleted, and where to go on if there may be more.
pub(super) fn runs(
    db: &Database,
    cx: Classify<'_>,
    limits: Limits,
    max: usize,
    resume: Resume,
) -> Result<(usize, Option<Resume>), StoreError> {
    let txn = db.begin_write().map_err(|e| cx.error(e))?;
    let (victims, next) = {
        let mut t = WriteTables::open(&txn, cx)?;
        // Runs at positions (oldest first) below this are not among the newest keep_count.
        let surplus = t.run_count()?.saturating_sub(limits.keep_count);
        let surplus = usize::try_from(surplus).unwrap_or(usize::MAX);
        let range = match resume.after {
            Some(after) => t.runs.range(after.saturating_add(1)..),
            None => t.runs.range(0..),
        };
        let mut kept = resume.kept;
        let mut victims = Vec::new();
        let mut next = None;
        for entry in range.map_err(|e| cx.error(e))? {
            let (id, value) = entry.map_err(|e| cx.error(e))?;
            let head = decode_head(cx, id.value(), value.value())?;
            // The run's position among the stored runs, oldest first.
            let position = kept + victims.len();
            if position >= surplus && head.created_at >= limits.older_than {
                break;
            }
            if head.state.is_unfinished() {
                kept += 1;
            } else {
                victims.push(id.value());
                if victims.len() >= max {
                    next = Some(Resume {
                        after: Some(id.value()),
                        kept,
                    });
                    break;
                }
            }
        }
        for &id in &victims {
            t.delete_run(id)?;
        }
        (victims, next)
    };
    if victims.is_empty() {
        txn.abort().map_err(|e| cx.error(e))?;
    } else {
        txn.commit().map_err(|e| cx.error(e))?;
    }
    Ok((victims.len(), next))
}

/// Deletes up to [`CHUNK`] notifications that no run refers to. Returns how many orphan
/// marks it looked at.
pub(super) fn orphans(db: &Database, cx: Classify<'_>) -> Result<usize, StoreError> {
    let txn = db.begin_write().map_err(|e| cx.error(e))?;
    let marked = {
        let mut t = WriteTables::open(&txn, cx)?;
        let marked = t
            .orphans
            .iter()
            .map_err(|e| cx.error(e))?
            .take(CHUNK)
            .map(|entry| entry.map(|(id, _)| id.value()))
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|e| cx.error(e))?;
        for &id in &marked {
            t.orphans.remove(id).map_err(|e| cx.error(e))?;
            if !t.is_referenced(id)? {
                t.notifications.remove(id).map_err(|e| cx.error(e))?;
            }
        }
        marked
    };
    if marked.is_empty() {
        txn.abort().map_err(|e| cx.error(e))?;
    } else {
        txn.commit().map_err(|e| cx.error(e))?;
    }
    Ok(marked.len())
}

/// The dedupe keys whose episodes were last delivered before `older_than` (unix ms).
pub(super) fn expired_dedupe(
    db: &dyn ReadableDatabase,
    cx: Classify<'_>,
    older_than: i64,
) -> Result<Vec<String>, StoreError> {
    let txn = db.begin_read().map_err(|e| cx.error(e))?;
    let table = txn.open_table(DEDUPE).map_err(|e| cx.error(e))?;
    let mut keys = Vec::new();
    for entry in table.iter().map_err(|e| cx.error(e))? {
        let (key, at) = entry.map_err(|e| cx.error(e))?;
        let (_, seen_at) = at.value();
        if seen_at < older_than {
            keys.push(key.value().to_owned());
        }
    }
    Ok(keys)
}

/// Deletes the entries of these keys that are still older than `older_than` (a commit may
/// have refreshed one since they were listed).
pub(super) fn dedupe(
    db: &Database,
    cx: Classify<'_>,
    keys: &[String],
    older_than: i64,
) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(|e| cx.error(e))?;
    {
        let mut t = WriteTables::open(&txn, cx)?;
        for key in keys {
            let at = t.dedupe.get(key.as_str()).map_err(|e| cx.error(e))?;
            if at.is_some_and(|at| at.value().1 < older_than) {
                t.dedupe.remove(key.as_str()).map_err(|e| cx.error(e))?;
            }
        }
    }
    txn.commit().map_err(|e| cx.error(e))
}
