//! Differential test (STYLE.md §7 (b)): alertrun's matcher semantics against Alertmanager's
//! own, as `amtool config routes test` of Debian's `prometheus-alertmanager` 0.25 evaluates
//! them.
//!
//! One Alertmanager config holds a child route per matcher string (`matchers: [<string>]`,
//! `continue: true`, receiver `m<i>`) under a root route with receiver `none`. For each label
//! set, one amtool run prints the receivers of every matching route, comma separated (or
//! `none` when no child matched), and [`Matchers::matches`] must give the same answer for
//! every (matcher, label set) pair.
//!
//! amtool 0.25 knows only the classic syntax, so only strings that alertrun parses in both
//! the classic and the UTF-8 syntax are compared; for those, fallback mode (the default)
//! must mean what classic means.
//!
//! Without amtool the test prints a skip notice, or fails when `CI` is set.
//! `AMTOOL=/path/to/amtool` picks another binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use alert_core::LabelSet;
use alert_match::{Matchers, Syntax};

/// Matcher strings both syntaxes accept by construction (ALERTMANAGER.md §3.2, §3.3, §3.7),
/// with regexes Go's RE2 compiles. alertrun must accept every one of them.
const HAND_PICKED: &[&str] = &[
    // Every operator.
    r#"team="ops""#,
    r#"team!="ops""#,
    r#"team=~"ops|dev""#,
    r#"team!~"ops|dev""#,
    // A missing label is the empty string (§3.4).
    r#"team="""#,
    r#"team!="""#,
    r#"team=~"""#,
    r#"team!~"""#,
    r#"team=~".*""#,
    r#"team=~".+""#,
    r#"team!~".+""#,
    r#"team!~".*""#,
    // Anchoring is string concatenation: `^(?:a)|(b)$` is "starts with a or ends with b".
    r#"svc=~"a)|(b""#,
    r#"svc!~"a)|(b""#,
    r#"svc=~"api)|(web""#,
    r#"svc=~"api""#,
    r#"svc=~"api.*""#,
    r#"svc=~".*gw""#,
    r#"svc=~"^api$""#,
    r#"svc=~"api$|web""#,
    r#"svc=~"(api|web)(-gw)?""#,
    r#"svc=~"a|""#,
    // Character classes and repetition.
    r#"svc=~"[a-c]+""#,
    r#"svc=~"[^a]*""#,
    r#"svc=~"[[:alpha:]]+""#,
    r#"code=~"5..""#,
    r#"code=~"[45][0-9]{2}""#,
    r#"svc=~"a{2,3}""#,
    // Case folding: Unicode simple folding in both engines (KELVIN SIGN folds to k).
    r#"svc=~"(?i)API""#,
    r#"team=~"(?i:OPS)|dev""#,
    r#"k=~"(?i)k""#,
    // Perl classes and \b are ASCII in Go, Unicode in Rust's default (§3.6).
    r#"n=~"\\d+""#,
    r#"n!~"\\d+""#,
    r#"n=~"[\\d]+""#,
    r#"w=~"\\w+""#,
    r#"s=~"\\s""#,
    r#"w=~".\\ba""#,
    // `.` does not match a newline unless (?s).
    r#"svc=~"a.b""#,
    r#"svc=~"(?s)a.b""#,
    // Escapes inside quotes: \" \\ \n in both syntaxes.
    r#"q="He said \"hi\"""#,
    r#"q="back\\slash""#,
    r#"q="line\nbreak""#,
    r#"q=~"a\\.b""#,
    r#"q=~"\\+Inf|0\\.5""#,
    // Commas and spaces inside quoted values; spaces around the operator.
    r#"q="a,b""#,
    r#"q=~"a,b|c""#,
    r#"{q="a,b", team="ops"}"#,
    r#"q="x y""#,
    r#"q = "x y""#,
    r#"q=~"x\\s+y""#,
    r#"q=" x ""#,
    // Unicode values; `.` is one code point.
    r#"city="Zürich""#,
    r#"city=~"東京|大阪""#,
    r#"city=~"\\p{Han}+""#,
    r#"city=~"\\pL+""#,
    r#"city="🙂""#,
    r#"city=🙂"#,
    r#"city=~"Z.rich""#,
    // `\Q…\E` quotes literal text, up to the end of the anchored pattern without `\E`
    // (issue 16).
    r#"x=~"\\Q.*\\E""#,
    r#"x=~"\\Qa.b\\E""#,
    r#"x=~"\\Q(x\\E|y""#,
    r#"x=~"a\\Q*\\E+""#,
    r#"x=~"a\\Q\\E*""#,
    r#"x=~"a)\\Q|b""#,
    // Lists, braces, trailing commas, unquoted values, colons in names.
    r#"{}"#,
    r#"a=b"#,
    r#"a=b,"#,
    r#"{a="1",b="2"}"#,
    r#"{a=1, b!=2,}"#,
    r#"job!=node"#,
    r#"svc=~api.*"#,
    r#"c:d="x""#,
    r#"_x=~".+""#,
    r#"foo=bar,dings!=bums"#,
    r#"{foo = "bar", dings != "bums", }"#,
];

/// Regexes Go compiles but Rust's `regex` reads differently or rejects (§3.6). alertrun may
/// translate or refuse them; when it accepts one, it must agree with Alertmanager.
const REGEX_DIALECT: &[&str] = &[
    r#"x=~"[a&&b]""#,
    r#"x=~"[a-z--b]""#,
    r#"x=~"[a~~b]""#,
    r#"x=~"\\101""#,
    r#"x=~"x{,3}""#,
    r#"x=~"\\<""#,
    r#"x=~"[\\d-z]""#,
];

/// Label sets aimed at the matchers above. A value may hold anything but NUL: amtool gets it
/// as a quoted classic matcher, which round-trips every other string (see `label_arg`).
const HAND_PICKED_LABELS: &[&[(&str, &str)]] = &[
    &[],
    &[("team", "ops")],
    &[("team", "")],
    &[("team", "OPS"), ("svc", "api")],
    &[("team", "dev"), ("q", "a,b")],
    &[("svc", "api-gw")],
    &[("svc", "web")],
    &[("svc", "a")],
    &[("svc", "ab")],
    &[("svc", "aa")],
    &[("svc", "API")],
    &[("svc", "a\nb")],
    &[("svc", "axb")],
    &[("svc", "ccc")],
    &[("code", "500")],
    &[("code", "404")],
    &[("code", "5xx")],
    &[("k", "\u{212A}")],
    &[("k", "K")],
    &[("n", "٣")],
    &[("n", "123")],
    &[("w", "é")],
    &[("w", "éa")],
    &[("w", "word_1")],
    &[("s", "\u{b}")],
    &[("s", "\u{a0}")],
    &[("s", " ")],
    &[("q", "He said \"hi\"")],
    &[("q", "back\\slash")],
    &[("q", "line\nbreak")],
    &[("q", "x y")],
    &[("q", " x ")],
    &[("q", "x \t y")],
    &[("q", "a.b")],
    &[("q", "+Inf")],
    &[("city", "Zürich")],
    &[("city", "Zurich")],
    &[("city", "東京")],
    &[("city", "🙂")],
    &[("a", "b"), ("b", "2")],
    &[("a", "1"), ("b", "2")],
    &[("a", "1"), ("b", "3")],
    &[("job", "node"), ("svc", "api")],
    &[("c:d", "x"), ("_x", "y")],
    &[("foo", "bar"), ("dings", "bums")],
    &[("foo", "bar"), ("dings", "x")],
    &[("x", "&")],
    &[("x", "-")],
    &[("x", ".*")],
    &[("x", "A")],
    &[("x", "x{,3}")],
    &[("x", "<")],
    &[("x", "~")],
    &[("x", "a.b")],
    &[("x", "axb")],
    &[("x", "(x")],
    &[("x", "y")],
    &[("x", "a**")],
    &[("x", "a*")],
    &[("x", "aa")],
    &[("x", "ab)$")],
    &[("x", "a|b)$")],
];

// The generator's alphabet.
const NAMES: &[&str] = &["a", "b", "team", "svc", "c:d"];
const VALUES: &[&str] = &[
    "",
    "a",
    "b",
    "ab",
    "ops",
    "dev",
    "api",
    "api-gw",
    "web",
    "x y",
    " x ",
    "a,b",
    "é",
    "日本",
    "٣",
    "3",
    "K",
    "k",
    "\u{212A}",
    "a\nb",
    "He said \"hi\"",
    "back\\slash",
    "$(VAR)",
    "🙂",
    "{}",
    "=~",
    "a.b",
    "tab\there",
];
const REGEXES: &[&str] = &[
    ".*",
    ".+",
    "",
    "a|b",
    "a)|(b",
    "api.*",
    ".*b",
    "[a-c]+",
    "[^a]*",
    "(?i)A",
    "(?i)k",
    r"\d+",
    r"\w+",
    r"\s",
    "é|日本",
    "a.b",
    "(?s)a.b",
    "x y",
    r"\pL+",
    "[[:alpha:]]*",
    "a{2}",
    "(ab)?",
    r"\$\(VAR\)",
    r"\{\}",
    "a,b",
    ".",
    "..",
    r"[^\n]*",
];
const OPS: &[&str] = &["=", "!=", "=~", "!~"];
const GENERATED_MATCHERS: usize = 450;
const GENERATED_LABEL_SETS: usize = 25;
const SEED: u64 = 0xa1e27;

/// SplitMix64: a tiny deterministic generator, so every run tests the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A value quoted for both matcher syntaxes: `\`, `"` and LF escaped, the rest as is.
fn quote(value: &str) -> String {
    let escaped = value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n");
    format!("\"{escaped}\"")
}

/// Go `regexp.QuoteMeta`, so a literal value can be used as a regex in both engines.
fn quote_meta(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn generated_matcher(rng: &mut Rng) -> String {
    let count = 1 + rng.below(3);
    let parts: Vec<String> = (0..count)
        .map(|_| {
            let name = rng.pick(NAMES);
            let op = rng.pick(OPS);
            let value = if op.contains('~') {
                match rng.below(4) {
                    0 => format!("{}{}", rng.pick(REGEXES), rng.pick(REGEXES)),
                    1 => format!("{}|{}", rng.pick(REGEXES), rng.pick(REGEXES)),
                    2 => quote_meta(rng.pick(VALUES)),
                    _ => rng.pick(REGEXES).to_string(),
                }
            } else {
                rng.pick(VALUES).to_string()
            };
            // Unquoted when neither syntax reserves a character of the value.
            let plain = !value.is_empty()
                && !value
                    .chars()
                    .any(|c| c.is_whitespace() || "{}!=~,\\\"'`".contains(c));
            let value = if plain && rng.chance(50) {
                value
            } else {
                quote(&value)
            };
            let op = if rng.chance(20) {
                format!(" {op} ")
            } else {
                op.to_string()
            };
            format!("{name}{op}{value}")
        })
        .collect();
    let sep = if rng.chance(50) { "," } else { ", " };
    let mut s = parts.join(sep);
    if rng.chance(10) {
        s.push(',');
    }
    if rng.chance(50) {
        format!("{{{s}}}")
    } else {
        s
    }
}

fn generated_labels(rng: &mut Rng) -> LabelSet {
    let mut set = LabelSet::new();
    for name in NAMES {
        if rng.chance(60) {
            set.insert(name.to_string(), rng.pick(VALUES).to_string());
        }
    }
    set
}

fn accepted_by_both(s: &str) -> Result<(), String> {
    for (name, syntax) in [("classic", Syntax::Classic), ("utf-8", Syntax::Utf8)] {
        if let Err(e) = Matchers::parse_with(s, syntax) {
            return Err(format!("{name}: {e}").replace('\n', " "));
        }
    }
    Ok(())
}

/// The matcher strings to compare: hand-picked, dialect cases alertrun accepts, generated.
fn matcher_strings() -> Vec<String> {
    let mut rejected = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for s in HAND_PICKED {
        match accepted_by_both(s) {
            Ok(()) => out.push(s.to_string()),
            Err(e) => rejected.push(format!("  {s}  ({e})")),
        }
    }
    assert!(
        rejected.is_empty(),
        "alertrun rejects hand-picked matchers that both Alertmanager syntaxes accept:\n{}",
        rejected.join("\n")
    );
    for s in REGEX_DIALECT {
        match accepted_by_both(s) {
            Ok(()) => out.push(s.to_string()),
            Err(e) => notice(&format!(
                "note: alertrun rejects {s}, which Go compiles ({e})"
            )),
        }
    }
    let mut seen: BTreeSet<String> = out.iter().cloned().collect();
    let mut rng = Rng(SEED);
    let (mut generated, mut tries) = (0, 0);
    while generated < GENERATED_MATCHERS && tries < GENERATED_MATCHERS * 20 {
        tries += 1;
        let s = generated_matcher(&mut rng);
        if accepted_by_both(&s).is_ok() && seen.insert(s.clone()) {
            out.push(s);
            generated += 1;
        }
    }
    assert!(
        generated >= GENERATED_MATCHERS * 3 / 4,
        "only {generated} of {tries} generated matchers parse in both syntaxes"
    );
    out
}

fn label_sets() -> Vec<LabelSet> {
    let mut out: Vec<LabelSet> = HAND_PICKED_LABELS
        .iter()
        .map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    let mut rng = Rng(SEED ^ 0xffff);
    while out.len() < HAND_PICKED_LABELS.len() + GENERATED_LABEL_SETS {
        let set = generated_labels(&mut rng);
        if !out.contains(&set) {
            out.push(set);
        }
    }
    out
}

/// A YAML double-quoted scalar: ASCII only, everything else as `\u`/`\U` escapes, so no
/// character can trip the YAML reader.
fn yaml_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xffff => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// The label as one amtool argument. amtool 0.25 (`cli/utils.go` `parseLabels`) reads each
/// argument with the classic `labels.ParseMatcher` and requires `=`; the quoted form, with
/// `\\`, `\"` and `\n` escaped, gives back any value except one holding NUL, which no
/// process argument can carry.
fn label_arg(name: &str, value: &str) -> String {
    assert!(
        !value.contains('\0'),
        "label values passed to amtool cannot hold NUL"
    );
    format!("{name}={}", quote(value))
}

/// Routes `m<i>` for the matchers, then `l<j>` per label set with one equality matcher per
/// label: a self-check that amtool saw the label set we meant.
fn config(matchers: &[String], sets: &[LabelSet]) -> String {
    let mut routes = String::new();
    let mut receivers = String::from("  - name: none\n");
    let self_checks = sets.iter().map(|set| {
        let eq: Vec<String> = set
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        format!("{{{}}}", eq.join(","))
    });
    let all = matchers.iter().cloned().map(|m| ('m', m)).enumerate();
    let all = all.chain(self_checks.map(|m| ('l', m)).enumerate());
    for (i, (kind, m)) in all {
        routes.push_str(&format!(
            "    - receiver: {kind}{i}\n      continue: true\n      matchers: [{}]\n",
            yaml_quote(&m)
        ));
        receivers.push_str(&format!("  - name: {kind}{i}\n"));
    }
    format!("route:\n  receiver: none\n  routes:\n{routes}receivers:\n{receivers}")
}

/// Writes to the real stderr: libtest captures `eprintln!` of passing tests, and a skip
/// must be visible.
fn notice(msg: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn amtool_binary() -> String {
    std::env::var("AMTOOL").unwrap_or_else(|_| "amtool".to_string())
}

/// amtool's version line, or `None` when it cannot be run.
fn amtool_version(bin: &str) -> Option<String> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    out.status
        .success()
        .then(|| text.lines().next().unwrap_or_default().to_string())
}

/// The receivers amtool resolves for `labels` under config `cfg`.
fn amtool_receivers(bin: &str, cfg: &Path, labels: &LabelSet) -> BTreeSet<String> {
    let out = Command::new(bin)
        .args(["config", "routes", "test"])
        .arg(format!("--config.file={}", cfg.display()))
        .args(labels.iter().map(|(k, v)| label_arg(k, v)))
        .output()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "amtool failed for {labels:?} ({}), config {}:\n{}{stdout}",
        out.status,
        cfg.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.trim().split(',').map(str::to_string).collect()
}

#[test]
fn matchers_agree_with_amtool_routes_test() {
    let bin = amtool_binary();
    let Some(version) = amtool_version(&bin) else {
        let msg = format!(
            "`{bin}` not found: install Debian's prometheus-alertmanager \
             (apt-get install prometheus-alertmanager) to run the amtool differential test"
        );
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        notice(&format!(
            "skipping matchers_agree_with_amtool_routes_test: {msg}"
        ));
        return;
    };
    let started = Instant::now();
    let strings = matcher_strings();
    let sets = label_sets();
    let parsed: Vec<(Matchers, Matchers)> = strings
        .iter()
        .map(|s| {
            let fallback = Matchers::parse(s).unwrap_or_else(|e| panic!("{s}: fallback: {e}"));
            let classic =
                Matchers::parse_with(s, Syntax::Classic).unwrap_or_else(|e| panic!("{s}: {e}"));
            (fallback, classic)
        })
        .collect();

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let cfg = dir.join(format!("amtool_differential-{}.yml", std::process::id()));
    std::fs::write(&cfg, config(&strings, &sets)).unwrap();

    let mut failures = Vec::new();
    for (j, labels) in sets.iter().enumerate() {
        let receivers = amtool_receivers(&bin, &cfg, labels);
        assert!(
            receivers.contains(&format!("l{j}")),
            "amtool did not see label set {labels:?} as sent (self-check route l{j} did not \
             match; it printed {receivers:?})"
        );
        for (i, (s, (fallback, classic))) in strings.iter().zip(&parsed).enumerate() {
            let theirs = receivers.contains(&format!("m{i}"));
            for (mode, m) in [("fallback", fallback), ("classic", classic)] {
                let ours = m.matches(labels);
                if ours != theirs {
                    failures.push(format!(
                        "matcher {s} ({mode}: {m:?}) on labels {labels:?}: \
                         alertrun says {ours}, amtool says {theirs}"
                    ));
                }
            }
        }
    }
    notice(&format!(
        "amtool differential: {} matchers x {} label sets against {version} in {:.1?}",
        strings.len(),
        sets.len(),
        started.elapsed()
    ));
    if failures.is_empty() {
        let _ = std::fs::remove_file(&cfg);
    }
    assert!(
        failures.is_empty(),
        "{} disagreements with amtool (config kept at {}):\n{}",
        failures.len(),
        cfg.display(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn harness_quoting_round_trips_through_the_classic_parser() {
    // The quoting used for amtool's label arguments and config matchers must give back the
    // value; alertrun's classic parser implements the same rules as amtool's.
    for value in VALUES
        .iter()
        .copied()
        .chain(["\\", "\\n", "\"", "a\\\"b", "\t", "x\r\ny"])
    {
        let s = format!("v={}", quote(value));
        let m = Matchers::parse_with(&s, Syntax::Classic).unwrap_or_else(|e| panic!("{s}: {e}"));
        let labels = LabelSet::from([("v".to_string(), value.to_string())]);
        assert!(
            m.matches(&labels),
            "{s} does not match its own value {value:?}"
        );
    }
}
