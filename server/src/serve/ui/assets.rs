//! The status page's stylesheet and script, built into the binary: served at `/ui/ui.css`
//! and `/ui/ui.js` to anyone (they hold no data), cached by the browser for an hour.

/// `/ui/ui.css`.
pub(crate) const CSS: &str = include_str!("ui.css");
/// `/ui/ui.js`: signs in with a bearer token, approves and rejects, reloads a run that has
/// not ended.
pub(crate) const JS: &str = include_str!("ui.js");

/// The asset named `name` (the path after `/ui/`), with its content type.
pub(crate) fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "ui.css" => Some(("text/css; charset=utf-8", CSS)),
        "ui.js" => Some(("text/javascript; charset=utf-8", JS)),
        _ => None,
    }
}
