//! The ledger's dedupe entries in memory: per episode, 32 bytes.
//!
//! A dedupe key is a rule name and an episode text (`<fingerprint>@<startsAt>#firing`, or
//! a group key), 60 to a few hundred bytes. Keeping every key that ran, as the store
//! does, cost about 200 bytes of heap per episode (two shared strings and a map slot), and
//! a restart on a store of 100,000 episodes built them all before the first request. This
//! index keeps a 128-bit digest of each key instead (two SipHash-1-3 digests under keys
//! drawn at start, so nobody can aim two alerts at one digest) and the entry's two times:
//! 16 + 16 bytes a slot.
//!
//! What it is not: the record of which episodes ran. The store keeps the full keys and is
//! the truth after a restart, when the index is rebuilt from it (see
//! [`EpisodeIndex::restore`]). Two different keys share a digest with a probability of
//! about n²/2¹²⁹ (10⁻²⁶ at a million episodes): far below a disk losing a write.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use super::key::{DedupeKey, Namespace};

/// What the ledger remembers of an episode (of one rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Episode {
    /// When its last run was accepted (unix ms); `None` while none was.
    pub ran_at: Option<i64>,
    /// When it was last delivered (unix ms): entries idle for longer than the retention
    /// are forgotten.
    pub seen_at: i64,
    /// A run of it is being recorded.
    pub(super) pending: bool,
}

impl Episode {
    /// A stored entry.
    pub(crate) fn stored(ran_at: i64, seen_at: i64) -> Self {
        Self {
            ran_at: Some(ran_at),
            seen_at,
            pending: false,
        }
    }
}

/// A dedupe key's 128-bit digest (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Digest(u128);

/// An entry's times; `ran_at` is [`Times::NEVER`] while none ran.
#[derive(Clone, Copy, Debug)]
struct Times {
    ran_at: i64,
    seen_at: i64,
}

impl Times {
    const NEVER: i64 = i64::MIN;
}

/// A hasher for digests, which are uniformly random already: their low 64 bits.
#[derive(Debug, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is ever called (by `Digest`'s derived `Hash`); a fold anyway.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

type Prehash = BuildHasherDefault<Prehashed>;

/// See the module docs.
#[derive(Debug)]
pub(super) struct EpisodeIndex {
    keys: [RandomState; 2],
    times: HashMap<Digest, Times, Prehash>,
    /// Entries with a run being recorded: few, for the length of a commit.
    pending: HashSet<Digest, Prehash>,
}

impl EpisodeIndex {
    /// An empty index with fresh digest keys.
    pub(super) fn new() -> Self {
        Self {
            keys: [RandomState::new(), RandomState::new()],
            times: HashMap::default(),
            pending: HashSet::default(),
        }
    }

    /// The digest of a key's parts; the same for a key and its store text.
    fn digest_parts(&self, namespace: Namespace, rule: &str, episode: &str) -> Digest {
        let half = |state: &RandomState| {
            let mut h = state.build_hasher();
            h.write_u8(match namespace {
                Namespace::Live => 0,
                Namespace::DryRun => 1,
            });
            h.write(rule.as_bytes());
            // Never in UTF-8: the rule's end is unambiguous.
            h.write_u8(0xff);
            h.write(episode.as_bytes());
            h.finish()
        };
        Digest(u128::from(half(&self.keys[0])) << 64 | u128::from(half(&self.keys[1])))
    }

    /// The digest of `key`.
    pub(super) fn digest(&self, key: &DedupeKey) -> Digest {
        self.digest_parts(key.namespace, key.rule.as_str(), &key.episode)
    }

    /// The entry under `digest`.
    pub(super) fn get(&self, digest: Digest) -> Option<Episode> {
        self.times.get(&digest).map(|t| Episode {
            ran_at: (t.ran_at != Times::NEVER).then_some(t.ran_at),
            seen_at: t.seen_at,
            pending: self.pending.contains(&digest),
        })
    }

    /// Sets the entry under `digest`.
    pub(super) fn set(&mut self, digest: Digest, episode: Episode) {
        self.times.insert(
            digest,
            Times {
                ran_at: episode.ran_at.unwrap_or(Times::NEVER),
                seen_at: episode.seen_at,
            },
        );
        if episode.pending {
            self.pending.insert(digest);
        } else {
            self.pending.remove(&digest);
        }
    }

    /// Forgets the entry under `digest`.
    pub(super) fn remove(&mut self, digest: Digest) {
        self.times.remove(&digest);
        self.pending.remove(&digest);
    }

    /// Adds an entry read from the store, under its key's store text
    /// ([`DedupeKey::to_store_key`]), one of `all` read in a row: the table is sized for
    /// them at the first, so that a restart leaves no outgrown tables behind (the
    /// allocator keeps freed memory resident for a while); `false` (and nothing added)
    /// for text that is no key.
    pub(super) fn restore(&mut self, all: u64, store_key: &str, episode: Episode) -> bool {
        if self.times.is_empty() {
            self.times.reserve(usize::try_from(all).unwrap_or(0));
        }
        let Some((namespace, rule, text)) = DedupeKey::store_key_parts(store_key) else {
            return false;
        };
        let digest = self.digest_parts(namespace, rule, text);
        self.set(digest, episode);
        true
    }

    /// Forgets the entries not pending and not delivered since `idle_since` (unix ms);
    /// returns how many. The table shrinks when it is mostly empty, so that memory follows
    /// the number of entries kept, not the most ever held.
    pub(super) fn forget_idle(&mut self, idle_since: i64) -> usize {
        let before = self.times.len();
        let pending = &self.pending;
        self.times
            .retain(|digest, t| t.seen_at >= idle_since || pending.contains(digest));
        if self.times.capacity() > 4 * self.times.len().max(1024) {
            self.times.shrink_to_fit();
        }
        before - self.times.len()
    }

    /// How many entries are remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.times.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::lifecycle::RuleName;

    fn key(namespace: Namespace, rule: &str, episode: &str) -> DedupeKey {
        DedupeKey {
            namespace,
            rule: RuleName::from(rule),
            episode: Arc::from(episode),
        }
    }

    #[test]
    fn a_key_and_its_store_text_have_one_digest_and_namespaces_differ() {
        let mut index = EpisodeIndex::new();
        let live = key(
            Namespace::Live,
            "restart",
            "d284efc389a5bf32@2026-11-21T07:38:36Z",
        );
        let dry = key(Namespace::DryRun, "restart", &live.episode);
        assert!(index.restore(2, &live.to_store_key(), Episode::stored(5, 6)));
        assert_eq!(index.get(index.digest(&live)), Some(Episode::stored(5, 6)));
        assert_eq!(index.get(index.digest(&dry)), None);
        assert!(!index.restore(2, "no separator", Episode::stored(1, 1)));
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn the_rule_and_episode_boundary_is_part_of_the_digest() {
        let index = EpisodeIndex::new();
        let a = key(Namespace::Live, "ab", "c");
        let b = key(Namespace::Live, "a", "bc");
        assert_ne!(index.digest(&a), index.digest(&b));
    }

    #[test]
    fn a_pending_entry_without_a_run_reads_back_as_it_was_set() {
        let mut index = EpisodeIndex::new();
        let d = index.digest(&key(Namespace::Live, "r", "e"));
        let pending = Episode {
            ran_at: None,
            seen_at: 3,
            pending: true,
        };
        index.set(d, pending);
        assert_eq!(index.get(d), Some(pending));
        assert_eq!(index.forget_idle(i64::MAX), 0, "pending entries stay");
        index.set(d, Episode::stored(4, 4));
        assert_eq!(index.get(d), Some(Episode::stored(4, 4)));
        assert_eq!(index.forget_idle(5), 1);
        assert_eq!(index.get(d), None);
    }

    #[test]
    fn forgetting_most_entries_gives_the_table_memory_back() {
        let mut index = EpisodeIndex::new();
        for i in 0..100_000 {
            let d = index.digest(&key(Namespace::Live, "r", &format!("e{i}")));
            index.set(d, Episode::stored(i, i));
        }
        let full = index.times.capacity();
        assert_eq!(index.forget_idle(99_000), 99_000);
        assert!(
            index.times.capacity() * 8 <= full,
            "{} of {full}",
            index.times.capacity()
        );
    }
}
