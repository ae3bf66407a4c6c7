//! `alertrun import` as a user runs it: the old tool's files in, a config out that
//! `alertrun check` accepts, and that `alertrun explain` shows handing a captured
//! notification's data to the action exactly as the old tool would have.
// The helpers below are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `alertrun ARGS` from the repository root.
fn alertrun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the alertrun binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Imports with `-o` into a temporary file, checks it with `alertrun check`, and returns
/// its path (the directory lives as long as the returned guard).
fn import_and_check(args: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alertrun.yaml").display().to_string();
    let mut all = args.to_vec();
    all.extend(["-o", &out]);
    let run = alertrun(&all);
    assert!(run.status.success(), "{args:?}: {}", text(&run.stderr));
    assert!(run.stdout.is_empty(), "-o writes the file only");
    let check = alertrun(&["check", "-c", &out]);
    assert!(
        check.status.success(),
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );
    (dir, out)
}

fn explain(config: &str, payload: &str) -> Value {
    let run = alertrun(&["explain", "-c", config, payload, "--format", "json"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    serde_json::from_slice(&run.stdout).unwrap()
}

/// `NAME=value` pairs of a report's `env`.
fn env_of(run: &Value) -> BTreeSet<String> {
    run["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            format!(
                "{}={}",
                pair[0].as_str().unwrap(),
                pair[1].as_str().unwrap()
            )
        })
        .collect()
}

/// What prometheus-am-executor's `amDataToEnv` (server.go) sets for a notification.
fn am_executor_env(n: &Value) -> BTreeSet<String> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut env = BTreeSet::from([
        format!("AMX_RECEIVER={}", s(&n["receiver"])),
        format!("AMX_STATUS={}", s(&n["status"])),
        format!("AMX_EXTERNAL_URL={}", s(&n["externalURL"])),
        format!("AMX_ALERT_LEN={}", n["alerts"].as_array().unwrap().len()),
    ]);
    let pairs = |prefix: &str, map: &Value, env: &mut BTreeSet<String>| {
        for (k, v) in map.as_object().unwrap() {
            env.insert(format!("{prefix}_{k}={}", s(v)));
        }
    };
    pairs("AMX_LABEL", &n["commonLabels"], &mut env);
    pairs("AMX_GLABEL", &n["groupLabels"], &mut env);
    pairs("AMX_ANNOTATION", &n["commonAnnotations"], &mut env);
    // Go's `time.Unix()`: whole seconds, the zero time as "0".
    let unix = |t: &Value| match s(t).as_str() {
        "0001-01-01T00:00:00Z" => "0".to_owned(),
        t => t
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second()
            .to_string(),
    };
    for (i, a) in n["alerts"].as_array().unwrap().iter().enumerate() {
        let key = format!("AMX_ALERT_{}", i + 1);
        env.insert(format!("{key}_STATUS={}", s(&a["status"])));
        env.insert(format!("{key}_START={}", unix(&a["startsAt"])));
        env.insert(format!("{key}_END={}", unix(&a["endsAt"])));
        env.insert(format!("{key}_URL={}", s(&a["generatorURL"])));
        env.insert(format!("{key}_FINGERPRINT={}", s(&a["fingerprint"])));
        pairs(&format!("{key}_LABEL"), &a["labels"], &mut env);
        pairs(&format!("{key}_ANNOTATION"), &a["annotations"], &mut env);
    }
    env
}

fn payload(name: &str) -> Value {
    let path = root().join("examples/payloads").join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn am_executor_readme_config_imports_and_explain_gives_the_env_am_executor_gave() {
    let (_dir, config) =
        import_and_check(&["import", "am-executor", "examples/import/am-executor.yml"]);
    let yaml = std::fs::read_to_string(&config).unwrap();
    assert!(yaml.contains("env_style: am-executor"), "{yaml}");
    for name in ["node-disk-full.json", "pod-crashlooping.json"] {
        let report = explain(&config, &format!("examples/payloads/{name}"));
        let groups = report["groups"].as_array().unwrap();
        // `echo` wants env="testing" and owner="me": neither payload has them.
        assert_eq!(groups[0]["rule"], "echo");
        assert_eq!(groups[0]["matched"], false);
        // `/bin/true` matches every alert, as am-executor ran it for every notification.
        assert_eq!(groups[1]["rule"], "true");
        assert_eq!(groups[1]["matched"], true);
        let run = &groups[1]["run"];
        assert_eq!(run["argv"], serde_json::json!(["/bin/true"]));
        assert_eq!(env_of(run), am_executor_env(&payload(name)), "{name}");
    }
}

#[test]
fn am_executor_command_line_file_needs_the_directory_it_ran_in() {
    let run = alertrun(&[
        "import",
        "am-executor",
        "examples/import/am-executor.cmdline",
    ]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("examples/import/am-executor.cmdline: 1 problem in the prometheus-am-executor config:\n  command line: \"examples/reboot\" is relative to the directory am-executor ran in"),
        "{stderr}"
    );
    assert!(stderr.contains("--workdir DIR"), "{stderr}");
    let (_dir, config) = import_and_check(&[
        "import",
        "am-executor",
        "examples/import/am-executor.cmdline",
        "--workdir",
        "/opt/am-executor",
    ]);
    let report = explain(&config, "examples/payloads/node-disk-full.json");
    let run = &report["groups"][0]["run"];
    assert_eq!(
        run["argv"],
        serde_json::json!(["/opt/am-executor/examples/reboot"])
    );
    assert_eq!(run["workdir"], "/opt/am-executor");
}

#[test]
fn am_executor_command_line_arguments_are_taken_after_the_flag() {
    let run = alertrun(&[
        "import",
        "am-executor",
        "--command-line",
        "-l",
        "127.0.0.1:23222",
        "/usr/local/bin/page",
        "--loud",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let yaml = text(&run.stdout);
    assert!(yaml.contains("listen: '127.0.0.1:23222'"), "{yaml}");
    assert!(
        yaml.contains("command: [/usr/local/bin/page, --loud]"),
        "{yaml}"
    );
    let stderr = text(&run.stderr);
    assert!(stderr.contains("--command-line: imported;"), "{stderr}");
    let bad = alertrun(&["import", "am-executor", "--command-line", "-x", "cmd"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("command line: flag provided but not defined: -x"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn am_executor_invalid_config_is_refused_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("executor.yml");
    std::fs::write(
        &file,
        "commands:\n  - cmd: /bin/true\n    resolved_signal: SIGNOPE\n    max: three\n",
    )
    .unwrap();
    let file = file.display().to_string();
    let run = alertrun(&["import", "am-executor", &file]);
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stdout.is_empty(), "no config for a refused input");
    let stderr = text(&run.stderr);
    for want in [
        "2 problems in the prometheus-am-executor config",
        "commands[0].max (line 4): expected a whole number, found \"three\"",
        "commands[0].resolved_signal (line 3): unknown signal \"SIGNOPE\"",
    ] {
        assert!(stderr.contains(want), "{want:?}:\n{stderr}");
    }
}

#[test]
fn bailer_readme_config_imports_to_a_job_rule_that_check_passes() {
    let (_dir, config) = import_and_check(&["import", "bailer", "examples/import/bailer.yaml"]);
    // It wants PodCrashLooping in namespace "default" for a pod "nginx-…": the shop's
    // KubePodCrashLooping is left alone.
    let report = explain(&config, "examples/payloads/pod-crashlooping.json");
    let rule = &report["alerts"][0]["rules"][0];
    assert_eq!(rule["matched"], false, "{rule}");
    assert!(
        rule["reason"]
            .as_str()
            .unwrap()
            .contains(r#"alertname="PodCrashLooping" failed"#),
        "{rule}"
    );
}

#[test]
fn bailer_job_gets_the_env_bailer_gave_its_job() {
    let (_dir, config) = import_and_check(&[
        "import",
        "bailer",
        "examples/import/bailer-echo.yaml",
        "--namespace",
        "remediation",
    ]);
    let report = explain(&config, "examples/payloads/pod-crashlooping.json");
    let rule = &report["alerts"][0]["rules"][0];
    assert_eq!(rule["matched"], true, "{rule}");
    let job = &rule["run"]["job"];
    assert_eq!(job["metadata"]["namespace"], "remediation");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 900);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "bailer-admin");
    assert_eq!(pod["restartPolicy"], "Never");
    let container = &pod["containers"][0];
    assert_eq!(container["name"], "kubepodcrashlooping");
    assert_eq!(container["image"], "busybox:latest");
    assert_eq!(
        container["command"],
        serde_json::json!([
            "/bin/bash",
            "-c",
            "echo \"grab a bucket and start bailing!!!\""
        ])
    );
    // bailer's worker (cmd/faktory.go): ALERT_ + the label name with - as _, upper-cased.
    let labels = &payload("pod-crashlooping.json")["alerts"][0]["labels"];
    let want: BTreeSet<String> = labels
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            format!(
                "ALERT_{}={}",
                k.replace('-', "_").to_uppercase(),
                v.as_str().unwrap()
            )
        })
        .collect();
    let got: BTreeSet<String> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}={}",
                e["name"].as_str().unwrap(),
                e["value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn bailer_invalid_regex_is_refused_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        "bailers:\n- alert: X\n  labels:\n    pod: '[web'\n  container: {image: busybox, tag: latest}\n",
    )
    .unwrap();
    let run = alertrun(&["import", "bailer", &file.display().to_string()]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("1 problem in the bailer config:\n  bailers[0].labels.pod (line 4): invalid regex \"[web\""),
        "{stderr}"
    );
}
