//! `alertrun serve`: the webhook server, dispatch and the running of actions.
//!
//! The HTTP app ([`http`]) parses and authenticates each request and hands the
//! notification to the [`dispatch::Dispatcher`], which answers at once: actions run later,
//! in the background, as the queue and the concurrency limits allow. The same app answers
//! the control API through [`control::Control`], an [`api::Api`].

pub(crate) mod alertmanager;
pub(crate) mod api;
pub(crate) mod control;
pub(crate) mod dispatch;
pub(crate) mod ha;
pub(crate) mod http;
pub(crate) mod intake;
pub(crate) mod metrics;
pub(crate) mod notify;
pub(crate) mod silences;
pub(crate) mod status;
pub(crate) mod ui;

mod advice;
mod auth;
mod listener;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::backend::Backends;
use crate::config::Config;
use crate::store::Store;
use control::Control;
use dispatch::{DispatchOptions, Dispatcher, Loaded, QueueLimits};
use metrics::Metrics;

/// Options of `alertrun serve` that are not in the config file.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// The config file (read again on reload).
    pub config_path: PathBuf,
    /// The SHA-256 of the config's text as loaded ([`load_config_hashed`](crate::load_config_hashed)),
    /// which `/api/v1/status` shows; none: the file is read again to hash it.
    pub config_sha256: Option<String>,
    /// Listen here instead of `server.listen`.
    pub listen: Option<SocketAddr>,
    /// Allow a non-loopback address without authentication.
    pub insecure_no_auth: bool,
    /// Use this state directory instead of `server.state.dir`.
    pub state_dir: Option<PathBuf>,
    /// Record what every rule would run, run nothing.
    pub dry_run: bool,
    /// Called once start-up is done (config loaded, store recovered, listener bound),
    /// before the server reports ready: the binary hands what start-up freed back to the
    /// OS (its allocator keeps freed pages for a while, and an idle server would keep its
    /// start-up peak).
    pub release_memory: Option<fn()>,
}

/// Runs the server until SIGTERM or SIGINT, then stops taking notifications, lets running
/// actions finish within `server.shutdown_grace`, stops the rest and returns. SIGHUP (and
/// `POST /-/reload`) reloads the config.
///
/// # Errors
/// When the config cannot be served (a rule's executor cannot be built, such as a Job action
/// with no cluster), the address is refused by the exposure check, the store cannot be
/// opened, or the listener cannot be bound.
pub async fn run(config: Config, options: ServeOptions) -> anyhow::Result<()> {
    let mut settings = config.server().clone();
    if let Some(listen) = options.listen {
        settings.listen = listen;
    }
    if let Some(dir) = &options.state_dir {
        settings.state.dir.clone_from(dir);
    }
    crate::config::check_exposure(&settings, options.insecure_no_auth)
        .map_err(anyhow::Error::msg)?;
    crate::backend::adopt_orphans();
    tokio::spawn(crate::backend::reap_orphans());
    let mut backends = Backends::new();
    let executors = backends.executors(config.rule_actions()).await?;
    let store = if settings.state.durable {
        let dir = settings.state.dir.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&dir))
            .await?
            .map_err(|e| advice::store_error(&settings.state.dir, e))?;
        if store.is_read_only() {
            warn!(path = %store.path().display(),
                "the state store cannot be written (read-only volume or file): history can be \
                 read, notifications are refused with 503 until it can be written again");
        }
        Some(store)
    } else {
        warn!(
            "server.state.durable is false: accepted notifications and history live in memory only"
        );
        None
    };
    if settings.capture {
        warn!(
            "server.capture is true: runs are recorded with their notifications, and no action runs"
        );
    }
    let metrics = Metrics::new();
    let ha = match &settings.ha {
        Some(ha) => {
            let client = backends
                .cluster()
                .await
                .context("server.ha needs the Kubernetes API")?;
            let namespace = ha
                .namespace
                .clone()
                .unwrap_or_else(|| client.default_namespace().to_owned());
            info!(replica = %ha.replica, namespace = %namespace,
                lease = ?ha.lease_duration, "high availability: episodes are claimed on the Kubernetes API");
            Some(Arc::new(self::ha::Ha::new(
                self::ha::Claims::new(
                    client,
                    &namespace,
                    &ha.replica,
                    ha.url.as_deref(),
                    ha.lease_duration,
                    metrics.clone(),
                ),
                metrics.clone(),
            )))
        }
        None => None,
    };
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
            metrics: metrics.clone(),
            clock: Arc::new(dispatch::now_ms),
            dry_run: options.dry_run,
            capture: settings.capture,
            ha,
        },
    )
    .await
    .context("cannot recover the state store")?;
    metrics.config_reloaded(true, dispatch::unix_seconds());
    let control = Control::new(
        dispatcher.clone(),
        metrics.clone(),
        options.config_path.clone(),
        options.config_sha256.clone(),
        backends,
    );
    tokio::spawn(prune(store, dispatcher.clone(), settings.state.clone()));
    // The error names the address and what to do: no context to add.
    let bound = listener::bind(&settings).await?;
    info!(address = %bound.local_addr(), rules, tls = settings.tls.is_some(),
        auth = settings.auth.is_some(), durable = settings.state.durable,
        state_dir = %settings.state.dir.display(), "listening");
    if let Some(release) = options.release_memory {
        release();
    }
    control.set_ready(true);

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let signals = Arc::clone(&control);
    tokio::spawn(async move {
        handle_signals(&signals).await;
        let _ = stop_tx.send(true);
    });
    let closing = dispatcher.clone();
    // The actions' grace starts at the signal, beside the draining of requests in flight,
    // so the whole shutdown keeps to `shutdown_grace` (plus the rules' `stop_grace` for
    // actions that must be stopped).
    let stopping = {
        let dispatcher = dispatcher.clone();
        let grace = settings.shutdown_grace;
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
            dispatcher.shutdown(grace).await;
        })
    };
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
    let _ = stopping.await;
    crate::backend::end_orphans(std::time::Duration::from_secs(1)).await;
    info!("stopped");
    Ok(())
}

/// Deletes old history now and then, in small steps, and forgets the dedupe entries of
/// episodes not delivered for `state.episode_max_idle` (whatever the history retention: an
/// episode that keeps firing stays deduplicated).
async fn prune(store: Option<Store>, dispatcher: Dispatcher, state: crate::config::StateSettings) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    let idle = i64::try_from(state.episode_max_idle.as_millis()).unwrap_or(i64::MAX);
    loop {
        tick.tick().await;
        let now = dispatcher.now();
        dispatcher.forget_idle(now.saturating_sub(idle));
        dispatcher.forget_stale_rails();
        let Some(store) = store.clone() else {
            continue;
        };
        let max_age = i64::try_from(state.history_max_age.as_millis()).unwrap_or(i64::MAX);
        let keep = state.history_max_runs;
        let result = tokio::task::spawn_blocking(move || {
            let cutoff = now.saturating_sub(max_age);
            let mut total = 0;
            loop {
                let n = store.prune(cutoff, keep, now.saturating_sub(idle), 1000)?;
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
