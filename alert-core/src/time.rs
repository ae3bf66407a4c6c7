//! Timestamps as Alertmanager writes them: RFC 3339, any offset, up to nanoseconds.

use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time from a webhook payload, with the offset it was written in.
///
/// Alertmanager keeps the offset a client sent (`+02:00` stays `+02:00`), so the offset is
/// kept here too; comparisons and [`Timestamp::to_utc_string`] use the instant.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<FixedOffset>);

impl Timestamp {
    /// Parses an RFC 3339 timestamp (`2026-11-21T09:38:36.123456789+02:00`).
    ///
    /// # Errors
    /// Returns a message naming the problem when `s` is not RFC 3339.
    pub fn parse(s: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(s)
            .map(Self)
            .map_err(|e| format!("invalid RFC 3339 timestamp {s:?}: {e}"))
    }

    /// Builds a timestamp from Unix seconds and nanoseconds, in UTC.
    pub fn from_unix(secs: i64, nanos: u32) -> Option<Self> {
        DateTime::<Utc>::from_timestamp(secs, nanos).map(|t| Self(t.fixed_offset()))
    }

    /// True for Go's zero time, `0001-01-01T00:00:00Z`, which Alertmanager uses for "unset".
    pub fn is_zero(&self) -> bool {
        *self == zero()
    }

    /// Whole seconds since the Unix epoch (negative before 1970).
    pub fn unix_seconds(&self) -> i64 {
        self.0.timestamp()
    }

    /// Milliseconds since the Unix epoch (negative before 1970).
    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The instant in UTC, RFC 3339 with all nine fraction digits: a stable key that does not
    /// depend on the offset or the precision the sender chose.
    pub fn to_utc_string(&self) -> String {
        self.0
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Nanos, true)
    }
}

fn zero() -> Timestamp {
    // 0001-01-01T00:00:00Z is 62135596800 seconds before the Unix epoch.
    Timestamp::from_unix(-62_135_596_800, 0).expect("year 1 is within chrono's range")
}

/// Writes the timestamp as Go's `RFC3339Nano`: trailing zeros of the fraction dropped, the
/// offset kept, `Z` for UTC.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // With `use_z`, chrono writes `Z` for a zero offset, as Go's `Z07:00` layout does.
        let full = self.0.to_rfc3339_opts(SecondsFormat::Nanos, true);
        // `full` is `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn<offset>`; Go's `.999999999` trims zeros.
        match full.split_once('.') {
            Some((head, rest)) => {
                let offset_at = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                let (digits, offset) = rest.split_at(offset_at);
                let digits = digits.trim_end_matches('0');
                if digits.is_empty() {
                    write!(f, "{head}{offset}")
                } else {
                    write!(f, "{head}.{digits}{offset}")
                }
            }
            None => f.write_str(&full),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde helpers for `Option<Timestamp>` where the zero time means `None`.
pub(crate) mod zero_is_none {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        let t = Option::<Timestamp>::deserialize(d)?;
        Ok(t.filter(|t| !t.is_zero()))
    }

    pub(crate) fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(t),
            None => s.serialize_str("0001-01-01T00:00:00Z"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_offset_and_trims_fraction_like_go() {
        for (input, shown) in [
            (
                "2026-11-21T09:38:36.123456789Z",
                "2026-11-21T09:38:36.123456789Z",
            ),
            ("2026-11-21T09:39:03.000Z", "2026-11-21T09:39:03Z"),
            ("2026-11-21T09:39:03.120Z", "2026-11-21T09:39:03.12Z"),
            ("2024-05-01T12:00:00+02:00", "2024-05-01T12:00:00+02:00"),
            (
                "2021-10-12T09:51:03.157076+02:00",
                "2021-10-12T09:51:03.157076+02:00",
            ),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ] {
            let t = Timestamp::parse(input).unwrap();
            assert_eq!(t.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn zero_time_is_recognised() {
        assert!(Timestamp::parse("0001-01-01T00:00:00Z").unwrap().is_zero());
        assert!(!Timestamp::parse("1970-01-01T00:00:00Z").unwrap().is_zero());
    }

    #[test]
    fn utc_string_is_offset_independent() {
        let a = Timestamp::parse("2024-05-01T12:00:00+02:00").unwrap();
        let b = Timestamp::parse("2024-05-01T10:00:00.000Z").unwrap();
        assert_eq!(a.to_utc_string(), b.to_utc_string());
        assert_eq!(a.to_utc_string(), "2024-05-01T10:00:00.000000000Z");
        assert_eq!(a.unix_seconds(), 1_714_557_600);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = Timestamp::parse("not-a-date").unwrap_err();
        assert!(
            e.contains("invalid RFC 3339 timestamp \"not-a-date\""),
            "{e}"
        );
    }
}
