//! The claim protocol against kube's mocked API: every request taken and asserted exactly
//! (method, path, body), answered as the API server answers.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::time::Duration;

use executor_k8s::testing::{Call, Handle, mock_client};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::serve::ha::HA_API_CALLS;

const NS: &str = "ops";
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/ops/leases";
/// 2026-12-05T00:00:00Z in unix ms.
const T0: i64 = 1_796_428_800_000;

fn claims(replica: &str) -> (Claims, Handle) {
    let (client, handle) = mock_client();
    let claims = Claims::new(
        client,
        NS,
        replica,
        Some("http://10.0.0.7:9095"),
        Duration::from_secs(15),
        Metrics::new(),
    );
    (claims, handle)
}

fn episode() -> Episode {
    Episode {
        name: Episode::name_of(
            "restart web",
            "d284efc389a5bf32@2026-12-05T00:00:00Z#firing",
        ),
        rule: "restart web".to_owned(),
        episode: "d284efc389a5bf32@2026-12-05T00:00:00Z#firing".to_owned(),
        fingerprint: Some("d284efc389a5bf32".to_owned()),
        alertname: Some("Web Down!".to_owned()),
        group_key: "{}:{alertname=\"Web Down!\"}".to_owned(),
        run: 7,
        reclaim_after: None,
    }
}

async fn next(handle: &mut Handle, method: Method, path: &str) -> Call {
    let call = Call::next_in(handle, HA_API_CALLS, "alertrun::HA_API_CALLS").await;
    assert_eq!((&call.method, call.path.as_str()), (&method, path));
    call
}

/// A stored Lease as the API server returns it: `body` with a resourceVersion.
fn stored(mut body: Value, rv: &str) -> Value {
    body["metadata"]["resourceVersion"] = json!(rv);
    body["metadata"]["namespace"] = json!(NS);
    body["apiVersion"] = json!("coordination.k8s.io/v1");
    body["kind"] = json!("Lease");
    body
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn micro(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Someone else's claim, renewed at `renewed`, in `state`.
fn theirs(renewed: i64, state: &str, rv: &str) -> Value {
    stored(
        json!({
            "metadata": {"name": episode().name, "annotations": {
                "alertrun.io/run": "3", "alertrun.io/state": state,
                "alertrun.io/url": "http://10.0.0.8:9095",
                "alertrun.io/rule-name": "restart web"}},
            "spec": {"holderIdentity": "alertrun-1", "leaseDurationSeconds": 15,
                     "acquireTime": micro(renewed), "renewTime": micro(renewed),
                     "leaseTransitions": 0}
        }),
        rv,
    )
}

#[tokio::test]
async fn a_claim_is_a_lease_created_with_the_episode_s_labels_and_annotations() {
    let (claims, mut api) = claims("alertrun-0");
    let ep = episode();
    let server = tokio::spawn(async move {
        let call = next(&mut api, Method::POST, LEASES).await;
        let expected = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": ep.name,
                "labels": {
                    "app.kubernetes.io/managed-by": "alertrun",
                    "alertrun.io/kind": "claim",
                    "alertrun.io/rule": executor_k8s::label_value("restart web"),
                    "alertrun.io/fingerprint": "d284efc389a5bf32",
                    "alertrun.io/alertname": executor_k8s::label_value("Web Down!"),
                },
                "annotations": {
                    "alertrun.io/rule-name": "restart web",
                    "alertrun.io/episode": ep.episode,
                    "alertrun.io/group-key": ep.group_key,
                    "alertrun.io/run": "7",
                    "alertrun.io/state": "running",
                    "alertrun.io/url": "http://10.0.0.7:9095",
                },
            },
            "spec": {
                "holderIdentity": "alertrun-0",
                "leaseDurationSeconds": 15,
                "acquireTime": micro(T0),
                "renewTime": micro(T0),
                "leaseTransitions": 0,
            },
        });
        assert_eq!(call.body, expected);
        // Hostile text never reaches a label as it is: only valid label values.
        let labels = call.body["metadata"]["labels"].as_object().unwrap();
        assert!(labels.values().all(|v| !v.as_str().unwrap().contains(' ')));
        call.reply(StatusCode::CREATED, &stored(expected, "101"));
    });
    let (claimed, lease) = claims
        .claim(&episode(), OnInterrupt::Record, T0)
        .await
        .unwrap();
    server.await.unwrap();
    assert_eq!(claimed, Claimed::Won);
    assert_eq!(
        lease.unwrap().metadata.resource_version.as_deref(),
        Some("101")
    );
}

#[tokio::test]
async fn a_conflict_on_create_reads_the_owner_and_loses_to_a_live_one() {
    let (claims, mut api) = claims("alertrun-0");
    let name = episode().name;
    let server = tokio::spawn(async move {
        next(&mut api, Method::POST, LEASES).await.reply(
            StatusCode::CONFLICT,
            &status(
                409,
                "AlreadyExists",
                "leases.coordination.k8s.io \"x\" already exists",
            ),
        );
        // Renewed 5 s ago with a 15 s lease: alive.
        next(&mut api, Method::GET, &format!("{LEASES}/{name}"))
            .await
            .reply(StatusCode::OK, &theirs(T0 - 5_000, "running", "200"));
    });
    let (claimed, lease) = claims
        .claim(&episode(), OnInterrupt::Rerun, T0)
        .await
        .unwrap();
    server.await.unwrap();
    assert_eq!(
        claimed,
        Claimed::Lost(Owner {
            replica: "alertrun-1".to_owned(),
            run: Some(3),
            url: Some("http://10.0.0.8:9095".to_owned()),
            state: "running".to_owned(),
        })
    );
    assert!(lease.is_none());
}

#[tokio::test]
async fn a_claim_this_replica_made_before_is_its_own() {
    let (claims, mut api) = claims("alertrun-1");
    let name = episode().name;
    let server = tokio::spawn(async move {
        next(&mut api, Method::POST, LEASES).await.reply(
            StatusCode::CONFLICT,
            &status(409, "AlreadyExists", "exists"),
        );
        next(&mut api, Method::GET, &format!("{LEASES}/{name}"))
            .await
            .reply(StatusCode::OK, &theirs(T0 - 1_000, "running", "200"));
    });
    let (claimed, lease) = claims
        .claim(&episode(), OnInterrupt::Record, T0)
        .await
        .unwrap();
    server.await.unwrap();
    assert_eq!(claimed, Claimed::Won);
    assert_eq!(
        lease.unwrap().metadata.resource_version.as_deref(),
        Some("200")
    );
}

#[tokio::test]
async fn an_expired_claim_is_taken_over_with_its_resource_version() {
    let (claims, mut api) = claims("alertrun-0");
    let name = episode().name;
    let server = tokio::spawn(async move {
        next(&mut api, Method::POST, LEASES).await.reply(
            StatusCode::CONFLICT,
            &status(409, "AlreadyExists", "exists"),
        );
        // Renewed 16 s ago with a 15 s lease: its owner is lost.
        next(&mut api, Method::GET, &format!("{LEASES}/{name}"))
            .await
            .reply(StatusCode::OK, &theirs(T0 - 16_000, "running", "200"));
        let call = next(&mut api, Method::PUT, &format!("{LEASES}/{name}")).await;
        let body = &call.body;
        assert_eq!(body["metadata"]["resourceVersion"], "200");
        assert_eq!(body["spec"]["holderIdentity"], "alertrun-0");
        assert_eq!(body["spec"]["leaseTransitions"], 1);
        assert_eq!(body["spec"]["renewTime"], micro(T0));
        assert_eq!(body["spec"]["acquireTime"], micro(T0));
        assert_eq!(body["metadata"]["annotations"]["alertrun.io/run"], "7");
        assert_eq!(
            body["metadata"]["annotations"]["alertrun.io/url"],
            "http://10.0.0.7:9095"
        );
        assert_eq!(
            body["metadata"]["annotations"]["alertrun.io/state"],
            "running"
        );
        let mut written = body.clone();
        written["metadata"]["resourceVersion"] = json!("201");
        call.reply(StatusCode::OK, &written);
    });
    let (claimed, lease) = claims
        .claim(&episode(), OnInterrupt::Rerun, T0)
        .await
        .unwrap();
    server.await.unwrap();
    assert_eq!(
        claimed,
        Claimed::TakenOver {
            from: "alertrun-1".to_owned()
        }
    );
    assert_eq!(
        lease.unwrap().metadata.resource_version.as_deref(),
        Some("201")
    );
}

#[tokio::test]
async fn a_takeover_on_a_stale_resource_version_is_refused_and_lost_to_the_winner() {
    let (claims, mut api) = claims("alertrun-0");
    let name = episode().name;
    let server = tokio::spawn(async move {
        next(&mut api, Method::POST, LEASES).await.reply(
            StatusCode::CONFLICT,
            &status(409, "AlreadyExists", "exists"),
        );
        next(&mut api, Method::GET, &format!("{LEASES}/{name}"))
            .await
            .reply(StatusCode::OK, &theirs(T0 - 16_000, "running", "200"));
        next(&mut api, Method::PUT, &format!("{LEASES}/{name}")).await.reply(
            StatusCode::CONFLICT,
            &status(409, "Conflict", "Operation cannot be fulfilled on leases.coordination.k8s.io: the object has been modified; please apply your changes to the latest version and try again"),
        );
        // Another replica (alertrun-2) took it first.
        let mut winner = theirs(T0, "running", "201");
        winner["spec"]["holderIdentity"] = json!("alertrun-2");
        next(&mut api, Method::GET, &format!("{LEASES}/{name}"))
            .await
            .reply(StatusCode::OK, &winner);
    });
    let (claimed, lease) = claims
        .claim(&episode(), OnInterrupt::Rerun, T0)
        .await
        .unwrap();
    server.await.unwrap();
    assert!(
        matches!(claimed, Claimed::Lost(Owner { ref replica, .. }) if replica == "alertrun-2"),
        "{claimed:?}"
    );
    assert!(lease.is_none());
}

#[tokio::test]
async fn a_lost_owner_is_recorded_orphaned_once_under_on_owner_lost_record() {
    let (claims, mut api) = claims("alertrun-0");
    let name = episode().name;
    let server = tokio::spawn(async move {
        next(&mut api, Method::POST, LEASES).await.reply(
            StatusCode::CONFLICT,
            &status(409, "AlreadyExists", "exists"),
        );
        next(&mut api, Method::GET, &format!("{LEASES}/{name}"))
            .await
            .reply(StatusCode::OK, &theirs(T0 - 60_000, "running", "200"));
        let call = next(&mut api, Method::PUT, &format!("{LEASES}/{name}")).await;
        assert_eq!(call.body["metadata"]["resourceVersion"], "200");
        // The holder stays: it is recorded, not taken.
        assert_eq!(call.body["spec"]["holderIdentity"], "alertrun-1");
        assert_eq!(
            call.body["metadata"]["annotations"]["alertrun.io/state"],
            "orphaned"
        );
        let written = call.body.clone();
        call.reply(StatusCode::OK, &written);
    });
    let (claimed, _) = claims
        .claim(&episode(), OnInterrupt::Record, T0)
        .await
        .unwrap();
    server.await.unwrap();
    assert_eq!(
        claimed,
        Claimed::Orphaned {
            from: "alertrun-1".to_owned()
        }
    );
}

#[tokio::test]
async fn a_finished_claim_is_never_taken_over_however_old() {
    let (claims, mut api) = claims("alertrun-0");
    let name = episode().name;
    let server = tokio::spawn(async move {
        next(&mut api, Method::POST, LEASES).await.reply(
            StatusCode::CONFLICT,
            &status(409, "AlreadyExists", "exists"),
        );
        next(&mut api, Method::GET, &format!("{LEASES}/{name}"))
            .await
            .reply(StatusCode::OK, &theirs(T0 - 3_600_000, "finished", "200"));
    });
    let (claimed, _) = claims
        .claim(&episode(), OnInterrupt::Rerun, T0)
        .await
        .unwrap();
    server.await.unwrap();
    assert!(matches!(claimed, Claimed::Lost(Owner { ref state, .. }) if state == "finished"));
}

#[tokio::test]
async fn renewal_writes_the_renew_time_at_the_version_held_and_finds_a_takeover() {
    let (claims, mut api) = claims("alertrun-1");
    let name = episode().name;
    let held: Lease = serde_json::from_value(theirs(T0 - 5_000, "running", "200")).unwrap();
    let path = format!("{LEASES}/{name}");
    let server = tokio::spawn(async move {
        let call = next(&mut api, Method::PUT, &path).await;
        assert_eq!(call.body["metadata"]["resourceVersion"], "200");
        assert_eq!(call.body["spec"]["renewTime"], micro(T0));
        let mut written = call.body.clone();
        written["metadata"]["resourceVersion"] = json!("202");
        call.reply(StatusCode::OK, &written);
        // The next renewal finds it taken over: refused, then read.
        next(&mut api, Method::PUT, &path)
            .await
            .reply(StatusCode::CONFLICT, &status(409, "Conflict", "modified"));
        let mut taken = theirs(T0, "running", "300");
        taken["spec"]["holderIdentity"] = json!("alertrun-2");
        next(&mut api, Method::GET, &path)
            .await
            .reply(StatusCode::OK, &taken);
    });
    let Renewed::Held(renewed) = claims.renew(&held, T0).await.unwrap() else {
        panic!("renewed")
    };
    assert_eq!(renewed.metadata.resource_version.as_deref(), Some("202"));
    let lost = claims.renew(&renewed, T0 + 5_000).await.unwrap();
    server.await.unwrap();
    assert!(matches!(lost, Renewed::Lost(Owner { ref replica, .. }) if replica == "alertrun-2"));
}

#[tokio::test]
async fn finishing_marks_the_outcome_and_releasing_deletes_only_the_version_held() {
    let (claims, mut api) = claims("alertrun-1");
    let name = episode().name;
    let held: Lease = serde_json::from_value(theirs(T0 - 5_000, "running", "200")).unwrap();
    let path = format!("{LEASES}/{name}");
    let server = tokio::spawn(async move {
        let call = next(&mut api, Method::PUT, &path).await;
        assert_eq!(
            call.body["metadata"]["annotations"]["alertrun.io/state"],
            "finished"
        );
        assert_eq!(
            call.body["metadata"]["annotations"]["alertrun.io/outcome"],
            "succeeded"
        );
        let written = call.body.clone();
        call.reply(StatusCode::OK, &written);
        let call = next(&mut api, Method::DELETE, &path).await;
        assert_eq!(call.body["preconditions"]["resourceVersion"], "200");
        call.reply(StatusCode::OK, &status(200, "", ""));
    });
    claims.finish(&held, "succeeded", T0).await.unwrap();
    claims.release(&held).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn an_unreachable_api_is_an_error_never_a_claim() {
    let (claims, mut api) = claims("alertrun-0");
    let server = tokio::spawn(async move {
        next(&mut api, Method::POST, LEASES)
            .await
            .fail("connection refused");
    });
    let e = claims
        .claim(&episode(), OnInterrupt::Record, T0)
        .await
        .unwrap_err();
    server.await.unwrap();
    assert_eq!(e.verb, "create");
    assert!(e.to_string().contains("cannot create the claim"), "{e}");
}

#[tokio::test]
async fn the_housekeeper_lists_claims_by_label_and_prunes_only_old_done_ones() {
    let (claims, mut api) = claims("alertrun-0");
    let server = tokio::spawn(async move {
        let call = next(&mut api, Method::GET, LEASES).await;
        assert_eq!(
            call.query("labelSelector"),
            Some("app.kubernetes.io/managed-by=alertrun,alertrun.io/kind=claim")
        );
        let mut old_done = theirs(T0 - 8 * 86_400_000, "finished", "10");
        old_done["metadata"]["name"] = json!("ar-old");
        let mut old_running = theirs(T0 - 8 * 86_400_000, "running", "11");
        old_running["metadata"]["name"] = json!("ar-running");
        let mut new_done = theirs(T0 - 1_000, "finished", "12");
        new_done["metadata"]["name"] = json!("ar-new");
        call.reply(
            StatusCode::OK,
            &json!({"apiVersion": "coordination.k8s.io/v1", "kind": "LeaseList",
                    "metadata": {"resourceVersion": "12"},
                    "items": [old_done, old_running, new_done]}),
        );
        let call = next(&mut api, Method::DELETE, &format!("{LEASES}/ar-old")).await;
        assert_eq!(call.body["preconditions"]["resourceVersion"], "10");
        call.reply(StatusCode::OK, &status(200, "", ""));
    });
    let pruned = claims.prune(T0 - 7 * 86_400_000).await.unwrap();
    server.await.unwrap();
    assert_eq!(pruned, 1);
}

#[tokio::test]
async fn the_leader_lease_is_created_once_then_renewed_and_lost_to_a_live_holder() {
    let (claims, mut api) = claims("alertrun-0");
    let path = format!("{LEASES}/{LEADER_LEASE}");
    let server = tokio::spawn(async move {
        next(&mut api, Method::GET, &path)
            .await
            .reply(StatusCode::NOT_FOUND, &status(404, "NotFound", "not found"));
        let call = next(&mut api, Method::POST, LEASES).await;
        assert_eq!(call.body["metadata"]["name"], LEADER_LEASE);
        assert_eq!(
            call.body["metadata"]["labels"]["alertrun.io/kind"],
            "leader"
        );
        assert_eq!(call.body["spec"]["holderIdentity"], "alertrun-0");
        let written = stored(call.body.clone(), "5");
        call.reply(StatusCode::CREATED, &written);
        // Another replica renews while we lead: our renewal is refused.
        next(&mut api, Method::PUT, &path)
            .await
            .reply(StatusCode::CONFLICT, &status(409, "Conflict", "modified"));
        let mut theirs = written.clone();
        theirs["spec"]["holderIdentity"] = json!("alertrun-1");
        next(&mut api, Method::GET, &path)
            .await
            .reply(StatusCode::OK, &theirs);
    });
    let led = claims.lead(None, T0).await.unwrap();
    assert!(led.is_some());
    let led = claims.lead(led.as_ref(), T0 + 5_000).await.unwrap();
    server.await.unwrap();
    assert!(led.is_none());
}

#[tokio::test]
async fn every_ha_api_call_is_made_by_some_scenario() {
    // Whatever order the tests run in, every call of the list is made here once.
    let (claims, mut api) = claims("alertrun-0");
    let held: Lease = serde_json::from_value(theirs(T0, "running", "1")).unwrap();
    let server = tokio::spawn(async move {
        next(&mut api, Method::POST, LEASES).await.reply(
            StatusCode::CONFLICT,
            &status(409, "AlreadyExists", "exists"),
        );
        let name = episode().name;
        next(&mut api, Method::GET, &format!("{LEASES}/{name}"))
            .await
            .reply(StatusCode::OK, &theirs(T0, "running", "2"));
        let call = next(&mut api, Method::PUT, &format!("{LEASES}/{name}")).await;
        let written = call.body.clone();
        call.reply(StatusCode::OK, &written);
        next(&mut api, Method::DELETE, &format!("{LEASES}/{name}"))
            .await
            .reply(StatusCode::OK, &status(200, "", ""));
        next(&mut api, Method::GET, LEASES).await.reply(
            StatusCode::OK,
            &json!({"kind": "LeaseList", "apiVersion": "coordination.k8s.io/v1",
                    "metadata": {}, "items": []}),
        );
    });
    let _ = claims
        .claim(&episode(), OnInterrupt::Record, T0)
        .await
        .unwrap();
    let _ = claims.renew(&held, T0).await.unwrap();
    claims.release(&held).await.unwrap();
    let _ = claims.list().await.unwrap();
    server.await.unwrap();
    let seen = executor_k8s::testing::calls_seen();
    for call in HA_API_CALLS {
        assert!(
            seen.contains(call),
            "no scenario makes {} {}",
            call.verb,
            call.resource
        );
    }
}

#[tokio::test]
async fn a_renewal_that_loses_to_the_run_s_end_never_overwrites_the_end() {
    let (claims, mut api) = claims("alertrun-1");
    let name = episode().name;
    let held: Lease = serde_json::from_value(theirs(T0 - 5_000, "running", "200")).unwrap();
    let path = format!("{LEASES}/{name}");
    let server = tokio::spawn(async move {
        // The end was written first (version 201): the renewal at 200 is refused, and the
        // claim read again is ours and finished; no second write follows.
        next(&mut api, Method::PUT, &path)
            .await
            .reply(StatusCode::CONFLICT, &status(409, "Conflict", "modified"));
        next(&mut api, Method::GET, &path)
            .await
            .reply(StatusCode::OK, &theirs(T0, "finished", "201"));
        // The end, refused the same way after a renewal, is written again on the new version.
        next(&mut api, Method::PUT, &path)
            .await
            .reply(StatusCode::CONFLICT, &status(409, "Conflict", "modified"));
        next(&mut api, Method::GET, &path)
            .await
            .reply(StatusCode::OK, &theirs(T0, "running", "202"));
        let call = next(&mut api, Method::PUT, &path).await;
        assert_eq!(call.body["metadata"]["resourceVersion"], "202");
        assert_eq!(
            call.body["metadata"]["annotations"]["alertrun.io/state"],
            "finished"
        );
        let written = call.body.clone();
        call.reply(StatusCode::OK, &written);
    });
    let Renewed::Held(now) = claims.renew(&held, T0).await.unwrap() else {
        panic!("still ours")
    };
    assert_eq!(annotation(&now, keys::STATE), Some("finished"));
    claims.finish(&held, "succeeded", T0).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn a_done_claim_is_claimed_again_only_when_the_rule_repeats_and_its_cooldown_passed() {
    let (claims, mut api) = claims("alertrun-0");
    let name = episode().name;
    let path = format!("{LEASES}/{name}");
    let server = tokio::spawn(async move {
        // repeat: 30m, the claim acquired 10 min ago: not yet.
        next(&mut api, Method::POST, LEASES).await.reply(
            StatusCode::CONFLICT,
            &status(409, "AlreadyExists", "exists"),
        );
        next(&mut api, Method::GET, &path)
            .await
            .reply(StatusCode::OK, &theirs(T0 - 600_000, "finished", "200"));
        // Acquired 31 min ago: claimed again, at the version read, for the new run.
        next(&mut api, Method::POST, LEASES).await.reply(
            StatusCode::CONFLICT,
            &status(409, "AlreadyExists", "exists"),
        );
        next(&mut api, Method::GET, &path)
            .await
            .reply(StatusCode::OK, &theirs(T0 - 1_860_000, "finished", "201"));
        let call = next(&mut api, Method::PUT, &path).await;
        let body = &call.body;
        assert_eq!(body["metadata"]["resourceVersion"], "201");
        assert_eq!(body["spec"]["holderIdentity"], "alertrun-0");
        assert_eq!(body["spec"]["leaseTransitions"], 1);
        assert_eq!(
            body["metadata"]["annotations"]["alertrun.io/state"],
            "running"
        );
        assert_eq!(body["metadata"]["annotations"]["alertrun.io/run"], "7");
        assert!(
            body["metadata"]["annotations"]
                .get("alertrun.io/outcome")
                .is_none()
        );
        let written = body.clone();
        call.reply(StatusCode::OK, &written);
        // repeat: once: a done claim, even this replica's own, is never claimed again.
        next(&mut api, Method::POST, LEASES).await.reply(
            StatusCode::CONFLICT,
            &status(409, "AlreadyExists", "exists"),
        );
        let mut own = theirs(T0 - 86_400_000, "finished", "300");
        own["spec"]["holderIdentity"] = json!("alertrun-0");
        next(&mut api, Method::GET, &path)
            .await
            .reply(StatusCode::OK, &own);
    });
    let cooldown = Episode {
        reclaim_after: Some(Duration::from_secs(1800)),
        ..episode()
    };
    let (first, _) = claims
        .claim(&cooldown, OnInterrupt::Record, T0)
        .await
        .unwrap();
    assert!(matches!(first, Claimed::Lost(_)), "{first:?}");
    let (again, lease) = claims
        .claim(&cooldown, OnInterrupt::Record, T0)
        .await
        .unwrap();
    assert_eq!(again, Claimed::Won);
    assert!(lease.is_some());
    let (once, _) = claims
        .claim(&episode(), OnInterrupt::Record, T0)
        .await
        .unwrap();
    assert!(
        matches!(once, Claimed::Lost(Owner { ref state, .. }) if state == "finished"),
        "{once:?}"
    );
    server.await.unwrap();
}
