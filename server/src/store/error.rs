//! The store's one error type, and the sorting of redb's errors into it.

use std::io;
use std::path::{Path, PathBuf};

/// Why a store operation failed. Every message names the store's file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The directory or the file could not be created or opened (permission denied, not a
    /// directory, ...).
    #[error("cannot open the store {}", path.display())]
    Open {
        /// The directory or file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Another process (another alertrun?) has the file open.
    #[error(
        "the store {} is in use by another process: is another alertrun running with the same \
         data directory?",
        path.display()
    )]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a redb database, or is damaged.
    #[error("the store {} is corrupt or not an alertrun store", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What redb found.
        #[source]
        source: redb::Error,
    },
    /// The file exists but is empty: it lost everything it held (truncated, or a copy or
    /// restore that failed). Opening it would silently start a new store without the run
    /// history and dedupe state.
    #[error(
        "the store {} is an empty file: its run history and dedupe state are gone (was it \
         truncated?); restore it from a backup, or remove it to start with a new, empty store",
        path.display()
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A reader was pointed at a directory without a store file (`Store::open_existing`).
    #[error(
        "no store at {}: give the state directory of `alertrun serve` (its server.state.dir, \
         or its --state-dir)",
        path.display()
    )]
    Missing {
        /// The file that is not there.
        path: PathBuf,
    },
    /// The file was written by a different version of alertrun's store layout.
    #[error(
        "the store {} has layout version {found}, this alertrun reads version {expected}",
        path.display()
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u64,
        /// The version this build reads and writes.
        expected: u64,
    },
    /// Writing or syncing failed: disk full, read-only file system, I/O error. Nothing of the
    /// failed operation is certain to be stored, nor certain to be absent; the store reopens
    /// itself on the next call.
    #[error("cannot write to the store {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// A run refers to a notification that is neither in its batch nor stored.
    #[error(
        "cannot store run {run} in {}: its notification {notification} is not stored",
        path.display()
    )]
    MissingNotification {
        /// The file.
        path: PathBuf,
        /// The run's id.
        run: u64,
        /// The notification id it refers to.
        notification: u64,
    },
    /// A stored record could not be decoded.
    #[error("the store {} holds an unreadable {what}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// Which record, e.g. "run 12".
        what: String,
        /// What the decoder said.
        #[source]
        source: serde_json::Error,
    },
    /// A store operation panicked (the caller's worker thread reports it).
    #[error("a store operation panicked: {detail}")]
    Panicked {
        /// What the panic said.
        detail: String,
    },
    /// Any other failure of the database.
    #[error("the store {} failed", path.display())]
    Database {
        /// The file.
        path: PathBuf,
        /// What redb said.
        #[source]
        source: redb::Error,
    },
}

impl StoreError {
    /// Whether the store could not write: disk full, read-only file system, I/O error. A
    /// caller counts these separately; they usually need an operator, not a retry.
    pub fn is_write_failure(&self) -> bool {
        matches!(self, StoreError::Write { .. })
    }

    /// The error for a store call whose thread panicked or was cancelled, e.g. from
    /// `tokio::task::JoinError`.
    pub fn from_panic(error: &impl std::fmt::Display) -> StoreError {
        StoreError::Panicked {
            detail: error.to_string(),
        }
    }

    /// Whether redb latched an I/O failure: the open database refuses all further work and
    /// must be closed and reopened.
    pub(super) fn needs_reopen(&self) -> bool {
        match self {
            StoreError::Write { .. } => true,
            StoreError::Database { source, .. } => {
                matches!(source, redb::Error::Io(_) | redb::Error::PreviousIo)
            }
            _ => false,
        }
    }
}

/// Sorts redb errors into [`StoreError`]s for the file at `path`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Classify<'a> {
    pub(super) path: &'a Path,
    /// Whether the operation writes: its I/O errors become [`StoreError::Write`].
    pub(super) writing: bool,
}

impl Classify<'_> {
    pub(super) fn error(self, error: impl Into<redb::Error>) -> StoreError {
        let path = self.path.to_owned();
        match error.into() {
            redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => {
                StoreError::Locked { path }
            }
            redb::Error::Io(source) if self.writing => StoreError::Write { path, source },
            redb::Error::PreviousIo if self.writing => StoreError::Write {
                path,
                source: io::Error::other("an earlier write to the store failed"),
            },
            source @ (redb::Error::Corrupted(_)
            | redb::Error::UpgradeRequired(_)
            | redb::Error::TableTypeMismatch { .. }
            | redb::Error::TypeDefinitionChanged { .. }
            | redb::Error::TableIsMultimap(_)
            | redb::Error::TableIsNotMultimap(_)) => StoreError::Corrupt { path, source },
            source => StoreError::Database { path, source },
        }
    }

    pub(super) fn decode(
        self,
        what: impl FnOnce() -> String,
        source: serde_json::Error,
    ) -> StoreError {
        StoreError::Decode {
            path: self.path.to_owned(),
            what: what(),
            source,
        }
    }
}
