//! Running warden for a test and waiting on what it does, always with a deadline.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_warden");

/// Generous: CI machines have two cores and run tests in parallel.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// `WARDEN_TEST_STRICT=1` turns a missing real component into a failure.
pub fn strict() -> bool {
    std::env::var("WARDEN_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Skips (loudly) or, in strict mode, fails when a component is missing.
pub fn require(component: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if strict() {
        panic!("{component} is required (WARDEN_TEST_STRICT=1) but not available");
    }
    eprintln!("\n!!! SKIPPED: {component} is not available on this machine !!!\n");
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `f` every 20 ms until it returns `Some`, or panics after `timeout` with `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie still has a /proc entry; count it as gone only once reaped? No: a zombie
    // is dead for the user, but it is a leak for warden. Callers choose.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().and_then(|s| s.split_whitespace().next());
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

pub fn pid_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

pub struct Warden {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// Extra environment for warden itself.
    pub env: Vec<(String, String)>,
    /// Extra keys for the `[supervisor]` section.
    pub supervisor: String,
    /// Extra keys for the `[server]` section.
    pub server: String,
    /// Sent as `Authorization: Bearer` with every request of these helpers.
    pub token: Option<String>,
    child: Option<Child>,
}

impl Warden {
    /// A temp dir with `warden.toml` = common settings + `programs`, and warden running
    /// in it. Scripts can be written into the dir with [`Warden::script`] *before*
    /// starting by using [`Warden::prepare`] then [`Warden::launch`].
    pub fn start(programs: &str) -> Warden {
        let mut w = Warden::prepare();
        w.write_config(programs);
        w.launch();
        w
    }

    pub fn prepare() -> Warden {
        let dir = tempfile::tempdir().unwrap();
        Warden {
            dir,
            port: free_port(),
            env: Vec::new(),
            supervisor: String::new(),
            server: String::new(),
            token: None,
            child: None,
        }
    }

    pub fn config_text(&self, programs: &str) -> String {
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n{}\n\n[supervisor]\nsample_interval = \"200ms\"\nshutdown_timeout = \"15s\"\n{}\n\n{programs}\n",
            self.port, self.server, self.supervisor
        )
    }

    pub fn write_config(&self, programs: &str) {
        std::fs::write(self.path("warden.toml"), self.config_text(programs)).unwrap();
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes an executable script into the test dir and returns its absolute path.
    pub fn script(&self, name: &str, body: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, body).unwrap();
        let mut perm = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&path, perm).unwrap();
        path.display().to_string()
    }

    pub fn launch(&mut self) {
        self.launch_with(&[]);
    }

    /// Starts warden, prefixed by `wrapper` (e.g. `unshare --pid --fork`), and waits
    /// until it answers `/live`.
    pub fn launch_with(&mut self, wrapper: &[&str]) {
        let mut argv: Vec<String> = wrapper.iter().map(|s| s.to_string()).collect();
        argv.extend([BIN.to_string(), "run".into(), "-c".into(), "warden.toml".into()]);
        let stderr = std::fs::File::create(self.path("warden.stderr")).unwrap();
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(self.dir.path())
            .env("WARDEN_LOG", "warden=debug,info")
            .env("WARDEN_LOG_FORMAT", "json")
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for("warden to answer /live", DEADLINE, || {
            if let Some(status) = self.try_exit() {
                panic!("warden exited early with {status}:\n{}", self.stderr());
            }
            self.get("/live").ok().filter(|(code, _)| *code == 200).map(|_| ())
        });
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("warden.stderr")).unwrap_or_default()
    }

    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().unwrap())
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill with a valid signal number.
        unsafe { libc::kill(self.pid(), sig) };
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        wait_for("warden to exit", timeout, || self.try_exit())
    }

    pub fn request(&self, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{}Content-Length: 0\r\nConnection: close\r\n\r\n",
            self.authorization()
        )?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw)?;
        let code = raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((code, body))
    }

    fn authorization(&self) -> String {
        self.token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default()
    }

    /// A request with a body (`content_type` may be empty for none).
    pub fn send(&self, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to warden");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let ct = if content_type.is_empty() {
            String::new()
        } else {
            format!("Content-Type: {content_type}\r\n")
        };
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{}{ct}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.authorization(),
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let code = raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (code, body)
    }

    /// `GET path` as (status, JSON body).
    pub fn get_json(&self, path: &str) -> (u16, Value) {
        let (code, body) = self.get(path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"));
        (code, json)
    }

    pub fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        self.request("GET", path)
    }

    pub fn post(&self, path: &str) -> (u16, Value) {
        let (code, body) = self.request("POST", path).unwrap();
        (code, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    pub fn status(&self) -> Value {
        let (code, body) = self.get("/status").expect("GET /status");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).expect("status is JSON")
    }

    pub fn program(&self, name: &str) -> Value {
        self.status()["programs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no program {name} in /status"))
    }

    /// Waits until `name` is in `state` and returns its status entry.
    pub fn wait_state(&self, name: &str, state: &str) -> Value {
        self.wait_program(&format!("{name} to be {state}"), name, |p| p["state"] == state)
    }

    pub fn wait_program(&self, what: &str, name: &str, mut f: impl FnMut(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(what, DEADLINE, || {
                last = self.program(name);
                f(&last).then(|| last.clone())
            })
        }));
        match result {
            Ok(v) => v,
            Err(_) => panic!(
                "timed out waiting for {what}; last: {last:#}\nwarden stderr:\n{}",
                tail(&self.stderr(), 30)
            ),
        }
    }

    pub fn pid_of(&self, name: &str) -> i32 {
        self.wait_program(&format!("{name} to have a pid"), name, |p| p["pid"].is_number())["pid"]
            .as_i64()
            .unwrap() as i32
    }

    /// Sends SIGHUP and waits until warden logged the outcome (reloaded or refused).
    pub fn reload(&self) -> String {
        let outcomes =
            |err: &str| err.matches("configuration reloaded").count() + err.matches("reload refused").count();
        let before = outcomes(&self.stderr());
        self.signal(libc::SIGHUP);
        wait_for("warden to log the reload outcome", DEADLINE, || {
            let err = self.stderr();
            (outcomes(&err) > before).then_some(err)
        })
    }
}

pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Reads pids (one per line) a test program wrote.
pub fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

impl Drop for Warden {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if child.try_wait().ok().flatten().is_none() {
                // SAFETY: plain kill.
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                let deadline = Instant::now() + Duration::from_secs(15);
                while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A child process a failing test must not leave running: killed when dropped.
pub struct KillOnDrop(pub Child);

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real Prometheus server: its configuration and data in `dir` (`prometheus.yml`
/// written by the caller), listening on 127.0.0.1:`port`.
pub fn prometheus(dir: &Path, port: u16) -> KillOnDrop {
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    KillOnDrop(child)
}
