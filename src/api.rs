//! The JSON wire format of the HTTP surface, and only that.
//!
//! These types are the user contract (`/status` fields, error shape); they are built
//! from domain types by explicit conversions here, so renaming a domain field cannot
//! change what a user's `curl | jq` sees. The CLI client deserializes the same types.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::events::{ExitRecord, ProgramSnapshot, Snapshot};

/// `GET /status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub uptime_seconds: u64,
    pub warden: WardenInfo,
    pub programs: Vec<ProgramStatus>,
    /// Host resources; filled by the health checks (an empty object until then).
    pub system: serde_json::Map<String, serde_json::Value>,
    /// Dependency checks (Postgres, Redis); empty until configured.
    pub checks: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WardenInfo {
    pub pid: u32,
    pub started_at: String,
    /// The cgroup v2 directory holding one cgroup per program; `null` when trees are
    /// tracked by process group and adopted orphans only.
    pub cgroup: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgramStatus {
    pub name: String,
    /// `starting|running|backoff|stopping|stopped|exited|failed`.
    pub state: String,
    /// Why the program is in this state, in words.
    pub reason: Option<String>,
    pub enabled: bool,
    pub pid: Option<u32>,
    pub restarts: u32,
    /// Seconds the current process has been up; `null` without a process.
    pub uptime_seconds: Option<u64>,
    pub last_exit_code: Option<i32>,
    pub last_exit: Option<LastExit>,
    /// RFC 3339; set while in `backoff`.
    pub next_restart_at: Option<String>,
    pub next_restart_in_seconds: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub cpu_percent: Option<f64>,
    /// The program's probe result; `null` until probes exist.
    pub probe: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastExit {
    /// RFC 3339.
    pub at: String,
    /// `exit_code|signal|spawn_failed|memory|probe_failed|operator|reload|dependency|shutdown`.
    pub reason: String,
    /// The reason in words.
    pub message: String,
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// Every error answer: `{"error": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl Status {
    pub fn new(snapshot: &Snapshot, started_at: SystemTime, now: SystemTime, cgroup: Option<String>) -> Self {
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_seconds: since(started_at, now).as_secs(),
            warden: WardenInfo {
                pid: std::process::id(),
                started_at: rfc3339(started_at),
                cgroup,
            },
            programs: snapshot.programs.iter().map(|p| ProgramStatus::new(p, now)).collect(),
            system: Default::default(),
            checks: Default::default(),
        }
    }
}

impl ProgramStatus {
    pub fn new(p: &ProgramSnapshot, now: SystemTime) -> Self {
        ProgramStatus {
            name: p.name.clone(),
            state: p.state.as_str().to_string(),
            reason: p.reason.clone(),
            enabled: p.enabled,
            pid: p.pid,
            restarts: p.restarts,
            uptime_seconds: p.started_at.map(|t| since(t, now).as_secs()),
            last_exit_code: p.last_exit.as_ref().and_then(|x| x.status).and_then(|s| s.code()),
            last_exit: p.last_exit.as_ref().map(LastExit::new),
            next_restart_at: p.next_restart_at.map(rfc3339),
            next_restart_in_seconds: p
                .next_restart_at
                .map(|t| t.duration_since(now).unwrap_or_default().as_secs_f64()),
            memory_bytes: p.memory_bytes,
            cpu_percent: p.cpu_percent.map(|c| (c * 10.0).round() / 10.0),
            probe: None,
        }
    }
}

impl LastExit {
    fn new(x: &ExitRecord) -> Self {
        LastExit {
            at: rfc3339(x.at),
            reason: x.reason.kind().to_string(),
            message: x.reason.to_string(),
            code: x.status.and_then(|s| s.code()),
            signal: x.status.and_then(|s| s.signal()),
        }
    }
}

fn since(then: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}
