//! prometheus-am-executor's command line: `prometheus-am-executor [-l ADDR] [-v] [-f FILE]
//! CMD [ARGS…]`, parsed as Go's `flag` package parses it (flags stop at the first argument
//! that is not one, or after `--`; `-flag value`, `-flag=value`, `--flag` alike), and
//! split, when it comes as text, as a POSIX shell splits it (shlex).

use super::{COMMAND_LINE, TOOL};
use crate::config::Problem;
use crate::import::ImportError;

/// prometheus-am-executor's command line, parsed as Go's `flag` package parses it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandLine {
    /// `-l ADDR`.
    pub listen: Option<String>,
    /// `-v`.
    pub verbose: bool,
    /// `-f FILE`: the YAML config to read as well.
    pub config_file: Option<String>,
    /// `CMD ARGS…` after the flags (empty: none).
    pub command: Vec<String>,
}

impl CommandLine {
    /// Parses the arguments, with or without the program name first.
    ///
    /// # Errors
    /// A flag am-executor does not define, or one missing its value, as it would refuse.
    pub fn parse(args: &[String]) -> Result<Self, ImportError> {
        let mut args = args.iter().peekable();
        if args.peek().is_some_and(|a| names_the_program(a)) {
            args.next();
        }
        let mut line = CommandLine::default();
        let refuse = |message: String| ImportError {
            tool: TOOL,
            problems: vec![Problem {
                path: COMMAND_LINE.to_owned(),
                line: None,
                message,
            }],
        };
        while let Some(arg) = args.next_if(|a| a.starts_with('-') && a.len() > 1) {
            if arg == "--" {
                break;
            }
            let flag = arg.strip_prefix("--").unwrap_or(&arg[1..]);
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (flag, None),
            };
            match name {
                "v" => {
                    line.verbose = match value.as_deref() {
                        None => true,
                        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => true,
                        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => false,
                        Some(v) => {
                            return Err(refuse(format!(
                                "invalid boolean value {v:?} for -v: write -v or -v=false"
                            )));
                        }
                    }
                }
                "l" | "f" => {
                    let Some(value) = value.or_else(|| args.next().cloned()) else {
                        return Err(refuse(format!("flag needs an argument: -{name}")));
                    };
                    if name == "l" {
                        line.listen = Some(value);
                    } else {
                        line.config_file = Some(value);
                    }
                }
                "h" | "help" => {
                    return Err(refuse(format!(
                        "{arg} asks for the usage: give the command line that runs the executor"
                    )));
                }
                _ => {
                    return Err(refuse(format!(
                        "flag provided but not defined: -{name} (prometheus-am-executor knows -f, -l and -v)"
                    )));
                }
            }
        }
        line.command = args.cloned().collect();
        Ok(line)
    }

    /// Parses a command line as a shell reads it (quotes, `\` line continuations, `#`
    /// comments), with an optional leading `exec`.
    ///
    /// # Errors
    /// Unbalanced quotes, or what [`CommandLine::parse`] refuses.
    pub fn parse_text(text: &str) -> Result<Self, ImportError> {
        // A shell drops `\` + line break; shlex would leave an empty word where the next
        // line is indented.
        let Some(mut words) = shlex::split(&text.replace("\\\n", "")) else {
            return Err(ImportError {
                tool: TOOL,
                problems: vec![Problem {
                    path: COMMAND_LINE.to_owned(),
                    line: None,
                    message: "unbalanced quotes or a trailing backslash".to_owned(),
                }],
            });
        };
        if words.first().is_some_and(|w| w == "exec") {
            words.remove(0);
        }
        Self::parse(&words)
    }

    /// Whether `text` holds a command line of prometheus-am-executor (its first word, after
    /// comments and an optional `exec`, names the program) rather than a YAML config.
    pub fn is_command_line(text: &str) -> bool {
        let words = shlex::split(&text.replace("\\\n", "")).unwrap_or_default();
        let mut words = words.iter().skip_while(|w| *w == "exec");
        words.next().is_some_and(|w| names_the_program(w))
    }
}

fn names_the_program(word: &str) -> bool {
    word.rsplit('/')
        .next()
        .is_some_and(|base| base.starts_with(TOOL))
}
