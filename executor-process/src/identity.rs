//! Who a process is, as Linux's `/proc` tells it: enough to tell a process group alertrun
//! started from whatever has the same numbers later.
//!
//! A pid alone is no identity: once a process ended, the kernel may give its pid to a new
//! one. A process's start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot)
//! does not change while it lives and differs for a later process of the same pid, and
//! the boot id tells one boot's tick count from another's.
//!
//! The functions here do blocking reads of `/proc` (which never waits on a disk): call
//! them from [`tokio::task::spawn_blocking`].

use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
use alert_core::Started;

use crate::RecoverError;

/// Where the kernel shows its processes.
const PROC: &str = "/proc";
/// The id of the current boot, a UUID that changes with every boot.
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// The fields of `/proc/<pid>/stat` that identify a process and its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    state: char,
    /// Field 4: the parent.
    ppid: u32,
    /// Field 5: the process group.
    pgrp: u32,
    /// Field 6: the session.
    session: u32,
    /// Field 22: when it started, in clock ticks since boot.
    start_time: u64,
}

impl Stat {
    /// Parses the text of `/proc/<pid>/stat`. The command name (field 2) is in parentheses
    /// and may itself hold spaces and `)`, so the fields are counted from the last `)`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `fields[0]` is field 3.
        let field = |n: usize| fields.get(n - 3).copied();
        Some(Self {
            state: field(3)?.chars().next()?,
            ppid: field(4)?.parse().ok()?,
            pgrp: field(5)?.parse().ok()?,
            session: field(6)?.parse().ok()?,
            start_time: field(22)?.parse().ok()?,
        })
    }

    /// Whether the process still runs: not a zombie waiting to be reaped, not dead.
    fn is_alive(self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// The stat of process `pid`, or `None` when there is no such process.
fn read_stat(pid: u32) -> Result<Option<Stat>, RecoverError> {
    let path = Path::new(PROC).join(pid.to_string()).join("stat");
    match fs::read_to_string(&path) {
        // ESRCH: the process ended between opening and reading.
        Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(3) => Ok(None),
        Err(source) => Err(RecoverError::Proc { path, source }),
        Ok(text) => Stat::parse(&text)
            .map(Some)
            .ok_or_else(|| RecoverError::Proc {
                path,
                source: io::Error::new(ErrorKind::InvalidData, "unexpected format"),
            }),
    }
}

/// The current boot's id.
pub(crate) fn boot_id() -> Result<String, RecoverError> {
    fs::read_to_string(BOOT_ID)
        .map(|id| id.trim().to_string())
        .map_err(|source| RecoverError::Proc {
            path: PathBuf::from(BOOT_ID),
            source,
        })
}

/// The handle of the process `pid`, which alertrun just spawned and has not reaped yet
/// (so its `/proc` entry exists, even if it already exited).
#[cfg(target_os = "linux")]
pub(crate) fn identify(pid: u32) -> Result<Started, RecoverError> {
    let stat = read_stat(pid)?.ok_or_else(|| RecoverError::Proc {
        path: Path::new(PROC).join(pid.to_string()).join("stat"),
        source: io::Error::new(ErrorKind::NotFound, "the spawned process has no entry"),
    })?;
    Ok(Started::Process {
        pid,
        pgid: stat.pgrp,
        start_time: stat.start_time,
        boot_id: boot_id()?,
    })
}

/// What is left of a process group alertrun started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Survey {
    /// The leader's pid now belongs to a process that started at another time: the pid
    /// was reused, so the group is no longer ours (its id can only be reused once every
    /// member of ours ended). Nothing may be signalled.
    Reused,
    /// The live members of the group that started no earlier than its leader (all of
    /// them started after it, or are it): empty when nothing is left.
    Members(Vec<u32>),
}

/// What is left of the group `pgid` whose leader `pid` started at tick `start_time`.
///
/// A member whose start time is before the leader's cannot be of the group alertrun
/// started (the leader came first and made the group), so it is not counted. Zombies are
/// not counted either: they have ended, and only wait for a parent to reap them.
pub(crate) fn survey(pid: u32, pgid: u32, start_time: u64) -> Result<Survey, RecoverError> {
    if read_stat(pid)?.is_some_and(|leader| leader.start_time != start_time) {
        return Ok(Survey::Reused);
    }
    let ours = |s: Stat| s.pgrp == pgid && s.start_time >= start_time;
    Ok(Survey::Members(live_processes(ours)?))
}

/// The live children of process `parent`.
pub(crate) fn live_children(parent: u32) -> Result<Vec<u32>, RecoverError> {
    live_processes(|s| s.ppid == parent)
}

/// The children of `parent` that ended and wait to be reaped, and that the runtime did not
/// spawn: it spawns each action as the leader of a new group in `parent`'s session, so a
/// zombie that leads its group in that session is left for the runtime to reap.
pub(crate) fn orphan_zombies(parent: u32, session: u32) -> Result<Vec<u32>, RecoverError> {
    processes(|pid, s| s.ppid == parent && !s.is_alive() && (s.session != session || s.pgrp != pid))
}

/// The live processes (not zombies) whose stat passes `keep`, by pid.
fn live_processes(keep: impl Fn(Stat) -> bool) -> Result<Vec<u32>, RecoverError> {
    processes(|_, s| s.is_alive() && keep(s))
}

/// The processes whose pid and stat pass `keep`, by pid.
fn processes(keep: impl Fn(u32, Stat) -> bool) -> Result<Vec<u32>, RecoverError> {
    let entries = fs::read_dir(PROC).map_err(|source| RecoverError::Proc {
        path: PathBuf::from(PROC),
        source,
    })?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| RecoverError::Proc {
            path: PathBuf::from(PROC),
            source,
        })?;
        let Some(other) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue; // not a process: `self`, `sys`, `meminfo`...
        };
        if read_stat(other)?.is_some_and(|s| keep(other, s)) {
            found.push(other);
        }
    }
    found.sort_unstable();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stat line with this command name, state, group and start time; the other fields
    /// hold what a real line holds there.
    fn line(comm: &str, state: char, pgrp: u32, start: u64) -> String {
        format!(
            "4242 ({comm}) {state} 1 {pgrp} {pgrp} 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 \
             {start} 2453504 140 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
        )
    }

    #[test]
    fn stat_parse_table() {
        for (case, text, want) in [
            (
                "plain",
                line("sleep", 'S', 4242, 987_654),
                Some((('S', 4242, 987_654), true)),
            ),
            (
                "a command name with spaces and parentheses",
                line("a) b (c", 'R', 7, 1),
                Some((('R', 7, 1), true)),
            ),
            (
                "a zombie",
                line("sh", 'Z', 7, 1),
                Some((('Z', 7, 1), false)),
            ),
            (
                "a dead one",
                line("sh", 'X', 7, 1),
                Some((('X', 7, 1), false)),
            ),
            ("truncated", "4242 (sleep) S 1 4242".to_string(), None),
            ("no command name", "4242 sleep S".to_string(), None),
            (
                "a start time that is no number",
                line("x", 'S', 7, 1).replace(" 1 2453504", " x 2453504"),
                None,
            ),
        ] {
            let got = Stat::parse(&text).map(|s| ((s.state, s.pgrp, s.start_time), s.is_alive()));
            assert_eq!(got, want, "{case}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_identifies_itself() {
        let pid = std::process::id();
        let Started::Process {
            pid: got,
            start_time,
            boot_id,
            ..
        } = identify(pid).unwrap()
        else {
            panic!("a process handle")
        };
        assert_eq!(got, pid);
        assert!(start_time > 0);
        assert_eq!(boot_id.len(), 36, "{boot_id:?} is a UUID");
        assert_eq!(boot_id, super::boot_id().unwrap());
    }
}
