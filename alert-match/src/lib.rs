//! Alertmanager's matcher language and alertrun's rule selection.
#![deny(missing_docs)]
#![warn(clippy::print_stdout)]
