//! Running: the scheduler starts what the limits allow, each run recorded as running
//! first; each action's end is logged, counted and recorded.

use std::sync::Arc;
use std::time::Duration;

use alert_core::Outcome;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::record::finished_record;
use super::{Inner, Run, Update};
use crate::serve::metrics::RunOutcome;
use crate::store::{self, RunState};

/// The scheduler task: starts what the limits allow, each recorded as running first.
pub(super) async fn schedule(inner: Arc<Inner>) {
    loop {
        let woken = inner.wake.notified();
        let start = inner.startable();
        if !start.is_empty() {
            // Their slots are taken; recording them as running happens beside the loop,
            // so that further runs can start while this write is on its way.
            tokio::spawn(start_runs(Arc::clone(&inner), start));
        }
        woken.await;
    }
}

/// Records `start` as running, then starts their actions; when the record cannot be
/// written they go back to the front of the queue and are tried again a second later.
async fn start_runs(inner: Arc<Inner>, mut start: Vec<Run>) {
    let now = inner.now();
    let mut write = store::Batch::default();
    for run in &mut start {
        run.record.state = RunState::Running;
        run.record.started_at = Some(now);
        write.runs.push(run.record.clone());
    }
    match inner.write(write).await {
        Ok(()) => {
            for run in start {
                tokio::spawn(execute(Arc::clone(&inner), run));
            }
        }
        Err(e) => {
            error!(error = %e, runs = start.len(),
                "cannot record actions as started: they wait in the queue; retrying in 1s");
            for run in &mut start {
                run.record.state = RunState::Queued;
                run.record.started_at = None;
            }
            inner.unstart(start);
            tokio::time::sleep(Duration::from_secs(1)).await;
            inner.wake.notify_one();
        }
    }
}

async fn execute(inner: Arc<Inner>, mut run: Run) {
    let executor = Arc::clone(&run.executor);
    let req = &run.request;
    let fingerprint = req
        .subject
        .fingerprint
        .map(|f| f.to_string())
        .unwrap_or_default();
    // `<fingerprint>@<startsAt>` for an alert; a group run has no episode.
    let episode = if req.subject.fingerprint.is_some() {
        run.subject.clone()
    } else {
        String::new()
    };
    info!(rule = %req.rule, fingerprint, episode, status = req.subject.status.map_or("", |s| s.as_str()),
        group_key = %req.subject.group_key, run = run.record.id, executor = executor.kind(), "action started");
    let stop = std::mem::replace(&mut run.stop, oneshot::channel().1);
    let stop = Box::pin(async move {
        match stop.await {
            Ok(reason) => reason,
            Err(_) => std::future::pending().await,
        }
    });
    let started = Instant::now();
    let result = executor.execute(req, stop).await;
    let duration = started.elapsed();
    let duration_ms = duration.as_millis();
    let record = finished_record(&run.record, &result, inner.now());
    inner
        .options
        .metrics
        .run_finished(&record.rule, outcome_of(record.state, &result), duration);
    let exit = record.exit.clone().unwrap_or_default();
    let ended_by = record.ended_by.clone().unwrap_or_default();
    let id = record.id;
    match (&result, record.state) {
        (_, RunState::Succeeded) => info!(rule = %req.rule, fingerprint, episode, run = id, exit,
            duration_ms, stdout = %log_tail(&record.stdout), "action succeeded"),
        (_, RunState::Failed) => warn!(rule = %req.rule, fingerprint, episode, run = id, exit,
            duration_ms, stderr = %log_tail(&record.stderr), reason = record.reason.as_deref().unwrap_or(""),
            "action failed"),
        (_, RunState::TimedOut) => warn!(rule = %req.rule, fingerprint, episode, run = id, exit,
            duration_ms, stderr = %log_tail(&record.stderr), "action timed out"),
        (Ok(Outcome::Finished(_)), _) => info!(rule = %req.rule, fingerprint, episode, run = id,
            exit, ended_by, duration_ms, "action stopped"),
        _ => info!(rule = %req.rule, fingerprint, episode, run = id, state = record.state.as_str(),
            duration_ms, "action ended"),
    }
    // The slot is freed once the end is written, so that the store never shows more
    // runs `running` than may run at once (a crash then interrupts only those). An end
    // that cannot be written goes to the recorder, which retries it.
    let end = store::Batch {
        runs: vec![record.clone()],
        ..store::Batch::default()
    };
    if inner.write(end).await.is_err() {
        let _ = inner.updates.send(Update::End(Box::new(record)));
    }
    inner.finished(&run);
}

/// The metric outcome of a finished run.
fn outcome_of(state: RunState, result: &Result<Outcome, alert_core::ExecError>) -> RunOutcome {
    match state {
        _ if result.is_err() => RunOutcome::Error,
        RunState::Succeeded => RunOutcome::Succeeded,
        RunState::TimedOut => RunOutcome::TimedOut,
        RunState::Cancelled => RunOutcome::Cancelled,
        RunState::Interrupted => RunOutcome::Interrupted,
        _ => RunOutcome::Failed,
    }
}

/// The recorder task: writes runs' ends, batched.
pub(super) async fn record_ends(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Update>) {
    const RETRY: Duration = Duration::from_secs(1);
    // Ends that could not be written (full or read-only disk): kept, and written again
    // every second until they are, before anything newer.
    let mut unwritten: Vec<store::RunRecord> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let first = if unwritten.is_empty() {
            match rx.recv().await {
                Some(update) => Some(update),
                None => return,
            }
        } else {
            tokio::time::timeout(RETRY, rx.recv()).await.ok().flatten()
        };
        let mut write = store::Batch {
            runs: std::mem::take(&mut unwritten),
            ..store::Batch::default()
        };
        let mut next = first;
        while let Some(update) = next.take().or_else(|| rx.try_recv().ok()) {
            match update {
                Update::End(record) => write.runs.push(*record),
                Update::Flush(done) => flushes.push(done),
            }
            if write.runs.len() >= 512 {
                break;
            }
        }
        let runs = write.runs.clone();
        if let Err(e) = inner.write(write).await {
            error!(error = %e, runs = runs.len(),
                "cannot record how actions ended: retrying every second");
            unwritten = runs;
            continue;
        }
        // Everything sent before a flush request is written now.
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// The end of an output for a log line: at most 1 KiB, trailing whitespace dropped.
fn log_tail(text: &str) -> String {
    const MAX: usize = 1024;
    let text = text.trim_end();
    let mut start = text.len().saturating_sub(MAX);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}
