//! bailer (nalbury/bailer) to alertrun.
//!
//! bailer creates a Kubernetes Job for each firing alert of a notification that one of its
//! `bailers` matches. Its config is read by viper: keys are case-insensitive (viper
//! lower-cases every key, label names under `labels` too), unknown keys are ignored, and a
//! Helm values file holds the same list under `config.bailers`.
//!
//! Each bailer becomes one per-alert Job rule (`env_style: bailer` in `defaults`, so the
//! Job gets bailer's `ALERT_<LABEL>` variables):
//!
//! | bailer | alertrun |
//! |---|---|
//! | `alert` | an `alertname="…"` matcher (bailer's README says so; its code matched `labels` only, see the note), the rule's name, and the container's name (lower-cased, as bailer named it) |
//! | `labels` (Go regexes, **unanchored**, label required) | `name=~"…"` matchers rewritten to match anywhere (`(?s:.*)` around), plus `name!=""` when the rewritten regex would match an absent label |
//! | `command` | `command` (the kubelet expands `$(VAR)` in both) |
//! | `container.image` + `:` + `container.tag` | `image` |
//! | `serviceAccountName` | `service_account` |
//! | `ttlSecondsAfterFinished` | `ttl_seconds_after_finished` |
//! | the worker's `--namespace` | `defaults.namespace` ([`BailerOptions::namespace`]) |
//! | a Job per delivery, never stopped on resolve | `repeat: once` (noted), `on_resolved_while_running: leave` |
//!
//! A regex that does not compile (bailer ignored the error and then crashed on that alert)
//! or that alertrun cannot reproduce, and a bailer without an image or tag, are problems.

use alert_match::{MatchOp, Matcher};

use super::yaml::{self, Node, Value};
use super::{Findings, ImportError, ImportSource, Imported, NoteKind, rule_name, unknown_field};

const TOOL: &str = "bailer";
const BAILER_KEYS: [&str; 6] = [
    "alert",
    "labels",
    "command",
    "container",
    "serviceAccountName",
    "ttlSecondsAfterFinished",
];
const CONTAINER_KEYS: [&str; 2] = ["image", "tag"];

/// What the bailer config does not say.
#[derive(Clone, Debug, Default)]
pub struct BailerOptions {
    /// The namespace bailer's worker ran Jobs in (its `--namespace` flag; with its Helm
    /// chart, the release's namespace).
    pub namespace: Option<String>,
}

/// One bailer, as read.
#[derive(Debug, Default)]
struct Bailer {
    place: String,
    line: usize,
    alert: Option<(String, usize)>,
    /// Label name (lower-cased, as viper did), regex, line.
    labels: Vec<(String, String, usize)>,
    command: Option<Vec<String>>,
    image: Option<String>,
    service_account: Option<String>,
    ttl: Option<i64>,
    /// Notes made while reading it (fields bailer ignored), for its rule.
    comments: Vec<String>,
}

/// Imports a bailer config (`bailers:`, or a Helm values file's `config.bailers`).
///
/// # Errors
/// [`ImportError`] naming each place bailer could not have acted on.
///
/// ```
/// use alertrun::{BailerOptions, Config, ImportSource, import_bailer};
///
/// let text = "bailers:\n- alert: PodCrashLooping\n  labels: {pod: ^nginx-}\n  container: {image: busybox, tag: '1.36'}\n";
/// let imported = import_bailer(ImportSource { name: "config.yaml", text }, &BailerOptions::default())?;
/// assert!(imported.yaml.contains(r#"'pod=~"^nginx-(?s:.*)"'"#));
/// Config::from_yaml(&imported.yaml)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn import_bailer(
    source: ImportSource<'_>,
    options: &BailerOptions,
) -> Result<Imported, ImportError> {
    let mut f = Findings::default();
    let mut head = Vec::new();
    let bailers = read(source.text, &mut head, &mut f);
    if let Some(ns) = &options.namespace {
        if !executor_k8s::is_dns1123_label(ns) {
            f.problem(
                "--namespace",
                None,
                format!("{ns:?} is not a valid namespace (a DNS-1123 label)"),
            );
        }
    }
    let yaml = render(source, options, &head, &bailers, &mut f);
    f.into_result(TOOL, yaml)
}

/// The value of `key` in `entries`, matched as viper matches keys (case-insensitively).
fn get<'a>(entries: &'a [(String, usize, Node)], key: &str) -> Option<&'a (String, usize, Node)> {
    entries.iter().find(|(k, ..)| k.eq_ignore_ascii_case(key))
}

/// The bailers; notes about the top level go to `head`.
fn read(text: &str, head: &mut Vec<String>, f: &mut Findings) -> Vec<Bailer> {
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            f.problem(
                "",
                None,
                "the file is empty: expected `bailers:` with a list of bailers",
            );
            return Vec::new();
        }
        Err((message, line)) => {
            f.problem("", line, message);
            return Vec::new();
        }
    };
    let Some(entries) = f.mapping(&root, "", "a mapping with `bailers:`") else {
        return Vec::new();
    };
    let (list, prefix) = match get(entries, "bailers") {
        Some((_, _, list)) => {
            for (key, line, _) in entries
                .iter()
                .filter(|(k, ..)| !k.eq_ignore_ascii_case("bailers"))
            {
                let message = format!("{}: bailer ignored it", unknown_field(key, &["bailers"]));
                head.push(f.note(NoteKind::NotCarriedOver, key, Some(*line), message));
            }
            (list, "bailers")
        }
        None => match get(entries, "config").map(|(_, _, c)| &c.value) {
            Some(Value::Map(config)) if get(config, "bailers").is_some() => {
                let message = "a Helm values file: its config.bailers are imported; the chart's other values (bailer, faktory, rbac, …) are about running bailer, see deploy/ for alertrun's";
                head.push(f.note(NoteKind::NotCarriedOver, "", None, message));
                (
                    &get(config, "bailers").expect("checked just above").2,
                    "config.bailers",
                )
            }
            _ => {
                f.problem(
                    "",
                    Some(root.line),
                    "no `bailers:` list (nor a Helm values file's config.bailers)",
                );
                return Vec::new();
            }
        },
    };
    let items = match &list.value {
        Value::Seq(items) if !items.is_empty() => items,
        _ => {
            f.problem(
                prefix,
                Some(list.line),
                format!("expected a list of bailers, found {}", list.describe()),
            );
            return Vec::new();
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, node)| read_bailer(node, &format!("{prefix}[{i}]"), f))
        .collect()
}

fn read_bailer(node: &Node, place: &str, f: &mut Findings) -> Bailer {
    let mut b = Bailer {
        place: place.to_owned(),
        line: node.line,
        ..Bailer::default()
    };
    let Some(entries) = f.mapping(
        node,
        place,
        "a bailer (alert, labels, command, container, …)",
    ) else {
        return b;
    };
    for (key, line, value) in entries {
        let path = format!("{place}.{key}");
        match key.to_lowercase().as_str() {
            "alert" => b.alert = f.string(value, &path).map(|a| (a, *line)),
            "labels" => b.labels = labels(value, &path, f),
            "command" => b.command = f.strings(value, &path),
            "container" => b.image = image(value, &path, &mut b.comments, f),
            "serviceaccountname" => {
                b.service_account = f.string(value, &path).filter(|s| !s.is_empty())
            }
            "ttlsecondsafterfinished" => match value.as_scalar().map(|s| s.parse::<i32>()) {
                Some(Ok(n)) if n >= 0 => b.ttl = Some(n.into()),
                _ if value.is_null() => {}
                _ => f.problem(
                    &path,
                    Some(*line),
                    format!(
                        "expected a number of seconds (0 or more), found {}",
                        value.describe()
                    ),
                ),
            },
            _ => {
                let message = format!("{}: bailer ignored it", unknown_field(key, &BAILER_KEYS));
                b.comments
                    .push(f.note(NoteKind::NotCarriedOver, &path, Some(*line), message));
            }
        }
    }
    if b.image.is_none() && get(entries, "container").is_none() {
        f.problem(
            place,
            Some(node.line),
            "no `container`: a Job needs an image (give container: {image: NAME, tag: TAG})",
        );
    }
    b
}

fn labels(node: &Node, path: &str, f: &mut Findings) -> Vec<(String, String, usize)> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .map(|(name, line, value)| {
                let regex = f
                    .string(value, &format!("{path}.{name}"))
                    .unwrap_or_default();
                (name.clone(), regex, *line)
            })
            .collect(),
        _ if node.is_null() => Vec::new(),
        _ => {
            f.problem(
                path,
                Some(node.line),
                format!(
                    "expected a mapping of label names to regexes, found {}",
                    node.describe()
                ),
            );
            Vec::new()
        }
    }
}

/// `image:tag`, as bailer joins them.
fn image(node: &Node, path: &str, comments: &mut Vec<String>, f: &mut Findings) -> Option<String> {
    let entries = f.mapping(node, path, "a mapping with image and tag")?;
    for (key, line, _) in entries {
        if !CONTAINER_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            let message = format!("{}: bailer ignored it", unknown_field(key, &CONTAINER_KEYS));
            comments.push(f.note(
                NoteKind::NotCarriedOver,
                &format!("{path}.{key}"),
                Some(*line),
                message,
            ));
        }
    }
    let field = |name: &str, f: &mut Findings| {
        get(entries, name)
            .and_then(|(k, _, v)| f.string(v, &format!("{path}.{k}")))
            .filter(|s| !s.is_empty())
    };
    match (field("image", f), field("tag", f)) {
        (Some(image), Some(tag)) => Some(format!("{image}:{tag}")),
        (None, _) => {
            f.problem(
                path,
                Some(node.line),
                "no `image`: a Job needs one (give image: NAME)",
            );
            None
        }
        (Some(image), None) => {
            let message = format!(
                "no `tag`: bailer would ask Kubernetes for the image {image:?} with an empty tag, which it refuses (give tag: latest, or the version)"
            );
            f.problem(path, Some(node.line), message);
            None
        }
    }
}

/// A Go regex that matches anywhere in a value, as an anchored Alertmanager regex that
/// matches the same values: `(?s:.*)` on each side, left out where the regex anchors that
/// side itself; `(?s:…)` since bailer's unanchored search crossed line breaks.
fn anywhere(re: &str) -> String {
    const ANY: &str = "(?s:.*)";
    if re.is_empty() {
        return ANY.to_owned();
    }
    if re.contains('|') || re.contains("(?") {
        return format!("{ANY}(?:{re}){ANY}");
    }
    // Without `|` the regex is a concatenation, so a leading `^` (trailing `$`) anchors it
    // at the start (end) of the value, as alertrun's anchoring does.
    let mut body = re;
    let prefix = if body.starts_with('^') {
        ""
    } else {
        if let Some(rest) = body
            .strip_prefix(".*")
            .filter(|r| !r.starts_with(['*', '+', '?', '{']))
        {
            body = rest;
        }
        ANY
    };
    if body.is_empty() {
        return ANY.to_owned();
    }
    let suffix = if ends_unescaped(body, '$') {
        ""
    } else {
        if let Some(rest) = body.strip_suffix(".*").filter(|r| !ends_unescaped(r, '\\')) {
            body = rest;
        }
        ANY
    };
    format!("{prefix}{body}{suffix}")
}

/// Whether `s` ends with `c` not escaped by a backslash (an even number of them before).
fn ends_unescaped(s: &str, c: char) -> bool {
    let Some(rest) = s.strip_suffix(c) else {
        return false;
    };
    let backslashes = rest.len() - rest.trim_end_matches('\\').len();
    backslashes % 2 == 0
}

/// The matchers of one bailer's `labels`.
fn label_matchers(b: &Bailer, out: &mut String, f: &mut Findings) -> Vec<String> {
    let mut matchers = Vec::new();
    for (name, re, line) in &b.labels {
        let path = format!("{}.labels.{name}", b.place);
        let label = name.to_lowercase();
        if label != *name {
            let message = format!(
                "bailer's config reader (viper) lower-cased the label name {name:?}, so bailer matched the label {label:?}; so does this rule"
            );
            yaml::comment(
                out,
                4,
                &f.note(NoteKind::Differs, &path, Some(*line), message),
            );
        }
        if let Err(e) = regex_syntax::ast::parse::Parser::new().parse(re) {
            f.problem(
                &path,
                Some(*line),
                format!(
                    "invalid regex {re:?}: {}: bailer could never act on an alert with this label",
                    e.kind()
                ),
            );
            continue;
        }
        if let Err(e) = Matcher::new(label.clone(), MatchOp::Regex, re.clone()) {
            f.problem(&path, Some(*line), e.to_string());
            continue;
        }
        let wrapped = anywhere(re);
        let matcher = match Matcher::new(label.clone(), MatchOp::Regex, wrapped) {
            Ok(m) => m,
            Err(e) => {
                f.problem(&path, Some(*line), e.to_string());
                continue;
            }
        };
        if !re.chars().any(|c| "\\.+*?()|[]{}^$".contains(c)) && !re.is_empty() {
            let message = format!(
                "bailer matched {re:?} anywhere in the value (its regexes are unanchored), so {label}=\"xx{re}xx\" matched too; alertrun's regexes match the whole value, so this one is written {}; write {label}=\"{re}\" if you meant exactly that",
                matcher.value()
            );
            yaml::comment(
                out,
                4,
                &f.note(NoteKind::Differs, &path, Some(*line), message),
            );
        }
        matchers.push(matcher.to_string());
        if matcher.matches_value("") {
            // bailer required the label; an absent label is "" to alertrun.
            let present = Matcher::new(label.clone(), MatchOp::NotEqual, String::new())
                .expect("an equality matcher has no regex to fail");
            matchers.push(present.to_string());
        }
    }
    matchers
}

fn render(
    source: ImportSource<'_>,
    options: &BailerOptions,
    head: &[String],
    bailers: &[Bailer],
    f: &mut Findings,
) -> String {
    let mut out = String::new();
    yaml::comment(
        &mut out,
        0,
        &format!(
            "alertrun config imported from bailer ({}) by `alertrun import bailer`. Check it with \
             `alertrun check -c FILE`; see the Job a notification would create with `alertrun \
             explain -c FILE PAYLOAD.json`.",
            source.name
        ),
    );
    yaml::comment(
        &mut out,
        0,
        "Alertmanager: point the webhook receiver's url at http://HOST:9095/webhook (bailer took \
         POST /alert/ on port 3000). alertrun creates the Jobs itself: no Faktory queue or worker. \
         Its Role needs Jobs create, get and delete, pods list, pods/log get and events list in \
         the Jobs' namespace (deploy/README.md).",
    );
    yaml::comment(
        &mut out,
        0,
        "Jobs are named ar-<rule>-<hash of the alert's episode> (bailer: bailer-<alert>-<unix \
         time>), with backoffLimit 0 and restartPolicy Never as bailer's.",
    );
    for comment in head {
        yaml::comment(&mut out, 0, comment);
    }
    out.push_str(
        "\ndefaults:\n  env_style: bailer   # ALERT_<LABEL> for every label, as bailer set them\n",
    );
    match &options.namespace {
        Some(ns) => out.push_str(&format!(
            "  namespace: {}   # bailer's --namespace\n",
            yaml::scalar(ns)
        )),
        None => {
            let message = "bailer ran Jobs in its worker's --namespace (with its Helm chart, the \
                           release's namespace); alertrun uses defaults.namespace, \"default\" \
                           unless you set it here (or import with --namespace NS)";
            yaml::comment(&mut out, 2, &f.note(NoteKind::Differs, "", None, message));
        }
    }
    let message = "bailer's Jobs had no deadline; alertrun sets a Job's activeDeadlineSeconds to \
                   its rule's timeout: raise this one if a Job runs longer";
    yaml::comment(&mut out, 2, &f.note(NoteKind::Differs, "", None, message));
    out.push_str("  timeout: 5m\n\nrules:\n");
    let mut taken = Vec::new();
    for b in bailers {
        render_bailer(b, &mut taken, &mut out, f);
    }
    out
}

fn render_bailer(b: &Bailer, taken: &mut Vec<String>, out: &mut String, f: &mut Findings) {
    let alert = b.alert.as_ref().filter(|(a, _)| !a.is_empty());
    let name = rule_name(alert.map_or("", |(a, _)| a.as_str()), "bailer", taken);
    out.push('\n');
    yaml::comment(out, 2, &format!("{}, line {}", b.place, b.line));
    out.push_str(&format!("  - name: {}\n", yaml::scalar(&name)));
    for comment in &b.comments {
        yaml::comment(out, 4, comment);
    }
    let mut matchers = Vec::new();
    match alert {
        Some((a, line)) => {
            let message = "bailer's code matched `labels` only, not `alert` (its README says a \
                           bailer acts on its alert, and routes only that alert to bailer); \
                           alertrun matches the alertname too: drop that matcher if Alertmanager \
                           sent this bailer other alerts to act on";
            yaml::comment(
                out,
                4,
                &f.note(
                    NoteKind::Differs,
                    &format!("{}.alert", b.place),
                    Some(*line),
                    message,
                ),
            );
            match Matcher::new("alertname", MatchOp::Equal, a.clone()) {
                Ok(m) => matchers.push(m.to_string()),
                Err(e) => f.problem(&format!("{}.alert", b.place), Some(*line), e.to_string()),
            }
        }
        None => {
            let message =
                "no `alert`: this rule acts on every firing alert its labels match, as bailer did";
            yaml::comment(
                out,
                4,
                &f.note(NoteKind::Differs, &b.place, Some(b.line), message),
            );
        }
    }
    matchers.extend(label_matchers(b, out, f));
    if matchers.is_empty() {
        out.push_str(
            "    match: []   # no alert and no labels: every firing alert, as bailer did\n",
        );
    } else {
        out.push_str("    match:\n");
        for m in &matchers {
            out.push_str(&format!("      - {}\n", yaml::scalar(m)));
        }
    }
    let message = "bailer created a new Job for every notification that carried the alert firing \
                   (each repeat_interval, each group change); alertrun creates one per alert \
                   episode: write `repeat: always` for the old behaviour";
    yaml::comment(
        out,
        4,
        &f.note(NoteKind::Differs, &b.place, Some(b.line), message),
    );
    out.push_str("    repeat: once\n");
    out.push_str("    on_resolved_while_running: leave   # bailer never stopped a Job when its alert resolved\n");
    out.push_str("    action:\n      kubernetes:\n");
    if let Some(image) = &b.image {
        out.push_str(&format!("        image: {}\n", yaml::scalar(image)));
    }
    if let Some((a, line)) = alert {
        let container = a.to_lowercase();
        if executor_k8s::is_dns1123_label(&container) {
            out.push_str(&format!(
                "        container_name: {}   # bailer named it after the alert\n",
                yaml::scalar(&container)
            ));
        } else {
            let message = format!(
                "bailer named the container {container:?} (the alert, lower-cased), which Kubernetes refuses as a container name; alertrun names it `action`"
            );
            yaml::comment(
                out,
                8,
                &f.note(
                    NoteKind::NotCarriedOver,
                    &format!("{}.alert", b.place),
                    Some(*line),
                    message,
                ),
            );
        }
    }
    if let Some(sa) = &b.service_account {
        out.push_str(&format!("        service_account: {}\n", yaml::scalar(sa)));
    }
    match b.ttl {
        Some(ttl) => out.push_str(&format!("        ttl_seconds_after_finished: {ttl}\n")),
        None => {
            let message = "no ttlSecondsAfterFinished: bailer's finished Jobs stayed until someone \
                           deleted them; alertrun's default deletes them an hour after they finish \
                           (set ttl_seconds_after_finished)";
            yaml::comment(
                out,
                8,
                &f.note(NoteKind::Differs, &b.place, Some(b.line), message),
            );
        }
    }
    match &b.command {
        Some(command) if !command.is_empty() => {
            out.push_str(&format!("        command: {}\n", yaml::flow_list(command)));
        }
        _ => {
            out.push_str("        # no command: the image's own entrypoint runs, as with bailer\n")
        }
    }
}

#[cfg(test)]
#[path = "bailer_tests.rs"]
mod tests;
