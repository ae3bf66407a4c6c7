//! Alertmanager's own cases, ported from `timeinterval/timeinterval_test.go` at
//! prometheus/alertmanager 68fb2d5 (v0.34.0 + 20 commits, with the fix for negative days in
//! daylight-saving months, #5447): every case of `timeIntervalTestCases`,
//! `timeStringTestCases`, `yamlUnmarshalTestCases` and `completeTestCases`, each instant of
//! them a row (`TestIntervener_Mutes` is ported beside alertrun's rule schedule, in
//! `server/src/config/schedule.rs`). Upstream builds some intervals as Go structs; here
//! each is written in the YAML a user would write for it. Upstream compares its error
//! strings; these rows check the kind of error and the value it names, in alertrun's words.
//! Then alertrun's own cases: midnight, daylight-saving changes, month ends, leap years,
//! `Local`, case rules, and what Alertmanager accepts that looks odd.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::range::{DayOfMonthRange, Inclusive, MonthRange, TimeRange, WEEKDAYS};
use super::{Location, TimeInterval};

/// An instant in Go's `time.RFC822Z` layout, as upstream writes them: `02 Jan 06 15:04 +0000`.
fn at(text: &str) -> Timestamp {
    jiff::fmt::strtime::parse("%d %b %y %H:%M %z", text)
        .and_then(|t| t.to_timestamp())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn interval(yaml: &str) -> TimeInterval {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

fn intervals(yaml: &str) -> Result<Vec<TimeInterval>, String> {
    serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
}

/// Whether any of `intervals` contains `at`, `Local` being UTC (upstream's test machines).
fn any_contains(intervals: &[TimeInterval], at: Timestamp) -> bool {
    intervals.iter().any(|i| i.contains(at, &TimeZone::UTC))
}

struct Contains {
    name: &'static str,
    yaml: &'static str,
    inside: &'static [&'static str],
    outside: &'static [&'static str],
}

fn check_contains(cases: &[Contains]) {
    for case in cases {
        let ti = interval(case.yaml);
        for t in case.inside {
            assert!(
                ti.contains(at(t), &TimeZone::UTC),
                "{}: {t} should be inside",
                case.name
            );
        }
        for t in case.outside {
            assert!(
                !ti.contains(at(t), &TimeZone::UTC),
                "{}: {t} should be outside",
                case.name
            );
        }
    }
}

/// Upstream `timeIntervalTestCases` (`TestContainsTime`).
#[test]
fn upstream_contains_time_cases() {
    check_contains(&[
        Contains {
            name: "empty interval contains everything",
            yaml: "{}",
            inside: &[
                "02 Jan 06 15:04 +0000",
                "03 Jan 07 10:04 +0000",
                "04 Jan 06 09:04 +0000",
            ],
            outside: &[],
        },
        Contains {
            name: "9am to 5pm, monday to friday",
            yaml: "{times: [{start_time: '09:00', end_time: '17:00'}], weekdays: ['monday:friday']}",
            inside: &[
                "04 May 20 15:04 +0000",
                "05 May 20 10:04 +0000",
                "09 Jun 20 09:04 +0000",
            ],
            outside: &[
                "03 May 20 15:04 +0000",
                "04 May 20 08:59 +0000",
                "05 May 20 05:00 +0000",
            ],
        },
        Contains {
            name: "easter 2020",
            yaml: "{days_of_month: ['4:6'], months: ['4'], years: ['2020']}",
            inside: &[
                "04 Apr 20 15:04 +0000",
                "05 Apr 20 00:00 +0000",
                "06 Apr 20 23:05 +0000",
            ],
            outside: &[
                "03 May 18 15:04 +0000",
                "03 Apr 20 23:59 +0000",
                "04 Jun 20 23:59 +0000",
                "06 Apr 19 23:59 +0000",
                "07 Apr 20 00:00 +0000",
            ],
        },
        Contains {
            name: "negative days of month: the last 3 days of each month",
            yaml: "{days_of_month: ['-3:-1']}",
            inside: &[
                "31 Jan 20 15:04 +0000",
                "30 Jan 20 15:04 +0000",
                "29 Jan 20 15:04 +0000",
                "30 Jun 20 00:00 +0000",
                "29 Feb 20 23:05 +0000",
            ],
            outside: &[
                "03 May 18 15:04 +0000",
                "27 Jan 20 15:04 +0000",
                "03 Apr 20 23:59 +0000",
                "04 Jun 20 23:59 +0000",
                "06 Apr 19 23:59 +0000",
                "07 Apr 20 00:00 +0000",
                "01 Mar 20 00:00 +0000",
            ],
        },
        Contains {
            name: "another time zone: AEST 9am to 5pm, monday to friday",
            yaml: "{times: [{start_time: '09:00', end_time: '17:00'}], weekdays: ['monday:friday'], location: Australia/Sydney}",
            inside: &["06 Apr 21 13:00 +1000"],
            outside: &["06 Apr 21 13:00 +0000"],
        },
        Contains {
            name: "another time zone during daylight saving time",
            yaml: "{times: [{start_time: '09:00', end_time: '17:00'}], weekdays: ['monday:friday'], months: ['11'], location: Australia/Sydney}",
            inside: &["01 Nov 21 09:00 +1100", "31 Oct 21 22:00 +0000"],
            outside: &["31 Oct 21 21:00 +0000"],
        },
        Contains {
            name: "last-day mutes do not shift in spring-forward months",
            yaml: "{days_of_month: ['-1'], location: America/New_York}",
            inside: &["31 Mar 21 12:00 -0400"],
            outside: &["30 Mar 21 12:00 -0400"],
        },
    ]);
}

/// Upstream `timeIntervalTestCases`, the clamping case: upstream builds `-31:31` as a Go
/// struct, which no config can write (a negative start needs a negative end), so it is
/// built the same way here.
#[test]
fn upstream_out_of_bound_days_are_clamped_to_the_month() {
    let ti = TimeInterval {
        months: Some(vec![MonthRange(Inclusive { begin: 6, end: 6 })]),
        days_of_month: Some(vec![DayOfMonthRange(Inclusive {
            begin: -31,
            end: 31,
        })]),
        ..TimeInterval::default()
    };
    for t in ["30 Jun 20 00:00 +0000", "01 Jun 20 00:00 +0000"] {
        assert!(ti.contains(at(t), &TimeZone::UTC), "{t} should be inside");
    }
    // Upstream writes the last one "1 Jul 20 00:00 +0000", which Go's "02" layout does not
    // parse, so upstream tests the zero time there; this is the instant meant.
    for t in ["31 May 20 00:00 +0000", "01 Jul 20 00:00 +0000"] {
        assert!(!ti.contains(at(t), &TimeZone::UTC), "{t} should be outside");
    }
}

/// Upstream `timeStringTestCases` (`TestParseTimeString`): `Ok` holds the minutes.
#[test]
fn upstream_time_range_cases() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&str, &str, Result<(i32, i32), &str>)] = &[
        (
            "whole day",
            "{'start_time': '00:00', 'end_time': '24:00'}",
            Ok((0, 1440)),
        ),
        (
            "minutes",
            "{'start_time': '01:35', 'end_time': '17:39'}",
            Ok((95, 1059)),
        ),
        (
            "short",
            "{'start_time': '09:35', 'end_time': '09:39'}",
            Ok((575, 579)),
        ),
        (
            "start equals end",
            "{'start_time': '17:31', 'end_time': '17:31'}",
            Err("start time must be before"),
        ),
        (
            "end out of range",
            "{'start_time': '12:30', 'end_time': '24:01'}",
            Err("invalid time \"24:01\""),
        ),
        (
            "start after end",
            "{'start_time': '09:30', 'end_time': '07:41'}",
            Err("start time must be before"),
        ),
        (
            "start 24:00, after end",
            "{'start_time': '24:00', 'end_time': '17:41'}",
            Err("start time must be before"),
        ),
        (
            "no end",
            "{'start_time': '14:03'}",
            Err("needs both start_time and end_time"),
        ),
    ];
    for (name, yaml, want) in cases {
        let got = serde_saphyr::from_str::<TimeRange>(yaml);
        match (got, want) {
            (Ok(range), Ok(minutes)) => assert_eq!(range.minutes(), *minutes, "{name}"),
            (Err(e), Err(fragment)) => {
                assert!(e.to_string().contains(fragment), "{name}: {e}")
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

struct Unmarshal {
    name: &'static str,
    yaml: &'static str,
    /// `Ok`: the intervals as alertrun prints them (upstream compares structs);
    /// `Err`: a fragment of the message.
    want: Result<Value, &'static str>,
    inside: &'static [&'static str],
    outside: &'static [&'static str],
}

fn unmarshal_cases() -> Vec<Unmarshal> {
    let business = json!([{
        "times": [{"start_time": "09:00", "end_time": "17:00"}],
        "weekdays": ["monday:friday"],
    }]);
    let err = |name, yaml, fragment| Unmarshal {
        name,
        yaml,
        want: Err(fragment),
        inside: &[],
        outside: &[],
    };
    vec![
        Unmarshal {
            name: "simple business hours",
            yaml: "
- weekdays: ['monday:friday']
  times:
    - start_time: '09:00'
      end_time: '17:00'
",
            want: Ok(business.clone()),
            inside: &["08 Jul 20 09:00 +0000", "08 Jul 20 16:59 +0000"],
            outside: &["08 Jul 20 05:00 +0000", "08 Jul 20 08:59 +0000"],
        },
        Unmarshal {
            name: "negative indices and ranges",
            yaml: "
  # Last week, excluding Saturday, of the first quarter of the year during business hours from 2020 to 2025 and 2030-2035
- weekdays: ['monday:friday', 'sunday']
  months: ['january:march']
  days_of_month: ['-7:-1']
  years: ['2020:2025', '2030:2035']
  times:
    - start_time: '09:00'
      end_time: '17:00'
",
            want: Ok(json!([{
                "times": [{"start_time": "09:00", "end_time": "17:00"}],
                "weekdays": ["monday:friday", "sunday"],
                "days_of_month": ["-7:-1"],
                "months": ["1:3"],
                "years": ["2020:2025", "2030:2035"],
            }])),
            inside: &[
                "27 Jan 21 09:00 +0000",
                "28 Jan 21 16:59 +0000",
                "29 Jan 21 13:00 +0000",
                "31 Mar 25 13:00 +0000",
                "31 Jan 35 13:00 +0000",
            ],
            outside: &[
                "30 Jan 21 13:00 +0000", // Saturday
                "01 Apr 21 13:00 +0000", // 4th month
                "30 Jan 26 13:00 +0000", // 2026
                "31 Jan 35 17:01 +0000", // after 5pm
            ],
        },
        Unmarshal {
            name: "no trailing newline",
            yaml: "
- weekdays: ['monday:friday']
  times:
    - start_time: '09:00'
      end_time: '17:00'",
            want: Ok(business),
            inside: &["01 Apr 21 13:00 +0000"],
            outside: &[],
        },
        err(
            "invalid start time",
            "[{times: [{start_time: '01:99', end_time: '23:59'}]}]",
            "invalid time \"01:99\"",
        ),
        err(
            "invalid end time",
            "[{times: [{start_time: '00:00', end_time: '99:99'}]}]",
            "invalid time \"99:99\"",
        ),
        err(
            "start day before end day",
            "[{weekdays: ['friday:monday']}]",
            "weekday range \"friday:monday\": the end day is before the start day",
        ),
        err(
            "invalid weekdays",
            "[{weekdays: ['blurgsday:flurgsday']}]",
            "\"blurgsday\" is not a valid weekday",
        ),
        err(
            "numeric weekdays are not allowed",
            "[{weekdays: ['1:3']}]",
            "\"1\" is not a valid weekday",
        ),
        err(
            "negative numeric weekdays are not allowed",
            "[{weekdays: ['-2:-1']}]",
            "\"-2\" is not a valid weekday",
        ),
        err(
            "0 day of month",
            "[{days_of_month: ['0']}]",
            "0 is not a valid day of the month: out of range",
        ),
        err(
            "start day of month below -31",
            "[{days_of_month: ['-50:-20']}]",
            "-50 is not a valid day of the month: out of range",
        ),
        err(
            "end day of month above 31",
            "[{days_of_month: ['1:50']}]",
            "50 is not a valid day of the month: out of range",
        ),
        Unmarshal {
            name: "negative end after positive start",
            yaml: "[{days_of_month: ['1:-1']}]",
            want: Ok(json!([{"days_of_month": ["1:-1"]}])),
            inside: &[],
            outside: &[],
        },
        err(
            "end day must be negative if start day is negative",
            "[{days_of_month: ['-15:5']}]",
            "days of month \"-15:5\": the end day must be negative",
        ),
        err(
            "negative end day before positive start day",
            "[{days_of_month: ['10:-25']}]",
            "days of month \"10:-25\": the end day is always before the start day",
        ),
        Unmarshal {
            name: "months regardless of case",
            yaml: "[{months: ['January:december']}]",
            want: Ok(json!([{"months": ["1:12"]}])),
            inside: &[],
            outside: &[],
        },
        Unmarshal {
            name: "time zone by location",
            yaml: "[{years: ['2020:2022'], location: 'Australia/Sydney'}]",
            want: Ok(json!([{"years": ["2020:2022"], "location": "Australia/Sydney"}])),
            inside: &[],
            outside: &[],
        },
        err(
            "invalid start month",
            "[{months: ['martius:june']}]",
            "\"martius\" is not a valid month",
        ),
        err(
            "invalid end month",
            "[{months: ['march:junius']}]",
            "\"junius\" is not a valid month",
        ),
        err(
            "start month after end month",
            "[{months: ['december:january']}]",
            "month range \"december:january\": the end month is before the start month",
        ),
        err(
            "start year after end year",
            "[{years: ['2022:2020']}]",
            "year range \"2022:2020\": the end year is before the start year",
        ),
    ]
}

/// Upstream `yamlUnmarshalTestCases` (`TestYamlUnmarshal`).
#[test]
fn upstream_unmarshal_cases() {
    for case in unmarshal_cases() {
        match (intervals(case.yaml), &case.want) {
            (Ok(got), Ok(printed)) => {
                assert_eq!(
                    &serde_json::to_value(&got).unwrap(),
                    printed,
                    "{}",
                    case.name
                );
                for t in case.inside {
                    assert!(
                        any_contains(&got, at(t)),
                        "{}: {t} should be inside",
                        case.name
                    );
                }
                for t in case.outside {
                    assert!(
                        !any_contains(&got, at(t)),
                        "{}: {t} should be outside",
                        case.name
                    );
                }
            }
            (Err(e), Err(fragment)) => assert!(e.contains(fragment), "{}: {e}", case.name),
            (got, want) => panic!("{}: got {got:?}, want {want:?}", case.name),
        }
    }
}

/// Upstream `TestYamlMarshal` and `TestJsonMarshal`: printing and reading back gives the
/// same intervals.
#[test]
fn upstream_printed_intervals_read_back_equal() {
    for case in unmarshal_cases().into_iter().filter(|c| c.want.is_ok()) {
        let parsed = intervals(case.yaml).unwrap();
        let json = serde_json::to_string(&parsed).unwrap();
        let again: Vec<TimeInterval> = serde_json::from_str(&json).unwrap();
        assert_eq!(again, parsed, "{}: {json}", case.name);
        let yaml = serde_saphyr::to_string(&parsed).unwrap();
        assert_eq!(intervals(&yaml).unwrap(), parsed, "{}: {yaml}", case.name);
    }
}

/// Upstream `completeTestCases` (`TestTimeIntervalComplete`).
#[test]
fn upstream_complete_cases() {
    check_contains(&[
        Contains {
            name: "all fields",
            yaml: "
weekdays: ['monday:wednesday', 'saturday', 'sunday']
times:
  - start_time: '13:00'
    end_time: '15:00'
days_of_month: ['1', '10', '20:-1']
years: ['2020:2023']
months: ['january:march']
",
            inside: &["10 Jan 21 13:00 +0000", "30 Jan 21 14:24 +0000"],
            outside: &[
                "09 Jan 21 13:00 +0000",
                "20 Jan 21 12:59 +0000",
                "02 Feb 21 13:00 +0000",
            ],
        },
        Contains {
            name: "no broken clamping of a start day past the month's end",
            yaml: "{days_of_month: ['30:31'], years: ['2020:2023'], months: ['february']}",
            inside: &[],
            outside: &["28 Feb 21 13:00 +0000"],
        },
    ]);
}

/// alertrun's own cases of Alertmanager's semantics.
#[test]
fn edges_of_days_months_and_zones() {
    check_contains(&[
        Contains {
            // A range cannot wrap past midnight (start must be before end): two ranges do.
            name: "overnight window as two ranges",
            yaml: "{times: [{start_time: '22:00', end_time: '24:00'}, {start_time: '00:00', end_time: '06:00'}]}",
            inside: &[
                "01 Mar 24 22:00 +0000",
                "01 Mar 24 23:59 +0000",
                "02 Mar 24 00:00 +0000",
                "02 Mar 24 05:59 +0000",
            ],
            outside: &["01 Mar 24 21:59 +0000", "02 Mar 24 06:00 +0000"],
        },
        Contains {
            name: "end_time 24:00 reaches the last minute and stops at midnight",
            yaml: "{times: [{start_time: '17:00', end_time: '24:00'}], weekdays: ['friday']}",
            inside: &["01 Mar 24 23:59 +0000"],
            outside: &["02 Mar 24 00:00 +0000", "01 Mar 24 16:59 +0000"],
        },
        Contains {
            // Europe/Berlin skips 02:00-03:00 on 2024-03-31: no instant reads as 02:30.
            name: "spring forward: the skipped hour never matches",
            yaml: "{times: [{start_time: '02:00', end_time: '03:00'}], location: Europe/Berlin}",
            inside: &["30 Mar 24 02:30 +0100", "01 Apr 24 02:30 +0200"],
            outside: &[
                "31 Mar 24 00:59 +0000",
                "31 Mar 24 01:00 +0000",
                "31 Mar 24 01:30 +0000",
            ],
        },
        Contains {
            // Europe/Berlin reads 02:00-03:00 twice on 2024-10-27: both times match.
            name: "fall back: the repeated hour matches twice",
            yaml: "{times: [{start_time: '02:00', end_time: '03:00'}], location: Europe/Berlin}",
            inside: &["27 Oct 24 00:30 +0000", "27 Oct 24 01:30 +0000"],
            outside: &["27 Oct 24 02:00 +0000", "26 Oct 24 23:59 +0000"],
        },
        Contains {
            name: "business hours follow the zone's summer time",
            yaml: "{times: [{start_time: '09:00', end_time: '17:00'}], location: Europe/Berlin}",
            inside: &[
                "15 Jan 24 08:00 +0000",
                "15 Jul 24 07:00 +0000",
                "15 Jul 24 14:59 +0000",
            ],
            outside: &[
                "15 Jan 24 07:59 +0000",
                "15 Jul 24 06:59 +0000",
                "15 Jul 24 15:00 +0000",
            ],
        },
        Contains {
            // 2023-12-31 23:30 UTC is Monday 2024-01-01 00:30 in Berlin.
            name: "a zone's new year: day, month, weekday and year all move",
            yaml: "{days_of_month: ['1'], months: ['january'], weekdays: ['monday'], years: ['2024'], location: Europe/Berlin}",
            inside: &["31 Dec 23 23:30 +0000"],
            outside: &["31 Dec 23 22:59 +0000"],
        },
        Contains {
            name: "last day of february, leap year and not",
            yaml: "{days_of_month: ['-1']}",
            inside: &[
                "29 Feb 24 12:00 +0000",
                "28 Feb 23 12:00 +0000",
                "31 Dec 23 23:59 +0000",
            ],
            outside: &[
                "28 Feb 24 12:00 +0000",
                "27 Feb 23 12:00 +0000",
                "01 Mar 24 00:00 +0000",
            ],
        },
        Contains {
            name: "29 february exists only in leap years",
            yaml: "{days_of_month: ['29'], months: ['february']}",
            inside: &["29 Feb 24 00:00 +0000", "29 Feb 00 00:00 +0000"],
            outside: &[
                "28 Feb 23 23:59 +0000",
                "01 Mar 23 00:00 +0000",
                "01 Mar 24 00:00 +0000",
            ],
        },
        Contains {
            name: "31 is skipped in a 30-day month, not moved to the 30th",
            yaml: "{days_of_month: ['31']}",
            inside: &["31 Jan 24 00:00 +0000"],
            outside: &["30 Apr 24 12:00 +0000", "01 May 24 00:00 +0000"],
        },
        Contains {
            name: "a range past a short month's end stops at its end",
            yaml: "{days_of_month: ['25:31']}",
            inside: &["28 Feb 23 12:00 +0000", "30 Apr 24 12:00 +0000"],
            outside: &["01 Mar 23 00:00 +0000", "24 Feb 23 23:59 +0000"],
        },
        Contains {
            name: "-31 is the first day only in a 31-day month",
            yaml: "{days_of_month: ['-31:-30']}",
            // In a 29-day February, -31:-30 is -1:0: no day at all.
            inside: &[
                "01 Jan 24 00:00 +0000",
                "02 Jan 24 00:00 +0000",
                "01 Apr 24 00:00 +0000",
            ],
            outside: &[
                "03 Jan 24 00:00 +0000",
                "02 Apr 24 00:00 +0000",
                "01 Feb 24 00:00 +0000",
            ],
        },
        Contains {
            name: "names and numbers, any case",
            yaml: "{weekdays: ['SUNDAY', 'Saturday'], months: ['12', 'JANUARY:2']}",
            inside: &["08 Jan 00 00:00 +0000"],
            outside: &[],
        },
        Contains {
            name: "a month number Alertmanager accepts outside 1-12 matches no month",
            yaml: "{months: ['13']}",
            inside: &[],
            outside: &["31 Dec 24 00:00 +0000", "01 Jan 24 00:00 +0000"],
        },
        Contains {
            name: "a month range reaching past 1-12 matches every month in it",
            yaml: "{months: ['0:13']}",
            inside: &["31 Dec 24 00:00 +0000", "01 Jan 24 00:00 +0000"],
            outside: &[],
        },
        Contains {
            name: "an empty list admits nothing, as in Alertmanager",
            yaml: "{weekdays: []}",
            inside: &[],
            outside: &["01 Jan 24 00:00 +0000", "06 Jan 24 12:00 +0000"],
        },
        Contains {
            name: "a null field admits everything",
            yaml: "{weekdays: null, times: ~, location: ~}",
            inside: &["01 Jan 24 00:00 +0000"],
            outside: &[],
        },
        Contains {
            name: "unquoted numbers read as their text",
            yaml: "{days_of_month: [1, -1], years: [2024], months: [2]}",
            inside: &["01 Feb 24 00:00 +0000", "29 Feb 24 23:59 +0000"],
            outside: &["02 Feb 24 00:00 +0000", "01 Feb 23 00:00 +0000"],
        },
        Contains {
            name: "UTC and the empty location are UTC",
            yaml: "{times: [{start_time: '00:00', end_time: '01:00'}], location: ''}",
            inside: &["01 Jan 24 00:30 +0000"],
            outside: &["01 Jan 24 00:30 -0100"],
        },
    ]);
}

#[test]
fn local_is_the_zone_the_caller_passes() {
    let ti = interval("{times: [{start_time: '09:00', end_time: '17:00'}], location: Local}");
    let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
    let t = at("15 Jan 24 01:00 +0000"); // 10:00 in Tokyo
    assert!(ti.contains(t, &tokyo));
    assert!(!ti.contains(t, &TimeZone::UTC));
    assert_eq!(ti.location(), Some(&Location::Local));
}

#[test]
fn locations_resolve_as_go_load_location() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("UTC", Ok("UTC")),
        ("", Ok("UTC")),
        ("Local", Ok("Local")),
        ("Europe/Berlin", Ok("Europe/Berlin")),
        ("Etc/UTC", Ok("Etc/UTC")),
        (
            "America/Argentina/Buenos_Aires",
            Ok("America/Argentina/Buenos_Aires"),
        ),
        ("europe/berlin", Err("unknown time zone \"europe/berlin\"")),
        ("utc", Err("unknown time zone \"utc\"")),
        ("local", Err("unknown time zone \"local\"")),
        (
            "Mars/Olympus_Mons",
            Err("unknown time zone \"Mars/Olympus_Mons\""),
        ),
        ("Etc/Unknown", Err("unknown time zone")),
        (
            "../etc/passwd",
            Err("invalid location name \"../etc/passwd\""),
        ),
        ("/etc/localtime", Err("invalid location name")),
        ("\\x", Err("invalid location name")),
    ];
    for (name, want) in cases {
        match (Location::from_name(name), want) {
            (Ok(loc), Ok(shown)) => assert_eq!(loc.name(), *shown, "{name:?}"),
            (Err(e), Err(fragment)) => assert!(e.to_string().contains(fragment), "{name:?}: {e}"),
            (got, want) => panic!("{name:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn refusals_name_the_value() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown field",
            "{weekday: ['monday']}",
            "unknown field `weekday`",
        ),
        (
            "unknown time field",
            "{times: [{start_time: '09:00', end_time: '10:00', tz: x}]}",
            "unknown field `tz`",
        ),
        (
            "two colons",
            "{weekdays: ['monday:tuesday:friday']}",
            "invalid range \"monday:tuesday:friday\"",
        ),
        (
            "a space is not trimmed",
            "{weekdays: ['monday: friday']}",
            "\" friday\" is not a valid weekday",
        ),
        (
            "one-digit hour",
            "{times: [{start_time: '9:00', end_time: '17:00'}]}",
            "invalid time \"9:00\"",
        ),
        (
            "seconds",
            "{times: [{start_time: '09:00:00', end_time: '17:00'}]}",
            "invalid time \"09:00:00\"",
        ),
        (
            "empty start",
            "{times: [{start_time: '', end_time: '17:00'}]}",
            "needs both start_time and end_time",
        ),
        (
            "wrapping midnight",
            "{times: [{start_time: '22:00', end_time: '06:00'}]}",
            "time range 22:00-06:00",
        ),
        (
            "day text",
            "{days_of_month: ['first']}",
            "\"first\" is not a valid day of the month: not an integer",
        ),
        (
            "year text",
            "{years: ['2020:now']}",
            "\"now\" is not a valid year: not an integer",
        ),
        (
            "year overflow",
            "{years: ['99999999999999999999']}",
            "is not a valid year",
        ),
        (
            "a float is no text",
            "{years: [2020.5]}",
            "expected a string",
        ),
        (
            "28:-1 is refused, as Alertmanager checks in a 28-day month with -1 as 27",
            "{days_of_month: ['28:-1']}",
            "always before the start day",
        ),
        (
            "case-sensitive zone",
            "{location: europe/berlin}",
            "unknown time zone \"europe/berlin\"",
        ),
        (
            "saturday to sunday wraps",
            "{weekdays: ['saturday:sunday']}",
            "the end day is before the start day",
        ),
    ];
    for (name, yaml, fragment) in cases {
        match serde_saphyr::from_str::<TimeInterval>(yaml) {
            Ok(got) => panic!("{name}: accepted as {got:?}"),
            Err(e) => assert!(e.to_string().contains(fragment), "{name}: {e}"),
        }
    }
}

#[test]
fn accepts_what_alertmanager_accepts() {
    let cases: &[(&str, &str, Value)] = &[
        (
            "go's lowercasing: dotted capital I",
            "{weekdays: ['FRİDAY']}",
            json!({"weekdays": ["friday"]}),
        ),
        (
            "a signed integer",
            "{days_of_month: ['+5:-1'], years: ['-1:+3']}",
            json!({"days_of_month": ["5:-1"], "years": ["-1:3"]}),
        ),
        (
            "one-value ranges print as one value",
            "{weekdays: ['monday:monday'], months: ['may:5']}",
            json!({"weekdays": ["monday"], "months": ["5"]}),
        ),
        (
            "27:-1 passes the 28-day check",
            "{days_of_month: ['27:-1']}",
            json!({"days_of_month": ["27:-1"]}),
        ),
        (
            "24:00 as the end",
            "{times: [{start_time: '23:59', end_time: '24:00'}]}",
            json!({"times": [{"start_time": "23:59", "end_time": "24:00"}]}),
        ),
        (
            "unquoted time",
            "{times: [{start_time: 09:00, end_time: 17:30}]}",
            json!({"times": [{"start_time": "09:00", "end_time": "17:30"}]}),
        ),
    ];
    for (name, yaml, printed) in cases {
        let got: TimeInterval =
            serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&serde_json::to_value(&got).unwrap(), printed, "{name}");
    }
}

const ZONES: [&str; 6] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Chatham",
];

fn arb_interval() -> impl Strategy<Value = TimeInterval> {
    let weekday = (0usize..7, 0usize..7)
        .prop_map(|(a, b)| format!("{}:{}", WEEKDAYS[a.min(b)], WEEKDAYS[a.max(b)]));
    let day = prop_oneof![
        (1i64..=31, 0i64..31).prop_map(|(a, n)| format!("{a}:{}", (a + n).min(31))),
        (-31i64..=-1, 0i64..31).prop_map(|(a, n)| format!("{a}:{}", (a + n).min(-1))),
        // A positive start with a negative end passes Alertmanager's check when a ≤ 28 - b.
        (1i64..=27)
            .prop_flat_map(|a| (Just(a), 1..=(28 - a)))
            .prop_map(|(a, b)| format!("{a}:-{b}")),
    ];
    let time = (0i32..1440, 1i32..=1440).prop_map(|(a, n)| {
        let end = (a + n).min(1440);
        let hhmm = |m: i32| format!("{:02}:{:02}", m / 60, m % 60);
        json!({"start_time": hhmm(a), "end_time": hhmm(end)})
    });
    (
        proptest::option::of(proptest::collection::vec(time, 0..3)),
        proptest::option::of(proptest::collection::vec(weekday, 0..3)),
        proptest::option::of(proptest::collection::vec(day, 0..3)),
        proptest::option::of(proptest::collection::vec((1i64..=12, 0i64..12), 0..3)),
        proptest::option::of(proptest::sample::select(ZONES.to_vec())),
    )
        .prop_filter_map("valid interval", |(times, weekdays, days, months, zone)| {
            let months = months.map(|m| {
                m.into_iter()
                    .map(|(a, n)| format!("{a}:{}", (a + n).min(12)))
                    .collect::<Vec<_>>()
            });
            let text = json!({
                "times": times, "weekdays": weekdays, "days_of_month": days,
                "months": months, "location": zone,
            });
            serde_json::from_value(text).ok()
        })
}

proptest! {
    /// Printing an interval and reading it back gives an equal interval, which contains
    /// the same instants.
    #[test]
    fn printed_interval_reads_back_equal(ti in arb_interval(), secs in 0i64..4_102_444_800) {
        let again: TimeInterval = serde_json::from_str(&serde_json::to_string(&ti).unwrap()).unwrap();
        prop_assert_eq!(&again, &ti);
        let t = Timestamp::from_second(secs).unwrap();
        prop_assert_eq!(again.contains(t, &TimeZone::UTC), ti.contains(t, &TimeZone::UTC));
    }

    /// `-1` is the last day of the month in every zone, daylight-saving months included
    /// (Alertmanager #5447), and `1:-1` is every day.
    #[test]
    fn minus_one_is_the_zones_last_day(secs in 0i64..4_102_444_800, zone in proptest::sample::select(ZONES.to_vec())) {
        let t = Timestamp::from_second(secs).unwrap();
        let tz = TimeZone::get(zone).unwrap();
        let civil = tz.to_datetime(t);
        let last: TimeInterval = serde_json::from_value(json!({"days_of_month": ["-1"], "location": zone})).unwrap();
        prop_assert_eq!(last.contains(t, &TimeZone::UTC), civil.day() == civil.days_in_month());
        let all: TimeInterval = serde_json::from_value(json!({"days_of_month": ["1:-1"], "location": zone})).unwrap();
        prop_assert!(all.contains(t, &TimeZone::UTC));
    }

    /// A time range holds exactly on the wall-clock minutes from its start up to, not
    /// including, its end.
    #[test]
    fn time_range_is_start_inclusive_end_exclusive(secs in 0i64..4_102_444_800, start in 0i32..1440, len in 1i32..=1440) {
        let end = (start + len).min(1440);
        let hhmm = |m: i32| format!("{:02}:{:02}", m / 60, m % 60);
        let ti: TimeInterval = serde_json::from_value(json!({
            "times": [{"start_time": hhmm(start), "end_time": hhmm(end)}],
            "location": "Europe/Berlin",
        })).unwrap();
        let t = Timestamp::from_second(secs).unwrap();
        let civil = TimeZone::get("Europe/Berlin").unwrap().to_datetime(t);
        let minute = i32::from(civil.hour()) * 60 + i32::from(civil.minute());
        prop_assert_eq!(ti.contains(t, &TimeZone::UTC), start <= minute && minute < end);
    }
}
