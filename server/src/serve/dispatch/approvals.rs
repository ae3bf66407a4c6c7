//! Approvals: runs of a rule with `approval: {required: true}` wait for people before they
//! queue.
//!
//! A due run of such a rule that the rails let through is recorded `awaiting_approval` with
//! its action rendered (argv and env as the record shows them, secrets redacted) and the
//! SHA-256 **digest** of that action and of the rule's action config. The run, with the
//! request it will execute, stays in memory ([`State::awaiting`](super::State)): a reload
//! that changes the rule does not change what a pending run executes. After a restart the
//! action is rendered again from the stored notification and the current config; a digest
//! that differs means the rule changed, and the run is rejected rather than run with an
//! action nobody approved.
//!
//! Decisions ([`Dispatcher::decide`]) come from the API, the CLI (through the API) and
//! signed one-time links: `{url}/approvals/{id}/{approve|reject}?expires=E&sig=S`, where `S`
//! is HMAC-SHA256, keyed with `server.approvals`' secret, over `"{id}.{digest}.{decision}.{E}"`.
//! A link names the digest, so it approves that action only; it expires with the approval;
//! a run decides once per person, so a link used twice is refused. Each decision records
//! who (the name decided for, or the caller's identity), how, when and the comment.
//!
//! Enough approvals (`min_approvals`, counted per person) queue the run, once the episode
//! is checked again: paused, muted, a breaker open now, and the run is `skipped` with the
//! reason instead. One rejection rejects it. No decision within `timeout` rejects it with
//! reason `timeout`; its alert resolving cancels it.
//!
//! What this module is not: the HTTP routes (`serve::http::control`) or a second store of
//! pending runs (the run records are).

use std::sync::Arc;
use std::time::Duration;

use crate::lifecycle::rails::ms;

use alert_core::ExecRequest;
use ring::hmac;
use serde_json::json;
use tracing::{info, warn};

use super::record::enter;
use super::{Dispatcher, Inner, Run, State};
use crate::config::{Approval, ApprovalLinks, Config};
use crate::lifecycle::{Event, RuleName, RunId};
use crate::serve::api::{DecideError, Decision};
use crate::serve::notify::NotifyEvent;
use crate::store::{self, ApprovalDecision, ApprovalRecord, RunRecord, RunState};

/// The digest an approval names: SHA-256 of the action as recorded (rule, executor, argv
/// and env, secrets redacted) and of the rule's action config, `sha256:<hex>`.
pub(crate) fn action_digest(
    config: &Config,
    rule: usize,
    executor: &str,
    request: &ExecRequest,
) -> String {
    let record = super::record::queued_action(config, rule, request);
    let text = json!({
        "rule": request.rule,
        "executor": executor,
        "argv": record.0,
        "env": record.1,
        "action": format!("{:?}", config.action(rule)),
        "deadline_ms": request.deadline.as_millis().to_string(),
    })
    .to_string();
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    format!("sha256:{}", hex(digest.as_ref()))
}

/// The signature of a link deciding `decision` on run `id` (digest `digest`) until
/// `expires` (unix seconds).
fn sign(secret: &str, id: RunId, digest: &str, decision: &str, expires: i64) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::sign(&key, link_message(id, digest, decision, expires).as_bytes())
}

fn link_message(id: RunId, digest: &str, decision: &str, expires: i64) -> String {
    format!("{id}.{digest}.{decision}.{expires}")
}

/// The signed approve and reject links of `record` (awaiting approval), when links are set.
pub(crate) fn links_of(
    settings: Option<&ApprovalLinks>,
    record: &RunRecord,
) -> Option<(String, String)> {
    let settings = settings?;
    let approval = record.approval.as_ref()?;
    let expires = approval.expires_at.div_euclid(1000);
    let link = |decision: &str| {
        let tag = sign(
            settings.secret.as_str(),
            record.id,
            &approval.digest,
            decision,
            expires,
        );
        format!(
            "{}/approvals/{}/{decision}?expires={expires}&sig={}",
            settings.url,
            record.id,
            hex(tag.as_ref())
        )
    };
    Some((link("approve"), link("reject")))
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Who the alert says asked for it: its `requested_by` label, else annotation.
fn requested_by(run: &Run) -> Option<String> {
    run.record.labels.get("requested_by").cloned().or_else(|| {
        let n: serde_json::Value = serde_json::from_slice(&run.body).ok()?;
        let i = run.record.alert_index?;
        n["alerts"][i]["annotations"]["requested_by"]
            .as_str()
            .map(str::to_owned)
    })
}

impl Inner {
    /// Makes `run` (due, admitted by the rails) wait for approval under `approval`: its
    /// record says what is approved and until when.
    pub(super) fn ask_approval(
        config: &Config,
        rule: usize,
        run: &mut Run,
        approval: &Approval,
        now: i64,
    ) {
        let digest = action_digest(config, rule, &run.record.executor, &run.request);
        let expires_at = now.saturating_add(ms(approval.timeout));
        run.record.approval = Some(ApprovalRecord {
            digest: digest.clone(),
            expires_at,
            min_approvals: approval.min_approvals,
            decisions: Vec::new(),
        });
        let who = if approval.approvers.is_empty() {
            String::new()
        } else {
            format!(" from {}", approval.approvers.join(", "))
        };
        enter(
            &mut run.record,
            RunState::AwaitingApproval,
            now,
            format!(
                "awaiting {} approval(s){who} until {} ({digest})",
                approval.min_approvals,
                crate::lifecycle::rails::rfc3339(expires_at)
            ),
        );
    }

    /// Follows `runs`, just written `awaiting_approval`, until people decide; announces each
    /// (`awaiting_approval`, with its signed links when they are set).
    pub(super) fn await_approvals(&self, state: &mut State, runs: Vec<Run>) {
        if runs.is_empty() {
            return;
        }
        let links = self.loaded().config.server().approval_links.clone();
        for run in runs {
            let id = run.record.id;
            info!(rule = %run.record.rule, run = id, "action waits for approval");
            let (approve_url, reject_url) =
                links_of(links.as_ref(), &run.record).unwrap_or_default();
            let event = NotifyEvent::AwaitingApproval(crate::serve::notify::ApprovalLinks {
                approve_url,
                reject_url,
            });
            self.enqueue(state, &event, &run.record, &run.body);
            state.ledger.await_approval(id, run.live.clone());
            state.awaiting.insert(id, run);
        }
        self.options
            .metrics
            .set_approvals_pending(state.awaiting.len());
    }

    /// Ends a run waiting for approval with `event` (reject, skip, resolved), recording
    /// `reason`; returns its record to write.
    pub(super) fn end_awaiting(
        &self,
        state: &mut State,
        id: RunId,
        event: Option<Event>,
        reason: String,
        now: i64,
    ) -> Option<RunRecord> {
        let run = state.awaiting.remove(&id)?;
        // No event: its alert resolved, and the ledger cancelled it already.
        let ended = match event {
            Some(event) => state
                .ledger
                .apply(id, event)
                .map_or(RunState::Rejected, |s| s.state),
            None => RunState::Cancelled,
        };
        state.rails.withdraw(id, run.record.created_at);
        state.stops.remove(&id);
        let mut record = run.record;
        record.reason = Some(reason.clone());
        enter(&mut record, ended, now, reason);
        if let Some(ha) = &self.options.ha {
            ha.ended(id, ended.as_str(), now);
        }
        self.enqueue(state, &NotifyEvent::Finished, &record, &run.body);
        let outcome = match (event, ended) {
            (_, RunState::Cancelled) => "cancelled",
            (_, RunState::Skipped) => "held",
            (Some(Event::Reject), _) if record.reason.as_deref() == Some(TIMEOUT) => "timeout",
            _ => "rejected",
        };
        self.approval_ended(&record, outcome, now, state);
        Some(record)
    }

    /// Cancels run `id`, waiting for approval, whose alert resolved (the ledger moved it
    /// already); returns its record to write.
    pub(super) fn end_awaiting_resolved(
        &self,
        state: &mut State,
        id: RunId,
        now: i64,
    ) -> Option<RunRecord> {
        info!(
            run = id,
            "alert resolved: the run waiting for approval is cancelled"
        );
        let reason = "resolved: the alert resolved while the run waited for approval".to_owned();
        self.end_awaiting(state, id, None, reason, now)
    }

    /// Counts how a run's approval ended, and the pending ones.
    fn approval_ended(&self, record: &RunRecord, outcome: &'static str, now: i64, state: &State) {
        let asked = record
            .timeline
            .iter()
            .find(|t| t.state == RunState::AwaitingApproval)
            .map_or(now, |t| t.at);
        let waited = Duration::from_millis(u64::try_from(now - asked).unwrap_or(0));
        self.options
            .metrics
            .approval_decided(&record.rule, outcome, waited);
        self.options
            .metrics
            .set_approvals_pending(state.awaiting.len());
    }

    /// Rejects every run whose approval timed out by `now`.
    pub(super) fn expire_approvals(&self, now: i64) {
        let mut state = self.lock();
        let due: Vec<RunId> = state
            .awaiting
            .iter()
            .filter(|(_, r)| {
                r.record
                    .approval
                    .as_ref()
                    .is_some_and(|a| a.expires_at <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        let mut runs = Vec::new();
        for id in due {
            if let Some(record) =
                self.end_awaiting(&mut state, id, Some(Event::Reject), TIMEOUT.to_owned(), now)
            {
                info!(rule = %record.rule, run = id, "approval timed out: the action does not run");
                runs.push(record);
            }
        }
        if !runs.is_empty() {
            let written = self.submit(store::Batch {
                runs,
                ..store::Batch::default()
            });
            drop(state);
            tokio::spawn(async move {
                if let Err(e) = written.await {
                    warn!(error = %e, "cannot record approvals that timed out");
                }
            });
        }
    }
}

/// The reason of a run whose approval timed out.
const TIMEOUT: &str = "timeout";

impl Dispatcher {
    /// Checks a signed link's signature and expiry for run `id` deciding `decision`.
    ///
    /// # Errors
    /// [`DecideError::BadLink`] when it does not verify or expired;
    /// [`DecideError::NotAwaiting`] when the run waits for nothing.
    pub(crate) fn check_link(
        &self,
        id: RunId,
        decision: &str,
        expires: i64,
        sig: &str,
    ) -> Result<(), DecideError> {
        let config = self.config();
        let Some(settings) = config.server().approval_links.as_ref() else {
            return Err(DecideError::BadLink(
                "approval links are off: server.approvals is not set".into(),
            ));
        };
        if decision != "approve" && decision != "reject" {
            return Err(DecideError::BadLink(format!(
                "no decision {decision:?}: approve or reject"
            )));
        }
        let digest = {
            let state = self.inner.lock();
            let Some(run) = state.awaiting.get(&id) else {
                return Err(DecideError::NotAwaiting(id));
            };
            run.record
                .approval
                .as_ref()
                .map(|a| a.digest.clone())
                .unwrap_or_default()
        };
        let key = hmac::Key::new(hmac::HMAC_SHA256, settings.secret.as_str().as_bytes());
        let sig = unhex(sig)
            .ok_or_else(|| DecideError::BadLink("the link's signature is not hex".into()))?;
        hmac::verify(
            &key,
            link_message(id, &digest, decision, expires).as_bytes(),
            &sig,
        )
        .map_err(|_| {
            DecideError::BadLink(
                "the link's signature does not match this run, action and decision".into(),
            )
        })?;
        if self.now().div_euclid(1000) > expires {
            return Err(DecideError::BadLink("the link expired".into()));
        }
        Ok(())
    }

    /// Records `decision` on run `id`, waiting for approval; returns the run as it is now
    /// (still waiting, queued, skipped or rejected).
    ///
    /// # Errors
    /// See [`DecideError`].
    pub(crate) async fn decide(
        &self,
        id: RunId,
        decision: Decision,
    ) -> Result<RunRecord, DecideError> {
        let (record, written) = self.decide_now(id, decision)?;
        self.inner.wake.notify_one();
        written
            .await
            .map_err(|e| DecideError::Store(e.to_string()))?;
        Ok(record)
    }

    /// [`Dispatcher::decide`] under the lock: the run's record, and its write handed over.
    fn decide_now(
        &self,
        id: RunId,
        decision: Decision,
    ) -> Result<(RunRecord, super::Written), DecideError> {
        let inner = &self.inner;
        let now = inner.now();
        let config = self.config();
        let mut state = inner.lock();
        let Some(run) = state.awaiting.get_mut(&id) else {
            return Err(DecideError::NotAwaiting(id));
        };
        let policy = run.approval.clone().unwrap_or_else(|| Approval {
            timeout: Duration::ZERO,
            approvers: Vec::new(),
            min_approvals: 1,
            forbid_self: false,
        });
        if !policy.approvers.is_empty() && !policy.approvers.contains(&decision.by) {
            return Err(DecideError::Forbidden(format!(
                "{} is not an approver of rule {} (approvers: {})",
                decision.by,
                run.record.rule,
                policy.approvers.join(", ")
            )));
        }
        if policy.forbid_self
            && decision.approve
            && requested_by(run).as_deref() == Some(decision.by.as_str())
        {
            return Err(DecideError::Forbidden(format!(
                "{} asked for this run and may not approve it (forbid_self)",
                decision.by
            )));
        }
        let approval = run.record.approval.get_or_insert_with(|| ApprovalRecord {
            digest: String::new(),
            expires_at: now,
            min_approvals: policy.min_approvals,
            decisions: Vec::new(),
        });
        if approval.decisions.iter().any(|d| d.by == decision.by) {
            return Err(DecideError::AlreadyDecided {
                id,
                by: decision.by,
            });
        }
        let word = if decision.approve {
            "approve"
        } else {
            "reject"
        };
        approval.decisions.push(ApprovalDecision {
            decision: word.to_owned(),
            by: decision.by.clone(),
            how: decision.how.clone(),
            at: now,
            comment: decision.comment.clone(),
        });
        let approvals = approval
            .decisions
            .iter()
            .filter(|d| d.decision == "approve")
            .count();
        let needed = approval.min_approvals as usize;
        let comment = decision
            .comment
            .as_deref()
            .map(|c| format!(": {c}"))
            .unwrap_or_default();
        let said = format!(
            "{}ed by {} via {}{comment}",
            word.trim_end_matches('e'),
            decision.by,
            decision.how
        );
        info!(rule = %run.record.rule, run = id, by = %decision.by, how = %decision.how, decision = word, "approval decision");
        let record = if !decision.approve {
            inner.end_awaiting(
                &mut state,
                id,
                Some(Event::Reject),
                format!("rejected by {}{comment}", decision.by),
                now,
            )
        } else if approvals < needed {
            enter(
                &mut run.record,
                RunState::AwaitingApproval,
                now,
                format!("{said} ({approvals} of {needed})"),
            );
            Some(run.record.clone())
        } else {
            // Checked again now: a pause, a mute or a breaker that opened while it waited.
            let rule = RuleName::from(run.record.rule.as_str());
            let target = run.target.clone();
            let index = config
                .rules()
                .rules()
                .iter()
                .position(|r| r.name == run.record.rule);
            let held = index.and_then(|i| {
                let policy = config.policy(i);
                let mut rails = policy.rails.clone();
                rails.max_runs = None; // counted when it was admitted
                let at =
                    std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(now).unwrap_or(0));
                let muted = policy
                    .schedule
                    .is_muted(at)
                    .map(|m| format!("rule {rule} is {m}"));
                state
                    .rails
                    .check(&rule, &target, &rails, muted.as_deref(), now)
                    .err()
            });
            match held {
                Some(held) => inner.end_awaiting(
                    &mut state,
                    id,
                    Some(Event::Skip),
                    format!("{said}, but held back: {}", held.reason),
                    now,
                ),
                None => {
                    let mut run = state.awaiting.remove(&id).expect("seen above");
                    let _ = state.ledger.apply(id, Event::Approve);
                    enter(
                        &mut run.record,
                        RunState::Queued,
                        now,
                        format!("{said} ({approvals} of {needed})"),
                    );
                    if let Some(stop) = run.stop_tx.take() {
                        state.stops.insert(id, stop);
                    }
                    let record = run.record.clone();
                    state.queued.insert(id, run);
                    inner.approval_ended(&record, "approved", now, &state);
                    Some(record)
                }
            }
        };
        let record = record.ok_or(DecideError::NotAwaiting(id))?;
        // Handed to the writer under the lock: written before the scheduler's start.
        let written = inner.submit(store::Batch {
            runs: vec![record.clone()],
            ..store::Batch::default()
        });
        drop(state);
        Ok((record, written))
    }
}

/// The task that rejects runs whose approval timed out, every second.
pub(super) async fn expire_approvals(inner: Arc<Inner>) {
    let mut tick = super::ticker(Duration::from_secs(1));
    loop {
        tick.tick().await;
        inner.expire_approvals(inner.now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_signature_names_the_run_the_digest_the_decision_and_the_expiry() {
        let tag = sign("0123456789abcdef", 7, "sha256:aa", "approve", 100);
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"0123456789abcdef");
        let ok = |id, digest, decision, expires| {
            hmac::verify(
                &key,
                link_message(id, digest, decision, expires).as_bytes(),
                tag.as_ref(),
            )
            .is_ok()
        };
        assert!(ok(7, "sha256:aa", "approve", 100));
        assert!(!ok(8, "sha256:aa", "approve", 100), "another run");
        assert!(!ok(7, "sha256:ab", "approve", 100), "another action");
        assert!(!ok(7, "sha256:aa", "reject", 100), "the other decision");
        assert!(!ok(7, "sha256:aa", "approve", 101), "a later expiry");
        assert_eq!(unhex(&hex(tag.as_ref())).as_deref(), Some(tag.as_ref()));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("abc"), None);
    }
}
