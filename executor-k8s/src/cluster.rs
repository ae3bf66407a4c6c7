//! A call to the Kubernetes API that failed, and whether it is worth making again.

use alert_core::ExecError;

use crate::executor::KIND;

/// A call to the Kubernetes API that failed: the source of [`ExecError::Backend`] (or [`ExecError::Transient`]) from a
/// [`JobExecutor`](crate::JobExecutor).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The API server refused the call (403): the account alertrun runs as lacks the RBAC
    /// rule. The message says what to add to the Role.
    #[error(
        "forbidden: alertrun's account may not {verb} {resource} in namespace {namespace:?}: \
         add verb \"{verb}\" on \"{resource}\" (API group \"{group}\") to its Role there",
        group = api_group(resource)
    )]
    Forbidden {
        /// `create`, `get`, `list` or `delete`.
        verb: &'static str,
        /// `jobs`, `pods` or `pods/log`.
        resource: &'static str,
        /// The namespace of the call.
        namespace: String,
        /// The API server's message (which names the account).
        #[source]
        source: ApiMessage,
    },
    /// Any other failure: an API error or a transport problem.
    #[error("cannot {verb} {resource} in namespace {namespace:?}")]
    Api {
        /// `create`, `get`, `list` or `delete`.
        verb: &'static str,
        /// `jobs`, `pods` or `pods/log`.
        resource: &'static str,
        /// The namespace of the call.
        namespace: String,
        /// The API's answer, or the transport error.
        #[source]
        source: ApiFailure,
    },
}

impl ClusterError {
    pub(crate) fn new(
        verb: &'static str,
        resource: &'static str,
        namespace: &str,
        e: kube::Error,
    ) -> Self {
        let namespace = namespace.to_string();
        match &e {
            kube::Error::Api(s) if s.is_forbidden() => Self::Forbidden {
                verb,
                resource,
                namespace,
                source: ApiMessage(s.message.clone()),
            },
            _ => Self::Api {
                verb,
                resource,
                namespace,
                source: ApiFailure(e),
            },
        }
    }

    /// Whether the call may succeed when made again: a transport error (unreachable,
    /// connection reset, timed out) or an answer of `429 Too Many Requests` or `5xx`.
    /// A `403`, a `404`, a `409` or a `422` is not.
    pub fn is_transient(&self) -> bool {
        let Self::Api {
            source: ApiFailure(source),
            ..
        } = self
        else {
            return false;
        };
        match source {
            kube::Error::Api(s) => s.code == 429 || s.code >= 500,
            kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
                true
            }
            _ => false,
        }
    }

    /// [`ExecError::Backend`]: for a failure after the Job was created, which a caller
    /// must not answer by starting it again.
    pub(crate) fn into_exec(self) -> ExecError {
        ExecError::Backend {
            backend: KIND,
            source: Box::new(self),
        }
    }

    /// [`ExecError::Transient`] when [`is_transient`](Self::is_transient), else
    /// [`ExecError::Backend`]: for a failure before anything was started (or, in
    /// `recover`, before anything was done), which may be tried again.
    pub(crate) fn into_exec_before_start(self) -> ExecError {
        if self.is_transient() {
            ExecError::Transient {
                backend: KIND,
                source: Box::new(self),
            }
        } else {
            self.into_exec()
        }
    }
}

impl ClusterError {
    /// The underlying error's text, for logs.
    pub(crate) fn source_text(&self) -> String {
        match self {
            Self::Forbidden { source, .. } => source.to_string(),
            Self::Api { source, .. } => source.to_string(),
        }
    }
}

/// The message of an API server's answer (a `Status`'s `message`), without the rest of it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApiMessage(String);

/// Why an API call failed, for people: an API server's answer as `<code> <reason>:
/// <message>` (`422 Invalid: Job.batch "x" is invalid: ...`), never a dump of the whole
/// `Status`; a transport error as kube words it. The kube error is kept for its kind and
/// its own sources.
#[derive(Debug)]
pub struct ApiFailure(pub kube::Error);

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            kube::Error::Api(s) => {
                write!(f, "{}", s.code)?;
                if !s.reason.is_empty() {
                    write!(f, " {}", s.reason)?;
                }
                if !s.message.is_empty() {
                    write!(f, ": {}", s.message)?;
                }
                Ok(())
            }
            other => write!(f, "{other}"),
        }
    }
}

impl std::error::Error for ApiFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            // The Status is all said above; its Debug form would only repeat it.
            kube::Error::Api(_) => None,
            other => other.source(),
        }
    }
}

/// The API group of `resource`, as a Role's `apiGroups` names it (`""`: the core group).
fn api_group(resource: &str) -> &'static str {
    match resource {
        "jobs" => "batch",
        _ => "",
    }
}
