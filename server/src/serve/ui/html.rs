//! HTML escaping and the layout every page shares.
//!
//! [`Text`] is the only way a value reaches a page: it escapes `&`, `<`, `>`, `"` and `'`,
//! which makes a value safe both as element text and inside a double- or single-quoted
//! attribute. [`Layout`] writes the document around a page's body: title, `<base>` (so
//! every link is relative to the app's root, whatever prefix it is served under), the
//! navigation, the stylesheet and the script.

use std::fmt::{self, Display, Write as _};

/// A value written into HTML, escaped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Text<'a>(pub(crate) &'a str);

impl Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// `url` when it may be linked: `http` or `https` only (an alert's `generatorURL` could
/// be `javascript:`).
pub(crate) fn safe_url(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then_some(url)
}

/// `pairs` as a URL query (`a=1&b=x%20y`), percent-encoded; write it through [`Text`].
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// A time in unix milliseconds as RFC 3339 (UTC, seconds), or `-` when out of range.
pub(crate) fn time(ms: i64) -> String {
    u64::try_from(ms)
        .ok()
        .map(|ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
        .map_or_else(
            || "-".to_owned(),
            |t| humantime::format_rfc3339_seconds(t).to_string(),
        )
}

/// A duration in milliseconds, short: `850ms`, `12.3s`, `4m5s`.
pub(crate) fn duration(ms: i64) -> String {
    match ms {
        ..0 => "-".to_owned(),
        0..1000 => format!("{ms}ms"),
        1000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => humantime::format_duration(std::time::Duration::from_secs(
            u64::try_from(ms / 1000).unwrap_or(0),
        ))
        .to_string()
        .replace(' ', ""),
    }
}

/// A run's state as a badge, coloured by the stylesheet.
pub(crate) fn state_badge(state: &str) -> String {
    format!("<span class=\"state s-{0}\">{0}</span>", Text(state))
}

/// The pages of the navigation, in order.
const NAV: [(&str, &str); 5] = [
    ("status", "Status"),
    ("rules", "Rules"),
    ("runs", "Runs"),
    ("approvals", "Approvals"),
    ("api/v1/status", "API"),
];

/// A page: its title, where it is, and its body.
#[derive(Debug)]
pub(crate) struct Layout<'a> {
    /// The `<title>` and `<h1>`.
    pub(crate) title: &'a str,
    /// Path segments below the root (`runs/42` is 1 deep): `<base>` climbs back up.
    pub(crate) depth: usize,
    /// The navigation entry to mark current.
    pub(crate) current: &'a str,
    /// Reload the page after this many seconds (a run that has not ended); none: never.
    pub(crate) poll_seconds: Option<u32>,
}

impl Layout<'_> {
    /// The whole document around `body` (already HTML).
    pub(crate) fn render(&self, body: &str) -> String {
        let base = if self.depth == 0 {
            "./".to_owned()
        } else {
            "../".repeat(self.depth)
        };
        let poll = self
            .poll_seconds
            .map(|s| format!(" data-poll=\"{s}\""))
            .unwrap_or_default();
        let mut nav = String::new();
        for (href, name) in NAV {
            let current = if href == self.current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(nav, "<a href=\"{href}\"{current}>{name}</a>");
        }
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <base href=\"{base}\"><title>{title} - alertrun</title>\
             <link rel=\"stylesheet\" href=\"ui/ui.css\"><script src=\"ui/ui.js\" defer></script>\
             </head><body{poll}><header><nav aria-label=\"main\"><span class=\"brand\">alertrun</span>{nav}</nav></header>\
             <main id=\"main\"><h1>{title}</h1>\n{body}</main></body></html>\n",
            title = Text(self.title),
        )
    }
}

/// The page a browser gets without credentials: no data, only a way to give them. With
/// `basic` auth the browser asks for them itself (the 401's `WWW-Authenticate`); with a
/// bearer token the script asks for the token, keeps it in `sessionStorage` (this tab, until
/// it closes) and loads the page again with it in the `Authorization` header.
pub(crate) fn sign_in(depth: usize, bearer: bool) -> String {
    let body = if bearer {
        "<p>This server asks for its bearer token (<code>server.auth</code>). It is kept in this \
         tab only (sessionStorage) and sent in the Authorization header.</p>\
         <form id=\"token-form\"><label for=\"token\">Bearer token</label> \
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required> \
         <button type=\"submit\">Sign in</button></form><p id=\"token-error\" role=\"alert\"></p>"
    } else {
        "<p>This server asks for a user name and password (<code>server.auth.basic</code>): \
         reload the page to be asked again.</p>"
    };
    Layout {
        title: "Sign in",
        depth,
        current: "",
        poll_seconds: None,
    }
    .render(&format!("<div data-sign-in=\"{bearer}\">{body}</div>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_what_html_and_attributes_give_meaning_to() {
        let rows = [
            ("plain", "DiskFull", "DiskFull"),
            (
                "script",
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            (
                "attribute break-out",
                "\" onmouseover='x'",
                "&quot; onmouseover=&#39;x&#39;",
            ),
            ("entity", "a&amp;b", "a&amp;amp;b"),
            ("unicode", "päth ✓", "päth ✓"),
        ];
        for (name, input, want) in rows {
            assert_eq!(Text(input).to_string(), want, "{name}");
        }
    }

    #[test]
    fn only_http_urls_are_linked() {
        let rows = [
            ("http://prometheus:9090/graph?g0.expr=up", true),
            ("HTTPS://am.example.com", true),
            ("javascript:alert(1)", false),
            ("data:text/html,x", false),
            ("//evil.example", false),
            ("", false),
        ];
        for (url, linked) in rows {
            assert_eq!(safe_url(url).is_some(), linked, "{url}");
        }
    }

    #[test]
    fn durations_are_short() {
        let rows = [
            (850, "850ms"),
            (12_300, "12.3s"),
            (245_000, "4m5s"),
            (-1, "-"),
        ];
        for (ms, want) in rows {
            assert_eq!(duration(ms), want, "{ms}");
        }
    }

    #[test]
    fn the_base_climbs_back_to_the_root() {
        let page = |depth| {
            Layout {
                title: "x",
                depth,
                current: "runs",
                poll_seconds: None,
            }
            .render("")
        };
        assert!(page(0).contains("<base href=\"./\">"));
        assert!(page(1).contains("<base href=\"../\">"));
        assert!(page(0).contains("<a href=\"runs\" aria-current=\"page\">Runs</a>"));
    }
}
