//! Rendering Jobs through the public API only.

use std::time::Duration;

use alert_core::env::EnvVar;
use alert_core::expand::expand;
use alert_core::{AlertStatus, ExecRequest, Fingerprint, Subject, Timestamp};
use executor_k8s::{
    JobAction, JobConfigErrorKind, RenderError, is_env_name, job_name, redact_job, render_job,
};
use k8s_openapi::api::batch::v1::Job;
use proptest::prelude::*;
use serde_json::{Value, json};

fn action(value: Value) -> JobAction {
    serde_json::from_value(value).expect("test actions parse")
}

/// A per-alert request for a crash-looping pod, with env as alert-core would render it.
fn crash_looping(env: Vec<EnvVar>) -> ExecRequest {
    ExecRequest {
        rule: "pod-crash-looping".to_string(),
        dedup_key: "d284efc389a5bf32@2026-11-21T07:38:36.123000000Z".to_string(),
        subject: Subject {
            alertname: "KubePodCrashLooping".to_string(),
            status: Some(AlertStatus::Firing),
            fingerprint: Some(Fingerprint::from(0xd284_efc3_89a5_bf32)),
            starts_at: Timestamp::parse("2026-11-21T09:38:36.123+02:00").ok(),
            group_key: "{}:{alertname=\"KubePodCrashLooping\"}".to_string(),
            summary: "Pod ops/web-1 is crash looping".to_string(),
            generator_url: "http://prometheus:9090/graph?g0.expr=up".to_string(),
        },
        env,
        input: Vec::new(),
        deadline: Duration::from_millis(299_500),
    }
}

fn crash_looping_env() -> Vec<EnvVar> {
    vec![
        EnvVar::new("ALERTRUN_RULE", "pod-crash-looping"),
        EnvVar::new("ALERTRUN_STATUS", "firing"),
        EnvVar::new("ALERTRUN_LABEL_namespace", "ops"),
        EnvVar::new("ALERTRUN_LABEL_pod", "web-1"),
    ]
}

fn delete_pod_action() -> JobAction {
    action(json!({
        "image": "bitnami/kubectl",
        "command": ["kubectl", "delete", "pod", "-n", "$(ALERTRUN_LABEL_namespace)",
                    "$(ALERTRUN_LABEL_pod)"],
        "service_account": "pod-deleter",
    }))
}

/// Every `env` list of every container and init container, by container name.
fn env_lists(job: &Job) -> Vec<(String, Vec<(String, String)>)> {
    let pod = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec");
    let init = pod.init_containers.iter().flatten();
    init.chain(&pod.containers)
        .map(|c| {
            let env = c.env.iter().flatten();
            let env = env.map(|v| (v.name.clone(), v.value.clone().unwrap_or_default()));
            (c.name.clone(), env.collect())
        })
        .collect()
}

#[test]
fn crash_looping_pod_renders_the_exact_delete_job() {
    let job = render_job(
        &delete_pod_action(),
        &crash_looping(crash_looping_env()),
        "alertrun",
    )
    .expect("renders");
    let labels = json!({
        "alertrun.dev/alertname": "KubePodCrashLooping",
        "alertrun.dev/fingerprint": "d284efc389a5bf32",
        "alertrun.dev/rule": "pod-crash-looping",
        "app.kubernetes.io/managed-by": "alertrun",
    });
    let want = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            // printf '\0\0\0\0\0\0\0\x11pod-crash-looping<dedup key>' | sha256sum
            "name": "ar-pod-crash-looping-0668f578572c7f3f",
            "namespace": "alertrun",
            "labels": labels,
            "annotations": {
                "alertrun.dev/dedup-key": "d284efc389a5bf32@2026-11-21T07:38:36.123000000Z",
                "alertrun.dev/episode-start": "2026-11-21T07:38:36.123000000Z",
                "alertrun.dev/generator-url": "http://prometheus:9090/graph?g0.expr=up",
                "alertrun.dev/group-key": "{}:{alertname=\"KubePodCrashLooping\"}",
                "alertrun.dev/rule": "pod-crash-looping",
                "alertrun.dev/status": "firing",
                "alertrun.dev/summary": "Pod ops/web-1 is crash looping",
            },
        },
        "spec": {
            "activeDeadlineSeconds": 300,
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "action",
                        "image": "bitnami/kubectl",
                        "command": ["kubectl", "delete", "pod", "-n",
                                    "$(ALERTRUN_LABEL_namespace)", "$(ALERTRUN_LABEL_pod)"],
                        "env": [
                            {"name": "ALERTRUN_RULE", "value": "pod-crash-looping"},
                            {"name": "ALERTRUN_STATUS", "value": "firing"},
                            {"name": "ALERTRUN_LABEL_namespace", "value": "ops"},
                            {"name": "ALERTRUN_LABEL_pod", "value": "web-1"},
                        ],
                    }],
                    "restartPolicy": "Never",
                    "serviceAccountName": "pod-deleter",
                },
            },
        },
    });
    assert_eq!(serde_json::to_value(&job).expect("serialises"), want);
    assert_eq!(
        job.metadata.name.as_deref(),
        Some(
            job_name(
                "pod-crash-looping",
                "d284efc389a5bf32@2026-11-21T07:38:36.123000000Z"
            )
            .as_str()
        )
    );
}

#[test]
fn dollar_in_a_label_value_is_escaped_in_every_container() {
    let action = action(json!({
        "namespace": "ops",
        "template": {"spec": {
            "initContainers": [{"name": "prepare", "image": "busybox",
                                "env": [{"name": "SECRET_TOKEN", "value": "hunter2"}]}],
            "containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i", "env": []}],
        }},
    }));
    let env = vec![
        EnvVar::new("ALERTRUN_LABEL_pod", "$(SECRET_TOKEN)"),
        EnvVar::new("ALERTRUN_LABEL_price", "$$5"),
    ];
    let job = render_job(&action, &crash_looping(env), "default").expect("renders");
    let lists = env_lists(&job);
    assert_eq!(lists.len(), 3);
    for (container, env) in lists {
        let ours: Vec<_> = env
            .iter()
            .filter(|(n, _)| n.starts_with("ALERTRUN_"))
            .collect();
        assert_eq!(
            ours,
            [
                &(
                    "ALERTRUN_LABEL_pod".to_string(),
                    "$$(SECRET_TOKEN)".to_string()
                ),
                &("ALERTRUN_LABEL_price".to_string(), "$$$$5".to_string()),
            ],
            "container {container}"
        );
    }
}

#[test]
fn template_labels_are_kept_and_ours_win_on_our_keys() {
    let action = action(json!({
        "image": "i",
        "template": {"metadata": {
            "labels": {"team": "sre", "app.kubernetes.io/managed-by": "helm"},
            "annotations": {"note": "kept"},
        }},
    }));
    let job = render_job(&action, &crash_looping(Vec::new()), "default").expect("renders");
    let meta = job
        .spec
        .expect("spec")
        .template
        .metadata
        .expect("pod metadata");
    let labels = meta.labels.expect("labels");
    assert_eq!(labels["team"], "sre");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "alertrun");
    assert_eq!(labels["alertrun.dev/rule"], "pod-crash-looping");
    assert_eq!(meta.annotations.expect("annotations")["note"], "kept");
}

#[test]
fn job_overrides_replace_the_defaults() {
    let action = action(json!({
        "image": "i", "backoff_limit": 2, "ttl_seconds_after_finished": 0,
        "active_deadline_seconds": 60, "restart_policy": "OnFailure", "namespace": "ops",
    }));
    let job = render_job(&action, &crash_looping(Vec::new()), "default").expect("renders");
    let spec = serde_json::to_value(job.spec.expect("spec")).expect("serialises");
    assert_eq!(spec["backoffLimit"], 2);
    assert_eq!(spec["ttlSecondsAfterFinished"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 60);
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "OnFailure");
    assert_eq!(job.metadata.namespace.as_deref(), Some("ops"));
}

#[test]
fn every_config_problem_is_listed_at_once() {
    let action = action(json!({
        "namespace": "Not_A_Label",
        "backoff_limit": -1,
        "template": {"spec": {"containers": [{"name": "a", "image": "i",
                                              "imagePullPolicyy": "Always"}],
                              "dnsPolicyy": "None"}},
    }));
    let want = [
        "namespace: \"Not_A_Label\" is not a DNS-1123 label (lowercase letters, digits and \
         '-', at most 63)",
        "backoff_limit: -1 is negative",
        "template.spec.containers[0].imagePullPolicyy: unknown field",
        "template.spec.dnsPolicyy: unknown field",
    ];
    let errors = action.validate().expect_err("invalid");
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        want
    );
    assert_eq!(errors[2].kind, JobConfigErrorKind::UnknownField);

    match render_job(&action, &crash_looping(Vec::new()), "default") {
        Err(RenderError::Config(errors)) => assert_eq!(errors.len(), 4),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn template_type_error_names_its_path() {
    let action = action(json!({
        "namespace": "-bad",
        "template": {"spec": {"containers": [{"name": "a", "image": "i",
                                              "securityContext": {"runAsUser": "root"}}]}},
    }));
    let errors: Vec<_> = action
        .validate()
        .expect_err("invalid")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "namespace: \"-bad\" is not a DNS-1123 label (lowercase letters, digits and '-', \
             at most 63)",
            "template.spec.containers[0].securityContext.runAsUser: invalid type: string \
             \"root\", expected i64",
        ]
    );
}

#[test]
fn template_env_named_like_a_request_var_is_an_error() {
    let action = action(json!({
        "template": {"spec": {"containers": [{"name": "a", "image": "i", "env": [
            {"name": "KEEP", "value": "x"},
            {"name": "ALERTRUN_LABEL_pod", "value": "web-9"},
        ]}]}},
    }));
    let err =
        render_job(&action, &crash_looping(crash_looping_env()), "default").expect_err("conflict");
    assert!(
        matches!(err, RenderError::EnvConflict(ref e) if e.len() == 1),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "env of the template conflicts with the request: template.spec.containers[0].env[1].name: \
         \"ALERTRUN_LABEL_pod\" is also set by alertrun's env contract"
    );
}

#[test]
fn env_names_are_checked_against_the_api_servers_rule() {
    for name in [
        "ALERTRUN_LABEL_pod",
        "AMX_LABEL_service.name",
        "_x",
        "-a",
        ".b",
        "a-1",
    ] {
        assert!(is_env_name(name), "{name}");
    }
    for name in ["", "1A", "AMX_LABEL_ключ", "A B", "A=B", "A/B", "A:B"] {
        assert!(!is_env_name(name), "{name}");
    }
}

#[test]
fn a_variable_name_the_api_server_refuses_refuses_the_run() {
    // What `env_style: am-executor` makes of a label `ключ` (Prometheus 3 UTF-8 names).
    let mut env = crash_looping_env();
    env.push(EnvVar::new("AMX_LABEL_ключ", "значение"));
    env.push(EnvVar::new("AMX_ALERT_1_LABEL_ключ", "значение"));
    let err = render_job(&delete_pod_action(), &crash_looping(env), "default")
        .expect_err("no Job the API server would refuse");
    assert!(
        matches!(&err, RenderError::EnvName(names)
            if names == &["AMX_LABEL_ключ".to_owned(), "AMX_ALERT_1_LABEL_ключ".to_owned()]),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "variable names Kubernetes refuses in a Job (a name must match \
         [-._a-zA-Z][-._a-zA-Z0-9]*): \"AMX_LABEL_ключ\", \"AMX_ALERT_1_LABEL_ключ\"; \
         the Job is not created"
    );
}

#[test]
fn invalid_default_namespace_is_an_error() {
    let err =
        render_job(&delete_pod_action(), &crash_looping(Vec::new()), "Ops").expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "invalid default namespace \"Ops\": not a DNS-1123 label"
    );
}

#[test]
fn huge_summary_is_an_error_not_a_rejected_post() {
    let mut req = crash_looping(Vec::new());
    req.subject.summary = "x".repeat(256 * 1024);
    let err = render_job(&delete_pod_action(), &req, "default").expect_err("too large");
    assert!(
        matches!(err, RenderError::AnnotationsTooLarge { .. }),
        "{err:?}"
    );
}

#[test]
fn redact_job_hides_secret_values_only() {
    let mut token = EnvVar::new("ALERTRUN_ANNOTATION_token", "s3cr$t");
    token.secret = true;
    let env = vec![EnvVar::new("ALERTRUN_LABEL_pod", "web-1"), token];
    let action = action(json!({"template": {"spec": {
        "initContainers": [{"name": "init", "image": "i"}],
        "containers": [{"name": "a", "image": "i"}],
    }}}));
    let mut job = render_job(&action, &crash_looping(env.clone()), "default").expect("renders");
    assert!(
        serde_json::to_string(&job)
            .expect("json")
            .contains("s3cr$$t")
    );
    redact_job(&mut job, &env);
    for (_, vars) in env_lists(&job) {
        assert_eq!(
            vars,
            [
                ("ALERTRUN_LABEL_pod".to_string(), "web-1".to_string()),
                (
                    "ALERTRUN_ANNOTATION_token".to_string(),
                    "<redacted>".to_string()
                ),
            ]
        );
    }
    assert!(!serde_json::to_string(&job).expect("json").contains("s3cr"));
}

proptest! {
    /// Whatever a value holds, the kubelet's expansion gives it back unchanged, even when
    /// every name it could reference is defined.
    #[test]
    fn kubelet_expansion_restores_every_value(value in ".*") {
        let env = vec![EnvVar::new("ALERTRUN_LABEL_x", value.clone())];
        let job = render_job(&delete_pod_action(), &crash_looping(env), "default").unwrap();
        let lists = env_lists(&job);
        let rendered = &lists[0].1[0].1;
        let everything_defined = |_: &str| Some("LEAKED".to_string());
        prop_assert_eq!(expand(rendered, everything_defined), value);
    }

    #[test]
    fn rendered_name_is_the_job_name(rule in ".{0,80}", key in ".{0,80}") {
        let mut req = crash_looping(Vec::new());
        req.rule.clone_from(&rule);
        req.dedup_key.clone_from(&key);
        let job = render_job(&delete_pod_action(), &req, "default").unwrap();
        prop_assert_eq!(job.metadata.name, Some(job_name(&rule, &key)));
        let labels = job.metadata.labels.unwrap_or_default();
        let rule_label = &labels["alertrun.dev/rule"];
        prop_assert!(rule_label.len() <= 63);
    }
}
