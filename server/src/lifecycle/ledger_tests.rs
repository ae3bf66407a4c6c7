use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::lifecycle::{End, Namespace};

const MINUTE: i64 = 60_000;

fn key(rule: &str, episode: &str) -> DedupeKey {
    DedupeKey {
        namespace: Namespace::Live,
        rule: RuleName::from(rule),
        episode: Arc::from(episode),
    }
}

fn live(rule: &str, subject: &str, concurrency: Option<usize>) -> LiveRun {
    LiveRun {
        rule: RuleName::from(rule),
        subject: Subject::Episode(Arc::from(subject)),
        status: AlertStatus::Firing,
        stop_on_resolve: true,
        concurrency,
        state: RunState::Queued,
        key: key(rule, subject),
    }
}

fn select(key: DedupeKey, repeat: Repeat) -> Selection {
    Selection {
        key,
        repeat,
        queues: true,
    }
}

/// Admits and settles one selection; returns its id, or why it is not due.
fn run_once(ledger: &mut Ledger, s: &Selection, now: i64) -> Result<RunId, NotDue> {
    let admission = ledger
        .admit(std::slice::from_ref(s), now)
        .expect("admitted");
    let verdict = admission.verdicts[0];
    let queued = verdict
        .iter()
        .map(|id| (*id, live(s.key.rule.as_str(), &s.key.episode, None)))
        .collect();
    ledger.settle(&admission, true, now, queued);
    verdict
}

#[test]
fn a_key_admitted_but_not_yet_written_is_not_admitted_again() {
    // Issue 9: an HA pair's duplicate deliveries ran an episode twice when a key was
    // briefly neither pending nor done between planning and commit.
    let mut ledger = Ledger::new(QueueLimits::default(), 1);
    let s = select(key("r", "a#firing"), Repeat::Once);
    let first = ledger.admit(std::slice::from_ref(&s), 0).unwrap();
    assert!(first.verdicts[0].is_ok());
    let during = ledger.admit(std::slice::from_ref(&s), 0).unwrap();
    assert_eq!(during.verdicts, [Err(NotDue::Dedupe)]);
    ledger.settle(&during, true, 0, Vec::new());
    ledger.settle(&first, true, 0, Vec::new());
    let after = ledger.admit(std::slice::from_ref(&s), 0).unwrap();
    assert_eq!(after.verdicts, [Err(NotDue::Dedupe)]);
}

#[test]
fn a_failed_write_forgets_the_admission_so_a_retry_runs() {
    let mut ledger = Ledger::new(QueueLimits::default(), 1);
    let s = select(key("r", "a#firing"), Repeat::Once);
    let first = ledger.admit(std::slice::from_ref(&s), 0).unwrap();
    ledger.settle(&first, false, 0, Vec::new());
    assert_eq!(ledger.episode(&s.key), None);
    assert!(run_once(&mut ledger, &s, 0).is_ok());
    assert_eq!(ledger.load(), (0, 1));
}

#[test]
fn repeat_policies_decide_whether_an_episode_runs_again() {
    let table = [
        ("once", Repeat::Once, 100 * MINUTE, Err(NotDue::Dedupe)),
        ("always", Repeat::Always, 0, Ok(())),
        (
            "cooldown not passed",
            Repeat::After(Duration::from_secs(600)),
            9 * MINUTE,
            Err(NotDue::Cooldown),
        ),
        (
            "cooldown passed",
            Repeat::After(Duration::from_secs(600)),
            10 * MINUTE,
            Ok(()),
        ),
    ];
    for (name, repeat, later, want) in table {
        let mut ledger = Ledger::new(QueueLimits::default(), 1);
        let s = select(key("r", "a#firing"), repeat);
        assert!(run_once(&mut ledger, &s, 0).is_ok(), "{name}");
        assert_eq!(run_once(&mut ledger, &s, later).map(|_| ()), want, "{name}");
    }
}

#[test]
fn the_same_key_twice_in_one_notification_runs_once() {
    let mut ledger = Ledger::new(QueueLimits::default(), 1);
    let s = select(key("r", "a#firing"), Repeat::Once);
    let admission = ledger.admit(&[s.clone(), s], 0).unwrap();
    assert!(admission.verdicts[0].is_ok());
    assert_eq!(admission.verdicts[1], Err(NotDue::Dedupe));
}

#[test]
fn a_full_queue_refuses_the_whole_notification_and_remembers_nothing() {
    let limits = QueueLimits {
        max_running: 1,
        max_queued: 2,
    };
    let mut ledger = Ledger::new(limits, 1);
    let selections: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|e| select(key("r", e), Repeat::Once))
        .collect();
    assert_eq!(
        ledger.admit(&selections, 0).unwrap_err(),
        Refusal::QueueFull
    );
    assert_eq!(ledger.episode_count(), 0);
    assert!(ledger.admit(&selections[..2], 0).is_ok());
}

#[test]
fn global_and_per_rule_limits_hold_runs_in_the_queue() {
    let limits = QueueLimits {
        max_running: 2,
        max_queued: 10,
    };
    let mut ledger = Ledger::new(limits, 1);
    for (rule, subject) in [("one", "a"), ("one", "b"), ("two", "c"), ("two", "d")] {
        let id = ledger.next_id();
        ledger.enqueue(id, live(rule, subject, (rule == "one").then_some(1)));
    }
    // "one" may run one at a time: its second run is passed over for "two".
    assert_eq!(ledger.take_startable(), [1, 3]);
    assert_eq!(ledger.load(), (2, 2));
    assert_eq!(ledger.rule_load("one"), (1, 1));
    assert!(ledger.take_startable().is_empty(), "global limit");
    ledger.apply(1, Event::Started).unwrap();
    ledger.apply(1, Event::Ended(End::Succeeded)).unwrap();
    assert_eq!(ledger.take_startable(), [2]);
}

#[test]
fn a_run_that_never_started_reopens_its_episode() {
    let mut ledger = Ledger::new(QueueLimits::default(), 1);
    let s = select(key("r", "a#firing"), Repeat::Once);
    let id = run_once(&mut ledger, &s, 0).unwrap();
    assert_eq!(ledger.take_startable(), [id]);
    let retry = ledger
        .apply(
            id,
            Event::StartFailed {
                retry_in: Some(Duration::from_secs(1)),
            },
        )
        .unwrap();
    assert_eq!(retry.state, RunState::Starting);
    assert_eq!(ledger.load(), (1, 0), "the slot is held while retrying");
    let gave_up = ledger
        .apply(id, Event::StartFailed { retry_in: None })
        .unwrap();
    assert_eq!(gave_up.state, RunState::FailedToStart);
    assert_eq!(ledger.load(), (0, 0));
    assert_eq!(ledger.episode(&s.key), None);
    assert!(
        run_once(&mut ledger, &s, MINUTE).is_ok(),
        "the next delivery runs it"
    );
}

#[test]
fn a_resolve_cancels_queued_runs_and_stops_running_ones() {
    let limits = QueueLimits {
        max_running: 1,
        max_queued: 10,
    };
    let mut ledger = Ledger::new(limits, 1);
    ledger.enqueue(1, live("r", "a", None));
    ledger.enqueue(2, live("r", "b", None));
    let mut leave = live("r", "b", None);
    leave.stop_on_resolve = false;
    ledger.enqueue(3, leave);
    assert_eq!(ledger.take_startable(), [1]);
    ledger.apply(1, Event::Started).unwrap();
    let subjects = ["a", "b"]
        .iter()
        .map(|s| Subject::Episode(Arc::from(*s)))
        .collect();
    assert_eq!(
        ledger.resolve(&subjects),
        Resolution {
            cancelled: vec![2],
            stop: vec![1]
        }
    );
    assert_eq!(
        ledger.load(),
        (1, 1),
        "3 leaves running on resolve; 1 stops later"
    );
}

#[test]
fn dry_run_keys_never_mark_live_episodes_done() {
    let mut ledger = Ledger::new(QueueLimits::default(), 1);
    let mut dry = key("r", "a#firing");
    dry.namespace = Namespace::DryRun;
    assert!(run_once(&mut ledger, &select(dry.clone(), Repeat::Once), 0).is_ok());
    assert_eq!(
        run_once(&mut ledger, &select(dry, Repeat::Once), 0),
        Err(NotDue::Dedupe)
    );
    assert!(run_once(&mut ledger, &select(key("r", "a#firing"), Repeat::Once), 0).is_ok());
}

#[test]
fn deliveries_keep_an_episode_remembered_past_the_idle_retention() {
    let mut ledger = Ledger::new(QueueLimits::default(), 1);
    let s = select(key("r", "a#firing"), Repeat::Once);
    run_once(&mut ledger, &s, 0).unwrap();
    // Alertmanager repeats the firing alert every 4h for 30 days.
    let day = 24 * 60 * MINUTE;
    let mut now = 0;
    let mut refreshes = 0;
    while now < 30 * day {
        now += 4 * 60 * MINUTE;
        let admission = ledger.admit(std::slice::from_ref(&s), now).unwrap();
        assert_eq!(admission.verdicts, [Err(NotDue::Dedupe)]);
        refreshes += admission.refresh.len();
        assert_eq!(ledger.forget_idle(now - 7 * day), 0);
    }
    assert_eq!(
        refreshes, 180,
        "one store write per delivery after an hour idle"
    );
    assert_eq!(ledger.forget_idle(now + 8 * day), 1);
    assert_eq!(ledger.episode(&s.key), None);
}

#[test]
fn closing_refuses_notifications_and_starts_nothing() {
    let mut ledger = Ledger::new(QueueLimits::default(), 1);
    ledger.enqueue(1, live("r", "a", None));
    ledger.enqueue(2, live("r", "b", None));
    assert_eq!(ledger.take_startable(), [1, 2]);
    ledger.enqueue(3, live("r", "c", None));
    assert_eq!(ledger.close(), [1, 2]);
    assert!(ledger.take_startable().is_empty());
    let s = select(key("r", "d"), Repeat::Once);
    assert_eq!(ledger.admit(&[s], 0).unwrap_err(), Refusal::Closing);
}

#[test]
fn a_selection_a_rail_holds_keeps_its_id_but_leaves_its_episode_to_run_later() {
    let mut ledger = Ledger::new(QueueLimits::default(), 1);
    let k = key("restart", "abc#firing");
    let s = select(k.clone(), Repeat::Once);
    let mut admission = ledger.admit(std::slice::from_ref(&s), 0).unwrap();
    ledger.hold(&mut admission, &s);
    assert!(matches!(admission.verdicts[..], [Ok(id)] if id > 0));
    ledger.settle(&admission, true, 0, Vec::new());
    assert_eq!(ledger.episode(&k), None, "the episode is not marked as run");
    assert!(run_once(&mut ledger, &s, 1).is_ok());
    // Once it ran, a re-delivery is a duplicate, whatever a rail would say.
    let again = ledger.admit(std::slice::from_ref(&s), 2).unwrap();
    assert_eq!(again.verdicts, [Err(NotDue::Dedupe)]);
}

#[test]
fn a_held_selection_gives_back_its_room_in_the_queue() {
    let mut ledger = Ledger::new(
        QueueLimits {
            max_running: 1,
            max_queued: 1,
        },
        1,
    );
    let a = select(key("restart", "a#firing"), Repeat::Once);
    let mut admission = ledger.admit(std::slice::from_ref(&a), 0).unwrap();
    ledger.hold(&mut admission, &a);
    let b = select(key("restart", "b#firing"), Repeat::Once);
    assert!(ledger.admit(std::slice::from_ref(&b), 0).is_ok());
}
