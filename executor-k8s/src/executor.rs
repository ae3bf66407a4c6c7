//! [`JobExecutor`]: runs a rule's action as a Kubernetes Job and follows it to its end.

use std::fmt;
use std::time::{Duration, SystemTime};

use alert_core::{
    BoxFuture, EndedBy, ExecError, ExecRequest, Executor, Exit, OnStart, Outcome, Recovered,
    Report, Started, StopReason, Tail,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use tokio::time::Instant;

use crate::action::{JobAction, default_container_name};
use crate::cluster::ClusterError;
use crate::metadata::{DEDUP_KEY_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, RULE_ANNOTATION};
use crate::options::JobOptions;
use crate::render::{render_job, whole_seconds};

/// [`Report::reason`] of a Job that vanished before its end was seen, and whose pods do
/// not tell how it ended either.
pub const DELETED_BEFORE_OUTCOME: &str = "deleted before its outcome was seen";

/// What [`Executor::kind`] returns for [`JobExecutor`].
pub(crate) const KIND: &str = "kubernetes";

/// The label the Job controller puts on the pods of a Job: its uid (Kubernetes 1.27+).
const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";

/// The label with the Job's uid that the Job controller put on its pods before
/// Kubernetes 1.27 (and still puts, next to [`CONTROLLER_UID_LABEL`], on newer ones).
const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";

/// Runs a rule's action as one `batch/v1` Job per request and follows it to its end.
///
/// [`execute`](Executor::execute):
/// 1. renders the Job with [`render_job`] and `POST`s it, then tells
///    [`execute_observed`](Executor::execute_observed)'s `on_start` the Job's
///    [`Started::Job`] handle (namespace, name, uid). `409 AlreadyExists` means an earlier
///    request for the same (rule, dedup key) created it; the Job is read: when it has not
///    finished and its annotations name this request's rule and dedup key (a create
///    retried after a lost answer, whose first attempt did create it), it is followed as
///    if just created (with `on_start` called); otherwise (finished, another request's, or
///    gone) the answer is [`Outcome::Duplicate`] and `on_start` is not called;
/// 2. reads the Job every [`JobOptions::poll_interval`] until its `Complete` or `Failed`
///    condition is `True` (either one: a failed Job ends the wait too);
/// 3. at its deadline (see "One clock" below), or when `stop` resolves, deletes the Job
///    with `propagationPolicy: Background` (so its pods go too) and reports
///    [`EndedBy::Timeout`] or [`EndedBy::Stop`];
/// 4. then lists the Job's pods by the label `batch.kubernetes.io/controller-uid=<uid>`
///    (never by name: pod names are generated and truncated), and when that finds none,
///    by the legacy label `controller-uid=<uid>` (clusters before 1.27 set only that
///    one); reads the newest pod's
///    log tail into [`Report::stdout`] and its container's exit code into
///    [`Report::exit`] (`0` for `Complete`, `1` for `Failed` when the pod does not say);
///    [`Report::reason`] says why it failed: the `Failed` condition's `reason: message`
///    (`DeadlineExceeded`, `BackoffLimitExceeded`, `PodFailurePolicy`, ...) and, whatever
///    ended the run, a container still waiting because it cannot start
///    (`pod <name>: ImagePullBackOff: <message>`, see `START_FAILURES`), or, when the Job
///    has no pod at all, the newest `FailedCreate` event of the Job (an admission refusal
///    such as PodSecurity, a quota), joined by `; `.
///
/// **One clock.** By default the Job's `activeDeadlineSeconds` is the rule's timeout
/// (rounded up to whole seconds), and the Job controller is the clock: it fails the Job
/// with reason `DeadlineExceeded`, which is reported as [`EndedBy::Timeout`] with a
/// reason naming the Job's deadline. alertrun deletes the Job itself only when it is still
/// active [`JobOptions::deadline_grace`] past that deadline (a controller that is down),
/// and says so. An action whose own `active_deadline_seconds` is longer than the rule's
/// timeout is deleted at the rule's timeout, and the reason names the rule. The state is
/// the same whichever limit ends the run, and the reason says which did.
///
/// **Polling, not watching.** The Job is read with a plain `GET` at an interval instead
/// of a watch (`kube::runtime::wait::await_condition`): it needs only `get` on jobs
/// (a watch needs `list` and `watch`), no kube-runtime dependency and no reconnection
/// handling for watches the API server closes, and it is deterministic to test against
/// a mocked API server. The cost is up to one interval of delay in noticing the end and
/// one `GET` per interval per running Job, which is small for remediation Jobs.
///
/// **A Job that vanishes** (`404` while following: deleted by someone, or by its TTL
/// before the next read) is resolved from what was last seen (`SuccessCriteriaMet`,
/// `FailureTarget`), else from its newest pod's terminated container (its exit code,
/// with a reason saying so), else reported as [`EndedBy::Vanished`] with no exit and
/// [`DELETED_BEFORE_OUTCOME`] as its reason: an unknown outcome, never a failure without
/// a reason.
///
/// Log reading is best effort: a pod that is already gone, or a log call that fails,
/// leaves [`Report::stdout`] empty (with a warning logged) rather than losing the report.
///
/// RBAC for the service account: exactly [`API_CALLS`](crate::API_CALLS)
/// (`batch/jobs: create, get, delete`, `pods: list`, `pods/log: get`, `events: list`).
///
/// **Errors.** A create that fails for a reason that may pass (a transport error, a
/// timeout, `429`, `5xx`) is [`ExecError::Transient`], with `on_start` not called: the
/// caller may retry with backoff, and a retry that meets the Job of a first attempt that
/// did succeed follows it (above). Any other failure is [`ExecError::Backend`]; see
/// [`ClusterError::is_transient`].
///
/// **Recovery after a crash.** [`recover`](Executor::recover) reads the Job of a
/// [`Started::Job`] handle by name. Gone (`404`): its end is read from its pods as for a
/// Job that vanishes while followed (above), as [`Recovered::Followed`]. Replaced by a Job
/// of the same name and another uid (left alone): [`Recovered::Gone`]. Otherwise it is
/// followed to its end
/// exactly as by `execute` (steps 2 to 4: the deadline counts from the Job's creation, a
/// stop deletes it) and its report is [`Recovered::Followed`]; a Job that ended while
/// no alertrun watched is reported at once, without being deleted. It never answers
/// [`Recovered::Ended`].
///
/// Dropping the future returned by `execute` stops following the Job but does not delete
/// it: its `activeDeadlineSeconds` (the request's deadline by default) still bounds it.
///
/// ```no_run
/// use alert_core::{ExecRequest, Executor, Outcome, Subject};
/// use executor_k8s::{JobAction, JobExecutor, JobOptions};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let action: JobAction = serde_json::from_value(serde_json::json!({
///     "image": "busybox:1.36",
///     "command": ["sh", "-c", "echo remediating"],
/// }))?;
/// let client = kube::Client::try_default().await?;
/// let executor = JobExecutor::new(client, action, "default".into(), JobOptions::default());
/// let req = ExecRequest {
///     rule: "remediate".into(),
///     dedup_key: "d284efc389a5bf32@2026-11-21T07:38:36Z".into(),
///     subject: Subject::default(),
///     env: Vec::new(),
///     input: Vec::new(),
///     deadline: std::time::Duration::from_secs(300),
/// };
/// if let Outcome::Finished(report) = executor.execute(&req, Box::pin(std::future::pending())).await? {
///     println!("{:?}: {}", report.exit, report.stdout.text());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct JobExecutor {
    client: kube::Client,
    action: JobAction,
    default_namespace: String,
    options: JobOptions,
}

impl fmt::Debug for JobExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobExecutor")
            .field("action", &self.action)
            .field("default_namespace", &self.default_namespace)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// How following a Job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Its `Complete` condition is `True`.
    Complete,
    /// Its `Failed` condition is `True`: that condition's `reason: message`, when it
    /// has either.
    Failed(Option<String>),
    /// It disappeared (deleted by someone else, or by its TTL) before its end was seen;
    /// its pods may still tell how it ended.
    Gone,
    /// alertrun ended it.
    EndedBy(EndedBy),
}

impl End {
    /// Whether the Job controller failed the Job at its `activeDeadlineSeconds`.
    fn is_deadline_exceeded(&self) -> bool {
        matches!(self, End::Failed(Some(r))
            if r == DEADLINE_EXCEEDED || r.starts_with(&format!("{DEADLINE_EXCEEDED}:")))
    }
}

/// The reason of a Job's `Failed` condition when its `activeDeadlineSeconds` passed.
const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";

/// The reason of the event the Job controller records when it cannot create a pod.
const FAILED_CREATE: &str = "FailedCreate";

/// One clock for a Job's deadline: which limit ends it, and when alertrun steps in.
///
/// When the Job's `activeDeadlineSeconds` is at most the rule's timeout (rounded up to
/// whole seconds; by default it *is* the rule's timeout), the Job controller ends the Job
/// (`Failed`, reason `DeadlineExceeded`), and alertrun deletes it itself only when the
/// Job is still active [`JobOptions::deadline_grace`] later (a controller that is down).
/// Otherwise the rule's timeout comes first and alertrun deletes the Job then. Either way
/// the run is [`EndedBy::Timeout`], and its reason says which limit ended it: the outcome
/// never depends on which of two timers fires first.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// When alertrun deletes the Job, counted from its creation.
    local: Duration,
    /// The rule's timeout.
    rule: Duration,
    /// The Job's `activeDeadlineSeconds`, if it has one.
    job: Option<Duration>,
    /// Whether the Job's deadline comes first (the Job controller ends it).
    cluster_first: bool,
    /// See [`JobOptions::deadline_grace`].
    grace: Duration,
}

impl Clock {
    fn of(job: &Job, rule: Duration, grace: Duration) -> Self {
        let job_deadline = job
            .spec
            .as_ref()
            .and_then(|s| s.active_deadline_seconds)
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs);
        let rounded = Duration::from_secs(u64::try_from(whole_seconds(rule)).unwrap_or(u64::MAX));
        match job_deadline {
            Some(d) if d <= rounded => Clock {
                local: d.saturating_add(grace),
                rule,
                job: Some(d),
                cluster_first: true,
                grace,
            },
            _ => Clock {
                local: rule,
                rule,
                job: job_deadline,
                cluster_first: false,
                grace,
            },
        }
    }

    /// Which limit ended the run: `by_cluster` when the Job controller failed it.
    fn why(&self, by_cluster: bool) -> String {
        let job = self.job.map_or(0, |d| d.as_secs());
        if by_cluster {
            format!(
                "the Job's activeDeadlineSeconds of {job} ended it; the rule's timeout is {:?}",
                self.rule
            )
        } else if self.cluster_first {
            format!(
                "the Job was still active {:?} past its activeDeadlineSeconds of {job}: \
                 alertrun deleted it",
                self.grace
            )
        } else {
            format!(
                "the rule's timeout of {:?} ended it: alertrun deleted the Job",
                self.rule
            )
        }
    }
}

impl JobExecutor {
    /// An executor creating Jobs for `action` through `client`, in the action's namespace
    /// or else `default_namespace`.
    ///
    /// The action is checked when a Job is rendered; call [`JobAction::validate`] first to
    /// find problems at startup.
    pub fn new(
        client: kube::Client,
        action: JobAction,
        default_namespace: String,
        options: JobOptions,
    ) -> Self {
        Self {
            client,
            action,
            default_namespace,
            options,
        }
    }

    async fn run(
        &self,
        req: &ExecRequest,
        stop: BoxFuture<'_, StopReason>,
        on_start: OnStart<'_>,
    ) -> Result<Outcome, ExecError> {
        let job = render_job(&self.action, req, &self.default_namespace).map_err(|e| {
            ExecError::Rejected {
                backend: KIND,
                reason: e.to_string(),
            }
        })?;
        let name = job.metadata.name.clone().unwrap_or_default();
        let namespace = job
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| self.default_namespace.clone());
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        // The create (and, after a 409, the read of the existing Job) is bounded by the
        // rule's deadline and ends on a stop: an API server that never answers cannot hold
        // the run, or a shutdown, forever. Either way nothing was seen to start; a Job the
        // API server did create meanwhile is found by its name on the next attempt.
        let mut stop = stop;
        let found = tokio::select! {
            found = tokio::time::timeout(
                req.deadline,
                self.create_or_find(&jobs, &job, &name, &namespace, req),
            ) => match found {
                Ok(found) => found?,
                Err(_elapsed) => {
                    return Err(ExecError::Transient {
                        backend: KIND,
                        source: format!(
                            "the API server did not answer the create of Job {namespace}/{name} \
                             within the rule's timeout of {:?}",
                            req.deadline
                        )
                        .into(),
                    });
                }
            },
            reason = &mut stop => {
                return Err(ExecError::Transient {
                    backend: KIND,
                    source: format!(
                        "asked to stop ({}) while Job {namespace}/{name} was being created",
                        reason.as_str()
                    )
                    .into(),
                });
            }
        };
        let Some((job, age)) = found else {
            return Ok(Outcome::Duplicate);
        };
        on_start(Started::Job {
            namespace: namespace.clone(),
            name: name.clone(),
            uid: job.metadata.uid.clone().unwrap_or_default(),
        });
        let report = self
            .follow_to_end(&jobs, &job, &namespace, req.deadline, age, stop)
            .await?;
        Ok(Outcome::Finished(report))
    }

    /// Creates the Job, or after `409 AlreadyExists` finds the one an earlier attempt of
    /// the same request created ([`Self::existing`]): the Job and how old it is, or `None`
    /// for a duplicate.
    async fn create_or_find(
        &self,
        jobs: &Api<Job>,
        job: &Job,
        name: &str,
        namespace: &str,
        req: &ExecRequest,
    ) -> Result<Option<(Job, Duration)>, ExecError> {
        let found = match jobs.create(&PostParams::default(), job).await {
            Ok(created) => {
                tracing::info!(job = %name, %namespace, "created Job");
                // Its own clock from here: the API server's may be skewed from ours.
                (created, Duration::ZERO)
            }
            Err(kube::Error::Api(s)) if s.is_already_exists() => {
                match self.existing(jobs, name, namespace, req).await? {
                    Some(job) => {
                        let age = age(&job);
                        (job, age)
                    }
                    None => return Ok(None),
                }
            }
            Err(e) => {
                return Err(
                    ClusterError::new("create", "jobs", namespace, e).into_exec_before_start()
                );
            }
        };
        Ok(Some(found))
    }

    /// After `409 AlreadyExists`: the Job of that name if it was created for the same
    /// request (its annotations name the same rule and dedup key) and has not finished,
    /// so that a create retried after a lost answer follows the Job its first attempt
    /// created. `None` (a duplicate) for a finished Job, one of another request (a hash
    /// collision of names), or one that is gone since.
    async fn existing(
        &self,
        jobs: &Api<Job>,
        name: &str,
        namespace: &str,
        req: &ExecRequest,
    ) -> Result<Option<Job>, ExecError> {
        let job = match jobs.get(name).await {
            Ok(job) => job,
            Err(kube::Error::Api(s)) if s.is_not_found() => {
                tracing::info!(job = %name, %namespace, "Job existed already and is gone: a duplicate");
                return Ok(None);
            }
            Err(e) => {
                return Err(ClusterError::new("get", "jobs", namespace, e).into_exec_before_start());
            }
        };
        if !is_for(&job, req) {
            tracing::info!(job = %name, %namespace, "a Job of that name exists for another request: a duplicate");
            return Ok(None);
        }
        if job_end(&job).is_some() {
            tracing::info!(job = %name, %namespace, "Job exists already and has finished: a duplicate");
            return Ok(None);
        }
        tracing::info!(job = %name, %namespace, "Job exists already for this request and runs: following it");
        Ok(Some(job))
    }

    /// `recover` of a [`Started::Job`] handle: follows the Job to its end if it is still
    /// the Job of that handle (same uid).
    async fn recover_job(
        &self,
        req: &ExecRequest,
        started: &Started,
        stop: BoxFuture<'_, StopReason>,
    ) -> Result<Recovered, ExecError> {
        let Started::Job {
            namespace,
            name,
            uid,
        } = started
        else {
            return Err(ExecError::Rejected {
                backend: KIND,
                reason: format!("cannot recover {started}: not a Kubernetes Job"),
            });
        };
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), namespace);
        let job = match jobs.get(name).await {
            Ok(job) => job,
            Err(kube::Error::Api(s)) if s.is_not_found() => {
                // Deleted while no alertrun watched (by its TTL, or by someone): its pods
                // may still tell how it ended; else its outcome is unknown.
                tracing::info!(%started, "the Job is gone: reading its end from its pods");
                let container = render_job(&self.action, req, namespace)
                    .map_or_else(|_| self.container_name(None), |job| self.container(&job));
                let report = self
                    .report(End::Gone, namespace, Some(uid), &container)
                    .await;
                return Ok(Recovered::Followed(Outcome::Finished(report)));
            }
            Err(e) => {
                return Err(ClusterError::new("get", "jobs", namespace, e).into_exec_before_start());
            }
        };
        if job.metadata.uid.as_deref() != Some(uid.as_str()) {
            tracing::info!(%started, other = ?job.metadata.uid, "a Job of that name with another uid: leaving it alone");
            return Ok(Recovered::Gone);
        }
        tracing::info!(%started, "following the Job an earlier alertrun created");
        let report = self
            .follow_to_end(&jobs, &job, namespace, req.deadline, age(&job), stop)
            .await?;
        Ok(Recovered::Followed(Outcome::Finished(report)))
    }

    /// Follows `job` (created `age` ago) until it ends, its deadline (see "One clock"),
    /// or `stop`; deletes it in the last two cases; then reports how it ended.
    async fn follow_to_end(
        &self,
        jobs: &Api<Job>,
        job: &Job,
        namespace: &str,
        deadline: Duration,
        age: Duration,
        stop: BoxFuture<'_, StopReason>,
    ) -> Result<Report, ExecError> {
        let started = Instant::now();
        let name = job.metadata.name.clone().unwrap_or_default();
        let clock = Clock::of(job, deadline, self.options.deadline_grace);
        let end = match job_end(job) {
            // A Job that ended while no alertrun watched: nothing to wait for or delete.
            Some(end) => end,
            None => tokio::select! {
                end = tokio::time::timeout(
                    clock.local.saturating_sub(age),
                    self.follow(jobs, &name, namespace),
                ) => {
                    match end {
                        Ok(end) => end?,
                        Err(_elapsed) => End::EndedBy(EndedBy::Timeout),
                    }
                }
                reason = stop => End::EndedBy(EndedBy::Stop(reason)),
            },
        };
        if let End::EndedBy(by) = &end {
            tracing::info!(job = %name, %namespace, ?by, "deleting Job");
            match jobs.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => {
                    return Err(ClusterError::new("delete", "jobs", namespace, e).into_exec());
                }
            }
        }
        let by_cluster = end.is_deadline_exceeded();
        let mut report = self
            .report(
                end,
                namespace,
                job.metadata.uid.as_deref(),
                &self.container(job),
            )
            .await;
        if report.ended_by == Some(EndedBy::Timeout) {
            let why = clock.why(by_cluster);
            report.reason = Some(match report.reason.take() {
                Some(reason) => format!("{reason} ({why})"),
                None => why,
            });
        }
        report.duration = age + started.elapsed();
        Ok(report)
    }

    /// The report of a Job that ended as `end`: its newest pod's exit code and log tail,
    /// and why it ended as it did when the cluster says more (the `Failed` condition, a
    /// container that cannot start, the `FailedCreate` events of a pod never created).
    /// Its duration is left zero for the caller.
    async fn report(
        &self,
        end: End,
        namespace: &str,
        uid: Option<&str>,
        container: &str,
    ) -> Report {
        let uid = uid.unwrap_or_default();
        let pod = self.newest_pod(namespace, uid).await;
        let code = pod
            .as_ref()
            .and_then(|p| terminated_exit_code(p, container));
        let deadline_exceeded = end.is_deadline_exceeded();
        let exit = match &end {
            End::Complete => Some(Exit::Code(code.unwrap_or(0))),
            // The Job controller ended it at its deadline: the pod was killed, if it ran.
            End::Failed(_) if deadline_exceeded => code.map(Exit::Code),
            // A Failed Job never reports success, whatever its pod says.
            End::Failed(_) => Some(Exit::Code(code.filter(|c| *c != 0).unwrap_or(1))),
            End::Gone | End::EndedBy(_) => code.map(Exit::Code),
        };
        let ended_by = match &end {
            End::EndedBy(by) => Some(*by),
            End::Failed(_) if deadline_exceeded => Some(EndedBy::Timeout),
            // Gone, and its pod does not tell how it ended either.
            End::Gone if code.is_none() => Some(EndedBy::Vanished),
            _ => None,
        };
        // Why: the Failed condition's reason, then a container that could not start, then
        // a pod that could not be created.
        let mut reasons = Vec::new();
        if let End::Failed(Some(reason)) = &end {
            reasons.push(reason.clone());
        }
        if end == End::Gone {
            reasons.push(match (&pod, code) {
                (Some(pod), Some(_)) => format!(
                    "the Job was {DELETED_BEFORE_OUTCOME}; the exit code is its pod {}'s",
                    pod.metadata.name.as_deref().unwrap_or_default()
                ),
                _ => DELETED_BEFORE_OUTCOME.to_string(),
            });
        }
        if let Some(waiting) = pod.as_ref().and_then(|p| start_failure(p, container)) {
            reasons.push(waiting);
        }
        if pod.is_none() && end != End::Complete && !uid.is_empty() {
            if let Some(refused) = self.failed_create(namespace, uid).await {
                reasons.push(refused);
            }
        }
        let mut stdout = Tail::default();
        if let Some(pod) = &pod {
            let log = self.log(namespace, pod, container).await;
            stdout.push(log.as_bytes(), self.options.log_tail_bytes);
        }
        Report {
            exit,
            ended_by,
            stdout,
            stderr: Tail::default(),
            duration: Duration::ZERO,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        }
    }

    /// Why the Job controller could not create the Job's pod, from the newest
    /// `FailedCreate` event of the Job with this uid (an admission refusal such as
    /// PodSecurity, a quota, a missing service account): `FailedCreate: <message>`.
    /// Best effort: `None` when there is none or the list fails.
    async fn failed_create(&self, namespace: &str, uid: &str) -> Option<String> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        let fields = format!("involvedObject.uid={uid},reason={FAILED_CREATE}");
        match events.list(&ListParams::default().fields(&fields)).await {
            Ok(list) => list
                .items
                .into_iter()
                .filter(|e| e.reason.as_deref() == Some(FAILED_CREATE))
                .max_by_key(|e| e.last_timestamp.clone().map(|t| t.0))
                .and_then(|e| reason_and_message(Some(FAILED_CREATE), e.message.as_deref())),
            Err(e) => {
                let e = ClusterError::new("list", "events", namespace, e);
                tracing::warn!(error = %e, cause = %e.source_text(), "no events, so no reason");
                None
            }
        }
    }

    /// Reads the Job every poll interval until it is Complete, Failed or gone.
    ///
    /// Gone after a read that showed `SuccessCriteriaMet` or `FailureTarget` (1.31+: the
    /// Job controller decided, and only its pods' termination was left) is that end;
    /// gone otherwise is [`End::Gone`].
    ///
    /// Transient failures (transport errors, 429, 5xx) are logged and retried at the next
    /// interval; other API errors (a 403, say) end the wait with an error.
    async fn follow(&self, jobs: &Api<Job>, name: &str, namespace: &str) -> Result<End, ExecError> {
        let mut decided = None;
        loop {
            tokio::time::sleep(self.options.poll_interval).await;
            match jobs.get(name).await {
                Ok(job) => {
                    if let Some(end) = job_end(&job) {
                        return Ok(end);
                    }
                    decided = job_decided(&job).or(decided);
                }
                Err(kube::Error::Api(s)) if s.is_not_found() => {
                    return Ok(decided.unwrap_or(End::Gone));
                }
                Err(kube::Error::Api(s)) if s.code != 429 && s.code < 500 => {
                    return Err(
                        ClusterError::new("get", "jobs", namespace, kube::Error::Api(s))
                            .into_exec(),
                    );
                }
                Err(e) => {
                    let e = ClusterError::new("get", "jobs", namespace, e);
                    tracing::warn!(job = %name, error = %e, cause = %e.source_text(), "cannot read Job: retrying");
                }
            }
        }
    }

    /// The container whose log and exit code the report shows: the action's
    /// `container_name`, else the only (or first) container of the pod template.
    fn container(&self, job: &Job) -> String {
        self.container_name(
            job.spec
                .as_ref()
                .and_then(|spec| spec.template.spec.as_ref())
                .and_then(|pod| pod.containers.first())
                .map(|c| c.name.as_str()),
        )
    }

    /// The action's `container_name`, else `first` (the pod template's first container),
    /// else the default name.
    fn container_name(&self, first: Option<&str>) -> String {
        self.action
            .container_name
            .as_deref()
            .or(first)
            .unwrap_or(default_container_name())
            .to_string()
    }

    /// The newest pod of the Job with this uid, if any (best effort): listed by
    /// [`CONTROLLER_UID_LABEL`], and when that finds none by
    /// [`LEGACY_CONTROLLER_UID_LABEL`], so that clusters before 1.27 are served too.
    /// A list that fails ends the search (the second would fail the same way).
    async fn newest_pod(&self, namespace: &str, uid: &str) -> Option<Pod> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        for label in [CONTROLLER_UID_LABEL, LEGACY_CONTROLLER_UID_LABEL] {
            let selector = format!("{label}={uid}");
            match pods.list(&ListParams::default().labels(&selector)).await {
                Ok(list) if list.items.is_empty() => {}
                Ok(list) => {
                    return list.items.into_iter().max_by(|a, b| {
                        a.metadata
                            .creation_timestamp
                            .cmp(&b.metadata.creation_timestamp)
                    });
                }
                Err(e) => {
                    let e = ClusterError::new("list", "pods", namespace, e);
                    tracing::warn!(error = %e, cause = %e.source_text(), "no pod, so no log");
                    return None;
                }
            }
        }
        None
    }

    /// The tail of the pod's log (best effort: empty on failure).
    async fn log(&self, namespace: &str, pod: &Pod, container: &str) -> String {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let Some(name) = pod.metadata.name.as_deref() else {
            return String::new();
        };
        // `limitBytes` cuts the *start* of what `tailLines` selects, so the lines ask for
        // the tail and the bytes only bound memory; `Tail::push` keeps the last bytes.
        let limit = self.options.log_tail_bytes.saturating_mul(16);
        let params = LogParams {
            container: Some(container.to_string()),
            tail_lines: Some(self.options.log_tail_lines),
            limit_bytes: Some(i64::try_from(limit).unwrap_or(i64::MAX)),
            ..LogParams::default()
        };
        match pods.logs(name, &params).await {
            Ok(log) => log,
            Err(e) => {
                let e = ClusterError::new("get", "pods/log", namespace, e);
                tracing::warn!(pod = %name, error = %e, cause = %e.source_text(), "no log");
                String::new()
            }
        }
    }
}

/// An `on_start` that ignores the handle, for plain [`Executor::execute`].
fn ignore(_: Started) {}

impl Executor for JobExecutor {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn execute<'a>(
        &'a self,
        req: &'a ExecRequest,
        stop: BoxFuture<'a, StopReason>,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        self.execute_observed(req, stop, &ignore)
    }

    fn execute_observed<'a>(
        &'a self,
        req: &'a ExecRequest,
        stop: BoxFuture<'a, StopReason>,
        on_start: OnStart<'a>,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        Box::pin(self.run(req, stop, on_start))
    }

    fn recover<'a>(
        &'a self,
        req: &'a ExecRequest,
        started: &'a Started,
        stop: BoxFuture<'a, StopReason>,
    ) -> BoxFuture<'a, Result<Recovered, ExecError>> {
        Box::pin(self.recover_job(req, started, stop))
    }
}

/// Whether `job` was created by alertrun for `req`: managed by alertrun, and annotated
/// with the request's rule and dedup key (raw, so a collision of sanitised names shows).
fn is_for(job: &Job, req: &ExecRequest) -> bool {
    let meta = &job.metadata;
    let label = |key| meta.labels.as_ref().and_then(|l| l.get(key));
    let annotation = |key| meta.annotations.as_ref().and_then(|a| a.get(key));
    label(MANAGED_BY_LABEL).is_some_and(|v| v == MANAGED_BY)
        && annotation(RULE_ANNOTATION).is_some_and(|v| *v == req.rule)
        && annotation(DEDUP_KEY_ANNOTATION).is_some_and(|v| *v == req.dedup_key)
}

/// How long ago the API server created `job`, by our clock: zero when unknown or in the
/// future (clocks are skewed).
fn age(job: &Job) -> Duration {
    job.metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| SystemTime::now().duration_since(SystemTime::from(t.0)).ok())
        .unwrap_or_default()
}

/// `Complete` or `Failed` (with its reason and message) when that condition of the Job
/// is `True`.
fn job_end(job: &Job) -> Option<End> {
    true_condition(job, "Complete", "Failed")
}

/// The end the Job controller decided before the Job's end: `SuccessCriteriaMet` is
/// `Complete`, `FailureTarget` is `Failed` with that condition's reason and message.
fn job_decided(job: &Job) -> Option<End> {
    true_condition(job, "SuccessCriteriaMet", "FailureTarget")
}

/// `Complete` when the Job's condition `complete` is `True`, `Failed` (with the reason and
/// message) when its condition `failed` is, whichever comes first.
fn true_condition(job: &Job, complete: &str, failed: &str) -> Option<End> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            t if t == complete => Some(End::Complete),
            t if t == failed => Some(End::Failed(reason_and_message(
                c.reason.as_deref(),
                c.message.as_deref(),
            ))),
            _ => None,
        })
}

/// `reason: message`, or the one of them that is there and not empty.
fn reason_and_message(reason: Option<&str>, message: Option<&str>) -> Option<String> {
    let reason = reason.filter(|r| !r.is_empty());
    let message = message.filter(|m| !m.is_empty());
    match (reason, message) {
        (Some(r), Some(m)) => Some(format!("{r}: {m}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    }
}

/// Why a container waits that it cannot start on its own: its image cannot be pulled or
/// its configuration is wrong. Other waiting reasons (`ContainerCreating`, ...) pass.
const START_FAILURES: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// The state of the container named `container` in `pod`, when the pod reports it.
fn container_state<'p>(
    pod: &'p Pod,
    container: &str,
) -> Option<&'p k8s_openapi::api::core::v1::ContainerState> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|s| s.name == container)?
        .state
        .as_ref()
}

/// `pod <name>: <reason>: <message>` when the container named `container` in `pod` waits
/// for one of the [`START_FAILURES`].
fn start_failure(pod: &Pod, container: &str) -> Option<String> {
    let waiting = container_state(pod, container)?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    if !START_FAILURES.contains(&reason) {
        return None;
    }
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let why = reason_and_message(Some(reason), waiting.message.as_deref())?;
    Some(format!("pod {name}: {why}"))
}

/// The exit code of the container named `container` in `pod`, once it terminated.
fn terminated_exit_code(pod: &Pod, container: &str) -> Option<i32> {
    container_state(pod, container)?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_end_table() {
        for (case, status, want) in [
            ("no status", json!(null), None),
            ("running", json!({"active": 1}), None),
            (
                "complete",
                json!({"conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                      {"type": "Complete", "status": "True"}]}),
                Some(End::Complete),
            ),
            (
                "failed",
                json!({"conditions": [{"type": "FailureTarget", "status": "True"},
                                      {"type": "Failed", "status": "True"}]}),
                Some(End::Failed(None)),
            ),
            (
                "failed with reason and message",
                json!({"conditions": [{"type": "Failed", "status": "True",
                                       "reason": "DeadlineExceeded",
                                       "message": "Job was active longer than specified deadline"}]}),
                Some(End::Failed(Some(
                    "DeadlineExceeded: Job was active longer than specified deadline".into(),
                ))),
            ),
            (
                "failed with a reason only",
                json!({"conditions": [{"type": "Failed", "status": "True",
                                       "reason": "BackoffLimitExceeded", "message": ""}]}),
                Some(End::Failed(Some("BackoffLimitExceeded".into()))),
            ),
            (
                "failure target only",
                json!({"conditions": [{"type": "FailureTarget", "status": "True"}]}),
                None,
            ),
            (
                "condition not true",
                json!({"conditions": [{"type": "Complete", "status": "False"}]}),
                None,
            ),
        ] {
            let job: Job = serde_json::from_value(json!({"status": status})).unwrap();
            assert_eq!(job_end(&job), want, "{case}");
        }
    }

    #[test]
    fn exit_code_comes_from_the_named_terminated_container() {
        let pod: Pod = serde_json::from_value(json!({"status": {"containerStatuses": [
            {"name": "sidecar", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 9}}},
            {"name": "action", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 3}}},
            {"name": "running", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
             "state": {"running": {}}},
        ]}}))
        .unwrap();
        assert_eq!(terminated_exit_code(&pod, "action"), Some(3));
        assert_eq!(terminated_exit_code(&pod, "running"), None);
        assert_eq!(terminated_exit_code(&pod, "absent"), None);
    }

    #[test]
    fn only_waiting_that_cannot_end_on_its_own_is_a_start_failure() {
        let waiting = |reason: &str| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "web-a"},
                "status": {"containerStatuses": [
                {"name": "action", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": reason, "message": "why"}}}]}}))
            .unwrap()
        };
        assert_eq!(
            start_failure(&waiting("ImagePullBackOff"), "action").as_deref(),
            Some("pod web-a: ImagePullBackOff: why")
        );
        assert_eq!(start_failure(&waiting("ContainerCreating"), "action"), None);
        assert_eq!(start_failure(&waiting("ImagePullBackOff"), "other"), None);
    }
}
