//! `server.tls`: loads the TLS files into a rustls server config (ring provider), with
//! client-certificate verification when a client CA is set. Files are read once, at config
//! validation.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::Validator;
use super::server::TlsSettings;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: PathBuf,
    key_file: PathBuf,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
}

impl Validator<'_> {
    /// Validates `server.tls` and loads its files, reporting each problem at its field.
    pub(super) fn tls(&mut self, value: Value) -> Option<TlsSettings> {
        let raw: RawTls = self.typed("server.tls", value)?;
        if self.tls_files_unread(&raw) {
            return None;
        }
        match server_config(&raw) {
            Ok((config, digest)) => Some(TlsSettings {
                cert_file: raw.cert_file,
                key_file: raw.key_file,
                client_ca_file: raw.client_ca_file,
                config,
                digest,
            }),
            Err(problems) => {
                for (field, message) in problems {
                    let path = if field.is_empty() {
                        "server.tls".to_owned()
                    } else {
                        format!("server.tls.{field}")
                    };
                    self.problem(path, message);
                }
                None
            }
        }
    }
}

impl Validator<'_> {
    /// With [`super::Secrets::WhenReadable`], notes each TLS file that cannot be opened and
    /// returns true when there is one: TLS is then left out of the settings.
    fn tls_files_unread(&mut self, raw: &RawTls) -> bool {
        let files = [
            ("cert_file", Some(&raw.cert_file)),
            ("key_file", Some(&raw.key_file)),
        ];
        let mut unread = false;
        for (field, file) in files
            .into_iter()
            .chain([("client_ca_file", raw.client_ca_file.as_ref())])
        {
            let Some(file) = file else { continue };
            if let Err(e) = std::fs::File::open(file) {
                let message = format!("cannot read {}: {e}", file.display());
                unread |= self.note_unread(&format!("server.tls.{field}"), message);
            }
        }
        unread
    }
}

/// Problems as (field of `tls`, message).
type Problems = Vec<(String, String)>;

/// Builds the server config and a digest of what it was built from, or every problem.
fn server_config(raw: &RawTls) -> Result<(Arc<ServerConfig>, u64), Problems> {
    let mut problems = Vec::new();
    let certs = certificates(&raw.cert_file).map_err(|m| problems.push(("cert_file".into(), m)));
    let key = PrivateKeyDer::from_pem_file(&raw.key_file).map_err(|e| {
        problems.push((
            "key_file".into(),
            pem_message(&raw.key_file, "private key", &e),
        ))
    });
    let provider = Arc::new(ring::default_provider());
    let verifier = raw.client_ca_file.as_ref().map(|ca| {
        client_verifier(ca, &provider).map_err(|m| problems.push(("client_ca_file".into(), m)))
    });
    let (Ok(certs), Ok(key), None | Some(Ok(_))) = (certs, key, &verifier) else {
        return Err(problems);
    };
    let mut digest = DefaultHasher::new();
    certs.hash(&mut digest);
    key.secret_der().hash(&mut digest);
    if let Some(Ok((_, ca))) = &verifier {
        ca.hash(&mut digest);
    }
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| vec![(String::new(), format!("cannot set up TLS: {e}"))])?;
    let builder = match verifier {
        Some(Ok((v, _))) => builder.with_client_cert_verifier(v),
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        vec![(
            "key_file".to_string(),
            format!(
                "cannot use the key in {} with the certificate in {}: {e}",
                raw.key_file.display(),
                raw.cert_file.display()
            ),
        )]
    })?;
    // HTTP/1.1 only: what the server speaks (Alertmanager and Prometheus fall back to it).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The digest tells a reload whether TLS changed (a renewed certificate at the same
    // path); it is no security measure.
    Ok((Arc::new(config), digest.finish()))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_message(path, "certificate", &e))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {} (want PEM)", path.display()));
    }
    Ok(certs)
}

type ClientVerifier = Arc<dyn rustls::server::danger::ClientCertVerifier>;

/// The verifier of client certificates, and the CA certificates it was built from.
fn client_verifier(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<(ClientVerifier, Vec<CertificateDer<'static>>), String> {
    let certs = certificates(path)?;
    let mut roots = RootCertStore::empty();
    for cert in certs.iter().cloned() {
        roots
            .add(cert)
            .map_err(|e| format!("invalid CA certificate in {}: {e}", path.display()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot verify clients with {}: {e}", path.display()))?;
    Ok((verifier, certs))
}

fn pem_message(path: &Path, what: &str, e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) => format!("cannot read {}: {io}", path.display()),
        Error::NoItemsFound => format!("no {what} in {} (want PEM)", path.display()),
        other => format!("invalid PEM in {}: {other}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn loads_a_generated_pair_and_refuses_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let a = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = write(&dir, "a.pem", &a.cert.pem());
        let key = write(&dir, "a-key.pem", &a.signing_key.serialize_pem());
        let other_key = write(&dir, "b-key.pem", &b.signing_key.serialize_pem());
        let raw = |cert: &Path, key: &Path, ca: Option<&Path>| RawTls {
            cert_file: cert.into(),
            key_file: key.into(),
            client_ca_file: ca.map(Into::into),
        };

        let (config, digest) = server_config(&raw(&cert, &key, Some(&cert))).unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        let (_, same) = server_config(&raw(&cert, &key, Some(&cert))).unwrap();
        assert_eq!(digest, same, "the same files give the same digest");
        let renewed = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&cert, renewed.cert.pem()).unwrap();
        std::fs::write(&key, renewed.signing_key.serialize_pem()).unwrap();
        let (_, other) = server_config(&raw(&cert, &key, None)).unwrap();
        assert_ne!(digest, other, "a renewed certificate changes the digest");
        std::fs::write(&cert, a.cert.pem()).unwrap();
        std::fs::write(&key, a.signing_key.serialize_pem()).unwrap();

        let problems = server_config(&raw(&cert, &other_key, None)).unwrap_err();
        assert_eq!(problems[0].0, "key_file", "{problems:?}");

        let problems = server_config(&raw(&key, &cert, Some(&key))).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["cert_file", "key_file", "client_ca_file"],
            "{problems:?}"
        );
        assert!(
            problems[0].1.starts_with("no certificate in"),
            "{problems:?}"
        );
    }
}
