//! Handles and recovery: what `execute_observed` tells about a started run, and how
//! `recover` deals with a process group an earlier alertrun process left behind.
//!
//! "alertrun died" is simulated by starting the group here, outside the executor (a run
//! the executor started dies with its future, by design), and building its handle from
//! `/proc` as the executor would have.
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    reason = "the helpers are test code: a failed unwrap is a failed test"
)]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::Duration;

use alert_core::{ExecError, Executor, Outcome, Recovered, Started};
use common::{SAFETY, TempPath, action, dies, is_dead, options, request, sh};
use executor_process::{ProcessExecutor, Signal};

const GRACE: Duration = Duration::from_millis(300);

/// The start time (field 22 of `/proc/<pid>/stat`) of `pid`.
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    fields[19].parse().unwrap()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

/// The handle the executor would have handed out for `child`, the leader of its group.
fn handle_of(child: &Child) -> Started {
    let pid = child.id();
    Started::Process {
        pid,
        pgid: pid,
        start_time: start_time(pid),
        boot_id: boot_id(),
    }
}

/// `/bin/sh -c script` leading its own group, started by the test (not by the executor),
/// with `READY` set to `ready`.
fn orphan(script: &str, ready: &TempPath) -> Child {
    use std::os::unix::process::CommandExt;
    Command::new("/bin/sh")
        .args(["-c", script])
        .env("READY", ready.as_str())
        .process_group(0)
        .spawn()
        .unwrap()
}

fn executor() -> ProcessExecutor {
    ProcessExecutor::new(sh("true"), options().with_grace(GRACE))
}

async fn recover(executor: &ProcessExecutor, started: &Started) -> Result<Recovered, ExecError> {
    let req = request(&[], b"");
    tokio::time::timeout(
        SAFETY,
        executor.recover(&req, started, Box::pin(std::future::pending())),
    )
    .await
    .expect("recovery ends well within the safety timeout")
}

/// Kills and reaps a process the test started.
fn reap(mut child: Child) {
    let _ = child.kill();
    child.wait().unwrap();
}

#[tokio::test]
async fn on_start_tells_the_leaders_pid_group_start_time_and_boot() {
    let executor = ProcessExecutor::new(sh("echo $$$$"), options());
    let seen = Mutex::new(Vec::new());
    let on_start = |started: Started| seen.lock().unwrap().push(started);
    let req = request(&[], b"");
    let outcome = executor
        .execute_observed(&req, Box::pin(std::future::pending()), &on_start)
        .await
        .unwrap();
    let Outcome::Finished(report) = outcome else {
        panic!("expected a finished run, got {outcome:?}")
    };
    let pid: u32 = report.stdout.text().trim().parse().unwrap();
    let seen = seen.into_inner().unwrap();
    let [
        Started::Process {
            pid: got,
            pgid,
            start_time,
            boot_id: boot,
        },
    ] = seen.as_slice()
    else {
        panic!("on_start was called once with a process handle: {seen:?}")
    };
    assert_eq!((*got, *pgid), (pid, pid), "the leader leads its own group");
    assert!(*start_time > 0);
    assert_eq!(*boot, boot_id());
}

#[tokio::test]
async fn a_program_that_cannot_start_never_calls_on_start() {
    let executor = ProcessExecutor::new(action(&["/nonexistent/alertrun-test"]), options());
    let called = Mutex::new(false);
    let on_start = |_: Started| *called.lock().unwrap() = true;
    let req = request(&[], b"");
    let e = executor
        .execute_observed(&req, Box::pin(std::future::pending()), &on_start)
        .await
        .unwrap_err();
    assert!(!*called.lock().unwrap());
    assert!(
        matches!(e, ExecError::Backend { .. }) && !e.is_transient(),
        "a missing program is not worth retrying: {e:?}"
    );
}

#[tokio::test]
async fn a_live_orphaned_group_is_ended_with_the_stop_signal() {
    let ready = TempPath::new("ready");
    let mut child = orphan("sleep 100 & echo $$ $! > \"$READY\"; wait", &ready);
    let pids = ready.wait_pids().await;
    let started = handle_of(&child);
    // A grace no test reaches: the rule's stop signal alone must end the group.
    let executor = ProcessExecutor::new(
        sh("true"),
        options()
            .with_grace(SAFETY)
            .with_stop_signal(Signal::SIGUSR1),
    );
    assert_eq!(
        recover(&executor, &started).await.unwrap(),
        Recovered::Ended
    );
    for pid in pids {
        assert!(
            is_dead(pid),
            "{pid} of the group is gone when recover returns"
        );
    }
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(Signal::SIGUSR1 as i32), "{status:?}");
}

#[tokio::test]
async fn an_orphaned_group_ignoring_the_stop_signal_is_killed_after_the_grace() {
    let ready = TempPath::new("ready");
    let child = orphan(
        "trap '' TERM; sleep 100 & echo $$ $! > \"$READY\"; while :; do sleep 1; done",
        &ready,
    );
    let pids = ready.wait_pids().await;
    let started = handle_of(&child);
    let begun = std::time::Instant::now();
    assert_eq!(
        recover(&executor(), &started).await.unwrap(),
        Recovered::Ended
    );
    assert!(begun.elapsed() >= GRACE, "{:?}", begun.elapsed());
    for pid in pids {
        assert!(
            is_dead(pid),
            "{pid} of the group is gone when recover returns"
        );
    }
    reap(child);
}

#[tokio::test]
async fn members_left_by_a_leader_that_is_gone_are_ended() {
    let ready = TempPath::new("ready");
    let mut child = orphan("sleep 100 & echo $! > \"$READY\"", &ready);
    let started = handle_of(&child);
    let member = ready.wait_pids().await[0];
    child.wait().unwrap();
    assert!(!is_dead(member));
    assert_eq!(
        recover(&executor(), &started).await.unwrap(),
        Recovered::Ended
    );
    assert!(dies(member).await);
}

#[tokio::test]
async fn a_pid_now_used_by_another_process_is_left_alone() {
    let ready = TempPath::new("ready");
    let child = orphan("echo $$ > \"$READY\"; exec sleep 100", &ready);
    ready.wait_pids().await;
    let Started::Process {
        pid,
        pgid,
        start_time,
        boot_id,
    } = handle_of(&child)
    else {
        unreachable!()
    };
    for other_start in [start_time - 1, start_time + 1] {
        let earlier_run = Started::Process {
            pid,
            pgid,
            start_time: other_start,
            boot_id: boot_id.clone(),
        };
        assert_eq!(
            recover(&executor(), &earlier_run).await.unwrap(),
            Recovered::Gone
        );
    }
    tokio::time::sleep(GRACE).await;
    assert!(
        !is_dead(pid as i32),
        "the process with the reused pid runs on"
    );
    reap(child);
}

#[tokio::test]
async fn a_group_from_another_boot_is_left_alone() {
    let ready = TempPath::new("ready");
    let child = orphan("echo $$ > \"$READY\"; exec sleep 100", &ready);
    ready.wait_pids().await;
    let Started::Process {
        pid,
        pgid,
        start_time,
        ..
    } = handle_of(&child)
    else {
        unreachable!()
    };
    let earlier_boot = Started::Process {
        pid,
        pgid,
        start_time,
        boot_id: "00000000-0000-0000-0000-000000000000".into(),
    };
    assert_eq!(
        recover(&executor(), &earlier_boot).await.unwrap(),
        Recovered::Gone
    );
    assert!(!is_dead(pid as i32));
    reap(child);
}

#[tokio::test]
async fn a_group_that_ended_is_gone() {
    let ready = TempPath::new("ready");
    let mut child = orphan("echo $$ > \"$READY\"", &ready);
    ready.wait_pids().await;
    let started = handle_of(&child);
    child.wait().unwrap();
    assert_eq!(
        recover(&executor(), &started).await.unwrap(),
        Recovered::Gone
    );
}

#[tokio::test]
async fn a_job_handle_is_rejected() {
    let job = Started::Job {
        namespace: "ops".into(),
        name: "j".into(),
        uid: "u".into(),
    };
    let e = recover(&executor(), &job).await.unwrap_err();
    assert!(
        matches!(
            e,
            ExecError::Rejected {
                backend: "process",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "process rejected the action: cannot recover Job ops/j (uid u): not a process group"
    );
}
