//! The store's tables and the writes that keep its indexes in step with the runs.
//!
//! | table | key → value | what |
//! | --- | --- | --- |
//! | `meta` | name → u64 | `version` (layout), `next_id` (high-water mark of ids) |
//! | `runs` | id → JSON | [`RunRecord`]s |
//! | `notifications` | id → bytes | webhook bodies |
//! | `episodes` | dedupe key → (ran at, seen at), unix ms | dedupe entries |
//! | `runs_by_rule` | (rule, id) → () | index for the rule filter |
//! | `runs_by_notification` | (notification, id) → () | which runs keep a body alive |
//! | `runs_<state>` | id → () | one index per [`RunState`]; its length is the count |
//! | `orphan_notifications` | id → () | bodies no run refers to, for the next prune |

use std::borrow::Cow;

use redb::{
    ReadableTable, ReadableTableMetadata, Table, TableDefinition, TableHandle as _,
    WriteTransaction,
};

use super::error::{Classify, StoreError};
use super::record::{RunHead, RunRecord, RunState};

/// The layout this build reads and writes; stored under `meta.version`.
pub(super) const VERSION: u64 = 1;
pub(super) const META_VERSION: &str = "version";
pub(super) const META_NEXT_ID: &str = "next_id";

pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(super) const RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("runs");
pub(super) const NOTIFICATIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("notifications");
pub(super) const DEDUPE: TableDefinition<&str, (i64, i64)> = TableDefinition::new("episodes");
/// The dedupe table of stores written before `episodes`: key → ran at. Moved into
/// `episodes` (seen at = ran at) when such a store is opened.
pub(super) const OLD_DEDUPE: TableDefinition<&str, i64> = TableDefinition::new(OLD_DEDUPE_NAME);
pub(super) const BY_RULE: TableDefinition<(&str, u64), ()> = TableDefinition::new("runs_by_rule");
pub(super) const BY_NOTIFICATION: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("runs_by_notification");
pub(super) const ORPHANS: TableDefinition<u64, ()> = TableDefinition::new("orphan_notifications");

/// The name of the old dedupe table, which a newer layout migrates away.
pub(super) const OLD_DEDUPE_NAME: &str = "dedupe";

/// The name of every table [`WriteTables::open`] creates.
pub(super) fn names() -> impl Iterator<Item = &'static str> {
    [
        META.name(),
        RUNS.name(),
        NOTIFICATIONS.name(),
        DEDUPE.name(),
        BY_RULE.name(),
        BY_NOTIFICATION.name(),
        ORPHANS.name(),
    ]
    .into_iter()
    .chain(RunState::ALL.into_iter().map(by_state_name))
}

/// The index of runs in one state, named after it.
pub(super) fn by_state(state: RunState) -> TableDefinition<'static, u64, ()> {
    TableDefinition::new(by_state_name(state))
}

fn by_state_name(state: RunState) -> &'static str {
    match state {
        RunState::Queued => "runs_queued",
        RunState::Running => "runs_running",
        RunState::Succeeded => "runs_succeeded",
        RunState::Failed => "runs_failed",
        RunState::TimedOut => "runs_timed_out",
        RunState::Cancelled => "runs_cancelled",
        RunState::Interrupted => "runs_interrupted",
        RunState::Skipped => "runs_skipped",
        RunState::Starting => "runs_starting",
        RunState::FailedToStart => "runs_failed_to_start",
        RunState::AwaitingApproval => "runs_awaiting_approval",
        RunState::Verifying => "runs_verifying",
        RunState::Received => "runs_received",
        RunState::Unknown => "runs_unknown",
        RunState::Rejected => "runs_rejected",
    }
}

/// Decodes the indexed fields of a stored run.
pub(super) fn decode_head<'a>(
    cx: Classify<'_>,
    id: u64,
    bytes: &'a [u8],
) -> Result<RunHead<'a>, StoreError> {
    let what = || format!("run {id}");
    match unpack(cx, what, bytes)? {
        Cow::Borrowed(json) => serde_json::from_slice(json).map_err(|e| cx.decode(what, e)),
        Cow::Owned(json) => {
            let head: RunHead<'_> =
                serde_json::from_slice(&json).map_err(|e| cx.decode(what, e))?;
            Ok(head.into_owned())
        }
    }
}

/// Decodes a whole stored run.
pub(super) fn decode_run(cx: Classify<'_>, id: u64, bytes: &[u8]) -> Result<RunRecord, StoreError> {
    let what = || format!("run {id}");
    let json = unpack(cx, what, bytes)?;
    serde_json::from_slice(&json).map_err(|e| cx.decode(what, e))
}

/// A run as the store keeps it: its JSON, [packed](pack) once the run has ended. An
/// unfinished run is written again at each of its steps (queued, starting, running) and
/// replaced by its end, so compressing each of its versions cost a zstd pass per step for
/// bytes kept a few milliseconds (zstd was 6% of the server's CPU per execution).
pub(super) fn encode_run(run: &RunRecord) -> Vec<u8> {
    let json =
        serde_json::to_vec(run).expect("a RunRecord always serializes: its maps have string keys");
    if run.state.is_unfinished() {
        json
    } else {
        pack(&json)
    }
}

/// The first bytes of a zstd frame. A stored value (a run's JSON, a notification's body)
/// that starts with them is compressed; any other is the value itself, as stores written
/// before compression hold them (JSON never starts with these bytes).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// zstd's level for stored values: its fastest regular one.
const ZSTD_LEVEL: i32 = 1;

/// zstd dictionaries trained on what alertrun stores (webhook bodies and run records, made
/// by `dictionary/train` from the project's fixtures), oldest first; [`pack`] uses the last.
/// A frame names the dictionary it was compressed with by the id inside the dictionary, so
/// a dictionary is never changed or removed once a release wrote values with it: a new one
/// is added with a new id. Values written without a dictionary (by releases before v1)
/// stay readable, as do plain ones.
///
/// With v1, a one-alert notification's body (1,418 bytes of JSON, a payload v1 was not
/// trained on) is stored in 408 bytes instead of 632, and its dry-run run (2,204 bytes) in
/// 545 instead of 1,033: small JSON documents share most of their text (field and label
/// names, env names) with each other, not within themselves, where plain zstd looks for it.
const DICTIONARIES: [&[u8]; 1] = [include_bytes!("dictionary/v1.zdict")];

/// The dictionary [`pack`] compresses with, prepared once.
fn encoder_dictionary() -> &'static zstd::dict::EncoderDictionary<'static> {
    static DICTIONARY: std::sync::OnceLock<zstd::dict::EncoderDictionary<'static>> =
        std::sync::OnceLock::new();
    DICTIONARY.get_or_init(|| {
        let newest = DICTIONARIES[DICTIONARIES.len() - 1];
        zstd::dict::EncoderDictionary::copy(newest, ZSTD_LEVEL)
    })
}

/// The dictionary with this id, prepared once; `None` for an id no release has made.
fn decoder_dictionary(id: u32) -> Option<&'static zstd::dict::DecoderDictionary<'static>> {
    type Prepared = Vec<(u32, zstd::dict::DecoderDictionary<'static>)>;
    static DICTIONARIES_BY_ID: std::sync::OnceLock<Prepared> = std::sync::OnceLock::new();
    let prepared = DICTIONARIES_BY_ID.get_or_init(|| {
        DICTIONARIES
            .iter()
            .filter_map(|bytes| {
                let id = zstd::zstd_safe::get_dict_id_from_dict(bytes)?;
                Some((id.get(), zstd::dict::DecoderDictionary::copy(bytes)))
            })
            .collect()
    });
    prepared.iter().find(|(i, _)| *i == id).map(|(_, d)| d)
}

/// A value as the store keeps it: compressed with zstd and the newest dictionary, unless
/// that does not make it smaller.
pub(super) fn pack(raw: &[u8]) -> Vec<u8> {
    thread_local! {
        // A compression context is costly to make (its tables are allocated and zeroed):
        // one per thread, reused. Made per call, it cost a quarter of durable intake.
        static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let packed = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::with_prepared_dictionary(encoder_dictionary()).ok();
        }
        slot.as_mut().and_then(|c| c.compress(raw).ok())
    });
    match packed {
        Some(packed) if packed.len() < raw.len() => packed,
        _ => raw.to_vec(),
    }
}

/// A stored value as it was given to [`pack`].
///
/// # Errors
/// [`StoreError::Decode`] naming `what` when a compressed value cannot be decompressed.
pub(super) fn unpack<'a>(
    cx: Classify<'_>,
    what: impl FnOnce() -> String,
    stored: &'a [u8],
) -> Result<Cow<'a, [u8]>, StoreError> {
    unpack_plain(stored).map_err(|e| cx.decode(what, serde_json::Error::io(e)))
}

/// [`unpack`], with the decompressor's error as it is.
pub(super) fn unpack_plain(stored: &[u8]) -> std::io::Result<Cow<'_, [u8]>> {
    if !stored.starts_with(&ZSTD_MAGIC) {
        return Ok(Cow::Borrowed(stored));
    }
    thread_local! {
        /// One decompression context per dictionary id (0: none), made when first needed.
        static DECOMPRESSORS: std::cell::RefCell<Vec<(u32, zstd::bulk::Decompressor<'static>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let dictionary = match zstd::zstd_safe::get_dict_id_from_frame(stored) {
        None => None,
        Some(id) => Some((
            id.get(),
            decoder_dictionary(id.get()).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("compressed with dictionary {id}, which this release does not have"),
                )
            })?,
        )),
    };
    // The frame says how big the value is, when its writer knew (`pack` does).
    let Some(size) = zstd::zstd_safe::get_frame_content_size(stored)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
    else {
        return match dictionary {
            None => zstd::stream::decode_all(stored).map(Cow::Owned),
            Some((_, prepared)) => {
                let mut out = Vec::new();
                let mut decoder =
                    zstd::stream::read::Decoder::with_prepared_dictionary(stored, prepared)?;
                std::io::Read::read_to_end(&mut decoder, &mut out)?;
                Ok(Cow::Owned(out))
            }
        };
    };
    DECOMPRESSORS.with(|cell| {
        let mut contexts = cell.borrow_mut();
        let id = dictionary.map_or(0, |(id, _)| id);
        let at = match contexts.iter().position(|(i, _)| *i == id) {
            Some(at) => at,
            None => {
                let context = match dictionary {
                    None => zstd::bulk::Decompressor::new()?,
                    Some((_, prepared)) => {
                        zstd::bulk::Decompressor::with_prepared_dictionary(prepared)?
                    }
                };
                contexts.push((id, context));
                contexts.len() - 1
            }
        };
        contexts[at].1.decompress(stored, size).map(Cow::Owned)
    })
}

/// An index entry that points at a run that is not stored.
pub(super) fn dangling(cx: Classify<'_>, index: &str, id: u64) -> StoreError {
    cx.error(redb::Error::Corrupted(format!(
        "index {index} lists run {id}, which is not stored"
    )))
}

/// What a run's index entries are made of.
struct IndexKeys {
    rule: String,
    notification: u64,
    state: RunState,
}

impl From<RunHead<'_>> for IndexKeys {
    fn from(head: RunHead<'_>) -> Self {
        IndexKeys {
            rule: Cow::into_owned(head.rule),
            notification: head.notification,
            state: head.state,
        }
    }
}

/// Every table a write opens, open for one write transaction.
pub(super) struct WriteTables<'txn> {
    cx: Classify<'txn>,
    txn: &'txn WriteTransaction,
    pub(super) meta: Table<'txn, &'static str, u64>,
    pub(super) runs: Table<'txn, u64, &'static [u8]>,
    pub(super) notifications: Table<'txn, u64, &'static [u8]>,
    pub(super) dedupe: Table<'txn, &'static str, (i64, i64)>,
    by_rule: Table<'txn, (&'static str, u64), ()>,
    by_notification: Table<'txn, (u64, u64), ()>,
    pub(super) orphans: Table<'txn, u64, ()>,
    /// One per [`RunState`], opened when first used: a batch moves runs between two or
    /// three of them, and opening all fifteen cost about 2% of a durable intake's CPU.
    by_state: Vec<Option<Table<'txn, u64, ()>>>,
}

impl<'txn> WriteTables<'txn> {
    /// Opens (creating where missing) every table but the state indexes, which are opened
    /// when first used (see [`WriteTables::create_state_indexes`]).
    pub(super) fn open(
        txn: &'txn WriteTransaction,
        cx: Classify<'txn>,
    ) -> Result<Self, StoreError> {
        let by_state = RunState::ALL.iter().map(|_| None).collect();
        Ok(WriteTables {
            cx,
            txn,
            meta: txn.open_table(META).map_err(|e| cx.error(e))?,
            runs: txn.open_table(RUNS).map_err(|e| cx.error(e))?,
            notifications: txn.open_table(NOTIFICATIONS).map_err(|e| cx.error(e))?,
            dedupe: txn.open_table(DEDUPE).map_err(|e| cx.error(e))?,
            by_rule: txn.open_table(BY_RULE).map_err(|e| cx.error(e))?,
            by_notification: txn.open_table(BY_NOTIFICATION).map_err(|e| cx.error(e))?,
            orphans: txn.open_table(ORPHANS).map_err(|e| cx.error(e))?,
            by_state,
        })
    }

    /// The transaction, to open a table that is not always written (`settings`).
    pub(super) fn txn(&self) -> &'txn WriteTransaction {
        self.txn
    }

    /// How its errors are classified.
    pub(super) fn cx(&self) -> Classify<'txn> {
        self.cx
    }

    /// Opens (creating where missing) every state index: a new store has them all, so that
    /// a read finds each.
    pub(super) fn create_state_indexes(&mut self) -> Result<(), StoreError> {
        for state in RunState::ALL {
            self.state_index(state)?;
        }
        Ok(())
    }

    fn state_index(&mut self, state: RunState) -> Result<&mut Table<'txn, u64, ()>, StoreError> {
        let (txn, cx) = (self.txn, self.cx);
        let slot = &mut self.by_state[usize::from(state.code())];
        let table = match slot.take() {
            Some(table) => table,
            None => txn.open_table(by_state(state)).map_err(|e| cx.error(e))?,
        };
        Ok(slot.insert(table))
    }

    /// Inserts or replaces a run and moves its index entries. The run's notification must be
    /// stored already.
    /// `bytes` is the run as [`encode_run`] serializes it.
    pub(super) fn put_run(&mut self, run: &RunRecord, bytes: &[u8]) -> Result<(), StoreError> {
        let cx = self.cx;
        let old = match self.runs.insert(run.id, bytes).map_err(|e| cx.error(e))? {
            Some(old) => Some(IndexKeys::from(decode_head(cx, run.id, old.value())?)),
            None => None,
        };
        if let Some(old) = old {
            self.remove_index_entries(run.id, &old)?;
            if old.notification != run.notification {
                self.mark_if_orphan(old.notification)?;
            }
        }
        if self
            .notifications
            .get(run.notification)
            .map_err(|e| cx.error(e))?
            .is_none()
        {
            return Err(StoreError::MissingNotification {
                path: cx.path.to_owned(),
                run: run.id,
                notification: run.notification,
            });
        }
        self.by_rule
            .insert((run.rule.as_str(), run.id), ())
            .map_err(|e| cx.error(e))?;
        self.by_notification
            .insert((run.notification, run.id), ())
            .map_err(|e| cx.error(e))?;
        self.state_index(run.state)?
            .insert(run.id, ())
            .map_err(|e| cx.error(e))?;
        self.orphans
            .remove(run.notification)
            .map_err(|e| cx.error(e))?;
        Ok(())
    }

    /// Deletes a run, its index entries, and its notification if no other run refers to it.
    pub(super) fn delete_run(&mut self, id: u64) -> Result<(), StoreError> {
        let cx = self.cx;
        let old = match self.runs.remove(id).map_err(|e| cx.error(e))? {
            Some(old) => IndexKeys::from(decode_head(cx, id, old.value())?),
            None => return Ok(()),
        };
        self.remove_index_entries(id, &old)?;
        if !self.is_referenced(old.notification)? {
            self.notifications
                .remove(old.notification)
                .map_err(|e| cx.error(e))?;
            self.orphans
                .remove(old.notification)
                .map_err(|e| cx.error(e))?;
        }
        Ok(())
    }

    fn remove_index_entries(&mut self, id: u64, keys: &IndexKeys) -> Result<(), StoreError> {
        let cx = self.cx;
        self.by_rule
            .remove((keys.rule.as_str(), id))
            .map_err(|e| cx.error(e))?;
        self.by_notification
            .remove((keys.notification, id))
            .map_err(|e| cx.error(e))?;
        self.state_index(keys.state)?
            .remove(id)
            .map_err(|e| cx.error(e))?;
        Ok(())
    }

    /// Whether any stored run refers to the notification.
    pub(super) fn is_referenced(&self, notification: u64) -> Result<bool, StoreError> {
        let mut refs = self
            .by_notification
            .range((notification, 0)..=(notification, u64::MAX))
            .map_err(|e| self.cx.error(e))?;
        Ok(refs.next().is_some())
    }

    /// Notes a stored notification that no run refers to, for the next prune to delete.
    pub(super) fn mark_if_orphan(&mut self, notification: u64) -> Result<(), StoreError> {
        let cx = self.cx;
        let stored = self
            .notifications
            .get(notification)
            .map_err(|e| cx.error(e))?
            .is_some();
        if stored && !self.is_referenced(notification)? {
            self.orphans
                .insert(notification, ())
                .map_err(|e| cx.error(e))?;
        }
        Ok(())
    }

    /// Raises the stored high-water mark so that `next_id` is above `id`.
    pub(super) fn raise_next_id(&mut self, id: u64) -> Result<(), StoreError> {
        let cx = self.cx;
        let current = self
            .meta
            .get(META_NEXT_ID)
            .map_err(|e| cx.error(e))?
            .map_or(1, |v| v.value());
        let wanted = id.saturating_add(1);
        if wanted > current {
            self.meta
                .insert(META_NEXT_ID, wanted)
                .map_err(|e| cx.error(e))?;
        }
        Ok(())
    }

    /// How many runs are stored.
    pub(super) fn run_count(&self) -> Result<u64, StoreError> {
        self.runs.len().map_err(|e| self.cx.error(e))
    }
}
