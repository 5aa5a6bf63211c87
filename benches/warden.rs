//! The benchmark of `warden`: `cargo bench --bench warden [FILTER]`.
//!
//! Every scenario starts the real `warden` binary in a temp directory with a generated
//! configuration and observes it from outside, the way an operator would: its `/proc`
//! entries, its HTTP surface, its log files and exit code. The programs it supervises
//! are this very executable, re-executed with `WARDEN_BENCH_ROLE=...` (checked first
//! thing in `main`), so that a program's startup is a tiny Rust binary rather than a
//! shell or an interpreter.
//!
//! Results are printed as a table (measured value, target, PASS/MISS) and written as
//! JSON to `target/bench-results.json`. A FILTER runs only the scenarios whose name
//! contains it. What each number means: docs/performance.md.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

const WARDEN_BIN: &str = env!("CARGO_BIN_EXE_warden");

/// Environment of the test programs (warden clears everything else).
const ROLE: &str = "WARDEN_BENCH_ROLE";
const STAMP: &str = "WARDEN_BENCH_STAMP";
const RUN: &str = "WARDEN_BENCH_RUN";
const GO: &str = "WARDEN_BENCH_GO";
const LINES: &str = "WARDEN_BENCH_LINES";

/// A test program never outlives this, even when the bench itself is killed.
const PROGRAM_TTL: Duration = Duration::from_secs(900);

/// Log throughput: lines of exactly 100 bytes (99 + newline), written in chunks of
/// `BURST_CHUNK_LINES` lines.
const BURST_LINES: u64 = 2_000_000;
const LINE_LEN: usize = 100;
const BURST_CHUNK_LINES: usize = 10_000;
/// `2026-11-23T09:04:49.123456Z out ` before each line in the log file.
const RECORD_PREFIX: usize = 27 + 1 + 3 + 1;

/// Restart gap: stamps skipped at the start, then gaps measured.
const RESTART_WARMUP: usize = 50;
const RESTART_GAPS: usize = 2000;

type Res<T> = Result<T, String>;

fn main() -> ExitCode {
    if let Ok(role) = std::env::var(ROLE) {
        roles::run(&role);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench targets without `--bench`: nothing to test.
        println!("warden bench: run it with `cargo bench --bench warden [FILTER]`");
        return ExitCode::SUCCESS;
    }
    let filters: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    raise_nofile();
    let bench = match Bench::new() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("warden bench: cannot prepare: {e}");
            return ExitCode::FAILURE;
        }
    };
    let selected: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| matches(s.name, f)))
        .collect();
    if selected.is_empty() {
        eprintln!("warden bench: no scenario matches {filters:?}; scenarios:");
        for s in SCENARIOS {
            eprintln!("  {:<18} {}", s.name, s.about);
        }
        return ExitCode::FAILURE;
    }
    let mut machine = machine();
    machine["warden_binary"] = binary_identity(&bench.warden);
    eprintln!(
        "warden bench: {} scenario(s) on {}",
        selected.len(),
        machine_line(&machine)
    );
    let mut results = Vec::new();
    for s in selected {
        eprintln!("--- {}: {}", s.name, s.about);
        let load_before = loadavg();
        let started = Instant::now();
        let outcome = (s.run)(&bench);
        let secs = started.elapsed().as_secs_f64();
        let load_after = loadavg();
        match &outcome {
            Ok(o) => {
                for m in &o.metrics {
                    eprintln!("    {:<46} {}", m.name, m.value_text());
                }
            }
            Err(e) => eprintln!("    ERROR: {e}"),
        }
        results.push(Ran {
            name: s.name,
            about: s.about,
            outcome,
            secs,
            load_before,
            load_after,
        });
        // Let the machine settle (page cache writeback, exited processes) between runs.
        std::thread::sleep(Duration::from_millis(500));
    }
    if let Some(derived) = sampler_cost(&results) {
        results.push(derived);
    }
    print_table(&machine, &results);
    match write_json(&machine, &results) {
        Ok(path) => println!("\nresults written to {}", path.display()),
        Err(e) => eprintln!("warden bench: cannot write the JSON results: {e}"),
    }
    if results.iter().any(|r| r.outcome.is_err()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A filter equal to a scenario's name selects that one only; otherwise it selects
/// every scenario whose name contains it.
fn matches(name: &str, filter: &str) -> bool {
    if SCENARIOS.iter().any(|s| s.name == filter) {
        name == filter
    } else {
        name.contains(filter)
    }
}

struct Scenario {
    name: &'static str,
    about: &'static str,
    run: fn(&Bench) -> Res<Outcome>,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "restart-gap",
        about: "one program that exits at once, restarted with zero backoff (warden log at info)",
        run: |b| restart_gap(b, "info"),
    },
    Scenario {
        name: "restart-gap-quiet",
        about: "the same with WARDEN_LOG=error (what warden's own log costs)",
        run: |b| restart_gap(b, "error"),
    },
    Scenario {
        name: "fleet-1",
        about: "1 sleeping program: idle RSS",
        run: |b| fleet(b, &FLEET_1),
    },
    Scenario {
        name: "fleet-100",
        about: "100 sleeping programs: start, idle RSS, stop",
        run: |b| fleet(b, &FLEET_100),
    },
    Scenario {
        name: "fleet-500",
        about: "500 sleeping programs: start, idle RSS, idle CPU (default sample_interval 15s), stop",
        run: |b| fleet(b, &FLEET_500),
    },
    Scenario {
        name: "fleet-500-cpu-5s",
        about: "500 sleeping programs, idle CPU with sample_interval 5s",
        run: |b| fleet(b, &FLEET_500_5S),
    },
    Scenario {
        name: "fleet-500-cpu-60s",
        about: "500 sleeping programs, idle CPU with sample_interval 60s",
        run: |b| fleet(b, &FLEET_500_60S),
    },
    Scenario {
        name: "log-throughput",
        about: "one program writes 200 MB of numbered 100-byte lines",
        run: log_throughput,
    },
    Scenario {
        name: "baseline-restart",
        about: "floor for the restart gap: a minimal blocking loop (spawn, wait, spawn...) in the bench",
        run: baseline_restart,
    },
    Scenario {
        name: "baseline-start-500",
        about: "floor for the start time: the bench spawns 500 programs itself (pipes + a log file each)",
        run: baseline_start,
    },
    Scenario {
        name: "baseline-log-copy",
        about: "ceiling for log throughput: the bench copies the same 200 MB from the pipe to a file, no framing",
        run: baseline_log_copy,
    },
    Scenario {
        name: "http-500",
        about: "500 sleeping programs: GET /live throughput (keep-alive clients) and GET /metrics latency",
        run: http_500,
    },
    Scenario {
        name: "api-flood",
        about: "500 programs: GET /live latency alone, then while 6 keep-alive clients flood GET /status",
        run: api_flood,
    },
    Scenario {
        name: "fd-limit-1024",
        about: "500 programs with warden's RLIMIT_NOFILE soft limit at 1024 (a common default)",
        run: fd_limit,
    },
];

// ---- results -----------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Goal {
    Below(f64),
    AtMost(f64),
    AtLeast(f64),
    Equals(f64),
}

impl Goal {
    fn met(self, v: f64) -> bool {
        match self {
            Goal::Below(t) => v < t,
            Goal::AtMost(t) => v <= t,
            Goal::AtLeast(t) => v >= t,
            Goal::Equals(t) => v == t,
        }
    }

    fn text(self, unit: &str) -> String {
        let (op, t) = match self {
            Goal::Below(t) => ("<", t),
            Goal::AtMost(t) => ("<=", t),
            Goal::AtLeast(t) => (">=", t),
            Goal::Equals(t) => ("=", t),
        };
        format!("{op} {} {unit}", trim_float(t)).trim_end().to_string()
    }

    fn json(self) -> Value {
        let (op, t) = match self {
            Goal::Below(t) => ("<", t),
            Goal::AtMost(t) => ("<=", t),
            Goal::AtLeast(t) => (">=", t),
            Goal::Equals(t) => ("=", t),
        };
        json!({"op": op, "value": t})
    }
}

struct Metric {
    name: String,
    value: f64,
    unit: &'static str,
    goal: Option<Goal>,
}

impl Metric {
    fn value_text(&self) -> String {
        let digits = match self.unit {
            "" | "count" | "fds" | "programs" | "restarts" | "lines" | "bytes" => 0,
            "ms" | "%" | "GB/s" | "s" => 3,
            _ => 2,
        };
        let unit = if self.unit == "count" { "" } else { self.unit };
        format!("{:.*} {unit}", digits, self.value).trim_end().to_string()
    }

    fn verdict(&self) -> &'static str {
        match self.goal {
            Some(g) if g.met(self.value) => "PASS",
            Some(_) => "MISS",
            None => "",
        }
    }
}

#[derive(Default)]
struct Outcome {
    metrics: Vec<Metric>,
    notes: Vec<String>,
}

impl Outcome {
    fn metric(&mut self, name: impl Into<String>, value: f64, unit: &'static str, goal: Option<Goal>) {
        self.metrics.push(Metric {
            name: name.into(),
            value,
            unit,
            goal,
        });
    }

    fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("    note: {text}");
        self.notes.push(text);
    }
}

struct Ran {
    name: &'static str,
    about: &'static str,
    outcome: Res<Outcome>,
    secs: f64,
    load_before: String,
    load_after: String,
}

/// From the idle CPU at several sample intervals T (cpu = base + cost / T, least
/// squares): the CPU cost of one sample of 500 programs, and the CPU use without sampling.
fn sampler_cost(results: &[Ran]) -> Option<Ran> {
    const PREFIX: &str = "  same, process CPU clock (ns), sample ";
    let points: Vec<(f64, f64)> = results
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok())
        .flat_map(|o| o.metrics.iter())
        .filter_map(|m| {
            let interval = humantime::parse_duration(m.name.strip_prefix(PREFIX)?).ok()?;
            Some((1.0 / interval.as_secs_f64(), m.value / 100.0))
        })
        .collect();
    if points.len() < 2 {
        return None;
    }
    let k = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / k, sy / k);
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    if sxx == 0.0 {
        return None;
    }
    let cost = sxy / sxx;
    let base = my - cost * mx;
    let mut o = Outcome::default();
    o.metric("CPU per sample of 500 programs", cost * 1e3, "ms", None);
    o.metric("  idle CPU without sampling (intercept)", base * 100.0, "%", None);
    o.metric(
        "  sample_interval for 0.1 % at 500 programs",
        cost / (0.001 - base.max(0.0)),
        "s",
        None,
    );
    o.notes.push(format!(
        "fit of cpu = base + cost / interval over {} intervals",
        points.len()
    ));
    Some(Ran {
        name: "sampler-cost",
        about: "derived from the idle CPU of fleet-500 at 5s, 15s and 60s",
        outcome: Ok(o),
        secs: 0.0,
        load_before: String::new(),
        load_after: String::new(),
    })
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn print_table(machine: &Value, results: &[Ran]) {
    println!("\nwarden benchmark — {}\n", machine_line(machine));
    println!(
        "{:<18} {:<46} {:>14}  {:<12} result",
        "scenario", "metric", "measured", "target"
    );
    println!("{}", "-".repeat(100));
    for r in results {
        match &r.outcome {
            Ok(o) => {
                for (i, m) in o.metrics.iter().enumerate() {
                    let scenario = if i == 0 { r.name } else { "" };
                    let target = m
                        .goal
                        .map(|g| g.text(if m.unit == "count" { "" } else { m.unit }))
                        .unwrap_or_default();
                    println!(
                        "{scenario:<18} {:<46} {:>14}  {target:<12} {}",
                        m.name,
                        m.value_text(),
                        m.verdict()
                    );
                }
            }
            Err(e) => println!("{:<18} ERROR: {e}", r.name),
        }
    }
    let notes: Vec<(&str, &String)> = results
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok().map(|o| (r.name, o)))
        .flat_map(|(n, o)| o.notes.iter().map(move |t| (n, t)))
        .collect();
    if !notes.is_empty() {
        println!("\nnotes:");
        for (name, text) in notes {
            println!("  {name}: {text}");
        }
    }
}

fn results_path() -> PathBuf {
    // target/release/deps/warden-HASH: the target dir is the ancestor with CACHEDIR.TAG.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.ancestors().find(|d| d.join("CACHEDIR.TAG").is_file()) {
            return dir.join("bench-results.json");
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-results.json")
}

/// Writes the results, keeping the scenarios of an earlier run that were not re-run
/// (so a filtered run updates its own entries only).
fn write_json(machine: &Value, results: &[Ran]) -> io::Result<PathBuf> {
    let path = results_path();
    let mut scenarios = fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v.get("scenarios").cloned())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    for r in results {
        let entry = match &r.outcome {
            Ok(o) => json!({
                "about": r.about,
                "at": now,
                "seconds": r.secs,
                "loadavg_before": r.load_before,
                "loadavg_after": r.load_after,
                "metrics": o.metrics.iter().map(|m| json!({
                    "name": m.name,
                    "value": m.value,
                    "unit": m.unit,
                    "target": m.goal.map(Goal::json),
                    "result": m.verdict(),
                })).collect::<Vec<_>>(),
                "notes": o.notes,
            }),
            Err(e) => json!({"about": r.about, "at": now, "seconds": r.secs, "error": e}),
        };
        scenarios[r.name] = entry;
    }
    let doc = json!({"machine": machine, "written_at": now, "scenarios": scenarios});
    let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
    fs::write(&path, text + "\n")?;
    Ok(path)
}

// ---- the machine ---------------------------------------------------------------------

fn machine() -> Value {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let mem_kib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let (soft, hard) = nofile();
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "kernel": fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "cpu": cpu,
        "mem_gib": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "rlimit_nofile": [soft, hard],
        "clock_ticks_per_second": clk_tck(),
        "loadavg_at_start": loadavg(),
    })
}

/// Size, modification time and FNV-1a hash of the warden binary measured (the code
/// changes under this bench; this tells runs apart).
fn binary_identity(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_default();
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let modified = fs::metadata(WARDEN_BIN)
        .and_then(|m| m.modified())
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_default();
    json!({"path": WARDEN_BIN, "size": bytes.len(), "modified": modified, "fnv1a64": format!("{hash:016x}")})
}

fn machine_line(m: &Value) -> String {
    format!(
        "{} cores ({}), {} GiB, Linux {}, load {}",
        m["nproc"],
        m["cpu"].as_str().unwrap_or("?"),
        m["mem_gib"],
        m["kernel"].as_str().unwrap_or("?"),
        m["loadavg_at_start"].as_str().unwrap_or("?")
    )
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn nofile() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (lim.rlim_cur, lim.rlim_max)
}

/// 500 programs need about 1,500 descriptors in warden (two pipes and a log file each);
/// warden inherits this limit.
fn raise_nofile() {
    let (soft, hard) = nofile();
    if soft < hard {
        let lim = libc::rlimit {
            rlim_cur: hard,
            rlim_max: hard,
        };
        // SAFETY: setrlimit reads the struct we own.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
}

fn clk_tck() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as u64
    } else {
        100
    }
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

fn wall_ns(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

fn ms(ns: i128) -> f64 {
    ns as f64 / 1e6
}

// ---- the bench's own files and the warden it runs --------------------------------------

/// Private copies of both executables, so that a concurrent `cargo build` cannot swap a
/// binary in the middle of a run.
struct Bench {
    root: tempfile::TempDir,
    warden: PathBuf,
    program: PathBuf,
    runs: std::cell::Cell<u32>,
}

impl Bench {
    fn new() -> io::Result<Bench> {
        let root = tempfile::Builder::new().prefix("warden-bench-").tempdir()?;
        let warden = root.path().join("warden");
        let program = root.path().join("program");
        fs::copy(WARDEN_BIN, &warden)?;
        fs::copy(std::env::current_exe()?, &program)?;
        Ok(Bench {
            root,
            warden,
            program,
            runs: std::cell::Cell::new(0),
        })
    }

    /// A fresh directory for one warden run, and the marker its programs carry.
    fn run_dir(&self) -> Res<(tempfile::TempDir, String)> {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let dir = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(self.root.path())
            .map_err(|e| format!("temp dir: {e}"))?;
        Ok((dir, format!("{}-{n}", std::process::id())))
    }

    /// One `[[program]]` running this executable in `role`.
    fn program(&self, name: &str, role: &str, run: &str, env: &[(&str, String)], extra: &str) -> String {
        let mut vars = format!("{ROLE} = {}, {RUN} = {}", toml_str(role), toml_str(run));
        for (k, v) in env {
            let _ = write!(vars, ", {k} = {}", toml_str(v));
        }
        format!(
            "[[program]]\nname = {}\ncommand = {}\nenv = {{ {vars} }}\n{extra}\n",
            toml_str(name),
            toml_str(&self.program.display().to_string())
        )
    }
}

fn config(port: u16, supervisor: &str, logs: &str, programs: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[supervisor]\nshutdown_timeout = \"30s\"\n{supervisor}\n\n[logs]\ndir = \"./logs\"\n{logs}\n\n{programs}"
    )
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn free_port() -> Res<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| format!("free port: {e}"))
}

struct Launch<'a> {
    config: String,
    /// `WARDEN_LOG`.
    log: &'a str,
    /// A soft RLIMIT_NOFILE for warden (default: the bench's own, raised to the hard limit).
    nofile_soft: Option<u64>,
}

/// A running warden. Dropping it kills warden and every program of its run that is
/// still alive, so a failed scenario leaves nothing behind.
struct Warden {
    tmp: tempfile::TempDir,
    port: u16,
    pid: i32,
    run: String,
    spawned_at: Instant,
    spawned_wall: SystemTime,
    exit: Option<(i32, Instant)>,
}

impl Warden {
    fn launch(bench: &Bench, tmp: tempfile::TempDir, run: String, port: u16, launch: Launch) -> Res<Warden> {
        let dir = tmp.path();
        fs::write(dir.join("warden.toml"), &launch.config).map_err(|e| format!("writing the config: {e}"))?;
        let stderr = File::create(dir.join("warden.stderr")).map_err(|e| format!("warden.stderr: {e}"))?;
        let mut cmd = Command::new(&bench.warden);
        cmd.args(["run", "-c", "warden.toml"])
            .current_dir(dir)
            .env("WARDEN_LOG", launch.log)
            .env("WARDEN_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        if let Some(soft) = launch.nofile_soft {
            // SAFETY: only setrlimit (async-signal-safe) runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let mut lim = libc::rlimit {
                        rlim_cur: 0,
                        rlim_max: 0,
                    };
                    libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
                    lim.rlim_cur = soft.min(lim.rlim_max);
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let spawned_wall = SystemTime::now();
        let spawned_at = Instant::now();
        let child = cmd.spawn().map_err(|e| format!("cannot start warden: {e}"))?;
        let pid = child.id() as i32;
        // A std Child neither kills nor waits when dropped: `Warden` reaps it itself.
        drop(child);
        Ok(Warden {
            tmp,
            port,
            pid,
            run,
            spawned_at,
            spawned_wall,
            exit: None,
        })
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn stderr_tail(&self) -> String {
        let text = fs::read_to_string(self.dir().join("warden.stderr")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    /// Err when warden has exited (with the end of its log).
    fn check_alive(&mut self) -> Res<()> {
        if self.exit.is_none() {
            let mut status = 0;
            // SAFETY: waitpid on our own child, writing into a local.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.exit = Some((status, Instant::now()));
            }
        }
        match self.exit {
            None => Ok(()),
            Some((status, _)) => Err(format!(
                "warden exited early ({}):\n{}",
                status_text(status),
                self.stderr_tail()
            )),
        }
    }

    fn signal(&self, sig: i32) {
        if self.exit.is_none() {
            // SAFETY: kill with a valid signal on our own child (not yet reaped).
            unsafe { libc::kill(self.pid, sig) };
        }
    }

    /// Waits for warden to exit; after `timeout` it is killed and this is an error.
    /// Returns the raw wait status and when the exit was seen.
    fn wait_exit(&mut self, timeout: Duration) -> Res<(i32, Instant)> {
        if let Some(e) = self.exit {
            return Ok(e);
        }
        let pid = self.pid;
        let (tx, rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let mut status = 0;
            loop {
                // SAFETY: waitpid on our own child, writing into a local.
                let r = unsafe { libc::waitpid(pid, &mut status, 0) };
                if r == pid || (r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted) {
                    break;
                }
            }
            let _ = tx.send((status, Instant::now()));
        });
        let result = match rx.recv_timeout(timeout) {
            Ok(e) => Ok(e),
            Err(_) => {
                // SAFETY: kill on our own child, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                Err(format!(
                    "warden did not exit within {timeout:?} (killed):\n{}",
                    self.stderr_tail()
                ))
            }
        };
        let seen = match &result {
            Ok(e) => *e,
            Err(_) => rx.recv().unwrap_or((0, Instant::now())),
        };
        let _ = waiter.join();
        self.exit = Some(seen);
        result
    }

    /// HTTP GET on warden's listener: (status code, body).
    fn get(&self, path: &str, timeout: Duration) -> io::Result<(u16, String)> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
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

    /// Polls `/live` every `every` until it answers 200; returns the time since spawn.
    fn wait_live(&mut self, timeout: Duration, every: Duration) -> Res<Duration> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            if let Ok((200, _)) = self.get("/live", Duration::from_secs(5)) {
                return Ok(self.spawned_at.elapsed());
            }
            if Instant::now() > deadline {
                return Err(format!("warden did not answer /live within {timeout:?}"));
            }
            std::thread::sleep(every);
        }
    }

    fn status(&self) -> Res<Value> {
        let (code, body) = self
            .get("/status", Duration::from_secs(10))
            .map_err(|e| format!("GET /status: {e}"))?;
        if code != 200 {
            return Err(format!("GET /status answered {code}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("/status is not JSON: {e}"))
    }

    /// Waits until `path` holds at least `n` complete stamp lines.
    fn wait_stamps(&mut self, path: &Path, n: usize, timeout: Duration, every: Duration) -> Res<Vec<Stamp>> {
        let deadline = Instant::now() + timeout;
        loop {
            let stamps = read_stamps(path);
            if stamps.len() >= n {
                return Ok(stamps);
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                return Err(format!("only {} of {n} program stamps after {timeout:?}", stamps.len()));
            }
            std::thread::sleep(every);
        }
    }

    fn proc_status(&self) -> Res<ProcStatus> {
        proc_status(self.pid).ok_or_else(|| format!("cannot read /proc/{}/status", self.pid))
    }

    fn cpu(&self) -> Res<Cpu> {
        let ticks = cpu_ticks(self.pid).ok_or_else(|| format!("cannot read /proc/{}/stat", self.pid))?;
        Ok(Cpu {
            ticks,
            ns: cpu_ns(self.pid),
            at: Instant::now(),
        })
    }

    fn fds(&self) -> usize {
        fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Warden {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.signal(libc::SIGKILL);
            let _ = self.wait_exit(Duration::from_secs(10));
        }
        let left = run_processes(&self.run);
        for pid in &left {
            // SAFETY: kill by pid, on a process carrying this run's marker.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
    }
}

fn status_text(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit code {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("wait status {status:#x}")
    }
}

/// Living (not zombie) processes whose environment carries `WARDEN_BENCH_RUN=run`.
fn run_processes(run: &str) -> Vec<i32> {
    let needle = format!("{RUN}={run}");
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else { return out };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) && !is_zombie(pid) {
            out.push(pid);
        }
    }
    out
}

fn is_zombie(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => matches!(
            stat.rsplit(')').next().and_then(|s| s.split_whitespace().next()),
            Some("Z" | "X")
        ),
        Err(_) => true,
    }
}

struct ProcStatus {
    rss_kib: u64,
    /// Private memory (heap, stacks): what warden itself allocates.
    anon_kib: u64,
    /// Pages of the binary and libraries in memory (shared page cache).
    file_kib: u64,
    hwm_kib: u64,
    threads: u64,
}

fn proc_status(pid: i32) -> Option<ProcStatus> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some(ProcStatus {
        rss_kib: field("VmRSS:")?,
        anon_kib: field("RssAnon:")?,
        file_kib: field("RssFile:")?,
        hwm_kib: field("VmHWM:")?,
        threads: field("Threads:")?,
    })
}

/// utime + stime of the whole process, in clock ticks.
fn cpu_ticks(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The process's CPU clock (all threads, ns resolution), when the kernel lets us read it.
fn cpu_ns(pid: i32) -> Option<u64> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: both calls write into locals we own.
    unsafe {
        if libc::clock_getcpuclockid(pid, &mut clock) != 0 {
            return None;
        }
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        if libc::clock_gettime(clock, &mut ts) != 0 {
            return None;
        }
        Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }
}

#[derive(Clone, Copy)]
struct Cpu {
    ticks: u64,
    ns: Option<u64>,
    at: Instant,
}

/// CPU use between two readings as % of one core: (from ticks, from the ns clock).
fn cpu_percent(a: Cpu, b: Cpu) -> (f64, Option<f64>) {
    let wall = b.at.duration_since(a.at).as_secs_f64();
    let ticks = (b.ticks - a.ticks) as f64 / clk_tck() as f64 / wall * 100.0;
    let precise = match (a.ns, b.ns) {
        (Some(x), Some(y)) => Some((y - x) as f64 / 1e9 / wall * 100.0),
        _ => None,
    };
    (ticks, precise)
}

/// A line a program wrote when it started: `NAME PID NANOS`.
#[derive(Clone, Debug)]
struct Stamp {
    name: String,
    pid: u32,
    ns: i128,
}

fn read_stamps(path: &Path) -> Vec<Stamp> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    // Only complete lines: the last one may be in the middle of being written.
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .filter_map(|l| {
            let mut it = l.split(' ');
            Some(Stamp {
                name: it.next()?.to_string(),
                pid: it.next()?.parse().ok()?,
                ns: it.next()?.parse().ok()?,
            })
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

// ---- scenario 1: restart gap -----------------------------------------------------------

fn restart_gap(bench: &Bench, log: &str) -> Res<Outcome> {
    let mut out = Outcome::default();
    let (tmp, run) = bench.run_dir()?;
    let stamps_path = tmp.path().join("stamps");
    let port = free_port()?;
    let program = bench.program(
        "p-001",
        "stamp-exit",
        &run,
        &[(STAMP, stamps_path.display().to_string())],
        "restart = \"always\"\nstart_period = \"0s\"\nbackoff = { initial = \"0s\", max = \"0s\" }\nmax_restarts = 0",
    );
    let cfg = config(port, "", "", &program);
    let mut w = Warden::launch(
        bench,
        tmp,
        run,
        port,
        Launch {
            config: cfg,
            log,
            nofile_soft: None,
        },
    )?;
    let want = RESTART_WARMUP + RESTART_GAPS + 1;
    let stamps = w.wait_stamps(&stamps_path, want, Duration::from_secs(120), Duration::from_millis(50))?;
    w.signal(libc::SIGTERM);
    let exit = w.wait_exit(Duration::from_secs(20));
    let stamps = &stamps[RESTART_WARMUP..want];
    let gaps = sorted(stamps.windows(2).map(|p| ms(p[1].ns - p[0].ns)).collect());
    let span = ms(stamps[stamps.len() - 1].ns - stamps[0].ns) / 1e3;
    out.metric("gaps measured", gaps.len() as f64, "count", Some(Goal::AtLeast(1000.0)));
    out.metric(
        "gap p50 (exit -> next instance stamps)",
        percentile(&gaps, 50.0),
        "ms",
        Some(Goal::Below(2.0)),
    );
    out.metric("gap p95", percentile(&gaps, 95.0), "ms", None);
    out.metric("gap p99", percentile(&gaps, 99.0), "ms", None);
    out.metric("gap max", gaps[gaps.len() - 1], "ms", None);
    out.metric("restarts per second", gaps.len() as f64 / span, "/s", None);
    if log == "info" {
        match restart_parts(&w.dir().join("warden.stderr"), stamps) {
            Ok(parts) => {
                let [noticed, respawn, startup] = parts;
                out.metric(
                    "  stamp -> 'program exited' logged, p50",
                    percentile(&noticed, 50.0),
                    "ms",
                    None,
                );
                out.metric(
                    "  'exited' -> 'started' (inside warden), p50",
                    percentile(&respawn, 50.0),
                    "ms",
                    None,
                );
                out.metric(
                    "  'exited' -> 'started' (inside warden), p99",
                    percentile(&respawn, 99.0),
                    "ms",
                    None,
                );
                out.metric(
                    "  'started' -> new instance stamps, p50",
                    percentile(&startup, 50.0),
                    "ms",
                    None,
                );
            }
            Err(e) => out.note(format!("cannot split the gap with warden's log: {e}")),
        }
    }
    match exit {
        Ok((status, _)) if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 => {}
        Ok((status, _)) => out.note(format!("warden ended with {} after SIGTERM", status_text(status))),
        Err(e) => out.note(e),
    }
    Ok(out)
}

/// Splits each gap with warden's JSON log: (stamp → exit logged, exit logged → start
/// logged, start logged → next stamp), each sorted, in ms.
fn restart_parts(log: &Path, stamps: &[Stamp]) -> Res<[Vec<f64>; 3]> {
    let file = File::open(log).map_err(|e| e.to_string())?;
    let mut exited: HashMap<u32, i128> = HashMap::new();
    let mut started: HashMap<u32, i128> = HashMap::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let field = |k: &str| v.get(k).or_else(|| v.get("fields").and_then(|f| f.get(k)));
        let (Some(msg), Some(pid), Some(ts)) = (
            field("message").and_then(Value::as_str),
            field("pid").and_then(Value::as_u64),
            v.get("timestamp").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Ok(at) = humantime::parse_rfc3339(ts) else { continue };
        let map = match msg {
            "program exited" => &mut exited,
            "program started" => &mut started,
            _ => continue,
        };
        map.insert(pid as u32, wall_ns(at));
    }
    let mut parts = [Vec::new(), Vec::new(), Vec::new()];
    for pair in stamps.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if let (Some(&exit), Some(&start)) = (exited.get(&a.pid), started.get(&b.pid)) {
            parts[0].push(ms(exit - a.ns));
            parts[1].push(ms(start - exit));
            parts[2].push(ms(b.ns - start));
        }
    }
    if parts[0].len() < stamps.len() / 2 {
        return Err(format!(
            "only {} of {} gaps found in the log",
            parts[0].len(),
            stamps.len() - 1
        ));
    }
    Ok(parts.map(sorted))
}

// ---- baselines: the same work without warden ------------------------------------------

/// How the bench spawns a program itself.
#[derive(Clone, Copy, PartialEq)]
enum Spawner {
    /// As warden does: `std::process::Command` with `setsid()` in `pre_exec`, which makes
    /// std fork (copying the page tables) and exec.
    ForkSetsid,
    /// `process_group(0)` and no `pre_exec`: std uses `posix_spawn` (a vfork-style clone
    /// that shares the parent's memory until exec). A new process group, not a session.
    PosixSpawn,
}

/// The program spawned the way warden spawns it: cleared environment, stdin from
/// /dev/null, stdout and stderr to pipes.
fn bare_command(bench: &Bench, spawner: Spawner, role: &str, run: &str, stamps: &Path) -> Command {
    let mut cmd = Command::new(&bench.program);
    cmd.env_clear()
        .env(ROLE, role)
        .env(RUN, run)
        .env(STAMP, stamps)
        .env("WARDEN_PROGRAM", "bare")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match spawner {
        // SAFETY: setsid is async-signal-safe.
        Spawner::ForkSetsid => unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        },
        Spawner::PosixSpawn => {
            cmd.process_group(0);
        }
    }
    cmd
}

fn baseline_restart(bench: &Bench) -> Res<Outcome> {
    let mut out = Outcome::default();
    for (spawner, label) in [
        (Spawner::ForkSetsid, "fork+setsid"),
        (Spawner::PosixSpawn, "posix_spawn"),
    ] {
        let (tmp, run) = bench.run_dir()?;
        let stamps_path = tmp.path().join("stamps");
        let want = RESTART_WARMUP + RESTART_GAPS + 1;
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut spawn_ms = Vec::with_capacity(want);
        for _ in 0..want {
            if Instant::now() > deadline {
                return Err("the baseline loop took more than 120 s".into());
            }
            let t = Instant::now();
            let mut child = bare_command(bench, spawner, "stamp-exit", &run, &stamps_path)
                .spawn()
                .map_err(|e| format!("spawn: {e}"))?;
            spawn_ms.push(t.elapsed().as_secs_f64() * 1e3);
            child.wait().map_err(|e| format!("wait: {e}"))?;
        }
        let stamps = read_stamps(&stamps_path);
        if stamps.len() < want {
            return Err(format!("{} stamps for {want} runs", stamps.len()));
        }
        let stamps = &stamps[RESTART_WARMUP..want];
        let gaps = sorted(stamps.windows(2).map(|p| ms(p[1].ns - p[0].ns)).collect());
        let spawn_ms = sorted(spawn_ms);
        out.metric(format!("{label}: bare gap p50"), percentile(&gaps, 50.0), "ms", None);
        out.metric(format!("{label}: bare gap p99"), percentile(&gaps, 99.0), "ms", None);
        out.metric(
            format!("{label}: spawn() call p50"),
            percentile(&spawn_ms, 50.0),
            "ms",
            None,
        );
    }
    Ok(out)
}

fn baseline_start(bench: &Bench) -> Res<Outcome> {
    let mut out = Outcome::default();
    let n = 500;
    for (spawner, label) in [
        (Spawner::ForkSetsid, "fork+setsid"),
        (Spawner::PosixSpawn, "posix_spawn"),
    ] {
        let (tmp, run) = bench.run_dir()?;
        let stamps_path = tmp.path().join("stamps");
        let t0 = now_ns();
        let mut children = Vec::with_capacity(n);
        let mut logs = Vec::with_capacity(n);
        let mut spawn_ms = Vec::with_capacity(n);
        let result = (|| -> Res<()> {
            for i in 0..n {
                let log = tmp.path().join(format!("p-{i:03}.log"));
                logs.push(File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?);
                let t = Instant::now();
                let child = bare_command(bench, spawner, "stamp-sleep", &run, &stamps_path)
                    .spawn()
                    .map_err(|e| format!("spawn: {e}"))?;
                spawn_ms.push(t.elapsed().as_secs_f64() * 1e3);
                children.push(child);
            }
            Ok(())
        })();
        let stamps = if result.is_ok() {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let stamps = read_stamps(&stamps_path);
                if stamps.len() >= n || Instant::now() > deadline {
                    break stamps;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        } else {
            Vec::new()
        };
        for child in &mut children {
            let _ = child.kill();
            let _ = child.wait();
        }
        result?;
        if stamps.len() < n {
            return Err(format!("only {} of {n} stamps", stamps.len()));
        }
        let last = stamps.iter().map(|s| s.ns).max().unwrap_or(t0);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        out.metric(
            format!("{label}: first spawn -> last of {n} stamps"),
            ms(last - t0),
            "ms",
            None,
        );
        out.metric(
            format!("{label}: spawn() mean, programs 1-50"),
            mean(&spawn_ms[..50]),
            "ms",
            None,
        );
        out.metric(
            format!("{label}: spawn() mean, programs 451-500"),
            mean(&spawn_ms[n - 50..]),
            "ms",
            None,
        );
    }
    Ok(out)
}

fn baseline_log_copy(bench: &Bench) -> Res<Outcome> {
    use std::os::fd::AsRawFd as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let mut out = Outcome::default();
    let (tmp, run) = bench.run_dir()?;
    let stamp_path = tmp.path().join("burst.stamp");
    let go = tmp.path().join("go");
    File::create(&go).map_err(|e| format!("go file: {e}"))?;
    let mut child = Command::new(&bench.program)
        .env_clear()
        .env(ROLE, "burst")
        .env(RUN, &run)
        .env(STAMP, &stamp_path)
        .env(GO, &go)
        .env(LINES, BURST_LINES.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let pid = child.id() as i32;
    let finished = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let finished = finished.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !finished.load(Ordering::Relaxed) {
                if Instant::now() > deadline {
                    // SAFETY: kill on our own child, not yet reaped (we wait below).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let copied = (|| -> Res<(u64, i128)> {
        let mut pipe = child.stdout.take().ok_or("no stdout pipe")?;
        // As warden does once a pipe fills: 1 MiB of pipe, reads of up to 256 KiB.
        // SAFETY: fcntl on a pipe we own.
        unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        let mut file = File::create(tmp.path().join("copy.log")).map_err(|e| format!("copy.log: {e}"))?;
        let mut buf = vec![0u8; 256 << 10];
        let want = BURST_LINES * LINE_LEN as u64;
        let mut total = 0u64;
        while total < want {
            let n = pipe.read(&mut buf).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n]).map_err(|e| format!("write: {e}"))?;
            total += n as u64;
        }
        Ok((total, now_ns()))
    })();
    finished.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    let stamp = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = fs::read_to_string(&stamp_path).unwrap_or_default();
            let v: Vec<i128> = text.split_whitespace().filter_map(|s| s.parse().ok()).collect();
            if v.len() == 2 || Instant::now() > deadline {
                break v;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let (total, done) = copied?;
    if total != BURST_LINES * LINE_LEN as u64 || stamp.len() != 2 {
        return Err(format!("copied {total} bytes; program stamps {stamp:?}"));
    }
    let elapsed = ms(done - stamp[0]);
    out.metric("bare copy: first write -> all bytes in the file", elapsed, "ms", None);
    out.metric(
        "bare copy throughput",
        (total as f64) / (elapsed / 1e3) / 1e9,
        "GB/s",
        None,
    );
    Ok(out)
}

// ---- scenarios 2, 3, 4, 6: a fleet of sleeping programs --------------------------------

struct Fleet {
    programs: usize,
    /// `supervisor.sample_interval`; `None` leaves the default (15s).
    sample_interval: Option<&'static str>,
    /// Wait after the last program started before measuring memory (about two sample
    /// intervals, so the sampler has run and allocated what it keeps).
    settle: Duration,
    rss_target_mib: Option<f64>,
    measure_start: bool,
    cpu_window: Option<Duration>,
    cpu_target: bool,
    stop: bool,
    /// Runs of start (and stop) in all; the idle measurements are taken in the first.
    repeats: usize,
}

const FLEET_1: Fleet = Fleet {
    programs: 1,
    sample_interval: None,
    settle: Duration::from_secs(11),
    rss_target_mib: None,
    measure_start: false,
    cpu_window: None,
    cpu_target: false,
    repeats: 1,
    stop: false,
};

const FLEET_100: Fleet = Fleet {
    programs: 100,
    sample_interval: None,
    settle: Duration::from_secs(11),
    rss_target_mib: Some(8.0),
    measure_start: true,
    cpu_window: None,
    cpu_target: false,
    repeats: 3,
    stop: true,
};

const FLEET_500: Fleet = Fleet {
    programs: 500,
    sample_interval: None,
    settle: Duration::from_secs(16),
    rss_target_mib: Some(15.0),
    measure_start: true,
    cpu_window: Some(Duration::from_secs(60)),
    cpu_target: true,
    repeats: 3,
    stop: true,
};

const FLEET_500_5S: Fleet = Fleet {
    programs: 500,
    sample_interval: Some("5s"),
    settle: Duration::from_secs(3),
    rss_target_mib: None,
    measure_start: false,
    cpu_window: Some(Duration::from_secs(30)),
    cpu_target: false,
    repeats: 1,
    stop: false,
};

const FLEET_500_60S: Fleet = Fleet {
    programs: 500,
    sample_interval: Some("60s"),
    settle: Duration::from_secs(3),
    rss_target_mib: None,
    measure_start: false,
    cpu_window: Some(Duration::from_secs(60)),
    cpu_target: false,
    repeats: 1,
    stop: false,
};

fn fleet_config(bench: &Bench, run: &str, stamps: &Path, n: usize, sample_interval: Option<&str>, port: u16) -> String {
    let programs: String = (1..=n)
        .map(|i| {
            bench.program(
                &format!("p-{i:03}"),
                "stamp-sleep",
                run,
                &[(STAMP, stamps.display().to_string())],
                "",
            )
        })
        .collect();
    let supervisor = sample_interval
        .map(|s| format!("sample_interval = {}", toml_str(s)))
        .unwrap_or_default();
    config(port, &supervisor, "", &programs)
}

/// What one start of a fleet took (ms from spawning warden).
struct Start {
    last: f64,
    first: f64,
    live: f64,
}

/// What one stop of a fleet took.
struct Stop {
    ms: f64,
    exit_code: f64,
    survivors: usize,
    alive_before: usize,
}

/// Starts warden with `n` sleeping programs and waits until each one has stamped.
fn launch_fleet(bench: &Bench, n: usize, sample_interval: Option<&str>, out: &mut Outcome) -> Res<(Warden, Start)> {
    let (tmp, run) = bench.run_dir()?;
    let stamps_path = tmp.path().join("stamps");
    let port = free_port()?;
    let config = fleet_config(bench, &run, &stamps_path, n, sample_interval, port);
    let mut w = Warden::launch(
        bench,
        tmp,
        run,
        port,
        Launch {
            config,
            log: "info",
            nofile_soft: None,
        },
    )?;
    // /live first (polled every 2 ms), then every program's stamp.
    let live = w.wait_live(Duration::from_secs(60), Duration::from_millis(2))?;
    let stamps = w.wait_stamps(&stamps_path, n, Duration::from_secs(60), Duration::from_millis(5))?;
    let spawned = wall_ns(w.spawned_wall);
    let last = stamps.iter().map(|s| s.ns).max().unwrap_or(spawned);
    let first = stamps.iter().map(|s| s.ns).min().unwrap_or(spawned);
    if stamps.len() != n {
        out.note(format!(
            "{} stamps for {n} programs: a program started more than once",
            stamps.len()
        ));
    }
    let start = Start {
        last: ms(last - spawned),
        first: ms(first - spawned),
        live: live.as_secs_f64() * 1e3,
    };
    Ok((w, start))
}

/// SIGTERM, and how long warden takes to exit; which program processes are left.
fn stop_fleet(w: &mut Warden) -> Res<Stop> {
    let alive_before = run_processes(&w.run).len();
    let t = Instant::now();
    w.signal(libc::SIGTERM);
    let (status, at) = w.wait_exit(Duration::from_secs(40))?;
    let survivors = run_processes(&w.run).len();
    let exit_code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as f64
    } else {
        -1.0
    };
    Ok(Stop {
        ms: at.duration_since(t).as_secs_f64() * 1e3,
        exit_code,
        survivors,
        alive_before,
    })
}

fn median(v: &[f64]) -> f64 {
    percentile(&sorted(v.to_vec()), 50.0)
}

fn list(v: &[f64]) -> String {
    v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ")
}

fn fleet(bench: &Bench, f: &Fleet) -> Res<Outcome> {
    let mut out = Outcome::default();
    let n = f.programs;
    let (mut w, start) = launch_fleet(bench, n, f.sample_interval, &mut out)?;
    let mut starts = vec![start];

    std::thread::sleep(f.settle);
    w.check_alive()?;
    let idle = w.proc_status()?;
    let fds = w.fds();
    if f.settle >= Duration::from_secs(10) {
        let goal = f.rss_target_mib.map(Goal::AtMost);
        out.metric(
            format!("idle RSS (VmRSS), {n} programs"),
            idle.rss_kib as f64 / 1024.0,
            "MiB",
            goal,
        );
        out.metric(
            "  of which private (RssAnon)",
            idle.anon_kib as f64 / 1024.0,
            "MiB",
            None,
        );
        out.metric(
            "  of which the binary's pages (RssFile)",
            idle.file_kib as f64 / 1024.0,
            "MiB",
            None,
        );
        out.metric("  peak RSS so far (VmHWM)", idle.hwm_kib as f64 / 1024.0, "MiB", None);
        out.metric("  warden threads", idle.threads as f64, "count", None);
        out.metric("  warden open fds", fds as f64, "fds", None);
    }

    if let Some(window) = f.cpu_window {
        let a = w.cpu()?;
        std::thread::sleep(window);
        let b = w.cpu()?;
        w.check_alive()?;
        let (ticks, precise) = cpu_percent(a, b);
        let interval = f.sample_interval.unwrap_or("15s");
        let goal = if f.cpu_target { Some(Goal::AtMost(0.1)) } else { None };
        out.metric(
            format!("idle CPU, {n} programs, sample {interval} (utime+stime)"),
            ticks,
            "%",
            goal,
        );
        if let Some(p) = precise {
            out.metric(
                format!("  same, process CPU clock (ns), sample {interval}"),
                p,
                "%",
                None,
            );
        }
        out.note(format!(
            "CPU window {:.1} s at sample_interval {interval}; ticks are 1/{} s",
            b.at.duration_since(a.at).as_secs_f64(),
            clk_tck()
        ));
    }

    // Every program should be up once, with no restart.
    let status = w.status()?;
    let after_status = w.proc_status()?;
    let programs = status["programs"].as_array().cloned().unwrap_or_default();
    let running = programs.iter().filter(|p| p["state"] == "running").count();
    let restarts: u64 = programs.iter().filter_map(|p| p["restarts"].as_u64()).sum();
    if running != n || restarts != 0 {
        out.note(format!("/status: {running} of {n} running, {restarts} restarts"));
    }
    if f.settle >= Duration::from_secs(10) {
        out.metric(
            "  RSS after one GET /status",
            after_status.rss_kib as f64 / 1024.0,
            "MiB",
            None,
        );
    }

    let mut stops = Vec::new();
    if f.stop {
        stops.push(stop_fleet(&mut w)?);
    }
    drop(w);
    // Start and stop again (without the idle part): single runs are noisy on 2 cores.
    for _ in 1..f.repeats {
        let (mut w, start) = launch_fleet(bench, n, f.sample_interval, &mut out)?;
        starts.push(start);
        if f.stop {
            stops.push(stop_fleet(&mut w)?);
        }
    }

    if f.measure_start {
        let last: Vec<f64> = starts.iter().map(|s| s.last).collect();
        let first: Vec<f64> = starts.iter().map(|s| s.first).collect();
        let live: Vec<f64> = starts.iter().map(|s| s.live).collect();
        let runs = starts.len();
        out.metric(
            format!("start: spawn warden -> last of {n} stamps"),
            median(&last),
            "ms",
            Some(Goal::Below(1000.0)),
        );
        out.metric("  spawn warden -> first stamp", median(&first), "ms", None);
        out.metric("  spawn warden -> /live answers 200", median(&live), "ms", None);
        out.note(format!(
            "start, median of {runs} runs; last stamp [{}] ms, /live [{}] ms",
            list(&last),
            list(&live)
        ));
    }
    if !stops.is_empty() {
        let took: Vec<f64> = stops.iter().map(|s| s.ms).collect();
        out.metric(
            format!("stop: SIGTERM -> warden exits, {n} programs"),
            median(&took),
            "ms",
            Some(Goal::Below(500.0)),
        );
        let worst_code = stops.iter().map(|s| s.exit_code).find(|c| *c != 0.0).unwrap_or(0.0);
        out.metric("  exit code (worst run)", worst_code, "count", Some(Goal::Equals(0.0)));
        let survivors = stops.iter().map(|s| s.survivors).max().unwrap_or(0);
        out.metric(
            "  program processes left (worst run)",
            survivors as f64,
            "count",
            Some(Goal::Equals(0.0)),
        );
        out.note(format!("stop, median of {} runs: [{}] ms", stops.len(), list(&took)));
        for s in stops.iter().filter(|s| s.alive_before != n) {
            out.note(format!(
                "{} program processes were alive before a stop (expected {n})",
                s.alive_before
            ));
        }
    }
    Ok(out)
}

// ---- scenario 5: log throughput --------------------------------------------------------

fn log_throughput(bench: &Bench) -> Res<Outcome> {
    let mut out = Outcome::default();
    let (tmp, run) = bench.run_dir()?;
    let dir = tmp.path().to_path_buf();
    let stamp_path = dir.join("burst.stamp");
    let go = dir.join("go");
    let port = free_port()?;
    let program = bench.program(
        "burst",
        "burst",
        &run,
        &[
            (STAMP, stamp_path.display().to_string()),
            (GO, go.display().to_string()),
            (LINES, BURST_LINES.to_string()),
        ],
        "restart = \"never\"\nstart_period = \"0s\"",
    );
    let cfg = config(port, "", "max_size = \"64MiB\"\nmax_files = 8", &program);
    let mut w = Warden::launch(
        bench,
        tmp,
        run,
        port,
        Launch {
            config: cfg,
            log: "info",
            nofile_soft: None,
        },
    )?;
    w.wait_live(Duration::from_secs(30), Duration::from_millis(5))?;
    let log = dir.join("logs").join("burst.log");
    // The program is up (waiting for `go`) once warden noted its start in the log.
    let deadline = Instant::now() + Duration::from_secs(30);
    while fs::metadata(&log).map(|m| m.len()).unwrap_or(0) == 0 {
        w.check_alive()?;
        if Instant::now() > deadline {
            return Err("the burst program did not start".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let before = w.proc_status()?;
    let cpu_before = w.cpu()?;
    File::create(&go).map_err(|e| format!("go file: {e}"))?;

    // Done when the current file ends with the last line (warden writes one pipe in
    // order, so everything before it has been written too). Polled every ~1 ms.
    let last_line = expected_line(BURST_LINES - 1);
    let deadline = Instant::now() + Duration::from_secs(120);
    let done_ns = loop {
        if ends_with(&log, &last_line) {
            break now_ns();
        }
        w.check_alive()?;
        if Instant::now() > deadline {
            let total = log_files(&dir.join("logs"), "burst")
                .iter()
                .map(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
                .sum::<u64>();
            let want = BURST_LINES * (RECORD_PREFIX + LINE_LEN) as u64;
            return Err(format!(
                "the log files did not get the last line within 120 s ({total} of {want}+ bytes)"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let after = w.proc_status()?;
    let cpu_after = w.cpu()?;
    let (t0, t1) = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = fs::read_to_string(&stamp_path).unwrap_or_default();
            let v: Vec<i128> = text.split_whitespace().filter_map(|s| s.parse().ok()).collect();
            if v.len() == 2 {
                break (v[0], v[1]);
            }
            if Instant::now() > deadline {
                return Err("the burst program did not record its timestamps".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let payload = BURST_LINES as f64 * LINE_LEN as f64;
    let elapsed = ms(done_ns - t0);
    out.metric("first write -> every line in the log files", elapsed, "ms", None);
    out.metric(
        "throughput (200 MB of program output)",
        payload / (elapsed / 1e3) / 1e9,
        "GB/s",
        Some(Goal::AtLeast(1.0)),
    );
    out.metric(
        "  program's own write time (blocked on the pipe)",
        ms(t1 - t0),
        "ms",
        None,
    );
    let cpu = cpu_after.ticks.saturating_sub(cpu_before.ticks) as f64 / clk_tck() as f64;
    let cpu = match (cpu_before.ns, cpu_after.ns) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e9,
        _ => cpu,
    };
    out.metric("  warden CPU time during the burst", cpu * 1e3, "ms", None);
    out.metric(
        "  warden VmHWM before the burst",
        before.hwm_kib as f64 / 1024.0,
        "MiB",
        None,
    );
    out.metric(
        "  warden peak RSS (VmHWM) after",
        after.hwm_kib as f64 / 1024.0,
        "MiB",
        Some(Goal::AtMost(64.0)),
    );
    out.note("RSS bound: the target is 'bounded'; 64 MiB is this bench's own bar (1/4 of the data would be 50 MB)");

    w.signal(libc::SIGTERM);
    let exit = w.wait_exit(Duration::from_secs(30));
    let check = verify_burst(&dir.join("logs"))?;
    out.metric(
        "lines lost or out of order",
        check.bad as f64,
        "count",
        Some(Goal::Equals(0.0)),
    );
    out.metric("  lines found", check.lines as f64, "lines", None);
    out.metric("  log files (NAME.log + rotated)", check.files as f64, "count", None);
    if check.warden_notes > 0 || check.other > 0 {
        out.note(format!(
            "{} warden notes, {} other records in the log",
            check.warden_notes, check.other
        ));
    }
    if let Some(first_bad) = check.first_bad {
        out.note(format!("first bad record: {first_bad}"));
    }
    if let Err(e) = exit {
        out.note(e);
    }
    Ok(out)
}

/// The text of line `n` of the burst, without its newline: `%010d`, a space, 88 x.
fn expected_line(n: u64) -> Vec<u8> {
    let mut line = vec![b'x'; LINE_LEN - 1];
    put_number(&mut line[..10], n);
    line[10] = b' ';
    line
}

fn put_number(dst: &mut [u8], mut n: u64) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Whether the file at `path` ends with `text` and a newline.
fn ends_with(path: &Path, text: &[u8]) -> bool {
    let Ok(file) = File::open(path) else { return false };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    let want = text.len() as u64 + 1;
    if len < want {
        return false;
    }
    let mut buf = vec![0u8; want as usize];
    if file.read_exact_at(&mut buf, len - want).is_err() {
        return false;
    }
    buf[..text.len()] == *text && buf[text.len()] == b'\n'
}

/// NAME.log.K (oldest first) ... NAME.log.1, NAME.log.
fn log_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut rotated: Vec<(u32, PathBuf)> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let file = e.file_name().into_string().ok()?;
                    let k = file.strip_prefix(&format!("{name}.log."))?.parse().ok()?;
                    Some((k, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    files.push(dir.join(format!("{name}.log")));
    files
}

#[derive(Default)]
struct BurstCheck {
    files: usize,
    lines: u64,
    bad: u64,
    warden_notes: u64,
    other: u64,
    first_bad: Option<String>,
}

/// Reads every log file in order and checks that the `out` records are exactly lines
/// 0..BURST_LINES of the burst, each once, in order, unchanged.
fn verify_burst(logs: &Path) -> Res<BurstCheck> {
    let mut check = BurstCheck::default();
    let mut next = 0u64;
    for path in log_files(logs, "burst") {
        let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        check.files += 1;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut rec = Vec::with_capacity(256);
        loop {
            rec.clear();
            let n = reader
                .read_until(b'\n', &mut rec)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            let body = rec.strip_suffix(b"\n").unwrap_or(&rec);
            let tag_end = body
                .get(28..)
                .and_then(|r| r.iter().position(|b| *b == b' '))
                .map(|i| 28 + i);
            let (tag, text) = match tag_end {
                Some(i) => (&body[28..i], &body[i + 1..]),
                None => (&b""[..], body),
            };
            match tag {
                b"out" => {}
                b"warden" => {
                    check.warden_notes += 1;
                    continue;
                }
                _ => {
                    check.other += 1;
                    check.bad += 1;
                    check
                        .first_bad
                        .get_or_insert_with(|| String::from_utf8_lossy(body).into_owned());
                    continue;
                }
            }
            check.lines += 1;
            let ok = text.len() == LINE_LEN - 1 && text == expected_line(next).as_slice();
            if ok {
                next += 1;
            } else {
                check.bad += 1;
                check
                    .first_bad
                    .get_or_insert_with(|| format!("expected line {next}, found {:?}", String::from_utf8_lossy(body)));
                // Resynchronise on the number found, so one gap counts once.
                if let Some(found) = std::str::from_utf8(text.get(..10).unwrap_or(b""))
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    next = found + 1;
                }
            }
        }
    }
    // Lines missing at the end.
    check.bad += BURST_LINES.saturating_sub(next);
    if next < BURST_LINES && check.first_bad.is_none() {
        check.first_bad = Some(format!("the log ends after line {next}"));
    }
    Ok(check)
}

// ---- the fd limit ----------------------------------------------------------------------

fn fd_limit(bench: &Bench) -> Res<Outcome> {
    let mut out = Outcome::default();
    let n = 500;
    let (tmp, run) = bench.run_dir()?;
    let stamps_path = tmp.path().join("stamps");
    let port = free_port()?;
    let cfg = fleet_config(bench, &run, &stamps_path, n, None, port);
    let mut w = Warden::launch(
        bench,
        tmp,
        run,
        port,
        Launch {
            config: cfg,
            log: "info",
            nofile_soft: Some(1024),
        },
    )?;
    let live = w.wait_live(Duration::from_secs(60), Duration::from_millis(5));
    // Give every program the time to start (or fail to).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stamps = read_stamps(&stamps_path);
    while stamps.len() < n && Instant::now() < deadline && w.check_alive().is_ok() {
        std::thread::sleep(Duration::from_millis(100));
        stamps = read_stamps(&stamps_path);
    }
    let alive = w.check_alive();
    let distinct = stamps
        .iter()
        .map(|s| s.name.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    out.metric(
        "programs started (RLIMIT_NOFILE soft 1024)",
        distinct as f64,
        "programs",
        Some(Goal::Equals(n as f64)),
    );
    out.metric("  warden open fds", w.fds() as f64, "fds", None);
    match (&live, &alive) {
        (Ok(_), Ok(())) => {
            let status = w.status();
            if let Err(e) = &status {
                out.note(format!("GET /status failed: {e}"));
            }
            if let Ok(status) = status {
                let mut states: HashMap<String, usize> = HashMap::new();
                for p in status["programs"].as_array().into_iter().flatten() {
                    *states
                        .entry(p["state"].as_str().unwrap_or("?").to_string())
                        .or_default() += 1;
                }
                let mut states: Vec<_> = states.into_iter().collect();
                states.sort();
                out.note(format!("/status states: {states:?}"));
            }
        }
        (Err(e), _) | (_, Err(e)) => out.note(format!("warden not usable: {}", e.lines().next().unwrap_or(""))),
    }
    let stderr = fs::read_to_string(w.dir().join("warden.stderr")).unwrap_or_default();
    let emfile = stderr
        .lines()
        .filter(|l| l.contains("Too many open files") || l.contains("os error 24"))
        .count();
    out.metric("  warden log lines with EMFILE", emfile as f64, "count", None);
    if let Some(line) = stderr
        .lines()
        .find(|l| l.contains("Too many open files") || l.contains("os error 24"))
    {
        out.note(format!(
            "first EMFILE line: {}",
            line.chars().take(300).collect::<String>()
        ));
    }
    w.signal(libc::SIGTERM);
    let _ = w.wait_exit(Duration::from_secs(40));
    Ok(out)
}

// ---- the test programs ---------------------------------------------------------------

mod roles {
    use std::fs::OpenOptions;
    use std::io::Write as _;
    use std::mem::ManuallyDrop;
    use std::os::fd::FromRawFd as _;
    use std::path::Path;
    use std::time::{Duration, Instant};

    use super::{now_ns, put_number, BURST_CHUNK_LINES, GO, LINES, LINE_LEN, PROGRAM_TTL, STAMP};

    pub fn run(role: &str) -> ! {
        match role {
            // Stamp, then fail at once: warden restarts it.
            "stamp-exit" => {
                stamp();
                std::process::exit(1)
            }
            // Stamp, then sleep (until SIGTERM; at most PROGRAM_TTL).
            "stamp-sleep" => {
                stamp();
                sleep_out()
            }
            "burst" => burst(),
            other => {
                eprintln!("unknown {} {other}", super::ROLE);
                std::process::exit(2)
            }
        }
    }

    fn var(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| {
            eprintln!("{name} is not set");
            std::process::exit(2)
        })
    }

    fn append(path: &str, text: &str) {
        // One write with O_APPEND: lines of concurrent programs never mix.
        let file = OpenOptions::new().create(true).append(true).open(path);
        if let Err(e) = file.and_then(|mut f| f.write_all(text.as_bytes())) {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(2)
        }
    }

    /// `NAME PID NANOS` (CLOCK_REALTIME) appended to `$WARDEN_BENCH_STAMP`.
    fn stamp() {
        let at = now_ns();
        let name = std::env::var("WARDEN_PROGRAM").unwrap_or_else(|_| "-".into());
        append(&var(STAMP), &format!("{name} {} {at}\n", std::process::id()));
    }

    fn sleep_out() -> ! {
        std::thread::sleep(PROGRAM_TTL);
        std::process::exit(0)
    }

    /// Waits for the file `$WARDEN_BENCH_GO`, writes `$WARDEN_BENCH_LINES` numbered lines
    /// of 100 bytes to stdout in 1 MB writes, appends `START END` (ns) to
    /// `$WARDEN_BENCH_STAMP`, then sleeps.
    fn burst() -> ! {
        let lines: u64 = var(LINES).parse().unwrap_or(0);
        let go = var(GO);
        let deadline = Instant::now() + PROGRAM_TTL;
        while !Path::new(&go).exists() {
            if Instant::now() > deadline {
                std::process::exit(0);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut buf = vec![b'x'; BURST_CHUNK_LINES * LINE_LEN];
        for line in buf.chunks_mut(LINE_LEN) {
            line[10] = b' ';
            line[LINE_LEN - 1] = b'\n';
        }
        // SAFETY: fd 1 is open for the life of the process; ManuallyDrop never closes it.
        let mut stdout = ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
        let start = now_ns();
        let mut n = 0u64;
        while n < lines {
            let k = (lines - n).min(BURST_CHUNK_LINES as u64) as usize;
            for (i, line) in buf.chunks_mut(LINE_LEN).take(k).enumerate() {
                put_number(&mut line[..10], n + i as u64);
            }
            if stdout.write_all(&buf[..k * LINE_LEN]).is_err() {
                std::process::exit(3);
            }
            n += k as u64;
        }
        let end = now_ns();
        append(&var(STAMP), &format!("{start} {end}\n"));
        sleep_out()
    }
}

// ---- HTTP: /live throughput, /metrics latency ----------------------------------------

/// Keep-alive clients hammering `GET /live` for this long.
const LIVE_WINDOW: Duration = Duration::from_secs(5);
const LIVE_CLIENTS: usize = 8;
/// Sequential `GET /metrics` requests timed.
const METRICS_REQUESTS: usize = 300;

fn http_500(bench: &Bench) -> Res<Outcome> {
    let mut out = Outcome::default();
    let (mut w, _) = launch_fleet(bench, 500, None, &mut out)?;
    // Let the first usage sample land so /metrics carries every series.
    std::thread::sleep(Duration::from_secs(2));
    let port = w.port;
    let cpu_before = cpu_ns(w.pid);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    let clients: Vec<_> = (0..LIVE_CLIENTS)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || -> Res<(u64, u64)> {
                let mut conn = KeepAlive::connect(port)?;
                let (mut ok, mut other) = (0u64, 0u64);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match conn.get("/live")? {
                        (200, _) => ok += 1,
                        _ => other += 1,
                    }
                }
                Ok((ok, other))
            })
        })
        .collect();
    std::thread::sleep(LIVE_WINDOW);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut ok = 0;
    let mut other = 0;
    for c in clients {
        let (o, x) = c.join().map_err(|_| "a /live client panicked".to_string())??;
        ok += o;
        other += x;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = match (cpu_before, cpu_ns(w.pid)) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e9 / secs * 100.0,
        _ => f64::NAN,
    };
    out.metric(
        "GET /live per second, 500 programs",
        ok as f64 / secs,
        "req/s",
        Some(Goal::AtLeast(50_000.0)),
    );
    out.metric(
        "  answers other than 200",
        other as f64,
        "count",
        Some(Goal::Equals(0.0)),
    );
    out.metric("  warden CPU during the flood (of one core)", cpu, "%", None);
    out.note(format!(
        "{LIVE_CLIENTS} keep-alive clients on this machine for {:.1} s (the clients share its 2 cores with warden)",
        secs
    ));

    let mut conn = KeepAlive::connect(port)?;
    let mut times = Vec::with_capacity(METRICS_REQUESTS);
    let mut size = 0;
    for _ in 0..METRICS_REQUESTS {
        let t = Instant::now();
        let (code, body) = conn.get("/metrics")?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if code != 200 {
            return Err(format!("GET /metrics answered {code}"));
        }
        size = body.len();
    }
    let times = sorted(times);
    out.metric("GET /metrics p50, 500 programs", percentile(&times, 50.0), "ms", None);
    out.metric(
        "GET /metrics p99, 500 programs",
        percentile(&times, 99.0),
        "ms",
        Some(Goal::Below(20.0)),
    );
    out.metric("  /metrics size", size as f64, "bytes", None);
    let rss = proc_status(w.pid)
        .map(|s| s.rss_kib as f64 / 1024.0)
        .unwrap_or(f64::NAN);
    out.metric("  warden RSS after the HTTP load", rss, "MiB", None);
    stop_fleet(&mut w)?;
    Ok(out)
}

/// Clients flooding `/status` (500 programs: ~300 KB of JSON each) in `api-flood`.
const FLOOD_CLIENTS: usize = 6;
const FLOOD_WINDOW: Duration = Duration::from_secs(5);

/// `/live` latencies (ms, sorted) of sequential requests for `window`.
fn live_latencies(port: u16, window: Duration) -> Res<Vec<f64>> {
    let mut conn = KeepAlive::connect(port)?;
    let mut times = Vec::new();
    let started = Instant::now();
    while started.elapsed() < window {
        let t = Instant::now();
        let (code, _) = conn.get("/live")?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if code != 200 {
            return Err(format!("GET /live answered {code} under load"));
        }
    }
    Ok(sorted(times))
}

fn api_flood(bench: &Bench) -> Res<Outcome> {
    let mut out = Outcome::default();
    let (mut w, _) = launch_fleet(bench, 500, None, &mut out)?;
    std::thread::sleep(Duration::from_secs(2));
    let port = w.port;
    let quiet = live_latencies(port, Duration::from_secs(2))?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooders: Vec<_> = (0..FLOOD_CLIENTS)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || -> Res<u64> {
                let mut conn = KeepAlive::connect(port)?;
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    conn.get("/status")?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let loaded = live_latencies(port, FLOOD_WINDOW);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut floods = 0;
    for f in flooders {
        floods += f.join().map_err(|_| "a flooding client panicked".to_string())??;
    }
    let loaded = loaded?;
    out.metric("GET /live p50, quiet", percentile(&quiet, 50.0), "ms", None);
    out.metric("  p99, quiet", percentile(&quiet, 99.0), "ms", None);
    out.metric(
        "GET /live p50 under a /status flood",
        percentile(&loaded, 50.0),
        "ms",
        None,
    );
    out.metric(
        "GET /live p99 under a /status flood",
        percentile(&loaded, 99.0),
        "ms",
        Some(Goal::Below(50.0)),
    );
    out.metric(
        "  /status answers per second during the flood",
        floods as f64 / FLOOD_WINDOW.as_secs_f64(),
        "req/s",
        None,
    );
    out.note(format!(
        "{FLOOD_CLIENTS} keep-alive clients flood GET /status (loopback clients are not rate limited) on the same 2 cores"
    ));
    stop_fleet(&mut w)?;
    Ok(out)
}

/// One HTTP/1.1 keep-alive connection (answers with a Content-Length only).
struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
    request: Vec<u8>,
}

impl KeepAlive {
    fn connect(port: u16) -> Res<KeepAlive> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        Ok(KeepAlive {
            stream,
            buf: Vec::with_capacity(1 << 16),
            request: Vec::new(),
        })
    }

    fn get(&mut self, path: &str) -> Res<(u16, Vec<u8>)> {
        self.request.clear();
        let _ = write!(self.request, "GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
        self.stream
            .write_all(&self.request)
            .map_err(|e| format!("write: {e}"))?;
        self.buf.clear();
        let mut chunk = [0u8; 16384];
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or("an answer without Content-Length")?;
                while self.buf.len() < end + 4 + len {
                    let n = self.stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
                    if n == 0 {
                        return Err("connection closed mid-answer".into());
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return Ok((code, self.buf[end + 4..end + 4 + len].to_vec()));
            }
            let n = self.stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
