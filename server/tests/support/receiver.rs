//! A notification receiver on loopback, as a user would write one: it takes each POST,
//! verifies a generic webhook's signature (`X-Alertrun-Signature: sha256=<hex of
//! HMAC-SHA256(key, "<X-Alertrun-Timestamp>.<body>")>`) with the key it was given, and
//! records the path, the body and whether the signature held. It answers 500 to the first
//! `fail_first` requests (a receiver that is down for a while), 200 after.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use ring::hmac;
use serde_json::Value;

use super::http::{Kind, read_message};

/// One request the receiver took.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    /// The request path (`/audit`, `/slack`).
    pub(crate) path: String,
    /// The body as sent.
    pub(crate) body: Vec<u8>,
    /// The `X-Alertrun-Timestamp` header, when sent.
    pub(crate) timestamp: Option<String>,
    /// The `X-Alertrun-Signature` header, when sent.
    pub(crate) signature: Option<String>,
    /// Whether the signature verifies over the timestamp and the body with the key.
    pub(crate) verified: bool,
    /// What it answered.
    pub(crate) status: u16,
}

impl Received {
    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a notification body is JSON")
    }
}

/// The receiver; it stops taking requests when dropped.
#[derive(Debug)]
pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    /// Listens on `127.0.0.1:port` (0: any free port), verifying with `key`.
    pub(crate) fn start(port: u16, key: &[u8], fail_first: usize) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the receiver's address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let failures = AtomicUsize::new(fail_first);
        let (kept, stopped) = (Arc::clone(&received), Arc::clone(&stop));
        thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let mut reader = BufReader::new(stream);
                let Ok(Some(msg)) = read_message(&mut reader, Kind::Request) else {
                    continue;
                };
                let timestamp = msg.header("x-alertrun-timestamp").map(str::to_owned);
                let signature = msg.header("x-alertrun-signature").map(str::to_owned);
                let verified = verify(&key, timestamp.as_deref(), signature.as_deref(), &msg.body);
                let failing = failures
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let status = if failing { 500 } else { 200 };
                let path = msg.start.split_whitespace().nth(1).unwrap_or("").to_owned();
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Received {
                        path,
                        body: msg.body,
                        timestamp,
                        signature,
                        verified,
                        status,
                    });
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Self {
            addr,
            received,
            stop,
        }
    }

    /// Everything taken so far, oldest first.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The bodies answered 200 on `path`, as JSON.
    pub(crate) fn delivered(&self, path: &str) -> Vec<Value> {
        self.received()
            .iter()
            .filter(|r| r.path == path && r.status == 200)
            .map(Received::json)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Whether `signature` is `sha256=<hex>` of HMAC(key, "<timestamp>.<body>").
pub(crate) fn verify(
    key: &hmac::Key,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> bool {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return false;
    };
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Some(tag) = unhex(hex) else {
        return false;
    };
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    hmac::verify(key, &signed, &tag).is_ok()
}

fn unhex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}
