//! Probes, ports, dependency checks and the health endpoints, against real components:
//! Python HTTP servers, a real MCP server (the `mcp` package), Postgres and Redis on
//! this machine, `promtool` and a real Prometheus server.

use std::net::TcpStream;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::*;

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
const REDIS: &str = "redis://127.0.0.1:6379";

fn reachable(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// An HTTP server on `$PORT` that answers 200 on every path.
const HTTP_SERVER: &str = r#"command = "sh"
args = ["-c", "exec python3 -m http.server \"$PORT\" --bind 127.0.0.1"]"#;

#[test]
fn live_stays_up_while_every_program_crash_loops_and_ready_says_why() {
    let w = Warden::start(
        r#"[[program]]
name = "crashy"
command = "sh"
args = ["-c", "exit 3"]
backoff = { initial = "0s", max = "0s" }
max_restarts = 0
"#,
    );
    w.wait_program("restarts", "crashy", |p| p["restarts"].as_u64() > Some(20));
    let (code, body) = w.get_json("/live");
    assert_eq!((code, &body["status"]), (200, &Value::from("live")));
    let (code, ready) = w.get_json("/ready");
    assert_eq!(code, 503, "{ready}");
    assert_eq!(ready["ready"], false);
    let reason = ready["reasons"][0].as_str().unwrap();
    assert!(reason.starts_with("program crashy: "), "{reason}");
    let (code, health) = w.get_json("/health");
    assert_eq!(code, 503);
    assert_eq!(health["status"], "unhealthy");
    assert_eq!(health["components"]["supervisor"]["status"], "healthy");
    assert_eq!(health["components"]["program:crashy"]["status"], "unhealthy");
}

#[test]
fn an_http_probe_on_an_auto_port_makes_the_program_healthy_and_releases_its_dependents() {
    let (first, last) = free_port_range();
    let w = Warden::start(&format!(
        r#"[ports]
range = "{first}-{last}"

[[program]]
name = "web"
{HTTP_SERVER}
port = "auto"
probe = {{ type = "http", path = "/", interval = "200ms", timeout = "1s" }}

[[program]]
name = "client"
command = "sleep"
args = ["1000"]
depends_on = [{{ name = "web", condition = "healthy" }}]
"#
    ));
    let web = w.wait_program("web healthy", "web", |p| p["healthy"] == true);
    let port = web["port"].as_u64().unwrap() as u16;
    assert!((first..=last).contains(&port), "port {port} from the range");
    assert_eq!(web["probe"]["status"], "healthy");
    assert_eq!(web["probe"]["ok"], true);
    assert_eq!(web["probe"]["message"], "HTTP 200", "{web:#}");
    w.wait_state("client", "running");
    let (code, ready) = w.get_json("/ready");
    assert_eq!(code, 200, "{ready}");
    // The port is kept across a restart.
    let pid = w.pid_of("web");
    w.post("/api/v1/programs/web/restart");
    let again = w.wait_program("web restarted and healthy", "web", |p| {
        p["pid"].as_i64().is_some_and(|p| p as i32 != pid) && p["healthy"] == true
    });
    assert_eq!(again["port"].as_u64(), Some(port as u64));
}

/// A range of ports for one test: 20 ports starting at a free one (ports above it are
/// almost always free too; the allocator skips any that are not).
fn free_port_range() -> (u16, u16) {
    let first = free_port().min(65000);
    (first, first + 19)
}

#[test]
fn a_failing_probe_restarts_the_program_with_reason_probe_failed() {
    let w = Warden::start(
        r#"[[program]]
name = "deaf"
command = "sleep"
args = ["1000"]
port = 1
probe = { type = "tcp", interval = "100ms", timeout = "500ms", failure_threshold = 2 }
"#,
    );
    let p = w.wait_program("a restart for the probe", "deaf", |p| {
        p["last_exit"]["reason"] == "probe_failed"
    });
    assert!(p["restarts"].as_u64() >= Some(1));
    assert!(
        p["probe"]["message"].as_str().unwrap().contains("refused"),
        "{:#}",
        p["probe"]
    );
    assert!(w.stderr().contains("probe failing: program unhealthy"));
}

#[test]
fn a_probe_with_action_alert_leaves_the_program_running_and_unready() {
    let w = Warden::start(
        r#"[[program]]
name = "deaf"
command = "sleep"
args = ["1000"]
port = 1
probe = { type = "exec", command = "sh", args = ["-c", "echo not yet; exit 1"], interval = "100ms", failure_threshold = 1, action = "alert" }
"#,
    );
    let pid = w.pid_of("deaf");
    let p = w.wait_program("probe unhealthy", "deaf", |p| p["probe"]["status"] == "unhealthy");
    assert_eq!(p["probe"]["message"], "exit code 1: not yet", "{:#}", p["probe"]);
    assert_eq!(p["pid"].as_i64(), Some(pid as i64), "not restarted");
    let (code, ready) = w.get_json("/ready");
    assert_eq!(code, 503);
    assert_eq!(
        ready["reasons"][0],
        "program deaf: running, probe failing (exit code 1: not yet)"
    );
}

#[test]
fn a_real_mcp_server_is_probed_restarted_when_it_hangs_and_reported_when_broken() {
    if !require("python3 with the `mcp` package", python_has("mcp")) {
        return;
    }
    let program = |mode: &str| {
        format!(
            r#"[[program]]
name = "mcp"
command = "python3"
args = ["{}", "{mode}"]
port = "auto"
start_period = "30s"
stop_timeout = "2s"
probe = {{ type = "mcp", interval = "300ms", timeout = "1s", failure_threshold = 2 }}
"#,
            fixture("mcp_server.py")
        )
    };
    let mut w = Warden::prepare();
    let (first, last) = free_port_range();
    let ports = format!("[ports]\nrange = \"{first}-{last}\"\n\n");
    w.write_config(&format!("{ports}{}", program("ok")));
    w.launch();
    let p = w.wait_program("the MCP server healthy", "mcp", |p| p["healthy"] == true);
    assert!(
        p["probe"]["message"].as_str().unwrap().starts_with("MCP server"),
        "{:#}",
        p["probe"]
    );
    // A hung server: the probe times out and the restart action replaces it.
    let pid = p["pid"].as_i64().unwrap() as i32;
    // SAFETY: plain kill.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    w.wait_program("a restart of the hung server", "mcp", |p| {
        p["last_exit"]["reason"] == "probe_failed"
    });
    let log = w.stderr();
    let verdict = log
        .lines()
        .find(|l| l.contains("probe failing: program unhealthy"))
        .expect("the unhealthy verdict is logged");
    assert!(verdict.contains("timed out after 1s"), "{verdict}");
    w.wait_program("healthy again", "mcp", |p| p["healthy"] == true);
    // A broken server: answers, but not MCP. The reason shows in /status.
    w.write_config(&format!("{ports}{}", program("broken")));
    w.reload();
    let p = w.wait_program("the broken server's answer refused", "mcp", |p| {
        p["probe"]["ok"] == false
            && p["probe"]["message"]
                .as_str()
                .is_some_and(|m| !m.contains("refused") && !m.contains("timed out"))
    });
    let message = p["probe"]["message"].as_str().unwrap();
    assert!(message.contains("MCP") || message.contains("JSON"), "{message}");
}

#[test]
fn required_postgres_and_redis_checks_gate_readiness_and_recover() {
    let pg = reachable(5432);
    let redis = reachable(6379);
    if !require("Postgres at 127.0.0.1:5432", pg) || !require("Redis at 127.0.0.1:6379", redis) {
        return;
    }
    let checks = |pg_url: &str| {
        format!(
            r#"[[check]]
name = "db"
type = "postgres"
url = "{pg_url}"
interval = "200ms"
timeout = "1s"

[[check]]
name = "cache"
type = "redis"
url = "{REDIS}"
interval = "200ms"

[[program]]
name = "orchestrator"
command = "sleep"
args = ["1000"]
depends_on = ["db"]
"#
        )
    };
    let dead = format!("postgres://postgres@127.0.0.1:{}/test", free_port());
    let mut w = Warden::prepare();
    w.write_config(&checks(&dead));
    w.launch();
    // Postgres down: not ready, and the dependent program waits and says why.
    let ready = wait_for("/ready 503 naming the check", DEADLINE, || {
        let (code, ready) = w.get_json("/ready");
        let reasons = ready["reasons"].to_string();
        // Only db: cache (Redis is up) must not be named once its first check ran.
        (code == 503 && reasons.contains("check db: ") && reasons.contains("refused") && !reasons.contains("cache"))
            .then_some(ready)
    });
    assert_eq!(ready["reasons"].as_array().map(Vec::len), Some(2), "{ready}");
    let o = w.wait_program("the orchestrator waits", "orchestrator", |p| {
        p["reason"].as_str().is_some_and(|r| r.contains("db to pass its check"))
    });
    assert_eq!(o["state"], "starting");
    let status = w.status();
    assert_eq!(status["checks"]["db"]["status"], "down");
    assert_eq!(status["checks"]["cache"]["status"], "up");
    assert!(status["checks"]["cache"]["latency_ms"].as_f64().is_some());
    // Back: ready, and the orchestrator starts.
    w.write_config(&checks(POSTGRES));
    w.reload();
    wait_for("/ready 200", DEADLINE, || (w.get_json("/ready").0 == 200).then_some(()));
    w.wait_state("orchestrator", "running");
    let (_, health) = w.get_json("/health");
    assert_eq!(health["components"]["check:db"]["status"], "healthy", "{health:#}");
}

#[test]
fn ready_turns_503_as_soon_as_a_shutdown_begins() {
    let mut w = Warden::start(
        r#"[[program]]
name = "slow"
command = "sh"
args = ["-c", "trap 'sleep 2; exit 0' TERM; while true; do sleep 0.1; done"]
stop_timeout = "10s"
"#,
    );
    w.wait_state("slow", "running");
    assert_eq!(w.get_json("/ready").0, 200);
    let pid = w.pid_of("slow");
    w.signal(libc::SIGTERM);
    let ready = wait_for("/ready 503 while the program is still stopping", DEADLINE, || {
        let (code, ready) = w.get_json("/ready");
        (code == 503).then_some(ready)
    });
    assert!(pid_alive(pid), "the program is still stopping when /ready says 503");
    assert_eq!(ready["reasons"][0], "warden is shutting down");
    assert_eq!(w.wait_exit(DEADLINE).code(), Some(0));
}

#[test]
fn business_events_are_counted_and_bad_ones_refused() {
    let w = Warden::start("[metrics]\nevent_kinds = [\"email_processed\"]\n\n[[program]]\nname = \"mail\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n");
    let post = |body: &str| w.send("POST", "/api/v1/events", "application/json", body);
    let (code, body) = post(r#"{"kind": "email_processed", "count": 3, "program": "mail"}"#);
    assert_eq!(code, 202, "{body}");
    post(r#"{"kind": "email_processed"}"#);
    let (_, metrics) = w.get("/metrics").unwrap();
    assert!(
        metrics.contains(r#"warden_events_total{kind="email_processed",program="mail"} 3"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"warden_events_total{kind="email_processed",program=""} 1"#));
    for (body, want) in [
        (r#"{"kind": "bitcoin_mined"}"#, "unknown event kind"),
        (r#"{"kind": "email_processed", "program": "ghost"}"#, "unknown program"),
        (r#"{"kind": "email_processed", "count": 0}"#, "count must be"),
        (r#"{"kind": "#, "EOF"),
        (r#"{"kind": "email_processed", "extra": 1}"#, "unknown field"),
    ] {
        let (code, text) = post(body);
        assert_eq!(code, 400, "{body} -> {text}");
        let err: Value = serde_json::from_str(&text).expect("JSON error");
        assert!(err["error"].as_str().unwrap().contains(want), "{body} -> {text}");
    }
    let (code, text) = w.send("POST", "/api/v1/events", "text/plain", "kind=x");
    assert_eq!(code, 415, "{text}");
    assert!(!metrics.contains("bitcoin"));
}

#[test]
fn metrics_pass_promtool_and_a_real_prometheus_scrapes_them() {
    let promtool = Command::new("promtool").arg("--version").output().is_ok();
    let prometheus = Command::new("prometheus").arg("--version").output().is_ok();
    if !require(
        "promtool and prometheus (Debian package prometheus)",
        promtool && prometheus,
    ) {
        return;
    }
    let w = Warden::start(&format!(
        "[[program]]\nname = \"web\"\n{HTTP_SERVER}\nport = \"auto\"\nprobe = {{ type = \"tcp\", interval = \"200ms\" }}\n\n[[program]]\nname = \"idle\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n"
    ));
    w.wait_program("web healthy", "web", |p| p["healthy"] == true);
    w.wait_program("idle running with a memory sample", "idle", |p| {
        p["state"] == "running" && p["memory_bytes"].is_number()
    });
    let (code, text) = w.get("/metrics").unwrap();
    assert_eq!(code, 200);
    for name in [
        "warden_program_up{program=\"web\"} 1",
        "warden_program_restarts_total{program=\"idle\"} 0",
        "warden_program_state{program=\"idle\",state=\"running\"} 1",
        "warden_probe_success{program=\"web\"} 1",
        "warden_program_memory_bytes{program=\"idle\"}",
        "warden_build_info{version=",
        "warden_alerts_sent_total{channel=\"email\",severity=\"critical\"} 0",
        "warden_alerts_failed_total{channel=\"slack\"} 0",
        "warden_http_requests_total{method=\"GET\",path=\"/status\",status=\"200\"}",
        "warden_http_request_duration_seconds_bucket",
        "process_resident_memory_bytes",
        "warden_runtime_tasks",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
    // promtool: no errors, no warnings.
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(check.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "promtool: {said}");

    // A real Prometheus scraping warden every 200ms.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 200ms\nscrape_configs:\n  - job_name: warden\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            w.port
        ),
    )
    .unwrap();
    let _server = crate::support::prometheus(dir.path(), port);
    let query = wait_for("Prometheus to have scraped warden_program_up", DEADLINE * 2, || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        std::io::Write::write_all(
            &mut s,
            b"GET /api/v1/query?query=warden_program_up HTTP/1.0\r\nHost: x\r\n\r\n",
        )
        .ok()?;
        let mut raw = String::new();
        std::io::Read::read_to_string(&mut s, &mut raw).ok()?;
        let body: Value = serde_json::from_str(raw.split_once("\r\n\r\n")?.1).ok()?;
        let results = body["data"]["result"].as_array()?;
        (results.len() == 2).then_some(body)
    });
    let web = query["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"]["program"] == "web")
        .expect("web in the query result");
    assert_eq!(web["value"][1], "1");
}
