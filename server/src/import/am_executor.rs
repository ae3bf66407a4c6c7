//! prometheus-am-executor (imgix/prometheus-am-executor) to alertrun.
//!
//! am-executor runs commands for Alertmanager notifications. Its config comes from a YAML
//! file (`-f`), from its command line (`prometheus-am-executor [-l ADDR] [-v] [-f FILE]
//! CMD [ARGS…]`), or both: the command line's command is added after the file's (unless
//! it equals one of them) and its `-l` wins, as `mergeConfigs` in its `config.go` does.
//!
//! Each command becomes one rule:
//!
//! | am-executor | alertrun |
//! |---|---|
//! | a command per firing notification, with the group's `AMX_*` variables | `mode: per-group`, `env_style: am-executor` (in `defaults`) |
//! | `cmd`, `args` | `action.process.command` (each `$` written `$$`, since alertrun expands `$(VAR)` in argv elements and am-executor did not) |
//! | `match_labels` (equality on the notification's commonLabels) | one `name="value"` matcher each |
//! | `max` (per alert fingerprint) | `concurrency` (per rule) |
//! | `resolved_signal` (default SIGKILL) | `stop_signal` |
//! | `ignore_resolved: true` | `on_resolved_while_running: leave` |
//! | `notify_on_failure` | not carried over: alertrun answers Alertmanager before the command runs |
//! | `listen_address`, `tls_crt` + `tls_key` | `server.listen`, `server.tls` |
//! | `verbose` | not carried over: logging is `RUST_LOG` |
//!
//! What am-executor refuses at start-up, this refuses: a `resolved_signal` it does not know,
//! a value of the wrong type, no command at all, a flag it does not define.

use std::net::{IpAddr, SocketAddr};

use alert_match::{MatchOp, Matcher};

mod command_line;
mod read;

pub use command_line::CommandLine;
use read::{Command, Settings, merge_command_line, read_file};

use super::yaml;
use super::{Findings, ImportError, ImportSource, Imported, NoteKind, rule_name};

const TOOL: &str = "prometheus-am-executor";
/// The top-level keys of its `Config` (config.go).
const TOP_KEYS: [&str; 5] = [
    "listen_address",
    "verbose",
    "tls_key",
    "tls_crt",
    "commands",
];
/// The keys of its `Command` (command.go).
const COMMAND_KEYS: [&str; 7] = [
    "cmd",
    "args",
    "match_labels",
    "max",
    "notify_on_failure",
    "ignore_resolved",
    "resolved_signal",
];
/// The place named in problems and notes about the command line.
const COMMAND_LINE: &str = "command line";

/// What to import: the YAML config (`-f`), the command line, or both.
#[derive(Clone, Copy, Debug, Default)]
pub struct AmExecutorInput<'a> {
    /// The YAML config file's text.
    pub config: Option<ImportSource<'a>>,
    /// The parsed command line (its `-f` is the caller's to read into `config`).
    pub command_line: Option<&'a CommandLine>,
    /// The directory am-executor ran in (its commands' working directory, against which
    /// a relative `cmd` such as `examples/reboot` was found); absolute.
    pub workdir: Option<&'a str>,
}

/// Imports a prometheus-am-executor config and/or command line.
///
/// # Errors
/// [`ImportError`] with every place that am-executor itself would refuse.
///
/// ```
/// use alertrun::{AmExecutorInput, CommandLine, Config, import_am_executor};
///
/// let line = CommandLine::parse_text("prometheus-am-executor -l :8080 /usr/local/bin/reboot")?;
/// let input = AmExecutorInput { command_line: Some(&line), ..AmExecutorInput::default() };
/// let imported = import_am_executor(&input)?;
/// assert!(imported.yaml.contains("command: [/usr/local/bin/reboot]"));
/// Config::from_yaml(&imported.yaml)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn import_am_executor(input: &AmExecutorInput<'_>) -> Result<Imported, ImportError> {
    let mut f = Findings::default();
    let mut settings = Settings::default();
    if let Some(source) = input.config {
        read_file(source.text, &mut settings, &mut f);
    }
    if let Some(line) = input.command_line {
        merge_command_line(line, &mut settings);
    }
    if let Some(dir) = input.workdir.filter(|d| !d.starts_with('/')) {
        f.problem(
            "--workdir",
            None,
            format!("{dir:?} must be an absolute path"),
        );
    }
    if f.problems.is_empty() && settings.commands.is_empty() {
        f.problem(
            "",
            None,
            "no command to import: am-executor refuses to start without one (give `commands:` \
             in the config, or CMD after the flags of the command line)",
        );
    }
    let yaml = render(input, &settings, &mut f);
    f.into_result(TOOL, yaml)
}

/// am-executor's `resolved_signal` as a signal name alertrun takes: its default SIGKILL,
/// a name from its table (upper-cased, with the `SIG` prefix), or a Linux number.
fn signal(text: Option<&str>) -> Result<String, String> {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    let Some(text) = text else {
        return Ok("SIGKILL".to_owned());
    };
    if text.chars().all(|c| c.is_ascii_digit()) {
        return match text.parse::<usize>() {
            Ok(n @ 1..=31) => Ok(format!("SIG{}", NAMES[n - 1])),
            _ => Err(format!(
                "signal number {text} is not a Linux signal (1 to 31)"
            )),
        };
    }
    let upper = text.to_uppercase();
    match upper.strip_prefix("SIG") {
        Some("IOT") => Ok("SIGABRT".to_owned()),
        Some(name) if NAMES.contains(&name) && !matches!(name, "STKFLT" | "PWR") => Ok(upper),
        _ => Err(format!(
            "unknown signal {text:?}: am-executor refuses it (write a name such as SIGUSR1 or SIGTERM, or a number)"
        )),
    }
}

/// `:8080` → `0.0.0.0:8080`; `localhost:80` → `127.0.0.1:80`; an address as it is.
fn listen_address(text: &str) -> Result<SocketAddr, String> {
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err("no port in it".to_owned());
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port {port:?} is not a number alertrun takes"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = match host {
        "" => IpAddr::from([0, 0, 0, 0]),
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        h => h
            .parse()
            .map_err(|_| format!("host {h:?} is a name; alertrun listens on an IP address"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

fn render(input: &AmExecutorInput<'_>, s: &Settings, f: &mut Findings) -> String {
    let mut out = String::new();
    let from = match (input.config, input.command_line) {
        (Some(c), Some(_)) => format!("{} and its command line", c.name),
        (Some(c), None) => c.name.to_owned(),
        (None, _) => "its command line".to_owned(),
    };
    yaml::comment(
        &mut out,
        0,
        &format!(
            "alertrun config imported from prometheus-am-executor ({from}) by `alertrun import am-executor`. \
             Check it with `alertrun check -c FILE`; see what a notification would run with \
             `alertrun explain -c FILE PAYLOAD.json`."
        ),
    );
    yaml::comment(
        &mut out,
        0,
        "Alertmanager: point the webhook receiver's url at http://HOST:PORT/webhook (am-executor took \
         any path) and keep send_resolved: true, so that a resolved group stops its command.",
    );
    yaml::comment(
        &mut out,
        0,
        "Each command gets PATH, the AMX_* variables and the group as JSON on its standard input; \
         am-executor also passed its own whole environment: list what a command needs under \
         action.process.pass_env.",
    );
    if input.workdir.is_none() {
        let message = "am-executor ran its commands in its own working directory; alertrun runs \
                       them in its own unless action.process.workdir says otherwise (import \
                       with --workdir DIR to set it)";
        yaml::comment(
            &mut out,
            0,
            &f.note(NoteKind::NotCarriedOver, "", None, message),
        );
    }
    for comment in &s.comments {
        yaml::comment(&mut out, 0, comment);
    }
    render_server(s, &mut out, f);
    out.push_str("\ndefaults:\n");
    out.push_str("  env_style: am-executor   # the AMX_* variables am-executor set\n");
    yaml::comment(
        &mut out,
        2,
        &f.note(
            NoteKind::Differs,
            "",
            None,
            "am-executor let a command run until it ended (or its alert resolved); alertrun stops it \
             at its timeout: raise this one if a command runs longer",
        ),
    );
    out.push_str("  timeout: 5m\n\n");
    out.push_str("rules:\n");
    let mut taken = Vec::new();
    for c in &s.commands {
        render_command(c, input.workdir, &mut taken, &mut out, f);
    }
    out
}

fn render_server(s: &Settings, out: &mut String, f: &mut Findings) {
    out.push_str("\nserver:\n");
    let (text, origin, line) = s
        .listen
        .clone()
        .unwrap_or_else(|| (":8080".to_owned(), "am-executor's default".to_owned(), None));
    match listen_address(&text) {
        Ok(addr) => {
            out.push_str(&format!(
                "  listen: {}   # from {origin} {text:?}\n",
                yaml::scalar(&addr.to_string())
            ));
            if !addr.ip().is_loopback() {
                let message = "am-executor served this address to anyone; alertrun refuses a \
                               non-loopback address without server.auth (give Alertmanager the \
                               same credentials in its http_config), or starts with \
                               --insecure-no-auth, which is what am-executor did";
                yaml::comment(out, 2, &f.note(NoteKind::Differs, &origin, line, message));
            }
        }
        Err(why) => {
            let message = format!(
                "listen address {text:?}: {why}; alertrun listens on 127.0.0.1:9095 unless server.listen says otherwise"
            );
            yaml::comment(
                out,
                2,
                &f.note(NoteKind::NotCarriedOver, &origin, line, message),
            );
        }
    }
    match (&s.tls_crt, &s.tls_key) {
        (Some((crt, _)), Some((key, _))) if !crt.is_empty() && !key.is_empty() => {
            out.push_str(&format!(
                "  tls: {{cert_file: {}, key_file: {}}}   # from tls_crt and tls_key\n",
                yaml::scalar(crt),
                yaml::scalar(key)
            ));
        }
        (None, None) => {}
        (crt, key) => {
            let (field, line) = match (crt, key) {
                (Some((_, l)), _) => ("tls_crt", *l),
                (_, Some((_, l))) => ("tls_key", *l),
                _ => ("tls_crt", None),
            };
            let message = "am-executor serves TLS only with both tls_crt and tls_key, so it served plain HTTP; so does alertrun";
            yaml::comment(
                out,
                2,
                &f.note(NoteKind::NotCarriedOver, field, line, message),
            );
        }
    }
    if let Some((field, line)) = &s.verbose {
        let message = "verbose logging: alertrun logs every run at info; set RUST_LOG=alertrun=debug for more";
        yaml::comment(
            out,
            0,
            &f.note(NoteKind::NotCarriedOver, field, *line, message),
        );
    }
}

fn render_command(
    c: &Command,
    workdir: Option<&str>,
    taken: &mut Vec<String>,
    out: &mut String,
    f: &mut Findings,
) {
    let base = c.cmd.rsplit('/').next().unwrap_or_default();
    let name = rule_name(base, "command", taken);
    let mut shown = vec![c.cmd.clone()];
    shown.extend(c.args.iter().cloned());
    let at = c.line.map(|l| format!(", line {l}")).unwrap_or_default();
    out.push('\n');
    yaml::comment(out, 2, &format!("{}{at}: {}", c.place, shown.join(" ")));
    out.push_str(&format!("  - name: {}\n", yaml::scalar(&name)));
    for comment in &c.comments {
        yaml::comment(out, 4, comment);
    }
    out.push_str("    mode: per-group   # once per notification, with the group's data, as am-executor ran it\n");
    let mut matchers = Vec::new();
    let mut never = false;
    for (label, value, line) in &c.match_labels {
        let path = c.path(&format!("match_labels.{label}"));
        if value.is_empty() {
            never = true;
            let message = format!(
                "match_labels {label:?} with an empty value: am-executor wanted the label present \
                 and empty, which Alertmanager never sends (it drops empty labels), so this command \
                 never ran; the rule is written disabled, since {label}=\"\" in alertrun matches \
                 every alert without the label"
            );
            yaml::comment(out, 4, &f.note(NoteKind::Differs, &path, *line, message));
        }
        match Matcher::new(label.clone(), MatchOp::Equal, value.clone()) {
            Ok(m) => matchers.push(m.to_string()),
            Err(e) => f.problem(&path, *line, e.to_string()),
        }
    }
    if never {
        out.push_str("    enabled: false\n");
    }
    if !matchers.is_empty() {
        let message = "am-executor compared match_labels with the group's commonLabels (every alert \
                       of the notification has them); alertrun runs a per-group rule when at least \
                       one alert matches: the same when Alertmanager's route groups by these labels \
                       (group_by)";
        yaml::comment(
            out,
            4,
            &f.note(NoteKind::Differs, &c.path("match_labels"), c.line, message),
        );
        out.push_str("    match:\n");
        for m in &matchers {
            out.push_str(&format!("      - {}\n", yaml::scalar(m)));
        }
    }
    let message = "am-executor ran the command for every firing notification: each repeat_interval, \
                   each group change, and again when Alertmanager retried after a failure; alertrun \
                   runs it once per group state (the same alerts in the same states): write `repeat: \
                   always` for the old behaviour";
    yaml::comment(
        out,
        4,
        &f.note(NoteKind::Differs, &c.place, c.line, message),
    );
    out.push_str("    repeat: once\n");
    if c.max > 0 {
        let message = "am-executor counted max per alert (the fingerprint of the group's first alert \
                       with the match_labels); alertrun's concurrency counts every run of the rule";
        yaml::comment(
            out,
            4,
            &f.note(NoteKind::Differs, &c.path("max"), c.line, message),
        );
        out.push_str(&format!("    concurrency: {}   # from max\n", c.max));
    }
    render_resolve(c, out, f);
    if c.notify_on_failure != Some(false) {
        let message = "notify_on_failure (am-executor's default: true) answered Alertmanager 500 when \
                       the command failed, so that Alertmanager sent the notification again; alertrun \
                       answers once the run is queued and records the failure (`alertrun runs --state \
                       failed`; a notify sink with the `finished` event tells people)";
        yaml::comment(
            out,
            4,
            &f.note(
                NoteKind::NotCarriedOver,
                &c.path("notify_on_failure"),
                c.line,
                message,
            ),
        );
    }
    let cmd = match workdir {
        _ if c.cmd.starts_with('/') || !c.cmd.contains('/') => c.cmd.clone(),
        Some(dir) => format!(
            "{}/{}",
            dir.trim_end_matches('/'),
            c.cmd.trim_start_matches("./")
        ),
        None => {
            let path = c.path("cmd");
            let message = format!(
                "{:?} is relative to the directory am-executor ran in; alertrun needs an absolute \
                 path or a program name: import with --workdir DIR (that directory)",
                c.cmd
            );
            f.problem(&path, c.line, message);
            c.cmd.clone()
        }
    };
    let mut argv = vec![cmd.as_str()];
    argv.extend(c.args.iter().map(String::as_str));
    let escaped: Vec<String> = argv.iter().map(|a| a.replace('$', "$$")).collect();
    out.push_str("    action:\n      process:\n");
    if escaped.iter().zip(&argv).any(|(e, a)| e != a) {
        yaml::comment(
            out,
            8,
            "each `$` is written `$$`: alertrun expands $(VAR) in argv elements, am-executor passed them as they were",
        );
    }
    out.push_str(&format!("        command: {}\n", yaml::flow_list(&escaped)));
    if let Some(dir) = workdir {
        out.push_str(&format!(
            "        workdir: {}   # where am-executor ran\n",
            yaml::scalar(dir)
        ));
    }
}

fn render_resolve(c: &Command, out: &mut String, f: &mut Findings) {
    let signal_line = c.resolved_signal.as_ref().and_then(|(_, l)| *l).or(c.line);
    let signal_text = c.resolved_signal.as_ref().map(|(s, _)| s.as_str());
    if c.ignore_resolved == Some(true) {
        out.push_str("    on_resolved_while_running: leave   # from ignore_resolved: true\n");
        if signal_text.is_some() {
            let message = "resolved_signal is not used with ignore_resolved: true (am-executor warned the same)";
            yaml::comment(
                out,
                4,
                &f.note(
                    NoteKind::NotCarriedOver,
                    &c.path("resolved_signal"),
                    signal_line,
                    message,
                ),
            );
        }
        return;
    }
    match signal(signal_text) {
        Ok(sig) => {
            let origin = if signal_text.is_some() {
                "from resolved_signal"
            } else {
                "am-executor's default"
            };
            let message = "am-executor signalled the command's process when its group resolved; \
                           alertrun signals its process group, then SIGKILL after stop_grace";
            yaml::comment(
                out,
                4,
                &f.note(
                    NoteKind::Differs,
                    &c.path("resolved_signal"),
                    signal_line,
                    message,
                ),
            );
            out.push_str(&format!("    stop_signal: {sig}   # {origin}\n"));
        }
        Err(message) => f.problem(&c.path("resolved_signal"), signal_line, message),
    }
}

#[cfg(test)]
#[path = "am_executor_tests.rs"]
mod tests;
