//! Silences around runs: a run of a rule with `silence_while_running` silences its alert in
//! Alertmanager while its action runs, and a rule with `respect_silences` does not run
//! while a silence someone else made covers its alert.
//!
//! **Respecting silences** is the last rail (`lifecycle::rails::Rail::Silenced`). Its
//! answer comes from Alertmanager, so the intake task asks before it plans a batch
//! ([`SilenceLookup::for_batch`]: one `GET /api/v2/silences` per Alertmanager, only when a
//! rule that respects silences selects an alert of the batch), and the planning under the
//! state lock only reads the answer ([`SilenceLookup::check`]). Silences alertrun made
//! (`createdBy: alertrun`) are not respected: they are the ones it makes while it acts.
//! An Alertmanager that cannot be asked (unreachable, slower than `alertmanager.timeout`,
//! an answer that does not read) leaves each rule to its `on_alertmanager_unreachable`.
//!
//! **Silencing while running**: when the action starts ([`start`]), a silence with an
//! equality matcher per label of the alert (the group's common labels for a per-group run)
//! until the run's deadline (plus `extra`, the verification window a later verdict needs);
//! its id is kept on the run record. When the run ends, [`expire_silence`] expires it, so
//! that a failed, timed out or cancelled run pages humans at once (and recovery, for a run
//! a crash interrupted). A silence that cannot be made is logged, recorded on the run, and
//! the action runs anyway.
//!
//! Which Alertmanager: `alertmanager.url` (with its credentials) when set, else the
//! `externalURL` of the notification the run came from (never with credentials).
//!
//! What this module is not: the HTTP client (`super::alertmanager`) or the config
//! (`crate::config::silences`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::lifecycle::rails::ms;

use alert_core::{LabelSet, Notification};
use tracing::warn;

use super::alertmanager::{CREATED_BY, Client, Error, NewSilence, SilenceMatcher};
use crate::config::{AlertmanagerSettings, Config, OnAlertmanagerUnreachable, SilencePolicy};
use crate::lifecycle::rails::{Held, Rail, rfc3339};
use crate::store::{RunRecord, RunSilence, Transition};

/// The Alertmanager that holds the silences of notification `n`: `alertmanager.url`, else
/// its `externalURL` when that is an http(s) URL.
pub(crate) fn alertmanager_of(settings: &AlertmanagerSettings, n: &Notification) -> Option<String> {
    alertmanager_at(settings, &n.external_url)
}

/// [`alertmanager_of`] for a notification whose `externalURL` was `external_url`.
pub(crate) fn alertmanager_at(
    settings: &AlertmanagerSettings,
    external_url: &str,
) -> Option<String> {
    settings
        .url
        .clone()
        .or_else(|| crate::config::check_alertmanager_url(external_url).ok())
}

/// A client of the Alertmanager at `base`: with the configured credentials when it is the
/// configured one.
pub(crate) fn client(settings: &AlertmanagerSettings, base: &str) -> Client {
    let auth = settings
        .auth
        .as_ref()
        .filter(|_| settings.url.as_deref() == Some(base));
    Client::new(base, auth, settings.timeout)
}

/// What the Alertmanagers of one batch said about their silences, by base URL.
#[derive(Debug, Default)]
pub(crate) struct SilenceLookup {
    answers: HashMap<String, Result<Vec<super::alertmanager::Silence>, Arc<Error>>>,
}

/// Whether a silence covers an alert.
enum Cover<'a> {
    /// None does.
    Clear,
    /// This one does.
    By(&'a super::alertmanager::Silence),
    /// Alertmanager could not be asked, or a silence could not be evaluated: why.
    Unknown(String),
}

impl SilenceLookup {
    /// Asks each Alertmanager that holds the silences of a notification in `batch`, where
    /// a rule with `respect_silences` selects one of its alerts (or groups), for its
    /// silences: at once, each within `alertmanager.timeout`. Asks nobody when no such rule
    /// selects anything.
    pub(crate) async fn for_batch<'a>(
        config: &Config,
        batch: impl Iterator<Item = &'a Notification>,
    ) -> Self {
        let rules = config.rules().rules();
        if !(0..rules.len()).any(|i| config.policy(i).silences.respect_silences) {
            return Self::default();
        }
        let settings = config.alertmanager();
        let mut wanted = BTreeSet::new();
        for n in batch {
            let respects = config
                .rules()
                .select(n)
                .iter()
                .any(|s| config.policy(s.rule).silences.respect_silences);
            if respects && let Some(base) = alertmanager_of(settings, n) {
                wanted.insert(base);
            }
        }
        let asks = wanted.into_iter().map(|base| {
            let client = client(settings, &base);
            async move {
                let answer = client.silences().await.map_err(Arc::new);
                if let Err(e) = &answer {
                    warn!(alertmanager = %base, error = %e,
                        "cannot ask Alertmanager about silences: rules that respect them act or skip as their on_alertmanager_unreachable says");
                }
                (base, answer)
            }
        });
        Self {
            answers: futures_util::future::join_all(asks)
                .await
                .into_iter()
                .collect(),
        }
    }

    /// The silence rail for a run of a rule with `policy` on an alert (or group) with
    /// `labels` of notification `n`: held when a silence someone else made covers it, or
    /// when Alertmanager could not be asked and the rule says `skip`.
    ///
    /// # Errors
    /// [`Held`] by [`Rail::Silenced`], with why.
    pub(crate) fn check(
        &self,
        settings: &AlertmanagerSettings,
        policy: &SilencePolicy,
        n: &Notification,
        labels: &LabelSet,
    ) -> Result<(), Held> {
        if !policy.respect_silences {
            return Ok(());
        }
        let cover = match alertmanager_of(settings, n) {
            None => Cover::Unknown(
                "the notification names no Alertmanager (no externalURL) and alertmanager.url \
                 is not set, so no Alertmanager could be asked about silences"
                    .to_owned(),
            ),
            Some(base) => match self.answers.get(&base) {
                None => Cover::Unknown(format!(
                    "Alertmanager {base} could not be asked about silences (the config changed \
                     while the notification was taken)"
                )),
                Some(Err(e)) => Cover::Unknown(format!(
                    "Alertmanager could not be asked about silences: {e}"
                )),
                Some(Ok(silences)) => covering(silences, labels),
            },
        };
        match cover {
            Cover::Clear => Ok(()),
            Cover::By(s) => Err(Held {
                rail: Rail::Silenced,
                reason: format!(
                    "silence {} by {} covers the alert until {}: {}",
                    s.id,
                    if s.created_by.is_empty() {
                        "(nobody named)"
                    } else {
                        &s.created_by
                    },
                    s.ends_at,
                    s.comment
                ),
            }),
            Cover::Unknown(why) => match policy.on_alertmanager_unreachable {
                OnAlertmanagerUnreachable::Act => Ok(()),
                OnAlertmanagerUnreachable::Skip => Err(Held {
                    rail: Rail::Silenced,
                    reason: format!("{why}; the rule says on_alertmanager_unreachable: skip"),
                }),
            },
        }
    }
}

/// The first active silence not made by alertrun that covers `labels`.
fn covering<'a>(silences: &'a [super::alertmanager::Silence], labels: &LabelSet) -> Cover<'a> {
    for s in silences
        .iter()
        .filter(|s| s.is_active() && !s.is_alertrun_s())
    {
        match s.covers(labels) {
            Ok(true) => return Cover::By(s),
            Ok(false) => {}
            Err(e) => {
                return Cover::Unknown(format!(
                    "cannot tell whether silence {} by {} covers the alert: {e}",
                    s.id, s.created_by
                ));
            }
        }
    }
    Cover::Clear
}

/// The silence a run of a rule with `policy` on notification `n` is to make when its
/// action starts; `None` when the rule does not silence while running.
pub(crate) fn planned(
    settings: &AlertmanagerSettings,
    policy: &SilencePolicy,
    n: &Notification,
) -> Option<RunSilence> {
    policy.silence_while_running.then(|| RunSilence {
        alertmanager: alertmanager_of(settings, n).unwrap_or_default(),
        ..RunSilence::default()
    })
}

/// Makes the silence run `record` planned ([`planned`]), now, as its action starts: until
/// `now + deadline + extra` (`extra`: the rule's verification window; zero until verdicts
/// come). Its id, or why it could not be made, goes on the record and its timeline; a
/// silence that cannot be made is logged too, and the action runs anyway.
pub(crate) async fn start(
    settings: &AlertmanagerSettings,
    record: &mut RunRecord,
    deadline: Duration,
    extra: Duration,
    now: i64,
) {
    let Some(silence) = record.silence.as_mut() else {
        return;
    };
    // A re-run after a restart starts afresh (the earlier run's silence was expired).
    *silence = RunSilence {
        alertmanager: std::mem::take(&mut silence.alertmanager),
        ..RunSilence::default()
    };
    let ends_at = now.saturating_add(ms(deadline.saturating_add(extra)));
    let made = if silence.alertmanager.is_empty() {
        Err("the notification names no Alertmanager (no externalURL) and alertmanager.url is not set".to_owned())
    } else {
        let matchers: Vec<SilenceMatcher> = record
            .labels
            .iter()
            // Alertmanager drops empty labels, and refuses a silence that matches empty.
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| SilenceMatcher::equal(name, value))
            .collect();
        let new = NewSilence {
            matchers,
            starts_at: rfc3339(now),
            ends_at: rfc3339(ends_at),
            created_by: CREATED_BY.to_owned(),
            comment: format!(
                "alertrun run {} of rule {}: its action is running; expired when it ends",
                record.id, record.rule
            ),
        };
        let client = client(settings, &silence.alertmanager);
        client.create_silence(&new).await.map_err(|e| e.to_string())
    };
    let cause = match made {
        Ok(id) => {
            let cause = format!(
                "silence {id} made in {} until {}",
                silence.alertmanager,
                rfc3339(ends_at)
            );
            silence.id = Some(id);
            silence.ends_at = Some(ends_at);
            cause
        }
        Err(e) => {
            warn!(rule = %record.rule, run = record.id, error = %e,
                "cannot silence the alert while its action runs: running it anyway");
            let cause = format!("silence not made: {e}");
            silence.error = Some(e);
            cause
        }
    };
    note(record, now, cause);
}

/// Expires the silence run `record` made when its action started, if any and not expired
/// yet: the end of the run, or (later) of its verification. Recorded on the record and its
/// timeline; a silence that cannot be expired is logged, and ends at its own end time.
pub(crate) async fn expire_silence(
    settings: &AlertmanagerSettings,
    record: &mut RunRecord,
    now: i64,
) {
    let Some(silence) = record.silence.as_mut() else {
        return;
    };
    let Some(id) = silence.id.clone().filter(|_| silence.expired_at.is_none()) else {
        return;
    };
    let client = client(settings, &silence.alertmanager);
    let cause = match client.expire_silence(&id).await {
        Ok(()) => {
            silence.expired_at = Some(now);
            format!("silence {id} expired")
        }
        Err(e) => {
            warn!(rule = %record.rule, run = record.id, silence = %id, error = %e,
                "cannot expire the run's silence: it ends at its own end time");
            let cause = format!("silence {id} not expired: {e}");
            silence.error = Some(e.to_string());
            cause
        }
    };
    note(record, now, cause);
}

/// Notes `cause` on the run's timeline, in the state it is in.
fn note(record: &mut RunRecord, now: i64, cause: String) {
    record.timeline.push(Transition {
        state: record.state,
        at: now,
        cause,
    });
}

#[cfg(test)]
#[path = "silences_tests.rs"]
mod tests;
