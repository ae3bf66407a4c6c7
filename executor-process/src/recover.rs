//! Ending what an earlier alertrun process left running: the `recover` of a
//! [`ProcessExecutor`](crate::ProcessExecutor).

use std::time::Duration;

use alert_core::Recovered;
use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::RecoverError;
use crate::group::ProcessGroup;
use crate::identity::{self, Survey};

/// How often the group is looked at while it is being ended.
const POLL: Duration = Duration::from_millis(20);
/// How long the group may take to go after `SIGKILL` before recovery reports it stuck.
pub(crate) const KILL_WAIT: Duration = Duration::from_secs(5);

/// A process group an earlier alertrun process started: the fields of
/// [`Started::Process`](alert_core::Started::Process).
#[derive(Debug)]
pub(crate) struct Leftover<'a> {
    pub(crate) pid: u32,
    pub(crate) pgid: u32,
    pub(crate) start_time: u64,
    pub(crate) boot_id: &'a str,
}

/// How to end a group that is still alive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ending {
    pub(crate) signal: Signal,
    pub(crate) grace: Duration,
}

/// Ends what is left of `leftover`: [`Recovered::Gone`] when nothing is (another boot, a
/// reused leader pid, no live member), else `ending.signal` to the group, `SIGKILL` after
/// the grace, and [`Recovered::Ended`] once no member is left.
pub(crate) async fn end_leftover(
    leftover: &Leftover<'_>,
    ending: Ending,
) -> Result<Recovered, RecoverError> {
    if blocking(identity::boot_id).await? != leftover.boot_id {
        tracing::info!(
            pgid = leftover.pgid,
            "the process group started in an earlier boot"
        );
        return Ok(Recovered::Gone);
    }
    let members = match survey(leftover).await? {
        Survey::Reused => {
            tracing::info!(
                pid = leftover.pid,
                "the leader's pid belongs to another process now: leaving it alone"
            );
            return Ok(Recovered::Gone);
        }
        Survey::Members(members) if members.is_empty() => return Ok(Recovered::Gone),
        Survey::Members(members) => members,
    };
    tracing::info!(pgid = leftover.pgid, ?members, signal = ?ending.signal, "ending a process group left running");
    // Armed: if this future is dropped half way, the group still gets SIGKILL.
    let group = ProcessGroup::led_by(leftover.pgid);
    group.signal(ending.signal);
    if wait_until_empty(leftover, ending.grace).await?.is_none() {
        group.release();
        return Ok(Recovered::Ended);
    }
    tracing::info!(pgid = leftover.pgid, grace = ?ending.grace, "process group outlived its grace");
    group.signal(Signal::SIGKILL);
    let left = wait_until_empty(leftover, KILL_WAIT).await;
    group.release();
    match left? {
        None => Ok(Recovered::Ended),
        Some(members) => Err(RecoverError::Survived {
            pgid: leftover.pgid,
            members,
            waited: KILL_WAIT,
        }),
    }
}

/// Polls the group until no member is left (`None`) or `limit` passed (the members left).
async fn wait_until_empty(
    leftover: &Leftover<'_>,
    limit: Duration,
) -> Result<Option<Vec<u32>>, RecoverError> {
    let until = Instant::now() + limit;
    loop {
        let members = match survey(leftover).await? {
            Survey::Reused => return Ok(None),
            Survey::Members(members) if members.is_empty() => return Ok(None),
            Survey::Members(members) => members,
        };
        if Instant::now() >= until {
            return Ok(Some(members));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn survey(leftover: &Leftover<'_>) -> Result<Survey, RecoverError> {
    let Leftover {
        pid,
        pgid,
        start_time,
        ..
    } = *leftover;
    blocking(move || identity::survey(pid, pgid, start_time)).await
}

/// Runs a blocking read of `/proc` off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, RecoverError> + Send + 'static,
) -> Result<T, RecoverError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| RecoverError::Proc {
            path: "/proc".into(),
            source: std::io::Error::other(e),
        })?
}
