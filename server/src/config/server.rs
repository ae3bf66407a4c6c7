//! The `server:` section of the config: listen address, authentication, TLS, limits and the
//! run queue. Strict serde types (unknown keys are errors), validated into
//! [`ServerSettings`] by the config's validator, which reports a problem here like one in a
//! rule (path and line, with every other problem), reads the secrets and loads the TLS files
//! (`tls.rs`), so that every problem is found before a port is bound.
//!
//! ```yaml
//! server:
//!   listen: 127.0.0.1:9095
//!   auth:
//!     bearer_token_file: /etc/alertrun/token   # or bearer_token_env: ALERTRUN_TOKEN
//!     # basic: {username: alertmanager, password_file: /etc/alertrun/password}
//!   tls: {cert_file: server.pem, key_file: server-key.pem, client_ca_file: ca.pem}
//!   limits: {max_body_bytes: 4194304, max_alerts: 1000, max_connections: 1024,
//!            header_timeout: 10s, request_timeout: 30s}
//!   queue: {max_running: 16, max_queued: 1024}
//!   state: {dir: /var/lib/alertrun, durable: true, history_max_age: 7d, history_max_runs: 100000,
//!           episode_max_idle: 7d}
//!   shutdown_grace: 30s
//!   route_prefix: /alertrun      # every route under this path (behind a proxy that keeps it)
//!   approvals: {url: https://alertrun.example.com, link_secret_file: /etc/alertrun/link-key}
//!   ha: {mode: kubernetes, lease_duration: 15s}        # several replicas: see `ha.rs`
//! ```

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use serde::Deserialize;
use serde_json::Value;

use super::{ConfigError, Validator};

/// Default `listen`: loopback only, so that nothing is exposed by accident.
pub(super) fn default_listen() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 9095))
}

/// Default `limits.max_body_bytes`: 4 MiB.
pub(super) fn default_max_body_bytes() -> usize {
    4 << 20
}

/// Default `limits.max_alerts` (alerts per notification).
pub(super) fn default_max_alerts() -> usize {
    1000
}

/// Default `limits.max_connections`.
pub(super) fn default_max_connections() -> usize {
    1024
}

/// Default `limits.header_timeout`.
pub(super) fn default_header_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Default `limits.request_timeout`.
pub(super) fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Default `queue.max_running`.
pub(super) fn default_max_running() -> usize {
    16
}

/// Default `queue.max_queued`.
pub(super) fn default_max_queued() -> usize {
    1024
}

/// The validated `server:` section.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// How requests authenticate; `None` for no header authentication.
    pub auth: Option<Auth>,
    /// TLS, with optional client-certificate verification; `None` for plain HTTP.
    pub tls: Option<TlsSettings>,
    /// Request and connection limits.
    pub limits: Limits,
    /// The most actions running at once.
    pub max_running: usize,
    /// The most actions waiting to run.
    pub max_queued: usize,
    /// Where accepted notifications, dedupe state and run history are kept.
    pub state: StateSettings,
    /// On SIGTERM/SIGINT, how long running actions may go on before they are stopped.
    pub shutdown_grace: Duration,
    /// Signed approval links; `None`: approvals go through the API and CLI only.
    pub approval_links: Option<ApprovalLinks>,
    /// `server.ha`: several replicas coordinated through the Kubernetes API; `None`: one.
    pub ha: Option<super::ha::HaSettings>,
    /// `server.route_prefix`: the path every route is served under (`/alertrun`), like
    /// Alertmanager's `--web.route-prefix`; none: the root.
    pub route_prefix: Option<String>,
    /// `server.capture`: record every run the rules select, with the notification it came
    /// from, and run nothing (as `serve --dry-run`): for debugging a webhook.
    pub capture: bool,
}

/// `server.approvals`: where alertrun is reached from a notification, and the key that
/// signs one-time approve and reject links.
#[derive(Clone, Debug)]
pub struct ApprovalLinks {
    /// alertrun's URL as people reach it (scheme, host, any path prefix), no trailing `/`.
    pub url: String,
    /// The HMAC-SHA256 key of the links.
    pub secret: Secret,
}

/// The default retention of dedupe entries that no delivery refreshed
/// (`state.episode_max_idle`): a week, longer than any sane `repeat_interval`
/// (Alertmanager's default is 4h).
pub(crate) const DEFAULT_DEDUPE_IDLE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The `state:` settings: the store under a directory, and history retention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateSettings {
    /// The state directory. Used when `durable`.
    pub dir: PathBuf,
    /// Whether a notification is answered only once its runs are on disk (the default).
    /// `false` keeps everything in memory: a crash loses accepted work and history.
    pub durable: bool,
    /// History older than this is deleted.
    pub history_max_age: Duration,
    /// At most this many runs are kept.
    pub history_max_runs: usize,
    /// An episode's dedupe entry is forgotten once the episode was not delivered for this
    /// long, whatever the history retention. Alertmanager re-sends a firing group every
    /// `repeat_interval` (4h by default) and retries a failed delivery within one
    /// `group_interval`, so a value above both never lets a re-sent episode run again.
    pub episode_max_idle: Duration,
}

impl Default for StateSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("/var/lib/alertrun"),
            durable: true,
            history_max_age: Duration::from_secs(7 * 24 * 3600),
            history_max_runs: 100_000,
            episode_max_idle: DEFAULT_DEDUPE_IDLE,
        }
    }
}

/// Default `shutdown_grace`.
pub(super) fn default_shutdown_grace() -> Duration {
    Duration::from_secs(30)
}

impl Default for ServerSettings {
    /// Every default: loopback, no auth, no TLS.
    fn default() -> Self {
        Self {
            listen: default_listen(),
            auth: None,
            tls: None,
            limits: Limits::default(),
            max_running: default_max_running(),
            max_queued: default_max_queued(),
            state: StateSettings::default(),
            shutdown_grace: default_shutdown_grace(),
            approval_links: None,
            route_prefix: None,
            capture: false,
            ha: None,
        }
    }
}

/// How a request proves who sent it: the `Authorization` header Alertmanager's
/// `http_config` sends (`authorization: {credentials_file}` or `basic_auth`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The expected token.
        token: Secret,
    },
    /// `Authorization: Basic <base64(username:password)>`.
    Basic {
        /// The expected username.
        username: String,
        /// The expected password.
        password: Secret,
    },
}

/// A credential. Its `Debug` prints `<redacted>`, and it has no `Display`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for comparison (in constant time) or to send it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// TLS settings: the files as configured and the server config loaded from them.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// The certificate chain (PEM), leaf first.
    pub cert_file: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to. When set, every
    /// client must present such a certificate (mutual TLS).
    pub client_ca_file: Option<PathBuf>,
    #[cfg_attr(
        not(feature = "server"),
        allow(
            dead_code,
            reason = "built at load to check the files; the listener reads it"
        )
    )]
    pub(crate) config: Arc<ServerConfig>,
    /// A digest of the loaded certificates and key, so that a reload notices a renewed
    /// certificate at the same path.
    pub(crate) digest: u64,
}

impl TlsSettings {
    /// True when clients must present a certificate (mutual TLS).
    pub fn is_mutual(&self) -> bool {
        self.client_ca_file.is_some()
    }
}

/// Request and connection limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// The most alerts one notification may carry; more get 413.
    pub max_alerts: usize,
    /// The most connections served at once. Further connections wait in the listen backlog
    /// until one closes (they are not refused).
    pub max_connections: usize,
    /// How long a client may take to send the request headers (also the TLS handshake, and
    /// how long an idle keep-alive connection stays open).
    pub header_timeout: Duration,
    /// How long reading the body and handling one request may take; then 408.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: default_max_body_bytes(),
            max_alerts: default_max_alerts(),
            max_connections: default_max_connections(),
            header_timeout: default_header_timeout(),
            request_timeout: default_request_timeout(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    auth: Option<Value>,
    #[serde(default)]
    tls: Option<Value>,
    #[serde(default)]
    limits: Option<Value>,
    #[serde(default)]
    queue: Option<Value>,
    #[serde(default)]
    state: Option<Value>,
    #[serde(default)]
    shutdown_grace: Option<String>,
    #[serde(default)]
    approvals: Option<Value>,
    #[serde(default)]
    capture: bool,
    #[serde(default)]
    ha: Option<Value>,
    #[serde(default)]
    route_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovals {
    url: String,
    #[serde(default)]
    link_secret_file: Option<PathBuf>,
    #[serde(default)]
    link_secret_env: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawState {
    #[serde(default)]
    dir: Option<PathBuf>,
    #[serde(default)]
    durable: Option<bool>,
    #[serde(default)]
    history_max_age: Option<String>,
    #[serde(default)]
    history_max_runs: Option<u64>,
    #[serde(default)]
    episode_max_idle: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    #[serde(default)]
    bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    bearer_token_env: Option<String>,
    #[serde(default)]
    basic: Option<RawBasic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasic {
    username: String,
    #[serde(default)]
    password_file: Option<PathBuf>,
    #[serde(default)]
    password_env: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default)]
    max_body_bytes: Option<u64>,
    #[serde(default)]
    max_alerts: Option<u64>,
    #[serde(default)]
    max_connections: Option<u64>,
    #[serde(default)]
    header_timeout: Option<String>,
    #[serde(default)]
    request_timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    #[serde(default)]
    max_running: Option<u64>,
    #[serde(default)]
    max_queued: Option<u64>,
}

/// Parses and validates a `server:` section on its own (`null` means every default), as
/// [`Config`](crate::Config) does: reads the bearer token or password and loads the TLS files.
///
/// # Errors
/// [`ConfigError`] listing every problem, each at its path under `server`, such as
/// `server.auth.bearer_token_file` (without lines: there is no text).
pub fn parse_server(value: Value) -> Result<ServerSettings, ConfigError> {
    let mut v = Validator::new("");
    let settings = v.server(Some(value));
    if v.problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError {
            problems: v.problems,
        })
    }
}

/// Refuses to expose alertrun beyond this machine with no authentication: a non-loopback
/// `listen` needs `auth` or mutual TLS, unless `allow_insecure` (`--insecure-no-auth`).
///
/// # Errors
/// A message saying what to do.
pub fn check_exposure(settings: &ServerSettings, allow_insecure: bool) -> Result<(), String> {
    let authenticated =
        settings.auth.is_some() || settings.tls.as_ref().is_some_and(TlsSettings::is_mutual);
    if authenticated || allow_insecure || settings.listen.ip().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {} without authentication: anyone who can reach it could run \
         alertrun's actions; set server.auth (bearer_token_file, bearer_token_env or basic) or \
         server.tls.client_ca_file (mutual TLS), listen on a loopback address such as \
         127.0.0.1:9095, or pass --insecure-no-auth to accept the risk",
        settings.listen
    ))
}

impl ServerSettings {
    /// The fields of the `server:` section that differ between these settings (the running
    /// server's) and `new` (a reloaded config's), by config path, such as `server.listen`.
    ///
    /// `serve` builds its listener, authentication, limits, queue, store and shutdown from
    /// `server:` once, at start, so every change listed here takes effect only on a restart.
    /// TLS counts as changed when a file's path or its content (a renewed certificate) did.
    pub fn restart_needed(&self, new: &ServerSettings) -> Vec<&'static str> {
        let (a, b) = (self, new);
        let fields = [
            ("server.listen", a.listen != b.listen),
            ("server.auth", !same_auth(a.auth.as_ref(), b.auth.as_ref())),
            ("server.tls", !same_tls(a.tls.as_ref(), b.tls.as_ref())),
            (
                "server.limits.max_body_bytes",
                a.limits.max_body_bytes != b.limits.max_body_bytes,
            ),
            (
                "server.limits.max_alerts",
                a.limits.max_alerts != b.limits.max_alerts,
            ),
            (
                "server.limits.max_connections",
                a.limits.max_connections != b.limits.max_connections,
            ),
            (
                "server.limits.header_timeout",
                a.limits.header_timeout != b.limits.header_timeout,
            ),
            (
                "server.limits.request_timeout",
                a.limits.request_timeout != b.limits.request_timeout,
            ),
            ("server.queue.max_running", a.max_running != b.max_running),
            ("server.queue.max_queued", a.max_queued != b.max_queued),
            ("server.state.dir", a.state.dir != b.state.dir),
            ("server.state.durable", a.state.durable != b.state.durable),
            ("server.capture", a.capture != b.capture),
            ("server.route_prefix", a.route_prefix != b.route_prefix),
            ("server.ha", a.ha != b.ha),
            (
                "server.state.history_max_age",
                a.state.history_max_age != b.state.history_max_age,
            ),
            (
                "server.state.history_max_runs",
                a.state.history_max_runs != b.state.history_max_runs,
            ),
            (
                "server.state.episode_max_idle",
                a.state.episode_max_idle != b.state.episode_max_idle,
            ),
            (
                "server.shutdown_grace",
                a.shutdown_grace != b.shutdown_grace,
            ),
            (
                "server.approvals",
                a.approval_links
                    .as_ref()
                    .map(|l| (&l.url, l.secret.as_str()))
                    != b.approval_links
                        .as_ref()
                        .map(|l| (&l.url, l.secret.as_str())),
            ),
        ];
        fields
            .into_iter()
            .filter_map(|(path, changed)| changed.then_some(path))
            .collect()
    }
}

fn same_auth(a: Option<&Auth>, b: Option<&Auth>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Auth::Bearer { token: a }), Some(Auth::Bearer { token: b })) => {
            a.as_str() == b.as_str()
        }
        (
            Some(Auth::Basic {
                username: ua,
                password: pa,
            }),
            Some(Auth::Basic {
                username: ub,
                password: pb,
            }),
        ) => ua == ub && pa.as_str() == pb.as_str(),
        _ => false,
    }
}

fn same_tls(a: Option<&TlsSettings>, b: Option<&TlsSettings>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            (&a.cert_file, &a.key_file, &a.client_ca_file, a.digest)
                == (&b.cert_file, &b.key_file, &b.client_ca_file, b.digest)
        }
        _ => false,
    }
}

impl Validator<'_> {
    /// Validates the `server:` section (absent or `null`: every default), reporting each
    /// problem at its path under `server`. Reads the secrets and loads the TLS files.
    pub(super) fn server(&mut self, value: Option<Value>) -> ServerSettings {
        let value = match value {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(value) => value,
        };
        let raw: RawServer = self.typed("server", value).unwrap_or_default();
        let listen = match raw.listen {
            None => default_listen(),
            Some(text) => text.parse::<SocketAddr>().unwrap_or_else(|_| {
                self.problem(
                    "server.listen",
                    format!("invalid listen address {text:?}: write IP:port, such as 127.0.0.1:9095 or [::]:9095"),
                );
                default_listen()
            }),
        };
        let auth = raw.auth.and_then(|v| self.auth(v));
        let tls = raw.tls.and_then(|v| self.tls(v));
        let limits = self.limits(raw.limits);
        let queue: RawQueue = raw
            .queue
            .and_then(|v| self.typed("server.queue", v))
            .unwrap_or_default();
        let max_running = self
            .count("server.queue.max_running", queue.max_running)
            .unwrap_or_else(default_max_running);
        let max_queued = self
            .count("server.queue.max_queued", queue.max_queued)
            .unwrap_or_else(default_max_queued);
        let state = self.state(raw.state);
        let shutdown_grace = raw
            .shutdown_grace
            .and_then(|t| self.duration("server.shutdown_grace", &t))
            .unwrap_or_else(default_shutdown_grace);
        let approval_links = raw.approvals.and_then(|v| self.approval_links(v));
        let route_prefix = raw.route_prefix.and_then(|p| self.route_prefix(&p));
        let ha = raw
            .ha
            .and_then(|v| self.ha(v, listen.port(), tls.is_some()));
        ServerSettings {
            listen,
            auth,
            tls,
            limits,
            max_running,
            max_queued,
            state,
            shutdown_grace,
            approval_links,
            route_prefix,
            capture: raw.capture,
            ha,
        }
    }

    /// `server.route_prefix`: `/` and path segments of URL-safe characters; a trailing `/`
    /// is dropped, and `/` alone is no prefix.
    fn route_prefix(&mut self, text: &str) -> Option<String> {
        let prefix = text.trim_end_matches('/');
        let safe = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
        let valid = text.starts_with('/')
            && prefix
                .split('/')
                .skip(1)
                .all(|segment| !segment.is_empty() && segment.chars().all(safe));
        if !valid {
            self.problem(
                "server.route_prefix",
                format!(
                    "invalid route prefix {text:?}: write a path such as /alertrun (segments of \
                     letters, digits, '-', '.', '_' and '~')"
                ),
            );
            return None;
        }
        (!prefix.is_empty()).then(|| prefix.to_owned())
    }

    fn approval_links(&mut self, value: Value) -> Option<ApprovalLinks> {
        let raw: RawApprovals = self.typed("server.approvals", value)?;
        let url = raw.url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) || has_control(&url) {
            self.problem(
                "server.approvals.url",
                format!(
                    "{url:?} is not an http(s) URL: write alertrun's address as people reach it"
                ),
            );
            return None;
        }
        let secret = match (raw.link_secret_file, raw.link_secret_env) {
            (Some(file), None) => {
                let at = "server.approvals.link_secret_file";
                let read = self.secret_from_file(at, &file, "link secret");
                read.map_err(|m| (at, m))
            }
            (None, Some(name)) => {
                let at = "server.approvals.link_secret_env";
                let read = self.secret_from_env(at, &name, "link secret");
                read.map_err(|m| (at, m))
            }
            _ => Err((
                "server.approvals",
                "set exactly one of link_secret_file or link_secret_env".to_owned(),
            )),
        };
        let secret = secret.map_err(|(path, m)| self.problem(path, m)).ok()?;
        if secret.as_str().len() < 16 {
            self.problem(
                "server.approvals",
                "the link secret must be at least 16 characters: it signs approvals",
            );
            return None;
        }
        Some(ApprovalLinks { url, secret })
    }

    fn state(&mut self, value: Option<Value>) -> StateSettings {
        let raw: RawState = value
            .and_then(|v| self.typed("server.state", v))
            .unwrap_or_default();
        let d = StateSettings::default();
        let state = StateSettings {
            dir: raw.dir.unwrap_or(d.dir),
            durable: raw.durable.unwrap_or(d.durable),
            history_max_age: raw
                .history_max_age
                .and_then(|t| self.duration("server.state.history_max_age", &t))
                .unwrap_or(d.history_max_age),
            history_max_runs: self
                .count("server.state.history_max_runs", raw.history_max_runs)
                .unwrap_or(d.history_max_runs),
            episode_max_idle: raw
                .episode_max_idle
                .and_then(|t| self.duration("server.state.episode_max_idle", &t))
                .unwrap_or(d.episode_max_idle),
        };
        if state.dir.as_os_str().is_empty() {
            self.problem("server.state.dir", "must not be empty");
        }
        state
    }

    fn auth(&mut self, value: Value) -> Option<Auth> {
        let raw: RawAuth = self.typed("server.auth", value)?;
        let result = match (raw.bearer_token_file, raw.bearer_token_env, raw.basic) {
            (Some(file), None, None) => {
                let at = "server.auth.bearer_token_file";
                let read = self.secret_from_file(at, &file, "token");
                read.map(|token| Auth::Bearer { token })
                    .map_err(|m| (at, m))
            }
            (None, Some(name), None) => {
                let at = "server.auth.bearer_token_env";
                let read = self.secret_from_env(at, &name, "token");
                read.map(|token| Auth::Bearer { token })
                    .map_err(|m| (at, m))
            }
            (None, None, Some(basic)) => self.basic_auth(basic),
            _ => Err((
                "server.auth",
                "set exactly one of bearer_token_file, bearer_token_env or basic".to_string(),
            )),
        };
        result.map_err(|(path, m)| self.problem(path, m)).ok()
    }

    fn limits(&mut self, value: Option<Value>) -> Limits {
        let raw: RawLimits = value
            .and_then(|v| self.typed("server.limits", v))
            .unwrap_or_default();
        let d = Limits::default();
        Limits {
            max_body_bytes: self
                .count("server.limits.max_body_bytes", raw.max_body_bytes)
                .unwrap_or(d.max_body_bytes),
            max_alerts: self
                .count("server.limits.max_alerts", raw.max_alerts)
                .unwrap_or(d.max_alerts),
            max_connections: self
                .count("server.limits.max_connections", raw.max_connections)
                .unwrap_or(d.max_connections),
            header_timeout: raw
                .header_timeout
                .and_then(|t| self.duration("server.limits.header_timeout", &t))
                .unwrap_or(d.header_timeout),
            request_timeout: raw
                .request_timeout
                .and_then(|t| self.duration("server.limits.request_timeout", &t))
                .unwrap_or(d.request_timeout),
        }
    }

    /// A count that must be at least 1 (and fit the semaphores and queues that use it).
    fn count(&mut self, path: &str, value: Option<u64>) -> Option<usize> {
        const MAX: u64 = 1 << 40;
        match value? {
            0 => self.problem(path, "must be at least 1"),
            n if n > MAX => self.problem(path, format!("{n} is more than the limit of {MAX}")),
            n => return usize::try_from(n).ok(),
        }
        None
    }
}

impl Validator<'_> {
    fn basic_auth(&mut self, raw: RawBasic) -> Result<Auth, (&'static str, String)> {
        if raw.username.is_empty() || raw.username.contains(':') || has_control(&raw.username) {
            return Err((
                "server.auth.basic.username",
                format!(
                    "invalid username {:?}: it must be non-empty, without ':' or control characters",
                    raw.username
                ),
            ));
        }
        let password = match (raw.password_file, raw.password_env) {
            (Some(file), None) => {
                let at = "server.auth.basic.password_file";
                self.secret_from_file(at, &file, "password")
                    .map_err(|m| (at, m))
            }
            (None, Some(name)) => {
                let at = "server.auth.basic.password_env";
                self.secret_from_env(at, &name, "password")
                    .map_err(|m| (at, m))
            }
            _ => Err((
                "server.auth.basic",
                "set exactly one of password_file or password_env".to_string(),
            )),
        }?;
        Ok(Auth::Basic {
            username: raw.username,
            password,
        })
    }
}

/// Refuses secrets that no client could send in a header.
pub(super) fn checked_secret(value: &str, what: &str, source: &str) -> Result<Secret, String> {
    if value.is_empty() {
        Err(format!("the {what} in {source} is empty"))
    } else if has_control(value) {
        Err(format!(
            "the {what} in {source} contains a control character (more than one line?)"
        ))
    } else if value.trim() != value {
        Err(format!(
            "the {what} in {source} starts or ends with whitespace"
        ))
    } else {
        Ok(Secret::new(value))
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests;
