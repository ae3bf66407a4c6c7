//! `alertrun import`: reads the old tool's files, runs the pure importer
//! (`alertrun::import_am_executor`, `alertrun::import_bailer`), writes the config and says
//! what was not carried over.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::output::{err, out};
use alertrun::{
    AmExecutorInput, BailerOptions, CommandLine, ImportError, ImportSource, Imported, NoteKind,
    import_am_executor, import_bailer,
};
use anyhow::Context as _;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub(super) enum ImportTool {
    /// prometheus-am-executor: its YAML config (`-f`), or a file holding its command line
    /// (`prometheus-am-executor -l :8080 CMD ARGS…`), and/or `--command-line ARGS…`.
    #[command(after_help = "Examples:
  alertrun import am-executor executor.yml -o alertrun.yaml
  alertrun import am-executor --workdir /opt/amx --command-line -l :8080 scripts/reboot

README: \"Coming from prometheus-am-executor or bailer\".")]
    AmExecutor {
        /// Its YAML config, or a file holding its command line (shell quoting, `\` line
        /// continuations and `#` comments are read as a shell reads them).
        #[arg(required_unless_present = "command_line")]
        file: Option<PathBuf>,
        /// Its command line (flags, then CMD and ARGS), with or without the program name;
        /// give it last: every argument after it is part of it.
        #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "ARG")]
        command_line: Option<Vec<String>>,
        /// The directory am-executor ran in: its commands' working directory, against which
        /// a relative command such as `examples/reboot` was found.
        #[arg(long)]
        workdir: Option<String>,
        /// Write the config to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// bailer: its config file (`bailers:`), or its Helm chart's values file.
    #[command(after_help = "Example:
  alertrun import bailer config.yaml --namespace remediation -o alertrun.yaml

README: \"Coming from prometheus-am-executor or bailer\".")]
    Bailer {
        /// The config file.
        file: PathBuf,
        /// The namespace bailer ran Jobs in (its worker's `--namespace`; with its Helm
        /// chart, the release's namespace).
        #[arg(long)]
        namespace: Option<String>,
        /// Write the config to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

pub(super) fn run(tool: ImportTool) -> anyhow::Result<ExitCode> {
    match tool {
        ImportTool::AmExecutor {
            file,
            command_line,
            workdir,
            output,
        } => {
            let (input, result) =
                am_executor(file.as_deref(), command_line.as_deref(), workdir.as_deref())?;
            finish(&input, result, output.as_deref())
        }
        ImportTool::Bailer {
            file,
            namespace,
            output,
        } => {
            let text = read(&file)?;
            let name = file.display().to_string();
            let source = ImportSource {
                name: &name,
                text: &text,
            };
            let result = import_bailer(source, &BailerOptions { namespace });
            finish(&name, result, output.as_deref())
        }
    }
}

/// Reads what am-executor would read: FILE (a config or a command line), the command
/// line's `-f` config.
fn am_executor(
    file: Option<&Path>,
    args: Option<&[String]>,
    workdir: Option<&str>,
) -> anyhow::Result<(String, Result<Imported, ImportError>)> {
    let mut config: Option<(String, String)> = None;
    let mut line: Option<CommandLine> = None;
    if let Some(file) = file {
        let text = read(file)?;
        if CommandLine::is_command_line(&text) {
            match CommandLine::parse_text(&text) {
                Ok(l) => line = Some(l),
                Err(e) => return Ok((display(Some(file)), Err(e))),
            }
        } else {
            config = Some((file.display().to_string(), text));
        }
    }
    if let Some(args) = args {
        if line.is_some() {
            anyhow::bail!(
                "{} holds a command line already: give it or --command-line, not both",
                display(file)
            );
        }
        match CommandLine::parse(args) {
            Ok(l) => line = Some(l),
            Err(e) => return Ok((display(None), Err(e))),
        }
    }
    if let Some(path) = line.as_ref().and_then(|l| l.config_file.clone()) {
        if let Some((name, _)) = &config {
            anyhow::bail!("both {name} and the command line's -f {path} are configs: give one");
        }
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {path}, which the command line's -f names (a path from this directory)"
            )
        })?;
        config = Some((path, text));
    }
    let input = match (&config, file) {
        (Some((name, _)), _) => name.clone(),
        (None, file) => display(file),
    };
    let result = import_am_executor(&AmExecutorInput {
        config: config
            .as_ref()
            .map(|(name, text)| ImportSource { name, text }),
        command_line: line.as_ref(),
        workdir,
    });
    Ok((input, result))
}

fn display(file: Option<&Path>) -> String {
    file.map_or_else(|| "--command-line".to_owned(), |f| f.display().to_string())
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes the config (or says why there is none) and what the reader must know.
fn finish(
    input: &str,
    result: Result<Imported, ImportError>,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let imported = match result {
        Ok(imported) => imported,
        Err(e) => {
            err!("{input}: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match output {
        Some(path) => std::fs::write(path, &imported.yaml)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out!("{}", imported.yaml),
    }
    let differs = imported
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::Differs)
        .count();
    for note in imported
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::NotCarriedOver)
    {
        err!("{input}: {note}");
    }
    err!(
        "{input}: imported; {differs} differences from the old behaviour are explained in the config's `# differs` comments"
    );
    if let Some(path) = output {
        err!("next: alertrun check -c {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
