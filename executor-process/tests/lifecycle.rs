//! How a run ends: deadline, stop request, dropped future, and what happens to the
//! processes an action leaves behind.
#![cfg(unix)]

mod common;

use std::future::pending;
use std::time::Duration;

use alert_core::{EndedBy, Executor, Exit, Outcome, StopReason};
use common::{SAFETY, TempPath, dies, options, report, request, sh};
use executor_process::{ProcessExecutor, ProcessOptions, Signal};

/// Short on purpose: these are the behaviours under test, not safety nets.
const DEADLINE: Duration = Duration::from_millis(300);
const GRACE: Duration = Duration::from_millis(300);

fn with_deadline(env: &[(&str, &str)], deadline: Duration) -> alert_core::ExecRequest {
    alert_core::ExecRequest {
        deadline,
        ..request(env, b"")
    }
}

fn short_grace() -> ProcessOptions {
    options().with_grace(GRACE)
}

#[tokio::test]
async fn past_its_deadline_an_action_gets_sigterm() {
    // A generous grace: TERM alone must end it.
    let executor = ProcessExecutor::new(sh("sleep 30"), options().with_grace(SAFETY));
    let r = report(&executor, &with_deadline(&[], DEADLINE)).await;
    assert_eq!(r.ended_by, Some(EndedBy::Timeout));
    assert_eq!(r.exit, Some(Exit::Signal(15)));
    assert!(r.duration >= DEADLINE, "{:?}", r.duration);
    assert!(!r.success());
}

#[tokio::test]
async fn an_action_ignoring_sigterm_gets_sigkill_after_the_grace() {
    let script = "trap '' TERM; echo trapped; while :; do sleep 1; done";
    let executor = ProcessExecutor::new(sh(script), short_grace());
    let r = report(&executor, &with_deadline(&[], DEADLINE)).await;
    assert_eq!(r.ended_by, Some(EndedBy::Timeout));
    assert_eq!(r.exit, Some(Exit::Signal(9)));
    assert!(r.duration >= DEADLINE + GRACE, "{:?}", r.duration);
    assert_eq!(
        r.stdout.text(),
        "trapped\n",
        "output before the kill is kept"
    );
}

#[tokio::test]
async fn a_stop_request_sends_the_stop_signal_to_the_action() {
    let ready = TempPath::new("ready");
    let script = "trap 'echo got USR1; exit 3' USR1; echo $$$$ > \"$READY\"; \
                  while :; do sleep 0.05; done";
    let executor = ProcessExecutor::new(
        sh(script),
        options()
            .with_stop_signal(Signal::SIGUSR1)
            .with_grace(SAFETY),
    );
    let req = request(&[("READY", ready.as_str())], b"");
    let stop = Box::pin(async {
        ready.wait_pids().await;
        StopReason::Resolved
    });
    let outcome = tokio::time::timeout(SAFETY, executor.execute(&req, stop))
        .await
        .expect("the run ends well within the safety timeout")
        .unwrap();
    let Outcome::Finished(r) = outcome else {
        panic!("expected a finished run, got {outcome:?}")
    };
    assert_eq!(r.ended_by, Some(EndedBy::Stop(StopReason::Resolved)));
    assert_eq!(r.exit, Some(Exit::Code(3)));
    assert_eq!(r.stdout.text(), "got USR1\n");
}

#[tokio::test]
async fn a_stop_ignored_by_the_action_ends_in_sigkill() {
    let executor = ProcessExecutor::new(sh("trap '' TERM; sleep 30"), short_grace());
    let req = request(&[], b"");
    let stop = Box::pin(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        StopReason::Shutdown
    });
    let outcome = tokio::time::timeout(SAFETY, executor.execute(&req, stop))
        .await
        .expect("the run ends well within the safety timeout")
        .unwrap();
    let Outcome::Finished(r) = outcome else {
        panic!("expected a finished run, got {outcome:?}")
    };
    assert_eq!(r.ended_by, Some(EndedBy::Stop(StopReason::Shutdown)));
    assert_eq!(r.exit, Some(Exit::Signal(9)));
}

/// Starts a background `sleep` that ignores SIGTERM and keeps stdout and stderr open, and
/// writes `LEADER_PID SLEEP_PID` to `$PIDS`; then runs `rest`. (`$$$$` is the shell's `$$`
/// after the action's own `$(VAR)` expansion, which turns `$$` into `$`.)
fn leaves_a_sleeper(rest: &str) -> String {
    format!("(trap '' TERM; exec sleep 1000) & echo $$$$ $! > \"$PIDS\"; {rest}")
}

#[tokio::test]
async fn background_children_die_when_the_action_exits() {
    let pids = TempPath::new("pids");
    let executor = ProcessExecutor::new(sh(&leaves_a_sleeper("echo done; exit 0")), options());
    let r = report(&executor, &request(&[("PIDS", pids.as_str())], b"")).await;
    // The sleeper held stdout open: the run ended anyway, with the output.
    assert!(r.success(), "{r:?}");
    assert_eq!(r.stdout.text(), "done\n");
    let sleeper = pids.pids().expect("the script wrote its pids")[1];
    assert!(
        dies(sleeper).await,
        "background sleep {sleeper} outlived the run"
    );
}

#[tokio::test]
async fn background_children_die_when_the_action_times_out() {
    let pids = TempPath::new("pids");
    let executor = ProcessExecutor::new(sh(&leaves_a_sleeper("wait")), short_grace());
    let req = with_deadline(&[("PIDS", pids.as_str())], DEADLINE);
    let r = report(&executor, &req).await;
    assert_eq!(r.ended_by, Some(EndedBy::Timeout));
    // The leader died of SIGTERM; the sleeper ignores it and must be killed all the same.
    assert_eq!(r.exit, Some(Exit::Signal(15)));
    let sleeper = pids.pids().expect("the script wrote its pids")[1];
    assert!(
        dies(sleeper).await,
        "background sleep {sleeper} outlived the run"
    );
}

#[tokio::test]
async fn dropping_the_run_kills_its_whole_group() {
    let pids = TempPath::new("pids");
    let executor = ProcessExecutor::new(sh(&leaves_a_sleeper("wait")), options());
    let req = request(&[("PIDS", pids.as_str())], b"");
    let run = executor.execute(&req, Box::pin(pending()));
    let written = tokio::select! {
        _ = run => panic!("the run ended on its own"),
        pids = pids.wait_pids() => pids,
    };
    // `run` is dropped here, mid-run.
    for pid in written {
        assert!(dies(pid).await, "process {pid} outlived the dropped run");
    }
}

#[tokio::test]
async fn a_deadline_that_is_not_reached_does_not_end_the_action() {
    let executor = ProcessExecutor::new(sh("sleep 0.1; exit 4"), short_grace());
    let r = report(&executor, &with_deadline(&[], SAFETY)).await;
    assert_eq!((r.exit, r.ended_by), (Some(Exit::Code(4)), None));
}

#[tokio::test]
async fn runs_of_one_executor_can_overlap() {
    let executor = ProcessExecutor::new(sh("sleep 0.2; echo $N"), options());
    let reqs = [0, 1, 2].map(|i| request(&[("N", &i.to_string())], b""));
    let (a, b, c) = tokio::join!(
        report(&executor, &reqs[0]),
        report(&executor, &reqs[1]),
        report(&executor, &reqs[2]),
    );
    let outs = [a, b, c].map(|r| r.stdout.text().into_owned());
    assert_eq!(outs, ["0\n", "1\n", "2\n"]);
}

#[tokio::test]
async fn a_process_that_left_the_group_cannot_hang_the_run() {
    // `setsid` leaves the group, so killing the group cannot close the pipes it holds;
    // the run still ends, after a bounded wait for output.
    let pids = TempPath::new("pids");
    let script = "setsid sh -c 'echo $$$$ > \"$PIDS\"; exec sleep 30' & \
                  while [ ! -s \"$PIDS\" ]; do sleep 0.01; done; echo done";
    let executor = ProcessExecutor::new(sh(script), options());
    let r = report(&executor, &request(&[("PIDS", pids.as_str())], b"")).await;
    assert!(r.success(), "{r:?}");
    assert_eq!(r.stdout.text(), "done\n");
    let escaped = pids.pids().expect("the escaped process wrote its pid")[0];
    let alive = !common::is_dead(escaped);
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(escaped), Signal::SIGKILL);
    assert!(alive, "the escaped process was out of the group's reach");
}
