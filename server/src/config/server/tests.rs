//! Table tests of the `server:` section: defaults, every field, secrets, and problems
//! reported with their paths.

use super::*;
use serde_json::json;

/// Every problem as (path, message); paths are under `server`.
fn problems(v: Value) -> Vec<(String, String)> {
    let e = parse_server(v).unwrap_err();
    e.problems
        .into_iter()
        .map(|p| (p.path, p.message))
        .collect()
}

fn secret_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn absent_section_gives_every_default() {
    for v in [Value::Null, json!({})] {
        let s = parse_server(v).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:9095");
        assert!(s.auth.is_none() && s.tls.is_none());
        assert_eq!(s.limits, Limits::default());
        assert_eq!(s.limits.max_body_bytes, 4_194_304);
        assert_eq!((s.max_running, s.max_queued), (16, 1024));
    }
}

#[test]
fn every_field_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let token = secret_file(&dir, "token", "s3cret\n");
    let s = parse_server(json!({
        "listen": "[::]:8080",
        "auth": {"bearer_token_file": token},
        "limits": {"max_body_bytes": 10, "max_alerts": 2, "max_connections": 3,
                   "header_timeout": "1s", "request_timeout": "1m 30s"},
        "queue": {"max_running": 4, "max_queued": 5},
        "state": {"episode_max_idle": "4h 30m"},
    }))
    .unwrap();
    assert_eq!(s.listen.to_string(), "[::]:8080");
    let Some(Auth::Bearer { token }) = &s.auth else {
        panic!("{:?}", s.auth)
    };
    assert_eq!(token.as_str(), "s3cret");
    assert_eq!(
        format!("{:?}", s.auth),
        "Some(Bearer { token: <redacted> })"
    );
    assert_eq!(
        s.limits,
        Limits {
            max_body_bytes: 10,
            max_alerts: 2,
            max_connections: 3,
            header_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(90),
        }
    );
    assert_eq!((s.max_running, s.max_queued), (4, 5));
    assert_eq!(s.state.episode_max_idle, Duration::from_secs(16_200));
}

#[test]
fn secret_files_lose_one_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in [("pw", "pw"), ("pw\n", "pw"), ("pw\r\n", "pw")] {
        let file = secret_file(&dir, "pw", text);
        let s = parse_server(json!({"auth": {"basic": {"username": "am", "password_file": file}}}))
            .unwrap();
        let Some(Auth::Basic { username, password }) = s.auth else {
            panic!()
        };
        assert_eq!((username.as_str(), password.as_str()), ("am", want));
    }
}

#[test]
fn bad_settings_are_all_reported_with_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let empty = secret_file(&dir, "empty", "\n");
    let two_lines = secret_file(&dir, "two", "a\nb\n");
    let missing = dir.path().join("missing").display().to_string();
    // (name, section, path under `server`, message)
    let rows: Vec<(&str, Value, &str, &str)> = vec![
        (
            "unknown key",
            json!({"lisen": "x"}),
            "lisen",
            "unknown field `lisen`",
        ),
        (
            "bad listen",
            json!({"listen": "localhost"}),
            "listen",
            "write IP:port",
        ),
        (
            "auth typo",
            json!({"auth": {"bearer_token": "x"}}),
            "auth.bearer_token",
            "unknown field `bearer_token`",
        ),
        (
            "two auth kinds",
            json!({"auth": {"bearer_token_env": "A", "bearer_token_file": "/x"}}),
            "auth",
            "exactly one of",
        ),
        (
            "no auth kind",
            json!({"auth": {}}),
            "auth",
            "exactly one of",
        ),
        (
            "missing token file",
            json!({"auth": {"bearer_token_file": missing}}),
            "auth.bearer_token_file",
            "cannot read",
        ),
        (
            "empty token",
            json!({"auth": {"bearer_token_file": empty}}),
            "auth.bearer_token_file",
            "is empty",
        ),
        (
            "two-line token",
            json!({"auth": {"bearer_token_file": two_lines}}),
            "auth.bearer_token_file",
            "control character",
        ),
        (
            "unset env",
            json!({"auth": {"bearer_token_env": "ALERTRUN_TEST_SURELY_UNSET_VAR"}}),
            "auth.bearer_token_env",
            "environment variable ALERTRUN_TEST_SURELY_UNSET_VAR is not set",
        ),
        (
            "basic without password",
            json!({"auth": {"basic": {"username": "u"}}}),
            "auth.basic",
            "password_file or password_env",
        ),
        (
            "basic colon",
            json!({"auth": {"basic": {"username": "a:b", "password_env": "X"}}}),
            "auth.basic.username",
            "without ':'",
        ),
        (
            "basic no username",
            json!({"auth": {"basic": {"password_env": "X"}}}),
            "auth.basic",
            "missing field `username`",
        ),
        (
            "tls without key",
            json!({"tls": {"cert_file": "/c"}}),
            "tls",
            "missing field `key_file`",
        ),
        (
            "tls missing file",
            json!({"tls": {"cert_file": missing, "key_file": missing}}),
            "tls.cert_file",
            "cannot read",
        ),
        (
            "zero body",
            json!({"limits": {"max_body_bytes": 0}}),
            "limits.max_body_bytes",
            "at least 1",
        ),
        (
            "negative",
            json!({"limits": {"max_alerts": -1}}),
            "limits.max_alerts",
            "invalid value",
        ),
        (
            "bad duration",
            json!({"limits": {"header_timeout": "soon"}}),
            "limits.header_timeout",
            "invalid duration \"soon\"",
        ),
        (
            "zero duration",
            json!({"limits": {"request_timeout": "0s"}}),
            "limits.request_timeout",
            "more than zero",
        ),
        (
            "number duration",
            json!({"limits": {"request_timeout": 5}}),
            "limits.request_timeout",
            "invalid type",
        ),
        (
            "episode retention zero",
            json!({"state": {"episode_max_idle": "0s"}}),
            "state.episode_max_idle",
            "more than zero",
        ),
        (
            "queue zero",
            json!({"queue": {"max_running": 0}}),
            "queue.max_running",
            "at least 1",
        ),
        (
            "queue typo",
            json!({"queue": {"max_run": 1}}),
            "queue.max_run",
            "unknown field `max_run`",
        ),
    ];
    for (name, v, path, want) in rows {
        let found = problems(v);
        assert!(
            found
                .iter()
                .any(|(p, m)| *p == format!("server.{path}") && m.contains(want)),
            "{name}: want {path}: {want}\n  got {found:?}"
        );
    }
    let all =
        problems(json!({"listen": "x", "limits": {"max_alerts": 0}, "queue": {"max_queued": 0}}));
    assert_eq!(all.len(), 3, "{all:?}");
}

#[test]
fn exposure_needs_auth_off_loopback() {
    let mut s = ServerSettings::default();
    assert!(check_exposure(&s, false).is_ok(), "loopback is fine");
    s.listen = "0.0.0.0:9095".parse().unwrap();
    let e = check_exposure(&s, false).unwrap_err();
    assert!(
        e.contains("0.0.0.0:9095") && e.contains("--insecure-no-auth"),
        "{e}"
    );
    assert!(check_exposure(&s, true).is_ok());
    s.auth = Some(Auth::Bearer {
        token: Secret::new("t"),
    });
    assert!(check_exposure(&s, false).is_ok());
    s.auth = None;
    s.listen = "[::1]:9095".parse().unwrap();
    assert!(check_exposure(&s, false).is_ok());
}

#[test]
fn restart_needed_names_each_changed_field() {
    let dir = tempfile::tempdir().unwrap();
    let token = secret_file(&dir, "token", "one");
    let other = secret_file(&dir, "other", "two");
    let base = json!({"auth": {"bearer_token_file": token}});
    let rows: Vec<(&str, Value, Vec<&str>)> = vec![
        ("nothing changed", base.clone(), vec![]),
        (
            "listen",
            json!({"listen": "0.0.0.0:9095", "auth": {"bearer_token_file": token}}),
            vec!["server.listen"],
        ),
        (
            "another token",
            json!({"auth": {"bearer_token_file": other}}),
            vec!["server.auth"],
        ),
        ("no auth", json!({}), vec!["server.auth"]),
        (
            "limits, queue, state and grace",
            json!({
                "auth": {"bearer_token_file": token},
                "limits": {"max_alerts": 5, "request_timeout": "1m"},
                "queue": {"max_queued": 7},
                "state": {"dir": "/tmp/elsewhere", "history_max_runs": 9, "episode_max_idle": "1d"},
                "shutdown_grace": "1s",
            }),
            vec![
                "server.limits.max_alerts",
                "server.limits.request_timeout",
                "server.queue.max_queued",
                "server.state.dir",
                "server.state.history_max_runs",
                "server.state.episode_max_idle",
                "server.shutdown_grace",
            ],
        ),
    ];
    let running = parse_server(base).unwrap();
    for (name, new, want) in rows {
        let new = parse_server(new).unwrap();
        assert_eq!(running.restart_needed(&new), want, "{name}");
    }
}

#[test]
fn restart_needed_sees_a_renewed_certificate_at_the_same_path() {
    let dir = tempfile::tempdir().unwrap();
    let write_pair = || {
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = secret_file(&dir, "cert.pem", &pair.cert.pem());
        let key = secret_file(&dir, "key.pem", &pair.signing_key.serialize_pem());
        json!({"tls": {"cert_file": cert, "key_file": key}})
    };
    let running = parse_server(write_pair()).unwrap();
    let reread = parse_server(json!({"tls": running.tls.as_ref().map(|t| json!({
        "cert_file": t.cert_file, "key_file": t.key_file,
    }))}))
    .unwrap();
    assert_eq!(running.restart_needed(&reread), Vec::<&str>::new());
    let renewed = parse_server(write_pair()).unwrap();
    assert_eq!(running.restart_needed(&renewed), ["server.tls"]);
    assert_eq!(
        running.restart_needed(&ServerSettings::default()),
        ["server.tls"]
    );
}

#[test]
fn bad_server_values_are_reported_with_lines_beside_rule_problems() {
    let text = "server:\n  listen: nowhere\n  limits:\n    max_alerts: 0\nrules:\n  - name: 'bad name'\n    action: {process: {command: [/bin/true]}}\n";
    let e = crate::Config::from_yaml(text).unwrap_err();
    let shown: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
    let want = [
        "server.listen (line 2): invalid listen address \"nowhere\"",
        "server.limits.max_alerts (line 4): must be at least 1",
        "rules[0].name (line 6): invalid rule name",
    ];
    assert_eq!(shown.len(), want.len(), "{shown:#?}");
    for (got, want) in shown.iter().zip(want) {
        assert!(got.starts_with(want), "want {want:?}, got {got:?}");
    }
}

#[test]
fn route_prefix_is_a_clean_path_or_a_problem() {
    let rows = [
        ("/alertrun", Some("/alertrun")),
        ("/ops/alertrun/", Some("/ops/alertrun")),
        ("/", None),
    ];
    for (text, want) in rows {
        let s = parse_server(json!({ "route_prefix": text })).unwrap();
        assert_eq!(s.route_prefix.as_deref(), want, "{text}");
    }
    for bad in ["alertrun", "/a//b", "/a b", "/a?x=1", "/<script>"] {
        let found = problems(json!({ "route_prefix": bad }));
        assert_eq!(found.len(), 1, "{bad}: {found:?}");
        assert_eq!(found[0].0, "server.route_prefix");
        assert!(found[0].1.starts_with("invalid route prefix"), "{found:?}");
    }
}
