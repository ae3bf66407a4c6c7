//! Why a process action could not be run.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;

/// Why a process action could not be started or followed: the source inside
/// [`ExecError::Backend`](alert_core::ExecError::Backend) from a
/// [`ProcessExecutor`](crate::ProcessExecutor).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The program could not be started: not found, not executable, or no resources.
    #[error("cannot run program {program:?}")]
    Program {
        /// The program as spawned (after `$(VAR)` expansion), secret values `<redacted>`.
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
        /// The program as spawned, secret values `<redacted>`.
        program: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The program started, but `/proc` did not say who it is, so it could not be found
    /// again after a crash of alertrun: it was killed at once, as nothing may run
    /// unsupervised.
    #[error("cannot identify the started program {program:?}; it was killed")]
    Identity {
        /// The program as spawned, secret values `<redacted>`.
        program: String,
        /// What could not be read.
        #[source]
        source: RecoverError,
    },
}

impl SpawnError {
    /// Whether starting the program again later may succeed: a spawn that failed for
    /// want of resources (`EAGAIN`: the process limit; `ENOMEM`; `EMFILE`/`ENFILE`: no
    /// file descriptor for the pipes; `ETXTBSY`: the program file is being written, as
    /// during a deploy; `EINTR`).
    ///
    /// A program that is missing (`ENOENT`) or not executable (`EACCES`, `ENOEXEC`), and
    /// a bad workdir, are not: they are configuration problems that retrying only reports
    /// later. Neither are [`SpawnError::Wait`] and [`SpawnError::Identity`], which come
    /// after the program started.
    pub fn is_transient(&self) -> bool {
        let Self::Program { source, .. } = self else {
            return false;
        };
        source
            .raw_os_error()
            .map(Errno::from_raw)
            .is_some_and(|errno| {
                matches!(
                    errno,
                    Errno::EAGAIN
                        | Errno::ENOMEM
                        | Errno::EMFILE
                        | Errno::ENFILE
                        | Errno::ETXTBSY
                        | Errno::EINTR
                )
            })
    }
}

/// Why [`ProcessExecutor`](crate::ProcessExecutor)'s
/// [`recover`](alert_core::Executor::recover) could not find out what is left of a process
/// group, or could not end it: the source inside
/// [`ExecError::Backend`](alert_core::ExecError::Backend). The caller must not assume the
/// group is gone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverError {
    /// A file of `/proc` could not be read (not Linux, or `/proc` is not mounted).
    #[error("cannot read {path:?}")]
    Proc {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// Members of the group still ran this long after `SIGKILL`: stuck in the kernel
    /// (state `D`), or traced.
    #[error("process group {pgid} still has live members {members:?} {waited:?} after SIGKILL")]
    Survived {
        /// The group.
        pgid: u32,
        /// The pids still alive.
        members: Vec<u32>,
        /// How long alertrun waited after `SIGKILL`.
        waited: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_errors_worth_retrying_table() {
        let program = |errno: Errno| SpawnError::Program {
            program: "/bin/x".into(),
            source: io::Error::from_raw_os_error(errno as i32),
        };
        for (case, error, want) in [
            ("EAGAIN: process limit", program(Errno::EAGAIN), true),
            ("ENOMEM", program(Errno::ENOMEM), true),
            ("EMFILE", program(Errno::EMFILE), true),
            ("ENFILE", program(Errno::ENFILE), true),
            ("ETXTBSY: being written", program(Errno::ETXTBSY), true),
            ("EINTR", program(Errno::EINTR), true),
            ("ENOENT: missing program", program(Errno::ENOENT), false),
            ("EACCES: not executable", program(Errno::EACCES), false),
            ("ENOEXEC: not a program", program(Errno::ENOEXEC), false),
            (
                "no OS error",
                SpawnError::Program {
                    program: "/bin/x".into(),
                    source: io::Error::other("?"),
                },
                false,
            ),
            (
                "bad workdir",
                SpawnError::Workdir {
                    dir: "/nope".into(),
                    source: io::Error::from_raw_os_error(Errno::ENOENT as i32),
                },
                false,
            ),
            (
                "lost after start",
                SpawnError::Wait {
                    program: "/bin/x".into(),
                    source: io::Error::from_raw_os_error(Errno::EAGAIN as i32),
                },
                false,
            ),
        ] {
            assert_eq!(error.is_transient(), want, "{case}");
        }
    }
}
