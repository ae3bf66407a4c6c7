//! What happens when writes fail or the process dies: injected I/O errors, SIGKILL in the
//! middle of commits, damaged files; and the commit latency bench.

use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::ops::Bound;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

use super::tests::{all_runs, assert_consistent, record};
use super::*;

/// A file backend whose writes, syncs and resizes fail with "no space left" while `full`
/// is set.
#[derive(Debug)]
struct FullDisk {
    file: FileBackend,
    full: Arc<AtomicBool>,
}

impl FullDisk {
    fn check(&self) -> Result<(), std::io::Error> {
        if self.full.load(Ordering::SeqCst) {
            Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
        } else {
            Ok(())
        }
    }
}

impl StorageBackend for FullDisk {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.file.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.file.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.write(offset, data)
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.file.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(start, end)
    }
}

fn batch_of(notification: u64, runs: Vec<RunRecord>) -> Batch {
    Batch {
        notifications: vec![(
            notification,
            format!("{{\"n\":{notification}}}").into_bytes().into(),
        )],
        runs,
        ..Batch::default()
    }
}

/// Issue 17, item 10: opening a store whose layout is in place runs no write transaction,
/// so a full disk does not prevent a restart; a new file is still initialized.
#[test]
fn issue_17_opening_an_initialized_store_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    drop(Store::open(dir.path()).unwrap());
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let full = Arc::new(AtomicBool::new(false));
    let backend = FullDisk {
        file: FileBackend::new(file).unwrap(),
        full: Arc::clone(&full),
    };
    // redb marks the file in use as it opens it; from then on the disk is full.
    let db = builder().create_with_backend(backend).unwrap();
    full.store(true, Ordering::SeqCst);
    initialize(&path, &db).expect("an initialized store opens on a full disk");
    assert!(matches!(layout(&path, &db).unwrap(), Layout::Current));
}

#[test]
fn a_failed_write_is_reported_and_the_store_reopens_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .unwrap();
    let full = Arc::new(AtomicBool::new(false));
    let backend = FullDisk {
        file: FileBackend::new(file).unwrap(),
        full: Arc::clone(&full),
    };
    let store = Store::open_with_backend(&path, backend).unwrap();
    // The journal is on the same (full) disk.
    store.journal_full_when(Arc::clone(&full));
    store
        .commit(&batch_of(1, vec![record(2, "a", RunState::Queued, 10, 1)]))
        .unwrap();

    full.store(true, Ordering::SeqCst);
    let err = store
        .commit(&batch_of(
            3,
            vec![
                record(4, "a", RunState::Queued, 11, 3),
                record(5, "a", RunState::Queued, 11, 3),
            ],
        ))
        .unwrap_err();
    assert!(err.is_write_failure(), "{err:?}");
    // The journal, written first, is what failed.
    assert!(err.to_string().contains(journal::FILE_NAME), "{err}");
    let StoreError::Write { source, .. } = &err else {
        unreachable!()
    };
    assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);

    // A checkpoint cannot be written either; the first batch stays in the journal.
    assert!(store.checkpoint_now().unwrap_err().is_write_failure());
    full.store(false, Ordering::SeqCst);
    // The next call reopens the file (with a plain backend: the disk has room again) and
    // replays the journal.
    assert_eq!(store.run(2).unwrap().map(|r| r.id), Some(2));
    let after = store.run(4).unwrap().is_some();
    assert_eq!(
        store.run(5).unwrap().is_some(),
        after,
        "a batch is stored whole or not at all"
    );
    store
        .commit(&batch_of(
            6,
            vec![record(7, "a", RunState::Succeeded, 12, 6)],
        ))
        .unwrap();
    assert_eq!(
        store.run(7).unwrap().map(|r| r.state),
        Some(RunState::Succeeded)
    );
    assert_consistent(&store);
    drop(store);
    assert_eq!(
        Store::open(dir.path())
            .unwrap()
            .run(7)
            .unwrap()
            .map(|r| r.id),
        Some(7)
    );
}

#[test]
fn a_damaged_file_is_refused_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let original = {
        let store = Store::open(dir.path()).unwrap();
        for n in 0..10u64 {
            let runs = (1..=5)
                .map(|i| record(n * 10 + i, "a", RunState::Failed, 1, n * 10))
                .collect();
            store.commit(&batch_of(n * 10, runs)).unwrap();
        }
        all_runs(&store)
    };
    let pristine = fs::read(&path).unwrap();
    let len = u64::try_from(pristine.len()).unwrap();
    let mut refused = 0;
    for seed in 1..=12u64 {
        let mut bytes = pristine.clone();
        let mut x = seed;
        for _ in 0..64 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            bytes[usize::try_from((x >> 16) % len).unwrap()] ^= 0xff;
        }
        fs::write(&path, &bytes).unwrap();
        match Store::open(dir.path()) {
            Ok(store) => assert_eq!(
                all_runs(&store),
                original,
                "seed {seed}: opened, so the data must be intact"
            ),
            Err(err) => {
                assert!(
                    matches!(err, StoreError::Corrupt { .. }),
                    "seed {seed}: {err:?}"
                );
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "some damage lands in live pages");
}

const WRITER_ENV: &str = "ALERTRUN_STORE_TEST_WRITER";

/// This test's name as the test harness knows it, for re-running it as the writer.
fn own_test_name() -> String {
    let module = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_, rest)| rest);
    format!("{module}::committed_batches_survive_sigkill")
}

/// The child's part: commit batches as fast as possible, report each run id once its
/// commit returned, until killed (or a minute passed, should the parent be gone).
fn write_until_killed(dir: &Path) {
    let store = Store::open(dir).unwrap();
    let mut id = store.recover().unwrap().next_id;
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    let mut previous: Vec<RunRecord> = Vec::new();
    while started.elapsed() < Duration::from_secs(60) {
        let notification = id;
        let mut runs: Vec<RunRecord> = (1..=4)
            .map(|i| {
                let mut run = record(notification + i, "crash", RunState::Queued, 1, notification);
                run.stdout = "x".repeat(usize::try_from(i).unwrap() * 700);
                run
            })
            .collect();
        id += 5;
        // Finish the previous batch's runs in the same commit: index moves under a kill too.
        for mut run in previous.drain(..) {
            run.state = RunState::Succeeded;
            runs.push(run);
        }
        let mut batch = batch_of(notification, runs);
        batch.dedupe = vec![(format!("crash/{notification}"), DedupeEntry::at(1))];
        store.commit(&batch).unwrap();
        for run in &batch.runs {
            if writeln!(out, "committed {}", run.id).is_err() {
                return;
            }
        }
        previous = batch
            .runs
            .into_iter()
            .filter(|r| r.state == RunState::Queued)
            .collect();
    }
}

#[test]
fn committed_batches_survive_sigkill() {
    if let Some(dir) = std::env::var_os(WRITER_ENV) {
        write_until_killed(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut reported: Vec<u64> = Vec::new();
    for round in 0..4usize {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &own_test_name(),
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WRITER_ENV, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let wanted = reported.len() + 40 + round * 13;
        while reported.len() < wanted {
            let line = lines
                .next()
                .expect("the writer stopped before it was killed")
                .unwrap();
            if let Some(id) = line.strip_prefix("committed ") {
                reported.push(id.parse().unwrap());
            }
        }
        child.kill().unwrap();
        // Ids the writer reported between the last read and the kill count as well.
        for line in lines {
            if let Some(id) = line.unwrap().strip_prefix("committed ") {
                reported.push(id.parse().unwrap());
            }
        }
        child.wait().unwrap();

        let store = Store::open(dir.path()).expect("the store opens after a SIGKILL");
        for &id in &reported {
            assert!(
                store.run(id).unwrap().is_some(),
                "round {round}: run {id} was reported committed"
            );
        }
        let recovery = store.recover().unwrap();
        assert!(
            recovery
                .unfinished
                .iter()
                .all(|r| recovery.notifications.contains_key(&r.notification))
        );
        assert!(recovery.next_id > reported.iter().copied().max().unwrap_or(0));
        assert_consistent(&store);
    }
}

/// `cargo test -p alertrun --lib bench_commit_latency -- --ignored --nocapture`
#[test]
#[ignore = "a benchmark: run it by hand on the disk to measure"]
fn bench_commit_latency() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut next = 1u64;
    let mut batch = |runs: u64, state: RunState| {
        let notification = next;
        let b = batch_of(
            notification,
            (1..=runs)
                .map(|i| record(notification + i, "bench", state, 1, notification))
                .collect(),
        );
        next += runs + 1;
        (b, next)
    };
    for (label, runs, commits) in [("1-run batches", 1, 300), ("64-run batches", 64, 100)] {
        let batches: Vec<Batch> = (0..commits)
            .map(|_| batch(runs, RunState::Queued).0)
            .collect();
        let started = Instant::now();
        for b in &batches {
            store.commit(b).unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{label}: {commits} commits in {secs:.2} s = {:.0} commits/s, {:.0} runs/s, {:.2} ms/commit",
            f64::from(commits) / secs,
            f64::from(commits) * runs as f64 / secs,
            secs * 1000.0 / f64::from(commits),
        );
    }

    // History at scale: 100k runs (the 6,700 above stay queued), then the reads an API or a
    // scrape makes, a restart, and pruning it all.
    loop {
        let (b, next) = batch(255, RunState::Succeeded);
        store.commit(&b).unwrap();
        if next > 100_000 {
            break;
        }
    }
    let timed = |label: &str, f: &dyn Fn()| {
        let started = Instant::now();
        f();
        eprintln!(
            "{label}: {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    };
    timed("counts() on 100k runs", &|| drop(store.counts().unwrap()));
    timed("runs(limit 100) on 100k runs", &|| {
        drop(store.runs(&RunFilter::default()).unwrap())
    });
    timed("runs(fingerprint matching none) on 100k runs", &|| {
        drop(
            store
                .runs(&RunFilter {
                    fingerprint: Some("none".to_owned()),
                    ..RunFilter::default()
                })
                .unwrap(),
        );
    });
    timed("recover() with 6.7k queued runs of 100k", &|| {
        drop(store.recover().unwrap())
    });
    let started = Instant::now();
    let pruned = store.prune(i64::MAX, 0, i64::MAX, usize::MAX).unwrap();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "prune: {pruned} runs in {secs:.2} s = {:.1} ms per {}-run transaction",
        secs * 1000.0 / (pruned as f64 / prune::CHUNK as f64),
        prune::CHUNK,
    );
    drop(store);
    let size = fs::metadata(dir.path().join(FILE_NAME)).unwrap().len();
    timed(
        &format!(
            "open after prune, integrity check ({} MiB)",
            size / (1024 * 1024)
        ),
        &|| {
            drop(Store::open(dir.path()).unwrap());
        },
    );
}

/// A batch in the journal is durable: redb's own file may lose it (the journal is what a
/// crash leaves to replay), and the next open brings it back.
#[test]
fn a_batch_acknowledged_only_by_the_journal_survives_redb_losing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .commit(&batch_of(1, vec![record(2, "a", RunState::Queued, 10, 1)]))
            .unwrap();
        store.checkpoint_now().unwrap();
    }
    // redb's file as of the checkpoint: what a crash right after the next commit leaves,
    // since that commit does not sync redb's file.
    let checkpointed = fs::read(&path).unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .commit(&batch_of(
                3,
                vec![
                    record(4, "a", RunState::Queued, 11, 3),
                    record(2, "a", RunState::Succeeded, 10, 1),
                ],
            ))
            .unwrap();
        let journal = journal::read(&dir.path().join(journal::FILE_NAME)).unwrap();
        assert_eq!(journal.len(), 1);
    }
    fs::write(&path, &checkpointed).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.run(4).unwrap().map(|r| r.id), Some(4));
    assert_eq!(
        store.run(2).unwrap().map(|r| r.state),
        Some(RunState::Succeeded)
    );
    assert_eq!(store.recover().unwrap().next_id, 5);
    assert_consistent(&store);
    // Replayed, then emptied by the open.
    assert!(
        journal::read(&dir.path().join(journal::FILE_NAME))
            .unwrap()
            .is_empty()
    );
}

/// Settings committed with a batch (the rails' state of a target) are durable as the
/// batch is: through the journal alone, and a deletion replays too.
#[test]
fn settings_in_a_batch_survive_redb_losing_them_and_deletions_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .commit(&Batch {
                settings: vec![("gone".to_owned(), Some(b"1".to_vec()))],
                ..Batch::default()
            })
            .unwrap();
        store.checkpoint_now().unwrap();
    }
    let checkpointed = fs::read(&path).unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .commit(&Batch {
                settings: vec![
                    ("rails\u{1f}a\u{1f}t".to_owned(), Some(b"{}".to_vec())),
                    ("gone".to_owned(), None),
                ],
                ..Batch::default()
            })
            .unwrap();
    }
    fs::write(&path, &checkpointed).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.settings().unwrap(),
        vec![("rails\u{1f}a\u{1f}t".to_owned(), b"{}".to_vec())]
    );
}

/// The tail of an append that a crash cut short was never acknowledged: the replay stops
/// before it and keeps every whole frame.
#[test]
fn a_torn_journal_tail_is_dropped_and_the_whole_frames_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let store = Store::open(dir.path()).unwrap();
        store.checkpoint_now().unwrap();
    }
    let empty = fs::read(&path).unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        for n in 0..3u64 {
            store
                .commit(&batch_of(
                    n * 10 + 1,
                    vec![record(n * 10 + 2, "a", RunState::Queued, 10, n * 10 + 1)],
                ))
                .unwrap();
        }
    }
    let journal_path = dir.path().join(journal::FILE_NAME);
    let mut bytes = fs::read(&journal_path).unwrap();
    assert_eq!(journal::read(&journal_path).unwrap().len(), 3);
    // The third frame, torn as by a crash in the middle of its write: its last byte is
    // not what its CRC covers.
    let frame_len =
        |at: usize| 8 + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let third = 16 + frame_len(16) + frame_len(16 + frame_len(16));
    let last = third + frame_len(third) - 1;
    bytes[last] ^= 0xff;
    fs::write(&journal_path, &bytes).unwrap();
    fs::write(&path, &empty).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.run(2).unwrap().map(|r| r.id), Some(2));
    assert_eq!(store.run(12).unwrap().map(|r| r.id), Some(12));
    assert_eq!(
        store.run(22).unwrap(),
        None,
        "the torn frame is not replayed"
    );
    assert_consistent(&store);
}

/// Emptying the journal starts a new epoch over the old frames, which stay in the file:
/// they are never replayed again.
#[test]
fn frames_of_an_earlier_epoch_are_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .commit(&batch_of(1, vec![record(2, "a", RunState::Queued, 10, 1)]))
        .unwrap();
    store.checkpoint_now().unwrap();
    let journal_path = dir.path().join(journal::FILE_NAME);
    assert!(journal::read(&journal_path).unwrap().is_empty());
    // The old frame is still in the file, under the new header.
    let bytes = fs::read(&journal_path).unwrap();
    assert_ne!(&bytes[16..24], &[0; 8]);
    assert_eq!(
        bytes.len() as u64,
        journal::PREALLOCATED,
        "written in place, never grown"
    );
    store
        .commit(&batch_of(
            1,
            vec![record(2, "a", RunState::Succeeded, 10, 1)],
        ))
        .unwrap();
    let frames = journal::read(&journal_path).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].runs[0].state, RunState::Succeeded);
}

/// How many batches the store holds in a redb transaction not committed yet.
fn pending_batches(store: &Store) -> usize {
    let slot = store.inner.slot.read().unwrap();
    let pending = slot.pending.lock().unwrap();
    pending.as_ref().map_or(0, |p| p.payloads.len())
}

/// Commits gather in one redb transaction, committed every `BATCHES_PER_TRANSACTION`
/// batches and before a read, which sees every batch committed before it.
#[test]
fn batches_share_a_redb_transaction_that_a_read_commits_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for n in 1..BATCHES_PER_TRANSACTION as u64 {
        store
            .commit(&batch_of(
                2 * n,
                vec![record(2 * n + 1, "a", RunState::Queued, 10, 2 * n)],
            ))
            .unwrap();
        assert_eq!(pending_batches(&store), n as usize);
    }
    let last = 2 * BATCHES_PER_TRANSACTION as u64;
    store
        .commit(&batch_of(
            last,
            vec![record(last + 1, "a", RunState::Queued, 10, last)],
        ))
        .unwrap();
    assert_eq!(
        pending_batches(&store),
        0,
        "the 16th batch commits the transaction"
    );

    store
        .commit(&batch_of(
            100,
            vec![record(101, "a", RunState::Queued, 10, 100)],
        ))
        .unwrap();
    assert_eq!(pending_batches(&store), 1);
    assert_eq!(store.run(101).unwrap().map(|r| r.id), Some(101));
    assert_eq!(pending_batches(&store), 0, "a read commits what is pending");
    assert_eq!(store.runs(&RunFilter::default()).unwrap().len(), 17);
    assert_consistent(&store);
}

/// A batch that fails in a transaction holding earlier batches drops only itself: the
/// earlier ones stay readable, without a reopen, and are committed later as usual.
#[test]
fn a_failing_batch_drops_only_itself_from_the_pending_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .commit(&batch_of(1, vec![record(2, "a", RunState::Queued, 10, 1)]))
        .unwrap();
    store
        .commit(&batch_of(3, vec![record(4, "a", RunState::Queued, 10, 3)]))
        .unwrap();
    assert_eq!(pending_batches(&store), 2);
    // Its notification 9 is stored nowhere: refused, after it wrote its run.
    let refused = Batch {
        runs: vec![record(5, "a", RunState::Queued, 11, 9)],
        ..Batch::default()
    };
    let err = store.commit(&refused).unwrap_err();
    assert!(
        matches!(err, StoreError::MissingNotification { run: 5, .. }),
        "{err:?}"
    );
    assert_eq!(
        pending_batches(&store),
        2,
        "the earlier batches, applied again"
    );
    assert!(store.run(5).unwrap().is_none());
    assert_eq!(store.run(2).unwrap().map(|r| r.id), Some(2));
    assert_eq!(store.run(4).unwrap().map(|r| r.id), Some(4));
    assert_consistent(&store);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.runs(&RunFilter::default()).unwrap().len(), 2);
}

/// A batch the journal cannot take (a full disk) is refused, and none of the batches
/// pending before it in redb's transaction is lost: the failure closes the file, and the
/// next call reopens it and replays them from the journal.
#[test]
fn a_batch_the_journal_refuses_loses_none_of_the_pending_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let full = Arc::new(AtomicBool::new(false));
    store.journal_full_when(Arc::clone(&full));
    store
        .commit(&batch_of(1, vec![record(2, "a", RunState::Queued, 10, 1)]))
        .unwrap();
    assert_eq!(pending_batches(&store), 1);
    full.store(true, Ordering::SeqCst);
    let err = store
        .commit(&batch_of(3, vec![record(4, "a", RunState::Queued, 11, 3)]))
        .unwrap_err();
    assert!(err.is_write_failure(), "{err:?}");
    assert!(err.to_string().contains(journal::FILE_NAME), "{err}");
    assert_eq!(store.run(2).unwrap().map(|r| r.id), Some(2));
    assert!(store.run(4).unwrap().is_none());
    full.store(false, Ordering::SeqCst);
    store
        .commit(&batch_of(5, vec![record(6, "a", RunState::Queued, 12, 5)]))
        .unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.run(2).unwrap().map(|r| r.id), Some(2));
    assert!(store.run(4).unwrap().is_none());
    assert_eq!(store.run(6).unwrap().map(|r| r.id), Some(6));
    assert_consistent(&store);
}
