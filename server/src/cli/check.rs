//! `alertrun check`: validate a config, then show its warnings, its lints and the secrets it
//! did not read.
//!
//! Problems make the config invalid (exit 1). Warnings (the validator's and the lints of
//! `Config::lints`, with `--payloads DIR` those that need example alerts) are printed with
//! their path and line and leave the exit status 0, unless `--strict` makes them errors.
//!
//! Secrets: by default `check` reads the secrets it can and notes the others (a missing
//! file, an unset variable) without failing, so that a config checks on a workstation or
//! in CI, where the secrets are not; `--secrets` requires every one, for the host that
//! serves. `serve` always requires them. The flag is opt-in (not `--no-secrets`) because
//! `check` is mostly run where the secrets are not, and a missing one fails `serve` at once
//! anyway.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alert_core::Notification;
use alert_match::Mode;
use alertrun::{Config, Secrets};

use super::output::{err, out};
use super::{advice, load_with};

/// What `check` was asked.
pub(super) struct CheckArgs {
    pub(super) config: PathBuf,
    pub(super) print: bool,
    pub(super) strict: bool,
    pub(super) payloads: Option<PathBuf>,
    pub(super) secrets: bool,
}

pub(super) fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let path = &args.config;
    let secrets = if args.secrets {
        Secrets::Required
    } else {
        Secrets::WhenReadable
    };
    let Some(config) = load_with(path, secrets) else {
        return Ok(ExitCode::FAILURE);
    };
    let payloads = args.payloads.as_deref().map(payloads).transpose()?;
    let text = Config::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if args.print {
        // The config in canonical form, alone on stdout: it can be piped into a file and
        // loaded. Every message goes to stderr.
        match alertrun::canonical_config(&text) {
            Ok(yaml) => out!("{yaml}"),
            Err(e) => {
                err!("{}: cannot print: {e}", path.display());
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let lints = config.lints(&text, payloads.as_deref());
    let kind = if args.strict { "error" } else { "warning" };
    let warnings = config.warnings().iter().chain(&lints);
    for w in warnings.clone() {
        err!("{}: {kind}: {w}", path.display());
    }
    for s in config.unread_secrets() {
        err!(
            "{}: note: secret not read (pass --secrets to require it): {s}",
            path.display()
        );
    }
    let count = warnings.count();
    if args.strict && count > 0 {
        err!(
            "{}: FAILED, {count} warning{} (errors with --strict)",
            path.display(),
            if count == 1 { "" } else { "s" }
        );
        return Ok(ExitCode::FAILURE);
    }
    let rules = config.rules().rules();
    let groups = rules.iter().filter(|r| r.mode == Mode::PerGroup).count();
    err!(
        "{}: OK, {} rules ({} per-alert, {} per-group)",
        path.display(),
        rules.len(),
        rules.len() - groups,
        groups
    );
    Ok(ExitCode::SUCCESS)
}

/// The example notifications in `dir`: each `*.json` file, a webhook payload or (a JSON
/// array) the alerts Prometheus posts, in name order.
fn payloads(dir: &Path) -> anyhow::Result<Vec<Notification>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("--payloads {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        anyhow::bail!(
            "--payloads {}: no *.json file there: save webhook payloads as Alertmanager \
             sends them (or Prometheus' alert arrays) as NAME.json",
            dir.display()
        );
    }
    files.iter().map(|f| advice::payload(f, None)).collect()
}
