//! End to end with the real Alertmanager (Debian's `prometheus-alertmanager`, 0.25): it
//! delivers its webhook to `alertrun serve` through a recording tap (tests/support/tap.rs),
//! and every action is the recorder program, which writes down its argv, env and stdin, and
//! the signal that ended it.
//!
//! One Alertmanager and one alertrun serve every scenario, to keep the wall time short:
//! - a firing alert runs its rule's command once, with the env contract, Alertmanager's
//!   fingerprint, a hostile label value as one argv element, and the alert JSON on stdin;
//!   an alert no rule matches runs nothing;
//! - Alertmanager's repeat notifications (repeat_interval 2s) run nothing again;
//! - a per-group rule runs once per group state, with the alert count;
//! - resolving an alert stops its still-running action with SIGTERM, and an `on: resolved`
//!   rule runs once;
//! - SIGTERM stops alertrun with exit status 0, after it stopped the actions still running.
//!
//! Without Alertmanager or python3 the test prints why and passes, unless `CI` is set.
//! Deadlines are generous and nothing asserts speed.

mod support;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;
use std::thread;
use std::time::{Duration, SystemTime};

use alert_core::env;
use serde_json::{Value, json};
use support::{
    Alertmanager, Alertrun, Delivery, Record, Recorder, Tap, Timing, alert, find_python,
    require_tool, wait_for, webhook_config,
};
use tempfile::TempDir;

const FIRE: &str = "E2eFire";
const GROUP: &str = "E2eGroup";
const SLOW: &str = "E2eSlow";
const IGNORED: &str = "E2eIgnored";
const GROUP_INSTANCES: [&str; 3] = ["db-1", "db-2", "db-3"];

/// How long to wait for something that should take a second or two.
const WAIT: Duration = Duration::from_secs(20);
/// After the last delivery that matters: time for a wrongly queued run to show up.
const SETTLE: Duration = Duration::from_millis(1500);
/// An environment variable alertrun has and its actions must not see.
const CANARY: &str = "E2E_CANARY_NOT_FOR_ACTIONS";

/// Field order is drop order: Alertmanager stops first, then alertrun (which stops its
/// actions), then the tap; the directory goes last.
struct Scenario {
    am: Alertmanager,
    alertrun: Alertrun,
    tap: Tap,
    recorder: Recorder,
    dir: TempDir,
    starts: SystemTime,
    hostile: String,
}

#[test]
fn real_alertmanager_drives_alertrun_end_to_end() {
    let Some(am_binary) = support::require_alertmanager() else {
        return;
    };
    let Some(python) = require_tool("python3", find_python(), "apt-get install python3") else {
        return;
    };
    let mut s = Scenario::start(&am_binary, &python);
    s.post_alerts();
    s.check_firing_runs();
    s.check_ignored_alert();
    s.check_repeats_run_nothing();
    s.check_group_run();
    s.check_resolve();
    s.check_shutdown();
}

impl Scenario {
    fn start(am_binary: &Path, python: &Path) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("alertrun-e2e.")
            .tempdir()
            .expect("create a temp dir");
        let recorder = Recorder::install(dir.path(), python);
        let config = dir.path().join("alertrun.yaml");
        let rules = alertrun_config(&recorder);
        let rules = serde_json::to_string_pretty(&rules).expect("the config serialises");
        std::fs::write(&config, rules).expect("write the alertrun config");
        let alertrun = Alertrun::start(
            &config,
            &[
                ("HOME", dir.path().as_os_str()),
                (CANARY, OsStr::new("leaked")),
            ],
        );
        let tap = Tap::start(alertrun.addr);
        let timing = Timing {
            group_wait: "1s",
            group_interval: "1s",
            repeat_interval: "2s",
        };
        let am_config = webhook_config(&tap.url("/webhook"), &["alertname"], timing);
        let am = Alertmanager::start(am_binary, &dir.path().join("am"), &am_config);
        let hostile = format!("x; touch {}/pwned $(HOME)", dir.path().display());
        Self {
            am,
            alertrun,
            tap,
            recorder,
            dir,
            starts: SystemTime::now() - Duration::from_millis(100),
            hostile,
        }
    }

    fn fire_labels(&self, instance: &str) -> Value {
        json!({"alertname": FIRE, "instance": instance, "severity": "critical"})
    }

    fn slow_alert(&self, instance: &str, ends: SystemTime) -> Value {
        alert(
            &[("alertname", SLOW), ("instance", instance)],
            &[],
            self.starts,
            ends,
        )
    }

    /// Posts every alert of the scenario in one request, firing for five minutes.
    fn post_alerts(&self) {
        let ends = SystemTime::now() + Duration::from_secs(300);
        let summary = [("summary", "disk almost full")];
        let mut alerts = vec![
            alert(
                &labels(&self.fire_labels(&self.hostile)),
                &summary,
                self.starts,
                ends,
            ),
            alert(
                &labels(&self.fire_labels("node-2:9100")),
                &summary,
                self.starts,
                ends,
            ),
            alert(
                &[("alertname", IGNORED), ("instance", "node-3:9100")],
                &[],
                self.starts,
                ends,
            ),
            self.slow_alert("slow-1", ends),
            self.slow_alert("slow-2", ends),
        ];
        for instance in GROUP_INSTANCES {
            let labels = [
                ("alertname", GROUP),
                ("instance", instance),
                ("severity", "page"),
            ];
            alerts.push(alert(&labels, &[("summary", "db down")], self.starts, ends));
        }
        self.am.post_alerts(&alerts);
    }

    /// Each E2eFire alert ran record-firing exactly once, with the env contract.
    fn check_firing_runs(&self) {
        let runs = wait_for("a record-firing run per E2eFire alert", WAIT, || {
            let runs = self.recorder.of("record-firing", "run");
            (runs.len() >= 2).then_some(runs)
        });
        let delivery = self
            .tap
            .group(FIRE)
            .into_iter()
            .next()
            .expect("E2eFire was delivered");
        let instance_var = format!("{}instance", env::LABEL_PREFIX);
        for instance in [self.hostile.as_str(), "node-2:9100"] {
            let mine: Vec<&Record> = runs
                .iter()
                .filter(|r| r.env.get(&instance_var).map(String::as_str) == Some(instance))
                .collect();
            assert_eq!(
                mine.len(),
                1,
                "record-firing runs for {instance:?}: {mine:#?}"
            );
            self.check_fire_run(mine[0], instance, &delivery);
        }
        let pwned = self.dir.path().join("pwned");
        assert!(!pwned.exists(), "a label value ran as a shell command");
    }

    /// One record-firing run: argv, env, stdin, against what Alertmanager delivered.
    fn check_fire_run(&self, run: &Record, instance: &str, delivery: &Delivery) {
        // The hostile value stays one argument; `$$(` gives the literal text.
        let status_ref = format!("$({})", env::STATUS);
        assert_eq!(run.argv, ["--instance", instance, &status_ref], "argv");
        let fingerprint = self.am.fingerprint_of(&self.fire_labels(instance));
        let delivered = delivery
            .alerts()
            .iter()
            .find(|a| a["fingerprint"] == fingerprint.as_str());
        let delivered = delivered
            .unwrap_or_else(|| panic!("delivery has no alert {fingerprint}: {}", delivery.body));
        let text = |v: &Value| v.as_str().unwrap_or("?").to_string();
        let label = |name: &str| format!("{}{name}", env::LABEL_PREFIX);
        let expect = [
            (env::RULE.to_string(), "record-firing".to_string()),
            (env::STATUS.to_string(), "firing".to_string()),
            (env::FINGERPRINT.to_string(), fingerprint.clone()),
            (label("alertname"), FIRE.to_string()),
            (label("severity"), "critical".to_string()),
            (
                format!("{}summary", env::ANNOTATION_PREFIX),
                "disk almost full".to_string(),
            ),
            (env::RECEIVER.to_string(), "alertrun".to_string()),
            (env::GROUP_KEY.to_string(), text(&delivery.body["groupKey"])),
            (env::STARTS_AT.to_string(), text(&delivered["startsAt"])),
            (env::ENDS_AT.to_string(), String::new()),
        ];
        for (name, value) in expect {
            assert_eq!(run.var(&name), value, "{name} of the run for {instance:?}");
        }
        let episode = run.var(env::EPISODE);
        assert!(
            episode.starts_with(&format!("{fingerprint}@")),
            "episode {episode}"
        );
        let stdin: Value = serde_json::from_str(&run.stdin).expect("stdin is JSON");
        assert_eq!(
            &stdin, delivered,
            "stdin is the alert as Alertmanager delivered it"
        );
        let env_json: Value = serde_json::from_str(run.var(env::ALERT_JSON)).expect("JSON");
        assert_eq!(env_json, stdin, "{} equals stdin", env::ALERT_JSON);
        self.check_env_is_contract(run);
    }

    /// The action's env is PATH, pass_env (HOME), the rule's env and the contract: nothing
    /// else of alertrun's environment.
    fn check_env_is_contract(&self, run: &Record) {
        assert_eq!(
            run.var("HOME"),
            self.dir.path().display().to_string(),
            "pass_env HOME"
        );
        assert_eq!(
            run.var("PATH"),
            std::env::var("PATH").unwrap_or_default(),
            "PATH"
        );
        assert_eq!(
            run.var("RECORD_DIR"),
            self.recorder.out_dir().display().to_string()
        );
        // LC_CTYPE: Python sets it itself under the C locale (PEP 538).
        let allowed = ["PATH", "HOME", "LC_CTYPE", "RECORD_DIR", "RECORD_SLEEP"];
        let alien: Vec<&String> = run
            .env
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()) && !k.starts_with("ALERTRUN_"))
            .collect();
        assert!(
            alien.is_empty(),
            "variables outside the contract reached the action: {alien:?}"
        );
    }

    /// The alert no rule matches: delivered, accepted, nothing queued, nothing ran.
    fn check_ignored_alert(&self) {
        let delivery = wait_for("Alertmanager to deliver E2eIgnored", WAIT, || {
            self.tap
                .group(IGNORED)
                .into_iter()
                .find(|d| d.status == 200)
        });
        assert_eq!(
            delivery.queued(),
            Some(0),
            "answer to E2eIgnored: {}",
            delivery.answer
        );
        thread::sleep(SETTLE);
        let label = format!("{}alertname", env::LABEL_PREFIX);
        let ran: Vec<Record> = self
            .recorder
            .records()
            .into_iter()
            .filter(|r| r.env.get(&label).map(String::as_str) == Some(IGNORED))
            .collect();
        assert!(
            ran.is_empty(),
            "an alert no rule matches ran something: {ran:#?}"
        );
    }

    /// Past two repeat notifications of every group, each alert still ran once.
    fn check_repeats_run_nothing(&self) {
        let groups = [FIRE, GROUP, SLOW, IGNORED];
        wait_for(
            "two repeat notifications of every group",
            Duration::from_secs(40),
            || {
                groups
                    .iter()
                    .all(|g| self.tap.group(g).iter().filter(|d| d.status == 200).count() >= 3)
                    .then_some(())
            },
        );
        thread::sleep(SETTLE);
        // E2eGroup's runs depend on its states: see check_group_run.
        for (group, runs) in [(FIRE, 2), (SLOW, 2), (IGNORED, 0)] {
            let deliveries = self.tap.group(group);
            for d in &deliveries {
                assert_eq!(d.status, 200, "alertrun's answer to {group}: {}", d.answer);
            }
            let queued: u64 = deliveries.iter().filter_map(|d| d.queued()).sum();
            let repeats = deliveries.len() - 1;
            assert_eq!(
                queued, runs,
                "runs queued for {group} over {repeats} repeats"
            );
        }
        assert_eq!(
            self.recorder.of("record-firing", "run").len(),
            2,
            "record-firing runs"
        );
        assert_eq!(
            self.recorder.of("slow-firing", "run").len(),
            2,
            "slow-firing runs"
        );
        self.check_alertmanager_counts();
    }

    /// Alertmanager's own counters agree: every webhook notification succeeded.
    fn check_alertmanager_counts(&self) {
        let sent = self.am.metric(
            "alertmanager_notifications_total",
            r#"integration="webhook""#,
        );
        let failed = self.am.metric(
            "alertmanager_notifications_failed_total",
            r#"integration="webhook""#,
        );
        assert!(
            sent >= 12.0,
            "Alertmanager counts {sent} webhook notifications"
        );
        assert!(
            failed == 0.0,
            "Alertmanager counts {failed} failed webhook notifications"
        );
    }

    /// group-summary ran once per state of the E2eGroup group, and once with all three.
    fn check_group_run(&self) {
        let deliveries = self.tap.group(GROUP);
        let states = group_states(&deliveries);
        let runs = self.recorder.of("group-summary", "run");
        assert_eq!(
            runs.len(),
            states.len(),
            "group-summary runs for group states {states:?}"
        );
        let queued: u64 = deliveries.iter().filter_map(|d| d.queued()).sum();
        assert_eq!(queued as usize, states.len(), "runs queued for {GROUP}");
        let full = runs
            .iter()
            .find(|r| r.var(env::ALERT_COUNT) == "3")
            .unwrap_or_else(|| panic!("no group-summary run saw all three alerts: {runs:#?}"));
        let body = &deliveries
            .iter()
            .find(|d| d.alerts().len() == 3)
            .expect("a delivery of E2eGroup holds all three alerts")
            .body;
        self.check_group_env(full, body);
    }

    /// The per-group env, argv and stdin of the run that saw all three alerts.
    fn check_group_env(&self, full: &Record, body: &Value) {
        let group_label = format!("{}alertname", env::GROUP_LABEL_PREFIX);
        let common = |name: &str| format!("{}{name}", env::COMMON_LABEL_PREFIX);
        let expect = [
            (env::STATUS.to_string(), "firing"),
            (env::FIRING_COUNT.to_string(), "3"),
            (env::RESOLVED_COUNT.to_string(), "0"),
            (env::TRUNCATED_ALERTS.to_string(), "0"),
            (
                env::GROUP_KEY.to_string(),
                body["groupKey"].as_str().unwrap_or("?"),
            ),
            (group_label, GROUP),
            (common("alertname"), GROUP),
            (common("severity"), "page"),
            (
                format!("{}summary", env::COMMON_ANNOTATION_PREFIX),
                "db down",
            ),
        ];
        for (name, value) in expect {
            assert_eq!(full.var(&name), value, "{name} of the group-summary run");
        }
        assert_eq!(
            full.argv,
            ["--alerts", "3"],
            "argv of the group-summary run"
        );
        let stdin: Value = serde_json::from_str(&full.stdin).expect("stdin is JSON");
        assert_eq!(
            &stdin, body,
            "stdin is the notification as Alertmanager delivered it"
        );
        let env_json: Value = serde_json::from_str(full.var(env::GROUP_JSON)).expect("JSON");
        assert_eq!(env_json, stdin, "{} equals stdin", env::GROUP_JSON);
        self.check_env_is_contract(full);
    }

    /// The run of slow-firing for `instance`.
    fn slow_run(&self, instance: &str) -> Record {
        let label = format!("{}instance", env::LABEL_PREFIX);
        let runs = self.recorder.of("slow-firing", "run");
        let run = runs
            .iter()
            .find(|r| r.env.get(&label).map(String::as_str) == Some(instance));
        run.unwrap_or_else(|| panic!("no slow-firing run for {instance}: {runs:#?}"))
            .clone()
    }

    /// The signal record of `run`, if it was signalled.
    fn signal_of(&self, run: &Record) -> Option<Record> {
        let signals = self.recorder.of(&run.rule, "signal");
        signals.into_iter().find(|r| r.run == run.run)
    }

    /// Resolving slow-1 stops its running action with SIGTERM and runs note-resolved once;
    /// slow-2, still firing, keeps running.
    fn check_resolve(&self) {
        let (slow1, slow2) = (self.slow_run("slow-1"), self.slow_run("slow-2"));
        let ended = SystemTime::now() - Duration::from_secs(1);
        self.am.post_alerts(&[self.slow_alert("slow-1", ended)]);
        let signal = wait_for("slow-1's action to get its stop signal", WAIT, || {
            self.signal_of(&slow1)
        });
        assert_eq!(
            signal.signal, "SIGTERM",
            "the stop signal of slow-1's action"
        );
        assert!(
            signal.elapsed < 40.0,
            "stopped only after {}s of its 60s sleep",
            signal.elapsed
        );

        let resolved = wait_for("note-resolved to run", WAIT, || {
            self.recorder.of("note-resolved", "run").into_iter().next()
        });
        let fingerprint = slow1.var(env::FINGERPRINT);
        assert_eq!(resolved.var(env::STATUS), "resolved");
        assert_eq!(resolved.var(env::FINGERPRINT), fingerprint);
        assert_eq!(
            resolved.var(&format!("{}instance", env::LABEL_PREFIX)),
            "slow-1"
        );
        assert_ne!(
            resolved.var(env::ENDS_AT),
            "",
            "a resolved alert has an end"
        );
        wait_for("the resolved notification to be answered", WAIT, || {
            let deliveries = self.tap.group(SLOW);
            let resolved = |d: &&Delivery| {
                d.status == 200 && d.alerts().iter().any(|a| a["status"] == "resolved")
            };
            deliveries.iter().any(|d| resolved(&d)).then_some(())
        });
        thread::sleep(SETTLE);
        assert_eq!(
            self.recorder.of("note-resolved", "run").len(),
            1,
            "note-resolved runs"
        );
        assert_eq!(
            self.recorder.of("slow-firing", "run").len(),
            2,
            "slow-firing runs"
        );
        assert!(
            self.signal_of(&slow2).is_none(),
            "slow-2 is still firing, yet was stopped"
        );
    }

    /// SIGTERM: alertrun stops slow-2's action and exits 0.
    fn check_shutdown(&mut self) {
        let slow2 = self.slow_run("slow-2");
        let status = self.alertrun.terminate(WAIT);
        assert!(
            status.success(),
            "alertrun exited with {status} after SIGTERM"
        );
        let signal = self.signal_of(&slow2);
        let signal = signal.expect("alertrun exited without stopping slow-2's action");
        assert_eq!(
            signal.signal, "SIGTERM",
            "the stop signal of slow-2's action at shutdown"
        );
        let log = self.alertrun.log();
        assert!(
            !log.contains("\"level\":\"ERROR\""),
            "alertrun logged errors:\n{log}"
        );
    }
}

/// The distinct states (alerts and their status) of a group over its deliveries.
fn group_states(deliveries: &[Delivery]) -> BTreeSet<Vec<String>> {
    let state = |d: &Delivery| {
        let mut state: Vec<String> = d
            .alerts()
            .iter()
            .map(|a| format!("{}:{}", a["fingerprint"], a["status"]))
            .collect();
        state.sort();
        state
    };
    deliveries.iter().map(state).collect()
}

/// A JSON object of strings as label pairs.
fn labels(v: &Value) -> Vec<(&str, &str)> {
    let map = v.as_object().expect("labels are an object");
    map.iter()
        .map(|(k, v)| (k.as_str(), v.as_str().expect("label values are strings")))
        .collect()
}

/// The alertrun config: four rules, all running the recorder.
fn alertrun_config(recorder: &Recorder) -> Value {
    let out = recorder.out_dir().display().to_string();
    let matcher = |alertname: &str| vec![format!("alertname=\"{alertname}\"")];
    let label_ref = |name: &str| format!("$({}{name})", env::LABEL_PREFIX);
    // `$$(` escapes: the action gets the literal text.
    let escaped = format!("$$({})", env::STATUS);
    let count_ref = format!("$({})", env::ALERT_COUNT);
    json!({
        // On SIGTERM, stop the still-running sleeper at once (the default grace is 30s).
        "server": {"shutdown_grace": "1s"},
        "rules": [
            {
                "name": "record-firing",
                "match": matcher(FIRE),
                "env": {"RECORD_DIR": out},
                "action": {"process": {
                    "command": recorder.command(&["--instance", &label_ref("instance"), &escaped]),
                    "pass_env": ["HOME"],
                }},
            },
            {
                "name": "group-summary",
                "mode": "per-group",
                "match": matcher(GROUP),
                "env": {"RECORD_DIR": out},
                "action": {"process": {
                    "command": recorder.command(&["--alerts", &count_ref]),
                    "pass_env": ["HOME"],
                }},
            },
            {
                "name": "slow-firing",
                "match": matcher(SLOW),
                "stop_grace": "10s",
                "env": {"RECORD_DIR": out, "RECORD_SLEEP": "60"},
                "action": {"process": {
                    "command": recorder.command(&["--instance", &label_ref("instance")]),
                }},
            },
            {
                "name": "note-resolved",
                "on": "resolved",
                "match": matcher(SLOW),
                "env": {"RECORD_DIR": out},
                "action": {"process": {"command": recorder.command(&[])}},
            },
        ],
    })
}
