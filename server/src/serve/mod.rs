//! `alertrun serve`: the webhook server, dispatch and the running of actions.
//!
//! The HTTP layer ([`http`]) parses and authenticates each request and hands the
//! notification to the [`dispatch::Dispatcher`], which answers at once: actions run later,
//! in the background, as the queue and the concurrency limits allow.

pub mod dispatch;
pub mod http;
pub mod intake;
pub mod settings;

mod auth;
mod listener;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use alert_core::Executor;
use anyhow::{Context as _, bail};
use executor_process::{ProcessExecutor, ProcessOptions, inherited_env, parse_signal};
use tokio::sync::watch;
use tracing::info;

use crate::config::{Action, Config};
use dispatch::{Dispatcher, QueueLimits};

/// Options of `alertrun serve` that are not in the config file.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// Listen here instead of `server.listen`.
    pub listen: Option<SocketAddr>,
    /// Allow a non-loopback address without authentication.
    pub insecure_no_auth: bool,
}

/// Builds one executor per rule, in rule order.
///
/// # Errors
/// When a rule's action cannot be run by `serve` (Kubernetes Jobs come in a later
/// release) or its stop signal is unknown.
pub fn executors(config: &Config) -> anyhow::Result<Vec<Arc<dyn Executor>>> {
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
                    Ok(Arc::new(ProcessExecutor::new(action.clone(), options))
                        as Arc<dyn Executor>)
                }
                Action::Kubernetes { .. } => bail!(
                    "rule {}: Kubernetes Job actions are not run by `alertrun serve` yet; \
                     `alertrun explain` shows the Job it would create",
                    rule.name
                ),
            }
        })
        .collect()
}

/// Runs the server until SIGTERM or SIGINT, then stops taking notifications, ends the
/// running actions and returns.
///
/// # Errors
/// When the config cannot be served (see [`executors`]), the address is refused by the
/// exposure check, or the listener cannot be bound.
pub async fn run(config: Config, options: ServeOptions) -> anyhow::Result<()> {
    let mut settings = config.server().clone();
    if let Some(listen) = options.listen {
        settings.listen = listen;
    }
    settings::check_exposure(&settings, options.insecure_no_auth).map_err(anyhow::Error::msg)?;
    let executors = executors(&config)?;
    let limits = QueueLimits {
        max_running: settings.max_running,
        max_queued: settings.max_queued,
    };
    let rules = config.rules().rules().len();
    let dispatcher = Dispatcher::start(Arc::new(config), executors, limits);
    let bound = listener::bind(&settings)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    info!(address = %bound.local_addr(), rules, tls = settings.tls.is_some(),
        auth = settings.auth.is_some(), "listening");

    let (stop_tx, mut stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let closing = dispatcher.clone();
    bound
        .serve(Arc::new(dispatcher.clone()), async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
            info!("shutting down: no longer taking notifications");
            closing.close();
        })
        .await;
    dispatcher.shutdown().await;
    info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, run until killed.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => info!(signal = "SIGTERM", "received"),
        _ = int.recv() => info!(signal = "SIGINT", "received"),
    }
}
