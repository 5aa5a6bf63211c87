//! Raw → validated: turns the text of a file into a [`Config`] or into *every* problem
//! it has, each with its line and column.
//!
//! The flow is: parse TOML (a syntax error stops here, as the one error) →
//! deserialize into `raw` types (a wrong shape stops here) → check each value, each
//! program, then the program graph, collecting errors instead of returning early.
//! While checking, a `Config` is still built with defaults in place of bad values, so
//! that one bad value does not hide the problems after it; it is thrown away if any
//! error was found.
//!
//! Secrets: the values of a program's `env` are never put in a message. Messages name
//! the key; the line and column say where the value is.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

#[path = "validate/alerts.rs"]
mod alerts;
#[path = "validate/job.rs"]
mod job;
#[path = "validate/server.rs"]
mod server;
#[path = "validate/store.rs"]
mod store;
pub use server::{MIN_TOKEN_LEN, TOKEN_ENV};

use super::interp::{self, is_env_name};
use super::raw::{self, RawConfig, RawDependency, RawProbe, RawProgram, Scalar, Segment};
use super::scale::{self, MAX_INSTANCES, MAX_NAME_LEN};
use super::units;
use super::{
    BackoffSpec, CheckKind, CheckSpec, Config, ConfigError, ConfigErrors, Dependency, DependencyCondition, Jitter,
    LogConfig, MetricsConfig, PortRange, PortSpec, ProbeAction, ProbeKind, ProbePort, ProbeSpec, ProgramSpec,
    RestartPolicy, Rotation, Secret, StatusRange, SupervisorConfig, SystemConfig, Thresholds,
};

/// The longest duration any key takes.
const MAX_DURATION: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

// Defaults, as documented in docs/configuration.md and config/warden.toml.
const DEFAULT_DATA_DIR: &str = "./data";
const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(15);
const MIN_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_LOG_DIR: &str = "./logs";
const DEFAULT_LOG_MAX_SIZE: u64 = 10 << 20;
const MIN_LOG_MAX_SIZE: u64 = 4 << 10;
const DEFAULT_LOG_MAX_FILES: u32 = 5;
const DEFAULT_TAIL_LINES: usize = 500;
const DEFAULT_MAX_LINE: usize = 16 << 10;
const MIN_MAX_LINE: u64 = 256;
const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);
const DEFAULT_BACKOFF_MULTIPLIER: f64 = 2.0;
const DEFAULT_BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10 * 60);
const DEFAULT_MAX_RESTARTS: u32 = 10;
const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(10 * 60);
const DEFAULT_START_PERIOD: Duration = Duration::from_secs(1);
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MEMORY_LIMIT_GRACE: Duration = Duration::from_secs(10);
const DEFAULT_PORTS: PortRange = PortRange {
    first: 9100,
    last: 9199,
};
const DEFAULT_SYSTEM_INTERVAL: Duration = Duration::from_secs(10);
const MIN_SYSTEM_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_CPU: Thresholds = Thresholds {
    warning: 0.85,
    critical: 0.95,
};
const DEFAULT_MEMORY: Thresholds = Thresholds {
    warning: 0.85,
    critical: 0.95,
};
const DEFAULT_DISK: Thresholds = Thresholds {
    warning: 0.80,
    critical: 0.90,
};
const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_PROBE_INITIAL_DELAY: Duration = Duration::ZERO;
const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
const DEFAULT_SUCCESS_THRESHOLD: u32 = 1;
const DEFAULT_PROBE_HOST: &str = "127.0.0.1";
const DEFAULT_MCP_PATH: &str = "/mcp";
const DEFAULT_HTTP_STATUS: StatusRange = StatusRange { first: 200, last: 399 };
/// Accepted by `POST /api/v1/events` unless `[metrics] event_kinds` says otherwise.
pub const DEFAULT_EVENT_KINDS: &[&str] = &[
    "email_processed",
    "message_sent",
    "response_generated",
    "task_completed",
    "task_failed",
];
const MAX_EVENT_KINDS: usize = 100;

const RESTART_POLICIES: &[(&str, RestartPolicy)] = &[
    ("always", RestartPolicy::Always),
    ("on-failure", RestartPolicy::OnFailure),
    ("never", RestartPolicy::Never),
];
const JITTERS: &[(&str, Jitter)] = &[
    ("none", Jitter::None),
    ("full", Jitter::Full),
    ("decorrelated", Jitter::Decorrelated),
];
const CHECK_KINDS: &[(&str, CheckKind)] = &[("postgres", CheckKind::Postgres), ("redis", CheckKind::Redis)];
const PROBE_ACTIONS: &[(&str, ProbeAction)] = &[
    ("restart", ProbeAction::Restart),
    ("alert", ProbeAction::Alert),
    ("none", ProbeAction::None),
];
const CONDITIONS: &[(&str, DependencyCondition)] = &[
    ("started", DependencyCondition::Started),
    ("running", DependencyCondition::Running),
    ("healthy", DependencyCondition::Healthy),
    ("completed_successfully", DependencyCondition::CompletedSuccessfully),
];

/// Validate `text` as the contents of `file`. See [`super::parse`].
pub fn parse(text: &str, file: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
    let lines = LineIndex::new(text);
    let root = DeTable::parse(text).map_err(|e| toml_error(file, &lines, e))?;
    let (raw, ignored) = raw::deserialize(root.clone()).map_err(|e| toml_error(file, &lines, e))?;

    let mut v = Validator {
        file,
        lines: &lines,
        root: root.get_ref(),
        env,
        errors: Vec::new(),
        local_zone: None,
    };
    for path in &ignored {
        v.unknown_key(&raw, path);
    }
    let config = v.config(&raw);
    if v.errors.is_empty() {
        Ok(config)
    } else {
        // Stable sort: two errors at one place keep the order they were found in.
        v.errors.sort_by_key(|(offset, _)| *offset);
        Err(ConfigErrors(v.errors.into_iter().map(|(_, e)| e).collect()))
    }
}

/// A syntax or shape error from `toml`: the one error of the file.
fn toml_error(file: &Path, lines: &LineIndex, error: toml::de::Error) -> ConfigErrors {
    let mut message = error.message().split_whitespace().collect::<Vec<_>>().join(" ");
    // serde's words for TOML's things.
    for (from, to) in [
        ("invalid type: map", "invalid type: table"),
        ("invalid type: sequence", "invalid type: array"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
    ] {
        message = message.replace(from, to);
    }
    // The dotted key the error is in is only reachable through `Display` (without the
    // input, `Display` prints the message, then "in `KEY`").
    let mut bare = error.clone();
    bare.set_input(None);
    if let Some(key) = bare.to_string().lines().find_map(|l| l.strip_prefix("in `")) {
        message = format!("{message} (in `{key})");
    }
    let (line, column) = match error.span() {
        Some(span) => lines.position(span.start),
        None => (0, 0),
    };
    ConfigErrors(vec![ConfigError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    }])
}

/// Byte offset → 1-based line and column (in characters).
pub(super) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let start = self.starts[line];
        let column = match self.text.get(start..offset) {
            Some(prefix) => prefix.chars().count(),
            None => offset - start,
        };
        (line + 1, column + 1)
    }
}

/// What a program contributes to the checks across programs.
struct ProgramFacts {
    /// The name as written (even if invalid), and where.
    name: Option<(String, Range<usize>)>,
    /// Each `depends_on` target as written, and where.
    deps: Vec<(String, Range<usize>)>,
    /// `instances = N`, and where.
    instances: Option<(u32, Range<usize>)>,
}

struct Validator<'a> {
    file: &'a Path,
    lines: &'a LineIndex<'a>,
    /// The parsed document, to find the places of keys (raw types keep only values' spans).
    root: &'a DeTable<'a>,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// (byte offset, error), sorted by offset at the end.
    errors: Vec<(usize, ConfigError)>,
    /// The machine's time zone, read at the first job without `timezone`.
    local_zone: Option<crate::schedule::Zone>,
}

impl Validator<'_> {
    fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let (line, column) = self.lines.position(span.start);
        let error = ConfigError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        };
        self.errors.push((span.start, error));
    }

    fn config(&mut self, raw: &RawConfig) -> Config {
        let server = self.server(raw);
        let supervisor = self.supervisor(raw);
        let logs = self.logs(raw);
        let ports = self.ports(raw);
        let system = self.system(raw);
        let metrics = self.metrics(raw);
        let store = self.store(raw);
        let alerts = self.alerts(raw);
        let (checks, check_names) = self.checks(raw);
        let mut programs = Vec::with_capacity(raw.program.len());
        let mut facts = Vec::with_capacity(raw.program.len());
        for (index, program) in raw.program.iter().enumerate() {
            let (spec, fact) = self.program(index, program, logs.rotation);
            programs.push(Arc::new(spec));
            facts.push(fact);
        }
        self.check_graph(&facts, &check_names);
        self.check_ports(raw, &programs, &facts, ports);
        let programs = self.expand_instances(programs, &facts);
        Config {
            source: self.file.to_path_buf(),
            server,
            supervisor,
            logs,
            ports,
            system,
            checks,
            metrics,
            store,
            alerts,
            programs,
        }
    }

    fn supervisor(&mut self, raw: &RawConfig) -> SupervisorConfig {
        let s = raw.supervisor.as_ref();
        let data_dir = self.path(
            s.and_then(|s| s.data_dir.as_ref()),
            "supervisor.data_dir",
            DEFAULT_DATA_DIR,
        );
        let sample_interval = self.duration(
            s.and_then(|s| s.sample_interval.as_ref()),
            "supervisor.sample_interval",
            DEFAULT_SAMPLE_INTERVAL,
        );
        if let Some(value) = s.and_then(|s| s.sample_interval.as_ref()) {
            if sample_interval < MIN_SAMPLE_INTERVAL {
                self.error(
                    &value.span(),
                    format!(
                        "supervisor.sample_interval must be at least {}, not {}",
                        units::format_duration(MIN_SAMPLE_INTERVAL),
                        units::format_duration(sample_interval)
                    ),
                );
            }
        }
        let shutdown_timeout = self.duration(
            s.and_then(|s| s.shutdown_timeout.as_ref()),
            "supervisor.shutdown_timeout",
            DEFAULT_SHUTDOWN_TIMEOUT,
        );
        let cgroups = self.boolean(s.and_then(|s| s.cgroups.as_ref()), "supervisor.cgroups", true);
        SupervisorConfig {
            data_dir,
            sample_interval,
            shutdown_timeout,
            cgroups,
        }
    }

    fn logs(&mut self, raw: &RawConfig) -> LogConfig {
        let l = raw.logs.as_ref();
        let dir = self.path(l.and_then(|l| l.dir.as_ref()), "logs.dir", DEFAULT_LOG_DIR);
        let max_size = self.size(
            l.and_then(|l| l.max_size.as_ref()),
            "logs.max_size",
            DEFAULT_LOG_MAX_SIZE,
            MIN_LOG_MAX_SIZE,
        );
        let max_files = self.integer(
            l.and_then(|l| l.max_files.as_ref()),
            "logs.max_files",
            DEFAULT_LOG_MAX_FILES,
        );
        let tail_lines = self.integer(
            l.and_then(|l| l.tail_lines.as_ref()),
            "logs.tail_lines",
            DEFAULT_TAIL_LINES,
        );
        let max_line = self.size(
            l.and_then(|l| l.max_line.as_ref()),
            "logs.max_line",
            DEFAULT_MAX_LINE as u64,
            MIN_MAX_LINE,
        );
        let max_line = usize::try_from(max_line).unwrap_or(usize::MAX);
        LogConfig {
            dir,
            rotation: Rotation { max_size, max_files },
            tail_lines,
            max_line,
        }
    }

    fn program(
        &mut self,
        index: usize,
        program: &Spanned<RawProgram>,
        log_defaults: Rotation,
    ) -> (ProgramSpec, ProgramFacts) {
        let header = program.span();
        let p = program.get_ref();

        let name = match &p.name {
            None => {
                self.error(&header, "[[program]] is missing the required key `name`");
                None
            }
            Some(value) => self.string(value, "name").map(|name| {
                if !is_program_name(name) {
                    self.error(
                        &value.span(),
                        format!("invalid program name {name:?}: use 1 to {MAX_NAME_LEN} characters of a-z, 0-9 and -"),
                    );
                }
                (name.to_owned(), value.span())
            }),
        };

        let command = match &p.command {
            None => {
                self.error(&header, "[[program]] is missing the required key `command`");
                String::new()
            }
            Some(value) => match self.text(value, "command") {
                Some(command) if command.trim().is_empty() => {
                    self.error(&value.span(), "command is empty");
                    command
                }
                command => command.unwrap_or_default(),
            },
        };

        let args = p
            .args
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, arg)| self.text(arg, &format!("args[{i}]")).unwrap_or_default())
            .collect();
        let cwd = p
            .cwd
            .as_ref()
            .and_then(|v| self.non_empty_text(v, "cwd"))
            .map(PathBuf::from);
        let user = p.user.as_ref().and_then(|v| self.non_empty_text(v, "user"));
        let group = p.group.as_ref().and_then(|v| self.non_empty_text(v, "group"));

        let env = self.env(index, p);
        let env_passthrough = self.env_passthrough(p, &env);

        let enabled = match &p.enabled {
            None => true,
            Some(value) => self.enabled(value),
        };
        let autostart = self.boolean(p.autostart.as_ref(), "autostart", true);
        let restart = self.choice(p.restart.as_ref(), "restart", RestartPolicy::Always, RESTART_POLICIES);
        let backoff = self.backoff(p);

        let max_restarts = self.integer(p.max_restarts.as_ref(), "max_restarts", DEFAULT_MAX_RESTARTS);
        // A job starts at its due times, and retries a failed run up to `max_retries`.
        let scheduled = self.job(p);
        let is_job = scheduled.is_some();
        let (autostart, restart, max_restarts, job) = match scheduled {
            None => (autostart, restart, max_restarts, None),
            Some(s) => (false, s.restart, s.max_restarts, s.job),
        };
        let restart_window = self.duration(p.restart_window.as_ref(), "restart_window", DEFAULT_RESTART_WINDOW);
        if let Some(value) = &p.restart_window {
            if restart_window.is_zero() && max_restarts > 0 {
                self.error(
                    &value.span(),
                    if is_job {
                        "restart_window must be longer than 0s when max_retries is set"
                    } else {
                        "restart_window must be longer than 0s when max_restarts is set (max_restarts = 0 means no limit)"
                    },
                );
            }
        }
        let start_period = self.duration(p.start_period.as_ref(), "start_period", DEFAULT_START_PERIOD);
        let stop_signal = p.stop_signal.as_ref().map_or(Signal::SIGTERM, |v| self.signal(v));
        let stop_timeout = self.duration(p.stop_timeout.as_ref(), "stop_timeout", DEFAULT_STOP_TIMEOUT);

        let (depends_on, deps) = self.depends_on(p);

        let memory_limit = p
            .memory_limit
            .as_ref()
            .and_then(|value| match self.size_value(value, "memory_limit")? {
                0 => {
                    self.error(
                        &value.span(),
                        "memory_limit must be more than 0 (leave it out for no limit)",
                    );
                    None
                }
                limit => Some(limit),
            });
        let memory_limit_grace = self.duration(
            p.memory_limit_grace.as_ref(),
            "memory_limit_grace",
            DEFAULT_MEMORY_LIMIT_GRACE,
        );

        let rotation = match &p.logs {
            None => log_defaults,
            Some(logs) => Rotation {
                max_size: self.size(
                    logs.max_size.as_ref(),
                    "logs.max_size",
                    log_defaults.max_size,
                    MIN_LOG_MAX_SIZE,
                ),
                max_files: self.integer(logs.max_files.as_ref(), "logs.max_files", log_defaults.max_files),
            },
        };

        let port = p.port.as_ref().and_then(|v| self.port_spec(v));
        let probe = p.probe.as_ref().and_then(|v| self.probe(v, port.is_some()));
        let required = self.boolean(p.required.as_ref(), "required", enabled && autostart);
        let instances = p.instances.as_ref().and_then(|v| match v.get_ref() {
            Scalar::Int(n) if (1..=i64::from(MAX_INSTANCES)).contains(n) => Some((*n as u32, v.span())),
            other => {
                self.error(
                    &v.span(),
                    format!("instances must be a whole number from 1 to {MAX_INSTANCES}, not {other}"),
                );
                None
            }
        });

        let spec = ProgramSpec {
            name: name.as_ref().map(|(n, _)| n.clone()).unwrap_or_default(),
            command,
            args,
            cwd,
            env,
            env_passthrough,
            user,
            group,
            enabled,
            autostart,
            restart,
            backoff,
            max_restarts,
            restart_window,
            start_period,
            stop_signal,
            stop_timeout,
            depends_on,
            memory_limit,
            memory_limit_grace,
            rotation,
            port,
            probe,
            required,
            instance: None,
            job,
        };
        (spec, ProgramFacts { name, deps, instances })
    }

    /// `env`: names checked, values substituted and wrapped as secrets.
    fn env(&mut self, index: usize, p: &RawProgram) -> BTreeMap<String, Secret> {
        let mut env = BTreeMap::new();
        for (key, value) in p.env.iter().flat_map(|e| e.0.iter()) {
            if !is_env_name(key) {
                let path = [
                    Segment::Key("program".into()),
                    Segment::Index(index),
                    Segment::Key("env".into()),
                    Segment::Key(key.clone()),
                ];
                let span = key_span(self.root, &path).unwrap_or_else(|| value.span());
                self.error(&span, format!("invalid variable name {key:?} in env: {ENV_NAME_RULE}"));
            }
            let text = match value.get_ref() {
                Scalar::Str(_) => self.text(value, &format!("env.{key}")).unwrap_or_default(),
                // `PORT = 8080` is natural TOML; the process sees text either way.
                Scalar::Int(i) => i.to_string(),
                Scalar::Float(x) => x.to_string(),
                Scalar::Bool(b) => b.to_string(),
                Scalar::Datetime(d) => d.clone(),
            };
            env.insert(key.clone(), Secret::new(text));
        }
        env
    }

    fn env_passthrough(&mut self, p: &RawProgram, env: &BTreeMap<String, Secret>) -> Vec<String> {
        let mut names = Vec::new();
        for value in p.env_passthrough.iter().flatten() {
            let Some(name) = self.string(value, "env_passthrough entry") else {
                continue;
            };
            if !is_env_name(name) {
                self.error(
                    &value.span(),
                    format!("invalid variable name {name:?} in env_passthrough: {ENV_NAME_RULE}"),
                );
            } else if env.contains_key(name) {
                // Which one would win is a guess the reader of the file should not have to make.
                self.error(
                    &value.span(),
                    format!("{name} is set in env and also listed in env_passthrough: keep one"),
                );
            } else if names.iter().any(|n| n == name) {
                self.error(&value.span(), format!("env_passthrough lists {name} twice"));
            } else {
                names.push(name.to_owned());
            }
        }
        names
    }

    /// `enabled`: a boolean, or a string (substituted, so that a feature flag can come
    /// from the environment) read as a boolean.
    fn enabled(&mut self, value: &Spanned<Scalar>) -> bool {
        match value.get_ref() {
            Scalar::Bool(b) => *b,
            Scalar::Str(_) => {
                let Some(text) = self.text(value, "enabled") else {
                    return true;
                };
                match text.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "on" => true,
                    "false" | "0" | "no" | "off" => false,
                    _ => {
                        self.error(
                            &value.span(),
                            format!("invalid value {text:?} for enabled: use true/false, 1/0, yes/no or on/off"),
                        );
                        true
                    }
                }
            }
            other => {
                self.error(
                    &value.span(),
                    format!("enabled must be a boolean or a string, not {}", other.kind()),
                );
                true
            }
        }
    }

    fn backoff(&mut self, p: &RawProgram) -> BackoffSpec {
        let Some(b) = &p.backoff else {
            return BackoffSpec {
                initial: DEFAULT_BACKOFF_INITIAL,
                max: DEFAULT_BACKOFF_MAX,
                multiplier: DEFAULT_BACKOFF_MULTIPLIER,
                reset_after: DEFAULT_BACKOFF_RESET_AFTER,
                jitter: Jitter::None,
            };
        };
        let initial = self.duration(b.initial.as_ref(), "backoff.initial", DEFAULT_BACKOFF_INITIAL);
        let max = self.duration(b.max.as_ref(), "backoff.max", DEFAULT_BACKOFF_MAX);
        if max < initial {
            // Point at whichever of the two the file wrote (max first: it is the one
            // usually lowered below the default initial).
            if let Some(span) = b.max.as_ref().or(b.initial.as_ref()).map(|v| v.span()) {
                self.error(
                    &span,
                    format!(
                        "backoff.max ({}) must not be less than backoff.initial ({})",
                        units::format_duration(max),
                        units::format_duration(initial)
                    ),
                );
            }
        }
        let multiplier = match &b.multiplier {
            None => DEFAULT_BACKOFF_MULTIPLIER,
            Some(value) => {
                let m = match value.get_ref() {
                    Scalar::Float(x) => Some(*x),
                    Scalar::Int(i) => Some(*i as f64),
                    other => {
                        self.error(
                            &value.span(),
                            format!("backoff.multiplier must be a number, not {}", other.kind()),
                        );
                        None
                    }
                };
                match m {
                    Some(m) if m.is_finite() && m >= 1.0 => m,
                    Some(m) => {
                        self.error(
                            &value.span(),
                            format!("backoff.multiplier must be at least 1.0, not {m}"),
                        );
                        DEFAULT_BACKOFF_MULTIPLIER
                    }
                    None => DEFAULT_BACKOFF_MULTIPLIER,
                }
            }
        };
        let reset_after = self.duration(
            b.reset_after.as_ref(),
            "backoff.reset_after",
            DEFAULT_BACKOFF_RESET_AFTER,
        );
        let jitter = self.choice(b.jitter.as_ref(), "backoff.jitter", Jitter::None, JITTERS);
        BackoffSpec {
            initial,
            max,
            multiplier,
            reset_after,
            jitter,
        }
    }

    fn signal(&mut self, value: &Spanned<Scalar>) -> Signal {
        let Some(text) = self.string(value, "stop_signal") else {
            return Signal::SIGTERM;
        };
        let upper = text.trim().to_ascii_uppercase();
        let name = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        Signal::from_str(&name).unwrap_or_else(|_| {
            self.error(
                &value.span(),
                format!("invalid stop_signal {text:?}: not a signal name (use one like SIGTERM, SIGINT, SIGQUIT, SIGHUP or SIGUSR1)"),
            );
            Signal::SIGTERM
        })
    }

    fn depends_on(&mut self, p: &RawProgram) -> (Vec<Dependency>, Vec<(String, Range<usize>)>) {
        let mut depends_on = Vec::new();
        let mut deps: Vec<(String, Range<usize>)> = Vec::new();
        for entry in p.depends_on.iter().flatten() {
            let (name, span, condition) = match entry.get_ref() {
                RawDependency::Name(name) => (name.clone(), entry.span(), DependencyCondition::Running),
                RawDependency::Table(table) => {
                    let condition = self.choice(
                        table.condition.as_ref(),
                        "depends_on condition",
                        DependencyCondition::Running,
                        CONDITIONS,
                    );
                    let Some(value) = &table.name else {
                        self.error(&entry.span(), "depends_on entry is missing the key `name`");
                        continue;
                    };
                    let Some(name) = self.string(value, "depends_on name") else {
                        continue;
                    };
                    (name.to_owned(), value.span(), condition)
                }
            };
            if deps.iter().any(|(n, _)| *n == name) {
                self.error(&span, format!("depends_on lists {name:?} twice"));
                continue;
            }
            depends_on.push(Dependency {
                name: name.clone(),
                condition,
            });
            deps.push((name, span));
        }
        (depends_on, deps)
    }

    /// Checks across programs: duplicate names, dependency targets, cycles.
    fn check_graph(&mut self, facts: &[ProgramFacts], checks: &[String]) {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, fact) in facts.iter().enumerate() {
            let Some((name, span)) = &fact.name else { continue };
            match first.get(name.as_str()) {
                Some(&j) => {
                    let first_line = facts[j]
                        .name
                        .as_ref()
                        .map_or(0, |(_, s)| self.lines.position(s.start).0);
                    self.error(
                        span,
                        format!("duplicate program name {name:?} (first defined at line {first_line})"),
                    );
                }
                None => {
                    first.insert(name, i);
                }
            }
        }

        for fact in facts {
            if let Some((name, span)) = &fact.name {
                if checks.contains(name) {
                    self.error(
                        span,
                        format!("program name {name:?} is also the name of a [[check]]: names must be distinct"),
                    );
                }
            }
        }

        // edges[i]: the programs i depends on, with the place of each `depends_on` entry.
        let mut edges: Vec<Vec<(usize, Range<usize>)>> = vec![Vec::new(); facts.len()];
        for (i, fact) in facts.iter().enumerate() {
            let own = fact.name.as_ref().map(|(n, _)| n.as_str());
            for (dep, span) in &fact.deps {
                if Some(dep.as_str()) == own {
                    self.error(span, format!("program {dep:?} depends on itself"));
                } else if let Some(&j) = first.get(dep.as_str()) {
                    edges[i].push((j, span.clone()));
                } else if checks.contains(dep) {
                    // A check: no edge (checks depend on nothing).
                } else {
                    let hint = closest(dep, first.keys().copied().chain(checks.iter().map(String::as_str)))
                        .map(|c| format!(" (did you mean {c:?}?)"))
                        .unwrap_or_default();
                    self.error(span, format!("depends_on: no program or check named {dep:?}{hint}"));
                }
            }
        }
        for (span, cycle) in cycles(&edges) {
            let names: Vec<&str> = cycle
                .iter()
                .map(|&i| facts[i].name.as_ref().map_or("?", |(n, _)| n.as_str()))
                .collect();
            self.error(
                &span,
                format!("dependency cycle: {} -> {}", names.join(" -> "), names[0]),
            );
        }
    }

    /// One error per unknown key, at the key, naming the table it is in.
    fn unknown_key(&mut self, raw: &RawConfig, path: &[Segment]) {
        let Some((Segment::Key(key), parent)) = path.split_last() else {
            return;
        };
        let program_label = |i: usize| match raw
            .program
            .get(i)
            .and_then(|p| p.get_ref().name.as_ref())
            .map(|n| n.get_ref())
        {
            Some(Scalar::Str(name)) => format!("[[program]] {name:?}"),
            _ => format!("[[program]] #{}", i + 1),
        };
        let program_key = |k: &str| Segment::Key(k.to_owned());
        let (known, context): (&[&str], String) = match parent {
            [] => (raw::fields_of::<RawConfig>(), "at the top level".to_owned()),
            [Segment::Key(k)] if k == "server" => (raw::fields_of::<raw::RawServer>(), "in [server]".to_owned()),
            [Segment::Key(k), Segment::Key(sub)] if k == "server" && sub == "tls" => {
                (raw::fields_of::<raw::RawTls>(), "in [server.tls]".to_owned())
            }
            [Segment::Key(k), Segment::Key(sub)] if k == "server" && sub == "rate_limit" => {
                (raw::fields_of::<raw::RawRateLimit>(), "in server.rate_limit".to_owned())
            }
            [Segment::Key(k)] if k == "supervisor" => {
                (raw::fields_of::<raw::RawSupervisor>(), "in [supervisor]".to_owned())
            }
            [Segment::Key(k)] if k == "logs" => (raw::fields_of::<raw::RawLogs>(), "in [logs]".to_owned()),
            [Segment::Key(k)] if k == "ports" => (raw::fields_of::<raw::RawPorts>(), "in [ports]".to_owned()),
            [Segment::Key(k)] if k == "system" => (raw::fields_of::<raw::RawSystem>(), "in [system]".to_owned()),
            [Segment::Key(k), Segment::Key(sub)] if k == "system" => {
                (raw::fields_of::<raw::RawThresholds>(), format!("in system.{sub}"))
            }
            [Segment::Key(k)] if k == "metrics" => (raw::fields_of::<raw::RawMetrics>(), "in [metrics]".to_owned()),
            [Segment::Key(k)] if k == "store" => (raw::fields_of::<raw::RawStore>(), "in [store]".to_owned()),
            [Segment::Key(k)] if k == "alerts" => (raw::fields_of::<raw::RawAlerts>(), "in [alerts]".to_owned()),
            [Segment::Key(k), Segment::Key(sub)] if k == "alerts" && sub == "email" => {
                (raw::fields_of::<raw::RawEmail>(), "in [alerts.email]".to_owned())
            }
            [Segment::Key(k), Segment::Key(sub)] if k == "alerts" && sub == "slack" => {
                (raw::fields_of::<raw::RawSlack>(), "in [alerts.slack]".to_owned())
            }
            [Segment::Key(k), Segment::Index(i)] if k == "check" => {
                (raw::fields_of::<raw::RawCheck>(), format!("in [[check]] #{}", i + 1))
            }
            [Segment::Key(k), Segment::Index(i), sub] if k == "program" && *sub == program_key("probe") => (
                raw::fields_of::<raw::RawProbe>(),
                format!("in probe of {}", program_label(*i)),
            ),
            [Segment::Key(k), Segment::Index(i)] if k == "program" => {
                (raw::fields_of::<RawProgram>(), format!("in {}", program_label(*i)))
            }
            [Segment::Key(k), Segment::Index(i), sub] if k == "program" && *sub == program_key("backoff") => (
                raw::fields_of::<raw::RawBackoff>(),
                format!("in backoff of {}", program_label(*i)),
            ),
            [Segment::Key(k), Segment::Index(i), sub] if k == "program" && *sub == program_key("logs") => (
                raw::fields_of::<raw::RawRotation>(),
                format!("in logs of {}", program_label(*i)),
            ),
            [Segment::Key(k), Segment::Index(i), sub, Segment::Index(_)]
                if k == "program" && *sub == program_key("depends_on") =>
            {
                (
                    raw::fields_of::<raw::RawDependencyTable>(),
                    format!("in depends_on of {}", program_label(*i)),
                )
            }
            _ => (&[], "here".to_owned()),
        };
        let span = key_span(self.root, path)
            .or_else(|| match parent {
                [Segment::Key(k), Segment::Index(i), ..] if k == "program" => raw.program.get(*i).map(|p| p.span()),
                [Segment::Key(k), Segment::Index(i), ..] if k == "check" => raw.check.get(*i).map(|c| c.span()),
                _ => None,
            })
            .unwrap_or(0..0);
        let hint = closest(key, known.iter().copied())
            .map(|c| format!(": did you mean `{c}`?"))
            .unwrap_or_default();
        let known_list = if known.is_empty() {
            String::new()
        } else {
            format!(" (known keys: {})", known.join(", "))
        };
        self.error(&span, format!("unknown key `{key}` {context}{hint}{known_list}"));
    }

    // --- [ports], [system], [metrics], [[check]], probes ------------------------------

    fn ports(&mut self, raw: &RawConfig) -> PortRange {
        let Some(value) = raw.ports.as_ref().and_then(|p| p.range.as_ref()) else {
            return DEFAULT_PORTS;
        };
        let Some(text) = self.text(value, "ports.range") else {
            return DEFAULT_PORTS;
        };
        let parsed = text.split_once('-').and_then(|(a, b)| {
            let first = a.trim().parse::<u16>().ok()?;
            let last = b.trim().parse::<u16>().ok()?;
            (first >= 1 && first <= last).then_some(PortRange { first, last })
        });
        parsed.unwrap_or_else(|| {
            self.error(
                &value.span(),
                format!("invalid ports.range {text:?}: write FIRST-LAST with 1 <= FIRST <= LAST <= 65535, like \"9100-9199\""),
            );
            DEFAULT_PORTS
        })
    }

    fn system(&mut self, raw: &RawConfig) -> SystemConfig {
        let s = raw.system.as_ref();
        let interval_value = s.and_then(|s| s.interval.as_ref());
        let mut interval = self.duration(interval_value, "system.interval", DEFAULT_SYSTEM_INTERVAL);
        if let Some(value) = interval_value {
            if interval < MIN_SYSTEM_INTERVAL {
                self.error(
                    &value.span(),
                    format!(
                        "system.interval must be at least {} (CPU usage is averaged over it), not {}",
                        units::format_duration(MIN_SYSTEM_INTERVAL),
                        units::format_duration(interval)
                    ),
                );
                interval = DEFAULT_SYSTEM_INTERVAL;
            }
        }
        let cpu = self.thresholds(s.and_then(|s| s.cpu.as_ref()), "system.cpu", DEFAULT_CPU);
        let memory = self.thresholds(s.and_then(|s| s.memory.as_ref()), "system.memory", DEFAULT_MEMORY);
        let disk = self.thresholds(s.and_then(|s| s.disk.as_ref()), "system.disk", DEFAULT_DISK);
        let mut mounts = Vec::new();
        for value in s.and_then(|s| s.mounts.as_ref()).into_iter().flatten() {
            let Some(text) = self.non_empty_text(value, "system.mounts entry") else {
                continue;
            };
            if !text.starts_with('/') {
                self.error(
                    &value.span(),
                    format!("system.mounts entry {text:?} must be an absolute mount point, like \"/\" or \"/data\""),
                );
                continue;
            }
            mounts.push(PathBuf::from(text));
        }
        SystemConfig {
            interval,
            cpu,
            memory,
            disk,
            mounts,
        }
    }

    /// `{ warning = 85, critical = 95 }` in percent, stored as ratios.
    fn thresholds(&mut self, raw: Option<&raw::RawThresholds>, key: &str, default: Thresholds) -> Thresholds {
        let Some(raw) = raw else { return default };
        let mut percent = |value: Option<&Spanned<Scalar>>, which: &str, default: f64| -> f64 {
            let Some(value) = value else { return default };
            let number = match value.get_ref() {
                Scalar::Int(i) => Some(*i as f64),
                Scalar::Float(x) => Some(*x),
                _ => None,
            };
            match number {
                Some(n) if n > 0.0 && n <= 100.0 => n / 100.0,
                _ => {
                    self.error(
                        &value.span(),
                        format!(
                            "{key}.{which} must be a percentage above 0 and at most 100, not {}",
                            value.get_ref()
                        ),
                    );
                    default
                }
            }
        };
        let warning = percent(raw.warning.as_ref(), "warning", default.warning);
        let critical = percent(raw.critical.as_ref(), "critical", default.critical);
        if warning > critical {
            let span = raw
                .warning
                .as_ref()
                .or(raw.critical.as_ref())
                .map(|v| v.span())
                .unwrap_or(0..0);
            self.error(
                &span,
                format!(
                    "{key}.warning ({}%) is above {key}.critical ({}%)",
                    warning * 100.0,
                    critical * 100.0
                ),
            );
            return default;
        }
        Thresholds { warning, critical }
    }

    fn metrics(&mut self, raw: &RawConfig) -> MetricsConfig {
        let Some(values) = raw.metrics.as_ref().and_then(|m| m.event_kinds.as_ref()) else {
            return MetricsConfig {
                event_kinds: DEFAULT_EVENT_KINDS.iter().map(|k| k.to_string()).collect(),
            };
        };
        let mut event_kinds: Vec<String> = Vec::new();
        for value in values {
            let Some(kind) = self.string(value, "metrics.event_kinds entry") else {
                continue;
            };
            let valid = !kind.is_empty()
                && kind.len() <= MAX_NAME_LEN
                && kind
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                self.error(
                    &value.span(),
                    format!("invalid event kind {kind:?}: use a-z, 0-9 and _ (at most {MAX_NAME_LEN} characters)"),
                );
            } else if event_kinds.iter().any(|k| k == kind) {
                self.error(&value.span(), format!("event kind {kind:?} is listed twice"));
            } else {
                event_kinds.push(kind.to_owned());
            }
        }
        if event_kinds.len() > MAX_EVENT_KINDS {
            if let Some(value) = values.get(MAX_EVENT_KINDS) {
                self.error(
                    &value.span(),
                    format!(
                        "metrics.event_kinds has more than {MAX_EVENT_KINDS} entries: each is a metric label value"
                    ),
                );
            }
        }
        MetricsConfig { event_kinds }
    }

    /// The valid checks, and the name of every `[[check]]` (valid or not, so that one bad
    /// check does not also make `depends_on` on it an error).
    fn checks(&mut self, raw: &RawConfig) -> (Vec<CheckSpec>, Vec<String>) {
        let mut checks: Vec<CheckSpec> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for (i, entry) in raw.check.iter().enumerate() {
            let c = entry.get_ref();
            let name = match &c.name {
                None => {
                    self.error(&entry.span(), format!("[[check]] #{} is missing the key `name`", i + 1));
                    None
                }
                Some(value) => self.string(value, "check name").and_then(|name| {
                    if !is_program_name(name) {
                        self.error(
                            &value.span(),
                            format!(
                                "invalid check name {name:?}: use a-z, 0-9 and -, at most {MAX_NAME_LEN} characters"
                            ),
                        );
                        None
                    } else if names.iter().any(|other| other == name) {
                        self.error(&value.span(), format!("duplicate check name {name:?}"));
                        None
                    } else {
                        names.push(name.to_owned());
                        Some(name.to_owned())
                    }
                }),
            };
            let kind = match &c.kind {
                None => {
                    self.error(
                        &entry.span(),
                        "[[check]] is missing the key `type` (\"postgres\" or \"redis\")",
                    );
                    None
                }
                some => Some(self.choice(some.as_ref(), "check type", CheckKind::Postgres, CHECK_KINDS)),
            };
            let url = match (&c.url, kind) {
                (Some(value), Some(kind)) => self
                    .non_empty_text(value, "check url")
                    .and_then(|url| self.check_url(kind, &url, &value.span()).then_some(url)),
                (None, Some(kind)) => {
                    let var = match kind {
                        CheckKind::Postgres => "DATABASE_URL",
                        CheckKind::Redis => "REDIS_URL",
                    };
                    match (self.env)(var).filter(|v| !v.trim().is_empty()) {
                        Some(url) => self.check_url(kind, &url, &entry.span()).then_some(url),
                        None => {
                            self.error(
                                &entry.span(),
                                format!(
                                    "[[check]] {:?} has no `url` and ${var} is not set",
                                    name.as_deref().unwrap_or("?")
                                ),
                            );
                            None
                        }
                    }
                }
                _ => None,
            };
            let required = self.boolean(c.required.as_ref(), "check required", true);
            let interval = self.duration(c.interval.as_ref(), "check interval", DEFAULT_CHECK_INTERVAL);
            let timeout = self.duration(c.timeout.as_ref(), "check timeout", DEFAULT_CHECK_TIMEOUT);
            for (value, d, key) in [
                (&c.interval, interval, "check interval"),
                (&c.timeout, timeout, "check timeout"),
            ] {
                if let (Some(value), true) = (value, d.is_zero()) {
                    self.error(&value.span(), format!("{key} must be longer than 0s"));
                }
            }
            if let (Some(name), Some(kind), Some(url)) = (name, kind, url) {
                checks.push(CheckSpec {
                    name,
                    kind,
                    url: Secret::new(url),
                    required,
                    interval,
                    timeout,
                });
            }
        }
        (checks, names)
    }

    /// The scheme fits the check; the URL itself is never quoted (it may hold a password).
    fn check_url(&mut self, kind: CheckKind, url: &str, span: &Range<usize>) -> bool {
        let schemes: &[&str] = match kind {
            CheckKind::Postgres => &["postgres://", "postgresql://"],
            CheckKind::Redis => &["redis://", "rediss://"],
        };
        if schemes.iter().any(|s| url.starts_with(s)) {
            return true;
        }
        self.error(
            span,
            format!("{} check url must start with {}", kind.as_str(), schemes.join(" or ")),
        );
        false
    }

    fn port_spec(&mut self, value: &Spanned<Scalar>) -> Option<PortSpec> {
        match value.get_ref() {
            Scalar::Str(s) if s == "auto" => Some(PortSpec::Auto),
            Scalar::Int(i) if (1..=65535).contains(i) => Some(PortSpec::Fixed(*i as u16)),
            other => {
                self.error(
                    &value.span(),
                    format!(
                        "invalid port {other}: use a number from 1 to 65535, or \"auto\" for one from [ports] range"
                    ),
                );
                None
            }
        }
    }

    fn probe(&mut self, value: &Spanned<RawProbe>, program_has_port: bool) -> Option<ProbeSpec> {
        let p = value.get_ref();
        let span = value.span();
        let Some(kind_value) = &p.kind else {
            self.error(
                &span,
                "probe is missing the key `type` (\"tcp\", \"http\", \"exec\" or \"mcp\")",
            );
            return None;
        };
        let kind_word = match kind_value.get_ref() {
            Scalar::Str(s) if ["tcp", "http", "exec", "mcp"].contains(&s.as_str()) => s.clone(),
            other => {
                self.error(
                    &kind_value.span(),
                    format!("invalid probe type {other}: use \"tcp\", \"http\", \"exec\" or \"mcp\""),
                );
                return None;
            }
        };
        // Keys that only some types take.
        let network = kind_word != "exec";
        let misplaced: [(&str, bool, Option<Range<usize>>); 7] = [
            ("host", network, p.host.as_ref().map(|v| v.span())),
            ("port", network, p.port.as_ref().map(|v| v.span())),
            (
                "path",
                kind_word == "http" || kind_word == "mcp",
                p.path.as_ref().map(|v| v.span()),
            ),
            ("status", kind_word == "http", p.status.as_ref().map(|v| v.span())),
            ("headers", kind_word == "http", p.headers.as_ref().map(|_| span.clone())),
            ("command", kind_word == "exec", p.command.as_ref().map(|v| v.span())),
            ("args", kind_word == "exec", p.args.as_ref().map(|_| span.clone())),
        ];
        for (key, allowed, at) in misplaced {
            if let (false, Some(at)) = (allowed, at) {
                self.error(&at, format!("probe key `{key}` does not apply to type \"{kind_word}\""));
            }
        }
        let host = p
            .host
            .as_ref()
            .and_then(|v| self.non_empty_text(v, "probe host"))
            .unwrap_or_else(|| DEFAULT_PROBE_HOST.to_owned());
        let port = match &p.port {
            Some(v) => match v.get_ref() {
                Scalar::Int(i) if (1..=65535).contains(i) => ProbePort::Fixed(*i as u16),
                other => {
                    self.error(
                        &v.span(),
                        format!("invalid probe port {other}: use a number from 1 to 65535"),
                    );
                    ProbePort::Program
                }
            },
            None => {
                if network && !program_has_port {
                    self.error(
                        &span,
                        format!("a probe of type \"{kind_word}\" needs a port: set probe.port, or the program's `port` (a number or \"auto\")"),
                    );
                }
                ProbePort::Program
            }
        };
        let path = |this: &mut Self, default: &str| -> String {
            let Some(v) = &p.path else { return default.to_owned() };
            match this.non_empty_text(v, "probe path") {
                Some(path) if path.starts_with('/') => path,
                Some(path) => {
                    this.error(&v.span(), format!("probe path {path:?} must start with /"));
                    default.to_owned()
                }
                None => default.to_owned(),
            }
        };
        let kind = match kind_word.as_str() {
            "tcp" => ProbeKind::Tcp { host, port },
            "mcp" => ProbeKind::Mcp {
                host,
                port,
                path: path(self, DEFAULT_MCP_PATH),
            },
            "http" => {
                let path = path(self, "/");
                let status = p.status.as_ref().map_or(DEFAULT_HTTP_STATUS, |v| self.status_range(v));
                let mut headers = Vec::new();
                for (name, value) in p.headers.iter().flat_map(|h| h.0.iter()) {
                    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                    if !valid {
                        self.error(
                            &value.span(),
                            format!("invalid header name {name:?}: use letters, digits and -"),
                        );
                        continue;
                    }
                    if let Some(text) = self.text(value, &format!("probe header {name}")) {
                        headers.push((name.clone(), Secret::new(text)));
                    }
                }
                ProbeKind::Http {
                    host,
                    port,
                    path,
                    status,
                    headers,
                }
            }
            _ => {
                let command = match &p.command {
                    Some(v) => self.non_empty_text(v, "probe command").unwrap_or_default(),
                    None => {
                        self.error(&span, "a probe of type \"exec\" needs `command`");
                        String::new()
                    }
                };
                let args = p
                    .args
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, a)| self.text(a, &format!("probe args[{i}]")).unwrap_or_default())
                    .collect();
                ProbeKind::Exec { command, args }
            }
        };
        let initial_delay = self.duration(
            p.initial_delay.as_ref(),
            "probe initial_delay",
            DEFAULT_PROBE_INITIAL_DELAY,
        );
        let interval = self.duration(p.interval.as_ref(), "probe interval", DEFAULT_PROBE_INTERVAL);
        let timeout = self.duration(p.timeout.as_ref(), "probe timeout", DEFAULT_PROBE_TIMEOUT);
        for (value, d, key) in [
            (&p.interval, interval, "probe interval"),
            (&p.timeout, timeout, "probe timeout"),
        ] {
            if let (Some(value), true) = (value, d.is_zero()) {
                self.error(&value.span(), format!("{key} must be longer than 0s"));
            }
        }
        let mut threshold = |value: &Option<Spanned<Scalar>>, key: &str, default: u32| -> u32 {
            let n = self.integer(value.as_ref(), key, default);
            if n == 0 {
                if let Some(v) = value {
                    self.error(&v.span(), format!("{key} must be at least 1"));
                }
                return default;
            }
            n
        };
        let failure_threshold = threshold(
            &p.failure_threshold,
            "probe failure_threshold",
            DEFAULT_FAILURE_THRESHOLD,
        );
        let success_threshold = threshold(
            &p.success_threshold,
            "probe success_threshold",
            DEFAULT_SUCCESS_THRESHOLD,
        );
        let action = self.choice(p.action.as_ref(), "probe action", ProbeAction::Restart, PROBE_ACTIONS);
        let severity = self.choice(
            p.severity.as_ref(),
            "probe severity",
            crate::events::Severity::Warning,
            &alerts::SEVERITIES,
        );
        Some(ProbeSpec {
            kind,
            initial_delay,
            interval,
            timeout,
            failure_threshold,
            success_threshold,
            action,
            severity,
        })
    }

    /// `200`, or `"200-299"`.
    fn status_range(&mut self, value: &Spanned<Scalar>) -> StatusRange {
        let parsed = match value.get_ref() {
            Scalar::Int(i) => u16::try_from(*i).ok().map(|s| (s, s)),
            Scalar::Str(s) => s
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))),
            _ => None,
        };
        match parsed {
            Some((first, last)) if (100..=599).contains(&first) && first <= last && last <= 599 => {
                StatusRange { first, last }
            }
            _ => {
                self.error(
                    &value.span(),
                    format!(
                        "invalid probe status {}: use a status like 200, or a range like \"200-299\"",
                        value.get_ref()
                    ),
                );
                DEFAULT_HTTP_STATUS
            }
        }
    }

    /// Fixed ports are claimed once; `auto` programs fit in the range.
    fn check_ports(
        &mut self,
        raw: &RawConfig,
        programs: &[Arc<ProgramSpec>],
        facts: &[ProgramFacts],
        range: PortRange,
    ) {
        let mut claimed: HashMap<u16, &str> = HashMap::new();
        let mut auto = 0usize;
        for ((spec, entry), fact) in programs.iter().zip(&raw.program).zip(facts) {
            let copies = fact.instances.as_ref().map_or(1, |(n, _)| *n as usize);
            match spec.port {
                Some(PortSpec::Fixed(port)) if copies > 1 => {
                    let span = entry.get_ref().port.as_ref().map(|v| v.span()).unwrap_or(0..0);
                    self.error(
                        &span,
                        format!("{copies} instances cannot share the fixed port {port}: use port = \"auto\" (each instance gets its own PORT)"),
                    );
                }
                Some(PortSpec::Fixed(port)) => {
                    let span = entry.get_ref().port.as_ref().map(|v| v.span()).unwrap_or(0..0);
                    match claimed.get(&port) {
                        Some(other) => {
                            self.error(&span, format!("port {port} is already claimed by program {other:?}"))
                        }
                        None => {
                            claimed.insert(port, &spec.name);
                        }
                    }
                }
                Some(PortSpec::Auto) => {
                    auto += copies;
                    let free = (range.last - range.first) as usize + 1
                        - claimed.keys().filter(|p| range.contains(**p)).count();
                    if auto > free {
                        let span = entry.get_ref().port.as_ref().map(|v| v.span()).unwrap_or(0..0);
                        self.error(
                            &span,
                            format!(
                                "no port left for program {:?}: [ports] range {}-{} has {} free ports for {auto} \"auto\" programs",
                                spec.name, range.first, range.last, free
                            ),
                        );
                    }
                }
                None => {}
            }
        }
    }

    /// `instances = N`: the program becomes `NAME-0` .. `NAME-{N-1}`, each with
    /// `INSTANCE` in its environment; a `depends_on` naming it waits for every copy.
    fn expand_instances(&mut self, programs: Vec<Arc<ProgramSpec>>, facts: &[ProgramFacts]) -> Vec<Arc<ProgramSpec>> {
        let copies: HashMap<String, u32> = programs
            .iter()
            .zip(facts)
            .filter_map(|(p, f)| f.instances.as_ref().map(|(n, _)| (p.name.clone(), *n)))
            .collect();
        if copies.is_empty() {
            return programs;
        }
        let mut out: Vec<Arc<ProgramSpec>> = Vec::new();
        for (spec, fact) in programs.into_iter().zip(facts) {
            let mut spec = Arc::unwrap_or_clone(spec);
            for (of, &n) in &copies {
                if spec.depends_on.iter().any(|d| &d.name == of) {
                    spec.depends_on = scale::expand_dependencies(&spec.depends_on, of, n, &|d| d == of);
                }
            }
            match fact.instances {
                None => out.push(Arc::new(spec)),
                Some((n, _)) => out.extend((0..n).map(|i| Arc::new(scale::instance(&spec, &spec.name, i)))),
            }
        }
        // A copy's name must be a name of its own.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut clashes = Vec::new();
        for p in &out {
            if !seen.insert(p.name.as_str()) || p.name.len() > MAX_NAME_LEN {
                clashes.push((p.name.clone(), p.instance.as_ref().map(|i| i.of.clone())));
            }
        }
        for (name, of) in clashes {
            let group = of.or_else(|| {
                out.iter()
                    .find(|p| p.name == name && p.instance.is_some())
                    .and_then(|p| p.instance.as_ref().map(|i| i.of.clone()))
            });
            let span = facts
                .iter()
                .find(|f| f.name.as_ref().map(|(n, _)| n) == group.as_ref())
                .and_then(|f| f.instances.as_ref().map(|(_, s)| s.clone()))
                .unwrap_or(0..0);
            if name.len() > MAX_NAME_LEN {
                self.error(
                    &span,
                    format!(
                        "instance name {name:?} is longer than {MAX_NAME_LEN} characters: shorten the program name"
                    ),
                );
            } else {
                self.error(
                    &span,
                    format!("instance name {name:?} is also the name of another program: rename one of them"),
                );
            }
        }
        out
    }

    // --- typed reads of one value; each reports its own error and returns a fallback ---

    /// The value as a string, or an error saying it must be one.
    fn string<'v>(&mut self, value: &'v Spanned<Scalar>, key: &str) -> Option<&'v str> {
        match value.get_ref() {
            Scalar::Str(s) => Some(s),
            other => {
                self.error(&value.span(), format!("{key} must be a string, not {}", other.kind()));
                None
            }
        }
    }

    /// A string with `${VAR}` substituted. Safe for secrets: substitution errors name
    /// only the variable, never the value (see interp.rs).
    fn text(&mut self, value: &Spanned<Scalar>, key: &str) -> Option<String> {
        let raw = self.string(value, key)?;
        match interp::substitute(raw, self.env) {
            Ok(text) => Some(text),
            Err(errors) => {
                for e in errors {
                    self.error(&value.span(), e.to_string());
                }
                None
            }
        }
    }

    fn non_empty_text(&mut self, value: &Spanned<Scalar>, key: &str) -> Option<String> {
        let text = self.text(value, key)?;
        if text.trim().is_empty() {
            self.error(&value.span(), format!("{key} is empty (leave the key out instead)"));
            return None;
        }
        Some(text)
    }

    /// A path, stored as written (relative paths are resolved by the caller against
    /// warden's working directory).
    fn path(&mut self, value: Option<&Spanned<Scalar>>, key: &str, default: &str) -> PathBuf {
        PathBuf::from(
            value
                .and_then(|v| self.non_empty_text(v, key))
                .unwrap_or_else(|| default.to_owned()),
        )
    }

    fn duration(&mut self, value: Option<&Spanned<Scalar>>, key: &str, default: Duration) -> Duration {
        let Some(value) = value else { return default };
        let result = match value.get_ref() {
            // Longer is a mistake, and would overflow the time arithmetic it feeds.
            Scalar::Str(s) => units::parse_duration(s).and_then(|d| match d > MAX_DURATION {
                true => Err("at most 10 years".to_owned()),
                false => Ok(d),
            }),
            _ => Err("write a string with a unit, like \"10s\", \"250ms\" or \"5m\"".to_owned()),
        };
        result.unwrap_or_else(|e| {
            self.error(
                &value.span(),
                format!("invalid duration {} for {key}: {e}", value.get_ref()),
            );
            default
        })
    }

    fn size(&mut self, value: Option<&Spanned<Scalar>>, key: &str, default: u64, min: u64) -> u64 {
        let Some(value) = value else { return default };
        match self.size_value(value, key) {
            Some(size) if size >= min => size,
            Some(size) => {
                self.error(
                    &value.span(),
                    format!(
                        "{key} must be at least {}, not {}",
                        units::format_size(min),
                        units::format_size(size)
                    ),
                );
                default
            }
            None => default,
        }
    }

    /// A byte size: an integer, or a string with a unit.
    fn size_value(&mut self, value: &Spanned<Scalar>, key: &str) -> Option<u64> {
        let result = match value.get_ref() {
            Scalar::Str(s) => units::parse_size(s),
            Scalar::Int(i) => u64::try_from(*i).map_err(|_| "must not be negative".to_owned()),
            _ => Err("write a number of bytes, or a string like \"10MiB\"".to_owned()),
        };
        result
            .map_err(|e| {
                self.error(
                    &value.span(),
                    format!("invalid size {} for {key}: {e}", value.get_ref()),
                )
            })
            .ok()
    }

    fn integer<T: TryFrom<i64> + Bounded>(&mut self, value: Option<&Spanned<Scalar>>, key: &str, default: T) -> T {
        let Some(value) = value else { return default };
        match value.get_ref() {
            Scalar::Int(i) => T::try_from(*i).ok(),
            _ => None,
        }
        .unwrap_or_else(|| {
            self.error(
                &value.span(),
                format!(
                    "{key} must be a whole number from 0 to {}, not {}",
                    T::MAX_TEXT,
                    value.get_ref()
                ),
            );
            default
        })
    }

    fn boolean(&mut self, value: Option<&Spanned<Scalar>>, key: &str, default: bool) -> bool {
        match value.map(|v| (v, v.get_ref())) {
            None => default,
            Some((_, Scalar::Bool(b))) => *b,
            Some((v, other)) => {
                self.error(&v.span(), format!("{key} must be true or false, not {other}"));
                default
            }
        }
    }

    /// One of a fixed set of words; the error lists them.
    fn choice<T: Copy>(&mut self, value: Option<&Spanned<Scalar>>, key: &str, default: T, options: &[(&str, T)]) -> T {
        let Some(value) = value else { return default };
        if let Scalar::Str(s) = value.get_ref() {
            if let Some((_, t)) = options.iter().find(|(word, _)| *word == s.as_str()) {
                return *t;
            }
        }
        let words: Vec<&str> = options.iter().map(|(w, _)| *w).collect();
        let (last, rest) = words.split_last().expect("options are not empty");
        self.error(
            &value.span(),
            format!(
                "invalid value {} for {key}: use {} or {last}",
                value.get_ref(),
                rest.join(", ")
            ),
        );
        default
    }
}

const ENV_NAME_RULE: &str = "use letters, digits and _, not starting with a digit";

/// The upper bound of an integer type, for "from 0 to N" messages.
trait Bounded {
    const MAX_TEXT: &'static str;
}
impl Bounded for u32 {
    const MAX_TEXT: &'static str = "4294967295";
}
impl Bounded for usize {
    const MAX_TEXT: &'static str = "18446744073709551615";
}

/// `[a-z0-9-]+`, 1 to 63 characters: safe in file names (`logs/NAME.log`), URLs and labels.
fn is_program_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The place of the key at `path` in the document (`program[2].backoff.restat`).
fn key_span(root: &DeTable<'_>, path: &[Segment]) -> Option<Range<usize>> {
    let (Segment::Key(last), parents) = path.split_last()? else {
        return None;
    };
    let mut table = root;
    let mut value: Option<&DeValue<'_>> = None;
    for segment in parents {
        let next = match (value, segment) {
            (None, Segment::Key(k)) => table.get(k.as_str()),
            (Some(DeValue::Table(t)), Segment::Key(k)) => t.get(k.as_str()),
            (Some(DeValue::Array(a)), Segment::Index(i)) => a.get(*i),
            _ => None,
        }?;
        value = Some(next.get_ref());
        if let DeValue::Table(t) = next.get_ref() {
            table = t;
        }
    }
    if let Some(v) = value {
        if !matches!(v, DeValue::Table(_)) {
            return None;
        }
    }
    table.get_key_value(last.as_str()).map(|(k, _)| k.span())
}

/// The candidate within edit distance 2 of `word` (and closer than its length, so
/// that short words do not match everything), nearest first.
fn closest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= 2 && d < word.chars().count())
        .min_by_key(|&(d, c)| (d, c))
        .map(|(_, c)| c)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// One cycle per strongly connected group of programs, in file order of the group's
/// first program: (the place of that program's `depends_on` entry that starts the
/// cycle, the cycle's programs starting with it). The cycle is the shortest one through that program,
/// following `depends_on` entries in the order they are written.
fn cycles(edges: &[Vec<(usize, Range<usize>)>]) -> Vec<(Range<usize>, Vec<usize>)> {
    let n = edges.len();
    // reach[i][j]: j can be reached from i. Configs have tens of programs: O(n·e) is fine.
    let reach: Vec<Vec<bool>> = (0..n)
        .map(|start| {
            let mut seen = vec![false; n];
            let mut stack: Vec<usize> = edges[start].iter().map(|(j, _)| *j).collect();
            while let Some(i) = stack.pop() {
                if !std::mem::replace(&mut seen[i], true) {
                    stack.extend(edges[i].iter().map(|(j, _)| *j));
                }
            }
            seen
        })
        .collect();
    let mut reported: HashSet<usize> = HashSet::new();
    let mut out = Vec::new();
    for start in 0..n {
        if reported.contains(&start) || !reach[start][start] {
            continue;
        }
        let group: HashSet<usize> = (0..n).filter(|&j| reach[start][j] && reach[j][start]).collect();
        reported.extend(&group);
        // Breadth-first from `start` inside the group, back to `start`.
        let mut parent: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut last = None;
        'search: while let Some(i) = queue.pop_front() {
            for (j, _) in &edges[i] {
                if *j == start {
                    last = Some(i);
                    break 'search;
                }
                if group.contains(j) && !parent.contains_key(j) && *j != start {
                    parent.insert(*j, i);
                    queue.push_back(*j);
                }
            }
        }
        let Some(mut at) = last else { continue };
        let mut cycle = vec![at];
        while at != start {
            at = parent[&at];
            cycle.push(at);
        }
        cycle.reverse();
        let next = cycle.get(1).copied().unwrap_or(start);
        let span = edges[start]
            .iter()
            .find(|(j, _)| *j == next)
            .map(|(_, s)| s.clone())
            .unwrap_or(0..0);
        out.push((span, cycle));
    }
    out
}
