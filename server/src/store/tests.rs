use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use super::*;

const NOTE: u64 = 1;

/// A finished run of `rule` from notification `notification`, created at `created_at`.
pub(super) fn record(
    id: u64,
    rule: &str,
    state: RunState,
    created_at: i64,
    notification: u64,
) -> RunRecord {
    RunRecord {
        id,
        rule: rule.to_owned(),
        executor: "process".to_owned(),
        notification,
        alert_index: Some(0),
        fingerprint: format!("fp{}", id % 3),
        labels: BTreeMap::from([("alertname".to_owned(), "DiskFull".to_owned())]),
        status: "firing".to_owned(),
        starts_at: "2024-01-01T00:00:00Z".to_owned(),
        group_key: "{}:{}".to_owned(),
        receiver: "alertrun".to_owned(),
        dedupe_key: format!("{rule}/fp{id}"),
        state,
        reason: None,
        created_at,
        started_at: Some(created_at + 1),
        ended_at: (!state.is_unfinished()).then_some(created_at + 2),
        exit: Some("exit 0".to_owned()),
        ended_by: None,
        stdout: "done\n".to_owned(),
        stderr: String::new(),
        argv: vec!["/bin/true".to_owned()],
        env: vec![("ALERT_NAME".to_owned(), "DiskFull".to_owned())],
        dry_run: false,
        timeline: Vec::new(),
        started: None,
        verdict: None,
        silence: None,
        approval: None,
        notifications: Vec::new(),
        claim: None,
    }
}

fn body(id: u64) -> Vec<u8> {
    format!(r#"{{"version":"4","n":{id}}}"#).into_bytes()
}

/// One notification and the given runs, all referring to it.
fn batch(notification: u64, runs: Vec<RunRecord>) -> Batch {
    Batch {
        notifications: vec![(notification, body(notification).into())],
        runs,
        ..Batch::default()
    }
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path()).unwrap()
}

fn ids(runs: &[RunRecord]) -> Vec<u64> {
    runs.iter().map(|r| r.id).collect()
}

/// Every run, newest first, paging through `runs()`.
pub(super) fn all_runs(store: &Store) -> Vec<RunRecord> {
    let mut all = Vec::new();
    let mut filter = RunFilter {
        limit: RunFilter::MAX_LIMIT,
        ..RunFilter::default()
    };
    loop {
        let page = store.runs(&filter).unwrap();
        let Some(last) = page.last() else {
            return all;
        };
        filter.before = Some(last.id);
        all.extend(page);
    }
}

/// The indexes agree with the runs: counts by state, the state and rule listings, and every
/// run's notification is stored.
pub(super) fn assert_consistent(store: &Store) {
    let all = all_runs(store);
    let mut counted: BTreeMap<RunState, u64> = RunState::ALL.into_iter().map(|s| (s, 0)).collect();
    for run in &all {
        *counted.entry(run.state).or_default() += 1;
        assert!(
            store.notification(run.notification).unwrap().is_some(),
            "run {} lost its notification",
            run.id
        );
    }
    assert_eq!(store.counts().unwrap(), counted);
    for state in RunState::ALL {
        let listed = store
            .runs(&RunFilter {
                state: Some(state),
                limit: RunFilter::MAX_LIMIT,
                ..RunFilter::default()
            })
            .unwrap();
        let expected: Vec<u64> = all
            .iter()
            .filter(|r| r.state == state)
            .map(|r| r.id)
            .take(RunFilter::MAX_LIMIT)
            .collect();
        assert_eq!(ids(&listed), expected, "state index of {state}");
    }
}

#[test]
fn store_is_a_cheap_shareable_handle() {
    fn handle<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    handle::<Store>();
    error::<StoreError>();
}

#[test]
fn batch_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut queued = record(2, "restart", RunState::Queued, 1000, NOTE);
    queued.alert_index = None;
    queued.reason = Some("waiting".to_owned());
    queued
        .env
        .push(("SECRET".to_owned(), "<redacted>".to_owned()));
    let done = record(3, "restart", RunState::Succeeded, 1001, NOTE);
    let mut b = batch(NOTE, vec![queued.clone(), done.clone()]);
    b.dedupe = vec![("restart/fp2".to_owned(), DedupeEntry::at(1000))];
    store.commit(&b).unwrap();

    assert_eq!(store.run(2).unwrap(), Some(queued));
    assert_eq!(store.run(3).unwrap(), Some(done));
    assert_eq!(store.run(4).unwrap(), None);
    assert_eq!(store.notification(NOTE).unwrap(), Some(body(NOTE)));
    assert_eq!(store.notification(9).unwrap(), None);
    let recovery = store.recover().unwrap();
    assert_eq!(
        recovery.dedupe,
        vec![("restart/fp2".to_owned(), DedupeEntry::at(1000))]
    );
    assert_eq!(recovery.next_id, 4);
    let counts = store.counts().unwrap();
    assert_eq!(counts[&RunState::Queued], 1);
    assert_eq!(counts[&RunState::Succeeded], 1);
    assert_eq!(counts.values().sum::<u64>(), 2);
    assert_consistent(&store);
}

#[test]
fn empty_batch_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.commit(&Batch::default()).unwrap();
    assert_eq!(
        store.recover().unwrap(),
        Recovery {
            next_id: 1,
            ..Recovery::default()
        }
    );
}

#[test]
fn replacing_a_run_moves_it_between_state_and_rule_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .commit(&batch(
            NOTE,
            vec![record(2, "a", RunState::Queued, 10, NOTE)],
        ))
        .unwrap();
    store
        .commit(&Batch {
            runs: vec![record(2, "a", RunState::Running, 10, NOTE)],
            ..Batch::default()
        })
        .unwrap();
    let mut renamed = record(2, "b", RunState::TimedOut, 10, NOTE);
    renamed.ended_by = Some("timeout".to_owned());
    store
        .commit(&Batch {
            runs: vec![renamed.clone()],
            ..Batch::default()
        })
        .unwrap();

    assert_eq!(store.run(2).unwrap(), Some(renamed));
    let by_rule = |rule: &str| {
        ids(&store
            .runs(&RunFilter {
                rule: Some(rule.to_owned()),
                ..RunFilter::default()
            })
            .unwrap())
    };
    assert_eq!(by_rule("a"), Vec::<u64>::new());
    assert_eq!(by_rule("b"), vec![2]);
    assert!(store.recover().unwrap().unfinished.is_empty());
    assert_consistent(&store);
}

#[test]
fn commit_refuses_a_run_whose_notification_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let b = Batch {
        runs: vec![record(2, "a", RunState::Queued, 10, 7)],
        dedupe: vec![("a/fp".to_owned(), DedupeEntry::at(10))],
        ..Batch::default()
    };
    let err = store.commit(&b).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MissingNotification {
                run: 2,
                notification: 7,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("alertrun.redb"), "{err}");
    // Nothing of the batch was written.
    assert_eq!(
        store.recover().unwrap(),
        Recovery {
            next_id: 1,
            ..Recovery::default()
        }
    );
}

#[test]
fn recover_after_reopen_returns_unfinished_runs_dedupe_and_next_id() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        store
            .commit(&batch(
                1,
                vec![
                    record(2, "a", RunState::Running, 10, 1),
                    record(3, "a", RunState::Succeeded, 11, 1),
                ],
            ))
            .unwrap();
        let mut b = batch(
            4,
            vec![
                record(5, "b", RunState::Queued, 12, 4),
                record(6, "b", RunState::Skipped, 12, 4),
            ],
        );
        b.dedupe = vec![
            ("a/fp".to_owned(), DedupeEntry::at(10)),
            ("b/fp".to_owned(), DedupeEntry::at(12)),
            ("gone".to_owned(), DedupeEntry::at(1)),
        ];
        store.commit(&b).unwrap();
        store
            .commit(&Batch {
                dedupe_remove: vec!["gone".to_owned()],
                ..Batch::default()
            })
            .unwrap();
        store
            .commit(&Batch {
                notifications: vec![(8, body(8).into())],
                ..Batch::default()
            })
            .unwrap();
    }
    let store = open(&dir);
    let recovery = store.recover().unwrap();
    assert_eq!(
        recovery.next_id, 9,
        "one past the highest id, notifications included"
    );
    assert_eq!(
        recovery.dedupe,
        vec![
            ("a/fp".to_owned(), DedupeEntry::at(10)),
            ("b/fp".to_owned(), DedupeEntry::at(12))
        ]
    );
    assert_eq!(ids(&recovery.unfinished), vec![2, 5], "oldest first");
    assert_eq!(
        recovery.notifications,
        BTreeMap::from([(1, body(1)), (4, body(4))])
    );
}

#[test]
fn dedupe_removal_comes_before_upsert() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .commit(&Batch {
            dedupe: vec![("k".to_owned(), DedupeEntry::at(1))],
            ..Batch::default()
        })
        .unwrap();
    store
        .commit(&Batch {
            dedupe: vec![("k".to_owned(), DedupeEntry::at(2))],
            dedupe_remove: vec!["k".to_owned()],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(
        store.recover().unwrap().dedupe,
        vec![("k".to_owned(), DedupeEntry::at(2))]
    );
}

/// Runs 1..=30 (notifications 100 and 200), rules a/b alternating, every third run
/// queued, created at 1000 + id.
fn listing_fixture(store: &Store) {
    let mut runs = Vec::new();
    for id in 1..=30u64 {
        let rule = if id % 2 == 0 { "a" } else { "b" };
        let state = if id % 3 == 0 {
            RunState::Queued
        } else {
            RunState::Failed
        };
        runs.push(record(
            id,
            rule,
            state,
            1000 + i64::try_from(id).unwrap(),
            if id <= 15 { 100 } else { 200 },
        ));
    }
    let (first, second) = runs.split_at(15);
    store.commit(&batch(100, first.to_vec())).unwrap();
    store.commit(&batch(200, second.to_vec())).unwrap();
}

#[test]
fn runs_filters_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    listing_fixture(&store);
    let rule = |r: &str| Some(r.to_owned());
    let cases: Vec<(&str, RunFilter, Vec<u64>)> = vec![
        (
            "limit only",
            RunFilter {
                limit: 3,
                ..RunFilter::default()
            },
            vec![30, 29, 28],
        ),
        (
            "rule",
            RunFilter {
                rule: rule("b"),
                limit: 4,
                ..RunFilter::default()
            },
            vec![29, 27, 25, 23],
        ),
        (
            "state",
            RunFilter {
                state: Some(RunState::Queued),
                limit: 3,
                ..RunFilter::default()
            },
            vec![30, 27, 24],
        ),
        (
            "rule and state",
            RunFilter {
                rule: rule("a"),
                state: Some(RunState::Queued),
                ..RunFilter::default()
            },
            vec![30, 24, 18, 12, 6],
        ),
        (
            "fingerprint",
            RunFilter {
                fingerprint: Some("fp1".to_owned()),
                limit: 3,
                ..RunFilter::default()
            },
            vec![28, 25, 22],
        ),
        (
            "since",
            RunFilter {
                since: Some(1027),
                ..RunFilter::default()
            },
            vec![30, 29, 28, 27],
        ),
        (
            "before",
            RunFilter {
                before: Some(3),
                ..RunFilter::default()
            },
            vec![2, 1],
        ),
        (
            "before with rule",
            RunFilter {
                rule: rule("a"),
                before: Some(7),
                ..RunFilter::default()
            },
            vec![6, 4, 2],
        ),
        (
            "before with state",
            RunFilter {
                state: Some(RunState::Failed),
                before: Some(6),
                ..RunFilter::default()
            },
            vec![5, 4, 2, 1],
        ),
        (
            "unknown rule",
            RunFilter {
                rule: rule("c"),
                ..RunFilter::default()
            },
            vec![],
        ),
        (
            "zero limit",
            RunFilter {
                limit: 0,
                ..RunFilter::default()
            },
            vec![],
        ),
        (
            "before the first",
            RunFilter {
                before: Some(1),
                ..RunFilter::default()
            },
            vec![],
        ),
    ];
    for (name, filter, expected) in cases {
        assert_eq!(ids(&store.runs(&filter).unwrap()), expected, "{name}");
    }
}

#[test]
fn runs_pages_with_before_and_caps_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    listing_fixture(&store);
    let mut filter = RunFilter {
        rule: Some("a".to_owned()),
        limit: 4,
        ..RunFilter::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = ids(&store.runs(&filter).unwrap());
        let Some(&last) = page.last() else { break };
        filter.before = Some(last);
        pages.push(page);
    }
    assert_eq!(
        pages,
        vec![
            vec![30, 28, 26, 24],
            vec![22, 20, 18, 16],
            vec![14, 12, 10, 8],
            vec![6, 4, 2],
        ]
    );

    let mut runs = Vec::new();
    for id in 31..=1031u64 {
        runs.push(record(id, "bulk", RunState::Skipped, 5000, 300));
    }
    store.commit(&batch(300, runs)).unwrap();
    let capped = store
        .runs(&RunFilter {
            limit: 5000,
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(capped.len(), RunFilter::MAX_LIMIT);
    assert_eq!(capped.first().map(|r| r.id), Some(1031));
    assert_consistent(&store);
}

#[test]
fn prune_by_age_leaves_unfinished_runs_and_deletes_orphaned_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    listing_fixture(&store);
    // Runs 1..=20 are older than 1021; of them 3, 6, ..., 18 are queued.
    let deleted = store.prune(1021, 1000, i64::MIN, usize::MAX).unwrap();
    assert_eq!(deleted, 14);
    let left = ids(&all_runs(&store));
    let mut expected: Vec<u64> = (21..=30).rev().collect();
    expected.extend([18, 15, 12, 9, 6, 3]);
    assert_eq!(left, expected);
    // Notification 100 is still referenced by queued runs; delete those, and it goes.
    assert!(store.notification(100).unwrap().is_some());
    let finished: Vec<RunRecord> = (1..=15u64)
        .filter(|id| id % 3 == 0)
        .map(|id| record(id, "x", RunState::Cancelled, 1000, 100))
        .collect();
    store
        .commit(&Batch {
            runs: finished,
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.prune(1021, 1000, i64::MIN, usize::MAX).unwrap(), 5);
    assert_eq!(store.notification(100).unwrap(), None);
    assert!(store.notification(200).unwrap().is_some());
    assert_consistent(&store);
}

#[test]
fn prune_by_count_keeps_the_newest_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    listing_fixture(&store);
    // Keep the newest 10 (21..=30); of 1..=20 the queued ones stay.
    assert_eq!(store.prune(i64::MIN, 10, i64::MIN, usize::MAX).unwrap(), 14);
    let left = ids(&all_runs(&store));
    assert_eq!(&left[..10], &(21..=30).rev().collect::<Vec<u64>>()[..]);
    assert!(left[10..].iter().all(|id| id % 3 == 0), "{left:?}");
    // Again: nothing more to delete.
    assert_eq!(store.prune(i64::MIN, 10, i64::MIN, usize::MAX).unwrap(), 0);
    assert_consistent(&store);
}

#[test]
fn prune_stops_at_max_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let runs: Vec<RunRecord> = (2..=601)
        .map(|id| record(id, "a", RunState::Succeeded, 1, 1))
        .collect();
    store.commit(&batch(1, runs)).unwrap();
    assert_eq!(
        store.prune(2, 0, i64::MIN, 300).unwrap(),
        300,
        "more than one chunk"
    );
    assert_eq!(
        all_runs(&store).last().map(|r| r.id),
        Some(302),
        "oldest first"
    );
    assert_eq!(store.prune(2, 0, i64::MIN, 0).unwrap(), 0);
    assert_eq!(store.prune(2, 0, i64::MIN, usize::MAX).unwrap(), 300);
    assert_eq!(store.notification(1).unwrap(), None);
    assert_eq!(
        store.recover().unwrap().next_id,
        602,
        "ids are never handed out twice"
    );
    assert_consistent(&store);
}

#[test]
fn prune_deletes_old_dedupe_entries_and_bodies_without_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .commit(&Batch {
            notifications: vec![(1, body(1).into()), (2, body(2).into())],
            runs: vec![record(3, "a", RunState::Succeeded, 50, 2)],
            dedupe: vec![
                ("old".to_owned(), DedupeEntry::at(10)),
                ("new".to_owned(), DedupeEntry::at(100)),
            ],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.prune(0, 1000, 50, usize::MAX).unwrap(), 0);
    assert_eq!(
        store.recover().unwrap().dedupe,
        vec![("new".to_owned(), DedupeEntry::at(100))]
    );
    assert_eq!(
        store.notification(1).unwrap(),
        None,
        "no run ever referred to it"
    );
    assert_eq!(store.notification(2).unwrap(), Some(body(2)));
    assert_consistent(&store);
}

/// A prune that stopped at `max` runs leaves the dedupe entries to the call that finishes
/// the runs: finding expired entries reads the whole table, once per prune, not per chunk.
#[test]
fn prune_expires_dedupe_entries_only_once_the_runs_are_done() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .commit(&Batch {
            notifications: vec![(1, body(1).into())],
            runs: (2..=4)
                .map(|id| record(id, "a", RunState::Succeeded, 50, 1))
                .collect(),
            dedupe: vec![("old".to_owned(), DedupeEntry::at(10))],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.prune(100, 0, 50, 2).unwrap(), 2);
    assert_eq!(store.recover().unwrap().dedupe.len(), 1, "not yet");
    assert_eq!(store.prune(100, 0, 50, 2).unwrap(), 1);
    assert_eq!(store.recover().unwrap().dedupe, []);
    assert_consistent(&store);
}

#[test]
fn run_state_names_agree_with_json_and_parse_back() {
    for state in RunState::ALL {
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(json, format!("\"{}\"", state.as_str()));
        assert_eq!(state.as_str().parse::<RunState>(), Ok(state));
        assert_eq!(state.to_string(), state.as_str());
    }
    assert_eq!("timed_out".parse::<RunState>(), Ok(RunState::TimedOut));
    let err = "TimedOut".parse::<RunState>().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown run state \"TimedOut\": use received, queued,"),
        "{err}"
    );
}

#[test]
fn open_creates_a_private_directory() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state/nested");
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.path(), dir.join(FILE_NAME));
    assert!(store.path().is_file());
    let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn open_under_a_file_names_the_path() {
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("plain");
    fs::write(&file, b"").unwrap();
    let err = Store::open(&file.join("state")).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("plain/state"), "{err}");
}

#[test]
fn open_in_a_read_only_directory_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o500)).unwrap();
    // root (or CAP_DAC_OVERRIDE) writes anyway: then there is nothing to test.
    let probe = dir.path().join("probe");
    if fs::write(&probe, b"").is_ok() {
        eprintln!("skipped: this process may write to a mode 0500 directory (root?)");
        return;
    }
    let err = Store::open(dir.path()).unwrap_err();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    assert!(
        matches!(&err, StoreError::Open { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied),
        "{err:?}"
    );
    assert!(err.to_string().contains(FILE_NAME), "{err}");
}

/// Issue 17, item 9: an existing empty or truncated store file is refused with a message
/// naming it (an empty one used to become a new store without a word); a missing file is
/// still created.
#[test]
fn issue_17_empty_or_truncated_store_file_is_refused_and_a_missing_one_created() {
    let source = tempfile::tempdir().unwrap();
    {
        let store = open(&source);
        store
            .commit(&batch(
                NOTE,
                vec![record(2, "a", RunState::Succeeded, 10, NOTE)],
            ))
            .unwrap();
    }
    let full = fs::read(source.path().join(FILE_NAME)).unwrap();
    // (case, the file's bytes (None: no file), what the refusal says (None: it opens))
    type Row<'a> = (&'a str, Option<&'a [u8]>, Option<&'a str>);
    let table: &[Row<'_>] = &[
        ("missing", None, None),
        ("empty", Some(&[]), Some("is an empty file")),
        ("first 100 bytes", Some(&full[..100]), Some(FILE_NAME)),
        ("first 4 KiB", Some(&full[..4096]), Some(FILE_NAME)),
        ("half", Some(&full[..full.len() / 2]), Some(FILE_NAME)),
    ];
    for (case, bytes, refused) in table {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        if let Some(bytes) = bytes {
            fs::write(&path, bytes).unwrap();
        }
        match (Store::open(dir.path()), refused) {
            (Ok(store), None) => assert!(store.runs(&RunFilter::default()).unwrap().is_empty()),
            (Err(err), Some(want)) => {
                let text = err.to_string();
                assert!(
                    text.contains(want) && text.contains(FILE_NAME),
                    "{case}: {text}"
                );
                assert_eq!(
                    fs::read(&path).unwrap(),
                    bytes.unwrap_or_default(),
                    "{case}: a refused file is left as it was"
                );
            }
            (Ok(_), Some(_)) => panic!("{case}: opened"),
            (Err(err), None) => panic!("{case}: {err:?}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(FILE_NAME), b"").unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Empty { .. }), "{err:?}");
    assert!(err.to_string().contains("remove it"), "{err}");
}

#[test]
fn second_open_reports_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(&dir);
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("another alertrun"), "{err}");
}

#[test]
fn a_file_that_is_not_a_store_is_reported_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(FILE_NAME), vec![0x5a; 8192]).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains(FILE_NAME), "{err}");
}

#[test]
fn clones_commit_and_read_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..25u64 {
                    let n = 1 + (w * 25 + i) * 3;
                    let runs = vec![
                        record(n + 1, "a", RunState::Queued, 1, n),
                        record(n + 2, "b", RunState::Failed, 1, n),
                    ];
                    store.commit(&batch(n, runs)).unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            for _ in 0..50 {
                let counts = store.counts().unwrap();
                let listed = store
                    .runs(&RunFilter {
                        state: Some(RunState::Queued),
                        limit: RunFilter::MAX_LIMIT,
                        ..RunFilter::default()
                    })
                    .unwrap();
                // Each read sees whole batches: as many queued as failed runs... at its own snapshot.
                assert!(listed.len() as u64 <= counts[&RunState::Queued] + 200);
            }
        })
    };
    for t in writers {
        t.join().unwrap();
    }
    reader.join().unwrap();
    let counts = store.counts().unwrap();
    assert_eq!(
        (counts[&RunState::Queued], counts[&RunState::Failed]),
        (100, 100)
    );
    assert_eq!(store.recover().unwrap().next_id, 301);
    assert_consistent(&store);
}

#[test]
fn prune_across_transactions_counts_the_unfinished_runs_it_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let state = |id: u64| {
        if id % 7 == 0 {
            RunState::Running
        } else {
            RunState::Interrupted
        }
    };
    let runs: Vec<RunRecord> = (2..=1001)
        .map(|id| record(id, "a", state(id), 1, 1))
        .collect();
    store.commit(&batch(1, runs)).unwrap();
    // 1000 runs; keep the newest 100 (902..=1001) and, of the older, the running ones.
    let deleted = store.prune(i64::MIN, 100, i64::MIN, usize::MAX).unwrap();
    let mut expected: Vec<u64> = (902..=1001).rev().collect();
    expected.extend((2..902).rev().filter(|id| id % 7 == 0));
    assert_eq!(deleted, 1000 - expected.len());
    assert_eq!(ids(&all_runs(&store)), expected);
    assert_consistent(&store);
}

/// The stored forms of notification 1 and run 2.
fn stored_forms(store: &Store) -> (Vec<u8>, Vec<u8>) {
    store
        .with_reader(|db, cx| {
            let txn = db.begin_read().map_err(|e| cx.error(e))?;
            let bodies = txn
                .open_table(tables::NOTIFICATIONS)
                .map_err(|e| cx.error(e))?;
            let runs = txn.open_table(tables::RUNS).map_err(|e| cx.error(e))?;
            Ok((
                bodies.get(1).unwrap().unwrap().value().to_vec(),
                runs.get(2).unwrap().unwrap().value().to_vec(),
            ))
        })
        .unwrap()
}

/// Notification bodies and ended runs are kept zstd-compressed where that is smaller,
/// unfinished runs (written again at each step) as their JSON, and all are read back as
/// they were given.
#[test]
fn stored_runs_and_bodies_are_compressed_and_read_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let body = fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/payloads/pod-crashlooping.json"),
    )
    .unwrap();
    let mut run = record(2, "a", RunState::Running, 10, 1);
    run.stdout = "deleted pod web-0\n".repeat(20);
    store
        .commit(&Batch {
            notifications: vec![(1, body.clone().into())],
            runs: vec![run.clone()],
            ..Batch::default()
        })
        .unwrap();
    let (_, running) = stored_forms(&store);
    assert_eq!(
        running,
        serde_json::to_vec(&run).unwrap(),
        "an unfinished run: its JSON"
    );
    assert_eq!(store.run(2).unwrap(), Some(run.clone()));
    assert_eq!(store.recover().unwrap().unfinished, [run.clone()]);

    run.state = RunState::Succeeded;
    run.ended_at = Some(12);
    store
        .commit(&Batch {
            runs: vec![run.clone()],
            ..Batch::default()
        })
        .unwrap();
    let (stored_body, stored_run) = stored_forms(&store);
    let json = serde_json::to_vec(&run).unwrap();
    for (what, stored, raw) in [("body", &stored_body, &body), ("run", &stored_run, &json)] {
        assert_eq!(
            &stored[..4],
            &[0x28, 0xB5, 0x2F, 0xFD],
            "{what}: a zstd frame"
        );
        // Its size is in the frame, so reading it needs no guessing.
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(stored).unwrap(),
            Some(raw.len() as u64),
            "{what}"
        );
        assert!(
            stored.len() * 2 < raw.len(),
            "{what}: {} bytes stored for {}",
            stored.len(),
            raw.len()
        );
    }
    assert_eq!(store.notification(1).unwrap(), Some(body));
    assert_eq!(store.run(2).unwrap(), Some(run));
    assert!(store.recover().unwrap().unfinished.is_empty());
    assert_consistent(&store);
}

/// Writes notification 1 and `run` as `body` and `run_bytes`, their stored forms as some
/// release wrote them, bypassing [`Store::commit`]'s encoding.
fn write_stored(store: &Store, body: &[u8], run: &RunRecord, run_bytes: &[u8]) {
    store
        .with_writer(|db, cx| {
            let txn = db.begin_write().map_err(|e| cx.error(e))?;
            {
                let mut t = WriteTables::open(&txn, cx)?;
                t.notifications.insert(1, body).map_err(|e| cx.error(e))?;
                t.put_run(run, run_bytes)?;
            }
            txn.commit().map_err(|e| cx.error(e))
        })
        .unwrap();
}

/// A store written before compression holds plain JSON: it is read as it is.
#[test]
fn values_stored_before_compression_are_read_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let run = record(2, "a", RunState::Running, 10, 1);
    let json = serde_json::to_vec(&run).unwrap();
    write_stored(&store, b"{\"plain\":true}", &run, &json);
    assert_eq!(
        store.notification(1).unwrap().as_deref(),
        Some(b"{\"plain\":true}".as_slice())
    );
    assert_eq!(store.run(2).unwrap(), Some(run.clone()));
    assert_eq!(store.runs(&RunFilter::default()).unwrap(), [run]);
}

/// Values compressed without a dictionary (by releases before the dictionary) are read as
/// they were; new ones name the newest dictionary in their frame; a frame naming a
/// dictionary this release does not have is reported, not guessed at.
#[test]
fn values_compressed_without_or_with_an_unknown_dictionary_are_read_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let run = record(2, "a", RunState::Running, 10, 1);
    let json = serde_json::to_vec(&run).unwrap();
    let body = b"{\"receiver\":\"alertrun\",\"status\":\"firing\",\"alerts\":[]}".repeat(4);
    // As the release before the dictionary packed them.
    let old_run = zstd::bulk::compress(&json, 1).unwrap();
    let old_body = zstd::bulk::compress(&body, 1).unwrap();
    assert_eq!(zstd::zstd_safe::get_dict_id_from_frame(&old_run), None);
    write_stored(&store, &old_body, &run, &old_run);
    assert_eq!(store.notification(1).unwrap(), Some(body));
    assert_eq!(store.run(2).unwrap(), Some(run.clone()));
    assert_eq!(store.runs(&RunFilter::default()).unwrap(), [run]);

    let packed = tables::pack(&json);
    let id = zstd::zstd_safe::get_dict_id_from_frame(&packed).expect("a dictionary's id");
    assert_eq!(id.get(), 32769, "v1's id");
    assert_eq!(
        tables::unpack_plain(&packed).unwrap().as_ref(),
        json.as_slice()
    );

    // The same frame with another dictionary id (the 2-byte field after the header byte).
    let mut unknown = packed;
    assert_eq!(unknown[4] & 0x03, 2, "a 2-byte dictionary id");
    let at = 5 + usize::from(unknown[4] & 0x20 == 0);
    assert_eq!(u16::from_le_bytes([unknown[at], unknown[at + 1]]), 32769);
    unknown[at..at + 2].copy_from_slice(&40000u16.to_le_bytes());
    let error = tables::unpack_plain(&unknown).unwrap_err();
    assert!(error.to_string().contains("dictionary 40000"), "{error}");
}

#[test]
fn until_starts_the_listing_at_the_newest_run_created_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    listing_fixture(&store);
    // Run n was created at 1000 + n.
    let cases = [
        ("inside", 1021, vec![20, 19, 18]),
        ("before every run", 1000, vec![]),
        ("after every run", 9999, vec![30, 29, 28]),
    ];
    for (name, until, expected) in cases {
        let filter = RunFilter {
            until: Some(until),
            limit: 3,
            ..RunFilter::default()
        };
        assert_eq!(ids(&store.runs(&filter).unwrap()), expected, "{name}");
    }
}

#[test]
fn alertname_filter_reads_the_label_and_a_scan_bound_pages_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut runs = Vec::new();
    for id in 1..=30u64 {
        let mut run = record(
            id,
            "a",
            RunState::Succeeded,
            1000 + i64::try_from(id).unwrap(),
            7,
        );
        if id % 10 == 0 {
            run.labels
                .insert("alertname".to_owned(), "Rare \"quoted\"".to_owned());
        }
        runs.push(run);
    }
    store.commit(&batch(7, runs)).unwrap();
    let rare = RunFilter {
        alertname: Some("Rare \"quoted\"".to_owned()),
        ..RunFilter::default()
    };
    assert_eq!(ids(&store.runs(&rare).unwrap()), vec![30, 20, 10]);
    let labelled = RunFilter {
        labels: vec![("alertname".to_owned(), "Rare \"quoted\"".to_owned())],
        ..RunFilter::default()
    };
    assert_eq!(
        ids(&store.runs(&labelled).unwrap()),
        vec![30, 20, 10],
        "labels"
    );

    // At most 8 runs looked at per page: the page ends where the scan stopped.
    let mut filter = RunFilter {
        max_scanned: Some(8),
        ..rare
    };
    let mut pages = Vec::new();
    loop {
        let page = store.runs_page(&filter).unwrap();
        assert!(page.scanned <= 8, "scanned {}", page.scanned);
        pages.push((ids(&page.runs), page.next));
        match page.next {
            Some(next) => filter.before = Some(next),
            None => break,
        }
    }
    assert_eq!(
        pages,
        vec![
            (vec![30], Some(23)),
            (vec![20], Some(15)),
            (vec![10], Some(7)),
            (vec![], None),
        ]
    );
}

#[test]
fn rule_activity_counts_the_windows_from_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    listing_fixture(&store);
    // Rule a has the even ids; run n was created at 1000 + n.
    let activity = store.rule_activity("a", 1025, 1011).unwrap();
    assert_eq!(activity.last.map(|r| r.id), Some(30));
    assert_eq!((activity.last_hour, activity.last_day), (3, 10));
    let none = store.rule_activity("nope", 0, 0).unwrap();
    assert_eq!((none.last, none.last_hour, none.last_day), (None, 0, 0));
    let future = store.rule_activity("a", 5000, 5000).unwrap();
    assert_eq!((future.last_hour, future.last_day), (0, 0));
}
