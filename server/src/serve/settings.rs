//! The `server:` settings, which live in the config (`crate::config`, one config tree); this
//! module keeps their old path for the HTTP layer.

pub(crate) use crate::config::{Auth, ServerSettings, StateSettings, check_exposure};
#[cfg(test)]
pub(crate) use crate::config::{Limits, Secret};
