//! `coordination.k8s.io/v1` Leases, in any namespace, with the API server's optimistic
//! concurrency as it behaves (apiserver's generic registry over etcd3, Lease strategy):
//!
//! - create (`POST .../namespaces/{ns}/leases`): validated first (`422 Invalid`: a name
//!   that is not an RFC 1123 subdomain, a bad label key or value, a bad annotation key,
//!   `spec.leaseDurationSeconds` ≤ 0, `spec.leaseTransitions` < 0), then refused with
//!   `500` and the storage's "resourceVersion should not be set on objects to be created"
//!   when the body carries one (what a cluster answers, reason unset: not `422`), then
//!   `409 AlreadyExists` when the name is taken; else `201` with `uid`,
//!   `creationTimestamp`, `namespace` and a new `resourceVersion`. `generateName` works.
//! - get: `200`, or `404 NotFound`.
//! - update (`PUT .../leases/{name}`): `400` when the body's name (or namespace) is not
//!   the path's; `404` when there is no such Lease (Leases are not created on update);
//!   `409 Conflict` when `metadata.resourceVersion` is set and not the stored one (the
//!   stored object unchanged); none set: unconditional (Leases allow it); then validated
//!   (`422`, also for a changed `uid`). `uid` and `creationTimestamp` are kept. An update
//!   that changes nothing is not written and keeps its `resourceVersion`, as etcd3's
//!   `GuaranteedUpdate` does; any change gets a new one.
//! - list (`GET .../leases`): a `LeaseList` (items without `kind`/`apiVersion`) in name
//!   order, its `metadata.resourceVersion` the latest; `labelSelector`, `fieldSelector`
//!   (`metadata.name`/`metadata.namespace`), `limit` with `continue` (and
//!   `remainingItemCount` when unselective).
//! - delete: `200` with a `Success` Status naming the Lease and its uid; `404`; a
//!   `DeleteOptions` body's `preconditions` (`uid`, `resourceVersion`) not met: `409
//!   Conflict` with the storage's message. A deletion is a write: the revision moves.
//!
//! Fields the API does not know are dropped, as its decoder prunes them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::selector::{matches, matches_fields, parse_fields, parse_labels};
use super::validation::{dns1123_subdomain, label_value, qualified_name};
use super::{
    Cluster, Reply, Request, api_time_now, bad_request, details, failure, not_found, success,
};

const GROUP: &str = "coordination.k8s.io";
const RESOURCE: &str = "leases";
const KIND: &str = "Lease";
const API_VERSION: &str = "coordination.k8s.io/v1";
const METADATA_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
];
/// LeaseSpec's fields and whether each is an integer (else a string).
const SPEC_FIELDS: &[(&str, bool)] = &[
    ("holderIdentity", false),
    ("leaseDurationSeconds", true),
    ("acquireTime", false),
    ("renewTime", false),
    ("leaseTransitions", true),
    ("strategy", false),
    ("preferredHolder", false),
];

/// The Leases of every namespace, by (namespace, name), as stored (with `kind` and
/// `apiVersion`).
#[derive(Debug, Default)]
pub(super) struct Leases {
    held: BTreeMap<(String, String), Value>,
    /// How many names `generateName` made.
    generated: u64,
}

impl Leases {
    pub(super) fn stored(&self, namespace: &str, name: &str) -> Option<Value> {
        self.held
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    pub(super) fn all_in(&self, namespace: &str) -> BTreeMap<String, Value> {
        self.held
            .iter()
            .filter(|((ns, _), _)| ns == namespace)
            .map(|((_, name), lease)| (name.clone(), lease.clone()))
            .collect()
    }
}

/// The answer to a Lease request; `None` for other paths.
pub(super) fn answer(cluster: &mut Cluster, request: &Request<'_>) -> Option<Reply> {
    let segments: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
    let ["apis", GROUP, "v1", "namespaces", ns, RESOURCE, rest @ ..] = segments.as_slice() else {
        return None;
    };
    Some(match (request.method, rest) {
        ("POST", []) => create(cluster, ns, &request.body),
        ("GET", []) => list(cluster, ns, &request.query),
        ("GET", [name]) => match cluster.leases.stored(ns, name) {
            Some(lease) => Reply::json(200, &lease),
            None => not_found(GROUP, RESOURCE, name),
        },
        ("PUT", [name]) => update(cluster, ns, name, &request.body),
        ("DELETE", [name]) => delete(cluster, ns, name, &request.body),
        (method, _) => failure(
            405,
            "MethodNotAllowed",
            &format!("the server does not allow this method on the requested resource ({method})"),
            None,
        ),
    })
}

fn key(ns: &str, name: &str) -> (String, String) {
    (ns.to_owned(), name.to_owned())
}

/// The body as a Lease, unknown fields dropped; `400` when it cannot be one.
fn decode(body: &Value, ns: &str) -> Result<Value, Reply> {
    let Value::Object(object) = body else {
        return Err(bad_request(
            "the body of the request was not a Lease object",
        ));
    };
    let cannot = |what: String| {
        bad_request(&format!(
            "Lease in version \"v1\" cannot be handled as a Lease: {what}"
        ))
    };
    for (field, expected) in [("apiVersion", API_VERSION), ("kind", KIND)] {
        if let Some(v) = object.get(field)
            && v != expected
        {
            return Err(cannot(format!("{field} {v} is not {expected:?}")));
        }
    }
    let mut metadata = Map::new();
    if let Some(given) = object.get("metadata") {
        let Value::Object(given) = given else {
            return Err(cannot("metadata is not an object".into()));
        };
        for (k, v) in given {
            if METADATA_FIELDS.contains(&k.as_str()) && !v.is_null() {
                metadata.insert(k.clone(), v.clone());
            }
        }
    }
    for (field, v) in &metadata {
        let ok = match field.as_str() {
            "labels" | "annotations" => v
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string)),
            "generation" | "deletionGracePeriodSeconds" => v.is_i64(),
            "ownerReferences" | "finalizers" => v.is_array(),
            _ => v.is_string(),
        };
        if !ok {
            return Err(cannot(format!("metadata.{field}: wrong type: {v}")));
        }
    }
    if let Some(Value::String(given)) = metadata.get("namespace")
        && given != ns
    {
        return Err(bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let mut spec = Map::new();
    if let Some(given) = object.get("spec").filter(|s| !s.is_null()) {
        let Value::Object(given) = given else {
            return Err(cannot("spec is not an object".into()));
        };
        for &(field, integer) in SPEC_FIELDS {
            match given.get(field) {
                None | Some(Value::Null) => {}
                Some(v) if (integer && v.is_i64()) || (!integer && v.is_string()) => {
                    spec.insert(field.to_owned(), v.clone());
                }
                Some(v) => return Err(cannot(format!("spec.{field}: wrong type: {v}"))),
            }
        }
    }
    Ok(json!({"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}))
}

/// A `422 Invalid` for Lease `name`: (field, value, detail) each, as `field.Invalid`.
fn invalid(name: &str, errors: &[(String, Value, String)]) -> Reply {
    let bodies: Vec<String> = errors
        .iter()
        .map(|(field, value, detail)| format!("{field}: Invalid value: {value}: {detail}"))
        .collect();
    let aggregate = match bodies.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let causes: Vec<Value> = errors
        .iter()
        .map(|(field, value, detail)| {
            json!({"reason": "FieldValueInvalid", "field": field,
                   "message": format!("Invalid value: {value}: {detail}")})
        })
        .collect();
    failure(
        422,
        "Invalid",
        &format!("{KIND}.{GROUP} \"{name}\" is invalid: {aggregate}"),
        Some(json!({"name": name, "group": GROUP, "kind": KIND, "causes": causes})),
    )
}

/// What `ValidateLease` finds wrong with `lease`.
fn validate(lease: &Value) -> Vec<(String, Value, String)> {
    let mut errors = Vec::new();
    let meta = &lease["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    for e in dns1123_subdomain(name) {
        errors.push(("metadata.name".to_owned(), json!(name), e));
    }
    if let Some(labels) = meta["labels"].as_object() {
        for (k, v) in labels {
            for e in qualified_name(k) {
                errors.push(("metadata.labels".to_owned(), json!(k), e));
            }
            let v = v.as_str().unwrap_or_default();
            for e in label_value(v) {
                errors.push(("metadata.labels".to_owned(), json!(v), e));
            }
        }
    }
    if let Some(annotations) = meta["annotations"].as_object() {
        for k in annotations.keys() {
            for e in qualified_name(&k.to_lowercase()) {
                errors.push(("metadata.annotations".to_owned(), json!(k), e));
            }
        }
    }
    let spec = &lease["spec"];
    if let Some(d) = spec["leaseDurationSeconds"].as_i64()
        && d <= 0
    {
        let e = "must be greater than 0".to_owned();
        errors.push(("spec.leaseDurationSeconds".to_owned(), json!(d), e));
    }
    if let Some(t) = spec["leaseTransitions"].as_i64()
        && t < 0
    {
        let e = "must be greater than or equal to 0".to_owned();
        errors.push(("spec.leaseTransitions".to_owned(), json!(t), e));
    }
    errors
}

/// A `resourceVersion` the storage reads as set: a number above 0 (anything else it
/// cannot parse is ignored on create, as a cluster ignores it).
fn is_set_version(rv: &Value) -> bool {
    rv.as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .is_some_and(|v| v > 0)
}

fn create(cluster: &mut Cluster, ns: &str, body: &Value) -> Reply {
    let mut lease = match decode(body, ns) {
        Ok(lease) => lease,
        Err(reply) => return reply,
    };
    let meta = &mut lease["metadata"];
    let has_name = meta["name"].as_str().is_some_and(|n| !n.is_empty());
    if !has_name {
        let Some(prefix) = meta["generateName"].as_str().filter(|p| !p.is_empty()) else {
            return failure(
                422,
                "Invalid",
                &format!(
                    "{KIND}.{GROUP} \"\" is invalid: metadata.name: Required value: name or \
                     generateName is required"
                ),
                Some(json!({"group": GROUP, "kind": KIND, "causes": [{
                    "reason": "FieldValueRequired", "field": "metadata.name",
                    "message": "Required value: name or generateName is required"}]})),
            );
        };
        cluster.leases.generated += 1;
        meta["name"] = json!(format!("{prefix}{}", suffix(cluster.leases.generated)));
    }
    let name = meta["name"].as_str().unwrap_or_default().to_owned();
    let errors = validate(&lease);
    if !errors.is_empty() {
        return invalid(&name, &errors);
    }
    if is_set_version(&lease["metadata"]["resourceVersion"]) {
        return failure(
            500,
            "",
            "resourceVersion should not be set on objects to be created",
            None,
        );
    }
    if cluster.leases.held.contains_key(&key(ns, &name)) {
        return failure(
            409,
            "AlreadyExists",
            &format!("{RESOURCE}.{GROUP} \"{name}\" already exists"),
            Some(details(GROUP, RESOURCE, &name)),
        );
    }
    let uid = cluster.next_uid();
    let revision = cluster.next_revision();
    let meta = lease["metadata"]
        .as_object_mut()
        .expect("decode makes metadata an object");
    for system in ["deletionTimestamp", "deletionGracePeriodSeconds"] {
        meta.remove(system);
    }
    meta.insert("namespace".into(), json!(ns));
    meta.insert("uid".into(), json!(uid));
    meta.insert("resourceVersion".into(), json!(revision.to_string()));
    meta.insert("creationTimestamp".into(), json!(api_time_now()));
    cluster.leases.held.insert(key(ns, &name), lease.clone());
    Reply::json(201, &lease)
}

/// The five characters `generateName` appends (apimachinery's alphabet: no vowels).
fn suffix(n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = n * 7919;
    (0..5)
        .map(|_| {
            let c = ALPHABET[usize::try_from(n % 27).expect("below 27")];
            n /= 27;
            char::from(c)
        })
        .collect()
}

/// The Conflict of an update with a stale `resourceVersion`, or of a delete whose
/// preconditions fail (`why`).
fn conflict(name: &str, why: &str) -> Reply {
    failure(
        409,
        "Conflict",
        &format!("Operation cannot be fulfilled on {RESOURCE}.{GROUP} \"{name}\": {why}"),
        Some(details(GROUP, RESOURCE, name)),
    )
}

fn update(cluster: &mut Cluster, ns: &str, name: &str, body: &Value) -> Reply {
    let mut lease = match decode(body, ns) {
        Ok(lease) => lease,
        Err(reply) => return reply,
    };
    let given = lease["metadata"]["name"].as_str().unwrap_or_default();
    if given != name {
        return bad_request(&format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        ));
    }
    let Some(stored) = cluster.leases.stored(ns, name) else {
        return not_found(GROUP, RESOURCE, name);
    };
    let rv = lease["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !rv.is_empty() && rv != stored["metadata"]["resourceVersion"] {
        return conflict(
            name,
            "the object has been modified; please apply your changes to the latest version \
             and try again",
        );
    }
    let meta = lease["metadata"]
        .as_object_mut()
        .expect("decode makes metadata an object");
    let old = &stored["metadata"];
    meta.insert("namespace".into(), json!(ns));
    meta.insert("creationTimestamp".into(), old["creationTimestamp"].clone());
    if meta.get("uid").is_none_or(|u| u == "") {
        meta.insert("uid".into(), old["uid"].clone());
    }
    for system in [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old.get(system) {
            Some(v) => meta.insert(system.into(), v.clone()),
            None => meta.remove(system),
        };
    }
    let mut errors = validate(&lease);
    if lease["metadata"]["uid"] != old["uid"] {
        let uid = lease["metadata"]["uid"].clone();
        errors.push(("metadata.uid".into(), uid, "field is immutable".into()));
    }
    if !errors.is_empty() {
        return invalid(name, &errors);
    }
    lease["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"].clone();
    if lease == stored {
        // Nothing changed: not written, the resourceVersion stays.
        return Reply::json(200, &stored);
    }
    lease["metadata"]["resourceVersion"] = json!(cluster.next_revision().to_string());
    cluster.leases.held.insert(key(ns, name), lease.clone());
    Reply::json(200, &lease)
}

fn delete(cluster: &mut Cluster, ns: &str, name: &str, body: &Value) -> Reply {
    let Some(stored) = cluster.leases.stored(ns, name) else {
        return not_found(GROUP, RESOURCE, name);
    };
    let meta = &stored["metadata"];
    let preconditions = &body["preconditions"];
    for (field, what) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        if let Some(wanted) = preconditions[field].as_str()
            && wanted != meta[field]
        {
            let actual = meta[field].as_str().unwrap_or_default();
            return conflict(
                name,
                &format!(
                    "StorageError: invalid object, Code: 4, Key: /registry/leases/{ns}/{name}, \
                     ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: {what} in \
                     precondition: {wanted}, {what} in object meta: {actual}"
                ),
            );
        }
    }
    cluster.leases.held.remove(&key(ns, name));
    cluster.next_revision();
    let mut details = details(GROUP, RESOURCE, name);
    details["uid"] = meta["uid"].clone();
    success(details)
}

fn list(cluster: &Cluster, ns: &str, query: &BTreeMap<String, String>) -> Reply {
    let param = |k: &str| query.get(k).map(String::as_str).unwrap_or_default();
    let labels = match parse_labels(param("labelSelector")) {
        Ok(r) => r,
        Err(e) => return bad_request(&e),
    };
    let fields = match parse_fields(param("fieldSelector")) {
        Ok(r) => r,
        Err(e) => return bad_request(&e),
    };
    let limit = match param("limit") {
        "" | "0" => None,
        n => match n.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => return bad_request(&format!("invalid limit {n:?}")),
        },
    };
    let (revision, after) = match param("continue") {
        "" => (cluster.revision, None),
        token => match decode_continue(token) {
            Some((rv, after)) => (rv, Some(after)),
            None => return bad_request(&format!("continue key is not valid: {token:?}")),
        },
    };
    let selective = !labels.is_empty() || !fields.is_empty();
    let matching: Vec<(&String, &Value)> = cluster
        .leases
        .held
        .iter()
        .filter(|((n, name), _)| n == ns && after.as_ref().is_none_or(|a| name > a))
        .filter(|(_, lease)| {
            matches(&labels, &lease["metadata"]["labels"]) && matches_fields(&fields, lease)
        })
        .map(|((_, name), lease)| (name, lease))
        .collect();
    let take = limit.unwrap_or(matching.len()).min(matching.len());
    let items: Vec<Value> = matching[..take]
        .iter()
        .map(|(_, lease)| {
            let mut item = (*lease).clone();
            let object = item.as_object_mut().expect("a stored Lease is an object");
            object.remove("apiVersion");
            object.remove("kind");
            item
        })
        .collect();
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if take < matching.len() {
        metadata["continue"] = json!(encode_continue(revision, matching[take - 1].0));
        if !selective {
            metadata["remainingItemCount"] = json!(matching.len() - take);
        }
    }
    Reply::json(
        200,
        &json!({"kind": "LeaseList", "apiVersion": API_VERSION, "metadata": metadata,
                "items": items}),
    )
}

/// An opaque `continue` token: the list's revision and the last name served, in hex.
fn encode_continue(revision: u64, last: &str) -> String {
    format!("{revision}:{last}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_continue(token: &str) -> Option<(u64, String)> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (rv, last) = text.split_once(':')?;
    Some((rv.parse().ok()?, last.to_owned()))
}
