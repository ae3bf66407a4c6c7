//! `alertrun runs`: the run history of a running server (over its API) or of a state
//! directory (read straight from its store), as a table or as JSON.
//!
//! It lists and shows; it changes nothing. `--since` goes to the API's `since` (Unix
//! milliseconds). `--before` is a time here, but the API's `before` is a run id (its paging
//! cursor), so a time is applied while paging: runs created at or after it are skipped.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alertrun::{RunFilter, RunRecord, Store};
use clap::Subcommand;
use serde_json::json;

use super::client::TlsArgs;
use super::output::out;
use super::{Server, outln};

/// Arguments of `alertrun runs`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  alertrun runs -c alertrun.yaml --since 1h
  alertrun runs -c alertrun.yaml --state failed --json | jq '.runs[].id'
  alertrun runs --url https://alertrun.example:9095 --cacert ca.pem show 42
  alertrun runs --state-dir /var/lib/alertrun --rule restart-pod

README: \"Run history\" (alertrun runs).")]
pub(super) struct RunsArgs {
    /// The server's config: its listen address and credentials.
    #[arg(short, long, required_unless_present_any = ["url", "state_dir"])]
    config: Option<PathBuf>,
    /// Read the state directory instead of asking a server (only while no
    /// `alertrun serve` uses it).
    #[arg(long, conflicts_with_all = ["url", "config"])]
    state_dir: Option<PathBuf>,
    /// The server's base URL, e.g. http://127.0.0.1:9095 (default: from the config).
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
    /// Only this rule's runs.
    #[arg(long)]
    rule: Option<String>,
    /// Only runs in this state (queued, running, succeeded, failed, timed_out,
    /// cancelled, interrupted, skipped, awaiting_approval, ...).
    #[arg(long)]
    state: Option<String>,
    /// Only this alert's runs.
    #[arg(long)]
    fingerprint: Option<String>,
    /// Only runs created at or after this time: RFC 3339 (2026-01-02T15:04:05Z) or a
    /// duration ago (30m, 1h, 2days).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only runs created before this time: RFC 3339 or a duration ago.
    #[arg(long, value_name = "TIME")]
    before: Option<String>,
    /// At most this many (1 to 1000).
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print JSON (the API's shapes: `{"runs": [...]}`, or one run) instead of a table.
    #[arg(long)]
    json: bool,
    /// `show ID`: one run in detail.
    #[command(subcommand)]
    show: Option<RunsCommand>,
}

#[derive(Subcommand, Debug)]
enum RunsCommand {
    /// One run, every field.
    #[command(after_help = "Examples:
  alertrun runs -c alertrun.yaml show 42
  alertrun runs --state-dir /var/lib/alertrun --json show 42

README: \"Run history\" (alertrun runs).")]
    Show {
        /// The run's id.
        id: u64,
    },
}

/// Where the runs come from.
enum Source {
    Server(Server),
    Store(Store),
}

impl Source {
    fn run(&self, id: u64) -> anyhow::Result<RunRecord> {
        match self {
            Self::Server(server) => server.get(&format!("/api/v1/runs/{id}"), &[]),
            Self::Store(store) => store
                .run(id)?
                .ok_or_else(|| anyhow::anyhow!("no run {id} in {}", store.path().display())),
        }
    }

    /// One page, newest first: at most `filter.limit` runs, and the `before` of the next
    /// page (none where the history ends). A server looks at a bounded number of runs per
    /// answer, so its page may hold fewer than `filter.limit` with a next one to come.
    fn page(&self, filter: &RunFilter) -> anyhow::Result<RunsPage> {
        match self {
            Self::Server(server) => {
                let mut query = vec![("limit", filter.limit.to_string())];
                query.extend(filter.rule.clone().map(|v| ("rule", v)));
                query.extend(filter.state.map(|v| ("state", v.as_str().to_owned())));
                query.extend(filter.fingerprint.clone().map(|v| ("fingerprint", v)));
                query.extend(filter.since.map(|v| ("since", v.to_string())));
                query.extend(filter.until.map(|v| ("until", v.to_string())));
                query.extend(filter.before.map(|v| ("before", v.to_string())));
                server.get("/api/v1/runs", &query)
            }
            Self::Store(store) => {
                let page = store.runs_page(filter)?;
                Ok(RunsPage {
                    runs: page.runs,
                    next: page.next,
                })
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct RunsPage {
    runs: Vec<RunRecord>,
    #[serde(default)]
    next: Option<u64>,
}

/// `alertrun runs`.
pub(super) fn run(args: RunsArgs) -> anyhow::Result<ExitCode> {
    let source = match &args.state_dir {
        Some(dir) => Source::Store(Store::open_existing(dir)?),
        None => Source::Server(Server::new(
            args.config.as_deref(),
            args.url.clone(),
            &args.tls,
        )?),
    };
    if let Some(RunsCommand::Show { id }) = args.show {
        let run = source.run(id)?;
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&run)?);
        } else {
            out!("{}", alertrun::run_detail(&run));
            // `server.ha`: another replica ran the episode; its detail is in its store.
            if let Some((url, owner_run)) =
                run.claim.as_ref().and_then(|c| c.url.clone().zip(c.run))
            {
                let replica = run.claim.as_ref().map(|c| c.replica.as_str()).unwrap_or("");
                outln!("\nthe run on replica {replica} ({url}), which ran the episode:");
                let owner = Server::new(args.config.as_deref(), Some(url.clone()), &args.tls)
                    .and_then(|s| s.get::<RunRecord>(&format!("/api/v1/runs/{owner_run}"), &[]));
                match owner {
                    Ok(owner) => out!("{}", alertrun::run_detail(&owner)),
                    Err(e) => outln!("  cannot read it from {url}: {e:#}"),
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let now = SystemTime::now();
    let filter = RunFilter {
        rule: args.rule,
        state: args
            .state
            .map(|s| s.parse())
            .transpose()
            .map_err(|e| anyhow::anyhow!("--state: {e}"))?,
        fingerprint: args.fingerprint,
        since: args
            .since
            .map(|t| instant("--since", &t, now))
            .transpose()?,
        until: args
            .before
            .map(|t| instant("--before", &t, now))
            .transpose()?,
        limit: args.limit.clamp(1, RunFilter::MAX_LIMIT),
        ..RunFilter::default()
    };
    let runs = list(&source, filter)?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "runs": runs }))?
        );
    } else {
        out!("{}", alertrun::runs_table(&runs));
    }
    Ok(ExitCode::SUCCESS)
}

/// The first `filter.limit` runs that pass `filter`, newest first, over as many pages as
/// that takes.
fn list(source: &Source, mut filter: RunFilter) -> anyhow::Result<Vec<RunRecord>> {
    let want = filter.limit;
    let mut runs = Vec::new();
    loop {
        filter.limit = want - runs.len();
        let page = source.page(&filter)?;
        runs.extend(page.runs);
        match page.next {
            Some(next) if runs.len() < want => filter.before = Some(next),
            _ => {
                runs.truncate(want);
                return Ok(runs);
            }
        }
    }
}

/// A time given as RFC 3339 or as a duration before `now`, in Unix milliseconds.
fn instant(flag: &str, text: &str, now: SystemTime) -> anyhow::Result<i64> {
    if let Ok(ago) = humantime::parse_duration(text) {
        let at = now.checked_sub(ago).unwrap_or(UNIX_EPOCH);
        let ms = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        return Ok(i64::try_from(ms.as_millis()).unwrap_or(i64::MAX));
    }
    match alert_core::Timestamp::parse(text) {
        Ok(t) => Ok(t.unix_seconds().saturating_mul(1000)),
        Err(_) => anyhow::bail!(
            "{flag} {text:?} is not a time: write RFC 3339 (2026-01-02T15:04:05Z) or a \
             duration ago (30m, 1h, 2days)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_reads_durations_ago_and_rfc3339() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(instant("--since", "1h", now).unwrap(), 6_400_000);
        assert_eq!(
            instant("--since", "1970-01-01T00:00:10Z", now).unwrap(),
            10_000
        );
        let e = instant("--since", "yesterday", now).unwrap_err();
        assert!(
            e.to_string()
                .contains("--since \"yesterday\" is not a time"),
            "{e}"
        );
    }
}
