//! The whole HTTP surface against its own OpenAPI document: schemathesis (the Python
//! package) reads `/api/v1/openapi.json` from a running warden, sends it valid and
//! invalid requests for every operation, and checks every answer against the document
//! (status codes, content types, headers, bodies) and for server errors.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const TOKEN: &str = "openapi-fuzz-full-token-0123456789";
const READ_TOKEN: &str = "openapi-fuzz-read-token-0123456789";

/// The longest schemathesis may take before the test gives up on it.
const FUZZ_DEADLINE: Duration = Duration::from_secs(180);

/// `schemathesis`, or its short name `st`, whichever runs.
fn schemathesis() -> Option<&'static str> {
    ["schemathesis", "st"].into_iter().find(|cmd| {
        Command::new(cmd)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// `[server]` keys: a full and a read-only token.
fn server_keys() -> String {
    format!(
        r#"tokens = ["{TOKEN}"]
read_only_tokens = ["{READ_TOKEN}"]
# The limiter runs, but never refuses the fuzzer.
rate_limit = {{ per_second = 100000, burst = 100000 }}
# `?wait=true&timeout=10m` must end (408) before schemathesis' own request timeout.
request_timeout = "2s"
"#
    )
}

/// Two programs that write a line every 0.2 s (so a `?follow=true` stream has events to
/// read), one with a secret in its environment, and a disabled one (409 on start).
const PROGRAMS: &str = r#"[metrics]
event_kinds = ["email_processed"]

[[program]]
name = "web-one"
command = "sh"
args = ["-c", "while :; do echo tick; sleep 0.2; done"]

[[program]]
name = "worker-two"
command = "sh"
args = ["-c", "while :; do echo working >&2; sleep 0.2; done"]
env = { API_KEY = "not-a-real-secret-value" }

[[program]]
name = "off-three"
command = "sleep"
args = ["100000"]
enabled = false
"#;

/// warden with [`server_keys`] and [`PROGRAMS`]; its helpers send the full token.
fn start() -> Warden {
    let mut w = Warden::prepare();
    w.server = server_keys();
    w.token = Some(TOKEN.to_string());
    w.write_config(PROGRAMS);
    w.launch();
    w
}

/// Per-operation settings schemathesis takes only from a file.
const SCHEMATHESIS_TOML: &str = r#"# Stop reading a `?follow=true` stream after two events.
max-stream-events = 2

# 503 is what /ready and /health answer when a program the fuzzer stopped is down: their
# documented "not ready" answer, not a server error.
[[operations]]
include-path = ["/ready", "/health"]
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
"#;

/// Every check that an honest server passes. Left out: `positive_data_acceptance`
/// (requests the schema allows are refused by the configuration: an event kind not in
/// `[metrics] event_kinds`, a program that is not configured, a timeout over 10m) and
/// the stateful-only checks.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,negative_data_rejection,\
missing_required_header,unsupported_method,ignored_auth";

#[test]
fn the_served_document_is_public_and_the_compiled_one() {
    let mut w = start();
    w.token = None;
    let (code, body) = w.get("/api/v1/openapi.json").unwrap();
    assert_eq!(code, 200, "the document needs no token: {body}");
    let served: Value = serde_json::from_str(&body).expect("the document is JSON");
    let compiled: Value = serde_json::from_str(include_str!("../../src/openapi.json")).unwrap();
    assert_eq!(served, compiled);
    // The endpoints it describes as protected are.
    let (code, _) = w.get("/status").unwrap();
    assert_eq!(code, 401);
}

#[test]
fn schemathesis_finds_no_answer_outside_the_openapi_document() {
    let st = schemathesis();
    if !require("schemathesis (pip install schemathesis)", st.is_some()) {
        return;
    }
    let st = st.unwrap();
    let mut w = start();
    std::fs::write(w.path("schemathesis.toml"), SCHEMATHESIS_TOML).unwrap();
    w.wait_state("web-one", "running");
    w.wait_state("worker-two", "running");

    let url = format!("http://127.0.0.1:{}/api/v1/openapi.json", w.port);
    let auth = format!("Authorization: Bearer {TOKEN}");
    let output = w.path("schemathesis.out");
    let args = [
        "--config-file",
        "schemathesis.toml",
        "run",
        &url,
        "--header",
        &auth,
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "25",
        "--request-timeout",
        "5",
        "--generation-database",
        "none",
        "--no-color",
    ];
    let started = Instant::now();
    let mut child = Command::new(st)
        .args(args)
        .current_dir(w.dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&output).unwrap())
        .stderr(std::fs::File::create(w.path("schemathesis.err")).unwrap())
        .spawn()
        .expect("start schemathesis");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > FUZZ_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let report = |w: &Warden| {
        format!(
            "{st} {}\n{}\n{}\nwarden stderr (last lines):\n{}",
            args.join(" ").replace(TOKEN, "<token>"),
            std::fs::read_to_string(&output).unwrap_or_default(),
            std::fs::read_to_string(w.path("schemathesis.err")).unwrap_or_default(),
            tail(&w.stderr(), 30)
        )
    };
    match status {
        None => panic!("schemathesis did not finish within {FUZZ_DEADLINE:?}:\n{}", report(&w)),
        Some(s) if !s.success() => panic!("schemathesis found answers outside the document ({s}):\n{}", report(&w)),
        Some(_) => eprintln!("schemathesis passed in {:.1?}", started.elapsed()),
    }

    // All that fuzzing left warden up and answering.
    let exited = w.try_exit();
    assert!(
        exited.is_none(),
        "warden exited during the run ({exited:?}):\n{}",
        report(&w)
    );
    let (code, body) = w.get("/live").expect("GET /live after the run");
    assert_eq!(code, 200, "{body}");
}
