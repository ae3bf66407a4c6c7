use super::*;

fn entry(run: u64, event: &str) -> Entry {
    Entry::new(run, "audit", event, "{}".to_owned(), 1_000)
}

#[test]
fn backoff_doubles_from_a_second_up_to_five_minutes() {
    for (attempts, secs) in [
        (0, 1),
        (1, 1),
        (2, 2),
        (3, 4),
        (5, 16),
        (9, 256),
        (10, 300),
        (60, 300),
    ] {
        assert_eq!(
            backoff(attempts),
            Duration::from_secs(secs),
            "after {attempts}"
        );
    }
}

#[test]
fn a_failed_attempt_waits_its_backoff_and_is_not_due_before() {
    let mut outbox = Outbox::new();
    let id = outbox.add(entry(7, "started"));
    let due = outbox.due(1_000, 8);
    assert_eq!(due.len(), 1);
    assert!(
        outbox.due(1_000, 8).is_empty(),
        "an entry in flight is not due twice"
    );
    assert_eq!(
        outbox.attempted(id, Err("the sink answered 500".into()), 3, 1_000),
        None
    );
    assert!(outbox.due(1_999, 8).is_empty());
    assert_eq!(outbox.due(2_000, 8).len(), 1, "due one second later");
    assert_eq!(outbox.attempted(id, Err("again".into()), 3, 2_000), None);
    assert!(outbox.due(3_999, 8).is_empty());
    assert_eq!(outbox.due(4_000, 8).len(), 1, "due two seconds later");
}

#[test]
fn a_settled_entry_of_a_running_run_waits_for_its_end_then_reports_on_it() {
    let mut outbox = Outbox::new();
    let started = outbox.add(entry(7, "started"));
    outbox.due(1_000, 8);
    assert_eq!(
        outbox.attempted(started, Ok(()), 3, 1_000),
        None,
        "the run still runs"
    );
    assert_eq!(outbox.len(), 1);
    let finished = outbox.add(entry(7, "finished"));
    let statuses = outbox.run_ended(7);
    let shown: Vec<(&str, &str)> = statuses
        .iter()
        .map(|s| (s.event.as_str(), s.result.as_str()))
        .collect();
    assert_eq!(shown, [("started", "ok"), ("finished", "pending")]);
    assert_eq!(outbox.len(), 1, "the settled entry is forgotten once shown");
    outbox.due(1_000, 8);
    let (run, status) = outbox
        .attempted(finished, Err("no answer".into()), 1, 1_000)
        .expect("settled after its run ended: reported");
    assert_eq!(run, 7);
    assert_eq!((status.result.as_str(), status.attempts), ("error", 1));
    assert_eq!(status.last_error.as_deref(), Some("no answer"));
    assert_eq!(outbox.len(), 0);
}

#[test]
fn changes_name_every_entry_added_changed_or_forgotten() {
    let mut outbox = Outbox::new();
    let a = outbox.add(entry(1, "started"));
    let changes = outbox.take_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].0, a);
    assert!(changes[0].1.is_some());
    assert!(outbox.take_changes().is_empty());
    outbox.run_ended(1);
    outbox.due(1_000, 8);
    outbox.attempted(a, Ok(()), 3, 1_000);
    assert_eq!(outbox.take_changes(), vec![(a, None)]);
}

#[test]
fn a_restored_pending_entry_is_due_at_once_and_ids_go_on_past_it() {
    let mut outbox = Outbox::new();
    let mut kept = entry(3, "finished");
    kept.next_at = 90_000;
    kept.attempts = 4;
    outbox.restore(41, kept, 5_000);
    assert_eq!(outbox.due(5_000, 8).len(), 1);
    assert_eq!(outbox.add(entry(4, "started")), 42);
}

#[test]
fn at_most_max_entries_are_in_flight() {
    let mut outbox = Outbox::new();
    for run in 0..5 {
        outbox.add(entry(run, "started"));
    }
    assert_eq!(outbox.due(1_000, 3).len(), 3);
    assert_eq!(outbox.due(1_000, 3).len(), 0);
}

#[test]
fn setting_names_read_back() {
    assert_eq!(parse_setting_name(&setting_name(12)), Some(12));
    assert_eq!(parse_setting_name("verify\u{1f}12"), None);
    assert_eq!(parse_setting_name("outbox"), None);
}
