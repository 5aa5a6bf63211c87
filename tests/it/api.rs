//! The control API through the real binary: tokens, reload, follow streams across a
//! rotation, TLS with certificate reload, the production guard, and secrets that must
//! never show anywhere a user can look.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const TOKEN: &str = "tok-secret-3333333333";

#[test]
fn secrets_never_appear_in_answers_logs_or_errors() {
    let secrets = [
        "sk-env-secret-111111",
        "pg-secret-222222",
        TOKEN,
        "pg-secret-444444",
        "hdr-secret-555555",
    ];
    let mut w = Warden::prepare();
    w.env.push(("OPENAI_API_KEY".into(), secrets[0].into()));
    w.env.push(("WARDEN_API_TOKEN".into(), TOKEN.into()));
    w.token = Some(TOKEN.into());
    let web_port = free_port();
    let programs = format!(
        "[[check]]\nname = \"db\"\ntype = \"postgres\"\nurl = \"postgres://postgres:{pg}@127.0.0.1:5432/test\"\nrequired = false\n\n\
         [[program]]\nname = \"web\"\ncommand = \"sh\"\n\
         args = [\"-c\", \"echo key=$OPENAI_API_KEY db=$DATABASE_URL; echo oops $OPENAI_API_KEY >&2; exec python3 -m http.server {web_port} --bind 127.0.0.1\"]\n\
         env = {{ OPENAI_API_KEY = \"${{OPENAI_API_KEY}}\", DATABASE_URL = \"postgres://app:{db}@127.0.0.1:5432/test\" }}\n\
         probe = {{ type = \"http\", port = {web_port}, path = \"/\", headers = {{ Authorization = \"Bearer {hdr}\" }} }}\n\n\
         [[program]]\nname = \"failing\"\ncommand = \"sh\"\nargs = [\"-c\", \"echo bad key $OPENAI_API_KEY >&2; exit 3\"]\n\
         env = {{ OPENAI_API_KEY = \"${{OPENAI_API_KEY}}\" }}\nrequired = false\nbackoff = {{ initial = \"100ms\", max = \"200ms\" }}\n",
        pg = secrets[3],
        db = secrets[1],
        hdr = secrets[4],
    );
    w.write_config(&programs);
    w.launch();
    w.wait_program("web to pass its probe", "web", |p| p["healthy"] == true);
    w.wait_program("failing to have restarted", "failing", |p| {
        p["restarts"].as_u64() >= Some(1)
    });
    // The program really printed its key (the log file is the program's own output)...
    let log = std::fs::read_to_string(w.path("logs/web.log")).unwrap_or_default();
    assert!(log.contains(secrets[0]), "the fixture did not print its key: {log}");
    // ... and a reload is refused with errors that name keys, not values.
    std::fs::write(
        w.path("warden.toml"),
        w.config_text(&programs)
            .replacen("required = false", "required = \"${OPENAI_API_KEY}\"", 1),
    )
    .unwrap();
    let (code, refused) = w.send("POST", "/api/v1/reload", "", "");
    assert_eq!(code, 400, "{refused}");
    let mut seen = vec![("POST /api/v1/reload".to_string(), refused)];
    for path in [
        "/status",
        "/api/v1/programs",
        "/api/v1/programs/web",
        "/api/v1/programs/failing",
        "/api/v1/programs/web/logs?tail=100",
        "/api/v1/programs/failing/logs?tail=100",
        "/health",
        "/ready",
        "/metrics",
    ] {
        let (code, body) = w.get(path).unwrap();
        assert_eq!(code, 200, "{path}: {body}");
        seen.push((path.to_string(), body));
    }
    let (_, logs) = w.get_json("/api/v1/programs/web/logs?tail=100");
    assert!(
        logs["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"] == "key=*** db=postgres://app:***@127.0.0.1:5432/test"),
        "{logs:#}"
    );
    let check = Command::new(BIN)
        .args(["check", "-c"])
        .arg(w.path("warden.toml"))
        .env("OPENAI_API_KEY", secrets[0])
        .output()
        .unwrap();
    seen.push((
        "warden check".into(),
        String::from_utf8_lossy(&check.stderr).into_owned(),
    ));
    seen.push(("warden's own log".into(), w.stderr()));
    for (place, text) in &seen {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} appears in {place}:\n{text}");
        }
    }
}

/// Reads Server-Sent Events from `path` until `until` says stop.
fn follow(w: &Warden, path: &str, mut until: impl FnMut(&Value) -> bool) {
    let mut stream = TcpStream::connect(("127.0.0.1", w.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    reader.read_line(&mut head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let deadline = Instant::now() + DEADLINE;
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        reader.read_line(&mut line).unwrap();
        // Chunked framing lines are not `data:` lines; events sit inside chunks whole.
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            let event: Value = serde_json::from_str(data).unwrap();
            if until(&event) {
                return;
            }
        }
    }
    panic!("the follow stream did not deliver in time");
}

#[test]
fn follow_stream_goes_on_across_a_rotation_without_losing_lines() {
    let mut w = Warden::prepare();
    w.env.push(("WARDEN_API_TOKEN".into(), TOKEN.into()));
    w.token = Some(TOKEN.into());
    w.write_config(
        "[logs]\nmax_size = \"4KiB\"\nmax_files = 3\n\n[[program]]\nname = \"chatty\"\ncommand = \"sh\"\n\
         args = [\"-c\", \"i=0; while true; do echo \\\"line $i padding-padding-padding-padding\\\"; i=$((i+1)); sleep 0.005; done\"]\n",
    );
    w.launch();
    let mut last: Option<u64> = None;
    let rotated = w.path("logs/chatty.log.1");
    let mut after_rotation = 0;
    follow(&w, "/api/v1/programs/chatty/logs?tail=0&follow=true", |event| {
        let text = event["text"].as_str().unwrap();
        let Some(n) = text
            .strip_prefix("line ")
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
        else {
            return false; // warden's own "started" line
        };
        if let Some(prev) = last {
            assert_eq!(n, prev + 1, "a line was lost or reordered");
        }
        last = Some(n);
        if rotated.exists() {
            after_rotation += 1;
        }
        after_rotation >= 200
    });
}

#[test]
fn reload_through_the_api_and_an_operator_stop_that_persists() {
    let mut w = Warden::prepare();
    w.env.push(("WARDEN_API_TOKEN".into(), TOKEN.into()));
    w.token = Some(TOKEN.into());
    let one = "[[program]]\nname = \"a\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n";
    w.write_config(one);
    w.launch();
    w.wait_state("a", "running");
    let (code, body) = w.post("/api/v1/programs/a/stop?wait=true");
    assert_eq!((code, body["state"].as_str()), (200, Some("stopped")), "{body}");
    let two = format!("{one}\n[[program]]\nname = \"b\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n");
    w.write_config(&two);
    let (code, body) = w.post("/api/v1/reload");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["added"], serde_json::json!(["b"]));
    w.wait_state("b", "running");
    assert_eq!(
        w.program("a")["state"],
        "stopped",
        "an operator stop stays across a reload"
    );
    w.write_config(&two.replace(
        "args = [\"1000\"]\n\n",
        "args = [\"1000\"]\nstop_timeout = \"soon\"\n\n",
    ));
    let (code, body) = w.post("/api/v1/reload");
    assert_eq!(code, 400, "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert!(
        errors[0].as_str().unwrap().contains("warden.toml:")
            && errors[0].as_str().unwrap().contains("invalid duration"),
        "{body}"
    );
    // Without the token nothing happens.
    w.token = None;
    let (code, body) = w.post("/api/v1/programs/a/start");
    assert_eq!(code, 401, "{body}");
    assert_eq!(w.program_with_token("a")["state"], "stopped");
}

impl Warden {
    fn program_with_token(&mut self, name: &str) -> Value {
        self.token = Some(TOKEN.into());
        self.program(name)
    }
}

#[test]
fn production_refuses_to_start_without_token_and_tls() {
    let w = Warden::prepare();
    w.write_config("");
    let out = Command::new(BIN)
        .args(["run", "-c", "warden.toml"])
        .current_dir(w.dir.path())
        .env("ENVIRONMENT", "production")
        .env_remove("WARDEN_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without an API token"), "{err}");
    assert!(err.contains("without TLS"), "{err}");
}

/// A CA `NAME-ca.pem` and a certificate for `localhost` it signed (`NAME.pem`,
/// `NAME.key`), as a real deployment has (rustls refuses a CA certificate as a
/// server's own).
fn openssl_cert(dir: &std::path::Path, name: &str) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let (ca, ca_key, csr) = (
        format!("{name}-ca.pem"),
        format!("{name}-ca.key"),
        format!("{name}.csr"),
    );
    let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
    let subj = format!("/CN={name} test CA");
    let mut args = vec![
        "req", "-x509", "-days", "1", "-subj", &subj, "-keyout", &ca_key, "-out", &ca,
    ];
    args.extend(ec);
    run(&args);
    let mut args = vec!["req", "-subj", "/CN=localhost", "-keyout", &key, "-out", &csr];
    args.extend(ec);
    run(&args);
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        "-out",
        &pem,
    ]);
}

fn curl_live(w: &Warden, ca: &std::path::Path) -> bool {
    Command::new("curl")
        .args(["-sf", "--max-time", "5", "--cacert"])
        .arg(ca)
        .arg(format!("https://localhost:{}/live", w.port))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn tls_serves_and_picks_up_renewed_certificates_on_reload() {
    let tools = Command::new("openssl").arg("version").output().is_ok()
        && Command::new("curl").arg("--version").output().is_ok();
    if !require("openssl and curl", tools) {
        return;
    }
    let mut w = Warden::prepare();
    openssl_cert(w.dir.path(), "first");
    openssl_cert(w.dir.path(), "second");
    std::fs::copy(w.path("first.pem"), w.path("tls.pem")).unwrap();
    std::fs::copy(w.path("first.key"), w.path("tls.key")).unwrap();
    w.server = "[server.tls]\ncert = \"tls.pem\"\nkey = \"tls.key\"\n".into();
    w.write_config("");
    let stderr = std::fs::File::create(w.path("warden.stderr")).unwrap();
    let child = Command::new(BIN)
        .args(["run", "-c", "warden.toml"])
        .current_dir(w.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    wait_for("warden to answer /live over TLS", DEADLINE, || {
        curl_live(&w, &w.path("first-ca.pem")).then_some(())
    });
    // The CLI speaks TLS too, trusting the given certificate.
    let url = format!("https://localhost:{}", w.port);
    let probe = Command::new(BIN)
        .args(["probe", "live", "--url", &url, "--cacert"])
        .arg(w.path("first-ca.pem"))
        .output()
        .unwrap();
    assert!(probe.status.success(), "{}", String::from_utf8_lossy(&probe.stderr));
    let status = Command::new(BIN)
        .args(["status", "--json", "--url", &url])
        .env("WARDEN_CACERT", w.path("first-ca.pem"))
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(String::from_utf8_lossy(&status.stdout).contains("\"programs\""));
    // Without trusting it, the CLI refuses the connection and says why.
    let untrusted = Command::new(BIN)
        .args(["probe", "live", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(untrusted.status.code(), Some(1));
    // Plain HTTP on the TLS port gets nothing useful.
    assert!(!matches!(w.get("/live"), Ok((200, _))));
    std::fs::copy(w.path("second.pem"), w.path("tls.pem")).unwrap();
    std::fs::copy(w.path("second.key"), w.path("tls.key")).unwrap();
    // SAFETY: kill with a valid signal.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    wait_for("the renewed certificate to be served", DEADLINE, || {
        curl_live(&w, &w.path("second-ca.pem")).then_some(())
    });
    assert!(
        !curl_live(&w, &w.path("first-ca.pem")),
        "the old certificate is still served"
    );
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_for("warden to exit", DEADLINE, || child.try_wait().unwrap());
    assert!(status.success(), "{}", w.stderr());
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let mut w = Warden::prepare();
    w.server = "request_timeout = \"1s\"".into();
    w.write_config("");
    w.launch();
    let mut slow = TcpStream::connect(("127.0.0.1", w.port)).unwrap();
    slow.write_all(b"GET /live HTTP/1.1\r\nHost: x\r\n").unwrap(); // never the blank line
    slow.set_read_timeout(Some(DEADLINE)).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    // Closed by warden (0 bytes, or a reset), not by our read timeout.
    let n = std::io::Read::read(&mut slow, &mut buf).unwrap_or(0);
    let waited = started.elapsed();
    assert!(waited < DEADLINE, "the connection stayed open for {waited:?}");
    assert!(
        n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Meanwhile everyone else is served.
    assert_eq!(w.get("/live").unwrap().0, 200);
}

#[test]
fn the_event_history_is_stored_and_survives_a_restart_of_warden() {
    let mut w = Warden::prepare();
    w.write_config(
        "[[program]]\nname = \"flaky\"\ncommand = \"sh\"\nargs = [\"-c\", \"exit 3\"]\nbackoff = { initial = \"100ms\", max = \"100ms\" }\nmax_restarts = 2\nrestart_window = \"1m\"\n",
    );
    w.launch();
    w.wait_state("flaky", "failed");
    let exited = |w: &Warden| -> Vec<Value> {
        let (code, body) = w.get_json("/api/v1/events?program=flaky&limit=1000");
        assert_eq!(code, 200, "{body}");
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "exited")
            .cloned()
            .collect()
    };
    let before = wait_for("the exits in the store", DEADLINE, || {
        let e = exited(&w);
        (e.len() == 3).then_some(e)
    });
    assert_eq!(before[0]["details"]["code"], 3, "{before:#?}");
    assert_eq!(before[0]["severity"], "warning");
    let (_, gave_up) = w.get_json("/api/v1/events?program=flaky&limit=1000");
    assert!(
        gave_up["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "gave_up"),
        "{gave_up:#}"
    );
    assert!(
        w.path("data/warden.db").exists(),
        "the default store is SQLite in data_dir"
    );
    // Restart warden: the history is still there, and new events follow it.
    w.signal(libc::SIGTERM);
    assert!(w.wait_exit(DEADLINE).success());
    w.launch();
    w.wait_state("flaky", "failed");
    wait_for("the old and the new exits", DEADLINE, || {
        (exited(&w).len() == 6).then_some(())
    });
    let (code, body) = w.get_json("/api/v1/events?limit=0");
    assert_eq!(code, 400, "{body}");
    let (code, body) = w.get_json("/api/v1/events?since=yesterday");
    assert_eq!(code, 400, "{body}");
    let (_, metrics) = w.get("/metrics").unwrap();
    assert!(
        metrics.contains("warden_store_events_dropped_total 0"),
        "events were dropped"
    );
}
