//! Alertmanager's fingerprint of a label set, and an alert's episode.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{LabelSet, Timestamp};

const FNV_OFFSET: u64 = 14_695_981_039_346_656_037;
const FNV_PRIME: u64 = 1_099_511_628_211;
const SEPARATOR: u8 = 0xff;

/// The 64-bit fingerprint Alertmanager gives an alert: FNV-1a over the label names and
/// values, sorted by name, each followed by a `0xff` byte (`prometheus/common`
/// `model.LabelsToSignature`). Shown as 16 lowercase hex digits.
///
/// Only labels count, not annotations. The same label set has the same fingerprint in
/// every firing episode.
///
/// ```
/// use alert_core::{Fingerprint, LabelSet};
/// let labels = LabelSet::from([("alertname".to_string(), "T".to_string())]);
/// assert_eq!(Fingerprint::of(&labels).to_string(), "d284efc389a5bf32");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// Computes the fingerprint of a label set. `LabelSet` is ordered by name, which is the
    /// byte-wise order Alertmanager sorts by.
    pub fn of(labels: &LabelSet) -> Self {
        let mut hash = FNV_OFFSET;
        for (name, value) in labels {
            for byte in name
                .bytes()
                .chain([SEPARATOR])
                .chain(value.bytes())
                .chain([SEPARATOR])
            {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(FNV_PRIME);
            }
        }
        Self(hash)
    }

    /// The raw 64-bit value.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl From<u64> for Fingerprint {
    fn from(v: u64) -> Self {
        Self(v)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = String;

    /// Parses 16 hex digits, as Alertmanager writes them.
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("invalid fingerprint {s:?}: want 16 hex digits"));
        }
        u64::from_str_radix(s, 16)
            .map(Self)
            .map_err(|e| format!("invalid fingerprint {s:?}: {e}"))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One firing episode of an alert: its fingerprint and when it started.
///
/// Repeat notifications, group updates and duplicate deliveries from an HA pair all carry
/// the same episode; a new firing of the same label set has a new `startsAt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Episode {
    /// The alert's fingerprint.
    pub fingerprint: Fingerprint,
    /// When the episode started.
    pub starts_at: Timestamp,
}

impl Episode {
    /// A stable text key: `<fingerprint>@<startsAt in UTC with nanoseconds>`. Two deliveries
    /// of the same episode have the same key whatever offset or precision they used.
    pub fn key(&self) -> String {
        format!("{}@{}", self.fingerprint, self.starts_at.to_utc_string())
    }
}

impl fmt::Display for Episode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::testing::labels;

    #[test]
    fn matches_alertmanager_vectors() {
        // Observed from Alertmanager 0.25 (ALERTMANAGER.md §1.5).
        for (set, want) in [
            (labels(&[("alertname", "T")]), "d284efc389a5bf32"),
            (
                labels(&[("alertname", "X"), ("target", "e500")]),
                "5dcd8a068388f7fb",
            ),
            (
                labels(&[
                    ("alertname", "DiskFull"),
                    ("instance", "node-1:9100"),
                    ("severity", "critical"),
                    ("target", "ok"),
                ]),
                "3e4946df4bd018d4",
            ),
            (labels(&[]), "cbf29ce484222325"),
        ] {
            assert_eq!(Fingerprint::of(&set).to_string(), want, "{set:?}");
        }
    }

    #[test]
    fn parse_rejects_bad_text() {
        assert!("d284efc389a5bf3".parse::<Fingerprint>().is_err());
        assert!("d284efc389a5bf3g".parse::<Fingerprint>().is_err());
        assert!("+284efc389a5bf32".parse::<Fingerprint>().is_err());
        assert_eq!(
            "D284EFC389A5BF32"
                .parse::<Fingerprint>()
                .unwrap()
                .to_string(),
            "d284efc389a5bf32"
        );
    }

    #[test]
    fn episode_key_ignores_offset_and_precision() {
        let fp = Fingerprint::from(1);
        let a = Episode {
            fingerprint: fp,
            starts_at: Timestamp::parse("2024-05-01T12:00:00+02:00").unwrap(),
        };
        let b = Episode {
            fingerprint: fp,
            starts_at: Timestamp::parse("2024-05-01T10:00:00.000Z").unwrap(),
        };
        assert_eq!(a.key(), b.key());
        assert_eq!(a.key(), "0000000000000001@2024-05-01T10:00:00.000000000Z");
    }

    proptest! {
        #[test]
        fn fingerprint_ignores_label_order_in_json(set in proptest::collection::btree_map(".{0,8}", ".{0,8}", 0..8)) {
            // Write the JSON object in reverse order; the fingerprint must not change.
            let reversed: Vec<String> = set
                .iter()
                .rev()
                .map(|(k, v)| format!("{}:{}", serde_json::json!(k), serde_json::json!(v)))
                .collect();
            let parsed: LabelSet = serde_json::from_str(&format!("{{{}}}", reversed.join(","))).unwrap();
            prop_assert_eq!(Fingerprint::of(&parsed), Fingerprint::of(&set));
        }

        #[test]
        fn display_parse_round_trips(v in any::<u64>()) {
            let fp = Fingerprint::from(v);
            prop_assert_eq!(fp.to_string().parse::<Fingerprint>().unwrap(), fp);
        }
    }
}
