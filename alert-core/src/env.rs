//! The env contract (placeholder, filled in next).

/// One environment variable handed to an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value, raw.
    pub value: String,
    /// Whether the value must never be logged.
    pub secret: bool,
}
