use super::super::alertmanager::{Silence, SilenceStatus};
use super::*;

const AM: &str = "http://alertmanager.example:9093";

fn notification() -> Notification {
    Notification::from_json(
        br#"{"version":"4","groupKey":"{}:{alertname=\"DiskFull\"}","status":"firing",
        "receiver":"alertrun","groupLabels":{},"commonLabels":{"alertname":"DiskFull"},
        "commonAnnotations":{},"externalURL":"http://alertmanager.example:9093","alerts":[]}"#,
    )
    .unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn silence(id: &str, by: &str, state: &str, matchers: &[(&str, &str, bool)]) -> Silence {
    Silence {
        id: id.to_owned(),
        matchers: matchers
            .iter()
            .map(|(name, value, is_regex)| SilenceMatcher {
                name: (*name).to_owned(),
                value: (*value).to_owned(),
                is_regex: *is_regex,
                is_equal: true,
            })
            .collect(),
        created_by: by.to_owned(),
        comment: "disk swap".to_owned(),
        starts_at: "2026-12-05T03:00:00.000Z".to_owned(),
        ends_at: "2026-12-05T05:00:00.000Z".to_owned(),
        status: SilenceStatus {
            state: state.to_owned(),
        },
    }
}

/// A silence of every DiskFull alert.
fn on_disk_full(id: &str, by: &str, state: &str) -> Silence {
    silence(id, by, state, &[("alertname", "DiskFull", false)])
}

fn lookup(answer: Result<Vec<Silence>, Error>) -> SilenceLookup {
    SilenceLookup {
        answers: [(AM.to_owned(), answer.map_err(Arc::new))].into(),
    }
}

fn respecting(on: OnAlertmanagerUnreachable) -> SilencePolicy {
    SilencePolicy {
        respect_silences: true,
        on_alertmanager_unreachable: on,
        ..SilencePolicy::default()
    }
}

#[test]
fn a_humans_active_silence_holds_a_respecting_rule_with_its_id_creator_and_comment() {
    let node1 = labels(&[("alertname", "DiskFull"), ("instance", "node-1")]);
    let silences = lookup(Ok(vec![
        on_disk_full("mine-1", "alertrun", "active"),
        silence("other-1", "bob", "active", &[("instance", "node-2", false)]),
        silence("jane-1", "jane", "active", &[("instance", "node-.*", true)]),
    ]));
    let n = notification();
    let settings = AlertmanagerSettings::default();
    let held = silences
        .check(
            &settings,
            &respecting(OnAlertmanagerUnreachable::Act),
            &n,
            &node1,
        )
        .unwrap_err();
    assert_eq!(held.rail, Rail::Silenced);
    assert_eq!(
        held.reason,
        "silence jane-1 by jane covers the alert until 2026-12-05T05:00:00.000Z: disk swap"
    );
    // A rule that does not respect silences is not asked about them.
    let plain = SilencePolicy::default();
    assert_eq!(silences.check(&settings, &plain, &n, &node1), Ok(()));
}

#[test]
fn expired_pending_and_alertruns_own_silences_hold_nothing() {
    let node1 = labels(&[("alertname", "DiskFull"), ("instance", "node-1")]);
    let silences = lookup(Ok(vec![
        on_disk_full("expired-1", "jane", "expired"),
        on_disk_full("pending-1", "jane", "pending"),
        on_disk_full("mine-1", "alertrun", "active"),
    ]));
    let policy = respecting(OnAlertmanagerUnreachable::Skip);
    let settings = AlertmanagerSettings::default();
    assert_eq!(
        silences.check(&settings, &policy, &notification(), &node1),
        Ok(())
    );
}

#[test]
fn an_alertmanager_that_cannot_be_asked_acts_or_skips_as_the_rule_says() {
    let node1 = labels(&[("alertname", "DiskFull")]);
    let n = notification();
    let settings = AlertmanagerSettings::default();
    let down = lookup(Err(Error::Timeout {
        url: format!("{AM}/api/v2/silences"),
        timeout: Duration::from_secs(5),
    }));
    let act = respecting(OnAlertmanagerUnreachable::Act);
    assert_eq!(down.check(&settings, &act, &n, &node1), Ok(()));
    let skip = respecting(OnAlertmanagerUnreachable::Skip);
    let held = down.check(&settings, &skip, &n, &node1).unwrap_err();
    assert_eq!(held.rail, Rail::Silenced);
    assert_eq!(
        held.reason,
        "Alertmanager could not be asked about silences: Alertmanager at \
         http://alertmanager.example:9093/api/v2/silences did not answer within 5s; \
         the rule says on_alertmanager_unreachable: skip"
    );
    // A silence alertrun cannot evaluate counts as not knowing.
    let odd = lookup(Ok(vec![silence(
        "odd-1",
        "jane",
        "active",
        &[("x", "(", true)],
    )]));
    let held = odd.check(&settings, &skip, &n, &node1).unwrap_err();
    assert!(
        held.reason
            .starts_with("cannot tell whether silence odd-1 by jane covers the alert"),
        "{}",
        held.reason
    );
    assert_eq!(odd.check(&settings, &act, &n, &node1), Ok(()));
}

#[test]
fn the_configured_url_wins_over_the_notifications_external_url() {
    let n = notification();
    let mut settings = AlertmanagerSettings::default();
    assert_eq!(alertmanager_of(&settings, &n).as_deref(), Some(AM));
    settings.url = Some("http://127.0.0.1:9093".to_owned());
    assert_eq!(
        alertmanager_of(&settings, &n).as_deref(),
        Some("http://127.0.0.1:9093")
    );
    // The lookup asked the notification's Alertmanager; the configured one was not asked.
    let policy = respecting(OnAlertmanagerUnreachable::Skip);
    let held = lookup(Ok(Vec::new()))
        .check(&settings, &policy, &n, &LabelSet::new())
        .unwrap_err();
    assert!(
        held.reason.contains("could not be asked"),
        "{}",
        held.reason
    );
}

#[test]
fn only_a_rule_that_silences_while_running_plans_a_silence() {
    let n = notification();
    let settings = AlertmanagerSettings::default();
    assert_eq!(planned(&settings, &SilencePolicy::default(), &n), None);
    let policy = SilencePolicy {
        silence_while_running: true,
        ..SilencePolicy::default()
    };
    assert_eq!(
        planned(&settings, &policy, &n),
        Some(RunSilence {
            alertmanager: AM.to_owned(),
            ..RunSilence::default()
        })
    );
}
