//! [`Control`]: the running server's readiness, config reload and rule status, over the
//! [`Dispatcher`]. It is the production [`Api`]; SIGHUP reloads through it too.
//!
//! It holds no routes and builds no responses: the HTTP app ([`http`](super::http)) asks it
//! through [`Api`] and answers. Run history comes straight from the dispatcher's store.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use alert_core::BoxFuture;
use tracing::{error, info, warn};

use super::api::{
    Api, ClaimsStatus, ControlError, DecideError, Decision, PauseStatus, ReloadError, Reloaded,
    RuleStatus,
};
use super::dispatch::{Dispatcher, Loaded};
use super::metrics::Metrics;
use super::status::{ServerStatus, StatusCell, load_config_hashed};
use crate::backend::Backends;
use crate::config::ServerSettings;
use crate::store::{RunRecord, Store};

/// Readiness, reload and rule status of a running server.
pub(crate) struct Control {
    dispatcher: Dispatcher,
    metrics: Metrics,
    config_path: PathBuf,
    ready: AtomicBool,
    /// Builds the executors (keeping the cluster client); locked for a whole reload.
    reloading: tokio::sync::Mutex<Backends>,
    /// The `server:` section the server started with: a reload does not apply changes to it.
    started: ServerSettings,
    /// What `GET /api/v1/status` shows.
    status: StatusCell,
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
    pub(crate) fn new(
        dispatcher: Dispatcher,
        metrics: Metrics,
        config_path: PathBuf,
        config_sha256: Option<String>,
        backends: Backends,
    ) -> Arc<Self> {
        let started = dispatcher.config().server().clone();
        Arc::new(Self {
            status: StatusCell::new(&config_path, config_sha256),
            dispatcher,
            metrics,
            config_path,
            ready: AtomicBool::new(false),
            reloading: tokio::sync::Mutex::new(backends),
            started,
        })
    }

    /// Marks the server ready (config and store loaded, listening).
    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Reads the config file again and swaps it in when valid; otherwise keeps the old one
    /// and says why. Changes to `server:` need a restart: they are listed, not applied.
    ///
    /// # Errors
    /// Why the new config was not loaded.
    pub(crate) async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let mut backends = self.reloading.lock().await;
        let path = self.config_path.clone();
        let config = tokio::task::spawn_blocking(move || load_config_hashed(&path))
            .await
            .map_err(|e| format!("reload failed: {e}"))
            .and_then(|r| r.map_err(|e| format!("{}: {e}", self.config_path.display())));
        let loaded = match config {
            Ok((config, sha256)) => backends
                .executors(config.rule_actions())
                .await
                .map(|executors| {
                    let loaded = Loaded {
                        config: Arc::new(config),
                        executors,
                    };
                    (loaded, sha256)
                })
                .map_err(|e| format!("{:#}", anyhow::Error::new(e))),
            Err(e) => Err(e),
        };
        let now = super::dispatch::unix_seconds();
        match loaded {
            Ok((loaded, sha256)) => {
                let rules = loaded.config.rules().rules().len();
                let restart_needed = self.started.restart_needed(loaded.config.server());
                self.dispatcher.reload(loaded);
                self.status.config_loaded(sha256);
                self.status.reloaded(None);
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

    fn reload_failed(&self, why: String) -> Result<Reloaded, ReloadError> {
        self.metrics
            .config_reloaded(false, super::dispatch::unix_seconds());
        error!(error = %why, "config reload failed: keeping the running config");
        self.status.reloaded(Some(why.clone()));
        Err(ReloadError::new(why))
    }
}

impl Api for Control {
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    fn reload(&self) -> BoxFuture<'_, Result<Reloaded, ReloadError>> {
        Box::pin(Control::reload(self))
    }

    fn rules(&self) -> Vec<RuleStatus> {
        let config = self.dispatcher.config();
        config
            .rules()
            .rules()
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let policy = config.policy(i);
                let (running, queued) = self.dispatcher.rule_load(&r.name);
                let words = |d: std::time::Duration| humantime::format_duration(d).to_string();
                let rails = &policy.rails;
                let breaker = &rails.breaker;
                RuleStatus {
                    action: config.action(i).to_summary(),
                    repeat: match policy.repeat {
                        crate::config::Repeat::Once => "once".to_owned(),
                        crate::config::Repeat::Always => "always".to_owned(),
                        crate::config::Repeat::After(d) => format!("after {}", words(d)),
                    },
                    rate_limit: rails
                        .max_runs
                        .map(|m| format!("{} per {} per target", m.count, words(m.per))),
                    breaker: (breaker.failures > 0 || breaker.ineffective > 0).then(|| {
                        format!(
                            "{} failures or {} ineffective in a row",
                            breaker.failures, breaker.ineffective
                        )
                    }),
                    open_breakers: self.dispatcher.open_breakers(&r.name),
                    verify: rails.verify.map(|v| format!("within {}", words(v.within))),
                    approval: policy.approval.is_some(),
                    target: rails.target.clone(),
                    name: r.name.clone(),
                    description: config.description(i).to_owned(),
                    matchers: r.matchers.iter().map(ToString::to_string).collect(),
                    mode: r.mode.as_str(),
                    on: r.on.as_str(),
                    enabled: policy.enabled,
                    dry_run: policy.dry_run,
                    running,
                    queued,
                }
            })
            .collect()
    }

    fn history(&self) -> Option<Store> {
        self.dispatcher.store().cloned()
    }

    fn claims(&self) -> BoxFuture<'_, Option<Result<ClaimsStatus, ControlError>>> {
        Box::pin(async move {
            let ha = self.dispatcher.ha()?;
            Some(
                ha.list()
                    .await
                    .map(|claims| ClaimsStatus {
                        replica: ha.replica().to_owned(),
                        leader: ha.is_leader(),
                        claims,
                    })
                    .map_err(|e| ControlError::new(error_chain(&e))),
            )
        })
    }

    fn status(&self) -> Option<ServerStatus> {
        let store = self.dispatcher.store().map(|s| s.path().to_owned());
        let mut status = self.status.status(store.as_deref());
        (status.running, status.queued) = self.dispatcher.load();
        status.pauses = self.pauses();
        status.paused = !status.pauses.is_empty();
        let state = &self.started.state;
        status.retention = store.is_some().then(|| super::status::Retention {
            max_age: humantime::format_duration(state.history_max_age).to_string(),
            max_runs: state.history_max_runs,
        });
        status.ha = self.dispatcher.ha().map(|ha| super::status::HaStatus {
            replica: ha.replica().to_owned(),
            namespace: ha.namespace().to_owned(),
            lease_duration_seconds: ha.lease_duration().as_secs(),
            leader: ha.is_leader(),
        });
        Some(status)
    }

    fn pauses(&self) -> Vec<PauseStatus> {
        pause_statuses(self.dispatcher.pauses())
    }

    fn pause(
        &self,
        reason: String,
        by: String,
    ) -> BoxFuture<'_, Result<Vec<PauseStatus>, ControlError>> {
        Box::pin(async move {
            let pauses = self
                .dispatcher
                .pause(&reason, &by)
                .await
                .map_err(|e| ControlError::new(format!("cannot record the pause: {e}")))?;
            warn!(reason = %reason, by = %by, "paused: no new run is queued until alertrun resume");
            Ok(pause_statuses(pauses))
        })
    }

    fn resume(
        &self,
        reason: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<PauseStatus>, ControlError>> {
        Box::pin(async move {
            let pauses = self
                .dispatcher
                .resume(reason.as_deref())
                .await
                .map_err(|e| ControlError::new(format!("cannot record the resume: {e}")))?;
            if pauses.is_empty() {
                info!("resumed: runs are queued again");
            } else {
                info!(still = pauses.len(), "a pause was lifted; others hold");
            }
            Ok(pause_statuses(pauses))
        })
    }

    fn reset_breakers(&self, rule: &str, target: Option<&str>) -> Vec<String> {
        self.dispatcher.reset_breakers(rule, target)
    }

    fn decide(&self, id: u64, decision: Decision) -> BoxFuture<'_, Result<RunRecord, DecideError>> {
        Box::pin(self.dispatcher.decide(id, decision))
    }

    fn check_link(
        &self,
        id: u64,
        decision: &str,
        expires: i64,
        sig: &str,
    ) -> Result<(), DecideError> {
        self.dispatcher.check_link(id, decision, expires, sig)
    }
}

fn pause_statuses(pauses: Vec<crate::lifecycle::rails::Pause>) -> Vec<PauseStatus> {
    pauses
        .into_iter()
        .map(|p| PauseStatus {
            reason: p.reason,
            by: p.by,
            at: crate::lifecycle::rails::rfc3339(p.at),
        })
        .collect()
}

/// `e` and its sources, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
