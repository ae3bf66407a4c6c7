//! High availability on the Kubernetes API (`server.ha`): several replicas of `alertrun
//! serve` all take webhooks, and each episode runs on exactly one of them.

mod api_calls;

pub use api_calls::HA_API_CALLS;
