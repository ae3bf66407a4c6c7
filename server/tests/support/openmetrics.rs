//! `GET /metrics` parsed with a real OpenMetrics parser (openmetrics-parser), as in
//! `server/src/serve/metrics/tests.rs`.
//!
//! The same workaround: openmetrics-parser 0.5 refuses a `# UNIT` line on a histogram,
//! which OpenMetrics 1.0 allows; [`parse`] takes those lines out first.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use openmetrics_parser::openmetrics::parse_openmetrics;
use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};

use super::http;

/// A parsed exposition.
pub(crate) type Exposition = MetricsExposition<OpenMetricsType, OpenMetricsValue>;

/// Scrapes `GET /metrics` and parses it.
///
/// # Panics
/// Unless alertrun answers 200 with a valid exposition.
pub(crate) fn scrape(addr: SocketAddr) -> Exposition {
    let resp = http::request(addr, "GET", "/metrics", None).expect("GET /metrics");
    assert_eq!(resp.status, 200, "GET /metrics: {}", resp.text());
    parse(&resp.text())
}

/// Parses `text`, after taking out the `# UNIT` lines of histograms.
pub(crate) fn parse(text: &str) -> Exposition {
    let mut kept = String::with_capacity(text.len());
    let mut histogram: Option<&str> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["#", "UNIT", name, _] if histogram == Some(name) => {
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

/// The value of the one sample of family `name` (without `_total`) whose labels are
/// exactly `labels`; `None` when there is no such sample.
///
/// # Panics
/// When the family is missing, or the sample is not a counter or gauge.
pub(crate) fn value(exposition: &Exposition, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let family = exposition
        .families
        .get(name)
        .unwrap_or_else(|| panic!("no metric family {name}"));
    let sample = family.iter_samples().find(|s| {
        let found: BTreeMap<String, String> = s
            .get_labelset()
            .map(|set| set.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        found == wanted
    })?;
    Some(match &sample.value {
        OpenMetricsValue::Counter(c) => c.value.as_f64(),
        OpenMetricsValue::Gauge(g) => g.as_f64(),
        other => panic!("{name}{wanted:?} is not a counter or gauge: {other:?}"),
    })
}
