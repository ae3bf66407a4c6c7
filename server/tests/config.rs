//! Config loading as a user meets it: the shipped example loads, and a broken config
//! reports every problem with its path and line.

use std::path::Path;

use alertrun::{Action, Config};

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
            r#"namespace!~"kube-system|monitoring""#
        ]
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
        "rules[3].repeat (line 23): not supported yet",
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
