//! The life of one program as a pure state machine.
//!
//! [`Program::step`] takes an [`Input`] and the current time and returns the
//! [`Action`]s the loop must carry out (spawn, signal, arm a timer, publish an event).
//! It does no I/O and reads no clock, so every policy — restart or not, how long to back
//! off, when to give up — is unit-tested here with plain data. Cross-program concerns
//! (dependencies, shutdown order, reload) belong to the loop in `mod.rs`.
//!
//! Timers carry the program's `epoch`, which advances on every phase change: a timer
//! armed for an earlier phase (a restart that an operator already did by hand, a stop
//! timeout for a process that already exited) is recognised as stale and ignored, so no
//! timer is ever cancelled explicitly.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use rand::Rng;

use super::backoff::Backoff;
use crate::config::{ProgramSpec, RestartPolicy};
use crate::events::{EventKind, ExitReason, ExitRecord, ExitStatus, ProgramState};

/// A spawn failure is never retried sooner than this, whatever the backoff says: a
/// missing executable will not appear within microseconds, and a zero backoff with
/// unlimited restarts would otherwise spin.
pub const SPAWN_FAILURE_MIN_DELAY: Duration = Duration::from_secs(1);

/// Finer than [`ProgramState`]: `Waiting` shows as `starting` (with a reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Asked to start, blocked on a dependency.
    Waiting,
    Starting,
    Running,
    Backoff,
    Stopping,
    Stopped,
    Exited,
    Failed,
}

impl Phase {
    pub fn state(self) -> ProgramState {
        match self {
            Phase::Waiting | Phase::Starting => ProgramState::Starting,
            Phase::Running => ProgramState::Running,
            Phase::Backoff => ProgramState::Backoff,
            Phase::Stopping => ProgramState::Stopping,
            Phase::Stopped => ProgramState::Stopped,
            Phase::Exited => ProgramState::Exited,
            Phase::Failed => ProgramState::Failed,
        }
    }

    /// Whether a process may be alive.
    pub fn has_process(self) -> bool {
        matches!(self, Phase::Starting | Phase::Running | Phase::Stopping)
    }
}

/// What happens once the process is gone after warden asked it to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopIntent {
    /// Stay down (operator stop, removal, shutdown).
    StayDown(ExitReason),
    /// Start again at once (operator restart, reload of a changed program).
    Restart(ExitReason),
    /// Treat as a failure of the program: the restart policy and backoff apply
    /// (memory limit, failed probe).
    Fail(ExitReason),
}

impl StopIntent {
    fn reason(&self) -> &ExitReason {
        match self {
            StopIntent::StayDown(r) | StopIntent::Restart(r) | StopIntent::Fail(r) => r,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start now (dependencies were checked by the loop). From the operator, autostart,
    /// or a dependency becoming ready.
    Start,
    /// Blocked on a dependency: wait, saying why.
    Wait(String),
    /// Stop (or restart, or fail) the program.
    Stop(StopIntent),
    /// The loop spawned the process.
    Spawned { pid: u32 },
    /// The loop could not spawn it.
    SpawnFailed { error: String },
    /// The main process exited.
    Exited { pid: u32, status: ExitStatus },
    /// The spawn this machine asked for will not happen (warden is shutting down).
    Abort(ExitReason),
    /// A timer armed by an earlier [`Action::Arm`] fired.
    Timer { epoch: u64, timer: Timer },
    /// The program's probe passed: it is up, even before `start_period` is over.
    Up,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The process has been up for `start_period`.
    StartPeriod,
    /// `stop_timeout` after the stop signal.
    StopTimeout,
    /// Backoff is over.
    Restart,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Spawn the process; answer with `Spawned` or `SpawnFailed`.
    Spawn,
    /// Send this signal to the whole tree.
    Signal(Signal),
    /// SIGKILL the whole tree (stop timeout).
    Kill,
    /// The main process is gone: SIGKILL whatever it left behind.
    Cleanup { pid: u32 },
    /// Deliver `Input::Timer { epoch, timer }` at `at`.
    Arm { at: Instant, epoch: u64, timer: Timer },
    /// Publish this event.
    Emit(EventKind),
    /// Write a line about the program into its log.
    Note(String),
}

/// One program's runtime state.
#[derive(Debug, Clone)]
pub struct Program {
    pub spec: Arc<ProgramSpec>,
    pub phase: Phase,
    /// Why the program is in its phase, in words.
    pub reason: Option<String>,
    pub pid: Option<u32>,
    /// When the current process started (monotonic for policy, wall clock for display).
    pub started: Option<(Instant, SystemTime)>,
    /// Restarts since warden started.
    pub restarts: u32,
    /// Times of automatic restarts inside the restart window (the restart budget).
    pub recent_restarts: VecDeque<Instant>,
    pub backoff: Backoff,
    /// While in backoff: when the restart is due.
    pub next_restart: Option<(Instant, SystemTime)>,
    pub last_exit: Option<ExitRecord>,
    /// Set while warden is stopping the process on purpose.
    pub intent: Option<StopIntent>,
    /// Advances on every phase change; stale timers carry an older value.
    pub epoch: u64,
    /// A spec that replaces `spec` at the next spawn (reload of a changed program).
    pub next_spec: Option<Arc<ProgramSpec>>,
}

impl Program {
    pub fn new(spec: Arc<ProgramSpec>) -> Self {
        let backoff = Backoff::new(spec.backoff);
        let reason = if !spec.enabled {
            Some("disabled".to_string())
        } else if !spec.autostart {
            Some("not started automatically (autostart = false)".to_string())
        } else {
            None
        };
        Program {
            spec,
            phase: Phase::Stopped,
            reason,
            pid: None,
            started: None,
            restarts: 0,
            recent_restarts: VecDeque::new(),
            backoff,
            next_restart: None,
            last_exit: None,
            intent: None,
            epoch: 0,
            next_spec: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Advances the machine. `wall` is the wall-clock twin of `now`, for display only.
    pub fn step(&mut self, input: Input, now: Instant, wall: SystemTime, rng: &mut impl Rng) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => self.start(now, &mut out),
            Input::Wait(why) => {
                if matches!(
                    self.phase,
                    Phase::Stopped | Phase::Exited | Phase::Failed | Phase::Waiting
                ) {
                    self.set_phase(Phase::Waiting, Some(why), &mut out);
                }
            }
            Input::Stop(intent) => self.stop(intent, now, &mut out),
            Input::Spawned { pid } => {
                self.pid = Some(pid);
                self.started = Some((now, wall));
                self.next_restart = None;
                out.push(Action::Emit(EventKind::Spawned {
                    program: self.spec.name.clone(),
                    pid,
                }));
                out.push(Action::Note(format!("started, pid {pid}")));
                if self.spec.start_period.is_zero() {
                    self.set_phase(Phase::Running, None, &mut out);
                } else {
                    self.set_phase(Phase::Starting, None, &mut out);
                    out.push(Action::Arm {
                        at: now + self.spec.start_period,
                        epoch: self.epoch,
                        timer: Timer::StartPeriod,
                    });
                }
            }
            Input::SpawnFailed { error } => {
                let record = ExitRecord {
                    at: wall,
                    status: None,
                    reason: ExitReason::SpawnFailed(error),
                };
                self.pid = None;
                self.started = None;
                self.ended(None, record, now, wall, rng, &mut out);
            }
            Input::Exited { pid, status } => {
                if self.pid != Some(pid) {
                    return out; // not the current process (already handled)
                }
                let reason = match &self.intent {
                    Some(intent) => intent.reason().clone(),
                    None => match status {
                        ExitStatus::Code(c) => ExitReason::ExitCode(c),
                        ExitStatus::Signal(s) => ExitReason::Signal(s),
                    },
                };
                let record = ExitRecord {
                    at: wall,
                    status: Some(status),
                    reason,
                };
                out.push(Action::Cleanup { pid });
                self.ended(Some(pid), record, now, wall, rng, &mut out);
            }
            Input::Abort(reason) => {
                if self.phase == Phase::Starting && self.pid.is_none() {
                    self.set_phase(Phase::Stopped, Some(reason.to_string()), &mut out);
                }
            }
            Input::Up => {
                if self.phase == Phase::Starting {
                    self.set_phase(Phase::Running, None, &mut out);
                }
            }
            Input::Timer { epoch, timer } => {
                if epoch != self.epoch {
                    return out;
                }
                match (timer, self.phase) {
                    (Timer::StartPeriod, Phase::Starting) => self.set_phase(Phase::Running, None, &mut out),
                    (Timer::StopTimeout, Phase::Stopping) => {
                        out.push(Action::Note(format!(
                            "did not stop within {}, sending SIGKILL to its tree",
                            humantime::format_duration(self.spec.stop_timeout)
                        )));
                        out.push(Action::Kill);
                    }
                    (Timer::Restart, Phase::Backoff) => {
                        self.restarts += 1;
                        self.spawn(&mut out);
                    }
                    _ => {}
                }
            }
        }
        out
    }

    fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self.phase {
            Phase::Stopped | Phase::Exited | Phase::Failed | Phase::Waiting => {
                if matches!(self.phase, Phase::Failed | Phase::Exited) {
                    // A start after the program ended (an operator's, or a scheduled
                    // job's next run) begins with a fresh restart budget and backoff.
                    self.recent_restarts.clear();
                    self.backoff.reset();
                }
                self.spawn(out);
            }
            Phase::Backoff => {
                // Start now instead of waiting out the backoff.
                self.restarts += 1;
                self.spawn(out);
            }
            Phase::Stopping => {
                // Come back as soon as the old process is gone.
                let reason = self
                    .intent
                    .as_ref()
                    .map_or(ExitReason::Operator, |i| i.reason().clone());
                self.intent = Some(StopIntent::Restart(reason));
            }
            Phase::Starting | Phase::Running => {}
        }
        let _ = now;
    }

    fn stop(&mut self, intent: StopIntent, now: Instant, out: &mut Vec<Action>) {
        match self.phase {
            Phase::Starting | Phase::Running => {
                let text = match &intent {
                    StopIntent::Restart(r) => format!("restarting ({r})"),
                    StopIntent::StayDown(r) | StopIntent::Fail(r) => format!("stopping ({r})"),
                };
                self.intent = Some(intent);
                self.set_phase(Phase::Stopping, Some(text.clone()), out);
                out.push(Action::Note(format!(
                    "{text}: sending {}",
                    self.spec.stop_signal.as_str()
                )));
                out.push(Action::Signal(self.spec.stop_signal));
                out.push(Action::Arm {
                    at: now + self.spec.stop_timeout,
                    epoch: self.epoch,
                    timer: Timer::StopTimeout,
                });
            }
            Phase::Stopping => {
                // A later wish replaces an earlier one (restart, then stop: stay down).
                self.intent = Some(intent);
            }
            Phase::Backoff | Phase::Waiting | Phase::Stopped | Phase::Exited | Phase::Failed => match intent {
                StopIntent::StayDown(reason) => {
                    self.next_restart = None;
                    if self.phase != Phase::Stopped {
                        self.set_phase(Phase::Stopped, Some(reason.to_string()), out);
                    }
                }
                StopIntent::Restart(_) => self.start(now, out),
                StopIntent::Fail(_) => {}
            },
        }
    }

    /// Puts the new spec in place (reload) and asks the loop to spawn.
    fn spawn(&mut self, out: &mut Vec<Action>) {
        if let Some(spec) = self.next_spec.take() {
            self.replace_spec(spec);
        }
        self.intent = None;
        self.next_restart = None;
        self.set_phase(Phase::Starting, None, out);
        out.push(Action::Spawn);
    }

    /// A reload changed the program: new settings, a fresh backoff and restart budget
    /// (the old failures were failures of the old settings).
    pub fn replace_spec(&mut self, spec: Arc<ProgramSpec>) {
        self.backoff = Backoff::new(spec.backoff);
        self.recent_restarts.clear();
        self.spec = spec;
    }

    /// The process is gone (or never started): decide what comes next.
    fn ended(
        &mut self,
        pid: Option<u32>,
        record: ExitRecord,
        now: Instant,
        wall: SystemTime,
        rng: &mut impl Rng,
        out: &mut Vec<Action>,
    ) {
        let uptime = self.started.map(|(t, _)| now.saturating_duration_since(t));
        self.pid = None;
        self.started = None;
        out.push(Action::Emit(EventKind::Exited {
            program: self.spec.name.clone(),
            pid,
            record: record.clone(),
        }));
        let reason = record.reason.clone();
        let spawn_failed = matches!(reason, ExitReason::SpawnFailed(_));
        self.last_exit = Some(record);
        if !spawn_failed {
            out.push(Action::Note(format!("exited: {reason}")));
        } else {
            out.push(Action::Note(format!("{reason}")));
        }
        match self.intent.take() {
            Some(StopIntent::StayDown(r)) => {
                self.set_phase(Phase::Stopped, Some(r.to_string()), out);
                return;
            }
            Some(StopIntent::Restart(_)) => {
                self.restarts += 1;
                self.spawn(out);
                return;
            }
            Some(StopIntent::Fail(_)) | None => {}
        }
        // An exit nobody asked for (or a failure warden acted on): the policy decides.
        let restart = match self.spec.restart {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => reason.is_failure(),
            RestartPolicy::Always => true,
        };
        if !restart {
            self.set_phase(Phase::Exited, Some(reason.to_string()), out);
            return;
        }
        if uptime.is_some_and(|u| u >= self.spec.backoff.reset_after) {
            self.backoff.reset();
        }
        let window = self.spec.restart_window;
        while self
            .recent_restarts
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.recent_restarts.pop_front();
        }
        if self.spec.max_restarts > 0 && self.recent_restarts.len() as u32 >= self.spec.max_restarts {
            let text = format!(
                "gave up after {} restarts within {} (last: {reason})",
                self.recent_restarts.len(),
                humantime::format_duration(window)
            );
            out.push(Action::Emit(EventKind::GaveUp {
                program: self.spec.name.clone(),
                restarts: self.recent_restarts.len() as u32,
                window_secs: window.as_secs(),
            }));
            out.push(Action::Note(text.clone()));
            self.set_phase(Phase::Failed, Some(text), out);
            return;
        }
        self.recent_restarts.push_back(now);
        let mut delay = self.backoff.next_delay(rng);
        if spawn_failed {
            delay = delay.max(SPAWN_FAILURE_MIN_DELAY);
        }
        if delay.is_zero() {
            self.restarts += 1;
            self.spawn(out);
            return;
        }
        let text = format!(
            "restarting in {} after {reason}",
            humantime::format_duration(round_ms(delay))
        );
        self.next_restart = Some((now + delay, wall + delay));
        out.push(Action::Note(text.clone()));
        self.set_phase(Phase::Backoff, Some(text), out);
        out.push(Action::Arm {
            at: now + delay,
            epoch: self.epoch,
            timer: Timer::Restart,
        });
    }

    fn set_phase(&mut self, phase: Phase, reason: Option<String>, out: &mut Vec<Action>) {
        let from = self.phase.state();
        self.phase = phase;
        self.epoch += 1;
        if reason != self.reason || from != phase.state() {
            self.reason = reason;
            out.push(Action::Emit(EventKind::StateChanged {
                program: self.spec.name.clone(),
                from,
                to: phase.state(),
                reason: self.reason.clone(),
            }));
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng as StepRng;
    use rand::SeedableRng;

    pub(crate) fn spec(name: &str) -> ProgramSpec {
        crate::testing::program(name)
    }

    /// A program driven by hand with an explicit clock.
    struct Harness {
        p: Program,
        t0: Instant,
        rng: StepRng,
        pid: u32,
    }

    impl Harness {
        fn new(spec: ProgramSpec) -> Self {
            Harness {
                p: Program::new(Arc::new(spec)),
                t0: Instant::now(),
                rng: StepRng::seed_from_u64(0),
                pid: 100,
            }
        }
        fn at(&mut self, secs: f64, input: Input) -> Vec<Action> {
            let now = self.t0 + Duration::from_secs_f64(secs);
            self.p.step(input, now, SystemTime::UNIX_EPOCH, &mut self.rng)
        }
        /// Starts (or answers a Spawn) with a fresh pid.
        fn spawned(&mut self, secs: f64) -> Vec<Action> {
            self.pid += 1;
            let pid = self.pid;
            self.at(secs, Input::Spawned { pid })
        }
        fn crash(&mut self, secs: f64, code: i32) -> Vec<Action> {
            let pid = self.pid;
            self.at(
                secs,
                Input::Exited {
                    pid,
                    status: ExitStatus::Code(code),
                },
            )
        }
        fn fire(&mut self, secs: f64, timer: Timer) -> Vec<Action> {
            let epoch = self.p.epoch;
            self.at(secs, Input::Timer { epoch, timer })
        }
    }

    fn arm_of(actions: &[Action], which: Timer) -> Option<Instant> {
        actions.iter().find_map(|a| match a {
            Action::Arm { at, timer, .. } if *timer == which => Some(*at),
            _ => None,
        })
    }

    fn spawns(actions: &[Action]) -> bool {
        actions.contains(&Action::Spawn)
    }

    #[test]
    fn start_spawns_and_becomes_running_after_start_period() {
        let mut h = Harness::new(spec("a"));
        assert!(spawns(&h.at(0.0, Input::Start)));
        let actions = h.spawned(0.0);
        assert_eq!(h.p.phase, Phase::Starting);
        assert_eq!(
            arm_of(&actions, Timer::StartPeriod),
            Some(h.t0 + Duration::from_secs(1))
        );
        h.fire(1.0, Timer::StartPeriod);
        assert_eq!(h.p.phase, Phase::Running);
    }

    #[test]
    fn crash_loop_backs_off_then_fails() {
        let mut h = Harness::new(spec("a"));
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        // First crash of a streak: restarted at once.
        let a = h.crash(0.1, 1);
        assert!(spawns(&a), "first restart is immediate: {a:?}");
        assert!(a.contains(&Action::Cleanup { pid: 101 }));
        h.spawned(0.1);
        // Second: waits initial (1 s), third: 2 s.
        let a = h.crash(0.2, 1);
        assert_eq!(h.p.phase, Phase::Backoff);
        assert_eq!(arm_of(&a, Timer::Restart), Some(h.t0 + Duration::from_secs_f64(1.2)));
        assert!(h.p.reason.as_deref().unwrap().contains("exit code 1"));
        assert!(spawns(&h.fire(1.2, Timer::Restart)));
        h.spawned(1.2);
        let a = h.crash(1.3, 1);
        assert_eq!(arm_of(&a, Timer::Restart), Some(h.t0 + Duration::from_secs_f64(3.3)));
        h.fire(3.3, Timer::Restart);
        h.spawned(3.3);
        assert_eq!(h.p.restarts, 3);
        // Budget of 3 restarts in the window is used up: failed, stays down.
        let a = h.crash(3.4, 1);
        assert_eq!(h.p.phase, Phase::Failed);
        assert!(!spawns(&a));
        assert!(a
            .iter()
            .any(|x| matches!(x, Action::Emit(EventKind::GaveUp { restarts: 3, .. }))));
        assert_eq!(h.p.last_exit.as_ref().unwrap().reason, ExitReason::ExitCode(1));
    }

    #[test]
    fn restarts_outside_the_window_do_not_count() {
        let mut s = spec("a");
        s.restart_window = Duration::from_secs(10);
        s.backoff.initial = Duration::ZERO;
        let mut h = Harness::new(s);
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        for i in 0..10 {
            let t = 11.0 * i as f64 + 5.0;
            assert!(spawns(&h.crash(t, 1)), "crash {i} restarts");
            h.spawned(t);
        }
        assert_eq!(h.p.phase, Phase::Starting);
    }

    #[test]
    fn staying_up_reset_after_resets_the_backoff() {
        let mut h = Harness::new(spec("a"));
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        assert!(spawns(&h.crash(1.0, 1)));
        h.spawned(1.0);
        let a = h.crash(2.0, 1);
        assert!(arm_of(&a, Timer::Restart).is_some());
        h.fire(3.0, Timer::Restart);
        h.spawned(3.0);
        // Up for 60 s (reset_after): the next crash is a new streak, restarted at once.
        assert!(spawns(&h.crash(63.0, 1)));
    }

    #[test]
    fn on_failure_and_never_policies() {
        let mut s = spec("a");
        s.restart = RestartPolicy::OnFailure;
        let mut h = Harness::new(s.clone());
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        h.crash(1.0, 0);
        assert_eq!(h.p.phase, Phase::Exited);
        assert_eq!(h.p.last_exit.as_ref().unwrap().status, Some(ExitStatus::Code(0)));

        s.restart = RestartPolicy::Never;
        let mut h = Harness::new(s);
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        h.crash(1.0, 3);
        assert_eq!(h.p.phase, Phase::Exited);
    }

    #[test]
    fn operator_stop_signals_then_kills_after_timeout_and_stays_down() {
        let mut h = Harness::new(spec("a"));
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        let a = h.at(5.0, Input::Stop(StopIntent::StayDown(ExitReason::Operator)));
        assert!(a.contains(&Action::Signal(Signal::SIGTERM)));
        assert_eq!(arm_of(&a, Timer::StopTimeout), Some(h.t0 + Duration::from_secs(15)));
        assert_eq!(h.p.phase, Phase::Stopping);
        assert!(h.fire(15.0, Timer::StopTimeout).contains(&Action::Kill));
        let pid = h.pid;
        let a = h.at(
            15.1,
            Input::Exited {
                pid,
                status: ExitStatus::Signal(9),
            },
        );
        assert!(!spawns(&a));
        assert_eq!(h.p.phase, Phase::Stopped);
        assert_eq!(h.p.last_exit.as_ref().unwrap().reason, ExitReason::Operator);
    }

    #[test]
    fn stale_timers_are_ignored() {
        let mut h = Harness::new(spec("a"));
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        h.crash(0.5, 1);
        h.spawned(0.5);
        h.crash(0.6, 1); // backoff, restart timer armed
        let stale = h.p.epoch;
        h.at(0.7, Input::Start); // operator starts it by hand
        h.spawned(0.7);
        let a = h.at(
            1.6,
            Input::Timer {
                epoch: stale,
                timer: Timer::Restart,
            },
        );
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(h.p.phase, Phase::Starting);
    }

    #[test]
    fn restart_intent_respawns_at_once_without_using_the_budget() {
        let mut h = Harness::new(spec("a"));
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        for i in 0..10 {
            let t = i as f64;
            h.at(t, Input::Stop(StopIntent::Restart(ExitReason::Operator)));
            let pid = h.pid;
            assert!(spawns(&h.at(
                t + 0.1,
                Input::Exited {
                    pid,
                    status: ExitStatus::Signal(15)
                }
            )));
            h.spawned(t + 0.1);
        }
        assert_eq!(h.p.restarts, 10);
        assert!(h.p.recent_restarts.is_empty());
    }

    #[test]
    fn memory_limit_is_a_failure_that_backs_off() {
        let mut h = Harness::new(spec("a"));
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        h.at(1.0, Input::Stop(StopIntent::Fail(ExitReason::MemoryLimit)));
        let pid = h.pid;
        let a = h.at(
            1.1,
            Input::Exited {
                pid,
                status: ExitStatus::Signal(15),
            },
        );
        assert!(spawns(&a), "first failure restarts at once");
        assert_eq!(h.p.last_exit.as_ref().unwrap().reason, ExitReason::MemoryLimit);
        assert_eq!(h.p.recent_restarts.len(), 1);
    }

    #[test]
    fn spawn_failure_waits_at_least_the_minimum() {
        let mut s = spec("a");
        s.backoff.initial = Duration::ZERO;
        let mut h = Harness::new(s);
        h.at(0.0, Input::Start);
        let a = h.at(
            0.0,
            Input::SpawnFailed {
                error: "command `nope` not found".into(),
            },
        );
        assert_eq!(h.p.phase, Phase::Backoff);
        assert_eq!(arm_of(&a, Timer::Restart), Some(h.t0 + SPAWN_FAILURE_MIN_DELAY));
        assert!(h.p.reason.as_deref().unwrap().contains("not found"));
    }

    #[test]
    fn reload_spec_applies_at_the_next_spawn() {
        let mut h = Harness::new(spec("a"));
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        let mut changed = spec("a");
        changed.args = vec!["new".into()];
        h.p.next_spec = Some(Arc::new(changed));
        h.at(1.0, Input::Stop(StopIntent::Restart(ExitReason::Reload)));
        let pid = h.pid;
        h.at(
            1.1,
            Input::Exited {
                pid,
                status: ExitStatus::Signal(15),
            },
        );
        assert_eq!(h.p.spec.args, vec!["new".to_string()]);
        assert_eq!(h.p.last_exit.as_ref().unwrap().reason, ExitReason::Reload);
    }

    #[test]
    fn reload_of_a_failed_program_gives_a_fresh_budget() {
        let mut h = Harness::new(spec("a"));
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        h.crash(0.1, 1);
        h.spawned(0.1);
        assert_eq!(h.p.recent_restarts.len(), 1);
        h.p.replace_spec(Arc::new(spec("a")));
        assert!(
            h.p.recent_restarts.is_empty(),
            "old failures belong to the old settings"
        );
        // The next crash is again the first of a streak: restarted at once.
        assert!(spawns(&h.crash(0.2, 1)));
    }

    #[test]
    fn a_passing_probe_ends_the_start_period_early() {
        let mut s = spec("a");
        s.start_period = Duration::from_secs(30);
        let mut h = Harness::new(s);
        h.at(0.0, Input::Start);
        h.spawned(0.0);
        assert_eq!(h.p.phase, Phase::Starting);
        h.at(0.5, Input::Up);
        assert_eq!(h.p.phase, Phase::Running);
        // The start-period timer of that process is stale now.
        h.fire(30.0, Timer::StartPeriod);
        assert_eq!(h.p.phase, Phase::Running);
    }
}
