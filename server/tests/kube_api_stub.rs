//! The loopback Kubernetes API server of the tests (`support/kube_api.rs`) behaves as a
//! cluster's does for Leases, the claims of `server.ha`: each documented behaviour is
//! driven here with the real kube client (`kube::Api<Lease>`, k8s-openapi's
//! `coordination::v1::Lease`) through a kubeconfig, as alertrun reaches it. The
//! multi-replica tests trust the stub only as far as these tests hold it: optimistic
//! concurrency (`resourceVersion`, `409 Conflict`), `409 AlreadyExists`, validation, label
//! selectors, paging, delete preconditions, `Status` errors that kube parses into
//! `kube::Error::Api`, and the faults the tests inject.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::response::Status;
use serde_json::{Value, json};
use support::kube_api::KubeApi;

const NS: &str = "alertrun";

/// The stub, and the Leases of [`NS`] through a kube client configured from a kubeconfig
/// (retries off, as alertrun has them, so that a `503` is seen at once).
async fn start() -> (KubeApi, Api<Lease>, tempfile::TempDir) {
    let stub = KubeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let path = stub.kubeconfig(dir.path(), NS);
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    config.default_retry = false;
    let client = kube::Client::try_from(config).unwrap();
    (stub, Api::default_namespaced(client), dir)
}

/// A claim-like Lease named `name`, held by `holder`, with `labels`.
fn lease(name: &str, holder: &str, labels: &[(&str, &str)]) -> Lease {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: Some(BTreeMap::from([(
                "alertrun.dev/group-key".to_owned(),
                "{}:{alertname=\"X\"}".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(Timestamp::now())),
            renew_time: Some(MicroTime(Timestamp::now())),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
    }
}

/// The `Status` of a refused request.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected a Status from the API, got {other:?}"),
    }
}

fn rv(lease: &Lease) -> u64 {
    lease
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

fn holder(lease: &Lease) -> &str {
    lease
        .spec
        .as_ref()
        .unwrap()
        .holder_identity
        .as_deref()
        .unwrap()
}

#[tokio::test]
async fn a_lease_is_created_once_and_a_second_create_is_already_exists() {
    let (stub, leases, _dir) = start().await;
    let created = leases
        .create(&PostParams::default(), &lease("claim-a", "alertrun-0", &[]))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some(NS));
    assert!(rv(&created) > 0, "{meta:?}");
    assert!(meta.uid.as_deref().is_some_and(|u| !u.is_empty()));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(holder(&created), "alertrun-0");

    let status = refused(
        leases
            .create(&PostParams::default(), &lease("claim-a", "alertrun-1", &[]))
            .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists")
    );
    assert!(status.is_already_exists());
    assert_eq!(
        status.message,
        "leases.coordination.k8s.io \"claim-a\" already exists"
    );
    let details = status.details.unwrap();
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.kind.as_str()
        ),
        ("claim-a", "coordination.k8s.io", "leases")
    );
    let stored = leases.get("claim-a").await.unwrap();
    assert_eq!(holder(&stored), "alertrun-0", "the first owner keeps it");
    assert_eq!(stored.metadata.resource_version, meta.resource_version);

    let creates = stub.seen_with("POST");
    assert_eq!(
        creates.iter().map(|s| s.status).collect::<Vec<_>>(),
        [201, 409]
    );
    assert_eq!(
        creates[0].target,
        format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases?")
    );
    assert_eq!(creates[1].body["spec"]["holderIdentity"], "alertrun-1");
}

#[tokio::test]
async fn a_missing_lease_is_not_found() {
    let (_stub, leases, _dir) = start().await;
    let status = refused(leases.get("nobody").await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(
        status.message,
        "leases.coordination.k8s.io \"nobody\" not found"
    );
    assert_eq!(leases.get_opt("nobody").await.unwrap(), None);
}

#[tokio::test]
async fn an_update_with_a_stale_resource_version_is_a_conflict_and_changes_nothing() {
    let (stub, leases, _dir) = start().await;
    let pp = PostParams::default();
    let first = leases
        .create(&pp, &lease("claim-b", "alertrun-0", &[]))
        .await
        .unwrap();
    // Two replicas read the same version; the first to write wins.
    let mut renewal = first.clone();
    renewal.spec.as_mut().unwrap().renew_time = Some(MicroTime(Timestamp::now()));
    renewal.spec.as_mut().unwrap().lease_transitions = Some(1);
    let renewed = leases.replace("claim-b", &pp, &renewal).await.unwrap();
    assert!(rv(&renewed) > rv(&first));

    let mut takeover = first.clone();
    takeover.spec.as_mut().unwrap().holder_identity = Some("alertrun-1".into());
    let status = refused(leases.replace("claim-b", &pp, &takeover).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(status.is_conflict());
    assert_eq!(
        status.message,
        "Operation cannot be fulfilled on leases.coordination.k8s.io \"claim-b\": the object \
         has been modified; please apply your changes to the latest version and try again"
    );
    let stored = leases.get("claim-b").await.unwrap();
    assert_eq!(stored, renewed, "the refused update changed nothing");
    assert_eq!(
        stub.lease(NS, "claim-b").unwrap()["spec"]["holderIdentity"],
        "alertrun-0"
    );
}

#[tokio::test]
async fn an_update_with_the_current_resource_version_gets_a_new_one() {
    let (_stub, leases, _dir) = start().await;
    let pp = PostParams::default();
    let first = leases
        .create(&pp, &lease("claim-c", "alertrun-0", &[]))
        .await
        .unwrap();
    let other = leases
        .create(&pp, &lease("claim-other", "alertrun-0", &[]))
        .await
        .unwrap();
    assert!(rv(&other) > rv(&first), "one revision for every object");

    let mut takeover = first.clone();
    takeover.spec.as_mut().unwrap().holder_identity = Some("alertrun-1".into());
    let taken = leases.replace("claim-c", &pp, &takeover).await.unwrap();
    assert!(rv(&taken) > rv(&other));
    assert_eq!(holder(&taken), "alertrun-1");
    assert_eq!(taken.metadata.uid, first.metadata.uid, "the uid is kept");
    assert_eq!(
        taken.metadata.creation_timestamp,
        first.metadata.creation_timestamp
    );

    // An update that changes nothing is not written: the version stays.
    let same = leases.replace("claim-c", &pp, &taken).await.unwrap();
    assert_eq!(
        same.metadata.resource_version,
        taken.metadata.resource_version
    );

    // Without a resourceVersion, a Lease update is unconditional.
    let mut blind = lease("claim-c", "alertrun-2", &[]);
    blind.metadata.resource_version = None;
    let forced = leases.replace("claim-c", &pp, &blind).await.unwrap();
    assert!(rv(&forced) > rv(&taken));
    assert_eq!(holder(&forced), "alertrun-2");
}

#[tokio::test]
async fn an_update_of_a_missing_lease_or_under_another_name_is_refused() {
    let (_stub, leases, _dir) = start().await;
    let pp = PostParams::default();
    let status = refused(
        leases
            .replace("ghost", &pp, &lease("ghost", "alertrun-0", &[]))
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));

    let created = leases
        .create(&pp, &lease("claim-d", "alertrun-0", &[]))
        .await
        .unwrap();
    let mut renamed = created.clone();
    renamed.metadata.name = Some("claim-e".into());
    let status = refused(leases.replace("claim-d", &pp, &renamed).await);
    assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));
    assert_eq!(
        status.message,
        "the name of the object (claim-e) does not match the name on the URL (claim-d)"
    );

    let mut new_uid = created.clone();
    new_uid.metadata.uid = Some("another".into());
    let status = refused(leases.replace("claim-d", &pp, &new_uid).await);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status.message.contains("metadata.uid"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn invalid_names_labels_and_durations_are_refused_as_invalid() {
    let (stub, leases, _dir) = start().await;
    let pp = PostParams::default();
    let status = refused(
        leases
            .create(&pp, &lease("Claim_A", "alertrun-0", &[]))
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(status.is_invalid());
    assert_eq!(
        status.message,
        "Lease.coordination.k8s.io \"Claim_A\" is invalid: metadata.name: Invalid value: \
         \"Claim_A\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
         characters, '-' or '.', and must start and end with an alphanumeric character (e.g. \
         'example.com', regex used for validation is \
         '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    );
    let details = status.details.unwrap();
    assert_eq!(
        (details.kind.as_str(), details.name.as_str()),
        ("Lease", "Claim_A")
    );
    assert_eq!(details.causes[0].field, "metadata.name");
    let long = "a".repeat(254);
    let status = refused(leases.create(&pp, &lease(&long, "r", &[])).await);
    assert!(
        status
            .message
            .contains("must be no more than 253 characters"),
        "{}",
        status.message
    );

    // Label values from alerts are hostile: a value that is not a label value is refused.
    for value in ["web pod", "-x", &"v".repeat(64), "a\nb"] {
        let status = refused(
            leases
                .create(&pp, &lease("claim-f", "r", &[("alertname", value)]))
                .await,
        );
        assert_eq!(status.code, 422, "{value:?}: {}", status.message);
        assert_eq!(status.details.unwrap().causes[0].field, "metadata.labels");
    }
    let status = refused(
        leases
            .create(&pp, &lease("claim-f", "r", &[("a/b/c", "x")]))
            .await,
    );
    assert_eq!(status.code, 422, "{}", status.message);
    let mut zero = lease("claim-f", "r", &[]);
    zero.spec.as_mut().unwrap().lease_duration_seconds = Some(0);
    let status = refused(leases.create(&pp, &zero).await);
    assert_eq!(status.code, 422);
    assert!(
        status
            .message
            .contains("spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"),
        "{}",
        status.message
    );
    assert!(stub.leases(NS).is_empty(), "nothing invalid was stored");

    // A good name with good labels, and an empty label value, are taken.
    let ok = lease(
        "ar-x.claim-1",
        "r",
        &[("alertrun.dev/rule", "My_rule.1"), ("empty", "")],
    );
    leases.create(&pp, &ok).await.unwrap();
}

/// A cluster refuses a create that carries a resourceVersion with `500` and no reason
/// (the storage's plain error), not `422`: the stub answers the same.
#[tokio::test]
async fn a_create_with_a_resource_version_is_refused_as_the_storage_refuses_it() {
    let (_stub, leases, _dir) = start().await;
    let pp = PostParams::default();
    let created = leases
        .create(&pp, &lease("claim-g", "r", &[]))
        .await
        .unwrap();
    leases
        .delete("claim-g", &DeleteParams::default())
        .await
        .unwrap();
    // Created again from the object read earlier, with its resourceVersion.
    let status = refused(leases.create(&pp, &created).await);
    assert_eq!(status.code, 500);
    assert_eq!(status.reason, "");
    assert_eq!(
        status.message,
        "resourceVersion should not be set on objects to be created"
    );
}

#[tokio::test]
async fn leases_are_listed_by_label_selector_and_in_pages() {
    let (stub, leases, _dir) = start().await;
    let pp = PostParams::default();
    for (name, rule, finished) in [
        ("claim-1", "restart", None),
        ("claim-2", "restart", Some("true")),
        ("claim-3", "scale", None),
        ("claim-4", "scale", Some("false")),
    ] {
        let mut labels = vec![("alertrun.dev/rule", rule)];
        labels.extend(finished.map(|f| ("alertrun.dev/finished", f)));
        leases
            .create(&pp, &lease(name, "r", &labels))
            .await
            .unwrap();
    }
    let names = |list: &kube::core::ObjectList<Lease>| -> Vec<String> {
        list.items
            .iter()
            .map(|l| l.metadata.name.clone().unwrap())
            .collect()
    };
    for (selector, expected) in [
        ("alertrun.dev/rule=restart", vec!["claim-1", "claim-2"]),
        ("alertrun.dev/rule==scale", vec!["claim-3", "claim-4"]),
        (
            "alertrun.dev/rule=scale,alertrun.dev/finished",
            vec!["claim-4"],
        ),
        ("!alertrun.dev/finished", vec!["claim-1", "claim-3"]),
        (
            "alertrun.dev/finished!=true",
            vec!["claim-1", "claim-3", "claim-4"],
        ),
        (
            "alertrun.dev/rule in (scale, other)",
            vec!["claim-3", "claim-4"],
        ),
        (
            "alertrun.dev/rule notin (scale)",
            vec!["claim-1", "claim-2"],
        ),
        ("alertrun.dev/rule=none", vec![]),
    ] {
        let list = leases
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap();
        assert_eq!(names(&list), expected, "{selector}");
        let list_rv: u64 = list
            .metadata
            .resource_version
            .clone()
            .unwrap()
            .parse()
            .unwrap();
        assert!(list_rv >= 4, "{selector}: {:?}", list.metadata);
    }
    let list = leases
        .list(&ListParams::default().fields("metadata.name=claim-2"))
        .await
        .unwrap();
    assert_eq!(names(&list), ["claim-2"]);
    let status = refused(leases.list(&ListParams::default().labels("a in (b")).await);
    assert_eq!(status.code, 400, "{}", status.message);

    // Pages of two: a continue token until the last page.
    let first = leases.list(&ListParams::default().limit(3)).await.unwrap();
    assert_eq!(names(&first), ["claim-1", "claim-2", "claim-3"]);
    assert_eq!(first.metadata.remaining_item_count, Some(1));
    let token = first.metadata.continue_.clone().unwrap();
    let rest = leases
        .list(&ListParams::default().limit(3).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(names(&rest), ["claim-4"]);
    assert!(
        rest.metadata
            .continue_
            .as_deref()
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(
        rest.metadata.resource_version,
        first.metadata.resource_version
    );

    let lists: Vec<String> = stub
        .seen_with("GET")
        .iter()
        .map(|s| s.target.clone())
        .collect();
    assert!(
        lists
            .iter()
            .any(|t| t.contains("labelSelector=alertrun.dev%2Frule%3Drestart")),
        "{lists:#?}"
    );
}

#[tokio::test]
async fn delete_honours_its_resource_version_precondition() {
    let (stub, leases, _dir) = start().await;
    let pp = PostParams::default();
    let first = leases
        .create(&pp, &lease("claim-h", "r", &[]))
        .await
        .unwrap();
    let mut renewal = first.clone();
    renewal.spec.as_mut().unwrap().lease_transitions = Some(3);
    let renewed = leases.replace("claim-h", &pp, &renewal).await.unwrap();

    let stale = DeleteParams::default().preconditions(Preconditions {
        resource_version: first.metadata.resource_version.clone(),
        uid: None,
    });
    let status = refused(leases.delete("claim-h", &stale).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(
        status.message.contains(&format!(
            "Precondition failed: ResourceVersion in precondition: {}, ResourceVersion in \
             object meta: {}",
            rv(&first),
            rv(&renewed)
        )),
        "{}",
        status.message
    );
    assert!(
        leases.get_opt("claim-h").await.unwrap().is_some(),
        "not deleted"
    );
    let stale_uid = DeleteParams::default().preconditions(Preconditions {
        resource_version: None,
        uid: Some("someone-else".into()),
    });
    assert_eq!(
        refused(leases.delete("claim-h", &stale_uid).await).code,
        409
    );

    let current = DeleteParams::default().preconditions(Preconditions {
        resource_version: renewed.metadata.resource_version.clone(),
        uid: renewed.metadata.uid.clone(),
    });
    let deleted = leases.delete("claim-h", &current).await.unwrap();
    let status = deleted.right().expect("a Status for a deleted Lease");
    assert!(status.is_success());
    let details = status.details.unwrap();
    assert_eq!(details.name, "claim-h");
    assert_eq!(Some(details.uid), renewed.metadata.uid);
    assert!(stub.lease(NS, "claim-h").is_none());
    let status = refused(leases.delete("claim-h", &DeleteParams::default()).await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));

    let deletes = stub.seen_with("DELETE");
    assert_eq!(
        deletes.iter().map(|s| s.status).collect::<Vec<_>>(),
        [409, 409, 200, 404]
    );
    assert_eq!(
        deletes[2].body["preconditions"],
        json!({"resourceVersion": rv(&renewed).to_string(), "uid": renewed.metadata.uid})
    );
}

#[tokio::test]
async fn an_unavailable_api_answers_503_to_every_request_until_it_is_back() {
    let (stub, leases, _dir) = start().await;
    let pp = PostParams::default();
    stub.set_unavailable(true);
    let status = refused(leases.create(&pp, &lease("claim-i", "r", &[])).await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (503, "ServiceUnavailable")
    );
    assert_eq!(refused(leases.get("claim-i").await).code, 503);
    assert_eq!(refused(leases.list(&ListParams::default()).await).code, 503);
    assert!(stub.leases(NS).is_empty(), "nothing was created");

    stub.set_unavailable(false);
    leases
        .create(&pp, &lease("claim-i", "r", &[]))
        .await
        .unwrap();
    let seen: Vec<(String, u16)> = stub
        .seen()
        .into_iter()
        .map(|s| (s.method, s.status))
        .collect();
    let expected = [("POST", 503), ("GET", 503), ("GET", 503), ("POST", 201)];
    let expected: Vec<(String, u16)> = expected
        .into_iter()
        .map(|(m, s)| (m.to_owned(), s))
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_down_api_closes_connections_unanswered() {
    let (stub, leases, _dir) = start().await;
    stub.set_down(true);
    let error = leases.get("claim-j").await.unwrap_err();
    assert!(
        !matches!(error, kube::Error::Api(_)),
        "no answer, so no Status: {error:?}"
    );
    let seen = stub.seen();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].status, 0);
    stub.set_down(false);
    assert_eq!(refused(leases.get("claim-j").await).code, 404);
}

/// Several clients at once, each with its own view: exactly one create of a name wins,
/// and of the updates carrying the same resourceVersion, exactly one is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_and_takeovers_have_exactly_one_winner() {
    let (stub, leases, _dir) = start().await;
    stub.set_delay(std::time::Duration::from_millis(5));
    let creates = (0..8).map(|i| {
        let leases = leases.clone();
        async move {
            let claim = lease("claim-k", &format!("alertrun-{i}"), &[]);
            leases.create(&PostParams::default(), &claim).await
        }
    });
    let results = futures_util::future::join_all(creates).await;
    let won: Vec<&Lease> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:#?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(matches!(r, Err(kube::Error::Api(s)) if s.code == 409));
    }
    let read = leases.get("claim-k").await.unwrap();
    let takeovers = (0..8).map(|i| {
        let (leases, mut claim) = (leases.clone(), read.clone());
        claim.spec.as_mut().unwrap().holder_identity = Some(format!("taker-{i}"));
        async move {
            leases
                .replace("claim-k", &PostParams::default(), &claim)
                .await
        }
    });
    let results = futures_util::future::join_all(takeovers).await;
    let taken: Vec<&Lease> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(taken.len(), 1, "{results:#?}");
    let stored = leases.get("claim-k").await.unwrap();
    assert_eq!(holder(&stored), holder(taken[0]));
}

/// The request log holds what a test asserts on: method, path with query, body, status.
#[tokio::test]
async fn every_request_is_logged_with_its_body_and_status() {
    let (stub, leases, _dir) = start().await;
    leases
        .create(
            &PostParams::default(),
            &lease("claim-l", "r", &[("a", "b")]),
        )
        .await
        .unwrap();
    let _ = leases.get("claim-l").await.unwrap();
    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "POST");
    let body: &Value = &seen[0].body;
    assert_eq!(body["metadata"]["labels"], json!({"a": "b"}));
    assert_eq!(body["kind"], "Lease");
    assert_eq!(
        (
            seen[1].method.as_str(),
            seen[1].target.as_str(),
            seen[1].status
        ),
        (
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/alertrun/leases/claim-l",
            200
        )
    );
}
