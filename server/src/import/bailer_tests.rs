use super::*;
use crate::import::yaml::unwrapped;
use crate::{Config, OnResolved};
use alert_core::LabelSet;

const README_CONFIG: &str = include_str!("../../../examples/import/bailer.yaml");

fn import(text: &str) -> Result<Imported, ImportError> {
    import_bailer(
        ImportSource {
            name: "config.yaml",
            text,
        },
        &BailerOptions::default(),
    )
}

/// The imported YAML, loaded as `alertrun check` loads it.
fn load(imported: &Imported) -> Config {
    Config::from_yaml(&imported.yaml)
        .unwrap_or_else(|e| panic!("{e}\n--- imported:\n{}", imported.yaml))
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Whether bailer's `needsBailing` would act: every configured label present and its Go
/// regex found anywhere in the value (the Rust regex crate agrees with Go on these).
fn bailer_matches(config: &[(&str, &str)], alert: &LabelSet) -> bool {
    config.iter().all(|(k, re)| {
        alert
            .get(*k)
            .is_some_and(|v| regex::Regex::new(re).unwrap().is_match(v))
    })
}

#[test]
fn readme_config_imports_to_a_per_alert_job_rule_that_check_passes() {
    let imported = import(README_CONFIG).unwrap();
    let config = load(&imported);
    let rule = &config.rules().rules()[0];
    assert_eq!(rule.name, "PodCrashLooping");
    assert_eq!(rule.mode, alert_match::Mode::PerAlert);
    assert_eq!(rule.env_style, alert_core::env::EnvStyle::Bailer);
    let matchers: Vec<String> = rule.matchers.iter().map(ToString::to_string).collect();
    assert_eq!(
        matchers,
        [
            r#"alertname="PodCrashLooping""#,
            r#"namespace=~"(?s:.*)default(?s:.*)""#,
            r#"pod=~"^nginx-(?s:.*)""#,
        ]
    );
    assert_eq!(
        config.policy(0).on_resolved_while_running,
        OnResolved::Leave
    );
    for want in [
        "image: bitnami/kubectl:latest",
        "container_name: podcrashlooping",
        "service_account: bailer-admin",
        "ttl_seconds_after_finished: 900",
        "command: [/bin/bash, -c, 'kubectl delete pod -n $ALERT_NAMESPACE $ALERT_POD']",
        // The literal `default` matched anywhere: said, with the equality to write instead.
        r#"write namespace="default" if you meant exactly that"#,
    ] {
        assert!(
            unwrapped(&imported.yaml).contains(want),
            "{want:?}:\n{}",
            imported.yaml
        );
    }
}

#[test]
fn unanchored_regexes_select_exactly_the_values_bailer_selected() {
    let patterns = [
        "default",
        "^nginx-.*",
        "^nginx-",
        "-canary$",
        ".*web",
        "web.*",
        "a|b",
        "^a|b$",
        "(?i)WEB",
        "",
        ".*",
        "x*",
        r"\.$",
        r"a\$",
        r"\\$",
        "^$",
        "[|]",
    ];
    // No empty value: Alertmanager drops empty labels, so "" only ever means absent.
    let values = [
        "default",
        "nondefault-x",
        "nginx-1",
        "x-nginx-1",
        "web",
        "a-web\nb",
        "web-canary",
        "canary-web",
        "a",
        "b",
        "cab",
        ".",
        "a.",
        "a$",
        "a\\",
        "x",
        "|",
        "nginx-\n1",
        "WEB-1",
    ];
    for re in patterns {
        let imported = import(&format!(
            "bailers:\n- alert: A\n  labels: {{app: {}}}\n  container: {{image: i, tag: t}}\n",
            yaml::scalar(re)
        ))
        .unwrap_or_else(|e| panic!("{re:?}: {e}"));
        let config = load(&imported);
        let rule = &config.rules().rules()[0];
        for v in values {
            let alert = labels(&[("alertname", "A"), ("app", v)]);
            assert_eq!(
                rule.matchers.matches(&alert),
                bailer_matches(&[("app", re)], &alert),
                "{re:?} on {v:?}: {:?}",
                rule.matchers
            );
        }
        // bailer needed the label; alertrun sees an absent label as "".
        let without = labels(&[("alertname", "A")]);
        assert!(
            !rule.matchers.matches(&without),
            "{re:?} matched an alert without the label"
        );
    }
    assert_eq!(anywhere("default"), "(?s:.*)default(?s:.*)");
    assert_eq!(anywhere("^nginx-.*"), "^nginx-(?s:.*)");
    assert_eq!(anywhere(".*web"), "(?s:.*)web(?s:.*)");
    assert_eq!(anywhere("-canary$"), "(?s:.*)-canary$");
    assert_eq!(anywhere("a|b"), "(?s:.*)(?:a|b)(?s:.*)");
}

#[test]
fn a_bailer_without_labels_or_alert_acts_on_every_firing_alert() {
    let no_labels =
        import("bailers:\n- alert: DiskFull\n  container: {image: i, tag: t}\n").unwrap();
    let config = load(&no_labels);
    let m: Vec<String> = config.rules().rules()[0]
        .matchers
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(m, [r#"alertname="DiskFull""#]);
    assert!(
        unwrapped(&no_labels.yaml).contains("no ttlSecondsAfterFinished"),
        "{}",
        no_labels.yaml
    );
    assert!(
        no_labels.yaml.contains("the image's own entrypoint"),
        "{}",
        no_labels.yaml
    );
    let nothing = import("bailers:\n- container: {image: i, tag: t}\n").unwrap();
    let config = load(&nothing);
    assert_eq!(config.rules().rules()[0].name, "bailer");
    assert!(config.rules().rules()[0].matchers.is_empty());
    assert!(nothing.yaml.contains("match: []"), "{}", nothing.yaml);
}

#[test]
fn keys_are_case_insensitive_and_label_names_lower_cased_as_viper_reads_them() {
    let text = "Bailers:\n- ALERT: X\n  Labels: {Pod: web}\n  CONTAINER: {Image: i, TAG: t}\n  serviceaccountname: sa\n  TTLSecondsAfterFinished: '60'\n";
    let imported = import(text).unwrap();
    let config = load(&imported);
    let m: Vec<String> = config.rules().rules()[0]
        .matchers
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(m, [r#"alertname="X""#, r#"pod=~"(?s:.*)web(?s:.*)""#]);
    assert!(
        unwrapped(&imported.yaml).contains("lower-cased the label name \"Pod\""),
        "{}",
        imported.yaml
    );
    assert!(imported.yaml.contains("service_account: sa"));
    assert!(imported.yaml.contains("ttl_seconds_after_finished: 60"));
}

#[test]
fn unknown_fields_and_helm_values_are_noted() {
    let text = "config:\n  bailers:\n  - alert: X\n    containr: {image: i}\n    container: {image: i, tag: t, pullPolicy: Always}\n    nodeSelector: {a: b}\nfaktory: {enabled: true}\n";
    let imported = import(text).unwrap();
    load(&imported);
    for want in [
        r#"not carried over (config.bailers[0].containr, line 4): unknown field "containr" (did you mean container?): bailer ignored it"#,
        r#"unknown field "pullPolicy""#,
        r#"unknown field "nodeSelector""#,
        "a Helm values file",
    ] {
        assert!(
            unwrapped(&imported.yaml).contains(want),
            "{want:?}:\n{}",
            imported.yaml
        );
    }
}

#[test]
fn namespace_option_becomes_the_default_namespace() {
    let options = BailerOptions {
        namespace: Some("bailer".to_owned()),
    };
    let imported = import_bailer(
        ImportSource {
            name: "c",
            text: README_CONFIG,
        },
        &options,
    )
    .unwrap();
    assert!(
        imported
            .yaml
            .contains("  namespace: bailer   # bailer's --namespace")
    );
    load(&imported);
    let bad = BailerOptions {
        namespace: Some("Not_A_Namespace".to_owned()),
    };
    let e = import_bailer(
        ImportSource {
            name: "c",
            text: README_CONFIG,
        },
        &bad,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("--namespace: \"Not_A_Namespace\" is not a valid namespace"),
        "{e}"
    );
}

#[test]
fn invalid_input_is_refused_naming_each_place() {
    for (text, want) in [
        (
            "bailers:\n- alert: X\n  labels: {pod: '(web'}\n  container: {image: i, tag: t}\n",
            "bailers[0].labels.pod (line 3): invalid regex \"(web\"",
        ),
        (
            "bailers:\n- alert: X\n  labels: {pod: 'a)|(b'}\n  container: {image: i, tag: t}\n",
            "bailers[0].labels.pod (line 3): invalid regex",
        ),
        (
            "bailers:\n- alert: X\n  labels: {pod: '(?x) a'}\n  container: {image: i, tag: t}\n",
            "bailers[0].labels.pod (line 3)",
        ),
        (
            "bailers:\n- alert: X\n  container: {image: i}\n",
            "bailers[0].container (line 3): no `tag`",
        ),
        (
            "bailers:\n- alert: X\n  container: {tag: t}\n",
            "bailers[0].container (line 3): no `image`",
        ),
        (
            "bailers:\n- alert: X\n",
            "bailers[0] (line 2): no `container`",
        ),
        (
            "bailers:\n- alert: X\n  container: {image: i, tag: t}\n  ttlSecondsAfterFinished: soon\n",
            "bailers[0].ttlSecondsAfterFinished (line 4): expected a number of seconds",
        ),
        (
            "bailers:\n- alert: X\n  container: {image: i, tag: t}\n  command: kubectl\n",
            "bailers[0].command (line 4): expected a list of strings",
        ),
        (
            "bailers: []\n",
            "bailers (line 1): expected a list of bailers",
        ),
        ("rules: []\n", "no `bailers:` list"),
        ("", "the file is empty"),
        ("bailers: [\n", "invalid YAML"),
    ] {
        let e = import(text).unwrap_err();
        assert!(e.to_string().contains(want), "{text:?}:\n{e}");
        assert!(e.to_string().contains("in the bailer config"), "{e}");
    }
}

#[test]
fn an_alert_name_that_is_no_container_name_keeps_alertruns_default() {
    let imported =
        import("bailers:\n- alert: Pod_Crash\n  container: {image: i, tag: t}\n").unwrap();
    load(&imported);
    assert!(
        !imported.yaml.contains("container_name"),
        "{}",
        imported.yaml
    );
    assert!(
        unwrapped(&imported.yaml).contains("alertrun names it `action`"),
        "{}",
        imported.yaml
    );
}
