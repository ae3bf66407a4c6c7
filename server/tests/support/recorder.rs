//! The recorder action: a small Python program that records its argv, its whole
//! environment and its standard input as one JSON file, optionally sleeps, and records the
//! signal that ends it.
//!
//! Rule env it reads: `RECORD_DIR` (where to write; required) and `RECORD_SLEEP` (seconds
//! to sleep after recording; default 0). Files are written under a temporary name and
//! renamed, so a reader never sees half a record.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

const SCRIPT: &str = r#"import json, os, signal, sys, time

out = os.environ["RECORD_DIR"]
began = time.monotonic()
run = "%d-%d" % (os.getpid(), time.time_ns())


def write(kind, **fields):
    rec = dict(kind=kind, run=run, pid=os.getpid(), elapsed=time.monotonic() - began, **fields)
    tmp = os.path.join(out, ".%s-%s.tmp" % (run, kind))
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(rec, f)
    os.rename(tmp, os.path.join(out, "%s-%s.json" % (run, kind)))


def on_signal(signum, _frame):
    write("signal", signal=signal.Signals(signum).name, rule=os.environ.get("ALERTRUN_RULE", ""))
    sys.exit(0)


for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, on_signal)
stdin = sys.stdin.buffer.read().decode("utf-8", "replace")
write("run", argv=sys.argv[1:], env=dict(os.environ), stdin=stdin,
      rule=os.environ.get("ALERTRUN_RULE", ""))
time.sleep(float(os.environ.get("RECORD_SLEEP", "0")))
write("done", rule=os.environ.get("ALERTRUN_RULE", ""))
"#;

/// What the recorder wrote: one `run` record per start, then `signal` or `done`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Record {
    /// `run`, `signal` or `done`.
    pub(crate) kind: String,
    /// Identifies one run across its records.
    pub(crate) run: String,
    /// `ALERTRUN_RULE` as the run saw it.
    pub(crate) rule: String,
    /// Seconds since the run started.
    pub(crate) elapsed: f64,
    #[serde(default)]
    pub(crate) argv: Vec<String>,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) stdin: String,
    /// The signal's name (`SIGTERM`) for a `signal` record.
    #[serde(default)]
    pub(crate) signal: String,
}

impl Record {
    /// An env var of a `run` record, panicking with the record when it is missing.
    pub(crate) fn var(&self, name: &str) -> &str {
        self.env.get(name).unwrap_or_else(|| {
            panic!(
                "run of {} has no {name} in its env: {:#?}",
                self.rule, self.env
            )
        })
    }
}

/// The recorder program installed in a directory, and the directory it records into.
#[derive(Debug)]
pub(crate) struct Recorder {
    python: PathBuf,
    script: PathBuf,
    out: PathBuf,
}

impl Recorder {
    /// Writes the script into `dir` and creates `dir/records`.
    pub(crate) fn install(dir: &Path, python: &Path) -> Self {
        let script = dir.join("recorder.py");
        fs::write(&script, SCRIPT).expect("write the recorder script");
        let out = dir.join("records");
        fs::create_dir_all(&out).expect("create the records directory");
        Self {
            python: python.to_path_buf(),
            script,
            out,
        }
    }

    /// The argv of an action running the recorder with `args`.
    pub(crate) fn command(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec![
            self.python.display().to_string(),
            self.script.display().to_string(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        argv
    }

    /// Where records go: set it as the rule's `RECORD_DIR`.
    pub(crate) fn out_dir(&self) -> &Path {
        &self.out
    }

    /// Every record written so far, in no particular order.
    pub(crate) fn records(&self) -> Vec<Record> {
        let entries = fs::read_dir(&self.out).expect("read the records directory");
        let mut records = Vec::new();
        for entry in entries {
            let path = entry.expect("list the records directory").path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = fs::read_to_string(&path).expect("read a record");
                let record = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("record {} is not valid: {e}", path.display()));
                records.push(record);
            }
        }
        records
    }

    /// The records of `kind` written by runs of `rule`.
    pub(crate) fn of(&self, rule: &str, kind: &str) -> Vec<Record> {
        self.records()
            .into_iter()
            .filter(|r| r.rule == rule && r.kind == kind)
            .collect()
    }
}

/// Finds Debian's `/usr/bin/python3`, else `python3` on PATH. The system one comes first:
/// a version manager's shim on PATH (pyenv) rewrites the environment the test checks.
pub(crate) fn find_python() -> Option<PathBuf> {
    let system = Path::new("/usr/bin/python3");
    if system.is_file() {
        return Some(system.to_path_buf());
    }
    super::find_on_path("python3")
}
