//! Domain vocabulary shared by the supervisor and everything that observes it: program
//! states, exit reasons, the events the supervisor publishes and the snapshot it keeps.
//!
//! No I/O and no wire format here: `api` converts these into the JSON the HTTP surface
//! promises, so the contract cannot change by accident when a domain type does.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

/// How urgent an alert is. Ordered: `Info < Warning < Error < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }

    /// `INFO`, `WARNING`, `ERROR`, `CRITICAL` (as in subjects).
    pub fn label(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
            Self::Critical => "CRITICAL",
        }
    }
}

/// The states of the contract, exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgramState {
    /// Spawned but not yet up for its `start_period`, or waiting for a dependency.
    Starting,
    Running,
    /// Exited and waiting for its restart time.
    Backoff,
    /// Stop signal sent, waiting for the tree to go away.
    Stopping,
    /// Down on purpose (operator, disabled, not autostarted, shutdown).
    Stopped,
    /// Exited and not restarted by its policy (e.g. a one-shot that completed).
    Exited,
    /// Gave up after `max_restarts` within `restart_window`; stays down.
    Failed,
}

impl ProgramState {
    pub const ALL: [ProgramState; 7] = [
        Self::Starting,
        Self::Running,
        Self::Backoff,
        Self::Stopping,
        Self::Stopped,
        Self::Exited,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Backoff => "backoff",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Exited => "exited",
            Self::Failed => "failed",
        }
    }

    /// Whether a process of the program may be alive in this state.
    pub fn has_process(self) -> bool {
        matches!(self, Self::Starting | Self::Running | Self::Stopping)
    }
}

impl fmt::Display for ProgramState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a process ended, as the kernel reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Code(c) => Some(c),
            ExitStatus::Signal(_) => None,
        }
    }
    pub fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Signal(s) => Some(s),
            ExitStatus::Code(_) => None,
        }
    }
}

/// Why a program's process ended (or never started): the fixed vocabulary of the issue.
/// Program-caused reasons come from the status; warden-caused ones from why warden
/// stopped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// The program exited by itself with this code.
    ExitCode(i32),
    /// The program was killed by a signal warden did not send.
    Signal(i32),
    /// The command could not be started (not found, not executable, bad user...).
    SpawnFailed(String),
    /// Its tree stayed above `memory_limit`.
    MemoryLimit,
    /// Its probe failed (probes arrive with the health issue).
    ProbeFailed,
    /// A scheduled run took longer than its `timeout`.
    Timeout,
    /// An operator stopped or restarted it.
    Operator,
    /// A reload changed or removed it.
    Reload,
    /// A dependency went away.
    Dependency,
    /// warden is shutting down.
    Shutdown,
}

impl ExitReason {
    /// Stable machine-readable kind, for JSON and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ExitCode(_) => "exit_code",
            Self::Signal(_) => "signal",
            Self::SpawnFailed(_) => "spawn_failed",
            Self::MemoryLimit => "memory",
            Self::ProbeFailed => "probe_failed",
            Self::Timeout => "timeout",
            Self::Operator => "operator",
            Self::Reload => "reload",
            Self::Dependency => "dependency",
            Self::Shutdown => "shutdown",
        }
    }

    /// Whether this counts as a failure of the program (drives `on-failure` and the
    /// restart budget). Stops that warden asked for are not failures.
    pub fn is_failure(&self) -> bool {
        match self {
            Self::ExitCode(c) => *c != 0,
            Self::Signal(_) | Self::SpawnFailed(_) | Self::MemoryLimit | Self::ProbeFailed | Self::Timeout => true,
            Self::Operator | Self::Reload | Self::Dependency | Self::Shutdown => false,
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExitCode(c) => write!(f, "exit code {c}"),
            Self::Signal(s) => write!(f, "killed by signal {}", signal_name(*s)),
            Self::SpawnFailed(e) => write!(f, "could not start: {e}"),
            Self::MemoryLimit => f.write_str("memory limit exceeded"),
            Self::ProbeFailed => f.write_str("probe failed"),
            Self::Timeout => f.write_str("timed out"),
            Self::Operator => f.write_str("stopped by operator"),
            Self::Reload => f.write_str("changed by reload"),
            Self::Dependency => f.write_str("dependency stopped"),
            Self::Shutdown => f.write_str("warden shutting down"),
        }
    }
}

/// `SIGTERM` for 15, or the number when it is not a known signal.
pub fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => sig.to_string(),
    }
}

/// The last exit of a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitRecord {
    pub at: SystemTime,
    /// `None` when the process never started.
    pub status: Option<ExitStatus>,
    pub reason: ExitReason,
}

/// What the supervisor publishes on its broadcast channel. Observers (logs of warden,
/// later the store, alerts and metrics) subscribe; the supervisor never waits for them.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: SystemTime,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Spawned {
        program: String,
        pid: u32,
    },
    Exited {
        program: String,
        pid: Option<u32>,
        record: ExitRecord,
    },
    StateChanged {
        program: String,
        from: ProgramState,
        to: ProgramState,
        reason: Option<String>,
    },
    /// The program used up its restart budget and is now `failed`.
    GaveUp {
        program: String,
        restarts: u32,
        window_secs: u64,
    },
    Reloaded {
        added: Vec<String>,
        changed: Vec<String>,
        removed: Vec<String>,
    },
    ReloadRefused {
        error: String,
    },
    /// A probe crossed its threshold: the program became healthy or unhealthy.
    ProbeChanged {
        program: String,
        healthy: bool,
        /// The last attempt's outcome in words.
        message: String,
    },
}

/// One probe attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    pub ok: bool,
    /// In words: "HTTP 200", "connection refused", "timed out after 2s".
    pub message: String,
    pub duration: std::time::Duration,
    pub at: SystemTime,
}

/// A program's probe, as `/status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSnapshot {
    /// `tcp | http | exec | mcp`.
    pub kind: &'static str,
    /// `None` until the thresholds decided (a new process starts undecided).
    pub healthy: Option<bool>,
    pub last: Option<ProbeResult>,
    pub consecutive_failures: u32,
    /// What a failure does: `restart | alert | none`.
    pub action: &'static str,
}

/// The supervisor's view of every program, republished after each change on a
/// `watch` channel. Readers (`/status`) never lock supervisor state.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub programs: Vec<ProgramSnapshot>,
}

#[derive(Debug, Clone)]
pub struct ProgramSnapshot {
    pub name: String,
    pub state: ProgramState,
    /// Why the program is in this state, in words (e.g. "waiting for db (running)").
    pub reason: Option<String>,
    pub pid: Option<u32>,
    /// Restarts since warden started (operator restarts included).
    pub restarts: u32,
    /// When the current process started.
    pub started_at: Option<SystemTime>,
    pub last_exit: Option<ExitRecord>,
    /// While in `backoff`: when the next start is due.
    pub next_restart_at: Option<SystemTime>,
    /// Resident memory of the whole tree at the last sample.
    pub memory_bytes: Option<u64>,
    /// CPU of the whole tree over the last sample interval, in percent of one core.
    pub cpu_percent: Option<f64>,
    pub enabled: bool,
    /// Counts for `/ready`.
    pub required: bool,
    /// The port passed as `PORT` (fixed, or assigned from `[ports] range`).
    pub port: Option<u16>,
    pub probe: Option<ProbeSnapshot>,
    /// The program has a process, survived its start period and passes its probe (if
    /// any): what `depends_on` condition `healthy` and `/ready` wait for.
    pub healthy: bool,
    /// Live counters of the program's log (read at each scrape, not copied).
    pub log: Option<Arc<LogCounters>>,
}

/// What a program's log writer has written and lost, in bytes of program output.
#[derive(Debug, Default)]
pub struct LogCounters {
    written: AtomicU64,
    lost: AtomicU64,
}

impl LogCounters {
    pub fn add_written(&self, bytes: u64) {
        self.written.fetch_add(bytes, Ordering::Relaxed);
    }
    pub fn add_lost(&self, bytes: u64) {
        self.lost.fetch_add(bytes, Ordering::Relaxed);
    }
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

impl Snapshot {
    pub fn program(&self, name: &str) -> Option<&ProgramSnapshot> {
        self.programs.iter().find(|p| p.name == name)
    }
}
