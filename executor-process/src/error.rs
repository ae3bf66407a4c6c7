//! Why a process action could not be run.

use std::io;
use std::path::PathBuf;

/// Why a process action could not be started or followed: the source inside
/// [`ExecError::Backend`](alert_core::ExecError::Backend) from a
/// [`ProcessExecutor`](crate::ProcessExecutor).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The program could not be started: not found, not executable, or no resources.
    #[error("cannot run program {program:?}")]
    Program {
        /// The program as spawned (after `$(VAR)` expansion).
        program: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The action's working directory is missing or not a directory.
    #[error("cannot enter workdir {dir:?}")]
    Workdir {
        /// The configured working directory.
        dir: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// Waiting for the started program failed, so how it ended is unknown.
    #[error("lost track of program {program:?}")]
    Wait {
        /// The program as spawned.
        program: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
}
