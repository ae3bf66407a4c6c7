//! Executions per second of `ProcessExecutor` running `/bin/true`, against a bare
//! `tokio::process::Command` loop running the same program: the executor's overhead
//! (process group, env, pipes, output reading, group kill) per run.
//!
//! `cargo bench -p executor-process --bench spawn [-- RUNS]` (default 500 runs each).

use std::error::Error;
use std::future::pending;
use std::process::Stdio;
use std::time::{Duration, Instant};

use alert_core::env::EnvVar;
use alert_core::{ExecRequest, Executor, Outcome, Subject};
use executor_process::{ProcessAction, ProcessExecutor, ProcessOptions, inherited_env};

fn main() -> Result<(), Box<dyn Error>> {
    let runs: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    let action = ProcessAction::new(vec!["/bin/true".into()])?;
    let options =
        ProcessOptions::default().with_inherited(inherited_env(&action, |n| std::env::var(n).ok()));
    let executor = ProcessExecutor::new(action, options);
    let req = ExecRequest {
        rule: "bench".into(),
        dedup_key: "bench".into(),
        subject: Subject::default(),
        env: (0..20)
            .map(|i| EnvVar::new(format!("ALERTRUN_LABEL_l{i}"), format!("value {i}")))
            .collect(),
        input: br#"{"status":"firing"}"#.to_vec(),
        deadline: Duration::from_secs(30),
    };

    let bare_loop = |n: u32| async move {
        let start = Instant::now();
        for _ in 0..n {
            let status = tokio::process::Command::new("/bin/true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await?;
            assert!(status.success(), "/bin/true failed: {status}");
        }
        Ok::<_, std::io::Error>(start.elapsed())
    };
    let executor_loop = |n: u32| {
        let (executor, req) = (&executor, &req);
        async move {
            let start = Instant::now();
            for _ in 0..n {
                let outcome = executor.execute(req, Box::pin(pending())).await?;
                let ok = matches!(&outcome, Outcome::Finished(r) if r.success());
                assert!(ok, "/bin/true did not succeed: {outcome:?}");
            }
            Ok::<_, alert_core::ExecError>(start.elapsed())
        }
    };

    // Warm up both paths, then alternate rounds so drift in the machine's load hits both.
    runtime.block_on(bare_loop(50))?;
    runtime.block_on(executor_loop(50))?;
    let (mut bare, mut executed) = (Duration::ZERO, Duration::ZERO);
    let rounds = 5;
    for _ in 0..rounds {
        bare += runtime.block_on(bare_loop(runs / rounds))?;
        executed += runtime.block_on(executor_loop(runs / rounds))?;
    }
    let runs = runs / rounds * rounds;

    let rate = |d: Duration| f64::from(runs) / d.as_secs_f64();
    println!("runs per figure: {runs}");
    println!(
        "bare tokio::process::Command /bin/true: {:8.1} executions/s",
        rate(bare)
    );
    println!(
        "ProcessExecutor /bin/true:              {:8.1} executions/s",
        rate(executed)
    );
    println!(
        "executor overhead per run:              {:8.1} µs",
        (executed.as_secs_f64() - bare.as_secs_f64()) * 1e6 / f64::from(runs)
    );
    Ok(())
}
