//! Differential tests against real Alertmanager output: every body in `tests/fixtures/`
//! (see its README; made by `scripts/capture-fixtures`) parses, round-trips, and agrees
//! with what Alertmanager itself put on the wire: fingerprints, timestamps, status.
//!
//! The wire values are read with `serde_json::Value` from the raw bytes, never from the
//! parsed model, so a bug in the model cannot hide behind itself.

use std::collections::BTreeSet;
use std::path::Path;

use alert_core::testing::labels;
use alert_core::{AlertStatus, Fingerprint, Notification};
use serde_json::Value;

/// Every fixture, and whether Alertmanager 0.25 really sent it (`false` = hand-made).
const FIXTURES: &[(&str, &[u8], bool)] = &[
    ("firing.json", include_bytes!("fixtures/firing.json"), true),
    (
        "resolved.json",
        include_bytes!("fixtures/resolved.json"),
        true,
    ),
    ("mixed.json", include_bytes!("fixtures/mixed.json"), true),
    (
        "truncated.json",
        include_bytes!("fixtures/truncated.json"),
        true,
    ),
    (
        "grouped.json",
        include_bytes!("fixtures/grouped.json"),
        true,
    ),
    (
        "unicode.json",
        include_bytes!("fixtures/unicode.json"),
        true,
    ),
    (
        "extra_fields.json",
        include_bytes!("fixtures/extra_fields.json"),
        false,
    ),
    (
        "grafana.json",
        include_bytes!("fixtures/grafana.json"),
        false,
    ),
];

/// Go's zero time, which Alertmanager writes as the `endsAt` of every firing alert.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn parse(name: &str) -> (Notification, Value) {
    let (_, bytes, _) = FIXTURES
        .iter()
        .find(|(n, _, _)| *n == name)
        .unwrap_or_else(|| panic!("no fixture named {name}"));
    both(name, bytes)
}

fn both(name: &str, bytes: &[u8]) -> (Notification, Value) {
    let parsed = Notification::from_json(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let raw: Value = serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        parsed.alerts.len(),
        raw["alerts"].as_array().map_or(0, Vec::len),
        "{name}: alert count"
    );
    (parsed, raw)
}

/// Calls `check(fixture name, alert index, parsed notification, raw alert)` for every alert
/// of every fixture.
fn for_each_alert(mut check: impl FnMut(&str, usize, &Notification, &Value)) {
    for (name, bytes, _) in FIXTURES {
        let (n, raw) = both(name, bytes);
        for (i, raw_alert) in raw["alerts"].as_array().into_iter().flatten().enumerate() {
            check(name, i, &n, raw_alert);
        }
    }
}

fn wire_str<'a>(name: &str, i: usize, raw_alert: &'a Value, key: &str) -> &'a str {
    raw_alert[key]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: alerts[{i}].{key} is not a string on the wire"))
}

#[test]
fn every_json_file_in_the_fixtures_directory_is_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let listed: BTreeSet<String> = FIXTURES.iter().map(|(n, _, _)| n.to_string()).collect();
    assert_eq!(
        on_disk, listed,
        "update FIXTURES when adding or removing a fixture"
    );
}

#[test]
fn fingerprint_of_labels_equals_the_fingerprint_on_the_wire() {
    // grafana.json is hand-made, but its labels and fingerprints are copied from
    // grafana/alerting's own TestNotify expectations, so it is checked too. (Real Grafana
    // alerts also carry `__alert_rule_uid__`, which Grafana hashes and then strips from the
    // body: for real Grafana bodies the wire fingerprint is the one to trust.)
    let mut checked = 0;
    for_each_alert(|name, i, n, raw_alert| {
        let alert = &n.alerts[i];
        let wire = wire_str(name, i, raw_alert, "fingerprint");
        let ours = Fingerprint::of(&alert.labels).to_string();
        assert_eq!(ours, wire, "{name}: alerts[{i}] {:?}", alert.labels);
        assert_eq!(
            alert.fingerprint.to_string(),
            wire,
            "{name}: alerts[{i}] parsed fingerprint"
        );
        checked += 1;
    });
    assert!(checked >= 15, "only {checked} alerts checked");
}

#[test]
fn firing_alerts_have_no_end_and_go_zero_time_on_the_wire() {
    for_each_alert(|name, i, n, raw_alert| {
        let alert = &n.alerts[i];
        let wire_status = wire_str(name, i, raw_alert, "status");
        let wire_end = wire_str(name, i, raw_alert, "endsAt");
        assert_eq!(alert.status.as_str(), wire_status, "{name}: alerts[{i}]");
        match alert.status {
            AlertStatus::Firing => {
                assert_eq!(alert.ends_at, None, "{name}: alerts[{i}]");
                assert_eq!(wire_end, GO_ZERO_TIME, "{name}: alerts[{i}]");
            }
            AlertStatus::Resolved => {
                let end = alert
                    .ends_at
                    .unwrap_or_else(|| panic!("{name}: alerts[{i}] no end"));
                assert_ne!(wire_end, GO_ZERO_TIME, "{name}: alerts[{i}]");
                assert!(
                    end >= alert.starts_at,
                    "{name}: alerts[{i}] ends before it starts"
                );
            }
        }
    });
}

#[test]
fn timestamps_display_exactly_as_alertmanager_wrote_them() {
    // Our Display mimics Go's RFC3339Nano: the offset kept, trailing zeros trimmed.
    let mut seen = BTreeSet::new();
    for_each_alert(|name, i, n, raw_alert| {
        let alert = &n.alerts[i];
        let starts = wire_str(name, i, raw_alert, "startsAt");
        assert_eq!(
            alert.starts_at.to_string(),
            starts,
            "{name}: alerts[{i}].startsAt"
        );
        if let Some(end) = alert.ends_at {
            let ends = wire_str(name, i, raw_alert, "endsAt");
            assert_eq!(end.to_string(), ends, "{name}: alerts[{i}].endsAt");
        }
        seen.insert(starts.to_string());
    });
    // What Alertmanager kept from what grouped.json's client sent (see the README).
    for kept in [
        "2024-05-01T12:00:00+02:00",        // sent as +02:00: the offset survives
        "2024-05-01T05:30:00.5-04:30",      // a half-hour negative offset, fraction trimmed
        "2024-05-01T10:00:00.123456789Z",   // nanoseconds survive
        "2024-05-01T10:00:00.12Z",          // sent as .120Z
        "2024-05-01T10:00:00Z",             // sent as .000+00:00
        "2024-05-01T12:00:00Z",             // sent as "2024-05-01 12:00:00"
        "2021-10-12T09:51:03.157076+02:00", // grafana.json, Grafana's documented example
    ] {
        assert!(seen.contains(kept), "no fixture has startsAt {kept}");
    }
}

#[test]
fn parsed_notification_survives_serialize_and_parse() {
    for (name, bytes, _) in FIXTURES {
        let (n, _) = both(name, bytes);
        let json = serde_json::to_vec(&n).unwrap();
        let again = Notification::from_json(&json).unwrap_or_else(|e| {
            panic!(
                "{name}: re-parse failed: {e}\n{}",
                String::from_utf8_lossy(&json)
            )
        });
        assert_eq!(again, n, "{name}");
    }
}

#[test]
fn top_level_fields_match_the_wire() {
    for (name, bytes, _) in FIXTURES {
        let (n, raw) = both(name, bytes);
        assert_eq!(n.receiver, raw["receiver"], "{name}");
        assert_eq!(n.status.as_str(), raw["status"], "{name}");
        assert_eq!(n.version, raw["version"], "{name}");
        assert_eq!(n.group_key, raw["groupKey"], "{name}");
        assert_eq!(n.external_url, raw["externalURL"], "{name}");
        assert_eq!(
            Some(n.truncated_alerts),
            raw["truncatedAlerts"].as_u64(),
            "{name}"
        );
        let any_firing = n.alerts.iter().any(|a| a.status == AlertStatus::Firing);
        let want = if any_firing {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        };
        assert_eq!(
            n.status, want,
            "{name}: status is firing iff any alert fires"
        );
        for a in &n.alerts {
            for (k, v) in &n.common_labels {
                assert_eq!(a.labels.get(k), Some(v), "{name}: common label {k}");
            }
        }
    }
}

#[test]
fn truncated_fixture_reports_two_dropped_alerts() {
    let (n, _) = parse("truncated.json");
    assert_eq!(n.truncated_alerts, 2);
    assert_eq!(n.alerts.len(), 2);
    // max_alerts keeps the first alerts after sorting by job: kube-state-metrics < kubelet,
    // and a pod without a job sorts last.
    for a in &n.alerts {
        assert_eq!(a.label("job"), "kube-state-metrics", "{:?}", a.labels);
    }
    for (name, _, _) in FIXTURES.iter().filter(|(n, _, _)| *n != "truncated.json") {
        assert_eq!(parse(name).0.truncated_alerts, 0, "{name}");
    }
}

#[test]
fn resolving_keeps_the_episode_of_the_firing_alert() {
    let (firing, _) = parse("firing.json");
    let (resolved, _) = parse("resolved.json");
    assert_eq!(
        (firing.status, resolved.status),
        (AlertStatus::Firing, AlertStatus::Resolved)
    );
    let (f, r) = (&firing.alerts[0], &resolved.alerts[0]);
    assert_eq!(f.episode(), r.episode());
    assert_eq!(f.labels, r.labels);
    assert_eq!(firing.group_key, resolved.group_key);
}

#[test]
fn mixed_fixture_has_one_firing_and_one_resolved_alert() {
    let (n, _) = parse("mixed.json");
    assert_eq!(n.status, AlertStatus::Firing);
    assert_eq!(n.alerts_with_status(AlertStatus::Firing).count(), 1);
    assert_eq!(n.alerts_with_status(AlertStatus::Resolved).count(), 1);
}

#[test]
fn grouped_fixture_is_sorted_by_job_then_instance_and_escapes_the_receiver() {
    let (n, _) = parse("grouped.json");
    assert_eq!(n.receiver, r"team\.ops", "regexp.QuoteMeta of team.ops");
    assert_eq!(n.group_labels, labels(&[("alertname", "TargetDown")]));
    assert_eq!(
        n.group_key,
        r#"{}/{alertname="TargetDown"}:{alertname="TargetDown"}"#
    );
    let order: Vec<(&str, &str)> = n
        .alerts
        .iter()
        .map(|a| (a.label("job"), a.label("instance")))
        .collect();
    assert_eq!(
        order,
        [
            ("api", "api-1:8080"),
            ("api", ""),
            ("node", "node-1:9100"),
            ("node", "node-2:9100"),
            ("node", "node-3:9100"),
            ("", "lonely:9100"),
        ]
    );
}

#[test]
fn unicode_fixture_keeps_values_byte_exact_and_drops_empty_labels() {
    let (n, _) = parse("unicode.json");
    let a = &n.alerts[0];
    assert_eq!(a.label("city"), "Zürich 東京 🙂");
    assert_eq!(a.label("quote"), r#"He said "hi", then left"#);
    assert_eq!(
        a.label("shell"),
        "$(HOME) $$(HOME) ${PATH} `id`; echo 'x' | cat"
    );
    assert_eq!(a.label("multiline"), "line1\nline2\n");
    assert_eq!(a.label("backslash"), r"C:\temp\new \d");
    assert_eq!(a.label("html"), "<b>&amp;</b>"); // sent as \u003cb\u003e\u0026amp;...
    assert_eq!(a.label("separators"), "a\u{2028}b\u{2029}c");
    assert_eq!(a.label("nfd"), "e\u{301}"); // not normalised to U+00E9
    assert!(
        !a.labels.contains_key("empty"),
        "Alertmanager drops empty-valued labels"
    );
    assert_eq!(
        a.annotations.get("empty_annotation").map(String::as_str),
        Some("")
    );
    assert_eq!(
        n.group_key,
        r#"{}/{alertname="WeirdValues"}:{alertname="WeirdValues", city="Zürich 東京 🙂", quote="He said \"hi\", then left"}"#
    );
}

#[test]
fn unknown_fields_are_kept_in_extra() {
    let (n, _) = parse("extra_fields.json");
    assert_eq!(n.extra["notification_reason"], "first notification");
    assert_eq!(
        n.extra["routeLabels"],
        serde_json::json!({"team": "storage"})
    );
    let (firing, _) = parse("firing.json");
    assert_eq!(n.alerts, firing.alerts);
    assert!(
        firing.extra.is_empty(),
        "AM 0.25 sends no fields beyond the model: {:?}",
        firing.extra
    );

    let (g, _) = parse("grafana.json");
    assert_eq!(g.version, "1");
    assert_eq!(g.extra["orgId"], 1);
    assert_eq!(g.extra["state"], "alerting");
    assert!(g.extra["title"].is_string() && g.extra["message"].is_string());
    let first = &g.alerts[0].extra;
    assert_eq!(first["values"], serde_json::json!({"B": 44.2, "C": 1}));
    for key in ["silenceURL", "dashboardURL", "panelURL"] {
        assert!(
            first[key]
                .as_str()
                .is_some_and(|u| u.starts_with("https://")),
            "{key}"
        );
    }
    assert_eq!(g.alerts[1].extra["values"], Value::Null);
}
