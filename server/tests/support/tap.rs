//! A recording pass-through between Alertmanager and alertrun: every notification
//! Alertmanager delivers, with alertrun's answer, so a test can count deliveries per group
//! (first, repeat, resolved) without relying on either side's logs.

use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{Kind, Message, read_message};

/// One request that passed through the tap.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    /// When alertrun's answer came back (before Alertmanager got it).
    pub(crate) at: Instant,
    pub(crate) path: String,
    /// The body as Alertmanager sent it, parsed (`Null` if it was not JSON).
    pub(crate) body: Value,
    /// alertrun's status code; 0 when alertrun could not be reached.
    pub(crate) status: u16,
    /// alertrun's answer, parsed (`Null` if it was not JSON).
    pub(crate) answer: Value,
}

impl Delivery {
    /// The `alertname` group label of a webhook notification, if any.
    pub(crate) fn group_alertname(&self) -> Option<&str> {
        self.body["groupLabels"]["alertname"].as_str()
    }

    /// The alerts of a webhook notification.
    pub(crate) fn alerts(&self) -> &[Value] {
        self.body["alerts"].as_array().map_or(&[], Vec::as_slice)
    }

    /// `queued` of alertrun's answer.
    pub(crate) fn queued(&self) -> Option<u64> {
        self.answer["queued"].as_u64()
    }
}

/// The tap: listens on a loopback port and forwards to `upstream`.
#[derive(Debug)]
pub(crate) struct Tap {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Delivery>>>,
    stop: Arc<AtomicBool>,
}

impl Tap {
    pub(crate) fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the tap on loopback");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let seen = Arc::clone(&seen2);
                thread::spawn(move || serve(conn, upstream, &seen));
            }
        });
        Self { addr, seen, stop }
    }

    /// The URL of `path` behind the tap, for Alertmanager's config.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The deliveries of the group whose `alertname` group label is `alertname`.
    pub(crate) fn group(&self, alertname: &str) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|d| d.group_alertname() == Some(alertname))
            .collect()
    }

    /// Every delivery, one line each, for failure messages.
    pub(crate) fn summary(&self) -> String {
        let mut out = String::new();
        for d in self.deliveries() {
            let alerts: Vec<String> = d
                .alerts()
                .iter()
                .map(|a| {
                    let instance = a["labels"]["instance"].as_str().unwrap_or("");
                    format!("{instance}:{}", a["status"].as_str().unwrap_or("?"))
                })
                .collect();
            out.push_str(&format!(
                "  {} {:?} [{}] -> {} {}\n",
                d.path,
                d.group_alertname(),
                alerts.join(", "),
                d.status,
                d.answer
            ));
        }
        out
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if thread::panicking() {
            eprintln!("--- notifications through the tap:\n{}", self.summary());
        }
    }
}

fn serve(conn: TcpStream, upstream: SocketAddr, seen: &Mutex<Vec<Delivery>>) {
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = conn;
    while let Ok(Some(request)) = read_message(&mut reader, Kind::Request) {
        let path = request
            .start
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string();
        let reply = forward(&request, upstream);
        let (status, answer, bytes) = match &reply {
            Some(r) => (
                r.status(),
                serde_json::from_slice(&r.body).unwrap_or(Value::Null),
                r.to_bytes(&[]),
            ),
            None => (0, Value::Null, bad_gateway()),
        };
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Delivery {
                at: Instant::now(),
                path,
                body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
                status,
                answer,
            });
        if writer.write_all(&bytes).is_err() {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Sends `request` to `upstream` on a fresh connection and reads the answer.
fn forward(request: &Message, upstream: SocketAddr) -> Option<Message> {
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&upstream, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream
        .write_all(&request.to_bytes(&[("Connection", "close")]))
        .ok()?;
    read_message(&mut BufReader::new(stream), Kind::Response).ok()?
}

fn bad_gateway() -> Vec<u8> {
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".to_vec()
}
