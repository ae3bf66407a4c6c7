use std::time::SystemTime;

use jiff::civil::date;
use jiff::tz::TimeZone;

use crate::config::{Config, ConfigError};

use super::{Muted, Schedule};

/// A config with the given `time_intervals` and one rule with the given extra keys.
fn config(time_intervals: &str, rule_keys: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(&format!(
        "time_intervals:\n{time_intervals}\nrules:\n  - name: fix\n    action: {{process: {{command: [\"true\"]}}}}\n{rule_keys}"
    ))
}

const EVENINGS_AND_WEEKENDS: &str = "
  - name: evenings
    time_intervals:
      - times: [{start_time: '00:00', end_time: '09:00'}, {start_time: '17:00', end_time: '24:00'}]
        location: Australia/Sydney
  - name: weekends
    time_intervals:
      - weekdays: [saturday, sunday]
        location: Australia/Sydney
";

fn schedule(rule_keys: &str) -> Schedule {
    let config = config(EVENINGS_AND_WEEKENDS, rule_keys).unwrap();
    config.policy(0).schedule.clone()
}

/// An instant given as wall-clock time in `zone`.
fn wall(zone: &str, y: i16, mo: i8, d: i8, h: i8) -> SystemTime {
    let tz = TimeZone::get(zone).unwrap();
    let ts = date(y, mo, d)
        .at(h, 0, 0, 0)
        .to_zoned(tz)
        .unwrap()
        .timestamp();
    SystemTime::from(ts)
}

/// Upstream `TestIntervener_Mutes` (timeinterval/timeinterval_test.go at
/// prometheus/alertmanager 68fb2d5): a rule muted by `evenings` and `weekends` in Sydney.
#[test]
fn upstream_intervener_mutes_cases() {
    let s = schedule("    mute_time_intervals: [evenings, weekends]");
    let muted_by = |names: &[&str]| {
        (!names.is_empty())
            .then(|| Muted::InMuteInterval(names.iter().map(|n| n.to_string()).collect()))
    };
    let cases: &[(&str, SystemTime, &[&str])] = &[
        (
            "muted outside working hours",
            wall("Australia/Sydney", 2024, 1, 1, 0),
            &["evenings"],
        ),
        (
            "not muted during working hours",
            wall("Australia/Sydney", 2024, 1, 1, 9),
            &[],
        ),
        (
            "muted during weekends",
            wall("Australia/Sydney", 2024, 1, 6, 10),
            &["weekends"],
        ),
        (
            "muted during weekend evenings",
            wall("Australia/Sydney", 2024, 1, 6, 17),
            &["evenings", "weekends"],
        ),
        (
            "muted at 10:00 UTC on a weekday",
            wall("UTC", 2024, 1, 1, 10),
            &["evenings"],
        ),
        (
            "muted at 10:00 UTC on a weekend",
            wall("UTC", 2024, 1, 6, 10),
            &["evenings", "weekends"],
        ),
    ];
    for (name, now, want) in cases {
        assert_eq!(s.is_muted(*now), muted_by(want), "{name}");
    }
}

#[test]
fn active_intervals_mute_outside_all_of_them_as_alertmanager_routes_do() {
    let s = schedule("    active_time_intervals: [evenings, weekends]");
    let inactive = Some(Muted::Inactive(vec!["evenings".into(), "weekends".into()]));
    // Monday 09:00 in Sydney: in neither, so muted, naming every active interval.
    assert_eq!(
        s.is_muted(wall("Australia/Sydney", 2024, 1, 1, 9)),
        inactive
    );
    // In one of them is enough.
    assert_eq!(s.is_muted(wall("Australia/Sydney", 2024, 1, 1, 8)), None);
    assert_eq!(s.is_muted(wall("Australia/Sydney", 2024, 1, 6, 12)), None);
}

#[test]
fn active_is_checked_before_mute_as_in_alertmanagers_pipeline() {
    let s = schedule("    active_time_intervals: [weekends]\n    mute_time_intervals: [evenings]");
    let saturday_noon = wall("Australia/Sydney", 2024, 1, 6, 12);
    let saturday_evening = wall("Australia/Sydney", 2024, 1, 6, 20);
    let monday_evening = wall("Australia/Sydney", 2024, 1, 1, 20);
    assert_eq!(s.is_muted(saturday_noon), None);
    assert_eq!(
        s.is_muted(saturday_evening),
        Some(Muted::InMuteInterval(vec!["evenings".into()]))
    );
    let reason = s.is_muted(monday_evening).unwrap();
    assert_eq!(reason, Muted::Inactive(vec!["weekends".into()]));
    assert_eq!(reason.as_str(), "inactive_time_interval");
    assert_eq!(
        reason.to_string(),
        "outside its active time intervals (weekends)"
    );
}

#[test]
fn a_rule_without_intervals_is_never_muted() {
    let s = schedule("");
    assert_eq!(s, Schedule::default());
    assert_eq!(s.is_muted(SystemTime::UNIX_EPOCH), None);
    assert!(s.active().is_empty() && s.mute().is_empty());
}

#[test]
fn an_interval_without_specs_never_holds() {
    let c = config("  - name: never\n", "    mute_time_intervals: [never]").unwrap();
    assert_eq!(c.policy(0).schedule.is_muted(SystemTime::now()), None);
    let c = config(
        "  - name: never\n    time_intervals: []\n",
        "    active_time_intervals: [never]",
    )
    .unwrap();
    assert!(c.policy(0).schedule.is_muted(SystemTime::now()).is_some());
}

#[test]
fn local_is_the_machines_zone_captured_at_load() {
    use super::{Intervals, NamedInterval};
    let spec = serde_json::from_str(
        r#"{"times": [{"start_time": "09:00", "end_time": "17:00"}], "location": "Local"}"#,
    )
    .unwrap();
    let named = NamedInterval {
        name: "office".into(),
        intervals: vec![spec],
    };
    let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
    let intervals = Intervals::with_local(vec![named], tokyo);
    let office = intervals.get("office").unwrap().clone();
    let s = Schedule::new(vec![office], Vec::new(), intervals.local().clone());
    assert_eq!(s.is_muted(wall("Asia/Tokyo", 2024, 1, 15, 10)), None);
    assert!(s.is_muted(wall("Asia/Tokyo", 2024, 1, 15, 18)).is_some());
    // And the config accepts `Local`.
    config(
        "  - name: office\n    time_intervals: [{location: Local}]\n",
        "    active_time_intervals: [office]",
    )
    .unwrap();
}

fn problems(e: ConfigError) -> Vec<String> {
    e.problems.into_iter().map(|p| p.to_string()).collect()
}

#[test]
fn undefined_interval_names_the_rule_and_the_name() {
    let e = config(
        EVENINGS_AND_WEEKENDS,
        "    active_time_intervals: [evenings, holidays]\n    mute_time_intervals: [weekend]",
    )
    .unwrap_err();
    assert_eq!(
        problems(e),
        [
            "rules[0].active_time_intervals[1] (line 15): rule \"fix\" names undefined time interval \"holidays\" (time_intervals defines evenings, weekends)",
            "rules[0].mute_time_intervals[0] (line 16): rule \"fix\" names undefined time interval \"weekend\" (time_intervals defines evenings, weekends)",
        ]
    );
    let e = Config::from_yaml(
        "rules:\n  - name: fix\n    action: {process: {command: [\"true\"]}}\n    mute_time_intervals: [x]\n",
    )
    .unwrap_err();
    assert_eq!(
        problems(e),
        [
            "rules[0].mute_time_intervals[0] (line 4): rule \"fix\" names undefined time interval \"x\" (no time_intervals are defined)"
        ]
    );
}

#[test]
fn duplicate_and_missing_interval_names_are_refused() {
    let e = config(
        "  - name: a\n  - name: b\n  - name: a\n  - name: ''\n",
        "    mute_time_intervals: [a, b]",
    )
    .unwrap_err();
    assert_eq!(
        problems(e),
        [
            "time_intervals[2].name (line 4): duplicate time interval name \"a\"",
            "time_intervals[3].name (line 5): missing name in time interval",
        ]
    );
}

#[test]
fn every_broken_spec_is_reported_with_its_path_and_line() {
    let e = config(
        "  - name: a
    time_intervals:
      - weekdays: ['friday:monday']
      - times: [{start_time: '09:00', end_time: '25:00'}]
        months: [martius]
  - name: b
    time_intervals:
      - location: Europe/Berlim
      - day_of_month: ['1']
",
        "    mute_time_intervals: [a, b]",
    )
    .unwrap_err();
    assert_eq!(
        problems(e),
        [
            "time_intervals[0].time_intervals[0].weekdays[0] (line 4): weekday range \"friday:monday\": the end day is before the start day (the week runs sunday to saturday; list wrapping days apart)",
            // One problem per spec: the first field in name order.
            "time_intervals[0].time_intervals[1].months[0] (line 6): \"martius\" is not a valid month: write its name (january) or number (1)",
            "time_intervals[1].time_intervals[0].location (line 9): unknown time zone \"Europe/Berlim\": write an IANA name such as Europe/Berlin (case matters), UTC or Local",
            "time_intervals[1].time_intervals[1].day_of_month (line 10): unknown field `day_of_month`, expected one of `times`, `weekdays`, `days_of_month`, `months`, `years`, `location`; did you mean `days_of_month`?",
        ]
    );
}

#[test]
fn each_rule_keeps_its_interval_names_in_config_order() {
    let c = Config::from_yaml(&format!(
        "time_intervals:{EVENINGS_AND_WEEKENDS}rules:
  - name: a
    action: {{process: {{command: [\"true\"]}}}}
    mute_time_intervals: [evenings]
  - name: b
    action: {{process: {{command: [\"true\"]}}}}
    active_time_intervals: [weekends]
    mute_time_intervals: [evenings]
"
    ))
    .unwrap();
    assert_eq!(c.policy(0).schedule.mute(), ["evenings"]);
    assert_eq!(c.policy(1).schedule.active(), ["weekends"]);
    let names: Vec<&str> = c.time_intervals().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["evenings", "weekends"]);
}
