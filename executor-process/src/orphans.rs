//! Processes that left their action: adopted by alertrun, and ended when it stops.
//!
//! An action that daemonises (forks, calls `setsid`, and its parent exits) leaves its
//! process group, so ending the group at the run's end misses it, and with its parent gone
//! it would be reparented to init and outlive alertrun. [`adopt_orphans`] makes the calling
//! process a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`): such processes are
//! reparented to it instead. [`end_orphans`], called when alertrun stops and every action
//! has ended, signals each live child left (they can only be such orphans then), and
//! `SIGKILL`s those still alive after the grace.
//!
//! Orphans that end while alertrun runs (killed with their action's group, or exiting on
//! their own) become zombie children of alertrun; the runtime reaps only the children it
//! spawned, so [`reap_orphans`], called now and then, reaps the others.
//!
//! What it is not: an orphan that left its group is ended when alertrun stops, not when its
//! run ends (while alertrun runs, nothing tells one run's orphan from another's). Outside
//! Linux, adopting does nothing.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use crate::RecoverError;
use crate::identity::{live_children, orphan_zombies};

/// How long [`end_orphans`] waits after `SIGKILL` for the orphans to be gone.
const AFTER_KILL: Duration = Duration::from_secs(2);

/// Makes this process the reaper of its orphaned descendants (Linux only).
///
/// # Errors
/// When the kernel refuses (it never does on Linux 3.4 and later).
pub fn adopt_orphans() -> Result<(), nix::Error> {
    #[cfg(target_os = "linux")]
    nix::sys::prctl::set_child_subreaper(true)?;
    Ok(())
}

/// Ends every live child of this process: `signal`, then `SIGKILL` to those still alive
/// after `grace`. Call it once every action has ended. Returns how many there were.
///
/// # Errors
/// When `/proc` cannot be read.
pub async fn end_orphans(signal: Signal, grace: Duration) -> Result<usize, RecoverError> {
    let me = std::process::id();
    let orphans = live_children(me)?;
    if orphans.is_empty() {
        return Ok(0);
    }
    for &pid in &orphans {
        signal_one(pid, signal);
    }
    if wait_gone(me, grace).await? {
        return Ok(orphans.len());
    }
    for pid in live_children(me)? {
        signal_one(pid, Signal::SIGKILL);
    }
    wait_gone(me, AFTER_KILL).await?;
    Ok(orphans.len())
}

/// Reaps the children of this process that ended and that the runtime did not spawn (what
/// actions left, reparented here by [`adopt_orphans`]), so that they do not stay zombies.
/// Returns how many. Never touches a child the runtime spawned (see `orphan_zombies`).
///
/// # Errors
/// When `/proc` cannot be read.
pub fn reap_orphans() -> Result<usize, RecoverError> {
    let me = std::process::id();
    let session = nix::unistd::getsid(None).map_or(0, |s| s.as_raw().unsigned_abs());
    let zombies = orphan_zombies(me, session)?;
    for &pid in &zombies {
        if let Ok(pid) = i32::try_from(pid) {
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
    Ok(zombies.len())
}

fn signal_one(pid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// Waits up to `limit` for `parent` to have no live child; whether it has none.
async fn wait_gone(parent: u32, limit: Duration) -> Result<bool, RecoverError> {
    let until = Instant::now() + limit;
    loop {
        if live_children(parent)?.is_empty() {
            return Ok(true);
        }
        if Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
