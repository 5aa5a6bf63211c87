//! Dependency checks: is the Postgres or Redis that programs rely on answering?
//!
//! [`spawn_checks`] runs each `[[check]]` on a task of its own (a slow check never delays
//! another): an attempt at once, then one every `interval`, each bounded by `timeout`
//! (connecting and querying together). Postgres answers `SELECT 1` over sqlx, Redis
//! answers `PING` with `PONG`. A connection is kept between attempts and dropped on any
//! error, so the next attempt reconnects and an outage ends without anything being
//! restarted.
//!
//! After every attempt the whole list of [`CheckStatus`] (in config order) is published
//! on a `watch`; readers (`/status`, `/ready`, `/metrics`, alerts) only borrow it. What
//! a down check *means* (readiness, a program's `depends_on`) is decided by them.
//!
//! The URL may carry a password: it is read only to connect, and every message is
//! scrubbed of it (see [`scrub`]) before it is stored, logged or published.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Serialize, Serializer};
use sqlx::{ConnectOptions, Connection, PgConnection, Row};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::MissedTickBehavior;

use crate::config::{format_duration, CheckKind, CheckSpec};

/// The latest outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckStatus {
    pub name: String,
    /// `"postgres"` or `"redis"`.
    #[serde(serialize_with = "kind_as_str")]
    pub kind: CheckKind,
    /// From the config: a failing required check makes warden not ready.
    pub required: bool,
    /// `None` until the first attempt finished.
    pub up: Option<bool>,
    /// Round trip of the query (`SELECT 1` / `PING`) in the last successful attempt,
    /// without connecting: a kept connection makes attempts comparable, and a slow
    /// connect is still bounded by the timeout.
    pub latency: Option<Duration>,
    /// `"ok"`, or what went wrong in words (`"connection refused"`, `"timed out after
    /// 2s while connecting"`, the server's own message). Never the URL or the password.
    pub message: String,
    /// When the last attempt finished.
    pub checked_at: Option<SystemTime>,
    /// When `up` last changed (including the first attempt).
    pub since: Option<SystemTime>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
}

fn kind_as_str<S: Serializer>(kind: &CheckKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

impl CheckStatus {
    /// Before the first attempt.
    pub fn new(spec: &CheckSpec) -> Self {
        Self {
            name: spec.name.clone(),
            kind: spec.kind,
            required: spec.required,
            up: None,
            latency: None,
            message: "not checked yet".to_owned(),
            checked_at: None,
            since: None,
            consecutive_failures: 0,
        }
    }

    /// Records one attempt: `Ok(latency)` or `Err(message)`.
    fn record(&mut self, outcome: Result<Duration, String>, now: SystemTime) {
        let up = outcome.is_ok();
        if self.up != Some(up) {
            self.since = Some(now);
        }
        self.up = Some(up);
        self.checked_at = Some(now);
        match outcome {
            Ok(latency) => {
                self.latency = Some(latency);
                self.message = "ok".to_owned();
                self.consecutive_failures = 0;
            }
            Err(message) => {
                self.message = message;
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            }
        }
    }
}

/// The running checks of one configuration. Dropping it stops them all: on a reload,
/// drop the old set, then spawn the new one on (a clone of) the same sender.
pub struct CheckSet {
    tasks: Vec<AbortHandle>,
    /// Set under the channel's lock when the set is dropped; a task publishes only while
    /// holding that lock and seeing it unset, so after `drop` returns no attempt of this
    /// set can overwrite what the next set publishes (aborting alone does not promise
    /// that: a task may be between two awaits on another worker).
    stopped: Arc<AtomicBool>,
    tx: watch::Sender<Arc<Vec<CheckStatus>>>,
}

impl Drop for CheckSet {
    fn drop(&mut self) {
        self.tx.send_if_modified(|_| {
            self.stopped.store(true, Ordering::SeqCst);
            false
        });
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Publishes every check as "not checked yet" at once (so readers see them all, in
/// config order), then starts one task per check. Must be called inside the runtime.
pub fn spawn_checks(specs: Vec<CheckSpec>, tx: watch::Sender<Arc<Vec<CheckStatus>>>) -> CheckSet {
    tx.send_replace(Arc::new(specs.iter().map(CheckStatus::new).collect()));
    let stopped = Arc::new(AtomicBool::new(false));
    let tasks = specs
        .into_iter()
        .enumerate()
        .map(|(index, spec)| tokio::spawn(run(index, spec, tx.clone(), stopped.clone())).abort_handle())
        .collect();
    CheckSet { tasks, stopped, tx }
}

async fn run(index: usize, spec: CheckSpec, tx: watch::Sender<Arc<Vec<CheckStatus>>>, stopped: Arc<AtomicBool>) {
    let mut status = CheckStatus::new(&spec);
    let mut conn = Conn::new(&spec);
    // Attempts start every interval (the first at once); one that overran its slot
    // delays the next rather than causing a burst.
    let mut ticks = tokio::time::interval(spec.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let outcome = conn.attempt(spec.url.expose(), spec.timeout).await;
        let was = status.up;
        status.record(outcome, SystemTime::now());
        log_change(&status, was);
        let published = tx.send_if_modified(|list| {
            if stopped.load(Ordering::SeqCst) {
                return false;
            }
            // The slot is checked by name too, in case a new set was spawned before this
            // one was dropped: its list may hold other checks.
            if list.get(index).is_none_or(|slot| slot.name != status.name) {
                return false;
            }
            // Copies the list only if a reader still holds the previous one.
            Arc::make_mut(list)[index] = status.clone();
            true
        });
        if !published && stopped.load(Ordering::SeqCst) {
            return;
        }
    }
}

fn log_change(status: &CheckStatus, was: Option<bool>) {
    match (was, status.up) {
        (Some(true), Some(true)) | (Some(false), Some(false)) => {}
        (_, Some(true)) => tracing::info!(check = %status.name, kind = status.kind.as_str(), "check up"),
        _ => tracing::warn!(check = %status.name, kind = status.kind.as_str(), message = %status.message, "check down"),
    }
}

/// A kept connection (or none, after an error or before the first attempt).
enum Conn {
    Postgres(Option<PgConnection>),
    Redis(Option<redis::aio::MultiplexedConnection>),
}

/// What an attempt was doing, for a timeout message.
#[derive(Clone, Copy)]
enum Phase {
    Connecting,
    Querying,
}

impl Conn {
    fn new(spec: &CheckSpec) -> Self {
        match spec.kind {
            CheckKind::Postgres => Self::Postgres(None),
            CheckKind::Redis => Self::Redis(None),
        }
    }

    fn query_words(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "waiting for SELECT 1",
            Self::Redis(_) => "waiting for PONG",
        }
    }

    /// One attempt, bounded by `timeout`. Any failure drops the connection.
    async fn attempt(&mut self, url: &str, timeout: Duration) -> Result<Duration, String> {
        let mut phase = Phase::Connecting;
        let result = tokio::time::timeout(timeout, self.attempt_unbounded(url, &mut phase)).await;
        let message = match result {
            Ok(Ok(latency)) => return Ok(latency),
            Ok(Err(message)) => message,
            Err(_elapsed) => {
                let doing = match phase {
                    Phase::Connecting => "while connecting",
                    Phase::Querying => self.query_words(),
                };
                format!("timed out after {} {doing}", format_duration(timeout))
            }
        };
        // The connection's state is unknown after an error or a cancelled query.
        match self {
            Self::Postgres(c) => *c = None,
            Self::Redis(c) => *c = None,
        }
        Err(scrub(&message, url))
    }

    async fn attempt_unbounded(&mut self, url: &str, phase: &mut Phase) -> Result<Duration, String> {
        match self {
            Self::Postgres(conn) => {
                // A kept connection may have been closed while idle (a server or proxy
                // idle timeout): on an error, try once more on a fresh connection before
                // calling the dependency down.
                if let Some(c) = conn.as_mut() {
                    *phase = Phase::Querying;
                    if let Ok(latency) = select_one(c).await {
                        return Ok(latency);
                    }
                    *conn = None;
                }
                *phase = Phase::Connecting;
                let c = conn.insert(connect_postgres(url).await.map_err(|e| postgres_words(&e))?);
                *phase = Phase::Querying;
                select_one(c).await.map_err(|e| postgres_words(&e))
            }
            Self::Redis(conn) => {
                if let Some(c) = conn.as_mut() {
                    *phase = Phase::Querying;
                    if let Ok(latency) = ping(c).await {
                        return Ok(latency);
                    }
                    *conn = None;
                }
                *phase = Phase::Connecting;
                let c = conn.insert(connect_redis(url).await.map_err(|e| redis_words(&e))?);
                *phase = Phase::Querying;
                ping(c).await.map_err(|e| match e {
                    PingError::Redis(e) => redis_words(&e),
                    PingError::Reply(reply) => format!("unexpected reply to PING: {reply:?}"),
                })
            }
        }
    }
}

async fn connect_postgres(url: &str) -> Result<PgConnection, sqlx::Error> {
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    // Named in `pg_stat_activity`; no statement log every interval.
    let options = options.application_name("warden").disable_statement_logging();
    PgConnection::connect_with(&options).await
}

/// `SELECT 1` over the simple query protocol (no prepared statement, so it also works
/// through a transaction-pooling PgBouncer).
async fn select_one(c: &mut PgConnection) -> Result<Duration, sqlx::Error> {
    let start = Instant::now();
    // A bare `&str` without arguments goes out as a simple query.
    let row = sqlx::Executor::fetch_one(&mut *c, "SELECT 1").await?;
    let latency = start.elapsed();
    match row.try_get::<i32, _>(0)? {
        1 => Ok(latency),
        other => Err(sqlx::Error::Protocol(format!("SELECT 1 returned {other}"))),
    }
}

async fn connect_redis(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url)?;
    // The check's own timeout bounds everything; the library's defaults (1 s connect,
    // 500 ms response) would otherwise cut in first with their own messages.
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(None)
        .set_response_timeout(None);
    client.get_multiplexed_async_connection_with_config(&config).await
}

enum PingError {
    Redis(redis::RedisError),
    Reply(String),
}

async fn ping(c: &mut redis::aio::MultiplexedConnection) -> Result<Duration, PingError> {
    let start = Instant::now();
    let reply: String = redis::cmd("PING").query_async(c).await.map_err(PingError::Redis)?;
    let latency = start.elapsed();
    if reply == "PONG" {
        Ok(latency)
    } else {
        Err(PingError::Reply(reply))
    }
}

/// sqlx's errors in words: the server's own message for a database error
/// (`password authentication failed for user "app"`, `database "x" does not exist`),
/// the socket error for I/O.
fn postgres_words(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => io_words(io),
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (SQLSTATE {code})", db.message()),
            None => db.message().to_owned(),
        },
        sqlx::Error::Configuration(c) => format!("invalid connection URL: {c}"),
        sqlx::Error::Tls(t) => format!("TLS: {t}"),
        other => other.to_string(),
    }
}

fn redis_words(e: &redis::RedisError) -> String {
    if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_connection_dropped() {
        "connection closed".to_owned()
    } else if e.kind() == redis::ErrorKind::AuthenticationFailed {
        // The library's own text reads "Password authentication failed - AuthenticationFailed".
        match e.detail() {
            Some(detail) => format!("authentication failed (wrong user or password): {detail}"),
            None => "authentication failed (wrong user or password)".to_owned(),
        }
    } else if let Some(io) = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>()) {
        io_words(io)
    } else {
        e.to_string()
    }
}

fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "socket not found".to_owned(),
        _ => crate::text::io_cause(e),
    }
}

/// Removes what a message must never show: the URL itself, its password (as written and
/// percent-decoded), and the user-info part of anything URL-shaped (`scheme://...@`),
/// in case a library echoes a URL of its own making.
pub fn scrub(message: &str, url: &str) -> String {
    let mut out = message.to_owned();
    if !url.is_empty() {
        out = out.replace(url, "<url>");
    }
    if let Some(password) = password_of(url) {
        for p in [percent_decode(password), password.to_owned()] {
            if !p.is_empty() {
                out = out.replace(&p, "***");
            }
        }
    }
    strip_userinfo(&out)
}

/// The password in `scheme://user:password@host...`. Everything up to the *last* `@`
/// counts as user info, so an unencoded `@` in the password is covered too.
fn password_of(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let userinfo = &rest[..rest.rfind('@')?];
    userinfo.split_once(':').map(|(_, password)| password)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `redis://user:pw@host` → `redis://***@host`, wherever a `://` is followed by an `@`
/// before the next whitespace or quote.
fn strip_userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use std::net::SocketAddr;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    const PG: &str = "postgres://postgres@127.0.0.1:5432/test";
    const REDIS: &str = "redis://127.0.0.1:6379";
    const PASSWORD: &str = "hunter2-Sekr3t";
    /// Generous: the machine has two cores and tests run in parallel.
    const DEADLINE: Duration = Duration::from_secs(20);

    fn spec(name: &str, kind: CheckKind, url: &str, interval_ms: u64, timeout_ms: u64) -> CheckSpec {
        CheckSpec {
            name: name.to_owned(),
            kind,
            url: Secret::new(url),
            required: true,
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    /// A Postgres and a Redis check ("db", "cache") of one local port.
    fn both_at(port: u16, interval_ms: u64, timeout_ms: u64) -> Vec<CheckSpec> {
        vec![
            spec(
                "db",
                CheckKind::Postgres,
                &format!("postgres://postgres@127.0.0.1:{port}/test"),
                interval_ms,
                timeout_ms,
            ),
            spec(
                "cache",
                CheckKind::Redis,
                &format!("redis://127.0.0.1:{port}"),
                interval_ms,
                timeout_ms,
            ),
        ]
    }

    /// Whether the real services are there; skips loudly, or fails under
    /// `WARDEN_TEST_STRICT=1`.
    async fn require_services() -> bool {
        let mut missing = Vec::new();
        for (name, addr) in [("Postgres", "127.0.0.1:5432"), ("Redis", "127.0.0.1:6379")] {
            let reachable = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await;
            if !matches!(reachable, Ok(Ok(_))) {
                missing.push(format!("{name} at {addr}"));
            }
        }
        crate::testing::require(&missing.join(" and "), missing.is_empty())
    }

    /// Waits until check `index` satisfies `done`, at most `DEADLINE`.
    async fn wait_for(
        rx: &mut watch::Receiver<Arc<Vec<CheckStatus>>>,
        index: usize,
        what: &str,
        done: impl Fn(&CheckStatus) -> bool,
    ) -> CheckStatus {
        let found = {
            let waited = tokio::time::timeout(DEADLINE, rx.wait_for(|list| list.get(index).is_some_and(&done))).await;
            match waited {
                Ok(Ok(list)) => Some(list[index].clone()),
                Ok(Err(_)) => panic!("channel closed while waiting for {what}"),
                Err(_) => None,
            }
        };
        match found {
            Some(status) => status,
            None => panic!("no {what} within {DEADLINE:?}; last: {:?}", rx.borrow().get(index)),
        }
    }

    fn down(s: &CheckStatus) -> bool {
        s.up == Some(false)
    }

    fn up(s: &CheckStatus) -> bool {
        s.up == Some(true)
    }

    fn free_port() -> u16 {
        crate::testing::free_port()
    }

    #[test]
    fn record_tracks_since_and_failures() {
        let mut s = CheckStatus::new(&spec("db", CheckKind::Postgres, PG, 1000, 1000));
        let t = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        s.record(Err("connection refused".into()), t(1));
        assert_eq!(
            (s.up, s.since, s.consecutive_failures, s.latency),
            (Some(false), Some(t(1)), 1, None)
        );
        s.record(Err("connection refused".into()), t(2));
        assert_eq!(
            (s.since, s.consecutive_failures, s.checked_at),
            (Some(t(1)), 2, Some(t(2)))
        );
        s.record(Ok(Duration::from_millis(3)), t(3));
        assert_eq!((s.up, s.since, s.consecutive_failures), (Some(true), Some(t(3)), 0));
        assert_eq!((s.message.as_str(), s.latency), ("ok", Some(Duration::from_millis(3))));
        s.record(Err("timed out after 2s while connecting".into()), t(4));
        // The latency of the last success stays.
        assert_eq!(
            (s.up, s.since, s.latency),
            (Some(false), Some(t(4)), Some(Duration::from_millis(3)))
        );
    }

    #[test]
    fn status_serializes_kind_as_its_word() {
        let s = CheckStatus::new(&spec("cache", CheckKind::Redis, REDIS, 1000, 1000));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["kind"], "redis");
        assert_eq!(json["up"], serde_json::Value::Null);
    }

    #[test]
    fn scrub_removes_url_password_and_userinfo() {
        let url = "postgres://app:p%40ss:w0rd@db.internal:5432/app";
        let msg = format!("failed to connect to {url}: bad; also p@ss:w0rd and p%40ss:w0rd");
        let out = scrub(&msg, url);
        assert_eq!(out, "failed to connect to <url>: bad; also *** and ***");
        // A URL the library built itself (different host spelling) loses its user info.
        assert_eq!(
            scrub(
                "cannot reach redis://default:topsecret@10.0.0.1:6379/0 now",
                "redis://x"
            ),
            "cannot reach redis://***@10.0.0.1:6379/0 now"
        );
        assert_eq!(
            scrub("connection refused", "redis://127.0.0.1:6379"),
            "connection refused"
        );
        assert_eq!(password_of("redis://:pw@h"), Some("pw"));
        assert_eq!(password_of("redis://h:6379"), None);
        assert_eq!(password_of("postgres://user@h/db"), None);
    }

    #[tokio::test]
    async fn real_postgres_and_redis_are_up() {
        if !require_services().await {
            return;
        }
        let (tx, mut rx) = watch::channel(Arc::new(Vec::new()));
        let _set = spawn_checks(
            vec![
                spec("db", CheckKind::Postgres, PG, 5000, 5000),
                spec("cache", CheckKind::Redis, REDIS, 5000, 5000),
            ],
            tx,
        );
        // Published before any attempt, in config order.
        {
            let first = rx.borrow_and_update();
            let names: Vec<(&str, Option<bool>)> = first.iter().map(|s| (s.name.as_str(), s.up)).collect();
            assert_eq!(names, vec![("db", None), ("cache", None)]);
        }
        // The first attempt runs at once, well before the 5 s interval.
        let started = Instant::now();
        for index in [0, 1] {
            let s = wait_for(&mut rx, index, "first result", |s| s.up.is_some()).await;
            assert_eq!(
                (s.up, s.message.as_str(), s.consecutive_failures),
                (Some(true), "ok", 0),
                "{s:?}"
            );
            assert!(
                s.latency.is_some() && s.checked_at.is_some() && s.since.is_some(),
                "{s:?}"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "first attempts took {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_port_nobody_listens_on_is_connection_refused() {
        let port = free_port();
        let (tx, mut rx) = watch::channel(Arc::new(Vec::new()));
        let _set = spawn_checks(both_at(port, 5000, 2000), tx);
        for index in [0, 1] {
            let s = wait_for(&mut rx, index, "a failure", down).await;
            assert_eq!(s.message, "connection refused", "{s:?}");
            assert_eq!((s.latency, s.consecutive_failures), (None, 1));
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out_on_time() {
        // Accepts, keeps every connection open, says nothing.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let timeout = Duration::from_millis(500);
        let (tx, mut rx) = watch::channel(Arc::new(Vec::new()));
        let started = Instant::now();
        let _set = spawn_checks(both_at(port, 60_000, 500), tx);
        for index in [0, 1] {
            let s = wait_for(&mut rx, index, "a timeout", down).await;
            assert!(s.message.starts_with("timed out after 500ms"), "{s:?}");
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= timeout && elapsed < timeout + Duration::from_millis(1500),
            "took {elapsed:?}"
        );
        silent.abort();
    }

    /// A TCP proxy on a fixed local port; stopping it closes the listener and every
    /// connection through it.
    struct Proxy {
        task: JoinHandle<()>,
        /// Connections accepted so far.
        accepted: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Proxy {
        async fn start(port: u16, upstream: &'static str) -> Self {
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            // The port was ours a moment ago; bind again (SO_REUSEADDR is set by tokio).
            let listener = loop {
                match TcpListener::bind(addr).await {
                    Ok(l) => break l,
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => tokio::task::yield_now().await,
                    Err(e) => panic!("proxy cannot bind {addr}: {e}"),
                }
            };
            let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counter = accepted.clone();
            let task = tokio::spawn(async move {
                // Owned by this task: aborting the task drops the set, which aborts every
                // connection and closes both of its sockets.
                let mut connections = tokio::task::JoinSet::new();
                while let Ok((mut inbound, _)) = listener.accept().await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    connections.spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
            });
            Self { task, accepted }
        }

        async fn stop(self) {
            self.task.abort();
            let _ = self.task.await;
        }
    }

    async fn outage_and_recovery(kind: CheckKind, upstream: &'static str, url_of: fn(u16) -> String) {
        if !require_services().await {
            return;
        }
        let port = free_port();
        let proxy = Proxy::start(port, upstream).await;
        let (tx, mut rx) = watch::channel(Arc::new(Vec::new()));
        let _set = spawn_checks(vec![spec("dep", kind, &url_of(port), 100, 1000)], tx);

        let first = wait_for(&mut rx, 0, "up through the proxy", up).await;
        // Several attempts later, still the one connection.
        let later = first.checked_at.unwrap() + Duration::from_millis(350);
        wait_for(&mut rx, 0, "more attempts", |s| {
            up(s) && s.checked_at.is_some_and(|t| t >= later)
        })
        .await;
        assert_eq!(
            proxy.accepted.load(Ordering::SeqCst),
            1,
            "the connection was not kept between attempts"
        );
        proxy.stop().await;
        let outage = wait_for(&mut rx, 0, "down after the proxy stopped", down).await;
        // The kept connection died with the proxy; the same attempt tried a fresh one.
        assert_eq!(outage.message, "connection refused", "{outage:?}");
        // Later attempts reconnect (and are refused) rather than reuse a dead connection.
        let refused = wait_for(&mut rx, 0, "a second failure", |s| s.consecutive_failures >= 2).await;
        assert_eq!(refused.message, "connection refused", "{refused:?}");

        let proxy = Proxy::start(port, upstream).await;
        let recovered = wait_for(&mut rx, 0, "up again", up).await;
        assert_eq!((recovered.message.as_str(), recovered.consecutive_failures), ("ok", 0));
        assert!(first.since < outage.since && outage.since < recovered.since);
        proxy.stop().await;
    }

    #[tokio::test]
    async fn postgres_outage_and_recovery() {
        outage_and_recovery(CheckKind::Postgres, "127.0.0.1:5432", |port| {
            format!("postgres://postgres@127.0.0.1:{port}/test")
        })
        .await;
    }

    #[tokio::test]
    async fn redis_outage_and_recovery() {
        outage_and_recovery(CheckKind::Redis, "127.0.0.1:6379", |port| {
            format!("redis://127.0.0.1:{port}")
        })
        .await;
    }

    #[tokio::test]
    async fn bad_credentials_are_explained_without_the_password() {
        if !require_services().await {
            return;
        }
        let cases = [
            (
                spec(
                    "user",
                    CheckKind::Postgres,
                    &format!("postgres://nosuchuser:{PASSWORD}@127.0.0.1:5432/test"),
                    60_000,
                    5000,
                ),
                "role \"nosuchuser\" does not exist",
            ),
            (
                spec(
                    "db",
                    CheckKind::Postgres,
                    &format!("postgres://postgres:{PASSWORD}@127.0.0.1:5432/nosuchdb"),
                    60_000,
                    5000,
                ),
                "database \"nosuchdb\" does not exist",
            ),
            (
                spec(
                    "cache",
                    CheckKind::Redis,
                    &format!("redis://nosuchuser:{PASSWORD}@127.0.0.1:6379"),
                    60_000,
                    5000,
                ),
                "authentication failed (wrong user or password)",
            ),
        ];
        let expected: Vec<&str> = cases.iter().map(|(_, e)| *e).collect();
        let (tx, mut rx) = watch::channel(Arc::new(Vec::new()));
        let _set = spawn_checks(cases.into_iter().map(|(s, _)| s).collect(), tx);
        for (index, expected) in expected.into_iter().enumerate() {
            let s = wait_for(&mut rx, index, "a failure", down).await;
            eprintln!("{}: {}", s.name, s.message);
            assert!(s.message.contains(expected), "{s:?}");
            assert!(!s.message.contains(PASSWORD) && !s.message.contains("://"), "{s:?}");
            let json = serde_json::to_string(&s).unwrap();
            assert!(!json.contains(PASSWORD), "{json}");
        }
    }

    #[tokio::test]
    async fn dropping_the_set_stops_its_tasks() {
        let (tx, mut rx) = watch::channel(Arc::new(Vec::new()));
        let port = free_port();
        // The test keeps a sender, so the channel stays open and a late publish would show.
        let set = spawn_checks(
            vec![spec(
                "db",
                CheckKind::Redis,
                &format!("redis://127.0.0.1:{port}"),
                20,
                1000,
            )],
            tx.clone(),
        );
        wait_for(&mut rx, 0, "two attempts", |s| s.consecutive_failures >= 2).await;
        let tasks = set.tasks.clone();
        drop(set);
        let stopped = tokio::time::timeout(DEADLINE, async {
            while !tasks.iter().all(|t| t.is_finished()) {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(stopped.is_ok(), "tasks still running after the set was dropped");
        let last = rx.borrow_and_update()[0].consecutive_failures;
        assert!(!rx.has_changed().unwrap(), "published after drop");
        drop(tx);
        assert!(last >= 2);
    }
}
