//! The durable store: notifications, runs, dedupe entries and run history, in one
//! [redb](https://docs.rs/redb) file, `<data dir>/alertrun.redb`.
//!
//! The store is what lets alertrun answer a notification only once the runs it creates
//! are safe: [`Store::commit`] writes a [`Batch`] in one transaction and returns once it is
//! fsync'ed. After a crash or restart, [`Store::recover`] hands back everything needed to
//! carry on: the id counter, the dedupe entries, and every unfinished run with the
//! notification body it came from.
//!
//! A commit is made durable by appending the batch to a journal (`alertrun.journal`, next
//! to the redb file) and syncing that, not by a durable redb transaction, which costs about
//! twice as much: see the `journal` module. redb's own file catches up at a checkpoint, at
//! least every second; opening the store replays what the journal holds.
//!
//! Nor does every commit commit a redb transaction: the batches go into one write
//! transaction, committed (without durability) once it holds [`BATCHES_PER_TRANSACTION`]
//! of them, and before any read or other write, so that a read sees every commit that
//! returned before it began. A batch that fails, or that the journal cannot take, drops
//! the transaction with what it wrote, and the batches before it are applied again to a
//! new one from their journal payloads (kept until the transaction commits).
//!
//! It is not a general database: it keeps records whole (JSON), indexes only what the
//! listings filter on (rule, state, notification), and is synchronous. Async callers run
//! it in `tokio::task::spawn_blocking`. A [`Store`] is a cheap handle: clones share one
//! open database; reads run concurrently with each other and with the one writer.
//!
//! If a write fails (disk full, read-only file system), redb refuses all further work on the
//! open file; the store then closes it and reopens it on the next call, so alertrun
//! recovers by itself once the disk has room again.
//!
//! Reads need no write: opening a store whose layout is in place runs no write transaction
//! (so a full disk does not prevent a restart), and a store file that cannot be opened for
//! writing (a read-only volume, a read-only file) is opened read-only: reads work, and every
//! write fails with [`StoreError::Write`], as on a full disk, after trying the file for
//! writing again. A store file that exists but is empty is refused ([`StoreError::Empty`]):
//! it has lost everything it held, and must not silently become a new, empty store.
//!
//! ```
//! use alertrun::{Batch, DedupeEntry, RunFilter, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path())?;
//! store.commit(&Batch {
//!     dedupe: vec![("rule/abc".to_owned(), DedupeEntry::at(1_700_000_000_000))],
//!     ..Batch::default()
//! })?;
//! let recovery = store.recover()?;
//! assert_eq!(recovery.next_id, 1);
//! assert_eq!(recovery.dedupe.len(), 1);
//! assert!(store.runs(&RunFilter::default())?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(test)]
mod durability_tests;
mod error;
mod journal;
mod prune;
mod query;
mod record;
mod settings;
mod tables;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use redb::{Database, Durability, ReadOnlyDatabase, ReadableDatabase, ReadableTable as _};

pub use error::StoreError;
pub use record::{
    ApprovalDecision, ApprovalRecord, Batch, DedupeEntry, NotificationStatus, Recovery,
    RuleActivity, RunClaim, RunFilter, RunPage, RunRecord, RunSilence, RunVerdict,
};
pub(crate) use record::{RunState, Transition};

use error::Classify;
use tables::{META_VERSION, OLD_DEDUPE, VERSION, WriteTables};

/// The file name inside the data directory.
pub(crate) const FILE_NAME: &str = "alertrun.redb";

/// redb's page cache. Its default (1 GiB) suits a database server, not a receiver; at
/// 64 MiB it filled under load and held 126 MB resident during a durable intake run, at
/// 8 MiB 50 MB, with the same throughput (writes touch the newest pages, reads page by id).
/// At 2 MiB a server restarted on 100,000 runs holds 9.0 MiB anonymous memory against
/// 16.9 at 8 MiB (the integrity check and the recovery read pages through the cache),
/// with the same intake and execution rates; reads that scan (the `/runs` page's bounded
/// scan of 20,000 runs) take about 20% longer (44 -> 53 ms). See bench/README.md.
const CACHE_BYTES: usize = 2 * 1024 * 1024;

/// How many batches one redb transaction gathers before it is committed (without
/// durability: the journal made each batch durable already). A redb commit costs about as
/// much as applying a few batches, whatever they hold (checksums, the page allocator's
/// state, the pages written back): committing every batch was 14% of the CPU of a durable
/// intake, and gathering 16 saves about that (256 saves no more). See the module docs
/// for what reads do about batches not committed yet.
const BATCHES_PER_TRANSACTION: usize = 16;

/// A handle on the store. Clones share one open database.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    slot: RwLock<Slot>,
    /// What makes commits durable (see the `journal` module); `None` for a store open
    /// read-only. Held for the whole of a commit, so it also orders commits.
    journal: Mutex<Option<journal::Journal>>,
}

/// The open database, or none after a latched I/O failure closed it. Every operation holds
/// the read lock while it runs, so closing (the write lock) waits for them.
#[derive(Debug)]
struct Slot {
    /// The write transaction holding the batches committed since redb's last commit (see
    /// [`Pending`]). Every write holds this lock while it uses the transaction or begins
    /// its own (redb has one writer at a time), and every read takes it to commit the
    /// transaction first. Declared before `db`, so that it is dropped first: a database
    /// dropped while a write transaction lives closes only once that ends.
    pending: Mutex<Option<Pending>>,
    db: Option<Db>,
    /// Counts opens, so that a failure seen on an older database does not close a newer one.
    generation: u64,
}

impl Slot {
    /// Closes the database; a transaction left pending goes first (its batches are in the
    /// journal, which the next open replays).
    fn drop_db(&mut self) {
        *self
            .pending
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.db = None;
    }
}

/// Batches that are durable (in the journal) and applied to a redb write transaction that
/// is not committed yet, with their journal payloads, to apply again should the
/// transaction have to be dropped (a later batch that fails, the journal that cannot
/// take it).
struct Pending {
    txn: redb::WriteTransaction,
    payloads: Vec<Vec<u8>>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("batches", &self.payloads.len())
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// A transaction for batches that the journal makes durable (or, without a journal, one
    /// committed durably at once).
    fn begin(db: &Database, cx: Classify<'_>, journaled: bool) -> Result<Pending, StoreError> {
        let mut txn = db.begin_write().map_err(|e| cx.error(e))?;
        if journaled {
            // Durable through the journal; redb's own sync waits for the next checkpoint.
            txn.set_durability(Durability::None)
                .map_err(|e| cx.error(redb::Error::from(e)))?;
        }
        Ok(Pending {
            txn,
            payloads: Vec::new(),
        })
    }

    /// A new transaction holding the batches of `payloads` (journal payloads), or none when
    /// there are none: what a dropped transaction held, applied again.
    fn rebuild(
        db: &Database,
        cx: Classify<'_>,
        payloads: Vec<Vec<u8>>,
    ) -> Result<Option<Pending>, StoreError> {
        if payloads.is_empty() {
            return Ok(None);
        }
        let pending = Pending::begin(db, cx, true)?;
        {
            let mut t = WriteTables::open(&pending.txn, cx)?;
            for payload in &payloads {
                let batch =
                    journal::decode_payload(payload).map_err(|source| StoreError::Write {
                        path: cx.path.to_owned(),
                        source,
                    })?;
                apply_decoded(&mut t, &batch)?;
            }
        }
        Ok(Some(Pending {
            payloads,
            ..pending
        }))
    }

    /// Commits the transaction, if any, with `durability` (a checkpoint's is immediate).
    /// When the commit fails, its batches are applied to a new transaction (they stay
    /// visible), or, if that fails too, the error says the database must be reopened (which
    /// replays them from the journal).
    fn flush(
        slot: &mut Option<Pending>,
        db: &Database,
        cx: Classify<'_>,
        durability: Durability,
    ) -> Result<(), StoreError> {
        let Some(Pending { mut txn, payloads }) = slot.take() else {
            return Ok(());
        };
        let committed = txn
            .set_durability(durability)
            .map_err(|e| cx.error(redb::Error::from(e)))
            .and_then(|()| txn.commit().map_err(|e| cx.error(e)));
        let Err(e) = committed else {
            return Ok(());
        };
        *slot = Pending::rebuild(db, cx, payloads)?;
        Err(e)
    }
}

/// The database, open for writing, or only for reading when the file cannot be written.
enum Db {
    Write(Database),
    Read {
        db: ReadOnlyDatabase,
        /// Why the file could not be opened for writing: what every write reports.
        why: std::io::ErrorKind,
    },
}

impl Db {
    fn readable(&self) -> &dyn ReadableDatabase {
        match self {
            Db::Write(db) => db,
            Db::Read { db, .. } => db,
        }
    }

    fn is_read_only(&self) -> bool {
        matches!(self, Db::Read { .. })
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Db::Write(db) => f.debug_tuple("Write").field(db).finish(),
            Db::Read { why, .. } => f.debug_struct("Read").field("why", why).finish(),
        }
    }
}

/// Whether an operation writes, which decides what its I/O errors mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

impl Store {
    /// Opens `<dir>/alertrun.redb`, creating `dir` (mode 0700) and the file where missing.
    /// An existing file that cannot be written (read-only volume or file) is opened for
    /// reading only: see the module docs.
    ///
    /// # Errors
    /// [`StoreError::Open`] when the directory or file cannot be created or opened (e.g.
    /// permission denied), [`StoreError::Locked`] when another process has the file open,
    /// [`StoreError::Empty`] when the file exists but is empty, [`StoreError::Corrupt`] when
    /// it is not a redb database, [`StoreError::Version`] when it was written with another
    /// layout, [`StoreError::Write`] when it cannot be initialized.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let open_error = |path: &Path, source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let existed = dir.is_dir();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| open_error(dir, e))?;
        let path = dir.join(FILE_NAME);
        let db = open_database(&path)?;
        if db.is_read_only() {
            // Nothing was created, so there is no name to sync.
            return Ok(Store::from_database(path, db, None));
        }
        let journal = journal::Journal::open(dir).map_err(|e| open_error_io(dir, e))?;
        // redb syncs the file; a new file's (and directory's) name must be synced too, or a
        // power cut could lose the whole store.
        sync_dir(dir).map_err(|e| open_error(dir, e))?;
        if !existed {
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
            let parent = parent.unwrap_or(Path::new("."));
            sync_dir(parent).map_err(|e| open_error(parent, e))?;
        }
        Ok(Store::from_database(path, db, Some(journal)))
    }

    /// Opens the store in `dir` for a reader such as `alertrun runs --state-dir`: like
    /// [`Store::open`], but a directory without a store file is an error rather than a new,
    /// empty store (the wrong directory would otherwise read as "no runs").
    ///
    /// # Errors
    /// [`StoreError::Missing`] when `dir` holds no store file; as [`Store::open`] otherwise.
    pub fn open_existing(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return Err(StoreError::Missing { path });
        }
        Store::open(dir)
    }

    /// Opens the store on a custom storage backend; tests use it to inject I/O failures.
    /// Reopening after a failure uses the file at `path`.
    #[cfg(test)]
    fn open_with_backend(
        path: &Path,
        backend: impl redb::StorageBackend,
    ) -> Result<Store, StoreError> {
        let db = builder()
            .create_with_backend(backend)
            .map_err(|e| open_error(path, e))?;
        initialize(path, &db)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        replay(path, &db)?;
        let journal = journal::Journal::open(dir).map_err(|e| open_error_io(dir, e))?;
        Ok(Store::from_database(
            path.to_owned(),
            Db::Write(db),
            Some(journal),
        ))
    }

    /// Makes the journal's appends and resets fail as on a full disk while `full` is set.
    #[cfg(test)]
    fn journal_full_when(&self, full: Arc<std::sync::atomic::AtomicBool>) {
        let mut journal = self
            .inner
            .journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        journal.as_mut().expect("a store open for writing").full = Some(full);
    }

    /// Makes every commit so far durable in redb's own file and empties the journal, as
    /// the last write before the store is closed, so that the next open replays nothing
    /// and needs no write (a full disk does not stop a restart after a clean exit).
    ///
    /// # Errors
    /// [`StoreError::Write`] when redb's file cannot be synced or the journal emptied; the
    /// journal then keeps every batch, and the next open replays them.
    pub(crate) fn checkpoint_at_close(&self) -> Result<(), StoreError> {
        if self.is_read_only() {
            return Ok(());
        }
        self.checkpoint_now()
    }

    /// Makes every commit so far durable in redb's own file and empties the journal.
    fn checkpoint_now(&self) -> Result<(), StoreError> {
        let mut journal = self
            .inner
            .journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.checkpoint(&mut journal)
    }

    /// Whether the file is open for reading only (see the module docs).
    pub fn is_read_only(&self) -> bool {
        let slot = self
            .inner
            .slot
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        slot.db.as_ref().is_some_and(Db::is_read_only)
    }

    fn from_database(path: PathBuf, db: Db, journal: Option<journal::Journal>) -> Store {
        Store {
            inner: Arc::new(Inner {
                path,
                slot: RwLock::new(Slot {
                    pending: Mutex::new(None),
                    db: Some(db),
                    generation: 0,
                }),
                journal: Mutex::new(journal),
            }),
        }
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Writes the batch in one transaction: inserts the notifications, inserts or replaces
    /// the runs, removes then upserts the dedupe entries. Durable (fsync'ed) once it
    /// returns `Ok`.
    ///
    /// # Errors
    /// [`StoreError::MissingNotification`] when a run refers to a notification that is
    /// neither in the batch nor stored (nothing is written);
    /// [`StoreError::Write`] when writing fails: the batch may or may not be stored;
    /// [`StoreError::Corrupt`], [`StoreError::Decode`] or [`StoreError::Database`] for a
    /// damaged file.
    pub fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut journal = self
            .inner
            .journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Serialized and compressed once: for redb and for the journal.
        let runs: Vec<Vec<u8>> = batch.runs.iter().map(tables::encode_run).collect();
        let bodies: Vec<Vec<u8>> = batch
            .notifications
            .iter()
            .map(|(_, body)| tables::pack(body))
            .collect();
        let mut journaled = false;
        // Set when the batches of a dropped transaction could not be applied again: redb
        // shows them only once the database is reopened and the journal replayed.
        let mut lost_pending = false;
        let result = self.with_writable(|db, pending, cx| {
            let mut open = match pending.take() {
                Some(open) => open,
                None => Pending::begin(db, cx, journal.is_some())?,
            };
            let packed: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
            let applied = WriteTables::open(&open.txn, cx)
                .and_then(|mut t| apply(&mut t, batch, &packed, &runs));
            // Everything above checked out (a run's notification is stored, say): only now
            // is the batch made durable, so that a replay never meets a batch that fails.
            let appended = applied.and_then(|()| {
                let Some(journal) = journal.as_mut() else {
                    return Ok(None);
                };
                let payload = journal::encode(batch, &bodies, &runs);
                match journal.append(&payload) {
                    Ok(()) => Ok(Some(payload)),
                    Err(source) => Err(StoreError::Write {
                        path: journal.path().to_owned(),
                        source,
                    }),
                }
            });
            let payload = match appended {
                Ok(payload) => payload,
                Err(e) => {
                    // The transaction holds what this batch wrote of itself: dropped with it
                    // (first: redb begins no other while it lives), and the earlier batches
                    // applied again.
                    let Pending { txn, payloads } = open;
                    drop(txn);
                    match Pending::rebuild(db, cx, payloads) {
                        Ok(rebuilt) => *pending = rebuilt,
                        Err(_) => lost_pending = true,
                    }
                    return Err(e);
                }
            };
            journaled = payload.is_some();
            open.payloads.extend(payload);
            if !journaled || open.payloads.len() >= BATCHES_PER_TRANSACTION {
                open.txn.commit().map_err(|e| cx.error(e))
            } else {
                *pending = Some(open);
                Ok(())
            }
        });
        if lost_pending {
            self.close_open();
        }
        match result {
            Ok(()) => {}
            // In the journal, so durable: the next open of the database (after the failure
            // closed it) replays it.
            Err(_) if journaled => self.close_open(),
            Err(e) => return Err(e),
        }
        if journal
            .as_ref()
            .is_some_and(journal::Journal::checkpoint_due)
        {
            // A checkpoint that fails leaves the journal as it is: every batch stays
            // durable there, and the next commit tries again.
            let _ = self.checkpoint(&mut journal);
        }
        Ok(())
    }

    /// Makes every commit durable in redb's own file, then empties the journal.
    fn checkpoint(&self, journal: &mut Option<journal::Journal>) -> Result<(), StoreError> {
        // One durable commit covers the pending transaction and every commit before it.
        self.with_writable(|db, pending, cx| {
            if pending.is_some() {
                return Pending::flush(pending, db, cx, Durability::Immediate);
            }
            let txn = db.begin_write().map_err(|e| cx.error(e))?;
            txn.commit().map_err(|e| cx.error(e))
        })?;
        if let Some(journal) = journal.as_mut() {
            journal.reset().map_err(|source| StoreError::Write {
                path: journal.path().to_owned(),
                source,
            })?;
        }
        Ok(())
    }

    /// Closes the open database, whatever its generation, so that the next call reopens it
    /// (and replays the journal).
    fn close_open(&self) {
        let mut slot = self
            .inner
            .slot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        slot.drop_db();
    }

    /// Everything a restart needs: the next free id, every dedupe entry, every `Queued` or
    /// `Running` run (oldest first) and the notification bodies they refer to.
    ///
    /// # Errors
    /// When the file cannot be read or holds an unreadable record.
    pub fn recover(&self) -> Result<Recovery, StoreError> {
        let mut dedupe = Vec::new();
        let mut recovery = self.recover_each_dedupe(|all, key, entry| {
            dedupe.reserve(usize::try_from(all).unwrap_or(0));
            dedupe.push((key.to_owned(), entry));
        })?;
        recovery.dedupe = dedupe;
        Ok(recovery)
    }

    /// [`Store::recover`], with each dedupe entry handed to `each` as it is read (from the
    /// same snapshot), with the number of entries in all, instead of collected: its
    /// `dedupe` is empty. A restart on a store of many episodes keeps them as it likes,
    /// without a copy of every key in between.
    ///
    /// # Errors
    /// As [`Store::recover`]; `each` may have seen some entries.
    pub fn recover_each_dedupe(
        &self,
        each: impl FnMut(u64, &str, DedupeEntry),
    ) -> Result<Recovery, StoreError> {
        let each = std::cell::RefCell::new(each);
        self.with_reader(|db, cx| {
            let txn = db.begin_read().map_err(|e| cx.error(e))?;
            query::recover(&txn, cx, &mut *each.borrow_mut())
        })
    }

    /// The run with this id.
    ///
    /// # Errors
    /// When the file cannot be read or the record is unreadable.
    pub fn run(&self, id: u64) -> Result<Option<RunRecord>, StoreError> {
        self.with_reader(|db, cx| {
            let txn = db.begin_read().map_err(|e| cx.error(e))?;
            query::run(&txn, cx, id)
        })
    }

    /// Runs that pass the filter, newest (highest id) first, at most
    /// [`RunFilter::MAX_LIMIT`]. Page by passing the last id of a page as the next
    /// page's `before`.
    ///
    /// # Errors
    /// When the file cannot be read or holds an unreadable record.
    pub fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        self.runs_page(filter).map(|page| page.runs)
    }

    /// [`Store::runs`], with where the next page starts: the page's `next` is its `before`.
    /// With [`RunFilter::max_scanned`], a page may be short (even empty) and still have a
    /// next one.
    ///
    /// # Errors
    /// When the file cannot be read or holds an unreadable record.
    pub fn runs_page(&self, filter: &RunFilter) -> Result<RunPage, StoreError> {
        self.with_reader(|db, cx| {
            let txn = db.begin_read().map_err(|e| cx.error(e))?;
            query::runs(&txn, cx, filter)
        })
    }

    /// `rule`'s newest run and its runs created since `hour_ago` and `day_ago` (unix ms),
    /// counted from the rule index without reading the runs.
    ///
    /// # Errors
    /// When the file cannot be read or holds an unreadable record.
    pub fn rule_activity(
        &self,
        rule: &str,
        hour_ago: i64,
        day_ago: i64,
    ) -> Result<RuleActivity, StoreError> {
        self.with_reader(|db, cx| {
            let txn = db.begin_read().map_err(|e| cx.error(e))?;
            query::rule_activity(&txn, cx, rule, hour_ago, day_ago)
        })
    }

    /// The notification body with this id.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn notification(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_reader(|db, cx| {
            let txn = db.begin_read().map_err(|e| cx.error(e))?;
            query::notification(&txn, cx, id)
        })
    }

    /// How many runs are in each state; every state is listed, zero where none. Cheap: one
    /// index length per state.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn counts(&self) -> Result<BTreeMap<RunState, u64>, StoreError> {
        self.with_reader(|db, cx| {
            let txn = db.begin_read().map_err(|e| cx.error(e))?;
            query::counts(&txn, cx)
        })
    }

    /// Deletes up to `max` finished runs that were created before `older_than` (unix ms)
    /// or are not among the newest `keep_count` runs, with the notification bodies no run
    /// refers to any more, and the dedupe entries whose episode was last delivered before
    /// `dedupe_older_than` (unix ms). Works in small transactions, so writers wait briefly. Returns how many runs
    /// were deleted. The dedupe entries are pruned only by a call that deleted fewer than
    /// `max` runs, the last of a caller's loop that prunes until fewer than `max` go.
    ///
    /// `Queued` and `Running` runs are never deleted, but count towards `keep_count`. The
    /// scan goes from the oldest run and stops at the first one within both limits: it
    /// relies on ids being handed out in creation order.
    ///
    /// # Errors
    /// [`StoreError::Write`] when writing fails; what earlier transactions deleted stays
    /// deleted.
    pub fn prune(
        &self,
        older_than: i64,
        keep_count: usize,
        dedupe_older_than: i64,
        max: usize,
    ) -> Result<usize, StoreError> {
        let limits = prune::Limits {
            older_than,
            keep_count: u64::try_from(keep_count).unwrap_or(u64::MAX),
        };
        // Nothing older than what is deleted stays in the journal, where a replay would
        // bring it back.
        {
            let mut journal = self
                .inner
                .journal
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if journal.is_some() {
                self.checkpoint(&mut journal)?;
            }
        }
        let mut deleted = 0;
        let mut resume = prune::Resume::default();
        while deleted < max {
            let chunk = (max - deleted).min(prune::CHUNK);
            let (n, next) =
                self.with_writer(|db, cx| prune::runs(db, cx, limits, chunk, resume))?;
            deleted += n;
            match next {
                Some(next) => resume = next,
                None => break,
            }
        }
        while self.with_writer(prune::orphans)? == prune::CHUNK {}
        // Finding expired dedupe entries reads the whole table: once per prune that got
        // to the end of the runs, not once per `max` runs deleted (a caller that prunes
        // 300,000 runs 1,000 at a time read 300,000 entries 300 times).
        if deleted < max {
            let expired =
                self.with_reader(|db, cx| prune::expired_dedupe(db, cx, dedupe_older_than))?;
            for keys in expired.chunks(prune::CHUNK) {
                self.with_writer(|db, cx| prune::dedupe(db, cx, keys, dedupe_older_than))?;
            }
        }
        Ok(deleted)
    }

    /// Runs the read `f` on the open database (read-write or read-only), once the batches
    /// pending in a write transaction are committed: a read sees every commit that
    /// returned before it began.
    fn with_reader<T>(
        &self,
        f: impl Fn(&dyn ReadableDatabase, Classify<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_db(Access::Read, |db, pending, cx| {
            if let Db::Write(writable) = db {
                let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
                Pending::flush(&mut pending, writable, cx, Durability::None)?;
            }
            f(db.readable(), cx)
        })
    }

    /// Runs the write `f` on the database open for writing, once the batches pending in a
    /// write transaction are committed (`f` begins its own); a store open read-only tries
    /// the file for writing again first, and fails with [`StoreError::Write`] if it still
    /// cannot be written.
    fn with_writer<T>(
        &self,
        mut f: impl FnMut(&Database, Classify<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_writable(|db, pending, cx| {
            Pending::flush(pending, db, cx, Durability::None)?;
            f(db, cx)
        })
    }

    /// Runs `f` on the database open for writing, with its pending transaction locked (see
    /// [`Slot::pending`]); as [`Store::with_writer`] for a store open read-only.
    fn with_writable<T>(
        &self,
        mut f: impl FnMut(&Database, &mut Option<Pending>, Classify<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_db(Access::Write, |db, pending, cx| match db {
            Db::Write(db) => f(
                db,
                &mut pending.lock().unwrap_or_else(PoisonError::into_inner),
                cx,
            ),
            Db::Read { why, .. } => Err(StoreError::Write {
                path: cx.path.to_owned(),
                source: std::io::Error::new(
                    *why,
                    "the store is open read-only: its file could not be opened for writing",
                ),
            }),
        })
    }

    /// Runs `f` on the open database (and its pending transaction), reopening it first if
    /// an earlier failure closed it (or, for a write, if it is open read-only), and closing
    /// it if `f` hits a latched I/O failure.
    fn with_db<T>(
        &self,
        access: Access,
        mut f: impl FnMut(&Db, &Mutex<Option<Pending>>, Classify<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let cx = Classify {
            path: &self.inner.path,
            writing: access == Access::Write,
        };
        let mut reopened = false;
        loop {
            let slot = self
                .inner
                .slot
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            match &slot.db {
                Some(db) if access == Access::Write && db.is_read_only() && !reopened => {}
                Some(db) => {
                    let result = f(db, &slot.pending, cx);
                    if !db.is_read_only() && result.as_ref().is_err_and(StoreError::needs_reopen) {
                        let generation = slot.generation;
                        drop(slot);
                        self.close(generation);
                    }
                    return result;
                }
                None => {}
            }
            drop(slot);
            self.reopen(access)?;
            reopened = true;
        }
    }

    /// Replaces the file with a new, empty store under the open handle, as an operator who
    /// deleted it to free disk space (after a failure closed it) does. For tests.
    #[cfg(test)]
    pub(crate) fn replace_with_empty_file(&self) -> Result<(), StoreError> {
        // What the journal holds is gone with the file.
        if let Some(journal) = self
            .inner
            .journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            journal.reset().expect("the journal can be emptied");
        }
        let mut slot = self
            .inner
            .slot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        slot.drop_db();
        let _ = std::fs::remove_file(&self.inner.path);
        slot.db = Some(open_database(&self.inner.path)?);
        slot.generation += 1;
        Ok(())
    }

    /// Drops the database opened as `generation`, if it is still the open one.
    fn close(&self, generation: u64) {
        let mut slot = self
            .inner
            .slot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.generation == generation {
            slot.drop_db();
        }
    }

    /// Opens the database if it is closed, or, for a write, open read-only.
    fn reopen(&self, access: Access) -> Result<(), StoreError> {
        let mut slot = self
            .inner
            .slot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let stale = match &slot.db {
            None => true,
            Some(db) => access == Access::Write && db.is_read_only(),
        };
        if stale {
            // Release the file (and its lock) before opening it again.
            slot.drop_db();
            slot.db = Some(open_database(&self.inner.path)?);
            slot.generation += 1;
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn builder() -> redb::Builder {
    let mut builder = Database::builder();
    builder.set_cache_size(CACHE_BYTES);
    builder.set_check_integrity_on_open(true);
    builder
}

/// Opens or creates the file and checks or writes its layout version; opens an existing
/// file that cannot be written read-only. Refuses an existing empty file, which redb would
/// silently turn into a new store.
fn open_database(path: &Path) -> Result<Db, StoreError> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
        return Err(StoreError::Empty {
            path: path.to_owned(),
        });
    }
    match builder().create(path) {
        Ok(db) => {
            initialize(path, &db)?;
            replay(path, &db)?;
            Ok(Db::Write(db))
        }
        Err(redb::DatabaseError::Storage(redb::StorageError::Io(source)))
            if is_unwritable(&source) && path.is_file() =>
        {
            let why = source.kind();
            let unwritable = StoreError::Open {
                path: path.to_owned(),
                source,
            };
            let db = builder()
                .open_read_only(path)
                .map_err(|e| open_error(path, e))?;
            match layout(path, &db)? {
                Layout::Current => Ok(Db::Read { db, why }),
                // The layout must be written first, and cannot be.
                Layout::Incomplete => Err(unwritable),
            }
        }
        Err(e) => Err(open_error(path, e)),
    }
}

/// Applies the journal next to `path` (the batches acknowledged since the last checkpoint,
/// see the `journal` module) to `db` in one durable transaction. It stays as it is: a
/// replayed frame replayed again changes nothing.
fn replay(path: &Path, db: &Database) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let journal_path = dir.join(journal::FILE_NAME);
    let batches = journal::read(&journal_path).map_err(|e| open_error_io(&journal_path, e))?;
    if batches.is_empty() {
        return Ok(());
    }
    let cx = Classify {
        path,
        writing: true,
    };
    let txn = db.begin_write().map_err(|e| cx.error(e))?;
    {
        let mut t = WriteTables::open(&txn, cx)?;
        for batch in &batches {
            apply_decoded(&mut t, batch)?;
        }
    }
    // Durable now; the journal is emptied by whoever writes it next (`Journal::open` at
    // start, a checkpoint after a reopen), so that its writer's place in it stays right.
    txn.commit().map_err(|e| cx.error(e))
}

/// Writes a batch read back from the journal into the open tables.
fn apply_decoded(t: &mut WriteTables<'_>, batch: &Batch) -> Result<(), StoreError> {
    // A frame holds the bodies as stored: packed already.
    let packed: Vec<&[u8]> = batch.notifications.iter().map(|(_, b)| &**b).collect();
    let runs: Vec<Vec<u8>> = batch.runs.iter().map(tables::encode_run).collect();
    apply(t, batch, &packed, &runs)
}

/// Writes `batch` into the open tables: its notifications as `packed` (their stored
/// forms, in order), its runs as `runs` (likewise), then the dedupe removals and entries.
///
/// # Errors
/// [`StoreError::MissingNotification`] for a run whose notification is not stored; write
/// errors.
fn apply(
    t: &mut WriteTables<'_>,
    batch: &Batch,
    packed: &[&[u8]],
    runs: &[Vec<u8>],
) -> Result<(), StoreError> {
    let cx = t.cx();
    for ((id, _), body) in batch.notifications.iter().zip(packed) {
        t.notifications
            .insert(*id, *body)
            .map_err(|e| cx.error(e))?;
        t.raise_next_id(*id)?;
    }
    for (run, bytes) in batch.runs.iter().zip(runs) {
        t.put_run(run, bytes)?;
        t.raise_next_id(run.id)?;
    }
    for (id, _) in &batch.notifications {
        t.mark_if_orphan(*id)?;
    }
    for key in &batch.dedupe_remove {
        t.dedupe.remove(key.as_str()).map_err(|e| cx.error(e))?;
    }
    for (key, entry) in &batch.dedupe {
        t.dedupe
            .insert(key.as_str(), (entry.ran_at, entry.seen_at))
            .map_err(|e| cx.error(e))?;
    }
    if !batch.settings.is_empty() {
        let mut table = t
            .txn()
            .open_table(settings::SETTINGS)
            .map_err(|e| cx.error(e))?;
        for (name, value) in &batch.settings {
            match value {
                Some(value) => table.insert(name.as_str(), value.as_slice()).map(|_| ()),
                None => table.remove(name.as_str()).map(|_| ()),
            }
            .map_err(|e| cx.error(e))?;
        }
    }
    Ok(())
}

fn open_error_io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Open {
        path: path.to_owned(),
        source,
    }
}

/// Whether opening for writing failed because the file or its volume is read-only.
fn is_unwritable(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

fn open_error(path: &Path, error: redb::DatabaseError) -> StoreError {
    match error {
        // redb's word for "not a redb file" (magic number mismatch).
        redb::DatabaseError::Storage(redb::StorageError::Io(source))
            if source.kind() == std::io::ErrorKind::InvalidData =>
        {
            StoreError::Corrupt {
                path: path.to_owned(),
                source: redb::Error::Io(source),
            }
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(source)) => StoreError::Open {
            path: path.to_owned(),
            source,
        },
        other => Classify {
            path,
            writing: true,
        }
        .error(other),
    }
}

/// Moves the entries of the old `dedupe` table (key → ran at) into `episodes`, taking the
/// time they ran as the time they were last seen, then deletes it.
fn migrate_dedupe(
    txn: &redb::WriteTransaction,
    t: &mut WriteTables<'_>,
    cx: Classify<'_>,
) -> Result<(), StoreError> {
    let old: Vec<(String, i64)> = {
        let table = txn.open_table(OLD_DEDUPE).map_err(|e| cx.error(e))?;
        table
            .iter()
            .map_err(|e| cx.error(e))?
            .map(|entry| {
                let (key, at) = entry.map_err(|e| cx.error(e))?;
                Ok((key.value().to_owned(), at.value()))
            })
            .collect::<Result<_, StoreError>>()?
    };
    for (key, at) in &old {
        t.dedupe
            .insert(key.as_str(), (*at, *at))
            .map_err(|e| cx.error(e))?;
    }
    txn.delete_table(OLD_DEDUPE).map_err(|e| cx.error(e))?;
    Ok(())
}

/// Whether a file's layout is complete, read without writing.
enum Layout {
    /// Every table is there, no old one is, and the version is this build's.
    Current,
    /// A new file, or one that needs tables created or migrated.
    Incomplete,
}

/// Checks the file's layout in a read transaction.
///
/// # Errors
/// [`StoreError::Version`] when the file has another layout version; read errors.
fn layout(path: &Path, db: &dyn ReadableDatabase) -> Result<Layout, StoreError> {
    let cx = Classify {
        path,
        writing: false,
    };
    let txn = db.begin_read().map_err(|e| cx.error(e))?;
    let present: Vec<String> = txn
        .list_tables()
        .map_err(|e| cx.error(e))?
        .map(|t| redb::TableHandle::name(&t).to_owned())
        .collect();
    if present.iter().any(|name| name == tables::OLD_DEDUPE_NAME)
        || !tables::names().all(|name| present.iter().any(|p| p == name))
    {
        return Ok(Layout::Incomplete);
    }
    let meta = txn.open_table(tables::META).map_err(|e| cx.error(e))?;
    match meta.get(META_VERSION).map_err(|e| cx.error(e))? {
        Some(v) if v.value() == VERSION => Ok(Layout::Current),
        Some(v) => Err(StoreError::Version {
            path: path.to_owned(),
            found: v.value(),
            expected: VERSION,
        }),
        None => Ok(Layout::Incomplete),
    }
}

/// Creates every table and checks (or, in a new file, writes) the layout version. A file
/// whose layout is complete is only read, so a full disk does not prevent opening it.
fn initialize(path: &Path, db: &Database) -> Result<(), StoreError> {
    if let Layout::Current = layout(path, db)? {
        return Ok(());
    }
    let cx = Classify {
        path,
        writing: true,
    };
    let txn = db.begin_write().map_err(|e| cx.error(e))?;
    {
        let mut t = WriteTables::open(&txn, cx)?;
        t.create_state_indexes()?;
        migrate_dedupe(&txn, &mut t, cx)?;
        let found = t
            .meta
            .get(META_VERSION)
            .map_err(|e| cx.error(e))?
            .map(|v| v.value());
        match found {
            Some(VERSION) => {}
            Some(found) => {
                return Err(StoreError::Version {
                    path: path.to_owned(),
                    found,
                    expected: VERSION,
                });
            }
            None => {
                t.meta
                    .insert(META_VERSION, VERSION)
                    .map_err(|e| cx.error(e))?;
            }
        }
    }
    txn.commit().map_err(|e| cx.error(e))
}
