//! The env contract on arbitrary labels and annotations, in every style: every variable
//! can be passed to a process (a non-empty name without `=` or NUL, a value without NUL),
//! no name is passed twice, and every label is passed under its documented name or
//! reported as a problem naming that variable, never silently dropped.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use alert_core::env::{
    self, ANNOTATION_PREFIX, BAILER_PREFIX, Context, Env, EnvProblem, EnvStyle, LABEL_PREFIX,
};
use alert_core::{Alert, AlertStatus, Fingerprint, LabelSet, Notification, Timestamp};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const STYLES: [EnvStyle; 3] = [EnvStyle::Native, EnvStyle::AmExecutor, EnvStyle::Bailer];

fuzz_target!(|data: &[u8]| {
    let Ok(n) = notification(&mut Unstructured::new(data)) else {
        return;
    };
    let ctx = Context {
        rule: "r",
        notification: &n,
    };
    let alert = &n.alerts[0];
    for style in STYLES {
        let rendered = env::alert_env(ctx, alert, style);
        check_passable(&rendered, style);
        for (name, value) in &alert.labels {
            for var in label_vars(name, style) {
                check_passed_or_reported(&rendered, &var, value, style);
            }
        }
        if style == EnvStyle::Native {
            for (name, value) in &alert.annotations {
                let var = format!("{ANNOTATION_PREFIX}{}", env::encode_name(name));
                check_passed_or_reported(&rendered, &var, value, style);
            }
        }
        // The group form: same guarantees for what it renders.
        check_passable(&env::group_env(ctx, style), style);
    }
});

/// A one-alert notification with arbitrary labels, annotations and strings. Like
/// `Notification::from_json`, it never has an empty label set or an empty label name.
fn notification(u: &mut Unstructured<'_>) -> Result<Notification> {
    let mut labels: LabelSet = u.arbitrary()?;
    labels.remove("");
    if labels.is_empty() {
        labels.insert("alertname".into(), u.arbitrary()?);
    }
    let annotations: LabelSet = u.arbitrary()?;
    let status = if u.arbitrary()? {
        AlertStatus::Firing
    } else {
        AlertStatus::Resolved
    };
    let starts_at = timestamp(u)?;
    let ends_at = match status {
        AlertStatus::Firing => None,
        AlertStatus::Resolved => Some(timestamp(u)?),
    };
    let alert = Alert {
        status,
        fingerprint: Fingerprint::of(&labels),
        labels,
        annotations,
        starts_at,
        ends_at,
        generator_url: u.arbitrary()?,
        extra: BTreeMap::new(),
    };
    Ok(Notification {
        receiver: u.arbitrary()?,
        status,
        group_labels: u.arbitrary()?,
        common_labels: alert.labels.clone(),
        common_annotations: alert.annotations.clone(),
        alerts: vec![alert],
        external_url: u.arbitrary()?,
        version: "4".into(),
        group_key: u.arbitrary()?,
        truncated_alerts: u.arbitrary()?,
        extra: BTreeMap::new(),
    })
}

/// Any instant chrono can represent, or a fixed one when the bytes do not give one.
fn timestamp(u: &mut Unstructured<'_>) -> Result<Timestamp> {
    let secs: i64 = u.arbitrary()?;
    let nanos = u.int_in_range(0..=999_999_999)?;
    Ok(Timestamp::from_unix(secs, nanos)
        .or_else(|| Timestamp::from_unix(secs % 253_402_300_800, nanos))
        .unwrap_or_else(|| Timestamp::from_unix(0, 0).expect("the epoch is representable")))
}

/// The variables label `name` is documented to appear as, in `style`.
fn label_vars(name: &str, style: EnvStyle) -> Vec<String> {
    match style {
        EnvStyle::Native => vec![format!("{LABEL_PREFIX}{}", env::encode_name(name))],
        EnvStyle::AmExecutor => vec![
            format!("AMX_LABEL_{name}"),
            format!("AMX_ALERT_1_LABEL_{name}"),
        ],
        EnvStyle::Bailer => vec![format!(
            "{BAILER_PREFIX}{}",
            name.to_uppercase().replace('-', "_")
        )],
    }
}

/// Every variable can be handed to a process, and no name is passed twice.
fn check_passable(rendered: &Env, style: EnvStyle) {
    let mut seen = BTreeSet::new();
    for var in &rendered.vars {
        assert!(!var.name.is_empty(), "{style:?}: empty variable name");
        assert!(
            !var.name.contains(['=', '\0']),
            "{style:?}: variable name {:?} holds '=' or NUL",
            var.name
        );
        assert!(
            !var.value.contains('\0'),
            "{style:?}: {} holds a NUL",
            var.name
        );
        assert!(
            seen.insert(var.name.as_str()),
            "{style:?}: {} is passed twice",
            var.name
        );
    }
}

/// `var` is passed with `value`, or a problem names it.
fn check_passed_or_reported(rendered: &Env, var: &str, value: &str, style: EnvStyle) {
    if let Some(passed) = rendered.get(var) {
        assert_eq!(passed, value, "{style:?}: {var} has another source's value");
        return;
    }
    assert!(
        rendered
            .problems
            .iter()
            .any(|p| problem_var(p) == Some(var)),
        "{style:?}: {var} is neither passed nor reported; problems: {:?}",
        rendered.problems
    );
}

fn problem_var(p: &EnvProblem) -> Option<&str> {
    match p {
        EnvProblem::Nul { name, .. }
        | EnvProblem::TooLong { name, .. }
        | EnvProblem::InvalidName { name, .. }
        | EnvProblem::Collision { name, .. } => Some(name),
        _ => None,
    }
}
