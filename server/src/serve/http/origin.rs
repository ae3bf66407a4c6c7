//! Refuses a control POST that a browser sent from another site: cross-site request
//! forgery against a browser that holds the credentials (basic auth, which a browser
//! resends by itself; a bearer token it never does).
//!
//! Browsers say where a request comes from: `Sec-Fetch-Site` (every current browser) and
//! `Origin` (on every cross-origin POST). A request with `Sec-Fetch-Site` other than
//! `same-origin` or `none` (typed by the user), or with an `Origin` whose host is not the
//! request's `Host`, is refused. A request with neither header is not from a browser's
//! page (the CLI, curl, a script) and passes: those cannot be forged by a web page.

use warp::http::HeaderMap;
use warp::http::header::{HOST, ORIGIN};

/// Checks that `headers` are not those of a cross-site browser request; the error says
/// which header showed it.
pub(super) fn same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return Err("Sec-Fetch-Site is not same-origin");
    }
    if let Some(origin) = get(ORIGIN.as_str()) {
        let host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        let same =
            host.is_some_and(|h| get(HOST.as_str()).is_some_and(|own| h.eq_ignore_ascii_case(own)));
        if !same {
            return Err("Origin is not this server");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_site_browser_posts_are_refused_and_others_pass() {
        /// A case: its name, the request's headers, whether it passes.
        type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let rows: [Row<'_>; 8] = [
            (
                "cli or curl: no browser headers",
                &[("host", "a:9095")],
                true,
            ),
            (
                "same-origin fetch",
                &[
                    ("host", "a:9095"),
                    ("origin", "http://a:9095"),
                    ("sec-fetch-site", "same-origin"),
                ],
                true,
            ),
            (
                "cross-site form",
                &[
                    ("host", "a:9095"),
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "cross-site"),
                ],
                false,
            ),
            (
                "same-site sibling",
                &[("host", "a:9095"), ("sec-fetch-site", "same-site")],
                false,
            ),
            (
                "old browser, foreign origin",
                &[("host", "a:9095"), ("origin", "http://evil.example")],
                false,
            ),
            (
                "opaque origin",
                &[("host", "a:9095"), ("origin", "null")],
                false,
            ),
            (
                "origin, other port",
                &[("host", "a:9095"), ("origin", "http://a:9096")],
                false,
            ),
            (
                "typed by the user",
                &[("host", "a:9095"), ("sec-fetch-site", "none")],
                true,
            ),
        ];
        for (name, pairs, ok) in rows {
            let mut headers = HeaderMap::new();
            for (k, v) in pairs {
                headers.insert(*k, v.parse().unwrap());
            }
            assert_eq!(same_origin(&headers).is_ok(), ok, "{name}");
        }
    }
}
