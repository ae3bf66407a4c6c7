//! The exposition is parsed back with a real OpenMetrics parser (openmetrics-parser), which
//! checks the syntax, the `_total`/`_bucket`/`_info` suffixes against each family's type,
//! and the closing `# EOF`.
//!
//! One workaround: openmetrics-parser 0.5 refuses a `# UNIT` line on a histogram, which
//! OpenMetrics 1.0 allows (its own examples put one on a summary) and Prometheus reads.
//! [`parse_text`] takes those lines out before parsing and checks them itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::time::Duration;

use openmetrics_parser::openmetrics::parse_openmetrics;
use openmetrics_parser::{
    MetricFamily, MetricsExposition, OpenMetricsType, OpenMetricsValue, Sample,
};

use super::{
    Metrics, RUN_DURATION_BUCKETS, RejectReason, RunOutcome, SOURCES, STORE_COMMIT_BUCKETS,
    SkipReason, StoreOp, source_index,
};
use crate::serve::intake::Source;
use crate::testing::labels;

type Exposition = MetricsExposition<OpenMetricsType, OpenMetricsValue>;
type Family = MetricFamily<OpenMetricsType, OpenMetricsValue>;

fn parse(metrics: &Metrics) -> Exposition {
    parse_text(&metrics.encode())
}

/// Parses `text`, after taking out the `# UNIT` lines of histograms (see the module docs),
/// each of which must directly follow its family's `# TYPE` line and name the unit that
/// ends the family's name.
fn parse_text(text: &str) -> Exposition {
    let mut kept = String::with_capacity(text.len());
    let mut histogram: Option<&str> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["#", "UNIT", name, unit] if histogram == Some(name) => {
                assert!(name.ends_with(&format!("_{unit}")), "{line}");
                histogram = None;
                continue;
            }
            ["#", "TYPE", name, "histogram"] => histogram = Some(name),
            _ => histogram = None,
        }
        kept.push_str(line);
        kept.push('\n');
    }
    parse_openmetrics(&kept).unwrap_or_else(|e| panic!("invalid exposition: {e:?}\n{text}"))
}

/// The `# UNIT` lines of `text`: family name → unit.
fn units(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# UNIT "))
        .filter_map(|l| l.split_once(' '))
        .collect()
}

fn family<'a>(exposition: &'a Exposition, name: &str) -> &'a Family {
    exposition
        .families
        .get(name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

fn labels_of(sample: &Sample<OpenMetricsValue>) -> BTreeMap<String, String> {
    sample
        .get_labelset()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The value of the one sample of `name` with exactly `labels`.
fn value<'a>(
    exposition: &'a Exposition,
    name: &str,
    pairs: &[(&str, &str)],
) -> &'a OpenMetricsValue {
    let wanted = labels(pairs);
    let family = family(exposition, name);
    let found: Vec<_> = family
        .iter_samples()
        .filter(|s| labels_of(s) == wanted)
        .collect();
    assert_eq!(found.len(), 1, "{name}{wanted:?}: {found:?}");
    &found[0].value
}

fn counter(exposition: &Exposition, name: &str, labels: &[(&str, &str)]) -> f64 {
    assert_eq!(
        family(exposition, name).family_type,
        OpenMetricsType::Counter
    );
    match value(exposition, name, labels) {
        OpenMetricsValue::Counter(c) => c.value.as_f64(),
        other => panic!("{name} is not a counter: {other:?}"),
    }
}

fn gauge(exposition: &Exposition, name: &str) -> f64 {
    assert_eq!(family(exposition, name).family_type, OpenMetricsType::Gauge);
    match value(exposition, name, &[]) {
        OpenMetricsValue::Gauge(g) => g.as_f64(),
        other => panic!("{name} is not a gauge: {other:?}"),
    }
}

/// (sum, count, cumulative bucket counts by upper bound, +Inf last).
fn histogram(
    exposition: &Exposition,
    name: &str,
    labels: &[(&str, &str)],
) -> (f64, u64, Vec<(f64, f64)>) {
    assert_eq!(
        family(exposition, name).family_type,
        OpenMetricsType::Histogram
    );
    match value(exposition, name, labels) {
        OpenMetricsValue::Histogram(h) => (
            h.sum.expect("histogram has a _sum").as_f64(),
            h.count.expect("histogram has a _count"),
            h.buckets
                .iter()
                .map(|b| (b.upper_bound, b.count.as_f64()))
                .collect(),
        ),
        other => panic!("{name} is not a histogram: {other:?}"),
    }
}

/// The expected buckets: cumulative counts of `observed` for each bound, then +Inf.
fn cumulative(bounds: &[f64], observed: &[f64]) -> Vec<(f64, f64)> {
    let count = |le: f64| observed.iter().filter(|&&v| v <= le).count() as f64;
    bounds
        .iter()
        .chain([f64::INFINITY].iter())
        .map(|&le| (le, count(le)))
        .collect()
}

/// Every family: name, type, unit, label names (sorted).
const FAMILIES: &[(&str, OpenMetricsType, &str, &[&str])] = &[
    ("alertrun_paused", OpenMetricsType::Gauge, "", &[]),
    (
        "alertrun_circuit_open",
        OpenMetricsType::Gauge,
        "",
        &["rule"],
    ),
    (
        "alertrun_notifications_received",
        OpenMetricsType::Counter,
        "",
        &["source"],
    ),
    (
        "alertrun_notifications_rejected",
        OpenMetricsType::Counter,
        "",
        &["reason"],
    ),
    (
        "alertrun_alerts_received",
        OpenMetricsType::Counter,
        "",
        &[],
    ),
    (
        "alertrun_rule_matches",
        OpenMetricsType::Counter,
        "",
        &["rule"],
    ),
    (
        "alertrun_rule_skips",
        OpenMetricsType::Counter,
        "",
        &["reason", "rule"],
    ),
    (
        "alertrun_runs",
        OpenMetricsType::Counter,
        "",
        &["outcome", "rule"],
    ),
    (
        "alertrun_run_duration_seconds",
        OpenMetricsType::Histogram,
        "seconds",
        &["rule"],
    ),
    ("alertrun_runs_running", OpenMetricsType::Gauge, "", &[]),
    ("alertrun_runs_queued", OpenMetricsType::Gauge, "", &[]),
    (
        "alertrun_oldest_queued_run_age_seconds",
        OpenMetricsType::Gauge,
        "seconds",
        &[],
    ),
    (
        "alertrun_store_commit_duration_seconds",
        OpenMetricsType::Histogram,
        "seconds",
        &[],
    ),
    (
        "alertrun_store_errors",
        OpenMetricsType::Counter,
        "",
        &["op"],
    ),
    (
        "alertrun_config_last_reload_successful",
        OpenMetricsType::Gauge,
        "",
        &[],
    ),
    (
        "alertrun_ha_claim_conflicts",
        OpenMetricsType::Counter,
        "",
        &[],
    ),
    (
        "alertrun_ha_claim_duration_seconds",
        OpenMetricsType::Histogram,
        "seconds",
        &[],
    ),
    ("alertrun_ha_leader", OpenMetricsType::Gauge, "", &[]),
    (
        "alertrun_config_last_reload_success_timestamp_seconds",
        OpenMetricsType::Gauge,
        "seconds",
        &[],
    ),
    (
        "alertrun_build",
        OpenMetricsType::Info,
        "",
        &["arch", "os", "version"],
    ),
    (
        "alertrun_approvals_pending",
        OpenMetricsType::Gauge,
        "",
        &[],
    ),
    (
        "alertrun_approval_decisions",
        OpenMetricsType::Counter,
        "",
        &["outcome", "rule"],
    ),
    (
        "alertrun_approval_wait_seconds",
        OpenMetricsType::Histogram,
        "seconds",
        &["rule"],
    ),
    (
        "alertrun_remediation_verdicts",
        OpenMetricsType::Counter,
        "",
        &["rule", "verdict"],
    ),
    (
        "alertrun_remediation_time_to_resolve_seconds",
        OpenMetricsType::Histogram,
        "seconds",
        &["rule"],
    ),
];

/// A series of calls touching every family.
fn exercised() -> Metrics {
    let m = Metrics::new();
    m.notification_received(Source::Webhook, 3);
    m.notification_received(Source::Webhook, 2);
    m.notification_received(Source::PrometheusApi, 4);
    m.notification_rejected(RejectReason::QueueFull);
    m.notification_rejected(RejectReason::QueueFull);
    m.notification_rejected(RejectReason::Invalid);
    m.rule_matched("restart-pod");
    m.rule_matched("restart-pod");
    m.rule_matched("page-me");
    m.rule_skipped("restart-pod", SkipReason::Cooldown);
    m.rule_skipped("page-me", SkipReason::DryRun);
    m.run_finished(
        "restart-pod",
        RunOutcome::Succeeded,
        Duration::from_millis(200),
    );
    m.run_finished("restart-pod", RunOutcome::Failed, Duration::from_secs(3));
    m.run_finished(
        "restart-pod",
        RunOutcome::Succeeded,
        Duration::from_secs(7200),
    );
    m.run_finished("page-me", RunOutcome::TimedOut, Duration::from_millis(5));
    m.set_running(2);
    m.set_queued(7);
    m.set_oldest_queued_age(12.5);
    m.set_paused(true);
    m.set_circuit_open("restart-pod", 2);
    m.store_commit(Duration::from_micros(50));
    m.store_commit(Duration::from_micros(300));
    m.store_commit(Duration::from_millis(2));
    m.store_commit(Duration::from_secs(2));
    m.store_error(StoreOp::Commit);
    m.config_reloaded(true, 1_700_000_000.25);
    m.set_approvals_pending(1);
    m.approval_decided("restart-pod", "approved", Duration::from_secs(90));
    m.verdict("restart-pod", "effective", Some(Duration::from_secs(42)));
    m.verdict("restart-pod", "unknown", None);
    m
}

#[test]
fn every_family_has_help_type_unit_and_its_label_names() {
    let text = exercised().encode();
    let exposition = parse_text(&text);
    let units = units(&text);
    let mut names: Vec<_> = exposition.families.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected: Vec<_> = FAMILIES.iter().map(|f| f.0).collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for &(name, kind, unit, labels) in FAMILIES {
        let family = family(&exposition, name);
        assert_eq!(family.family_type, kind, "{name}");
        assert_eq!(units.get(name).copied().unwrap_or(""), unit, "{name}");
        if kind != OpenMetricsType::Histogram {
            assert_eq!(family.unit, unit, "{name}");
        }
        assert!(
            family.help.len() > 10 && family.help.ends_with('.'),
            "{name}: help {:?}",
            family.help
        );
        let mut names = family.get_label_names().to_vec();
        names.sort_unstable();
        assert_eq!(names, labels, "{name}");
    }
}

/// prometheus-client leaves out a family without series; the rule families have none until
/// a rule does something.
#[test]
fn rule_families_appear_with_their_first_series() {
    let exposition = parse(&Metrics::new());
    let rule_families = [
        "alertrun_rule_matches",
        "alertrun_rule_skips",
        "alertrun_runs",
        "alertrun_run_duration_seconds",
        "alertrun_circuit_open",
        "alertrun_approval_decisions",
        "alertrun_approval_wait_seconds",
        "alertrun_remediation_verdicts",
        "alertrun_remediation_time_to_resolve_seconds",
    ];
    for &(name, ..) in FAMILIES {
        assert_eq!(
            exposition.families.contains_key(name),
            !rule_families.contains(&name),
            "{name}"
        );
    }
}

/// Every sample line's name, as a scraper stores it: counters end in `_total`, histograms
/// in `_bucket`/`_sum`/`_count`, the info in `_info`. (The parser has already checked each
/// suffix against the family's type; this pins the stored names.)
#[test]
fn series_names_follow_prometheus_conventions() {
    let text = exercised().encode();
    parse_text(&text);
    let mut series: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect();
    series.sort_unstable();
    series.dedup();
    assert_eq!(
        series,
        [
            "alertrun_alerts_received_total",
            "alertrun_approval_decisions_total",
            "alertrun_approval_wait_seconds_bucket",
            "alertrun_approval_wait_seconds_count",
            "alertrun_approval_wait_seconds_sum",
            "alertrun_approvals_pending",
            "alertrun_build_info",
            "alertrun_circuit_open",
            "alertrun_config_last_reload_success_timestamp_seconds",
            "alertrun_config_last_reload_successful",
            "alertrun_ha_claim_conflicts_total",
            "alertrun_ha_claim_duration_seconds_bucket",
            "alertrun_ha_claim_duration_seconds_count",
            "alertrun_ha_claim_duration_seconds_sum",
            "alertrun_ha_leader",
            "alertrun_notifications_received_total",
            "alertrun_notifications_rejected_total",
            "alertrun_oldest_queued_run_age_seconds",
            "alertrun_paused",
            "alertrun_remediation_time_to_resolve_seconds_bucket",
            "alertrun_remediation_time_to_resolve_seconds_count",
            "alertrun_remediation_time_to_resolve_seconds_sum",
            "alertrun_remediation_verdicts_total",
            "alertrun_rule_matches_total",
            "alertrun_rule_skips_total",
            "alertrun_run_duration_seconds_bucket",
            "alertrun_run_duration_seconds_count",
            "alertrun_run_duration_seconds_sum",
            "alertrun_runs_queued",
            "alertrun_runs_running",
            "alertrun_runs_total",
            "alertrun_store_commit_duration_seconds_bucket",
            "alertrun_store_commit_duration_seconds_count",
            "alertrun_store_commit_duration_seconds_sum",
            "alertrun_store_errors_total",
        ]
    );
}

#[test]
fn exposition_ends_with_eof() {
    for metrics in [Metrics::new(), exercised()] {
        let text = metrics.encode();
        assert!(text.ends_with("\n# EOF\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1);
    }
}

#[test]
fn enum_labelled_counters_start_at_zero_for_every_value() {
    let e = parse(&Metrics::new());
    for source in ["webhook", "prometheus"] {
        let labels = [("source", source)];
        assert_eq!(counter(&e, "alertrun_notifications_received", &labels), 0.0);
    }
    for reason in RejectReason::ALL {
        let labels = [("reason", reason.as_str())];
        assert_eq!(counter(&e, "alertrun_notifications_rejected", &labels), 0.0);
    }
    for op in StoreOp::ALL {
        assert_eq!(
            counter(&e, "alertrun_store_errors", &[("op", op.as_str())]),
            0.0
        );
    }
    assert_eq!(counter(&e, "alertrun_alerts_received", &[]), 0.0);
    assert_eq!(
        family(&e, "alertrun_notifications_received")
            .iter_samples()
            .count(),
        2
    );
    assert_eq!(
        family(&e, "alertrun_notifications_rejected")
            .iter_samples()
            .count(),
        RejectReason::ALL.len()
    );
    assert_eq!(
        family(&e, "alertrun_store_errors").iter_samples().count(),
        3
    );
    assert_eq!(gauge(&e, "alertrun_config_last_reload_successful"), 0.0);
}

#[test]
fn counts_notifications_alerts_and_rejections() {
    let e = parse(&exercised());
    let received = "alertrun_notifications_received";
    assert_eq!(counter(&e, received, &[("source", "webhook")]), 2.0);
    assert_eq!(counter(&e, received, &[("source", "prometheus")]), 1.0);
    assert_eq!(counter(&e, "alertrun_alerts_received", &[]), 9.0);
    let rejected = "alertrun_notifications_rejected";
    assert_eq!(counter(&e, rejected, &[("reason", "queue_full")]), 2.0);
    assert_eq!(counter(&e, rejected, &[("reason", "invalid")]), 1.0);
    assert_eq!(counter(&e, rejected, &[("reason", "too_large")]), 0.0);
}

#[test]
fn counts_rule_matches_skips_and_runs_by_rule() {
    let e = parse(&exercised());
    assert_eq!(
        counter(&e, "alertrun_rule_matches", &[("rule", "restart-pod")]),
        2.0
    );
    assert_eq!(
        counter(&e, "alertrun_rule_matches", &[("rule", "page-me")]),
        1.0
    );
    let skips = family(&e, "alertrun_rule_skips");
    let skip_series: BTreeSet<_> = skips.iter_samples().map(labels_of).collect();
    assert_eq!(
        skip_series,
        BTreeSet::from([
            labels(&[("rule", "page-me"), ("reason", "dry_run")]),
            labels(&[("rule", "restart-pod"), ("reason", "cooldown")]),
        ])
    );
    let skip = |rule, reason| {
        counter(
            &e,
            "alertrun_rule_skips",
            &[("rule", rule), ("reason", reason)],
        )
    };
    assert_eq!(skip("restart-pod", "cooldown"), 1.0);
    assert_eq!(skip("page-me", "dry_run"), 1.0);

    let runs =
        |rule, outcome| counter(&e, "alertrun_runs", &[("rule", rule), ("outcome", outcome)]);
    assert_eq!(runs("restart-pod", "succeeded"), 2.0);
    assert_eq!(runs("restart-pod", "failed"), 1.0);
    assert_eq!(runs("page-me", "timed_out"), 1.0);
    assert_eq!(family(&e, "alertrun_runs").iter_samples().count(), 3);
}

#[test]
fn run_durations_fall_into_their_buckets() {
    let e = parse(&exercised());
    let name = "alertrun_run_duration_seconds";
    let (sum, count, buckets) = histogram(&e, name, &[("rule", "restart-pod")]);
    assert_eq!(count, 3);
    assert!((sum - 7203.2).abs() < 1e-9, "{sum}");
    assert_eq!(
        buckets,
        cumulative(&RUN_DURATION_BUCKETS, &[0.2, 3.0, 7200.0])
    );
    // Spelled out: 0.2 s is first counted at le=0.5, 3 s at le=5, 2 h only at +Inf.
    let at = |le: f64| buckets.iter().find(|b| b.0 == le).unwrap().1;
    assert_eq!(
        (at(0.1), at(0.5), at(2.5), at(5.0), at(3600.0)),
        (0.0, 1.0, 1.0, 2.0, 2.0)
    );
    assert_eq!(at(f64::INFINITY), 3.0);

    let (sum, count, buckets) = histogram(&e, name, &[("rule", "page-me")]);
    assert_eq!((count, sum), (1, 0.005));
    assert!(buckets.iter().all(|b| b.1 == 1.0), "{buckets:?}");
    assert_eq!(buckets.first().unwrap().0, 0.01);
    assert_eq!(buckets.len(), RUN_DURATION_BUCKETS.len() + 1);
}

#[test]
fn store_commits_and_errors() {
    let e = parse(&exercised());
    let (sum, count, buckets) = histogram(&e, "alertrun_store_commit_duration_seconds", &[]);
    assert_eq!(count, 4);
    assert!((sum - 2.00235).abs() < 1e-12, "{sum}");
    assert_eq!(
        buckets,
        cumulative(&STORE_COMMIT_BUCKETS, &[0.00005, 0.0003, 0.002, 2.0])
    );
    assert_eq!(buckets.first().unwrap(), &(0.0001, 1.0));
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 4.0));
    assert_eq!(
        counter(&e, "alertrun_store_errors", &[("op", "commit")]),
        1.0
    );
    assert_eq!(counter(&e, "alertrun_store_errors", &[("op", "read")]), 0.0);
    assert_eq!(
        counter(&e, "alertrun_store_errors", &[("op", "prune")]),
        0.0
    );
}

#[test]
fn gauges_hold_the_last_value_set() {
    let m = exercised();
    let e = parse(&m);
    assert_eq!(gauge(&e, "alertrun_runs_running"), 2.0);
    assert_eq!(gauge(&e, "alertrun_runs_queued"), 7.0);
    assert_eq!(gauge(&e, "alertrun_oldest_queued_run_age_seconds"), 12.5);
    assert_eq!(gauge(&e, "alertrun_config_last_reload_successful"), 1.0);
    let at = "alertrun_config_last_reload_success_timestamp_seconds";
    assert_eq!(gauge(&e, at), 1_700_000_000.25);

    m.set_running(0);
    m.set_queued(0);
    m.set_oldest_queued_age(0.0);
    m.config_reloaded(false, 1_700_000_100.0);
    let e = parse(&m);
    assert_eq!(gauge(&e, "alertrun_runs_running"), 0.0);
    assert_eq!(gauge(&e, "alertrun_runs_queued"), 0.0);
    assert_eq!(gauge(&e, "alertrun_oldest_queued_run_age_seconds"), 0.0);
    assert_eq!(gauge(&e, "alertrun_config_last_reload_successful"), 0.0);
    // A failed reload keeps the time of the last success.
    assert_eq!(gauge(&e, at), 1_700_000_000.25);
}

#[test]
fn build_info_names_the_version_and_target() {
    let e = parse(&Metrics::new());
    let build = family(&e, "alertrun_build");
    assert_eq!(build.family_type, OpenMetricsType::Info);
    let samples: Vec<_> = build.iter_samples().collect();
    assert_eq!(samples.len(), 1);
    assert!(matches!(samples[0].value, OpenMetricsValue::Info));
    assert_eq!(
        labels_of(samples[0]),
        labels(&[
            ("version", env!("CARGO_PKG_VERSION")),
            ("arch", std::env::consts::ARCH),
            ("os", std::env::consts::OS),
        ])
    );
    // The parser took the sample as `alertrun_build_info ... 1` (it refuses other values).
    let line = Metrics::new()
        .encode()
        .lines()
        .find(|l| l.starts_with("alertrun_build_info{"))
        .map(str::to_owned);
    assert!(line.is_some_and(|l| l.ends_with("} 1")));
}

#[test]
fn rule_names_are_escaped_and_read_back_unchanged() {
    let m = Metrics::new();
    let rule = "odd \"rule\" \\ with\nnewline";
    m.rule_matched(rule);
    let e = parse(&m);
    assert_eq!(counter(&e, "alertrun_rule_matches", &[("rule", rule)]), 1.0);
}

#[test]
fn clones_share_one_registry() {
    fn assert_traits<T: Clone + Send + Sync + Debug + 'static>() {}
    assert_traits::<Metrics>();
    let m = Metrics::new();
    let clone = m.clone();
    std::thread::spawn(move || clone.set_queued(3))
        .join()
        .unwrap();
    assert_eq!(gauge(&parse(&m), "alertrun_runs_queued"), 3.0);
    assert!(format!("{m:?}").starts_with("Metrics"));
}

#[test]
fn each_source_is_counted_under_its_own_label() {
    for (i, &(source, label)) in SOURCES.iter().enumerate() {
        assert_eq!(source_index(source), i);
        let m = Metrics::new();
        m.notification_received(source, 1);
        let e = parse(&m);
        let received = "alertrun_notifications_received";
        assert_eq!(counter(&e, received, &[("source", label)]), 1.0);
        let total: f64 = family(&e, received)
            .iter_samples()
            .map(|s| match &s.value {
                OpenMetricsValue::Counter(c) => c.value.as_f64(),
                other => panic!("{other:?}"),
            })
            .sum();
        assert_eq!(total, 1.0);
    }
}

#[test]
fn each_enum_value_is_counted_under_its_own_label() {
    for &reason in RejectReason::ALL {
        let m = Metrics::new();
        m.notification_rejected(reason);
        let e = parse(&m);
        for &other in RejectReason::ALL {
            let labels = [("reason", other.as_str())];
            let expected = if other == reason { 1.0 } else { 0.0 };
            assert_eq!(
                counter(&e, "alertrun_notifications_rejected", &labels),
                expected
            );
        }
    }
    for &op in StoreOp::ALL {
        let m = Metrics::new();
        m.store_error(op);
        let e = parse(&m);
        for &other in StoreOp::ALL {
            let expected = if other == op { 1.0 } else { 0.0 };
            assert_eq!(
                counter(&e, "alertrun_store_errors", &[("op", other.as_str())]),
                expected
            );
        }
    }
}

#[test]
fn label_values_are_snake_case_and_distinct() {
    fn check(values: &[&'static str]) {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), values.len(), "{values:?}");
        for v in values {
            assert!(v.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{v}");
        }
    }
    check(
        &RejectReason::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>(),
    );
    check(
        &SkipReason::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>(),
    );
    check(
        &RunOutcome::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>(),
    );
    check(&StoreOp::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>());
}
