//! The journal: what makes a commit durable with one small `fdatasync` instead of a
//! durable redb transaction.
//!
//! A durable redb commit writes every B-tree page the transaction touched (a run touches
//! six tables) and syncs the file twice: about 380 µs for one intake on the development
//! machine, against 195 µs for appending the same bytes to a file and syncing that
//! (`cargo bench -p alertrun --bench store_commit`). So [`Store::commit`](super::Store::commit)
//! applies a batch to a redb transaction committed **without** durability (the pages stay
//! in redb's cache; the transaction gathers several batches, see the store's module docs),
//! and makes it durable by appending the batch to this journal, `alertrun.journal` next to
//! the store, and syncing the journal. A
//! checkpoint, at most every [`CHECKPOINT_EVERY`] or [`CHECKPOINT_BYTES`], makes redb
//! durable (one durable commit covers every earlier one) and empties the journal.
//!
//! After a crash, redb's file holds its last durable commit, and the journal every batch
//! acknowledged since: opening the store replays the journal's frames in order and commits
//! them durably, then [`Journal::open`] empties it. (Reopening redb after a failed write
//! replays it too, but leaves it to the next checkpoint to empty, so that the writer's place
//! in it stays right.) Replaying a frame redb already holds is harmless: a batch
//! only inserts or replaces records by id, removes then inserts dedupe keys, and raises the
//! id counter, so the end state of a replay is the state after the last frame.
//!
//! It is not a general write-ahead log: it has one writer (the store, under its lock), no
//! readers but the replay at open, and no record of what was applied: the checkpoint
//! empties it whole.
//!
//! **The file is written in place, rarely grown by appends.** It is made
//! [`PREALLOCATED`] bytes long (zeros, written once; best effort on a full disk), and frames
//! overwrite it from the start (only a journal that outgrows it, while checkpoints fail,
//! grows the file): syncing an overwrite does not also commit a new file size to the file
//! system's journal, which costs about 30% more per sync (200 µs against 140 µs measured
//! here). Emptying it rewrites only its header with a new *epoch*, and every frame's CRC
//! covers the epoch of its time, so the frames of an earlier epoch that are still in the
//! file fail their CRC and end a replay, exactly like a torn frame.
//!
//! **Layout** (little-endian): a 16-byte header, `ARJ1` then the `u64` epoch and 4 zero
//! bytes; then the frames: `u32` payload length, `u32` CRC-32 of the epoch's 8 bytes
//! followed by the payload, the payload. A frame that is cut short, of length 0, or fails
//! its CRC ends the replay: it is the tail of an append that a crash interrupted (never
//! acknowledged), or what an earlier epoch left. Payload: a format
//! byte (1), then the notifications (`u32` count; each `u64` id, `u32` length, the body as
//! the store keeps it), the runs (`u32` count; each `u32` length, the run as the store keeps
//! it: JSON, zstd-compressed where that is smaller), the dedupe
//! keys to remove (`u32` count; each `u32` length, bytes), the dedupe entries to put
//! (`u32` count; each `u32` length, key bytes, `i64` ran at, `i64` seen at), and, only
//! when the batch has any, the settings (`u32` count; each `u32` length, name bytes, a
//! byte 1 and `u32` length and value bytes to put, or a byte 0 to delete). A frame without
//! the settings section (every frame of earlier releases) has none.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::record::{Batch, DedupeEntry, RunRecord};

/// The journal's file name, next to the store's.
pub(crate) const FILE_NAME: &str = "alertrun.journal";

/// A checkpoint is due once the journal holds this much: about 600 intakes of a one-alert
/// notification.
pub(crate) const CHECKPOINT_BYTES: u64 = 1536 * 1024;

/// A checkpoint is due once the oldest frame in the journal is this old.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The payload's format byte.
const FORMAT: u8 = 1;

/// The journal file's first bytes.
const MAGIC: &[u8; 4] = b"ARJ1";

/// The header's size: the magic, the epoch, 4 bytes of padding.
const HEADER: u64 = 16;

/// How long the file is made, in zeros, before any frame is written: room for a
/// checkpoint's worth of frames and more, so that appends overwrite and rarely grow it.
/// Small, because it is taken from the state volume whatever the load.
pub(crate) const PREALLOCATED: u64 = 2 * 1024 * 1024;

/// The journal, open for appending.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// The epoch in the header: what every frame's CRC covers.
    epoch: u64,
    /// Where the next frame goes.
    end: u64,
    /// When the first frame since the last checkpoint was appended; `None` while empty.
    oldest: Option<Instant>,
    /// An append failed and its torn frame could not be cut off: nothing may be appended
    /// after it (a replay would stop at it) until a checkpoint empties the journal.
    torn: bool,
    /// While set, appends and resets fail as on a full disk. For tests.
    #[cfg(test)]
    pub(crate) full: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Journal {
    /// Opens (creating) the journal in `dir` and empties it: the caller has replayed it
    /// (see [`read`]) and made that durable.
    pub(crate) fn open(dir: &Path) -> io::Result<Journal> {
        let path = dir.join(FILE_NAME);
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        let len = file.metadata()?.len();
        if len < PREALLOCATED {
            // Zeros, written (not just allocated: syncing the first write into an
            // allocated extent would commit metadata too), in 256 KiB pieces. Best effort:
            // on a full disk, appends grow the file instead.
            let zeros = vec![0; 256 * 1024];
            let mut at = len.max(HEADER);
            while at < PREALLOCATED {
                let n = (PREALLOCATED - at).min(zeros.len() as u64);
                let piece = &zeros[..usize::try_from(n).unwrap_or(zeros.len())];
                if file.write_all_at(piece, at).is_err() {
                    break;
                }
                at += n;
            }
        }
        let epoch = match header_epoch(&file)? {
            Some(epoch) => epoch.wrapping_add(1),
            None => 1,
        };
        let mut journal = Journal {
            path,
            file,
            epoch,
            end: HEADER,
            oldest: None,
            torn: false,
            #[cfg(test)]
            full: None,
        };
        journal.write_header()?;
        if !existed {
            File::open(dir)?.sync_all()?;
        }
        Ok(journal)
    }

    /// Writes the header with the current epoch and syncs it.
    fn write_header(&mut self) -> io::Result<()> {
        let mut header = [0u8; HEADER as usize];
        header[..4].copy_from_slice(MAGIC);
        header[4..12].copy_from_slice(&self.epoch.to_le_bytes());
        self.file.write_all_at(&header, 0)?;
        self.file.sync_data()
    }

    /// The journal's file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `payload` as one frame and syncs it: durable once this returns `Ok`.
    ///
    /// On failure the torn frame is cut off again; if that fails too, every later append
    /// fails until [`Journal::reset`] succeeds.
    pub(crate) fn append(&mut self, payload: &[u8]) -> io::Result<()> {
        self.check_full()?;
        if self.torn {
            return Err(io::Error::other(
                "an earlier append to the journal failed and could not be undone; it is \
                 emptied at the next checkpoint",
            ));
        }
        let len = u32::try_from(payload.len())
            .map_err(|_| io::Error::other("a batch of more than 4 GiB"))?;
        let mut frame = Vec::with_capacity(8 + payload.len());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&frame_crc(self.epoch, payload).to_le_bytes());
        frame.extend_from_slice(payload);
        let written = self
            .file
            .write_all_at(&frame, self.end)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // A torn frame is harmless where it lies (a replay stops at it), but nothing
            // may follow it: the next frame overwrites it, or, if it cannot, none is
            // written until a checkpoint starts a new epoch.
            if self.file.write_all_at(&[0; 8], self.end).is_err() {
                self.torn = true;
            }
            return Err(e);
        }
        self.end += frame.len() as u64;
        self.oldest.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Whether a checkpoint is due: the journal is large, or its oldest frame is old, or an
    /// append left it torn.
    pub(crate) fn checkpoint_due(&self) -> bool {
        self.torn
            || self.oldest.is_some_and(|t| t.elapsed() >= CHECKPOINT_EVERY)
            || self.end >= CHECKPOINT_BYTES
    }

    /// Empties the journal, once everything in it is durable in redb.
    pub(crate) fn reset(&mut self) -> io::Result<()> {
        self.check_full()?;
        self.epoch = self.epoch.wrapping_add(1);
        self.write_header()?;
        self.end = HEADER;
        self.oldest = None;
        self.torn = false;
        Ok(())
    }
}

impl Journal {
    /// A full disk, while a test says so.
    fn check_full(&self) -> io::Result<()> {
        #[cfg(test)]
        if self
            .full
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst))
        {
            return Err(io::Error::from(io::ErrorKind::StorageFull));
        }
        Ok(())
    }
}

/// The epoch in the header of `file`, or `None` for a file too short to have one.
///
/// # Errors
/// When it cannot be read, or its first bytes are not a journal's.
fn header_epoch(file: &File) -> io::Result<Option<u64>> {
    let mut header = [0u8; HEADER as usize];
    match file.read_exact_at(&mut header, 0) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    if header == [0; HEADER as usize] {
        return Ok(None);
    }
    if &header[..4] != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not an alertrun journal (its first bytes are not ARJ1)",
        ));
    }
    Ok(Some(u64::from_le_bytes(
        header[4..12].try_into().expect("8 bytes"),
    )))
}

/// The CRC of a frame: over the epoch, then the payload.
fn frame_crc(epoch: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&epoch.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// The batches of the journal at `path`, oldest first: every whole frame of the current
/// epoch up to the first that is cut short, empty, or fails its CRC (the tail of an
/// interrupted append, or an earlier epoch's). A missing file holds none.
///
/// # Errors
/// When the file cannot be read or is not a journal, or a frame whose CRC holds cannot
/// be decoded (a journal written by another alertrun).
pub(crate) fn read(path: &Path) -> io::Result<Vec<Batch>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let Some(epoch) = header_epoch(&file)? else {
        return Ok(Vec::new());
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let mut batches = Vec::new();
    let mut rest = bytes.get(HEADER as usize..).unwrap_or_default();
    while rest.len() >= 8 {
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        let Some(payload) = rest.get(8..8 + len).filter(|_| len > 0) else {
            break;
        };
        if frame_crc(epoch, payload) != crc {
            break;
        }
        batches.push(decode(payload).map_err(|why| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("journal frame {} cannot be read: {why}", batches.len() + 1),
            )
        })?);
        rest = &rest[8 + len..];
    }
    Ok(batches)
}

/// The batch of a payload made by [`encode`].
///
/// # Errors
/// [`io::ErrorKind::InvalidData`] when it cannot be read.
pub(crate) fn decode_payload(payload: &[u8]) -> io::Result<Batch> {
    decode(payload).map_err(|why| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a journal payload cannot be read: {why}"),
        )
    })
}

/// The payload of a frame for `batch`, whose notification bodies and runs are already
/// as the store keeps them (`bodies`, `runs`: packed).
pub(crate) fn encode(batch: &Batch, bodies: &[Vec<u8>], runs: &[Vec<u8>]) -> Vec<u8> {
    let size = bodies
        .iter()
        .map(|b| 12 + b.len())
        .chain(runs.iter().map(|r| 4 + r.len()))
        .chain(batch.dedupe.iter().map(|(k, _)| 20 + k.len()))
        .chain(batch.dedupe_remove.iter().map(|k| 4 + k.len()))
        .sum::<usize>();
    let mut out = Vec::with_capacity(17 + size);
    out.push(FORMAT);
    put_len(&mut out, batch.notifications.len());
    for ((id, _), body) in batch.notifications.iter().zip(bodies) {
        out.extend_from_slice(&id.to_le_bytes());
        put_bytes(&mut out, body);
    }
    put_len(&mut out, runs.len());
    for run in runs {
        put_bytes(&mut out, run);
    }
    put_len(&mut out, batch.dedupe_remove.len());
    for key in &batch.dedupe_remove {
        put_bytes(&mut out, key.as_bytes());
    }
    put_len(&mut out, batch.dedupe.len());
    for (key, entry) in &batch.dedupe {
        put_bytes(&mut out, key.as_bytes());
        out.extend_from_slice(&entry.ran_at.to_le_bytes());
        out.extend_from_slice(&entry.seen_at.to_le_bytes());
    }
    if !batch.settings.is_empty() {
        put_len(&mut out, batch.settings.len());
        for (name, value) in &batch.settings {
            put_bytes(&mut out, name.as_bytes());
            match value {
                Some(value) => {
                    out.push(1);
                    put_bytes(&mut out, value);
                }
                None => out.push(0),
            }
        }
    }
    out
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Reads a payload back into its batch.
fn decode(payload: &[u8]) -> Result<Batch, String> {
    let mut r = Reader(payload);
    let format = r.take(1)?[0];
    if format != FORMAT {
        return Err(format!("unknown format {format}"));
    }
    let mut batch = Batch::default();
    for _ in 0..r.u32()? {
        let id = r.u64()?;
        let body: Arc<[u8]> = Arc::from(r.bytes()?);
        batch.notifications.push((id, body));
    }
    for _ in 0..r.u32()? {
        let json = super::tables::unpack_plain(r.bytes()?).map_err(|e| format!("a run: {e}"))?;
        let run: RunRecord = serde_json::from_slice(&json).map_err(|e| format!("a run: {e}"))?;
        batch.runs.push(run);
    }
    for _ in 0..r.u32()? {
        batch.dedupe_remove.push(r.string()?);
    }
    for _ in 0..r.u32()? {
        let key = r.string()?;
        let ran_at = r.i64()?;
        let seen_at = r.i64()?;
        batch.dedupe.push((key, DedupeEntry { ran_at, seen_at }));
    }
    if !r.0.is_empty() {
        for _ in 0..r.u32()? {
            let name = r.string()?;
            let value = match r.take(1)?[0] {
                0 => None,
                1 => Some(r.bytes()?.to_vec()),
                other => return Err(format!("setting {name:?}: unknown kind {other}")),
            };
            batch.settings.push((name, value));
        }
    }
    if !r.0.is_empty() {
        return Err(format!("{} bytes after the batch", r.0.len()));
    }
    Ok(batch)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("cut short".to_owned());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|e| format!("a key: {e}"))
    }
}
