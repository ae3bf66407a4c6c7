//! Issue 10: env names the API server accepts.
//!
//! Kubernetes refuses a container env var whose name is outside
//! `[-._a-zA-Z][-._a-zA-Z0-9]*` (`422`, and no Job). An env style that passes label names
//! as they are (`am-executor`, `bailer`) can produce such a name from a UTF-8 label
//! (`ключ`). alertrun refuses the run instead: it is recorded `skipped` with the names in
//! its reason and no Job is created; `explain` shows the same problem; `check` warns about
//! a Job rule with such a style.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use alertrun::testing::{AlertBuilder, NotificationBuilder, labels};
use support::Alertrun;
use support::history::{all_runs, json_of, post_json, run_state, wait_settled};

const WAIT: Duration = Duration::from_secs(60);

const RULE: &str = r#"rules:
  - name: delete-pod
    env_style: am-executor
    match: [alertname=X]
    action:
      kubernetes:
        image: bitnami/kubectl
        command: [kubectl, delete, pod, --namespace=$(AMX_LABEL_namespace), --, $(AMX_LABEL_pod)]
"#;

/// The notification: one firing alert with a label named `ключ`.
fn body() -> serde_json::Value {
    NotificationBuilder::new()
        .alert(AlertBuilder::firing(labels(&[
            ("alertname", "X"),
            ("namespace", "shop"),
            ("pod", "web-1"),
            ("ключ", "значение"),
        ])))
        .to_json()
}

const REFUSED: &str = "variable names Kubernetes refuses in a Job (a name must match \
                       [-._a-zA-Z][-._a-zA-Z0-9]*): \"AMX_LABEL_ключ\", \
                       \"AMX_ALERT_1_LABEL_ключ\"; the Job is not created";

fn alertrun(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run alertrun")
}

#[test]
fn check_warns_and_explain_shows_the_refused_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.yaml"), RULE).unwrap();
    std::fs::write(dir.path().join("p.json"), body().to_string()).unwrap();

    let check = alertrun(&["check", "-c", "c.yaml"], dir.path());
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "c.yaml: warning: rules[0].env_style (line 3): am-executor passes label and \
             annotation names verbatim"
        ),
        "{stderr}"
    );

    let explain = alertrun(&["explain", "-c", "c.yaml", "p.json"], dir.path());
    let stdout = String::from_utf8_lossy(&explain.stdout);
    assert!(stdout.contains(&format!("PROBLEM: {REFUSED}")), "{stdout}");

    // The native style encodes every name: no warning.
    std::fs::write(
        dir.path().join("n.yaml"),
        RULE.replace("    env_style: am-executor\n", "")
            .replace("AMX_LABEL_", "ALERTRUN_LABEL_"),
    )
    .unwrap();
    let check = alertrun(&["check", "-c", "n.yaml"], dir.path());
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        check.status.success() && !stderr.contains("warning"),
        "{stderr}"
    );
}

#[test]
fn a_run_whose_variable_kubernetes_refuses_is_skipped_and_creates_no_job() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertrun.yaml");
    std::fs::write(&config, RULE).unwrap();
    // An API server that answers nothing: no call may be made for this run.
    let api = TcpListener::bind("127.0.0.1:0").unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
             clusters: [{{name: c, cluster: {{server: \"http://{}\"}}}}]\n\
             contexts: [{{name: c, context: {{cluster: c, user: u, namespace: ops}}}}]\n\
             users: [{{name: u, user: {{token: t}}}}]\n",
            api.local_addr().unwrap()
        ),
    )
    .unwrap();
    api.set_nonblocking(true).unwrap();
    let server = Alertrun::start(&config, &[("KUBECONFIG", kubeconfig.as_os_str())]);

    let answer = post_json(server.addr, "/webhook", &body()).expect("POST /webhook");
    assert_eq!(answer.status(), 200, "{}", json_of(&answer));
    wait_settled(server.addr, WAIT);

    let runs = all_runs(server.addr, "rule=delete-pod");
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(run_state(&runs[0]), "skipped", "{:#}", runs[0]);
    let reason = runs[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(REFUSED), "{reason}");
    assert!(
        api.accept().is_err(),
        "no request reached the API server for the refused run"
    );
}
