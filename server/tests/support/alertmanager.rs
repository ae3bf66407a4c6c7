//! A throw-away Alertmanager on loopback, as scripts/capture-fixtures runs it: a free port,
//! temporary storage, clustering off, `TZ=UTC`, a generated config.

use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alert_core::Timestamp;
use alertrun::testing;
use serde_json::{Value, json};

use super::{ChildGuard, find_on_path, free_port, http, wait_for};

/// Finds the Alertmanager binary: `$ALERTMANAGER`, Debian's
/// `/usr/bin/prometheus-alertmanager`, or `prometheus-alertmanager`/`alertmanager` on PATH.
pub(crate) fn find_alertmanager() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("ALERTMANAGER").filter(|v| !v.is_empty()) {
        let explicit = PathBuf::from(explicit);
        return if explicit.is_file() {
            Some(explicit)
        } else {
            find_on_path(&explicit.to_string_lossy())
        };
    }
    let debian = Path::new("/usr/bin/prometheus-alertmanager");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    find_on_path("prometheus-alertmanager").or_else(|| find_on_path("alertmanager"))
}

/// The route timings of the generated config.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) group_wait: &'static str,
    pub(crate) group_interval: &'static str,
    pub(crate) repeat_interval: &'static str,
}

/// A config with one receiver, `alertrun`, whose webhook posts to `url` with
/// `send_resolved: true`, grouping by `group_by`.
pub(crate) fn webhook_config(url: &str, group_by: &[&str], timing: Timing) -> String {
    let config = json!({
        "route": {
            "receiver": "alertrun",
            "group_by": group_by,
            "group_wait": timing.group_wait,
            "group_interval": timing.group_interval,
            "repeat_interval": timing.repeat_interval,
        },
        "receivers": [{
            "name": "alertrun",
            "webhook_configs": [{"url": url, "send_resolved": true}],
        }],
    });
    // JSON is YAML: no quoting questions.
    serde_json::to_string_pretty(&config).expect("a JSON value serialises")
}

/// A time as Prometheus sends it: RFC 3339, UTC, milliseconds.
pub(crate) fn prom_time(t: SystemTime) -> String {
    let since = t
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    let secs = i64::try_from(since.as_secs()).expect("seconds since 1970 fit in i64");
    let millis = since.subsec_millis();
    Timestamp::from_unix(secs, millis * 1_000_000)
        .expect("a current time is representable")
        .to_string()
}

/// An alert as posted to `/api/v2/alerts`.
pub(crate) fn alert(
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
    starts_at: SystemTime,
    ends_at: SystemTime,
) -> Value {
    json!({
        "labels": testing::labels(labels),
        "annotations": testing::labels(annotations),
        "startsAt": prom_time(starts_at),
        "endsAt": prom_time(ends_at),
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
    })
}

/// A running Alertmanager; stopped on drop (its log tail printed if the test panics).
#[derive(Debug)]
pub(crate) struct Alertmanager {
    guard: ChildGuard,
    pub(crate) addr: SocketAddr,
    log_path: PathBuf,
}

impl Alertmanager {
    /// Starts `binary` with `config` (YAML) in `dir` and waits until it is ready. Its
    /// external URL is `http://alertmanager.example:9093`, which nothing can reach.
    pub(crate) fn start(binary: &Path, dir: &Path, config: &str) -> Self {
        Self::start_as(binary, dir, config, false)
    }

    /// [`Alertmanager::start`] with its own address as its external URL, so that a receiver
    /// can call back the Alertmanager that notified it (silences, its alerts API).
    pub(crate) fn start_reachable(binary: &Path, dir: &Path, config: &str) -> Self {
        Self::start_as(binary, dir, config, true)
    }

    fn start_as(binary: &Path, dir: &Path, config: &str, reachable: bool) -> Self {
        fs::create_dir_all(dir).expect("create the Alertmanager directory");
        let config_path = dir.join("alertmanager.yml");
        fs::write(&config_path, config).expect("write the Alertmanager config");
        let log_path = dir.join("alertmanager.log");
        let log = File::create(&log_path).expect("create the Alertmanager log");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("an address");
        let child: Child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg(if reachable {
                format!("--web.external-url=http://{addr}")
            } else {
                "--web.external-url=http://alertmanager.example:9093".to_owned()
            })
            .arg("--cluster.listen-address=")
            .arg("--log.level=debug")
            // Timestamps Alertmanager makes itself carry its local zone: pin it.
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut am = Self {
            guard: ChildGuard::new("alertmanager", child),
            addr,
            log_path,
        };
        am.wait_ready();
        am
    }

    fn wait_ready(&mut self) {
        wait_for("Alertmanager to be ready", Duration::from_secs(20), || {
            if let Some(status) = self.guard.exited() {
                panic!("alertmanager exited with {status}:\n{}", self.log_tail(40));
            }
            let ready = http::request(self.addr, "GET", "/-/ready", None);
            ready.is_ok_and(|r| r.status == 200).then_some(())
        });
    }

    /// Posts `alerts` to `/api/v2/alerts`; panics unless Alertmanager answers 200.
    pub(crate) fn post_alerts(&self, alerts: &[Value]) {
        let body = serde_json::to_vec(alerts).expect("alerts serialise");
        let resp = http::request(self.addr, "POST", "/api/v2/alerts", Some(&body))
            .expect("post alerts to Alertmanager");
        assert_eq!(
            resp.status,
            200,
            "Alertmanager refused the alerts: {}",
            resp.text()
        );
    }

    /// The alerts Alertmanager holds (`GET /api/v2/alerts`), with their fingerprints.
    pub(crate) fn alerts(&self) -> Vec<Value> {
        let resp = http::request(self.addr, "GET", "/api/v2/alerts", None)
            .expect("list Alertmanager's alerts");
        assert_eq!(resp.status, 200, "GET /api/v2/alerts: {}", resp.text());
        serde_json::from_slice(&resp.body).expect("Alertmanager's alert list is JSON")
    }

    /// The fingerprint Alertmanager gave the alert with exactly these labels.
    pub(crate) fn fingerprint_of(&self, labels: &Value) -> String {
        let alerts = self.alerts();
        let found = alerts.iter().find(|a| &a["labels"] == labels);
        let found = found.unwrap_or_else(|| panic!("Alertmanager has no alert {labels}"));
        found["fingerprint"]
            .as_str()
            .expect("Alertmanager's alerts have a fingerprint")
            .to_string()
    }

    /// The silences Alertmanager holds (`GET /api/v2/silences`).
    pub(crate) fn silences(&self) -> Vec<Value> {
        let resp = http::request(self.addr, "GET", "/api/v2/silences", None)
            .expect("list Alertmanager's silences");
        assert_eq!(resp.status, 200, "GET /api/v2/silences: {}", resp.text());
        serde_json::from_slice(&resp.body).expect("Alertmanager's silence list is JSON")
    }

    /// Creates a silence of an hour with `matchers` (`{name, value, isRegex, isEqual}`) as a
    /// human would; returns its id.
    pub(crate) fn create_silence(
        &self,
        matchers: &Value,
        created_by: &str,
        comment: &str,
    ) -> String {
        let now = SystemTime::now();
        let body = json!({
            "matchers": matchers,
            "startsAt": prom_time(now),
            "endsAt": prom_time(now + Duration::from_secs(3600)),
            "createdBy": created_by,
            "comment": comment,
        });
        let bytes = serde_json::to_vec(&body).expect("a silence serialises");
        let resp = http::request(self.addr, "POST", "/api/v2/silences", Some(&bytes))
            .expect("create a silence");
        assert_eq!(resp.status, 200, "POST /api/v2/silences: {}", resp.text());
        let answer: Value = serde_json::from_slice(&resp.body).expect("JSON");
        answer["silenceID"]
            .as_str()
            .expect("a silenceID")
            .to_owned()
    }

    /// Expires silence `id` (`DELETE /api/v2/silence/{id}`).
    pub(crate) fn expire_silence(&self, id: &str) {
        let resp = http::request(self.addr, "DELETE", &format!("/api/v2/silence/{id}"), None)
            .expect("expire a silence");
        assert_eq!(
            resp.status,
            200,
            "DELETE /api/v2/silence/{id}: {}",
            resp.text()
        );
    }

    /// The sum of the samples of `metric` whose label set contains `selector`
    /// (e.g. `integration="webhook"`), from `/metrics`.
    pub(crate) fn metric(&self, metric: &str, selector: &str) -> f64 {
        let resp = http::request(self.addr, "GET", "/metrics", None).expect("get /metrics");
        resp.text()
            .lines()
            .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with(['{', ' ']))
            .filter(|l| l.contains(selector))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// The last `n` lines of Alertmanager's log.
    pub(crate) fn log_tail(&self, n: usize) -> String {
        let log = fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- alertmanager log (last 40 lines):\n{}",
                self.log_tail(40)
            );
        }
        self.guard.terminate(Duration::from_secs(5));
    }
}
