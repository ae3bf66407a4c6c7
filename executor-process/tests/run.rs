//! One run of a real short program: its environment, argv, stdin, workdir, exit status and
//! output, and the errors of a run that cannot start.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;

use alert_core::{ExecError, Executor, Exit, Outcome};
use common::{action, chain, execute, options, parse_env, report, request, sh, split_nul};
use executor_process::{DEFAULT_PATH, ProcessExecutor, ProcessOptions, inherited_env};
use proptest::prelude::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Values that would do something in a shell, and must do nothing here.
const HOSTILE: [&str; 8] = [
    "two words",
    "'single' \"double\"",
    "a; rm -rf /tmp/nothing",
    "$(HOME)",
    "line one\nline two\n",
    "`id` and $(id)",
    "",
    "  \t|&>< * ? ~ \\ #",
];

#[test]
fn kind_is_process() {
    let executor = ProcessExecutor::new(action(&["/bin/true"]), ProcessOptions::default());
    assert_eq!(executor.kind(), "process");
}

#[tokio::test]
async fn env_is_exactly_the_inherited_vars_then_the_request_env() {
    let opts = ProcessOptions::default().with_inherited(vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("KEPT".into(), "from alertrun".into()),
        ("OVERRIDDEN".into(), "from alertrun".into()),
    ]);
    let executor = ProcessExecutor::new(action(&["/usr/bin/env", "-0"]), opts);
    let req = request(
        &[
            ("ALERTRUN_STATUS", "firing"),
            ("OVERRIDDEN", "by the request"),
            ("TWICE", "first"),
            ("TWICE", "second"),
        ],
        b"",
    );
    let r = report(&executor, &req).await;
    assert_eq!(r.exit, Some(Exit::Code(0)), "{r:?}");
    assert_eq!(
        parse_env(&r.stdout.bytes),
        map(&[
            ("PATH", "/usr/bin:/bin"),
            ("KEPT", "from alertrun"),
            ("OVERRIDDEN", "by the request"),
            ("ALERTRUN_STATUS", "firing"),
            ("TWICE", "second"),
        ])
    );
}

#[tokio::test]
async fn home_reaches_the_action_only_when_pass_env_names_it() {
    let home = std::env::var("HOME").expect("the test process has HOME");
    let lookup = |name: &str| std::env::var(name).ok();
    let plain = action(&["/usr/bin/env", "-0"]);
    let passing = plain.clone().with_pass_env(vec!["HOME".into()]).unwrap();

    for (act, want_home) in [(plain, None), (passing, Some(&home))] {
        let opts = ProcessOptions::default().with_inherited(inherited_env(&act, lookup));
        let env = parse_env(
            &report(&ProcessExecutor::new(act, opts), &request(&[], b""))
                .await
                .stdout
                .bytes,
        );
        assert_eq!(env.get("HOME"), want_home);
        let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into());
        assert_eq!(env.get("PATH"), Some(&path));
        assert_eq!(env.len(), 1 + usize::from(want_home.is_some()), "{env:?}");
    }
}

#[tokio::test]
async fn hostile_values_stay_one_argument_each_and_unchanged() {
    let names: Vec<String> = (0..HOSTILE.len()).map(|i| format!("V{i}")).collect();
    let mut argv = vec!["/usr/bin/printf".to_string(), "%s\\0".to_string()];
    argv.extend(names.iter().map(|n| format!("$({n})")));
    argv.push("pre-$(V2)-post".into());
    argv.push("$$(V0)".into());
    let executor = ProcessExecutor::new(
        executor_process::ProcessAction::new(argv).unwrap(),
        options(),
    );
    let env: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(HOSTILE).collect();
    let r = report(&executor, &request(&env, b"")).await;
    assert_eq!(r.exit, Some(Exit::Code(0)), "{r:?}");

    let mut want: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    want.push(format!("pre-{}-post", HOSTILE[2]));
    want.push("$(V0)".into());
    assert_eq!(split_nul(&r.stdout.bytes), want);
}

#[tokio::test]
async fn hostile_values_reach_the_env_unchanged() {
    let names: Vec<String> = (0..HOSTILE.len()).map(|i| format!("V{i}")).collect();
    let env: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(HOSTILE).collect();
    let executor = ProcessExecutor::new(action(&["/usr/bin/env", "-0"]), options());
    let r = report(&executor, &request(&env, b"")).await;
    let got = parse_env(&r.stdout.bytes);
    for (name, value) in env {
        assert_eq!(got.get(name).map(String::as_str), Some(value), "{name}");
    }
}

#[tokio::test]
async fn stdin_receives_the_input_byte_for_byte() {
    // Larger than a pipe buffer, every byte value: writing and reading must overlap.
    let input: Vec<u8> = (0..300_000u32).map(|i| (i % 256) as u8).collect();
    let executor =
        ProcessExecutor::new(action(&["/bin/cat"]), options().with_output_limit(1 << 20));
    let r = report(&executor, &request(&[], &input)).await;
    assert_eq!(r.exit, Some(Exit::Code(0)));
    assert_eq!(r.stdout.dropped, 0);
    assert!(r.stdout.bytes == input, "stdout differs from the input");
}

#[tokio::test]
async fn empty_input_is_end_of_file_at_once() {
    let executor = ProcessExecutor::new(action(&["/usr/bin/wc", "-c"]), options());
    let r = report(&executor, &request(&[], b"")).await;
    assert_eq!(r.stdout.text().trim(), "0");
}

#[tokio::test]
async fn a_child_that_ignores_a_large_input_still_finishes_ok() {
    let input = vec![b'x'; 1 << 20];
    for act in [
        action(&["/bin/true"]),
        sh("sleep 0.2; exit 0"),
        sh("exec 0<&-; exit 0"),
    ] {
        let executor = ProcessExecutor::new(act, options());
        let r = report(&executor, &request(&[], &input)).await;
        assert_eq!(r.exit, Some(Exit::Code(0)), "{r:?}");
        assert!(r.success());
    }
}

#[tokio::test]
async fn workdir_is_honoured() {
    let executor = ProcessExecutor::new(
        action(&["/bin/pwd"]).with_workdir("/usr").unwrap(),
        options(),
    );
    let r = report(&executor, &request(&[], b"")).await;
    assert_eq!(r.stdout.text(), "/usr\n");
}

#[tokio::test]
async fn a_program_that_cannot_run_is_an_error_naming_it() {
    for (argv, want) in [
        (
            vec!["/nonexistent/alertrun-prog"],
            "process backend failed: cannot run program \"/nonexistent/alertrun-prog\": \
             No such file or directory",
        ),
        (
            vec!["alertrun-no-such-program"],
            "cannot run program \"alertrun-no-such-program\": No such file or directory",
        ),
        (
            vec!["/etc/passwd"],
            "cannot run program \"/etc/passwd\": Permission denied",
        ),
        (
            vec!["$(PROG)", "x"],
            "cannot run program \"/nonexistent/expanded\": No such file",
        ),
    ] {
        let executor = ProcessExecutor::new(action(&argv), options());
        let e = execute(
            &executor,
            &request(&[("PROG", "/nonexistent/expanded")], b""),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                e,
                ExecError::Backend {
                    backend: "process",
                    ..
                }
            ),
            "{e:?}"
        );
        let text = chain(&e);
        assert!(text.contains(want), "{text}");
    }
}

#[tokio::test]
async fn a_missing_workdir_is_an_error_naming_it() {
    let executor = ProcessExecutor::new(
        action(&["/bin/true"])
            .with_workdir("/nonexistent/alertrun-dir")
            .unwrap(),
        options(),
    );
    let e = execute(&executor, &request(&[], b"")).await.unwrap_err();
    let text = chain(&e);
    assert!(
        text.contains("cannot enter workdir \"/nonexistent/alertrun-dir\": No such file"),
        "{text}"
    );
}

#[tokio::test]
async fn exit_codes_and_deaths_by_signal_are_reported() {
    // `$$$$` is the shell's `$$` once `$(VAR)` expansion has unescaped `$$`.
    for (script, want) in [
        ("exit 0", Exit::Code(0)),
        ("exit 7", Exit::Code(7)),
        ("kill -TERM $$$$", Exit::Signal(15)),
        ("kill -KILL $$$$", Exit::Signal(9)),
        ("kill -USR2 $$$$", Exit::Signal(12)),
    ] {
        let r = report(
            &ProcessExecutor::new(sh(script), options()),
            &request(&[], b""),
        )
        .await;
        assert_eq!(r.exit, Some(want), "{script}");
        assert_eq!(r.ended_by, None, "{script}");
        assert_eq!(r.success(), want == Exit::Code(0), "{script}");
    }
}

#[tokio::test]
async fn output_keeps_only_the_tail_of_each_stream() {
    // 1 MiB to stderr first, then 1 MiB to stdout: reading one stream after the other
    // would block the child on a full stderr pipe.
    let script = "head -c 1048576 /dev/zero | tr '\\0' e >&2; printf ' err-end' >&2; \
                  head -c 1048576 /dev/zero | tr '\\0' o; printf ' out-end'";
    let executor = ProcessExecutor::new(sh(script), options().with_output_limit(1000));
    let r = report(&executor, &request(&[], b"")).await;
    assert_eq!(r.exit, Some(Exit::Code(0)));
    for (tail, fill, end) in [(&r.stdout, b'o', " out-end"), (&r.stderr, b'e', " err-end")] {
        assert_eq!(tail.bytes.len(), 1000);
        assert_eq!(tail.dropped, (1 << 20) + end.len() as u64 - 1000);
        assert!(tail.text().ends_with(end), "{}", tail.text());
        assert!(tail.bytes[..1000 - end.len()].iter().all(|&b| b == fill));
    }
}

#[tokio::test]
async fn short_output_is_kept_whole() {
    let executor = ProcessExecutor::new(sh("echo out; echo err >&2"), options());
    let r = report(&executor, &request(&[], b"")).await;
    assert_eq!((r.stdout.text(), r.stdout.dropped), ("out\n".into(), 0));
    assert_eq!((r.stderr.text(), r.stderr.dropped), ("err\n".into(), 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any value without NUL goes through `$(VAR)` expansion and a real spawn unchanged,
    /// as one argument and as an env value.
    #[test]
    fn any_value_round_trips_through_argv_and_env(
        values in proptest::collection::vec("[^\\x00]{0,40}", 1..5)
    ) {
        let names: Vec<String> = (0..values.len()).map(|i| format!("P{i}")).collect();
        let env: Vec<(&str, &str)> =
            names.iter().map(String::as_str).zip(values.iter().map(String::as_str)).collect();
        let mut argv = vec!["/usr/bin/printf".to_string(), "%s\\0".to_string()];
        argv.extend(names.iter().map(|n| format!("$({n})")));
        let args = ProcessExecutor::new(
            executor_process::ProcessAction::new(argv).unwrap(),
            options(),
        );
        let envs = ProcessExecutor::new(action(&["/usr/bin/env", "-0"]), options());
        let req = request(&env, b"");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (printed, environ) = runtime.block_on(async {
            (report(&args, &req).await, report(&envs, &req).await)
        });
        prop_assert_eq!(split_nul(&printed.stdout.bytes), values.clone());
        let got = parse_env(&environ.stdout.bytes);
        for (name, value) in names.iter().zip(&values) {
            prop_assert_eq!(got.get(name), Some(value));
        }
    }
}

#[tokio::test]
async fn a_finished_run_is_an_outcome_finished() {
    let executor = ProcessExecutor::new(action(&["/bin/false"]), options());
    let outcome = execute(&executor, &request(&[], b"")).await.unwrap();
    assert!(matches!(&outcome, Outcome::Finished(r) if r.exit == Some(Exit::Code(1))));
}
