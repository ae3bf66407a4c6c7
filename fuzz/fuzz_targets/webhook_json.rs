//! Webhook bodies: a parsed notification survives serialise-then-parse unchanged, and an
//! alert sent without a fingerprint gets the fingerprint of its labels, which the
//! serialised form then carries.
#![no_main]

use alert_core::{Fingerprint, Notification};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(first) = Notification::from_json(data) else {
        return;
    };
    let json = serde_json::to_vec(&first).expect("a parsed notification serialises");
    let again = Notification::from_json(&json).unwrap_or_else(|e| {
        panic!(
            "re-parse failed: {e}\n  serialised: {}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(
        again, first,
        "serialise-then-parse changed the notification"
    );

    // The input parsed, so it starts with a JSON value; read each alert's `fingerprint` as
    // sent. (`from_json` reads the first value the way this does, ignoring what follows.)
    let sent: Value = serde_json::Deserializer::from_slice(data)
        .into_iter()
        .next()
        .and_then(Result::ok)
        .expect("a parsed body starts with a JSON value");
    let written: Value = serde_json::from_slice(&json).expect("serde_json's output is JSON");
    for (i, alert) in first.alerts.iter().enumerate() {
        let given = &sent["alerts"][i]["fingerprint"];
        if given.is_null() {
            assert_eq!(
                alert.fingerprint,
                Fingerprint::of(&alert.labels),
                "alerts[{i}] had no fingerprint; it must be the labels' fingerprint"
            );
        }
        assert_eq!(
            written["alerts"][i]["fingerprint"].as_str(),
            Some(alert.fingerprint.to_string().as_str()),
            "alerts[{i}]: the serialised alert must carry its fingerprint"
        );
    }
});
