//! `alertrun serve`: the webhook server, dispatch and the running of actions.

pub mod intake;
