//! `alertrun runs` to a server with a private CA and mutual TLS (issue 16): `--cacert`
//! trusts the CA, `--cert` and `--key` present the client certificate; without them the
//! handshake fails and the command says so. Certificates are made at test time (rcgen).

// The helpers below are test code too; `allow-unwrap-in-tests` covers only `#[test]`s.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use support::Alertrun;

/// Writes a CA (`ca.pem`), a server certificate for 127.0.0.1 and a client certificate
/// the CA signed into `dir`.
fn pki(dir: &Path) {
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    write("ca.pem", ca.self_signed(&ca_key).unwrap().pem());
    let issuer = Issuer::new(ca, ca_key);
    for (name, sans) in [
        ("server", vec!["127.0.0.1".to_owned()]),
        ("client", Vec::new()),
    ] {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(sans)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        write(&format!("{name}.pem"), cert.pem());
        write(&format!("{name}-key.pem"), key.serialize_pem());
    }
}

fn alertrun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .output()
        .expect("alertrun runs")
}

#[test]
fn runs_reach_a_server_with_a_private_ca_and_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let p = |name: &str| dir.path().join(name).display().to_string();
    let config = dir.path().join("alertrun.yaml");
    std::fs::write(
        &config,
        format!(
            "server:\n  tls:\n    cert_file: {}\n    key_file: {}\n    client_ca_file: {}\n\
             rules:\n  - name: r\n    match: [alertname=X]\n    action: {{process: {{command: [/bin/true]}}}}\n",
            p("server.pem"),
            p("server-key.pem"),
            p("ca.pem")
        ),
    )
    .unwrap();
    let server = Alertrun::start(&config, &[]);
    let url = format!("https://{}", server.addr);
    let c = config.to_str().unwrap();
    let (ca, cert, key) = (p("ca.pem"), p("client.pem"), p("client-key.pem"));

    let ok = alertrun(&[
        "runs", "-c", c, "--url", &url, "--cacert", &ca, "--cert", &cert, "--key", &key, "--json",
    ]);
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success(), "{stderr}");
    let runs: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(runs["runs"], serde_json::json!([]), "{runs}");

    // Without the client certificate, or without trusting the CA: refused, and said so.
    for args in [
        vec!["runs", "-c", c, "--url", &url, "--cacert", &ca],
        vec![
            "runs", "-c", c, "--url", &url, "--cert", &cert, "--key", &key,
        ],
    ] {
        let out = alertrun(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains("cannot reach"), "{args:?}: {stderr}");
    }
    // --cert needs --key.
    let out = alertrun(&["runs", "-c", c, "--url", &url, "--cert", &cert]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key"));
}
