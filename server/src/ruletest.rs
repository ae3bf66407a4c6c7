//! `alertrun test`: promtool-style unit tests for rules, runnable offline and from
//! another crate's `cargo test`.
//!
//! A test file lists cases. Each case gives alerts (or a captured payload file, relative to
//! the test file) and the runs it expects: which rules fire, for which alert, and
//! optionally the exact argv and some env values.
//!
//! The format is documented on [`run_test_file`], the public entry point.
//!
//! ```yaml
//! tests:
//!   - name: a crash-looping pod is deleted
//!     alerts:
//!       - labels: {alertname: KubePodCrashLooping, namespace: shop, pod: web-1}
//!     expect:
//!       - rule: delete-crashlooping-pod
//!         alert: 0
//!         env: {ALERTRUN_LABEL_pod: web-1}
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use alert_core::{AlertStatus, LabelSet, Notification, Timestamp};
use alert_match::{Target, render};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{Config, read_text};
use crate::explain::run_of;

const MAX_TEST_FILE_BYTES: usize = 8 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    alerts: Vec<TestAlert>,
    #[serde(default)]
    payload: Option<PathBuf>,
    #[serde(default)]
    receiver: Option<String>,
    #[serde(default)]
    expect: Vec<Expected>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestAlert {
    labels: LabelSet,
    #[serde(default)]
    annotations: LabelSet,
    #[serde(default)]
    status: Option<AlertStatus>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    rule: String,
    #[serde(default)]
    alert: Option<usize>,
    #[serde(default)]
    argv: Option<Vec<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// The result of one test file.
#[derive(Debug, Default)]
pub struct TestReport {
    /// Cases that passed, by name.
    pub passed: Vec<String>,
    /// Cases that failed: name and a readable explanation with a diff.
    pub failed: Vec<(String, String)>,
}

impl TestReport {
    /// True when no case failed.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty()
    }
}

/// A test file that cannot be read or understood.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct TestFileError {
    /// The file.
    pub file: String,
    /// What is wrong, with the place.
    pub message: String,
}

/// Runs every case of the test file at `path` against `config`: the checks of
/// `alertrun test`.
///
/// # The test file
///
/// A YAML file with one key, `tests`, a list of cases. A case builds one notification
/// and says which runs it causes:
///
/// | key | meaning |
/// | --- | --- |
/// | `name` | required: the case's name, printed with `ok` or `FAILED` |
/// | `alerts` | the notification's alerts, each with `labels` (required), `annotations`, `status` (`firing`, the default, or `resolved`), `starts_at` and `ends_at` (RFC 3339; by default 2026-01-01T00:00:00Z, and for a resolved alert an end 5 minutes later) |
/// | `payload` | instead of `alerts`: a webhook payload file (JSON, as Alertmanager sends it, e.g. saved with `alertrun notifications show ID`), relative to the test file |
/// | `receiver` | the notification's receiver (default `alertrun-test`), for rules with `receivers` |
/// | `expect` | the runs: each with `rule` (required), `alert` (the index in `alerts` of a per-alert run; left out for a per-group run), `argv` (the exact argv of a process action) and `env` (some variables and their values) |
///
/// The rules that fire must be exactly those of `expect`, in any order: an empty or
/// absent `expect` says that no rule fires. An expected run that `serve` would skip (a
/// variable that cannot be passed, an alert value that would become an option) fails the
/// case. A notification built from `alerts` has their common labels and annotations, is
/// `firing` when any alert fires, and has the group key `{}:{}`.
///
/// ```
/// use alertrun::{Config, run_test_file};
///
/// let config = Config::from_yaml(
///     "rules:\n  - name: restart\n    match: [alertname=Down]\n    \
///      action: {process: {command: [/usr/bin/restart, $(ALERTRUN_LABEL_job)]}}\n",
/// )?;
/// let dir = tempfile::tempdir()?;
/// let file = dir.path().join("tests.yaml");
/// std::fs::write(&file, "tests:
///   - name: a down job is restarted
///     alerts:
///       - labels: {alertname: Down, job: api}
///     expect:
///       - rule: restart
///         alert: 0
///         argv: [/usr/bin/restart, api]
///   - name: other alerts are left alone
///     alerts:
///       - labels: {alertname: Slow, job: api}
///     expect: []
/// ")?;
/// let report = run_test_file(&config, &file)?;
/// assert!(report.is_success(), "{:?}", report.failed);
/// assert_eq!(report.passed.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`TestFileError`] when the file cannot be read or parsed, or a case is malformed (bad
/// timestamp, unreadable payload); failing expectations are not errors but
/// [`TestReport::failed`] entries.
pub fn run_test_file(config: &Config, path: &Path) -> Result<TestReport, TestFileError> {
    let fail = |message: String| TestFileError {
        file: path.display().to_string(),
        message,
    };
    let text = read_text(path, MAX_TEST_FILE_BYTES).map_err(fail)?;
    let doc: Value =
        serde_saphyr::from_str(&text).map_err(|e| fail(format!("invalid YAML: {e}")))?;
    let file: TestFile = serde_path_to_error::deserialize(doc)
        .map_err(|e| fail(format!("{}: {}", e.path(), e.inner())))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut report = TestReport::default();
    for (i, case) in file.tests.iter().enumerate() {
        let n = notification(case, base)
            .map_err(|m| fail(format!("tests[{i}] ({}): {m}", case.name)))?;
        match check_case(config, case, &n) {
            Ok(()) => report.passed.push(case.name.clone()),
            Err(why) => report.failed.push((case.name.clone(), why)),
        }
    }
    Ok(report)
}

fn notification(case: &Case, base: &Path) -> Result<Notification, String> {
    if let Some(file) = &case.payload {
        if !case.alerts.is_empty() {
            return Err("give either `alerts` or `payload`, not both".into());
        }
        let path = base.join(file);
        let text = read_text(&path, MAX_TEST_FILE_BYTES)?;
        let mut n = Notification::from_json(text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(r) = &case.receiver {
            n.receiver.clone_from(r);
        }
        return Ok(n);
    }
    let mut alerts = Vec::new();
    for (i, a) in case.alerts.iter().enumerate() {
        let status = a.status.unwrap_or(AlertStatus::Firing);
        let starts = a
            .starts_at
            .clone()
            .unwrap_or_else(|| "2026-01-01T00:00:00Z".into());
        let ends = match (status, &a.ends_at) {
            (_, Some(e)) => e.clone(),
            (AlertStatus::Resolved, None) => "2026-01-01T00:05:00Z".into(),
            (AlertStatus::Firing, None) => "0001-01-01T00:00:00Z".into(),
        };
        for (what, t) in [("starts_at", &starts), ("ends_at", &ends)] {
            Timestamp::parse(t).map_err(|e| format!("alerts[{i}].{what}: {e}"))?;
        }
        alerts.push(
            json!({"status": status, "labels": a.labels, "annotations": a.annotations,
            "startsAt": starts, "endsAt": ends, "generatorURL": ""}),
        );
    }
    let common = |key: &str| -> LabelSet {
        let maps: Vec<&LabelSet> = case
            .alerts
            .iter()
            .map(|a| {
                if key == "labels" {
                    &a.labels
                } else {
                    &a.annotations
                }
            })
            .collect();
        let Some(first) = maps.first() else {
            return LabelSet::new();
        };
        first
            .iter()
            .filter(|(k, v)| maps.iter().all(|m| m.get(*k) == Some(v)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let firing = case
        .alerts
        .iter()
        .any(|a| a.status.unwrap_or(AlertStatus::Firing) == AlertStatus::Firing);
    let body = json!({"version": "4", "status": if firing { "firing" } else { "resolved" },
        "receiver": case.receiver.clone().unwrap_or_else(|| "alertrun-test".into()),
        "groupKey": "{}:{}", "groupLabels": {}, "commonLabels": common("labels"),
        "commonAnnotations": common("annotations"), "externalURL": "", "truncatedAlerts": 0,
        "alerts": alerts});
    Notification::from_json(body.to_string().as_bytes()).map_err(|e| e.to_string())
}

fn check_case(config: &Config, case: &Case, n: &Notification) -> Result<(), String> {
    let selections = config.rules().select(n);
    let rules = config.rules().rules();
    let index_of = |t: &Target<'_>| match t {
        Target::Alert(a) => n.alerts.iter().position(|x| std::ptr::eq(x, *a)),
        Target::Group => None,
    };
    let mut got: Vec<String> = selections
        .iter()
        .map(|s| describe(&rules[s.rule].name, index_of(&s.target)))
        .collect();
    let mut want: Vec<String> = case
        .expect
        .iter()
        .map(|e| describe(&e.rule, e.alert))
        .collect();
    got.sort();
    want.sort();
    let mut why = String::new();
    if got != want {
        let diff = similar::TextDiff::from_lines(lines(&want).as_str(), lines(&got).as_str())
            .unified_diff()
            .header("expected runs", "actual runs")
            .to_string();
        let _ = write!(why, "the rules that fire differ:\n{diff}");
    }
    for e in &case.expect {
        let Some(s) = selections
            .iter()
            .find(|s| rules[s.rule].name == e.rule && index_of(&s.target) == e.alert)
        else {
            continue;
        };
        let rendered = render(&rules[s.rule], n, s.target);
        let who = describe(&e.rule, e.alert);
        // An expected run that `serve` would skip (an env problem, an option value) fails.
        for p in &rendered.problems {
            let _ = writeln!(why, "{who}: would not run: {p}");
        }
        if e.argv.is_none() && e.env.is_empty() {
            continue;
        }
        let problems = rendered.problems.iter().map(ToString::to_string).collect();
        let run = run_of(config.action(s.rule), &rendered.request, problems);
        if let Some(argv) = &e.argv {
            if run.argv.as_ref() != Some(argv) {
                let want = serde_json::to_string(argv).unwrap_or_default();
                let got = run
                    .argv
                    .map(|a| serde_json::to_string(&a).unwrap_or_default())
                    .unwrap_or_else(|| "(no argv: not a process action)".into());
                let _ = write!(
                    why,
                    "{who}: argv differs:\n  expected {want}\n  actual   {got}\n"
                );
            }
        }
        for (k, v) in &e.env {
            let actual = run
                .env
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str());
            if actual != Some(v.as_str()) {
                let _ = writeln!(
                    why,
                    "{who}: env {k}: expected {v:?}, actual {}",
                    actual.map_or("(not set)".into(), |a| format!("{a:?}"))
                );
            }
        }
    }
    if why.is_empty() { Ok(()) } else { Err(why) }
}

fn describe(rule: &str, alert: Option<usize>) -> String {
    match alert {
        Some(i) => format!("{rule} for alert {i}"),
        None => format!("{rule} for the group"),
    }
}

fn lines(v: &[String]) -> String {
    v.iter().map(|l| format!("{l}\n")).collect()
}
