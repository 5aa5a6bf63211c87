//! The supervision loop: one task owns every program's state and steps it.
//!
//! Inputs arrive on channels — operator commands from [`Handle`], exits from the
//! [reaper](crate::platform::reaper), usage samples from the sampler task — and timers
//! fire from one ordered map; nothing polls. For each input the loop asks the pure
//! [`machine`] what to do and does it (spawn, signal, arm a timer), then settles
//! cross-program questions ([`order`]: dependencies, ordered shutdown, removals) and
//! publishes a fresh [`Snapshot`] on a `watch` channel and [`Event`]s on a broadcast.
//!
//! The supervisor knows nothing of HTTP, alerts, metrics or the store: those read the
//! snapshot or subscribe to events, and the loop never waits for them.

pub mod backoff;
pub mod health;
pub mod machine;
pub mod order;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::config::{self, Config, ConfigDiff, PortSpec, ProbeAction, ProgramSpec};
use crate::events::{Event, EventKind, ExitReason, ExitStatus, ProbeResult, ProbeSnapshot, ProgramSnapshot, Snapshot};
use crate::logs::{self, LogSink, Stream};
use crate::platform::cgroup::{Cgroups, ProgramCgroup};
use crate::platform::reaper::Reaper;
use crate::platform::{spawn, tree};
use health::{Change, ProbeTracker};
use machine::{Action, Input, Phase, Program, StopIntent, Timer};

/// Runs one attempt of a program's probe (`program.probe`, which is set) against the
/// program's port. `app` provides it (the `health` module), so the loop knows nothing of
/// TCP, HTTP or MCP. The attempt must end within the probe's timeout.
pub trait ProbeRunner: Send + Sync + 'static {
    fn run(&self, program: Arc<ProgramSpec>, port: Option<u16>) -> Pin<Box<dyn Future<Output = ProbeResult> + Send>>;
}

/// Slack the loop gives a probe attempt beyond its own timeout before it counts it as
/// timed out itself (a safety net: the runner enforces the timeout).
const PROBE_GRACE: Duration = Duration::from_secs(1);
/// Within its start period, a process that has not passed its probe yet is probed this
/// often (at most), so a program that comes up quickly is healthy quickly even with a
/// long `interval` (Docker's `--start-interval`).
const START_PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// After a forced stop, how long to wait for the killed trees to be reaped.
const FORCED_EXIT_WAIT: Duration = Duration::from_secs(5);
/// How long to wait, after every program is down, for their log pipes to drain.
const LOG_DRAIN_WAIT: Duration = Duration::from_secs(3);

/// Why an operator command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("no program named `{0}`")]
    UnknownProgram(String),
    #[error("program `{0}` is disabled in the configuration")]
    Disabled(String),
    #[error("warden is shutting down")]
    ShuttingDown,
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every program stopped within its stop timeout.
    Graceful,
    /// A second signal or the shutdown deadline killed what was left.
    Forced,
}

type Reply<T> = oneshot::Sender<T>;

enum Command {
    Start(String, Reply<Result<(), CommandError>>),
    Stop(String, Reply<Result<(), CommandError>>),
    /// A scheduled run took too long: stopped as a failure (restart policy applies).
    TimeOut(String, Reply<Result<(), CommandError>>),
    Restart(String, Reply<Result<(), CommandError>>),
    Reload(Box<Config>, Reply<Result<ConfigDiff, CommandError>>),
    ReloadRefused(String),
    Shutdown {
        force: bool,
    },
    Ping(Reply<()>),
    Logs(String, Reply<Option<Arc<LogSink>>>),
    /// The latest verdict of each dependency check, by name (`None`: not checked yet).
    Checks(Vec<(String, Option<bool>)>),
}

/// Messages from warden's own helpers (reaper callbacks, sampler) to the loop.
enum Internal {
    Exited {
        name: String,
        pid: u32,
        status: ExitStatus,
    },
    Sampled {
        at: Instant,
        usage: Vec<(String, u32, tree::Usage)>,
    },
    Probed {
        name: String,
        pid: u32,
        result: ProbeResult,
    },
}

/// The way in: commands, the snapshot, the event stream. Cheap to clone.
#[derive(Clone)]
pub struct Handle {
    commands: mpsc::Sender<Command>,
    snapshot: watch::Receiver<Arc<Snapshot>>,
    events: broadcast::Sender<Event>,
}

impl Handle {
    /// The latest published state of every program.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// The snapshot as it changes (to wait for a state).
    pub fn watch(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshot.clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// A round trip through the loop: `true` when it answered.
    pub async fn ping(&self) -> bool {
        self.ask(Command::Ping).await.is_some()
    }

    pub async fn start(&self, name: &str) -> Result<(), CommandError> {
        let name = name.to_string();
        self.ask(|r| Command::Start(name, r))
            .await
            .unwrap_or(Err(CommandError::ShuttingDown))
    }

    pub async fn stop(&self, name: &str) -> Result<(), CommandError> {
        let name = name.to_string();
        self.ask(|r| Command::Stop(name, r))
            .await
            .unwrap_or(Err(CommandError::ShuttingDown))
    }

    /// Stops a run that took longer than its `timeout`, as a failure (reason `timeout`:
    /// events, alerts and the restart policy follow as for a crash).
    pub async fn time_out(&self, name: &str) -> Result<(), CommandError> {
        let name = name.to_string();
        self.ask(|r| Command::TimeOut(name, r))
            .await
            .unwrap_or(Err(CommandError::ShuttingDown))
    }

    pub async fn restart(&self, name: &str) -> Result<(), CommandError> {
        let name = name.to_string();
        self.ask(|r| Command::Restart(name, r))
            .await
            .unwrap_or(Err(CommandError::ShuttingDown))
    }

    /// Applies a new, already validated configuration.
    pub async fn reload(&self, config: Config) -> Result<ConfigDiff, CommandError> {
        self.ask(|r| Command::Reload(Box::new(config), r))
            .await
            .unwrap_or(Err(CommandError::ShuttingDown))
    }

    /// Records that a reload was refused (the event reaches every subscriber).
    pub async fn reload_refused(&self, error: String) {
        let _ = self.commands.send(Command::ReloadRefused(error)).await;
    }

    /// Begins the ordered shutdown, or with `force` kills every tree at once.
    pub async fn shutdown(&self, force: bool) {
        let _ = self.commands.send(Command::Shutdown { force }).await;
    }

    /// Tells the loop how the dependency checks stand, so programs that `depends_on` a
    /// check start once it passes.
    pub async fn set_checks(&self, checks: Vec<(String, Option<bool>)>) {
        let _ = self.commands.send(Command::Checks(checks)).await;
    }

    /// The log sink of a program (for the tail).
    pub async fn logs(&self, name: &str) -> Option<Arc<LogSink>> {
        let name = name.to_string();
        self.ask(|r| Command::Logs(name, r)).await.flatten()
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.ok()?;
        rx.await.ok()
    }
}

/// Starts the loop and the sampler for `config`. The loop ends after a shutdown, once
/// every program is down and its logs are drained. With `cgroups`, each program runs in
/// a cgroup of its own.
pub fn start(
    config: Config,
    reaper: Reaper,
    cgroups: Option<Cgroups>,
    prober: Arc<dyn ProbeRunner>,
) -> (Handle, JoinHandle<Outcome>) {
    let (commands_tx, commands_rx) = mpsc::channel(256);
    // Unbounded: the reaper's callbacks run under its lock and must never wait. One
    // message per exit, so the queue is bounded by the number of processes in practice.
    let (internal_tx, internal_rx) = mpsc::unbounded_channel();
    let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(Snapshot::default()));
    let (events, _) = broadcast::channel(1024);
    let handle = Handle {
        commands: commands_tx,
        snapshot: snapshot_rx.clone(),
        events: events.clone(),
    };
    tokio::spawn(sampler(
        config.supervisor.sample_interval,
        snapshot_rx,
        reaper.clone(),
        cgroups.clone(),
        internal_tx.clone(),
    ));
    let mut sup = Supervisor {
        programs: HashMap::new(),
        order: Vec::new(),
        log_config: config.logs.clone(),
        config,
        reaper,
        cgroups,
        internal_tx,
        timers: BTreeMap::new(),
        timer_seq: 0,
        events,
        snapshot_tx,
        captures: TaskTracker::new(),
        rng: SmallRng::from_os_rng(),
        shutdown: None,
        removing: HashSet::new(),
        operator_stopped: HashSet::new(),
        dirty: true,
        prober,
        checks: HashMap::new(),
    };
    sup.expect_checks();
    let join = tokio::spawn(async move { sup.run(commands_rx, internal_rx).await });
    (handle, join)
}

/// A program plus what the loop keeps beside its machine.
struct Entry {
    program: Program,
    sink: Option<Arc<LogSink>>,
    /// The program's cgroup, created at its first spawn when cgroups are in use.
    cgroup: Option<ProgramCgroup>,
    memory_bytes: Option<u64>,
    cpu_percent: Option<f64>,
    /// The previous CPU sample of the same process: (pid, ticks, when).
    cpu_prev: Option<(u32, u64, Instant)>,
    /// Since when the tree has been above `memory_limit`.
    over_limit_since: Option<Instant>,
    /// The port passed as `PORT`; an assigned one is kept across restarts.
    port: Option<u16>,
    probe: ProbeTracker,
    /// The probe loop of the current process.
    probe_task: Option<tokio::task::AbortHandle>,
}

impl Entry {
    /// Running and passing its probe (or without one).
    fn healthy(&self) -> bool {
        self.program.phase == Phase::Running && (self.program.spec.probe.is_none() || self.probe.healthy == Some(true))
    }

    fn stop_probe(&mut self) {
        if let Some(task) = self.probe_task.take() {
            task.abort();
        }
        self.probe.reset();
    }
}

struct ShutdownState {
    deadline: Instant,
    forced: bool,
}

struct Supervisor {
    config: Config,
    /// The `[logs]` settings the sinks were opened with (the directory cannot change
    /// without a restart of warden).
    log_config: config::LogConfig,
    programs: HashMap<String, Entry>,
    /// Program names in file order (snapshot order).
    order: Vec<String>,
    reaper: Reaper,
    cgroups: Option<Cgroups>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    /// Pending timers ordered by due time; the sequence number breaks ties.
    timers: BTreeMap<(Instant, u64), (String, u64, Timer)>,
    timer_seq: u64,
    events: broadcast::Sender<Event>,
    snapshot_tx: watch::Sender<Arc<Snapshot>>,
    /// Log capture tasks; drained at shutdown so no line is lost.
    captures: TaskTracker,
    rng: SmallRng,
    shutdown: Option<ShutdownState>,
    /// Programs removed by a reload, to be dropped once down.
    removing: HashSet<String>,
    /// Programs an operator stopped: they stay down across reloads.
    operator_stopped: HashSet<String>,
    /// The snapshot is out of date.
    dirty: bool,
    prober: Arc<dyn ProbeRunner>,
    /// Dependency checks by name: `Some(true)` passing, `None` not checked yet.
    checks: HashMap<String, Option<bool>>,
}

impl Supervisor {
    async fn run(
        &mut self,
        mut commands: mpsc::Receiver<Command>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
    ) -> Outcome {
        let specs: Vec<Arc<ProgramSpec>> = self.config.programs.clone();
        for spec in specs {
            self.add(spec);
        }
        let names = self.order.clone();
        for name in names {
            if self.wants_autostart(&name) {
                self.want_start(&name);
            }
        }
        self.settle();
        loop {
            if self.shutdown.is_some() && self.programs.values().all(|e| !e.program.phase.has_process()) {
                break;
            }
            let next_timer = self.timers.keys().next().map(|(at, _)| *at);
            let deadline = self.shutdown.as_ref().filter(|s| !s.forced).map(|s| s.deadline);
            tokio::select! {
                // Exits first: a restart should not wait behind a queue of commands.
                biased;
                Some(msg) = internal.recv() => {
                    // Take every exit that is already queued before settling, so a burst
                    // (a shutdown, a crashing group) costs one settle, not one each.
                    self.internal(msg);
                    while let Ok(msg) = internal.try_recv() {
                        self.internal(msg);
                    }
                }
                Some(cmd) = commands.recv() => self.command(cmd),
                () = sleep_until(next_timer) => self.fire_timers(),
                () = sleep_until(deadline) => {
                    tracing::warn!("shutdown deadline reached, killing what is left");
                    self.force();
                }
            }
            self.settle();
        }
        let outcome = if self.shutdown.as_ref().is_some_and(|s| s.forced) {
            Outcome::Forced
        } else {
            Outcome::Graceful
        };
        self.captures.close();
        if tokio::time::timeout(LOG_DRAIN_WAIT, self.captures.wait())
            .await
            .is_err()
        {
            tracing::warn!("some program output was still open after shutdown; its last lines may be missing");
        }
        outcome
    }

    // ---- inputs ---------------------------------------------------------------------

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Ping(reply) => {
                let _ = reply.send(());
            }
            Command::Start(name, reply) => {
                let r = self.operator(&name, |sup| {
                    sup.operator_stopped.remove(&name);
                    sup.want_start(&name);
                });
                let _ = reply.send(r);
            }
            Command::Stop(name, reply) => {
                let r = self.check_known(&name).map(|()| {
                    self.operator_stopped.insert(name.clone());
                    self.input(&name, Input::Stop(StopIntent::StayDown(ExitReason::Operator)));
                });
                let _ = reply.send(r);
            }
            Command::TimeOut(name, reply) => {
                let r = self.check_known(&name).map(|()| {
                    if self.programs[&name].program.phase.has_process() {
                        self.input(&name, Input::Stop(StopIntent::Fail(ExitReason::Timeout)));
                    }
                });
                let _ = reply.send(r);
            }
            Command::Restart(name, reply) => {
                let r = self.operator(&name, |sup| {
                    sup.operator_stopped.remove(&name);
                    let phase = sup.programs[&name].program.phase;
                    if phase.has_process() {
                        sup.input(&name, Input::Stop(StopIntent::Restart(ExitReason::Operator)));
                    } else {
                        sup.want_start(&name);
                    }
                });
                let _ = reply.send(r);
            }
            Command::Reload(config, reply) => {
                let r = if self.shutdown.is_some() {
                    Err(CommandError::ShuttingDown)
                } else {
                    Ok(self.reload(*config))
                };
                let _ = reply.send(r);
            }
            Command::ReloadRefused(error) => self.emit(EventKind::ReloadRefused { error }),
            Command::Shutdown { force } => {
                if force || self.shutdown.is_some() {
                    self.force();
                } else {
                    tracing::info!("stopping every program in reverse dependency order");
                    let deadline = Instant::now() + self.config.supervisor.shutdown_timeout;
                    self.shutdown = Some(ShutdownState {
                        deadline,
                        forced: false,
                    });
                    let names = self.order.clone();
                    for name in names {
                        // Down ones become `stopped` (no restart is pending any more);
                        // one being restarted now stays down once it is gone.
                        let phase = self.programs[&name].program.phase;
                        if !phase.has_process() || phase == Phase::Stopping {
                            self.input(&name, Input::Stop(StopIntent::StayDown(ExitReason::Shutdown)));
                        }
                    }
                }
            }
            Command::Logs(name, reply) => {
                let _ = reply.send(self.programs.get(&name).and_then(|e| e.sink.clone()));
            }
            Command::Checks(checks) => {
                for (name, up) in checks {
                    // Results of a check a reload removed are dropped.
                    if let Some(known) = self.checks.get_mut(&name) {
                        *known = up;
                    }
                }
            }
        }
    }

    /// Runs an operator action on an enabled, known program, unless shutting down.
    fn operator(&mut self, name: &str, act: impl FnOnce(&mut Self)) -> Result<(), CommandError> {
        self.check_known(name)?;
        if self.shutdown.is_some() {
            return Err(CommandError::ShuttingDown);
        }
        if !self.programs[name].program.spec.enabled {
            return Err(CommandError::Disabled(name.to_string()));
        }
        act(self);
        Ok(())
    }

    fn check_known(&self, name: &str) -> Result<(), CommandError> {
        if self.programs.contains_key(name) && !self.removing.contains(name) {
            Ok(())
        } else {
            Err(CommandError::UnknownProgram(name.to_string()))
        }
    }

    fn internal(&mut self, msg: Internal) {
        match msg {
            Internal::Exited { name, pid, status } => {
                if self.programs.contains_key(&name) {
                    self.input(&name, Input::Exited { pid, status });
                }
            }
            Internal::Sampled { at, usage } => self.sampled(at, usage),
            Internal::Probed { name, pid, result } => self.probed(&name, pid, result),
        }
    }

    fn probed(&mut self, name: &str, pid: u32, result: ProbeResult) {
        let Some(entry) = self.programs.get_mut(name) else {
            return;
        };
        if entry.program.pid != Some(pid) {
            return; // the result of a process that is already gone
        }
        let Some(probe) = entry.program.spec.probe.as_ref() else {
            return;
        };
        let action = probe.action;
        let message = result.message.clone();
        let starting = entry.program.phase == Phase::Starting;
        let passed = result.ok;
        let change = entry.probe.record(result, probe, starting);
        let failures = entry.probe.consecutive_failures();
        self.dirty = true;
        if passed && starting {
            self.input(name, Input::Up);
        }
        match change {
            None => {}
            Some(Change::BecameHealthy) => {
                self.note(name, &format!("probe passed: {message}"));
                self.emit(EventKind::ProbeChanged {
                    program: name.to_string(),
                    healthy: true,
                    message,
                });
            }
            Some(Change::BecameUnhealthy) => {
                self.note(name, &format!("probe failed {failures} times in a row: {message}"));
                self.emit(EventKind::ProbeChanged {
                    program: name.to_string(),
                    healthy: false,
                    message,
                });
                let phase = self.programs[name].program.phase;
                if action == ProbeAction::Restart && matches!(phase, Phase::Starting | Phase::Running) {
                    self.input(name, Input::Stop(StopIntent::Fail(ExitReason::ProbeFailed)));
                }
            }
        }
    }

    /// Probes the process `pid` of `name` every interval until the process is gone.
    fn start_probe(&mut self, name: &str, pid: u32) {
        let Some(entry) = self.programs.get_mut(name) else {
            return;
        };
        let Some(probe) = &entry.program.spec.probe else { return };
        let (delay, interval, limit) = (probe.initial_delay, probe.interval, probe.timeout + PROBE_GRACE);
        let timeout = probe.timeout;
        let start_period = entry.program.spec.start_period;
        let spec = entry.program.spec.clone();
        let port = entry.port;
        let runner = self.prober.clone();
        let tx = self.internal_tx.clone();
        let owner = name.to_string();
        let task = tokio::spawn(async move {
            let born = tokio::time::Instant::now();
            tokio::time::sleep(delay).await;
            let mut next = tokio::time::Instant::now();
            let mut passed = false;
            loop {
                let started = SystemTime::now();
                let result = tokio::time::timeout(limit, runner.run(spec.clone(), port))
                    .await
                    .unwrap_or_else(|_| ProbeResult {
                        ok: false,
                        message: format!("timed out after {}", config::format_duration(timeout)),
                        duration: limit,
                        at: started,
                    });
                passed |= result.ok;
                let sent = tx.send(Internal::Probed {
                    name: owner.clone(),
                    pid,
                    result,
                });
                if sent.is_err() {
                    return;
                }
                // A fixed rate; an attempt that took longer than the interval is
                // followed by the next one at once, never by a burst.
                let wait = if !passed && born.elapsed() < start_period {
                    interval.min(START_PROBE_INTERVAL)
                } else {
                    interval
                };
                next = (next + wait).max(tokio::time::Instant::now());
                tokio::time::sleep_until(next).await;
            }
        });
        entry.stop_probe();
        entry.probe_task = Some(task.abort_handle());
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (name, epoch, timer) = entry.remove();
            if self.programs.contains_key(&name) {
                self.input(&name, Input::Timer { epoch, timer });
            }
        }
    }

    fn sampled(&mut self, at: Instant, usage: Vec<(String, u32, tree::Usage)>) {
        let ticks_per_sec = tree::clock_ticks_per_second() as f64;
        let mut over = Vec::new();
        for (name, pid, u) in usage {
            let Some(entry) = self.programs.get_mut(&name) else {
                continue;
            };
            if entry.program.pid != Some(pid) {
                continue; // a sample of a process that is already gone
            }
            entry.memory_bytes = Some(u.rss_bytes);
            entry.cpu_percent = match entry.cpu_prev {
                Some((p, ticks, when)) if p == pid && at > when => {
                    let secs = at.duration_since(when).as_secs_f64();
                    Some(u.cpu_ticks.saturating_sub(ticks) as f64 / ticks_per_sec / secs * 100.0)
                }
                _ => None,
            };
            entry.cpu_prev = Some((pid, u.cpu_ticks, at));
            let spec = &entry.program.spec;
            match spec.memory_limit {
                Some(limit) if u.rss_bytes > limit => {
                    let since = *entry.over_limit_since.get_or_insert(at);
                    if at.duration_since(since) >= spec.memory_limit_grace {
                        entry.over_limit_since = None;
                        over.push((name.clone(), u.rss_bytes, limit));
                    }
                }
                _ => entry.over_limit_since = None,
            }
            self.dirty = true;
        }
        for (name, rss, limit) in over {
            self.note(
                &name,
                &format!("memory {} above the limit of {} bytes, restarting", rss, limit),
            );
            self.input(&name, Input::Stop(StopIntent::Fail(ExitReason::MemoryLimit)));
        }
    }

    // ---- stepping and acting --------------------------------------------------------

    /// Feeds one input to a program's machine and carries out the actions, including
    /// the inputs those actions produce (a spawn answers with `Spawned`).
    fn input(&mut self, name: &str, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let Some(entry) = self.programs.get_mut(name) else {
                return;
            };
            let actions = entry
                .program
                .step(input, Instant::now(), SystemTime::now(), &mut self.rng);
            self.dirty = true;
            for action in actions {
                if let Some(next) = self.act(name, action) {
                    queue.push_back(next);
                }
            }
        }
    }

    fn act(&mut self, name: &str, action: Action) -> Option<Input> {
        let entry = self.programs.get_mut(name)?;
        let registered = |reaper: &Reaper| {
            let set = reaper.registered();
            move |pid: i32| set.contains(&pid)
        };
        let main = entry.program.pid.map(|p| p as i32);
        let members = entry.cgroup.as_ref().map(ProgramCgroup::pids).unwrap_or_default();
        match action {
            // Nothing new starts once the shutdown has begun (a program that crashes
            // while waiting for its dependents to stop stays down).
            Action::Spawn if self.shutdown.is_some() => Some(Input::Abort(ExitReason::Shutdown)),
            Action::Spawn => Some(self.spawn(name)),
            Action::Signal(sig) => {
                let spawned = registered(&self.reaper);
                tree::signal_tree(main, name, sig, &spawned, &members);
                // A stopped (SIGSTOP) process would not act on the stop signal before
                // `stop_timeout`; like systemd, wake it so it can.
                if sig != Signal::SIGCONT {
                    tree::signal_tree(main, name, Signal::SIGCONT, &spawned, &members);
                }
                None
            }
            Action::Kill => {
                if let Some(cg) = &entry.cgroup {
                    cg.kill_all();
                }
                tree::signal_tree(main, name, Signal::SIGKILL, &registered(&self.reaper), &members);
                None
            }
            Action::Cleanup { pid } => {
                // The main process is gone; anything of its tree still alive would
                // outlive the program (and hold its ports across the restart).
                if let Some(cg) = &entry.cgroup {
                    cg.kill_all();
                }
                let left = tree::signal_tree(
                    Some(pid as i32),
                    name,
                    Signal::SIGKILL,
                    &registered(&self.reaper),
                    &members,
                );
                if left > 0 {
                    tracing::info!(
                        program = name,
                        processes = left,
                        "killed processes left behind by the program"
                    );
                }
                entry.memory_bytes = None;
                entry.cpu_percent = None;
                entry.cpu_prev = None;
                entry.over_limit_since = None;
                entry.stop_probe();
                None
            }
            Action::Arm { at, epoch, timer } => {
                self.timer_seq += 1;
                self.timers
                    .insert((at, self.timer_seq), (name.to_string(), epoch, timer));
                None
            }
            Action::Emit(kind) => {
                self.emit(kind);
                None
            }
            Action::Note(text) => {
                if let Some(sink) = &entry.sink {
                    sink.note(&text);
                }
                None
            }
        }
    }

    fn spawn(&mut self, name: &str) -> Input {
        let entry = self.programs.get_mut(name).expect("spawn of a known program");
        if entry.sink.is_none() {
            match LogSink::open(
                &self.log_config.dir,
                name,
                entry.program.spec.rotation,
                self.log_config.tail_lines,
                self.log_config.max_line,
            ) {
                Ok(sink) => entry.sink = Some(sink),
                Err(e) => {
                    return Input::SpawnFailed {
                        error: format!("cannot open its log file in {}: {e}", self.log_config.dir.display()),
                    }
                }
            }
        }
        if entry.cgroup.is_none() {
            if let Some(cgroups) = &self.cgroups {
                match cgroups.program(name) {
                    Ok(cg) => entry.cgroup = Some(cg),
                    Err(e) => tracing::warn!(program = name, error = %e, "cannot create the program's cgroup"),
                }
            }
        }
        let port = match self.port_for(name) {
            Ok(port) => port,
            Err(error) => return Input::SpawnFailed { error },
        };
        let entry = self.programs.get_mut(name).expect("spawn of a known program");
        entry.port = port;
        let tx = self.internal_tx.clone();
        let owner = name.to_string();
        let on_exit = Box::new(move |pid, status| {
            let _ = tx.send(Internal::Exited {
                name: owner,
                pid,
                status,
            });
        });
        match spawn::spawn(&self.reaper, &entry.program.spec, entry.cgroup.as_ref(), port, on_exit) {
            Ok(child) => {
                let sink = entry.sink.clone().expect("sink opened above");
                self.captures.spawn(capture(child.stdout, Stream::Stdout, sink.clone()));
                self.captures.spawn(capture(child.stderr, Stream::Stderr, sink));
                self.start_probe(name, child.pid);
                Input::Spawned { pid: child.pid }
            }
            Err(e) => Input::SpawnFailed {
                error: spawn_error(&entry.program.spec, &e),
            },
        }
    }

    /// The port `name` gets as `PORT`: its fixed one, the one it was assigned before
    /// (kept across restarts while it stays in the range), or a free one from
    /// `[ports] range` that no other program holds and that can be bound right now.
    fn port_for(&self, name: &str) -> Result<Option<u16>, String> {
        let entry = &self.programs[name];
        let range = self.config.ports;
        match entry.program.spec.port {
            None => Ok(None),
            Some(PortSpec::Fixed(port)) => Ok(Some(port)),
            Some(PortSpec::Auto) => {
                if let Some(port) = entry.port.filter(|p| range.contains(*p)) {
                    return Ok(Some(port));
                }
                let taken: HashSet<u16> = self
                    .programs
                    .iter()
                    .filter(|(other, _)| other.as_str() != name)
                    .flat_map(|(_, e)| {
                        let fixed = match e.program.spec.port {
                            Some(PortSpec::Fixed(p)) => Some(p),
                            _ => None,
                        };
                        fixed.into_iter().chain(e.port)
                    })
                    .collect();
                (range.first..=range.last)
                    .filter(|p| !taken.contains(p))
                    .find(|p| std::net::TcpListener::bind(("0.0.0.0", *p)).is_ok())
                    .map(Some)
                    .ok_or_else(|| {
                        format!(
                            "no free port in [ports] range {}-{} (all taken by programs or other processes)",
                            range.first, range.last
                        )
                    })
            }
        }
    }

    fn note(&self, name: &str, text: &str) {
        if let Some(sink) = self.programs.get(name).and_then(|e| e.sink.as_ref()) {
            sink.note(text);
        }
    }

    fn emit(&mut self, kind: EventKind) {
        log_event(&kind);
        let _ = self.events.send(Event {
            at: SystemTime::now(),
            kind,
        });
    }

    // ---- cross-program questions ----------------------------------------------------

    fn add(&mut self, spec: Arc<ProgramSpec>) {
        let name = spec.name.clone();
        self.order.push(name.clone());
        let entry = Entry {
            program: Program::new(spec),
            sink: None,
            cgroup: None,
            memory_bytes: None,
            cpu_percent: None,
            cpu_prev: None,
            over_limit_since: None,
            port: None,
            probe: ProbeTracker::default(),
            probe_task: None,
        };
        self.programs.insert(name, entry);
    }

    fn wants_autostart(&self, name: &str) -> bool {
        let spec = &self.programs[name].program.spec;
        spec.enabled && spec.autostart && !self.operator_stopped.contains(name)
    }

    /// Starts `name` now, or makes it wait for its dependencies.
    fn want_start(&mut self, name: &str) {
        let input = match self.blocked_on(name) {
            Some(why) => Input::Wait(why),
            None => Input::Start,
        };
        self.input(name, input);
    }

    fn blocked_on(&self, name: &str) -> Option<String> {
        let view = |dep: &str| {
            let program = self
                .programs
                .get(dep)
                .filter(|_| !self.removing.contains(dep))
                .map(|e| order::View::Program {
                    phase: e.program.phase,
                    last_exit: e.program.last_exit.as_ref().map(|x| x.status),
                    enabled: e.program.spec.enabled,
                    healthy: e.healthy(),
                });
            program.or_else(|| self.checks.get(dep).map(|up| order::View::Check { up: *up }))
        };
        order::blocked_on(&self.programs[name].program.spec, &view)
    }

    /// Brings cross-program state up to date after inputs: waiting programs whose
    /// dependencies are now met start, the ordered shutdown advances, removed programs
    /// that are down go away; then the snapshot is republished.
    fn settle(&mut self) {
        // Each pass can unblock more programs (a `started` dependency is met at once), so
        // repeat until nothing moves; a DAG needs at most one pass per level.
        for _ in 0..=self.order.len() {
            let mut moved = false;
            if self.shutdown.is_none() {
                let waiting: Vec<String> = self
                    .order
                    .iter()
                    .filter(|n| self.programs[*n].program.phase == Phase::Waiting)
                    .cloned()
                    .collect();
                for name in waiting {
                    let before = self.programs[&name].program.reason.clone();
                    self.want_start(&name);
                    let p = &self.programs[&name].program;
                    moved |= p.phase != Phase::Waiting || p.reason != before;
                }
            } else {
                moved |= self.advance_shutdown();
            }
            if !moved {
                break;
            }
        }
        let gone: Vec<String> = self
            .removing
            .iter()
            .filter(|n| self.programs.get(*n).is_none_or(|e| !e.program.phase.has_process()))
            .cloned()
            .collect();
        for name in gone {
            self.removing.remove(&name);
            self.programs.remove(&name);
            if let Some(cgroups) = &self.cgroups {
                cgroups.remove(&name);
            }
            self.order.retain(|n| *n != name);
            self.dirty = true;
        }
        if self.dirty {
            self.dirty = false;
            self.snapshot_tx.send_replace(Arc::new(self.build_snapshot()));
        }
    }

    /// Stops every running program none of whose dependents is still up.
    fn advance_shutdown(&mut self) -> bool {
        let needed = order::still_needed(
            self.programs
                .values()
                .map(|e| (e.program.spec.as_ref(), e.program.phase)),
        );
        let ready: Vec<String> = self
            .order
            .iter()
            .filter(|n| matches!(self.programs[*n].program.phase, Phase::Starting | Phase::Running))
            .filter(|n| !needed.contains(n.as_str()))
            .cloned()
            .collect();
        for name in &ready {
            self.input(name, Input::Stop(StopIntent::StayDown(ExitReason::Shutdown)));
        }
        !ready.is_empty()
    }

    /// SIGKILL every tree now (second signal, or the shutdown deadline passed).
    fn force(&mut self) {
        let deadline = Instant::now() + FORCED_EXIT_WAIT;
        self.shutdown = Some(ShutdownState { deadline, forced: true });
        let names = self.order.clone();
        for name in names {
            let phase = self.programs[&name].program.phase;
            if phase.has_process() {
                self.input(&name, Input::Stop(StopIntent::StayDown(ExitReason::Shutdown)));
                self.act(&name, Action::Kill);
            } else {
                self.input(&name, Input::Stop(StopIntent::StayDown(ExitReason::Shutdown)));
            }
        }
    }

    /// The configured checks, each unknown until its first result; results of checks
    /// that stay configured are kept.
    fn expect_checks(&mut self) {
        let names: HashSet<&str> = self.config.checks.iter().map(|c| c.name.as_str()).collect();
        self.checks.retain(|name, _| names.contains(name.as_str()));
        for name in names {
            self.checks.entry(name.to_string()).or_insert(None);
        }
    }

    fn reload(&mut self, new: Config) -> ConfigDiff {
        let diff = config::diff(&self.config, &new);
        if new.server != self.config.server
            || new.supervisor != self.config.supervisor
            || new.logs.dir != self.log_config.dir
        {
            tracing::warn!("[server], [supervisor] and logs.dir take effect only when warden restarts");
        }
        for name in &diff.removed {
            self.removing.insert(name.clone());
            self.operator_stopped.remove(name);
            self.input(name, Input::Stop(StopIntent::StayDown(ExitReason::Reload)));
        }
        for name in &diff.unchanged {
            let spec = new
                .program(name)
                .expect("unchanged program is in the new config")
                .clone();
            let entry = self.programs.get_mut(name).expect("unchanged program is known");
            if let Some(sink) = &entry.sink {
                sink.set_rotation(spec.rotation);
            }
            // Equal but for rotation, probe or `required`: swapping in place restarts
            // nothing; a changed probe starts over with the current process.
            let probe_changed = entry.program.spec.probe != spec.probe;
            entry.program.spec = spec;
            if probe_changed {
                entry.stop_probe();
                if let Some(pid) = entry.program.pid {
                    self.start_probe(name, pid);
                }
            }
        }
        for name in &diff.changed {
            let spec = new.program(name).expect("changed program is in the new config").clone();
            let entry = self.programs.get_mut(name).expect("changed program is known");
            if let Some(sink) = &entry.sink {
                sink.set_rotation(spec.rotation);
            }
            let phase = entry.program.phase;
            entry.program.next_spec = Some(spec.clone());
            let wanted = spec.enabled && spec.autostart && !self.operator_stopped.contains(name);
            if phase.has_process() {
                let intent = if spec.enabled && !self.operator_stopped.contains(name) {
                    StopIntent::Restart(ExitReason::Reload)
                } else {
                    StopIntent::StayDown(ExitReason::Reload)
                };
                self.input(name, Input::Stop(intent));
            } else {
                let program = &mut self.programs.get_mut(name).expect("known").program;
                program.next_spec = None;
                program.replace_spec(spec);
                if wanted {
                    self.want_start(name);
                } else {
                    self.input(name, Input::Stop(StopIntent::StayDown(ExitReason::Reload)));
                }
            }
        }
        for name in &diff.added {
            let spec = new.program(name).expect("added program is in the new config").clone();
            self.add(spec);
        }
        // File order of the new config; removed programs stay listed until they are down.
        let mut order: Vec<String> = new.programs.iter().map(|p| p.name.clone()).collect();
        order.extend(diff.removed.iter().cloned());
        self.order = order;
        self.config = new;
        self.expect_checks();
        for name in &diff.added {
            if self.wants_autostart(name) {
                self.want_start(name);
            }
        }
        self.emit(EventKind::Reloaded {
            added: diff.added.clone(),
            changed: diff.changed.clone(),
            removed: diff.removed.clone(),
        });
        diff
    }

    fn build_snapshot(&self) -> Snapshot {
        let programs = self
            .order
            .iter()
            .filter_map(|name| self.programs.get(name))
            .map(|e| {
                let p = &e.program;
                ProgramSnapshot {
                    name: p.spec.name.clone(),
                    state: p.phase.state(),
                    reason: p.reason.clone(),
                    pid: p.pid,
                    restarts: p.restarts,
                    started_at: p.started.map(|(_, wall)| wall),
                    last_exit: p.last_exit.clone(),
                    next_restart_at: p.next_restart.map(|(_, wall)| wall),
                    memory_bytes: e.memory_bytes,
                    cpu_percent: e.cpu_percent,
                    enabled: p.spec.enabled,
                    required: p.spec.required,
                    port: e.port.or(match p.spec.port {
                        Some(PortSpec::Fixed(port)) => Some(port),
                        _ => None,
                    }),
                    probe: p.spec.probe.as_ref().map(|probe| ProbeSnapshot {
                        kind: probe.kind.as_str(),
                        healthy: e.probe.healthy,
                        last: e.probe.last.clone(),
                        consecutive_failures: e.probe.consecutive_failures(),
                        action: probe.action.as_str(),
                    }),
                    healthy: e.healthy(),
                    log: e.sink.as_ref().map(|sink| sink.counters()),
                }
            })
            .collect();
        Snapshot { programs }
    }
}

async fn capture(pipe: tokio::net::unix::pipe::Receiver, stream: Stream, sink: Arc<LogSink>) {
    if let Err(e) = logs::capture(pipe, stream, sink).await {
        tracing::warn!(error = %e, "reading program output failed");
    }
}

/// A spawn error in the operator's words, naming the program's command.
fn spawn_error(spec: &ProgramSpec, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => match &spec.cwd {
            Some(cwd) if !cwd.is_dir() => format!("working directory {} does not exist", cwd.display()),
            _ => format!("command `{}` not found", spec.command),
        },
        std::io::ErrorKind::PermissionDenied => {
            format!("command `{}` is not executable (permission denied)", spec.command)
        }
        _ => format!("cannot run `{}`: {e}", spec.command),
    }
}

/// warden's own log line for each event.
fn log_event(kind: &EventKind) {
    match kind {
        EventKind::Spawned { program, pid } => tracing::info!(program, pid, "program started"),
        EventKind::Exited { program, pid, record } => {
            let code = record.status.and_then(|s| s.code());
            let signal = record.status.and_then(|s| s.signal());
            if record.reason.is_failure() {
                tracing::warn!(program, pid, code, signal, reason = %record.reason, "program exited");
            } else {
                tracing::info!(program, pid, code, signal, reason = %record.reason, "program exited");
            }
        }
        EventKind::StateChanged {
            program,
            from,
            to,
            reason,
        } => {
            tracing::debug!(program, %from, %to, reason = reason.as_deref(), "state changed");
        }
        EventKind::GaveUp {
            program,
            restarts,
            window_secs,
        } => {
            tracing::error!(
                program,
                restarts,
                window_secs,
                "program failed: restart limit reached, it stays down"
            );
        }
        EventKind::Reloaded {
            added,
            changed,
            removed,
        } => {
            tracing::info!(?added, ?changed, ?removed, "configuration reloaded");
        }
        EventKind::ReloadRefused { error } => {
            tracing::error!(error = %error, "configuration reload refused, the previous configuration keeps running");
        }
        EventKind::ProbeChanged {
            program,
            healthy: true,
            message,
        } => tracing::info!(program, result = %message, "probe passing: program healthy"),
        EventKind::ProbeChanged {
            program,
            healthy: false,
            message,
        } => tracing::warn!(program, result = %message, "probe failing: program unhealthy"),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Every `interval`, measures the memory and CPU of each program's tree off the loop
/// (reading `/proc` is blocking I/O) and hands the result to the loop.
async fn sampler(
    interval: Duration,
    snapshot: watch::Receiver<Arc<Snapshot>>,
    reaper: Reaper,
    cgroups: Option<Cgroups>,
    tx: mpsc::UnboundedSender<Internal>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let running: Vec<(String, u32)> = snapshot
            .borrow()
            .programs
            .iter()
            .filter_map(|p| p.pid.map(|pid| (p.name.clone(), pid)))
            .collect();
        if running.is_empty() {
            continue;
        }
        let reaper = reaper.clone();
        let cgroups = cgroups.clone();
        let measured = tokio::task::spawn_blocking(move || {
            // Adopted orphans are looked up once, and only if some program has no cgroup.
            let mut orphans: Option<HashMap<String, Vec<i32>>> = None;
            running
                .into_iter()
                .map(|(name, pid)| {
                    // A program's cgroup holds its whole tree (escapees included): one
                    // read lists it. Without one, walk the tree from /proc.
                    let members = cgroups.as_ref().map(|cg| cg.pids_of(&name)).unwrap_or_default();
                    let pids = if members.contains(&(pid as i32)) {
                        members
                    } else {
                        let orphans = orphans.get_or_insert_with(|| {
                            let registered = reaper.registered();
                            tree::orphans(&|pid| registered.contains(&pid))
                        });
                        let mut roots = vec![pid as i32];
                        roots.extend(orphans.remove(&name).unwrap_or_default());
                        roots.extend(members);
                        let mut pids: Vec<i32> = roots.into_iter().flat_map(tree::descendants).collect();
                        pids.sort_unstable();
                        pids.dedup();
                        pids
                    };
                    let usage = tree::usage(&pids);
                    (name, pid, usage)
                })
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(usage) = measured else { continue };
        if tx
            .send(Internal::Sampled {
                at: Instant::now(),
                usage,
            })
            .is_err()
        {
            return;
        }
    }
}
