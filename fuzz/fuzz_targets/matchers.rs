//! Matcher strings: print-then-parse is identity, and a matcher list matches a label set
//! exactly when each of its matchers does (and `first_mismatch` agrees with `matches`).
#![no_main]

use alert_core::LabelSet;
use alert_match::Matchers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = Matchers::parse(text) else {
        return;
    };
    let printed = parsed.to_string();
    let again = Matchers::parse(&printed)
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(again, parsed, "{text:?} printed as {printed:?}");

    let labels = labels_for(&parsed, data);
    for m in &parsed {
        let value = labels.get(m.name()).map_or("", String::as_str);
        assert_eq!(
            m.matches(&labels),
            m.matches_value(value),
            "{m} on {labels:?}: an absent label must count as \"\""
        );
    }
    let each = parsed.iter().all(|m| m.matches(&labels));
    assert_eq!(
        parsed.matches(&labels),
        each,
        "{printed} on {labels:?}: the list disagrees with its matchers"
    );
    assert_eq!(
        parsed.first_mismatch(&labels).is_none(),
        each,
        "{printed} on {labels:?}: first_mismatch disagrees with matches"
    );
});

/// A label set for `matchers` chosen by the input bytes: each matcher's label is absent,
/// empty, the matcher's own value, or a slice of the input, so that both outcomes occur.
fn labels_for(matchers: &Matchers, data: &[u8]) -> LabelSet {
    let text = String::from_utf8_lossy(data);
    let mut labels = LabelSet::new();
    for (i, m) in matchers.iter().enumerate() {
        let pick = data
            .get(data.len().saturating_sub(1 + i))
            .copied()
            .unwrap_or(0);
        let value = match pick % 4 {
            0 => continue,
            1 => String::new(),
            2 => m.value().to_string(),
            _ => {
                let start = usize::from(pick) % (text.len() + 1);
                let end = (start + usize::from(pick / 4)).min(text.len());
                text.get(start..end).unwrap_or_default().to_string()
            }
        };
        labels.insert(m.name().to_string(), value);
    }
    labels
}
