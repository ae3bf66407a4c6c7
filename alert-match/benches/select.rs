//! Rule selection cost per alert: `RuleSet::matching` for one alert against 100, 1,000 and
//! 10,000 rules shaped like a real config (each keyed by `alertname` plus one or two more
//! matchers; every 20th rule regex-only, so it has no equality key and goes through the
//! per-label regex sets). `select/<N>/hit` is an alert that exactly one rule selects,
//! `select/<N>/miss` one that no rule selects. Target: under 10 µs per alert
//! at 10,000 rules.
//!
//! Run with `cargo bench -p alert-match --bench select`.

use std::hint::black_box;
use std::time::Duration;

use alert_core::{Alert, Notification};
use alert_match::{Matchers, Mode, Rule, RuleSet, StatusFilter};
use criterion::{Criterion, criterion_group, criterion_main};

const SIZES: [usize; 3] = [100, 1_000, 10_000];
const RECEIVER: &str = "remediator";

/// Rule `i`'s matchers: most are keyed by `alertname`; every 20th has regexes only.
fn matchers_of(i: usize) -> String {
    match i % 20 {
        19 => format!(r#"{{job=~"node.*", instance=~"db-{i}(:[0-9]+)?"}}"#),
        n if n % 3 == 0 => format!(r#"{{alertname="Alert{i}", severity=~"warning|critical"}}"#),
        n if n % 3 == 1 => format!(r#"{{alertname="Alert{i}", namespace!="kube-system"}}"#),
        _ => format!(
            r#"{{alertname="Alert{i}", severity=~"warning|critical", namespace!~"kube-.*|monitoring"}}"#
        ),
    }
}

fn rule_set(n: usize) -> RuleSet {
    let rules = (0..n)
        .map(|i| {
            let text = matchers_of(i);
            Rule {
                name: format!("rule-{i}"),
                matchers: Matchers::parse(&text)
                    .unwrap_or_else(|e| panic!("bench matcher {text:?} must parse: {e}")),
                annotation_matchers: Matchers::default(),
                receivers: vec![],
                on: StatusFilter::Firing,
                mode: Mode::PerAlert,
                env_style: Default::default(),
                env: vec![],
                pass_env: vec![],
                timeout: Duration::from_secs(60),
                arguments: Vec::new(),
                allow_option_values: false,
            }
        })
        .collect();
    RuleSet::new(rules)
}

/// A firing alert as Alertmanager sends it. Its `job` matches the regex-only rules' first
/// matcher, so each of them runs a second regex before it fails.
fn alert(alertname: &str) -> Alert {
    let body = format!(
        r#"{{"version":"4","status":"firing","receiver":"{RECEIVER}","groupKey":"{{}}:{{}}",
        "alerts":[{{"status":"firing","labels":{{"alertname":"{alertname}","severity":"critical",
        "namespace":"prod","job":"node","instance":"web-1:9100"}},
        "annotations":{{"summary":"bench"}},"startsAt":"2026-11-21T09:38:36.123Z",
        "endsAt":"0001-01-01T00:00:00Z"}}]}}"#
    );
    let n = Notification::from_json(body.as_bytes()).expect("the bench notification parses");
    n.alerts
        .into_iter()
        .next()
        .expect("the bench notification has one alert")
}

fn select(c: &mut Criterion) {
    let mut group = c.benchmark_group("select");
    for n in SIZES {
        let rules = rule_set(n);
        // A keyed rule in the middle of the set (i % 20 == 10 is never regex-only).
        let target = n / 2 - n / 2 % 20 + 10;
        let hit = alert(&format!("Alert{target}"));
        let miss = alert("NoSuchAlert");
        assert_eq!(
            rules.matching(RECEIVER, &hit),
            vec![target],
            "hit selects one rule"
        );
        assert!(
            rules.matching(RECEIVER, &miss).is_empty(),
            "miss selects none"
        );

        group.bench_function(format!("{n}/hit"), |b| {
            b.iter(|| rules.matching(black_box(RECEIVER), black_box(&hit)))
        });
        group.bench_function(format!("{n}/miss"), |b| {
            b.iter(|| rules.matching(black_box(RECEIVER), black_box(&miss)))
        });
    }
    group.finish();
}

criterion_group!(benches, select);
criterion_main!(benches);
