//! The fields of a time interval, each read and checked as Alertmanager reads and checks it
//! (`stringableRangeFromString` and the `UnmarshalYAML` methods of `timeinterval.go`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Why a time interval's field was refused; each message names the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeIntervalError {
    /// More than one `:` in a range.
    #[error("invalid range {0:?}: write one value or start:end")]
    RangeFormat(String),
    /// Not a weekday's name (Alertmanager takes no numbers for weekdays).
    #[error("{0:?} is not a valid weekday: write its name, such as monday")]
    Weekday(String),
    /// A weekday range that runs backwards (the week is Sunday to Saturday).
    #[error(
        "weekday range {0:?}: the end day is before the start day (the week runs sunday to saturday; list wrapping days apart)"
    )]
    WeekdayOrder(String),
    /// Neither a month's name nor an integer.
    #[error("{0:?} is not a valid month: write its name (january) or number (1)")]
    Month(String),
    /// A month range that runs backwards.
    #[error("month range {0:?}: the end month is before the start month")]
    MonthOrder(String),
    /// Not an integer where one is needed.
    #[error("{value:?} is not a valid {field}: not an integer")]
    Integer {
        /// `day of the month` or `year`.
        field: &'static str,
        /// The text given.
        value: String,
    },
    /// A day of the month outside 1..=31 and -31..=-1.
    #[error(
        "{0} is not a valid day of the month: out of range (1 to 31, or -31 to -1 from the month's end)"
    )]
    DayOutOfRange(i64),
    /// A range from a day counted from the end to a day counted from the start.
    #[error("days of month {0:?}: the end day must be negative if the start day is negative")]
    DayNegativeStart(String),
    /// A day range that is backwards in every month (checked as in a 28-day month).
    #[error("days of month {0:?}: the end day is always before the start day")]
    DayOrder(String),
    /// A year range that runs backwards.
    #[error("year range {0:?}: the end year is before the start year")]
    YearOrder(String),
    /// Not `HH:MM` from `00:00` to `23:59`, nor `24:00`.
    #[error("invalid time {0:?}: write HH:MM from 00:00 to 24:00")]
    Time(String),
    /// A time range without `start_time` or `end_time`.
    #[error("a time range needs both start_time and end_time")]
    TimeMissing,
    /// A time range whose start is not before its end.
    #[error("time range {start}-{end}: the start time must be before the end time")]
    TimeOrder {
        /// `start_time` as given.
        start: String,
        /// `end_time` as given.
        end: String,
    },
    /// A location name Go refuses to look up.
    #[error("invalid location name {0:?}")]
    LocationName(String),
    /// A location that is not in the IANA time zone database.
    #[error(
        "unknown time zone {0:?}: write an IANA name such as Europe/Berlin (case matters), UTC or Local"
    )]
    UnknownZone(String),
}

/// Minutes of the day `[start, end)`, `0..1440`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TimeRange {
    start: i32,
    end: i32,
}

impl TimeRange {
    /// Start and end minute, for tests.
    #[cfg(test)]
    pub(super) fn minutes(&self) -> (i32, i32) {
        (self.start, self.end)
    }

    pub(super) fn contains(&self, minute: i32) -> bool {
        self.start <= minute && minute < self.end
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawTimeRange {
    #[serde(default)]
    start_time: Option<Text>,
    #[serde(default)]
    end_time: Option<Text>,
}

impl TryFrom<RawTimeRange> for TimeRange {
    type Error = TimeIntervalError;

    fn try_from(raw: RawTimeRange) -> Result<Self, Self::Error> {
        let (Some(Text(start)), Some(Text(end))) = (raw.start_time, raw.end_time) else {
            return Err(TimeIntervalError::TimeMissing);
        };
        // Alertmanager reads an empty string as a missing one.
        if start.is_empty() || end.is_empty() {
            return Err(TimeIntervalError::TimeMissing);
        }
        let (from, to) = (minute_of_day(&start)?, minute_of_day(&end)?);
        if from >= to {
            return Err(TimeIntervalError::TimeOrder { start, end });
        }
        Ok(Self {
            start: from,
            end: to,
        })
    }
}

/// `HH:MM` (hours `00`-`23`, minutes `00`-`59`) or `24:00`, as minutes since midnight.
fn minute_of_day(text: &str) -> Result<i32, TimeIntervalError> {
    let bad = || TimeIntervalError::Time(text.to_owned());
    if text == "24:00" {
        return Ok(24 * 60);
    }
    let &[h1, h2, b':', m1, m2] = text.as_bytes() else {
        return Err(bad());
    };
    let digit = |b: u8| i32::from(b - b'0');
    let hour_ok = matches!((h1, h2), (b'0' | b'1', b'0'..=b'9') | (b'2', b'0'..=b'3'));
    if !hour_ok || !matches!(m1, b'0'..=b'5') || !m2.is_ascii_digit() {
        return Err(bad());
    }
    Ok((digit(h1) * 10 + digit(h2)) * 60 + digit(m1) * 10 + digit(m2))
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawTimeRange::deserialize(deserializer)
            .and_then(|raw| Self::try_from(raw).map_err(de::Error::custom))
    }
}

impl Serialize for TimeRange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hhmm = |m: i32| Text(format!("{:02}:{:02}", m / 60, m % 60));
        RawTimeRange {
            start_time: Some(hhmm(self.start)),
            end_time: Some(hhmm(self.end)),
        }
        .serialize(serializer)
    }
}

/// An inclusive range of weekdays, 0 (Sunday) to 6 (Saturday).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct WeekdayRange(Inclusive);

/// An inclusive range of days of the month; a negative day counts from the month's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DayOfMonthRange(pub(super) Inclusive);

/// An inclusive range of months, 1 (January) to 12, as numbers Alertmanager accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct MonthRange(pub(super) Inclusive);

/// An inclusive range of years.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct YearRange(Inclusive);

/// Both ends included; built unchecked only by the tests, as Alertmanager's build some.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Inclusive {
    pub(super) begin: i64,
    pub(super) end: i64,
}

impl Inclusive {
    fn contains(self, n: i64) -> bool {
        self.begin <= n && n <= self.end
    }
}

pub(super) const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

impl WeekdayRange {
    pub(super) fn contains(&self, weekday: i64) -> bool {
        self.0.contains(weekday)
    }

    fn parse(text: &str) -> Result<Self, TimeIntervalError> {
        let name = |s: &str| match WEEKDAYS.iter().position(|d| *d == s) {
            Some(i) => Ok(i as i64),
            None => Err(TimeIntervalError::Weekday(s.to_owned())),
        };
        Inclusive::parse_ordered(text, name, TimeIntervalError::WeekdayOrder).map(Self)
    }
}

impl DayOfMonthRange {
    /// Alertmanager's `ContainsTime` for days of the month, clamping included.
    pub(super) fn contains(&self, day: i64, days_in_month: i64) -> bool {
        let resolve = |d: i64| if d < 0 { days_in_month + d + 1 } else { d };
        let (begin, end) = (resolve(self.0.begin), resolve(self.0.end));
        if begin > days_in_month {
            return false;
        }
        let clamp = |d: i64| d.clamp(-days_in_month, days_in_month);
        clamp(begin) <= day && day <= clamp(end)
    }

    fn parse(text: &str) -> Result<Self, TimeIntervalError> {
        let range = Inclusive::parse(text, |s| integer(s, "day of the month"))?;
        for day in [range.begin, range.end] {
            if day == 0 || !(-31..=31).contains(&day) {
                return Err(TimeIntervalError::DayOutOfRange(day));
            }
        }
        if range.begin < 0 && range.end > 0 {
            return Err(TimeIntervalError::DayNegativeStart(text.to_owned()));
        }
        // As Alertmanager checks it: in a 28-day month, with -1 taken as day 27.
        let in_short_month = |d: i64| if d < 0 { 28 + d } else { d };
        if in_short_month(range.begin) > in_short_month(range.end) {
            return Err(TimeIntervalError::DayOrder(text.to_owned()));
        }
        Ok(Self(range))
    }
}

impl MonthRange {
    pub(super) fn contains(&self, month: i64) -> bool {
        self.0.contains(month)
    }

    fn parse(text: &str) -> Result<Self, TimeIntervalError> {
        let month = |s: &str| match MONTHS.iter().position(|m| *m == s) {
            Some(i) => Ok(i as i64 + 1),
            None => s
                .parse::<i64>()
                .map_err(|_| TimeIntervalError::Month(s.to_owned())),
        };
        Inclusive::parse_ordered(text, month, TimeIntervalError::MonthOrder).map(Self)
    }
}

impl YearRange {
    pub(super) fn contains(&self, year: i64) -> bool {
        self.0.contains(year)
    }

    fn parse(text: &str) -> Result<Self, TimeIntervalError> {
        let year = |s: &str| integer(s, "year");
        Inclusive::parse_ordered(text, year, TimeIntervalError::YearOrder).map(Self)
    }
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits that fit 64 bits.
fn integer(text: &str, field: &'static str) -> Result<i64, TimeIntervalError> {
    text.parse().map_err(|_| TimeIntervalError::Integer {
        field,
        value: text.to_owned(),
    })
}

impl Inclusive {
    /// `value` or `start:end`, lowercased first (Go's `strings.ToLower`), each end read by
    /// `member`.
    fn parse(
        text: &str,
        member: impl Fn(&str) -> Result<i64, TimeIntervalError>,
    ) -> Result<Self, TimeIntervalError> {
        let lower = go_lowercase(text);
        let mut parts = lower.split(':');
        let (first, second, rest) = (parts.next(), parts.next(), parts.next());
        match (first, second, rest) {
            (Some(one), None, _) => {
                let n = member(one)?;
                Ok(Self { begin: n, end: n })
            }
            (Some(begin), Some(end), None) => Ok(Self {
                begin: member(begin)?,
                end: member(end)?,
            }),
            _ => Err(TimeIntervalError::RangeFormat(text.to_owned())),
        }
    }

    /// [`Self::parse`], then Alertmanager's one check of weekdays, months and years: the
    /// start is not after the end.
    fn parse_ordered(
        text: &str,
        member: impl Fn(&str) -> Result<i64, TimeIntervalError>,
        backwards: fn(String) -> TimeIntervalError,
    ) -> Result<Self, TimeIntervalError> {
        let range = Self::parse(text, member)?;
        if range.begin > range.end {
            return Err(backwards(text.to_owned()));
        }
        Ok(range)
    }

    fn print(self, name: impl Fn(i64) -> String) -> String {
        if self.begin == self.end {
            name(self.begin)
        } else {
            format!("{}:{}", name(self.begin), name(self.end))
        }
    }
}

/// Go's `strings.ToLower`: each character's simple lowercase mapping. Rust's full mapping
/// differs for one character only: `İ` (U+0130) becomes `i` in Go, `i̇` in Rust.
fn go_lowercase(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            c => c.to_lowercase().next().unwrap_or(c),
        })
        .collect()
}

/// A scalar as Alertmanager's YAML reader hands it to a string field: a string, or the text
/// of a number (`years: [2024]` is `"2024"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// Deserialize and Serialize for a range read from a [`Text`] by `$parse` and printed with
/// `$name` for each end.
macro_rules! text_range {
    ($ty:ident, $name:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let Text(text) = Text::deserialize(deserializer)?;
                Self::parse(&text).map_err(de::Error::custom)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0.print($name))
            }
        }
    };
}

text_range!(WeekdayRange, |n: i64| {
    let name = usize::try_from(n).ok().and_then(|i| WEEKDAYS.get(i));
    name.map_or_else(|| n.to_string(), |d| (*d).to_owned())
});
text_range!(DayOfMonthRange, |n: i64| n.to_string());
text_range!(MonthRange, |n: i64| n.to_string());
text_range!(YearRange, |n: i64| n.to_string());
