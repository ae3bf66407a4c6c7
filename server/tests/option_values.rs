//! Issue 17 item 1: no label value becomes a program option.
//!
//! - `alertrun serve` with a process rule `[/bin/sh, -c, …, sh, $(ALERTRUN_LABEL_pod)]`:
//!   an alert with `pod="--all"` is recorded `skipped` with a reason naming the element
//!   and the value, and the action never runs; with `allow_option_values: true` it runs.
//! - A Kubernetes Job rule: the same refusal for the container's command, which the
//!   kubelet expands; `alertrun explain` shows it as a problem.
//! - `alertrun check` warns about the element and still exits 0.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use alert_match::{RenderProblem, render};
use alertrun::Config;
use alertrun::testing::{AlertBuilder, NotificationBuilder, labels};
use support::Alertrun;
use support::history::{all_runs, json_of, post_json, run_state, wait_settled};

const WAIT: Duration = Duration::from_secs(60);

/// A config with two process rules that write their argument to a file in `dir`, one of
/// them allowing option values.
fn process_config(dir: &Path) -> String {
    let action = |name: &str| {
        let out = dir.join(name);
        format!(
            "    action:\n      process:\n        command: [/bin/sh, -c, 'printf %s \"$1\" > {}', sh, $(ALERTRUN_LABEL_pod)]\n",
            out.display()
        )
    };
    format!(
        "rules:\n  - name: refuse\n    match: ['alertname=\"Refuse\"']\n{}  - name: allow\n    match: ['alertname=\"Allow\"']\n    allow_option_values: true\n{}",
        action("refuse.out"),
        action("allow.out")
    )
}

#[test]
fn an_option_from_a_label_is_skipped_with_its_reason_and_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertrun.yaml");
    std::fs::write(&config, process_config(dir.path())).unwrap();
    let server = Alertrun::start(&config, &[]);

    let body = NotificationBuilder::new()
        .alert(AlertBuilder::firing(labels(&[
            ("alertname", "Refuse"),
            ("pod", "--all"),
        ])))
        .alert(AlertBuilder::firing(labels(&[
            ("alertname", "Allow"),
            ("pod", "--all"),
        ])))
        .to_json();
    let answer = post_json(server.addr, "/webhook", &body).expect("POST /webhook");
    assert_eq!(answer.status(), 200, "{}", json_of(&answer));
    wait_settled(server.addr, WAIT);

    let refused = all_runs(server.addr, "rule=refuse");
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(run_state(&refused[0]), "skipped", "{:#}", refused[0]);
    let reason = refused[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(
            r#"option value refused: command[4] "$(ALERTRUN_LABEL_pod)" would be "--all""#
        ),
        "{reason}"
    );
    assert!(
        !dir.path().join("refuse.out").exists(),
        "the refused action ran"
    );

    // The opt-out passes the value as it is.
    let allowed = all_runs(server.addr, "rule=allow");
    assert_eq!(allowed.len(), 1, "{allowed:#?}");
    assert_eq!(run_state(&allowed[0]), "succeeded", "{:#}", allowed[0]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("allow.out")).unwrap(),
        "--all"
    );
}

const JOB_RULE: &str = r#"rules:
  - name: delete-pod
    action:
      kubernetes:
        image: bitnami/kubectl
        command: [kubectl, delete, pod, --namespace=$(ALERTRUN_LABEL_namespace), --, $(ALERTRUN_LABEL_pod)]
"#;

#[test]
fn a_job_command_is_checked_as_the_kubelet_would_expand_it() {
    let config = Config::from_yaml(JOB_RULE).unwrap();
    let rule = &config.rules().rules()[0];
    let problems = |pod: &str, namespace: &str| {
        let n = NotificationBuilder::new()
            .alert(AlertBuilder::firing(labels(&[
                ("alertname", "X"),
                ("namespace", namespace),
                ("pod", pod),
            ])))
            .build();
        let selection = config
            .rules()
            .select(&n)
            .into_iter()
            .next()
            .expect("the rule selects");
        render(rule, &n, selection.target).problems
    };
    let found = problems("--all", "shop");
    assert_eq!(found.len(), 1, "{found:?}");
    let RenderProblem::OptionValue(v) = &found[0] else {
        panic!("{found:?}")
    };
    assert_eq!(
        (v.at.as_str(), v.name.as_str(), v.expanded.as_str()),
        ("command[5]", "ALERTRUN_LABEL_pod", "--all")
    );
    // `--namespace=$(…)` begins with config text; a plain pod name passes.
    assert_eq!(problems("web-1", "--all"), []);
}

fn alertrun(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run alertrun")
}

#[test]
fn explain_shows_the_refusal_and_check_warns_with_status_zero() {
    let dir = tempfile::tempdir().unwrap();
    let text = JOB_RULE.replace("--, $(ALERTRUN_LABEL_pod)", "$(ALERTRUN_LABEL_pod)");
    std::fs::write(dir.path().join("c.yaml"), text).unwrap();
    let body = NotificationBuilder::new()
        .alert(AlertBuilder::firing(labels(&[
            ("alertname", "X"),
            ("namespace", "shop"),
            ("pod", "--all"),
        ])))
        .to_json();
    std::fs::write(dir.path().join("p.json"), body.to_string()).unwrap();

    let check = alertrun(&["check", "-c", "c.yaml"], dir.path());
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "c.yaml: warning: rules[0].action.kubernetes.command[4] (line 6): \
             \"$(ALERTRUN_LABEL_pod)\" begins with an alert's value"
        ),
        "{stderr}"
    );

    let explain = alertrun(&["explain", "-c", "c.yaml", "p.json"], dir.path());
    let stdout = String::from_utf8_lossy(&explain.stdout);
    assert!(
        stdout.contains(
            r#"PROBLEM: option value refused: command[4] "$(ALERTRUN_LABEL_pod)" would be "--all""#
        ),
        "{stdout}"
    );
}
