//! Alertmanager's own matcher test cases, as collected in ALERTMANAGER.md §3.7, run through
//! the public API: the classic grammar, the UTF-8 grammar and the default fallback.
//!
//! Each row names its upstream source (ALERTMANAGER.md §3.7, Alertmanager v0.34.0):
//! C = `pkg/labels/parse_test.go` TestMatchers, U = `matcher/parse/parse_test.go` TestMatchers,
//! P = `matcher/compliance/compliance_test.go`, F = `matcher/compat/parse_test.go`.
//! Results are compared structurally (name, operator, value); errors by their exact upstream
//! text ([`ParseError::reason`]).

use alert_core::testing::labels;
use alert_match::{MatchOp, Matcher, Matchers, ParseError, Syntax};

/// What a grammar gives for an input: `(name, op, value)` triples, or the error text.
type Expect = Result<&'static [(&'static str, &'static str, &'static str)], &'static str>;

struct Row {
    number: u32,
    input: &'static str,
    classic: Expect,
    utf8: Expect,
}

const fn row(number: u32, input: &'static str, classic: Expect, utf8: Expect) -> Row {
    Row {
        number,
        input,
        classic,
        utf8,
    }
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // #1 C,U,P
    row(1, "{}", Ok(&[]), Ok(&[])),
    // #2 C,U
    row(2, ",", Err("bad matcher format: "), Err("0:1: unexpected ,: expected label name")),
    // #3 C,U,P
    row(3, "{,}", Err("bad matcher format: "), Err("1:2: unexpected ,: expected label name")),
    // #4 C,P
    row(4, "{foo='}", Ok(&[("foo", "=", "'")]), Err("5:6: ': invalid input: expected label value")),
    // #5 C,P
    row(5, "{foo=`}", Ok(&[("foo", "=", "`")]), Err("5:6: `: invalid input: expected label value")),
    // #6 C,P
    row(6, "{foo=\\\"}", Ok(&[("foo", "=", "\"")]), Err("5:6: \\: invalid input: expected label value")),
    // #7 C,U,P
    row(7, "{foo=bar}", Ok(&[("foo", "=", "bar")]), Ok(&[("foo", "=", "bar")])),
    // #8 C,P
    row(8, "{foo=\"bar\"}", Ok(&[("foo", "=", "bar")]), Ok(&[("foo", "=", "bar")])),
    // #9 C,P
    row(9, "{foo=~bar.*}", Ok(&[("foo", "=~", "bar.*")]), Ok(&[("foo", "=~", "bar.*")])),
    // #10 C,P
    row(10, "{foo=~\"bar.*\"}", Ok(&[("foo", "=~", "bar.*")]), Ok(&[("foo", "=~", "bar.*")])),
    // #11 C,U,P
    row(11, "{foo!=bar}", Ok(&[("foo", "!=", "bar")]), Ok(&[("foo", "!=", "bar")])),
    // #12 C,P
    row(12, "{foo!=\"bar\"}", Ok(&[("foo", "!=", "bar")]), Ok(&[("foo", "!=", "bar")])),
    // #13 C,P
    row(13, "{foo!~bar.*}", Ok(&[("foo", "!~", "bar.*")]), Ok(&[("foo", "!~", "bar.*")])),
    // #14 C,P
    row(14, "{foo!~\"bar.*\"}", Ok(&[("foo", "!~", "bar.*")]), Ok(&[("foo", "!~", "bar.*")])),
    // #15 C,P
    row(15, "{foo=\"bar\", baz!=\"quux\"}", Ok(&[("foo", "=", "bar"), ("baz", "!=", "quux")]), Ok(&[("foo", "=", "bar"), ("baz", "!=", "quux")])),
    // #16 C,P
    row(16, "{foo=\"bar\", baz!~\"quux.*\"}", Ok(&[("foo", "=", "bar"), ("baz", "!~", "quux.*")]), Ok(&[("foo", "=", "bar"), ("baz", "!~", "quux.*")])),
    // #17 C,P
    row(17, "{foo=\"bar\",baz!~\".*quux\", derp=\"wat\"}", Ok(&[("foo", "=", "bar"), ("baz", "!~", ".*quux"), ("derp", "=", "wat")]), Ok(&[("foo", "=", "bar"), ("baz", "!~", ".*quux"), ("derp", "=", "wat")])),
    // #18 C,P
    row(18, "{foo=\"bar\", baz!=\"quux\", derp=\"wat\"}", Ok(&[("foo", "=", "bar"), ("baz", "!=", "quux"), ("derp", "=", "wat")]), Ok(&[("foo", "=", "bar"), ("baz", "!=", "quux"), ("derp", "=", "wat")])),
    // #19 C,P
    row(19, "{foo=\"bar\", baz!~\".*quux.*\", derp=\"wat\"}", Ok(&[("foo", "=", "bar"), ("baz", "!~", ".*quux.*"), ("derp", "=", "wat")]), Ok(&[("foo", "=", "bar"), ("baz", "!~", ".*quux.*"), ("derp", "=", "wat")])),
    // #20 C,P
    row(20, "{foo=\"bar\", instance=~\"some-api.*\"}", Ok(&[("foo", "=", "bar"), ("instance", "=~", "some-api.*")]), Ok(&[("foo", "=", "bar"), ("instance", "=~", "some-api.*")])),
    // #21 C,P
    row(21, "{foo=\"\"}", Ok(&[("foo", "=", "")]), Ok(&[("foo", "=", "")])),
    // #22 C,P
    row(22, "{foo=\"bar,quux\", job=\"job1\"}", Ok(&[("foo", "=", "bar,quux"), ("job", "=", "job1")]), Ok(&[("foo", "=", "bar,quux"), ("job", "=", "job1")])),
    // #23 C,P
    row(23, "{foo = \"bar\", dings != \"bums\", }", Ok(&[("foo", "=", "bar"), ("dings", "!=", "bums")]), Ok(&[("foo", "=", "bar"), ("dings", "!=", "bums")])),
    // #24 C,P
    row(24, "foo=bar,dings!=bums", Ok(&[("foo", "=", "bar"), ("dings", "!=", "bums")]), Ok(&[("foo", "=", "bar"), ("dings", "!=", "bums")])),
    // #25 C,P
    row(25, "{quote=\"She said: \\\"Hi, ladies! That's gender-neutral…\\\"\"}", Ok(&[("quote", "=", "She said: \"Hi, ladies! That's gender-neutral…\"")]), Ok(&[("quote", "=", "She said: \"Hi, ladies! That's gender-neutral…\"")])),
    // #26 C,P
    row(26, "statuscode=~\"5..\"", Ok(&[("statuscode", "=~", "5..")]), Ok(&[("statuscode", "=~", "5..")])),
    // #27 C,P
    row(27, "tricky=~~~", Ok(&[("tricky", "=~", "~~")]), Err("8:9: ~: invalid input: expected label value")),
    // #28 C,P
    row(28, "trickier==\\\\=\\=\\\"", Ok(&[("trickier", "=", "=\\=\\=\"")]), Err("9:10: unexpected =: expected label value")),
    // #29 C,P
    row(29, "contains_quote != \"\\\"\" , contains_comma !~ \"foo,bar\" , ", Ok(&[("contains_quote", "!=", "\""), ("contains_comma", "!~", "foo,bar")]), Ok(&[("contains_quote", "!=", "\""), ("contains_comma", "!~", "foo,bar")])),
    // #30 C,P
    row(30, "{foo=bar}}", Ok(&[("foo", "=", "bar}")]), Err("9:10: }: expected end of input")),
    // #31 C,P
    row(31, "{foo=bar}},}", Ok(&[("foo", "=", "bar}}")]), Err("9:10: }: expected end of input")),
    // #32 C,P
    row(32, "{foo=,bar=}}", Ok(&[("foo", "=", ""), ("bar", "=", "}")]), Err("5:6: unexpected ,: expected label value")),
    // #33 C,P
    row(33, "{foo=bar\\t}", Ok(&[("foo", "=", "bar\\t")]), Err("8:9: \\: invalid input: expected a comma or close brace")),
    // #34 C,U,P
    row(34, "{foo=bar\\n}", Ok(&[("foo", "=", "bar\n")]), Err("8:9: \\: invalid input: expected a comma or close brace")),
    // #35 C,P
    row(35, "{foo=bar\\}", Ok(&[("foo", "=", "bar\\")]), Err("8:9: \\: invalid input: expected a comma or close brace")),
    // #36 C,P
    row(36, "{foo=bar\\\\}", Ok(&[("foo", "=", "bar\\")]), Err("8:9: \\: invalid input: expected a comma or close brace")),
    // #37 C,P
    row(37, "{foo=bar\\\"}", Ok(&[("foo", "=", "bar\"")]), Err("8:9: \\: invalid input: expected a comma or close brace")),
    // #38 C,P
    row(38, "job=", Ok(&[("job", "=", "")]), Err("end of input: expected label value")),
    // #39 C,P
    row(39, "job=\"value", Err("matcher value contains unescaped double quote: \"value"), Err("4:10: \"value: missing end \": expected label value")),
    // #40 C,P
    row(40, "job=value\"", Err("matcher value contains unescaped double quote: value\""), Err("9:10: \": missing end \": expected a comma or close brace")),
    // #41 C,P
    row(41, "trickier==\\\\=\\=\\\"\"", Err("matcher value contains unescaped double quote: =\\\\=\\=\\\"\""), Err("9:10: unexpected =: expected label value")),
    // #42 C,P
    row(42, "contains_unescaped_quote = foo\"bar", Err("matcher value contains unescaped double quote: foo\"bar"), Err("30:34: \"bar: missing end \": expected a comma or close brace")),
    // #43 C
    row(43, "{invalid-name = \"valid label\"}", Err("bad matcher format: invalid-name = \"valid label\""), Ok(&[("invalid-name", "=", "valid label")])),
    // #44 C,P
    row(44, "{foo=~\"invalid[regexp\"}", Err("error parsing regexp: missing closing ]: `[regexp)$`"), Err("failed to create matcher: error parsing regexp: missing closing ]: `[regexp)$`")),
    // #45 C,P
    row(45, "\"{foo=\\\"bar\"}", Err("bad matcher format: \"{foo=\\\"bar\""), Err("12:13: unexpected }: expected an operator such as '=', '!=', '=~' or '!~'")),
    // #46 C,P
    row(46, "\"foo=\\\"bar\"", Err("bad matcher format: \"foo=\\\"bar\""), Err("end of input: expected an operator such as '=', '!=', '=~' or '!~'")),
    // #47 C,P
    row(47, "\"foo=\\\"bar\\\"\"", Err("bad matcher format: \"foo=\\\"bar\\\"\""), Err("end of input: expected an operator such as '=', '!=', '=~' or '!~'")),
    // #48 C,P
    row(48, "\"foo=\\\"bar\\\"", Err("bad matcher format: \"foo=\\\"bar\\\""), Err("0:12: \"foo=\\\"bar\\\": missing end \"")),
    // #49 C,P
    row(49, "\"{foo=\\\"bar\\\"}\"", Err("bad matcher format: \"{foo=\\\"bar\\\"}\""), Err("end of input: expected an operator such as '=', '!=', '=~' or '!~'")),
    // #50 C,P
    row(50, "\"foo=\"bar\"\"", Err("bad matcher format: \"foo=\"bar\"\""), Err("6:9: unexpected bar: expected an operator such as '=', '!=', '=~' or '!~'")),
    // #51 C,P
    row(51, "{{foo=", Err("bad matcher format: {foo="), Err("1:2: unexpected {: expected label name")),
    // #52 C,P
    row(52, "{foo=", Ok(&[("foo", "=", "")]), Err("end of input: expected label value")),
    // #53 C,P
    row(53, "{foo=}b", Ok(&[("foo", "=", "}b")]), Err("5:6: unexpected }: expected label value")),
    // #54 U
    row(54, "", Ok(&[]), Ok(&[])),
    // #55 U
    row(55, "{foo=bar,}", Ok(&[("foo", "=", "bar")]), Ok(&[("foo", "=", "bar")])),
    // #56 U
    row(56, "{foo=~[a-z]+}", Ok(&[("foo", "=~", "[a-z]+")]), Ok(&[("foo", "=~", "[a-z]+")])),
    // #57 U
    row(57, "{foo!~[a-z]+}", Ok(&[("foo", "!~", "[a-z]+")]), Ok(&[("foo", "!~", "[a-z]+")])),
    // #58 U
    row(58, "{foo=🙂}", Ok(&[("foo", "=", "🙂")]), Ok(&[("foo", "=", "🙂")])),
    // #59 U
    row(59, "{foo=🙂bar}", Ok(&[("foo", "=", "🙂bar")]), Ok(&[("foo", "=", "🙂bar")])),
    // #60 U
    row(60, "foo=bar", Ok(&[("foo", "=", "bar")]), Ok(&[("foo", "=", "bar")])),
    // #61 U
    row(61, "foo=bar,", Ok(&[("foo", "=", "bar")]), Ok(&[("foo", "=", "bar")])),
    // #62 U
    row(62, "foo!=bar", Ok(&[("foo", "!=", "bar")]), Ok(&[("foo", "!=", "bar")])),
    // #63 U
    row(63, "foo=~[a-z]+", Ok(&[("foo", "=~", "[a-z]+")]), Ok(&[("foo", "=~", "[a-z]+")])),
    // #64 U
    row(64, "foo!~[a-z]+", Ok(&[("foo", "!~", "[a-z]+")]), Ok(&[("foo", "!~", "[a-z]+")])),
    // #65 U
    row(65, "{\"foo\"=\"bar\"}", Err("bad matcher format: \"foo\"=\"bar\""), Ok(&[("foo", "=", "bar")])),
    // #66 U
    row(66, "{\"foo\"=\"bar\",}", Err("bad matcher format: \"foo\"=\"bar\""), Ok(&[("foo", "=", "bar")])),
    // #67 U
    row(67, "{\"foo\"!=\"bar\"}", Err("bad matcher format: \"foo\"!=\"bar\""), Ok(&[("foo", "!=", "bar")])),
    // #68 U
    row(68, "{\"foo\"=~\"[a-z]+\"}", Err("bad matcher format: \"foo\"=~\"[a-z]+\""), Ok(&[("foo", "=~", "[a-z]+")])),
    // #69 U
    row(69, "{\"foo\"=~\"\\\\d+\"}", Err("bad matcher format: \"foo\"=~\"\\\\d+\""), Ok(&[("foo", "=~", "\\d+")])),
    // #70 U
    row(70, "{\"foo\"!~\"[a-z]+\"}", Err("bad matcher format: \"foo\"!~\"[a-z]+\""), Ok(&[("foo", "!~", "[a-z]+")])),
    // #71 U
    row(71, "{\"foo\"=\"🙂\"}", Err("bad matcher format: \"foo\"=\"🙂\""), Ok(&[("foo", "=", "🙂")])),
    // #72 U
    row(72, "{\"foo\"=\"\\xf0\\x9f\\x99\\x82\"}", Err("bad matcher format: \"foo\"=\"\\xf0\\x9f\\x99\\x82\""), Ok(&[("foo", "=", "🙂")])),
    // #73 U
    row(73, "{\"foo\"=\"\\U0001f642\"}", Err("bad matcher format: \"foo\"=\"\\U0001f642\""), Ok(&[("foo", "=", "🙂")])),
    // #74 U
    row(74, "{\"foo\"=\"🙂bar\"}", Err("bad matcher format: \"foo\"=\"🙂bar\""), Ok(&[("foo", "=", "🙂bar")])),
    // #75 U
    row(75, "{\"foo\"=\"bar\\n\"}", Err("bad matcher format: \"foo\"=\"bar\\n\""), Ok(&[("foo", "=", "bar\n")])),
    // #76 U
    row(76, "{\"foo\"=\"bar\\t\"}", Err("bad matcher format: \"foo\"=\"bar\\t\""), Ok(&[("foo", "=", "bar\t")])),
    // #77 U
    row(77, "{\"foo\"=\"\\\"bar\\\"\"}", Err("bad matcher format: \"foo\"=\"\\\"bar\\\"\""), Ok(&[("foo", "=", "\"bar\"")])),
    // #78 U
    row(78, "{\"foo\"=\"bar\\\\\"}", Err("bad matcher format: \"foo\"=\"bar\\\\\""), Ok(&[("foo", "=", "bar\\")])),
    // #79 U
    row(79, "\"foo\"=\"bar\"", Err("bad matcher format: \"foo\"=\"bar\""), Ok(&[("foo", "=", "bar")])),
    // #80 U
    row(80, "\"foo\"=\"bar\",", Err("bad matcher format: \"foo\"=\"bar\""), Ok(&[("foo", "=", "bar")])),
    // #81 U
    row(81, "{foo=bar,bar!=baz}", Ok(&[("foo", "=", "bar"), ("bar", "!=", "baz")]), Ok(&[("foo", "=", "bar"), ("bar", "!=", "baz")])),
    // #82 U
    row(82, "{foo=\"bar\",bar!=\"baz\"}", Ok(&[("foo", "=", "bar"), ("bar", "!=", "baz")]), Ok(&[("foo", "=", "bar"), ("bar", "!=", "baz")])),
    // #83 U
    row(83, "foo=bar,bar!=baz", Ok(&[("foo", "=", "bar"), ("bar", "!=", "baz")]), Ok(&[("foo", "=", "bar"), ("bar", "!=", "baz")])),
    // #84 U
    row(84, "foo=\"bar\",bar!=\"baz\"", Ok(&[("foo", "=", "bar"), ("bar", "!=", "baz")]), Ok(&[("foo", "=", "bar"), ("bar", "!=", "baz")])),
    // #85 U
    row(85, "{", Ok(&[]), Err("0:1: end of input: expected close brace")),
    // #86 U
    row(86, "}", Ok(&[]), Err("0:1: }: expected opening brace")),
    // #87 U
    row(87, "foo=bar}", Ok(&[("foo", "=", "bar")]), Err("0:8: }: expected opening brace")),
    // #88 U
    row(88, "{foo=bar", Ok(&[("foo", "=", "bar")]), Err("0:8: end of input: expected close brace")),
    // #89 U
    row(89, "{foo=:\"bar\"}", Err("matcher value contains unescaped double quote: :\"bar\""), Err("6:11: unexpected \"bar\": expected a comma or close brace")),
    // #90 U
    row(90, "{foo=\"bar\\w\"}", Ok(&[("foo", "=", "bar\\w")]), Err("5:12: \"bar\\w\": invalid input")),
    // #91 U
    row(91, "{\"foo\"=~\"\\d+\"}", Err("bad matcher format: \"foo\"=~\"\\d+\""), Err("8:13: \"\\d+\": invalid input")),
    // #92 U
    row(92, "{\"foo\"=\"\\xf0\\x9f\"}", Err("bad matcher format: \"foo\"=\"\\xf0\\x9f\""), Err("7:17: \"\\xf0\\x9f\": invalid input")),
    // #93 P
    row(93, "{foo=\\n}", Ok(&[("foo", "=", "\n")]), Err("5:6: \\: invalid input: expected label value")),
    // #94 P
    row(94, "{foo=\\t}", Ok(&[("foo", "=", "\\t")]), Err("5:6: \\: invalid input: expected label value")),
    // #95 P
    row(95, "{name-with-dashes = \"bar\"}", Err("bad matcher format: name-with-dashes = \"bar\""), Ok(&[("name-with-dashes", "=", "bar")])),
    // #96 F
    row(96, "{foo=bar,bar=baz}", Ok(&[("foo", "=", "bar"), ("bar", "=", "baz")]), Ok(&[("foo", "=", "bar"), ("bar", "=", "baz")])),
    // #97 F
    row(97, "{foo!bar}", Err("bad matcher format: foo!bar"), Err("4:5: !: expected one of '=~': expected an operator such as '=', '!=', '=~' or '!~'")),
    // #98 F
    row(98, "{foo🙂=bar,bar=baz🙂}", Err("bad matcher format: foo🙂=bar"), Ok(&[("foo🙂", "=", "bar"), ("bar", "=", "baz🙂")])),
    // #99 F
    row(99, "{foo=!bar,bar=$baz\\n}", Ok(&[("foo", "=", "!bar"), ("bar", "=", "$baz\n")]), Err("5:6: !: expected one of '=~': expected label value")),
    // #100 F
    row(100, "{foo=\"\\xf0\\x9f\\x99\\x82\"}", Ok(&[("foo", "=", "\\xf0\\x9f\\x99\\x82")]), Ok(&[("foo", "=", "🙂")])),
];

fn outcome(parsed: &Result<Matchers, ParseError>) -> Result<Vec<(String, String, String)>, String> {
    match parsed {
        Ok(ms) => Ok(ms
            .iter()
            .map(|m| {
                (
                    m.name().to_owned(),
                    m.op().to_string(),
                    m.value().to_owned(),
                )
            })
            .collect()),
        Err(e) => {
            assert_eq!(
                e.to_string(),
                format!("invalid matcher {:?}: {}", e.input(), e.reason())
            );
            Err(e.reason())
        }
    }
}

fn expected(e: &Expect) -> Result<Vec<(String, String, String)>, String> {
    match e {
        Ok(ms) => Ok(ms
            .iter()
            .map(|&(n, o, v)| (n.to_owned(), o.to_owned(), v.to_owned()))
            .collect()),
        Err(reason) => Err((*reason).to_owned()),
    }
}

#[test]
fn table_has_all_hundred_rows_in_order() {
    let numbers: Vec<u32> = ROWS.iter().map(|r| r.number).collect();
    assert_eq!(numbers, (1..=100).collect::<Vec<_>>());
}

#[test]
fn classic_grammar_matches_upstream() {
    for r in ROWS {
        let got = outcome(&Matchers::parse_with(r.input, Syntax::Classic));
        assert_eq!(got, expected(&r.classic), "row {} {:?}", r.number, r.input);
    }
}

#[test]
fn utf8_grammar_matches_upstream() {
    for r in ROWS {
        let got = outcome(&Matchers::parse_with(r.input, Syntax::Utf8));
        assert_eq!(got, expected(&r.utf8), "row {} {:?}", r.number, r.input);
    }
}

#[test]
fn fallback_returns_classic_result_when_classic_parses() {
    for r in ROWS {
        let want = match (&r.classic, &r.utf8) {
            (Ok(_), _) | (Err(_), Err(_)) => expected(&r.classic),
            (Err(_), Ok(_)) => expected(&r.utf8),
        };
        let got = outcome(&Matchers::parse(r.input));
        assert_eq!(got, want, "row {} {:?}", r.number, r.input);
        assert_eq!(
            got,
            outcome(&Matchers::parse_with(r.input, Syntax::Fallback))
        );
    }
}

#[test]
fn parsed_matchers_print_and_parse_back() {
    for r in ROWS {
        if let Ok(ms) = Matchers::parse(r.input) {
            let printed = ms.to_string();
            assert_eq!(
                Matchers::parse(&printed).as_ref(),
                Ok(&ms),
                "row {}: {printed}",
                r.number
            );
        }
    }
}

/// ALERTMANAGER.md §3.4, observed with `amtool config routes test` (0.25).
#[test]
fn missing_label_matches_as_empty_string() {
    let cases = [
        (r#"team="""#, true, false),
        (r#"team!="ops""#, true, false),
        (r#"team=~".*""#, true, true),
        (r#"team!~".+""#, true, false),
        (r#"team=~".+""#, false, true),
    ];
    let without = labels(&[("alertname", "X")]);
    let with_ops = labels(&[("alertname", "X"), ("team", "ops")]);
    for (input, without_team, with_team_ops) in cases {
        let ms = Matchers::parse(input).unwrap();
        assert_eq!(ms.matches(&without), without_team, "{input} without team");
        assert_eq!(
            ms.matches(&with_ops),
            with_team_ops,
            "{input} with team=ops"
        );
    }
}

/// ALERTMANAGER.md §3.4: `^(?:` + `a)|(b` + `)$` is "starts with a OR ends with b".
#[test]
fn regex_anchoring_is_string_concatenation() {
    let m = Matcher::new("svc", MatchOp::Regex, "a)|(b").unwrap();
    for (value, want) in [
        ("api-gw", true),
        ("web", true),
        ("a", true),
        ("b", true),
        ("xyz", false),
        ("bad", false),
    ] {
        assert_eq!(m.matches_value(value), want, "{value}");
    }
    let ms = Matchers::parse(r#"svc=~"a)|(b""#).unwrap();
    assert!(ms.matches(&labels(&[("svc", "api-gw")])));
    assert!(ms.matches(&labels(&[("svc", "web")])));
    assert!(!ms.matches(&labels(&[("svc", "gateway")])));
}

/// Go's `\Q…\E` (issue 16): the text between is literal, one literal per character; without
/// `\E` the quote runs to the end of the anchored pattern, swallowing its `)$`. Observed
/// with `amtool config routes test` (0.25); the differential test compares more.
#[test]
fn regex_quoting_is_literal_text_as_in_go() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (r"\Q.*\E", &[".*"], &["", "a", "ab"]),
        (r"\Qa.b\E", &["a.b"], &["axb"]),
        (r"\Q(x\E|y", &["(x", "y"], &["x"]),
        (r"a\Q*\E+", &["a*", "a**"], &["a", "aa"]),
        (r"a\Q\E*", &["", "a", "aa"], &["b"]),
        (r"a*\Q\E*", &["", "aa"], &["b"]),
        (r"a)\Q|b", &["a|b)$"], &["a", "b", "a|b"]),
    ];
    for &(value, yes, no) in cases {
        let m = Matcher::new("x", MatchOp::Regex, value).unwrap();
        for v in yes {
            assert!(m.matches_value(v), "{value} should match {v:?}");
        }
        for v in no {
            assert!(!m.matches_value(v), "{value} should not match {v:?}");
        }
    }
    let unterminated = Matcher::new("x", MatchOp::Regex, r"\Qa").unwrap_err();
    assert_eq!(
        unterminated.to_string(),
        r"error parsing regexp: missing closing ): `^(?:\Qa)$`"
    );
}
