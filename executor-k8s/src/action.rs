//! A rule's Kubernetes action, as written in the config, and its validation.

use std::fmt;

use k8s_openapi::api::core::v1::{Container, PodTemplateSpec};
use serde::Deserialize;
use serde_json::Value;

use crate::name::{is_dns1123_label, is_dns1123_subdomain};
use crate::problem::{JobConfigError, JobConfigErrorKind, child, index};
use crate::template;

/// The Kubernetes action of a rule: what Job to create for each alert (or group).
///
/// Either the shortcuts alone (`image`, `command`, `args`, `service_account`), or a full
/// pod `template` (anything a `PodTemplateSpec` allows), or both:
///
/// - Without template containers, the shortcuts describe the one container, named
///   `container_name` (default `action`); a template may still set pod-level fields
///   (`nodeSelector`, `tolerations`, `volumes`, …).
/// - With template containers, `image`, `command` and `args` apply to the container
///   named `container_name`, or to the only container when it is not given; with several
///   containers and no `container_name` they are an error (ambiguous).
/// - A shortcut never silently overrides the template: where both set a field to
///   different values, that is an error.
///
/// `command` and `args` are fixed config text and are not escaped: they may use
/// `$(ALERTRUN_LABEL_pod)` references, which the kubelet expands from the env alertrun
/// adds to every container.
///
/// Config keys are snake_case; unknown keys are errors, in the template too.
///
/// ```yaml
/// namespace: ops
/// image: bitnami/kubectl
/// command: ["kubectl", "delete", "pod", "-n", "$(ALERTRUN_LABEL_namespace)", "$(ALERTRUN_LABEL_pod)"]
/// service_account: pod-deleter
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JobAction {
    /// The namespace of the Job; the caller's default namespace when not given.
    pub namespace: Option<String>,
    /// The container image.
    pub image: Option<String>,
    /// The container's `command` (its entrypoint), not escaped.
    pub command: Option<Vec<String>>,
    /// The container's `args`, not escaped.
    pub args: Option<Vec<String>>,
    /// The pod's `serviceAccountName`.
    pub service_account: Option<String>,
    /// The name of the action's container (default [`default_container_name`]).
    pub container_name: Option<String>,
    /// A full `PodTemplateSpec` (`metadata` and `spec`), in Kubernetes' own camelCase.
    pub template: Option<Value>,
    /// The Job's `backoffLimit` (default [`default_backoff_limit`]).
    pub backoff_limit: Option<i32>,
    /// The Job's `ttlSecondsAfterFinished` (default [`default_ttl_seconds_after_finished`]).
    pub ttl_seconds_after_finished: Option<i32>,
    /// The Job's `activeDeadlineSeconds` (default: the request's deadline, rounded up to
    /// whole seconds).
    pub active_deadline_seconds: Option<i64>,
    /// The pod's `restartPolicy` (default [`default_restart_policy`]).
    pub restart_policy: Option<RestartPolicy>,
}

/// A Job pod's restart policy: Kubernetes allows only these two for Jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum RestartPolicy {
    /// A failed pod is replaced by a new one (up to `backoffLimit`).
    Never,
    /// A failed container is restarted in the same pod.
    OnFailure,
}

impl RestartPolicy {
    /// `"Never"` or `"OnFailure"`, as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "Never",
            Self::OnFailure => "OnFailure",
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `action`: the name of the container built from the shortcuts.
pub fn default_container_name() -> &'static str {
    "action"
}

/// `0`: a remediation that failed is not retried blindly.
pub fn default_backoff_limit() -> i32 {
    0
}

/// `3600`: a finished Job (and its pods and logs) stays an hour.
pub fn default_ttl_seconds_after_finished() -> i32 {
    3600
}

/// `Never`: a failed pod stays, with its logs, for inspection.
pub fn default_restart_policy() -> RestartPolicy {
    RestartPolicy::Never
}

/// A checked action: the pod template with the shortcuts applied, and the Job settings.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) namespace: Option<String>,
    pub(crate) template: PodTemplateSpec,
    pub(crate) backoff_limit: i32,
    pub(crate) ttl_seconds_after_finished: i32,
    pub(crate) active_deadline_seconds: Option<i64>,
}

impl JobAction {
    /// Checks the action, without a request: what `alertrun check` runs.
    ///
    /// # Errors
    /// Every problem found, each with its path relative to the action: bad namespace,
    /// container or service account names; unknown fields and type errors in `template`;
    /// no image; shortcuts that contradict the template or are ambiguous; a restart
    /// policy other than `Never`/`OnFailure`; negative numbers.
    pub fn validate(&self) -> Result<(), Vec<JobConfigError>> {
        self.plan().map(drop)
    }

    /// What the kubelet expands `$(VAR)` references in: the `command` followed by the
    /// `args` of every init container and container, after the shortcuts are applied; each
    /// element with its path relative to the action (`command[3]`, or
    /// `template.spec.containers[1].args[0]` for an element the template gives). Empty
    /// when the action is invalid.
    pub fn argvs(&self) -> Vec<Vec<(String, String)>> {
        let Ok(plan) = self.plan() else {
            return Vec::new();
        };
        let Some(spec) = plan.template.spec else {
            return Vec::new();
        };
        let lists = [
            (
                "template.spec.initContainers",
                spec.init_containers.unwrap_or_default(),
            ),
            ("template.spec.containers", spec.containers),
        ];
        let mut argvs = Vec::new();
        for (list, containers) in lists {
            let main = list == "template.spec.containers";
            for (i, c) in containers.into_iter().enumerate() {
                let mut argv = Vec::new();
                for (key, given, elements) in [
                    ("command", &self.command, c.command),
                    ("args", &self.args, c.args),
                ] {
                    let elements = elements.unwrap_or_default();
                    let base = if main && given.as_ref() == Some(&elements) {
                        key.to_string()
                    } else {
                        child(&index(list, i), key)
                    };
                    argv.extend(
                        elements
                            .into_iter()
                            .enumerate()
                            .map(|(j, e)| (index(&base, j), e)),
                    );
                }
                argvs.push(argv);
            }
        }
        argvs
    }

    /// Validates and applies the shortcuts to the template.
    pub(crate) fn plan(&self) -> Result<Plan, Vec<JobConfigError>> {
        let mut errors = Vec::new();
        self.check_fields(&mut errors);
        let template = match &self.template {
            Some(value) => template::parse(value, "template", &mut errors),
            None => Some(PodTemplateSpec::default()),
        };
        let template = template.map(|t| self.apply_shortcuts(t, &mut errors));
        match template {
            Some(template) if errors.is_empty() => Ok(Plan {
                namespace: self.namespace.clone(),
                template,
                backoff_limit: self.backoff_limit.unwrap_or_else(default_backoff_limit),
                ttl_seconds_after_finished: self
                    .ttl_seconds_after_finished
                    .unwrap_or_else(default_ttl_seconds_after_finished),
                active_deadline_seconds: self.active_deadline_seconds,
            }),
            _ => Err(errors),
        }
    }

    /// The fields outside the template, each on its own.
    fn check_fields(&self, errors: &mut Vec<JobConfigError>) {
        let mut push = |path: &str, problem| errors.push(JobConfigError::new(path, problem));
        for (path, name) in [
            ("namespace", &self.namespace),
            ("container_name", &self.container_name),
        ] {
            if let Some(name) = name.as_ref().filter(|n| !is_dns1123_label(n)) {
                push(path, JobConfigErrorKind::NotDnsLabel(name.clone()));
            }
        }
        if let Some(account) = self.service_account.as_ref() {
            if !is_dns1123_subdomain(account) {
                push(
                    "service_account",
                    JobConfigErrorKind::NotDnsSubdomain(account.clone()),
                );
            }
        }
        if let Some(image) = self.image.as_ref() {
            if image.is_empty() || image.contains(char::is_whitespace) {
                push("image", JobConfigErrorKind::InvalidImage(image.clone()));
            }
        }
        for (path, value) in [
            ("backoff_limit", self.backoff_limit),
            (
                "ttl_seconds_after_finished",
                self.ttl_seconds_after_finished,
            ),
        ] {
            if let Some(value) = value.filter(|v| *v < 0) {
                push(path, JobConfigErrorKind::Negative(value.into()));
            }
        }
        if let Some(value) = self.active_deadline_seconds.filter(|v| *v < 1) {
            push(
                "active_deadline_seconds",
                JobConfigErrorKind::NotPositive(value),
            );
        }
    }

    /// Checks the template and applies the shortcuts to it, reporting contradictions.
    fn apply_shortcuts(
        &self,
        mut template: PodTemplateSpec,
        errors: &mut Vec<JobConfigError>,
    ) -> PodTemplateSpec {
        template::check(&template, "template", errors);
        let spec = template.spec.get_or_insert_with(Default::default);
        self.apply_container_shortcuts(&mut spec.containers, errors);

        let account = Shortcut::new("service_account", self.service_account.as_ref());
        account.merge_into(
            &mut spec.service_account_name,
            "template.spec.serviceAccountName",
            errors,
        );
        let policy = self.restart_policy.map(|p| p.as_str().to_string());
        let policy = Shortcut::new("restart_policy", policy.as_ref());
        policy.merge_into(
            &mut spec.restart_policy,
            "template.spec.restartPolicy",
            errors,
        );
        if spec.restart_policy.is_none() {
            spec.restart_policy = Some(default_restart_policy().as_str().to_string());
        }
        template
    }

    /// Builds the action's container from the shortcuts, or applies them to the template
    /// container they are for; then checks that every container has an image.
    fn apply_container_shortcuts(
        &self,
        containers: &mut Vec<Container>,
        errors: &mut Vec<JobConfigError>,
    ) {
        let list = "template.spec.containers";
        if containers.is_empty() {
            match &self.image {
                Some(image) => containers.push(Container {
                    name: self.container_name().to_string(),
                    image: Some(image.clone()),
                    command: self.command.clone(),
                    args: self.args.clone(),
                    ..Container::default()
                }),
                None => errors.push(JobConfigError::new(
                    "image",
                    JobConfigErrorKind::NoContainer,
                )),
            }
        } else if let Some(i) = self.target_container(containers, errors) {
            let c = &mut containers[i];
            let at = |key| child(&index(list, i), key);
            let image = Shortcut::new("image", self.image.as_ref());
            image.merge_into(&mut c.image, &at("image"), errors);
            let command = Shortcut::new("command", self.command.as_ref());
            command.merge_into(&mut c.command, &at("command"), errors);
            let args = Shortcut::new("args", self.args.as_ref());
            args.merge_into(&mut c.args, &at("args"), errors);
        }
        for (i, container) in containers.iter().enumerate() {
            if container.image.as_deref().is_none_or(str::is_empty) {
                let at = child(&index(list, i), "image");
                errors.push(JobConfigError::new(at, JobConfigErrorKind::MissingImage));
            }
        }
    }

    /// Which template container the shortcuts apply to, if any.
    fn target_container(
        &self,
        containers: &[Container],
        errors: &mut Vec<JobConfigError>,
    ) -> Option<usize> {
        if let Some(name) = &self.container_name {
            let found = containers.iter().position(|c| &c.name == name);
            if found.is_none() {
                errors.push(JobConfigError::new(
                    "container_name",
                    JobConfigErrorKind::NoSuchContainer(name.clone()),
                ));
            }
            return found;
        }
        if containers.len() == 1 {
            return Some(0);
        }
        let shortcuts = [
            ("image", self.image.is_some()),
            ("command", self.command.is_some()),
            ("args", self.args.is_some()),
        ];
        for (path, _) in shortcuts.iter().filter(|(_, given)| *given) {
            errors.push(JobConfigError::new(
                *path,
                JobConfigErrorKind::AmbiguousContainer(containers.len()),
            ));
        }
        None
    }

    fn container_name(&self) -> &str {
        self.container_name
            .as_deref()
            .unwrap_or(default_container_name())
    }
}

/// A shortcut's value and where it was written.
struct Shortcut<'a, T> {
    path: &'static str,
    value: Option<&'a T>,
}

impl<'a, T: Clone + PartialEq + fmt::Debug> Shortcut<'a, T> {
    fn new(path: &'static str, value: Option<&'a T>) -> Self {
        Self { path, value }
    }

    /// Sets the template field `theirs` (at `their_path`) to the shortcut's value, or
    /// reports a contradiction when both are given and differ.
    fn merge_into(
        &self,
        theirs: &mut Option<T>,
        their_path: &str,
        errors: &mut Vec<JobConfigError>,
    ) {
        let Some(ours) = self.value else {
            return;
        };
        match theirs {
            Some(theirs) if theirs != ours => errors.push(JobConfigError::new(
                self.path,
                JobConfigErrorKind::Conflict {
                    ours: format!("{ours:?}"),
                    other: their_path.to_string(),
                    theirs: format!("{theirs:?}"),
                },
            )),
            _ => *theirs = Some(ours.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action(value: Value) -> JobAction {
        serde_json::from_value(value).expect("test actions parse")
    }

    fn paths(value: Value) -> Vec<Vec<String>> {
        action(value)
            .argvs()
            .into_iter()
            .map(|argv| {
                argv.into_iter()
                    .map(|(at, e)| format!("{at}={e}"))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn argvs_are_every_containers_command_then_args_with_their_paths() {
        // (case, action, argvs)
        let table: Vec<(&str, Value, Vec<Vec<&str>>)> = vec![
            (
                "shortcuts",
                json!({"image": "i", "command": ["c", "$(A)"], "args": ["x"]}),
                vec![vec!["command[0]=c", "command[1]=$(A)", "args[0]=x"]],
            ),
            (
                "template containers, init containers first",
                json!({"args": ["s"], "container_name": "b", "template": {"spec": {
                    "initContainers": [{"name": "i", "image": "i", "command": ["init"]}],
                    "containers": [{"name": "a", "image": "i", "args": ["t"]},
                                   {"name": "b", "image": "i", "command": ["p"]}]}}}),
                vec![
                    vec!["template.spec.initContainers[0].command[0]=init"],
                    vec!["template.spec.containers[0].args[0]=t"],
                    vec!["template.spec.containers[1].command[0]=p", "args[0]=s"],
                ],
            ),
            ("invalid", json!({"command": ["c"]}), vec![]),
        ];
        for (case, value, want) in table {
            assert_eq!(paths(value), want, "{case}");
        }
    }

    fn problems(value: Value) -> Vec<String> {
        match action(value).validate() {
            Ok(()) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn validate_table() {
        let two = json!({"spec": {"containers": [{"name": "a", "image": "i"},
                                                 {"name": "b", "image": "i"}]}});
        for (case, input, want) in [
            ("image alone", json!({"image": "busybox"}), vec![]),
            (
                "everything given, consistently",
                json!({"namespace": "ops", "image": "i", "command": ["c"], "args": ["a"],
                       "service_account": "sa.x", "container_name": "main",
                       "backoff_limit": 0, "ttl_seconds_after_finished": 0,
                       "active_deadline_seconds": 1, "restart_policy": "OnFailure",
                       "template": {"spec": {"containers": [{"name": "main", "image": "i"}],
                                             "restartPolicy": "OnFailure",
                                             "serviceAccountName": "sa.x"}}}),
                vec![],
            ),
            (
                "nothing to run",
                json!({}),
                vec!["image: no container to run: set `image`, or give `template.spec.containers`"],
            ),
            (
                "template without containers still needs image",
                json!({"template": {"spec": {"nodeSelector": {"a": "b"}}}}),
                vec!["image: no container to run: set `image`, or give `template.spec.containers`"],
            ),
            (
                "template for pod fields, shortcuts for the container",
                json!({"image": "i", "template": {"spec": {"nodeSelector": {"a": "b"}}}}),
                vec![],
            ),
            (
                "template container without image",
                json!({"template": {"spec": {"containers": [{"name": "a"}]}}}),
                vec![
                    "template.spec.containers[0].image: no image: set `image` or the \
                      container's `image`",
                ],
            ),
            (
                "the image shortcut fills the only container",
                json!({"image": "i", "template": {"spec": {"containers": [{"name": "a"}]}}}),
                vec![],
            ),
            (
                "shortcuts ambiguous with two containers",
                json!({"image": "i", "args": ["x"], "template": two}),
                vec![
                    "image: the template has 2 containers: set `container_name` to the one \
                     this applies to",
                    "args: the template has 2 containers: set `container_name` to the one \
                     this applies to",
                ],
            ),
            (
                "two containers without shortcuts are fine",
                json!({"template": two}),
                vec![],
            ),
            (
                "container_name picks one of two",
                json!({"container_name": "b", "command": ["x"], "template": two}),
                vec![],
            ),
            (
                "container_name names none",
                json!({"container_name": "c", "image": "i", "template": two}),
                vec!["container_name: no container of the template is named \"c\""],
            ),
            (
                "shortcuts contradict the template",
                json!({"image": "i2", "command": ["a"], "service_account": "x",
                       "restart_policy": "Never",
                       "template": {"spec": {"containers": [{"name": "a", "image": "i",
                                                             "command": ["b"]}],
                                             "serviceAccountName": "y",
                                             "restartPolicy": "OnFailure"}}}),
                vec![
                    "image: \"i2\" contradicts template.spec.containers[0].image = \"i\"",
                    "command: [\"a\"] contradicts template.spec.containers[0].command = [\"b\"]",
                    "service_account: \"x\" contradicts template.spec.serviceAccountName = \"y\"",
                    "restart_policy: \"Never\" contradicts template.spec.restartPolicy = \
                     \"OnFailure\"",
                ],
            ),
            (
                "bad names and numbers, all at once",
                json!({"namespace": "Ops", "container_name": "a_b", "service_account": "-",
                       "image": "bad image", "backoff_limit": -1,
                       "ttl_seconds_after_finished": -2, "active_deadline_seconds": 0}),
                vec![
                    "namespace: \"Ops\" is not a DNS-1123 label (lowercase letters, digits \
                     and '-', at most 63)",
                    "container_name: \"a_b\" is not a DNS-1123 label (lowercase letters, \
                     digits and '-', at most 63)",
                    "service_account: \"-\" is not a DNS-1123 subdomain",
                    "image: \"bad image\" is not an image reference",
                    "backoff_limit: -1 is negative",
                    "ttl_seconds_after_finished: -2 is negative",
                    "active_deadline_seconds: 0 is not a positive number of seconds",
                ],
            ),
        ] {
            assert_eq!(problems(input), want, "{case}");
        }
    }

    #[test]
    fn unknown_action_keys_and_restart_policies_fail_to_parse() {
        for input in [
            json!({"image": "i", "imagee": "x"}),
            json!({"image": "i", "restart_policy": "Always"}),
            json!({"image": "i", "restartPolicy": "Never"}),
        ] {
            assert!(
                serde_json::from_value::<JobAction>(input.clone()).is_err(),
                "{input}"
            );
        }
    }

    #[test]
    fn plan_applies_defaults_and_the_named_container() {
        let plan = action(json!({"container_name": "b", "image": "x",
            "template": {"spec": {"containers": [{"name": "a", "image": "i"}, {"name": "b"}]}}}))
        .plan()
        .expect("valid");
        assert_eq!(plan.backoff_limit, 0);
        assert_eq!(plan.ttl_seconds_after_finished, 3600);
        assert_eq!(plan.active_deadline_seconds, None);
        let spec = plan.template.spec.expect("spec");
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        let images: Vec<_> = spec.containers.iter().map(|c| c.image.as_deref()).collect();
        assert_eq!(images, [Some("i"), Some("x")]);
    }
}
