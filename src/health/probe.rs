//! One attempt of a program's probe (tcp, http, exec, mcp) and its outcome.
//!
//! This module only *runs* a probe: thresholds, healthy/unhealthy, the restart action
//! and the schedule belong to the supervisor, which calls [`Prober::probe`] every
//! `interval` and feeds the [`ProbeOutcome`] to the program's state machine.
//!
//! Rules every kind follows:
//! * the whole attempt, failures included, ends within the probe's `timeout` (a server
//!   that accepts and never answers is a failure "timed out after 2s", not a hang until
//!   the OS gives up);
//! * the message is one line an operator understands and never contains a header value
//!   (they may be secrets);
//! * an `exec` command runs like the program (environment, cwd, user: through
//!   [`platform::spawn`](crate::platform::spawn)) and, like every child of warden, is
//!   waited for only by the [`Reaper`]. It has its own session: on timeout its process
//!   group is killed and the probe waits for the exit, so no probe leaves a process behind.
//!
//! The MCP answer is read by the pure code in [`super::mcp`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use reqwest::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::oneshot;
use tokio_util::task::AbortOnDropHandle;

use super::mcp;
use crate::config::{format_duration, ProbeKind, ProbePort, ProbeSpec, ProgramSpec, Secret, StatusRange};
use crate::events::ExitStatus;
use crate::platform::reaper::{OnExit, Reaper};
use crate::platform::spawn::spawn;
use crate::text::{io_cause, one_line};

/// The longest message taken from outside (a command's output, a server's words).
const MAX_QUOTE: usize = 200;

/// How long a command killed at its timeout may take to be reaped. SIGKILL cannot be
/// ignored, so only a process stuck in the kernel (uninterruptible I/O) takes longer.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Bound of the best-effort `DELETE` that ends the MCP session a probe created.
const SESSION_END_TIMEOUT: Duration = Duration::from_secs(2);

/// The result of one probe attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    pub ok: bool,
    /// One line an operator understands, shown in /status: e.g. "HTTP 200", "HTTP 503
    /// (expected 200-399)", "connection refused", "timed out after 2s", "exit code 1:
    /// <last line of output>", "MCP server my-server 1.2.0", "invalid MCP answer: no
    /// serverInfo in result". Never contains a header value (they may be secrets).
    pub message: String,
    pub duration: Duration,
}

/// Runs probe attempts; cheap to clone (one shared HTTP client and the reaper).
#[derive(Clone)]
pub struct Prober {
    /// No redirects (a probe checks the program, not where it points to), no proxy from
    /// the environment (the program is local), no pooled connections (each attempt
    /// proves that a new connection is accepted, as a client's would be).
    http: reqwest::Client,
    reaper: Reaper,
}

/// What one attempt of a kind ends with: the message of a success or of a failure.
type Attempt = Result<String, String>;

impl Prober {
    pub fn new(reaper: Reaper) -> Self {
        // reqwest is built with rustls but no provider of its own: `ring`, as the
        // server's TLS. An error only says one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(0)
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()
            // Only a TLS backend can fail to initialise, and warden builds reqwest without one.
            .expect("an HTTP client without TLS always builds");
        Prober { http, reaper }
    }

    /// One attempt of `spec` for `program`, whose resolved port (fixed or auto-assigned)
    /// is `port`. `ProbePort::Program` means use `port` (a failure if it is `None`). The
    /// whole attempt is bounded by `spec.timeout`.
    pub async fn probe(&self, spec: &ProbeSpec, program: &ProgramSpec, port: Option<u16>) -> ProbeOutcome {
        let started = Instant::now();
        let timeout = spec.timeout;
        let attempt = match &spec.kind {
            ProbeKind::Tcp { host, port: target } => match target_port(*target, port) {
                Ok(target) => bounded(timeout, tcp(host, target)).await,
                Err(e) => Err(e),
            },
            ProbeKind::Http {
                host,
                port: target,
                path,
                status,
                headers,
            } => match target_port(*target, port) {
                Ok(target) => bounded(timeout, self.http(&url(host, target, path), *status, headers)).await,
                Err(e) => Err(e),
            },
            ProbeKind::Mcp {
                host,
                port: target,
                path,
            } => match target_port(*target, port) {
                Ok(target) => bounded(timeout, self.mcp(url(host, target, path), timeout)).await,
                Err(e) => Err(e),
            },
            // Bounds itself: a timeout must also kill the command.
            ProbeKind::Exec { command, args } => self.exec(command, args, program, port, timeout).await,
        };
        let (ok, message) = match attempt {
            Ok(message) => (true, message),
            Err(message) => (false, message),
        };
        ProbeOutcome {
            ok,
            message,
            duration: started.elapsed(),
        }
    }

    async fn http(&self, url: &str, expected: StatusRange, headers: &[(String, Secret)]) -> Attempt {
        let mut request = self.http.get(url);
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("header name {:?} is not valid", one_line(name, 60)))?;
            // The one place outside spawning that reads a secret: it goes on the wire,
            // marked sensitive so that no formatting of the request shows it.
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| format!("the value of header {name} is not a valid header value"))?;
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        if (expected.first..=expected.last).contains(&status) {
            Ok(format!("HTTP {status}"))
        } else {
            Err(format!("HTTP {status} (expected {})", range(expected)))
        }
    }

    async fn mcp(&self, url: String, timeout: Duration) -> Attempt {
        let mut response = self
            .http
            .post(&url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(mcp::initialize_request())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let session = response.headers().get(mcp::SESSION_HEADER).cloned();
        let verdict = read_mcp_answer(&mut response).await;
        drop(response);
        if let Some(session) = session {
            // The initialize opened a session; end it, or a probe every few seconds piles
            // sessions up on the server. Best effort, off the probe's path.
            let mut delete = self.http.delete(&url).header(mcp::SESSION_HEADER, session);
            let protocol = verdict.as_ref().ok().and_then(|info| info.protocol_version.clone());
            if let Some(version) = protocol.and_then(|v| HeaderValue::from_str(&v).ok()) {
                delete = delete.header(mcp::PROTOCOL_HEADER, version);
            }
            tokio::spawn(tokio::time::timeout(SESSION_END_TIMEOUT.min(timeout), delete.send()));
        }
        match verdict {
            Ok(info) => Ok(info.describe()),
            Err(reason) => Err(format!("invalid MCP answer: {reason}")),
        }
    }

    async fn exec(
        &self,
        command: &str,
        args: &[String],
        program: &ProgramSpec,
        port: Option<u16>,
        timeout: Duration,
    ) -> Attempt {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut run = program.clone();
        run.command = command.to_string();
        run.args = args.to_vec();
        let (exited_tx, mut exited) = oneshot::channel();
        let on_exit: OnExit = Box::new(move |_pid, status| {
            let _ = exited_tx.send(status);
        });
        let spawned = spawn(&self.reaper, &run, None, port, on_exit)
            .map_err(|e| format!("cannot run {}: {}", one_line(command, 80), io_cause(&e)))?;
        let group = KillOnDrop(Pid::from_raw(spawned.pid as i32));
        // Drained concurrently, so a chatty command never blocks on a full pipe.
        let last = Arc::new(Mutex::new(None));
        let drains = [spawned.stdout, spawned.stderr]
            .map(|pipe| AbortOnDropHandle::new(tokio::spawn(drain(pipe, last.clone()))));

        let status = match tokio::time::timeout_at(deadline, &mut exited).await {
            Ok(Ok(status)) => Some(status),
            Ok(Err(_)) => return Err("the exit status of the command was lost".to_string()),
            Err(_) => None,
        };
        // The command has its own session: whatever is left of its group goes, the command
        // itself too if it timed out. (After the exit, the id stays this group's while a
        // member is left; with none left it could only name another group after the
        // kernel handed out every other pid in between, which a few microseconds rule out.)
        group.kill();
        let status = match status {
            Some(status) => status,
            None => {
                let reaped = tokio::time::timeout(KILL_WAIT, exited).await.is_ok();
                let mut message = format!("timed out after {}", format_duration(timeout));
                if !reaped {
                    message.push_str(" (and did not exit after SIGKILL)");
                }
                return Err(with_output(message, &last));
            }
        };
        // What the command wrote before it exited is still in the pipes: read it to the
        // end, unless a descendant that left the group keeps them open past the deadline.
        let grace = tokio::time::Instant::now() + Duration::from_millis(100);
        let _ = tokio::time::timeout_at(deadline.max(grace), async {
            for drain in drains {
                let _ = drain.await;
            }
        })
        .await;
        let message = match status {
            ExitStatus::Code(code) => format!("exit code {code}"),
            ExitStatus::Signal(signal) => match Signal::try_from(signal) {
                Ok(signal) => format!("killed by {}", signal.as_str()),
                Err(_) => format!("killed by signal {signal}"),
            },
        };
        let message = with_output(message, &last);
        if status.success() {
            Ok(message)
        } else {
            Err(message)
        }
    }
}

/// The process group of a running probe command; killed on drop, so a probe that is
/// abandoned (its future dropped) does not leave its command running.
struct KillOnDrop(Pid);

impl KillOnDrop {
    fn kill(&self) {
        let _ = killpg(self.0, Signal::SIGKILL);
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a command's stream to its end, keeping the last non-blank line (of either
/// stream) in `last`. A line is kept up to `LINE_BYTES`; the rest of it is skipped.
async fn drain(mut pipe: pipe::Receiver, last: Arc<Mutex<Option<String>>>) {
    const LINE_BYTES: usize = 1024;
    let mut buf = vec![0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let keep = |line: &mut Vec<u8>| {
        let text = one_line(&String::from_utf8_lossy(line), MAX_QUOTE);
        if !text.is_empty() {
            *last.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
        }
        line.clear();
    };
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut rest = &buf[..n];
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            extend_bounded(&mut line, &rest[..end], LINE_BYTES);
            keep(&mut line);
            rest = &rest[end + 1..];
        }
        extend_bounded(&mut line, rest, LINE_BYTES);
    }
    keep(&mut line);
}

fn extend_bounded(line: &mut Vec<u8>, bytes: &[u8], max: usize) {
    let room = max.saturating_sub(line.len());
    line.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// `message: last line of output`, or `message` for a silent command.
fn with_output(message: String, last: &Mutex<Option<String>>) -> String {
    match last.lock().unwrap_or_else(|e| e.into_inner()).as_deref() {
        Some(line) => format!("{message}: {line}"),
        None => message,
    }
}

/// Reads the answer to `initialize` up to the response: a JSON body, or an event stream
/// read as it arrives (the server may keep it open after the response).
async fn read_mcp_answer(response: &mut reqwest::Response) -> Result<mcp::ServerInfo, mcp::Invalid> {
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("HTTP {status} (expected 200)"));
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => {
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
                if body.len() + chunk.len() > mcp::MAX_ANSWER {
                    return Err(format!("the answer is larger than {} KiB", mcp::MAX_ANSWER / 1024));
                }
                body.extend_from_slice(&chunk);
            }
            mcp::parse_json_body(&body)
        }
        "text/event-stream" => {
            let mut answer = mcp::SseAnswer::default();
            while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
                if let Some(verdict) = answer.push(&chunk) {
                    return verdict;
                }
            }
            Err(mcp::SseAnswer::ended())
        }
        "" => Err("the answer has no content type (expected application/json or text/event-stream)".to_string()),
        _ => Err(format!(
            "unexpected content type {} (expected application/json or text/event-stream)",
            one_line(&content_type, 80)
        )),
    }
}

async fn tcp(host: &str, port: u16) -> Attempt {
    match tokio::net::TcpStream::connect((host, port)).await {
        Ok(_) => Ok(format!("connected to {}", authority(host, port))),
        Err(e) => Err(io_cause(&e)),
    }
}

/// Runs `attempt` within `timeout`; past it, the failure is "timed out after 2s".
async fn bounded(timeout: Duration, attempt: impl std::future::Future<Output = Attempt>) -> Attempt {
    match tokio::time::timeout(timeout, attempt).await {
        Ok(attempt) => attempt,
        Err(_) => Err(format!("timed out after {}", format_duration(timeout))),
    }
}

fn target_port(target: ProbePort, program: Option<u16>) -> Result<u16, String> {
    match target {
        ProbePort::Fixed(port) => Ok(port),
        ProbePort::Program => program.ok_or_else(|| "the probe uses the program's port, but it has none".to_string()),
    }
}

/// `host:port`, with an IPv6 address in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn url(host: &str, port: u16, path: &str) -> String {
    format!("http://{}{}", authority(host, port), path)
}

fn range(range: StatusRange) -> String {
    if range.first == range.last {
        range.first.to_string()
    } else {
        format!("{}-{}", range.first, range.last)
    }
}

/// The cause of a failed request in a few words: "connection refused", "malformed HTTP
/// answer: invalid HTTP version parsed", ... (reqwest's own text names the URL and
/// wraps the cause in layers that say nothing to an operator).
fn describe(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        if let Some(io) = source.downcast_ref::<std::io::Error>() {
            return io_cause(io);
        }
        cause = source;
    }
    let text = one_line(&cause.to_string(), MAX_QUOTE);
    if error.is_connect() {
        format!("cannot connect: {text}")
    } else if text.contains("parse") || text.contains("invalid") {
        // hyper's words for bytes that are not an HTTP response.
        format!("malformed HTTP answer: {text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    use super::*;
    use crate::config::ProbeAction;

    fn reaper() -> Reaper {
        crate::testing::reaper()
    }

    fn program() -> ProgramSpec {
        crate::testing::program("probed")
    }

    fn spec(kind: ProbeKind, timeout: Duration) -> ProbeSpec {
        ProbeSpec {
            kind,
            initial_delay: Duration::ZERO,
            interval: Duration::from_secs(10),
            timeout,
            failure_threshold: 3,
            success_threshold: 1,
            action: ProbeAction::Restart,
            severity: crate::events::Severity::Warning,
        }
    }

    const TIMEOUT: Duration = Duration::from_secs(5);
    /// How much later than its timeout a probe may end (scheduling on a busy machine).
    const MARGIN: Duration = Duration::from_millis(1500);

    fn tcp(port: ProbePort) -> ProbeSpec {
        spec(
            ProbeKind::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
            TIMEOUT,
        )
    }

    fn http(port: u16, path: &str, status: (u16, u16), headers: &[(&str, &str)]) -> ProbeSpec {
        spec(
            ProbeKind::Http {
                host: "127.0.0.1".into(),
                port: ProbePort::Fixed(port),
                path: path.into(),
                status: StatusRange {
                    first: status.0,
                    last: status.1,
                },
                headers: headers.iter().map(|(k, v)| (k.to_string(), Secret::new(*v))).collect(),
            },
            TIMEOUT,
        )
    }

    fn mcp(port: u16) -> ProbeSpec {
        spec(
            ProbeKind::Mcp {
                host: "127.0.0.1".into(),
                port: ProbePort::Fixed(port),
                path: "/mcp".into(),
            },
            TIMEOUT,
        )
    }

    fn exec(script: &str, timeout: Duration) -> ProbeSpec {
        spec(
            ProbeKind::Exec {
                command: "sh".into(),
                args: vec!["-c".into(), script.into()],
            },
            timeout,
        )
    }

    /// One probe attempt, with a safety net so that a probe that does not bound itself
    /// fails the test instead of hanging it.
    async fn run(spec: &ProbeSpec, program: &ProgramSpec, port: Option<u16>) -> ProbeOutcome {
        let prober = Prober::new(reaper());
        tokio::time::timeout(
            spec.timeout + Duration::from_secs(10),
            prober.probe(spec, program, port),
        )
        .await
        .expect("the probe did not end within its timeout")
    }

    fn assert_fails(outcome: &ProbeOutcome, message: &str) {
        assert!(!outcome.ok, "expected a failure: {outcome:?}");
        assert_eq!(outcome.message, message, "{outcome:?}");
    }

    fn assert_timed_out(outcome: &ProbeOutcome, timeout: Duration) {
        assert!(!outcome.ok, "{outcome:?}");
        let expected = format!("timed out after {}", format_duration(timeout));
        assert!(outcome.message.starts_with(&expected), "{outcome:?}");
        assert!(outcome.duration >= timeout, "ended before its timeout: {outcome:?}");
        assert!(
            outcome.duration < timeout + MARGIN,
            "not bounded by its timeout: {outcome:?}"
        );
    }

    /// A request as a test server saw it.
    #[derive(Debug)]
    struct Seen {
        request_line: String,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    enum Reply {
        /// Write these bytes and close the connection.
        Close(Vec<u8>),
        /// Write these bytes and keep the connection open, silent.
        Open(Vec<u8>),
    }

    fn reply(status: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(body);
        out.into_bytes()
    }

    /// A local HTTP-ish server on 127.0.0.1:0 that answers every request with
    /// `answer(request)`; every request it reads is also sent on the returned channel.
    async fn server(answer: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> (u16, mpsc::UnboundedReceiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let (answer, seen_tx) = (answer.clone(), seen_tx.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    let reply = answer(&request);
                    let _ = seen_tx.send(request);
                    match reply {
                        Reply::Close(bytes) => {
                            let _ = stream.write_all(&bytes).await;
                        }
                        Reply::Open(bytes) => {
                            let _ = stream.write_all(&bytes).await;
                            std::future::pending::<()>().await;
                        }
                    }
                });
            }
        });
        (port, seen)
    }

    async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            data.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next()?.to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = data[head_end + 4..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&buf[..n]);
        }
        Some(Seen {
            request_line,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    async fn next_request(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
        tokio::time::timeout(Duration::from_secs(5), seen.recv())
            .await
            .expect("no request within 5s")
            .expect("the server ended")
    }

    /// A port nothing listens on (bound, then closed).
    async fn closed_port() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    }

    // ---- tcp ----

    #[tokio::test]
    async fn tcp_connects_to_a_listening_port() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let outcome = run(&tcp(ProbePort::Fixed(port)), &program(), None).await;
        assert!(outcome.ok, "{outcome:?}");
        assert_eq!(outcome.message, format!("connected to 127.0.0.1:{port}"));
        // The program's own port, when the probe says so.
        let outcome = run(&tcp(ProbePort::Program), &program(), Some(port)).await;
        assert!(outcome.ok, "{outcome:?}");
    }

    #[tokio::test]
    async fn tcp_to_a_closed_port_is_refused() {
        let port = closed_port().await;
        let outcome = run(&tcp(ProbePort::Fixed(port)), &program(), None).await;
        assert_fails(&outcome, "connection refused");
    }

    #[tokio::test]
    async fn the_program_port_without_a_port_fails_clearly() {
        let outcome = run(&tcp(ProbePort::Program), &program(), None).await;
        assert_fails(&outcome, "the probe uses the program's port, but it has none");
    }

    // ---- http ----

    #[tokio::test]
    async fn http_2xx_is_ok() {
        let (port, mut seen) = server(|_| Reply::Close(reply("200 OK", &[], "fine"))).await;
        let outcome = run(&http(port, "/healthz", (200, 399), &[]), &program(), None).await;
        assert!(outcome.ok, "{outcome:?}");
        assert_eq!(outcome.message, "HTTP 200");
        let request = next_request(&mut seen).await;
        assert_eq!(request.request_line, "GET /healthz HTTP/1.1");
    }

    #[tokio::test]
    async fn http_503_fails_with_the_status() {
        let (port, _seen) = server(|_| Reply::Close(reply("503 Service Unavailable", &[], ""))).await;
        let outcome = run(&http(port, "/", (200, 399), &[]), &program(), None).await;
        assert_fails(&outcome, "HTTP 503 (expected 200-399)");
    }

    #[tokio::test]
    async fn http_status_range_is_inclusive() {
        let (port, _seen) = server(|r: &Seen| {
            let status = r
                .request_line
                .split(' ')
                .nth(1)
                .unwrap()
                .trim_start_matches('/')
                .to_string();
            Reply::Close(reply(&format!("{status} Whatever"), &[], ""))
        })
        .await;
        for (status, range, ok) in [
            (200, (200, 204), true),
            (204, (200, 204), true),
            (205, (200, 204), false),
            (300, (200, 204), false),
            (418, (418, 418), true),
            (419, (418, 418), false),
        ] {
            let outcome = run(&http(port, &format!("/{status}"), range, &[]), &program(), None).await;
            assert_eq!(outcome.ok, ok, "{status} in {range:?}: {outcome:?}");
        }
        let outcome = run(&http(port, "/419", (418, 418), &[]), &program(), None).await;
        assert_eq!(outcome.message, "HTTP 419 (expected 418)");
    }

    #[tokio::test]
    async fn http_does_not_follow_redirects() {
        let (port, mut seen) = server(|_| Reply::Close(reply("302 Found", &[("Location", "/elsewhere")], ""))).await;
        let outcome = run(&http(port, "/", (200, 299), &[]), &program(), None).await;
        assert_fails(&outcome, "HTTP 302 (expected 200-299)");
        next_request(&mut seen).await;
        assert!(seen.try_recv().is_err(), "the redirect was followed");
    }

    #[tokio::test]
    async fn http_sends_the_configured_headers_and_never_shows_them() {
        let (port, mut seen) = server(|r: &Seen| match r.header("authorization") {
            Some("Bearer s3cret-token") => Reply::Close(reply("200 OK", &[], "")),
            _ => Reply::Close(reply("401 Unauthorized", &[], "")),
        })
        .await;
        let headers = [("Authorization", "Bearer s3cret-token"), ("X-Probe", "yes")];
        let outcome = run(&http(port, "/", (200, 299), &headers), &program(), None).await;
        assert!(outcome.ok, "{outcome:?}");
        let request = next_request(&mut seen).await;
        assert_eq!(request.header("x-probe"), Some("yes"));

        let wrong = [("Authorization", "Bearer wrong-s3cret")];
        let outcome = run(&http(port, "/", (200, 299), &wrong), &program(), None).await;
        assert_fails(&outcome, "HTTP 401 (expected 200-299)");
        // An invalid value is reported without being shown.
        let invalid = [("Authorization", "line\nbreak-s3cret")];
        let outcome = run(&http(port, "/", (200, 299), &invalid), &program(), None).await;
        assert!(!outcome.ok);
        assert!(!outcome.message.contains("s3cret"), "{outcome:?}");
        assert!(outcome.message.contains("authorization"), "{outcome:?}");
    }

    #[tokio::test]
    async fn http_garbage_answer_fails_with_a_reason() {
        let (port, _seen) = server(|_| Reply::Close(b"SSH-2.0-OpenSSH_9.6\r\n\r\nnot http at all".to_vec())).await;
        let outcome = run(&http(port, "/", (200, 399), &[]), &program(), None).await;
        assert!(!outcome.ok, "{outcome:?}");
        assert!(outcome.message.starts_with("malformed HTTP answer: "), "{outcome:?}");
    }

    #[tokio::test]
    async fn http_connection_closed_without_an_answer_fails() {
        let (port, _seen) = server(|_| Reply::Close(Vec::new())).await;
        let outcome = run(&http(port, "/", (200, 399), &[]), &program(), None).await;
        assert!(!outcome.ok, "{outcome:?}");
        assert!(outcome.message.contains("closed"), "{outcome:?}");
    }

    #[tokio::test]
    async fn http_that_accepts_and_hangs_times_out() {
        let (port, _seen) = server(|_| Reply::Open(Vec::new())).await;
        let mut spec = http(port, "/", (200, 399), &[]);
        spec.timeout = Duration::from_millis(500);
        let outcome = run(&spec, &program(), None).await;
        assert_timed_out(&outcome, spec.timeout);
    }

    #[tokio::test]
    async fn http_to_a_closed_port_is_refused() {
        let port = closed_port().await;
        let outcome = run(&http(port, "/", (200, 399), &[]), &program(), None).await;
        assert_fails(&outcome, "connection refused");
    }

    // ---- mcp ----

    const INITIALIZED: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"fake-server","version":"0.4.2"}}}"#;

    /// An MCP server that checks the request is a proper `initialize` and answers with
    /// `content_type` and `body` (kept open when `open`).
    async fn mcp_server(content_type: &'static str, body: String, open: bool) -> (u16, mpsc::UnboundedReceiver<Seen>) {
        server(move |r: &Seen| {
            if r.request_line.starts_with("DELETE ") {
                return Reply::Close(reply("200 OK", &[], ""));
            }
            let request: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
            let proper = r.request_line == "POST /mcp HTTP/1.1"
                && r.header("content-type") == Some("application/json")
                && r.header("accept") == Some("application/json, text/event-stream")
                && request["method"] == "initialize"
                && request["id"] == 1;
            if !proper {
                return Reply::Close(reply("400 Bad Request", &[], ""));
            }
            let headers = [("Content-Type", content_type), ("Mcp-Session-Id", "sess-42")];
            if open {
                let mut head = "HTTP/1.1 200 OK\r\nConnection: close\r\n".to_string();
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                Reply::Open(format!("{head}\r\n{body}").into_bytes())
            } else {
                Reply::Close(reply("200 OK", &headers, &body))
            }
        })
        .await
    }

    #[tokio::test]
    async fn mcp_json_answer_is_ok_and_the_session_is_ended() {
        let (port, mut seen) = mcp_server("application/json", INITIALIZED.to_string(), false).await;
        let outcome = run(&mcp(port), &program(), None).await;
        assert!(outcome.ok, "{outcome:?}");
        assert_eq!(outcome.message, "MCP server fake-server 0.4.2");
        assert!(next_request(&mut seen).await.request_line.starts_with("POST "));
        let delete = next_request(&mut seen).await;
        assert_eq!(delete.request_line, "DELETE /mcp HTTP/1.1");
        assert_eq!(delete.header("mcp-session-id"), Some("sess-42"));
        assert_eq!(delete.header("mcp-protocol-version"), Some("2025-06-18"));
    }

    #[tokio::test]
    async fn mcp_sse_answer_after_a_notification_is_ok_without_waiting_for_the_end() {
        // The stream stays open after the response: the probe must stop at the response.
        let events = format!(
            "event: message\r\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{{\"level\":\"info\",\"data\":\"hi\"}}}}\r\n\r\n\
             : keep-alive\r\n\r\n\
             event: message\r\nid: 1\r\ndata: {INITIALIZED}\r\n\r\n"
        );
        let (port, mut seen) = mcp_server("text/event-stream; charset=utf-8", events, true).await;
        let outcome = run(&mcp(port), &program(), None).await;
        assert!(outcome.ok, "{outcome:?}");
        assert_eq!(outcome.message, "MCP server fake-server 0.4.2");
        assert!(outcome.duration < Duration::from_secs(2), "{outcome:?}");
        next_request(&mut seen).await;
        let delete = next_request(&mut seen).await;
        assert_eq!(delete.header("mcp-session-id"), Some("sess-42"));
    }

    #[tokio::test]
    async fn mcp_failures_say_why() {
        let cases = [
            (
                "application/json",
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Unsupported protocol version"}}"#.to_string(),
                "invalid MCP answer: error -32602: Unsupported protocol version",
            ),
            (
                "application/json",
                r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{}}}"#.to_string(),
                "invalid MCP answer: no serverInfo in result",
            ),
            (
                "application/json",
                r#"{"jsonrpc":"2.0","id":7,"result":{"serverInfo":{"name":"x"}}}"#.to_string(),
                "invalid MCP answer: response has id 7, expected 1",
            ),
            (
                "application/json",
                "<html>oops</html>".to_string(),
                "invalid MCP answer: not JSON (expected value at line 1 column 1)",
            ),
            (
                "text/html",
                "<html>oops</html>".to_string(),
                "invalid MCP answer: unexpected content type text/html (expected application/json or text/event-stream)",
            ),
            (
                "text/event-stream",
                "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,\"message\":\"down\"}}\n\n".to_string(),
                "invalid MCP answer: error -32000: down",
            ),
            (
                "text/event-stream",
                "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n".to_string(),
                "invalid MCP answer: the event stream ended without the response to initialize (id 1)",
            ),
        ];
        for (content_type, body, message) in cases {
            let (port, _seen) = mcp_server(content_type, body, false).await;
            let outcome = run(&mcp(port), &program(), None).await;
            assert_fails(&outcome, message);
        }
    }

    #[tokio::test]
    async fn mcp_non_200_fails_with_the_status() {
        let (port, _seen) = server(|_| Reply::Close(reply("404 Not Found", &[], "nope"))).await;
        let outcome = run(&mcp(port), &program(), None).await;
        assert_fails(&outcome, "invalid MCP answer: HTTP 404 (expected 200)");
    }

    #[tokio::test]
    async fn mcp_that_accepts_and_hangs_times_out() {
        let (port, _seen) = server(|_| Reply::Open(Vec::new())).await;
        let mut spec = mcp(port);
        spec.timeout = Duration::from_millis(500);
        let outcome = run(&spec, &program(), None).await;
        assert_timed_out(&outcome, spec.timeout);
        // An event stream that never brings the response times out the same way.
        let notification = "data: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n".to_string();
        let (port, _seen) = mcp_server("text/event-stream", notification, true).await;
        let mut spec = mcp(port);
        spec.timeout = Duration::from_millis(500);
        let outcome = run(&spec, &program(), None).await;
        assert_timed_out(&outcome, spec.timeout);
    }

    // ---- exec ----

    #[tokio::test]
    async fn exec_exit_0_is_ok() {
        let outcome = run(&exec("echo starting; echo all good", TIMEOUT), &program(), None).await;
        assert!(outcome.ok, "{outcome:?}");
        assert_eq!(outcome.message, "exit code 0: all good");
        let outcome = run(&exec("true", TIMEOUT), &program(), None).await;
        assert_eq!(outcome.message, "exit code 0");
    }

    #[tokio::test]
    async fn exec_exit_1_fails_with_the_last_line_of_output() {
        let outcome = run(
            &exec("echo checking; echo 'db is down'; echo; exit 1", TIMEOUT),
            &program(),
            None,
        )
        .await;
        assert_fails(&outcome, "exit code 1: db is down");
        let outcome = run(&exec("echo oops >&2; exit 3", TIMEOUT), &program(), None).await;
        assert_fails(&outcome, "exit code 3: oops");
        let outcome = run(&exec("kill -TERM $$", TIMEOUT), &program(), None).await;
        assert_fails(&outcome, "killed by SIGTERM");
    }

    #[tokio::test]
    async fn exec_output_is_drained_and_the_quote_bounded() {
        // 2 MB of output would fill a pipe 30 times over: only a drained command ends.
        let chatty = "head -c 2000000 /dev/zero | tr '\\0' y; echo; echo last words; exit 2";
        let outcome = run(&exec(chatty, TIMEOUT), &program(), None).await;
        assert_fails(&outcome, "exit code 2: last words");
        let long = "head -c 5000 /dev/zero | tr '\\0' x; exit 1";
        let outcome = run(&exec(long, TIMEOUT), &program(), None).await;
        assert!(!outcome.ok);
        assert_eq!(outcome.message, format!("exit code 1: {}…", "x".repeat(199)));
    }

    #[tokio::test]
    async fn exec_runs_like_the_program_with_its_port() {
        let dir = tempfile::tempdir().unwrap();
        let mut program = program();
        program.cwd = Some(dir.path().to_path_buf());
        program.env.insert("GREETING".into(), Secret::new("hello"));
        let script = r#"echo "port=$PORT greeting=$GREETING cwd=$(pwd) marker=$WARDEN_PROGRAM"; test "$PORT" = 4321"#;
        let outcome = run(&exec(script, TIMEOUT), &program, Some(4321)).await;
        assert!(outcome.ok, "{outcome:?}");
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(
            outcome.message,
            format!(
                "exit code 0: port=4321 greeting=hello cwd={} marker=probed",
                cwd.display()
            )
        );
        let outcome = run(&exec(r#"test "$PORT" = 4321"#, TIMEOUT), &program, None).await;
        assert_fails(&outcome, "exit code 1");
    }

    #[tokio::test]
    async fn exec_of_a_missing_command_fails_clearly() {
        let spec = spec(
            ProbeKind::Exec {
                command: "/nonexistent/check".into(),
                args: vec![],
            },
            TIMEOUT,
        );
        let outcome = run(&spec, &program(), None).await;
        assert_fails(&outcome, "cannot run /nonexistent/check: no such file or directory");
    }

    fn read_pid(path: &Path) -> i32 {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.trim().parse().unwrap()
    }

    /// Whether `pid` is a live process (a zombie is dead: killed, awaiting its reaper).
    fn alive(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the command name in parentheses: "PID (comm) S ...".
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    #[tokio::test]
    async fn exec_that_hangs_is_killed_at_the_timeout_with_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main");
        let background = dir.path().join("background");
        let script = format!(
            "echo $$ > {main}; sleep 100 & echo $! > {background}; echo waiting; exec sleep 100",
            main = main.display(),
            background = background.display()
        );
        let timeout = Duration::from_millis(800);
        let outcome = run(&exec(&script, timeout), &program(), None).await;
        assert_timed_out(&outcome, timeout);
        assert_eq!(outcome.message, "timed out after 800ms: waiting");
        let (main, background) = (read_pid(&main), read_pid(&background));
        // The probe waited for the reaper: the main process is gone, not even a zombie.
        assert!(
            !PathBuf::from(format!("/proc/{main}")).exists(),
            "the command {main} is still there"
        );
        // The background sleep was killed with the group. SIGKILL takes effect when the
        // process is next scheduled, hence a (bounded) wait.
        let deadline = Instant::now() + Duration::from_secs(2);
        while alive(background) {
            assert!(Instant::now() < deadline, "the command's child {background} survived");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // ---- a real MCP server (the official Python SDK) ----

    /// Runs `cmd` quietly to its end; `None` when it cannot be started.
    fn run_to_exit(cmd: &mut Command) -> Option<ExitStatus> {
        crate::testing::run_to_exit(cmd.stdout(Stdio::null()).stderr(Stdio::null()))
    }

    /// A Python MCP server of the fixture; killed (and reaped) on drop, even when the
    /// test panics.
    struct PythonServer {
        pid: i32,
        exited: std::sync::mpsc::Receiver<ExitStatus>,
        log: tempfile::NamedTempFile,
    }

    impl PythonServer {
        fn start(port: u16, args: &[&str]) -> PythonServer {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp_server.py");
            let log = tempfile::NamedTempFile::new().unwrap();
            let (tx, exited) = std::sync::mpsc::channel();
            let mut cmd = Command::new("python3");
            cmd.arg(script)
                .args(args)
                .env("PORT", port.to_string())
                .stdin(Stdio::null())
                .stdout(log.reopen().unwrap())
                .stderr(log.reopen().unwrap())
                .process_group(0);
            let child = reaper()
                .spawn(
                    &mut cmd,
                    Box::new(move |_, status| {
                        let _ = tx.send(status);
                    }),
                )
                .expect("python3 starts");
            let pid = child.id() as i32;
            // The reaper waits for it; a std Child never is.
            drop(child);
            PythonServer { pid, exited, log }
        }

        fn log(&self) -> String {
            std::fs::read_to_string(self.log.path()).unwrap_or_default()
        }

        /// Waits until the server accepts connections on `port`.
        async fn wait_listening(&self, port: u16) {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                    return;
                }
                if let Ok(status) = self.exited.try_recv() {
                    panic!("the MCP server exited ({status:?}):\n{}", self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "the MCP server did not listen within 30s:\n{}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }

        /// Waits until the server's log contains `text`.
        async fn wait_log(&self, text: &str) {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !self.log().contains(text) {
                assert!(
                    Instant::now() < deadline,
                    "{text:?} not in the server's log within 5s:\n{}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    impl Drop for PythonServer {
        fn drop(&mut self) {
            let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
            let _ = self.exited.recv_timeout(Duration::from_secs(10));
        }
    }

    /// Whether the `mcp` package can be imported; a loud skip when not, a failure under
    /// `WARDEN_TEST_STRICT=1`.
    fn python_mcp_available() -> bool {
        let available = run_to_exit(Command::new("python3").args(["-c", "import mcp.server"]))
            .is_some_and(|status| status.success());
        crate::testing::require("python3 with the `mcp` package (pip install mcp)", available)
    }

    fn free_port() -> u16 {
        crate::testing::free_port()
    }

    #[tokio::test]
    async fn mcp_probe_of_a_real_python_sdk_server() {
        if !python_mcp_available() {
            return;
        }
        let port = free_port();
        let server = PythonServer::start(port, &[]);
        server.wait_listening(port).await;
        let outcome = run(&mcp(port), &program(), None).await;
        assert!(outcome.ok, "{outcome:?}\n{}", server.log());
        assert!(outcome.message.starts_with("MCP server warden-test-mcp"), "{outcome:?}");
        // The session the probe opened is ended.
        server.wait_log("\"DELETE /mcp HTTP/1.1\" 200").await;

        let port = free_port();
        let broken = PythonServer::start(port, &["broken"]);
        broken.wait_listening(port).await;
        let outcome = run(&mcp(port), &program(), None).await;
        assert!(!outcome.ok, "{outcome:?}");
        assert!(
            outcome.message.starts_with("invalid MCP answer: not JSON"),
            "{outcome:?}"
        );
    }
}
