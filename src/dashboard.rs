//! The dashboard: the page (HTML, CSS and JS embedded in the binary, no external
//! assets) and the one JSON document it polls, with the short history the snapshot
//! alone does not keep — usage samples per program and the latest events.
//!
//! The [`Recorder`] listens to the supervisor like any other subscriber: it reads the
//! snapshot when it changes and the event broadcast, and never holds up the loop (a
//! lagging event receiver skips, it does not block).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast::error::RecvError;

use crate::api::{self, EventInfo, UsageHistory};
use crate::events::{Event, EventKind, ProgramState, Snapshot};
use crate::supervisor::Handle;

pub const INDEX_HTML: &str = include_str!("dashboard/index.html");
pub const APP_JS: &str = include_str!("dashboard/app.js");
pub const APP_CSS: &str = include_str!("dashboard/app.css");

/// The page's Content-Security-Policy: its own script and style files only, requests
/// to its own origin only, no inline script or style, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Samples kept per program (5 minutes at the 5 s floor, 15 at the default 15 s).
const HISTORY_POINTS: usize = 60;
/// At most one sample per this long, whatever changes the snapshot.
const HISTORY_EVERY: Duration = Duration::from_secs(5);
const EVENTS_KEPT: usize = 50;

#[derive(Default)]
pub struct Recorder {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    history: HashMap<String, VecDeque<Point>>,
    last_sample: Option<SystemTime>,
    /// Newest last.
    events: VecDeque<EventInfo>,
}

struct Point {
    at: u64,
    memory: Option<u64>,
    cpu: Option<f64>,
}

impl Recorder {
    /// A recorder fed by two tasks that end with the supervisor.
    pub fn start(handle: &Handle) -> Arc<Recorder> {
        let recorder = Arc::new(Recorder::default());
        let mut snapshots = handle.watch();
        let r = recorder.clone();
        tokio::spawn(async move {
            while snapshots.changed().await.is_ok() {
                let snapshot = snapshots.borrow_and_update().clone();
                r.sample(&snapshot, SystemTime::now());
            }
        });
        let mut events = handle.subscribe();
        let r = recorder.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => r.event(&event),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                }
            }
        });
        recorder
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records each program's usage, at most once per [`HISTORY_EVERY`].
    pub fn sample(&self, snapshot: &Snapshot, now: SystemTime) {
        let mut inner = self.lock();
        if inner
            .last_sample
            .is_some_and(|last| now.duration_since(last).unwrap_or_default() < HISTORY_EVERY)
        {
            return;
        }
        inner.last_sample = Some(now);
        let at = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        inner
            .history
            .retain(|name, _| snapshot.programs.iter().any(|p| &p.name == name));
        for p in &snapshot.programs {
            let points = inner.history.entry(p.name.clone()).or_default();
            if points.len() == HISTORY_POINTS {
                points.pop_front();
            }
            let up = p.pid.is_some();
            points.push_back(Point {
                at,
                memory: p.memory_bytes.filter(|_| up),
                cpu: p.cpu_percent.filter(|_| up).map(|c| (c * 10.0).round() / 10.0),
            });
        }
    }

    pub fn event(&self, event: &Event) {
        let mut inner = self.lock();
        if inner.events.len() == EVENTS_KEPT {
            inner.events.pop_front();
        }
        inner.events.push_back(event_info(event));
    }

    pub fn history(&self, program: &str) -> UsageHistory {
        let inner = self.lock();
        let mut h = UsageHistory::default();
        for p in inner.history.get(program).into_iter().flatten() {
            h.at.push(p.at);
            h.memory_bytes.push(p.memory);
            h.cpu_percent.push(p.cpu);
        }
        h
    }

    /// Newest first.
    pub fn events(&self) -> Vec<EventInfo> {
        self.lock().events.iter().rev().cloned().collect()
    }
}

/// An event in words, as the page lists it.
pub fn event_info(event: &Event) -> EventInfo {
    let (kind, program, severity, message) = match &event.kind {
        EventKind::Spawned { program, pid } => ("spawned", Some(program), "info", format!("started, pid {pid}")),
        EventKind::Exited { program, record, .. } => (
            "exited",
            Some(program),
            if record.reason.is_failure() { "warning" } else { "info" },
            record.reason.to_string(),
        ),
        EventKind::StateChanged {
            program,
            from,
            to,
            reason,
        } => (
            "state_changed",
            Some(program),
            if *to == ProgramState::Failed { "error" } else { "info" },
            match reason {
                Some(r) => format!("{from} → {to}: {r}"),
                None => format!("{from} → {to}"),
            },
        ),
        EventKind::GaveUp {
            program,
            restarts,
            window_secs,
        } => (
            "gave_up",
            Some(program),
            "error",
            format!(
                "failed: {restarts} restarts within {}, it stays down",
                crate::config::format_duration(Duration::from_secs(*window_secs))
            ),
        ),
        EventKind::Reloaded {
            added,
            changed,
            removed,
        } => (
            "reloaded",
            None,
            "info",
            format!(
                "configuration reloaded: {} added, {} changed, {} removed",
                added.len(),
                changed.len(),
                removed.len()
            ),
        ),
        EventKind::ReloadRefused { error } => (
            "reload_refused",
            None,
            "error",
            format!("configuration reload refused: {error}"),
        ),
        EventKind::ProbeChanged {
            program,
            healthy,
            message,
        } => (
            "probe_changed",
            Some(program),
            if *healthy { "info" } else { "warning" },
            if *healthy {
                format!("probe passing: {message}")
            } else {
                format!("probe failing: {message}")
            },
        ),
    };
    EventInfo {
        at: api::rfc3339(event.at),
        kind: kind.to_string(),
        program: program.cloned(),
        severity: severity.to_string(),
        message,
    }
}

/// The sentence under the status line: how many programs run, which do not and why,
/// which checks are down. Programs stopped on purpose (an operator, `autostart =
/// false`) are counted apart: they are not a problem.
pub fn summary(snapshot: &Snapshot, checks_down: &[String]) -> String {
    let total = snapshot.programs.len();
    let count = |state: ProgramState| snapshot.programs.iter().filter(|p| p.state == state).count();
    let (running, stopped) = (count(ProgramState::Running), count(ProgramState::Stopped));
    let not_running: Vec<String> = snapshot
        .programs
        .iter()
        .filter(|p| !matches!(p.state, ProgramState::Running | ProgramState::Stopped))
        .map(|p| format!("{} ({})", p.name, p.state))
        .collect();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let stopped_note = if stopped > 0 {
        format!(", {stopped} stopped")
    } else {
        String::new()
    };
    let mut text = if total == 0 {
        "No programs configured".to_string()
    } else if not_running.is_empty() && stopped == 0 {
        match total {
            1 => "1 program running".to_string(),
            n => format!("All {n} programs running"),
        }
    } else if not_running.is_empty() {
        format!("{running} of {total} program{} running{stopped_note}", plural(total))
    } else {
        let mut names = not_running.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        if not_running.len() > 3 {
            names.push_str(&format!(" and {} more", not_running.len() - 3));
        }
        format!(
            "{running} of {total} program{} running{stopped_note}; not running: {names}",
            plural(total)
        )
    };
    if !checks_down.is_empty() {
        text.push_str(&format!(
            "; check{} down: {}",
            plural(checks_down.len()),
            checks_down.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ExitReason, ExitRecord, ProgramSnapshot};

    fn program(name: &str, state: ProgramState, memory: Option<u64>) -> ProgramSnapshot {
        let mut p = crate::testing::program_snapshot(name, state);
        p.memory_bytes = memory;
        p.cpu_percent = memory.map(|_| 1.25);
        p
    }

    #[test]
    fn usage_is_sampled_at_most_every_5s_and_bounded() {
        let r = Recorder::default();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let snap = Snapshot {
            programs: vec![
                program("a", ProgramState::Running, Some(1000)),
                program("b", ProgramState::Stopped, None),
            ],
        };
        r.sample(&snap, t0);
        r.sample(&snap, t0 + Duration::from_secs(2)); // too soon: ignored
        r.sample(&snap, t0 + Duration::from_secs(5));
        let h = r.history("a");
        assert_eq!(h.at, vec![1_000_000, 1_000_005]);
        assert_eq!(h.memory_bytes, vec![Some(1000), Some(1000)]);
        assert_eq!(h.cpu_percent, vec![Some(1.3), Some(1.3)]);
        assert_eq!(r.history("b").memory_bytes, vec![None, None]);
        for i in 2..100 {
            r.sample(&snap, t0 + Duration::from_secs(5 * i));
        }
        assert_eq!(r.history("a").at.len(), HISTORY_POINTS);
        // A removed program's history goes.
        let only_a = Snapshot {
            programs: vec![program("a", ProgramState::Running, Some(1))],
        };
        r.sample(&only_a, t0 + Duration::from_secs(1000));
        assert!(r.history("b").at.is_empty());
    }

    #[test]
    fn events_in_words_newest_first_and_bounded() {
        let r = Recorder::default();
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for i in 0..60 {
            r.event(&Event {
                at,
                kind: EventKind::Spawned {
                    program: format!("p{i}"),
                    pid: i,
                },
            });
        }
        r.event(&Event {
            at,
            kind: EventKind::Exited {
                program: "web".into(),
                pid: Some(7),
                record: ExitRecord {
                    at,
                    status: None,
                    reason: ExitReason::Operator,
                },
            },
        });
        let events = r.events();
        assert_eq!(events.len(), EVENTS_KEPT);
        assert_eq!(events[0].kind, "exited");
        assert_eq!(events[0].program.as_deref(), Some("web"));
        assert_eq!(events[1].message, "started, pid 59");
    }

    #[test]
    fn the_summary_names_what_is_not_running() {
        let all = Snapshot {
            programs: vec![
                program("a", ProgramState::Running, None),
                program("b", ProgramState::Running, None),
            ],
        };
        assert_eq!(summary(&all, &[]), "All 2 programs running");
        let some = Snapshot {
            programs: vec![
                program("a", ProgramState::Running, None),
                program("b", ProgramState::Backoff, None),
            ],
        };
        assert_eq!(
            summary(&some, &["db".to_string()]),
            "1 of 2 programs running; not running: b (backoff); check down: db"
        );
        assert_eq!(summary(&Snapshot { programs: vec![] }, &[]), "No programs configured");
        let mixed = Snapshot {
            programs: vec![
                program("a", ProgramState::Running, None),
                program("b", ProgramState::Backoff, None),
                program("c", ProgramState::Stopped, None),
            ],
        };
        assert_eq!(
            summary(&mixed, &[]),
            "1 of 3 programs running, 1 stopped; not running: b (backoff)"
        );
        let calm = Snapshot {
            programs: vec![
                program("a", ProgramState::Running, None),
                program("c", ProgramState::Stopped, None),
            ],
        };
        assert_eq!(summary(&calm, &[]), "1 of 2 programs running, 1 stopped");
    }
}
