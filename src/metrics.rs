//! Prometheus metrics: every metric name warden exports is in [`names`], and nowhere
//! else.
//!
//! Two kinds of metrics live here. State metrics (programs, probes, checks, system) are
//! set from the latest snapshot and reports at scrape time, so they can never drift from
//! `/status`, and a removed program's series disappear with it. Counters that only this
//! layer sees (HTTP requests, business events) are kept in the registry as they happen.
//! A scrape reads published state only: it never waits for the supervision loop, a
//! check or sysinfo.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime};

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::events::{ProgramState, Snapshot};
use crate::health::checks::CheckStatus;
use crate::health::system::SystemReport;

/// The name of every metric, in one place (docs/api.md lists them with their meaning).
pub mod names {
    pub const BUILD_INFO: &str = "warden_build_info";
    pub const PROGRAM_UP: &str = "warden_program_up";
    pub const PROGRAM_STATE: &str = "warden_program_state";
    pub const PROGRAM_HEALTHY: &str = "warden_program_healthy";
    pub const PROGRAM_RESTARTS: &str = "warden_program_restarts_total";
    pub const PROGRAM_MEMORY: &str = "warden_program_memory_bytes";
    pub const PROGRAM_CPU: &str = "warden_program_cpu_usage_ratio";
    pub const PROGRAM_UPTIME: &str = "warden_program_uptime_seconds";
    pub const PROGRAM_LOG_BYTES: &str = "warden_program_log_bytes_total";
    pub const PROGRAM_LOG_LOST: &str = "warden_program_log_bytes_lost_total";
    pub const PROBE_SUCCESS: &str = "warden_probe_success";
    pub const PROBE_DURATION: &str = "warden_probe_duration_seconds";
    pub const PROBE_FAILURES: &str = "warden_probe_consecutive_failures";
    pub const CHECK_UP: &str = "warden_check_up";
    pub const CHECK_LATENCY: &str = "warden_check_latency_seconds";
    pub const SYSTEM_CPU: &str = "warden_system_cpu_usage_ratio";
    pub const SYSTEM_MEMORY: &str = "warden_system_memory_usage_ratio";
    pub const SYSTEM_MEMORY_TOTAL: &str = "warden_system_memory_total_bytes";
    pub const SYSTEM_DISK: &str = "warden_system_disk_usage_ratio";
    pub const SYSTEM_LOAD1: &str = "warden_system_load1";
    pub const ALERTS_SENT: &str = "warden_alerts_sent_total";
    pub const ALERTS_FAILED: &str = "warden_alerts_failed_total";
    pub const EVENTS: &str = "warden_events_total";
    pub const HTTP_REQUESTS: &str = "warden_http_requests_total";
    pub const HTTP_DURATION: &str = "warden_http_request_duration_seconds";
    pub const TASKS: &str = "warden_runtime_tasks";
    pub const STORE_DROPPED: &str = "warden_store_events_dropped_total";
}

/// Alert channels and severities, initialised at zero so that `rate()` and alerting
/// rules work before the first alert.
const CHANNELS: [&str; 2] = ["email", "slack"];
const SEVERITIES: [&str; 4] = ["info", "warning", "error", "critical"];

pub struct Metrics {
    registry: Registry,
    /// Serialises scrapes; holds the label values the previous scrape set, so that the
    /// series of removed programs, checks and mounts are removed while the others are
    /// updated in place (re-creating 5,000 series per scrape was most of its cost).
    scrape: Mutex<Seen>,
    state: StateMetrics,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    /// The request counter and duration histogram of each path, method and status seen,
    /// resolved once: a request then costs one map lookup instead of two label lookups.
    http_series: RwLock<HashMap<String, Vec<HttpSeries>>>,
    pub events: IntCounterVec,
    pub alerts_sent: IntCounterVec,
    pub alerts_failed: IntCounterVec,
    /// Supervision events that did not reach the store (down, slow, or failing).
    pub store_dropped: IntCounter,
}

struct HttpSeries {
    method: String,
    status: u16,
    requests: IntCounter,
    duration: Histogram,
}

/// Set from published state at each scrape.
struct StateMetrics {
    program_up: IntGaugeVec,
    program_state: IntGaugeVec,
    program_healthy: IntGaugeVec,
    program_restarts: IntCounterVec,
    program_memory: IntGaugeVec,
    program_cpu: GaugeVec,
    program_uptime: GaugeVec,
    log_bytes: IntCounterVec,
    log_lost: IntCounterVec,
    probe_success: IntGaugeVec,
    probe_duration: GaugeVec,
    probe_failures: IntGaugeVec,
    check_up: IntGaugeVec,
    check_latency: GaugeVec,
    system_cpu: Gauge,
    system_memory: Gauge,
    system_memory_total: IntGauge,
    system_disk: GaugeVec,
    system_load1: Gauge,
    tasks: IntGauge,
}

/// What a scrape reads.
pub struct Sources<'a> {
    pub snapshot: &'a Snapshot,
    pub checks: &'a [CheckStatus],
    pub system: Option<&'a SystemReport>,
    pub now: SystemTime,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let reg = |c: Box<dyn prometheus::core::Collector>| registry.register(c).expect("metric names are unique");
        macro_rules! labelled {
            ($ty:ident, $name:expr, $help:expr, $labels:expr) => {{
                let m = $ty::new(Opts::new($name, $help), $labels).expect("valid metric");
                reg(Box::new(m.clone()));
                m
            }};
        }
        macro_rules! one {
            ($ty:ident, $name:expr, $help:expr) => {{
                let m = $ty::with_opts(Opts::new($name, $help)).expect("valid metric");
                reg(Box::new(m.clone()));
                m
            }};
        }
        let build = IntGaugeVec::new(
            Opts::new(names::BUILD_INFO, "warden's version (always 1)."),
            &["version"],
        )
        .expect("valid metric");
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        reg(Box::new(build));
        #[cfg(target_os = "linux")]
        reg(Box::new(prometheus::process_collector::ProcessCollector::for_self()));

        let p = &["program"];
        let state = StateMetrics {
            program_up: labelled!(
                IntGaugeVec,
                names::PROGRAM_UP,
                "1 when the program has a process that survived its start period.",
                p
            ),
            program_state: labelled!(
                IntGaugeVec,
                names::PROGRAM_STATE,
                "1 for the program's current state, 0 for the others.",
                &["program", "state"]
            ),
            program_healthy: labelled!(
                IntGaugeVec,
                names::PROGRAM_HEALTHY,
                "1 when the program is running and passing its probe (or has none).",
                p
            ),
            program_restarts: labelled!(
                IntCounterVec,
                names::PROGRAM_RESTARTS,
                "Restarts of the program since warden started.",
                p
            ),
            program_memory: labelled!(
                IntGaugeVec,
                names::PROGRAM_MEMORY,
                "Resident memory of the program's whole process tree at the last sample.",
                p
            ),
            program_cpu: labelled!(
                GaugeVec,
                names::PROGRAM_CPU,
                "CPU of the program's whole tree over the last sample interval, in cores.",
                p
            ),
            program_uptime: labelled!(
                GaugeVec,
                names::PROGRAM_UPTIME,
                "Seconds since the program's current process started.",
                p
            ),
            log_bytes: labelled!(
                IntCounterVec,
                names::PROGRAM_LOG_BYTES,
                "Bytes of program output written to its log file.",
                p
            ),
            log_lost: labelled!(
                IntCounterVec,
                names::PROGRAM_LOG_LOST,
                "Bytes of program output lost because the log file could not be written.",
                p
            ),
            probe_success: labelled!(
                IntGaugeVec,
                names::PROBE_SUCCESS,
                "1 when the program's last probe attempt passed.",
                p
            ),
            probe_duration: labelled!(
                GaugeVec,
                names::PROBE_DURATION,
                "Duration of the program's last probe attempt.",
                p
            ),
            probe_failures: labelled!(IntGaugeVec, names::PROBE_FAILURES, "Probe failures in a row.", p),
            check_up: labelled!(
                IntGaugeVec,
                names::CHECK_UP,
                "1 when the dependency check's last attempt passed.",
                &["check", "type"]
            ),
            check_latency: labelled!(
                GaugeVec,
                names::CHECK_LATENCY,
                "Round trip of the dependency check's last successful attempt.",
                &["check", "type"]
            ),
            system_cpu: one!(
                Gauge,
                names::SYSTEM_CPU,
                "Host CPU usage averaged over the last system interval (0 to 1)."
            ),
            system_memory: one!(
                Gauge,
                names::SYSTEM_MEMORY,
                "Host memory in use (total - available) / total."
            ),
            system_memory_total: one!(IntGauge, names::SYSTEM_MEMORY_TOTAL, "Host memory."),
            system_disk: labelled!(
                GaugeVec,
                names::SYSTEM_DISK,
                "Used / total of each checked filesystem.",
                &["mount"]
            ),
            system_load1: one!(Gauge, names::SYSTEM_LOAD1, "Host load average over 1 minute."),
            tasks: one!(IntGauge, names::TASKS, "Tasks alive in warden's async runtime."),
        };
        let http_requests = labelled!(
            IntCounterVec,
            names::HTTP_REQUESTS,
            "HTTP requests served, by route and status.",
            &["method", "path", "status"]
        );
        let http_duration = HistogramVec::new(
            HistogramOpts::new(names::HTTP_DURATION, "Time to answer an HTTP request, by route.").buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "path"],
        )
        .expect("valid metric");
        reg(Box::new(http_duration.clone()));
        let events = labelled!(
            IntCounterVec,
            names::EVENTS,
            "Business events reported by programs through POST /api/v1/events.",
            &["kind", "program"]
        );
        let alerts_sent = labelled!(
            IntCounterVec,
            names::ALERTS_SENT,
            "Alert notifications delivered, by channel and severity.",
            &["channel", "severity"]
        );
        let alerts_failed = labelled!(
            IntCounterVec,
            names::ALERTS_FAILED,
            "Alert notifications that failed for good, by channel.",
            &["channel"]
        );
        let store_dropped = IntCounter::new(
            names::STORE_DROPPED,
            "Supervision events not written to the store (it was down, failing or too slow).",
        )
        .expect("valid metric");
        reg(Box::new(store_dropped.clone()));
        for channel in CHANNELS {
            alerts_failed.with_label_values(&[channel]);
            for severity in SEVERITIES {
                alerts_sent.with_label_values(&[channel, severity]);
            }
        }
        Metrics {
            registry,
            scrape: Mutex::new(Seen::default()),
            state,
            http_requests,
            http_duration,
            http_series: RwLock::default(),
            events,
            alerts_sent,
            alerts_failed,
            store_dropped,
        }
    }

    /// The text exposition of every metric, with state metrics set from `sources`.
    pub fn render(&self, sources: &Sources<'_>) -> String {
        let mut seen = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.state.fill(sources, &mut seen);
        let mut out = Vec::with_capacity(64 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of valid metrics");
        String::from_utf8(out).expect("the text format is UTF-8")
    }

    /// Counts one business event report.
    pub fn event(&self, kind: &str, program: &str, count: u64) {
        self.events.with_label_values(&[kind, program]).inc_by(count);
    }

    /// Counts one HTTP request.
    pub fn http(&self, method: &str, path: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let find = |all: &HashMap<String, Vec<HttpSeries>>| {
            all.get(path)?
                .iter()
                .find(|s| s.status == status && s.method == method)
                .map(|s| {
                    s.requests.inc();
                    s.duration.observe(seconds);
                })
        };
        if find(&self.http_series.read().unwrap_or_else(|e| e.into_inner())).is_some() {
            return;
        }
        let mut all = self.http_series.write().unwrap_or_else(|e| e.into_inner());
        if find(&all).is_some() {
            return; // resolved by another request meanwhile
        }
        let series = HttpSeries {
            method: method.to_string(),
            status,
            requests: self
                .http_requests
                .with_label_values(&[method, path, &status.to_string()]),
            duration: self.http_duration.with_label_values(&[method, path]),
        };
        series.requests.inc();
        series.duration.observe(seconds);
        all.entry(path.to_string()).or_default().push(series);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

impl StateMetrics {
    fn fill(&self, s: &Sources<'_>, seen: &mut Seen) {
        let now = Seen::of(s);
        for gone in seen.programs.difference(&now.programs) {
            self.forget_program(gone);
        }
        for (check, kind) in seen.checks.difference(&now.checks) {
            let _ = self.check_up.remove_label_values(&[check, kind]);
            let _ = self.check_latency.remove_label_values(&[check, kind]);
        }
        for mount in seen.mounts.difference(&now.mounts) {
            let _ = self.system_disk.remove_label_values(&[mount]);
        }
        *seen = now;
        for p in &s.snapshot.programs {
            let name = [p.name.as_str()];
            self.program_up
                .with_label_values(&name)
                .set(flag(p.state == ProgramState::Running));
            for state in ProgramState::ALL {
                self.program_state
                    .with_label_values(&[p.name.as_str(), state.as_str()])
                    .set(flag(p.state == state));
            }
            self.program_healthy.with_label_values(&name).set(flag(p.healthy));
            set_counter(&self.program_restarts, &name, u64::from(p.restarts));
            match p.memory_bytes {
                Some(bytes) => self
                    .program_memory
                    .with_label_values(&name)
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX)),
                None => drop(self.program_memory.remove_label_values(&name)),
            }
            match p.cpu_percent {
                Some(cpu) => self.program_cpu.with_label_values(&name).set(cpu / 100.0),
                None => drop(self.program_cpu.remove_label_values(&name)),
            }
            match p.started_at {
                Some(started) => {
                    let up = s.now.duration_since(started).unwrap_or_default();
                    self.program_uptime.with_label_values(&name).set(up.as_secs_f64());
                }
                None => drop(self.program_uptime.remove_label_values(&name)),
            }
            if let Some(log) = &p.log {
                set_counter(&self.log_bytes, &name, log.written());
                set_counter(&self.log_lost, &name, log.lost());
            }
            match p.probe.as_ref() {
                Some(probe) => self
                    .probe_failures
                    .with_label_values(&name)
                    .set(i64::from(probe.consecutive_failures)),
                None => drop(self.probe_failures.remove_label_values(&name)),
            }
            match p.probe.as_ref().and_then(|probe| probe.last.as_ref()) {
                Some(last) => {
                    self.probe_success.with_label_values(&name).set(flag(last.ok));
                    self.probe_duration
                        .with_label_values(&name)
                        .set(last.duration.as_secs_f64());
                }
                None => {
                    let _ = self.probe_success.remove_label_values(&name);
                    let _ = self.probe_duration.remove_label_values(&name);
                }
            }
        }
        for c in s.checks {
            let labels = [c.name.as_str(), c.kind.as_str()];
            self.check_up.with_label_values(&labels).set(flag(c.up == Some(true)));
            match c.latency {
                Some(latency) => self.check_latency.with_label_values(&labels).set(latency.as_secs_f64()),
                None => drop(self.check_latency.remove_label_values(&labels)),
            }
        }
        if let Some(system) = s.system {
            if let Some(cpu) = &system.cpu {
                self.system_cpu.set(cpu.ratio);
            }
            self.system_memory.set(system.memory.ratio);
            self.system_memory_total
                .set(i64::try_from(system.memory.total).unwrap_or(i64::MAX));
            for disk in &system.disks {
                self.system_disk
                    .with_label_values(&[disk.mount.as_str()])
                    .set(disk.usage.ratio);
            }
            self.system_load1.set(system.load_average[0]);
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            self.tasks.set(handle.metrics().num_alive_tasks() as i64);
        }
    }

    /// Removes every series of a program that is gone.
    fn forget_program(&self, program: &str) {
        let name = [program];
        for vec in [&self.program_up, &self.program_healthy, &self.program_memory] {
            let _ = vec.remove_label_values(&name);
        }
        for vec in [&self.probe_success, &self.probe_failures] {
            let _ = vec.remove_label_values(&name);
        }
        for vec in [&self.program_cpu, &self.program_uptime, &self.probe_duration] {
            let _ = vec.remove_label_values(&name);
        }
        for vec in [&self.program_restarts, &self.log_bytes, &self.log_lost] {
            let _ = vec.remove_label_values(&name);
        }
        for state in ProgramState::ALL {
            let _ = self.program_state.remove_label_values(&[program, state.as_str()]);
        }
    }
}

/// A counter that mirrors a total kept elsewhere: raised to `total`. (A smaller total
/// only happens after a program was removed and re-added, and its series was removed
/// with it.)
fn set_counter(vec: &IntCounterVec, labels: &[&str; 1], total: u64) {
    let counter = vec.with_label_values(labels);
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

/// The label values one scrape set.
#[derive(Default)]
struct Seen {
    programs: HashSet<String>,
    checks: HashSet<(String, String)>,
    mounts: HashSet<String>,
}

impl Seen {
    fn of(s: &Sources<'_>) -> Seen {
        Seen {
            programs: s.snapshot.programs.iter().map(|p| p.name.clone()).collect(),
            checks: s
                .checks
                .iter()
                .map(|c| (c.name.clone(), c.kind.as_str().to_string()))
                .collect(),
            mounts: s
                .system
                .map(|r| r.disks.iter().map(|d| d.mount.clone()).collect())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_requests_are_counted_per_method_path_and_status() {
        let m = Metrics::new();
        let ms = Duration::from_millis(1);
        m.http("GET", "/live", 200, ms);
        m.http("GET", "/live", 200, ms);
        m.http("GET", "/live", 503, ms);
        m.http("POST", "/live", 405, ms);
        m.http("GET", "/status", 200, ms);
        let count = |method, path, status| m.http_requests.with_label_values(&[method, path, status]).get();
        assert_eq!(count("GET", "/live", "200"), 2);
        assert_eq!(count("GET", "/live", "503"), 1);
        assert_eq!(count("POST", "/live", "405"), 1);
        assert_eq!(count("GET", "/status", "200"), 1);
        let observed = |method, path| m.http_duration.with_label_values(&[method, path]).get_sample_count();
        assert_eq!(observed("GET", "/live"), 3);
        assert_eq!(observed("POST", "/live"), 1);
    }
}
