//! How the client commands (`runs`, `pause`, `approve`, `notifications`, ...) reach a
//! running `alertrun serve`: TLS to a server with a private CA or mutual TLS, and the check
//! that the server answering runs the config the command was given.
//!
//! It is not the HTTP client itself (`Server` in the CLI sends the requests): it builds
//! the ureq agent from `--cacert`, `--cert` and `--key`, and judges a server's
//! `GET /api/v1/status` against the local config file.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

/// TLS to the server: whom to trust, and the client certificate when it asks for one.
#[derive(clap::Args, Debug, Default, Clone)]
pub(super) struct TlsArgs {
    /// Trust the server's certificate when this CA (PEM file) signed it, e.g. a private
    /// CA (default: the Mozilla roots bundled in alertrun).
    #[arg(long, value_name = "PEM")]
    pub(super) cacert: Option<PathBuf>,
    /// Present this client certificate (PEM file, chain allowed) to a server that asks
    /// for one (`server.tls.client_ca`: mutual TLS); needs --key.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub(super) cert: Option<PathBuf>,
    /// The private key of --cert (PEM file).
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub(super) key: Option<PathBuf>,
}

impl TlsArgs {
    /// The agent every request to the server goes through.
    pub(super) fn agent(&self) -> anyhow::Result<ureq::Agent> {
        let read = |path: &Path| {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        };
        let mut tls = TlsConfig::builder();
        if let Some(path) = &self.cacert {
            let certs = certificates(&read(path)?)
                .with_context(|| format!("--cacert {}", path.display()))?;
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            let chain =
                certificates(&read(cert)?).with_context(|| format!("--cert {}", cert.display()))?;
            let key_pem = read(key)?;
            let key = PrivateKey::from_pem(&key_pem).map_err(|e| {
                anyhow::anyhow!("--key {}: not a PEM private key: {e}", key.display())
            })?;
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        let config = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .build();
        Ok(config.new_agent())
    }
}

/// Every certificate of a PEM file; none is an error.
fn certificates(pem: &[u8]) -> anyhow::Result<Vec<Certificate<'static>>> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let ureq::tls::PemItem::Certificate(c) = item.context("invalid PEM")? {
            certs.push(c);
        }
    }
    anyhow::ensure!(!certs.is_empty(), "no certificate in the file");
    Ok(certs)
}

/// Judges the `status` a server at `url` gave against the local config file `config`:
/// `Ok(None)` when it runs that file's bytes, `Ok(Some(warning))` when it runs the same
/// path with other bytes (edited, not reloaded yet), an error when it runs another config.
pub(super) fn judge(
    url: &str,
    config: &Path,
    status: &alertrun::ServerStatus,
) -> anyhow::Result<Option<String>> {
    let bytes =
        std::fs::read(config).with_context(|| format!("cannot read {}", config.display()))?;
    if status.config_sha256 == alertrun::sha256_hex(&bytes) {
        return Ok(None);
    }
    let local = std::path::absolute(config).unwrap_or_else(|_| config.to_owned());
    if Path::new(&status.config_path) == local {
        return Ok(Some(format!(
            "{url} runs an older version of {}: reload it (POST /-/reload or SIGHUP) to apply your edits",
            config.display()
        )));
    }
    anyhow::bail!(
        "{url} runs another config ({}, sha256 {}) than {}: pass the --url of the server that \
         runs {}, or update your copy of its config",
        status.config_path,
        status.config_sha256,
        config.display(),
        config.display()
    )
}
