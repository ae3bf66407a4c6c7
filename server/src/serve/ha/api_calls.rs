//! Every Kubernetes API call `server.ha` makes, as RBAC names it.
//!
//! Like the Job backend's `executor_k8s::API_CALLS`, [`HA_API_CALLS`] is the single list the
//! deployment assets are checked against: the HA variant's Role (deploy/ and the Helm chart)
//! must grant exactly these verbs in the claims' namespace, and the mocked-API suite of the
//! claim protocol fails on a request that is not in the list and on an entry that no
//! scenario makes.

use executor_k8s::ApiCall;

/// Every call the claims, their renewals and takeovers, the history and the housekeeper
/// make, on `coordination.k8s.io` Leases in the claims' namespace.
pub const HA_API_CALLS: &[ApiCall] = &[
    ApiCall {
        group: "coordination.k8s.io",
        resource: "leases",
        verb: "create",
        why: "claim an episode before running it; create the housekeeper's leader lease",
    },
    ApiCall {
        group: "coordination.k8s.io",
        resource: "leases",
        verb: "get",
        why: "read a claim after 409 AlreadyExists: who holds it, renewed when, finished?",
    },
    ApiCall {
        group: "coordination.k8s.io",
        resource: "leases",
        verb: "update",
        why: "renew, finish and take over claims, renew the leader lease (with resourceVersion)",
    },
    ApiCall {
        group: "coordination.k8s.io",
        resource: "leases",
        verb: "list",
        why: "which replica ran an episode (history across replicas); the housekeeper's sweep",
    },
    ApiCall {
        group: "coordination.k8s.io",
        resource: "leases",
        verb: "delete",
        why: "prune claims older than the history retention; release the claims of a refused notification",
    },
];
