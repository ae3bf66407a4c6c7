//! Real Helm for the chart tests: Helm v4's own SDK from PyPI (`helm-python-sdk`, import
//! `helm_python`), driven through `helm_sdk.py` beside this file. It renders as
//! `helm template` and lints as `helm lint`, with no `helm` binary and no cluster.
//!
//! The interpreter is `$ALERTRUN_HELM_PYTHON` (scripts/test sets it to the venv it installs
//! the SDK into), else that venv's default place, else `python3`. Without the SDK a test
//! says loudly that it skips, and fails when `CI` is set: CI never passes a chart unseen.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The venv scripts/test installs the SDK into, under the user's cache directory.
const DEFAULT_VENV: &str = "alertrun/helm-python-sdk";

/// A Python interpreter that can import `helm_python`.
#[derive(Debug)]
pub(crate) struct Helm {
    python: OsString,
    /// Helm's SDK version, e.g. `v4.2.3`, for messages.
    pub(crate) version: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/helm_sdk.py")
}

fn candidates() -> Vec<OsString> {
    if let Some(python) = std::env::var_os("ALERTRUN_HELM_PYTHON") {
        return vec![python];
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")));
    let mut out: Vec<OsString> = cache
        .map(|dir| dir.join(DEFAULT_VENV).join("bin/python3").into_os_string())
        .into_iter()
        .collect();
    out.push("python3".into());
    out
}

/// Helm's SDK, or `None` after a loud skip notice for `what`; panics instead when `CI` is
/// set (as scripts/test sets it), so that CI never skips the chart.
pub(crate) fn helm(what: &str) -> Option<Helm> {
    let mut tried = Vec::new();
    for python in candidates() {
        let out = Command::new(&python).arg(script()).arg("version").output();
        match out {
            Ok(out) if out.status.success() => {
                let version: Value = serde_json::from_slice(&out.stdout).unwrap();
                let version = version["helm"].as_str().unwrap().to_owned();
                return Some(Helm { python, version });
            }
            Ok(out) => tried.push(format!(
                "{}: {}",
                python.to_string_lossy(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => tried.push(format!("{}: {e}", python.to_string_lossy())),
        }
    }
    let why = format!(
        "Helm's SDK (PyPI helm-python-sdk) is not installed: {}. `scripts/test` installs it \
         (into ~/.cache/{DEFAULT_VENV}), or point ALERTRUN_HELM_PYTHON at a Python that has it",
        tried.join("; ")
    );
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{what}: CI is set, so this test may not skip: {why}");
    }
    eprintln!("\n!!!!! SKIPPED {what} !!!!!\n!!!!! {why} !!!!!\n");
    None
}

impl Helm {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.python)
            .arg(script())
            .args(args)
            .output()
            .unwrap()
    }

    /// `helm template RELEASE CHART --namespace NAMESPACE` with `values` (as `-f`): the
    /// rendered templates as one YAML stream, in template path order, or Helm's error.
    pub(crate) fn template(
        &self,
        chart: &Path,
        release: &str,
        namespace: &str,
        values: &Value,
    ) -> Result<String, String> {
        let values = values.to_string();
        let chart = chart.to_str().unwrap();
        let out = self.run(&["template", chart, release, namespace, &values]);
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let rendered: std::collections::BTreeMap<String, String> =
            serde_json::from_slice(&out.stdout).unwrap();
        Ok(rendered
            .into_iter()
            .map(|(path, text)| format!("---\n# Source: {path}\n{text}\n"))
            .collect())
    }

    /// `helm lint --strict CHART` with `values`, against `kube_version` if given (e.g.
    /// `v1.23.0`): the report, `{"messages": [{"severity", "path", "error"}], "errors"}`,
    /// severity 1 info, 2 warning, 3 error.
    pub(crate) fn lint(&self, chart: &Path, values: &Value, kube_version: Option<&str>) -> Value {
        let values = values.to_string();
        let mut args = vec!["lint", chart.to_str().unwrap(), &values];
        args.extend(kube_version);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "helm lint: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}
