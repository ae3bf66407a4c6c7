//! The seam between the HTTP app and what answers the control API (`/-/ready`,
//! `/-/reload`, `/api/v1/rules`, `/api/v1/runs`): the [`Api`] trait and the types it speaks.
//!
//! The HTTP app ([`http`](super::http)) owns routing, authentication, status codes and JSON
//! shapes; an [`Api`] only answers questions about the running server. This module holds
//! no routes and builds no responses. In production [`Control`](super::control::Control)
//! implements it over the dispatcher; tests implement it with fixed answers.

use alert_core::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::serve::status::ServerStatus;
use crate::store::{RunRecord, Store};

/// Answers the control API's questions about the running server.
pub trait Api: Send + Sync + 'static {
    /// Whether the server takes notifications: config and store loaded, listening.
    fn is_ready(&self) -> bool;

    /// Reads the config file again and swaps it in when valid, keeping the old one
    /// otherwise; resolves to the number of rules now in force.
    fn reload(&self) -> BoxFuture<'_, Result<Reloaded, ReloadError>>;

    /// The rules in force, in config order, with their load now.
    fn rules(&self) -> Vec<RuleStatus>;

    /// The run history, when the server keeps one (`server.state.durable: true`).
    fn history(&self) -> Option<Store>;

    /// What `GET /api/v1/status` shows (see `serve::status`); none: the route is 404.
    fn status(&self) -> Option<ServerStatus> {
        None
    }

    /// The pauses holding now (none: alertrun is not paused).
    fn pauses(&self) -> Vec<PauseStatus> {
        Vec::new()
    }

    /// Pauses alertrun for `reason`, recording `by` (who asked); resolves, once stored, to
    /// the pauses holding.
    fn pause(
        &self,
        reason: String,
        by: String,
    ) -> BoxFuture<'_, Result<Vec<PauseStatus>, ControlError>> {
        let _ = (reason, by);
        Box::pin(async { Err(ControlError::new("this server cannot be paused")) })
    }

    /// Lifts the pause of `reason`, or every pause; resolves, once stored, to the pauses
    /// still holding.
    fn resume(
        &self,
        reason: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<PauseStatus>, ControlError>> {
        let _ = reason;
        Box::pin(async { Err(ControlError::new("this server cannot be paused")) })
    }

    /// Records a person's `decision` on run `id`, waiting for approval; resolves to the run
    /// as it is now.
    fn decide(&self, id: u64, decision: Decision) -> BoxFuture<'_, Result<RunRecord, DecideError>> {
        let _ = decision;
        Box::pin(async move { Err(DecideError::NotAwaiting(id)) })
    }

    /// Checks a signed approval link (see `serve::dispatch::approvals`).
    ///
    /// # Errors
    /// [`DecideError::BadLink`] or [`DecideError::NotAwaiting`].
    fn check_link(
        &self,
        id: u64,
        decision: &str,
        expires: i64,
        sig: &str,
    ) -> Result<(), DecideError> {
        let _ = (decision, expires, sig);
        Err(DecideError::NotAwaiting(id))
    }

    /// `server.ha`: this replica's name and role and every claim on the Kubernetes API
    /// (`GET /api/v1/claims`); none: one replica (the route is 404).
    #[allow(
        private_interfaces,
        reason = "the claims are the crate's own; the trait is not exported"
    )]
    fn claims(&self) -> BoxFuture<'_, Option<Result<ClaimsStatus, ControlError>>> {
        Box::pin(async { None })
    }

    /// Closes the open circuit breakers of `rule` (on `target` only, when given); returns
    /// the targets closed.
    fn reset_breakers(&self, rule: &str, target: Option<&str>) -> Vec<String> {
        let _ = (rule, target);
        Vec::new()
    }
}

/// What `GET /api/v1/claims` shows: which replica answers, whether it is the housekeeper,
/// and which replica holds each episode's claim (newest renewal first).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ClaimsStatus {
    /// The replica answering.
    pub(crate) replica: String,
    /// Whether it is the housekeeper (leader) now.
    pub(crate) leader: bool,
    /// Every claim in the claims' namespace.
    pub(crate) claims: Vec<crate::serve::ha::ClaimView>,
}

/// A person's decision, as a route or the CLI hands it in.
#[derive(Clone, Debug)]
pub struct Decision {
    /// Approve (else reject).
    pub approve: bool,
    /// Who decides: the name decided for (`by=`), or the caller's identity.
    pub by: String,
    /// How: `api`, `cli` or `link`, and the caller when it is not `by`.
    pub how: String,
    /// Their comment.
    pub comment: Option<String>,
}

/// Why a decision was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    /// No such run waits for approval (never did, or decided already).
    #[error("run {0} is not awaiting approval")]
    NotAwaiting(u64),
    /// The person may not decide on this run.
    #[error("{0}")]
    Forbidden(String),
    /// The person decided on this run already.
    #[error("{by} already decided on run {id}")]
    AlreadyDecided {
        /// The run.
        id: u64,
        /// Who.
        by: String,
    },
    /// A signed link that does not verify, or expired.
    #[error("{0}")]
    BadLink(String),
    /// The decision could not be recorded.
    #[error("the decision could not be recorded: {0}")]
    Store(String),
}

/// One reason alertrun is paused, as `GET /api/v1/pause` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseStatus {
    /// The reason, as given.
    pub reason: String,
    /// Who paused: the basic-auth user, `token` for a bearer token, `anonymous` without
    /// auth, `cli` for the command line.
    pub by: String,
    /// When, RFC 3339.
    pub at: String,
}

/// Why a pause or resume did not take effect (the store could not record it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    message: String,
}

impl ControlError {
    /// A failure that `message` explains.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// One rule as `GET /api/v1/rules` lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuleStatus {
    /// The rule's name.
    pub name: String,
    /// Its description (empty when none).
    pub description: String,
    /// Its label matchers, as written in the matcher syntax.
    #[serde(rename = "match")]
    pub matchers: Vec<String>,
    /// `per-alert` or `per-group` (`mode:`).
    pub mode: &'static str,
    /// `firing`, `resolved` or `any` (`on:`).
    pub on: &'static str,
    /// `enabled:` of the rule.
    pub enabled: bool,
    /// `dry_run:` of the rule.
    pub dry_run: bool,
    /// Its actions running now.
    pub running: usize,
    /// Its runs waiting to start now.
    pub queued: usize,
    /// Its action in short, as `alertrun check --print` shows it.
    pub action: serde_json::Value,
    /// When an episode runs again (`repeat:`): `once`, `always`, or `after 30m`.
    pub repeat: String,
    /// `rate_limit:` in words (`3 per 1h` per target), if any.
    pub rate_limit: Option<String>,
    /// What opens its circuit breaker (`3 failures, 3 ineffective`), if anything does.
    pub breaker: Option<String>,
    /// Its circuit breakers open now (one per target).
    pub open_breakers: usize,
    /// How long a succeeded run waits for its alert to resolve (`verify:`), if it does.
    pub verify: Option<String>,
    /// Whether its runs wait for approval.
    pub approval: bool,
    /// The label names whose values name its target (`target:`); empty: the fingerprint.
    pub target: Vec<String>,
}

/// A reload's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloaded {
    /// How many rules are loaded now.
    pub rules: usize,
    /// The changed `server:` fields, which take effect only on a restart (such as
    /// `server.listen`); see [`ServerSettings::restart_needed`](crate::ServerSettings::restart_needed).
    pub restart_needed: Vec<&'static str>,
}

/// Why a reload kept the running config: the file and what is wrong in it, or why its
/// actions cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReloadError {
    message: String,
}

impl ReloadError {
    /// A reload failure that `message` explains (it names the file or the rule).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}
