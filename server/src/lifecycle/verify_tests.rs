use super::*;

const MIN: i64 = 60_000;
/// 2026-12-05T00:00:00Z.
const T0: i64 = 1_796_428_800_000;

fn watch_alert(fp: &str, ended_at: i64) -> Watch {
    Watch {
        rule: "restart".to_owned(),
        target: fp.to_owned(),
        watched: Watched::Alert(fp.to_owned()),
        labels: BTreeMap::from([("alertname".to_owned(), "Down".to_owned())]),
        external_url: "http://am:9093".to_owned(),
        ended_at,
        until: ended_at + 10 * MIN,
        recurrence_ms: 60 * MIN,
        resolved_at: None,
    }
}

fn alert(fp: &str) -> Watched {
    Watched::Alert(fp.to_owned())
}

#[test]
fn an_alert_resolving_within_the_window_makes_the_run_effective_with_its_time_to_resolve() {
    let mut v = Verifications::new();
    v.watch(7, watch_alert("f1", T0));
    let decided = v.resolved(&alert("f1"), T0 + 42_000, T0 + 45_000);
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].verdict, VerdictKind::Effective);
    assert_eq!(decided[0].resolve_ms, Some(42_000));
    assert!(decided[0].why.contains("42s"), "{}", decided[0].why);
    // A resolved notification sent again decides nothing more; nor does the window's end.
    assert!(v.resolved(&alert("f1"), T0 + 42_000, T0 + MIN).is_empty());
    assert!(v.due(T0 + 11 * MIN).is_empty());
}

#[test]
fn a_resolution_of_another_alert_decides_nothing() {
    let mut v = Verifications::new();
    v.watch(7, watch_alert("f1", T0));
    assert!(v.resolved(&alert("f2"), T0, T0 + MIN).is_empty());
}

#[test]
fn an_ends_at_before_the_action_ended_counts_as_zero_not_negative() {
    let mut v = Verifications::new();
    v.watch(7, watch_alert("f1", T0));
    let decided = v.resolved(&alert("f1"), T0 - 5_000, T0 + 1_000);
    assert_eq!(decided[0].resolve_ms, Some(0));
}

#[test]
fn at_the_window_end_alertmanager_decides_firing_gone_or_unknown() {
    let mut v = Verifications::new();
    v.watch(1, watch_alert("f1", T0));
    v.watch(2, watch_alert("f2", T0));
    v.watch(3, watch_alert("f3", T0));
    // Not yet due at the window's last millisecond.
    assert!(v.due(T0 + 10 * MIN).is_empty());
    let due = v.due(T0 + 10 * MIN + 1);
    assert_eq!(due.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [1, 2, 3]);
    // Each is asked once.
    assert!(v.due(T0 + 11 * MIN).is_empty());
    let now = T0 + 11 * MIN;
    let firing = v.answered(1, &Answer::Firing, now).expect("decided");
    assert_eq!(firing.verdict, VerdictKind::Ineffective);
    let gone = v.answered(2, &Answer::Gone, now).expect("decided");
    assert_eq!(
        (gone.verdict, gone.resolve_ms),
        (VerdictKind::Effective, None)
    );
    let unknown = v
        .answered(3, &Answer::Unreachable("connection refused".into()), now)
        .expect("decided");
    assert_eq!(unknown.verdict, VerdictKind::Unknown);
    assert!(unknown.why.contains("connection refused"));
    // Answered twice: nothing.
    assert_eq!(v.answered(1, &Answer::Gone, now), None);
}

#[test]
fn a_resolution_seen_after_the_window_is_not_effective() {
    let mut v = Verifications::new();
    v.watch(1, watch_alert("f1", T0));
    assert!(
        v.resolved(&alert("f1"), T0 + 11 * MIN, T0 + 11 * MIN)
            .is_empty()
    );
    let due = v.due(T0 + 11 * MIN);
    assert_eq!(due.len(), 1);
}

#[test]
fn an_effective_run_whose_alert_fires_again_within_the_recurrence_window_recurred() {
    let mut v = Verifications::new();
    v.watch(1, watch_alert("f1", T0));
    v.resolved(&alert("f1"), T0 + MIN, T0 + MIN);
    // A late re-send of the episode that resolved (started before the action ended): no.
    assert!(v.fired(&alert("f1"), T0 - 5 * MIN, T0 + 2 * MIN).is_empty());
    let decided = v.fired(&alert("f1"), T0 + 30 * MIN, T0 + 30 * MIN);
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].verdict, VerdictKind::Recurred);
    // Decided once.
    assert!(
        v.fired(&alert("f1"), T0 + 31 * MIN, T0 + 31 * MIN)
            .is_empty()
    );
}

#[test]
fn past_the_recurrence_window_a_new_firing_is_a_new_problem() {
    let mut v = Verifications::new();
    v.watch(1, watch_alert("f1", T0));
    v.resolved(&alert("f1"), T0 + MIN, T0 + MIN);
    v.take_changes();
    // The watch is forgotten once its recurrence window passed (and the store told).
    v.due(T0 + 62 * MIN);
    assert_eq!(v.take_changes(), vec![(1, None)]);
    assert!(
        v.fired(&alert("f1"), T0 + 62 * MIN, T0 + 62 * MIN)
            .is_empty()
    );
}

#[test]
fn a_group_resolves_as_a_group() {
    let mut v = Verifications::new();
    let mut w = watch_alert("g", T0);
    w.watched = Watched::Group("{}:{alertname=\"Down\"}".to_owned());
    v.watch(1, w);
    let group = Watched::Group("{}:{alertname=\"Down\"}".to_owned());
    let decided = v.resolved(&group, T0 + 3 * MIN, T0 + 3 * MIN);
    assert_eq!(decided[0].verdict, VerdictKind::Effective);
    let again = v.fired(&group, T0 + 10 * MIN, T0 + 10 * MIN);
    assert_eq!(again[0].verdict, VerdictKind::Recurred);
}

#[test]
fn every_change_is_given_to_store_and_a_stored_watch_restores() {
    let mut v = Verifications::new();
    v.watch(9, watch_alert("f1", T0));
    let changes = v.take_changes();
    assert_eq!(changes.len(), 1);
    let (id, watch) = changes[0].clone();
    let json = serde_json::to_vec(&watch.expect("a watch")).unwrap();
    let name = setting_name(id);
    assert_eq!(parse_setting_name(&name), Some(9));
    assert_eq!(parse_setting_name("rails\u{1f}a\u{1f}b"), None);
    let mut restarted = Verifications::new();
    restarted.watch(9, serde_json::from_slice(&json).unwrap());
    let decided = restarted.resolved(&alert("f1"), T0 + MIN, T0 + MIN);
    assert_eq!(decided[0].id, 9);
}
