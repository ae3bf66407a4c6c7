//! Socket-less tests of the status page's routes through the whole app, with the control
//! tests' fixed [`Api`](crate::serve::api::Api) and a real store.

use std::collections::BTreeMap;

use crate::serve::http::control::tests::{NoIntake, TOKEN, control, control_under, record};
use crate::store::{ApprovalRecord, Batch, RunState};

/// A notification body as Alertmanager sends it, with hostile content.
const NOTIFICATION: &str = r#"{"version":"4","status":"firing","receiver":"alertrun",
  "externalURL":"http://alertmanager:9093","groupKey":"{}:{}","groupLabels":{},
  "commonLabels":{},"commonAnnotations":{},
  "alerts":[{"status":"firing","labels":{"alertname":"DiskFull"},
    "annotations":{"summary":"<img src=x onerror=alert(1)>"},
    "startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z",
    "generatorURL":"javascript:alert(1)","fingerprint":"d284efc389a5bf32"}]}"#;

/// The control bench with, besides runs 1 to 3: run 7, whose label values are hostile,
/// and run 8, waiting for approval; both from [`NOTIFICATION`] (id 200).
fn bench() -> crate::serve::http::control::tests::Bench {
    let c = control(true);
    let mut hostile = record(7);
    hostile.labels = BTreeMap::from([
        ("alertname".into(), "<script>alert(1)</script>".into()),
        ("path".into(), "\" onmouseover=\"x".into()),
    ]);
    hostile.notification = 200;
    hostile.stdout = "</pre><b>out</b>".into();
    hostile.verdict = Some(crate::store::RunVerdict {
        verdict: crate::lifecycle::VerdictKind::Effective,
        until: 1_700_000_600_000,
        at: Some(1_700_000_300_000),
        resolve_ms: Some(1000),
    });
    let mut waiting = record(8);
    waiting.notification = 200;
    waiting.state = RunState::AwaitingApproval;
    waiting.approval = Some(ApprovalRecord {
        digest: "sha256:00".into(),
        expires_at: 1_900_000_000_000,
        min_approvals: 1,
        decisions: Vec::new(),
    });
    let store = c.api.history.clone().unwrap();
    store
        .commit(&Batch {
            notifications: vec![(200, std::sync::Arc::from(NOTIFICATION.as_bytes()))],
            runs: vec![hostile, waiting],
            ..Batch::default()
        })
        .unwrap();
    c
}

fn body(response: &warp::http::Response<bytes::Bytes>) -> String {
    String::from_utf8(response.body().to_vec()).unwrap()
}

#[tokio::test]
async fn every_page_answers_html_with_a_title_and_no_outside_reference() {
    let c = bench();
    for (path, title) in [
        ("/", "Status - alertrun"),
        ("/status", "Status - alertrun"),
        ("/rules", "Rules - alertrun"),
        ("/runs", "Runs - alertrun"),
        ("/runs/1", "Run 1 - alertrun"),
        ("/approvals", "Approvals - alertrun"),
    ] {
        let response = c.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        let page = body(&response);
        assert!(
            page.contains(&format!("<title>{title}</title>")),
            "{path}: {page}"
        );
        for outside in ["http://", "https://", "//cdn", "@import"] {
            let refs: Vec<&str> = page
                .match_indices(outside)
                .map(|(i, _)| &page[i.saturating_sub(30)..(i + 40).min(page.len())])
                .filter(|around| around.contains("src=") || around.contains("stylesheet"))
                .collect();
            assert!(refs.is_empty(), "{path} loads from outside: {refs:?}");
        }
    }
}

#[tokio::test]
async fn hostile_alert_content_is_escaped_and_unsafe_urls_are_not_linked() {
    let c = bench();
    let page = body(&c.get("/runs/7").await);
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&quot; onmouseover=&quot;x"), "{page}");
    assert!(
        page.contains("&lt;/pre&gt;&lt;b&gt;out&lt;/b&gt;"),
        "{page}"
    );
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "annotation: {page}"
    );
    assert!(!page.contains("javascript:"), "generatorURL linked: {page}");
    // The Alertmanager links carry the labels percent-encoded.
    assert!(
        page.contains("http://alertmanager:9093/#/silences/new?filter=%7B"),
        "{page}"
    );
    let list = body(&c.get("/runs").await);
    assert!(list.contains("&lt;script&gt;"), "{list}");
    assert!(!list.contains("<script>alert"), "{list}");
}

#[tokio::test]
async fn runs_are_filtered_and_paged_on_the_server() {
    let c = bench();
    let page = body(&c.get("/runs?rule=other&state=&alertname=").await);
    assert!(page.contains("href=\"runs/2\""), "{page}");
    assert!(!page.contains("href=\"runs/1\""), "{page}");
    let page = body(&c.get("/runs?limit=2").await);
    assert!(
        page.contains("href=\"runs/8\"") && page.contains("href=\"runs/7\""),
        "{page}"
    );
    assert!(
        page.contains("rel=\"next\" href=\"runs?before=7\""),
        "{page}"
    );
    let older = body(&c.get("/runs?limit=2&before=7").await);
    assert!(
        older.contains("href=\"runs/3\"") && older.contains("href=\"runs/2\""),
        "{older}"
    );
    let by_target = body(
        &c.get("/runs?target=%7Bpath%3D%22%5C%22+onmouseover%3D%5C%22x%22%7D")
            .await,
    );
    assert!(by_target.contains("href=\"runs/7\"") && !by_target.contains("href=\"runs/1\""));
    let bad = c.get("/runs?target=%7Bpath%3D~%22x%22%7D").await;
    assert_eq!(bad.status(), 400);
    assert!(
        body(&bad).contains("is not name=&quot;value&quot;"),
        "{}",
        body(&bad)
    );
    let bad = c.get("/runs?state=exploded").await;
    assert_eq!(bad.status(), 400);
    assert!(body(&bad).contains("invalid state"), "{}", body(&bad));
}

#[tokio::test]
async fn only_a_run_that_has_not_ended_polls() {
    let c = bench();
    assert!(!body(&c.get("/runs/1").await).contains("data-poll"));
    let waiting = body(&c.get("/runs/8").await);
    assert!(waiting.contains("data-poll=\"5\""), "{waiting}");
    assert!(
        waiting.contains("data-decide=\"approve\" data-run=\"8\""),
        "{waiting}"
    );
}

#[tokio::test]
async fn approvals_lists_waiting_runs_with_labelled_buttons() {
    let c = bench();
    let page = body(&c.get("/approvals").await);
    assert!(page.contains("<label for=\"comment-8\">"), "{page}");
    assert!(page.contains("<button type=\"button\" data-decide=\"reject\" data-run=\"8\">"));
    assert!(!page.contains("data-run=\"1\""), "{page}");
}

#[tokio::test]
async fn pages_without_credentials_get_the_sign_in_page_and_no_data() {
    let c = bench();
    for path in ["/", "/rules", "/runs", "/runs/7", "/approvals"] {
        for auth in [None, Some("Bearer wrong")] {
            let response = c.send("GET", path, auth).await;
            assert_eq!(response.status(), 401, "{path}");
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"alertrun\""
            );
            let page = body(&response);
            assert!(page.contains("id=\"token-form\""), "{path}: {page}");
            for data in ["DiskFull", "clean-disk", "alertrun.yaml", "&lt;script"] {
                assert!(!page.contains(data), "{path} shows {data}");
            }
        }
    }
    let response = c.send("GET", "/runs/7", None).await;
    assert!(body(&response).contains("<base href=\"../\">"));
}

#[tokio::test]
async fn assets_are_served_to_anyone_and_unknown_ones_are_404() {
    let c = bench();
    let css = c.send("GET", "/ui/ui.css", None).await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let js = c.send("GET", "/ui/ui.js", None).await;
    assert_eq!(js.status(), 200);
    assert!(
        !body(&js).contains("http"),
        "the script fetches nothing absolute"
    );
    assert_eq!(c.send("GET", "/ui/nope.js", None).await.status(), 404);
}

#[tokio::test]
async fn a_cross_site_post_is_refused_before_it_decides() {
    let c = bench();
    for headers in [
        vec![
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "same-site")],
    ] {
        let mut request = warp::test::request()
            .method("POST")
            .path("/api/v1/runs/8/approve")
            .header("authorization", TOKEN)
            .header("host", "localhost:9095");
        for (k, v) in &headers {
            request = request.header(*k, *v);
        }
        let response = request.reply(&c.routes).await;
        assert_eq!(response.status(), 403, "{headers:?}");
        assert!(
            body(&response).contains("cross-site"),
            "{}",
            body(&response)
        );
    }
    // The same request from the page itself reaches the API (the fake refuses to decide).
    let response = warp::test::request()
        .method("POST")
        .path("/api/v1/runs/8/approve")
        .header("authorization", TOKEN)
        .header("host", "localhost:9095")
        .header("origin", "http://localhost:9095")
        .header("sec-fetch-site", "same-origin")
        .reply(&c.routes)
        .await;
    assert_eq!(response.status(), 409, "{}", body(&response));
}

#[tokio::test]
async fn rules_json_adds_recent_runs_from_the_store() {
    let c = bench();
    let response = c.get("/api/v1/rules").await;
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    let rule = &body["rules"][0];
    assert_eq!(rule["name"], "clean-disk");
    assert_eq!(rule["last_run"]["id"], 8, "{body}");
    // The fixture's runs were created in 2023: none in the last day.
    assert_eq!(rule["runs_last_day"], 0, "{body}");
    // Of clean-disk's runs (1, 3, 7, 8), run 7 was judged effective.
    assert_eq!(
        rule["recent_verdicts"],
        serde_json::json!({"effective": 1}),
        "{body}"
    );
    let page = String::from_utf8(c.get("/rules").await.body().to_vec()).unwrap();
    assert!(page.contains("href=\"runs/8\""), "{page}");
    assert!(
        page.contains("verdicts of the last 100 runs: effective 1"),
        "{page}"
    );
}

#[tokio::test]
async fn a_route_prefix_serves_every_route_under_it_and_nothing_outside() {
    let c = control_under(true, Some("/ops/alertrun"));
    for path in [
        "/ops/alertrun/",
        "/ops/alertrun/status",
        "/ops/alertrun/runs/1",
        "/ops/alertrun/api/v1/rules",
        "/ops/alertrun/-/healthy",
        "/ops/alertrun/ui/ui.js",
    ] {
        assert_eq!(c.get(path).await.status(), 200, "{path}");
    }
    // Links stay relative: the run page's base climbs to the prefix, not to `/`.
    let page = body(&c.get("/ops/alertrun/runs/1").await);
    assert!(page.contains("<base href=\"../\">"), "{page}");
    for path in [
        "/status",
        "/api/v1/rules",
        "/-/healthy",
        "/ops/status",
        "/ops/alertrunx/status",
    ] {
        assert_eq!(c.get(path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn with_basic_auth_the_browser_is_asked_and_no_token_form_is_shown() {
    use crate::config::{Auth, Secret, ServerSettings};
    use crate::serve::http::{Backends, app};
    use warp::Filter as _;
    let c = control(true);
    let settings = ServerSettings {
        auth: Some(Auth::Basic {
            username: "oncall".into(),
            password: Secret::new("pw"),
        }),
        ..ServerSettings::default()
    };
    let backends = Backends::new(std::sync::Arc::new(NoIntake)).with_api(c.api.clone());
    let routes = app(std::sync::Arc::new(settings), backends).map(|r| r);
    let response = warp::test::request().path("/runs").reply(&routes).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Basic realm=\"alertrun\""),
        "{challenge}"
    );
    let page = body(&response);
    assert!(
        !page.contains("token-form") && !page.contains("DiskFull"),
        "{page}"
    );
    // "oncall:pw"
    let response = warp::test::request()
        .path("/runs")
        .header("authorization", "Basic b25jYWxsOnB3")
        .reply(&routes)
        .await;
    assert_eq!(response.status(), 200);
    assert!(body(&response).contains("DiskFull"));
}
