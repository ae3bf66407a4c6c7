use std::collections::BTreeMap;

use super::*;
use crate::config::TEMPLATE_FIELDS;

fn record() -> RunRecord {
    let labels: BTreeMap<String, String> = [
        ("alertname", "DiskFull"),
        ("instance", "<!channel> & <https://evil.example|click>"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    RunRecord {
        id: 42,
        rule: "clean-disk".into(),
        executor: "process".into(),
        notification: 1,
        alert_index: Some(0),
        fingerprint: "8b464088729e8404".into(),
        labels,
        status: "firing".into(),
        starts_at: String::new(),
        group_key: "{}".into(),
        receiver: "alertrun".into(),
        dedupe_key: String::new(),
        state: RunState::Failed,
        reason: Some("exit 3".into()),
        created_at: 0,
        started_at: Some(1_000),
        ended_at: Some(3_500),
        exit: Some("exit 3".into()),
        ended_by: None,
        stdout: String::new(),
        stderr: "rm: cannot remove <x>\n".into(),
        argv: Vec::new(),
        env: Vec::new(),
        dry_run: false,
        timeline: Vec::new(),
        started: None,
        verdict: None,
        notifications: Vec::new(),
        silence: None,
        approval: None,
        claim: None,
    }
}

fn links() -> AlertLinks {
    AlertLinks {
        generator_url: "http://prom:9090/graph?g0.expr=up&g0.tab=1".into(),
        external_url: "http://am:9093".into(),
    }
}

fn subject<'a>(
    event: &'a NotifyEvent,
    record: &'a RunRecord,
    links: &'a AlertLinks,
) -> Subject<'a> {
    Subject {
        event,
        record,
        target: "{instance=\"<b>\"}",
        links,
        at: 1_700_000_000_000,
    }
}

fn text(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap();
    v["text"].as_str().unwrap().to_owned()
}

#[test]
fn escape_turns_mrkdwn_control_characters_into_entities() {
    for (name, input, want) in [
        ("plain", "web-1", "web-1"),
        ("mention", "<!channel>", "&lt;!channel&gt;"),
        ("link", "<https://x|y>", "&lt;https://x|y&gt;"),
        ("ampersand first", "a&lt;", "a&amp;lt;"),
        ("unicode", "ключ>", "ключ&gt;"),
    ] {
        assert_eq!(escape(input), want, "{name}");
    }
}

#[test]
fn the_default_finished_message_reads_well_and_escapes_hostile_labels() {
    let r = record();
    let l = links();
    let body = slack_body(
        &subject(&NotifyEvent::Finished, &r, &l),
        default_template(EventKind::Finished),
    );
    let text = text(&body);
    assert_eq!(
        text,
        ":x: *clean-disk* failed on DiskFull ({instance=\"&lt;b&gt;\"}): exit 3 after 2.5s, run 42\n\
         <http://prom:9090/graph?g0.expr=up&amp;g0.tab=1|alert source> · <http://am:9093|Alertmanager>\n\
         ```rm: cannot remove &lt;x&gt;```"
    );
}

#[test]
fn a_value_is_never_expanded_again() {
    let mut r = record();
    r.labels
        .insert("alertname".into(), "{approve_url}{rule}".into());
    let l = AlertLinks::default();
    let event = NotifyEvent::AwaitingApproval(ApprovalLinks {
        approve_url: "https://ar/approve?run=42&t=x".into(),
        reject_url: "https://ar/reject?run=42".into(),
    });
    let text = text(&slack_body(
        &subject(&event, &r, &l),
        default_template(EventKind::AwaitingApproval),
    ));
    assert!(
        text.starts_with(":raising_hand: *clean-disk* on {approve_url}{rule} ("),
        "{text}"
    );
    assert!(
        text.contains(
            "<https://ar/approve?run=42&amp;t=x|Approve> · <https://ar/reject?run=42|Reject>"
        ),
        "{text}"
    );
    assert!(
        text.ends_with('\n'),
        "no links known: an empty line: {text:?}"
    );
}

#[test]
fn every_default_template_names_known_fields_only() {
    for event in EventKind::ALL {
        let template = default_template(event);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').unwrap() + open;
            let field = &rest[open + 1..close];
            assert!(TEMPLATE_FIELDS.contains(&field), "{event:?}: {field}");
            rest = &rest[close + 1..];
        }
    }
}

#[test]
fn a_breaker_message_says_it_opened_until_when_and_why() {
    let r = record();
    let l = AlertLinks::default();
    let event = NotifyEvent::Breaker(BreakerNote {
        opened: true,
        why: "3 failures in a row".into(),
        until: Some(1_700_003_600_000),
    });
    let text = text(&slack_body(
        &subject(&event, &r, &l),
        default_template(EventKind::Breaker),
    ));
    assert_eq!(
        text,
        ":rotating_light: circuit breaker of *clean-disk* on {instance=\"&lt;b&gt;\"} opened until \
         2023-11-14T23:13:20Z: 3 failures in a row\n"
    );
}

#[test]
fn the_webhook_body_holds_the_event_the_run_and_the_events_own_part() {
    let r = record();
    let l = links();
    let event = NotifyEvent::Breaker(BreakerNote {
        opened: false,
        why: String::new(),
        until: None,
    });
    let body: Value = serde_json::from_str(&webhook_body(&subject(&event, &r, &l))).unwrap();
    assert_eq!(body["event"], "breaker");
    assert_eq!(body["at"], "2023-11-14T22:13:20Z");
    assert_eq!(body["rule"], "clean-disk");
    assert_eq!(body["run"]["id"], 42);
    assert_eq!(body["run"]["labels"]["instance"], r.labels["instance"]);
    assert_eq!(body["breaker"]["state"], "closed");
    assert_eq!(body["external_url"], "http://am:9093");
}

#[test]
fn links_come_from_the_stored_notification() {
    let body = br#"{"externalURL":"http://am:9093","alerts":[{"generatorURL":"http://a"},{"generatorURL":"http://b"}]}"#;
    let l = AlertLinks::from_body(body, Some(1));
    assert_eq!(l.generator_url, "http://b");
    assert_eq!(l.external_url, "http://am:9093");
    assert_eq!(AlertLinks::from_body(b"", None), AlertLinks::default());
}
