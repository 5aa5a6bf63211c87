//! Router tests: every route and every error answer, through the real router, the
//! real supervision loop and real processes (`sleep`), with `oneshot` requests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

use super::*;
use crate::config::Config;
use crate::events::ProbeResult;
use crate::supervisor::ProbeRunner;

const FULL: &str = "full-token-0123456789";
const READ: &str = "read-token-0123456789";

struct NoProbes;

impl ProbeRunner for NoProbes {
    fn run(
        &self,
        _: Arc<crate::config::ProgramSpec>,
        _: Option<u16>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ProbeResult> + Send>> {
        Box::pin(async {
            ProbeResult {
                ok: true,
                message: "no probe".into(),
                duration: Duration::ZERO,
                at: SystemTime::now(),
            }
        })
    }
}

struct Api {
    router: Router,
    handle: Handle,
    _dir: tempfile::TempDir,
}

/// A warden's router over two sleeping programs `web` and `worker`, with `server`
/// lines added to `[server]`.
async fn api(server: &str) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[server]\n{server}\n[supervisor]\ndata_dir = \"{d}/data\"\n[logs]\ndir = \"{d}/logs\"\n\
         [[program]]\nname = \"web\"\ncommand = \"sh\"\nargs = [\"-c\", \"echo '<b>hello</b> sk-live-abcdef'; exec sleep 1000\"]\n\
         env = {{ OPENAI_API_KEY = \"sk-live-abcdef\", MODE = \"fast\" }}\nstop_timeout = \"5s\"\nrestart = \"never\"\n\
         [[program]]\nname = \"worker\"\ncommand = \"sh\"\nargs = [\"-c\", \"trap '' TERM; exec sleep 1000\"]\nstop_timeout = \"3s\"\nrestart = \"never\"\n",
        d = dir.path().display()
    );
    let config: Config = crate::config::parse(&text, std::path::Path::new("w.toml"), &|_| None).unwrap();
    let gate = Arc::new(RwLock::new(Arc::new(Gate::new(&config, None).unwrap())));
    let (handle, _loop) = crate::supervisor::start(config.clone(), crate::testing::reaper(), None, Arc::new(NoProbes));
    let (reload, mut requests) = mpsc::channel::<MainRequest>(1);
    tokio::spawn(async move {
        while let Some(request) = requests.recv().await {
            match request {
                MainRequest::Reload(reply) => {
                    let _ = reply.send(Err(vec!["w.toml:3:9: invalid duration".to_string()]));
                }
                MainRequest::Scale { program, reply, .. } => {
                    let _ = reply.send(Err(crate::config::ScaleError::NotFound(format!(
                        "no program named {program:?}"
                    ))));
                }
            }
        }
    });
    let config_rx = watch::channel(Arc::new(config.clone())).1;
    let store = watch::channel(Err("no store in router tests".to_string())).1;
    let alerting = crate::alerting::Alerting::start(crate::alerting::Inputs {
        handle: handle.clone(),
        config: config_rx,
        checks: watch::channel(Arc::new(Vec::new())).1,
        system: watch::channel(None).1,
        store: store.clone(),
        metrics: Arc::new(Metrics::new()),
        shutdown: Default::default(),
    });
    let router = router(AppState {
        supervisor: handle.clone(),
        started_at: SystemTime::now(),
        cgroup: None,
        shutting_down: Arc::default(),
        system: watch::channel(None).1,
        checks: watch::channel(Arc::new(Vec::new())).1,
        config: watch::channel(Arc::new(config)).1,
        metrics: Arc::new(Metrics::new()),
        liveness: Arc::default(),
        gate,
        reload,
        stopping: Default::default(),
        recorder: Default::default(),
        store,
        alerting,
        jobs: watch::channel(Arc::new(std::collections::BTreeMap::new())).1,
    });
    let api = Api {
        router,
        handle,
        _dir: dir,
    };
    api.wait_running("web").await;
    api.wait_running("worker").await;
    api
}

/// The supervisor dies with the test's runtime without stopping its programs: kill
/// each program's whole process group (they run in sessions of their own), pass or
/// fail, so no test leaves processes behind. (`restart = "never"` above: a restart
/// in the moment before the runtime goes would escape.)
impl Drop for Api {
    fn drop(&mut self) {
        for p in &self.handle.snapshot().programs {
            if let Some(pid) = p.pid {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

impl Api {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        self.call_from("127.0.0.1:40000", method, uri, token, body).await
    }

    async fn call_from(
        &self,
        peer: &str,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some((ctype, body)) => request.header(header::CONTENT_TYPE, ctype).body(Body::from(body)),
            None => request.body(Body::empty()),
        };
        let mut request = request.unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(Peer(peer.parse::<SocketAddr>().unwrap())));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, headers, value)
    }

    async fn wait_running(&self, name: &str) {
        let mut watch = self.handle.watch();
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if watch
                    .borrow_and_update()
                    .programs
                    .iter()
                    .any(|p| p.name == name && p.state == ProgramState::Running)
                {
                    return;
                }
                watch.changed().await.unwrap();
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{name} did not run within 10s"));
    }
}

fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

fn fill(path: &str) -> String {
    path.replace("{name}", "web").replace("{action}", "start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_served_and_unknown_ones_are_json_errors() {
    let api = api(&format!("tokens = [\"{FULL}\"]\nrate_limit = {{ per_second = 0 }}")).await;
    for (method, path) in ROUTES {
        let body = (*method == "POST" && path.ends_with("events"))
            .then(|| ("application/json", r#"{"kind":"task_completed"}"#.to_string()));
        let (status, _, body) = api.call(method, &fill(path), Some(FULL), body).await;
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED
                && body.get("error").and_then(Value::as_str) != Some("no such endpoint"),
            "{method} {path} is not routed: {status} {body}"
        );
    }
    let (status, _, body) = api.call("GET", "/nope", Some(FULL), None).await;
    assert_eq!((status, error_of(&body)), (StatusCode::NOT_FOUND, "no such endpoint"));
    let (status, _, body) = api.call("DELETE", "/status", Some(FULL), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(error_of(&body).contains("method"));
    for uri in [
        "/api/v1/programs/nope",
        "/api/v1/programs/nope/logs",
        "/api/v1/programs/..%2F..%2Fetc%2Fpasswd/logs",
        "/api/v1/programs/%2e%2e",
    ] {
        let (status, _, body) = api.call("GET", uri, Some(FULL), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert!(error_of(&body).contains("no program named"), "{uri}: {body}");
    }
    let (status, _, body) = api.call("POST", "/api/v1/programs/nope/stop", Some(FULL), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&body).contains("no program named"));
    let (status, _, body) = api.call("POST", "/api/v1/programs/web/explode", Some(FULL), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&body).contains("start, stop, restart or run"));
    let (status, _, body) = api.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["openapi"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_silences_and_tests_answer_clearly() {
    let api = api(&format!("tokens = [\"{FULL}\"]\nread_only_tokens = [\"{READ}\"]")).await;
    let (status, _, body) = api.call("GET", "/api/v1/alerts", Some(READ), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["firing"], serde_json::json!([]));
    assert_eq!(body["notifications"], serde_json::json!([]));
    // No store here: the outbox is in memory, and the API says why.
    assert_eq!(body["store_error"], "no store in router tests");
    for (query, says) in [
        ("?state=lost", "state must be pending, sent or failed"),
        ("?limit=0", "limit must be from 1 to 500"),
        ("?colour=red", "unknown field `colour`"),
    ] {
        let (status, _, body) = api
            .call("GET", &format!("/api/v1/alerts{query}"), Some(READ), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(error_of(&body).contains(says), "{query}: {body}");
    }

    let json = |s: &str| Some(("application/json", s.to_string()));
    for (request, says) in [
        (r#"{"matcher": " ", "duration": "1h"}"#, "matcher is empty"),
        (r#"{"matcher": "web"}"#, "give until (RFC 3339) or duration"),
        (
            r#"{"matcher": "web", "duration": "1h", "until": "2099-01-01T00:00:00Z"}"#,
            "not both",
        ),
        (r#"{"matcher": "web", "duration": "soon"}"#, "invalid duration \"soon\""),
        (r#"{"matcher": "web", "until": "2001-01-01T00:00:00Z"}"#, "in the past"),
        (r#"{"matcher": "web", "duration": "90d"}"#, "at most 30 days"),
        (
            r#"{"matcher": "web", "duration": "1h", "why": "x"}"#,
            "unknown field `why`",
        ),
    ] {
        let (status, _, body) = api.call("POST", "/api/v1/silences", Some(FULL), json(request)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request}: {body}");
        assert!(error_of(&body).contains(says), "{request}: {body}");
    }
    let silence = r#"{"matcher": "web", "duration": "1h"}"#;
    let (status, _, _) = api.call("POST", "/api/v1/silences", Some(READ), json(silence)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, body) = api.call("POST", "/api/v1/silences", Some(FULL), json(silence)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["matcher"], "web");
    let (_, _, body) = api.call("GET", "/api/v1/alerts", Some(READ), None).await;
    assert_eq!(body["silences"][0]["matcher"], "web", "{body}");
    let until = humantime::parse_rfc3339_weak(body["silences"][0]["until"].as_str().unwrap()).unwrap();
    let left = until.duration_since(SystemTime::now()).unwrap();
    assert!(
        left > Duration::from_secs(3500) && left <= Duration::from_secs(3600),
        "{left:?}"
    );

    for (query, says) in [
        ("", "no alert channel is configured"),
        (
            "?channel=slack",
            "the slack channel is not configured: add [alerts.slack]",
        ),
        ("?channel=pager", "unknown channel \"pager\": use email or slack"),
        ("?timeout=1h", "timeout must be a duration up to \"2m\""),
    ] {
        let (status, _, body) = api
            .call("POST", &format!("/api/v1/alerts/test{query}"), Some(FULL), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(error_of(&body).contains(says), "{query}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_full_read_only_public_and_missing() {
    let api = api(&format!(
        "tokens = [\"{FULL}\"]\nread_only_tokens = [\"{READ}\"]\npublic = [\"live\", \"ready\", \"health\"]"
    ))
    .await;
    let (status, headers, body) = api.call("GET", "/status", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert!(error_of(&body).contains("Authorization: Bearer"));
    let (status, _, body) = api.call("GET", "/status", Some("wrong-token-0123456789"), None).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::UNAUTHORIZED, "the token was refused")
    );
    assert_eq!(api.call("GET", "/status", Some(READ), None).await.0, StatusCode::OK);
    assert_eq!(
        api.call("GET", "/api/v1/programs/web", Some(READ), None).await.0,
        StatusCode::OK
    );
    let (status, _, body) = api.call("POST", "/api/v1/programs/web/restart", Some(READ), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_of(&body).contains("read-only"));
    assert_eq!(api.call("GET", "/live", None, None).await.0, StatusCode::OK);
    assert_eq!(api.call("GET", "/ready", None, None).await.0, StatusCode::OK);
    // Not listed in `public`: /metrics needs a token.
    assert_eq!(
        api.call("GET", "/metrics", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(api.call("GET", "/metrics", Some(READ), None).await.0, StatusCode::OK);
    let (status, _, body) = api
        .call("POST", "/api/v1/programs/web/restart?wait=true", Some(FULL), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["program"].as_str(), body["action"].as_str()),
        (Some("web"), Some("restart"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_a_public_listener_refuses_control_but_serves_reads() {
    let api = api("listen = \"0.0.0.0:8080\"").await;
    assert_eq!(api.call("GET", "/status", None, None).await.0, StatusCode::OK);
    let (status, _, body) = api.call("POST", "/api/v1/programs/web/stop", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_of(&body).contains("beyond loopback"), "{body}");
    let (status, _, _) = api.call("POST", "/api/v1/reload", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_gets_429_and_others_and_probes_do_not() {
    let api = api("rate_limit = { per_second = 1, burst = 3 }").await;
    for _ in 0..3 {
        assert_eq!(
            api.call_from("10.0.0.1:1", "GET", "/status", None, None).await.0,
            StatusCode::OK
        );
    }
    let (status, headers, body) = api.call_from("10.0.0.1:2", "GET", "/status", None, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert!(error_of(&body).contains("too many requests from 10.0.0.1"));
    assert_eq!(
        api.call_from("10.0.0.2:1", "GET", "/status", None, None).await.0,
        StatusCode::OK
    );
    for _ in 0..20 {
        assert_eq!(
            api.call_from("10.0.0.1:3", "GET", "/live", None, None).await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_and_queries_get_their_status() {
    let api = api("").await;
    let (status, _, body) = api
        .call(
            "POST",
            "/api/v1/events",
            None,
            Some(("application/json", "{\"kind\":".into())),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    error_of(&body);
    let (status, _, body) = api
        .call("POST", "/api/v1/events", None, Some(("text/plain", "{}".into())))
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    error_of(&body);
    let big = format!("{{\"kind\":\"{}\"}}", "x".repeat(100 * 1024));
    let (status, _, body) = api
        .call("POST", "/api/v1/events", None, Some(("application/json", big)))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    error_of(&body);
    for tail in ["-1", "99999", "abc", "1e9"] {
        let (status, _, body) = api
            .call("GET", &format!("/api/v1/programs/web/logs?tail={tail}"), None, None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "tail={tail}");
        assert!(error_of(&body).contains("tail"), "{body}");
    }
    for query in ["timeout=soon", "timeout=2h", "wait=perhaps"] {
        let (status, _, body) = api
            .call("POST", &format!("/api/v1/programs/web/restart?{query}"), None, None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        error_of(&body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_redacts_secrets_and_logs_escape_nothing_but_blank_secrets() {
    let api = api("").await;
    let (status, _, body) = api.call("GET", "/api/v1/programs/web", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "web");
    assert_eq!(body["state"], "running");
    assert_eq!(body["config"]["env"]["OPENAI_API_KEY"], "***");
    assert_eq!(body["config"]["env"]["MODE"], "fast");
    assert!(!body.to_string().contains("sk-live-abcdef"));
    // The program printed its key: the API shows the line with the key blanked.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, body) = api.call("GET", "/api/v1/programs/web/logs?tail=5", None, None).await;
        assert_eq!(status, StatusCode::OK);
        let lines = body["lines"].as_array().unwrap().clone();
        if let Some(line) = lines.iter().find(|l| l["stream"] == "stdout") {
            assert_eq!(line["text"], "<b>hello</b> ***");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no stdout line: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, _, body) = api.call("GET", "/api/v1/programs/web/logs?tail=0", None, None).await;
    assert_eq!(body["lines"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_true_answers_once_the_state_is_reached_or_409() {
    let api = api("").await;
    let (status, _, body) = api
        .call("POST", "/api/v1/programs/web/stop?wait=true", None, None)
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("stopped")),
        "{body}"
    );
    assert_eq!(body["pid"], Value::Null);
    let (status, _, body) = api
        .call("POST", "/api/v1/programs/web/start?wait=true", None, None)
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("running")),
        "{body}"
    );
    let pid = body["pid"].as_u64().unwrap();
    let (status, _, body) = api
        .call("POST", "/api/v1/programs/web/restart?wait=true&timeout=10s", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["pid"].as_u64().unwrap(), pid, "a new process");
    // `worker` ignores SIGTERM: its stop takes the whole 3s stop_timeout.
    api.wait_running("worker").await;
    let (status, _, body) = api
        .call(
            "POST",
            "/api/v1/programs/worker/stop?wait=true&timeout=200ms",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        error_of(&body).contains("worker was not stopped within 200ms: it is stopping"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_is_cut_at_the_request_timeout_but_a_wait_is_not() {
    let api = api("request_timeout = \"300ms\"").await;
    // A body that never comes.
    let never = futures_core_stream_pending();
    let mut request = Request::builder()
        .method("POST")
        .uri("/api/v1/events")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(never))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(Peer("127.0.0.1:1".parse().unwrap())));
    let response = api.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(error_of(&body).contains("longer than 300ms"), "{body}");
    // `?wait=true` is bounded by its own timeout: `worker` ignores SIGTERM, so its
    // stop takes 3s, well past the request timeout, and is answered with 200.
    let (status, _, body) = api
        .call("POST", "/api/v1/programs/worker/stop?wait=true&timeout=10s", None, None)
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("stopped")),
        "{body}"
    );
}

/// A body stream that never yields.
fn futures_core_stream_pending() -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    struct Never;
    impl futures_core::Stream for Never {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Pending
        }
    }
    Never
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reload_carries_every_problem() {
    let api = api("").await;
    let (status, _, body) = api.call("POST", "/api/v1/reload", None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"], serde_json::json!(["w.toml:3:9: invalid duration"]));
    assert!(error_of(&body).contains("running configuration stays"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_page_is_public_and_its_data_follows_the_read_rules() {
    let api = api(&format!("tokens = [\"{FULL}\"]")).await;
    let page = |accept: &'static str, token: Option<&'static str>| {
        let mut request = Request::builder().uri("/dashboard").header(header::ACCEPT, accept);
        if let Some(t) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let mut request = request.body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(Peer("127.0.0.1:1".parse().unwrap())));
        api.router.clone().oneshot(request)
    };
    let html = page("text/html,application/xhtml+xml", None).await.unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    let csp = html.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(html.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    for asset in ["/dashboard/app.js", "/dashboard/app.css"] {
        assert_eq!(api.call("GET", asset, None, None).await.0, StatusCode::OK, "{asset}");
    }
    // The data needs a token here ...
    let data = page("application/json", None).await.unwrap();
    assert_eq!(data.status(), StatusCode::UNAUTHORIZED);
    let (status, _, body) = api.call("GET", "/dashboard", Some(FULL), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["overall"]["summary"], "All 2 programs running");
    assert_eq!(body["overall"]["status"], "healthy");
    let names: Vec<&str> = body["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "worker"]);
    assert!(body["programs"][0]["history"]["at"].is_array());
    // ... and none when `public` lists it.
    let open = api_public().await;
    assert_eq!(open.call("GET", "/dashboard", None, None).await.0, StatusCode::OK);
    assert_eq!(
        open.call("GET", "/status", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn api_public() -> Api {
    api(&format!(
        "tokens = [\"{FULL}\"]\npublic = [\"live\", \"ready\", \"health\", \"metrics\", \"dashboard\"]"
    ))
    .await
}
