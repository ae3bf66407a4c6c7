//! Run records: what the store keeps of each run, built from the request and the outcome.

use std::time::{SystemTime, UNIX_EPOCH};

use alert_core::env::{self, EnvVar};
use alert_core::{EndedBy, ExecError, ExecRequest, Notification, Outcome, Scrubber};

use crate::config::Config;
use crate::lifecycle::{End, Event};
use crate::store::{RunRecord, RunState};

/// What a run record shows for `ALERTRUN_ALERT_JSON` and `ALERTRUN_GROUP_JSON`: the value
/// is the notification stored with the run (`/api/v1/runs/{id}` names it).
pub(crate) const STORED_WITH_NOTIFICATION: &str = "<the alert JSON, stored with the notification>";

/// Unix milliseconds now, from the system clock.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The record of a run about to be queued (id 0: assigned when the batch is taken).
/// Secret values are redacted in its env and in its argv.
#[allow(clippy::too_many_arguments)]
pub(crate) fn queued(
    config: &Config,
    rule: usize,
    executor: &str,
    n: &Notification,
    notification: u64,
    alert_index: Option<usize>,
    request: &ExecRequest,
    dedupe_key: String,
    now: i64,
) -> RunRecord {
    let (argv, env) = queued_action(config, rule, request);
    let alert = alert_index.and_then(|i| n.alerts.get(i));
    RunRecord {
        id: 0,
        rule: request.rule.clone(),
        executor: executor.to_owned(),
        notification,
        alert_index,
        fingerprint: request
            .subject
            .fingerprint
            .map(|f| f.to_string())
            .unwrap_or_default(),
        labels: alert
            .map(|a| a.labels.clone())
            .unwrap_or_else(|| n.common_labels.clone()),
        status: request.subject.status.map_or("", |s| s.as_str()).to_owned(),
        starts_at: request
            .subject
            .starts_at
            .map(|t| t.to_string())
            .unwrap_or_default(),
        group_key: n.group_key.clone(),
        receiver: n.receiver_name(),
        dedupe_key,
        state: RunState::Queued,
        reason: None,
        created_at: now,
        started_at: None,
        ended_at: None,
        exit: None,
        ended_by: None,
        stdout: String::new(),
        stderr: String::new(),
        argv,
        env,
        dry_run: false,
        timeline: Vec::new(),
        started: None,
        verdict: None,
        silence: None,
        approval: None,
        notifications: Vec::new(),
        claim: None,
    }
}

/// The action of `request` as a record shows it: argv and env, secrets redacted, the
/// alert (or group) JSON left to the stored notification (not kept twice).
pub(crate) fn queued_action(
    config: &Config,
    rule: usize,
    request: &ExecRequest,
) -> (Vec<String>, Vec<(String, String)>) {
    let shown: Vec<EnvVar> = request
        .env
        .iter()
        .map(|v| EnvVar::new(v.name.clone(), v.shown_value()))
        .collect();
    let argv = crate::backend::shown_argv(config.action(rule), &shown);
    let env = shown
        .into_iter()
        .map(|v| match v.name.as_str() {
            env::ALERT_JSON | env::GROUP_JSON => (v.name, STORED_WITH_NOTIFICATION.to_owned()),
            _ => (v.name, v.value),
        })
        .collect();
    (argv, env)
}

/// `running` after its action returned `result`, and the lifecycle event that ends it.
/// `scrubber` takes the request's secret values out of the outputs' tails and the reason.
pub(super) fn finished_record(
    running: &RunRecord,
    result: &Result<Outcome, ExecError>,
    scrubber: &Scrubber,
    now: i64,
) -> (RunRecord, Event) {
    let mut record = running.clone();
    record.ended_at = Some(now);
    let end = match result {
        Ok(Outcome::Finished(report)) => {
            record.exit = report.exit.map(|e| e.to_string());
            // Tails: a secret may be cut at their start.
            record.stdout = scrubber.scrub_cut(&report.stdout.text()).into_owned();
            record.stderr = scrubber.scrub_cut(&report.stderr.text()).into_owned();
            // Why it ended, as the backend read it (a Job's failure condition, say).
            if let Some(reason) = &report.reason {
                record.reason = Some(scrubber.scrub(reason).into_owned());
            }
            match report.ended_by {
                None if report.success() => End::Succeeded,
                None => End::Failed,
                Some(EndedBy::Timeout) => {
                    record.ended_by = Some("timeout".to_owned());
                    End::TimedOut
                }
                Some(EndedBy::Vanished) => End::Unknown,
                Some(EndedBy::Stop(reason)) => {
                    record.ended_by = Some(reason.as_str().to_owned());
                    match reason {
                        alert_core::StopReason::Shutdown => End::Interrupted,
                        _ => End::Cancelled,
                    }
                }
                Some(_) => End::Failed,
            }
        }
        Ok(Outcome::Submitted { reference }) => {
            record.reason = Some(
                scrubber
                    .scrub(&format!("submitted: {reference}"))
                    .into_owned(),
            );
            End::Succeeded
        }
        Ok(Outcome::Duplicate) => {
            record.state = RunState::Skipped;
            record.reason = Some("already started by an earlier request".to_owned());
            return (record, Event::Skip);
        }
        Ok(_) => End::Succeeded,
        Err(e) => {
            record.reason = Some(scrubber.scrub(&super::run::record_chain(e)).into_owned());
            End::Failed
        }
    };
    record.state = end.state();
    (record, Event::Ended(end))
}

/// Moves `record` into `state` at `now`, adding the step to its timeline, and stamps the
/// times the state implies.
pub(crate) fn enter(record: &mut RunRecord, state: RunState, now: i64, cause: String) {
    record.state = state;
    match state {
        RunState::Starting if record.started_at.is_none() => record.started_at = Some(now),
        s if !s.is_unfinished() => record.ended_at = Some(now),
        _ => {}
    }
    record.timeline.push(crate::store::Transition {
        state,
        at: now,
        cause,
    });
}
