//! What one durable store commit costs, and how much file it takes: the batches intake
//! writes (a notification with its run and dedupe entry), alone and merged as the writer
//! task merges concurrent requests, against the floor of any durable write on this disk,
//! an append of the same bytes plus `fdatasync`, measured in the same run.
//!
//! ```text
//! cargo bench -p alertrun --bench store_commit            # 2000 commits per case
//! cargo bench -p alertrun --bench store_commit -- 500     # fewer
//! ```
//!
//! Printed per case: microseconds per commit (median and p90), commits per second, and
//! bytes of store files (the redb file and its journal) per recorded run. Figures vary
//! with the disk; compare the ratios.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    reason = "a benchmark: a failed unwrap is a failed run, and figures are approximate"
)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alertrun::{Batch, DedupeEntry, RunRecord, RunState, Store};

/// A real one-alert notification (examples/payloads/pod-crashlooping.json).
const BODY: &[u8] = include_bytes!("../../examples/payloads/pod-crashlooping.json");

fn run(id: u64, notification: u64) -> RunRecord {
    let labels: BTreeMap<String, String> = [
        ("alertname", "KubePodCrashLooping"),
        ("container", "web"),
        ("job", "kube-state-metrics"),
        ("namespace", "shop"),
        ("pod", "web-7d9f-x2x1q"),
        ("severity", "warning"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut env: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (format!("ALERTRUN_LABEL_{k}"), v.clone()))
        .collect();
    env.extend([
        ("ALERTRUN_STATUS".to_owned(), "firing".to_owned()),
        (
            "ALERTRUN_FINGERPRINT".to_owned(),
            "d284efc389a5bf32".to_owned(),
        ),
        (
            "ALERTRUN_STARTS_AT".to_owned(),
            "2026-11-21T07:38:36.123Z".to_owned(),
        ),
        (
            "ALERTRUN_ANNOTATION_summary".to_owned(),
            "Pod shop/web-7d9f-x2x1q is crash looping".to_owned(),
        ),
        (
            "ALERTRUN_ALERT_JSON".to_owned(),
            "(stored with the notification)".to_owned(),
        ),
    ]);
    RunRecord {
        id,
        rule: "delete-crashlooping-pod".to_owned(),
        executor: "process".to_owned(),
        notification,
        alert_index: Some(0),
        fingerprint: "d284efc389a5bf32".to_owned(),
        labels,
        status: "firing".to_owned(),
        starts_at: "2026-11-21T07:38:36.123Z".to_owned(),
        group_key: "{}/{}:{alertname=\"KubePodCrashLooping\"}".to_owned(),
        receiver: "alertrun".to_owned(),
        dedupe_key: format!("delete-crashlooping-pod/{id:016x}@2026-11-21T07:38:36.123Z"),
        state: RunState::Queued,
        reason: None,
        created_at: 1_764_000_000_000,
        started_at: None,
        ended_at: None,
        exit: None,
        ended_by: None,
        stdout: String::new(),
        stderr: String::new(),
        argv: vec![
            "kubectl".to_owned(),
            "delete".to_owned(),
            "pod".to_owned(),
            "--namespace=shop".to_owned(),
            "--".to_owned(),
            "web-7d9f-x2x1q".to_owned(),
        ],
        env,
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

/// `per_commit` intakes merged into one batch, ids from `next`.
fn intake_batch(next: &mut u64, per_commit: usize) -> Batch {
    let body: Arc<[u8]> = Arc::from(BODY);
    let mut batch = Batch::default();
    for _ in 0..per_commit {
        let notification = *next;
        let id = *next + 1;
        *next += 2;
        let run = run(id, notification);
        batch
            .dedupe
            .push((run.dedupe_key.clone(), DedupeEntry::at(1_764_000_000_000)));
        batch.notifications.push((notification, Arc::clone(&body)));
        batch.runs.push(run);
    }
    batch
}

struct Figures {
    median: Duration,
    p90: Duration,
    per_second: f64,
    bytes_per_run: f64,
}

fn summarise(mut times: Vec<Duration>, total: Duration, runs: usize, bytes: u64) -> Figures {
    times.sort();
    Figures {
        median: times[times.len() / 2],
        p90: times[times.len() * 9 / 10],
        per_second: times.len() as f64 / total.as_secs_f64(),
        bytes_per_run: bytes as f64 / runs as f64,
    }
}

fn store_case(commits: usize, per_commit: usize) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let size = || {
        std::fs::metadata(dir.path().join("alertrun.redb"))
            .unwrap()
            .len()
    };
    // An empty store's size as closed: an open file is larger (redb shrinks it on close), so
    // measured open, a small store came out smaller than nothing.
    drop(Store::open(dir.path()).unwrap());
    let before = size();
    let store = Store::open(dir.path()).unwrap();
    let mut next = 1;
    let mut times = Vec::with_capacity(commits);
    let all = Instant::now();
    for _ in 0..commits {
        let batch = intake_batch(&mut next, per_commit);
        let t = Instant::now();
        store.commit(&batch).unwrap();
        times.push(t.elapsed());
    }
    let total = all.elapsed();
    // Closed, every commit is in redb's file (the journal beside it is a fixed 2 MiB).
    drop(store);
    summarise(times, total, commits * per_commit, size() - before)
}

/// The floor: the same bytes (the body and the run's JSON) appended, then `fdatasync`.
fn append_case(commits: usize, per_commit: usize) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let mut next = 1;
    let mut times = Vec::with_capacity(commits);
    let all = Instant::now();
    for _ in 0..commits {
        let batch = intake_batch(&mut next, per_commit);
        let t = Instant::now();
        let mut bytes = Vec::new();
        for ((_, body), run) in batch.notifications.iter().zip(&batch.runs) {
            bytes.extend_from_slice(body);
            serde_json::to_writer(&mut bytes, run).unwrap();
        }
        file.write_all(&bytes).unwrap();
        file.sync_data().unwrap();
        times.push(t.elapsed());
    }
    let total = all.elapsed();
    let len = std::fs::metadata(&path).unwrap().len();
    summarise(times, total, commits * per_commit, len)
}

fn main() {
    let commits: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    println!("{commits} commits per case; body {} B", BODY.len());
    println!(
        "{:<34} {:>9} {:>9} {:>10} {:>12}",
        "case", "p50 µs", "p90 µs", "commits/s", "file B/run"
    );
    for per_commit in [1, 6, 16] {
        for (name, figures) in [
            ("store commit", store_case(commits, per_commit)),
            (
                "append + fdatasync (floor)",
                append_case(commits, per_commit),
            ),
        ] {
            println!(
                "{:<34} {:>9.0} {:>9.0} {:>10.0} {:>12.0}",
                format!("{name}, {per_commit} intake(s)"),
                figures.median.as_secs_f64() * 1e6,
                figures.p90.as_secs_f64() * 1e6,
                figures.per_second,
                figures.bytes_per_run
            );
        }
    }
}
