//! Keeping alert values from becoming program options.
//!
//! An action's argv is fixed config text in which `$(VAR)` references expand to the
//! variables' values, one element staying one argument. Whoever can post to Alertmanager
//! controls labels and annotations, so an element that begins with an alert's value can
//! still become an option: `kubectl delete pod $(ALERTRUN_LABEL_pod)` with `pod="--all"`
//! deletes every pod in the namespace.
//!
//! - At run time, [`option_values`] finds the elements whose expansion starts with a `-`
//!   taken from an alert's value; [`crate::render`] reports each as a problem, so the
//!   action does not run (unless the rule allows option values).
//! - Statically, [`exposed_arguments`] finds the elements that begin with a reference to
//!   an alert's value and are neither after a `--` element nor of the `--flag=$(VAR)`
//!   form, for `alertrun check` to warn about.

use std::fmt;

use alert_core::env::{self, EnvStyle, EnvVar};

/// One argv element of an action, as the config writes it, with `$(VAR)` unexpanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Argument {
    /// Where the config writes it, such as `process.command[2]`.
    pub at: String,
    /// The element's text.
    pub text: String,
}

impl Argument {
    /// An element at `at` holding `text`.
    pub fn new(at: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            text: text.into(),
        }
    }
}

/// An argv element whose expansion would start with `-` taken from an alert's value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{at} {element:?} would be {expanded:?}: the value of {name} starts with '-', and the \
     program could take it as an option (set `allow_option_values: true` on the rule to pass it)"
)]
pub struct OptionValue {
    /// Where the config writes the element.
    pub at: String,
    /// The element, unexpanded.
    pub element: String,
    /// The alert-derived variable whose value starts the expansion.
    pub name: String,
    /// The element, expanded (secret values shown as `<redacted>`).
    pub expanded: String,
}

/// One `$(NAME)` reference or literal text at the start of an element.
enum Piece<'a> {
    Reference(&'a str),
    Literal,
}

/// The references an element begins with, up to the first literal text (Kubernetes'
/// expansion rules: `$$` is literal, an unterminated `$(` is literal).
fn leading_pieces(text: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let name = rest
            .strip_prefix("$(")
            .and_then(|after| after.find(')').map(|close| &after[..close]));
        match name {
            Some(name) => {
                rest = &rest[name.len() + 3..];
                Some(Piece::Reference(name))
            }
            None => {
                rest = "";
                Some(Piece::Literal)
            }
        }
    })
}

/// The elements of `args` whose expansion with `env` starts with `-` taken from the value
/// of a variable `is_alert` says comes from the alert, in order.
///
/// References to variables that are not defined stay as they are (and start with `$`);
/// references that expand to nothing are passed over, so `$(EMPTY)$(POD)` is found too.
pub fn option_values(
    args: &[Argument],
    env: &[EnvVar],
    is_alert: impl Fn(&str) -> bool,
) -> Vec<OptionValue> {
    let value = |name: &str| {
        env.iter()
            .find(|v| v.name == name)
            .map(|v| v.value.as_str())
    };
    let mut found = Vec::new();
    for arg in args {
        for piece in leading_pieces(&arg.text) {
            let Piece::Reference(name) = piece else { break };
            let Some(v) = value(name) else { break };
            if v.is_empty() {
                continue;
            }
            if v.starts_with('-') && is_alert(name) {
                // Shown values: a secret in the same element must not reach the reason.
                let lookup = |n: &str| {
                    let var = env.iter().find(|v| v.name == n)?;
                    Some(var.shown_value().to_string())
                };
                found.push(OptionValue {
                    at: arg.at.clone(),
                    element: arg.text.clone(),
                    name: name.to_string(),
                    expanded: alert_core::expand::expand(&arg.text, lookup),
                });
            }
            break;
        }
    }
    found
}

/// Whether `name` is a variable whose value an alert (or its notification) gives in
/// `style`: everything the env contract defines except the rule's name.
pub fn is_alert_variable(name: &str, style: EnvStyle) -> bool {
    if name == env::RULE {
        return false;
    }
    match style {
        EnvStyle::Native => name.starts_with(env::NATIVE_PREFIX),
        EnvStyle::AmExecutor => name.starts_with(env::AMX_PREFIX),
        EnvStyle::Bailer => name.starts_with(env::BAILER_PREFIX),
    }
}

/// Variables of the native style whose values have a fixed shape no alert can change
/// into an option (a status word, hex, counts).
const FIXED_SHAPE: [&str; 6] = [
    env::STATUS,
    env::FINGERPRINT,
    env::EPISODE,
    env::ALERT_COUNT,
    env::FIRING_COUNT,
    env::RESOLVED_COUNT,
];

/// An argv element that begins with an alert's value where a program may read options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposedArgument {
    /// Where the config writes the element.
    pub at: String,
    /// The element.
    pub element: String,
    /// The alert-derived variable it begins with.
    pub name: String,
}

impl fmt::Display for ExposedArgument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} begins with an alert's value ({}), where the program may read an option: \
             an alert with a value such as \"--all\" is refused at run time; put a \"--\" \
             element before it, or write it as --flag=$({})",
            self.element, self.name, self.name
        )
    }
}

/// The elements of one argv (`args`, in order) that begin with a reference to a variable
/// an alert gives in `style` (see [`is_alert_variable`]; fixed-shape ones such as
/// `ALERTRUN_FINGERPRINT` aside) and are not after a `--` element. `--flag=$(VAR)` and
/// `-n$(VAR)` begin with config text and are never listed. `static_env` names the rule's
/// own variables, which are not the alert's.
pub fn exposed_arguments(
    args: &[Argument],
    style: EnvStyle,
    static_env: &[EnvVar],
) -> Vec<ExposedArgument> {
    let is_alert = |name: &str| {
        is_alert_variable(name, style)
            && !FIXED_SHAPE.contains(&name)
            && !static_env.iter().any(|v| v.name == name)
    };
    let mut found = Vec::new();
    for arg in args {
        if arg.text == "--" {
            break;
        }
        let first_alert = leading_pieces(&arg.text)
            .map_while(|p| match p {
                Piece::Reference(name) => Some(name),
                Piece::Literal => None,
            })
            .find(|name| is_alert(name));
        if let Some(name) = first_alert {
            found.push(ExposedArgument {
                at: arg.at.clone(),
                element: arg.text.clone(),
                name: name.to_string(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(texts: &[&str]) -> Vec<Argument> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| Argument::new(format!("command[{i}]"), *t))
            .collect()
    }

    fn env_of(pairs: &[(&str, &str)]) -> Vec<EnvVar> {
        pairs.iter().map(|(n, v)| EnvVar::new(*n, *v)).collect()
    }

    const POD: &str = "ALERTRUN_LABEL_pod";

    /// (case, argv, env, expected (index, expansion) of each refused element)
    type OptionCase = (
        &'static str,
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
        &'static [(usize, &'static str)],
    );

    #[test]
    fn option_values_table() {
        let alert = |n: &str| is_alert_variable(n, EnvStyle::Native);
        let table: &[OptionCase] = &[
            (
                "whole element with --all",
                &["kubectl", "delete", "$(ALERTRUN_LABEL_pod)"],
                &[(POD, "--all")],
                &[(2, "--all")],
            ),
            (
                "a single dash is an option too",
                &["rm", "$(ALERTRUN_LABEL_pod)"],
                &[(POD, "-rf")],
                &[(1, "-rf")],
            ),
            (
                "a plain value passes",
                &["kubectl", "$(ALERTRUN_LABEL_pod)"],
                &[(POD, "web-1")],
                &[],
            ),
            (
                "a dash inside the value passes",
                &["x", "$(ALERTRUN_LABEL_pod)"],
                &[(POD, "web--all")],
                &[],
            ),
            (
                "--flag=$(VAR) begins with config text",
                &["x", "--pod=$(ALERTRUN_LABEL_pod)"],
                &[(POD, "--all")],
                &[],
            ),
            (
                "literal prefix",
                &["x", "pod/$(ALERTRUN_LABEL_pod)"],
                &[(POD, "--all")],
                &[],
            ),
            (
                "value followed by text is still an option",
                &["x", "$(ALERTRUN_LABEL_pod).yaml"],
                &[(POD, "--all")],
                &[(1, "--all.yaml")],
            ),
            (
                "an empty value before it is passed over",
                &["x", "$(ALERTRUN_LABEL_a)$(ALERTRUN_LABEL_pod)"],
                &[("ALERTRUN_LABEL_a", ""), (POD, "-x")],
                &[(1, "-x")],
            ),
            (
                "after -- it is still refused: not every program honours --",
                &["x", "--", "$(ALERTRUN_LABEL_pod)"],
                &[(POD, "--all")],
                &[(2, "--all")],
            ),
            (
                "the program itself",
                &["$(ALERTRUN_LABEL_pod)"],
                &[(POD, "-x")],
                &[(0, "-x")],
            ),
            (
                "the rule's own variable is config text",
                &["x", "$(FLAGS)"],
                &[("FLAGS", "-v")],
                &[],
            ),
            (
                "the rule's name is config text",
                &["x", "$(ALERTRUN_RULE)"],
                &[("ALERTRUN_RULE", "-r")],
                &[],
            ),
            (
                "an undefined variable stays as written",
                &["x", "$(ALERTRUN_LABEL_pod)"],
                &[],
                &[],
            ),
            (
                "an escaped reference is literal",
                &["x", "$$(ALERTRUN_LABEL_pod)"],
                &[(POD, "--all")],
                &[],
            ),
            (
                "a static value first begins with config text",
                &["x", "$(FLAGS)$(ALERTRUN_LABEL_pod)"],
                &[("FLAGS", "-v"), (POD, "--all")],
                &[],
            ),
        ];
        for (case, argv, env, want) in table {
            let got: Vec<(usize, String)> = option_values(&args(argv), &env_of(env), alert)
                .into_iter()
                .map(|o| {
                    let i = argv.iter().position(|a| *a == o.element).unwrap();
                    (i, o.expanded)
                })
                .collect();
            let want: Vec<(usize, String)> =
                want.iter().map(|(i, e)| (*i, (*e).to_string())).collect();
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn a_secret_in_the_refused_element_is_not_shown() {
        let mut env = env_of(&[(POD, "--all")]);
        let mut token = EnvVar::new("TOKEN", "s3cret");
        token.secret = true;
        env.push(token);
        let found = option_values(&args(&["x", "$(ALERTRUN_LABEL_pod)$(TOKEN)"]), &env, |n| {
            is_alert_variable(n, EnvStyle::Native)
        });
        assert_eq!(found[0].expanded, "--all<redacted>");
    }

    #[test]
    fn option_value_names_the_element_and_the_value() {
        let found = option_values(
            &args(&["/bin/echo", "$(ALERTRUN_LABEL_pod)"]),
            &env_of(&[(POD, "--all")]),
            |n| is_alert_variable(n, EnvStyle::Native),
        );
        assert_eq!(
            found[0].to_string(),
            "command[1] \"$(ALERTRUN_LABEL_pod)\" would be \"--all\": the value of \
             ALERTRUN_LABEL_pod starts with '-', and the program could take it as an option \
             (set `allow_option_values: true` on the rule to pass it)"
        );
    }

    #[test]
    fn exposed_arguments_table() {
        // (case, style, argv, indexes warned about)
        let table: &[(&str, EnvStyle, &[&str], &[usize])] = &[
            (
                "the shipped rule before the fix",
                EnvStyle::Native,
                &[
                    "kubectl",
                    "delete",
                    "pod",
                    "--namespace",
                    "$(ALERTRUN_LABEL_namespace)",
                    "$(ALERTRUN_LABEL_pod)",
                    "--wait=false",
                ],
                &[4, 5],
            ),
            (
                "the shipped rule after the fix",
                EnvStyle::Native,
                &[
                    "kubectl",
                    "delete",
                    "pod",
                    "--namespace=$(ALERTRUN_LABEL_namespace)",
                    "--wait=false",
                    "--",
                    "$(ALERTRUN_LABEL_pod)",
                ],
                &[],
            ),
            (
                "value begun by a reference",
                EnvStyle::Native,
                &["x", "$(ALERTRUN_ANNOTATION_file).log"],
                &[1],
            ),
            (
                "-n$(VAR) begins with config text",
                EnvStyle::Native,
                &["x", "-n$(ALERTRUN_LABEL_namespace)"],
                &[],
            ),
            (
                "fixed-shape variables are not warned about",
                EnvStyle::Native,
                &[
                    "x",
                    "$(ALERTRUN_FINGERPRINT)",
                    "$(ALERTRUN_STATUS)",
                    "$(ALERTRUN_RULE)",
                ],
                &[],
            ),
            (
                "the rule's own variable",
                EnvStyle::Native,
                &["x", "$(TARGET)"],
                &[],
            ),
            (
                "am-executor names",
                EnvStyle::AmExecutor,
                &["x", "$(AMX_LABEL_pod)", "$(ALERTRUN_LABEL_pod)"],
                &[1],
            ),
            (
                "bailer names",
                EnvStyle::Bailer,
                &["x", "$(ALERT_POD)"],
                &[1],
            ),
            (
                "the program itself",
                EnvStyle::Native,
                &["$(ALERTRUN_ANNOTATION_runbook)"],
                &[0],
            ),
        ];
        for (case, style, argv, want) in table {
            let got: Vec<usize> =
                exposed_arguments(&args(argv), *style, &env_of(&[("TARGET", "")]))
                    .iter()
                    .map(|e| argv.iter().position(|a| *a == e.element).unwrap())
                    .collect();
            assert_eq!(&got, want, "{case}");
        }
    }
}
