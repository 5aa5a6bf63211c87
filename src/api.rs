//! The JSON wire format of the HTTP surface, and only that.
//!
//! These types are the user contract (`/status` fields, error shape); they are built
//! from domain types by explicit conversions here, so renaming a domain field cannot
//! change what a user's `curl | jq` sees. The CLI client deserializes the same types.

use std::time::{Duration, SystemTime};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::events::{ExitRecord, ProbeSnapshot, ProgramSnapshot, Snapshot};

/// `GET /status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub uptime_seconds: u64,
    pub warden: WardenInfo,
    pub programs: Vec<ProgramStatus>,
    /// Host resources at the last measurement; `null` until the first one.
    pub system: Option<SystemInfo>,
    /// Dependency checks (Postgres, Redis) by name.
    pub checks: BTreeMap<String, CheckInfo>,
}

/// `system` in `/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SystemInfo {
    /// RFC 3339 time of the measurement.
    pub at: String,
    /// `ok | warning | critical`: the worst of the parts.
    pub level: String,
    /// Average over the last `system.interval`; `null` until one interval passed.
    pub cpu: Option<CpuInfo>,
    pub memory: UsageInfo,
    pub disks: Vec<DiskInfo>,
    pub load_average: [f64; 3],
    /// Each part with its level and the reason in words (what `/health` shows).
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// `cpu`, `memory`, `disk:MOUNT`.
    pub component: String,
    /// `ok | warning | critical`.
    pub level: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CpuInfo {
    pub usage_ratio: f64,
    pub level: String,
    pub cores: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsageInfo {
    pub used_bytes: u64,
    pub total_bytes: u64,
    pub usage_ratio: f64,
    /// `ok | warning | critical`.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiskInfo {
    pub mount: String,
    pub filesystem: String,
    #[serde(flatten)]
    pub usage: UsageInfo,
    /// Why it could not be measured (e.g. a configured mount that does not exist).
    pub error: Option<String>,
}

/// One dependency check in `/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInfo {
    /// `postgres | redis`.
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    /// `up | down | unknown` (not checked yet).
    pub status: String,
    pub latency_ms: Option<f64>,
    /// "ok", or what went wrong in words.
    pub message: String,
    pub checked_at: Option<String>,
    /// Since when it has been up (or down).
    pub since: Option<String>,
    pub consecutive_failures: u32,
}

/// A program's probe in `/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeInfo {
    /// `tcp | http | exec | mcp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `healthy | unhealthy | unknown` (the thresholds have not decided yet).
    pub status: String,
    /// The last attempt: passed or not, what it said, when, how long it took.
    pub ok: Option<bool>,
    pub message: Option<String>,
    pub checked_at: Option<String>,
    pub duration_ms: Option<f64>,
    pub consecutive_failures: u32,
    /// What a failure does: `restart | alert | none`.
    pub action: String,
}

/// `GET /ready`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ready {
    pub ready: bool,
    /// Why not, one entry per component, in words; empty when ready.
    pub reasons: Vec<String>,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    /// `healthy | degraded | unhealthy`.
    pub status: String,
    pub ready: bool,
    /// By component: `supervisor`, `program:NAME`, `check:NAME`, `system:cpu`,
    /// `system:memory`, `system:disk:MOUNT`.
    pub components: BTreeMap<String, Component>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Component {
    /// `healthy | degraded | unhealthy`.
    pub status: String,
    /// In words: "running, probe passing (HTTP 200)", "connection refused", ...
    pub reason: String,
    /// Counts for readiness.
    pub required: bool,
}

/// `GET /live` when the supervision loop answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Live {
    /// Always `live`.
    pub status: String,
}

/// `POST /api/v1/events` (202): what was counted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventAccepted {
    pub kind: String,
    pub count: u64,
    pub program: Option<String>,
}

/// `POST /api/v1/events`: a business counter a program reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventReport {
    /// One of `[metrics] event_kinds`.
    pub kind: String,
    /// How many happened (default 1).
    #[serde(default = "one")]
    pub count: u64,
    /// The reporting program (a configured program name), if any.
    #[serde(default)]
    pub program: Option<String>,
}

fn one() -> u64 {
    1
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
    /// `null` for a program without a probe.
    pub probe: Option<ProbeInfo>,
    /// The port passed to the program as `PORT`.
    pub port: Option<u16>,
    /// Running and passing its probe (or without one).
    pub healthy: bool,
    /// Counts for `/ready`.
    pub required: bool,
    /// A scheduled program's schedule, next due time and last run; `null` otherwise.
    pub job: Option<JobInfo>,
    /// Which copy of a scaled program (`instances`) this is; `null` otherwise.
    pub instance: Option<InstanceInfo>,
}

/// A copy of a scaled program.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// The `[[program]]` name.
    pub of: String,
    /// From 0; the program's `INSTANCE`.
    pub index: u32,
}

/// What `/status` shows of a scheduled program.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobInfo {
    pub schedule: String,
    /// IANA name, or `local`.
    pub timezone: String,
    /// RFC 3339.
    pub next_due: Option<String>,
    /// The current run, or the last one.
    pub last_run: Option<JobRun>,
    /// RFC 3339: the last due time skipped because the previous run was still going.
    pub last_skipped: Option<String>,
    /// A run waits for the current one to end (`overlap = "queue"`).
    pub queued: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRun {
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_seconds: Option<f64>,
    pub exit_code: Option<i32>,
    /// `running | succeeded | failed | timed out`.
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastExit {
    /// RFC 3339.
    pub at: String,
    /// `exit_code|signal|spawn_failed|memory|probe_failed|timeout|operator|reload|dependency|shutdown`.
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
            system: None,
            checks: BTreeMap::new(),
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
            probe: p.probe.as_ref().map(ProbeInfo::new),
            port: p.port,
            healthy: p.healthy,
            required: p.required,
            job: None,
            instance: None,
        }
    }
}

impl ProbeInfo {
    fn new(p: &ProbeSnapshot) -> Self {
        ProbeInfo {
            kind: p.kind.to_string(),
            status: match p.healthy {
                Some(true) => "healthy",
                Some(false) => "unhealthy",
                None => "unknown",
            }
            .to_string(),
            ok: p.last.as_ref().map(|r| r.ok),
            message: p.last.as_ref().map(|r| r.message.clone()),
            checked_at: p.last.as_ref().map(|r| rfc3339(r.at)),
            duration_ms: p.last.as_ref().map(|r| millis(r.duration)),
            consecutive_failures: p.consecutive_failures,
            action: p.action.to_string(),
        }
    }
}

/// Milliseconds with microsecond precision.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
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

/// `GET /api/v1/programs/{name}`: the `/status` fields plus the program's
/// configuration, secrets redacted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgramDetail {
    #[serde(flatten)]
    pub status: ProgramStatus,
    pub config: ProgramConfig,
}

/// A program's configuration as the API shows it. `env` values whose names are secret
/// (`[server] secret_env`, or ending in `_KEY`, `_TOKEN`, `_PASSWORD`, `_SECRET`) read
/// `"***"`, and so does the password part of a URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgramConfig {
    pub command: String,
    pub args: Vec<String>,
    pub cwd: Option<String>,
    pub env: BTreeMap<String, String>,
    /// `always | on-failure | never`.
    pub restart: String,
    pub autostart: bool,
    pub depends_on: Vec<String>,
    pub stop_signal: String,
    pub stop_timeout: String,
    /// `"auto"`, a fixed port as a string (`"9100"`), or `null`.
    pub port: Option<String>,
}

/// `POST /api/v1/programs/{name}/start|stop|restart`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlAnswer {
    pub program: String,
    /// `start | stop | restart`.
    pub action: String,
    /// The program's state when the answer was written: with `?wait=true`, the state
    /// it was waited for (`running` or `stopped`).
    pub state: String,
    pub pid: Option<u32>,
}

/// `GET /api/v1/programs/{name}/logs?tail=N`: the last lines, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogTail {
    pub program: String,
    pub lines: Vec<LogLineInfo>,
}

/// One log line; also the `data` of each `line` event of `?follow=true`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogLineInfo {
    /// RFC 3339 with microseconds: when warden read it.
    pub at: String,
    /// `stdout | stderr | warden`.
    pub stream: String,
    pub text: String,
}

/// The data of a follow stream's `gap` event: lines the reader missed because it fell
/// behind the in-memory tail.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogGap {
    pub skipped: u64,
}

/// `POST /api/v1/programs/{name}/scale` body; unknown fields are refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    /// From 1 to 100.
    pub instances: u32,
}

/// `POST /api/v1/programs/{name}/scale` when done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleAnswer {
    pub program: String,
    pub instances: u32,
    /// Copies started.
    pub added: Vec<String>,
    /// Copies stopped, highest index first.
    pub removed: Vec<String>,
}

/// `POST /api/v1/reload` when the new configuration was applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadAnswer {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
}

/// `POST /api/v1/reload` when the file was refused (400): the running configuration
/// stays. `errors` holds one `FILE:LINE:COL: message` per problem.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadRefused {
    pub error: String,
    pub errors: Vec<String>,
}

/// `GET /api/v1/alerts`: what is firing now, the active silences, and the outbox
/// (notifications sent, failed, or waiting), newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Alerts {
    pub firing: Vec<AlertInfo>,
    pub silences: Vec<SilenceInfo>,
    /// The configured channels (`email`, `slack`).
    pub channels: Vec<String>,
    pub notifications: Vec<NotificationInfo>,
    /// Set while the outbox is kept in memory because the store is unavailable.
    pub store_error: Option<String>,
}

/// An alert that is firing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertInfo {
    /// Stable per condition: `program_crashed:NAME`, `check_down:NAME`, `system:disk:/`...
    pub fingerprint: String,
    /// `info | warning | error | critical`.
    pub severity: String,
    pub summary: String,
    pub program: Option<String>,
    /// When the condition began (RFC 3339).
    pub at: String,
    /// `firing`.
    pub status: String,
    /// A silence holds its notifications back.
    pub silenced: bool,
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub restarts: Option<u32>,
    /// The program's last stderr lines, secrets blanked.
    pub stderr_tail: Vec<String>,
}

/// One notification of the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationInfo {
    pub id: i64,
    /// `email | slack`.
    pub channel: String,
    pub subject: String,
    /// `firing | resolved`.
    pub status: String,
    pub severity: String,
    /// `pending | sent | failed`.
    pub state: String,
    /// Failed attempts so far.
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    /// When a pending notification is tried next.
    pub next_attempt_at: Option<String>,
    pub alerts: Vec<CarriedAlert>,
}

/// An alert as a notification carried it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CarriedAlert {
    pub fingerprint: String,
    /// `firing | resolved`.
    pub status: String,
    pub severity: String,
    pub summary: String,
    #[serde(default)]
    pub program: Option<String>,
}

/// `POST /api/v1/silences`: hold back the alerts `matcher` matches until `until`, or
/// for `duration`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// A program name, a fingerprint, or a prefix of whole `:`-separated parts
    /// (`system`, `system:disk`, `program_crashed`).
    pub matcher: String,
    /// RFC 3339.
    #[serde(default)]
    pub until: Option<String>,
    /// `"30m"`, `"2h"`.
    #[serde(default)]
    pub duration: Option<String>,
}

/// An active silence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SilenceInfo {
    pub matcher: String,
    /// RFC 3339.
    pub until: String,
}

/// `POST /api/v1/alerts/test`: what became of each test notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertTest {
    pub results: Vec<AlertTestResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertTestResult {
    pub channel: String,
    pub id: i64,
    /// `sent`, `failed`, or `pending` (not delivered yet: `error` says why).
    pub state: String,
    pub error: Option<String>,
}

/// `GET /dashboard` (JSON): everything the dashboard page shows, in one document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dashboard {
    pub warden: DashboardWarden,
    /// The one-line verdict at the top of the page.
    pub overall: Overall,
    pub programs: Vec<DashboardProgram>,
    /// Dependency checks by name (as in `/status`).
    pub checks: BTreeMap<String, CheckInfo>,
    /// Host resources; `null` until the first measurement.
    pub system: Option<SystemInfo>,
    /// The most recent events, newest first (at most 50).
    pub events: Vec<EventInfo>,
    /// The alerts firing now, most severe first.
    pub alerts: Vec<AlertInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DashboardWarden {
    pub version: String,
    pub pid: u32,
    /// RFC 3339.
    pub started_at: String,
    pub uptime_seconds: u64,
}

/// The verdict of `/health` and `/ready`, with a sentence for people.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overall {
    /// `healthy | degraded | unhealthy`.
    pub status: String,
    pub ready: bool,
    /// E.g. "All 5 programs running" or "1 of 5 programs down: worker (backoff)".
    pub summary: String,
    /// Why not healthy, one entry per component (empty when healthy).
    pub reasons: Vec<String>,
}

/// A program on the dashboard: its `/status` fields and a short usage history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DashboardProgram {
    #[serde(flatten)]
    pub status: ProgramStatus,
    pub history: UsageHistory,
}

/// Usage samples, oldest first; the three lists have the same length. A `null` is a
/// sample without a process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UsageHistory {
    /// Unix seconds of each sample.
    pub at: Vec<u64>,
    pub memory_bytes: Vec<Option<u64>>,
    pub cpu_percent: Vec<Option<f64>>,
}

/// One supervision event, in words.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventInfo {
    /// RFC 3339.
    pub at: String,
    /// `spawned | exited | state_changed | gave_up | reloaded | reload_refused | probe_changed`.
    pub kind: String,
    pub program: Option<String>,
    /// `info | warning | error`.
    pub severity: String,
    pub message: String,
}

/// `GET /api/v1/events`: the supervision history from the store, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventHistory {
    pub events: Vec<StoredEventInfo>,
}

/// One stored event: the words of [`EventInfo`] plus its id and facts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEventInfo {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    /// `spawned | exited | state_changed | gave_up | reloaded | reload_refused | probe_changed`.
    pub kind: String,
    pub program: Option<String>,
    /// `info | warning | error`.
    pub severity: String,
    pub message: String,
    /// Facts by kind, e.g. `{"pid", "reason", "code", "signal"}` for `exited`.
    pub details: serde_json::Value,
}
