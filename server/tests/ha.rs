//! `server.ha` with real replicas: three `alertrun serve` processes share one Kubernetes API
//! server and receive every notification two or three times at once, as a Service in front
//! of them and an Alertmanager HA pair would deliver it; each episode must run exactly once,
//! for process and Job actions. Then an owner is killed (`kill -9`) mid-run and the others
//! must do what its rule's `on_owner_lost` says; and an unreachable API must refuse (503),
//! never run unclaimed.
//!
//! The API server is [`KubeApi`], the loopback server of `support/kube_api.rs`: no cluster
//! runs here, and these scenarios need the API's optimistic concurrency across several
//! clients (one create wins; an update at a stale resourceVersion is refused), which that
//! server implements as the API documents it (`tests/kube_api_stub.rs` holds it to that with
//! the real client).
//!
//! The same scenarios run against a real cluster, opt in (`--ignored`): the `real_cluster_`
//! tests use the current context of `KUBECONFIG` and the namespace
//! `ALERTRUN_TEST_NAMESPACE` (default `default`), where the account needs the Lease calls of
//! `alertrun::HA_API_CALLS` and the Job backend's; Job actions pull `busybox:1.36`. Episodes
//! are made fresh for each run (a nonce in their labels), so old claims never meet them:
//!
//! ```text
//! kind create cluster
//! KUBECONFIG=~/.kube/config cargo test -p alertrun --test ha -- --ignored
//! ```

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alertrun::testing::{self, AlertBuilder, NotificationBuilder};
use serde_json::Value;
use support::history::{all_runs, json_of, post_json, run_label, run_state};
use support::kube_api::KubeApi;
use support::{Alertrun, wait_for};

/// The claims' (and Jobs') namespace on the loopback API server.
const NS: &str = "alertrun";
/// How long a test waits for what the replicas do within seconds.
const WAIT: Duration = Duration::from_secs(30);

/// A replica's config: `replica` named, a 3 s lease, a process rule appending
/// `<seq> <replica>` to `log` (argv, no shell), a slow one per `on_owner_lost` policy, and a
/// Job rule.
fn config(dir: &Path, replica: &str, log: &Path, ns: &str) -> PathBuf {
    let script = dir.join("record.sh");
    if !script.exists() {
        // $1: what happened (start/end); $2: the seq; $3: the replica; $4: seconds to sleep.
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"start $2 $3\" >> {log}\nsleep \"$4\"\necho \"end $2 $3\" >> {log}\n",
                log = log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = dir.join(format!("{replica}.yaml"));
    let script = script.display();
    std::fs::write(
        &path,
        format!(
            r#"server:
  ha: {{mode: kubernetes, namespace: {ns}, lease_duration: 3s, replica: {replica}, url: "http://{replica}.invalid:9095"}}
defaults: {{namespace: {ns}}}
rules:
  - name: quick
    match: ['alertname="Quick"', 'seq=~"[0-9]+"']
    action: {{process: {{command: [{script}, run, "$(ALERTRUN_LABEL_seq)", {replica}, "0"]}}}}
  - name: slow-rerun
    match: ['alertname="SlowRerun"', 'seq=~"[0-9]+"']
    on_owner_lost: rerun
    timeout: 2m
    action: {{process: {{command: [{script}, run, "$(ALERTRUN_LABEL_seq)", {replica}, "60"]}}}}
  - name: slow-record
    match: ['alertname="SlowRecord"', 'seq=~"[0-9]+"']
    timeout: 2m
    action: {{process: {{command: [{script}, run, "$(ALERTRUN_LABEL_seq)", {replica}, "60"]}}}}
  - name: job
    match: ['alertname="JobAlert"']
    action: {{kubernetes: {{image: "busybox:1.36", command: [/bin/true]}}}}
"#
        ),
    )
    .unwrap();
    path
}

/// The API server the replicas share: the loopback one, or a real cluster's.
enum Cluster {
    Stub(KubeApi),
    Real { namespace: String },
}

impl Cluster {
    fn namespace(&self) -> String {
        match self {
            Self::Stub(_) => NS.to_owned(),
            Self::Real { namespace } => namespace.clone(),
        }
    }

    /// The `KUBECONFIG` a replica gets (the loopback server's, written in `dir`), or none:
    /// the test's own environment.
    fn kubeconfig(&self, dir: &Path) -> Option<PathBuf> {
        match self {
            Self::Stub(api) => Some(api.kubeconfig(dir, NS)),
            Self::Real { .. } => None,
        }
    }

    /// Every Lease of the namespace, by name.
    fn leases(&self) -> BTreeMap<String, Value> {
        match self {
            Self::Stub(api) => api.leases(NS),
            Self::Real { namespace } => real(async {
                let client = kube::Client::try_default().await.unwrap();
                let api: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
                    kube::Api::namespaced(client, namespace);
                let list = api
                    .list(
                        &kube::api::ListParams::default()
                            .labels("app.kubernetes.io/managed-by=alertrun"),
                    )
                    .await
                    .unwrap();
                list.items
                    .into_iter()
                    .map(|l| {
                        let mut v = serde_json::to_value(&l).unwrap();
                        v["apiVersion"] = "coordination.k8s.io/v1".into();
                        (l.metadata.name.unwrap_or_default(), v)
                    })
                    .collect()
            }),
        }
    }

    fn lease(&self, name: &str) -> Option<Value> {
        self.leases().remove(name)
    }

    /// How many Jobs of `rule` the cluster created.
    fn job_creates(&self, rule: &str) -> usize {
        match self {
            Self::Stub(api) => api
                .seen_with("POST")
                .iter()
                .filter(|s| {
                    s.target.contains("/jobs")
                        && s.status == 201
                        && s.body["metadata"]["name"]
                            .as_str()
                            .is_some_and(|n| n.starts_with(&format!("ar-{rule}-")))
                })
                .count(),
            Self::Real { namespace } => real(async {
                let client = kube::Client::try_default().await.unwrap();
                let api: kube::Api<k8s_openapi::api::batch::v1::Job> =
                    kube::Api::namespaced(client, namespace);
                let list = api.list(&kube::api::ListParams::default()).await.unwrap();
                list.items
                    .iter()
                    .filter(|j| {
                        j.metadata
                            .name
                            .as_deref()
                            .is_some_and(|n| n.starts_with(&format!("ar-{rule}-")))
                    })
                    .count()
            }),
        }
    }
}

/// Runs `f` on a runtime of its own (the tests are synchronous).
fn real<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Three replicas r0, r1, r2 on one API server, their actions logging to one file.
struct Replicas {
    api: Cluster,
    /// Added to every `seq`, so that episodes are fresh in a real cluster.
    base: usize,
    servers: Vec<Option<Alertrun>>,
    /// Each replica's config and `KUBECONFIG`, to restart it.
    starts: Vec<(PathBuf, Option<PathBuf>)>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Replicas {
    /// On the loopback API server.
    fn stub() -> Self {
        Self::start(Cluster::Stub(KubeApi::start()), 0)
    }

    /// On the real cluster of `KUBECONFIG`, with fresh episodes.
    fn real_cluster() -> Self {
        let namespace =
            std::env::var("ALERTRUN_TEST_NAMESPACE").unwrap_or_else(|_| "default".into());
        let nonce = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as usize;
        Self::start(Cluster::Real { namespace }, (nonce % 1_000_000) * 10_000)
    }

    fn start(api: Cluster, base: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("actions.log");
        std::fs::write(&log, "").unwrap();
        let starts: Vec<(PathBuf, Option<PathBuf>)> = (0..3)
            .map(|i| {
                let replica = format!("r{i}");
                let home = dir.path().join(&replica);
                std::fs::create_dir_all(&home).unwrap();
                let kubeconfig = api.kubeconfig(&home);
                (
                    config(dir.path(), &replica, &log, &api.namespace()),
                    kubeconfig,
                )
            })
            .collect();
        let servers = starts
            .iter()
            .map(|(config, kubeconfig)| Some(Alertrun::start(config, &envs(kubeconfig.as_ref()))))
            .collect();
        Self {
            api,
            base,
            servers,
            starts,
            log,
            _dir: dir,
        }
    }

    /// Stops replica `i` (SIGTERM) and starts it again on its state.
    fn restart(&mut self, i: usize) {
        let state = self.servers[i].take().unwrap().into_state_dir();
        let (config, kubeconfig) = &self.starts[i];
        self.servers[i] = Some(Alertrun::start_in(
            config,
            &envs(kubeconfig.as_ref()),
            state,
        ));
    }

    fn addr(&self, i: usize) -> SocketAddr {
        self.servers[i].as_ref().unwrap().addr
    }

    fn live(&self) -> Vec<usize> {
        (0..self.servers.len())
            .filter(|i| self.servers[*i].is_some())
            .collect()
    }

    /// The lines of the actions' log: (event, seq, replica).
    fn actions(&self) -> Vec<(String, String, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(|l| {
                let mut parts = l.split(' ').map(str::to_owned);
                (
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// How many times `seq` started, by replica.
    fn starts(&self, seq: usize) -> BTreeMap<String, usize> {
        let seq = (self.base + seq).to_string();
        let mut by = BTreeMap::new();
        for (event, s, replica) in self.actions() {
            if event == "start" && s == seq {
                *by.entry(replica).or_insert(0) += 1;
            }
        }
        by
    }

    /// Every replica's runs.
    fn runs(&self) -> Vec<(usize, Value)> {
        self.live()
            .into_iter()
            .flat_map(|i| all_runs(self.addr(i), "").into_iter().map(move |r| (i, r)))
            .collect()
    }
}

/// The environment a replica gets: its `KUBECONFIG`, if it has one of its own.
fn envs(kubeconfig: Option<&PathBuf>) -> Vec<(&'static str, &std::ffi::OsStr)> {
    kubeconfig
        .iter()
        .map(|k| ("KUBECONFIG", k.as_os_str()))
        .collect()
}

fn notification(replicas: &Replicas, alertname: &str, seq: usize) -> Value {
    let seq = replicas.base + seq;
    NotificationBuilder::new()
        .alerts([AlertBuilder::firing(testing::labels(&[
            ("alertname", alertname),
            ("seq", &seq.to_string()),
        ]))])
        .to_json()
}

/// Posts `body` to every replica in `to` at once; the statuses, in order.
fn post_to_all(replicas: &Replicas, to: &[usize], body: &Value) -> Vec<u16> {
    let handles: Vec<_> = to
        .iter()
        .map(|i| {
            let addr = replicas.addr(*i);
            let body = body.clone();
            thread::spawn(move || {
                let resp = post_json(addr, "/webhook", &body).expect("POST /webhook");
                let status = resp.status();
                assert!(
                    status == 200 || status == 503,
                    "unexpected {status}: {}",
                    json_of(&resp)
                );
                status
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn three_replicas_receiving_every_notification_twice_run_each_episode_once() {
    every_episode_once(&Replicas::stub());
}

#[test]
#[ignore = "needs a cluster: KUBECONFIG (see the module docs)"]
fn real_cluster_three_replicas_receiving_every_notification_twice_run_each_episode_once() {
    every_episode_once(&Replicas::real_cluster());
}

fn every_episode_once(replicas: &Replicas) {
    const N: usize = 24;
    // Every notification to two or three replicas at once, several notifications in flight.
    let senders: Vec<_> = (0..N)
        .map(|seq| {
            let to: Vec<usize> = if seq % 3 == 0 {
                vec![0, 1, 2]
            } else {
                vec![seq % 3, (seq + 1) % 3]
            };
            let body = notification(replicas, "Quick", seq);
            let job = notification(replicas, "JobAlert", seq);
            (to, body, job)
        })
        .collect();
    thread::scope(|s| {
        for (to, body, job) in &senders {
            s.spawn(move || {
                for status in post_to_all(replicas, to, body) {
                    assert_eq!(status, 200);
                }
                for status in post_to_all(replicas, to, job) {
                    assert_eq!(status, 200);
                }
            });
        }
    });
    // Every process episode ran, each exactly once.
    wait_for("every episode's action ended", WAIT, || {
        let ended = replicas
            .actions()
            .iter()
            .filter(|(e, _, _)| e == "end")
            .count();
        (ended >= N).then_some(())
    });
    thread::sleep(Duration::from_secs(1));
    for seq in 0..N {
        let starts = replicas.starts(seq);
        assert_eq!(
            starts.values().sum::<usize>(),
            1,
            "episode {seq} ran {starts:?}"
        );
    }
    // Each replica recorded what it did: one run per episode that ran, the others skipped
    // with the owner named; and the owner's claim is finished.
    let runs = wait_for("every run ended", WAIT, || {
        let runs = replicas.runs();
        runs.iter()
            .all(|(_, r)| ["succeeded", "skipped"].contains(&run_state(r)))
            .then_some(runs)
    });
    // Every Job episode was created once in the cluster (the API saw one create each).
    let job_creates = replicas.api.job_creates("job");
    assert_eq!(job_creates, N, "one Job per episode");
    for seq in 0..N {
        for rule in ["quick", "job"] {
            let mine: Vec<&(usize, Value)> = runs
                .iter()
                .filter(|(_, r)| {
                    r["rule"] == rule && run_label(r, "seq") == (replicas.base + seq).to_string()
                })
                .collect();
            let ran: Vec<&&(usize, Value)> = mine
                .iter()
                .filter(|(_, r)| run_state(r) != "skipped")
                .collect();
            assert_eq!(ran.len(), 1, "{rule} {seq}: {mine:#?}");
            let owner = format!("r{}", ran[0].0);
            for (_, r) in &mine {
                assert_eq!(r["claim"]["replica"], owner.as_str(), "{r:#}");
                if run_state(r) == "skipped" {
                    let reason = r["reason"].as_str().unwrap();
                    assert!(
                        reason.starts_with(&format!("claimed by replica {owner}")),
                        "{reason}"
                    );
                    assert_eq!(r["claim"]["url"], format!("http://{owner}.invalid:9095"));
                }
            }
            let claim = replicas
                .api
                .lease(ran[0].1["claim"]["name"].as_str().unwrap())
                .expect("the claim exists");
            assert_eq!(claim["spec"]["holderIdentity"], owner.as_str());
            wait_for(
                "the claim is marked finished",
                Duration::from_secs(5),
                || {
                    let claim = replicas
                        .api
                        .lease(ran[0].1["claim"]["name"].as_str().unwrap())?;
                    (claim["metadata"]["annotations"]["alertrun.io/state"] == "finished")
                        .then_some(())
                },
            );
        }
    }
    // Each replica says its role; exactly one is the housekeeper.
    let leaders = wait_for("one housekeeper", WAIT, || {
        let roles: Vec<Value> = replicas
            .live()
            .into_iter()
            .map(|i| {
                let (status, body) = support::history::get_json(replicas.addr(i), "/api/v1/status");
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["ha"]["replica"], format!("r{i}"));
                assert_eq!(body["ha"]["lease_duration_seconds"], 3);
                body["ha"].clone()
            })
            .collect();
        let leaders = roles.iter().filter(|r| r["leader"] == true).count();
        (leaders == 1).then_some(leaders)
    });
    assert_eq!(leaders, 1);
    // Any replica lists every claim, with its holder (history across replicas).
    let (status, claims) = support::history::get_json(replicas.addr(1), "/api/v1/claims");
    assert_eq!(status, 200, "{claims}");
    let names: Vec<&str> = claims["claims"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for (_, r) in &runs {
        let name = r["claim"]["name"].as_str().unwrap();
        assert!(names.contains(&name), "{name} listed");
    }
    assert_eq!(claims["replica"], "r1");
}

/// Posts a slow episode of `alertname` to all three replicas, waits for it to start, kills
/// the owner with SIGKILL (and its action, as a pod's death would), and returns the owner.
fn kill_the_owner(replicas: &mut Replicas, alertname: &str, seq: usize) -> String {
    let body = notification(replicas, alertname, seq);
    for status in post_to_all(replicas, &[0, 1, 2], &body) {
        assert_eq!(status, 200);
    }
    let owner = wait_for("the slow action started", WAIT, || {
        replicas.starts(seq).keys().next().cloned()
    });
    let i: usize = owner[1..].parse().unwrap();
    let mut server = replicas.servers[i].take().unwrap();
    let pid = server.pid();
    server.kill();
    // The pod's other processes die with it: its action too.
    let _ = std::process::Command::new("pkill")
        .args([
            "-KILL",
            "-f",
            &format!("run {} {owner} 60", replicas.base + seq),
        ])
        .status();
    let _ = pid;
    owner
}

#[test]
fn killing_the_owner_mid_run_reruns_the_episode_on_another_replica_under_rerun() {
    owner_lost_rerun(Replicas::stub());
}

#[test]
#[ignore = "needs a cluster: KUBECONFIG (see the module docs)"]
fn real_cluster_killing_the_owner_mid_run_reruns_the_episode_under_rerun() {
    owner_lost_rerun(Replicas::real_cluster());
}

fn owner_lost_rerun(mut replicas: Replicas) {
    let owner = kill_the_owner(&mut replicas, "SlowRerun", 1001);
    // Within a lease (3 s) and a renewal period, one other replica takes it over and runs it.
    let starts = wait_for("another replica ran the episode again", WAIT, || {
        let starts = replicas.starts(1001);
        (starts.values().sum::<usize>() >= 2).then_some(starts)
    });
    thread::sleep(Duration::from_secs(4));
    let starts_after = replicas.starts(1001);
    assert_eq!(starts_after, starts, "nothing more ran");
    assert_eq!(starts.get(&owner), Some(&1));
    assert_eq!(
        starts.len(),
        2,
        "exactly one other replica took over: {starts:?}"
    );
    let taker = starts.keys().find(|r| **r != owner).unwrap().clone();
    let runs = replicas.runs();
    let taken: Vec<&(usize, Value)> = runs
        .iter()
        .filter(|(_, r)| {
            r["reason"]
                .as_str()
                .is_some_and(|t| t.starts_with(&format!("taken over from replica {owner}")))
        })
        .collect();
    assert_eq!(taken.len(), 1, "{runs:#?}");
    assert_eq!(format!("r{}", taken[0].0), taker);
    let name = taken[0].1["claim"]["name"].as_str().unwrap();
    let claim = replicas.api.lease(name).unwrap();
    assert_eq!(claim["spec"]["holderIdentity"], taker.as_str());
    assert_eq!(claim["spec"]["leaseTransitions"], 1);
}

#[test]
fn a_replica_that_restarts_keeps_watching_the_episodes_it_lost_and_takes_them_over() {
    let mut replicas = Replicas::stub();
    // Only r0 and r1 see the episode.
    let body = notification(&replicas, "SlowRerun", 4004);
    for status in post_to_all(&replicas, &[0, 1], &body) {
        assert_eq!(status, 200);
    }
    let owner = wait_for("the slow action started", WAIT, || {
        replicas.starts(4004).keys().next().cloned()
    });
    let watcher: usize = if owner == "r0" { 1 } else { 0 };
    // The watcher restarts (its watch is in its store), then the owner dies.
    replicas.restart(watcher);
    let i: usize = owner[1..].parse().unwrap();
    replicas.servers[i].take().unwrap().kill();
    let _ = std::process::Command::new("pkill")
        .args(["-KILL", "-f", &format!("run 4004 {owner} 60")])
        .status();
    let starts = wait_for("the restarted watcher ran it again", WAIT, || {
        let starts = replicas.starts(4004);
        (starts.values().sum::<usize>() >= 2).then_some(starts)
    });
    assert_eq!(starts.get(&format!("r{watcher}")), Some(&1), "{starts:?}");
    assert_eq!(starts.values().sum::<usize>(), 2, "{starts:?}");
}

#[test]
fn killing_the_owner_mid_run_records_it_orphaned_under_record_and_nothing_reruns() {
    owner_lost_record(Replicas::stub());
}

#[test]
#[ignore = "needs a cluster: KUBECONFIG (see the module docs)"]
fn real_cluster_killing_the_owner_mid_run_records_it_orphaned_under_record() {
    owner_lost_record(Replicas::real_cluster());
}

fn owner_lost_record(mut replicas: Replicas) {
    let owner = kill_the_owner(&mut replicas, "SlowRecord", 2002);
    let seq = (replicas.base + 2002).to_string();
    let name = replicas
        .runs()
        .into_iter()
        .find(|(_, r)| run_label(r, "seq") == seq)
        .and_then(|(_, r)| r["claim"]["name"].as_str().map(str::to_owned))
        .expect("a surviving replica recorded the episode with its claim");
    let claim = wait_for("the claim is recorded orphaned", WAIT, || {
        replicas
            .api
            .lease(&name)
            .filter(|c| c["metadata"]["annotations"]["alertrun.io/state"] == "orphaned")
    });
    assert_eq!(claim["spec"]["holderIdentity"], owner.as_str());
    let runs = wait_for("a replica recorded the episode interrupted", WAIT, || {
        let runs = replicas.runs();
        runs.iter()
            .any(|(_, r)| {
                run_state(r) == "interrupted"
                    && r["reason"].as_str().is_some_and(|t| {
                        t.contains(&format!("replica {owner}, which ran it, was lost"))
                    })
            })
            .then_some(runs)
    });
    thread::sleep(Duration::from_secs(4));
    assert_eq!(
        replicas.starts(2002).values().sum::<usize>(),
        1,
        "nobody ran it again: {runs:#?}"
    );
}

#[test]
fn an_unreachable_api_is_answered_503_and_nothing_runs_until_it_is_back() {
    let replicas = Replicas::stub();
    let Cluster::Stub(api) = &replicas.api else {
        unreachable!()
    };
    api.set_unavailable(true);
    let body = notification(&replicas, "Quick", 3003);
    for status in post_to_all(&replicas, &[0, 1], &body) {
        assert_eq!(status, 503, "never run without a claim");
    }
    thread::sleep(Duration::from_millis(500));
    assert!(replicas.starts(3003).is_empty());
    // Alertmanager retries; the API is back: it runs once.
    api.set_unavailable(false);
    for status in post_to_all(&replicas, &[0, 1], &body) {
        assert_eq!(status, 200);
    }
    wait_for("the episode ran", WAIT, || {
        (replicas.starts(3003).values().sum::<usize>() == 1).then_some(())
    });
    thread::sleep(Duration::from_secs(1));
    assert_eq!(replicas.starts(3003).values().sum::<usize>(), 1);
}
