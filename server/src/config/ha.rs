//! `server.ha`: several replicas of `alertrun serve`, each episode run once, coordinated
//! through the Kubernetes API (`serve::ha` does the work; this is only its settings).
//!
//! ```yaml
//! server:
//!   ha:
//!     mode: kubernetes             # the only mode; without `ha`, one replica (the default)
//!     namespace: alertrun          # where the claims (Leases) live; default: the client's
//!     lease_duration: 15s          # a claim not renewed for this long is its owner's loss
//!     replica: alertrun-0          # this replica's name; default: $POD_NAME, else the hostname
//!     url: http://10.0.0.7:9095    # where other replicas reach this one's API; default:
//!                                  # http(s)://$POD_IP:<listen port> when POD_IP is set
//! ```
//!
//! What it is not: the claim protocol (names, renewals, takeovers) nor the client; those
//! need the cluster and live with the server. The replica's name and URL are resolved here,
//! at load, from the environment a pod gives (the downward API's `POD_NAME`, `POD_IP`),
//! so that `alertrun check` shows what a replica will call itself.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::Validator;

/// Default `lease_duration`: as Kubernetes' own leader election (15 s), renewed every third.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);

/// `server.ha`: how this replica shares the work with the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HaSettings {
    /// The namespace of the claims; `None`: the cluster client's default namespace (in a
    /// pod, its own).
    pub namespace: Option<String>,
    /// How long a claim holds without renewal; whole seconds, at least 3.
    pub lease_duration: Duration,
    /// This replica's name, the holder of the claims it makes.
    pub replica: String,
    /// Where the others reach this replica's API (for a run's detail), without a trailing
    /// slash; `None` when neither set nor derivable.
    pub url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHa {
    mode: RawMode,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    lease_duration: Option<String>,
    #[serde(default)]
    replica: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawMode {
    Kubernetes,
}

/// A DNS-1123 label (a namespace name): lowercase alphanumerics and `-`, at most 63.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// This machine's name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`).
fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

impl Validator<'_> {
    /// Validates `server.ha` (`null`: off), given the listen port and whether TLS is on (for
    /// the derived URL).
    pub(super) fn ha(&mut self, value: Value, port: u16, tls: bool) -> Option<HaSettings> {
        if value.is_null() {
            return None;
        }
        let raw: RawHa = self.typed("server.ha", value)?;
        let RawMode::Kubernetes = raw.mode;
        if let Some(ns) = &raw.namespace
            && !is_dns_label(ns)
        {
            self.problem(
                "server.ha.namespace",
                format!(
                    "{ns:?} is not a namespace name: lowercase letters, digits and '-', at most 63"
                ),
            );
        }
        let lease_duration = match raw.lease_duration {
            None => DEFAULT_LEASE_DURATION,
            Some(text) => {
                let d = self.duration("server.ha.lease_duration", &text)?;
                if d < Duration::from_secs(3) || d.subsec_nanos() != 0 {
                    self.problem(
                        "server.ha.lease_duration",
                        format!("{text} must be whole seconds, at least 3s: a Lease counts whole seconds and is renewed every third"),
                    );
                    return None;
                }
                d
            }
        };
        let replica = raw
            .replica
            .or_else(|| std::env::var("POD_NAME").ok().filter(|s| !s.is_empty()))
            .or_else(hostname);
        let Some(replica) = replica else {
            self.problem(
                "server.ha.replica",
                "no replica name: set server.ha.replica, or POD_NAME (the downward API's metadata.name)",
            );
            return None;
        };
        if replica.len() > 253 || replica.chars().any(char::is_control) || replica.trim() != replica
        {
            self.problem(
                "server.ha.replica",
                format!("{replica:?} is not a replica name: at most 253 characters, no control characters or surrounding spaces"),
            );
            return None;
        }
        let url = match raw.url {
            Some(url) => {
                let url = url.trim_end_matches('/').to_owned();
                if !(url.starts_with("http://") || url.starts_with("https://"))
                    || url.chars().any(char::is_control)
                {
                    self.problem(
                        "server.ha.url",
                        format!("{url:?} is not an http(s) URL: write where other replicas reach this one"),
                    );
                    return None;
                }
                Some(url)
            }
            None => std::env::var("POD_IP")
                .ok()
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
                .map(|ip| {
                    let scheme = if tls { "https" } else { "http" };
                    match ip {
                        std::net::IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{port}"),
                        std::net::IpAddr::V4(ip) => format!("{scheme}://{ip}:{port}"),
                    }
                }),
        };
        Some(HaSettings {
            namespace: raw.namespace,
            lease_duration,
            replica,
            url,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use crate::config::parse_server;
    use serde_json::json;

    fn ha(value: Value) -> Result<Option<HaSettings>, String> {
        let mut server = json!({});
        server["ha"] = value;
        parse_server(server)
            .map(|s| s.ha)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_ha_is_one_replica() {
        assert_eq!(parse_server(json!({})).unwrap().ha, None);
    }

    #[test]
    fn kubernetes_mode_takes_the_defaults_and_the_given_names() {
        let s = ha(json!({"mode": "kubernetes", "replica": "alertrun-1",
                          "namespace": "ops", "url": "http://10.1.2.3:9095/"}))
        .unwrap()
        .unwrap();
        assert_eq!(s.lease_duration, DEFAULT_LEASE_DURATION);
        assert_eq!(s.replica, "alertrun-1");
        assert_eq!(s.namespace.as_deref(), Some("ops"));
        assert_eq!(s.url.as_deref(), Some("http://10.1.2.3:9095"));
    }

    #[test]
    fn bad_settings_are_named_by_path() {
        let e = ha(json!({"mode": "kubernetes", "replica": "r", "lease_duration": "1500ms"}))
            .unwrap_err();
        assert!(e.contains("server.ha.lease_duration"), "{e}");
        let e =
            ha(json!({"mode": "kubernetes", "replica": "r", "namespace": "Ops_1"})).unwrap_err();
        assert!(e.contains("server.ha.namespace"), "{e}");
        let e = ha(json!({"mode": "etcd", "replica": "r"})).unwrap_err();
        assert!(e.contains("server.ha"), "{e}");
        let e =
            ha(json!({"mode": "kubernetes", "replica": "r", "url": "10.0.0.1:9095"})).unwrap_err();
        assert!(e.contains("server.ha.url"), "{e}");
        let e = ha(json!({"mode": "kubernetes", "replica": "a\nb"})).unwrap_err();
        assert!(e.contains("server.ha.replica"), "{e}");
    }
}
