//! The backend seam: action parsing with paths, the argv a run record shows, and executor
//! building.

use alert_core::env::EnvVar;
use serde_json::json;

use super::*;

fn problems(value: Value) -> Vec<(String, String)> {
    parse_action(value, "default")
        .unwrap_err()
        .into_iter()
        .map(|p| (p.path, p.message))
        .collect()
}

#[test]
fn bad_actions_are_reported_at_their_path_under_action() {
    let rows: Vec<(&str, Value, &str, &str)> = vec![
        (
            "unknown backend",
            json!({"shell": {"command": ["x"]}}),
            "",
            "unknown variant `shell`",
        ),
        (
            "process typo",
            json!({"process": {"comand": ["/bin/true"]}}),
            "process.comand",
            "unknown field `comand`",
        ),
        (
            "job typo",
            json!({"kubernetes": {"image": "busybox", "comand": ["true"]}}),
            "kubernetes.comand",
            "unknown field `comand`",
        ),
    ];
    for (name, value, path, want) in rows {
        let found = problems(value);
        assert!(
            found.iter().any(|(p, m)| p == path && m.contains(want)),
            "{name}: want {path:?}: {want}\n  got {found:?}"
        );
    }
}

#[test]
fn job_action_gets_the_default_namespace_and_needs_a_cluster() {
    let action = parse_action(
        json!({"kubernetes": {"image": "busybox", "command": ["true"]}}),
        "ops",
    )
    .unwrap();
    let Action::Kubernetes {
        default_namespace, ..
    } = &action
    else {
        panic!("{action:?}")
    };
    assert_eq!(default_namespace, "ops");
    assert_eq!(action.kind(), "kubernetes");
    assert!(action.needs_cluster());
    assert_eq!(action.to_summary(), json!("kubernetes"));
    assert!(
        shown_argv(&action, &[]).is_empty(),
        "a Job's argv is the kubelet's"
    );
}

#[test]
fn shown_argv_expands_the_shown_env_of_a_process() {
    let action = parse_action(
        json!({"process": {"command": ["/bin/echo", "$(ALERTRUN_ALERTNAME)", "$(TOKEN)"]}}),
        "default",
    )
    .unwrap();
    let shown = [
        EnvVar::new("ALERTRUN_ALERTNAME", "DiskFull"),
        EnvVar::new("TOKEN", "<redacted>"),
    ];
    assert_eq!(
        shown_argv(&action, &shown),
        ["/bin/echo", "DiskFull", "<redacted>"]
    );
    assert_eq!(action.kind(), "process");
    assert!(!action.needs_cluster());
}

#[test]
fn backend_settings_are_checked() {
    assert!(check_stop_signal("SIGTERM").is_ok());
    assert!(check_stop_signal("SIGNOPE").is_err());
    assert!(check_namespace("ops").is_ok());
    let e = check_namespace("Not_A_Label").unwrap_err();
    assert!(e.contains("DNS-1123"), "{e}");
}

#[tokio::test]
async fn process_rules_get_executors_without_a_cluster() {
    let action = parse_action(json!({"process": {"command": ["/bin/true"]}}), "default").unwrap();
    let rule = |name, stop_signal| RuleAction {
        rule: name,
        action: &action,
        stop_signal,
        stop_grace: Duration::from_secs(1),
    };
    let mut backends = Backends::new();
    let executors = backends
        .executors([rule("a", "SIGTERM"), rule("b", "SIGINT")].into_iter())
        .await
        .unwrap();
    assert_eq!(executors["a"].kind(), "process");
    assert!(
        backends.cluster.is_none(),
        "no Job action, no cluster client"
    );

    let e = backends
        .executors([rule("bad", "SIGNOPE")].into_iter())
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("rule bad: "), "{e}");
}

#[cfg(feature = "server")]
#[test]
fn process_actions_that_pass_the_same_names_share_one_copy_of_what_they_inherit() {
    let action = |pass: &[&str]| {
        executor_process::ProcessAction::new(vec!["/bin/true".into()])
            .unwrap()
            .with_pass_env(pass.iter().map(|&n| n.to_owned()).collect())
            .unwrap()
    };
    let (a, b, other) = (action(&["HOME"]), action(&["HOME"]), action(&[]));
    let mut inherited = process::Inherited::default();
    let (from_a, from_b, from_other) = (inherited.of(&a), inherited.of(&b), inherited.of(&other));
    assert!(Arc::ptr_eq(&from_a, &from_b));
    assert!(!Arc::ptr_eq(&from_a, &from_other));
    assert_eq!(from_other[0].0, "PATH");
    assert_eq!(
        &*from_a,
        &*executor_process::inherited_env(&a, |name| std::env::var(name).ok())
    );
}
