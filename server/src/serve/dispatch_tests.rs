//! Dispatch driven the way the HTTP layer drives it: notifications in, runs out, with an
//! executor the test releases or stops by hand.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alert_core::{AlertStatus, Executor, Notification, StopReason};

use super::*;
use crate::serve::metrics::Metrics;
use crate::store::Store;
use crate::testing::{
    AlertBuilder, GatedExecutor, ManualClock, NotificationBuilder, RecordingExecutor, labels,
};

async fn dispatcher(yaml: &str, limits: QueueLimits) -> (Dispatcher, Arc<GatedExecutor>) {
    let (d, gate, _) = dispatcher_with(yaml, limits, None).await;
    (d, gate)
}

async fn dispatcher_with(
    yaml: &str,
    limits: QueueLimits,
    store: Option<Store>,
) -> (Dispatcher, Arc<GatedExecutor>, ManualClock) {
    let config = Config::from_yaml(yaml).unwrap_or_else(|e| panic!("test config: {e}"));
    let gate = Arc::new(GatedExecutor::new());
    let executors = config
        .rules()
        .rules()
        .iter()
        .map(|r| {
            let e: Arc<dyn Executor> = gate.clone();
            (r.name.clone(), e)
        })
        .collect();
    let clock = ManualClock::new();
    let options = DispatchOptions {
        limits,
        store,
        metrics: Metrics::new(),
        clock: Arc::new(clock.reader()),
        dry_run: false,
        capture: false,
        ha: None,
    };
    let loaded = Loaded {
        config: Arc::new(config),
        executors,
    };
    let d = Dispatcher::start(loaded, options)
        .await
        .expect("the dispatcher starts");
    (d, gate, clock)
}

fn rule(name: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    match: ['alertname=\"DiskFull\"']\n{extra}    action: {{process: {{command: [/bin/true]}}}}\n"
    )
}

/// A notification of DiskFull alerts on the given nodes: (node, startsAt, status).
fn notification(alerts: &[(&str, &str, &str)]) -> Notification {
    let alerts = alerts.iter().map(|&(node, starts, status)| {
        let labels = labels(&[("alertname", "DiskFull"), ("node", node)]);
        match status {
            "resolved" => AlertBuilder::resolved(labels),
            _ => AlertBuilder::firing(labels),
        }
        .starts_at(starts)
    });
    NotificationBuilder::new().alerts(alerts).build()
}

const T1: &str = "2026-11-21T10:00:00Z";
const T2: &str = "2026-11-21T10:30:00Z";

async fn take(d: &Dispatcher, n: &Notification) -> Result<(usize, usize), Refused> {
    d.accept(n.clone(), Source::Webhook)
        .await
        .map(|a| (a.queued, a.skipped))
}

#[tokio::test]
async fn an_episode_runs_once_however_often_it_is_notified() {
    let (d, gate) = dispatcher(
        &format!("rules:\n{}", rule("fix", "")),
        QueueLimits::default(),
    )
    .await;
    let both = notification(&[("a", T1, "firing"), ("b", T1, "firing")]);
    assert_eq!(take(&d, &both).await, Ok((2, 0)));
    // The repeat_interval re-send, and the same notification from an HA peer.
    assert_eq!(take(&d, &both).await, Ok((0, 2)));
    assert_eq!(take(&d, &both).await, Ok((0, 2)));
    // Node a fires again later: a new episode.
    let again = notification(&[("a", T2, "firing"), ("b", T1, "firing")]);
    assert_eq!(take(&d, &again).await, Ok((1, 1)));
    gate.until("three runs started", |l| l.started.len() == 3)
        .await;
    let keys: Vec<_> = gate
        .log()
        .started
        .into_iter()
        .map(|s| s.dedup_key)
        .collect();
    assert_eq!(
        keys.iter().collect::<std::collections::BTreeSet<_>>().len(),
        3,
        "three distinct episodes: {keys:?}"
    );
}

#[tokio::test]
async fn an_alert_listed_twice_in_one_notification_runs_once() {
    let (d, gate) = dispatcher(
        &format!("rules:\n{}", rule("fix", "")),
        QueueLimits::default(),
    )
    .await;
    let twice = notification(&[("a", T1, "firing"), ("a", T1, "firing")]);
    assert_eq!(take(&d, &twice).await, Ok((1, 1)));
    gate.until("one run", |l| l.started.len() == 1).await;
}

#[tokio::test]
async fn repeat_always_runs_on_every_notification() {
    let (d, gate) = dispatcher(
        &format!("rules:\n{}", rule("fix", "    repeat: always\n")),
        QueueLimits::default(),
    )
    .await;
    let n = notification(&[("a", T1, "firing")]);
    for _ in 0..3 {
        assert_eq!(take(&d, &n).await, Ok((1, 0)));
    }
    gate.until("three runs", |l| l.started.len() == 3).await;
}

#[tokio::test]
async fn a_cooldown_lets_the_same_episode_run_again_once_it_passed() {
    let (d, _gate, clock) = dispatcher_with(
        &format!("rules:\n{}", rule("fix", "    repeat: 30m\n")),
        QueueLimits::default(),
        None,
    )
    .await;
    let advance = |minutes: u64| clock.advance(Duration::from_secs(minutes * 60));
    let n = notification(&[("a", T1, "firing")]);
    assert_eq!(take(&d, &n).await, Ok((1, 0)));
    advance(29);
    assert_eq!(take(&d, &n).await, Ok((0, 1)));
    advance(1);
    assert_eq!(take(&d, &n).await, Ok((1, 0)));
}

#[tokio::test]
async fn per_rule_and_global_limits_hold_runs_in_the_queue() {
    let yaml = format!(
        "rules:\n{}{}",
        rule("one-at-a-time", "    concurrency: 1\n"),
        rule("other", "")
    );
    let (d, gate) = dispatcher(
        &yaml,
        QueueLimits {
            max_running: 2,
            max_queued: 100,
        },
    )
    .await;
    let n = notification(&[
        ("a", T1, "firing"),
        ("b", T1, "firing"),
        ("c", T1, "firing"),
    ]);
    // 3 runs of each rule; the first of one-at-a-time and the first of other start.
    assert_eq!(take(&d, &n).await, Ok((6, 0)));
    gate.until("two started", |l| l.started.len() == 2).await;
    let rules: Vec<_> = gate.log().started.into_iter().map(|s| s.rule).collect();
    assert_eq!(rules, ["one-at-a-time", "other"]);
    assert_eq!(d.load(), (2, 4));
    // Each release lets exactly one more start.
    for started in 3..=6 {
        gate.release(1);
        gate.until("one more started", |l| l.started.len() == started)
            .await;
    }
    gate.release(2);
    gate.until("all finished", |l| l.finished == 6).await;
    assert_eq!(d.load(), (0, 0));
    let log = gate.log();
    assert_eq!(log.peak["one-at-a-time"], 1, "{log:?}");
    assert_eq!(log.peak_total, 2, "{log:?}");
}

#[tokio::test]
async fn a_full_queue_refuses_the_whole_notification_and_remembers_nothing_of_it() {
    let (d, gate) = dispatcher(
        &format!("rules:\n{}", rule("fix", "")),
        QueueLimits {
            max_running: 1,
            max_queued: 2,
        },
    )
    .await;
    assert_eq!(
        take(&d, &notification(&[("a", T1, "firing")])).await,
        Ok((1, 0))
    );
    gate.until("a running", |l| l.started.len() == 1).await;
    assert_eq!(
        take(
            &d,
            &notification(&[("b", T1, "firing"), ("c", T1, "firing")])
        )
        .await,
        Ok((2, 0))
    );
    let late = notification(&[("d", T1, "firing")]);
    assert_eq!(take(&d, &late).await, Err(Refused::QueueFull));
    assert_eq!(d.load(), (1, 2));
    gate.release(3);
    gate.until("all three ran", |l| l.finished == 3).await;
    // Alertmanager's retry: the refused alert was not marked as run.
    assert_eq!(take(&d, &late).await, Ok((1, 0)));
}

#[tokio::test]
async fn resolving_stops_a_running_action_and_runs_the_resolved_rule_once() {
    let yaml = format!(
        "rules:\n{}{}{}",
        rule("fix", ""),
        rule("patient", "    on_resolved_while_running: leave\n"),
        rule("record", "    on: resolved\n"),
    );
    let (d, gate) = dispatcher(&yaml, QueueLimits::default()).await;
    assert_eq!(
        take(&d, &notification(&[("a", T1, "firing")])).await,
        Ok((2, 0))
    );
    gate.until("both firing runs started", |l| l.started.len() == 2)
        .await;

    let resolved = notification(&[("a", T1, "resolved")]);
    assert_eq!(take(&d, &resolved).await, Ok((1, 0)));
    gate.until("fix stopped, record started", |l| {
        l.stopped.len() == 1 && l.started.len() == 3
    })
    .await;
    let log = gate.log();
    assert_eq!(log.stopped, [("fix".to_owned(), StopReason::Resolved)]);
    assert_eq!(log.started[2].rule, "record");
    assert_eq!(log.started[2].status, Some(AlertStatus::Resolved));
    // The re-sent resolved notification neither runs nor stops anything again.
    assert_eq!(take(&d, &resolved).await, Ok((0, 1)));
    gate.release(2);
    gate.until("patient and record finished", |l| l.finished == 3)
        .await;
    assert_eq!(gate.log().stopped.len(), 1, "patient was left to finish");
}

/// Rule `fix`, one action at a time: alert a's run is running, b's queued.
async fn a_running_b_queued() -> (Dispatcher, Arc<GatedExecutor>) {
    let (d, gate) = dispatcher(
        &format!("rules:\n{}", rule("fix", "")),
        QueueLimits {
            max_running: 1,
            max_queued: 10,
        },
    )
    .await;
    let ab = notification(&[("a", T1, "firing"), ("b", T1, "firing")]);
    assert_eq!(take(&d, &ab).await, Ok((2, 0)));
    gate.until("a started", |l| l.started.len() == 1).await;
    (d, gate)
}

#[tokio::test]
async fn a_run_still_queued_when_its_alert_resolves_never_starts() {
    let (d, gate) = a_running_b_queued().await;
    assert_eq!(
        take(&d, &notification(&[("b", T1, "resolved")])).await,
        Ok((0, 0))
    );
    assert_eq!(d.load(), (1, 0), "b's queued run was dropped");
    gate.release(1);
    gate.until("a finished", |l| l.finished == 1).await;
    assert_eq!(gate.log().started.len(), 1);
}

#[tokio::test]
async fn a_group_rule_runs_once_per_group_state() {
    let (d, gate) = dispatcher(
        &format!("rules:\n{}", rule("page", "    mode: per-group\n")),
        QueueLimits::default(),
    )
    .await;
    let n = notification(&[("a", T1, "firing"), ("b", T1, "firing")]);
    assert_eq!(take(&d, &n).await, Ok((1, 0)));
    assert_eq!(take(&d, &n).await, Ok((0, 1)));
    // A new alert joins the group: the group's state changed.
    let grown = notification(&[
        ("a", T1, "firing"),
        ("b", T1, "firing"),
        ("c", T1, "firing"),
    ]);
    assert_eq!(take(&d, &grown).await, Ok((1, 0)));
    gate.until("two group runs", |l| l.started.len() == 2).await;
}

#[tokio::test]
async fn an_alert_whose_env_cannot_be_passed_does_not_run() {
    let (d, gate) = dispatcher(
        &format!("rules:\n{}", rule("fix", "")),
        QueueLimits::default(),
    )
    .await;
    let mut n = notification(&[("a", T1, "firing")]);
    n.alerts[0]
        .labels
        .insert("evil".to_owned(), "a\0b".to_owned());
    assert_eq!(take(&d, &n).await, Ok((0, 1)));
    assert_eq!(
        take(&d, &notification(&[("b", T1, "firing")])).await,
        Ok((1, 0))
    );
    gate.until("b started", |l| l.started.len() == 1).await;
    assert_eq!(gate.log().started.len(), 1);
}

#[tokio::test]
async fn shutdown_stops_running_actions_and_refuses_new_notifications() {
    let (d, gate) = a_running_b_queued().await;
    tokio::time::timeout(Duration::from_secs(10), d.shutdown(Duration::ZERO))
        .await
        .expect("shutdown finishes once the stopped action ended");
    let log = gate.log();
    assert_eq!(log.stopped, [("fix".to_owned(), StopReason::Shutdown)]);
    assert_eq!(log.started.len(), 1, "the queued run was not started");
    assert_eq!(
        take(&d, &notification(&[("c", T1, "firing")])).await,
        Err(Refused::ShuttingDown)
    );
}

/// How many runs `executor` started, per dedup key.
fn starts(executor: &RecordingExecutor) -> HashMap<String, usize> {
    let mut starts = HashMap::new();
    for req in executor.requests() {
        *starts.entry(req.dedup_key).or_default() += 1;
    }
    starts
}

async fn dispatcher_using(
    yaml: &str,
    store: Option<Store>,
    executor: Arc<dyn Executor>,
    dry_run: bool,
) -> Dispatcher {
    let config = Config::from_yaml(yaml).unwrap_or_else(|e| panic!("test config: {e}"));
    let executors = config
        .rules()
        .rules()
        .iter()
        .map(|r| (r.name.clone(), Arc::clone(&executor)))
        .collect();
    let options = DispatchOptions {
        limits: QueueLimits {
            max_running: 16,
            max_queued: 100_000,
        },
        store,
        metrics: Metrics::new(),
        clock: Arc::new(now_ms),
        dry_run,
        capture: false,
        ha: None,
    };
    let loaded = Loaded {
        config: Arc::new(config),
        executors,
    };
    Dispatcher::start(loaded, options).await.expect("starts")
}

/// Waits until every run the dispatcher took has ended and been written.
async fn settled(d: &Dispatcher) {
    for _ in 0..2000 {
        if d.load() == (0, 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("runs still going on: {:?}", d.load());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_deliveries_run_each_episode_once() {
    // Issue 9: an Alertmanager HA pair delivers every notification twice; an episode ran
    // twice about once per 3,000 episodes when a dedupe key was briefly neither pending
    // nor done. Here 3,000 episodes are each delivered 4 times at once, through the store.
    const EPISODES: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let counting = RecordingExecutor::new();
    let executor: Arc<dyn Executor> = Arc::new(counting.clone());
    let d = dispatcher_using(
        &format!("rules:\n{}", rule("fix", "")),
        Some(store),
        executor,
        false,
    )
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..EPISODES {
        let n = notification(&[(&format!("node-{i}"), T1, "firing")]);
        for _ in 0..4 {
            let d = d.clone();
            let n = n.clone();
            tasks.spawn(async move { take(&d, &n).await });
        }
    }
    let mut queued = 0;
    while let Some(answer) = tasks.join_next().await {
        queued += answer.unwrap().expect("accepted").0;
    }
    settled(&d).await;
    let starts = starts(&counting);
    assert_eq!(queued, EPISODES, "each episode queued once");
    assert_eq!(starts.len(), EPISODES);
    let twice: Vec<_> = starts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "episodes run more than once: {twice:?}");
}

#[tokio::test]
async fn a_run_that_cannot_start_is_retried_with_backoff_and_then_runs() {
    let counting = RecordingExecutor::new();
    counting.fail_next(2);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let executor: Arc<dyn Executor> = Arc::new(counting.clone());
    let d = dispatcher_using(
        &format!("rules:\n{}", rule("fix", "    timeout: 1m\n")),
        Some(store.clone()),
        executor,
        false,
    )
    .await;
    assert_eq!(
        take(&d, &notification(&[("a", T1, "firing")])).await,
        Ok((1, 0))
    );
    settled(&d).await;
    assert_eq!(counting.attempts(), 3);
    let runs = store.runs(&crate::store::RunFilter::default()).unwrap();
    assert_eq!(runs.len(), 1);
    let states: Vec<_> = runs[0].timeline.iter().map(|t| t.state.as_str()).collect();
    assert_eq!(
        states,
        [
            "received",
            "queued",
            "starting",
            "starting",
            "starting",
            "running",
            "succeeded"
        ]
    );
    assert!(
        runs[0].timeline[3].cause.contains("connection refused"),
        "{:?}",
        runs[0].timeline
    );
}

#[tokio::test]
async fn a_run_that_never_starts_is_failed_to_start_and_the_next_delivery_runs_it() {
    // Issue 9: a Job whose creation failed while the API server was unreachable was
    // recorded failed, and Alertmanager's next repeat was skipped as a duplicate.
    let counting = RecordingExecutor::new();
    counting.fail_next(usize::MAX);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let executor: Arc<dyn Executor> = Arc::new(counting.clone());
    // A 1s deadline leaves room for two attempts (0 s and 0.5 s).
    let d = dispatcher_using(
        &format!("rules:\n{}", rule("fix", "    timeout: 1s\n")),
        Some(store.clone()),
        executor,
        false,
    )
    .await;
    let n = notification(&[("a", T1, "firing")]);
    assert_eq!(take(&d, &n).await, Ok((1, 0)));
    settled(&d).await;
    let runs = store.runs(&crate::store::RunFilter::default()).unwrap();
    assert_eq!(runs[0].state, RunState::FailedToStart);
    assert!(
        runs[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("connection refused")
    );
    assert_eq!(counting.attempts(), 2);
    assert!(
        store.recover().unwrap().dedupe.is_empty(),
        "the episode is open again"
    );
    // The API server is back: Alertmanager's repeat runs it.
    counting.fail_next(0);
    assert_eq!(take(&d, &n).await, Ok((1, 0)));
    settled(&d).await;
    assert_eq!(starts(&counting).len(), 1);
}

#[tokio::test]
async fn dry_run_then_live_runs_what_is_still_firing() {
    // Issue 9: `serve --dry-run` on a state directory used up the episodes.
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("rules:\n{}", rule("fix", ""));
    let n = notification(&[("a", T1, "firing")]);
    let counting = RecordingExecutor::new();
    // One open store for both servers: the first one's tasks keep their handle.
    let store = Store::open(dir.path()).unwrap();
    {
        let executor: Arc<dyn Executor> = Arc::new(counting.clone());
        let d = dispatcher_using(&yaml, Some(store.clone()), executor, true).await;
        assert_eq!(take(&d, &n).await, Ok((0, 1)), "recorded as a dry run");
        assert_eq!(
            take(&d, &n).await,
            Ok((0, 1)),
            "deduplicated among dry runs"
        );
        d.shutdown(Duration::ZERO).await;
    }
    let executor: Arc<dyn Executor> = Arc::new(counting.clone());
    let d = dispatcher_using(&yaml, Some(store), executor, false).await;
    assert_eq!(
        take(&d, &n).await,
        Ok((1, 0)),
        "live: the firing alert runs"
    );
    settled(&d).await;
    assert_eq!(starts(&counting).len(), 1);
}

#[tokio::test]
async fn pruning_history_keeps_a_long_firing_episode_deduplicated() {
    // Issue 9: dedupe entries were pruned with history, so an episode that fired longer
    // than `history_max_age` ran again after a restart.
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("rules:\n{}", rule("fix", ""));
    let n = notification(&[("a", T1, "firing")]);
    let counting = RecordingExecutor::new();
    let store = Store::open(dir.path()).unwrap();
    let executor: Arc<dyn Executor> = Arc::new(counting.clone());
    let d = dispatcher_using(&yaml, Some(store.clone()), executor, false).await;
    assert_eq!(take(&d, &n).await, Ok((1, 0)));
    settled(&d).await;
    // History kept for no time at all; dedupe entries idle for a week go.
    let now = now_ms();
    let week = i64::try_from(crate::config::DEFAULT_DEDUPE_IDLE.as_millis()).unwrap();
    store.prune(now + 1, 0, now - week, 1000).unwrap();
    assert!(
        store
            .runs(&crate::store::RunFilter::default())
            .unwrap()
            .is_empty()
    );
    d.shutdown(Duration::ZERO).await;
    drop(d);
    let executor: Arc<dyn Executor> = Arc::new(counting.clone());
    let d = dispatcher_using(&yaml, Some(store), executor, false).await;
    assert_eq!(
        take(&d, &n).await,
        Ok((0, 1)),
        "still deduplicated after a restart"
    );
    assert_eq!(starts(&counting).len(), 1);
}

/// An executor of a given kind whose action never reports a start and never ends: what a
/// crash in the middle of a start leaves in the store.
#[derive(Debug)]
struct StuckStarting(&'static str);

impl Executor for StuckStarting {
    fn kind(&self) -> &'static str {
        self.0
    }

    fn execute<'a>(
        &'a self,
        _req: &'a ExecRequest,
        _stop: BoxFuture<'a, StopReason>,
    ) -> BoxFuture<'a, Result<alert_core::Outcome, alert_core::ExecError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn a_start_cut_short_by_a_crash_reopens_the_episode_only_for_a_backend_that_starts_once() {
    for (kind, queued_after_restart) in [("kubernetes", 1), ("process", 0)] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let yaml = format!("rules:\n{}", rule("fix", ""));
        let n = notification(&[("a", T1, "firing")]);
        let crashed = dispatcher_using(
            &yaml,
            Some(store.clone()),
            Arc::new(StuckStarting(kind)),
            false,
        )
        .await;
        assert_eq!(take(&crashed, &n).await, Ok((1, 0)), "{kind}");
        wait_until_stored(&store, RunState::Starting).await;
        // The restart: a second dispatcher recovers the same store.
        let counting: Arc<dyn Executor> = Arc::new(RecordingExecutor::new());
        let d = dispatcher_using(&yaml, Some(store.clone()), counting, false).await;
        let runs = store.runs(&crate::store::RunFilter::default()).unwrap();
        assert_eq!(runs[0].state, RunState::Interrupted, "{kind}");
        assert_eq!(
            take(&d, &n).await,
            Ok((queued_after_restart, 1 - queued_after_restart)),
            "{kind}: a Job's name keeps a second create from starting twice; a process might"
        );
    }
}

/// Waits until the store's newest run is in `state`.
async fn wait_until_stored(store: &Store, state: RunState) {
    for _ in 0..400 {
        let runs = store.runs(&crate::store::RunFilter::default()).unwrap();
        if runs.first().is_some_and(|r| r.state == state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no run reached {state}");
}

#[tokio::test]
async fn a_store_file_replaced_under_alertrun_gets_its_notifications_again_and_nothing_wedges() {
    // Issue 17, item 4: after the store file was replaced (an operator freeing disk
    // space), every start failed with "its notification is not stored", retried in a
    // tight loop, and no action started again until a restart.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let limits = QueueLimits {
        max_running: 1,
        max_queued: 10,
    };
    let (d, gate, _) = dispatcher_with(
        &format!("rules:\n{}", rule("fix", "")),
        limits,
        Some(store.clone()),
    )
    .await;
    assert_eq!(
        take(&d, &notification(&[("a", T1, "firing")])).await,
        Ok((1, 0))
    );
    gate.until("a started", |l| l.started.len() == 1).await;
    assert_eq!(
        take(&d, &notification(&[("b", T1, "firing")])).await,
        Ok((1, 0))
    );
    store.replace_with_empty_file().unwrap();
    assert_eq!(
        take(&d, &notification(&[("c", T1, "firing")])).await,
        Ok((1, 0)),
        "a notification after the replacement is accepted into the new file"
    );
    gate.release(3);
    gate.until("a, b and c ran", |l| l.finished == 3).await;
    for _ in 0..400 {
        let runs = store.runs(&crate::store::RunFilter::default()).unwrap();
        if runs.len() == 3 && runs.iter().all(|r| r.state == RunState::Succeeded) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let runs = store.runs(&crate::store::RunFilter::default()).unwrap();
    panic!("runs not all recorded succeeded in the new file: {runs:#?}");
}

#[tokio::test]
async fn the_reason_a_backend_reports_is_recorded_with_the_run() {
    // Issue 10: why a Job failed (DeadlineExceeded, BackoffLimitExceeded...) was never
    // recorded.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let executor: Arc<dyn Executor> = Arc::new(RecordingExecutor::answering(
        alert_core::Outcome::Finished(alert_core::Report {
            exit: Some(alert_core::Exit::Code(1)),
            reason: Some("DeadlineExceeded: Job was active longer than specified deadline".into()),
            ..alert_core::Report::default()
        }),
    ));
    let d = dispatcher_using(
        &format!("rules:\n{}", rule("fix", "")),
        Some(store.clone()),
        executor,
        false,
    )
    .await;
    assert_eq!(
        take(&d, &notification(&[("a", T1, "firing")])).await,
        Ok((1, 0))
    );
    settled(&d).await;
    let runs = store.runs(&crate::store::RunFilter::default()).unwrap();
    assert_eq!(runs[0].state, RunState::Failed);
    assert_eq!(
        runs[0].reason.as_deref(),
        Some("DeadlineExceeded: Job was active longer than specified deadline")
    );
}

#[tokio::test]
async fn a_rate_limit_holds_back_runs_on_the_same_target_until_its_window_passed() {
    let (d, gate, clock) = dispatcher_with(
        &format!(
            "rules:\n{}",
            rule(
                "fix",
                "    target: [alertname]\n    max_runs: {count: 1, per: 1h}\n"
            )
        ),
        QueueLimits::default(),
        None,
    )
    .await;
    // Two nodes, one target (the alert name): the second is held back.
    let both = notification(&[("a", T1, "firing"), ("b", T1, "firing")]);
    assert_eq!(take(&d, &both).await, Ok((1, 1)));
    // b's episode was not marked as run: once the hour passed, its next delivery runs it.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        take(&d, &both).await,
        Ok((1, 1)),
        "a is a duplicate, b runs"
    );
    gate.until("two runs started", |l| l.started.len() == 2)
        .await;
}

#[tokio::test]
async fn a_storm_of_targets_is_not_acted_on() {
    let (d, gate) = dispatcher(
        &format!("rules:\n{}", rule("fix", "    max_targets: 2\n")),
        QueueLimits::default(),
    )
    .await;
    let storm = notification(&[
        ("a", T1, "firing"),
        ("b", T1, "firing"),
        ("c", T1, "firing"),
    ]);
    assert_eq!(take(&d, &storm).await, Ok((0, 3)));
    // Two of them resolve: the one still firing is acted on at its next delivery.
    let calmer = notification(&[
        ("a", T1, "firing"),
        ("b", T1, "resolved"),
        ("c", T1, "resolved"),
    ]);
    assert_eq!(take(&d, &calmer).await, Ok((1, 0)));
    gate.until("a started", |l| l.started.len() == 1).await;
}

#[tokio::test]
async fn three_failed_runs_on_a_target_open_its_breaker() {
    use alert_core::{Exit, Outcome, Report};
    let failing = Arc::new(RecordingExecutor::answering(Outcome::Finished(Report {
        exit: Some(Exit::Code(1)),
        ..Report::default()
    })));
    let d = dispatcher_using(
        &format!(
            "rules:\n{}",
            rule("fix", "    target: [node]\n    repeat: always\n")
        ),
        None,
        failing.clone(),
        false,
    )
    .await;
    let n = notification(&[("a", T1, "firing")]);
    for _ in 0..3 {
        assert_eq!(take(&d, &n).await, Ok((1, 0)));
        settled(&d).await;
    }
    assert_eq!(take(&d, &n).await, Ok((0, 1)), "the breaker is open");
    let other = notification(&[("b", T1, "firing")]);
    assert_eq!(
        take(&d, &other).await,
        Ok((1, 0)),
        "another target is not held"
    );
    settled(&d).await;
    assert_eq!(failing.requests().len(), 4);
}

#[tokio::test]
async fn a_rule_in_its_mute_time_or_outside_its_active_time_records_why_it_did_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let yaml = format!(
        "time_intervals:\n  - name: always\n    time_intervals: [{{times: [{{start_time: '00:00', end_time: '24:00'}}]}}]\n  - name: last-century\n    time_intervals: [{{years: ['1999']}}]\nrules:\n{}{}{}",
        rule("muted", "    mute_time_intervals: [always]\n"),
        rule("inactive", "    active_time_intervals: [last-century]\n"),
        rule("open", "    active_time_intervals: [always]\n"),
    );
    let (d, gate, _clock) =
        dispatcher_with(&yaml, QueueLimits::default(), Some(store.clone())).await;
    let n = notification(&[("a", T1, "firing")]);
    assert_eq!(take(&d, &n).await, Ok((1, 2)));
    gate.until("open started", |l| l.started.len() == 1).await;
    assert_eq!(gate.log().started[0].rule, "open");
    let reasons: Vec<(String, Option<String>)> = store
        .runs(&crate::store::RunFilter::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.state == RunState::Skipped)
        .map(|r| (r.rule, r.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "inactive".to_owned(),
                Some(
                    "rule inactive is outside its active time intervals (last-century)".to_owned()
                )
            ),
            (
                "muted".to_owned(),
                Some("rule muted is in its mute time intervals (always)".to_owned())
            ),
        ]
    );
}
