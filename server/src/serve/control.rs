//! The server's own endpoints: readiness, reload, metrics, rules and run history.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use alert_core::BoxFuture;
use serde_json::{Value, json};
use tracing::{error, info, warn};
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::api::{self, Api};
use super::dispatch::{Dispatcher, Loaded};
use super::metrics::Metrics;
use crate::backend::Backends;
use crate::config::{Config, ServerSettings};
use crate::store::{RunFilter, RunState, Store};

/// Answers `/-/ready`, `/-/reload`, `/metrics` and `/api/v1/*`.
pub struct Control {
    dispatcher: Dispatcher,
    metrics: Metrics,
    config_path: PathBuf,
    ready: AtomicBool,
    /// Builds the executors (keeping the cluster client); locked for a whole reload.
    reloading: tokio::sync::Mutex<Backends>,
    /// The `server:` section the server started with: a reload does not apply changes to it.
    started: ServerSettings,
}

/// A reload's result.
#[derive(Debug)]
pub struct Reloaded {
    /// How many rules are loaded now.
    pub rules: usize,
    /// The changed `server:` fields, which take effect only on a restart (such as
    /// `server.listen`); see [`ServerSettings::restart_needed`].
    pub restart_needed: Vec<&'static str>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("config_path", &self.config_path)
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl Control {
    /// Control over `dispatcher`, reloading from `config_path`.
    pub fn new(
        dispatcher: Dispatcher,
        metrics: Metrics,
        config_path: PathBuf,
        backends: Backends,
    ) -> Arc<Self> {
        let started = dispatcher.config().server().clone();
        Arc::new(Self {
            dispatcher,
            metrics,
            config_path,
            ready: AtomicBool::new(false),
            reloading: tokio::sync::Mutex::new(backends),
            started,
        })
    }

    /// Marks the server ready (config and store loaded, listening).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Reads the config file again and swaps it in when valid; otherwise keeps the old one
    /// and says why. Changes to `server:` need a restart: they are listed, not applied.
    ///
    /// # Errors
    /// Why the new config was not loaded.
    pub async fn reload(&self) -> Result<Reloaded, String> {
        let mut backends = self.reloading.lock().await;
        let path = self.config_path.clone();
        let config = tokio::task::spawn_blocking(move || Config::load(&path))
            .await
            .map_err(|e| format!("reload failed: {e}"))
            .and_then(|r| r.map_err(|e| format!("{}: {e}", self.config_path.display())));
        let loaded = match config {
            Ok(config) => backends
                .executors(config.rule_actions())
                .await
                .map(|executors| Loaded {
                    config: Arc::new(config),
                    executors,
                })
                .map_err(|e| format!("{:#}", anyhow::Error::new(e))),
            Err(e) => Err(e),
        };
        let now = super::dispatch::unix_seconds();
        match loaded {
            Ok(loaded) => {
                let rules = loaded.config.rules().rules().len();
                let restart_needed = self.started.restart_needed(loaded.config.server());
                self.dispatcher.reload(loaded);
                self.metrics.config_reloaded(true, now);
                info!(rules, "config reloaded");
                if !restart_needed.is_empty() {
                    warn!(fields = ?restart_needed,
                        "the server: section changed; these fields take effect only on a restart");
                }
                Ok(Reloaded {
                    rules,
                    restart_needed,
                })
            }
            Err(why) => self.reload_failed(why),
        }
    }

    fn reload_failed(&self, why: String) -> Result<Reloaded, String> {
        self.metrics
            .config_reloaded(false, super::dispatch::unix_seconds());
        error!(error = %why, "config reload failed: keeping the running config");
        Err(why)
    }

    fn rules(&self) -> Value {
        let config = self.dispatcher.config();
        let rules: Vec<Value> = config
            .rules()
            .rules()
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let policy = config.policy(i);
                let (running, queued) = self.dispatcher.rule_load(&r.name);
                json!({
                    "name": r.name,
                    "description": config.description(i),
                    "match": r.matchers.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "mode": r.mode.as_str(),
                    "on": r.on.as_str(),
                    "enabled": policy.enabled,
                    "dry_run": policy.dry_run,
                    "running": running,
                    "queued": queued,
                })
            })
            .collect();
        json!({ "rules": rules })
    }
}

impl Api for Arc<Control> {
    fn handle(
        &self,
        method: &Method,
        path: &str,
        query: &str,
    ) -> Option<BoxFuture<'static, Response>> {
        let known = matches!(path, "/-/ready" | "/-/reload" | "/metrics")
            || path == "/api/v1/rules"
            || path == "/api/v1/runs"
            || path.starts_with("/api/v1/runs/");
        if !known {
            return None;
        }
        let want = if path == "/-/reload" {
            Method::POST
        } else {
            Method::GET
        };
        if method != want {
            let message = format!("{path} takes {want}");
            return Some(Box::pin(async move {
                api::error(StatusCode::METHOD_NOT_ALLOWED, message)
            }));
        }
        let this = Arc::clone(self);
        let path = path.to_owned();
        let query = query.to_owned();
        Some(Box::pin(async move {
            match path.as_str() {
                "/-/ready" if this.ready.load(Ordering::SeqCst) => api::text(
                    StatusCode::OK,
                    "text/plain; charset=utf-8",
                    "ready\n".into(),
                ),
                "/-/ready" => api::text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    "not ready\n".into(),
                ),
                "/-/reload" => match this.reload().await {
                    Ok(r) => api::json(
                        StatusCode::OK,
                        &json!({"status": "reloaded", "rules": r.rules,
                            "restart_needed": r.restart_needed}),
                    ),
                    Err(why) => api::error(StatusCode::BAD_REQUEST, why),
                },
                "/metrics" => api::text(
                    StatusCode::OK,
                    super::metrics::CONTENT_TYPE,
                    this.metrics.encode(),
                ),
                "/api/v1/rules" => api::json(StatusCode::OK, &this.rules()),
                "/api/v1/runs" => runs(this.dispatcher.store().cloned(), &query).await,
                _ => {
                    let id = path.trim_start_matches("/api/v1/runs/");
                    run(this.dispatcher.store().cloned(), id).await
                }
            }
        }))
    }
}

fn no_store() -> Response {
    api::error(
        StatusCode::NOT_FOUND,
        "run history needs the state store: this server runs with server.state.durable: false",
    )
}

async fn run(store: Option<Store>, id: &str) -> Response {
    let Some(store) = store else {
        return no_store();
    };
    let Ok(id) = id.parse::<u64>() else {
        return api::error(
            StatusCode::BAD_REQUEST,
            format!("invalid run id {id:?}: a number"),
        );
    };
    match tokio::task::spawn_blocking(move || store.run(id)).await {
        Ok(Ok(Some(record))) => api::json(StatusCode::OK, &json!(record)),
        Ok(Ok(None)) => api::error(StatusCode::NOT_FOUND, format!("no run {id}")),
        Ok(Err(e)) => api::error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e) => api::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /api/v1/runs?rule=&state=&fingerprint=&since=&before=&limit=`: newest first;
/// `next` is the `before` of the next page.
async fn runs(store: Option<Store>, query: &str) -> Response {
    let Some(store) = store else {
        return no_store();
    };
    let filter = match run_filter(query) {
        Ok(f) => f,
        Err(why) => return api::error(StatusCode::BAD_REQUEST, why),
    };
    let limit = filter.limit;
    match tokio::task::spawn_blocking(move || store.runs(&filter)).await {
        Ok(Ok(runs)) => {
            let next = (runs.len() == limit)
                .then(|| runs.last().map(|r| r.id))
                .flatten();
            api::json(StatusCode::OK, &json!({"runs": runs, "next": next}))
        }
        Ok(Err(e)) => api::error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e) => api::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Parses the query of `GET /api/v1/runs`; `since` is RFC 3339 or Unix milliseconds.
pub(crate) fn run_filter(query: &str) -> Result<RunFilter, String> {
    let mut filter = RunFilter {
        rule: None,
        state: None,
        fingerprint: None,
        since: None,
        before: None,
        limit: 100,
    };
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map_err(|e| format!("invalid query {query:?}: {e}"))?;
    for (key, value) in pairs {
        match key.as_str() {
            "rule" => filter.rule = Some(value),
            "state" => {
                filter.state = Some(value.parse::<RunState>().map_err(|_| {
                    format!("invalid state {value:?}: queued, running, succeeded, failed, timed_out, cancelled, interrupted or skipped")
                })?);
            }
            "fingerprint" => filter.fingerprint = Some(value),
            "since" => {
                filter.since = Some(match value.parse::<i64>() {
                    Ok(ms) => ms,
                    Err(_) => alert_core::Timestamp::parse(&value)
                        .map(|t| t.unix_seconds().saturating_mul(1000))
                        .map_err(|_| {
                            format!("invalid since {value:?}: RFC 3339 or Unix milliseconds")
                        })?,
                });
            }
            "before" => {
                filter.before = Some(
                    value
                        .parse()
                        .map_err(|_| format!("invalid before {value:?}: a run id"))?,
                );
            }
            "limit" => {
                filter.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=RunFilter::MAX_LIMIT).contains(n))
                    .ok_or_else(|| format!("invalid limit {value:?}: 1 to 1000"))?;
            }
            other => {
                return Err(format!(
                    "unknown parameter {other:?}: rule, state, fingerprint, since, before, limit"
                ));
            }
        }
    }
    Ok(filter)
}
