//! The control routes: `GET /-/ready`, `POST /-/reload`, `GET /metrics`,
//! `GET /api/v1/rules`, `GET /api/v1/runs`, `GET /api/v1/runs/{id}`, `GET /api/v1/status`
//! and `GET /api/v1/notifications/{id}` (a stored notification, as received).
//!
//! `/metrics` is always served, from the app's [`Metrics`]; the others only when the app has
//! an [`Api`] (without one they are unknown paths, 404). All but `/-/ready` need the
//! intake's credentials, and their failures are not refused notifications: they are never
//! counted in `alertrun_notifications_rejected_total`. This module decides nothing about
//! the server (the [`Api`] does) and builds no error response (it returns [`HttpError`]).

use std::sync::Arc;

use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;

use super::{Access, Allow, Backends, Head, HttpError, Routed, head, json, text};
use crate::config::{ApprovalLinks, ServerSettings};
use crate::serve::api::{Api, Decision, PauseStatus};
use crate::serve::dispatch::approvals;
use crate::serve::metrics::{CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics};
use crate::store::{RunFilter, RunState, Store};

/// The control routes `backends` can answer.
pub(super) fn routes(settings: Arc<ServerSettings>, backends: Backends) -> BoxedFilter<(Routed,)> {
    let metrics = metrics(Arc::clone(&settings), backends.metrics);
    let Some(api) = backends.api else {
        return metrics;
    };
    let c = Control { settings, api };
    let ready =
        warp::path!("-" / "ready")
            .and(c.with())
            .and(head())
            .map(|c: Control, head: Head| {
                head.admit(&c.settings, Allow::Get, Access::Anyone)?;
                Ok(ready(c.api.is_ready()))
            });
    let reload = warp::path!("-" / "reload").and(c.with()).and(head()).then(
        |c: Control, head: Head| async move {
            head.admit(&c.settings, Allow::Post, Access::Control)?;
            let reloaded = c.api.reload().await.map_err(HttpError::ReloadFailed)?;
            Ok(json(
                StatusCode::OK,
                &json!({"status": "reloaded", "rules": reloaded.rules,
                    "restart_needed": reloaded.restart_needed}),
            ))
        },
    );
    let rules = warp::path!("api" / "v1" / "rules")
        .and(c.with())
        .and(head())
        .then(|c: Control, head: Head| async move {
            head.admit(&c.settings, Allow::Get, Access::Control)?;
            let rows = super::pages::rule_rows(c.api.as_ref()).await?;
            Ok(json(StatusCode::OK, &super::pages::rules_json(&rows)))
        });
    let runs = warp::path!("api" / "v1" / "runs")
        .and(c.with())
        .and(head())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(|c: Control, head: Head, query: String| async move {
            head.admit(&c.settings, Allow::Get, Access::Control)?;
            runs(c.api.history(), &query).await
        });
    let run = warp::path!("api" / "v1" / "runs" / String)
        .and(c.with())
        .and(head())
        .then(|id: String, c: Control, head: Head| async move {
            head.admit(&c.settings, Allow::Get, Access::Control)?;
            run(c.api.history(), &id, c.settings.approval_links.as_ref()).await
        });
    let status = warp::path!("api" / "v1" / "status")
        .and(c.with())
        .and(head())
        .map(|c: Control, head: Head| {
            head.admit(&c.settings, Allow::Get, Access::Control)?;
            let status = c
                .api
                .status()
                .ok_or_else(|| HttpError::NotFound("/api/v1/status".into()))?;
            Ok(json(StatusCode::OK, &json!(status)))
        });
    let claims = warp::path!("api" / "v1" / "claims")
        .and(c.with())
        .and(head())
        .then(|c: Control, head: Head| async move {
            head.admit(&c.settings, Allow::Get, Access::Control)?;
            match c.api.claims().await {
                None => Err(HttpError::NotFound(
                    "/api/v1/claims (server.ha is off)".into(),
                )),
                Some(Err(e)) => Err(HttpError::Control(e)),
                Some(Ok(claims)) => Ok(json(StatusCode::OK, &json!(claims))),
            }
        });
    let notification = warp::path!("api" / "v1" / "notifications" / String)
        .and(c.with())
        .and(head())
        .then(|id: String, c: Control, head: Head| async move {
            head.admit(&c.settings, Allow::Get, Access::Control)?;
            notification(c.api.history(), &id).await
        });
    let pause = warp::path!("api" / "v1" / "pause")
        .and(c.with())
        .and(head())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(|c: Control, head: Head, query: String| async move {
            head.admit(&c.settings, Allow::GetPost, Access::Control)?;
            if head.method != warp::http::Method::POST {
                return Ok(paused(&c.api.pauses()));
            }
            let reason = reason(&query)?.ok_or_else(|| {
                HttpError::BadQuery("a pause needs a reason: POST /api/v1/pause?reason=TEXT".into())
            })?;
            let pauses = c
                .api
                .pause(reason, head.who(&c.settings))
                .await
                .map_err(HttpError::Control)?;
            Ok(paused(&pauses))
        });
    let resume = warp::path!("api" / "v1" / "resume")
        .and(c.with())
        .and(head())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(|c: Control, head: Head, query: String| async move {
            head.admit(&c.settings, Allow::Post, Access::Control)?;
            let pauses = c
                .api
                .resume(reason(&query)?)
                .await
                .map_err(HttpError::Control)?;
            Ok(paused(&pauses))
        });
    let reset = warp::path!("api" / "v1" / "breakers" / "reset")
        .and(c.with())
        .and(head())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .map(|c: Control, head: Head, query: String| {
            head.admit(&c.settings, Allow::Post, Access::Control)?;
            let (rule, target) = breaker_query(&query)?;
            let closed = c.api.reset_breakers(&rule, target.as_deref());
            Ok(json(
                StatusCode::OK,
                &json!({"rule": rule, "closed": closed}),
            ))
        });
    let decide = warp::path!("api" / "v1" / "runs" / String / String)
        .and(c.with())
        .and(head())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(
            |id: String, decision: String, c: Control, head: Head, query: String| async move {
                let approve = match decision.as_str() {
                    "approve" => true,
                    "reject" => false,
                    other => return Err(HttpError::NotFound(format!("/api/v1/runs/{id}/{other}"))),
                };
                head.admit(&c.settings, Allow::Post, Access::Control)?;
                let id = run_id(&id)?;
                let (comment, by) = decision_query(&query)?;
                let caller = head.who(&c.settings);
                let (by, how) = match by {
                    Some(by) if by != caller => (by, format!("api ({caller})")),
                    _ => (caller, "api".to_owned()),
                };
                let record = c
                    .api
                    .decide(
                        id,
                        Decision {
                            approve,
                            by,
                            how,
                            comment,
                        },
                    )
                    .await
                    .map_err(HttpError::Decision)?;
                Ok(json(StatusCode::OK, &json!(record)))
            },
        );
    // A signed link: the signature is the credential (no Authorization header from a chat
    // client's browser). GET shows what is decided with a button; the button POSTs.
    let link = warp::path!("approvals" / u64 / String)
        .and(c.with())
        .and(head())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(
            |id: u64, decision: String, c: Control, head: Head, query: String| async move {
                head.admit(&c.settings, Allow::GetPost, Access::Anyone)?;
                let (expires, sig) = link_query(&query)?;
                c.api
                    .check_link(id, &decision, expires, &sig)
                    .map_err(HttpError::Decision)?;
                if head.method != warp::http::Method::POST {
                    return link_page(id, &decision, &query);
                }
                let record = c
                    .api
                    .decide(
                        id,
                        Decision {
                            approve: decision == "approve",
                            by: "link".to_owned(),
                            how: "link".to_owned(),
                            comment: None,
                        },
                    )
                    .await
                    .map_err(HttpError::Decision)?;
                Ok(text(
                    StatusCode::OK,
                    "text/html; charset=utf-8",
                    format!(
                        "<!doctype html><title>alertrun run {id}</title><p>Run {id} is now {}.</p>",
                        record.state
                    ),
                ))
            },
        );
    metrics
        .or(decide)
        .unify()
        .or(link)
        .unify()
        .or(ready)
        .unify()
        .or(reload)
        .unify()
        .or(rules)
        .unify()
        .or(runs)
        .unify()
        .or(run)
        .unify()
        .or(status)
        .unify()
        .or(claims)
        .unify()
        .or(notification)
        .unify()
        .or(pause)
        .unify()
        .or(resume)
        .unify()
        .or(reset)
        .unify()
        .boxed()
}

/// What the control routes share.
#[derive(Clone)]
struct Control {
    settings: Arc<ServerSettings>,
    api: Arc<dyn Api>,
}

impl Control {
    fn with(
        &self,
    ) -> impl Filter<Extract = (Control,), Error = std::convert::Infallible> + Clone + use<> {
        let c = self.clone();
        warp::any().map(move || c.clone())
    }
}

/// `GET /metrics`: the exposition, in the OpenMetrics text format.
fn metrics(settings: Arc<ServerSettings>, metrics: Metrics) -> BoxedFilter<(Routed,)> {
    warp::path!("metrics")
        .and(head())
        .map(move |head: Head| {
            head.admit(&settings, Allow::Get, Access::Control)?;
            Ok(text(StatusCode::OK, METRICS_CONTENT_TYPE, metrics.encode()))
        })
        .boxed()
}

/// `200 ready` or `503 not ready`: a probe's answer, not an error.
fn ready(ready: bool) -> warp::reply::Response {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if ready {
        text(StatusCode::OK, PLAIN, "ready\n".into())
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, "not ready\n".into())
    }
}

/// The answer of the pause routes: whether alertrun is paused, and why.
fn paused(pauses: &[PauseStatus]) -> warp::reply::Response {
    json(
        StatusCode::OK,
        &json!({"paused": !pauses.is_empty(), "pauses": pauses}),
    )
}

/// The `reason` of a pause or resume query: 1 to 256 characters, no control characters
/// (it goes into logs and the status page as it is).
/// A run id from a path.
fn run_id(id: &str) -> Result<u64, HttpError> {
    id.parse::<u64>()
        .map_err(|_| HttpError::BadRunId(id.to_owned()))
}

/// The `key=value` pairs of a query string.
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, HttpError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map_err(|e| HttpError::BadQuery(format!("invalid query {query:?}: {e}")))
}

/// `value` of parameter `key` as a person's text to record (a reason, a comment, a name):
/// at most 256 characters, no control characters.
fn short_text(key: &str, value: String) -> Result<String, HttpError> {
    if value.chars().count() > 256 || value.chars().any(char::is_control) {
        return Err(HttpError::BadQuery(format!(
            "the {key} must be at most 256 characters, without control characters"
        )));
    }
    Ok(value)
}

/// `comment=` and `by=` of a decision.
fn decision_query(query: &str) -> Result<(Option<String>, Option<String>), HttpError> {
    let bad = |message: String| HttpError::BadQuery(message);
    let pairs = query_pairs(query)?;
    let (mut comment, mut by) = (None, None);
    for (key, value) in pairs {
        let value = short_text(&key, value)?;
        match key.as_str() {
            "comment" => comment = Some(value).filter(|v| !v.trim().is_empty()),
            "by" if value.trim().is_empty() => return Err(bad("by is empty".to_owned())),
            "by" => by = Some(value),
            other => return Err(bad(format!("unknown parameter {other:?}: comment, by"))),
        }
    }
    Ok((comment, by))
}

/// `expires=` and `sig=` of a signed link.
fn link_query(query: &str) -> Result<(i64, String), HttpError> {
    let bad = |message: String| HttpError::BadQuery(message);
    let pairs = query_pairs(query)?;
    let (mut expires, mut sig) = (None, None);
    for (key, value) in pairs {
        match key.as_str() {
            "expires" => expires = value.parse::<i64>().ok(),
            "sig" => sig = Some(value),
            _ => {}
        }
    }
    match (expires, sig) {
        (Some(e), Some(s)) => Ok((e, s)),
        _ => Err(bad("a signed link has expires= and sig=".to_owned())),
    }
}

/// The page a signed link shows: what it decides, and a button that POSTs it.
fn link_page(id: u64, decision: &str, query: &str) -> Routed {
    // `decision` is approve or reject (the link verified), `query` is digits and hex.
    let action = format!(
        "?{}",
        query.replace(['"', '<', '>'], "").replace('&', "&amp;")
    );
    let verb = if decision == "approve" {
        "Approve"
    } else {
        "Reject"
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{verb} alertrun run {id}</title></head>\
         <body><h1>{verb} run {id}?</h1><form method=\"post\" action=\"{action}\">\
         <button type=\"submit\">{verb} run {id}</button></form></body></html>"
    );
    Ok(text(StatusCode::OK, "text/html; charset=utf-8", body))
}

fn reason(query: &str) -> Result<Option<String>, HttpError> {
    let bad = |message: String| HttpError::BadQuery(message);
    let pairs = query_pairs(query)?;
    let mut reason = None;
    for (key, value) in pairs {
        match key.as_str() {
            "reason" if value.trim().is_empty() => {
                return Err(bad("the reason is empty".to_owned()));
            }
            "reason" => reason = Some(short_text(&key, value)?),
            other => return Err(bad(format!("unknown parameter {other:?}: reason"))),
        }
    }
    Ok(reason)
}

/// The `rule` (required) and `target` of `POST /api/v1/breakers/reset`.
fn breaker_query(query: &str) -> Result<(String, Option<String>), HttpError> {
    let bad = |message: String| HttpError::BadQuery(message);
    let pairs = query_pairs(query)?;
    let (mut rule, mut target) = (None, None);
    for (key, value) in pairs {
        match key.as_str() {
            "rule" => rule = Some(value),
            "target" => target = Some(value),
            other => return Err(bad(format!("unknown parameter {other:?}: rule, target"))),
        }
    }
    let rule =
        rule.ok_or_else(|| bad("which rule? POST /api/v1/breakers/reset?rule=NAME".into()))?;
    Ok((rule, target))
}

/// `GET /api/v1/runs/{id}`.
async fn run(store: Option<Store>, id: &str, links: Option<&ApprovalLinks>) -> Routed {
    let store = store.ok_or(HttpError::NoHistory)?;
    let id = id
        .parse::<u64>()
        .map_err(|_| HttpError::BadRunId(id.to_owned()))?;
    let record = tokio::task::spawn_blocking(move || store.run(id))
        .await
        .map_err(|e| HttpError::Task(e.to_string()))?
        .map_err(HttpError::Store)?
        .ok_or(HttpError::NoRun(id))?;
    let mut body = json!(record);
    // Who may read the run may decide it: the signed links of a run waiting for approval.
    if record.state == RunState::AwaitingApproval
        && let Some((approve, reject)) = approvals::links_of(links, &record)
    {
        body["approval_links"] = json!({"approve": approve, "reject": reject});
    }
    Ok(json(StatusCode::OK, &body))
}

/// `GET /api/v1/notifications/{id}`: the body as stored (the JSON alertrun received,
/// re-serialised from what it parsed: every field, unknown ones too), for `alertrun
/// notifications show`, `replay` and `explain --notification`.
async fn notification(store: Option<Store>, id: &str) -> Routed {
    let store = store.ok_or(HttpError::NoHistory)?;
    let id = id
        .parse::<u64>()
        .map_err(|_| HttpError::BadQuery(format!("invalid notification id {id:?}: a number")))?;
    let body = tokio::task::spawn_blocking(move || store.notification(id))
        .await
        .map_err(|e| HttpError::Task(e.to_string()))?
        .map_err(HttpError::Store)?
        .ok_or(HttpError::NoNotification(id))?;
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok(text(StatusCode::OK, "application/json", body))
}

/// `GET /api/v1/runs?rule=&state=&fingerprint=&alertname=&target=&since=&until=&before=&limit=`:
/// newest first; `next` is the `before` of the next page, `null` where the history ends.
///
/// One answer looks at most [`MAX_SCANNED`] runs (see [`run_filter`]), as the `/runs`
/// page does, and says how many it looked at (`scanned`).
async fn runs(store: Option<Store>, query: &str) -> Routed {
    let store = store.ok_or(HttpError::NoHistory)?;
    let filter = run_filter(query)?;
    let page = tokio::task::spawn_blocking(move || store.runs_page(&filter))
        .await
        .map_err(|e| HttpError::Task(e.to_string()))?
        .map_err(HttpError::Store)?;
    Ok(json(
        StatusCode::OK,
        &json!({"runs": page.runs, "next": page.next, "scanned": page.scanned}),
    ))
}

/// A time parameter (`since`, `until`): RFC 3339 or Unix milliseconds.
fn instant(key: &str, value: &str) -> Result<i64, HttpError> {
    match value.parse::<i64>() {
        Ok(ms) => Ok(ms),
        Err(_) => alert_core::Timestamp::parse(value)
            .map(|t| t.unix_seconds().saturating_mul(1000))
            .map_err(|_| {
                HttpError::BadQuery(format!(
                    "invalid {key} {value:?}: RFC 3339 or Unix milliseconds"
                ))
            }),
    }
}

/// `target=`: a rule's target as alertrun names it, the labels `{namespace="shop",
/// pod="web-1"}` (equality matchers), or a fingerprint (a rule without `target`).
fn target(filter: &mut RunFilter, value: &str) -> Result<(), HttpError> {
    if !value.starts_with('{') {
        filter.fingerprint = Some(value.to_owned());
        return Ok(());
    }
    let bad = |why: String| {
        HttpError::BadQuery(format!(
            "invalid target {value:?}: {why}; write labels as {{namespace=\"shop\", pod=\"web-1\"}} \
             or a fingerprint"
        ))
    };
    let matchers = alert_match::Matchers::parse(value).map_err(|e| bad(e.to_string()))?;
    for m in &matchers {
        if m.op() != alert_match::MatchOp::Equal {
            return Err(bad(format!("{m} is not name=\"value\"")));
        }
        filter
            .labels
            .push((m.name().to_owned(), m.value().to_owned()));
    }
    Ok(())
}

/// Runs one listing (`GET /api/v1/runs`, the `/runs` page) looks at, at most: a filter no
/// index serves (`fingerprint`, `alertname`, `target`) that matches rarely answers a page
/// with fewer than `limit` runs, or none, and a `next` to go on from, rather than reading
/// the whole history in one request.
pub(crate) const MAX_SCANNED: usize = 20_000;

/// Parses the query of `GET /api/v1/runs`; `since` and `until` are RFC 3339 or Unix
/// milliseconds. The filter looks at no more than [`MAX_SCANNED`] runs.
pub(super) fn run_filter(query: &str) -> Result<RunFilter, HttpError> {
    let bad = |message: String| HttpError::BadQuery(message);
    let mut filter = RunFilter {
        max_scanned: Some(MAX_SCANNED),
        ..RunFilter::default()
    };
    let pairs = query_pairs(query)?;
    for (key, value) in pairs {
        match key.as_str() {
            "rule" => filter.rule = Some(value),
            "state" => {
                filter.state = Some(value.parse::<RunState>().map_err(|_| {
                    bad(format!("invalid state {value:?}: queued, running, succeeded, failed, timed_out, cancelled, interrupted or skipped"))
                })?);
            }
            "fingerprint" => filter.fingerprint = Some(value),
            "alertname" => filter.alertname = Some(value),
            "target" => target(&mut filter, &value)?,
            "since" => filter.since = Some(instant("since", &value)?),
            "until" => filter.until = Some(instant("until", &value)?),
            "before" => {
                filter.before = Some(
                    value
                        .parse()
                        .map_err(|_| bad(format!("invalid before {value:?}: a run id")))?,
                );
            }
            "limit" => {
                filter.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=RunFilter::MAX_LIMIT).contains(n))
                    .ok_or_else(|| bad(format!("invalid limit {value:?}: 1 to 1000")))?;
            }
            other => {
                return Err(bad(format!(
                    "unknown parameter {other:?}: rule, state, fingerprint, alertname, target, \
                     since, until, before, limit"
                )));
            }
        }
    }
    Ok(filter)
}

#[cfg(test)]
pub(super) mod tests;
