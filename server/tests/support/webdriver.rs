//! A minimal WebDriver client: Debian's `chromedriver` driving headless Chromium over the
//! W3C WebDriver HTTP protocol (JSON over HTTP, with ureq, already a test dependency).
//! A dozen commands are all the status page tests use; a crate (fantoccini, thirtyfour)
//! would bring an async stack and a second HTTP client for them.
//!
//! Chromium runs with `--headless --no-sandbox --disable-gpu --disable-background-networking
//! --disable-component-update --no-first-run` and a fresh `--user-data-dir`, so it fetches
//! nothing of its own (no updates, no safe-browsing lists) and remembers nothing between
//! tests. The session is deleted and chromedriver stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{ChildGuard, find_on_path, free_port, require_tool};

/// The W3C key under which an element reference travels.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver and Chromium, or `None` after saying loudly that the test is skipped (a
/// failure under `CI`).
pub(crate) fn require_chromium() -> Option<(PathBuf, PathBuf)> {
    let install = "install Debian's chromium and chromium-driver \
                   (apt-get install chromium chromium-driver; scripts/test does)";
    let driver = require_tool("chromedriver", find_on_path("chromedriver"), install)?;
    let browser = ["/usr/lib/chromium/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| find_on_path("chromium"));
    let browser = require_tool("Chromium", browser, install)?;
    Some((driver, browser))
}

/// One headless Chromium session.
#[derive(Debug)]
pub(crate) struct Browser {
    base: String,
    session: String,
    _driver: ChildGuard,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session of `width`×`height` pixels.
    pub(crate) fn start(driver: &Path, browser: &Path, width: u32, height: u32) -> Self {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let guard = ChildGuard::new("chromedriver", child);
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ureq::get(&format!("{base}/status"))
            .call()
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start on {base}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("a fresh user data dir");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": browser, "args": args},
        }}});
        let answer = send("POST", &format!("{base}/session"), Some(&capabilities));
        let session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session from chromedriver: {answer}"))
            .to_owned();
        Self {
            base,
            session,
            _driver: guard,
            _profile: profile,
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        send(method, &url, body)
    }

    /// Navigates to `url` and waits for the page to load.
    pub(crate) fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(&json!({ "url": url })));
    }

    /// The document's title.
    pub(crate) fn title(&self) -> String {
        self.command("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub(crate) fn exec(&self, script: &str, args: &[Value]) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// The first element matching the CSS `selector` now, if any.
    pub(crate) fn find(&self, selector: &str) -> Option<Element> {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let body = json!({"using": "css selector", "value": selector});
        let answer = try_send("POST", &url, Some(&body)).ok()?;
        answer[ELEMENT].as_str().map(|id| Element(id.to_owned()))
    }

    /// The first element matching `selector`, waiting up to `timeout` for it (the page's
    /// script may still be loading it).
    #[track_caller]
    pub(crate) fn wait_find(&self, selector: &str, timeout: Duration) -> Element {
        super::wait_for(&format!("an element {selector:?}"), timeout, || {
            self.find(selector)
        })
    }

    /// Clicks `element`.
    pub(crate) fn click(&self, element: &Element) {
        self.command(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(&json!({})),
        );
    }

    /// Types `text` into `element` (`\u{E007}` is Enter).
    pub(crate) fn type_into(&self, element: &Element, text: &str) {
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(&json!({ "text": text })),
        );
    }

    /// The rendered text of `element`.
    pub(crate) fn text(&self, element: &Element) -> String {
        self.command("GET", &format!("/element/{}/text", element.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Saves a PNG screenshot of the window to `path`.
    pub(crate) fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let data = self.command("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("WebDriver sends screenshots in base64");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = try_send("DELETE", &url, None);
    }
}

/// A reference to an element of the current page.
#[derive(Clone, Debug)]
pub(crate) struct Element(String);

#[track_caller]
fn send(method: &str, url: &str, body: Option<&Value>) -> Value {
    try_send(method, url, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// A WebDriver command: its `value`, or the error chromedriver gave.
fn try_send(method: &str, url: &str, body: Option<&Value>) -> Result<Value, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(body)) => agent.post(url).send_json(body),
        (_, None) => agent.post(url).send_json(json!({})),
    };
    let mut response = response.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let answer: Value = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_json()
        .map_err(|e| e.to_string())?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if status == 200 {
        Ok(value)
    } else {
        Err(format!("{status}: {value}"))
    }
}
