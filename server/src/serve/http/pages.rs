//! The status page's routes: `GET /` and `/status`, `/rules`, `/runs`, `/runs/{id}`,
//! `/approvals` (HTML, rendered by `serve::ui`), and `/ui/ui.css`, `/ui/ui.js` (its assets).
//!
//! A page asks for the same credentials as the API ([`Access::Control`]); without them it
//! answers 401 with the `WWW-Authenticate` challenge and a sign-in page that holds no data
//! (`ui::html::sign_in`). A page reads what the API reads (the [`Api`], the store, on a
//! blocking thread) and changes nothing: its buttons POST to the API's routes, which refuse
//! cross-site requests (`origin.rs`). Failures are shown as a short HTML page with the
//! status code and message the API would give. Each page says in `Server-Timing` how long
//! it took. The assets hold no data and are served to anyone. Only [`HttpError`]s leave this module; status codes are picked in `error.rs`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use super::control::run_filter;
use super::{Access, Allow, Head, HttpError, Routed, head, text};
use crate::config::{Auth, ServerSettings};
use crate::serve::api::Api;
use crate::serve::ui::{self, RuleRow, RunLinks, RunsQuery};
use crate::store::{RunFilter, RunState, Store};

/// Runs on one `/runs` page unless `limit=` says otherwise.
pub(crate) const PAGE_SIZE: usize = 50;

const HTML: &str = "text/html; charset=utf-8";

/// The page routes, answering with `api`; without one, none (their paths are unknown).
pub(super) fn routes(
    settings: Arc<ServerSettings>,
    api: Option<Arc<dyn Api>>,
) -> BoxedFilter<(Routed,)> {
    let Some(api) = api else {
        return warp::any()
            .and_then(|| async { Err::<Routed, _>(warp::reject::not_found()) })
            .boxed();
    };
    let p = Pages { settings, api };
    let with = move || {
        let p = p.clone();
        warp::any().map(move || p.clone())
    };
    let assets = warp::path!("ui" / String)
        .and(head())
        .map(|name: String, head: Head| {
            head.admit(&ServerSettings::default(), Allow::Get, Access::Anyone)?;
            let (content_type, body) =
                ui::assets::asset(&name).ok_or_else(|| HttpError::NotFound(head.path.clone()))?;
            let mut response = text(StatusCode::OK, content_type, body.to_owned());
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
            Ok(response)
        });
    let status = warp::path::end()
        .or(warp::path!("status"))
        .unify()
        .and(with())
        .and(head())
        .then(|p: Pages, head: Head| async move {
            p.page(&head, 0, |api| async move {
                let status = api
                    .status()
                    .ok_or_else(|| HttpError::NotFound("/status".into()))?;
                Ok(ui::status(&status))
            })
            .await
        });
    let rules =
        warp::path!("rules")
            .and(with())
            .and(head())
            .then(|p: Pages, head: Head| async move {
                p.page(&head, 0, |api| async move {
                    Ok(ui::rules(&rule_rows(api.as_ref()).await?))
                })
                .await
            });
    let runs = warp::path!("runs")
        .and(with())
        .and(head())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(|p: Pages, head: Head, query: String| async move {
            p.page(&head, 0, |api| async move {
                runs_page(api.history(), &query).await
            })
            .await
        });
    let run = warp::path!("runs" / u64).and(with()).and(head()).then(
        |id: u64, p: Pages, head: Head| async move {
            p.page(&head, 1, |api| async move {
                run_page(api.history(), id, &api.rules()).await
            })
            .await
        },
    );
    let approvals =
        warp::path!("approvals")
            .and(with())
            .and(head())
            .then(|p: Pages, head: Head| async move {
                p.page(&head, 0, |api| async move {
                    let filter = RunFilter {
                        state: Some(RunState::AwaitingApproval),
                        limit: RunFilter::MAX_LIMIT,
                        ..RunFilter::default()
                    };
                    let page = list(api.history(), filter).await?;
                    Ok(ui::approvals(&page.runs))
                })
                .await
            });
    assets
        .or(status)
        .unify()
        .or(rules)
        .unify()
        .or(runs)
        .unify()
        .or(run)
        .unify()
        .or(approvals)
        .unify()
        .boxed()
}

#[derive(Clone)]
struct Pages {
    settings: Arc<ServerSettings>,
    api: Arc<dyn Api>,
}

impl Pages {
    /// Admits the request, then renders the page `render` makes (`depth` path segments
    /// below the root), or the sign-in page, or the failure as a page.
    async fn page<F, Fut>(&self, head: &Head, depth: usize, render: F) -> Routed
    where
        F: FnOnce(Arc<dyn Api>) -> Fut,
        Fut: std::future::Future<Output = Result<String, HttpError>>,
    {
        match head.admit(&self.settings, Allow::Get, Access::Control) {
            Ok(()) => {}
            Err(HttpError::Unauthorized { challenge, .. }) => {
                let bearer = matches!(self.settings.auth, Some(Auth::Bearer { .. }));
                let mut response = text(
                    StatusCode::UNAUTHORIZED,
                    HTML,
                    ui::html::sign_in(depth, bearer),
                );
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    response.headers_mut().insert(WWW_AUTHENTICATE, v);
                }
                return Ok(no_store(response));
            }
            Err(e) => return Err(e),
        }
        let started = std::time::Instant::now();
        let page = match render(Arc::clone(&self.api)).await {
            Ok(page) => text(StatusCode::OK, HTML, page),
            Err(e) => {
                let page = ui::html::Layout {
                    title: "Error",
                    depth,
                    current: "",
                    poll_seconds: None,
                }
                .render(&format!(
                    "<p role=\"alert\">{} {}</p>",
                    e.status().as_u16(),
                    ui::html::Text(&e.to_string())
                ));
                text(e.status(), HTML, page)
            }
        };
        Ok(no_store(server_timing(page, started)))
    }
}

/// The time the server took for the page (store reads and rendering), in the
/// `Server-Timing` header, which a browser's developer tools and `bench/status-page` read.
fn server_timing(mut response: Response, started: std::time::Instant) -> Response {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("page;dur={ms:.2}")) {
        response.headers_mut().insert("server-timing", v);
    }
    response
}

/// Pages hold live state and data behind credentials: never cached.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Now, in unix milliseconds.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The rules in force, each with its recent runs when there is a store.
pub(super) async fn rule_rows(api: &dyn Api) -> Result<Vec<RuleRow>, HttpError> {
    let rules = api.rules();
    let Some(store) = api.history() else {
        return Ok(rules
            .into_iter()
            .map(|rule| RuleRow {
                rule,
                activity: None,
                verdicts: None,
            })
            .collect());
    };
    let now = now_ms();
    blocking(move || {
        rules
            .into_iter()
            .map(|rule| {
                let activity =
                    store.rule_activity(&rule.name, now - 3_600_000, now - 86_400_000)?;
                let verdicts = match rule.verify {
                    Some(_) => Some(verdicts(&store, &rule.name)?),
                    None => None,
                };
                Ok(RuleRow {
                    rule,
                    activity: Some(activity),
                    verdicts,
                })
            })
            .collect()
    })
    .await
}

/// The verdicts on `rule`'s newest [`RuleRow::VERDICT_RUNS`] runs, by verdict.
fn verdicts(
    store: &Store,
    rule: &str,
) -> Result<std::collections::BTreeMap<&'static str, usize>, crate::store::StoreError> {
    let runs = store.runs(&RunFilter {
        rule: Some(rule.to_owned()),
        limit: RuleRow::VERDICT_RUNS,
        ..RunFilter::default()
    })?;
    let mut counts = std::collections::BTreeMap::new();
    for verdict in runs.iter().filter_map(|r| r.verdict.as_ref()) {
        *counts.entry(verdict.verdict.as_str()).or_default() += 1;
    }
    Ok(counts)
}

/// `GET /api/v1/rules`'s body: each rule, with `last_run`, `runs_last_hour` and
/// `runs_last_day` when there is a store, and `recent_verdicts` (of its newest 100 runs)
/// for a rule with `verify`.
pub(super) fn rules_json(rows: &[RuleRow]) -> Value {
    let rules: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut rule = json!(row.rule);
            if let Some(a) = &row.activity {
                rule["last_run"] = a.last.as_ref().map_or(Value::Null, |r| {
                    json!({"id": r.id, "state": r.state, "created_at": r.created_at,
                        "ended_at": r.ended_at})
                });
                rule["runs_last_hour"] = json!(a.last_hour);
                rule["runs_last_day"] = json!(a.last_day);
            }
            if let Some(v) = &row.verdicts {
                rule["recent_verdicts"] = json!(v);
            }
            rule
        })
        .collect();
    json!({ "rules": rules })
}

/// `/runs?state=&rule=&alertname=&fingerprint=&target=&since=&until=&before=&limit=`: empty form
/// fields are no filter.
async fn runs_page(store: Option<Store>, query: &str) -> Result<String, HttpError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| HttpError::BadQuery(format!("invalid query {query:?}: {e}")))?;
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let mut q = RunsQuery::default();
    let mut has_limit = false;
    for (key, value) in &pairs {
        let slot = match key.as_str() {
            "state" => &mut q.state,
            "rule" => &mut q.rule,
            "alertname" => &mut q.alertname,
            "fingerprint" => &mut q.fingerprint,
            "target" => &mut q.target,
            "since" => &mut q.since,
            "until" => &mut q.until,
            "limit" => {
                has_limit = true;
                continue;
            }
            _ => continue,
        };
        value.clone_into(slot);
    }
    let mut filter = run_filter(&serde_urlencoded::to_string(&pairs).unwrap_or_default())?;
    if !has_limit {
        filter.limit = PAGE_SIZE;
    }
    let page = list(store, filter).await?;
    let states: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
    Ok(ui::runs(&q, &page, &states))
}

/// `/runs/{id}`: the run, the links its notification gives, and its target under its rule
/// (when the rule is still in `rules`).
async fn run_page(
    store: Option<Store>,
    id: u64,
    rules: &[crate::serve::api::RuleStatus],
) -> Result<String, HttpError> {
    let store = store.ok_or(HttpError::NoHistory)?;
    let (run, body) = blocking(move || {
        let Some(run) = store.run(id)? else {
            return Ok(None);
        };
        let body = store.notification(run.notification)?;
        Ok(Some((run, body)))
    })
    .await?
    .ok_or(HttpError::NoRun(id))?;
    let mut links = body
        .map(|b| RunLinks::from_notification(&b, &run))
        .unwrap_or_default();
    links.target = rules
        .iter()
        .find(|r| r.name == run.rule)
        .map(|r| target_of(&r.target, &run));
    Ok(ui::run(&run, &links))
}

/// The run's target under a rule whose `target:` names `names`: the labels, written as
/// `{namespace="shop", pod="web-1"}` (what the `target=` filter reads), or the fingerprint.
fn target_of(names: &[String], run: &crate::store::RunRecord) -> String {
    if names.is_empty() {
        return run.fingerprint.clone();
    }
    let pairs: Vec<String> = names
        .iter()
        .map(|n| {
            let value = run.labels.get(n).map_or("", String::as_str);
            format!("{n}={}", Value::from(value))
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

async fn list(store: Option<Store>, filter: RunFilter) -> Result<crate::store::RunPage, HttpError> {
    let store = store.ok_or(HttpError::NoHistory)?;
    blocking(move || store.runs_page(&filter)).await
}

/// Runs a store read on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, HttpError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HttpError::Task(e.to_string()))?
        .map_err(HttpError::Store)
}

#[cfg(test)]
mod tests;
