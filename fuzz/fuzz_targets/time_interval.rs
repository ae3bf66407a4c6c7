//! Alertmanager time interval specs (JSON, which is YAML too): reading never panics, and
//! print-then-read gives an equal interval that contains the same instants, in UTC and in a
//! zone with daylight saving time for `Local`.
#![no_main]

use alert_match::TimeInterval;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes choose the instant, the rest is the spec's text.
    let (Some(head), Some(rest)) = (data.get(..8), data.get(8..)) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(parsed) = serde_json::from_str::<TimeInterval>(text) else {
        return;
    };
    let printed = serde_json::to_string(&parsed).expect("an interval always prints");
    let again = serde_json::from_str::<TimeInterval>(&printed)
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not read: {e}"));
    assert_eq!(again, parsed, "{text:?} printed as {printed:?}");

    let seconds = i64::from_le_bytes(head.try_into().expect("8 bytes"));
    let span = Timestamp::MAX.as_second() - Timestamp::MIN.as_second();
    let at = Timestamp::from_second(Timestamp::MIN.as_second() + seconds.rem_euclid(span))
        .expect("in jiff's range by construction");
    let local = TimeZone::get("America/New_York").expect("a bundled zone");
    for zone in [&TimeZone::UTC, &local] {
        assert_eq!(
            again.contains(at, zone),
            parsed.contains(at, zone),
            "{printed} at {at}: the printed interval disagrees"
        );
    }
});
