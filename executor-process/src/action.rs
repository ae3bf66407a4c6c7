//! A rule's process action, as configured.

use std::path::PathBuf;

use alert_core::env::EnvVar;
use alert_core::expand::expand;
use serde::Deserialize;

/// A local command to run for an alert.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawProcessAction")]
pub struct ProcessAction {
    command: Vec<String>,
    workdir: Option<PathBuf>,
    pass_env: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcessAction {
    command: Vec<String>,
    #[serde(default)]
    workdir: Option<PathBuf>,
    #[serde(default)]
    pass_env: Vec<String>,
}

/// A process action that cannot be run as configured.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// `command` is empty.
    #[error("command is empty: give the program and its arguments as a list")]
    EmptyCommand,
    /// The program is not an absolute path or a bare name.
    #[error("command[0] {0:?} must be an absolute path or a program name looked up in PATH")]
    BadProgram(String),
    /// An argument holds a NUL byte.
    #[error("command[{index}] contains a NUL byte")]
    Nul {
        /// Which element.
        index: usize,
    },
    /// The working directory is not absolute.
    #[error("workdir {0:?} must be an absolute path")]
    RelativeWorkdir(PathBuf),
    /// A `pass_env` entry is not a valid variable name.
    #[error("pass_env entry {0:?} is not a variable name")]
    BadPassEnv(String),
}

impl TryFrom<RawProcessAction> for ProcessAction {
    type Error = ActionError;

    fn try_from(raw: RawProcessAction) -> Result<Self, ActionError> {
        let mut action = Self::new(raw.command)?;
        if let Some(dir) = raw.workdir {
            action = action.with_workdir(dir)?;
        }
        action.with_pass_env(raw.pass_env)
    }
}

impl ProcessAction {
    /// An action running `command` (program first), with no workdir and no passed env.
    ///
    /// # Errors
    /// [`ActionError`] when the command is empty, an element holds NUL, or the program is
    /// a relative path such as `./x` (which would depend on alertrun's working directory).
    pub fn new(command: Vec<String>) -> Result<Self, ActionError> {
        let program = command.first().ok_or(ActionError::EmptyCommand)?;
        if program.is_empty() || (program.contains('/') && !program.starts_with('/')) {
            return Err(ActionError::BadProgram(program.clone()));
        }
        if let Some(index) = command.iter().position(|a| a.contains('\0')) {
            return Err(ActionError::Nul { index });
        }
        Ok(Self {
            command,
            workdir: None,
            pass_env: Vec::new(),
        })
    }

    /// The same action, run in `dir`.
    ///
    /// # Errors
    /// [`ActionError::RelativeWorkdir`] when `dir` is not absolute.
    pub fn with_workdir(mut self, dir: impl Into<PathBuf>) -> Result<Self, ActionError> {
        let dir = dir.into();
        if !dir.is_absolute() {
            return Err(ActionError::RelativeWorkdir(dir));
        }
        self.workdir = Some(dir);
        Ok(self)
    }

    /// The same action, also passed these of alertrun's own variables (besides `PATH`).
    ///
    /// # Errors
    /// [`ActionError::BadPassEnv`] when a name is empty or holds `=` or NUL.
    pub fn with_pass_env(mut self, names: Vec<String>) -> Result<Self, ActionError> {
        if let Some(bad) = names
            .iter()
            .find(|n| n.is_empty() || n.contains(['=', '\0']))
        {
            return Err(ActionError::BadPassEnv(bad.clone()));
        }
        self.pass_env = names;
        Ok(self)
    }

    /// The configured command, before expansion.
    pub fn command(&self) -> &[String] {
        &self.command
    }

    /// The working directory, if set.
    pub fn workdir(&self) -> Option<&std::path::Path> {
        self.workdir.as_deref()
    }

    /// Names of alertrun's own variables passed through to the action (besides `PATH`).
    pub fn pass_env(&self) -> &[String] {
        &self.pass_env
    }

    /// The argv to spawn: each element with `$(VAR)` expanded from `env` by Kubernetes'
    /// rules. The program itself is expanded too; every element stays one argument.
    pub fn argv(&self, env: &[EnvVar]) -> Vec<String> {
        let lookup = |name: &str| env.iter().find(|v| v.name == name).map(|v| v.value.clone());
        self.command.iter().map(|arg| expand(arg, lookup)).collect()
    }

    /// The argv as errors and logs show it: [`ProcessAction::argv`] with every secret
    /// value (a variable marked [`secret`](EnvVar::secret)) written `<redacted>`.
    pub fn shown_argv(&self, env: &[EnvVar]) -> Vec<String> {
        let lookup = |name: &str| {
            env.iter()
                .find(|v| v.name == name)
                .map(|v| v.shown_value().to_owned())
        };
        self.command.iter().map(|arg| expand(arg, lookup)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_element_stays_one_argument() {
        let a =
            ProcessAction::new(vec!["/bin/echo".into(), "$(V)".into(), "x$$(V)".into()]).unwrap();
        let env = [EnvVar::new("V", "a b\n'c' $(HOME) ; |")];
        assert_eq!(a.argv(&env), ["/bin/echo", "a b\n'c' $(HOME) ; |", "x$(V)"]);
    }

    #[test]
    fn shown_argv_redacts_secret_values() {
        let a = ProcessAction::new(vec!["/opt/$(KEY)/run".into(), "--to=$(V)".into()]).unwrap();
        let env = [
            EnvVar::new("V", "shown"),
            EnvVar {
                name: "KEY".into(),
                value: "s3cret".into(),
                secret: true,
            },
        ];
        assert_eq!(a.argv(&env), ["/opt/s3cret/run", "--to=shown"]);
        assert_eq!(a.shown_argv(&env), ["/opt/<redacted>/run", "--to=shown"]);
    }

    #[test]
    fn bad_commands_are_refused() {
        for (command, want) in [
            (vec![], "command is empty"),
            (
                vec!["./run".to_string()],
                "command[0] \"./run\" must be an absolute path",
            ),
            (vec!["".to_string()], "command[0] \"\" must be"),
            (
                vec!["/bin/x".to_string(), "a\0b".to_string()],
                "command[1] contains a NUL byte",
            ),
        ] {
            let e = ProcessAction::new(command).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
