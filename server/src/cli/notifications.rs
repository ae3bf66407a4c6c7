//! Capture and replay: `alertrun notifications show ID`, `alertrun replay ID --to URL` and
//! the stored notification behind `alertrun explain --notification ID`.
//!
//! Each run records the id of the notification it came from (`alertrun runs show`), and the
//! store keeps that notification's body while a run refers to it: every field Alertmanager
//! sent, unknown ones too, as JSON. These commands fetch it from a running server
//! (`GET /api/v1/notifications/{id}`) or from a state directory, and print it, post it again,
//! or explain it offline. They change nothing in the store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::client::TlsArgs;
use super::{Server, err, out, outln};

/// Where a stored notification is read: a running server, or a state directory.
#[derive(clap::Args, Debug)]
pub(super) struct StoredArgs {
    /// The server's config: its listen address and credentials.
    #[arg(short, long, required_unless_present_any = ["url", "state_dir"])]
    config: Option<PathBuf>,
    /// The server's base URL, e.g. http://127.0.0.1:9095 (default: from the config).
    #[arg(long)]
    url: Option<String>,
    /// Read the state directory instead of asking a server (only while no
    /// `alertrun serve` uses it).
    #[arg(long, conflicts_with_all = ["url", "config"])]
    state_dir: Option<PathBuf>,
    #[command(flatten)]
    tls: TlsArgs,
}

/// `alertrun notifications show ID`: the body, as stored, on stdout.
pub(super) fn show(from: &StoredArgs, id: u64) -> anyhow::Result<ExitCode> {
    let (body, _) = fetch(from, id)?;
    outln!("{}", body.trim_end());
    Ok(ExitCode::SUCCESS)
}

/// `alertrun replay ID --to URL`: posts the body to `to`, as Alertmanager would. The
/// server's credentials go along only when `to` is that server.
pub(super) fn replay(from: &StoredArgs, id: u64, to: &str) -> anyhow::Result<ExitCode> {
    let (body, server) = fetch(from, id)?;
    let agent = from.tls.agent()?;
    let mut request = agent.post(to).content_type("application/json");
    if let Some(server) = server.as_ref().filter(|s| same_origin(&s.base, to)) {
        if let Some(auth) = &server.authorization {
            request = request.header("Authorization", auth);
        }
    }
    let mut response = request
        .send(body.as_bytes())
        .with_context(|| format!("cannot reach {to}"))?;
    let status = response.status();
    let answer = response.body_mut().read_to_string().unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!("{to}: {status}: {}", answer.trim_end());
    }
    outln!("notification {id} posted to {to}: {status}");
    if !answer.trim().is_empty() {
        out!("{}\n", answer.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

/// The stored notification `id`, as text, and the server it came from (none: a state
/// directory).
pub(super) fn fetch(from: &StoredArgs, id: u64) -> anyhow::Result<(String, Option<Server>)> {
    fetch_from(
        from.config.as_deref(),
        from.url.clone(),
        from.state_dir.as_deref(),
        &from.tls,
        id,
    )
}

/// As [`fetch`], from its parts (`explain` has its own `-c`).
pub(super) fn fetch_from(
    config: Option<&Path>,
    url: Option<String>,
    state_dir: Option<&Path>,
    tls: &TlsArgs,
    id: u64,
) -> anyhow::Result<(String, Option<Server>)> {
    if let Some(dir) = state_dir {
        let store = alertrun::Store::open_existing(dir)?;
        let body = store.notification(id)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no notification {id} in {}: the store keeps a notification while a run \
                 refers to it (`alertrun runs show ID` names it)",
                dir.display()
            )
        })?;
        let text = String::from_utf8(body)
            .map_err(|_| anyhow::anyhow!("notification {id} in {} is not UTF-8", dir.display()))?;
        return Ok((text, None));
    }
    let server = Server::new(config, url, tls)?;
    let body = server.get_text(&format!("/api/v1/notifications/{id}"))?;
    Ok((body, Some(server)))
}

/// Whether `url` is on the server at `base` (same scheme, host and port).
fn same_origin(base: &str, url: &str) -> bool {
    let origin = |u: &str| {
        let (scheme, rest) = u.split_once("://").unwrap_or(("", u));
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        (scheme.to_ascii_lowercase(), host.to_ascii_lowercase())
    };
    let same = origin(base) == origin(url);
    if !same {
        err!("note: {url} is not the server at {base}: posting without its credentials");
    }
    same
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn credentials_go_only_to_the_same_server() {
        let base = "http://127.0.0.1:9095";
        assert!(same_origin(base, "http://127.0.0.1:9095/webhook"));
        assert!(same_origin(base, "HTTP://127.0.0.1:9095/webhook?x=1"));
        assert!(!same_origin(base, "http://127.0.0.1:9096/webhook"));
        assert!(!same_origin(base, "https://127.0.0.1:9095/webhook"));
        assert!(!same_origin(
            base,
            "http://127.0.0.1:9095.evil.example/webhook"
        ));
    }
}
