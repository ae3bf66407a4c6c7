//! Issue 16: `alertrun check` lints the footguns, checks without the secrets, and errors
//! say what to do next. Every test runs the real binary, as a user would.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use alertrun::testing::{AlertBuilder, NotificationBuilder, labels};

fn alertrun(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .current_dir(dir)
        .env_remove("ALERTRUN_TEST_UNSET_SECRET")
        .output()
        .expect("run alertrun")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A directory holding `c.yaml` with `config`.
fn with_config(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.yaml"), config).unwrap();
    dir
}

/// An example payload: one firing alert with these labels.
fn payload(pairs: &[(&str, &str)]) -> String {
    NotificationBuilder::new()
        .alert(AlertBuilder::firing(labels(pairs)))
        .to_json()
        .to_string()
}

const PROCESS: &str = "    action:\n      process:\n        command: ";

#[test]
fn check_warns_about_each_footgun_with_path_and_line() {
    let table: [(&str, String, &str); 9] = [
        (
            "a rule without match acts on every alert",
            format!("rules:\n  - name: all\n{PROCESS}[/bin/true]\n"),
            "warning: rules[0] (line 2): rule \"all\" has no `match:`, so its action runs for \
             every alert alertrun receives",
        ),
        (
            "a catch-all regex acts on every alert",
            format!("rules:\n  - name: all\n    match: ['x=~\".*\"']\n{PROCESS}[/bin/true]\n"),
            "warning: rules[0].match (line 3): every matcher of rule \"all\" holds for any value",
        ),
        (
            "== makes a value that starts with =",
            format!("rules:\n  - name: a\n    match: [severity==critical]\n{PROCESS}[/bin/true]\n"),
            "warning: rules[0].match[0] (line 3): severity=\"=critical\" compares with a value \
             that starts with \"=\", which no alert has; did you mean severity=\"critical\"?",
        ),
        (
            "${X} in an argv is literal",
            format!(
                "rules:\n  - name: a\n    match: [x=1]\n{PROCESS}[echo, '${{ALERTRUN_LABEL_pod}}']\n"
            ),
            "warning: rules[0].action.process.command[1] (line 6): ${ALERTRUN_LABEL_pod} is \
             passed literally: no shell runs this argv, and alertrun expands only `$(VAR)`; \
             write $(ALERTRUN_LABEL_pod)",
        ),
        (
            "$X in an argv is literal",
            format!("rules:\n  - name: a\n    match: [x=1]\n{PROCESS}[echo, '--to=$TEAM']\n"),
            "command[1] (line 6): $TEAM is passed literally",
        ),
        (
            "$$ in a shell script becomes $",
            format!("rules:\n  - name: a\n    match: [x=1]\n{PROCESS}[sh, -c, 'kill $$']\n"),
            "warning: rules[0].action.process.command[2] (line 6): `$$` in this script reaches \
             the shell as `$` (alertrun's escape of `$(VAR)`): write `$$$$` for the shell's `$$`",
        ),
        (
            "$(VAR) of nothing the rule defines stays literal",
            format!("rules:\n  - name: a\n    match: [x=1]\n{PROCESS}[echo, $(TOKEN)]\n"),
            "command[1] (line 6): $(TOKEN) names no variable the rule defines",
        ),
        (
            "$(VAR) of a pass_env name stays literal",
            format!(
                "rules:\n  - name: a\n    match: [x=1]\n{PROCESS}[echo, $(HOME)]\n        \
                 pass_env: [HOME]\n"
            ),
            "command[1] (line 6): $(HOME) stays the literal text \"$(HOME)\": pass_env gives \
             HOME to the process's environment, but an argv expands only",
        ),
        (
            "the shell reads $X in a script: no warning about it",
            format!(
                "rules:\n  - name: a\n    match: [x=1]\n{PROCESS}[sh, -c, 'echo \"$ALERTRUN_LABEL_pod\"']\n"
            ),
            "",
        ),
    ];
    for (name, config, want) in table {
        let dir = with_config(&config);
        let out = alertrun(&["check", "-c", "c.yaml"], dir.path());
        let err = stderr(&out);
        assert!(
            out.status.success(),
            "{name}: warnings leave check at 0\n{err}"
        );
        if want.is_empty() {
            assert!(!err.contains("warning"), "{name}: {err}");
        } else {
            assert!(
                err.contains(&format!("c.yaml: {}", want.trim_start_matches("warning: ")))
                    || err.contains(want),
                "{name}: want {want:?}\n{err}"
            );
        }
    }
}

#[test]
fn strict_check_fails_on_a_warning() {
    let dir = with_config(&format!("rules:\n  - name: all\n{PROCESS}[/bin/true]\n"));
    let out = alertrun(&["check", "-c", "c.yaml", "--strict"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("c.yaml: error: rules[0] (line 2): rule \"all\" has no"));
    assert!(stderr(&out).contains("c.yaml: FAILED, 1 warning"));

    let clean = with_config(&format!(
        "rules:\n  - name: a\n    match: [x=1]\n{PROCESS}[/bin/true]\n"
    ));
    let out = alertrun(&["check", "-c", "c.yaml", "--strict"], clean.path());
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn payloads_show_labels_and_variables_no_alert_has() {
    let dir = with_config(&format!(
        "rules:\n  - name: a\n    match: [alertname=X, podd=~\"web-.*\"]\n{PROCESS}\
         [echo, --, $(ALERTRUN_LABEL_pod), $(ALERTRUN_LABEL_nspace)]\n"
    ));
    let examples = dir.path().join("payloads");
    std::fs::create_dir(&examples).unwrap();
    std::fs::write(
        examples.join("crash.json"),
        payload(&[("alertname", "X"), ("pod", "web-1")]),
    )
    .unwrap();
    // Prometheus' own shape is taken too.
    std::fs::write(
        examples.join("prometheus.json"),
        r#"[{"labels": {"alertname": "Y", "team": "db"}}]"#,
    )
    .unwrap();
    let out = alertrun(
        &["check", "-c", "c.yaml", "--payloads", "payloads"],
        dir.path(),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "warning: rules[0].match[1] (line 3): no example payload has the label \"podd\", so \
             podd=~\"web-.*\" holds for none of them: check the name (they have alertname, pod, \
             team)"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "warning: rules[0].action.process.command[3] (line 6): no example payload gives \
             $(ALERTRUN_LABEL_nspace)"
        ),
        "{err}"
    );
    assert!(
        !err.contains("ALERTRUN_LABEL_pod)"),
        "pod is in a payload: {err}"
    );
}

#[test]
fn payloads_show_job_variable_names_the_api_server_refuses() {
    let dir = with_config(
        "rules:\n  - name: a\n    match: [alertname=X]\n    env_style: am-executor\n    action:\n      \
         kubernetes:\n        image: busybox\n        command: [echo, --, $(AMX_LABEL_pod)]\n",
    );
    std::fs::create_dir(dir.path().join("p")).unwrap();
    std::fs::write(
        dir.path().join("p/a.json"),
        payload(&[("alertname", "X"), ("pod", "p"), ("ключ", "v")]),
    )
    .unwrap();
    let out = alertrun(&["check", "-c", "c.yaml", "--payloads", "p"], dir.path());
    let err = stderr(&out);
    assert!(
        err.contains(
            "warning: rules[0].action.kubernetes (line 7): for the example payloads, variable \
             names Kubernetes refuses in a Job"
        ) && err.contains("AMX_LABEL_ключ"),
        "{err}"
    );
}

#[test]
fn check_warns_about_a_job_template_variable_the_api_server_refuses() {
    let dir = with_config(
        "rules:\n  - name: a\n    match: [alertname=X]\n    action:\n      kubernetes:\n        \
         image: busybox\n        template:\n          spec:\n            containers:\n              \
         - name: main\n                env:\n                  - {name: LOG_LEVEL, value: debug}\n                  \
         - {name: 2FA CODE, value: x}\n",
    );
    let out = alertrun(&["check", "-c", "c.yaml"], dir.path());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "warning: rules[0].action.kubernetes.template.spec.containers[0].env[1].name \
             (line 13): \"2FA CODE\" is a variable name Kubernetes refuses"
        ),
        "{err}"
    );
    assert!(!err.contains("LOG_LEVEL"), "{err}");
}

#[test]
fn config_errors_say_what_to_do_next() {
    let table = [
        (
            "an unquoted off as a rule name",
            format!("rules:\n  - name: off\n    match: [x=1]\n{PROCESS}[/bin/true]\n"),
            "rules[0].name (line 2): invalid type: boolean `false`, expected a string: YAML \
             reads an unquoted off as a boolean; quote it: 'off'",
        ),
        (
            "an unquoted yes in an argv",
            format!("rules:\n  - name: a\n    match: [x=1]\n{PROCESS}[echo, yes]\n"),
            "rules[0].action.process.command[1] (line 6): invalid type: boolean `true`, \
             expected a string: YAML reads an unquoted yes as a boolean; quote it: 'yes'",
        ),
        (
            "a typo of match",
            format!("rules:\n  - name: a\n    mtch: [x=1]\n{PROCESS}[/bin/true]\n"),
            "rules[0].mtch (line 3): unknown field `mtch`, expected one of",
        ),
        (
            "a typo of a top-level key",
            format!("rule:\n  - name: a\n{PROCESS}[/bin/true]\n"),
            "did you mean `rules`?",
        ),
        (
            "a map-style match",
            format!(
                "rules:\n  - name: a\n    match: {{severity: critical}}\n{PROCESS}[/bin/true]\n"
            ),
            "rules[0].match (line 3): invalid type: map, expected a sequence: write a list of \
             matchers (all must hold): match: ['severity=\"critical\"']",
        ),
        (
            "a string-style match",
            format!("rules:\n  - name: a\n    match: severity=critical\n{PROCESS}[/bin/true]\n"),
            "expected a sequence: write a list of matchers (all must hold): match: \
             ['severity=critical']",
        ),
        (
            "an empty config",
            "# nothing yet\n".to_owned(),
            "config: the config is empty: start from examples/alertrun.yaml, or write `rules:` \
             with one rule (name, match, action)",
        ),
    ];
    for (name, config, want) in table {
        let dir = with_config(&config);
        let out = alertrun(&["check", "-c", "c.yaml"], dir.path());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(want), "{name}: want {want:?}\n{err}");
    }
    let dir = with_config(&format!(
        "rules:\n  - name: a\n    mtch: [x=1]\n{PROCESS}[/bin/true]\n"
    ));
    let err = stderr(&alertrun(&["check", "-c", "c.yaml"], dir.path()));
    assert!(err.contains("; did you mean `match`?"), "{err}");
}

const WITH_SECRETS: &str = "server:\n  auth:\n    bearer_token_file: token\nrules:\n  - name: a\n    \
     match: [x=1]\n    secret_env:\n      API: {file: /nonexistent/api-token}\n      DB: {env: \
     ALERTRUN_TEST_UNSET_SECRET}\n    action:\n      process:\n        command: [/bin/true]\n";

#[test]
fn check_notes_secrets_it_cannot_read_unless_told_to_require_them() {
    let dir = with_config(WITH_SECRETS);
    std::fs::write(dir.path().join("token"), "t0ken\n").unwrap();
    let out = alertrun(&["check", "-c", "c.yaml"], dir.path());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "c.yaml: note: secret not read (pass --secrets to require it): \
             rules[0].secret_env.API (line 8): cannot read /nonexistent/api-token"
        ),
        "{err}"
    );
    assert!(
        err.contains("rules[0].secret_env.DB (line 9): environment variable ALERTRUN_TEST_UNSET_SECRET is not set"),
        "{err}"
    );
    assert!(
        !err.contains("server.auth"),
        "the token file was read: {err}"
    );

    let out = alertrun(&["check", "-c", "c.yaml", "--secrets"], dir.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("2 problems in the config"), "{err}");

    // TLS files are secrets too (the key is; its certificate sits beside it).
    let tls = with_config(&WITH_SECRETS.replace(
        "server:\n",
        "server:\n  tls: {cert_file: /nonexistent/tls.crt, key_file: /nonexistent/tls.key}\n",
    ));
    std::fs::write(tls.path().join("token"), "t0ken\n").unwrap();
    let out = alertrun(&["check", "-c", "c.yaml"], tls.path());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("server.tls.key_file (line 2): cannot read /nonexistent/tls.key"),
        "{err}"
    );

    // A secret that is read is still checked.
    std::fs::write(dir.path().join("token"), "").unwrap();
    let out = alertrun(&["check", "-c", "c.yaml"], dir.path());
    assert!(
        stderr(&out).contains("server.auth.bearer_token_file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(1));
}

/// A loopback address nothing listens on.
fn closed_address() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

#[test]
fn runs_needs_no_secret_env_and_says_when_no_server_answers() {
    let dir = with_config(&WITH_SECRETS.replace(
        "server:\n",
        &format!("server:\n  listen: {}\n", closed_address()),
    ));
    std::fs::write(dir.path().join("token"), "t0ken\n").unwrap();
    let out = alertrun(&["runs", "-c", "c.yaml"], dir.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("secret_env"), "{err}");
    assert!(
        err.contains("no alertrun serve answers there: start it (alertrun serve -c CONFIG)"),
        "{err}"
    );
    assert!(err.contains("alertrun runs --state-dir DIR"), "{err}");

    std::fs::remove_file(dir.path().join("token")).unwrap();
    let err = stderr(&alertrun(&["runs", "-c", "c.yaml"], dir.path()));
    assert!(
        err.contains("server.auth.bearer_token_file (line 4): cannot read token")
            && err.contains(
                "the server's credentials are needed to talk to it: run this where they can be read"
            ),
        "{err}"
    );
}

#[test]
fn runs_with_unread_tls_files_asks_for_the_url() {
    let addr = closed_address();
    let dir = with_config(&format!(
        "server:\n  listen: {addr}\n  tls: {{cert_file: /nonexistent/tls.crt, key_file: \
         /nonexistent/tls.key}}\nrules:\n  - name: a\n    match: [x=1]\n{PROCESS}[/bin/true]\n"
    ));
    let err = stderr(&alertrun(&["runs", "-c", "c.yaml"], dir.path()));
    assert!(
        err.contains("the server uses TLS: pass --url https://HOST:PORT"),
        "{err}"
    );
    let url = format!("https://{addr}");
    let err = stderr(&alertrun(
        &["runs", "-c", "c.yaml", "--url", &url],
        dir.path(),
    ));
    assert!(err.contains("no alertrun serve answers there"), "{err}");
}

#[test]
fn explain_says_what_to_do_with_prometheus_alerts() {
    let dir = with_config(&format!(
        "rules:\n  - name: a\n    match: [alertname=Y]\n{PROCESS}[/bin/true]\n"
    ));
    std::fs::write(
        dir.path().join("alerts.json"),
        r#"[{"labels": {"alertname": "Y"}}]"#,
    )
    .unwrap();
    let out = alertrun(&["explain", "-c", "c.yaml", "alerts.json"], dir.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "alerts.json: this is a JSON array of alerts, what Prometheus sends to Alertmanager"
        ) && err.contains("pass --prometheus"),
        "{err}"
    );
    let out = alertrun(
        &["explain", "-c", "c.yaml", "--prometheus", "alerts.json"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("MATCH"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn serve_on_a_port_in_use_says_so_once() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = with_config(&format!(
        "rules:\n  - name: a\n    match: [x=1]\n{PROCESS}[/bin/true]\n"
    ));
    let out = alertrun(
        &[
            "serve",
            "-c",
            "c.yaml",
            "--listen",
            &addr,
            "--state-dir",
            "state",
        ],
        dir.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "error: cannot listen on {addr}: the address is in use (another alertrun serve?): \
             stop what listens there, or pick a free address with --listen or server.listen"
        )),
        "{err}"
    );
    assert_eq!(err.matches("cannot listen on").count(), 1, "{err}");
}

#[test]
fn serve_without_permission_on_the_state_directory_says_what_to_do() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = with_config(&format!(
        "rules:\n  - name: a\n    match: [x=1]\n{PROCESS}[/bin/true]\n"
    ));
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    for (path, mode) in [
        (dir.path(), 0o755),
        (&dir.path().join("c.yaml"), 0o644),
        (&locked, 0o555),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let args = [
        "serve",
        "-c",
        "c.yaml",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        "locked/state",
    ];
    let mut command = if std::fs::create_dir(locked.join("probe")).is_ok() {
        // Root writes anywhere: run alertrun as nobody, where setpriv can.
        let Some(setpriv) = which("setpriv") else {
            eprintln!("skipped: running as root and no setpriv to drop privileges");
            return;
        };
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_alertrun"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_alertrun"))
    };
    let out = command.args(args).current_dir(dir.path()).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "error: cannot open the state store in locked/state: permission denied: create it \
             for the user alertrun runs as (sudo install -d -o \"$USER\" locked/state), or keep \
             the state elsewhere with --state-dir ./alertrun-state or server.state.dir"
        ),
        "{err}"
    );
}

/// The path of `program` on PATH.
fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[test]
fn explain_and_test_run_without_the_secrets_and_say_which_they_did_not_read() {
    let dir = with_config(WITH_SECRETS);
    std::fs::write(dir.path().join("token"), "t0ken\n").unwrap();
    std::fs::write(dir.path().join("n.json"), payload(&[("x", "1")])).unwrap();
    let out = alertrun(&["explain", "-c", "c.yaml", "n.json"], dir.path());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("c.yaml: note: secret not read: rules[0].secret_env.API (line 8)"),
        "{err}"
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("API=<redacted>"), "{shown}");

    std::fs::write(
        dir.path().join("t.yaml"),
        "tests:\n  - name: selects\n    alerts:\n      - labels: {x: \"1\"}\n    expect:\n      - rule: a\n        alert: 0\n",
    )
    .unwrap();
    let out = alertrun(&["test", "-c", "c.yaml", "t.yaml"], dir.path());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed, 0 failed"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}
