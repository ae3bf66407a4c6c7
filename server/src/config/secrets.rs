//! Reading the config's secrets, or noting the ones not read.
//!
//! A config references secrets: a rule's `secret_env`, `server.auth`'s token or password,
//! `server.approvals`' link secret, `alertmanager`'s credentials, a notify sink's secret,
//! and `server.tls`' files (the key is a secret; the certificate and CA usually sit beside
//! it, so all three count). `serve` needs their values and refuses to start without them
//! ([`Secrets::Required`], what [`Config::load`](super::Config::load) does).
//!
//! `alertrun check` on a workstation or in CI has the config but not the secrets: with
//! [`Secrets::WhenReadable`] a secret that cannot be read (a missing file, an unset
//! variable, no permission) is noted instead of failing the load, and stands in as a
//! placeholder value; one that is read is checked as always (an empty token is still an
//! error). `check --secrets` requires them, for a check on the host that serves.
//!
//! This module only reads; what a secret must look like is the section's business.

use std::path::Path;

use super::server::{Secret, checked_secret};
use super::{Problem, Validator, read_secret_file};

/// Whether loading a config must read every secret it references.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Secrets {
    /// A secret that cannot be read is a problem: what `serve` needs.
    #[default]
    Required,
    /// A secret that cannot be read is noted ([`Config::unread_secrets`](super::Config::unread_secrets))
    /// and replaced by a placeholder: what `check` does by default.
    WhenReadable,
}

/// The value of a secret that was not read: long enough and plain enough to pass every
/// section's checks, and never a working credential.
const PLACEHOLDER: &str = "alertrun-check-did-not-read-this-secret";

impl Validator<'_> {
    /// The secret in `file`, reported at `path`; `what` names it in messages ("token").
    pub(super) fn secret_from_file(
        &mut self,
        path: &str,
        file: &Path,
        what: &str,
    ) -> Result<Secret, String> {
        let value = self.secret_text(path, read_secret_file(file))?;
        checked_secret(&value, what, &format!("file {}", file.display()))
    }

    /// The secret in alertrun's environment variable `name`, reported at `path`.
    pub(super) fn secret_from_env(
        &mut self,
        path: &str,
        name: &str,
        what: &str,
    ) -> Result<Secret, String> {
        let value = self.secret_text(path, env_var(name))?;
        checked_secret(&value, what, &format!("environment variable {name}"))
    }

    /// `read` as it came, or with [`Secrets::WhenReadable`] a failed read noted at `path`
    /// and the placeholder.
    pub(super) fn secret_text(
        &mut self,
        path: &str,
        read: Result<String, String>,
    ) -> Result<String, String> {
        match (read, self.secrets) {
            (Ok(value), _) => Ok(value),
            (Err(message), Secrets::Required) => Err(message),
            (Err(message), Secrets::WhenReadable) => {
                self.note_unread(path, message);
                Ok(PLACEHOLDER.to_owned())
            }
        }
    }

    /// With [`Secrets::WhenReadable`], notes `path` as not read and returns true.
    pub(super) fn note_unread(&mut self, path: &str, message: String) -> bool {
        if self.secrets == Secrets::Required {
            return false;
        }
        let line = self.line(path);
        self.unread.push(Problem {
            path: path.to_owned(),
            line,
            message,
        });
        true
    }
}

/// The value of alertrun's environment variable `name`.
pub(super) fn env_var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|e| match e {
        std::env::VarError::NotPresent => format!("environment variable {name} is not set"),
        std::env::VarError::NotUnicode(_) => {
            format!("environment variable {name} is not valid UTF-8")
        }
    })
}
