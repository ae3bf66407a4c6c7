//! `alertrun serve`: the webhook server, dispatch and the running of actions.
//!
//! The HTTP app ([`http`]) parses and authenticates each request and hands the
//! notification to the [`dispatch::Dispatcher`], which answers at once: actions run later,
//! in the background, as the queue and the concurrency limits allow. The same app answers
//! the control API through [`control::Control`], an [`api::Api`].

pub mod api;
pub mod control;
pub mod dispatch;
pub mod http;
pub mod intake;
pub mod metrics;
pub mod settings;

mod auth;
mod listener;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use alert_core::Executor;
use anyhow::{Context as _, bail};
use executor_k8s::{JobExecutor, JobOptions};
use executor_process::{ProcessExecutor, ProcessOptions, inherited_env, parse_signal};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::{Action, Config};
use crate::store::Store;
use control::Control;
use dispatch::{DispatchOptions, Dispatcher, Loaded, QueueLimits};
use metrics::Metrics;

/// Options of `alertrun serve` that are not in the config file.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// The config file (read again on reload).
    pub config_path: PathBuf,
    /// Listen here instead of `server.listen`.
    pub listen: Option<SocketAddr>,
    /// Allow a non-loopback address without authentication.
    pub insecure_no_auth: bool,
    /// Use this state directory instead of `server.state.dir`.
    pub state_dir: Option<PathBuf>,
    /// Record what every rule would run, run nothing.
    pub dry_run: bool,
}

/// Whether any rule's action is a Kubernetes Job (so `serve` needs a cluster client).
pub fn needs_cluster(config: &Config) -> bool {
    (0..config.rules().rules().len()).any(|i| matches!(config.action(i), Action::Kubernetes { .. }))
}

/// The cluster client: the in-cluster service account, else `KUBECONFIG` /
/// `~/.kube/config`.
///
/// # Errors
/// When neither is available, saying so.
pub async fn cluster_client() -> anyhow::Result<kube::Client> {
    kube::Client::try_default().await.context(
        "rules use Kubernetes Job actions, but no cluster is configured: \
         run in a pod with a service account, or set KUBECONFIG",
    )
}

/// Builds the executor of each rule, by rule name; `cluster` runs Job actions.
///
/// # Errors
/// When a rule's stop signal is unknown, or a rule has a Job action and `cluster` is
/// `None`.
pub fn executors(
    config: &Config,
    cluster: Option<&kube::Client>,
) -> anyhow::Result<HashMap<String, Arc<dyn Executor>>> {
    let rules = config.rules().rules();
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let policy = config.policy(i);
            match config.action(i) {
                Action::Process(action) => {
                    let signal = parse_signal(&policy.stop_signal)
                        .map_err(|e| anyhow::anyhow!("rule {}: {e}", rule.name))?;
                    let options = ProcessOptions::default()
                        .with_stop_signal(signal)
                        .with_grace(policy.stop_grace)
                        .with_inherited(inherited_env(action, |name| std::env::var(name).ok()));
                    let executor: Arc<dyn Executor> =
                        Arc::new(ProcessExecutor::new(action.clone(), options));
                    Ok((rule.name.clone(), executor))
                }
                Action::Kubernetes {
                    job,
                    default_namespace,
                } => {
                    let Some(client) = cluster else {
                        bail!(
                            "rule {}: a Kubernetes Job action needs a cluster client",
                            rule.name
                        );
                    };
                    let executor: Arc<dyn Executor> = Arc::new(JobExecutor::new(
                        client.clone(),
                        (**job).clone(),
                        default_namespace.clone(),
                        JobOptions::default(),
                    ));
                    Ok((rule.name.clone(), executor))
                }
            }
        })
        .collect()
}

/// Runs the server until SIGTERM or SIGINT, then stops taking notifications, lets running
/// actions finish within `server.shutdown_grace`, stops the rest and returns. SIGHUP (and
/// `POST /-/reload`) reloads the config.
///
/// # Errors
/// When the config cannot be served (see [`executors`]), the address is refused by the
/// exposure check, the store cannot be opened, or the listener cannot be bound.
pub async fn run(config: Config, options: ServeOptions) -> anyhow::Result<()> {
    let mut settings = config.server().clone();
    if let Some(listen) = options.listen {
        settings.listen = listen;
    }
    if let Some(dir) = &options.state_dir {
        settings.state.dir.clone_from(dir);
    }
    settings::check_exposure(&settings, options.insecure_no_auth).map_err(anyhow::Error::msg)?;
    let cluster = if needs_cluster(&config) {
        Some(cluster_client().await?)
    } else {
        None
    };
    let executors = executors(&config, cluster.as_ref())?;
    let store = if settings.state.durable {
        let dir = settings.state.dir.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&dir))
            .await?
            .with_context(|| {
                format!(
                    "cannot open the state store in {}",
                    settings.state.dir.display()
                )
            })?;
        Some(store)
    } else {
        warn!(
            "server.state.durable is false: accepted notifications and history live in memory only"
        );
        None
    };
    let metrics = Metrics::new();
    let rules = config.rules().rules().len();
    let dispatcher = Dispatcher::start(
        Loaded {
            config: Arc::new(config),
            executors,
        },
        DispatchOptions {
            limits: QueueLimits {
                max_running: settings.max_running,
                max_queued: settings.max_queued,
            },
            store: store.clone(),
            // The HTTP app counts every refused notification where it answers it.
            metrics: metrics.without_rejections(),
            clock: Arc::new(dispatch::now_ms),
            dry_run: options.dry_run,
        },
    )
    .await
    .context("cannot recover the state store")?;
    metrics.config_reloaded(true, dispatch::unix_seconds());
    let control = Control::new(
        dispatcher.clone(),
        metrics.clone(),
        options.config_path.clone(),
        cluster,
    );
    if let Some(store) = store {
        tokio::spawn(prune(store, settings.state.clone()));
    }
    let bound = listener::bind(&settings)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    info!(address = %bound.local_addr(), rules, tls = settings.tls.is_some(),
        auth = settings.auth.is_some(), durable = settings.state.durable,
        state_dir = %settings.state.dir.display(), "listening");
    control.set_ready(true);

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let signals = Arc::clone(&control);
    tokio::spawn(async move {
        handle_signals(&signals).await;
        let _ = stop_tx.send(true);
    });
    let closing = dispatcher.clone();
    let backends = http::Backends::new(Arc::new(dispatcher.clone()))
        .with_api(Arc::clone(&control) as Arc<dyn api::Api>)
        .with_metrics(metrics);
    bound
        .serve_with(backends, async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
            info!("shutting down: no longer taking notifications");
            closing.close();
        })
        .await;
    control.set_ready(false);
    dispatcher.shutdown(settings.shutdown_grace).await;
    info!("stopped");
    Ok(())
}

/// Deletes old history now and then, in small steps.
async fn prune(store: Store, state: settings::StateSettings) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let store = store.clone();
        let max_age = i64::try_from(state.history_max_age.as_millis()).unwrap_or(i64::MAX);
        let keep = state.history_max_runs;
        let result = tokio::task::spawn_blocking(move || {
            let cutoff = dispatch::now_ms().saturating_sub(max_age);
            let mut total = 0;
            loop {
                let n = store.prune(cutoff, keep, cutoff, 1000)?;
                total += n;
                if n < 1000 {
                    return Ok::<_, crate::store::StoreError>(total);
                }
            }
        })
        .await;
        match result {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => info!(runs = n, "pruned run history"),
            Ok(Err(e)) => warn!(error = %e, "cannot prune run history"),
            Err(e) => warn!(error = %e, "history pruning failed"),
        }
    }
}

/// Returns on SIGTERM or SIGINT; reloads the config on each SIGHUP meanwhile.
async fn handle_signals(control: &Control) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        // Without signal handlers, run until killed.
        return std::future::pending().await;
    };
    loop {
        tokio::select! {
            _ = term.recv() => { info!(signal = "SIGTERM", "received"); return; }
            _ = int.recv() => { info!(signal = "SIGINT", "received"); return; }
            _ = hup.recv() => {
                info!(signal = "SIGHUP", "received: reloading the config");
                let _ = control.reload().await;
            }
        }
    }
}
