//! Command-line parsing and the offline commands.

mod advice;
mod check;
mod import;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alertrun::{Config, explain, run_test_file};
use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;

mod client;
mod notifications;
mod output;
mod runs;
use client::TlsArgs;
use output::{err, out, outln};

/// Turns Prometheus alerts into remediation: rules select alerts, actions run as local
/// processes or Kubernetes Jobs.
#[derive(Parser, Debug)]
#[command(
    name = "alertrun",
    version,
    about,
    after_help = "Start with `alertrun check -c alertrun.yaml`, then `alertrun explain`; each \
                  command's --help has examples. The README's five-minute tour shows them all."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate a config; print every problem with its path and line.
    #[command(after_help = "Examples:
  alertrun check -c alertrun.yaml
  alertrun check -c alertrun.yaml --print > alertrun.canonical.yaml

README: \"A five-minute tour\" (alertrun check), \"Configuration\".")]
    Check {
        /// The config file.
        #[arg(short, long)]
        config: PathBuf,
        /// Print the config in canonical form (matchers canonical, defaults written out): it
        /// loads and means the same.
        #[arg(long)]
        print: bool,
        /// Make every warning an error (exit status 1).
        #[arg(long)]
        strict: bool,
        /// Example payloads (*.json in DIR: webhook payloads, or Prometheus alert arrays):
        /// also warn about labels and variables none of them has.
        #[arg(long, value_name = "DIR")]
        payloads: Option<PathBuf>,
        /// Require every secret to be read (by default the ones that cannot be are noted).
        #[arg(long)]
        secrets: bool,
    },
    /// Show, for each alert of a payload, every rule's verdict and what would run.
    #[command(after_help = "Examples:
  alertrun explain -c alertrun.yaml examples/payloads/node-disk-full.json
  alertrun explain -c alertrun.yaml --notification 12 --format json

README: \"A five-minute tour\" (alertrun explain), \"Capture and replay\".")]
    Explain {
        /// The config file.
        #[arg(short, long)]
        config: PathBuf,
        /// A webhook payload (JSON), as Alertmanager sends it.
        #[arg(required_unless_present = "notification")]
        payload: Option<PathBuf>,
        /// Explain a stored notification instead (its id: `alertrun runs show ID` names it),
        /// read from the server of the config, --url or --state-dir.
        #[arg(long, value_name = "ID", conflicts_with = "payload")]
        notification: Option<u64>,
        /// With --notification: read it from this state directory.
        #[arg(long, requires = "notification", conflicts_with = "url")]
        state_dir: Option<PathBuf>,
        /// With --notification: read it from the server at this URL.
        #[arg(long, requires = "notification")]
        url: Option<String>,
        #[command(flatten)]
        tls: TlsArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The payload is a JSON array of alerts as Prometheus posts them to Alertmanager.
        #[arg(long)]
        prometheus: bool,
    },
    /// Serve the webhook: take Alertmanager notifications and run the matching actions.
    #[command(after_help = "Examples:
  alertrun serve -c alertrun.yaml
  alertrun serve -c alertrun.yaml --dry-run --log-format json

README: \"Serving Alertmanager: alertrun serve\".")]
    Serve {
        /// The config file.
        #[arg(short, long)]
        config: PathBuf,
        /// Listen on this address instead of the config's `server.listen`.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Allow listening on a non-loopback address without authentication.
        #[arg(long)]
        insecure_no_auth: bool,
        /// Keep state in this directory instead of the config's `server.state.dir`.
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Record what every rule would run, and run nothing.
        #[arg(long)]
        dry_run: bool,
        /// Log format.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Show the run history of a running `alertrun serve` (newest first), or one run.
    Runs(runs::RunsArgs),
    /// Pause a running `alertrun serve`: no new run is queued until every reason is lifted
    /// (`alertrun resume`); runs already queued or running go on. Survives a restart.
    #[command(after_help = "Example:
  alertrun pause -c alertrun.yaml --reason \"deploy freeze\"

README: \"Safety: the rails\".")]
    Pause {
        #[command(flatten)]
        server: ServerArgs,
        /// Why (shown in the log, the API and every run skipped while paused).
        #[arg(long)]
        reason: String,
    },
    /// Lift a pause (`--reason`), or every pause.
    #[command(after_help = "Example:
  alertrun resume -c alertrun.yaml --reason \"deploy freeze\"

README: \"Safety: the rails\".")]
    Resume {
        #[command(flatten)]
        server: ServerArgs,
        /// The reason of the pause to lift; without it, every pause is lifted.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Approve a run waiting for approval (`alertrun runs` lists them in state
    /// awaiting_approval); it runs once it has the approvals its rule needs.
    #[command(after_help = "Example:
  alertrun approve -c alertrun.yaml 42 --comment \"checked the node\"

README: \"Humans in the loop: approval\".")]
    Approve {
        #[command(flatten)]
        server: ServerArgs,
        /// The run's id.
        id: u64,
        /// Why, recorded with the decision.
        #[arg(long)]
        comment: Option<String>,
        /// The person you decide for (recorded; an approver of the rule), when not the
        /// server's credentials' identity.
        #[arg(long)]
        by: Option<String>,
    },
    /// Reject a run waiting for approval: it never runs.
    #[command(after_help = "Example:
  alertrun reject -c alertrun.yaml 42 --reason \"not during the sale\"

README: \"Humans in the loop: approval\".")]
    Reject {
        #[command(flatten)]
        server: ServerArgs,
        /// The run's id.
        id: u64,
        /// Why, recorded with the decision.
        #[arg(long)]
        reason: String,
        /// The person you decide for (recorded), when not the credentials' identity.
        #[arg(long)]
        by: Option<String>,
    },
    /// Circuit breakers: close them by hand once a human has looked.
    #[command(after_help = "Example:
  alertrun breaker reset -c alertrun.yaml restart-crashlooping-pod

README: \"Safety: the rails\".")]
    Breaker {
        #[command(subcommand)]
        command: BreakerCommand,
    },
    /// Write an alertrun config that does what a prometheus-am-executor or bailer config
    /// did, with a comment on everything that could not be carried over.
    #[command(after_help = "Examples:
  alertrun import am-executor executor.yml -o alertrun.yaml
  alertrun import bailer config.yaml --namespace remediation -o alertrun.yaml

README: \"Coming from prometheus-am-executor or bailer\".")]
    Import {
        #[command(subcommand)]
        tool: import::ImportTool,
    },
    /// A stored notification, as received: `show ID`.
    #[command(after_help = "Examples:
  alertrun notifications show 12 -c alertrun.yaml
  alertrun notifications show 12 --state-dir /var/lib/alertrun > case.json

README: \"Capture and replay\".")]
    Notifications {
        #[command(subcommand)]
        command: NotificationsCommand,
    },
    /// Post a stored notification again, as Alertmanager would, e.g. to a test instance.
    #[command(after_help = "Example:
  alertrun replay 12 -c alertrun.yaml --to http://127.0.0.1:9096/webhook

README: \"Capture and replay\".")]
    Replay {
        #[command(flatten)]
        from: notifications::StoredArgs,
        /// The notification's id (`alertrun runs show ID` names it).
        id: u64,
        /// Where to post it: a webhook URL, e.g. http://127.0.0.1:9095/webhook.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Run rule unit tests (YAML files of cases); fail when any case fails.
    #[command(after_help = "Example:
  alertrun test -c examples/alertrun.yaml examples/tests.yaml

The test file format: README \"alertrun test: unit tests for rules\", or the docs of
alertrun::run_test_file.")]
    Test {
        /// The config file.
        #[arg(short, long)]
        config: PathBuf,
        /// Test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `alertrun approve|reject`: the decision, through the server's API.
fn decide(
    server: ServerArgs,
    id: u64,
    decision: &str,
    comment: Option<String>,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let server = Server::new(server.config.as_deref(), server.url, &server.tls)?;
    let mut query: Vec<(&str, String)> = comment.map(|c| ("comment", c)).into_iter().collect();
    query.extend(by.map(|b| ("by", b)));
    let answer: Value = server.post(&format!("/api/v1/runs/{id}/{decision}"), &query)?;
    let state = answer["state"].as_str().unwrap_or("?");
    let reason = answer["reason"]
        .as_str()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    outln!("run {id}: {state}{reason}");
    Ok(ExitCode::SUCCESS)
}

/// How to reach a running `alertrun serve`.
#[derive(clap::Args, Debug)]
struct ServerArgs {
    /// The server's config: its listen address and credentials.
    #[arg(short, long, required_unless_present = "url")]
    config: Option<PathBuf>,
    /// The server's base URL, e.g. http://127.0.0.1:9095 (default: from the config).
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
}

#[derive(Subcommand, Debug)]
enum NotificationsCommand {
    /// Print a stored notification, every field as received, as JSON.
    #[command(after_help = "Example:
  alertrun notifications show 12 -c alertrun.yaml > case.json

README: \"Capture and replay\".")]
    Show {
        #[command(flatten)]
        from: notifications::StoredArgs,
        /// The notification's id (`alertrun runs show ID` names it).
        id: u64,
    },
}

#[derive(Subcommand, Debug)]
enum BreakerCommand {
    /// Close the open breakers of a rule (of one target with `--target`).
    #[command(after_help = "Example:
  alertrun breaker reset -c alertrun.yaml restart-crashlooping-pod

README: \"Safety: the rails\".")]
    Reset {
        #[command(flatten)]
        server: ServerArgs,
        /// The rule.
        rule: String,
        /// The target, as the skip reason or `/api/v1/rules` shows it.
        #[arg(long)]
        target: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            err!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check {
            config,
            print,
            strict,
            payloads,
            secrets,
        } => check::check(&check::CheckArgs {
            config,
            print,
            strict,
            payloads,
            secrets,
        }),
        Command::Explain {
            config: path,
            payload,
            notification,
            state_dir,
            url,
            tls,
            format,
            prometheus,
        } => {
            let Some(config) = load_offline(&path) else {
                return Ok(ExitCode::FAILURE);
            };
            let n = match (payload, notification) {
                (Some(payload), _) => advice::payload(&payload, Some(prometheus))?,
                (None, Some(id)) => {
                    let server = state_dir.is_none().then_some(path.as_path());
                    let (text, _) =
                        notifications::fetch_from(server, url, state_dir.as_deref(), &tls, id)?;
                    alert_core::Notification::from_json(text.as_bytes())
                        .with_context(|| format!("notification {id}"))?
                }
                (None, None) => anyhow::bail!("give a payload file or --notification ID"),
            };
            let report = explain(&config, &n);
            match format {
                Format::Text => out!("{}", report.to_text()),
                Format::Json => outln!("{}", serde_json::to_string_pretty(&report.to_json())?),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            config: path,
            listen,
            insecure_no_auth,
            state_dir,
            dry_run,
            log_format,
        } => {
            init_logs(log_format);
            let (config, config_sha256) = match alertrun::load_config_hashed(&path) {
                Ok(loaded) => loaded,
                Err(e) => {
                    err!("{}: {e}", path.display());
                    return Ok(ExitCode::FAILURE);
                }
            };
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            runtime.block_on(alertrun::serve(
                config,
                alertrun::ServeOptions {
                    config_path: path,
                    config_sha256: Some(config_sha256),
                    listen,
                    insecure_no_auth,
                    state_dir,
                    dry_run,
                    release_memory: Some(crate::release_free_memory),
                },
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Runs(args) => runs::run(args),
        Command::Pause { server, reason } => {
            let server = Server::new(server.config.as_deref(), server.url, &server.tls)?;
            let answer: Value = server.post("/api/v1/pause", &[("reason", reason)])?;
            print_pauses(&answer);
            Ok(ExitCode::SUCCESS)
        }
        Command::Resume { server, reason } => {
            let server = Server::new(server.config.as_deref(), server.url, &server.tls)?;
            let query: Vec<(&str, String)> = reason.map(|r| ("reason", r)).into_iter().collect();
            let answer: Value = server.post("/api/v1/resume", &query)?;
            print_pauses(&answer);
            Ok(ExitCode::SUCCESS)
        }
        Command::Approve {
            server,
            id,
            comment,
            by,
        } => decide(server, id, "approve", comment, by),
        Command::Reject {
            server,
            id,
            reason,
            by,
        } => decide(server, id, "reject", Some(reason), by),
        Command::Breaker {
            command:
                BreakerCommand::Reset {
                    server,
                    rule,
                    target,
                },
        } => {
            let server = Server::new(server.config.as_deref(), server.url, &server.tls)?;
            let mut query = vec![("rule", rule.clone())];
            query.extend(target.map(|t| ("target", t)));
            let answer: Value = server.post("/api/v1/breakers/reset", &query)?;
            let closed = answer["closed"].as_array().cloned().unwrap_or_default();
            if closed.is_empty() {
                outln!("rule {rule}: no open breaker");
            }
            for target in closed {
                outln!(
                    "rule {rule}: closed the breaker of {}",
                    target.as_str().unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { tool } => import::run(tool),
        Command::Notifications {
            command: NotificationsCommand::Show { from, id },
        } => notifications::show(&from, id),
        Command::Replay { from, id, to } => notifications::replay(&from, id, &to),
        Command::Test { config, files } => {
            let Some(config) = load_offline(&config) else {
                return Ok(ExitCode::FAILURE);
            };
            let (mut passed, mut failed) = (0, 0);
            for file in &files {
                let report = run_test_file(&config, file)?;
                for name in &report.passed {
                    outln!("ok     {}: {name}", file.display());
                }
                for (name, why) in &report.failed {
                    outln!("FAILED {}: {name}", file.display());
                    for line in why.lines() {
                        outln!("    {line}");
                    }
                }
                passed += report.passed.len();
                failed += report.failed.len();
            }
            outln!("{passed} passed, {failed} failed");
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// A running `alertrun serve`, reached over HTTP with the config's credentials.
struct Server {
    base: String,
    authorization: Option<String>,
    agent: ureq::Agent,
}

impl Server {
    /// The server of `config` (or at `url`), reached with `tls`; with a config, checks that
    /// the server answering runs it (`client::judge`).
    fn new(config: Option<&Path>, url: Option<String>, tls: &TlsArgs) -> anyhow::Result<Self> {
        let path = config;
        let config = match config {
            Some(path) => {
                // A rule's secret_env is not needed to talk to the server; its credentials are.
                let config = Config::load_with(path, alertrun::Secrets::WhenReadable)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                advice::server_secrets(path, &config, url.is_some())?;
                Some(config)
            }
            None => None,
        };
        let base = match (url, &config) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(c)) if c.server().tls.is_some() => anyhow::bail!(
                "the server uses TLS: pass --url https://HOST:PORT (and --cacert CA.pem when a private CA signed its certificate)"
            ),
            (None, Some(c)) => format!(
                "http://{}{}",
                c.server().listen,
                c.server().route_prefix.as_deref().unwrap_or_default()
            ),
            (None, None) => anyhow::bail!("give --config or --url"),
        };
        let authorization = config.and_then(|c| match &c.server().auth {
            Some(alertrun::Auth::Bearer { token }) => Some(format!("Bearer {}", token.as_str())),
            Some(alertrun::Auth::Basic { username, password }) => {
                use headers::HeaderMapExt as _;
                let mut map = headers::HeaderMap::new();
                map.typed_insert(headers::Authorization::basic(username, password.as_str()));
                map.get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            }
            _ => None,
        });
        let server = Self {
            base,
            authorization,
            agent: tls.agent()?,
        };
        if let Some(path) = path {
            server.check_identity(path)?;
        }
        Ok(server)
    }

    /// Checks that the server runs the config at `path` (`GET /api/v1/status`); a server
    /// without that route (an older alertrun) is taken at its word.
    fn check_identity(&self, path: &Path) -> anyhow::Result<()> {
        let url = format!("{}/api/v1/status", self.base);
        let response = self
            .prepare(self.agent.get(&url), &[])
            .call()
            .map_err(|e| advice::unreachable(&url, e))?;
        if response.status() == ureq::http::StatusCode::NOT_FOUND {
            return Ok(());
        }
        let status: alertrun::ServerStatus = Self::answer(&url, response)?;
        if let Some(warning) = client::judge(&self.base, path, &status)? {
            err!("warning: {warning}");
        }
        Ok(())
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let sent = self.prepare(self.agent.get(&url), query).call();
        self.answered(&url, sent)
    }

    fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let sent = self.prepare(self.agent.post(&url), query).send_empty();
        self.answered(&url, sent)
    }

    /// The answer of a request to `url` that was `sent`, or what to do when nothing answered.
    fn answered<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<T> {
        let response = sent.map_err(|e| advice::unreachable(url, e))?;
        Self::answer(url, response)
    }

    /// `request` with the query and the credentials.
    fn prepare<B>(
        &self,
        request: ureq::RequestBuilder<B>,
        query: &[(&str, String)],
    ) -> ureq::RequestBuilder<B> {
        let mut request = request;
        for (k, v) in query {
            request = request.query(*k, v);
        }
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        request
    }

    /// The body of a successful answer, as text (a stored notification).
    fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .prepare(self.agent.get(&url), &[])
            .call()
            .with_context(|| format!("cannot reach {url}"))?;
        Self::answer_text(&url, response)
    }

    /// The JSON of a successful answer; the server's `error` otherwise.
    fn answer<T: serde::de::DeserializeOwned>(
        url: &str,
        response: ureq::http::Response<ureq::Body>,
    ) -> anyhow::Result<T> {
        let body = Self::answer_text(url, response)?;
        serde_json::from_str(&body).with_context(|| format!("unexpected answer from {url}"))
    }

    /// The body of a successful answer; the server's `error` otherwise.
    fn answer_text(
        url: &str,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> anyhow::Result<String> {
        let status = response.status();
        let body = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("cannot read the answer of {url}"))?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or(body);
            anyhow::bail!("{url}: {status}: {message}");
        }
        Ok(body)
    }
}

/// Prints whether the server is paused, and why.
fn print_pauses(answer: &Value) {
    let pauses = answer["pauses"].as_array().cloned().unwrap_or_default();
    if pauses.is_empty() {
        outln!("not paused: runs are queued");
    }
    for p in pauses {
        outln!(
            "paused: {} (by {}, since {})",
            p["reason"].as_str().unwrap_or_default(),
            p["by"].as_str().unwrap_or_default(),
            p["at"].as_str().unwrap_or_default()
        );
    }
}

/// Logs go to stderr; `RUST_LOG` (e.g. `alertrun=debug`) overrides the default `info`.
fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// The config for an offline command (`explain`, `test`): a secret that cannot be read is
/// noted, not required (they show as `<redacted>` anyway), so that these run where the
/// secrets are not, on a workstation or in CI.
fn load_offline(path: &Path) -> Option<Config> {
    let config = load_with(path, alertrun::Secrets::WhenReadable)?;
    for s in config.unread_secrets() {
        err!("{}: note: secret not read: {s}", path.display());
    }
    Some(config)
}

fn load_with(path: &Path, secrets: alertrun::Secrets) -> Option<Config> {
    match Config::load_with(path, secrets) {
        Ok(c) => Some(c),
        Err(e) => {
            err!("{}: {e}", path.display());
            None
        }
    }
}
