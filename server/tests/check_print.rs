//! `alertrun check --print` as a user pipes it (issue 16): the output alone is the config,
//! in canonical form, and it loads and means the same as the file it came from; a closed
//! pipe ends the output without a panic.

// The helpers below are test code too; `allow-unwrap-in-tests` covers only `#[test]`s.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn alertrun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .output()
        .expect("alertrun runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every config of `examples/` (the rule test file and the broken example aside).
fn example_configs() -> Vec<PathBuf> {
    let mut configs: Vec<PathBuf> = std::fs::read_dir(examples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| {
            !["tests.yaml", "broken.yaml"].contains(&p.file_name().unwrap().to_str().unwrap())
        })
        .collect();
    configs.sort();
    assert!(configs.len() >= 2, "{configs:?}");
    configs
}

/// A config using what a summary would lose: a Job's manifest, `env_style: native`,
/// `workdir: null`, secrets by reference, intervals, rails, the server section.
const RICH: &str = r#"
server:
  listen: 127.0.0.1:9095
  state:
    durable: false
time_intervals:
  - name: weekdays
    time_intervals:
      - weekdays: ['monday:friday']
defaults:
  env_style: native
  namespace: remediation
rules:
  - name: job
    match: ['{alertname = "KubePodCrashLooping"}']
    active_time_intervals: [weekdays]
    action:
      kubernetes:
        image: bitnami/kubectl:1.33
        command: [kubectl, get, pods, '--namespace=$(ALERTRUN_LABEL_namespace)']
  - name: local
    match: [severity=~"warn.*|critical"]
    env_style: am-executor
    on: any
    mode: per-group
    repeat: 1h
    secret_env:
      TOKEN: {env: HOME}
    env:
      MODE: "off"
      COUNT: "0755"
    action:
      process:
        command: [/bin/true]
        workdir: null
"#;

/// Prints `config` with `check --print`; checks that stdout holds only the YAML.
fn print(config: &Path) -> String {
    let out = alertrun(&["check", "--print", "-c", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains(": OK,"),
        "the OK line goes to stderr:\n{stdout}"
    );
    assert!(text(&out.stderr).contains(": OK,"), "{}", text(&out.stderr));
    stdout
}

/// `explain --format json` of every example payload under `config`.
fn explained(config: &Path) -> Vec<String> {
    let mut payloads: Vec<PathBuf> = std::fs::read_dir(examples().join("payloads"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    payloads.sort();
    payloads
        .iter()
        .map(|p| {
            let c = config.to_str().unwrap();
            let out = alertrun(&["explain", "-c", c, p.to_str().unwrap(), "--format", "json"]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            text(&out.stdout)
        })
        .collect()
}

#[test]
fn printed_config_loads_means_the_same_and_prints_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let rich = dir.path().join("rich.yaml");
    std::fs::write(&rich, RICH).unwrap();
    for config in example_configs().into_iter().chain([rich]) {
        let printed = print(&config);
        let again = dir.path().join("printed.yaml");
        std::fs::write(&again, &printed).unwrap();
        assert_eq!(
            print(&again),
            printed,
            "{}: not a fixpoint",
            config.display()
        );
        assert_eq!(
            explained(&again),
            explained(&config),
            "{}: the printed config means something else:\n{printed}",
            config.display()
        );
    }
}

#[test]
fn printed_config_keeps_what_a_summary_loses() {
    let dir = tempfile::tempdir().unwrap();
    let rich = dir.path().join("rich.yaml");
    std::fs::write(&rich, RICH).unwrap();
    let printed = print(&rich);
    for want in [
        "image: bitnami/kubectl:1.33",
        "env_style: native",
        "env_style: am-executor",
        "- alertname=\"KubePodCrashLooping\"",
        "timeout: 5m",
        "active_time_intervals:",
        "TOKEN:",
    ] {
        assert!(printed.contains(want), "no {want:?} in\n{printed}");
    }
    assert!(printed.starts_with("server:"), "{printed}");
}

/// Runs alertrun with its stdout a pipe whose reader is gone before it starts, so every
/// write to it fails (EPIPE), deterministically.
fn with_closed_stdout(args: &[&str]) -> (Output, String) {
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    (out, stderr)
}

/// `alertrun check --print | head -1` panicked with "failed printing to stdout"; so did
/// every command that prints.
#[test]
fn closed_stdout_ends_the_output_without_a_panic() {
    let root = examples();
    let path = |name: &str| root.join(name).display().to_string();
    let (config, payload, tests) = (
        path("alertrun.yaml"),
        path("payloads/node-disk-full.json"),
        path("tests.yaml"),
    );
    let commands: [&[&str]; 4] = [
        &["check", "--print", "-c", &config],
        &["explain", "-c", &config, &payload],
        &["explain", "-c", &config, &payload, "--format", "json"],
        &["test", "-c", &config, &tests],
    ];
    for args in commands {
        let (out, stderr) = with_closed_stdout(args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {:?}: {stderr}", out.status);
    }
    let (_, stderr) = with_closed_stdout(&["check", "--print", "-c", &config]);
    assert!(stderr.contains(": OK,"), "{stderr}");
}

/// The same for help, which clap writes.
#[test]
fn closed_stdout_does_not_break_help() {
    for args in [&["--help"][..], &["check", "--help"], &["runs", "--help"]] {
        let (_, stderr) = with_closed_stdout(args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
