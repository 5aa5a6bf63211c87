//! The channels against real servers: aiosmtpd (`tests/fixtures/smtp_server.py`) and a
//! webhook receiver (`tests/fixtures/slack_receiver.py`), run as child processes.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use super::*;
use crate::config::{Secret, Severity, SmtpSecurity};
use crate::events::ExitStatus;
use crate::testing::{free_port, require, run_to_exit};

const PASSWORD: &str = "s3cret-Passw0rd";
const TOKEN: &str = "XyZsecretTOKEN123";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn aiosmtpd_available() -> bool {
    let available = run_to_exit(
        Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .is_some_and(|s| s.success());
    require("aiosmtpd (pip install aiosmtpd)", available)
}

fn python_available() -> bool {
    let available = run_to_exit(
        Command::new("python3")
            .args(["-c", "import http.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .is_some_and(|s| s.success());
    require("python3", available)
}

/// A fixture server: started, waited for (its READY line), killed and reaped on drop.
struct Server {
    pid: i32,
    port: u16,
    exited: mpsc::Receiver<ExitStatus>,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(script: &str, args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let out = dir.path().join("out.jsonl");
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(fixture(script))
            .arg("--port")
            .arg(port.to_string())
            .arg("--out")
            .arg(&out)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0);
        let (tx, exited) = mpsc::channel();
        let mut child = crate::testing::reaper()
            .spawn(
                &mut cmd,
                Box::new(move |_, status| {
                    let _ = tx.send(status);
                }),
            )
            .expect("python3 starts");
        let stdout = child.stdout.take().unwrap();
        let pid = child.id() as i32;
        // The reaper waits for it; a std Child never is.
        drop(child);
        let server = Server { pid, port, exited, dir };

        // Lines of its stdout, until EOF (it exited or closed stdout).
        let (lines_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.trim() == "READY" => return server,
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{script} did not print READY within 30s:\n{}", server.stderr())
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("{script} ended before READY:\n{}", server.stderr())
                }
            }
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// The JSON lines written so far.
    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("out.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until there are `n` records.
    fn wait_records(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let records = self.records();
            if records.len() >= n {
                return records;
            }
            assert!(
                Instant::now() < deadline,
                "{n} records expected, got {records:?}\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.pid), Signal::SIGTERM);
        if self.exited.recv_timeout(Duration::from_secs(10)).is_err() {
            let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
            let _ = self.exited.recv_timeout(Duration::from_secs(10));
        }
    }
}

fn email_config(port: u16, security: SmtpSecurity) -> EmailConfig {
    EmailConfig {
        host: "127.0.0.1".into(),
        port,
        security,
        username: None,
        password: None,
        from: "Warden <warden@example.com>".into(),
        to: vec!["ops@example.com".into(), "Oncall <oncall@example.com>".into()],
        ca_file: None,
        min_severity: Severity::Warning,
        timeout: Duration::from_secs(10),
    }
}

fn with_auth(mut config: EmailConfig, password: &str) -> EmailConfig {
    config.username = Some("warden".into());
    config.password = Some(Secret::new(password));
    config
}

const MESSAGE: Message<'static> = Message {
    subject: "[critical] worker crashed — café",
    text: "worker exited with status 1 (restart 3 of 5)\nlast stderr: panic at 'boom' ✓",
    html: Some("<p><b>worker</b> exited with status 1 — café ✓</p>"),
    slack: None,
};

/// Sends with a safety net: a send that does not bound itself fails the test.
async fn send(channel: &Channel, message: &Message<'_>) -> Result<(), SendError> {
    tokio::time::timeout(Duration::from_secs(60), channel.send(message))
        .await
        .expect("the send did not end within 60s")
}

/// The raw message `data` as Python's email parser reads it: headers and leaf parts
/// (content type and decoded content, with the CRLF line ends of MIME made LF).
fn parse_email(data: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw.eml");
    let parsed = dir.path().join("parsed.json");
    std::fs::write(&raw, data).unwrap();
    let script = r#"
import email, email.policy, json, sys
msg = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
parts = [{"type": p.get_content_type(), "content": p.get_content().replace("\r\n", "\n")}
         for p in msg.walk() if not p.is_multipart()]
json.dump({"subject": msg["subject"], "from": msg["from"], "to": msg["to"],
           "type": msg.get_content_type(), "message_id": msg["message-id"], "date": msg["date"],
           "parts": parts}, open(sys.argv[2], "w"))
"#;
    let status = run_to_exit(
        Command::new("python3")
            .args(["-c", script])
            .arg(&raw)
            .arg(&parsed)
            .stdout(Stdio::null()),
    )
    .expect("python3 runs");
    assert!(status.success(), "python could not parse the message:\n{data}");
    serde_json::from_str(&std::fs::read_to_string(parsed).unwrap()).unwrap()
}

/// A self-signed certificate for 127.0.0.1 and localhost (not a CA: rustls refuses a CA
/// certificate as a server's), made with the openssl CLI; `None` (a loud skip) without it.
/// Its subject is not `CN=localhost`, which Debian's snakeoil certificate in the system
/// store also has: path building would try that one as the issuer.
fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let made = run_to_exit(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=warden channels test"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "extendedKeyUsage=serverAuth"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .is_some_and(|s| s.success());
    require("the openssl CLI", made).then_some((cert, key))
}

fn assert_transient(result: &Result<(), SendError>) -> String {
    match result {
        Err(SendError::Transient { reason, .. }) => reason.clone(),
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

fn assert_permanent(result: &Result<(), SendError>) -> String {
    match result {
        Err(SendError::Permanent { reason }) => reason.clone(),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Email

#[tokio::test]
async fn email_reaches_every_recipient_with_subject_text_and_html() {
    if !aiosmtpd_available() {
        return;
    }
    let server = Server::start("smtp_server.py", &[]);
    let channel = Channel::email(&email_config(server.port, SmtpSecurity::None)).unwrap();
    assert_eq!(channel.name(), "email");
    send(&channel, &MESSAGE).await.unwrap();

    let records = server.wait_records(1);
    let record = &records[0];
    assert_eq!(record["mail_from"], "warden@example.com");
    assert_eq!(
        record["rcpt_tos"],
        serde_json::json!(["ops@example.com", "oncall@example.com"])
    );
    let parsed = parse_email(record["data"].as_str().unwrap());
    assert_eq!(parsed["subject"], MESSAGE.subject, "{parsed:#}");
    assert_eq!(parsed["from"], "Warden <warden@example.com>");
    assert_eq!(parsed["to"], "ops@example.com, Oncall <oncall@example.com>");
    assert_eq!(parsed["type"], "multipart/alternative");
    assert!(
        parsed["message_id"].as_str().is_some_and(|id| id.contains('@')),
        "{parsed:#}"
    );
    assert!(parsed["date"].is_string(), "{parsed:#}");
    let parts = parsed["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{parsed:#}");
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(parts[0]["content"].as_str().unwrap().trim_end(), MESSAGE.text);
    assert_eq!(parts[1]["type"], "text/html");
    assert_eq!(parts[1]["content"].as_str().unwrap().trim_end(), MESSAGE.html.unwrap());

    // Without HTML: one text/plain part.
    let plain = Message { html: None, ..MESSAGE };
    send(&channel, &plain).await.unwrap();
    let records = server.wait_records(2);
    let parsed = parse_email(records[1]["data"].as_str().unwrap());
    assert_eq!(parsed["type"], "text/plain", "{parsed:#}");
    assert_eq!(parsed["parts"][0]["content"].as_str().unwrap().trim_end(), MESSAGE.text);
}

#[tokio::test]
async fn starttls_with_auth_trusts_the_ca_file_and_refuses_an_unknown_certificate() {
    if !aiosmtpd_available() {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(certs.path()) else {
        return;
    };
    let (cert_arg, key_arg) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let auth = format!("warden:{PASSWORD}");
    let server = Server::start("smtp_server.py", &["--auth", &auth, "--starttls", cert_arg, key_arg]);

    let mut config = with_auth(email_config(server.port, SmtpSecurity::StartTls), PASSWORD);
    config.ca_file = Some(cert.clone());
    let channel = Channel::email(&config).unwrap();
    send(&channel, &MESSAGE).await.unwrap();
    let records = server.wait_records(1);
    assert_eq!(records[0]["rcpt_tos"].as_array().unwrap().len(), 2);

    // Without the CA file the certificate is unknown: a TLS failure, worth retrying
    // (a certificate can be fixed), and nothing is sent.
    config.ca_file = None;
    let channel = Channel::email(&config).unwrap();
    let result = send(&channel, &MESSAGE).await;
    let reason = assert_transient(&result);
    assert!(
        reason.starts_with(&format!("TLS handshake with 127.0.0.1:{} failed: ", server.port)),
        "{reason}"
    );
    assert!(reason.contains("UnknownIssuer"), "{reason}");
    assert!(!reason.contains(PASSWORD), "{reason}");
    assert_eq!(server.records().len(), 1);
}

#[tokio::test]
async fn implicit_tls_with_auth_delivers() {
    if !aiosmtpd_available() {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(certs.path()) else {
        return;
    };
    let auth = format!("warden:{PASSWORD}");
    let server = Server::start(
        "smtp_server.py",
        &["--auth", &auth, "--tls", cert.to_str().unwrap(), key.to_str().unwrap()],
    );
    let mut config = with_auth(email_config(server.port, SmtpSecurity::Tls), PASSWORD);
    config.ca_file = Some(cert);
    let channel = Channel::email(&config).unwrap();
    send(&channel, &MESSAGE).await.unwrap();
    server.wait_records(1);
}

#[tokio::test]
async fn a_wrong_password_is_permanent_and_never_shown() {
    if !aiosmtpd_available() {
        return;
    }
    // No TLS: the fixture then accepts AUTH in the clear.
    let server = Server::start("smtp_server.py", &["--auth", "warden:right-password"]);
    let config = with_auth(email_config(server.port, SmtpSecurity::None), PASSWORD);
    let channel = Channel::email(&config).unwrap();
    let result = send(&channel, &MESSAGE).await;
    let reason = assert_permanent(&result);
    assert!(reason.starts_with("SMTP 535 "), "{reason}");
    assert!(!reason.contains(PASSWORD), "{reason}");
    assert!(!format!("{:?} {channel:?}", result).contains(PASSWORD));
    assert!(server.records().is_empty());
}

#[tokio::test]
async fn a_refused_recipient_is_permanent_and_named() {
    if !aiosmtpd_available() {
        return;
    }
    let server = Server::start("smtp_server.py", &["--refuse", "nobody@example.com"]);
    let mut config = email_config(server.port, SmtpSecurity::None);
    config.to = vec!["ops@example.com".into(), "nobody@example.com".into()];
    let channel = Channel::email(&config).unwrap();
    let result = send(&channel, &MESSAGE).await;
    let reason = assert_permanent(&result);
    assert_eq!(reason, "SMTP 550 5.1.1 <nobody@example.com>: recipient refused");
    assert!(result.unwrap_err().is_permanent());
}

#[tokio::test]
async fn a_temporary_failure_is_transient_and_the_next_send_succeeds() {
    if !aiosmtpd_available() {
        return;
    }
    let server = Server::start("smtp_server.py", &["--tempfail", "1"]);
    let channel = Channel::email(&email_config(server.port, SmtpSecurity::None)).unwrap();
    let result = send(&channel, &MESSAGE).await;
    let reason = assert_transient(&result);
    assert_eq!(reason, "SMTP 451 4.3.0 try again later");
    assert!(!result.unwrap_err().is_permanent());
    send(&channel, &MESSAGE).await.unwrap();
    assert_eq!(server.wait_records(1).len(), 1);
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_is_a_transient_tls_failure() {
    if !aiosmtpd_available() {
        return;
    }
    let server = Server::start("smtp_server.py", &[]);
    let channel = Channel::email(&email_config(server.port, SmtpSecurity::Tls)).unwrap();
    let result = send(&channel, &MESSAGE).await;
    let reason = assert_transient(&result);
    assert!(
        reason.starts_with(&format!("TLS handshake with 127.0.0.1:{} failed: ", server.port)),
        "{reason}"
    );
    assert!(reason.ends_with("security = \"starttls\"?)"), "{reason}");
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_permanent() {
    if !aiosmtpd_available() {
        return;
    }
    let server = Server::start("smtp_server.py", &[]);
    let channel = Channel::email(&email_config(server.port, SmtpSecurity::StartTls)).unwrap();
    let result = send(&channel, &MESSAGE).await;
    let reason = assert_permanent(&result);
    assert_eq!(
        reason,
        format!(
            "127.0.0.1:{} does not offer STARTTLS, which alerts.email.security = \"starttls\" requires",
            server.port
        )
    );
    assert!(server.records().is_empty());
}

#[tokio::test]
async fn nothing_listening_is_a_transient_connection_refused() {
    let port = free_port();
    for security in [SmtpSecurity::None, SmtpSecurity::StartTls, SmtpSecurity::Tls] {
        let channel = Channel::email(&email_config(port, security)).unwrap();
        let result = send(&channel, &MESSAGE).await;
        let reason = assert_transient(&result);
        assert_eq!(
            reason,
            format!("cannot connect to 127.0.0.1:{port}: connection refused")
        );
    }
}

#[tokio::test]
async fn a_silent_server_is_bounded_by_the_timeout() {
    // Accepts the connection and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = email_config(port, SmtpSecurity::None);
    config.timeout = Duration::from_millis(500);
    let channel = Channel::email(&config).unwrap();
    let started = Instant::now();
    let result = send(&channel, &MESSAGE).await;
    let reason = assert_transient(&result);
    assert_eq!(
        reason,
        format!("the SMTP dialogue with 127.0.0.1:{port} did not finish within 500ms (alerts.email.timeout)")
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    drop(listener);
}

#[test]
fn a_bad_ca_file_or_mailbox_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = email_config(25, SmtpSecurity::StartTls);
    let missing = dir.path().join("missing.pem");
    config.ca_file = Some(missing.clone());
    let e = Channel::email(&config).unwrap_err();
    assert!(
        e.starts_with(&format!("alerts.email.ca_file {}: ", missing.display())) && e.contains("No such file"),
        "{e}"
    );

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    config.ca_file = Some(empty);
    let e = Channel::email(&config).unwrap_err();
    assert!(
        e.starts_with("alerts.email.ca_file ") && e.contains("no certificate"),
        "{e}"
    );

    let mut config = email_config(25, SmtpSecurity::None);
    config.from = "not a mailbox".into();
    let e = Channel::email(&config).unwrap_err();
    assert!(
        e.starts_with("alerts.email.from `not a mailbox`: not a valid mailbox"),
        "{e}"
    );

    let mut config = email_config(25, SmtpSecurity::None);
    config.to.push("ops@".into());
    let e = Channel::email(&config).unwrap_err();
    assert!(e.starts_with("alerts.email.to `ops@`: not a valid mailbox"), "{e}");
}

// ---------------------------------------------------------------------------------------
// Slack

fn slack_config(port: u16) -> SlackConfig {
    SlackConfig {
        webhook_url: Secret::new(webhook_url(port)),
        min_severity: Severity::Warning,
        timeout: Duration::from_secs(10),
    }
}

fn webhook_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/services/T0000/B0000/{TOKEN}")
}

const PAYLOAD: &str = r#"{"text":"worker crashed","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*worker* crashed — café"}}]}"#;

fn slack_message() -> Message<'static> {
    Message {
        slack: Some(PAYLOAD),
        ..MESSAGE
    }
}

/// A reason that gives nothing of the webhook URL away.
fn assert_no_url(reason: &str, port: u16) {
    assert!(!reason.contains(TOKEN), "{reason}");
    assert!(!reason.contains("/services/"), "{reason}");
    assert!(!reason.contains(&webhook_url(port)), "{reason}");
}

#[tokio::test]
async fn slack_posts_the_exact_payload() {
    if !python_available() {
        return;
    }
    let server = Server::start("slack_receiver.py", &[]);
    let channel = Channel::slack(&slack_config(server.port)).unwrap();
    assert_eq!(channel.name(), "slack");
    send(&channel, &slack_message()).await.unwrap();
    let records = server.wait_records(1);
    assert_eq!(records[0]["path"], format!("/services/T0000/B0000/{TOKEN}"));
    assert_eq!(records[0]["answered"], 200);
    let sent: Value = serde_json::from_str(PAYLOAD).unwrap();
    assert_eq!(records[0]["body"], sent);

    // No Slack payload: the subject and the text.
    send(&channel, &MESSAGE).await.unwrap();
    let records = server.wait_records(2);
    assert_eq!(
        records[1]["body"],
        serde_json::json!({ "text": format!("{}\n{}", MESSAGE.subject, MESSAGE.text) })
    );
}

#[tokio::test]
async fn slack_server_errors_are_transient() {
    if !python_available() {
        return;
    }
    let server = Server::start("slack_receiver.py", &["--fail-status", "500", "--fail-count", "1"]);
    let channel = Channel::slack(&slack_config(server.port)).unwrap();
    let result = send(&channel, &slack_message()).await;
    let reason = assert_transient(&result);
    assert_eq!(reason, "the Slack webhook answered HTTP 500: internal_error");
    assert_eq!(
        result,
        Err(SendError::Transient {
            reason,
            retry_after: None
        })
    );
    send(&channel, &slack_message()).await.unwrap();
    let records = server.wait_records(2);
    assert_eq!(records[0]["answered"], 500);
    assert_eq!(records[1]["answered"], 200);
}

#[tokio::test]
async fn slack_rate_limiting_is_transient_with_retry_after() {
    if !python_available() {
        return;
    }
    let server = Server::start(
        "slack_receiver.py",
        &["--fail-status", "429", "--fail-count", "1", "--retry-after", "7"],
    );
    let channel = Channel::slack(&slack_config(server.port)).unwrap();
    let result = send(&channel, &slack_message()).await;
    match &result {
        Err(SendError::Transient { reason, retry_after }) => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)));
            assert!(reason.contains("429") && reason.contains("7s"), "{reason}");
            assert_no_url(reason, server.port);
        }
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

#[tokio::test]
async fn slack_client_errors_are_permanent() {
    if !python_available() {
        return;
    }
    let server = Server::start("slack_receiver.py", &["--fail-status", "404", "--fail-count", "1"]);
    let channel = Channel::slack(&slack_config(server.port)).unwrap();
    let result = send(&channel, &slack_message()).await;
    let reason = assert_permanent(&result);
    assert_eq!(reason, "the Slack webhook refused the message: HTTP 404: no_service");
    assert_no_url(&reason, server.port);
}

#[tokio::test]
async fn an_html_page_is_not_a_webhook() {
    if !python_available() {
        return;
    }
    let server = Server::start("slack_receiver.py", &["--html"]);
    let channel = Channel::slack(&slack_config(server.port)).unwrap();
    let result = send(&channel, &slack_message()).await;
    let reason = assert_permanent(&result);
    assert_eq!(
        reason,
        "the webhook answered an HTML page, not Slack's \"ok\": check alerts.slack.webhook_url"
    );
}

#[tokio::test]
async fn slack_unreachable_is_transient_without_the_url() {
    let port = free_port();
    let channel = Channel::slack(&slack_config(port)).unwrap();
    let result = send(&channel, &slack_message()).await;
    let reason = assert_transient(&result);
    assert_eq!(reason, "cannot connect to the Slack webhook: connection refused");
    assert_no_url(&reason, port);
    assert!(!format!("{channel:?}").contains(TOKEN));

    // A silent server: bounded by the timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = slack_config(port);
    config.timeout = Duration::from_millis(500);
    let channel = Channel::slack(&config).unwrap();
    let result = send(&channel, &slack_message()).await;
    let reason = assert_transient(&result);
    assert_eq!(
        reason,
        "no answer from the Slack webhook within 500ms (alerts.slack.timeout)"
    );
    assert_no_url(&reason, port);
    drop(listener);
}

#[test]
fn an_invalid_webhook_url_is_refused_without_showing_it() {
    let config = SlackConfig {
        webhook_url: Secret::new(format!("hooks.slack.com/services/{TOKEN}")),
        min_severity: Severity::Warning,
        timeout: Duration::from_secs(10),
    };
    let e = Channel::slack(&config).unwrap_err();
    assert!(e.starts_with("alerts.slack.webhook_url: "), "{e}");
    assert!(!e.contains(TOKEN), "{e}");
}

#[test]
fn send_error_accessors() {
    let e = SendError::transient("SMTP 451 later");
    assert_eq!(e.reason(), "SMTP 451 later");
    assert_eq!(e.to_string(), "SMTP 451 later");
    assert!(!e.is_permanent());
    let e = SendError::permanent("SMTP 550 no");
    assert!(e.is_permanent());
    assert_eq!(format!("{e}"), "SMTP 550 no");
}
