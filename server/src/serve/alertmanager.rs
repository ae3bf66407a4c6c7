//! A small client of Alertmanager's API v2: the silences (list, create, expire) and the
//! state of one alert, found by its exact labels.
//!
//! What it is: four calls and the JSON they speak (`api/v2/openapi.yaml`), each bounded by
//! a timeout, with typed errors that name the Alertmanager's URL and never a credential.
//! What it is not: a general Alertmanager client, or the decisions made with its answers
//! (`super::silences`).
//!
//! The key design choice: ureq (blocking, already alertrun's HTTP client for `alertrun
//! runs`, rustls with ring) run on tokio's blocking pool, rather than hyper's client, which
//! would need a connector and TLS wiring of its own for a handful of requests per batch.
//! Each call is cut at the configured timeout twice: by ureq's global timeout (connect,
//! send, receive) and by a tokio timeout around the blocking task, so a stuck resolver
//! cannot hold a caller either.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use alert_core::LabelSet;
use alert_match::{MatchOp, Matcher, MatcherError};
use serde::{Deserialize, Serialize};

use crate::config::AlertmanagerAuth;

/// Who alertrun says made its silences (`createdBy`); silences by anyone else are what
/// `respect_silences` respects.
pub(crate) const CREATED_BY: &str = "alertrun";

/// What went wrong talking to an Alertmanager. The URL never carries credentials (they go
/// in a header, and a config URL with user info is refused).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Error {
    /// Connecting, sending or receiving failed.
    #[error("cannot reach Alertmanager at {url}: {cause}")]
    Unreachable {
        /// The request's URL.
        url: String,
        /// What failed.
        cause: ureq::Error,
    },
    /// No answer within the timeout.
    #[error("Alertmanager at {url} did not answer within {}", humantime::format_duration(*.timeout))]
    Timeout {
        /// The request's URL.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// An answer that is not a success.
    #[error("Alertmanager at {url} answered {status}: {body}")]
    Status {
        /// The request's URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// A success whose body does not read as the API says.
    #[error("unexpected answer from Alertmanager at {url}")]
    Answer {
        /// The request's URL.
        url: String,
        /// Why it does not read.
        #[source]
        source: serde_json::Error,
    },
}

/// One matcher of a silence, as the API writes it. `isEqual` came with Alertmanager 0.22;
/// older ones leave it out, meaning equal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SilenceMatcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl SilenceMatcher {
    /// An equality matcher.
    pub(crate) fn equal(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: value.to_owned(),
            is_regex: false,
            is_equal: true,
        }
    }

    /// The matcher alertrun evaluates: `isRegex` and `isEqual` give the operator, and a
    /// regex is anchored as Alertmanager anchors it.
    ///
    /// # Errors
    /// A regex Alertmanager accepted that alertrun cannot reproduce.
    pub(crate) fn to_matcher(&self) -> Result<Matcher, MatcherError> {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        Matcher::new(self.name.as_str(), op, self.value.as_str())
    }
}

/// A silence as Alertmanager lists it (`gettableSilence`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Silence {
    pub id: String,
    pub matchers: Vec<SilenceMatcher>,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    pub status: SilenceStatus,
}

/// `{"state": "active" | "pending" | "expired"}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub(crate) struct SilenceStatus {
    pub state: String,
}

impl Silence {
    /// Whether Alertmanager holds it in force now.
    pub(crate) fn is_active(&self) -> bool {
        self.status.state == "active"
    }

    /// Whether alertrun made it.
    pub(crate) fn is_alertrun_s(&self) -> bool {
        self.created_by == CREATED_BY
    }

    /// Whether it covers an alert with `labels`: every matcher holds (a missing label is
    /// the empty string, as in Alertmanager).
    ///
    /// # Errors
    /// A matcher alertrun cannot evaluate (see [`SilenceMatcher::to_matcher`]).
    pub(crate) fn covers(&self, labels: &LabelSet) -> Result<bool, MatcherError> {
        for m in &self.matchers {
            if !m.to_matcher()?.matches(labels) {
                return Ok(false);
            }
        }
        Ok(!self.matchers.is_empty())
    }
}

/// A silence to create (`postableSilence`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewSilence {
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

/// The answer to a created silence: `{"silenceID": "…"}`.
#[derive(Deserialize)]
struct Created {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

/// How Alertmanager holds a firing alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AlertStateKind {
    /// Notified as usual.
    Active,
    /// Silenced or inhibited.
    Suppressed,
    /// Received, not yet processed.
    Unprocessed,
}

/// A firing alert's state in Alertmanager.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AlertState {
    pub state: AlertStateKind,
    #[serde(default)]
    pub silenced_by: Vec<String>,
    #[serde(default)]
    pub inhibited_by: Vec<String>,
}

#[derive(Deserialize)]
struct GettableAlert {
    labels: LabelSet,
    status: AlertState,
}

/// A client of one Alertmanager. Cheap to clone. Its `Debug` shows no credential.
#[derive(Clone)]
pub(crate) struct Client {
    base: Arc<str>,
    authorization: Option<Arc<str>>,
    timeout: Duration,
    agent: ureq::Agent,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the Alertmanager at `base` (`http(s)://host:port[/prefix]`), sending
    /// `auth`, each request cut at `timeout`.
    pub(crate) fn new(base: &str, auth: Option<&AlertmanagerAuth>, timeout: Duration) -> Self {
        let authorization = auth.map(|auth| match auth {
            AlertmanagerAuth::Bearer(token) => Arc::from(format!("Bearer {}", token.as_str())),
            AlertmanagerAuth::Basic { username, password } => {
                use headers::HeaderMapExt as _;
                let mut map = headers::HeaderMap::new();
                map.typed_insert(headers::Authorization::basic(username, password.as_str()));
                let value = map.get("authorization").and_then(|v| v.to_str().ok());
                Arc::from(value.unwrap_or_default())
            }
        });
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Self {
            base: Arc::from(base.trim_end_matches('/')),
            authorization,
            timeout,
            agent,
        }
    }

    /// Every silence Alertmanager holds (active, pending and recently expired).
    ///
    /// # Errors
    /// See [`Error`].
    pub(crate) async fn silences(&self) -> Result<Vec<Silence>, Error> {
        let body = self
            .call(Method::Get, "/api/v2/silences", Vec::new())
            .await?;
        self.read(&body, "/api/v2/silences")
    }

    /// Creates `silence`; returns its id.
    ///
    /// # Errors
    /// See [`Error`]; Alertmanager refuses a silence whose matchers all match the empty
    /// string, or that ends before it starts, with 400.
    pub(crate) async fn create_silence(&self, silence: &NewSilence) -> Result<String, Error> {
        let json = serde_json::to_vec(silence).expect("a silence serializes");
        let body = self
            .call(Method::Post(json), "/api/v2/silences", Vec::new())
            .await?;
        let created: Created = self.read(&body, "/api/v2/silences")?;
        Ok(created.silence_id)
    }

    /// Expires silence `id` now (`DELETE /api/v2/silence/{id}`).
    ///
    /// # Errors
    /// See [`Error`]; an unknown id is 404, and an expired one an error status too.
    pub(crate) async fn expire_silence(&self, id: &str) -> Result<(), Error> {
        let path = format!("/api/v2/silence/{}", path_segment(id));
        self.call(Method::Delete, &path, Vec::new()).await?;
        Ok(())
    }

    /// The state of the firing alert with exactly `labels`; `None` when Alertmanager has no
    /// such alert firing (it resolved, or never came).
    ///
    /// # Errors
    /// See [`Error`].
    pub(crate) async fn alert_state(&self, labels: &LabelSet) -> Result<Option<AlertState>, Error> {
        Ok(self
            .alerts_with(labels)
            .await?
            .into_iter()
            .find(|a| a.labels == *labels)
            .map(|a| a.status))
    }

    /// Whether Alertmanager has any alert firing that carries every one of `labels` (a
    /// group's common labels): its state, or `None`.
    ///
    /// # Errors
    /// See [`Error`].
    pub(crate) async fn any_alert_state(
        &self,
        labels: &LabelSet,
    ) -> Result<Option<AlertState>, Error> {
        Ok(self
            .alerts_with(labels)
            .await?
            .into_iter()
            .next()
            .map(|a| a.status))
    }

    /// `GET /api/v2/alerts` filtered by `labels` (equality matchers).
    async fn alerts_with(&self, labels: &LabelSet) -> Result<Vec<GettableAlert>, Error> {
        let query = alert_filter(labels);
        let body = self.call(Method::Get, "/api/v2/alerts", query).await?;
        self.read(&body, "/api/v2/alerts")
    }

    fn read<T: serde::de::DeserializeOwned>(&self, body: &str, path: &str) -> Result<T, Error> {
        serde_json::from_str(body).map_err(|source| Error::Answer {
            url: format!("{}{path}", self.base),
            source,
        })
    }

    /// Sends one request on the blocking pool; the body of a 2xx answer.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<String, Error> {
        let url = format!("{}{path}", self.base);
        let client = self.clone();
        let for_task = url.clone();
        let task =
            tokio::task::spawn_blocking(move || client.call_blocking(method, &for_task, &query));
        // ureq's own timeout ends the call; this one covers what it does not (a resolver).
        let limit = self.timeout + Duration::from_millis(500);
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) | Err(_) => Err(Error::Timeout {
                url,
                timeout: self.timeout,
            }),
        }
    }

    fn call_blocking(
        &self,
        method: Method,
        url: &str,
        query: &[(&'static str, String)],
    ) -> Result<String, Error> {
        let with = |request: ureq::RequestBuilder<_>| {
            let mut request = request.header("Accept", "application/json");
            for (k, v) in query {
                request = request.query(*k, v);
            }
            if let Some(auth) = &self.authorization {
                request = request.header("Authorization", &**auth);
            }
            request
        };
        let sent = match method {
            Method::Get => with(self.agent.get(url)).call(),
            Method::Delete => with(self.agent.delete(url)).call(),
            Method::Post(json) => {
                let mut request = self
                    .agent
                    .post(url)
                    .header("Content-Type", "application/json");
                if let Some(auth) = &self.authorization {
                    request = request.header("Authorization", &**auth);
                }
                request.send(&json[..])
            }
        };
        let mut response = sent.map_err(|source| match source {
            ureq::Error::Timeout(_) => Error::Timeout {
                url: url.to_owned(),
                timeout: self.timeout,
            },
            cause => Error::Unreachable {
                url: url.to_owned(),
                cause,
            },
        })?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|cause| Error::Unreachable {
                url: url.to_owned(),
                cause,
            })?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(Error::Status {
                url: url.to_owned(),
                status,
                body: body.chars().take(200).collect::<String>().trim().to_owned(),
            })
        }
    }
}

enum Method {
    Get,
    Delete,
    Post(Vec<u8>),
}

/// The `filter` parameters that narrow `GET /api/v2/alerts` to an alert with `labels`
/// (one equality matcher per label whose name both of Alertmanager's matcher parsers
/// read; the exact label set is compared on the answer).
fn alert_filter(labels: &LabelSet) -> Vec<(&'static str, String)> {
    labels
        .iter()
        .filter(|(name, _)| is_classic_name(name))
        .map(|(name, value)| ("filter", format!("{name}=\"{}\"", escape(value))))
        .collect()
}

/// A label name Alertmanager's classic matcher parser reads unquoted.
fn is_classic_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A matcher value in double quotes: `\`, `"` and a newline escaped, which both parsers
/// read back.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A silence id as one path segment (ids are UUIDs; anything else is percent-encoded).
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
#[path = "alertmanager_tests.rs"]
mod tests;
