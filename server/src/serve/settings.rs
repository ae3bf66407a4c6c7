//! The `server:` settings, which live in the config (`crate::config`, one config tree); this
//! module keeps their old path for the HTTP layer.

pub use crate::config::{
    Auth, Limits, Secret, ServerSettings, StateSettings, TlsSettings, check_exposure,
    default_header_timeout, default_listen, default_max_alerts, default_max_body_bytes,
    default_max_connections, default_max_queued, default_max_running, default_request_timeout,
    default_shutdown_grace, parse_server,
};
