use super::*;
use crate::config::{Rails as RailPolicy, RateLimit};
use std::time::Duration;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// 2026-12-05T00:00:00Z.
const T0: i64 = 1_796_428_800_000;

fn rule(name: &str) -> RuleName {
    RuleName::from(name)
}

fn target(name: &str) -> Target {
    Target::of(&RailPolicy::default(), &BTreeMap::new(), name)
}

fn naming(names: &[&str]) -> RailPolicy {
    RailPolicy {
        target: names.iter().map(|n| (*n).to_owned()).collect(),
        ..RailPolicy::default()
    }
}

fn policy() -> RailPolicy {
    RailPolicy::default()
}

fn span(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap())
}

fn rate(count: u32, per_ms: i64) -> RailPolicy {
    RailPolicy {
        max_runs: Some(RateLimit {
            count,
            per: span(per_ms),
        }),
        ..RailPolicy::default()
    }
}

fn storm(max_targets: usize, within_ms: i64) -> RailPolicy {
    RailPolicy {
        max_targets: Some(StormGate {
            max_targets,
            within: span(within_ms),
        }),
        ..RailPolicy::default()
    }
}

fn rail(result: Result<(), Held>) -> Option<Rail> {
    result.err().map(|held| held.rail)
}

/// Admits run `id` and ends it in `state`, both at `now`.
fn run(rails: &mut Rails, id: RunId, r: &RuleName, t: &Target, state: RunState, now: i64) {
    let p = policy();
    rails.admitted(id, r, t, &p, now);
    rails.ended(id, state, now);
}

#[test]
fn a_target_is_the_fingerprint_by_default_and_a_label_set_when_named() {
    let labels: BTreeMap<String, String> = [("namespace", "shop"), ("pod", "web-1")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(Target::of(&naming(&[]), &labels, "c3a1").as_str(), "c3a1");
    assert_eq!(
        Target::of(&naming(&["namespace", "pod"]), &labels, "c3a1").as_str(),
        r#"{namespace="shop", pod="web-1"}"#
    );
    assert_eq!(
        Target::of(&naming(&["node"]), &labels, "c3a1").as_str(),
        r#"{node=""}"#
    );
}

#[test]
fn a_label_value_cannot_pass_for_two_targets_labels() {
    let names = naming(&["a", "b"]);
    let one: BTreeMap<String, String> = [("a".to_owned(), r#"x", b="y"#.to_owned())].into();
    let two: BTreeMap<String, String> = [
        ("a".to_owned(), "x".to_owned()),
        ("b".to_owned(), "y".to_owned()),
    ]
    .into();
    assert_ne!(Target::of(&names, &one, ""), Target::of(&names, &two, ""));
}

#[test]
fn several_pause_reasons_hold_until_the_last_is_lifted() {
    let mut rails = Rails::new();
    let (r, t) = (rule("restart"), target("a"));
    assert!(rails.pause("deploy freeze", "alice", T0));
    assert!(rails.pause("incident 42", "bob", T0 + 1));
    assert!(
        !rails.pause("incident 42", "carol", T0 + 2),
        "same reason twice"
    );
    let held = rails.check(&r, &t, &policy(), None, T0).unwrap_err();
    assert_eq!(held.rail, Rail::Paused);
    assert_eq!(
        held.reason,
        "alertrun is paused: deploy freeze; incident 42"
    );
    assert_eq!(rails.resume(Some("incident 42")), 1);
    assert_eq!(
        rail(rails.check(&r, &t, &policy(), None, T0)),
        Some(Rail::Paused)
    );
    assert_eq!(rails.resume(Some("no such reason")), 0);
    assert_eq!(rails.resume(None), 1);
    assert_eq!(rails.check(&r, &t, &policy(), None, T0), Ok(()));
}

#[test]
fn restored_pauses_hold_after_a_restart() {
    let mut rails = Rails::new();
    rails.pause("freeze", "alice", T0);
    let stored: Vec<Pause> = rails.pauses().cloned().collect();
    assert_eq!(
        stored,
        [Pause {
            reason: "freeze".into(),
            by: "alice".into(),
            at: T0
        }]
    );
    let mut restarted = Rails::new();
    restarted.restore_pauses(stored);
    assert_eq!(restarted.pauses().count(), 1);
    let held = restarted
        .check(&rule("r"), &target("t"), &policy(), None, T0)
        .unwrap_err();
    assert_eq!(held.rail, Rail::Paused);
}

#[test]
fn the_rails_are_asked_in_their_documented_order() {
    // Every rail would refuse; each one lifted shows the next.
    let (r, t) = (rule("restart"), target("a"));
    let mut p = RailPolicy {
        max_targets: Some(StormGate {
            max_targets: 0,
            within: span(HOUR),
        }),
        ..rate(1, HOUR)
    };
    let mut rails = Rails::new();
    // Three failures open the breaker; the rate limit counts them too.
    for id in 1..=3 {
        rails.admitted(id, &r, &t, &p, T0);
        rails.ended(id, RunState::Failed, T0);
    }
    rails.observe(&r, &t, true, p.max_targets, T0);
    rails.pause("freeze", "alice", T0);
    let muted = Some("inside mute_time_intervals offhours");
    let mut seen = Vec::new();
    seen.push(rail(rails.check(&r, &t, &p, muted, T0)));
    rails.resume(None);
    seen.push(rail(rails.check(&r, &t, &p, muted, T0)));
    seen.push(rail(rails.check(&r, &t, &p, None, T0)));
    p.max_targets = None;
    seen.push(rail(rails.check(&r, &t, &p, None, T0)));
    rails.reset("restart", None);
    seen.push(rail(rails.check(&r, &t, &p, None, T0)));
    p.max_runs = None;
    seen.push(rail(rails.check(&r, &t, &p, None, T0)));
    assert_eq!(
        seen,
        [
            Some(Rail::Paused),
            Some(Rail::Muted),
            Some(Rail::Storm),
            Some(Rail::CircuitOpen),
            Some(Rail::RateLimited),
            None
        ]
    );
    assert_eq!(
        Rail::ORDER.map(Rail::as_str),
        [
            "paused",
            "muted",
            "storm",
            "circuit_open",
            "rate_limited",
            "silenced"
        ]
    );
}

#[test]
fn a_rate_limit_counts_runs_in_a_sliding_window_and_says_when_the_next_may_go() {
    let (r, t) = (rule("restart"), target("a"));
    let p = rate(3, HOUR);
    let mut rails = Rails::new();
    for (id, at) in [(1, T0), (2, T0 + 10 * MIN), (3, T0 + 20 * MIN)] {
        assert_eq!(rails.check(&r, &t, &p, None, at), Ok(()));
        rails.admitted(id, &r, &t, &p, at);
    }
    let held = rails.check(&r, &t, &p, None, T0 + 30 * MIN).unwrap_err();
    assert_eq!(held.rail, Rail::RateLimited);
    assert_eq!(
        held.reason,
        "rule restart ran 3 times on a within 1h (max_runs 3); the next run may go at 2026-12-05T01:00:00Z"
    );
    // The window's edge: a run exactly one hour old no longer counts.
    assert_eq!(
        rail(rails.check(&r, &t, &p, None, T0 + HOUR - 1)),
        Some(Rail::RateLimited)
    );
    assert_eq!(rails.check(&r, &t, &p, None, T0 + HOUR), Ok(()));
}

#[test]
fn a_rate_limit_counts_each_target_and_each_rule_apart() {
    let p = rate(1, HOUR);
    let mut rails = Rails::new();
    rails.admitted(1, &rule("restart"), &target("a"), &p, T0);
    assert_eq!(
        rail(rails.check(&rule("restart"), &target("a"), &p, None, T0)),
        Some(Rail::RateLimited)
    );
    assert_eq!(
        rails.check(&rule("restart"), &target("b"), &p, None, T0),
        Ok(())
    );
    assert_eq!(
        rails.check(&rule("drain"), &target("a"), &p, None, T0),
        Ok(())
    );
}

#[test]
fn skipped_runs_do_not_count_against_the_rate_limit() {
    let (r, t) = (rule("restart"), target("a"));
    let p = rate(1, HOUR);
    let mut rails = Rails::new();
    rails.pause("freeze", "alice", T0);
    for _ in 0..5 {
        assert!(rails.check(&r, &t, &p, None, T0).is_err());
    }
    rails.resume(None);
    assert_eq!(rails.check(&r, &t, &p, None, T0), Ok(()));
}

#[test]
fn three_failed_runs_in_a_row_open_the_breaker_for_an_hour() {
    let (r, t) = (rule("restart"), target("a"));
    let mut rails = Rails::new();
    run(&mut rails, 1, &r, &t, RunState::Failed, T0);
    run(&mut rails, 2, &r, &t, RunState::TimedOut, T0 + MIN);
    assert_eq!(rails.check(&r, &t, &policy(), None, T0 + MIN), Ok(()));
    rails.admitted(3, &r, &t, &policy(), T0 + 2 * MIN);
    let change = rails
        .ended(3, RunState::FailedToStart, T0 + 2 * MIN)
        .expect("it opened");
    assert_eq!(
        change.breaker,
        Breaker::Open {
            until: T0 + 2 * MIN + HOUR,
            trips: 1,
            why: "3 failed runs in a row".into()
        }
    );
    let held = rails
        .check(&r, &t, &policy(), None, T0 + 3 * MIN)
        .unwrap_err();
    assert_eq!(held.rail, Rail::CircuitOpen);
    assert_eq!(
        held.reason,
        "circuit open until 2026-12-05T01:02:00Z after 3 failed runs in a row; a human is needed (alertrun breaker reset)"
    );
    assert_eq!(rails.open_breakers().count(), 1);
    // Another target of the same rule is not held.
    assert_eq!(rails.check(&r, &target("b"), &policy(), None, T0), Ok(()));
}

#[test]
fn a_success_between_failures_starts_the_count_again() {
    let (r, t) = (rule("restart"), target("a"));
    let mut rails = Rails::new();
    for (id, state) in [
        (1, RunState::Failed),
        (2, RunState::Failed),
        (3, RunState::Succeeded),
        (4, RunState::Failed),
        (5, RunState::Failed),
        (6, RunState::Cancelled),
        (7, RunState::Interrupted),
    ] {
        run(&mut rails, id, &r, &t, state, T0);
    }
    assert_eq!(rails.check(&r, &t, &policy(), None, T0), Ok(()));
    assert_eq!(
        rails.target_state(&r, &t).unwrap().breaker,
        Breaker::Closed {
            failures: 2,
            ineffective: 0
        },
        "neutral ends neither count nor reset"
    );
}

#[test]
fn after_its_back_off_a_half_open_breaker_lets_one_trial_through() {
    let (r, t) = (rule("restart"), target("a"));
    let mut rails = Rails::new();
    for id in 1..=3 {
        run(&mut rails, id, &r, &t, RunState::Failed, T0);
    }
    assert_eq!(
        rail(rails.check(&r, &t, &policy(), None, T0 + HOUR - 1)),
        Some(Rail::CircuitOpen)
    );
    assert_eq!(rails.check(&r, &t, &policy(), None, T0 + HOUR), Ok(()));
    rails.admitted(10, &r, &t, &policy(), T0 + HOUR);
    let held = rails.check(&r, &t, &policy(), None, T0 + HOUR).unwrap_err();
    assert_eq!(held.reason, "circuit half-open: trial run 10 has not ended");
    // An interrupted trial says nothing: the next one may go.
    assert_eq!(rails.ended(10, RunState::Interrupted, T0 + HOUR), None);
    assert_eq!(rails.check(&r, &t, &policy(), None, T0 + HOUR), Ok(()));
    rails.admitted(11, &r, &t, &policy(), T0 + HOUR);
    let closed = rails.ended(11, RunState::Succeeded, T0 + HOUR).unwrap();
    assert_eq!(closed.breaker, Breaker::default());
    assert_eq!(rails.open_breakers().count(), 0);
}

#[test]
fn a_failed_trial_opens_the_breaker_again_for_twice_as_long_up_to_a_day() {
    let (r, t) = (rule("restart"), target("a"));
    let mut rails = Rails::new();
    for id in 1..=3 {
        run(&mut rails, id, &r, &t, RunState::Failed, T0);
    }
    let mut now = T0;
    let mut backoffs = Vec::new();
    for id in 10..17 {
        let Some(Breaker::Open { until, .. }) =
            rails.target_state(&r, &t).map(|s| s.breaker.clone())
        else {
            panic!("open")
        };
        backoffs.push((until - now) / HOUR);
        now = until;
        assert_eq!(rails.check(&r, &t, &policy(), None, now), Ok(()));
        rails.admitted(id, &r, &t, &policy(), now);
        let change = rails.ended(id, RunState::Failed, now).unwrap();
        assert!(matches!(change.breaker, Breaker::Open { .. }));
    }
    assert_eq!(backoffs, [1, 2, 4, 8, 16, 24, 24]);
}

#[test]
fn runs_that_do_not_resolve_their_alert_open_the_breaker_and_effective_ones_reset_it() {
    let (r, t) = (rule("restart"), target("a"));
    let b = BreakerSettings::default();
    let mut rails = Rails::new();
    rails.verdict(&r, &t, Verdict::Ineffective, &b, T0);
    rails.verdict(&r, &t, Verdict::Ineffective, &b, T0);
    rails.verdict(&r, &t, Verdict::Effective, &b, T0);
    rails.verdict(&r, &t, Verdict::Ineffective, &b, T0);
    rails.verdict(&r, &t, Verdict::Unknown, &b, T0);
    assert_eq!(rails.verdict(&r, &t, Verdict::Ineffective, &b, T0), None);
    assert_eq!(rails.check(&r, &t, &policy(), None, T0), Ok(()));
    let change = rails.verdict(&r, &t, Verdict::Ineffective, &b, T0).unwrap();
    assert_eq!(
        change.breaker,
        Breaker::Open {
            until: T0 + HOUR,
            trips: 1,
            why: "3 runs in a row did not resolve the alert".into()
        }
    );
}

#[test]
fn a_breaker_set_to_zero_never_opens() {
    let (r, t) = (rule("restart"), target("a"));
    let b = BreakerSettings {
        failures: 0,
        ineffective: 0,
        ..BreakerSettings::default()
    };
    let never = RailPolicy {
        breaker: b,
        ..policy()
    };
    let mut rails = Rails::new();
    for id in 1..=10 {
        rails.admitted(id, &r, &t, &never, T0);
        assert_eq!(rails.ended(id, RunState::Failed, T0), None);
        rails.verdict(&r, &t, Verdict::Ineffective, &b, T0);
    }
    assert_eq!(rails.check(&r, &t, &policy(), None, T0), Ok(()));
}

#[test]
fn an_operator_reset_closes_a_rules_open_breakers() {
    let r = rule("restart");
    let mut rails = Rails::new();
    for t in ["a", "b"] {
        for id in 1..=3 {
            run(&mut rails, id, &r, &target(t), RunState::Failed, T0);
        }
    }
    let changes = rails.reset("restart", Some(&target("a")));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].target, target("a"));
    assert_eq!(rails.check(&r, &target("a"), &policy(), None, T0), Ok(()));
    assert_eq!(
        rail(rails.check(&r, &target("b"), &policy(), None, T0)),
        Some(Rail::CircuitOpen)
    );
    assert_eq!(rails.reset("restart", None).len(), 1);
    assert_eq!(rails.reset("restart", None).len(), 0);
}

#[test]
fn a_storm_in_one_notification_stops_every_target_of_it() {
    let r = rule("restart-pod");
    let p = storm(2, 10 * MIN);
    let mut rails = Rails::new();
    let targets: Vec<Target> = ["a", "b", "c"].into_iter().map(target).collect();
    for t in &targets {
        rails.observe(&r, t, true, p.max_targets, T0);
    }
    for t in &targets {
        let held = rails.check(&r, t, &p, None, T0).unwrap_err();
        assert_eq!(held.rail, Rail::Storm);
        assert_eq!(
            held.reason,
            "3 targets of rule restart-pod fired within 10m, more than its max_targets 2: none is acted on until fewer fire"
        );
    }
    // Another rule is not in the storm.
    assert_eq!(
        rails.check(&rule("other"), &targets[0], &p, None, T0),
        Ok(())
    );
}

#[test]
fn a_storm_drains_when_targets_resolve_or_age_out_of_the_window() {
    let r = rule("restart-pod");
    let p = storm(2, 10 * MIN);
    let mut rails = Rails::new();
    for t in ["a", "b", "c"] {
        rails.observe(&r, &target(t), true, p.max_targets, T0);
    }
    rails.observe(&r, &target("c"), false, p.max_targets, T0 + MIN);
    assert_eq!(rails.check(&r, &target("a"), &p, None, T0 + MIN), Ok(()));
    rails.observe(&r, &target("c"), true, p.max_targets, T0 + 2 * MIN);
    assert_eq!(
        rail(rails.check(&r, &target("a"), &p, None, T0 + 2 * MIN)),
        Some(Rail::Storm)
    );
    // a and b were last seen at T0: at T0 + 10m they no longer count.
    assert_eq!(
        rail(rails.check(&r, &target("c"), &p, None, T0 + 10 * MIN - 1)),
        Some(Rail::Storm)
    );
    assert_eq!(
        rails.check(&r, &target("c"), &p, None, T0 + 10 * MIN),
        Ok(())
    );
}

#[test]
fn a_target_state_reads_back_from_its_stored_json() {
    let state = TargetState {
        admitted: [T0, T0 + 1].into(),
        breaker: Breaker::Open {
            until: T0 + HOUR,
            trips: 2,
            why: "3 failed runs in a row".into(),
        },
    };
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(
        json,
        r#"{"admitted":[1796428800000,1796428800001],"breaker":{"state":"open","until":1796432400000,"trips":2,"why":"3 failed runs in a row"}}"#
    );
    assert_eq!(serde_json::from_str::<TargetState>(&json).unwrap(), state);
    assert_eq!(
        serde_json::from_str::<TargetState>("{}").unwrap(),
        TargetState::default()
    );
}

#[test]
fn how_a_run_ends_counts_for_the_breaker() {
    use RunState::*;
    let counted: Vec<(RunState, Outcome)> = RunState::ALL
        .into_iter()
        .map(|s| (s, Outcome::of(s)))
        .filter(|(_, o)| *o != Outcome::Neutral)
        .collect();
    assert_eq!(
        counted,
        [
            (Succeeded, Outcome::Succeeded),
            (Failed, Outcome::Failed),
            (TimedOut, Outcome::Failed),
            (FailedToStart, Outcome::Failed),
        ]
    );
}

#[test]
fn times_and_durations_are_written_as_alertmanager_writes_them() {
    assert_eq!(rfc3339(T0), "2026-12-05T00:00:00Z");
    assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(duration_text(HOUR), "1h");
    assert_eq!(duration_text(90_000), "1m 30s");
    assert_eq!(duration_text(86_400_000), "1day");
}

#[test]
fn a_run_ending_while_its_breaker_is_open_changes_nothing() {
    let (r, t) = (rule("restart"), target("a"));
    let b = BreakerSettings::default();
    let mut rails = Rails::new();
    // Run 9 was admitted before three others failed and opened the breaker.
    rails.admitted(9, &r, &t, &policy(), T0);
    for id in 1..=3 {
        run(&mut rails, id, &r, &t, RunState::Failed, T0);
    }
    let open = rails.target_state(&r, &t).unwrap().breaker.clone();
    assert_eq!(rails.ended(9, RunState::Succeeded, T0 + MIN), None);
    assert_eq!(
        rails.verdict(&r, &t, Verdict::Effective, &b, T0 + MIN),
        None
    );
    assert_eq!(rails.target_state(&r, &t).unwrap().breaker, open);
}

#[test]
fn a_withdrawn_admission_gives_back_its_rate_slot_and_its_trial() {
    let (r, t) = (rule("restart"), target("a"));
    let p = rate(1, HOUR);
    let mut rails = Rails::new();
    rails.admitted(1, &r, &t, &p, T0);
    rails.withdraw(1, T0);
    assert_eq!(rails.check(&r, &t, &p, None, T0), Ok(()));
    for id in 2..=4 {
        run(&mut rails, id, &r, &t, RunState::Failed, T0);
    }
    assert_eq!(rails.check(&r, &t, &policy(), None, T0 + HOUR), Ok(()));
    rails.admitted(5, &r, &t, &policy(), T0 + HOUR);
    rails.withdraw(5, T0 + HOUR);
    assert_eq!(
        rails.check(&r, &t, &policy(), None, T0 + HOUR),
        Ok(()),
        "trial free again"
    );
    assert_eq!(
        rails.ended(5, RunState::Failed, T0 + HOUR),
        None,
        "no longer counted"
    );
}

#[test]
fn targets_with_nothing_to_remember_are_forgotten() {
    let (r, t) = (rule("restart"), target("a"));
    let p = rate(2, HOUR);
    let mut rails = Rails::new();
    rails.admitted(1, &r, &t, &p, T0);
    rails.ended(1, RunState::Succeeded, T0);
    rails.forget_stale(HOUR, T0 + HOUR - 1);
    assert!(rails.target_state(&r, &t).is_some(), "still in the window");
    rails.forget_stale(HOUR, T0 + HOUR);
    assert!(rails.target_state(&r, &t).is_none());
    // An open breaker is remembered whatever its age.
    for id in 2..=4 {
        run(&mut rails, id, &r, &t, RunState::Failed, T0);
    }
    rails.forget_stale(HOUR, T0 + 100 * HOUR);
    assert!(rails.target_state(&r, &t).is_some());
}

#[test]
fn only_what_a_rail_counts_is_given_to_store() {
    let (r, t) = (rule("restart"), target("a"));
    let mut rails = Rails::new();
    // No rate limit, a closed breaker, a success: nothing to store, nothing remembered.
    run(&mut rails, 1, &r, &t, RunState::Succeeded, T0);
    assert_eq!(rails.take_changes(), vec![]);
    assert!(rails.target_state(&r, &t).is_none());
    // A failure counts.
    run(&mut rails, 2, &r, &t, RunState::Failed, T0);
    let changes = rails.take_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].2.as_ref().map(|s| s.breaker.clone()),
        Some(Breaker::Closed {
            failures: 1,
            ineffective: 0
        })
    );
    // A success after it resets the count: stored as a deletion (nothing to remember).
    run(&mut rails, 3, &r, &t, RunState::Succeeded, T0);
    assert_eq!(rails.take_changes(), vec![(r.clone(), t.clone(), None)]);
    // A rate limit stores its window.
    let p = rate(2, HOUR);
    rails.admitted(4, &r, &t, &p, T0);
    let changes = rails.take_changes();
    assert_eq!(changes[0].2.as_ref().map(|s| s.admitted.len()), Some(1));
}

#[test]
fn a_stored_target_state_restores_its_breaker_after_a_restart() {
    let (r, t) = (rule("restart"), target("{pod=\"web\"}"));
    let mut rails = Rails::new();
    for id in 1..=3 {
        run(&mut rails, id, &r, &t, RunState::Failed, T0);
    }
    let mut restarted = Rails::new();
    for (rule, target, state) in rails.take_changes() {
        let name = setting_name(&rule, &target);
        let (rule, target) = parse_setting_name(&name).expect("reads back");
        let json = serde_json::to_vec(&state.expect("open")).unwrap();
        restarted.restore_target(rule, target, serde_json::from_slice(&json).unwrap());
    }
    assert_eq!(
        rail(restarted.check(&r, &t, &policy(), None, T0 + MIN)),
        Some(Rail::CircuitOpen)
    );
    assert_eq!(parse_setting_name("pauses"), None);
}

#[test]
fn a_run_followed_again_after_a_restart_feeds_the_breaker_without_counting_twice() {
    let (r, t) = (rule("restart"), target("a"));
    let mut rails = Rails::new();
    let p = rate(1, HOUR);
    rails.admitted(1, &r, &t, &p, T0);
    let stored = rails.take_changes();
    // Restarted: the state is restored, and the queued run followed again.
    let mut restarted = Rails::new();
    for (rule, target, state) in stored {
        restarted.restore_target(rule, target, state.expect("a window"));
    }
    restarted.follow(1, &r, &t, p.breaker);
    assert_eq!(
        restarted.target_state(&r, &t).map(|s| s.admitted.len()),
        Some(1),
        "not counted again"
    );
    restarted.ended(1, RunState::Failed, T0 + MIN);
    assert_eq!(
        restarted.target_state(&r, &t).map(|s| s.breaker.clone()),
        Some(Breaker::Closed {
            failures: 1,
            ineffective: 0
        })
    );
}
