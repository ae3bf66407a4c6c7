//! `RuleSet` selection: the index (equality keys, the regex-set prefilter, the rest) picks
//! exactly the rules a plain scan of `Rule::selects` picks, in config order.

use std::time::Duration;

use alert_core::{Alert, Notification};
use alert_match::{Matchers, Mode, RegexCache, Rule, RuleSet, StatusFilter, Target};
use proptest::prelude::*;

fn rule(name: &str, matchers: &str, mode: Mode) -> Rule {
    rule_with(
        name,
        Matchers::parse(matchers).expect("test matchers parse"),
        mode,
    )
}

fn rule_with(name: &str, matchers: Matchers, mode: Mode) -> Rule {
    Rule {
        name: name.to_owned(),
        matchers,
        annotation_matchers: Matchers::default(),
        receivers: vec![],
        on: StatusFilter::Firing,
        mode,
        env_style: Default::default(),
        env: vec![],
        pass_env: vec![],
        timeout: Duration::from_secs(60),
        arguments: Vec::new(),
        allow_option_values: false,
    }
}

fn notification(alerts: &[&[(&str, &str)]]) -> Notification {
    let alerts: Vec<serde_json::Value> = alerts
        .iter()
        .map(|labels| {
            let labels: serde_json::Map<String, serde_json::Value> = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).into()))
                .collect();
            serde_json::json!({
                "status": "firing", "labels": labels, "annotations": {},
                "startsAt": "2026-11-21T09:38:36.123Z", "endsAt": "0001-01-01T00:00:00Z"
            })
        })
        .collect();
    let body = serde_json::json!({
        "version": "4", "status": "firing", "receiver": "r", "groupKey": "{}:{}",
        "alerts": alerts
    });
    Notification::from_json(body.to_string().as_bytes()).expect("test notification parses")
}

fn scan(rules: &RuleSet, alert: &Alert) -> Vec<usize> {
    (0..rules.rules().len())
        .filter(|&i| rules.rules()[i].selects("r", alert))
        .collect()
}

#[test]
fn each_kind_of_rule_is_found_through_its_index() {
    let rules = RuleSet::new(vec![
        rule("by-alertname", r#"{alertname="DiskFull"}"#, Mode::PerAlert),
        rule(
            "by-other-equality",
            r#"{team="db", alertname=~"Disk.*"}"#,
            Mode::PerAlert,
        ),
        rule(
            "regex-only",
            r#"{job=~"node.*", instance=~"db-[0-9]+"}"#,
            Mode::PerAlert,
        ),
        rule("negative-only", r#"{severity!="info"}"#, Mode::PerAlert),
        rule("no-matchers", "{}", Mode::PerAlert),
    ]);
    let n = notification(&[
        &[
            ("alertname", "DiskFull"),
            ("team", "db"),
            ("job", "node"),
            ("instance", "db-1"),
        ],
        &[
            ("alertname", "DiskFull"),
            ("job", "node"),
            ("instance", "web-1"),
            ("severity", "info"),
        ],
    ]);
    assert_eq!(rules.matching("r", &n.alerts[0]), vec![0, 1, 2, 3, 4]);
    assert_eq!(rules.matching("r", &n.alerts[1]), vec![0, 4]);
}

#[test]
fn a_regex_only_rule_needs_every_regex_to_match_including_on_absent_labels() {
    let rules = RuleSet::new(vec![
        rule(
            "two-on-one-label",
            r#"{job=~"node.*", job=~".*exporter"}"#,
            Mode::PerAlert,
        ),
        rule("absent-is-empty", r#"{team=~"|ops"}"#, Mode::PerAlert),
    ]);
    let n = notification(&[
        &[("job", "node-exporter")],
        &[("job", "node"), ("team", "db")],
    ]);
    assert_eq!(rules.matching("r", &n.alerts[0]), vec![0, 1]);
    assert!(rules.matching("r", &n.alerts[1]).is_empty());
}

#[test]
fn group_rules_are_selected_once_after_the_per_alert_ones() {
    let rules = RuleSet::new(vec![
        rule("page", r#"{severity=~"critical"}"#, Mode::PerGroup),
        rule("fix", r#"{alertname="DiskFull"}"#, Mode::PerAlert),
    ]);
    let n = notification(&[
        &[("alertname", "DiskFull"), ("severity", "critical")],
        &[
            ("alertname", "DiskFull"),
            ("severity", "critical"),
            ("node", "b"),
        ],
    ]);
    let picked: Vec<_> = rules
        .select(&n)
        .into_iter()
        .map(|s| (s.rule, matches!(s.target, Target::Group)))
        .collect();
    assert_eq!(picked, vec![(1, false), (1, false), (0, true)]);
}

const NAMES: [&str; 3] = ["alertname", "job", "team"];
const VALUES: [&str; 4] = ["", "a", "ab", "b"];
const OPS: [&str; 4] = ["=", "!=", "=~", "!~"];
const PATTERNS: [&str; 5] = ["a", "a.*", "|b", ".+", "a|ab"];

fn matcher() -> impl Strategy<Value = String> {
    (0..NAMES.len(), 0..OPS.len(), 0..PATTERNS.len()).prop_map(|(n, op, v)| {
        let value = if OPS[op].contains('~') {
            PATTERNS[v]
        } else {
            VALUES[v % VALUES.len()]
        };
        format!("{}{}{value:?}", NAMES[n], OPS[op])
    })
}

/// Alertmanager refuses an alert without labels, so each has `instance`, plus some of
/// `NAMES` with non-empty values.
fn labels() -> impl Strategy<Value = Vec<(&'static str, &'static str)>> {
    proptest::collection::vec((0..NAMES.len(), 1..VALUES.len()), 0..4).prop_map(|pairs| {
        std::iter::once(("instance", "i"))
            .chain(pairs.into_iter().map(|(n, v)| (NAMES[n], VALUES[v])))
            .collect()
    })
}

proptest! {
    #[test]
    fn the_index_selects_what_a_scan_selects(
        rules in proptest::collection::vec(proptest::collection::vec(matcher(), 0..4), 0..30),
        alerts in proptest::collection::vec(labels(), 1..5),
    ) {
        let rules = RuleSet::new(
            rules
                .iter()
                .enumerate()
                .map(|(i, ms)| rule(&format!("r{i}"), &format!("{{{}}}", ms.join(",")), Mode::PerAlert))
                .collect(),
        );
        let alerts: Vec<&[(&str, &str)]> = alerts.iter().map(Vec::as_slice).collect();
        let n = notification(&alerts);
        for alert in &n.alerts {
            prop_assert_eq!(rules.matching("r", alert), scan(&rules, alert));
        }
    }

    #[test]
    fn rules_sharing_compiled_regexes_select_what_rules_with_their_own_select(
        rules in proptest::collection::vec(proptest::collection::vec(matcher(), 0..4), 0..30),
        alerts in proptest::collection::vec(labels(), 1..5),
    ) {
        let texts: Vec<String> = rules.iter().map(|ms| format!("{{{}}}", ms.join(","))).collect();
        let own = RuleSet::new(
            texts.iter().enumerate().map(|(i, t)| rule(&format!("r{i}"), t, Mode::PerAlert)).collect(),
        );
        let mut cache = RegexCache::new();
        let shared = RuleSet::new(
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| rule_with(&format!("r{i}"), cache.parse(t).expect("test matchers parse"), Mode::PerAlert))
                .collect(),
        );
        prop_assert!(cache.len() <= PATTERNS.len());
        let alerts: Vec<&[(&str, &str)]> = alerts.iter().map(Vec::as_slice).collect();
        let n = notification(&alerts);
        for alert in &n.alerts {
            prop_assert_eq!(shared.matching("r", alert), own.matching("r", alert));
            prop_assert_eq!(scan(&shared, alert), scan(&own, alert));
        }
    }
}
