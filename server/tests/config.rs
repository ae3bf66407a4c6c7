//! Config loading as a user meets it: the shipped example loads, and a broken config
//! reports every problem with its path and line.

use std::path::Path;

use std::time::Duration;

use alertrun::{
    Action, BreakerSettings, Config, DEFAULT_STORM_WINDOW, OnResolved, Rails, RateLimit, Repeat,
    StormGate,
};

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn shipped_example_config_loads() {
    let config = Config::load(&examples().join("alertrun.yaml")).unwrap();
    let names: Vec<&str> = config
        .rules()
        .rules()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "delete-crashlooping-pod",
            "clean-node-disk",
            "page-summary",
            "disk-recovered"
        ]
    );
    assert!(matches!(config.action(0), Action::Kubernetes { .. }));
    assert!(matches!(config.action(1), Action::Process(_)));
    // Matchers from several strings are ANDed and sorted, as Alertmanager does.
    let m: Vec<String> = config.rules().rules()[0]
        .matchers
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        m,
        [
            r#"alertname="KubePodCrashLooping""#,
            r#"namespace=~"[a-z0-9]([-a-z0-9]*[a-z0-9])?""#,
            r#"namespace!~"kube-system|monitoring""#,
            r#"pod=~"[a-z0-9]([-a-z0-9.]*[a-z0-9])?""#
        ]
    );
    // Issue 17: every alert value is after `--` or in `--flag=$(VAR)` form.
    assert_eq!(config.warnings(), []);
}

/// Issue 17: `check` warns about each argv element that begins with an alert's value where
/// a program may read an option; the config still loads.
#[test]
fn alert_values_where_options_are_read_are_warned_about() {
    let text = r#"rules:
  - name: delete
    action:
      kubernetes:
        image: bitnami/kubectl
        command: [kubectl, delete, pod, --namespace, $(ALERTRUN_LABEL_namespace), $(ALERTRUN_LABEL_pod)]
  - name: safe
    allow_option_values: true
    action:
      process:
        command: [/bin/echo, --node=$(ALERTRUN_LABEL_instance), $(ALERTRUN_FINGERPRINT), --, $(ALERTRUN_LABEL_pod)]
  - name: template
    action:
      kubernetes:
        template:
          spec:
            containers:
              - name: a
                image: busybox
                args: [$(ALERTRUN_ANNOTATION_file)]
"#;
    let config = Config::from_yaml(text).unwrap();
    let shown: Vec<String> = config
        .warnings()
        .iter()
        .map(|w| w.to_string().split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(
        shown,
        [
            "rules[0].action.kubernetes.command[4] (line 6)",
            "rules[0].action.kubernetes.command[5] (line 6)",
            "rules[2].action.kubernetes.template.spec.containers[0].args[0] (line 20)",
        ]
    );
    assert!(
        config.warnings()[1]
            .message
            .contains("put a \"--\" element before it"),
        "{:?}",
        config.warnings()[1]
    );
}

#[test]
fn every_problem_is_reported_with_path_and_line() {
    let text = r#"defaults:
  timeout: soon
rules:
  - name: one
    match:
      - severity=~"("
      - alertname="A"
    action:
      process:
        command: [/bin/true]
  - name: two
    mach: [a="b"]
    action:
      process:
        command: [/bin/true]
  - name: one
    timeout: 0s
    on: sometimes
    action:
      process:
        command: []
  - name: "three four"
    repeat: every-notification
    env:
      ALERTRUN_X: "1"
      "bad-name": "2"
    action:
      kubernetes:
        namespace: Not_A_Namespace
        image: busybox
        template:
          spec:
            containers:
              - name: action
                imagePullPolicyy: Always
"#;
    let err = Config::from_yaml(text).unwrap_err();
    let shown: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    let expect = [
        "defaults.timeout (line 2): invalid duration \"soon\"",
        "rules[0].match[0] (line 6): invalid matcher",
        "rules[1].mach (line 12): unknown field `mach`",
        "rules[2].on (line 18): unknown variant `sometimes`",
        "rules[3].name (line 22): invalid rule name \"three four\"",
        "rules[3].repeat (line 23): invalid repeat \"every-notification\": use once, always, or a cooldown",
        "rules[3].env.ALERTRUN_X (line 25): ALERTRUN_X: the ALERTRUN_ prefix is reserved",
        "rules[3].env.bad-name (line 26): invalid variable name \"bad-name\"",
        "rules[3].action.kubernetes.namespace (line 29)",
        "rules[3].action.kubernetes.template.spec.containers[0].imagePullPolicyy (line 35)",
    ];
    for want in expect {
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with(want) || s.contains(want)),
            "missing {want:?} in:\n{}",
            shown.join("\n")
        );
    }
    // The first error of rule 2 stops that rule's typed parse; its other fields wait for
    // the next run. Rule 0's regex problem names the value.
    assert!(
        shown[1].contains("severity=~\\\"(\\\"") || shown[1].contains("severity=~\"(\""),
        "{}",
        shown[1]
    );
}

#[test]
fn duplicate_rule_names_are_refused() {
    let text = "rules:\n  - name: a\n    action: {process: {command: [/bin/true]}}\n  - name: a\n    action: {process: {command: [/bin/true]}}\n";
    let err = Config::from_yaml(text).unwrap_err().to_string();
    assert!(
        err.contains("rules[1].name (line 4): duplicate rule name \"a\""),
        "{err}"
    );
}

#[test]
fn yaml_syntax_errors_and_alias_bombs_are_clear_errors() {
    let bad = "rules: [\n  - name: x\n";
    let err = Config::from_yaml(bad).unwrap_err().to_string();
    assert!(err.contains("invalid YAML"), "{err}");

    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str("rules: *a11\n");
    let err = Config::from_yaml(&bomb).unwrap_err().to_string();
    assert!(
        err.contains("invalid YAML") || err.contains("problem"),
        "{err}"
    );
}

#[test]
fn bailer_style_cannot_be_per_group() {
    let text = "rules:\n  - name: g\n    mode: per-group\n    env_style: bailer\n    action: {process: {command: [/bin/true]}}\n";
    let err = Config::from_yaml(text).unwrap_err().to_string();
    assert!(
        err.contains("rules[0].env_style (line 4): the bailer env style is per alert"),
        "{err}"
    );
}

#[test]
fn missing_file_names_the_file() {
    let err = Config::load(Path::new("/nonexistent/alertrun.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read /nonexistent/alertrun.yaml"),
        "{err}"
    );
}

#[test]
fn serve_policies_and_secrets_are_read_and_checked_with_their_place() {
    let dir = std::env::temp_dir().join(format!("alertrun-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let good = format!(
        r#"rules:
  - name: fix
    repeat: 30m
    concurrency: 2
    on_resolved_while_running: leave
    stop_signal: INT
    stop_grace: 3s
    env: {{PLAIN: "1"}}
    secret_env:
      TOKEN: {{file: {}}}
    action:
      process:
        command: [/bin/echo, "$(TOKEN)"]
"#,
        token.display()
    );
    let config = Config::from_yaml(&good).unwrap();
    let policy = config.policy(0);
    assert_eq!(policy.repeat, Repeat::After(Duration::from_secs(1800)));
    assert_eq!(policy.concurrency, Some(2));
    assert_eq!(policy.on_resolved_while_running, OnResolved::Leave);
    assert_eq!(policy.stop_signal, "INT");
    assert_eq!(policy.stop_grace, Duration::from_secs(3));
    let env = &config.rules().rules()[0].env;
    let token_var = env.iter().find(|v| v.name == "TOKEN").unwrap();
    assert_eq!(
        (token_var.value.as_str(), token_var.secret),
        ("s3cret", true)
    );
    assert_eq!(format!("{env:?}"), r#"[PLAIN="1", TOKEN="<redacted>"]"#);
    // explain shows neither the value nor the argv it expands into.
    let payload = std::fs::read(examples().join("payloads/node-disk-full.json")).unwrap();
    let n = alert_core::Notification::from_json(&payload).unwrap();
    let shown = alertrun::explain(&config, &n).to_json().to_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains(r#"["/bin/echo","<redacted>"]"#), "{shown}");

    let bad = r#"server:
  listen: nowhere
rules:
  - name: fix
    repeat: sometimes
    concurrency: 0
    on_resolved_while_running: ignore
    stop_signal: SIGNOPE
    env: {TOKEN: x}
    secret_env:
      TOKEN: {env: ALERTRUN_TEST_SURELY_UNSET}
      OTHER: {file: /nonexistent/alertrun/secret}
    action:
      process:
        command: [/bin/true]
  - name: fix2
    repeat: once
    concurrency: 0
    stop_signal: SIGNOPE
    action:
      process:
        command: [/bin/true]
"#;
    let err = Config::from_yaml(bad).unwrap_err();
    let shown: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    for want in [
        "server.listen (line 2)",
        "rules[0].on_resolved_while_running (line 7): unknown variant `ignore`",
        "rules[1].concurrency (line 18): concurrency must be at least 1",
        "rules[1].stop_signal (line 19): ",
    ] {
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
    let fixed = bad.replace("    on_resolved_while_running: ignore\n", "");
    let err = Config::from_yaml(&fixed).unwrap_err();
    let shown: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    for want in [
        "rules[0].repeat (line 5): invalid repeat \"sometimes\"",
        "rules[0].concurrency (line 6): concurrency must be at least 1",
        "rules[0].stop_signal (line 7): ",
        "rules[0].secret_env.TOKEN (line 10): TOKEN is also set in env",
        "rules[0].secret_env.TOKEN (line 10): environment variable ALERTRUN_TEST_SURELY_UNSET is not set",
        "rules[0].secret_env.OTHER (line 11): cannot read /nonexistent/alertrun/secret",
    ] {
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
}

/// Issue 17, item 6: a `pass_env` name also set in `env` or `secret_env` is refused, as
/// `env` and `secret_env` refuse each other, instead of one silently overriding the other.
#[test]
fn issue_17_pass_env_also_set_in_env_or_secret_env_is_refused() {
    let text = r#"rules:
  - name: fix
    env:
      ENDPOINT: http://config
    secret_env:
      TOKEN: {env: PATH}
    action:
      process:
        command: [/bin/true]
        pass_env: [HOME, ENDPOINT, TOKEN]
"#;
    let err = Config::from_yaml(text).unwrap_err();
    let shown: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    for want in [
        "rules[0].action.process.pass_env[1] (line 10): ENDPOINT is also set in env",
        "rules[0].action.process.pass_env[2] (line 10): TOKEN is also set in secret_env",
    ] {
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
    assert_eq!(shown.len(), 2, "{shown:#?}");
    let fine = text.replace("[HOME, ENDPOINT, TOKEN]", "[HOME]");
    let config = Config::from_yaml(&fine).unwrap();
    assert_eq!(config.rules().rules()[0].pass_env, ["HOME"]);
}

#[test]
fn a_rules_rails_are_read_with_their_defaults() {
    let yaml = r#"
rules:
  - name: restart-pod
    match: ['alertname="PodCrashLooping"']
    target: [namespace, pod]
    max_runs: {count: 3, per: 1h}
    breaker: {failures: 5, backoff: 30m}
    max_targets: {count: 10, within: 5m}
    action: {process: {command: [/bin/true]}}
  - name: plain
    action: {process: {command: [/bin/true]}}
  - name: bare-count
    max_targets: 4
    action: {process: {command: [/bin/true]}}
"#;
    let config = Config::from_yaml(yaml).unwrap();
    let rails = &config.policy(0).rails;
    assert_eq!(rails.target, ["namespace", "pod"]);
    assert_eq!(
        rails.max_runs,
        Some(RateLimit {
            count: 3,
            per: Duration::from_secs(3600)
        })
    );
    assert_eq!(
        rails.breaker,
        BreakerSettings {
            failures: 5,
            ineffective: 3,
            backoff: Duration::from_secs(1800),
            max_backoff: Duration::from_secs(24 * 3600),
        }
    );
    assert_eq!(
        rails.max_targets,
        Some(StormGate {
            max_targets: 10,
            within: Duration::from_secs(300)
        })
    );
    assert_eq!(config.policy(1).rails, Rails::default());
    assert_eq!(config.policy(1).rails.breaker.failures, 3);
    assert_eq!(
        config.policy(2).rails.max_targets,
        Some(StormGate {
            max_targets: 4,
            within: DEFAULT_STORM_WINDOW
        })
    );
}

#[test]
fn bad_rails_are_refused_with_their_place() {
    let yaml = r#"
rules:
  - name: restart-pod
    target: [namespace, "pod name", namespace]
    max_runs: {count: 0, per: soon}
    breaker: {backoff: 2h, max_backoff: 1h, trips: 3}
    max_targets: {count: 0}
    action: {process: {command: [/bin/true]}}
  - name: other
    breaker: {backoff: 2h, max_backoff: 1h}
    max_targets: many
    action: {process: {command: [/bin/true]}}
"#;
    let err = Config::from_yaml(yaml).unwrap_err();
    let shown: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    for want in [
        "rules[0].breaker.trips (line 6): unknown field `trips`",
        "rules[1].breaker.max_backoff (line 10): max_backoff must not be shorter than backoff",
        "rules[1].max_targets (line 11): invalid type: string \"many\"",
    ] {
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
    let fixed = yaml.replace(", trips: 3", "");
    let err = Config::from_yaml(&fixed).unwrap_err();
    let shown: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    for want in [
        "rules[0].target[1] (line 4): invalid label name \"pod name\"",
        "rules[0].target[2] (line 4): namespace is named twice",
        "rules[0].max_runs.count (line 5): count must be at least 1",
        "rules[0].max_runs.per (line 5): invalid duration \"soon\"",
        "rules[0].breaker.max_backoff (line 6): max_backoff must not be shorter than backoff",
        "rules[0].max_targets (line 7): max_targets must be at least 1",
    ] {
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
}

/// The first YAML example of the README section `heading`, loaded; it has no warnings.
fn readme_example(heading: &str) -> Config {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("the README");
    let section = &readme[readme.find(heading).expect("the section")..];
    let start = section.find("```yaml\n").expect("a YAML example") + "```yaml\n".len();
    let yaml = &section[start..start + section[start..].find("```").expect("its end")];
    let config = Config::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.warnings(), [], "{yaml}");
    config
}

#[test]
fn the_readme_safety_example_loads_without_warnings() {
    let config = readme_example("## Safety: the rails");
    let rails = &config.policy(0).rails;
    assert_eq!(rails.target, ["namespace", "pod"]);
    assert_eq!(rails.max_runs.map(|m| m.count), Some(2));
    assert_eq!(rails.breaker.backoff, Duration::from_secs(1800));
    assert_eq!(rails.max_targets.map(|m| m.max_targets), Some(5));
    assert_eq!(
        rails.verify,
        Some(alertrun::Verify {
            within: Duration::from_secs(600),
            recurrence: alertrun::DEFAULT_RECURRENCE,
        })
    );
}

#[test]
fn verify_needs_a_window_and_names_the_place_of_a_bad_one() {
    let bad = |verify: &str| {
        let yaml = format!(
            "rules:\n  - name: r\n    verify: {verify}\n    action: {{process: {{command: [/bin/true]}}}}\n"
        );
        Config::from_yaml(&yaml).expect_err("refused").to_string()
    };
    let zero = bad("{within: 0s}");
    assert!(zero.contains("rules[0].verify.within"), "{zero}");
    let missing = bad("{recurrence: 1h}");
    assert!(missing.contains("within"), "{missing}");
    let typo = bad("{within: 10m, recurence: 1h}");
    assert!(typo.contains("recurence"), "{typo}");
    let garbage = bad("{within: soon}");
    assert!(garbage.contains("rules[0].verify.within"), "{garbage}");
}

/// What `yaml` does with the example payload `node-disk-full.json`, and that payload.
fn explain_node_disk_full(yaml: &str) -> (alertrun::Report, alert_core::Notification) {
    let config = Config::from_yaml(yaml).expect("a valid config");
    let payload = std::fs::read(examples().join("payloads/node-disk-full.json"))
        .expect("the example payload");
    let n = alert_core::Notification::from_json(&payload).expect("a valid payload");
    (alertrun::explain(&config, &n), n)
}

#[test]
fn explain_names_the_target_and_the_rails_a_run_must_pass() {
    let yaml = r#"
rules:
  - name: clean
    match: ['alertname="NodeDiskFull"']
    target: [instance]
    max_runs: {count: 2, per: 1h}
    max_targets: 5
    action: {process: {command: [/bin/true]}}
  - name: page
    mode: per-group
    breaker: {failures: 0, ineffective: 0}
    action: {process: {command: [/bin/true]}}
"#;
    let (report, n) = explain_node_disk_full(yaml);
    let run = report.alerts[0].rules[0]
        .run
        .as_ref()
        .expect("clean matches");
    assert_eq!(run.target, r#"{instance="node-1:9100"}"#);
    assert_eq!(
        run.rails,
        [
            "not paused (alertrun pause)",
            "storm gate: at most 5 targets firing within 10m",
            "circuit breaker: opens after 3 failed runs in a row, for 1h (up to 1day)",
            "max_runs: 2 per 1h on this target",
        ]
    );
    // A group is its own target; a breaker set to 0 is no rail.
    let group = report.groups[0].run.as_ref().expect("page matches");
    assert_eq!(group.target, n.group_key);
    assert_eq!(group.rails, ["not paused (alertrun pause)"]);
    let text = report.to_text();
    assert!(
        text.contains("rails (depend on the server's state): target {instance=\"node-1:9100\"}"),
        "{text}"
    );
}

#[test]
fn silence_settings_are_read_with_their_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("am-token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let yaml = format!(
        r#"
alertmanager:
  url: http://127.0.0.1:9093/
  bearer_token_file: {}
rules:
  - name: restart-pod
    silence_while_running: true
    respect_silences: true
    on_alertmanager_unreachable: skip
    action: {{process: {{command: [/bin/true]}}}}
  - name: plain
    action: {{process: {{command: [/bin/true]}}}}
"#,
        token.display()
    );
    let config = Config::from_yaml(&yaml).unwrap();
    let am = config.alertmanager();
    assert_eq!(am.url.as_deref(), Some("http://127.0.0.1:9093"));
    assert_eq!(am.timeout, alertrun::default_alertmanager_timeout());
    assert!(
        matches!(&am.auth, Some(alertrun::AlertmanagerAuth::Bearer(t)) if t.as_str() == "s3cret")
    );
    assert!(!format!("{am:?}").contains("s3cret"), "{am:?}");
    assert_eq!(
        config.policy(0).silences,
        alertrun::SilencePolicy {
            silence_while_running: true,
            respect_silences: true,
            on_alertmanager_unreachable: alertrun::OnAlertmanagerUnreachable::Skip,
        }
    );
    assert_eq!(
        config.policy(1).silences,
        alertrun::SilencePolicy::default()
    );
    let bare = Config::from_yaml("rules: []").unwrap();
    assert_eq!(bare.alertmanager().url, None);
}

#[test]
fn bad_silence_settings_are_refused_with_their_place() {
    let yaml = r#"
alertmanager:
  url: alertmanager:9093
  timeout: soon
  basic_auth: {username: am, password_file: /nonexistent/am-password}
  tls: {}
rules:
  - name: restart-pod
    silence_while_running: "yes"
    action: {process: {command: [/bin/true]}}
  - name: other
    respect_silences: true
    on_alertmanager_unreachable: wait
    action: {process: {command: [/bin/true]}}
"#;
    let err = Config::from_yaml(yaml).unwrap_err();
    let shown: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    for want in [
        "alertmanager.tls (line 6): unknown field `tls`",
        "rules[0].silence_while_running (line 9): invalid type: string \"yes\", expected a boolean",
        "rules[1].on_alertmanager_unreachable (line 13): unknown variant `wait`, expected `act` or `skip`",
    ] {
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
    let fixed = yaml.replace("  tls: {}\n", "");
    let err = Config::from_yaml(&fixed).unwrap_err();
    let shown: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    for want in [
        "alertmanager.url (line 3): invalid URL \"alertmanager:9093\"",
        "alertmanager.timeout (line 4): invalid duration \"soon\"",
        "alertmanager.basic_auth.password_file (line 5): cannot read /nonexistent/am-password",
    ] {
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
    // Unreachable behaviour without respect_silences means nothing: a warning.
    let idle = "rules:\n  - name: r\n    on_alertmanager_unreachable: skip\n    action: {process: {command: [/bin/true]}}\n";
    let config = Config::from_yaml(idle).unwrap();
    let warnings: Vec<String> = config.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "rules[0].on_alertmanager_unreachable (line 3): has no effect without respect_silences: true"
        ]
    );
}

#[test]
fn the_readme_silences_example_loads_without_warnings() {
    let config = readme_example("### Silences");
    assert_eq!(
        config.alertmanager().url.as_deref(),
        Some("http://alertmanager:9093")
    );
    let silences = config.policy(0).silences;
    assert!(silences.silence_while_running && silences.respect_silences);
}

#[test]
fn explain_says_the_silence_rail_depends_on_alertmanager() {
    let yaml = r#"
rules:
  - name: clean
    match: ['alertname="NodeDiskFull"']
    respect_silences: true
    silence_while_running: true
    action: {process: {command: [/bin/true]}}
"#;
    let (report, _) = explain_node_disk_full(yaml);
    let run = report.alerts[0].rules[0].run.as_ref();
    assert_eq!(
        run.expect("clean matches").rails[2..],
        [
            "silenced: skipped while a silence someone else made in Alertmanager covers the alert \
             (depends on Alertmanager's state; when it cannot be asked: act)",
            "silence_while_running: a silence in Alertmanager covers the alert while the action runs",
        ]
    );
}

#[test]
fn the_readme_approval_example_loads() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("the README");
    let section = &readme[readme
        .find("## Humans in the loop: approval")
        .expect("an approval section")..];
    let start = section.find("```yaml\n").expect("a YAML example") + "```yaml\n".len();
    let yaml = &section[start..start + section[start..].find("```").expect("its end")];
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    let key = dir.path().join("link-key");
    std::fs::write(&token, "a-token-of-some-length\n").unwrap();
    std::fs::write(&key, "a-link-key-of-32-characters-long\n").unwrap();
    let yaml = yaml
        .replace("/etc/alertrun/token", &token.display().to_string())
        .replace("/etc/alertrun/link-key", &key.display().to_string());
    let config = Config::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}"));
    let approval = config.policy(0).approval.clone().expect("approval");
    assert_eq!(approval.timeout, Duration::from_secs(1800));
    assert_eq!(approval.approvers, ["alice", "bob"]);
    let links = config.server().approval_links.clone().expect("links");
    assert_eq!(links.url, "https://alertrun.example.com");
}

#[test]
fn approval_mistakes_name_their_place() {
    let bad = |approval: &str| {
        let yaml = format!(
            "rules:\n  - name: r\n    approval: {approval}\n    action: {{process: {{command: [/bin/true]}}}}\n"
        );
        Config::from_yaml(&yaml).expect_err("refused").to_string()
    };
    let unsaid = bad("{timeout: 5m}");
    assert!(unsaid.contains("rules[0].approval.required"), "{unsaid}");
    let zero = bad("{required: true, min_approvals: 0}");
    assert!(zero.contains("rules[0].approval.min_approvals"), "{zero}");
    let few = bad("{required: true, approvers: [alice], min_approvals: 2}");
    assert!(few.contains("only 1 approvers named"), "{few}");
    let short = "server:\n  approvals: {url: http://x, link_secret_env: ALERTRUN_TEST_NO_SUCH_VAR}\nrules: []\n";
    let e = Config::from_yaml(short).expect_err("refused").to_string();
    assert!(e.contains("server.approvals.link_secret_env"), "{e}");
}

#[test]
fn the_readme_notifications_example_loads() {
    let yaml = readme_yaml("## Notifications");
    let dir = tempfile::tempdir().unwrap();
    let (url, key) = (dir.path().join("slack-url"), dir.path().join("webhook-key"));
    std::fs::write(&url, "https://hooks.slack.com/services/T0/B0/x\n").unwrap();
    std::fs::write(&key, "a-key").unwrap();
    let yaml = yaml
        .replace("/etc/alertrun/slack-url", &url.display().to_string())
        .replace("/etc/alertrun/webhook-key", &key.display().to_string());
    let config = Config::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.policy(0).notify, ["team-chat", "audit"]);
    let names: Vec<&str> = config
        .notify()
        .sinks
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["team-chat", "audit"]);
    let bad = yaml.replace("notify: [team-chat, audit]", "notify: [team-chat, pager]");
    let err = Config::from_yaml(&bad)
        .expect_err("an unknown sink")
        .to_string();
    assert!(
        err.contains(r#"rules[0].notify[1] (line 17): unknown sink "pager" (notify.sinks defines team-chat, audit)"#),
        "{err}"
    );
}

/// The first YAML example of the README's section headed `heading`.
fn readme_yaml(heading: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("the README");
    let section = &readme[readme
        .find(heading)
        .unwrap_or_else(|| panic!("a section {heading}"))..];
    let start = section.find("```yaml\n").expect("a YAML example") + "```yaml\n".len();
    section[start..start + section[start..].find("```").expect("its end")].to_owned()
}

#[test]
fn the_readme_high_availability_example_loads_with_the_pod_s_name() {
    let yaml = readme_yaml("## High availability") + "rules: []\n";
    let config = Config::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let ha = config.server().ha.clone().expect("server.ha");
    assert_eq!(ha.namespace.as_deref(), Some("alertrun"));
    assert_eq!(ha.lease_duration, alertrun::DEFAULT_LEASE_DURATION);
    // No replica set: $POD_NAME in a pod, else this machine's hostname; never empty.
    assert!(!ha.replica.is_empty());
    if let Ok(pod) = std::env::var("POD_NAME") {
        assert_eq!(ha.replica, pod);
    }
}

#[test]
fn on_owner_lost_is_record_unless_rerun_is_written() {
    let yaml = "rules:\n  - name: a\n    action: {process: {command: [/bin/true]}}\n  \
                - name: b\n    on_owner_lost: rerun\n    action: {process: {command: [/bin/true]}}\n";
    let config = Config::from_yaml(yaml).unwrap();
    assert_eq!(
        config.policy(0).on_owner_lost,
        alertrun::OnInterrupt::Record
    );
    assert_eq!(config.policy(1).on_owner_lost, alertrun::OnInterrupt::Rerun);
    let bad = yaml.replace("rerun", "retry");
    let e = Config::from_yaml(&bad).unwrap_err().to_string();
    assert!(e.contains("rules[1].on_owner_lost"), "{e}");
}
