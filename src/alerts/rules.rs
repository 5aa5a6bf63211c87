//! From what warden observes to alert signals: `Fire` a fingerprint or `Resolve` it.
//!
//! Fingerprints are stable strings, one per condition, so a condition that keeps
//! happening is one alert (deduplicated by the policy), not many:
//!
//! | fingerprint | severity | fires on | resolves on |
//! | --- | --- | --- | --- |
//! | `program_crashed:NAME` | ERROR | `Exited` with a failure reason | state `running`, state `stopped`, removed by reload |
//! | `program_failed:NAME` | CRITICAL | `GaveUp`, state `failed` | state `running`, state `stopped`, removed by reload |
//! | `probe_failing:NAME` | WARNING | `ProbeChanged { healthy: false }` | `ProbeChanged { healthy: true }`, state `stopped`, removed by reload |
//! | `check_down:NAME` | ERROR | check `up == Some(false)` | check `up == Some(true)` |
//! | `system:COMPONENT` | WARNING / CRITICAL | finding at that level | finding `ok` |
//! | `delivery_failed:CHANNEL` | ERROR | a notification failed for good, or 3 attempts in a row | the channel delivers again |
//!
//! `running` is reached only after the program's start period, so "running again" means
//! it really came back. `stopped` means down on purpose (operator, reload, shutdown): the
//! condition is no longer one anybody must act on. `exited` resolves nothing: a program
//! that failed and is not restarted by its policy is still failed.
//!
//! Stderr lines are passed in by the caller, already redacted: the rules read no logs.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use crate::events::Severity;
use crate::events::{Event, EventKind, ExitReason, ProgramState};

use super::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// What an alert says beyond its summary. Program-supplied strings (reason, stderr) are
/// untrusted text: [`text`] escapes them for HTML and Slack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDetails {
    pub program: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub restarts: Option<u32>,
    pub reason: Option<String>,
    /// The last lines of the program's stderr, already redacted by the caller.
    pub stderr_tail: Vec<String>,
    pub host: String,
    /// When the condition was observed (the first time, once the policy keeps it).
    pub at: SystemTime,
}

impl AlertDetails {
    fn new(host: &str, at: SystemTime) -> Self {
        Self {
            program: None,
            exit_code: None,
            signal: None,
            restarts: None,
            reason: None,
            stderr_tail: Vec::new(),
            host: host.to_owned(),
            at,
        }
    }

    /// Takes what `newer` knows and keeps what only `self` knew (e.g. the restart count
    /// of `GaveUp` when the following `failed` state change fires the same alert).
    pub fn merge(&mut self, newer: AlertDetails) {
        self.program = newer.program.or(self.program.take());
        self.exit_code = newer.exit_code.or(self.exit_code);
        self.signal = newer.signal.or(self.signal);
        self.restarts = newer.restarts.or(self.restarts);
        self.reason = newer.reason.or(self.reason.take());
        if !newer.stderr_tail.is_empty() {
            self.stderr_tail = newer.stderr_tail;
        }
        self.host = newer.host;
        // `at` stays: the condition started with the first firing.
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub fingerprint: String,
    pub severity: Severity,
    pub summary: String,
    pub details: AlertDetails,
    pub status: AlertStatus,
    /// When it resolved (`None` while firing).
    pub resolved_at: Option<SystemTime>,
}

impl Alert {
    fn firing(fingerprint: String, severity: Severity, summary: String, details: AlertDetails) -> Self {
        Self {
            fingerprint,
            severity,
            summary,
            details,
            status: AlertStatus::Firing,
            resolved_at: None,
        }
    }

    /// The part of the fingerprint before the first `:` (`program_crashed`, `system`...).
    pub fn kind(&self) -> &str {
        self.fingerprint.split(':').next().unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    Fire(Alert),
    Resolve { fingerprint: String, at: SystemTime },
}

impl Signal {
    pub fn fingerprint(&self) -> &str {
        match self {
            Self::Fire(a) => &a.fingerprint,
            Self::Resolve { fingerprint, .. } => fingerprint,
        }
    }
}

pub fn crashed_fingerprint(program: &str) -> String {
    format!("program_crashed:{program}")
}
pub fn failed_fingerprint(program: &str) -> String {
    format!("program_failed:{program}")
}
pub fn probe_fingerprint(program: &str) -> String {
    format!("probe_failing:{program}")
}
pub fn check_fingerprint(check: &str) -> String {
    format!("check_down:{check}")
}
pub fn system_fingerprint(component: &str) -> String {
    format!("system:{component}")
}

pub fn delivery_fingerprint(channel: &str) -> String {
    format!("delivery_failed:{channel}")
}

/// The channel a `delivery_failed:CHANNEL` alert is about (it goes to the others only).
pub fn delivery_channel(fingerprint: &str) -> Option<&str> {
    fingerprint.strip_prefix("delivery_failed:")
}

/// A channel's delivery outcome: `Some(reason)` while it keeps failing (or failed for
/// good), `None` once it delivered again.
pub fn from_delivery(channel: &str, failure: Option<&str>, host: &str, at: SystemTime) -> Signal {
    let Some(reason) = failure else {
        return resolve(delivery_fingerprint(channel), at);
    };
    let mut d = AlertDetails::new(host, at);
    d.reason = Some(reason.to_owned());
    Signal::Fire(Alert::firing(
        delivery_fingerprint(channel),
        Severity::Error,
        text::delivery_summary(channel, reason),
        d,
    ))
}

fn resolve(fingerprint: String, at: SystemTime) -> Signal {
    Signal::Resolve { fingerprint, at }
}

/// The signals one supervisor event raises. `stderr_tail` is attached to a crash.
pub fn from_event(event: &Event, host: &str, stderr_tail: &[String]) -> Vec<Signal> {
    let at = event.at;
    match &event.kind {
        EventKind::Exited { program, record, .. } if record.reason.is_failure() => {
            let mut d = AlertDetails::new(host, at);
            d.program = Some(program.clone());
            d.exit_code = record.status.and_then(|s| s.code());
            d.signal = record.status.and_then(|s| s.signal()).or(match record.reason {
                ExitReason::Signal(s) => Some(s),
                _ => None,
            });
            d.reason = Some(record.reason.to_string());
            d.stderr_tail = stderr_tail.to_vec();
            let summary = text::crashed_summary(program, &record.reason);
            vec![Signal::Fire(Alert::firing(
                crashed_fingerprint(program),
                Severity::Error,
                summary,
                d,
            ))]
        }
        EventKind::GaveUp {
            program,
            restarts,
            window_secs,
        } => {
            let mut d = AlertDetails::new(host, at);
            d.program = Some(program.clone());
            d.restarts = Some(*restarts);
            let summary = text::gave_up_summary(program, *restarts, *window_secs);
            d.reason = Some(summary.clone());
            vec![Signal::Fire(Alert::firing(
                failed_fingerprint(program),
                Severity::Critical,
                summary,
                d,
            ))]
        }
        EventKind::StateChanged {
            program, to, reason, ..
        } => match to {
            ProgramState::Failed => {
                let mut d = AlertDetails::new(host, at);
                d.program = Some(program.clone());
                d.reason = reason.clone();
                let summary = text::failed_summary(program, reason.as_deref());
                vec![Signal::Fire(Alert::firing(
                    failed_fingerprint(program),
                    Severity::Critical,
                    summary,
                    d,
                ))]
            }
            ProgramState::Running => vec![
                resolve(crashed_fingerprint(program), at),
                resolve(failed_fingerprint(program), at),
            ],
            ProgramState::Stopped => resolve_program(program, at),
            _ => Vec::new(),
        },
        EventKind::ProbeChanged {
            program,
            healthy,
            message,
        } => {
            if *healthy {
                vec![resolve(probe_fingerprint(program), at)]
            } else {
                let mut d = AlertDetails::new(host, at);
                d.program = Some(program.clone());
                d.reason = Some(message.clone());
                let summary = text::probe_summary(program, message);
                vec![Signal::Fire(Alert::firing(
                    probe_fingerprint(program),
                    Severity::Warning,
                    summary,
                    d,
                ))]
            }
        }
        EventKind::Reloaded { removed, .. } => removed.iter().flat_map(|p| resolve_program(p, at)).collect(),
        _ => Vec::new(),
    }
}

fn resolve_program(program: &str, at: SystemTime) -> Vec<Signal> {
    vec![
        resolve(crashed_fingerprint(program), at),
        resolve(failed_fingerprint(program), at),
        resolve(probe_fingerprint(program), at),
    ]
}

/// A Postgres/Redis check's latest result (fields of `health::checks::CheckStatus`,
/// passed as plain values to keep this module pure). `up == None` (not checked yet)
/// raises nothing.
pub fn from_check(name: &str, up: Option<bool>, message: &str, host: &str, at: SystemTime) -> Option<Signal> {
    match up? {
        true => Some(resolve(check_fingerprint(name), at)),
        false => {
            let mut d = AlertDetails::new(host, at);
            d.reason = Some(message.to_owned());
            let summary = text::check_summary(name, message);
            Some(Signal::Fire(Alert::firing(
                check_fingerprint(name),
                Severity::Error,
                summary,
                d,
            )))
        }
    }
}

/// `health::system::Level`, mirrored to keep this module pure (the wiring converts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemLevel {
    Ok,
    Warning,
    Critical,
}

/// A host finding (`cpu`, `memory`, `disk:/`): warning → WARNING, critical → CRITICAL
/// (same fingerprint, so an escalation is a change of one alert), ok → resolve.
pub fn from_finding(component: &str, level: SystemLevel, reason: &str, host: &str, at: SystemTime) -> Signal {
    let severity = match level {
        SystemLevel::Ok => return resolve(system_fingerprint(component), at),
        SystemLevel::Warning => Severity::Warning,
        SystemLevel::Critical => Severity::Critical,
    };
    let mut d = AlertDetails::new(host, at);
    d.reason = Some(reason.to_owned());
    Signal::Fire(Alert::firing(
        system_fingerprint(component),
        severity,
        text::system_summary(reason),
        d,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ExitRecord, ExitStatus};
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn ev(secs: u64, kind: EventKind) -> Event {
        Event { at: at(secs), kind }
    }

    fn exited(program: &str, status: Option<ExitStatus>, reason: ExitReason) -> EventKind {
        EventKind::Exited {
            program: program.into(),
            pid: Some(42),
            record: ExitRecord {
                at: at(0),
                status,
                reason,
            },
        }
    }

    fn state(program: &str, to: ProgramState, reason: Option<&str>) -> EventKind {
        EventKind::StateChanged {
            program: program.into(),
            from: ProgramState::Backoff,
            to,
            reason: reason.map(Into::into),
        }
    }

    fn fired(sigs: &[Signal]) -> &Alert {
        match sigs {
            [Signal::Fire(a)] => a,
            other => panic!("expected one Fire, got {other:?}"),
        }
    }

    fn resolved(sigs: &[Signal]) -> Vec<&str> {
        sigs.iter()
            .map(|s| match s {
                Signal::Resolve { fingerprint, .. } => fingerprint.as_str(),
                other => panic!("expected Resolve, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn severities_are_ordered() {
        assert!(Severity::Info < Severity::Warning);
        assert!(Severity::Warning < Severity::Error);
        assert!(Severity::Error < Severity::Critical);
    }

    #[test]
    fn failed_exit_fires_a_crash_error_with_details() {
        let tail = vec!["panic: boom".to_owned()];
        let sigs = from_event(
            &ev(5, exited("web", Some(ExitStatus::Code(3)), ExitReason::ExitCode(3))),
            "box1",
            &tail,
        );
        let a = fired(&sigs);
        assert_eq!(a.fingerprint, "program_crashed:web");
        assert_eq!(a.severity, Severity::Error);
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.summary, "web crashed: exit code 3");
        assert_eq!(a.details.program.as_deref(), Some("web"));
        assert_eq!(a.details.exit_code, Some(3));
        assert_eq!(a.details.signal, None);
        assert_eq!(a.details.stderr_tail, tail);
        assert_eq!(a.details.host, "box1");
        assert_eq!(a.details.at, at(5));

        let sigs = from_event(
            &ev(5, exited("web", Some(ExitStatus::Signal(9)), ExitReason::Signal(9))),
            "h",
            &[],
        );
        assert_eq!(fired(&sigs).details.signal, Some(9));
        assert_eq!(fired(&sigs).details.exit_code, None);
    }

    #[test]
    fn stops_warden_asked_for_raise_nothing() {
        for reason in [
            ExitReason::Operator,
            ExitReason::Shutdown,
            ExitReason::Reload,
            ExitReason::ExitCode(0),
        ] {
            let sigs = from_event(&ev(1, exited("web", Some(ExitStatus::Code(0)), reason)), "h", &[]);
            assert!(sigs.is_empty(), "{sigs:?}");
        }
    }

    #[test]
    fn gave_up_and_failed_state_fire_the_same_critical_alert() {
        let a = from_event(
            &ev(
                1,
                EventKind::GaveUp {
                    program: "web".into(),
                    restarts: 10,
                    window_secs: 60,
                },
            ),
            "h",
            &[],
        );
        let a = fired(&a);
        assert_eq!(a.fingerprint, "program_failed:web");
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(a.details.restarts, Some(10));
        assert_eq!(a.summary, "web failed: gave up after 10 restarts within 1m");

        let b = from_event(&ev(1, state("web", ProgramState::Failed, Some("gave up"))), "h", &[]);
        let b = fired(&b);
        assert_eq!(b.fingerprint, a.fingerprint);
        assert_eq!(b.severity, Severity::Critical);
        assert_eq!(b.summary, "web failed: gave up");
    }

    #[test]
    fn running_again_resolves_crash_and_failure() {
        let sigs = from_event(&ev(9, state("web", ProgramState::Running, None)), "h", &[]);
        assert_eq!(resolved(&sigs), ["program_crashed:web", "program_failed:web"]);
        let sigs = from_event(&ev(9, state("web", ProgramState::Stopped, None)), "h", &[]);
        assert_eq!(
            resolved(&sigs),
            ["program_crashed:web", "program_failed:web", "probe_failing:web"]
        );
        for to in [
            ProgramState::Starting,
            ProgramState::Backoff,
            ProgramState::Exited,
            ProgramState::Stopping,
        ] {
            assert!(from_event(&ev(9, state("web", to, None)), "h", &[]).is_empty());
        }
    }

    #[test]
    fn reload_removal_resolves_everything_of_the_program() {
        let sigs = from_event(
            &ev(
                1,
                EventKind::Reloaded {
                    added: vec![],
                    changed: vec!["a".into()],
                    removed: vec!["old".into()],
                },
            ),
            "h",
            &[],
        );
        assert_eq!(
            resolved(&sigs),
            ["program_crashed:old", "program_failed:old", "probe_failing:old"]
        );
    }

    #[test]
    fn probe_changes_fire_and_resolve_a_warning() {
        let kind = |healthy| EventKind::ProbeChanged {
            program: "api".into(),
            healthy,
            message: "HTTP 503".into(),
        };
        let sigs = from_event(&ev(1, kind(false)), "h", &[]);
        let a = fired(&sigs);
        assert_eq!(a.fingerprint, "probe_failing:api");
        assert_eq!(a.severity, Severity::Warning);
        assert_eq!(a.summary, "api probe failing: HTTP 503");
        assert_eq!(
            resolved(&from_event(&ev(2, kind(true)), "h", &[])),
            ["probe_failing:api"]
        );
    }

    #[test]
    fn checks_fire_when_down_and_resolve_when_up() {
        assert_eq!(from_check("db", None, "", "h", at(1)), None);
        let Some(Signal::Fire(a)) = from_check("db", Some(false), "connection refused", "h", at(1)) else {
            panic!()
        };
        assert_eq!(a.fingerprint, "check_down:db");
        assert_eq!(a.severity, Severity::Error);
        assert_eq!(a.summary, "check db down: connection refused");
        assert_eq!(
            from_check("db", Some(true), "ok", "h", at(2)),
            Some(resolve("check_down:db".into(), at(2)))
        );
    }

    #[test]
    fn system_findings_map_levels_to_severities() {
        let sev = |level| match from_finding("disk:/", level, "disk / 95% full", "h", at(1)) {
            Signal::Fire(a) => {
                assert_eq!(a.fingerprint, "system:disk:/");
                Some(a.severity)
            }
            Signal::Resolve { fingerprint, .. } => {
                assert_eq!(fingerprint, "system:disk:/");
                None
            }
        };
        assert_eq!(sev(SystemLevel::Warning), Some(Severity::Warning));
        assert_eq!(sev(SystemLevel::Critical), Some(Severity::Critical));
        assert_eq!(sev(SystemLevel::Ok), None);
    }

    #[test]
    fn fingerprints_are_stable() {
        // These strings are stored in the outbox and history: changing them would make
        // a restarted warden see every open alert as new.
        assert_eq!(crashed_fingerprint("web"), "program_crashed:web");
        assert_eq!(failed_fingerprint("web"), "program_failed:web");
        assert_eq!(probe_fingerprint("web"), "probe_failing:web");
        assert_eq!(check_fingerprint("db"), "check_down:db");
        assert_eq!(system_fingerprint("disk:/"), "system:disk:/");
        // Independent of the details of the occurrence.
        let one = from_event(
            &ev(1, exited("web", Some(ExitStatus::Code(1)), ExitReason::ExitCode(1))),
            "a",
            &[],
        );
        let two = from_event(
            &ev(99, exited("web", Some(ExitStatus::Signal(9)), ExitReason::Signal(9))),
            "b",
            &[],
        );
        assert_eq!(one[0].fingerprint(), two[0].fingerprint());
    }

    #[test]
    fn merge_keeps_what_only_the_older_knew() {
        let mut old = AlertDetails::new("h", at(1));
        old.restarts = Some(10);
        old.stderr_tail = vec!["x".into()];
        let mut newer = AlertDetails::new("h", at(2));
        newer.reason = Some("gave up".into());
        old.merge(newer);
        assert_eq!(old.restarts, Some(10));
        assert_eq!(old.reason.as_deref(), Some("gave up"));
        assert_eq!(old.stderr_tail, ["x"]);
        assert_eq!(old.at, at(1));
    }
}
