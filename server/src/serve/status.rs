//! What `GET /api/v1/status` says about a running server: its version, when it started, the
//! config file it runs (path and SHA-256 of the bytes last loaded) and its store.
//!
//! It is small on purpose: enough for `alertrun runs` and the other client commands to tell
//! that the server answering is the one of the config they were given (same file, same
//! bytes). It is not a status page (rules, queues and pauses have their own routes) and
//! holds no secret: the config's hash, not its text.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The answer of `GET /api/v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// alertrun's version.
    pub version: String,
    /// When the server started, RFC 3339.
    pub started_at: String,
    /// The config file, as given to `alertrun serve`, made absolute.
    pub config_path: String,
    /// SHA-256 of the config file's bytes when last loaded (start or reload), in hex; empty
    /// when the file could not be read again to hash it.
    pub config_sha256: String,
    /// The store file (`server.state.durable: true`), or none.
    pub store_path: Option<String>,
}

/// The status parts a running server keeps: fixed at start, the hash renewed on reload.
#[derive(Debug)]
pub(crate) struct StatusCell {
    started_at: String,
    config_path: PathBuf,
    config_sha256: Mutex<String>,
}

impl StatusCell {
    /// The status of a server starting now on the config at `config_path`.
    pub(crate) fn new(config_path: &Path) -> Self {
        let config_path = std::path::absolute(config_path).unwrap_or_else(|_| config_path.into());
        let cell = Self {
            started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            config_path,
            config_sha256: Mutex::new(String::new()),
        };
        cell.config_loaded();
        cell
    }

    /// Hashes the config file again, after a reload took it.
    pub(crate) fn config_loaded(&self) {
        let hash = std::fs::read(&self.config_path)
            .map(|bytes| sha256_hex(&bytes))
            .unwrap_or_default();
        *self
            .config_sha256
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = hash;
    }

    /// The status now, with the store at `store`.
    pub(crate) fn status(&self, store: Option<&Path>) -> ServerStatus {
        ServerStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: self.started_at.clone(),
            config_path: self.config_path.display().to_string(),
            config_sha256: self
                .config_sha256
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            store_path: store.map(|p| p.display().to_string()),
        }
    }
}

/// SHA-256 of `bytes`, lowercase hex: what `sha256sum` prints for the config file.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_what_sha256sum_prints() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn reload_renews_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alertrun.yaml");
        std::fs::write(&path, "rules: []\n").unwrap();
        let cell = StatusCell::new(&path);
        let before = cell.status(None).config_sha256;
        assert_eq!(before, sha256_hex(b"rules: []\n"));
        std::fs::write(&path, "rules: [] # changed\n").unwrap();
        assert_eq!(cell.status(None).config_sha256, before, "not reloaded yet");
        cell.config_loaded();
        assert_ne!(cell.status(None).config_sha256, before);
    }
}
