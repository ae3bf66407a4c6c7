//! `render` and the names an action already has: an alert's variable named like one of
//! the rule's `env` or its action's `pass_env` is a collision in every env style, never a
//! silent override (issue 17, item 6).

use std::time::Duration;

use alert_core::Notification;
use alert_core::env::{EnvProblem, EnvStyle, EnvVar};
use alert_match::{Matchers, Mode, RenderProblem, Rule, StatusFilter, Target, render};

fn rule(style: EnvStyle, mode: Mode, env: &[&str], pass_env: &[&str]) -> Rule {
    Rule {
        name: "fix".to_owned(),
        matchers: Matchers::default(),
        annotation_matchers: Matchers::default(),
        receivers: vec![],
        on: StatusFilter::Firing,
        mode,
        env_style: style,
        env: env.iter().map(|n| EnvVar::new(*n, "from config")).collect(),
        pass_env: pass_env.iter().map(|n| (*n).to_owned()).collect(),
        timeout: Duration::from_secs(60),
        arguments: Vec::new(),
        allow_option_values: false,
    }
}

/// One firing alert with the label `endpoint="http://attacker"`, also a common label.
fn notification() -> Notification {
    let labels = serde_json::json!({"alertname": "Down", "endpoint": "http://attacker"});
    let body = serde_json::json!({
        "version": "4", "status": "firing", "receiver": "r", "groupKey": "{}:{}",
        "commonLabels": labels,
        "alerts": [{
            "status": "firing", "labels": labels, "annotations": {},
            "startsAt": "2026-11-21T09:38:36.123Z", "endsAt": "0001-01-01T00:00:00Z"
        }]
    });
    Notification::from_json(body.to_string().as_bytes()).expect("test notification parses")
}

/// One row: the case, the rule's style, mode, `env` names and `pass_env` names, and the
/// name expected to collide (`None`: no problem).
type Case = (
    &'static str,
    EnvStyle,
    Mode,
    &'static [&'static str],
    &'static [&'static str],
    Option<&'static str>,
);

#[test]
fn issue_17_label_named_like_pass_env_is_a_collision_in_every_style() {
    let table: &[Case] = &[
        (
            "bailer: the issue's case",
            EnvStyle::Bailer,
            Mode::PerAlert,
            &[],
            &["ALERT_ENDPOINT"],
            Some("ALERT_ENDPOINT"),
        ),
        (
            "am-executor per alert: the alert's label",
            EnvStyle::AmExecutor,
            Mode::PerAlert,
            &[],
            &["AMX_ALERT_1_LABEL_endpoint"],
            Some("AMX_ALERT_1_LABEL_endpoint"),
        ),
        (
            "am-executor per group: a common label",
            EnvStyle::AmExecutor,
            Mode::PerGroup,
            &[],
            &["AMX_LABEL_endpoint"],
            Some("AMX_LABEL_endpoint"),
        ),
        (
            "native per alert",
            EnvStyle::Native,
            Mode::PerAlert,
            &[],
            &["ALERTRUN_LABEL_endpoint"],
            Some("ALERTRUN_LABEL_endpoint"),
        ),
        (
            "native per group",
            EnvStyle::Native,
            Mode::PerGroup,
            &[],
            &["ALERTRUN_COMMON_LABEL_endpoint"],
            Some("ALERTRUN_COMMON_LABEL_endpoint"),
        ),
        (
            "bailer: the rule's env, as before",
            EnvStyle::Bailer,
            Mode::PerAlert,
            &["ALERT_ENDPOINT"],
            &[],
            Some("ALERT_ENDPOINT"),
        ),
        (
            "bailer: a pass_env name no label maps to",
            EnvStyle::Bailer,
            Mode::PerAlert,
            &[],
            &["ALERT_OTHER", "HOME"],
            None,
        ),
    ];
    let n = notification();
    for (case, style, mode, env, pass_env, collided) in table {
        let rule = rule(*style, *mode, env, pass_env);
        let target = match mode {
            Mode::PerAlert => Target::Alert(&n.alerts[0]),
            Mode::PerGroup => Target::Group,
        };
        let rendered = render(&rule, &n, target);
        match collided {
            Some(name) => {
                let first = if env.is_empty() {
                    "the action's pass_env"
                } else {
                    "the rule's env"
                };
                assert_eq!(
                    rendered.problems,
                    [RenderProblem::Env(EnvProblem::Collision {
                        name: (*name).to_owned(),
                        first: first.to_owned(),
                        second: "the alert".to_owned(),
                    })],
                    "{case}"
                );
                assert!(
                    rendered
                        .request
                        .env
                        .iter()
                        .all(|v| v.value != "http://attacker" || v.name != *name),
                    "{case}: the label's value is not passed under the collided name"
                );
            }
            None => {
                assert_eq!(rendered.problems, [], "{case}");
                for name in *pass_env {
                    assert!(
                        rendered.request.env.iter().all(|v| v.name != *name),
                        "{case}: {name} is left to the inherited environment"
                    );
                }
            }
        }
    }
}
