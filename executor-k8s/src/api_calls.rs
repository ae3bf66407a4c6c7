//! Every Kubernetes API call the Job backend makes, as RBAC names it.
//!
//! [`API_CALLS`] is the single list the deployment assets are checked against: the shipped
//! Role (`deploy/kubernetes/rbac-jobs.yaml`, and the Helm chart's) must grant exactly these
//! verbs, and the mocked-API suite fails on any request that is not in the list and on any
//! entry that no scenario makes. A new call without a line here, or a line without a call,
//! therefore fails a test, and the Role can never drift from the code.
//!
//! It is pure data (no kube types), so it is available without the `executor` feature.

/// One call: `verb` on `resource` of API group `group`, as a Role rule spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiCall {
    /// The API group: `"batch"`, or `""` for the core group.
    pub group: &'static str,
    /// The resource (a subresource as `pods/log`).
    pub resource: &'static str,
    /// The RBAC verb: `create`, `get`, `list`, `delete`, ...
    pub verb: &'static str,
    /// Why the backend makes it.
    pub why: &'static str,
}

/// Every call [`JobExecutor`](crate::JobExecutor) makes, in the namespaces its Jobs run in.
pub const API_CALLS: &[ApiCall] = &[
    ApiCall {
        group: "batch",
        resource: "jobs",
        verb: "create",
        why: "create the Job of a run",
    },
    ApiCall {
        group: "batch",
        resource: "jobs",
        verb: "get",
        why: "follow the Job to its end; read it after 409 AlreadyExists and after a restart",
    },
    ApiCall {
        group: "batch",
        resource: "jobs",
        verb: "delete",
        why: "end the Job at the rule's timeout, on resolve and on shutdown",
    },
    ApiCall {
        group: "",
        resource: "pods",
        verb: "list",
        why: "find the Job's pods by its uid label, for the exit code and the log",
    },
    ApiCall {
        group: "",
        resource: "pods/log",
        verb: "get",
        why: "read the tail of the pod's log into the run's history",
    },
    ApiCall {
        group: "",
        resource: "events",
        verb: "list",
        why: "read why the Job controller could not create a pod (FailedCreate events)",
    },
];

/// The call of `verb` on `path` (an API path such as
/// `/apis/batch/v1/namespaces/ops/jobs/name` or `/api/v1/namespaces/ops/pods`), if it is
/// one of [`API_CALLS`]'s resources; for test servers that check every request they see.
///
/// The HTTP method maps to the RBAC verb as the API server maps it: `POST` is `create`,
/// `DELETE` is `delete`, `GET` of a named object is `get` and of a collection is `list`.
pub fn api_call_of(method: &str, path: &str) -> Option<ApiCall> {
    api_call_in(API_CALLS, method, path)
}

/// [`api_call_of`] against another list of calls (another component's, such as alertrun's
/// claims on Leases); `PUT` of a named object is `update`.
pub fn api_call_in(calls: &[ApiCall], method: &str, path: &str) -> Option<ApiCall> {
    let path = path.split('?').next().unwrap_or(path);
    let (group, rest) = if let Some(rest) = path.strip_prefix("/apis/") {
        let mut parts = rest.splitn(3, '/');
        let group = parts.next()?;
        let _version = parts.next()?;
        (group, parts.next()?)
    } else {
        ("", path.strip_prefix("/api/v1/")?)
    };
    let rest = rest.strip_prefix("namespaces/")?;
    let mut parts = rest.splitn(2, '/');
    let _namespace = parts.next()?;
    let segments: Vec<&str> = parts.next()?.split('/').collect();
    let (resource, named) = match segments.as_slice() {
        [resource] => (resource.to_string(), false),
        [resource, _name] => (resource.to_string(), true),
        [resource, _name, sub] => (format!("{resource}/{sub}"), true),
        _ => return None,
    };
    let verb = match (method, named) {
        ("POST", false) => "create",
        ("DELETE", true) => "delete",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("PUT", true) => "update",
        _ => return None,
    };
    calls
        .iter()
        .find(|c| c.group == group && c.resource == resource && c.verb == verb)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_requests_map_to_the_rbac_verbs_the_api_server_checks() {
        let call = |m, p| api_call_of(m, p).map(|c| (c.group, c.resource, c.verb));
        assert_eq!(
            call("POST", "/apis/batch/v1/namespaces/ops/jobs?"),
            Some(("batch", "jobs", "create"))
        );
        assert_eq!(
            call("GET", "/apis/batch/v1/namespaces/ops/jobs/j-1"),
            Some(("batch", "jobs", "get"))
        );
        assert_eq!(
            call("DELETE", "/apis/batch/v1/namespaces/ops/jobs/j-1"),
            Some(("batch", "jobs", "delete"))
        );
        assert_eq!(
            call("GET", "/api/v1/namespaces/ops/pods?labelSelector=a%3Db"),
            Some(("", "pods", "list"))
        );
        assert_eq!(
            call("GET", "/api/v1/namespaces/ops/pods/p-1/log?tailLines=5"),
            Some(("", "pods/log", "get"))
        );
        assert_eq!(
            call("GET", "/api/v1/namespaces/ops/events?fieldSelector=x"),
            Some(("", "events", "list"))
        );
        // Not granted: a watch, a list of Jobs, a get of a pod.
        assert_eq!(call("GET", "/apis/batch/v1/namespaces/ops/jobs"), None);
        assert_eq!(call("GET", "/api/v1/namespaces/ops/pods/p-1"), None);
        assert_eq!(call("PUT", "/apis/batch/v1/namespaces/ops/jobs/j-1"), None);
    }
}
