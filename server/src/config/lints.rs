//! `alertrun check`'s lints: what is valid but almost surely not what was meant.
//!
//! A lint runs on a config that loaded without problems, with its text (for paths, lines
//! and the matchers as written) and, when `check --payloads DIR` gives them, example
//! webhook payloads. Each finding is a [`Problem`] shown as a warning; `check --strict`
//! makes them errors. They are:
//!
//! - a rule with no `match:`, or only matchers every alert satisfies (`x=~".*"`): in an
//!   auto-remediation tool, it acts on every alert;
//! - a matcher value that starts with `=` or `~` (`severity==critical` is
//!   `severity="=critical"`, which never matches);
//! - `${X}` or `$X` in an argv element that no shell reads: passed literally, as alertrun
//!   expands only `$(X)`;
//! - `$$` in an `sh -c` script: alertrun's escaping turns it into `$`;
//! - `$(VAR)` of a process action naming nothing the rule defines, and (with payloads) an
//!   alert's variable that no example alert gives: it stays literal text;
//! - a Job template's container variable whose name the Kubernetes API server refuses;
//! - (with payloads) a label matcher on a label no example alert has, and Job variable
//!   names the Kubernetes API server would refuse for an example alert.
//!
//! It is not the validator: nothing here makes a config invalid, and the validator's own
//! warnings ([`Config::warnings`]) are not repeated.

use std::cell::OnceCell;
use std::collections::BTreeSet;

use alert_core::Notification;
use alert_core::env::EnvStyle;
use alert_match::{Argument, MatchOp, Matcher, Mode, RegexCache, Rule, Syntax, Target, render};
use serde_json::Value;

use super::hints::value_at;
use super::lines::Lines;
use super::{Action, Config, Problem, backend};

/// The values a matcher that holds for every alert (an absent label included) matches.
const PROBES: [&str; 5] = ["", "x", "0", "a b", "-"];

/// Shells whose `-c` argument is a script.
const SHELLS: [&str; 8] = ["sh", "bash", "dash", "zsh", "ash", "ksh", "busybox", "mksh"];

impl Config {
    /// The lints of this config (see the module docs), in document order; `text` is the
    /// config's text, `payloads` the example notifications of `check --payloads`.
    pub fn lints(&self, text: &str, payloads: Option<&[Notification]>) -> Vec<Problem> {
        let mut lints = Lints {
            text,
            doc: OnceCell::new(),
            lines: OnceCell::new(),
            found: Vec::new(),
            regexes: RegexCache::new(),
        };
        let labels = payloads.map(payload_labels);
        for (i, rule) in self.rules().rules().iter().enumerate() {
            let base = format!("rules[{i}]");
            lints.matchers(&base, rule, labels.as_ref());
            let action = self.action(i);
            let at = format!("{base}.action.{}", action.kind());
            for argv in backend::argvs(action) {
                lints.argv(&at, rule, action, &argv, payloads);
            }
            for p in backend::template_env_problems(action) {
                lints.warn(&format!("{base}.action.{}", p.path), p.message);
            }
            if let Some(payloads) = payloads {
                for message in backend::env_name_problems(action, &rendered_envs(rule, payloads)) {
                    lints.warn(&at, message);
                }
            }
        }
        lints.found
    }
}

/// The lints found so far. The document and its line map are made on the first finding
/// that needs them: a clean config costs no second parse.
struct Lints<'t> {
    text: &'t str,
    doc: OnceCell<Value>,
    lines: OnceCell<Lines>,
    found: Vec<Problem>,
    /// One compiled regex per distinct regex value, as the validator shares them.
    regexes: RegexCache,
}

impl Lints<'_> {
    fn warn(&mut self, path: &str, message: String) {
        let line = self.lines.get_or_init(|| Lines::of(self.text)).line(path);
        self.found.push(Problem {
            path: path.to_owned(),
            line,
            message,
        });
    }

    fn matchers(&mut self, base: &str, rule: &Rule, labels: Option<&BTreeSet<String>>) {
        let who = match rule.receivers.as_slice() {
            [] => "every alert alertrun receives".to_owned(),
            r => format!("every alert sent to receiver {}", r.join(" or ")),
        };
        if rule.matchers.is_empty() && rule.annotation_matchers.is_empty() {
            self.warn(
                base,
                format!(
                    "rule {:?} has no `match:`, so its action runs for {who}: add matchers, \
                     such as match: ['alertname=\"DiskFull\"']",
                    rule.name
                ),
            );
        } else if rule
            .matchers
            .iter()
            .chain(&rule.annotation_matchers)
            .all(holds_always)
        {
            self.warn(
                &format!("{base}.match"),
                format!(
                    "every matcher of rule {:?} holds for any value, even an absent label, so \
                     its action runs for {who}: match on the alerts it is for",
                    rule.name
                ),
            );
        }
        for (key, matchers) in [
            ("match", &rule.matchers),
            ("match_annotations", &rule.annotation_matchers),
        ] {
            for m in matchers.iter() {
                let mut messages = Vec::new();
                if let Some(fix) = doubled_operator(m) {
                    messages.push(format!(
                        "{m} compares with a value that starts with {:?}, which no alert has; \
                         did you mean {fix}?",
                        &m.value()[..1]
                    ));
                }
                if let Some(known) = labels
                    .filter(|k| key == "match" && !k.contains(m.name()) && !m.matches_value(""))
                {
                    messages.push(format!(
                        "no example payload has the label {:?}, so {m} holds for none of them: \
                         check the name (they have {})",
                        m.name(),
                        known.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                if !messages.is_empty() {
                    let at = self.written_at(&format!("{base}.{key}"), m);
                    for message in messages {
                        self.warn(&at, message);
                    }
                }
            }
        }
    }

    /// The path of the string of list `path` that holds `m` (the rule keeps its matchers
    /// sorted, not where they were written); `path` itself when none does.
    fn written_at(&mut self, path: &str, m: &Matcher) -> String {
        let doc = self
            .doc
            .get_or_init(|| serde_saphyr::from_str(self.text).unwrap_or(Value::Null));
        let strings = value_at(doc, path).and_then(Value::as_array);
        for (j, s) in strings.into_iter().flatten().enumerate() {
            let parsed = s
                .as_str()
                .and_then(|s| self.regexes.parse_with(s, Syntax::Fallback).ok());
            if parsed.is_some_and(|p| p.iter().any(|x| x == m)) {
                return format!("{path}[{j}]");
            }
        }
        path.to_owned()
    }

    fn argv(
        &mut self,
        at: &str,
        rule: &Rule,
        action: &Action,
        argv: &[Argument],
        payloads: Option<&[Notification]>,
    ) {
        let defined: Option<BTreeSet<String>> = payloads.map(|p| {
            rendered_envs(rule, p)
                .into_iter()
                .flatten()
                .map(|v| v.name)
                .collect()
        });
        for (k, arg) in argv.iter().enumerate() {
            let path = format!("{at}.{}", arg.at);
            if is_script(argv, k) {
                if has_lone_double_dollar(&arg.text) {
                    self.warn(
                        &path,
                        "`$$` in this script reaches the shell as `$` (alertrun's escape of \
                         `$(VAR)`): write `$$$$` for the shell's `$$`"
                            .to_owned(),
                    );
                }
            } else {
                for (written, name) in shell_references(&arg.text) {
                    let known = rule.env.iter().any(|v| v.name == name)
                        || alert_match::is_alert_variable(&name, rule.env_style);
                    let fix = if known {
                        format!("write $({name})")
                    } else {
                        format!(
                            "write $({name}) with {name} set in the rule's env, or read it in a \
                             script: [sh, -c, 'echo \"${name}\"']"
                        )
                    };
                    self.warn(
                        &path,
                        format!(
                            "{written} is passed literally: no shell runs this argv, and \
                             alertrun expands only `$(VAR)`; {fix}"
                        ),
                    );
                }
            }
            for name in references(&arg.text) {
                let own = rule.env.iter().any(|v| v.name == name);
                if own || name == alert_core::env::RULE {
                    continue;
                }
                let alert_var = alert_match::is_alert_variable(&name, rule.env_style);
                let process = matches!(action, Action::Process(_));
                if process && rule.pass_env.contains(&name) {
                    self.warn(
                        &path,
                        format!(
                            "$({name}) stays the literal text \"$({name})\": pass_env gives \
                             {name} to the process's environment, but an argv expands only the \
                             rule's env, secret_env and the alert's variables; read it in a \
                             script: [sh, -c, 'echo \"${name}\"']"
                        ),
                    );
                } else if !alert_var && process {
                    self.warn(
                        &path,
                        format!(
                            "$({name}) names no variable the rule defines (env, secret_env) nor \
                             one of the alert's ({}…), so it stays the literal text \"$({name})\"",
                            prefix(rule.env_style)
                        ),
                    );
                } else if alert_var && defined.as_ref().is_some_and(|d| !d.contains(&name)) {
                    self.warn(
                        &path,
                        format!(
                            "no example payload gives $({name}), so for them it stays the \
                             literal text \"$({name})\": check the label or annotation name"
                        ),
                    );
                }
            }
        }
    }
}

/// Whether `m` holds for every value, an absent label (`""`) included: `x=~".*"`.
fn holds_always(m: &Matcher) -> bool {
    m.op() == MatchOp::Regex && PROBES.iter().all(|v| m.matches_value(v))
}

/// `severity==critical` parses as `severity="=critical"`: the matcher meant, if the value
/// starts with `=` or `~`.
fn doubled_operator(m: &Matcher) -> Option<String> {
    let rest = m.value().strip_prefix(['=', '~'])?;
    let op = match (m.op(), m.value().starts_with('~')) {
        (MatchOp::Equal, false) => "=",
        (MatchOp::Equal | MatchOp::Regex, true) | (MatchOp::Regex, false) => "=~",
        (MatchOp::NotEqual, false) => "!=",
        (MatchOp::NotEqual | MatchOp::NotRegex, _) => "!~",
    };
    Some(format!("{}{op}{rest:?}", m.name()))
}

/// Every label name of the payloads' alerts.
fn payload_labels(payloads: &[Notification]) -> BTreeSet<String> {
    payloads
        .iter()
        .flat_map(|n| &n.alerts)
        .flat_map(|a| a.labels.keys().map(ToString::to_string))
        .collect()
}

/// The env of each request `rule` would make for the payloads (each alert for a per-alert
/// rule, each notification for a per-group one), matched or not.
fn rendered_envs(rule: &Rule, payloads: &[Notification]) -> Vec<Vec<alert_core::env::EnvVar>> {
    let mut envs = Vec::new();
    for n in payloads {
        match rule.mode {
            Mode::PerGroup => envs.push(render(rule, n, Target::Group).request.env),
            _ => envs.extend(
                n.alerts
                    .iter()
                    .map(|a| render(rule, n, Target::Alert(a)).request.env),
            ),
        }
    }
    envs
}

fn prefix(style: EnvStyle) -> &'static str {
    match style {
        EnvStyle::AmExecutor => alert_core::env::AMX_PREFIX,
        EnvStyle::Bailer => alert_core::env::BAILER_PREFIX,
        _ => alert_core::env::NATIVE_PREFIX,
    }
}

/// Whether element `k` of `argv` is a shell script: it follows a `-c` (or `-ec`, `-xc`…)
/// of a shell named earlier in the argv.
fn is_script(argv: &[Argument], k: usize) -> bool {
    let flag = k.checked_sub(1).map(|j| argv[j].text.as_str());
    let dash_c =
        flag.is_some_and(|f| f.starts_with('-') && !f.starts_with("--") && f.ends_with('c'));
    dash_c
        && argv[..k - 1].iter().any(|a| {
            let program = a.text.rsplit('/').next().unwrap_or_default();
            SHELLS.contains(&program)
        })
}

/// The `$(NAME)` references of an element, as alertrun expands them (`$$` escapes).
fn references(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(a) = after.strip_prefix('$') {
            rest = a;
        } else if let Some(close) = after.strip_prefix('(').and_then(|a| a.find(')')) {
            names.push(after[1..=close].to_owned());
            rest = &after[close + 2..];
        } else {
            rest = after;
        }
    }
    names
}

/// `${NAME}` and `$NAME` in an element no shell reads, each as written with its name.
fn shell_references(text: &str) -> Vec<(String, String)> {
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let name_len = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        rest = after;
        if let Some(a) = after.strip_prefix('$') {
            rest = a;
        } else if let Some(inner) = after.strip_prefix('{') {
            let n = name_len(inner);
            if n > 0 && inner.starts_with(is_start) && inner[n..].starts_with('}') {
                found.push((format!("${{{}}}", &inner[..n]), inner[..n].to_owned()));
            }
        } else if after.starts_with(is_start) {
            let n = name_len(after);
            found.push((format!("${}", &after[..n]), after[..n].to_owned()));
        }
    }
    found
}

/// Whether a script holds `$$` meant as the shell's own (its process id): a pair of `$`
/// not followed by `(`, `{`, a name or another `$`, which alertrun turns into one `$`.
fn has_lone_double_dollar(script: &str) -> bool {
    let b = script.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i] == b'$' {
            i += 1;
        }
        let next = b.get(i).copied();
        let escapes =
            next.is_some_and(|c| c == b'(' || c == b'{' || c == b'_' || c.is_ascii_alphanumeric());
        if i - start == 2 && !escapes {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use alert_match::Matchers;

    #[test]
    fn shell_references_skip_what_alertrun_expands() {
        let table = [
            ("$(X)", vec![]),
            ("${X}", vec!["${X}"]),
            ("--pod=$POD", vec!["$POD"]),
            ("$$X ${1}", vec![]),
            ("a$B_1-${C}", vec!["$B_1", "${C}"]),
        ];
        for (text, want) in table {
            let got: Vec<String> = shell_references(text).into_iter().map(|(w, _)| w).collect();
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn lone_double_dollar_is_the_shells_pid() {
        for (script, want) in [
            ("echo $$", true),
            ("kill $$; echo", true),
            ("echo $$$$", false),
            ("echo $$(date) $${HOME} $$HOME", false),
            ("echo $(ALERTRUN_LABEL_pod)", false),
        ] {
            assert_eq!(has_lone_double_dollar(script), want, "{script}");
        }
    }

    #[test]
    fn doubled_operators_get_the_matcher_meant() {
        let table = [
            ("severity==critical", Some("severity=\"critical\"")),
            ("severity=~~crit.*", Some("severity=~\"crit.*\"")),
            ("team!=~db", Some("team!~\"db\"")),
            ("team!==db", Some("team!=\"db\"")),
            ("severity=critical", None),
            ("path=~\"=.*\"", Some("path=~\".*\"")),
        ];
        for (written, want) in table {
            let m = Matchers::parse_with(written, Syntax::Fallback).unwrap();
            let got = doubled_operator(&m.as_slice()[0]);
            assert_eq!(got.as_deref(), want, "{written}");
        }
    }

    #[test]
    fn only_catch_all_regexes_hold_always() {
        for (written, want) in [
            ("x=~\".*\"", true),
            ("x=~\"(.*)\"", true),
            ("x=~\".+\"", false),
            ("x!=\"a\"", false),
            ("x=\"\"", false),
        ] {
            let m = Matchers::parse_with(written, Syntax::Fallback).unwrap();
            assert_eq!(holds_always(&m.as_slice()[0]), want, "{written}");
        }
    }

    #[test]
    fn references_follow_the_expansion_rules() {
        assert_eq!(references("$(A)-$$(B)-$(C"), vec!["A".to_owned()]);
    }
}
