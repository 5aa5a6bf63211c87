//! The CLI's client side: `warden status|start|stop|restart|logs|reload|probe` talk
//! to a running warden over its HTTP API.
//!
//! One small current-thread runtime per invocation, one `reqwest` client, the wire
//! types of [`crate::api`]. Every request has a timeout (`--timeout`, 10 s; `probe`
//! 5 s), except the body of a followed log stream. Failures print one
//! `warden: ...` line on stderr and exit 1: which URL could not be reached and why, or
//! what the server said and its HTTP status, with a hint about `WARDEN_API_TOKEN` on
//! 401/403.
//!
//! The output formatting (status table, human units, log lines, summaries) and the
//! Server-Sent Events parser are pure functions, unit-tested below.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::api::{
    AlertTest, ControlAnswer, ErrorBody, LastExit, LogLineInfo, LogTail, ProgramStatus, Ready, ReloadAnswer,
    ReloadRefused, ScaleAnswer, ScaleRequest, Status,
};
use crate::cli::{
    AlertAction, AlertChannel, AlertTestArgs, ClientCommand, ControlArgs, LogsArgs, ProbeArgs, ProbeKind, Remote,
    ScaleArgs, StatusArgs,
};
use crate::text::io_cause;

/// Every request's timeout unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// `warden probe`: a health check must answer quickly.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// `--wait`: how long warden waits for the program by default (its `?timeout=`).
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// `--wait`: the client waits this much longer than warden, to get warden's answer.
const WAIT_MARGIN: Duration = Duration::from_secs(5);
/// The environment variable holding the API token (the server reads the same one).
pub const TOKEN_ENV: &str = "WARDEN_API_TOKEN";

/// Runs one client verb; the exit code is 0 on success, 1 on any failure.
pub fn run(cmd: ClientCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("warden: cannot start the client runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cmd)) {
        // A closed pipe (`warden logs -f web | head`) is the reader's choice, not a failure.
        Ok(()) | Err(Failure::Pipe) => ExitCode::SUCCESS,
        Err(Failure::Reported) => ExitCode::FAILURE,
        Err(Failure::Message(m)) => {
            eprintln!("warden: {m}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cmd: ClientCommand) -> Result<(), Failure> {
    match cmd {
        ClientCommand::Status(args) => status(&args).await,
        ClientCommand::Start(args) => control(&args, "start").await,
        ClientCommand::Stop(args) => control(&args, "stop").await,
        ClientCommand::Restart(args) => control(&args, "restart").await,
        ClientCommand::Logs(args) => logs(&args).await,
        ClientCommand::Reload(args) => reload(&Api::or_default(&args.remote, DEFAULT_TIMEOUT)?).await,
        ClientCommand::Probe(args) => probe(&args).await,
        ClientCommand::Scale(args) => scale(&args).await,
        ClientCommand::RunNow(args) => {
            let one = ControlArgs {
                name: Some(args.name.clone()),
                all: false,
                wait: args.wait,
                remote: args.remote.clone(),
            };
            control(&one, "run").await
        }
        ClientCommand::Alert(args) => match args.action {
            AlertAction::Test(args) => alert_test(&args).await,
        },
    }
}

/// Why a verb failed.
#[derive(Debug)]
enum Failure {
    /// Printed as `warden: MESSAGE` on stderr.
    Message(String),
    /// Already printed; exit 1.
    Reported,
    /// stdout was closed by its reader.
    Pipe,
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::Pipe
        } else {
            Failure::Message(format!("cannot write the output: {e}"))
        }
    }
}

// ---------------------------------------------------------------------------------
// The HTTP side
// ---------------------------------------------------------------------------------

struct Api {
    http: reqwest::Client,
    base: Url,
    /// The address for messages: normalized, without a trailing `/`, a password as `***`.
    shown: String,
    token: Option<String>,
    timeout: Duration,
}

impl Api {
    /// `--timeout`, or the verb's `default`, limits each request.
    fn or_default(remote: &Remote, default: Duration) -> Result<Api, Failure> {
        Api::new(remote, remote.timeout.unwrap_or(default))
    }

    /// `timeout` limits each request.
    fn new(remote: &Remote, timeout: Duration) -> Result<Api, Failure> {
        let (base, shown) = parse_base(&remote.url).map_err(Failure::Message)?;
        crate::tls::install_crypto();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(timeout)
            .user_agent(concat!("warden-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &remote.cacert {
            let pem = std::fs::read(path)
                .map_err(|e| Failure::Message(format!("cannot read --cacert {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Failure::Message(format!("--cacert {}: {}", path.display(), cause(&e))))?;
            builder = builder.tls_certs_only(certs);
        }
        let http = builder
            .build()
            .map_err(|e| Failure::Message(format!("cannot set up the HTTP client: {}", cause(&e))))?;
        let token = remote
            .token
            .as_ref()
            .map(|t| t.value().trim().to_string())
            .filter(|t| !t.is_empty());
        Ok(Api {
            http,
            base,
            shown,
            token,
            timeout,
        })
    }

    /// The base URL with `segments` appended (each percent-encoded as needed).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// One request and its whole body within the timeout. Only a transport failure is
    /// an error here; the caller judges the status.
    async fn exchange(&self, method: Method, url: Url) -> Result<(StatusCode, String), Failure> {
        self.send(self.request(method, url)).await
    }

    /// [`Api::exchange`] with a JSON body.
    async fn exchange_json(&self, url: Url, body: &impl serde::Serialize) -> Result<(StatusCode, String), Failure> {
        self.send(self.request(Method::POST, url).json(body)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(StatusCode, String), Failure> {
        let answer = async {
            let response = request.timeout(self.timeout).send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.text().await?))
        };
        answer.await.map_err(|e| Failure::Message(self.unreachable(&e)))
    }

    /// A request that must succeed, its JSON body decoded as `T`.
    async fn call<T: DeserializeOwned>(&self, method: Method, url: Url) -> Result<(StatusCode, T), Failure> {
        let (status, body) = self.exchange(method, url.clone()).await?;
        if !status.is_success() {
            return Err(Failure::Message(self.refusal(status, &body)));
        }
        Ok((status, self.decode(&url, &body)?))
    }

    fn decode<T: DeserializeOwned>(&self, url: &Url, body: &str) -> Result<T, Failure> {
        serde_json::from_str(body).map_err(|e| {
            Failure::Message(format!(
                "unexpected answer from {}: {e} (is the server a warden of the same version?)",
                redacted(url)
            ))
        })
    }

    fn refusal(&self, status: StatusCode, body: &str) -> String {
        refusal(status, body, self.token.is_some())
    }

    fn unreachable(&self, e: &reqwest::Error) -> String {
        unreachable(&self.shown, e, self.timeout)
    }
}

/// `--url` as a base URL; `host:port` without a scheme means `http://host:port`.
fn parse_base(given: &str) -> Result<(Url, String), String> {
    let given = given.trim();
    let text = if given.contains("://") {
        given.to_string()
    } else {
        format!("http://{given}")
    };
    let url = Url::parse(&text).map_err(|e| format!("invalid --url `{given}`: {e} (e.g. http://127.0.0.1:8080)"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(format!("invalid --url `{given}`: use http://HOST:PORT"));
    }
    let shown = redacted(&url).trim_end_matches('/').to_string();
    Ok((url, shown))
}

/// A URL for messages: a password in it reads `***`.
fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// What an error answer says, as one line: the server's `error` (or the status's name),
/// the HTTP status, and for 401/403 what to do about the token.
pub fn refusal(status: StatusCode, body: &str, token_sent: bool) -> String {
    let said = serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.error)
        .ok()
        .or_else(|| {
            // A plain-text answer (a proxy's, say) if it is short; never an HTML page.
            let line = body.trim().lines().next().unwrap_or("").trim();
            (!line.is_empty() && line.len() <= 200 && !line.starts_with('<')).then(|| line.to_string())
        })
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
    let mut line = format!("{said} (HTTP {})", status.as_u16());
    let hint = match (status, token_sent) {
        (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, false) => {
            format!("; no API token was sent: set {TOKEN_ENV} (or pass --token)")
        }
        (StatusCode::UNAUTHORIZED, true) => format!("; the API token was refused: check {TOKEN_ENV} (or --token)"),
        (StatusCode::FORBIDDEN, true) => {
            format!("; the API token may not do this (read-only?): set {TOKEN_ENV} to a full token")
        }
        _ => String::new(),
    };
    line.push_str(&hint);
    line
}

/// A transport failure: which address, and why in a few words.
fn unreachable(shown: &str, e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer from {shown} within {}", humantime::format_duration(timeout));
    }
    if e.is_decode() || e.is_body() {
        return format!("the answer from {shown} broke off: {}", cause(e));
    }
    format!("cannot reach {shown}: {}", cause(e))
}

/// The root cause of an error in words: the I/O error underneath if there is one
/// (`connection refused`), else the innermost message.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = Some(e);
    let mut innermost = e;
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return io_cause(io);
        }
        innermost = err;
        current = err.source();
    }
    innermost.to_string()
}

// ---------------------------------------------------------------------------------
// The verbs
// ---------------------------------------------------------------------------------

/// How stdout looks: a terminal (control characters in program output are escaped)
/// and whether to colour (a terminal, and `NO_COLOR` not set).
#[derive(Debug, Clone, Copy, Default)]
pub struct Term {
    pub tty: bool,
    pub color: bool,
}

impl Term {
    fn stdout() -> Term {
        let tty = io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Term {
            tty,
            color: tty && !no_color,
        }
    }
}

fn print(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

async fn status(args: &StatusArgs) -> Result<(), Failure> {
    let api = Api::or_default(&args.remote, DEFAULT_TIMEOUT)?;
    let url = api.url(&["status"]);
    let (code, body) = api.exchange(Method::GET, url.clone()).await?;
    if !code.is_success() {
        return Err(Failure::Message(api.refusal(code, &body)));
    }
    if args.json {
        // Checked, then re-indented as it came (field order and unknown fields kept).
        api.decode::<serde_json::Value>(&url, &body)?;
        return print(&format!("{}\n", pretty_json(&body)));
    }
    let status: Status = api.decode(&url, &body)?;
    print(&status_table(&status, Term::stdout().color))
}

async fn control(args: &ControlArgs, action: &str) -> Result<(), Failure> {
    // With --wait, --timeout is how long warden waits for the program; the client
    // waits a little longer for warden's answer.
    let timeout = match (args.wait, args.remote.timeout) {
        (true, wait) => wait.unwrap_or(WAIT_TIMEOUT) + WAIT_MARGIN,
        (false, given) => given.unwrap_or(DEFAULT_TIMEOUT),
    };
    let api = Api::new(&args.remote, timeout)?;
    let names: Vec<String> = match &args.name {
        Some(name) if !args.all => vec![name.clone()],
        _ => {
            let (_, programs): (_, Vec<ProgramStatus>) =
                api.call(Method::GET, api.url(&["api", "v1", "programs"])).await?;
            if programs.is_empty() {
                return print("no programs configured\n");
            }
            let mut names = Vec::new();
            for p in programs {
                if p.enabled {
                    names.push(p.name);
                } else {
                    print(&format!("{action} {}: skipped (disabled)\n", p.name))?;
                }
            }
            // Dependencies usually come first in the file: stop their dependents first.
            if action == "stop" {
                names.reverse();
            }
            names
        }
    };
    let mut failed = false;
    for name in &names {
        let mut url = api.url(&["api", "v1", "programs", name, action]);
        if args.wait {
            url.query_pairs_mut().append_pair("wait", "true");
            if let Some(wait) = args.remote.timeout {
                url.query_pairs_mut()
                    .append_pair("timeout", &format!("{}ms", wait.as_millis().max(1)));
            }
        }
        let (code, body) = api.exchange(Method::POST, url).await?;
        if code.is_success() {
            let answer = serde_json::from_str::<ControlAnswer>(&body).ok();
            print(&format!("{}\n", control_line(action, name, code, answer.as_ref())))?;
        } else if args.all {
            // Keep going with the others; report each failure.
            eprintln!("warden: {action} {name}: {}", api.refusal(code, &body));
            failed = true;
        } else {
            return Err(Failure::Message(api.refusal(code, &body)));
        }
    }
    if failed {
        Err(Failure::Reported)
    } else {
        Ok(())
    }
}

/// `restart web: accepted (state starting)`, `stop web: done (state stopped)`.
pub fn control_line(action: &str, name: &str, code: StatusCode, answer: Option<&ControlAnswer>) -> String {
    let outcome = if code == StatusCode::ACCEPTED {
        "accepted"
    } else {
        "done"
    };
    let mut line = format!("{action} {name}: {outcome}");
    if let Some(a) = answer {
        match a.pid {
            Some(pid) => line.push_str(&format!(" (state {}, pid {pid})", a.state)),
            None => line.push_str(&format!(" (state {})", a.state)),
        }
    }
    line
}

async fn logs(args: &LogsArgs) -> Result<(), Failure> {
    let api = Api::or_default(&args.remote, DEFAULT_TIMEOUT)?;
    let mut url = api.url(&["api", "v1", "programs", &args.name, "logs"]);
    url.query_pairs_mut().append_pair("tail", &args.lines.to_string());
    let term = Term::stdout();
    if args.follow {
        url.query_pairs_mut().append_pair("follow", "true");
        return follow(&api, url, term).await;
    }
    let (_, tail): (_, LogTail) = api.call(Method::GET, url).await?;
    let mut text = String::new();
    for line in &tail.lines {
        text.push_str(&log_line(line, term));
        text.push('\n');
    }
    print(&text)
}

/// `?follow=true`: Server-Sent Events until the server closes (or Ctrl-C, which ends
/// the process). The timeout covers the answer's head, not the endless body.
async fn follow(api: &Api, url: Url, term: Term) -> Result<(), Failure> {
    let request = api
        .request(Method::GET, url.clone())
        .header(ACCEPT, "text/event-stream");
    let mut response = match tokio::time::timeout(api.timeout, request.send()).await {
        Err(_) => {
            return Err(Failure::Message(format!(
                "no answer from {} within {}",
                api.shown,
                humantime::format_duration(api.timeout)
            )))
        }
        Ok(Err(e)) => return Err(Failure::Message(api.unreachable(&e))),
        Ok(Ok(response)) => response,
    };
    let code = response.status();
    if !code.is_success() {
        let body = tokio::time::timeout(api.timeout, response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        return Err(Failure::Message(api.refusal(code, &body)));
    }
    let kind = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !kind.starts_with("text/event-stream") {
        return Err(Failure::Message(format!(
            "{} did not answer with an event stream (Content-Type `{kind}`): it cannot follow logs",
            redacted(&url)
        )));
    }
    let mut parser = SseParser::default();
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => {
                let mut text = String::new();
                for event in parser.push(&bytes) {
                    if let Some(line) = follow_event(&event, term) {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
                if !text.is_empty() {
                    print(&text)?;
                }
            }
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(Failure::Message(format!(
                    "the log stream from {} broke off: {}",
                    api.shown,
                    cause(&e)
                )))
            }
        }
    }
}

/// What to print for one event of a followed log: a line, a gap, or nothing
/// (unknown events, undecodable data).
pub fn follow_event(event: &SseEvent, term: Term) -> Option<String> {
    match event.event.as_str() {
        "line" => serde_json::from_str::<LogLineInfo>(&event.data)
            .ok()
            .map(|l| log_line(&l, term)),
        "gap" => serde_json::from_str::<crate::api::LogGap>(&event.data).ok().map(|g| {
            let text = format!(
                "... {} line{} skipped ...",
                g.skipped,
                if g.skipped == 1 { "" } else { "s" }
            );
            paint(&text, DIM, term.color)
        }),
        _ => None,
    }
}

/// `TIME STREAM text`, the stream as `out`, `err` or `warden`.
pub fn log_line(line: &LogLineInfo, term: Term) -> String {
    let stream = match line.stream.as_str() {
        "stdout" | "out" => "out",
        "stderr" | "err" => "err",
        other => other,
    };
    let pad = " ".repeat(6usize.saturating_sub(stream.chars().count()));
    let tag = match stream {
        "err" => paint(stream, RED, term.color),
        "warden" => paint(stream, DIM, term.color),
        _ => stream.to_string(),
    } + &pad;
    let text = if term.tty {
        escape_controls(&line.text)
    } else {
        line.text.clone()
    };
    format!("{} {tag} {text}", line.at)
}

/// A program's output on a terminal: control characters (escape sequences that could
/// move the cursor or retitle the window) are shown, not obeyed. Tabs stay.
fn escape_controls(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

async fn reload(api: &Api) -> Result<(), Failure> {
    let url = api.url(&["api", "v1", "reload"]);
    let (code, body) = api.exchange(Method::POST, url.clone()).await?;
    if code.is_success() {
        let answer: ReloadAnswer = api.decode(&url, &body)?;
        return print(&format!("{}\n", reload_summary(&answer)));
    }
    if code == StatusCode::BAD_REQUEST {
        if let Ok(refused) = serde_json::from_str::<ReloadRefused>(&body) {
            let mut err = io::stderr().lock();
            let _ = writeln!(err, "warden: {}", refused.error);
            for e in &refused.errors {
                let _ = writeln!(err, "{e}");
            }
            return Err(Failure::Reported);
        }
    }
    Err(Failure::Message(api.refusal(code, &body)))
}

/// `reloaded: added api; changed web, worker; removed old; 3 unchanged`.
pub fn reload_summary(r: &ReloadAnswer) -> String {
    let mut parts = Vec::new();
    for (what, names) in [("added", &r.added), ("changed", &r.changed), ("removed", &r.removed)] {
        if !names.is_empty() {
            parts.push(format!("{what} {}", names.join(", ")));
        }
    }
    if parts.is_empty() {
        return format!("reloaded: nothing changed ({} unchanged)", r.unchanged.len());
    }
    parts.push(format!("{} unchanged", r.unchanged.len()));
    format!("reloaded: {}", parts.join("; "))
}

async fn scale(args: &ScaleArgs) -> Result<(), Failure> {
    let api = Api::or_default(&args.remote, DEFAULT_TIMEOUT)?;
    let url = api.url(&["api", "v1", "programs", &args.name, "scale"]);
    let body = ScaleRequest {
        instances: args.instances,
    };
    let (code, text) = api.exchange_json(url.clone(), &body).await?;
    if !code.is_success() {
        return Err(Failure::Message(api.refusal(code, &text)));
    }
    let answer: ScaleAnswer = api.decode(&url, &text)?;
    print(&format!("{}\n", scale_summary(&answer)))
}

/// `mcp: 3 instances (started mcp-1, mcp-2)` / `mcp: 1 instance (stopped mcp-2, mcp-1)`.
pub fn scale_summary(a: &ScaleAnswer) -> String {
    let mut changes = Vec::new();
    if !a.added.is_empty() {
        changes.push(format!("started {}", a.added.join(", ")));
    }
    if !a.removed.is_empty() {
        changes.push(format!("stopped {}", a.removed.join(", ")));
    }
    let plural = if a.instances == 1 { "" } else { "s" };
    match changes.is_empty() {
        true => format!("{}: {} instance{plural} (unchanged)", a.program, a.instances),
        false => format!(
            "{}: {} instance{plural} ({})",
            a.program,
            a.instances,
            changes.join("; ")
        ),
    }
}

/// How long `warden alert test` lets warden wait for the deliveries.
const ALERT_TEST_WAIT: Duration = Duration::from_secs(20);

async fn alert_test(args: &AlertTestArgs) -> Result<(), Failure> {
    let wait = args.remote.timeout.unwrap_or(ALERT_TEST_WAIT);
    let api = Api::new(&args.remote, wait + Duration::from_secs(10))?;
    let mut url = api.url(&["api", "v1", "alerts", "test"]);
    if let Some(channel) = args.channel {
        let name = match channel {
            AlertChannel::Email => "email",
            AlertChannel::Slack => "slack",
        };
        url.query_pairs_mut().append_pair("channel", name);
    }
    url.query_pairs_mut()
        .append_pair("wait", "true")
        .append_pair("timeout", &format!("{}ms", wait.as_millis().max(1)));
    let (code, body) = api.exchange(Method::POST, url.clone()).await?;
    if code != StatusCode::OK && code != StatusCode::BAD_GATEWAY {
        return Err(Failure::Message(api.refusal(code, &body)));
    }
    let answer: AlertTest = api.decode(&url, &body)?;
    print(&alert_test_lines(&answer))?;
    if answer.results.iter().all(|r| r.state == "sent") {
        Ok(())
    } else {
        Err(Failure::Reported)
    }
}

/// `email: sent` / `slack: failed: the Slack webhook refused the message: HTTP 404: no_service`, one per channel.
pub fn alert_test_lines(answer: &AlertTest) -> String {
    answer
        .results
        .iter()
        .map(|r| match &r.error {
            None => format!("{}: {}\n", r.channel, r.state),
            Some(e) if r.state == "pending" => format!("{}: not delivered yet: {e}\n", r.channel),
            Some(e) => format!("{}: {}: {e}\n", r.channel, r.state),
        })
        .collect()
}

async fn probe(args: &ProbeArgs) -> Result<(), Failure> {
    let api = Api::or_default(&args.remote, PROBE_TIMEOUT)?;
    let what = match args.what {
        ProbeKind::Live => "live",
        ProbeKind::Ready => "ready",
    };
    let (code, body) = api.exchange(Method::GET, api.url(&[what])).await?;
    if code == StatusCode::OK {
        return print(&format!("{what}\n"));
    }
    Err(Failure::Message(probe_failure(
        args.what,
        code,
        &body,
        api.token.is_some(),
    )))
}

/// One line on why a probe failed: `/ready`'s reasons, or the error answer.
pub fn probe_failure(what: ProbeKind, code: StatusCode, body: &str, token_sent: bool) -> String {
    if what == ProbeKind::Ready {
        if let Ok(ready) = serde_json::from_str::<Ready>(body) {
            if !ready.reasons.is_empty() {
                return format!("not ready: {} (HTTP {})", ready.reasons.join("; "), code.as_u16());
            }
        }
    }
    let name = match what {
        ProbeKind::Live => "live",
        ProbeKind::Ready => "ready",
    };
    format!("not {name}: {}", refusal(code, body, token_sent))
}

// ---------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

fn paint(text: &str, color: &str, on: bool) -> String {
    if on {
        format!("{color}{text}{RESET}")
    } else {
        text.to_string()
    }
}

const COLUMNS: [&str; 9] = [
    "NAME",
    "STATE",
    "PID",
    "UPTIME",
    "RESTARTS",
    "MEM",
    "CPU",
    "PROBE",
    "LAST EXIT",
];
const STATE: usize = 1;

/// `/status` as an aligned table and one line of checks and host level; the STATE
/// column coloured when `color`.
pub fn status_table(status: &Status, color: bool) -> String {
    let mut out = String::new();
    if status.programs.is_empty() {
        out.push_str("no programs configured\n");
    } else {
        let rows: Vec<[String; 9]> = status.programs.iter().map(row).collect();
        let mut widths = COLUMNS.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header = COLUMNS.map(str::to_string);
        write_row(&mut out, &header, &widths, None);
        for (row, p) in rows.iter().zip(&status.programs) {
            write_row(&mut out, row, &widths, color.then(|| state_color(p)).flatten());
        }
    }
    if let Some(line) = footer(status) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn write_row(out: &mut String, cells: &[String; 9], widths: &[usize; 9], state_color: Option<&str>) {
    let last = cells.len() - 1;
    for (i, cell) in cells.iter().enumerate() {
        match (i, state_color) {
            (STATE, Some(c)) => out.push_str(&paint(cell, c, true)),
            _ => out.push_str(cell),
        }
        if i < last {
            let pad = widths[i] - cell.chars().count() + 2;
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.push('\n');
}

fn row(p: &ProgramStatus) -> [String; 9] {
    let dash = || "-".to_string();
    [
        p.name.clone(),
        p.state.clone(),
        p.pid.map_or_else(dash, |pid| pid.to_string()),
        p.uptime_seconds.map_or_else(dash, human_duration),
        p.restarts.to_string(),
        p.memory_bytes.map_or_else(dash, human_bytes),
        p.cpu_percent.map_or_else(dash, |c| format!("{c:.1}%")),
        p.probe.as_ref().map_or_else(dash, |probe| probe.status.clone()),
        match (&p.last_exit, &p.reason) {
            (Some(x), _) => last_exit(x),
            (None, Some(reason)) => reason.clone(),
            (None, None) => dash(),
        },
    ]
}

fn state_color(p: &ProgramStatus) -> Option<&'static str> {
    match p.state.as_str() {
        "running" => Some(GREEN),
        "starting" | "backoff" | "stopping" => Some(YELLOW),
        "failed" => Some(RED),
        "exited" => match &p.last_exit {
            Some(x) if x.code == Some(0) => None,
            Some(_) => Some(RED),
            None => None,
        },
        "stopped" => Some(DIM),
        _ => None,
    }
}

/// `exit code 1`, `signal SIGKILL`, `operator (SIGTERM)`, `spawn_failed`.
pub fn last_exit(x: &LastExit) -> String {
    let detail = match (x.code, x.signal) {
        (Some(code), _) => Some(format!("code {code}")),
        (None, Some(signal)) => Some(signal_name(signal)),
        (None, None) => None,
    };
    match (x.reason.as_str(), detail) {
        ("exit_code", Some(d)) => format!("exit {d}"),
        ("signal", Some(d)) => format!("signal {d}"),
        (reason, Some(d)) => format!("{reason} ({d})"),
        (reason, None) => reason.to_string(),
    }
}

fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal).map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_string())
}

/// `checks: db up, cache down; system: warning (memory: 92% used)`; `None` when
/// there is neither.
fn footer(status: &Status) -> Option<String> {
    let mut parts = Vec::new();
    if !status.checks.is_empty() {
        let checks: Vec<String> = status
            .checks
            .iter()
            .map(|(name, c)| format!("{name} {}", c.status))
            .collect();
        parts.push(format!("checks: {}", checks.join(", ")));
    }
    if let Some(system) = &status.system {
        let concerns: Vec<String> = system
            .findings
            .iter()
            .filter(|f| f.level != "ok")
            .map(|f| format!("{}: {}", f.component, f.reason))
            .collect();
        if concerns.is_empty() {
            parts.push(format!("system: {}", system.level));
        } else {
            parts.push(format!("system: {} ({})", system.level, concerns.join(", ")));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `45s`, `5m12s`, `2h5m`, `3d4h`: the two largest units (a zero second one left out).
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let (big, big_unit, small, small_unit) = if d > 0 {
        (d, 'd', h, 'h')
    } else if h > 0 {
        (h, 'h', m, 'm')
    } else if m > 0 {
        (m, 'm', s, 's')
    } else {
        return format!("{s}s");
    };
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit}{small}{small_unit}")
    }
}

/// `512B`, `1.5K`, `12.3M`, `256M`, `1.2G` (binary units).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 99.95 {
        format!("{value:.1}{}", UNITS[unit])
    } else {
        format!("{value:.0}{}", UNITS[unit])
    }
}

/// Valid JSON re-indented like `serde_json::to_string_pretty`, keeping the order of
/// fields and every byte of every value.
pub fn pretty_json(text: &str) -> String {
    fn newline(out: &mut String, depth: usize) {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    }
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                    chars.next();
                }
                let close = if c == '{' { '}' } else { ']' };
                out.push(c);
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Server-Sent Events
// ---------------------------------------------------------------------------------

/// One dispatched event: its type (`message` unless named) and its data lines joined
/// by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// An incremental `text/event-stream` parser (the WHATWG rules): feed it chunks as
/// they arrive, split anywhere (inside a line, a UTF-8 character or a `\r\n`); it
/// returns the events completed by each chunk. Comments (`:` keep-alives), `id` and
/// `retry` are ignored; an event without data is not dispatched.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line not yet terminated.
    line: Vec<u8>,
    /// The last chunk ended in `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    /// Before the first line: a byte order mark is skipped.
    started: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let mut chunk = chunk;
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        let mut start = 0;
        let mut i = 0;
        while i < chunk.len() {
            match chunk[i] {
                b'\n' | b'\r' => {
                    self.line.extend_from_slice(&chunk[start..i]);
                    let line = std::mem::take(&mut self.line);
                    self.process(&line, &mut events);
                    if chunk[i] == b'\r' {
                        match chunk.get(i + 1) {
                            Some(b'\n') => i += 1,
                            Some(_) => {}
                            None => self.after_cr = true,
                        }
                    }
                    i += 1;
                    start = i;
                }
                _ => i += 1,
            }
        }
        self.line.extend_from_slice(&chunk[start..]);
        events
    }

    fn process(&mut self, line: &[u8], events: &mut Vec<SseEvent>) {
        let line = String::from_utf8_lossy(line);
        let mut line: &str = &line;
        if !self.started {
            self.started = true;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.is_empty() {
            if self.has_data {
                let event = if self.event.is_empty() {
                    "message".to_string()
                } else {
                    std::mem::take(&mut self.event)
                };
                events.push(SseEvent {
                    event,
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn status(programs: serde_json::Value, extra: serde_json::Value) -> Status {
        let mut value = json!({
            "version": "0.1.0",
            "uptime_seconds": 100,
            "warden": {"pid": 1, "started_at": "2025-01-01T00:00:00Z", "cgroup": null},
            "programs": programs,
            "system": null,
            "checks": {},
        });
        for (k, v) in extra.as_object().unwrap() {
            value[k] = v.clone();
        }
        serde_json::from_value(value).unwrap()
    }

    fn program(name: &str, state: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut p = json!({
            "name": name, "state": state, "reason": null, "enabled": true, "pid": null,
            "restarts": 0, "uptime_seconds": null, "last_exit_code": null, "last_exit": null,
            "next_restart_at": null, "next_restart_in_seconds": null, "memory_bytes": null,
            "cpu_percent": null, "probe": null, "port": null, "healthy": false, "required": true,
        });
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    }

    fn probe(status: &str) -> serde_json::Value {
        json!({"type": "http", "status": status, "ok": true, "message": "HTTP 200",
               "checked_at": null, "duration_ms": 1.0, "consecutive_failures": 0, "action": "restart"})
    }

    fn two() -> Status {
        status(
            json!([
                program(
                    "web",
                    "running",
                    json!({
                        "pid": 4242, "uptime_seconds": 7500, "restarts": 2,
                        "memory_bytes": 12_897_485u64, "cpu_percent": 1.5, "probe": probe("healthy"),
                        "last_exit": {"at": "2025-01-01T00:00:00Z", "reason": "exit_code",
                                      "message": "exit code 1", "code": 1, "signal": null},
                    })
                ),
                program(
                    "mail-watcher",
                    "stopped",
                    json!({
                        "last_exit": {"at": "2025-01-01T00:00:00Z", "reason": "operator",
                                      "message": "stopped by the operator", "code": null, "signal": 15},
                    })
                ),
                program("crashy", "failed", json!({"reason": "gave up after 5 restarts in 60s"})),
            ]),
            json!({
                "checks": {"db": {"type": "postgres", "required": true, "status": "up",
                                  "latency_ms": 1.0, "message": "ok", "checked_at": null,
                                  "since": null, "consecutive_failures": 0},
                           "cache": {"type": "redis", "required": false, "status": "down",
                                     "latency_ms": null, "message": "connection refused",
                                     "checked_at": null, "since": null, "consecutive_failures": 3}},
                "system": {"at": "2025-01-01T00:00:00Z", "level": "warning", "cpu": null,
                           "memory": {"used_bytes": 1, "total_bytes": 2, "usage_ratio": 0.5, "level": "ok"},
                           "disks": [], "load_average": [0.0, 0.0, 0.0],
                           "findings": [{"component": "memory", "level": "warning", "reason": "92% used"},
                                        {"component": "cpu", "level": "ok", "reason": "3% busy"}]},
            }),
        )
    }

    #[test]
    fn the_status_table_is_aligned_with_human_units() {
        let table = status_table(&two(), false);
        let expected = "\
NAME          STATE    PID   UPTIME  RESTARTS  MEM    CPU   PROBE    LAST EXIT
web           running  4242  2h5m    2         12.3M  1.5%  healthy  exit code 1
mail-watcher  stopped  -     -       0         -      -     -        operator (SIGTERM)
crashy        failed   -     -       0         -      -     -        gave up after 5 restarts in 60s
checks: cache down, db up; system: warning (memory: 92% used)
";
        assert_eq!(table, expected);
    }

    #[test]
    fn only_the_state_is_coloured_and_the_columns_stay_aligned() {
        let plain = status_table(&two(), false);
        let coloured = status_table(&two(), true);
        assert!(coloured.contains("\x1b[32mrunning\x1b[0m  4242"), "{coloured}");
        assert!(coloured.contains("\x1b[2mstopped\x1b[0m"));
        assert!(coloured.contains("\x1b[31mfailed\x1b[0m "));
        let stripped = coloured
            .replace(GREEN, "")
            .replace(RED, "")
            .replace(DIM, "")
            .replace(YELLOW, "")
            .replace(RESET, "");
        assert_eq!(stripped, plain);
        assert!(!status_table(&two(), false).contains('\x1b'));
    }

    #[test]
    fn exited_is_red_only_after_a_failure() {
        let exit = |code: i32| {
            let s = status(
                json!([program(
                    "job",
                    "exited",
                    json!({"last_exit": {"at": "t", "reason": "exit_code",
                    "message": "", "code": code, "signal": null}})
                )]),
                json!({}),
            );
            status_table(&s, true)
        };
        assert!(exit(0).contains("\njob   exited  "), "{}", exit(0));
        assert!(exit(2).contains("\x1b[31mexited\x1b[0m"));
    }

    #[test]
    fn no_programs_is_said_in_words_and_no_footer_without_checks_or_system() {
        assert_eq!(
            status_table(&status(json!([]), json!({})), false),
            "no programs configured\n"
        );
    }

    #[test]
    fn last_exits_read_naturally() {
        let x = |reason: &str, code: Option<i32>, signal: Option<i32>| {
            last_exit(&LastExit {
                at: String::new(),
                reason: reason.into(),
                message: String::new(),
                code,
                signal,
            })
        };
        assert_eq!(x("exit_code", Some(3), None), "exit code 3");
        assert_eq!(x("signal", None, Some(9)), "signal SIGKILL");
        assert_eq!(x("probe_failed", None, Some(9)), "probe_failed (SIGKILL)");
        assert_eq!(x("spawn_failed", None, None), "spawn_failed");
        assert_eq!(x("signal", None, Some(99)), "signal signal 99");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(60), "1m");
        assert_eq!(human_duration(312), "5m12s");
        assert_eq!(human_duration(7_500), "2h5m");
        assert_eq!(human_duration(7_200), "2h");
        assert_eq!(human_duration(3 * 86_400 + 4 * 3_600 + 59), "3d4h");
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1536), "1.5K");
        assert_eq!(human_bytes(12_897_485), "12.3M");
        assert_eq!(human_bytes(256 * 1024 * 1024), "256M");
        assert_eq!(human_bytes(1_288_490_189), "1.2G");
        assert_eq!(human_bytes(u64::MAX), "16384P");
    }

    #[test]
    fn error_answers_become_one_line_with_the_status() {
        let nf = refusal(StatusCode::NOT_FOUND, r#"{"error":"no program `x`"}"#, false);
        assert_eq!(nf, "no program `x` (HTTP 404)");
        let html = refusal(StatusCode::BAD_GATEWAY, "<html><body>bad</body></html>", false);
        assert_eq!(html, "bad gateway (HTTP 502)");
        let text = refusal(StatusCode::TOO_MANY_REQUESTS, "slow down\n", false);
        assert_eq!(text, "slow down (HTTP 429)");
        let missing = refusal(StatusCode::UNAUTHORIZED, r#"{"error":"a token is required"}"#, false);
        assert_eq!(
            missing,
            "a token is required (HTTP 401); no API token was sent: set WARDEN_API_TOKEN (or pass --token)"
        );
        let refused = refusal(StatusCode::UNAUTHORIZED, r#"{"error":"the token was refused"}"#, true);
        assert_eq!(
            refused,
            "the token was refused (HTTP 401); the API token was refused: check WARDEN_API_TOKEN (or --token)"
        );
        let read_only = refusal(StatusCode::FORBIDDEN, r#"{"error":"read-only token"}"#, true);
        assert!(read_only
            .ends_with("(HTTP 403); the API token may not do this (read-only?): set WARDEN_API_TOKEN to a full token"));
    }

    #[test]
    fn probe_failures_say_why() {
        let body = r#"{"ready":false,"reasons":["program web: stopped","check db: down"]}"#;
        assert_eq!(
            probe_failure(ProbeKind::Ready, StatusCode::SERVICE_UNAVAILABLE, body, false),
            "not ready: program web: stopped; check db: down (HTTP 503)"
        );
        assert_eq!(
            probe_failure(
                ProbeKind::Live,
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"the supervision loop does not answer"}"#,
                false
            ),
            "not live: the supervision loop does not answer (HTTP 503)"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_named_with_its_reason() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (base, shown) = parse_base(&format!("127.0.0.1:{port}/")).unwrap();
        assert_eq!(shown, format!("http://127.0.0.1:{port}"));
        crate::tls::install_crypto();
        let e = reqwest::Client::new().get(base).send().await.unwrap_err();
        assert_eq!(
            unreachable(&shown, &e, DEFAULT_TIMEOUT),
            format!("cannot reach http://127.0.0.1:{port}: connection refused")
        );
    }

    #[test]
    fn urls_are_checked_joined_and_shown_without_passwords() {
        let (base, shown) = parse_base("http://admin:pw@example.com:9000/warden/").unwrap();
        assert_eq!(shown, "http://admin:***@example.com:9000/warden");
        let remote = Remote {
            url: "http://127.0.0.1:8080".into(),
            token: None,
            timeout: None,
            cacert: None,
        };
        let api = Api::new(&remote, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(
            api.url(&["api", "v1", "programs", "a b", "logs"]).as_str(),
            "http://127.0.0.1:8080/api/v1/programs/a%20b/logs"
        );
        let mut prefixed = base.clone();
        prefixed.path_segments_mut().unwrap().pop_if_empty().extend(["status"]);
        assert_eq!(prefixed.as_str(), "http://admin:pw@example.com:9000/warden/status");
        assert!(parse_base("ftp://x").is_err());
        assert!(parse_base("http://").is_err());
    }

    #[test]
    fn control_lines() {
        let a = ControlAnswer {
            program: "web".into(),
            action: "restart".into(),
            state: "starting".into(),
            pid: None,
        };
        assert_eq!(
            control_line("restart", "web", StatusCode::ACCEPTED, Some(&a)),
            "restart web: accepted (state starting)"
        );
        let a = ControlAnswer {
            state: "running".into(),
            pid: Some(7),
            ..a
        };
        assert_eq!(
            control_line("start", "web", StatusCode::OK, Some(&a)),
            "start web: done (state running, pid 7)"
        );
        assert_eq!(
            control_line("stop", "web", StatusCode::ACCEPTED, None),
            "stop web: accepted"
        );
    }

    #[test]
    fn reload_summaries() {
        let r = ReloadAnswer {
            added: vec!["api".into()],
            changed: vec!["web".into(), "worker".into()],
            removed: vec![],
            unchanged: vec!["a".into(), "b".into(), "c".into()],
        };
        assert_eq!(
            reload_summary(&r),
            "reloaded: added api; changed web, worker; 3 unchanged"
        );
        let r = ReloadAnswer {
            added: vec![],
            changed: vec![],
            removed: vec![],
            unchanged: vec!["a".into()],
        };
        assert_eq!(reload_summary(&r), "reloaded: nothing changed (1 unchanged)");
    }

    #[test]
    fn log_lines_and_gaps() {
        let line = LogLineInfo {
            at: "2025-01-01T00:00:00.000001Z".into(),
            stream: "stderr".into(),
            text: "boom \x1b]0;pwned\x07".into(),
        };
        let plain = Term::default();
        assert_eq!(
            log_line(&line, plain),
            "2025-01-01T00:00:00.000001Z err    boom \x1b]0;pwned\x07"
        );
        let tty = Term { tty: true, color: true };
        assert_eq!(
            log_line(&line, tty),
            "2025-01-01T00:00:00.000001Z \x1b[31merr\x1b[0m    boom \\u{1b}]0;pwned\\u{7}"
        );
        let event = |event: &str, data: &str| SseEvent {
            event: event.into(),
            data: data.into(),
        };
        assert_eq!(
            follow_event(&event("line", r#"{"at":"T","stream":"stdout","text":"hi"}"#), plain).as_deref(),
            Some("T out    hi")
        );
        assert_eq!(
            follow_event(
                &event("line", r#"{"at":"T","stream":"warden","text":"started"}"#),
                plain
            )
            .as_deref(),
            Some("T warden started")
        );
        assert_eq!(
            follow_event(&event("gap", r#"{"skipped": 42}"#), plain).as_deref(),
            Some("... 42 lines skipped ...")
        );
        assert_eq!(follow_event(&event("message", "x"), plain), None);
        assert_eq!(follow_event(&event("line", "not json"), plain), None);
    }

    #[test]
    fn pretty_json_matches_serde_and_keeps_the_order() {
        let value = json!({
            "a": [1, 2.5, {"b": null}, [], {}],
            "c": "text with {braces}, [brackets], \"quotes\": and \\ backslash",
            "d": {"e": {"f": true}},
            "g": [],
        });
        let compact = serde_json::to_string(&value).unwrap();
        assert_eq!(pretty_json(&compact), serde_json::to_string_pretty(&value).unwrap());
        let spaced = "{ \"z\" : 1 , \"a\" : [ ] }";
        assert_eq!(pretty_json(spaced), "{\n  \"z\": 1,\n  \"a\": []\n}");
    }

    const STREAM: &str = ": keep-alive\n\nevent: line\ndata: {\"at\":\"T\",\"stream\":\"stdout\",\"text\":\"héllo\"}\n\n:\r\nevent: gap\r\ndata: {\"skipped\": 3}\r\n\r\ndata: a\rdata:b\r\rid: 7\nretry: 100\nevent: empty\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                event: "line".into(),
                data: r#"{"at":"T","stream":"stdout","text":"héllo"}"#.into(),
            },
            SseEvent {
                event: "gap".into(),
                data: r#"{"skipped": 3}"#.into(),
            },
            SseEvent {
                event: "message".into(),
                data: "a\nb".into(),
            },
        ]
    }

    #[test]
    fn sse_in_one_chunk() {
        let mut p = SseParser::default();
        assert_eq!(p.push(STREAM.as_bytes()), expected());
    }

    #[test]
    fn sse_split_at_every_byte_and_every_pair_of_places() {
        let bytes = STREAM.as_bytes();
        let mut p = SseParser::default();
        let mut events = Vec::new();
        for b in bytes {
            events.extend(p.push(std::slice::from_ref(b)));
        }
        assert_eq!(events, expected(), "byte by byte");
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let mut p = SseParser::default();
                let mut events = p.push(&bytes[..i]);
                events.extend(p.push(&[]));
                events.extend(p.push(&bytes[i..j]));
                events.extend(p.push(&bytes[j..]));
                assert_eq!(events, expected(), "split at {i} and {j}");
            }
        }
    }

    #[test]
    fn sse_an_unfinished_event_waits_for_its_blank_line() {
        let mut p = SseParser::default();
        assert!(p.push(b"\xef\xbb\xbfevent: line\ndata: 1").is_empty());
        assert!(p.push(b"\n").is_empty());
        let events = p.push(b"\n");
        assert_eq!(
            events,
            [SseEvent {
                event: "line".into(),
                data: "1".into()
            }]
        );
        // An event type does not leak into the next event.
        assert_eq!(p.push(b"data: 2\n\n")[0].event, "message");
    }
}
