//! The status page of `alertrun serve`: server-rendered HTML for people on call, who read
//! state in a browser. Five pages, each backed by a JSON endpoint of the API under
//! `/api/v1/` that says the same thing:
//!
//! | page | JSON | what |
//! | --- | --- | --- |
//! | `/status` | `GET /api/v1/status` | version, config and last reload, store, load, pauses, HA role |
//! | `/rules` | `GET /api/v1/rules` | each rule, its load and recent runs |
//! | `/runs` | `GET /api/v1/runs` | the history, filtered and paged on the server, newest first |
//! | `/runs/{id}` | `GET /api/v1/runs/{id}` | one run: timeline, alert, action, outcome, links |
//! | `/approvals` | `GET /api/v1/runs?state=awaiting_approval` | runs waiting for a person |
//!
//! What it is: functions from the data the API already serves to a page ([`html`] escapes
//! every value and lays the page out; [`assets`] holds the one stylesheet and the one small
//! script, built into the binary). What it is not: routing and credentials (the HTTP app's
//! `pages` routes, which admit a request like the API does), nor a second way to change
//! anything: approving and rejecting from the page POST to the API's own routes.
//!
//! Alert content is hostile: every label, annotation, reason and output reaches the page
//! through [`html::Text`] (escaped for text and attribute values), and a URL from an alert
//! (`generatorURL`, Alertmanager's `externalURL`) is linked only when it is `http` or
//! `https`. Links are relative (each page sets `<base>` to the app's root), so the pages work
//! under any path prefix a proxy or `kubectl port-forward` puts them behind. Nothing is
//! fetched from outside: no CDN, no web font, no image.

pub(crate) mod assets;
pub(crate) mod html;
mod pages;
mod run;

pub(crate) use pages::{RuleRow, RunsQuery, approvals, rules, runs, status};
pub(crate) use run::{RunLinks, run};
