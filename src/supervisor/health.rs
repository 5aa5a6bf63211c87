//! A program's probe results → healthy or not. Pure: the loop feeds it one result at a
//! time and acts on the change it reports (restart, event, dependency release).

use crate::config::ProbeSpec;
use crate::events::ProbeResult;

/// Consecutive results of the current process's probe.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeTracker {
    successes: u32,
    failures: u32,
    /// `None` until `success_threshold` successes or `failure_threshold` failures in a
    /// row decided it; a new process starts undecided.
    pub healthy: Option<bool>,
    /// Kept across restarts, so `/status` still shows why the last process was unhealthy.
    pub last: Option<ProbeResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    BecameHealthy,
    BecameUnhealthy,
}

impl ProbeTracker {
    /// Records one attempt; returns the change of verdict, if it changed. While the
    /// process is still in its start period (`starting`), failures are shown but not
    /// counted, as Docker's `--start-period` does: a slow starter is not killed for not
    /// answering yet.
    pub fn record(&mut self, result: ProbeResult, spec: &ProbeSpec, starting: bool) -> Option<Change> {
        if starting && !result.ok {
            self.last = Some(result);
            return None;
        }
        let change = if result.ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            (self.healthy != Some(true) && self.successes >= spec.success_threshold).then(|| {
                self.healthy = Some(true);
                Change::BecameHealthy
            })
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            (self.healthy != Some(false) && self.failures >= spec.failure_threshold).then(|| {
                self.healthy = Some(false);
                Change::BecameUnhealthy
            })
        };
        self.last = Some(result);
        change
    }

    /// A new process: undecided again (the last result stays for display).
    pub fn reset(&mut self) {
        self.successes = 0;
        self.failures = 0;
        self.healthy = None;
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::config::{ProbeAction, ProbeKind, ProbePort};

    fn spec(success_threshold: u32, failure_threshold: u32) -> ProbeSpec {
        ProbeSpec {
            kind: ProbeKind::Tcp {
                host: "127.0.0.1".into(),
                port: ProbePort::Program,
            },
            initial_delay: Duration::ZERO,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            failure_threshold,
            success_threshold,
            action: ProbeAction::Restart,
            severity: crate::events::Severity::Warning,
        }
    }

    fn result(ok: bool) -> ProbeResult {
        ProbeResult {
            ok,
            message: if ok { "ok" } else { "connection refused" }.into(),
            duration: Duration::from_millis(1),
            at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn undecided_until_a_threshold_is_reached() {
        let s = spec(2, 3);
        let mut t = ProbeTracker::default();
        assert_eq!(t.record(result(true), &s, false), None);
        assert_eq!(t.healthy, None, "one success of two needed");
        assert_eq!(t.record(result(true), &s, false), Some(Change::BecameHealthy));
        assert_eq!(t.healthy, Some(true));
        assert_eq!(t.record(result(true), &s, false), None, "no repeated change");
    }

    #[test]
    fn failures_must_be_consecutive() {
        let s = spec(1, 3);
        let mut t = ProbeTracker::default();
        t.record(result(true), &s, false);
        t.record(result(false), &s, false);
        t.record(result(false), &s, false);
        t.record(result(true), &s, false);
        t.record(result(false), &s, false);
        t.record(result(false), &s, false);
        assert_eq!(t.healthy, Some(true), "a success in between restarts the count");
        assert_eq!(t.consecutive_failures(), 2);
        assert_eq!(t.record(result(false), &s, false), Some(Change::BecameUnhealthy));
        assert_eq!(t.healthy, Some(false));
        assert_eq!(t.record(result(false), &s, false), None);
        assert_eq!(t.record(result(true), &s, false), Some(Change::BecameHealthy));
    }

    #[test]
    fn a_process_that_never_passes_becomes_unhealthy() {
        let s = spec(1, 2);
        let mut t = ProbeTracker::default();
        t.record(result(false), &s, false);
        assert_eq!(t.record(result(false), &s, false), Some(Change::BecameUnhealthy));
        t.reset();
        assert_eq!(t.healthy, None);
        assert!(
            t.last.as_ref().is_some_and(|r| !r.ok),
            "the last result stays for display"
        );
    }

    #[test]
    fn failures_in_the_start_period_do_not_count() {
        let s = spec(1, 1);
        let mut t = ProbeTracker::default();
        assert_eq!(t.record(result(false), &s, true), None);
        assert_eq!(t.healthy, None);
        assert_eq!(t.consecutive_failures(), 0);
        assert!(t.last.as_ref().is_some_and(|r| !r.ok), "shown, not counted");
        assert_eq!(t.record(result(true), &s, true), Some(Change::BecameHealthy));
    }
}
