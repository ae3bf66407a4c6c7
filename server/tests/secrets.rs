//! Secret values never leak (issue 17, item 2): actions that print their `secret_env`
//! values in every way an action does (echo, `set -x`, to stderr, a `curl -v`-like header
//! line, the secret cut by the 64 KiB output tail at either end) and a program whose
//! expanded name holds a secret and cannot be spawned. Every surface is searched for the
//! values: the server log (JSON and text formats), `GET /api/v1/runs`, `/api/v1/runs/{id}`,
//! `/api/v1/rules` and `/metrics`, `alertrun runs` (from the server and from the state
//! directory), `alertrun runs show`, and the bytes of the store file.

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use alertrun::testing::{self, AlertBuilder, NotificationBuilder};
use serde_json::{Value, json};
use support::Alertrun;
use support::history::{all_runs, get_json, json_of, post_json, run_label, wait_settled};

/// How long to wait for something that should take a few seconds.
const WAIT: Duration = Duration::from_secs(60);

/// The secret read from a file (`secret_env: {API_TOKEN: {file: ...}}`).
const FILE_SECRET: &str = "tok-7Qv2Lx9Rw3Nz5Kp8";
/// The secret read from alertrun's environment (`{env: ALERTRUN_TEST_DB_PASSWORD}`).
const ENV_SECRET: &str = "pw-Hb4Jm6Tc1Yd0Fs2";

/// The process backend's default tail of each output stream.
const OUTPUT_LIMIT: usize = 64 * 1024;
/// How far into the secret the tail of the straddling action starts.
const CUT: usize = 5;

/// What no surface may show: the secrets, and the fragments the tail limit cuts out of
/// them (each fragment holds most of its secret, so it covers the whole value too).
fn forbidden() -> Vec<String> {
    vec![
        FILE_SECRET[CUT..].to_owned(),
        FILE_SECRET[..FILE_SECRET.len() - CUT].to_owned(),
        ENV_SECRET.to_owned(),
    ]
}

/// Panics when `text` (from `surface`) holds a secret or a fragment of one.
#[track_caller]
fn assert_clean(surface: &str, text: &[u8]) {
    for needle in forbidden() {
        let found = text.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(
            !found,
            "{surface} shows the secret fragment {needle:?}:\n{}",
            String::from_utf8_lossy(text)
        );
    }
}

/// A rule for alerts named `alertname` running `command` with both secrets.
fn rule(name: &str, alertname: &str, command: &Value, secret_file: &Path) -> Value {
    json!({
        "name": name,
        "match": [format!("alertname=\"{alertname}\"")],
        "timeout": "1m",
        "secret_env": {
            "API_TOKEN": {"file": secret_file.display().to_string()},
            "DB_PASSWORD": {"env": "ALERTRUN_TEST_DB_PASSWORD"},
        },
        "action": {"process": {"command": command}},
    })
}

fn sh(script: &str) -> Value {
    json!(["/bin/sh", "-c", script])
}

/// Writes the config (and the secret file) into `dir`: its path.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let secret_file = dir.join("api-token");
    std::fs::write(&secret_file, format!("{FILE_SECRET}\n")).expect("write the secret file");
    let prints = sh(r#"set -x
echo "token=$API_TOKEN password=$DB_PASSWORD"
echo "> Authorization: Bearer $API_TOKEN" >&2
echo "tool: bad argument '$DB_PASSWORD'" >&2
exit 3"#);
    let succeeds = sh(r#"echo "< Set-Cookie: session=$API_TOKEN; $DB_PASSWORD""#);
    // stdout: the secret, then enough bytes that the tail starts CUT bytes into it;
    // stderr: a long output ending with all but the last CUT bytes of the secret.
    let straddles = sh(&format!(
        r#"printf '%s' "$API_TOKEN"
head -c {pad} /dev/zero | tr '\0' x
head -c {OUTPUT_LIMIT} /dev/zero | tr '\0' y >&2
printf '%s' "${{API_TOKEN%{cut}}}" >&2"#,
        pad = OUTPUT_LIMIT - (FILE_SECRET.len() - CUT),
        cut = "?".repeat(CUT),
    ));
    let unspawnable = json!([
        "/nonexistent/$(API_TOKEN)/$(DB_PASSWORD)",
        "--token=$(API_TOKEN)"
    ]);
    let config = json!({
        "rules": [
            rule("prints", "LeakPrints", &prints, &secret_file),
            rule("succeeds", "LeakSucceeds", &succeeds, &secret_file),
            rule("straddles", "LeakStraddles", &straddles, &secret_file),
            rule("unspawnable", "LeakUnspawnable", &unspawnable, &secret_file),
        ],
    });
    let path = dir.join("alertrun.yaml");
    let text = serde_json::to_string_pretty(&config).expect("the config serialises");
    std::fs::write(&path, text).expect("write the config");
    path
}

/// `alertrun ARGS`: its stdout and stderr, after checking it succeeded.
#[track_caller]
fn cli(args: &[&OsStr]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .output()
        .expect("run alertrun");
    assert!(out.status.success(), "alertrun {args:?}: {out:?}");
    [out.stdout, out.stderr].concat()
}

/// Runs every leaking action once on a server logging in `log_format`, then searches
/// every surface for the secrets.
fn secrets_never_shown(log_format: &str) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = write_config(dir.path());
    let state = tempfile::tempdir().expect("a temporary state directory");
    let envs = [("ALERTRUN_TEST_DB_PASSWORD", OsStr::new(ENV_SECRET))];
    let mut alertrun =
        Alertrun::start_with_args(&config, &envs, state, &["--log-format", log_format]);
    let addr = alertrun.addr;
    let alerts = [
        "LeakPrints",
        "LeakSucceeds",
        "LeakStraddles",
        "LeakUnspawnable",
    ]
    .map(|name| AlertBuilder::firing(testing::labels(&[("alertname", name)])));
    let body = NotificationBuilder::new().alerts(alerts).to_json();
    let answer = post_json(addr, "/webhook", &body).expect("post the notification");
    assert_eq!(answer.status(), 200, "{}", json_of(&answer));
    assert_eq!(json_of(&answer)["queued"], 4);
    wait_settled(addr, WAIT);

    let runs = all_runs(addr, "");
    assert_clean(
        "GET /api/v1/runs",
        &serde_json::to_vec(&runs).expect("JSON"),
    );
    let url = format!("http://{addr}");
    let mut detail = std::collections::BTreeMap::new();
    for run in &runs {
        let id = run["id"].as_u64().expect("a run has an id");
        let (status, one) = get_json(addr, &format!("/api/v1/runs/{id}"));
        assert_eq!(status, 200, "{one}");
        let surface = format!("GET /api/v1/runs/{id}");
        assert_clean(&surface, &serde_json::to_vec(&one).expect("JSON"));
        let shown = cli(&[
            "runs".as_ref(),
            "--url".as_ref(),
            url.as_ref(),
            "show".as_ref(),
            id.to_string().as_ref(),
        ]);
        assert_clean(&format!("alertrun runs show {id}"), &shown);
        detail.insert(run_label(run, "alertname").to_owned(), one);
    }
    assert_clean(
        "alertrun runs",
        &cli(&["runs".as_ref(), "--url".as_ref(), url.as_ref()]),
    );
    for path in ["/api/v1/rules", "/metrics"] {
        let resp = support::http::request(addr, "GET", path, None).expect("GET");
        assert_eq!(resp.status, 200, "GET {path}");
        assert_clean(&format!("GET {path}"), &resp.body);
    }

    // What was scrubbed is still there, redacted: the outputs were kept, not dropped.
    let field = |alertname: &str, name: &str| -> String {
        detail[alertname][name].as_str().unwrap_or("").to_owned()
    };
    let state_of = |alertname: &str| field(alertname, "state");
    assert_eq!(state_of("LeakPrints"), "failed");
    assert!(
        field("LeakPrints", "stdout").contains("token=<redacted> password=<redacted>"),
        "{}",
        detail["LeakPrints"]
    );
    assert!(field("LeakPrints", "stderr").contains("Bearer <redacted>"));
    assert_eq!(state_of("LeakSucceeds"), "succeeded");
    assert!(field("LeakSucceeds", "stdout").contains("session=<redacted>; <redacted>"));
    assert_eq!(state_of("LeakStraddles"), "succeeded");
    assert!(field("LeakStraddles", "stdout").starts_with("<redacted>xxx"));
    assert!(field("LeakStraddles", "stderr").ends_with("yyy<redacted>"));
    assert_eq!(state_of("LeakUnspawnable"), "failed_to_start");
    assert!(
        field("LeakUnspawnable", "reason").contains("/nonexistent/<redacted>/<redacted>"),
        "{}",
        detail["LeakUnspawnable"]
    );

    let log = alertrun.log();
    assert!(
        log.contains("action failed") && log.contains("action could not be started"),
        "the log shows the ends of the runs:\n{log}"
    );
    assert_clean(&format!("the {log_format} log"), log.as_bytes());
    alertrun.terminate(Duration::from_secs(30));
    let state = alertrun.into_state_dir();
    let store = store_contents(state.path());
    assert!(
        store.windows(10).any(|w| w == b"<redacted>"),
        "the store file holds the runs"
    );
    assert_clean("the store's files", &store);
    let from_state = cli(&[
        "runs".as_ref(),
        "--state-dir".as_ref(),
        state.path().as_ref(),
    ]);
    assert_clean("alertrun runs --state-dir", &from_state);
}

/// Issue 17, item 2 (`issues show 17`).
#[test]
fn secret_values_never_reach_json_logs_api_cli_or_store() {
    secrets_never_shown("json");
}

/// Issue 17, item 2, with the text log format.
#[test]
fn secret_values_never_reach_text_logs() {
    secrets_never_shown("text");
}

/// What the store's files hold, as a reader of the disk would find it: their raw bytes, and
/// every zstd frame in them decompressed (the store compresses runs and bodies).
fn store_contents(dir: &std::path::Path) -> Vec<u8> {
    let mut contents = Vec::new();
    for name in ["alertrun.redb", "alertrun.journal"] {
        let bytes = std::fs::read(dir.join(name)).expect("read a store file");
        for at in 0..bytes.len().saturating_sub(4) {
            if bytes[at..at + 4] == [0x28, 0xB5, 0x2F, 0xFD] {
                let mut frame = Vec::new();
                let decoded = zstd::stream::read::Decoder::new(&bytes[at..])
                    .map(zstd::stream::read::Decoder::single_frame)
                    .and_then(|mut d| std::io::Read::read_to_end(&mut d, &mut frame));
                if decoded.is_ok() {
                    contents.extend_from_slice(&frame);
                }
            }
        }
        contents.extend_from_slice(&bytes);
    }
    contents
}
