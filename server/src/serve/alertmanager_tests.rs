use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread;

use super::*;
use crate::config::Secret;

/// A label set from pairs.
fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `GET /api/v2/silences` of Alertmanager 0.25 (captured), one silence per matcher kind.
const SILENCES: &str = r#"[
  {"id":"7d5c5a0e-1b7b-4a3e-9d55-2f0f3b0c8f11","status":{"state":"active"},
   "updatedAt":"2026-12-05T03:00:00.000Z","comment":"disk swap on node-1","createdBy":"jane",
   "startsAt":"2026-12-05T03:00:00.000Z","endsAt":"2026-12-05T05:00:00.000Z",
   "matchers":[{"isEqual":true,"isRegex":false,"name":"alertname","value":"NodeDiskFull"},
               {"isEqual":true,"isRegex":true,"name":"instance","value":"node-1.*"}]},
  {"id":"b0e0b3d4-0000-4000-8000-000000000002","status":{"state":"expired"},
   "updatedAt":"2026-12-05T03:00:00.000Z","comment":"old","createdBy":"bob",
   "startsAt":"2026-12-04T03:00:00.000Z","endsAt":"2026-12-04T05:00:00.000Z",
   "matchers":[{"isRegex":false,"name":"alertname","value":"NodeDiskFull"}],
   "someFutureField":{"x":1}}
]"#;

#[test]
fn silences_read_as_alertmanager_lists_them() {
    let silences: Vec<Silence> = serde_json::from_str(SILENCES).unwrap();
    assert_eq!(silences.len(), 2);
    let first = &silences[0];
    assert!(first.is_active() && !first.is_alertrun_s());
    assert_eq!(first.created_by, "jane");
    assert_eq!(first.comment, "disk swap on node-1");
    assert_eq!(
        first.matchers[1],
        SilenceMatcher {
            name: "instance".into(),
            value: "node-1.*".into(),
            is_regex: true,
            is_equal: true,
        }
    );
    // Before Alertmanager 0.22 there was no isEqual: equal.
    assert!(silences[1].matchers[0].is_equal);
    assert!(!silences[1].is_active());
}

#[test]
fn silence_matchers_become_alertmanagers_operators() {
    // (isRegex, isEqual, value, label value, matches)
    let cases = [
        ("equal", false, true, "api", "api", true),
        ("equal differs", false, true, "api", "web", false),
        ("not equal", false, false, "api", "web", true),
        ("not equal same", false, false, "api", "api", false),
        ("regex anchored", true, true, "api|web", "web", true),
        ("regex anchored whole", true, true, "api", "api-gw", false),
        ("negative regex", true, false, "api.*", "web", true),
        ("negative regex hit", true, false, "api.*", "api-gw", false),
        // Anchoring by wrapping, as Alertmanager does: `a)|(b` escapes it.
        (
            "regex wrapped verbatim",
            true,
            true,
            "a)|(b",
            "api-gw",
            true,
        ),
    ];
    for (name, is_regex, is_equal, value, label, want) in cases {
        let m = SilenceMatcher {
            name: "svc".into(),
            value: value.into(),
            is_regex,
            is_equal,
        };
        let got = m.to_matcher().unwrap().matches_value(label);
        assert_eq!(got, want, "{name}");
    }
    let bad = SilenceMatcher {
        name: "svc".into(),
        value: "(".into(),
        is_regex: true,
        is_equal: true,
    };
    assert!(bad.to_matcher().is_err());
}

#[test]
fn a_silence_covers_an_alert_when_every_matcher_holds() {
    let silences: Vec<Silence> = serde_json::from_str(SILENCES).unwrap();
    let node1 = labels(&[("alertname", "NodeDiskFull"), ("instance", "node-1:9100")]);
    let node2 = labels(&[("alertname", "NodeDiskFull"), ("instance", "node-2:9100")]);
    assert!(silences[0].covers(&node1).unwrap());
    assert!(!silences[0].covers(&node2).unwrap());
    // A missing label is the empty string: `team!="ops"` covers an alert without `team`.
    let mut not_ops = silences[0].clone();
    not_ops.matchers = vec![SilenceMatcher {
        name: "team".into(),
        value: "ops".into(),
        is_regex: false,
        is_equal: false,
    }];
    assert!(not_ops.covers(&node1).unwrap());
    not_ops.matchers.clear();
    assert!(
        !not_ops.covers(&node1).unwrap(),
        "no matchers cover nothing"
    );
}

/// A silence of NodeDiskFull for ten minutes.
fn new_silence() -> NewSilence {
    NewSilence {
        matchers: vec![SilenceMatcher::equal("alertname", "NodeDiskFull")],
        starts_at: "2026-12-05T03:00:00Z".into(),
        ends_at: "2026-12-05T03:10:00Z".into(),
        created_by: CREATED_BY.into(),
        comment: "alertrun run 7".into(),
    }
}

#[test]
fn a_new_silence_is_written_as_the_api_wants() {
    let json = serde_json::to_value(new_silence()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "matchers": [{"name": "alertname", "value": "NodeDiskFull", "isRegex": false, "isEqual": true}],
            "startsAt": "2026-12-05T03:00:00Z",
            "endsAt": "2026-12-05T03:10:00Z",
            "createdBy": "alertrun",
            "comment": "alertrun run 7",
        })
    );
}

#[test]
fn alert_filters_name_every_classic_label_with_its_value_escaped() {
    let set = labels(&[
        ("alertname", "Disk\"Full"),
        ("path", "C:\\data\nx"),
        ("service.name", "api"),
    ]);
    assert_eq!(
        alert_filter(&set),
        [
            ("filter", r#"alertname="Disk\"Full""#.to_owned()),
            ("filter", r#"path="C:\\data\nx""#.to_owned()),
        ]
    );
    assert_eq!(path_segment("7d5c-ab_1.x"), "7d5c-ab_1.x");
    assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
}

/// Answers one request on loopback with `status` and `body`; the request's head comes
/// back through the handle.
fn answer_once(status: u16, body: &'static str) -> (String, thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let mut request_body = vec![0; length];
        reader.read_exact(&mut request_body).unwrap();
        head.push_str(&String::from_utf8_lossy(&request_body));
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        head
    });
    (base, handle)
}

#[tokio::test]
async fn alert_state_finds_the_alert_with_exactly_these_labels() {
    let body = r#"[
      {"labels":{"alertname":"NodeDiskFull","instance":"node-1:9100","extra":"x"},
       "status":{"state":"active","silencedBy":[],"inhibitedBy":[]},"fingerprint":"a"},
      {"labels":{"alertname":"NodeDiskFull","instance":"node-1:9100"},
       "status":{"state":"suppressed","silencedBy":["s-1"],"inhibitedBy":[]},"fingerprint":"b",
       "receivers":[{"name":"x"}],"annotations":{},"startsAt":"2026-12-05T03:00:00Z"}
    ]"#;
    let (base, request) = answer_once(200, body);
    let token = AlertmanagerAuth::Bearer(Secret::new("t0ken"));
    let client = Client::new(&base, Some(&token), Duration::from_secs(2));
    let set = labels(&[("alertname", "NodeDiskFull"), ("instance", "node-1:9100")]);
    let state = client.alert_state(&set).await.unwrap();
    assert_eq!(
        state,
        Some(AlertState {
            state: AlertStateKind::Suppressed,
            silenced_by: vec!["s-1".into()],
            inhibited_by: vec![],
        })
    );
    let head = request.join().unwrap();
    assert!(
        head.starts_with("GET /api/v2/alerts?filter=alertname%3D%22NodeDiskFull%22&filter=instance%3D%22node-1%3A9100%22 "),
        "{head}"
    );
    assert!(head.contains("authorization: Bearer t0ken"), "{head}");
    assert!(!format!("{client:?}").contains("t0ken"), "{client:?}");

    // Not firing any more: Alertmanager lists nothing.
    let (base, _request) = answer_once(200, "[]");
    let client = Client::new(&base, None, Duration::from_secs(2));
    assert_eq!(client.alert_state(&set).await.unwrap(), None);
}

#[tokio::test]
async fn creating_and_expiring_a_silence_speak_the_api() {
    let (base, request) = answer_once(200, r#"{"silenceID":"abc-123"}"#);
    let client = Client::new(&base, None, Duration::from_secs(2));
    assert_eq!(
        client.create_silence(&new_silence()).await.unwrap(),
        "abc-123"
    );
    let head = request.join().unwrap();
    assert!(head.starts_with("POST /api/v2/silences "), "{head}");
    assert!(head.contains(r#""createdBy":"alertrun""#), "{head}");

    let (base, request) = answer_once(200, "");
    let client = Client::new(&base, None, Duration::from_secs(2));
    client.expire_silence("abc-123").await.unwrap();
    assert!(
        request
            .join()
            .unwrap()
            .starts_with("DELETE /api/v2/silence/abc-123 ")
    );

    let (base, _request) = answer_once(
        500,
        r#"{"code":500,"message":"silence abc-123 already expired"}"#,
    );
    let client = Client::new(&base, None, Duration::from_secs(2));
    let e = client.expire_silence("abc-123").await.unwrap_err();
    assert!(
        matches!(&e, Error::Status { status: 500, body, .. } if body.contains("already expired")),
        "{e}"
    );
}

#[tokio::test]
async fn a_silent_or_absent_alertmanager_is_an_error_within_the_timeout() {
    // Accepts the connection, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client = Client::new(&base, None, Duration::from_millis(300));
    let started = std::time::Instant::now();
    let e = client.silences().await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(e.to_string().contains("did not answer within 300ms"), "{e}");
    drop(listener);

    // Nothing listens.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(
        &format!("http://127.0.0.1:{port}"),
        None,
        Duration::from_secs(1),
    );
    let e = client.silences().await.unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e}");

    // An answer that is not the API's.
    let (base, _request) = answer_once(200, "<html>");
    let client = Client::new(&base, None, Duration::from_secs(1));
    let e = client.silences().await.unwrap_err();
    assert!(matches!(e, Error::Answer { .. }), "{e}");
}
