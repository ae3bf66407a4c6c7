//! Turning a selection into the request an executor runs.

use alert_core::env::{self, Context, EnvProblem};
use alert_core::{Alert, ExecRequest, Fingerprint, LabelSet, Notification, Subject};

use crate::{OptionValue, Rule, Target, option_values};

/// A request ready for an executor, and why it must not run as it stands.
///
/// An action must not run while `problems` is not empty; `alertrun explain` shows both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The request.
    pub request: ExecRequest,
    /// Variables left out and argv elements refused, each with the reason.
    pub problems: Vec<RenderProblem>,
}

/// Why a rendered request must not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderProblem {
    /// A variable cannot be passed.
    #[error("environment cannot be passed: {0}")]
    Env(EnvProblem),
    /// An argv element would start with `-` taken from an alert's value.
    #[error("option value refused: {0}")]
    OptionValue(OptionValue),
}

/// Renders the request `rule` runs for `target` of notification `n`: the rule's static
/// env, then the env contract in the rule's style (a name also in the rule's env or
/// `pass_env` is a collision: a problem, never an override), the alert (or group) JSON as
/// input, and the dedupe key (the episode for an alert; the group key and its alerts'
/// episodes for a group).
///
/// Unless the rule allows option values, every element of `rule.arguments` whose expansion
/// starts with `-` taken from the alert's variables (not the rule's own, nor
/// `ALERTRUN_RULE`) is a [`RenderProblem::OptionValue`].
pub fn render(rule: &Rule, n: &Notification, target: Target<'_>) -> Rendered {
    let ctx = Context {
        rule: &rule.name,
        notification: n,
    };
    let (contract, subject, dedup_key, input) = match target {
        Target::Alert(alert) => (
            env::alert_env(ctx, alert, rule.env_style),
            alert_subject(n, alert),
            alert.episode().key(),
            serde_json::to_vec(alert),
        ),
        Target::Group => (
            env::group_env(ctx, rule.env_style),
            group_subject(n),
            group_dedup_key(n),
            serde_json::to_vec(n),
        ),
    };
    let mut problems: Vec<RenderProblem> = contract
        .problems
        .into_iter()
        .map(RenderProblem::Env)
        .collect();
    let mut vars = rule.env.clone();
    let from_alert: Vec<String> = contract
        .vars
        .iter()
        .filter(|v| v.name != env::RULE)
        .map(|v| v.name.clone())
        .collect();
    for var in contract.vars {
        let first = if vars.iter().any(|v| v.name == var.name) {
            Some("the rule's env")
        } else if rule.pass_env.contains(&var.name) {
            Some("the action's pass_env")
        } else {
            None
        };
        match first {
            Some(first) => problems.push(RenderProblem::Env(EnvProblem::Collision {
                name: var.name.clone(),
                first: first.into(),
                second: "the alert".into(),
            })),
            None => vars.push(var),
        }
    }
    if !rule.allow_option_values {
        let is_alert = |name: &str| {
            from_alert.iter().any(|n| n == name) && !rule.env.iter().any(|v| v.name == name)
        };
        let refused = option_values(&rule.arguments, &vars, is_alert);
        problems.extend(refused.into_iter().map(RenderProblem::OptionValue));
    }
    let request = ExecRequest {
        rule: rule.name.clone(),
        dedup_key,
        subject,
        env: vars,
        // Serialising the model cannot fail: every map has string keys.
        input: input.unwrap_or_default(),
        deadline: rule.timeout,
    };
    Rendered { request, problems }
}

fn alert_subject(n: &Notification, alert: &Alert) -> Subject {
    Subject {
        alertname: alert.label("alertname").to_string(),
        status: Some(alert.status),
        fingerprint: Some(alert.fingerprint),
        starts_at: Some(alert.starts_at),
        group_key: n.group_key.clone(),
        summary: alert
            .annotations
            .get("summary")
            .cloned()
            .unwrap_or_default(),
        generator_url: alert.generator_url.clone(),
    }
}

fn group_subject(n: &Notification) -> Subject {
    Subject {
        alertname: n
            .common_labels
            .get("alertname")
            .cloned()
            .unwrap_or_default(),
        status: Some(n.status),
        group_key: n.group_key.clone(),
        summary: n
            .common_annotations
            .get("summary")
            .cloned()
            .unwrap_or_default(),
        ..Subject::default()
    }
}

/// `<groupKey>#<fingerprint of the alerts' episodes>`: the same group with the same alerts
/// in the same states gives the same key.
fn group_dedup_key(n: &Notification) -> String {
    let episodes: LabelSet = n
        .alerts
        .iter()
        .map(|a| (a.episode().key(), a.status.as_str().to_string()))
        .collect();
    format!("{}#{}", n.group_key, Fingerprint::of(&episodes))
}
