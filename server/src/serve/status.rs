//! What `GET /api/v1/status` says about a running server: its version, when it started, the
//! config file it runs (path and SHA-256 of the bytes last loaded, and how the last reload
//! went), its store (path, size, retention), its load and pauses, and its HA role.
//!
//! It lets `alertrun runs` and the other client commands tell that the server answering is
//! the one of the config they were given (same file, same bytes), and it backs the `/status`
//! page (`serve::ui`). It holds no secret: the config's hash, not its text. Fields added
//! after the first release have serde defaults, so a client reads an older server's answer.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError, Secrets};

/// The answer of `GET /api/v1/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// alertrun's version.
    pub version: String,
    /// How this binary was built: profile, OS and architecture (`release linux x86_64`).
    #[serde(default)]
    pub build: String,
    /// When the server started, RFC 3339.
    pub started_at: String,
    /// The config file, as given to `alertrun serve`, made absolute.
    pub config_path: String,
    /// SHA-256 of the config file's bytes when last loaded (start or reload), in hex; empty
    /// when the file could not be read again to hash it.
    pub config_sha256: String,
    /// The store file (`server.state.durable: true`), or none.
    pub store_path: Option<String>,
    /// The last reload (SIGHUP or `POST /-/reload`), or none since the start.
    #[serde(default)]
    pub last_reload: Option<ReloadStatus>,
    /// The store file's size in bytes, when there is one.
    #[serde(default)]
    pub store_bytes: Option<u64>,
    /// How long history is kept, when there is a store.
    #[serde(default)]
    pub retention: Option<Retention>,
    /// Actions starting or running now.
    #[serde(default)]
    pub running: usize,
    /// Runs waiting to start now.
    #[serde(default)]
    pub queued: usize,
    /// Whether alertrun is paused (no new run is queued), and why.
    #[serde(default)]
    pub paused: bool,
    /// The pauses holding (see `GET /api/v1/pause`).
    #[serde(default)]
    pub pauses: Vec<crate::serve::api::PauseStatus>,
    /// This replica's role when several run (`server.ha`); null for a single replica.
    #[serde(default)]
    pub ha: Option<HaStatus>,
}

/// A replica's part in `server.ha`, as `GET /api/v1/status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaStatus {
    /// This replica's name (the holder of its claims).
    pub replica: String,
    /// The namespace of the claims.
    pub namespace: String,
    /// How long a claim holds without renewal, in seconds.
    pub lease_duration_seconds: u64,
    /// Whether this replica is the housekeeper (leader) now.
    pub leader: bool,
}

/// How the last reload went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadStatus {
    /// `ok`, or `failed` (the running config was kept).
    pub result: String,
    /// When, RFC 3339.
    pub at: String,
    /// Why it failed (the file and the problem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The history's retention (`server.state`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// `history_max_age`, as a duration (`7days`).
    pub max_age: String,
    /// `history_max_runs`.
    pub max_runs: usize,
}

/// The status parts a running server keeps: fixed at start, the hash renewed on reload.
#[derive(Debug)]
pub(crate) struct StatusCell {
    started_at: String,
    config_path: PathBuf,
    config_sha256: Mutex<String>,
    last_reload: Mutex<Option<ReloadStatus>>,
}

impl StatusCell {
    /// The status of a server starting now on the config at `config_path`, whose text
    /// hashes to `sha256` ([`load_config_hashed`]); none: the file is hashed now.
    pub(crate) fn new(config_path: &Path, sha256: Option<String>) -> Self {
        let config_path = std::path::absolute(config_path).unwrap_or_else(|_| config_path.into());
        let sha256 = sha256.unwrap_or_else(|| {
            std::fs::read(&config_path)
                .map(|bytes| sha256_hex(&bytes))
                .unwrap_or_default()
        });
        Self {
            started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            config_path,
            config_sha256: Mutex::new(sha256),
            last_reload: Mutex::new(None),
        }
    }

    /// A reload took the config whose text hashes to `sha256` ([`sha256_hex`]): the hash
    /// of what was loaded, not of the file as it may be by now.
    pub(crate) fn config_loaded(&self, sha256: String) {
        *self
            .config_sha256
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = sha256;
    }

    /// Records a reload's result: `error` is why it failed, none when it succeeded.
    pub(crate) fn reloaded(&self, error: Option<String>) {
        let status = ReloadStatus {
            result: if error.is_some() { "failed" } else { "ok" }.to_owned(),
            at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            error,
        };
        *self
            .last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(status);
    }

    /// The status now, with the store at `store`; the caller adds what the dispatcher knows.
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
            store_bytes: store
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len()),
            build: build(),
            last_reload: self
                .last_reload
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            ..ServerStatus::default()
        }
    }
}

/// How this binary was built, e.g. `release linux x86_64`.
fn build() -> String {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!(
        "{profile} {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// [`Config::load`], with the SHA-256 ([`sha256_hex`]) of the text it parsed: the file is
/// read once, so the hash is of the config loaded even when the file changes meanwhile.
///
/// # Errors
/// As [`Config::load`].
pub fn load_config_hashed(path: &Path) -> Result<(Config, String), ConfigError> {
    let text = Config::read(path)?;
    let sha256 = sha256_hex(text.as_bytes());
    Config::from_yaml_with(&text, Secrets::Required).map(|config| (config, sha256))
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
    fn a_loaded_config_comes_with_the_hash_of_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alertrun.yaml");
        std::fs::write(&path, "rules: []\n").unwrap();
        let (config, sha256) = load_config_hashed(&path).unwrap();
        assert!(config.rules().rules().is_empty());
        assert_eq!(sha256, sha256_hex(b"rules: []\n"));
        std::fs::write(&path, "rules: [oops\n").unwrap();
        let e = load_config_hashed(&path).unwrap_err();
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn reload_renews_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alertrun.yaml");
        std::fs::write(&path, "rules: []\n").unwrap();
        let cell = StatusCell::new(&path, None);
        let before = cell.status(None).config_sha256;
        assert_eq!(before, sha256_hex(b"rules: []\n"));
        std::fs::write(&path, "rules: [] # changed\n").unwrap();
        assert_eq!(cell.status(None).config_sha256, before, "not reloaded yet");
        cell.config_loaded(sha256_hex(b"rules: [] # changed\n"));
        assert_ne!(cell.status(None).config_sha256, before);
    }

    #[test]
    fn a_failed_reload_is_shown_with_its_reason_until_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alertrun.yaml");
        std::fs::write(&path, "rules: []\n").unwrap();
        let cell = StatusCell::new(&path, None);
        assert_eq!(cell.status(None).last_reload, None, "no reload yet");
        cell.reloaded(Some("alertrun.yaml: rules[0]: bad".into()));
        let failed = cell.status(None).last_reload.unwrap();
        assert_eq!(failed.result, "failed");
        assert_eq!(
            failed.error.as_deref(),
            Some("alertrun.yaml: rules[0]: bad")
        );
        cell.reloaded(None);
        let ok = cell.status(None).last_reload.unwrap();
        assert_eq!((ok.result.as_str(), ok.error), ("ok", None));
    }
}
