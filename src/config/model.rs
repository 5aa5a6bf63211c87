//! The validated configuration: what the rest of warden reads.
//!
//! Every value here has been checked (names, durations, signals, dependency graph) and
//! every `${VAR}` has been substituted. Nothing in this file parses text: that is
//! `raw.rs` and `validate.rs`. Types derive `PartialEq` so that a reload can diff old
//! and new specs program by program (see `diff.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

pub use crate::events::Severity;

/// A whole, valid configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this configuration was read from (for messages and reloads).
    pub source: PathBuf,
    pub server: ServerConfig,
    pub supervisor: SupervisorConfig,
    pub logs: LogConfig,
    /// Where `port = "auto"` programs get their port.
    pub ports: PortRange,
    /// Host CPU, memory and disk checks.
    pub system: SystemConfig,
    /// Dependency checks (Postgres, Redis) in file order. Names are unique, and distinct
    /// from program names (a program may `depends_on` a check).
    pub checks: Vec<CheckSpec>,
    /// Business counters programs may report through `POST /api/v1/events`.
    pub metrics: MetricsConfig,
    /// The durable store of events and the alert outbox.
    pub store: StoreConfig,
    /// `[alerts]`: grouping, delivery and the channels.
    pub alerts: AlertsConfig,
    /// Programs in file order. Names are unique.
    pub programs: Vec<Arc<ProgramSpec>>,
}

impl Config {
    /// The program named `name`, if any.
    pub fn program(&self, name: &str) -> Option<&Arc<ProgramSpec>> {
        self.programs.iter().find(|p| p.name == name)
    }
}

/// `[store]`: where events and the alert outbox are kept, and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// `sqlite://PATH`, `postgres://...` or `postgresql://...`, `${VAR}` substituted
    /// (may carry a password: never shown). `None`: the SQLite file
    /// `supervisor.data_dir/warden.db`.
    pub url: Option<Secret>,
    /// Events, and sent or failed notifications, older than this are pruned.
    pub retention: Duration,
    /// At most this many events are kept (the newest).
    pub retention_events: u64,
}

/// `[alerts]`: when notifications go out (Alertmanager's three intervals), how failed
/// deliveries are retried, and the channels. No channel: alerts are still raised,
/// shown in the API and kept in the store, but nothing is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    /// How long the first alert after a quiet time waits to collect a burst.
    pub group_wait: Duration,
    /// At most one notification per channel this often while alerts keep changing.
    pub group_interval: Duration,
    /// An unchanged firing alert is sent again after this long.
    pub repeat_interval: Duration,
    /// The first retry of a failed delivery waits this long, doubling up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// How many of a crashed program's last stderr lines an alert carries (redacted).
    pub stderr_lines: usize,
    pub email: Option<EmailConfig>,
    pub slack: Option<SlackConfig>,
}

/// `[alerts.email]`: SMTP with lettre.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Both or neither.
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// A mailbox, `warden@example.com` or `Warden <warden@example.com>`.
    pub from: String,
    /// One or more mailboxes.
    pub to: Vec<String>,
    /// More CA certificates (PEM) to trust, e.g. a private relay's.
    pub ca_file: Option<PathBuf>,
    pub min_severity: Severity,
    /// Limits one delivery (connect, TLS, the whole SMTP dialogue).
    pub timeout: Duration,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (a relay on localhost or in the same pod).
    None,
}

impl SmtpSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StartTls => "starttls",
            Self::Tls => "tls",
            Self::None => "none",
        }
    }
}

/// `[alerts.slack]`: an incoming webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackConfig {
    /// The webhook URL is a credential: never shown.
    pub webhook_url: Secret,
    pub min_severity: Severity,
    pub timeout: Duration,
}

/// `[ports] range = "9100-9199"`: inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

/// `[system]`: host checks (sysinfo).
#[derive(Debug, Clone, PartialEq)]
pub struct SystemConfig {
    /// How often CPU, memory and disks are measured; CPU usage is the average over it.
    pub interval: Duration,
    pub cpu: Thresholds,
    pub memory: Thresholds,
    pub disk: Thresholds,
    /// Mount points to check; empty means every real (non-virtual) filesystem.
    pub mounts: Vec<PathBuf>,
}

/// Usage ratios (0.0 to 1.0) at which a resource is a warning or critical.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub warning: f64,
    pub critical: f64,
}

/// One `[[check]]`: a dependency warden checks on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// `[a-z0-9-]+`, unique among checks and programs.
    pub name: String,
    pub kind: CheckKind,
    /// Connection URL (may carry a password: never shown).
    pub url: Secret,
    /// A failing required check makes `/ready` answer 503.
    pub required: bool,
    pub interval: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// `SELECT 1` over sqlx.
    Postgres,
    /// `PING`.
    Redis,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Redis => "redis",
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// The `kind`s `POST /api/v1/events` accepts (bounded label values).
    pub event_kinds: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// Tokens that may read and control (`tokens`; else `$WARDEN_API_TOKEN` when neither
    /// `tokens` nor `token_file` is set).
    pub tokens: Vec<Secret>,
    /// A file of more such tokens, one per line, read at start and at each reload.
    pub token_file: Option<PathBuf>,
    /// Tokens that may only read (GET).
    pub read_only_tokens: Vec<Secret>,
    pub read_only_token_file: Option<PathBuf>,
    /// Which of `/live`, `/ready`, `/health`, `/metrics` need no token.
    pub public: Vec<PublicEndpoint>,
    /// A proxy in front terminates TLS (satisfies the production guard without `tls`).
    pub behind_tls_proxy: bool,
    pub tls: Option<TlsFiles>,
    /// Per-client token bucket for everything but the probes and `/metrics`; `None`: off.
    pub rate_limit: Option<RateLimit>,
    /// Longest time a request may take before its answer starts (408).
    pub request_timeout: Duration,
    /// More `env` names whose values the API shows as `***`.
    pub secret_env: Vec<String>,
}

/// The endpoints that may be served without a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicEndpoint {
    Live,
    Ready,
    Health,
    Metrics,
    /// The dashboard's data (`GET /dashboard` as JSON): a read-only view for anyone.
    Dashboard,
}

impl PublicEndpoint {
    pub const ALL: [PublicEndpoint; 5] = [Self::Live, Self::Ready, Self::Health, Self::Metrics, Self::Dashboard];
    /// Public unless `[server] public` says otherwise: what kubelet and Prometheus ask.
    pub const DEFAULT: [PublicEndpoint; 4] = [Self::Live, Self::Ready, Self::Health, Self::Metrics];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Ready => "ready",
            Self::Health => "health",
            Self::Metrics => "metrics",
            Self::Dashboard => "dashboard",
        }
    }

    /// The path it is served at.
    pub fn path(self) -> &'static str {
        match self {
            Self::Live => "/live",
            Self::Ready => "/ready",
            Self::Health => "/health",
            Self::Metrics => "/metrics",
            Self::Dashboard => "/dashboard",
        }
    }
}

/// `[server.tls]`: PEM files, read at start and at each reload.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests per second refilled.
    pub per_second: u32,
    /// Requests allowed at once.
    pub burst: u32,
}

/// Whether an `env` name holds a secret by its name: `*_KEY`, `*_TOKEN`, `*_PASSWORD`,
/// `*_SECRET` (and the bare words), or listed in `[server] secret_env`.
pub fn is_secret_name(name: &str, secret_env: &[String]) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "PASSWORD", "SECRET", "PASSWD", "CREDENTIALS"]
        .iter()
        .any(|w| upper == *w || upper.ends_with(&format!("_{w}")))
        || secret_env.iter().any(|s| s == name)
}

#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorConfig {
    /// Directory for warden's own state (the store, later). Created on start.
    pub data_dir: PathBuf,
    /// How often the resident memory and CPU of every program's process tree is
    /// sampled (feeds `/status` and `memory_limit`).
    pub sample_interval: Duration,
    /// Upper bound for a graceful shutdown; after it every remaining tree is killed.
    pub shutdown_timeout: Duration,
    /// Put each program in a cgroup v2 of its own when warden has a writable one.
    pub cgroups: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Directory of the per-program log files `DIR/NAME.log`. Created on start.
    pub dir: PathBuf,
    /// Defaults for every program; a program may override them.
    pub rotation: Rotation,
    /// Lines kept in memory per program for the API's tail.
    pub tail_lines: usize,
    /// A line longer than this is cut into marked pieces (never dropped).
    pub max_line: usize,
}

/// Size-based rotation of one log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once the current file reaches this many bytes.
    pub max_size: u64,
    /// Rotated files kept besides the current one (`NAME.log.1` .. `NAME.log.N`).
    pub max_files: u32,
}

/// One supervised program, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramSpec {
    /// `[a-z0-9-]+`, unique.
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    /// Working directory; `None` means warden's own.
    pub cwd: Option<PathBuf>,
    /// Variables set for the program (values substituted, may be secrets).
    pub env: BTreeMap<String, Secret>,
    /// Variables copied from warden's own environment at spawn time, when set there.
    pub env_passthrough: Vec<String>,
    /// Run as this user / group (only meaningful when warden runs as root).
    pub user: Option<String>,
    pub group: Option<String>,
    /// `false`: defined (visible in `/status` as `stopped`) but never started.
    pub enabled: bool,
    /// `false`: not started with warden; an operator starts it.
    pub autostart: bool,
    pub restart: RestartPolicy,
    pub backoff: BackoffSpec,
    /// Restarts allowed inside `restart_window` before the program is `failed`; 0 = no limit.
    pub max_restarts: u32,
    pub restart_window: Duration,
    /// How long a new process must stay up before it counts as `running`.
    pub start_period: Duration,
    pub stop_signal: Signal,
    pub stop_timeout: Duration,
    pub depends_on: Vec<Dependency>,
    /// Restart the program when its tree's RSS stays above this many bytes ...
    pub memory_limit: Option<u64>,
    /// ... for this long.
    pub memory_limit_grace: Duration,
    /// Log rotation of this program (the `[logs]` defaults unless overridden).
    pub rotation: Rotation,
    /// The port the program listens on, passed to it as `PORT`.
    pub port: Option<PortSpec>,
    /// How warden checks that the program works.
    pub probe: Option<ProbeSpec>,
    /// Counts for `/ready` (default: an enabled, autostarted program is required).
    pub required: bool,
    /// One of `instances = N` copies of a `[[program]]`: this one is `OF-INDEX`.
    pub instance: Option<Instance>,
    /// `schedule = "..."`: the program is a job, started at each due time (not with
    /// warden: `autostart` is false), never restarted after exit 0.
    pub job: Option<JobSpec>,
}

/// When and how a scheduled program runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub schedule: crate::schedule::Schedule,
    /// `timezone`, or the machine's local zone.
    pub zone: crate::schedule::Zone,
    pub overlap: Overlap,
    /// A run still going after this long is stopped (whole tree) and counts as failed.
    pub timeout: Option<Duration>,
    pub missed: Missed,
}

/// What happens when a job is due while its previous run is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// This run is skipped (and says so).
    Skip,
    /// This run starts when the previous one ends (at most one waits).
    Queue,
    /// The previous run is stopped and this one starts.
    Replace,
}

/// What happens to due times missed while warden was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    Skip,
    /// One run at start, however many were missed.
    RunOnce,
}

/// Which copy of a scaled program a [`ProgramSpec`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The `[[program]]` name (`mcp-files`); the copies are `mcp-files-0`, `mcp-files-1`...
    pub of: String,
    /// From 0; passed to the program as `INSTANCE`.
    pub index: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSpec {
    Fixed(u16),
    /// A free port from `[ports] range`, kept across restarts.
    Auto,
}

/// A program's probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    pub kind: ProbeKind,
    /// Wait this long after a start before the first probe.
    pub initial_delay: Duration,
    pub interval: Duration,
    /// One probe attempt fails when it takes longer than this.
    pub timeout: Duration,
    /// Consecutive failures before the program counts as unhealthy.
    pub failure_threshold: u32,
    /// Consecutive successes before an unhealthy (or new) program counts as healthy.
    pub success_threshold: u32,
    pub action: ProbeAction,
    /// The severity of its `probe_failing` alert (with `action` restart or alert).
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProbeKind {
    /// A TCP connect succeeds.
    Tcp { host: String, port: ProbePort },
    /// `GET http://HOST:PORT/PATH` answers a status in `status`.
    Http {
        host: String,
        port: ProbePort,
        path: String,
        status: StatusRange,
        /// Extra request headers (values may be secrets, e.g. a bearer token).
        headers: Vec<(String, Secret)>,
    },
    /// The command exits 0 (run like the program: same user, cwd and environment).
    Exec { command: String, args: Vec<String> },
    /// An MCP server over streamable HTTP answers a JSON-RPC `initialize` with a
    /// `result` carrying `serverInfo`.
    Mcp {
        host: String,
        port: ProbePort,
        path: String,
    },
}

impl ProbeKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Tcp { .. } => "tcp",
            Self::Http { .. } => "http",
            Self::Exec { .. } => "exec",
            Self::Mcp { .. } => "mcp",
        }
    }
}

/// Which port a network probe connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbePort {
    Fixed(u16),
    /// The program's own port (fixed or assigned).
    Program,
}

/// Accepted HTTP statuses, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    pub first: u16,
    pub last: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeAction {
    /// Restart the program (through its backoff, reason `probe failed`).
    Restart,
    /// Report it (state reason, `/health`, alerts) and leave the program running.
    Alert,
    /// Only record it.
    None,
}

impl ProbeAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restart => "restart",
            Self::Alert => "alert",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    /// The word the config file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::OnFailure => "on-failure",
            Self::Never => "never",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffSpec {
    pub initial: Duration,
    pub max: Duration,
    pub multiplier: f64,
    /// After the program stayed up this long, the next delay starts at `initial` again.
    pub reset_after: Duration,
    pub jitter: Jitter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the exponential delay.
    None,
    /// Uniform in `[0, delay]` (AWS "full jitter").
    Full,
    /// Uniform in `[initial, previous * 3]`, capped (AWS "decorrelated jitter").
    Decorrelated,
}

impl Jitter {
    /// The word the config file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Full => "full",
            Self::Decorrelated => "decorrelated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    pub condition: DependencyCondition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyCondition {
    /// The dependency has a process (state `starting` or `running`).
    Started,
    /// The dependency is `running` (survived its `start_period`).
    Running,
    /// The dependency is running and passing its probe (same as `Running` until probes exist).
    Healthy,
    /// The dependency is a one-shot program that exited with code 0.
    CompletedSuccessfully,
}

impl DependencyCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Running => "running",
            Self::Healthy => "healthy",
            Self::CompletedSuccessfully => "completed_successfully",
        }
    }
}

/// A value that must never be shown: `Debug` and `Display` print `***`. Only spawning
/// reads it, through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
