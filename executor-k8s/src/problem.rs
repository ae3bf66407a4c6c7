//! Problems in a rule's Kubernetes action, each with the path of the field at fault.

use std::fmt;

/// One problem in a [`JobAction`](crate::JobAction), at a path relative to the action:
/// `template.spec.containers[0].imagePullPolicyy: unknown field`.
///
/// The caller puts the action's own place in front (`rules[2].action.`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
#[non_exhaustive]
pub struct JobConfigError {
    /// Where: `namespace`, `template.spec.containers[1].name`,
    /// `template.metadata.labels["app.kubernetes.io/name"]`.
    pub path: String,
    /// What is wrong there, for people: the `Display` of [`kind`](Self::kind).
    pub message: String,
    /// What is wrong there, for programs.
    pub kind: JobConfigErrorKind,
}

impl JobConfigError {
    pub(crate) fn new(path: impl Into<String>, kind: JobConfigErrorKind) -> Self {
        Self {
            path: path.into(),
            message: kind.to_string(),
            kind,
        }
    }
}

/// What is wrong with one field of a [`JobAction`](crate::JobAction).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobConfigErrorKind {
    /// The template has a key that `PodTemplateSpec` (in the Kubernetes version alertrun
    /// was built for) does not know: a typo, or a field of a newer version.
    #[error("unknown field")]
    UnknownField,
    /// The value has the wrong type or shape; the message is serde's.
    #[error("{0}")]
    Type(String),
    /// A namespace or container name that is not a DNS-1123 label.
    #[error("{0:?} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63)")]
    NotDnsLabel(String),
    /// A service account name that is not a DNS-1123 subdomain.
    #[error("{0:?} is not a DNS-1123 subdomain")]
    NotDnsSubdomain(String),
    /// A container without a name.
    #[error("no name: every container needs one")]
    MissingName,
    /// A template label or annotation key that Kubernetes does not accept.
    #[error("{0:?} is not a valid label or annotation key")]
    InvalidKey(String),
    /// A template label value that Kubernetes does not accept.
    #[error(
        "{0:?} is not a valid label value (at most 63 of [-A-Za-z0-9_.], alphanumeric at both ends)"
    )]
    InvalidLabelValue(String),
    /// An image reference that is empty or holds whitespace.
    #[error("{0:?} is not an image reference")]
    InvalidImage(String),
    /// A number that must not be negative.
    #[error("{0} is negative")]
    Negative(i64),
    /// A number that must be at least 1.
    #[error("{0} is not a positive number of seconds")]
    NotPositive(i64),
    /// A restart policy other than `Never` or `OnFailure`.
    #[error("{0:?} is not allowed for a Job: use Never or OnFailure")]
    RestartPolicy(String),
    /// Neither `image` nor a template container: the pod would have nothing to run.
    #[error("no container to run: set `image`, or give `template.spec.containers`")]
    NoContainer,
    /// A container without an image.
    #[error("no image: set `image` or the container's `image`")]
    MissingImage,
    /// A shortcut (`image`, `command`, `args`) given while the template has several
    /// containers and `container_name` does not say which one it is for.
    #[error("the template has {0} containers: set `container_name` to the one this applies to")]
    AmbiguousContainer(usize),
    /// `container_name` names no container of the template.
    #[error("no container of the template is named {0:?}")]
    NoSuchContainer(String),
    /// Two containers (or init containers) with the same name.
    #[error("container name {0:?} is used twice")]
    DuplicateContainerName(String),
    /// A shortcut and the template set the same field to different values.
    #[error("{ours} contradicts {other} = {theirs}")]
    Conflict {
        /// The shortcut's value, as written in the message.
        ours: String,
        /// The template field it contradicts.
        other: String,
        /// That field's value.
        theirs: String,
    },
    /// A field alertrun sets itself, or that Kubernetes forbids in a pod template.
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    /// A template container defines an env var the request also sets.
    #[error("{0:?} is also set by alertrun's env contract")]
    EnvConflict(String),
}

/// `base.key`, or `base["key"]` when `key` is not a plain identifier.
pub(crate) fn child(base: &str, key: &str) -> String {
    let plain = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{key:?}]"),
    }
}

/// `base[index]`.
pub(crate) fn index(base: &str, index: usize) -> String {
    format!("{base}[{index}]")
}

/// Writes problems as one line: `a: x; b: y`.
pub(crate) struct List<'a>(pub(crate) &'a [JobConfigError]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_quote_keys_that_are_not_identifiers() {
        for (base, key, want) in [
            ("", "template", "template"),
            ("template", "spec", "template.spec"),
            (
                "labels",
                "app.kubernetes.io/name",
                r#"labels["app.kubernetes.io/name"]"#,
            ),
            ("", "a b", r#"["a b"]"#),
        ] {
            assert_eq!(child(base, key), want);
        }
        assert_eq!(index("containers", 2), "containers[2]");
    }

    #[test]
    fn list_joins_with_semicolons() {
        let errors = [
            JobConfigError::new("a", JobConfigErrorKind::UnknownField),
            JobConfigError::new("b", JobConfigErrorKind::Negative(-1)),
        ];
        assert_eq!(
            List(&errors).to_string(),
            "a: unknown field; b: -1 is negative"
        );
    }
}
