//! Binding the listener and serving the HTTP [`app`](super::http::app) on it: HTTP/1.1
//! over plain TCP or TLS (optionally mutual), with the connection limit, the header timeout
//! and graceful shutdown. It answers no request itself: every response, error or not, comes
//! from the app.
//!
//! - **Connections**: at most `limits.max_connections` are served at once. Further ones are
//!   not accepted until one closes: they wait in the kernel's listen backlog (and may time
//!   out there), they are never refused with an error.
//! - **Header timeout**: `limits.header_timeout` bounds the TLS handshake and the wait for
//!   each request's headers, which also closes idle keep-alive connections after that long.
//! - **Request timeout and body limit**: enforced by the app's receiving routes, not here
//!   (`limits.request_timeout` gives 408, `limits.max_body_bytes` 413), so that they are
//!   answered and counted like every other refused notification. A request whose headers
//!   do not arrive within the header timeout, or are too large for hyper, is no
//!   notification: hyper closes the connection (or answers 431) and nothing is counted.
//! - **Shutdown**: when `shutdown` resolves, the listener closes (new connections are
//!   refused by the kernel), idle connections close, and requests in flight finish, which
//!   the timeouts above bound.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tracing::{debug, info, warn};

use super::http::{Backends, app};
use super::intake::Intake;
use crate::config::ServerSettings;

/// The peer's address, put in each request's extensions for the logs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerAddr(pub(crate) SocketAddr);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error(
        "cannot listen on {addr}: the address is in use (another alertrun serve?): stop what \
         listens there, or pick a free address with --listen or server.listen"
    )]
    InUse {
        /// The configured address.
        addr: SocketAddr,
    },
    /// The listen address could not be bound for another reason.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}

/// A bound listener, not yet serving: its address is known (useful with port 0).
#[derive(Debug)]
pub struct Bound {
    listener: TcpListener,
    local_addr: SocketAddr,
    settings: Arc<ServerSettings>,
}

/// Binds `settings.listen`.
///
/// # Errors
/// [`ServeError::Bind`] when the address cannot be bound (in use, not local, no permission).
pub async fn bind(settings: &ServerSettings) -> Result<Bound, ServeError> {
    let addr = settings.listen;
    let bind_error = |source: io::Error| match source.kind() {
        io::ErrorKind::AddrInUse => ServeError::InUse { addr },
        _ => ServeError::Bind { addr, source },
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    Ok(Bound {
        listener,
        local_addr,
        settings: Arc::new(settings.clone()),
    })
}

impl Bound {
    /// The address actually bound (the real port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves the HTTP app of `intake` alone until `shutdown`
    /// resolves; see [`Bound::serve_with`].
    pub async fn serve(
        self,
        intake: Arc<dyn Intake>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        self.serve_with(Backends::new(intake), shutdown).await;
    }

    /// Serves the HTTP app of `backends` until `shutdown` resolves, then
    /// stops accepting and returns once the connections still open have finished their
    /// requests.
    pub async fn serve_with(
        self,
        backends: Backends,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        let Bound {
            listener,
            local_addr,
            settings,
        } = self;
        let limits = &settings.limits;
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let template = Connection {
            http,
            service: warp::service(app(settings.clone(), backends)),
            tls: settings
                .tls
                .as_ref()
                .map(|t| TlsAcceptor::from(t.config.clone())),
            header_timeout: limits.header_timeout,
        };
        let permits = Arc::new(Semaphore::new(limits.max_connections));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        debug!(address = %local_addr, tls = template.tls.is_some(), "serving");
        loop {
            let permit = tokio::select! {
                biased;
                () = &mut shutdown => break,
                permit = permits.clone().acquire_owned() => {
                    permit.expect("the connection semaphore is never closed")
                }
            };
            let accepted = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((tcp, peer)) => {
                    let conn = template.clone();
                    tokio::spawn(conn.run(tcp, peer, graceful.watcher(), permit));
                }
                Err(e) => {
                    // Usually out of file descriptors: wait for some to be freed.
                    warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        drop(listener);
        info!(
            connections = graceful.count(),
            "stopped listening; finishing the requests in flight"
        );
        // Requests in flight get at most `shutdown_grace`, the budget the whole shutdown
        // keeps to (the actions' grace runs beside it, from the same signal).
        if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            warn!("shutdown_grace is over: closing the connections still in flight");
        } else {
            debug!("all connections closed");
        }
    }
}

/// What serving one connection needs; cloned per connection.
#[derive(Clone)]
struct Connection<S> {
    http: http1::Builder,
    service: S,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
}

impl<S> Connection<S>
where
    S: tower_service::Service<
            hyper::Request<Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    /// Serves one connection; the watcher makes shutdown wait for it (TLS handshake
    /// included), and the permit frees its place when it ends.
    async fn run(
        self,
        tcp: TcpStream,
        peer: SocketAddr,
        watcher: Watcher,
        _permit: OwnedSemaphorePermit,
    ) {
        // Responses are written whole; do not wait to coalesce them.
        let _ = tcp.set_nodelay(true);
        let service = self.service;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(PeerAddr(peer));
            tower_service::Service::call(&mut service.clone(), request)
        });
        let result = match self.tls {
            None => {
                let conn = self.http.serve_connection(TokioIo::new(tcp), service);
                watcher.watch(conn).await
            }
            Some(acceptor) => {
                let stream =
                    match tokio::time::timeout(self.header_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => return handshake_failed(peer, &e),
                        Err(_) => {
                            debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                let conn = self.http.serve_connection(TokioIo::new(stream), service);
                watcher.watch(conn).await
            }
        };
        if let Err(e) = result {
            debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// A client without an acceptable certificate is an authentication failure (WARN); other
/// handshake failures (plain HTTP, scanners) are routine (DEBUG).
fn handshake_failed(peer: SocketAddr, e: &io::Error) {
    let cause = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
    match cause {
        Some(rustls::Error::NoCertificatesPresented | rustls::Error::InvalidCertificate(_)) => {
            warn!(%peer, error = %e, "TLS client refused: no acceptable client certificate");
        }
        _ => debug!(%peer, error = %e, "TLS handshake failed"),
    }
}
