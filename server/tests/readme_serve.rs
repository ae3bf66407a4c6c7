//! The README's "Serving Alertmanager" walk-through, done as a user would: `alertrun serve`
//! on examples/local.yaml, the README's notification posted twice, the README's answers
//! and the actions' output checked.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{Alertrun, wait_for};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The README's serve section: the payload file its curl command posts, and the answer
/// its json block shows.
fn readme_walkthrough() -> (PathBuf, String) {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let section = readme
        .split("## Serving Alertmanager")
        .nth(1)
        .expect("README has a \"Serving Alertmanager\" section");
    let payload = section
        .split("--data-binary @")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the section posts a file with curl --data-binary @FILE");
    let answer = section
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("the section shows the answer in a json block");
    (root().join(payload), answer.to_owned())
}

#[test]
fn the_readme_serve_walkthrough_works() {
    let (payload, answer) = readme_walkthrough();
    let body = std::fs::read(&payload).expect("the README's payload file exists");
    let mut server = Alertrun::start(&root().join("examples/local.yaml"), &[]);

    let first = support::http::request(server.addr, "POST", "/webhook", Some(&body))
        .expect("POST /webhook");
    assert_eq!((first.status, first.text()), (200, answer));

    // The same notification again: every action already ran for these episodes.
    let again = support::http::request(server.addr, "POST", "/webhook", Some(&body))
        .expect("POST /webhook again");
    assert_eq!(
        (again.status, again.text()),
        (
            200,
            r#"{"queued":0,"skipped":3,"status":"accepted"}"#.to_owned()
        )
    );

    let outputs = wait_for(
        "the three actions to succeed",
        Duration::from_secs(20),
        || {
            let done = server.events("action succeeded");
            (done.len() == 3).then_some(done)
        },
    );
    let mut stdout: Vec<String> = outputs
        .iter()
        .map(|e| e["stdout"].as_str().unwrap_or_default().to_owned())
        .collect();
    stdout.sort();
    assert_eq!(
        stdout,
        [
            r#"2 alerts in group {}:{alertname="NodeDiskFull"}"#,
            "would clean / on node-1:9100",
            "would clean /var on node-2:9100",
        ]
    );

    // `alertrun runs`: from the running server, then from the state directory.
    let alertrun = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_alertrun"))
            .arg("runs")
            .args(args)
            .output()
            .expect("run alertrun runs");
        assert!(out.status.success(), "alertrun runs {args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("UTF-8 output")
    };
    let url = format!("http://{}", server.addr);
    // The log line comes just before the run's end is written: wait for the history.
    let table = wait_for(
        "both runs recorded succeeded",
        Duration::from_secs(20),
        || {
            let table = alertrun(&["--url", &url, "--rule", "clean-node-disk"]);
            let rows: Vec<&str> = table.lines().skip(1).collect();
            let done = rows.len() == 2
                && rows
                    .iter()
                    .all(|r| r.contains(" succeeded ") && r.ends_with("exit 0"));
            done.then_some(table)
        },
    );
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert!(table.starts_with("ID  STATE      RULE"), "{table}");
    let id = rows[0].split_whitespace().next().expect("an id");
    let detail = alertrun(&["--url", &url, "show", id]);
    assert!(detail.contains("rule         clean-node-disk"), "{detail}");
    assert!(detail.contains("  would clean /"), "{detail}");

    server.terminate(Duration::from_secs(15));
    let dir = server
        .state_dir
        .path()
        .to_str()
        .expect("a UTF-8 temp path")
        .to_owned();
    let all = alertrun(&["--state-dir", &dir]);
    assert_eq!(all.lines().count(), 4, "header and three runs: {all}");
}
