//! What `server.ha` costs: intake with HA on against the same server with it off, and the
//! latency of one claim, on the loopback Kubernetes API server of the tests
//! (`tests/support/kube_api.rs`: a Rust thread-per-connection server on 127.0.0.1, far
//! quicker than a real API server, whose Lease create waits for an etcd commit; the
//! figures here are the floor of the cost, dominated by alertrun's own side).
//!
//! ```text
//! cargo bench -p alertrun --bench ha_intake            # 2000 notifications per round
//! cargo bench -p alertrun --bench ha_intake -- 500     # fewer
//! ```
//!
//! Each round starts one `alertrun serve` (durable, the release binary), posts N
//! notifications from 16 keep-alive connections, each a new alert that a process rule
//! (`/bin/true`) runs (so with HA on each is one claim: a Lease create, and later its
//! renewals and its end), and measures notifications per second and the latency of the
//! answers; with HA on, the server's own `alertrun_ha_claim_duration_seconds` gives the
//! mean claim latency. Rounds alternate off, on, off, on, off, on; the medians and the
//! ratio on/off are printed; then one round with HA on from a single connection, one
//! notification at a time, gives a claim's latency without queueing.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    reason = "a benchmark: a failed unwrap is a failed run, and figures are approximate"
)]

#[path = "../tests/support/mod.rs"]
#[allow(unreachable_pub, reason = "the tests' kit, of which this uses a part")]
mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use alertrun::testing::{self, AlertBuilder, NotificationBuilder};
use support::Alertrun;
use support::kube_api::KubeApi;

const CONNECTIONS: usize = 16;

fn config(dir: &Path, ha: bool) -> PathBuf {
    let path = dir.join(if ha { "ha.yaml" } else { "single.yaml" });
    let ha = if ha {
        "  ha: {mode: kubernetes, namespace: bench, lease_duration: 15s, replica: b0}\n"
    } else {
        ""
    };
    std::fs::write(
        &path,
        format!(
            "server:\n  queue: {{max_running: 16, max_queued: 100000}}\n{ha}\
             rules:\n  - name: bench\n    match: ['alertname=\"Bench\"']\n    \
             action: {{process: {{command: [/bin/true]}}}}\n"
        ),
    )
    .unwrap();
    path
}

fn body(round: usize, seq: usize) -> String {
    let seq = format!("{round}-{seq}");
    NotificationBuilder::new()
        .alerts([AlertBuilder::firing(testing::labels(&[
            ("alertname", "Bench"),
            ("seq", &seq),
        ]))])
        .to_json()
        .to_string()
}

/// What one round measured.
struct Round {
    /// Notifications per second.
    rate: f64,
    /// Answer latency, p50 (ms).
    p50: f64,
    /// Answer latency, p99 (ms).
    p99: f64,
    /// The mean claim latency (ms), when HA is on.
    claim: Option<f64>,
}

/// One round of `n` notifications, HA on or off.
fn round(
    api: &KubeApi,
    dir: &Path,
    ha: bool,
    n: usize,
    round_no: usize,
    connections: usize,
) -> Round {
    let home = dir.join(format!("r{round_no}"));
    std::fs::create_dir_all(&home).unwrap();
    let kubeconfig = api.kubeconfig(&home, "bench");
    let server = Alertrun::start(&config(dir, ha), &[("KUBECONFIG", kubeconfig.as_os_str())]);
    let url = format!("http://{}/webhook", server.addr);
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let latencies: Vec<Vec<f64>> = thread::scope(|s| {
        let handles: Vec<_> = (0..connections)
            .map(|_| {
                let next = Arc::clone(&next);
                let url = url.clone();
                s.spawn(move || {
                    let agent = ureq::Agent::new_with_defaults();
                    let mut mine = Vec::new();
                    loop {
                        let seq = next.fetch_add(1, Ordering::Relaxed);
                        if seq >= n {
                            return mine;
                        }
                        let t = Instant::now();
                        let answer = agent
                            .post(&url)
                            .header("Content-Type", "application/json")
                            .send(body(round_no, seq))
                            .unwrap();
                        assert_eq!(answer.status(), 200);
                        mine.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let took = began.elapsed().as_secs_f64();
    let mut all: Vec<f64> = latencies.into_iter().flatten().collect();
    all.sort_by(f64::total_cmp);
    let claim = ha.then(|| {
        let metrics = ureq::get(&format!("http://{}/metrics", server.addr))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        let value = |name: &str| {
            metrics
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let sum = value("alertrun_ha_claim_duration_seconds_sum");
        let count = value("alertrun_ha_claim_duration_seconds_count");
        sum / count.max(1.0) * 1000.0
    });
    drop(server);
    Round {
        rate: n as f64 / took,
        p50: all[all.len() / 2],
        p99: all[all.len() * 99 / 100],
        claim,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let api = KubeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let mut off = Vec::new();
    let mut on = Vec::new();
    for i in 0..6 {
        let ha = i % 2 == 1;
        let r = round(&api, dir.path(), ha, n, i, CONNECTIONS);
        println!(
            "round {i}: ha {:<3}  {:>8.0} notifications/s  p50 {:>6.2} ms  p99 {:>6.2} ms{}",
            if ha { "on" } else { "off" },
            r.rate,
            r.p50,
            r.p99,
            r.claim
                .map(|c| format!("  claim {c:.3} ms"))
                .unwrap_or_default()
        );
        if ha { on.push(r) } else { off.push(r) }
    }
    let med = |v: &[Round], f: fn(&Round) -> f64| median(v.iter().map(f).collect());
    let (off_rate, on_rate) = (med(&off, |r| r.rate), med(&on, |r| r.rate));
    println!(
        "\nmedians of 3 ({n} notifications each, {CONNECTIONS} connections, a new episode each):"
    );
    println!(
        "  ha off: {off_rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        med(&off, |r| r.p50),
        med(&off, |r| r.p99)
    );
    println!(
        "  ha on:  {on_rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms, mean claim {:.3} ms",
        med(&on, |r| r.p50),
        med(&on, |r| r.p99),
        med(&on, |r| r.claim.unwrap_or(0.0))
    );
    println!("  on/off: {:.2}x", on_rate / off_rate);
    // One connection, one notification at a time: a claim's latency without queueing.
    let alone = round(&api, dir.path(), true, (n / 10).max(50), 6, 1);
    println!(
        "  one at a time, ha on: {:.0}/s, p50 {:.2} ms, mean claim {:.3} ms",
        alone.rate,
        alone.p50,
        alone.claim.unwrap_or(0.0)
    );
}
