//! The HTTP layer over real sockets on 127.0.0.1: TLS with a bearer token, mutual TLS, the
//! body limit for chunked bodies, the request timeout (both counted as refused
//! notifications in `/metrics`), the connection limit and graceful shutdown. Certificates are generated at test time (rcgen); nothing secret is committed.
//! No assertion is about speed: every wait either waits for the server or, where the point
//! is that nothing happens, only checks that nothing happened yet.
// Helpers outside `#[test]` functions unwrap too: any failure there is the test's failure.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alert_core::Notification;
use alertrun::{Accepted, Bound, Intake, Refused, Source, bind};
use alertrun::{ServerSettings, parse_server};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

const FIRING: &[u8] = include_bytes!("../../alert-core/tests/fixtures/firing.json");
const TOKEN: &str = "test-token-0123456789";

#[derive(Default)]
struct RecordingIntake(Mutex<Vec<Notification>>);

impl Intake for RecordingIntake {
    fn accept(
        &self,
        n: Notification,
        _: Source,
    ) -> alert_core::BoxFuture<'static, Result<Accepted, Refused>> {
        let queued = n.alerts.len();
        self.0.lock().unwrap().push(n);
        Box::pin(async move { Ok(Accepted { queued, skipped: 0 }) })
    }
}

impl RecordingIntake {
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate it signed,
/// as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

impl Pki {
    fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "alertrun test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let server_cert = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::new()).unwrap();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "alertmanager");
        let client_cert = client_params.signed_by(&client_key, &ca).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let pki = Pki {
            dir,
            ca_pem: ca_cert.pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        };
        pki.write("ca.pem", &pki.ca_pem);
        pki.write("server.pem", &server_cert.pem());
        pki.write("server-key.pem", &server_key.serialize_pem());
        pki.write("token", &format!("{TOKEN}\n"));
        pki
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client trusting the test CA, with the CA-signed client certificate or none.
    fn client(&self, with_certificate: bool) -> ClientConfig {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        if with_certificate {
            let chain =
                vec![CertificateDer::from_pem_slice(self.client_cert_pem.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(self.client_key_pem.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        } else {
            builder.with_no_client_auth()
        }
    }
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// A running server and what it was given.
struct Server {
    addr: SocketAddr,
    intake: Arc<RecordingIntake>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(settings: ServerSettings) -> Self {
        let bound: Bound = bind(&settings).await.unwrap();
        let addr = bound.local_addr();
        assert_ne!(addr.port(), 0);
        let intake = Arc::new(RecordingIntake::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve(intake.clone(), async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            intake,
            stop: Some(stop),
            task,
        }
    }

    /// Signals shutdown and waits (under a guard against hanging) for `serve` to return.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }
}

fn settings(value: Value) -> ServerSettings {
    let mut value = value;
    value["listen"] = "127.0.0.1:0".into();
    parse_server(value).unwrap()
}

struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: Value,
}

/// One HTTP/1.1 request over `io` (plain or TLS).
async fn send<IO>(io: IO, path: &str, headers: &[(&str, &str)], body: &[u8]) -> hyper::Result<Reply>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn);
    let mut request = hyper::Request::post(path).header("host", "localhost");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await?.to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        body,
    })
}

async fn tls_send(
    addr: SocketAddr,
    client: ClientConfig,
    headers: &[(&str, &str)],
) -> std::io::Result<hyper::Result<Reply>> {
    let tcp = TcpStream::connect(addr).await?;
    let tls = TlsConnector::from(Arc::new(client))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    Ok(send(tls, "/webhook", headers, FIRING).await)
}

#[tokio::test]
async fn tls_with_a_bearer_token_accepts_the_right_token_only() {
    let pki = Pki::new();
    let server = Server::start(settings(json!({
        "auth": {"bearer_token_file": path_str(&pki.path("token"))},
        "tls": {"cert_file": path_str(&pki.path("server.pem")), "key_file": path_str(&pki.path("server-key.pem"))},
    })))
    .await;
    let right = format!("Bearer {TOKEN}");
    let reply = tls_send(server.addr, pki.client(false), &[("authorization", &right)])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body,
        json!({"status": "accepted", "queued": 1, "skipped": 0})
    );
    assert_eq!(server.intake.count(), 1);

    let reply = tls_send(
        server.addr,
        pki.client(false),
        &[("authorization", "Bearer wrong")],
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.headers["www-authenticate"],
        "Bearer realm=\"alertrun\""
    );
    assert_eq!(
        server.intake.count(),
        1,
        "a refused request reaches no intake"
    );

    // Plain HTTP to the TLS port gets no HTTP answer.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let plain = send(tcp, "/webhook", &[("authorization", &right)], FIRING).await;
    assert!(plain.is_err(), "plain HTTP must fail against TLS");
    assert_eq!(server.intake.count(), 1);
    server.stop().await;
}

#[tokio::test]
async fn mutual_tls_accepts_only_clients_with_a_ca_signed_certificate() {
    let pki = Pki::new();
    let server = Server::start(settings(json!({
        "tls": {
            "cert_file": path_str(&pki.path("server.pem")),
            "key_file": path_str(&pki.path("server-key.pem")),
            "client_ca_file": path_str(&pki.path("ca.pem")),
        },
    })))
    .await;
    // Without a certificate: the handshake or the first exchange fails (TLS 1.3 reports the
    // refusal after the client thinks the handshake is done).
    let refused = tls_send(server.addr, pki.client(false), &[]).await;
    assert!(
        matches!(refused, Err(_) | Ok(Err(_))),
        "a client without a certificate must be refused"
    );
    // A self-signed client certificate (not from the CA) is refused too.
    let stranger = rcgen::generate_simple_self_signed(vec!["alertmanager".into()]).unwrap();
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let stranger_client = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![stranger.cert.der().clone()],
            PrivateKeyDer::from_pem_slice(stranger.signing_key.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap();
    let refused = tls_send(server.addr, stranger_client, &[]).await;
    assert!(
        matches!(refused, Err(_) | Ok(Err(_))),
        "a stranger must be refused"
    );
    assert_eq!(server.intake.count(), 0);

    let reply = tls_send(server.addr, pki.client(true), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(server.intake.count(), 1);
    server.stop().await;
}

/// Writes `request` on a fresh connection and reads the answer until the server closes.
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The value of `alertrun_notifications_rejected_total{reason}` in the server's `/metrics`.
async fn rejected(addr: SocketAddr, reason: &str) -> String {
    let answer = raw_exchange(
        addr,
        b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    let series = format!("alertrun_notifications_rejected_total{{reason=\"{reason}\"}} ");
    answer
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in {answer}"))
        .to_owned()
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413() {
    let server = Server::start(settings(json!({"limits": {"max_body_bytes": 1024}}))).await;
    let mut request =
        b"POST /webhook HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
        transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            .to_vec();
    let body = vec![b' '; 1500];
    request.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
    request.extend_from_slice(&body);
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    let answer = raw_exchange(server.addr, &request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("limit of 1024 bytes"), "{answer}");
    assert_eq!(server.intake.count(), 0);
    assert_eq!(rejected(server.addr, "too_large").await, "1");
    server.stop().await;
}

#[tokio::test]
async fn body_that_never_arrives_gets_408() {
    let server = Server::start(settings(json!({"limits": {"request_timeout": "200ms"}}))).await;
    let answer = raw_exchange(
        server.addr,
        b"POST /webhook HTTP/1.1\r\nhost: localhost\r\ncontent-length: 100\r\n\r\n{\"version\"",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(server.intake.count(), 0);
    assert_eq!(rejected(server.addr, "timeout").await, "1");
    server.stop().await;
}

const HEALTH: &[u8] = b"GET /-/healthy HTTP/1.1\r\nhost: localhost\r\n\r\n";

/// Reads until a whole `OK` health answer arrived on a kept-alive connection.
async fn read_health(tcp: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(b"\r\n\r\nOK") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn connections_over_the_limit_wait_until_one_closes() {
    let server = Server::start(settings(json!({
        "limits": {"max_connections": 1, "header_timeout": "60s"},
    })))
    .await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first.write_all(HEALTH).await.unwrap();
    assert!(read_health(&mut first).await.starts_with("HTTP/1.1 200"));
    // The first connection is kept alive and holds the only place.
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second.write_all(HEALTH).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(300), read_health(&mut second)).await;
    assert!(
        waited.is_err(),
        "the second connection must not be served yet"
    );
    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(30), read_health(&mut second))
        .await
        .expect("served once the first connection closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_and_refuses_new_connections() {
    let server = Server::start(settings(json!({}))).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nexpect: 100-continue\r\n\r\n",
        FIRING.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    // "100 Continue" comes once the route reads the body: the request is in flight.
    let mut buf = [0u8; 256];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );

    let Server {
        addr,
        intake,
        stop,
        task,
    } = server;
    stop.unwrap().send(()).unwrap();
    // The listener closes: new connections are refused (polled, bounded).
    let mut refused = false;
    for _ in 0..500 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the listener must close on shutdown");
    assert!(!task.is_finished(), "serve waits for the request in flight");

    tcp.write_all(FIRING).await.unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(intake.count(), 1);
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("serve returns once the connection closed")
        .unwrap();
}
