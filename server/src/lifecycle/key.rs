//! Typed keys: which rule, which episode or group, which dedupe entry.

use std::fmt;
use std::sync::Arc;

/// A rule's name, cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RuleName(Arc<str>);

impl RuleName {
    /// The name.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for RuleName {
    fn from(name: &str) -> Self {
        Self(Arc::from(name))
    }
}

impl fmt::Display for RuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a run acts on, as a later notification names it: one alert's episode
/// (`<fingerprint>@<startsAt>`), or a group (its group key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Subject {
    /// An alert's episode.
    Episode(Arc<str>),
    /// A notification group.
    Group(Arc<str>),
}

/// Which dedupe entries a selection reads and writes: live runs, or dry runs (which never
/// mark a live episode as done, so shadowing a config and then going live runs what is
/// still firing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Namespace {
    /// Actions that run.
    Live,
    /// Selections recorded by a dry run (`serve --dry-run` or a rule's `dry_run: true`).
    DryRun,
}

/// The dedupe key: (rule, episode[, status]), in a namespace. `episode` is the run
/// record's `dedupe_key` text (the request's dedup key, plus `#firing`/`#resolved` for a
/// per-alert rule).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DedupeKey {
    /// Live or dry run.
    pub namespace: Namespace,
    /// The rule.
    pub rule: RuleName,
    /// The episode (or group state) within the rule.
    pub episode: Arc<str>,
}

/// The separator of a dedupe key's parts in the store; rule names cannot hold it.
const SEPARATOR: char = '\u{1f}';
/// The first part of a dry-run key in the store.
const DRY_RUN: &str = "dry-run";

impl DedupeKey {
    /// The key as the store keeps it: `rule␟episode` for a live key (the layout of earlier
    /// releases), `dry-run␟rule␟episode` for a dry-run key.
    pub(crate) fn to_store_key(&self) -> String {
        match self.namespace {
            Namespace::Live => format!("{}{SEPARATOR}{}", self.rule, self.episode),
            Namespace::DryRun => {
                format!(
                    "{DRY_RUN}{SEPARATOR}{}{SEPARATOR}{}",
                    self.rule, self.episode
                )
            }
        }
    }

    /// Reads a key written by [`DedupeKey::to_store_key`]; `None` for text it never writes.
    #[cfg_attr(not(test), allow(dead_code, reason = "only tests call it"))]
    pub(crate) fn from_store_key(text: &str) -> Option<Self> {
        let (namespace, rule, episode) = Self::store_key_parts(text)?;
        Some(Self {
            namespace,
            rule: RuleName::from(rule),
            episode: Arc::from(episode),
        })
    }

    /// The namespace, rule and episode of a key's store text, without copying them.
    pub(crate) fn store_key_parts(text: &str) -> Option<(Namespace, &str, &str)> {
        let (first, rest) = text.split_once(SEPARATOR)?;
        Some(match rest.split_once(SEPARATOR) {
            Some((rule, episode)) if first == DRY_RUN => (Namespace::DryRun, rule, episode),
            _ => (Namespace::Live, first, rest),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keys_read_back_and_live_keys_keep_the_old_layout() {
        for namespace in [Namespace::Live, Namespace::DryRun] {
            let key = DedupeKey {
                namespace,
                rule: RuleName::from("restart"),
                episode: Arc::from("d284efc389a5bf32@2026-11-21T07:38:36Z#firing"),
            };
            assert_eq!(DedupeKey::from_store_key(&key.to_store_key()), Some(key));
        }
        let live = DedupeKey::from_store_key("restart\u{1f}abc#firing").unwrap();
        assert_eq!(live.namespace, Namespace::Live);
        assert_eq!(&*live.episode, "abc#firing");
        assert_eq!(DedupeKey::from_store_key("no separator"), None);
    }
}
