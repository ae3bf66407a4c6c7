//! The process group an action runs in, and the guard that kills it.

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The process group of a spawned action (its leader was started with `process_group(0)`,
/// so the group id is the leader's pid). Dropping it while armed sends `SIGKILL` to the
/// whole group, so nothing the action started outlives a cancelled run.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    id: Pid,
    armed: bool,
}

impl ProcessGroup {
    /// The group led by the process with this pid.
    pub(crate) fn led_by(pid: u32) -> Self {
        let raw = i32::try_from(pid).expect("pids fit in pid_t, which is what the OS gave us");
        Self {
            id: Pid::from_raw(raw),
            armed: true,
        }
    }

    /// Sends `signal` to every process of the group; a group that is already gone is fine.
    ///
    /// Linux keeps a group's id from being reused as a new process id while any member
    /// lives, so after the leader was reaped this reaches the leader's leftovers or, when
    /// there are none, no one (barring a full wrap of the pid space in between).
    pub(crate) fn signal(&self, signal: Signal) {
        match killpg(self.id, signal) {
            Ok(()) => tracing::debug!(group = self.id.as_raw(), ?signal, "signalled process group"),
            Err(Errno::ESRCH) => {}
            Err(e) => {
                tracing::warn!(group = self.id.as_raw(), ?signal, error = %e, "cannot signal process group");
            }
        }
    }

    /// Disarms the guard: the leader was reaped and the group killed, so nothing is left.
    pub(crate) fn release(mut self) {
        self.armed = false;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.armed {
            self.signal(Signal::SIGKILL);
        }
    }
}
