//! Running: the scheduler starts what the limits allow, each recorded `starting` first; a
//! start the backend cannot make is retried with backoff; each action's end is logged,
//! counted and recorded.

use std::sync::Arc;
use std::time::Duration;

use alert_core::{ExecError, ExecRequest, Outcome, Scrubber, Started, StopReason};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::record::{enter, finished_record};
use super::{Inner, Run, Update};
use crate::lifecycle::{End, Event, RunId, retry_delay};
use crate::serve::metrics::RunOutcome;
use crate::serve::notify::NotifyEvent;
use crate::serve::silences::{self, expire_silence};
use crate::store::{self, RunRecord, RunState, StoreError};

/// The scheduler task: starts what the limits allow, each recorded as starting first.
pub(super) async fn schedule(inner: Arc<Inner>) {
    loop {
        let woken = inner.wake.notified();
        let start = inner.startable();
        if !start.is_empty() {
            // Their slots are taken; recording them as starting happens beside the loop,
            // so that further runs can start while this write is on its way.
            tokio::spawn(start_runs(Arc::clone(&inner), start));
        }
        woken.await;
    }
}

impl Inner {
    /// Takes the runs that may start now (the ledger decides), with their payloads.
    fn startable(&self) -> Vec<Run> {
        let mut state = self.lock();
        let now = self.now();
        if state
            .starts_paused_until
            .is_some_and(|until| Instant::now() < until)
        {
            return Vec::new();
        }
        let ids = state.ledger.take_startable();
        let mut start = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(mut run) = state.queued.remove(&id) {
                enter(
                    &mut run.record,
                    RunState::Starting,
                    now,
                    "slot free".to_owned(),
                );
                start.push(run);
            }
        }
        let (running, queued) = state.ledger.load();
        self.options.metrics.set_queued(queued);
        self.options.metrics.set_running(running);
        let oldest = state
            .ledger
            .queued()
            .next()
            .and_then(|id| state.queued.get(&id))
            .map_or(0.0, |r| r.queued_at.elapsed().as_secs_f64());
        self.options.metrics.set_oldest_queued_age(oldest);
        start
    }

    /// Puts runs whose start could not be recorded back at the front of the queue.
    fn unstart(&self, runs: Vec<Run>) {
        let mut state = self.lock();
        for mut run in runs.into_iter().rev() {
            let id = run.record.id;
            if state.ledger.apply(id, Event::Untake).is_ok() {
                run.record.state = RunState::Queued;
                run.record.started_at = None;
                run.record.timeline.pop();
                state.queued.insert(id, run);
            }
        }
    }

    /// Records the end of run `id` in the ledger, wakes the scheduler, and signals idle.
    pub(super) fn release(&self, id: RunId, event: Event) {
        let mut state = self.lock();
        match state.ledger.apply(id, event) {
            Ok(step) if !step.state.is_unfinished() => {
                let now = self.now();
                if let Some(change) = state.rails.ended(id, step.state, now) {
                    breaker_changed(&change);
                    self.notify_breaker(&mut state, &change, id);
                    let open = state.rails.open_count(&change.rule);
                    self.options
                        .metrics
                        .set_circuit_open(change.rule.as_str(), open);
                }
                self.store_changes(&mut state);
            }
            Ok(_) => {}
            Err(e) => error!(run = id, error = %e, "lifecycle: unexpected transition"),
        }
        state.stops.remove(&id);
        state.outbox_runs.remove(&id);
        let (running, _) = state.ledger.load();
        self.options.metrics.set_running(running);
        drop(state);
        self.wake.notify_one();
        if running == 0 {
            self.idle.notify_waiters();
        }
    }
}

/// Records `start` as starting, then starts their actions. When the store lost their
/// notifications (its file was replaced), they are written again with the runs. When the
/// record still cannot be written, the runs go back to the front of the queue, starting
/// pauses with a backoff (0.5 s doubling to 30 s), and intake refuses notifications that
/// would queue runs (503) until a start is recorded again.
async fn start_runs(inner: Arc<Inner>, start: Vec<Run>) {
    let written = write_runs(
        &inner,
        || store::Batch {
            runs: start.iter().map(|r| r.record.clone()).collect(),
            ..store::Batch::default()
        },
        start.iter().map(|r| (r.record.notification, &r.body)),
    )
    .await;
    match written {
        Ok(()) => {
            inner.starts_recorded();
            for run in start {
                tokio::spawn(execute(Arc::clone(&inner), run));
            }
        }
        Err(e) => {
            let delay = inner.starts_failed();
            error!(error = %e, runs = start.len(), retry_in_ms = delay.as_millis(),
                "cannot record actions as started: they wait in the queue, and notifications that would queue more are refused");
            inner.unstart(start);
            tokio::time::sleep(delay).await;
            inner.wake.notify_one();
        }
    }
}

impl Inner {
    /// A start was recorded: starting and intake go on as usual.
    fn starts_recorded(&self) {
        let mut state = self.lock();
        if state.start_failures > 0 {
            info!("actions can be recorded as started again");
        }
        state.start_failures = 0;
        state.starts_paused_until = None;
    }

    /// A start could not be recorded: pauses starting for a backoff, and returns it.
    fn starts_failed(&self) -> Duration {
        let mut state = self.lock();
        state.start_failures = state.start_failures.saturating_add(1);
        let delay = retry_delay(state.start_failures, Duration::ZERO, Duration::MAX)
            .unwrap_or(Duration::from_secs(30));
        state.starts_paused_until = Some(Instant::now() + delay);
        delay
    }
}

/// Resolves when a stop is asked for.
pub(super) async fn stopped(mut stop: watch::Receiver<Option<StopReason>>) -> StopReason {
    let asked = stop.wait_for(Option::is_some).await.map(|reason| *reason);
    match asked {
        Ok(reason) => reason.unwrap_or(StopReason::Shutdown),
        Err(_) => std::future::pending().await,
    }
}

async fn execute(inner: Arc<Inner>, mut run: Run) {
    let executor = Arc::clone(&run.executor);
    let id = run.record.id;
    // The silence lasts through the verification window of a rule with `verify` (its
    // verdict expires it). The config is not kept for the action's whole run.
    let (loaded, deadline) = (inner.loaded(), run.request.deadline);
    let settings = loaded.config.alertmanager();
    let extra = run
        .verify
        .as_ref()
        .map_or(Duration::ZERO, |p| p.verify.within);
    silences::start(settings, &mut run.record, deadline, extra, inner.now()).await;
    drop(loaded);
    let first_attempt = Instant::now();
    let mut attempt: u32 = 0;
    let (result, duration) = loop {
        attempt += 1;
        info!(rule = %run.request.rule, run = id, attempt, executor = executor.kind(),
            group_key = %run.request.subject.group_key, "action starting");
        let started = Instant::now();
        let (result, handed) = run_observed(&inner, &mut run).await;
        let duration = started.elapsed();
        let Err(e) = &result else {
            break (result, duration);
        };
        if handed {
            // It started, then failed: never started again (it may still be running).
            break (result, duration);
        }
        // The action never started.
        let stop_asked = *run.stop.borrow();
        let retry_in = match stop_asked {
            None if e.is_transient() => {
                retry_delay(attempt, first_attempt.elapsed(), run.request.deadline)
            }
            _ => None,
        };
        let reason = shown_chain(e, &run.request);
        let now = inner.now();
        let Some(delay) = retry_in else {
            if let Some(reason) = stop_asked {
                end_unstarted(&inner, run, reason).await;
            } else {
                failed_to_start(&inner, run, attempt, reason).await;
            }
            return;
        };
        warn!(rule = %run.request.rule, run = id, attempt, error = %reason,
            retry_in_ms = delay.as_millis(), "action could not start: retrying");
        {
            let mut state = inner.lock();
            let _ = state.ledger.apply(
                id,
                Event::StartFailed {
                    retry_in: Some(delay),
                },
            );
        }
        enter(
            &mut run.record,
            RunState::Starting,
            now,
            format!(
                "attempt {attempt} failed: {reason}; retrying in {}ms",
                delay.as_millis()
            ),
        );
        let _ = inner
            .write(store::Batch {
                runs: vec![run.record.clone()],
                ..store::Batch::default()
            })
            .await;
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            reason = stopped(run.stop.clone()) => {
                end_unstarted(&inner, run, reason).await;
                return;
            }
        }
    };
    finish(&inner, run, &result, duration).await;
}

/// Runs the action once, recording it `running` (with its start handle) as soon as the
/// backend says it started. Returns the result, and whether the backend handed a handle.
async fn run_observed(inner: &Inner, run: &mut Run) -> (Result<Outcome, ExecError>, bool) {
    let executor = Arc::clone(&run.executor);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let on_start = move |started: Started| {
        let _ = tx.send(started);
    };
    let stop = Box::pin(stopped(run.stop.clone()));
    let Run {
        request,
        record,
        body,
        ..
    } = run;
    let mut exec = executor.execute_observed(request, stop, &on_start);
    let mut handed = false;
    let result = loop {
        tokio::select! {
            biased;
            Some(started) = rx.recv(), if !handed => {
                handed = true;
                mark_running(inner, record, body, started).await;
            }
            result = &mut exec => break result,
        }
    };
    if !handed && let Ok(started) = rx.try_recv() {
        handed = true;
        mark_running(inner, record, body, started).await;
    }
    (result, handed)
}

/// Records run `run` `running` with the backend's handle, before anything else happens,
/// so that a restart finds what it started.
async fn mark_running(inner: &Inner, record: &mut RunRecord, body: &Arc<[u8]>, started: Started) {
    let now = inner.now();
    let id = record.id;
    if let Err(e) = inner.lock().ledger.apply(id, Event::Started) {
        error!(run = id, error = %e, "lifecycle: unexpected transition");
    }
    enter(record, RunState::Running, now, format!("started {started}"));
    record.started = Some(started);
    inner.notify(&NotifyEvent::Started, record, body);
    if let Err(e) = write_run(inner, record, body).await {
        error!(run = id, error = %e, "cannot record that the action started");
    }
}

/// A run asked to stop before its action started: `cancelled` (resolved) or `interrupted`.
async fn end_unstarted(inner: &Inner, mut run: Run, reason: StopReason) {
    let end = match reason {
        StopReason::Resolved => End::Cancelled,
        _ => End::Interrupted,
    };
    let now = inner.now();
    run.record.ended_by = Some(reason.as_str().to_owned());
    run.record.reason = Some(format!("{} before the action started", reason.as_str()));
    enter(
        &mut run.record,
        end.state(),
        now,
        format!("stop asked: {}", reason.as_str()),
    );
    expire_silence(inner.loaded().config.alertmanager(), &mut run.record, now).await;
    let id = run.record.id;
    write_end(inner, run.record, &run.body).await;
    inner.release(id, Event::Ended(end));
}

/// A run whose action could not be started within its deadline: `failed_to_start`, and its
/// episode reopened so that Alertmanager's next delivery of the alert tries again.
async fn failed_to_start(inner: &Inner, mut run: Run, attempts: u32, reason: String) {
    let now = inner.now();
    error!(rule = %run.request.rule, run = run.record.id, attempts, error = %reason,
        "action could not be started: the episode stays open for the next delivery");
    inner
        .options
        .metrics
        .run_finished(&run.record.rule, RunOutcome::Error, Duration::ZERO);
    run.record.reason = Some(reason.clone());
    enter(
        &mut run.record,
        RunState::FailedToStart,
        now,
        format!("gave up after {attempts} attempt(s): {reason}"),
    );
    expire_silence(inner.loaded().config.alertmanager(), &mut run.record, now).await;
    inner.notify_end(&mut run.record, &run.body);
    let key = run.live.key.to_store_key();
    let id = run.record.id;
    let written = write_runs(
        inner,
        || store::Batch {
            runs: vec![run.record.clone()],
            dedupe_remove: vec![key.clone()],
            ..store::Batch::default()
        },
        [(run.record.notification, &run.body)],
    )
    .await;
    // Its episode is open again, on any replica: its claim is given back.
    if let Some(ha) = &inner.options.ha {
        ha.release(&[id]);
    }
    if written.is_err() {
        let _ = inner
            .updates
            .send(Update::End(Box::new(run.record), Arc::clone(&run.body)));
    }
    inner.release(id, Event::StartFailed { retry_in: None });
}

/// Records how a started action ended.
pub(super) async fn finish(
    inner: &Inner,
    run: Run,
    result: &Result<Outcome, ExecError>,
    duration: Duration,
) {
    let req = &run.request;
    let started_at = run.record.started_at.unwrap_or_default();
    let mut record = run.record.clone();
    if record.state == RunState::Starting && !matches!(result, Ok(Outcome::Duplicate)) {
        // A backend that hands out no handle (its work cannot outlive alertrun): it
        // started when it was called.
        enter(
            &mut record,
            RunState::Running,
            started_at,
            "started".to_owned(),
        );
        let _ = inner.lock().ledger.apply(record.id, Event::Started);
    }
    let now = inner.now();
    let scrubber = Scrubber::from_env(&req.env);
    let (mut record, event) = finished_record(&record, result, &scrubber, now);
    let fingerprint = record.fingerprint.clone();
    inner
        .options
        .metrics
        .run_finished(&record.rule, outcome_of(record.state, result), duration);
    let exit = record.exit.clone().unwrap_or_default();
    let ended_by = record.ended_by.clone().unwrap_or_default();
    let id = record.id;
    let duration_ms = duration.as_millis();
    match record.state {
        RunState::Succeeded => info!(rule = %req.rule, fingerprint, run = id, exit,
            duration_ms, stdout = %log_tail(&record.stdout), "action succeeded"),
        RunState::Failed => warn!(rule = %req.rule, fingerprint, run = id, exit,
            duration_ms, stderr = %log_tail(&record.stderr), reason = record.reason.as_deref().unwrap_or(""),
            "action failed"),
        RunState::TimedOut => warn!(rule = %req.rule, fingerprint, run = id, exit,
            duration_ms, stderr = %log_tail(&record.stderr), reason = record.reason.as_deref().unwrap_or(""),
            "action timed out"),
        RunState::Unknown => warn!(rule = %req.rule, fingerprint, run = id, duration_ms,
            reason = record.reason.as_deref().unwrap_or(""), "action vanished: its outcome is unknown"),
        RunState::Cancelled | RunState::Interrupted => info!(rule = %req.rule, fingerprint,
            run = id, exit, ended_by, duration_ms, "action stopped"),
        _ => info!(rule = %req.rule, fingerprint, run = id, state = record.state.as_str(),
            duration_ms, "action ended"),
    }
    let cause = match (&record.exit, &record.reason) {
        (Some(exit), _) => exit.clone(),
        (None, Some(reason)) => reason.clone(),
        (None, None) => record.state.as_str().to_owned(),
    };
    let state = record.state;
    enter(&mut record, state, now, cause);
    let verify = run.verify.as_ref().filter(|_| state == RunState::Succeeded);
    if let Some(plan) = verify {
        Inner::pending_verdict(&mut record, plan, now);
    } else {
        // At once, whatever the end: a run that did not succeed pages humans again. A
        // succeeded run waiting for its verdict keeps its silence until the verdict.
        expire_silence(inner.loaded().config.alertmanager(), &mut record, now).await;
    }
    inner.notify_end(&mut record, &run.body);
    let watched = verify.map(|_| record.clone());
    write_end(inner, record, &run.body).await;
    if let (Some(record), Some(plan)) = (&watched, verify) {
        inner.watch_verdict(record, &run.target, plan);
    }
    // The slot is freed once the end is written, so that the store never shows more
    // runs unfinished than may run at once.
    inner.release(id, event);
}

/// Writes the batch `make` builds. When the store refuses it because it lost the
/// notifications its runs refer to (its file was replaced under alertrun), writes it once
/// more with their `bodies`. `make` is called again only then.
async fn write_runs<'a>(
    inner: &Inner,
    make: impl Fn() -> store::Batch,
    bodies: impl IntoIterator<Item = (u64, &'a Arc<[u8]>)>,
) -> Result<(), Arc<StoreError>> {
    let written = inner.write(make()).await;
    if !super::lost_notification(&written) {
        return written;
    }
    warn!(
        "the store lost the notifications of runs being written (was its file replaced?): writing them again"
    );
    inner
        .write(super::with_bodies(make(), bodies.into_iter()))
        .await
}

/// Writes one run (with its notification's body again if the store lost it).
async fn write_run(
    inner: &Inner,
    record: &RunRecord,
    body: &Arc<[u8]>,
) -> Result<(), Arc<StoreError>> {
    write_runs(
        inner,
        || store::Batch {
            runs: vec![record.clone()],
            ..store::Batch::default()
        },
        [(record.notification, body)],
    )
    .await
}

/// Writes a run's end; one that cannot be written goes to the recorder, which retries it.
/// With `server.ha`, its claim is marked finished with its end state.
pub(super) async fn write_end(inner: &Inner, record: RunRecord, body: &Arc<[u8]>) {
    if let Some(ha) = &inner.options.ha {
        ha.ended(record.id, record.state.as_str(), inner.now());
    }
    if write_run(inner, &record, body).await.is_err() {
        let _ = inner
            .updates
            .send(Update::End(Box::new(record), Arc::clone(body)));
    }
}

/// An error's text followed by its sources': `a: b: c`.
pub(super) fn record_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// [`record_chain`] of `e`, with `request`'s secret values redacted: for logs and records.
pub(super) fn shown_chain(e: &dyn std::error::Error, request: &ExecRequest) -> String {
    Scrubber::from_env(&request.env)
        .scrub(&record_chain(e))
        .into_owned()
}

/// The metric outcome of a finished run.
fn outcome_of(state: RunState, result: &Result<Outcome, ExecError>) -> RunOutcome {
    match state {
        _ if result.is_err() => RunOutcome::Error,
        RunState::Succeeded => RunOutcome::Succeeded,
        RunState::TimedOut => RunOutcome::TimedOut,
        RunState::Cancelled => RunOutcome::Cancelled,
        RunState::Interrupted => RunOutcome::Interrupted,
        RunState::Unknown => RunOutcome::Unknown,
        _ => RunOutcome::Failed,
    }
}

/// The recorder task: writes runs' ends, batched.
pub(super) async fn record_ends(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Update>) {
    const RETRY: Duration = Duration::from_secs(1);
    // Ends that could not be written (full or read-only disk): kept, and written again
    // every second until they are, before anything newer.
    let mut unwritten: Vec<(store::RunRecord, Arc<[u8]>)> = Vec::new();
    let mut unwritten_settings: Vec<(String, Option<Vec<u8>>)> = Vec::new();
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
        let mut ends = std::mem::take(&mut unwritten);
        let mut settings = std::mem::take(&mut unwritten_settings);
        let mut next = first;
        while let Some(update) = next.take().or_else(|| rx.try_recv().ok()) {
            match update {
                Update::End(record, body) => {
                    if let Some(ha) = &inner.options.ha {
                        ha.ended(record.id, record.state.as_str(), inner.now());
                    }
                    ends.push((*record, body));
                }
                Update::Flush(done) => flushes.push(done),
                Update::Settings(more) => settings.extend(more),
            }
            if ends.len() >= 512 {
                break;
            }
        }
        let written = write_runs(
            &inner,
            || store::Batch {
                runs: ends.iter().map(|(record, _)| record.clone()).collect(),
                settings: settings.clone(),
                ..store::Batch::default()
            },
            ends.iter()
                .map(|(record, body)| (record.notification, body)),
        )
        .await;
        if let Err(e) = written {
            error!(error = %e, runs = ends.len(),
                "cannot record how actions ended: retrying every second");
            unwritten = ends;
            unwritten_settings = settings;
            continue;
        }
        // Everything sent before a flush request is written now.
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Says in the log that a breaker opened (a human is needed) or closed.
pub(super) fn breaker_changed(change: &crate::lifecycle::rails::BreakerChange) {
    use crate::lifecycle::rails::Breaker;
    match &change.breaker {
        Breaker::Open { until, why, .. } => warn!(
            rule = %change.rule, target = %change.target, why = %why,
            until = %crate::lifecycle::rails::rfc3339(*until),
            "circuit breaker open: runs of this rule on this target are skipped; a human is needed (alertrun breaker reset)"
        ),
        _ => info!(rule = %change.rule, target = %change.target, "circuit breaker closed"),
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

#[cfg(test)]
mod tests {
    use alert_core::env::EnvVar;

    use super::*;

    #[test]
    fn shown_chain_redacts_the_requests_secrets_in_every_source() {
        let request = ExecRequest {
            rule: "r".into(),
            dedup_key: "k".into(),
            subject: alert_core::Subject::default(),
            env: vec![
                EnvVar::new("SHOWN", "visible"),
                EnvVar {
                    name: "TOKEN".into(),
                    value: "s3cr3t-token".into(),
                    secret: true,
                },
            ],
            input: Vec::new(),
            deadline: Duration::from_secs(1),
        };
        let e = ExecError::Transient {
            backend: "process",
            source: Box::new(std::io::Error::other(
                "cannot run program \"/opt/s3cr3t-token/visible\"",
            )),
        };
        assert_eq!(
            shown_chain(&e, &request),
            "process backend cannot start the action for now: \
             cannot run program \"/opt/<redacted>/visible\""
        );
    }
}
