//! The `/dashboard` page in a real headless Chromium, against a live warden: what it
//! shows, that it follows what happens, control with and without a token, log lines
//! shown as text, phone and desktop layouts (screenshots in `target/dashboard/`), and
//! its Content-Security-Policy. The browser is driven by `tests/fixtures/
//! dashboard_check.py` (Selenium + chromedriver): one session per test, one JSON step
//! per line on its stdin, one answer per line on its stdout, so the scenario and the
//! checks on warden's side stay here.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

const TOKEN: &str = "dash-full-token-5555555555";
const READ_TOKEN: &str = "dash-read-token-6666666666";

/// A running `sleep`, a crash loop held in backoff (its second exit waits 60 s), and a
/// program that is not started with warden.
const THREE_PROGRAMS: &str = r#"[[program]]
name = "sleeper"
command = "sleep"
args = ["1000"]
start_period = "300ms"

[[program]]
name = "crasher"
command = "sh"
args = ["-c", "echo giving up >&2; exit 3"]
required = false
backoff = { initial = "60s", max = "60s" }

[[program]]
name = "idle"
command = "sleep"
args = ["1000"]
autostart = false
"#;

fn browser_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let on_path = |name: &str| {
            std::env::var_os("PATH")
                .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
        };
        let chromium = ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .any(|b| on_path(b));
        let selenium = Command::new("python3")
            .args(["-c", "import selenium"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        chromium && on_path("chromedriver") && selenium
    })
}

fn require_browser() -> bool {
    require(
        "headless Chromium (chromium, chromedriver) and python3 with `selenium`",
        browser_available(),
    )
}

/// `target/dashboard/` (or under `$CARGO_TARGET_DIR`): screenshots, and what the
/// driver saves when a check fails.
fn artifacts() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("dashboard")
}

/// Warden with a full token (`$DASH_TOKEN`) and the dashboard's JSON public, running
/// `programs`; the helpers' own requests carry the token.
fn warden(programs: &str) -> Warden {
    let mut w = Warden::prepare();
    w.env.push(("DASH_TOKEN".into(), TOKEN.into()));
    w.server =
        "tokens = [\"${DASH_TOKEN}\"]\npublic = [\"live\", \"ready\", \"health\", \"metrics\", \"dashboard\"]\n".into();
    w.token = Some(TOKEN.into());
    w.write_config(programs);
    w.launch();
    w
}

fn field(program: &str, field: &str) -> String {
    format!("[data-program=\"{program}\"] [data-field=\"{field}\"]")
}

fn button(program: &str, action: &str) -> String {
    format!("[data-program=\"{program}\"] button[data-action=\"{action}\"]")
}

/// One headless Chromium session, driven through `dashboard_check.py`.
struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    warden_log: PathBuf,
}

impl Browser {
    fn start(w: &Warden, label: &str) -> Browser {
        for stale in ["png", "html"] {
            let _ = std::fs::remove_file(artifacts().join(format!("failure-{label}.{stale}")));
        }
        let mut child = Command::new("python3")
            .arg(format!(
                "{}/tests/fixtures/dashboard_check.py",
                env!("CARGO_MANIFEST_DIR")
            ))
            .arg(format!("http://127.0.0.1:{}", w.port))
            .arg("--artifacts")
            .arg(artifacts())
            .args(["--label", label])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: chromedriver and Chromium go with it in `Drop`.
            .process_group(0)
            .spawn()
            .expect("start python3 dashboard_check.py");
        let (tx, replies) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Browser {
            stdin: child.stdin.take(),
            child,
            replies,
            stderr,
            warden_log: w.path("warden.stderr"),
        }
    }

    fn fail(&mut self, what: String) -> ! {
        // Let the driver finish writing its message before reading it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = self.child.try_wait().ok().flatten();
        panic!(
            "{what}\n--- dashboard_check.py (exit: {status:?}) stderr ---\n{}\n--- warden's log (tail) ---\n{}",
            self.stderr.lock().unwrap(),
            tail(&std::fs::read_to_string(&self.warden_log).unwrap_or_default(), 20)
        );
    }

    /// Runs one step and returns its value; any failure fails the test with the
    /// driver's message and stderr.
    fn step(&mut self, step: Value) -> Value {
        let timeout = step["timeout"].as_f64().unwrap_or(10.0);
        let line = format!("{step}\n");
        if let Err(e) = self.stdin.as_mut().unwrap().write_all(line.as_bytes()) {
            self.fail(format!("could not send {step} to the driver: {e}"));
        }
        let _ = self.stdin.as_mut().unwrap().flush();
        // The first step also waits for Chromium to start.
        let answer = match self
            .replies
            .recv_timeout(Duration::from_secs_f64(timeout) + Duration::from_secs(40))
        {
            Ok(answer) => answer,
            Err(RecvTimeoutError::Timeout) => self.fail(format!("no answer from the driver to {step}")),
            Err(RecvTimeoutError::Disconnected) => self.fail(format!("the driver exited without answering {step}")),
        };
        let answer: Value = serde_json::from_str(&answer)
            .unwrap_or_else(|e| self.fail(format!("the driver answered {step} with non-JSON ({e}): {answer}")));
        if answer["ok"] != true {
            self.fail(format!(
                "browser check failed: {}",
                answer["error"].as_str().unwrap_or("?")
            ));
        }
        answer["value"].clone()
    }

    fn open(&mut self, path: &str) {
        self.step(json!({"op": "open", "path": path, "timeout": 15}));
    }

    /// Waits (10 s unless `extra` says) until the element's text meets `extra`'s conditions.
    fn wait(&mut self, css: &str, extra: Value) -> String {
        let mut step = json!({"op": "wait", "css": css});
        step.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        self.step(step).as_str().unwrap_or_default().to_string()
    }

    fn wait_js(&mut self, what: &str, script: &str, timeout: u64) -> Value {
        self.step(json!({"op": "wait_js", "what": what, "script": script, "timeout": timeout}))
    }

    fn js(&mut self, script: &str) -> Value {
        self.step(json!({"op": "js", "script": script}))
    }

    fn click(&mut self, css: &str) {
        self.step(json!({"op": "click", "css": css}));
    }

    fn displayed(&mut self, css: &str) -> bool {
        self.step(json!({"op": "displayed", "css": css})) == true
    }

    /// Clicks `program`'s `action` button, then the dialog's yes.
    fn confirmed(&mut self, program: &str, action: &str) {
        self.click(&button(program, action));
        self.wait(
            "dialog#confirm",
            json!({"visible": true, "what": "the confirmation dialog"}),
        );
        self.click("#confirm-yes");
        self.wait(
            "dialog#confirm",
            json!({"visible": false, "what": "the dialog to close"}),
        );
    }

    /// Types `token` into the token form and saves it.
    fn save_token(&mut self, token: &str) {
        self.step(json!({"op": "type", "css": "#token-input", "text": token}));
        self.click("#token-save");
    }

    /// Fails on a SEVERE browser log entry or a Content-Security-Policy message.
    fn no_console_errors(&mut self) {
        self.console_errors_only(&[]);
    }

    /// Fails on a console error (as above) that does not contain one of `allow`.
    fn console_errors_only(&mut self, allow: &[&str]) {
        let entries = self.step(json!({"op": "console", "fail": true, "allow": allow}));
        for entry in entries.as_array().into_iter().flatten() {
            eprintln!("console {}: {}", entry["level"], entry["message"]);
        }
    }

    /// Emulates a viewport and returns the page's layout metrics in it.
    fn viewport(&mut self, width: u32, height: u32, mobile: bool) -> Value {
        self.step(json!({"op": "viewport", "width": width, "height": height, "mobile": mobile}))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End of input: the driver closes Chromium and exits.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: a signal to the process group this test created (the driver's pid).
        unsafe { libc::killpg(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// The first number in `text` (a row's restart count).
fn int_in(text: &str) -> Option<u64> {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[test]
fn dashboard_shows_every_program_with_its_state_and_no_console_errors() {
    if !require_browser() {
        return;
    }
    let w = warden(THREE_PROGRAMS);
    w.wait_state("sleeper", "running");
    let crasher = w.wait_state("crasher", "backoff");
    w.wait_state("idle", "stopped");
    let mut b = Browser::start(&w, "shows-every-program");
    b.open("/dashboard");
    for (name, state) in [("sleeper", "running"), ("crasher", "backoff"), ("idle", "stopped")] {
        b.wait(
            &field(name, "state"),
            json!({"equals": state, "what": format!("{name}'s row to say {state}")}),
        );
        for action in ["restart", "stop", "start", "logs"] {
            assert!(
                b.js(&format!(
                    "return !!document.querySelector({})",
                    serde_json::to_string(&button(name, action)).unwrap()
                )) == true,
                "{name} has no {action} button"
            );
        }
        b.step(json!({"op": "text", "css": field(name, "reason")}));
    }
    let restarts = b.step(json!({"op": "text", "css": field("crasher", "restarts")}));
    assert_eq!(
        int_in(restarts.as_str().unwrap()),
        crasher["restarts"].as_u64(),
        "crasher's restarts on the page vs /status: {restarts}"
    );
    let rows = b.js("return document.querySelectorAll('[data-program]').length");
    assert_eq!(rows, 3, "one row per program");
    // The headline agrees with warden's own verdict.
    let (code, doc) = w.get_json("/dashboard");
    assert_eq!(code, 200, "{doc}");
    let words = match doc["overall"]["status"].as_str() {
        Some("healthy") => "All good",
        Some("degraded") => "Degraded",
        Some("unhealthy") => "Down",
        other => panic!("unexpected overall status {other:?}: {doc:#}"),
    };
    b.wait("#status-line", json!({"contains": words}));
    assert!(!b.displayed("#connection"), "#connection shows while warden is up");
    // Let a couple of polls happen, then nothing may have gone wrong in the console.
    b.wait_js(
        "two more polls of /dashboard",
        "return performance.getEntriesByType('resource')
           .filter(e => new URL(e.name).pathname === '/dashboard' && e.initiatorType !== 'link').length >= 2",
        10,
    );
    b.no_console_errors();
}

#[test]
fn dashboard_follows_a_crash_and_a_lost_connection() {
    if !require_browser() {
        return;
    }
    let mut w = warden(THREE_PROGRAMS);
    let pid = w.pid_of("sleeper");
    w.wait_state("sleeper", "running");
    let mut b = Browser::start(&w, "follows-a-crash");
    b.open("/dashboard");
    b.wait(&field("sleeper", "state"), json!({"equals": "running"}));
    let before = int_in(&b.wait(&field("sleeper", "restarts"), json!({}))).unwrap_or(0);
    // SAFETY: a pid warden reported for a program of this test.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let seen = b.wait_js(
        "sleeper's row to show the crash (not running, or more restarts)",
        &format!(
            "const row = document.querySelector('[data-program=\"sleeper\"]'); if (!row) return false;
             const state = row.querySelector('[data-field=\"state\"]').textContent.trim();
             const m = row.querySelector('[data-field=\"restarts\"]').textContent.match(/\\d+/);
             const restarts = m ? Number(m[0]) : -1;
             return (state !== 'running' || restarts > {before}) ? state + ', ' + restarts + ' restarts' : false;"
        ),
        15,
    );
    eprintln!("the page showed: {seen}");
    // And then it settles on what warden says.
    let now = w.wait_program("sleeper to run again", "sleeper", |p| {
        p["state"] == "running" && p["pid"].as_i64().is_some_and(|p| p != pid as i64)
    });
    let restarts = now["restarts"].as_u64().unwrap();
    assert!(restarts > before, "warden counted no restart: {now:#}");
    b.wait(&field("sleeper", "state"), json!({"equals": "running", "timeout": 15}));
    b.wait(
        &field("sleeper", "restarts"),
        json!({"contains": restarts.to_string(), "timeout": 15, "what": format!("sleeper to show {restarts} restarts")}),
    );
    // Warden gone: the page says it lost the connection.
    assert!(!b.displayed("#connection"), "#connection shows while warden is up");
    w.signal(libc::SIGTERM);
    w.wait_exit(DEADLINE);
    b.wait(
        "#connection",
        json!({"visible": true, "timeout": 15, "what": "#connection to show once warden is gone"}),
    );
}

#[test]
fn dashboard_restart_needs_the_token() {
    if !require_browser() {
        return;
    }
    let mut w = warden(THREE_PROGRAMS);
    w.wait_state("sleeper", "running");
    let pid = w.pid_of("sleeper");
    // What warden answers a control request without a token.
    w.token = None;
    let (code, refused) = w.post("/api/v1/programs/sleeper/restart");
    w.token = Some(TOKEN.into());
    assert_eq!(code, 401, "{refused}");
    let error = refused["error"].as_str().unwrap_or_default().to_string();

    let mut b = Browser::start(&w, "restart-needs-the-token");
    b.open("/dashboard");
    b.wait(&field("sleeper", "state"), json!({"equals": "running"}));
    // "No" does nothing.
    b.click(&button("sleeper", "restart"));
    b.wait(
        "dialog#confirm",
        json!({"visible": true, "what": "the confirmation dialog"}),
    );
    b.click("#confirm-no");
    b.wait(
        "dialog#confirm",
        json!({"visible": false, "what": "the dialog to close"}),
    );
    // "Yes" without a token: refused, and the page says so.
    b.confirmed("sleeper", "restart");
    let notice = b.wait(
        "#notice",
        json!({"contains": "401", "what": "#notice to report the 401"}),
    );
    assert!(
        notice.contains(&error),
        "#notice {notice:?} lacks warden's error {error:?}"
    );
    assert_eq!(w.program("sleeper")["pid"], pid, "restarted without a token");
    // With the token (kept for the tab only): restarted.
    b.save_token(TOKEN);
    let kept = b.js(&format!(
        "return [Object.keys(sessionStorage).some(k => sessionStorage.getItem(k) === '{TOKEN}'),
                 Object.keys(localStorage).some(k => localStorage.getItem(k).includes('{TOKEN}')),
                 document.querySelector('#token-input').type]"
    ));
    assert_eq!(
        kept,
        json!([true, false, "password"]),
        "[in sessionStorage, in localStorage, input type]"
    );
    b.confirmed("sleeper", "restart");
    let restarted = w.wait_program("a new sleeper pid", "sleeper", |p| {
        p["pid"].as_i64().is_some_and(|p| p != pid as i64)
    });
    eprintln!("sleeper restarted: pid {pid} -> {}", restarted["pid"]);
    b.wait_js(
        "#notice to report the restart (no more 401)",
        "const t = document.querySelector('#notice').textContent; return t.trim() !== '' && !t.includes('401') && t",
        10,
    );
    b.wait(&field("sleeper", "state"), json!({"equals": "running", "timeout": 15}));
    // Clearing forgets it.
    b.click("#token-clear");
    let kept = b.js(&format!(
        "return Object.keys(sessionStorage).some(k => sessionStorage.getItem(k) === '{TOKEN}')"
    ));
    assert_eq!(kept, false, "#token-clear left the token in sessionStorage");
    // The only console errors allowed are the refused request's.
    b.console_errors_only(&["401"]);
}

#[test]
fn dashboard_shows_log_lines_as_text() {
    if !require_browser() {
        return;
    }
    const BOLD: &str = "<b>bold</b><script>window.pwned=1</script>";
    const IMG: &str = "<img src=x onerror=window.pwned=2>";
    let w = warden(&format!(
        "[[program]]\nname = \"echoer\"\ncommand = \"sh\"\n\
         args = [\"-c\", \"printf '%s\\\\n' '{BOLD}' '{IMG}'; exec sleep 1000\"]\n"
    ));
    w.wait_state("echoer", "running");
    wait_for("echoer's lines in its log tail", DEADLINE, || {
        let (_, logs) = w.get_json("/api/v1/programs/echoer/logs?tail=50");
        let lines = logs["lines"].as_array().cloned().unwrap_or_default();
        lines.iter().any(|l| l["text"] == IMG).then_some(())
    });
    let mut b = Browser::start(&w, "log-lines-as-text");
    b.open("/dashboard");
    // Logs are not public: they need a token.
    b.save_token(TOKEN);
    b.click(&button("echoer", "logs"));
    b.wait("#log-view", json!({"visible": true}));
    for line in [BOLD, IMG] {
        b.wait_js(
            &format!("a .log-line whose text is exactly {line}"),
            &format!(
                "return Array.from(document.querySelectorAll('#log-view .log-line')).some(e => e.textContent === {})",
                serde_json::to_string(line).unwrap()
            ),
            10,
        );
    }
    let markup = b.js(
        "return Array.from(document.querySelectorAll('#log-view b, #log-view script, #log-view img'), e => e.outerHTML)",
    );
    assert_eq!(markup, json!([]), "log text became elements");
    assert_eq!(b.js("return typeof window.pwned"), "undefined");
    b.click("#log-close");
    b.wait(
        "#log-view",
        json!({"visible": false, "what": "#log-close to hide the logs"}),
    );
    b.no_console_errors();
}

#[test]
fn dashboard_fits_a_phone_and_a_desktop() {
    if !require_browser() {
        return;
    }
    let w = warden(THREE_PROGRAMS);
    w.wait_state("sleeper", "running");
    w.wait_state("crasher", "backoff");
    let mut b = Browser::start(&w, "phone-and-desktop");
    b.open("/dashboard");
    let dir = artifacts();
    for (file, width, height, mobile) in [("phone.png", 375, 812, true), ("desktop.png", 1280, 900, false)] {
        let metrics = b.viewport(width, height, mobile);
        for (name, state) in [("sleeper", "running"), ("crasher", "backoff"), ("idle", "stopped")] {
            b.wait(&field(name, "state"), json!({"equals": state}));
        }
        let path = dir.join(file);
        b.step(json!({"op": "screenshot", "path": path}));
        if mobile {
            // The whole page too, to see the rows below the fold.
            b.step(json!({"op": "screenshot", "path": dir.join("phone-full.png"), "full": true}));
        }
        eprintln!("{width}x{height}: {} ({metrics})", path.display());
        assert!(
            metrics["scrollWidth"].as_u64().is_some_and(|w| w <= width as u64),
            "horizontal scrolling at {width} px: {metrics:#}"
        );
    }
    b.no_console_errors();
}

/// `GET path` with `accept` (and a bearer token): status, headers (names lowercased),
/// body (de-chunked).
fn fetch(port: u16, path: &str, accept: &str, token: Option<&str>) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to warden");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let code = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_string() };
    (code, headers, body)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn dashboard_html_has_a_csp_and_no_inline_script() {
    let w = warden(THREE_PROGRAMS);
    let (code, headers, html) = fetch(w.port, "/dashboard", "text/html", None);
    assert_eq!(code, 200, "the page is public: {html}");
    assert!(
        header(&headers, "content-type").is_some_and(|t| t.starts_with("text/html")),
        "{headers:?}"
    );
    let csp = header(&headers, "content-security-policy").unwrap_or_else(|| panic!("no CSP header: {headers:?}"));
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert!(directives.contains(&"default-src 'none'"), "{csp}");
    assert!(directives.contains(&"script-src 'self'"), "{csp}");
    // Every <script> has a src and nothing between its tags.
    let lower = html.to_ascii_lowercase();
    let mut scripts = 0;
    for (at, _) in lower.match_indices("<script") {
        scripts += 1;
        let tag = &lower[at..at + lower[at..].find('>').expect("a closed <script> tag") + 1];
        assert!(tag.contains(" src="), "inline script: {tag}");
        let inside = &lower[at + tag.len()..];
        assert!(
            inside.trim_start().starts_with("</script>"),
            "a <script src> with content: {tag}"
        );
    }
    assert!(scripts >= 1, "the page loads no script: {html}");
    assert!(
        lower.contains("/dashboard/app.js") && lower.contains("/dashboard/app.css"),
        "{html}"
    );
    for word in ["onload=", "onclick=", "onerror=", "javascript:"] {
        assert!(!lower.contains(word), "inline handler {word} in the page");
    }
    for (asset, kind) in [("/dashboard/app.js", "javascript"), ("/dashboard/app.css", "text/css")] {
        let (code, headers, body) = fetch(w.port, asset, "*/*", None);
        assert_eq!(code, 200, "{asset}: {body}");
        assert!(
            header(&headers, "content-type").is_some_and(|t| t.contains(kind)),
            "{asset}: {headers:?}"
        );
        assert!(!body.trim().is_empty(), "{asset} is empty");
    }
    // The JSON: public here; with tokens and no `public = [.., "dashboard"]`, a token
    // (a read-only one will do) is needed.
    let (code, _, body) = fetch(w.port, "/dashboard", "application/json", None);
    assert_eq!(code, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(doc["programs"].as_array().map(Vec::len), Some(3), "{doc:#}");
    let mut private = Warden::prepare();
    private.env.push(("DASH_TOKEN".into(), TOKEN.into()));
    private.env.push(("DASH_READ_TOKEN".into(), READ_TOKEN.into()));
    private.server = "tokens = [\"${DASH_TOKEN}\"]\nread_only_tokens = [\"${DASH_READ_TOKEN}\"]\n".into();
    private.write_config("[[program]]\nname = \"sleeper\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n");
    private.launch();
    let (code, _, body) = fetch(private.port, "/dashboard", "application/json", None);
    assert_eq!(code, 401, "{body}");
    let (code, _, body) = fetch(private.port, "/dashboard", "application/json", Some(READ_TOKEN));
    assert_eq!(code, 200, "{body}");
    let (code, _, body) = fetch(private.port, "/dashboard", "text/html", None);
    assert_eq!(code, 200, "the page itself stays public: {body}");
}
