//! The Prometheus metrics of `alertrun serve`, in the OpenMetrics text format. The HTTP
//! app serves them at `GET /metrics` ([`CONTENT_TYPE`], [`Metrics::encode`]); this module
//! has no route of its own.
//!
//! [`Metrics`] holds one registry with every family below. The server calls its methods as
//! things happen, on hot paths too: a counter with an enum label or none, and a gauge, is
//! one atomic update; a series labelled by rule is found in a map under a read lock (after
//! copying the rule name). A scrape encodes the registry ([`Metrics::encode`]).
//!
//! | family | type | labels |
//! | --- | --- | --- |
//! | `alertrun_notifications_received_total` | counter | `source` |
//! | `alertrun_notifications_rejected_total` | counter | `reason` ([`RejectReason`]) |
//! | `alertrun_alerts_received_total` | counter | |
//! | `alertrun_rule_matches_total` | counter | `rule` |
//! | `alertrun_rule_skips_total` | counter | `rule`, `reason` ([`SkipReason`]) |
//! | `alertrun_runs_total` | counter | `rule`, `outcome` ([`RunOutcome`]) |
//! | `alertrun_run_duration_seconds` | histogram, 0.01 s to 1 h | `rule` |
//! | `alertrun_runs_running`, `alertrun_runs_queued` | gauge | |
//! | `alertrun_paused` | gauge, 0 or 1 | |
//! | `alertrun_circuit_open` | gauge: open breakers (targets) | `rule` |
//! | `alertrun_remediation_verdicts_total` | counter | `rule`, `verdict` (effective, ineffective, recurred, unknown) |
//! | `alertrun_remediation_time_to_resolve_seconds` | histogram, 1 s to 1 d | `rule` |
//! | `alertrun_approvals_pending` | gauge | |
//! | `alertrun_approval_decisions_total` | counter | `rule`, `outcome` (approved, rejected, timeout, cancelled, held) |
//! | `alertrun_approval_wait_seconds` | histogram, 1 s to 1 d | `rule` |
//! | `alertrun_notifications_sent_total` | counter: delivery attempts | `sink`, `result` (ok, error) |
//! | `alertrun_ha_claims_total` | counter (`server.ha`) | `result` (won, lost, taken_over, orphaned, error) |
//! | `alertrun_ha_claim_conflicts_total` | counter: 409 answers to claim writes | |
//! | `alertrun_ha_claim_duration_seconds` | histogram, 1 ms to 10 s | |
//! | `alertrun_ha_leader` | gauge, 0 or 1: this replica is the housekeeper | |
//! | `alertrun_oldest_queued_run_age_seconds` | gauge | |
//! | `alertrun_store_commit_duration_seconds` | histogram, 0.1 ms to 1 s | |
//! | `alertrun_store_errors_total` | counter | `op` ([`StoreOp`]) |
//! | `alertrun_config_last_reload_successful` | gauge, 0 or 1 | |
//! | `alertrun_config_last_reload_success_timestamp_seconds` | gauge | |
//! | `alertrun_build_info` | info | `version`, `arch`, `os` |
//!
//! Label values are bounded: enums for sources, reasons, outcomes and store operations (all
//! their values are exported as 0 from the start, so `rate()` sees the first increase), and
//! rule names from the config. Fingerprints and alert labels never become label values.

use std::fmt::{self, Write as _};
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use super::intake::Source;

/// The `Content-Type` of a `/metrics` response: the OpenMetrics text format, which
/// Prometheus asks for first.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of `alertrun_remediation_time_to_resolve_seconds`: a second to a day.
const TIME_TO_RESOLVE_BUCKETS: [f64; 12] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14400.0, 86400.0,
];

/// Upper bounds of `alertrun_run_duration_seconds`: from 10 ms to an hour, in steps a
/// person reads at a glance.
const RUN_DURATION_BUCKETS: [f64; 15] = [
    0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Upper bounds of `alertrun_ha_claim_duration_seconds`: an API round trip, 1 ms to 10 s.
const CLAIM_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Upper bounds of `alertrun_store_commit_duration_seconds`: from 0.1 ms to a second.
const STORE_COMMIT_BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Defines a label-value enum: its `as_str`, `ALL` and its OpenMetrics encoding.
macro_rules! label_values {
    (
        $(#[$doc:meta])*
        pub enum $name:ident {
            $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[Self] = &[$(Self::$variant,)+];

            /// The position in [`Self::ALL`].
            #[allow(dead_code, reason = "only the enums held by index use it")]
            fn index(self) -> usize {
                self as usize
            }

            /// The label value, as the exposition spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl EncodeLabelValue for $name {
            fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
                encoder.write_str(self.as_str())
            }
        }
    };
}

label_values! {
    /// Why a request on a receiving route was answered with an error
    /// (`alertrun_notifications_rejected_total{reason}`).
    pub enum RejectReason {
        /// The body is not a valid notification (400), or has too many alerts.
        Invalid => "invalid",
        /// The body is larger than `server.limits.max_body_bytes` (413).
        TooLarge => "too_large",
        /// Authentication failed (401).
        Unauthorized => "unauthorized",
        /// The run queue has no room for the notification's runs (503).
        QueueFull => "queue_full",
        /// alertrun is shutting down (503).
        ShuttingDown => "shutting_down",
        /// The run store cannot record the notification's runs (503).
        StoreUnavailable => "store_unavailable",
        /// `server.ha`: the episodes could not be claimed on the Kubernetes API (503).
        ClaimUnavailable => "claim_unavailable",
        /// Not JSON, or compressed (415).
        UnsupportedMediaType => "unsupported_media_type",
        /// The request was not received within `server.limits.request_timeout` (408).
        Timeout => "timeout",
    }
}

label_values! {
    /// Why a rule that matched an alert queued no run
    /// (`alertrun_rule_skips_total{reason}`).
    pub enum SkipReason {
        /// The same alert already ran this rule (`repeat: once`).
        Dedupe => "dedupe",
        /// The rule's cooldown since the last run has not passed.
        Cooldown => "cooldown",
        /// The rule's concurrency limit left no room.
        Concurrency => "concurrency",
        /// The rule is `enabled: false`.
        Disabled => "disabled",
        /// The rule is `dry_run: true`: the run is recorded, not started.
        DryRun => "dry_run",
        /// The action's environment could not be built for the alert.
        Env => "env",
        /// alertrun is paused (`alertrun pause`).
        Paused => "paused",
        /// Outside the rule's active time intervals, or inside a mute one.
        Muted => "muted",
        /// More targets of the rule fire than its `max_targets`.
        Storm => "storm",
        /// The circuit breaker of the rule and target is open.
        CircuitOpen => "circuit_open",
        /// The rule's `max_runs` for the target is used up.
        RateLimited => "rate_limited",
        /// A silence someone else made covers the alert.
        Silenced => "silenced",
        /// `server.ha`: another replica claimed the episode and runs it.
        Claimed => "claimed",
        /// `server.ha`: the replica that ran it was lost; recorded, not run again.
        OwnerLost => "owner_lost",
    }
}

impl From<crate::lifecycle::rails::Rail> for SkipReason {
    fn from(rail: crate::lifecycle::rails::Rail) -> Self {
        use crate::lifecycle::rails::Rail;
        match rail {
            Rail::Paused => SkipReason::Paused,
            Rail::Muted => SkipReason::Muted,
            Rail::Storm => SkipReason::Storm,
            Rail::CircuitOpen => SkipReason::CircuitOpen,
            Rail::RateLimited => SkipReason::RateLimited,
            Rail::Silenced => SkipReason::Silenced,
        }
    }
}

label_values! {
    /// How a run ended (`alertrun_runs_total{outcome}`).
    pub enum RunOutcome {
        /// The action finished successfully (or was handed off).
        Succeeded => "succeeded",
        /// The action finished and reported failure.
        Failed => "failed",
        /// The action exceeded its deadline and was stopped.
        TimedOut => "timed_out",
        /// The action was stopped: its alert resolved, or alertrun shut down.
        Cancelled => "cancelled",
        /// The action was in flight when alertrun died (found on restart).
        Interrupted => "interrupted",
        /// The action vanished before its end was seen (a Job deleted early).
        Unknown => "unknown",
        /// The action could not be started, or the executor failed.
        Error => "error",
    }
}

label_values! {
    /// What the run store was doing when it failed (`alertrun_store_errors_total{op}`).
    pub enum StoreOp {
        /// Writing a batch of changes.
        Commit => "commit",
        /// Reading state, at start or on a query.
        Read => "read",
        /// Deleting old records.
        Prune => "prune",
    }
}

/// Each source with its `source` label value, at its [`source_index`].
const SOURCES: [(Source, &str); 2] = [
    (Source::Webhook, "webhook"),
    (Source::PrometheusApi, "prometheus"),
];

/// The position of `source` in [`SOURCES`] and `Inner::received`.
fn source_index(source: Source) -> usize {
    match source {
        Source::Webhook => 0,
        Source::PrometheusApi => 1,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RejectLabels {
    reason: RejectReason,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RuleLabels {
    rule: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SkipLabels {
    rule: String,
    reason: SkipReason,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RunLabels {
    rule: String,
    outcome: RunOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ApprovalLabels {
    rule: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VerdictLabels {
    rule: String,
    verdict: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ClaimLabels {
    result: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SentLabels {
    sink: String,
    result: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StoreLabels {
    op: StoreOp,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    arch: &'static str,
    os: &'static str,
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

/// The server's metrics. Cheap to clone: clones share the same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

/// The registry and a handle on each metric in it. A counter family with an enum label is
/// held as one handle per value, indexed by the enum, so that counting is one atomic add;
/// the families labelled by rule are looked up by name.
struct Inner {
    registry: Registry,
    /// By [`source_index`].
    received: Vec<Counter>,
    /// By [`RejectReason::index`].
    rejected: Vec<Counter>,
    alerts_received: Counter,
    rule_matches: Family<RuleLabels, Counter>,
    rule_skips: Family<SkipLabels, Counter>,
    runs: Family<RunLabels, Counter>,
    run_duration: HistogramFamily<RuleLabels>,
    runs_running: Gauge,
    runs_queued: Gauge,
    paused: Gauge,
    circuit_open: Family<RuleLabels, Gauge>,
    verdicts: Family<VerdictLabels, Counter>,
    approvals_pending: Gauge,
    approval_decisions: Family<ApprovalLabels, Counter>,
    approval_wait: HistogramFamily<RuleLabels>,
    time_to_resolve: HistogramFamily<RuleLabels>,
    notifications_sent: Family<SentLabels, Counter>,
    ha_claims: Family<ClaimLabels, Counter>,
    ha_claim_conflicts: Counter,
    ha_claim_duration: Histogram,
    ha_leader: Gauge,
    oldest_queued_run_age: Gauge<f64, AtomicU64>,
    store_commit_duration: Histogram,
    /// By [`StoreOp::index`].
    store_errors: Vec<Counter>,
    config_reload_successful: Gauge,
    config_reload_success_time: Gauge<f64, AtomicU64>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every family. Counters with enum labels start at 0 for every value;
    /// `alertrun_config_last_reload_successful` is 0 until [`Metrics::config_reloaded`].
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner::new()),
        }
    }

    /// A notification was parsed from a request on `source`'s route; it held `alerts`
    /// alerts. Counted whether or not it is then accepted.
    pub fn notification_received(&self, source: Source, alerts: usize) {
        self.inner.received[source_index(source)].inc();
        self.inner.alerts_received.inc_by(saturate_u64(alerts));
    }

    /// A request on a receiving route was answered with an error.
    pub fn notification_rejected(&self, reason: RejectReason) {
        self.inner.rejected[reason.index()].inc();
    }

    /// The rule named `rule` matched an alert (whether or not a run is queued).
    pub fn rule_matched(&self, rule: &str) {
        self.inner
            .rule_matches
            .get_or_create(&RuleLabels {
                rule: rule.to_owned(),
            })
            .inc();
    }

    /// The rule named `rule` matched an alert but queued no run.
    pub fn rule_skipped(&self, rule: &str, reason: SkipReason) {
        self.inner
            .rule_skips
            .get_or_create(&SkipLabels {
                rule: rule.to_owned(),
                reason,
            })
            .inc();
    }

    /// A run of the rule named `rule` ended with `outcome` after `duration`.
    pub fn run_finished(&self, rule: &str, outcome: RunOutcome, duration: Duration) {
        let rule = rule.to_owned();
        self.inner
            .run_duration
            .get_or_create(&RuleLabels { rule: rule.clone() })
            .observe(duration.as_secs_f64());
        self.inner
            .runs
            .get_or_create(&RunLabels { rule, outcome })
            .inc();
    }

    /// `n` actions are running now.
    pub fn set_running(&self, n: usize) {
        self.inner.runs_running.set(saturate_i64(n));
    }

    /// `n` runs are waiting to start now.
    pub fn set_queued(&self, n: usize) {
        self.inner.runs_queued.set(saturate_i64(n));
    }

    /// Whether alertrun is paused now.
    pub fn set_paused(&self, paused: bool) {
        self.inner.paused.set(i64::from(paused));
    }

    /// A run of the rule named `rule` was judged `verdict`; `resolve` is its time to
    /// resolve, when known.
    pub fn verdict(&self, rule: &str, verdict: &'static str, resolve: Option<Duration>) {
        self.inner
            .verdicts
            .get_or_create(&VerdictLabels {
                rule: rule.to_owned(),
                verdict,
            })
            .inc();
        if let Some(resolve) = resolve {
            self.inner
                .time_to_resolve
                .get_or_create(&RuleLabels {
                    rule: rule.to_owned(),
                })
                .observe(resolve.as_secs_f64());
        }
    }

    /// A run of the rule named `rule` stopped waiting for approval with `outcome`, after
    /// `waited`.
    pub fn approval_decided(&self, rule: &str, outcome: &'static str, waited: Duration) {
        self.inner
            .approval_decisions
            .get_or_create(&ApprovalLabels {
                rule: rule.to_owned(),
                outcome,
            })
            .inc();
        self.inner
            .approval_wait
            .get_or_create(&RuleLabels {
                rule: rule.to_owned(),
            })
            .observe(waited.as_secs_f64());
    }

    /// `n` runs wait for approval now.
    pub fn set_approvals_pending(&self, n: usize) {
        self.inner.approvals_pending.set(saturate_i64(n));
    }

    /// `n` targets of the rule named `rule` have an open (or half-open) breaker now.
    pub fn set_circuit_open(&self, rule: &str, n: usize) {
        self.inner
            .circuit_open
            .get_or_create(&RuleLabels {
                rule: rule.to_owned(),
            })
            .set(saturate_i64(n));
    }

    /// An attempt to deliver a notification to the sink named `sink` succeeded (`ok`) or
    /// failed.
    pub fn notification_sent(&self, sink: &str, ok: bool) {
        self.inner
            .notifications_sent
            .get_or_create(&SentLabels {
                sink: sink.to_owned(),
                result: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// A claim (`server.ha`) ended with `result` (won, lost, taken_over, orphaned, error)
    /// after `took`.
    pub fn claimed(&self, result: &'static str, took: Duration) {
        self.inner
            .ha_claims
            .get_or_create(&ClaimLabels { result })
            .inc();
        self.inner.ha_claim_duration.observe(took.as_secs_f64());
    }

    /// The API answered a claim's create or update `409`.
    pub fn claim_conflict(&self) {
        self.inner.ha_claim_conflicts.inc();
    }

    /// Whether this replica is the housekeeper now.
    pub fn set_leader(&self, leader: bool) {
        self.inner.ha_leader.set(i64::from(leader));
    }

    /// The oldest queued run has waited `secs` seconds (0 when the queue is empty).
    pub fn set_oldest_queued_age(&self, secs: f64) {
        self.inner.oldest_queued_run_age.set(secs);
    }

    /// The store committed a batch in `duration`.
    pub fn store_commit(&self, duration: Duration) {
        self.inner
            .store_commit_duration
            .observe(duration.as_secs_f64());
    }

    /// A store operation failed.
    pub fn store_error(&self, op: StoreOp) {
        self.inner.store_errors[op.index()].inc();
    }

    /// The config was loaded (at start) or reloaded, at `at_unix_secs` seconds since the
    /// Unix epoch; `ok` says whether it is now in force. A failed reload keeps the time of
    /// the last success.
    pub fn config_reloaded(&self, ok: bool, at_unix_secs: f64) {
        self.inner.config_reload_successful.set(i64::from(ok));
        if ok {
            self.inner.config_reload_success_time.set(at_unix_secs);
        }
    }

    /// The whole exposition in the OpenMetrics text format (ending with `# EOF`), to be
    /// served with [`CONTENT_TYPE`].
    ///
    /// # Panics
    /// Never in practice: writing to a `String` cannot fail, nor can this module's label
    /// encoders.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        text::encode(&mut out, &self.inner.registry)
            .expect("writing to a String and encoding this module's labels cannot fail");
        out
    }
}

impl Inner {
    /// Registers every metric with a new registry, which keeps its own handles.
    fn new() -> Self {
        let mut r = Registry::with_prefix("alertrun");
        let received = counters_by(
            &mut r,
            "notifications_received",
            "Notifications parsed from requests, accepted or not, by the route they came on",
            &SOURCES,
            |(_, source)| SourceLabels { source },
        );
        let rejected = counters_by(
            &mut r,
            "notifications_rejected",
            "Requests on the receiving routes answered with an error, by reason",
            RejectReason::ALL,
            |reason| RejectLabels { reason },
        );
        let inner = Self {
            received,
            rejected,
            alerts_received: Counter::default(),
            rule_matches: Family::default(),
            rule_skips: Family::default(),
            runs: Family::default(),
            run_duration: Family::new_with_constructor(|| Histogram::new(RUN_DURATION_BUCKETS)),
            runs_running: Gauge::default(),
            runs_queued: Gauge::default(),
            paused: Gauge::default(),
            circuit_open: Family::default(),
            verdicts: Family::default(),
            approvals_pending: Gauge::default(),
            approval_decisions: Family::default(),
            approval_wait: Family::new_with_constructor(|| Histogram::new(TIME_TO_RESOLVE_BUCKETS)),
            time_to_resolve: Family::new_with_constructor(|| {
                Histogram::new(TIME_TO_RESOLVE_BUCKETS)
            }),
            notifications_sent: Family::default(),
            ha_claims: Family::default(),
            ha_claim_conflicts: Counter::default(),
            ha_claim_duration: Histogram::new(CLAIM_BUCKETS),
            ha_leader: Gauge::default(),
            oldest_queued_run_age: Gauge::default(),
            store_commit_duration: Histogram::new(STORE_COMMIT_BUCKETS),
            store_errors: Vec::new(),
            config_reload_successful: Gauge::default(),
            config_reload_success_time: Gauge::default(),
            registry: Registry::default(),
        };
        inner.registered(r)
    }

    /// Registers the rest of the metrics with `r`, which becomes the registry.
    fn registered(mut self, mut r: Registry) -> Self {
        r.register(
            "alerts_received",
            "Alerts in the notifications received",
            self.alerts_received.clone(),
        );
        r.register(
            "rule_matches",
            "Alerts a rule matched, by rule",
            self.rule_matches.clone(),
        );
        r.register(
            "rule_skips",
            "Alerts a rule matched without queuing a run, by rule and reason",
            self.rule_skips.clone(),
        );
        r.register(
            "runs",
            "Runs of actions that ended, by rule and outcome",
            self.runs.clone(),
        );
        r.register_with_unit(
            "run_duration",
            "How long runs of actions took from start to end, by rule",
            Unit::Seconds,
            self.run_duration.clone(),
        );
        r.register(
            "runs_running",
            "Actions running now",
            self.runs_running.clone(),
        );
        r.register(
            "runs_queued",
            "Runs waiting to start now",
            self.runs_queued.clone(),
        );
        r.register(
            "paused",
            "1 while alertrun is paused (alertrun pause): no new run is queued",
            self.paused.clone(),
        );
        r.register(
            "circuit_open",
            "Targets whose circuit breaker is open or half-open, by rule",
            self.circuit_open.clone(),
        );
        r.register(
            "remediation_verdicts",
            "Verdicts on succeeded runs of rules with verify, by rule and verdict",
            self.verdicts.clone(),
        );
        r.register(
            "ha_claims",
            "Claims of episodes on the Kubernetes API (server.ha), by result",
            self.ha_claims.clone(),
        );
        r.register(
            "ha_claim_conflicts",
            "Claim creates and updates the API server answered 409 (another replica was first)",
            self.ha_claim_conflicts.clone(),
        );
        r.register_with_unit(
            "ha_claim_duration",
            "How long claiming an episode took (API round trips)",
            Unit::Seconds,
            self.ha_claim_duration.clone(),
        );
        r.register(
            "ha_leader",
            "1 while this replica is the housekeeper (server.ha)",
            self.ha_leader.clone(),
        );
        r.register(
            "approvals_pending",
            "Runs waiting for approval now",
            self.approvals_pending.clone(),
        );
        r.register(
            "approval_decisions",
            "How runs waiting for approval ended, by rule and outcome",
            self.approval_decisions.clone(),
        );
        r.register_with_unit(
            "approval_wait",
            "How long runs waited for their approval to end, by rule",
            Unit::Seconds,
            self.approval_wait.clone(),
        );
        r.register_with_unit(
            "remediation_time_to_resolve",
            "From an effective run's end to its alert's resolution, by rule",
            Unit::Seconds,
            self.time_to_resolve.clone(),
        );
        r.register(
            "notifications_sent",
            "Attempts to deliver a notification to a notify sink, by sink and result",
            self.notifications_sent.clone(),
        );
        r.register_with_unit(
            "oldest_queued_run_age",
            "How long the oldest queued run has waited; 0 when none waits",
            Unit::Seconds,
            self.oldest_queued_run_age.clone(),
        );
        r.register_with_unit(
            "store_commit_duration",
            "How long the run store took to commit a batch",
            Unit::Seconds,
            self.store_commit_duration.clone(),
        );
        self.store_errors = counters_by(
            &mut r,
            "store_errors",
            "Failed run store operations, by operation",
            StoreOp::ALL,
            |op| StoreLabels { op },
        );
        r.register(
            "config_last_reload_successful",
            "Whether the last config load or reload succeeded (1) or failed (0)",
            self.config_reload_successful.clone(),
        );
        r.register_with_unit(
            "config_last_reload_success_timestamp",
            "When the config was last loaded successfully, in seconds since the Unix epoch",
            Unit::Seconds,
            self.config_reload_success_time.clone(),
        );
        r.register(
            "build",
            "The alertrun build: version and target; always 1",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                arch: std::env::consts::ARCH,
                os: std::env::consts::OS,
            }),
        );
        self.registry = r;
        self
    }
}

/// Registers a counter family with one series per value in `values`, each starting at 0,
/// and returns their handles in the order of `values`.
fn counters_by<T: Copy, L>(
    r: &mut Registry,
    name: &str,
    help: &str,
    values: &[T],
    labels: impl Fn(T) -> L,
) -> Vec<Counter>
where
    L: EncodeLabelSet + Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static,
{
    let family = Family::<L, Counter>::default();
    let handles = values
        .iter()
        .map(|&v| family.get_or_create_owned(&labels(v)))
        .collect();
    r.register(name, help, family);
    handles
}

fn saturate_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn saturate_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
