//! Readiness and overall health, decided from published state. Pure: `/ready` and
//! `/health` call [`verdict`] with the supervisor's snapshot and the wire view of the
//! checks and the host, so the rules are unit-tested without a running warden.
//!
//! The rules:
//! * **ready** when warden is not shutting down, every *required* program is running
//!   and passing its probe (a one-shot that completed with exit code 0 counts), and
//!   every required check passes. Host resources never make warden unready: routing
//!   traffic away from a pod because its disk is 91 % full helps nobody.
//! * **health** is `unhealthy` when warden is not ready or a host resource is critical,
//!   `degraded` when anything else is off (an optional program down, a probe failing on
//!   a program whose action is `alert`/`none` but not required, an optional check
//!   failing, a resource over its warning level), `healthy` otherwise.

use std::collections::BTreeMap;

use crate::api::{CheckInfo, Component, Finding, Health, Ready};
use crate::events::{ExitStatus, ProgramSnapshot, ProgramState, Snapshot};

const HEALTHY: &str = "healthy";
const DEGRADED: &str = "degraded";
const UNHEALTHY: &str = "unhealthy";

/// What the verdict reads besides the snapshot.
pub struct Inputs<'a> {
    pub snapshot: &'a Snapshot,
    pub checks: &'a BTreeMap<String, CheckInfo>,
    /// Each host resource with its level (`ok | warning | critical`) and reason.
    pub system: &'a [Finding],
    /// The supervision loop answered a round trip just now.
    pub loop_answers: bool,
    pub shutting_down: bool,
}

pub fn verdict(i: &Inputs<'_>) -> (Ready, Health) {
    let mut components = BTreeMap::new();
    let mut reasons = Vec::new();

    let supervisor = if i.shutting_down {
        reasons.push("warden is shutting down".to_string());
        component(UNHEALTHY, "shutting down", true)
    } else if !i.loop_answers {
        reasons.push("the supervision loop does not answer".to_string());
        component(UNHEALTHY, "the supervision loop does not answer", true)
    } else {
        component(HEALTHY, "supervising", true)
    };
    components.insert("supervisor".to_string(), supervisor);

    for p in &i.snapshot.programs {
        let (fine, reason) = program(p);
        let status = match (fine, p.required) {
            (true, _) => HEALTHY,
            (false, true) => {
                reasons.push(format!("program {}: {reason}", p.name));
                UNHEALTHY
            }
            (false, false) => DEGRADED,
        };
        components.insert(format!("program:{}", p.name), component(status, &reason, p.required));
    }

    for (name, c) in i.checks {
        let reason = match c.status.as_str() {
            "up" => match c.latency_ms {
                Some(ms) => format!("ok ({ms} ms)"),
                None => "ok".to_string(),
            },
            "unknown" => "not checked yet".to_string(),
            _ => c.message.clone(),
        };
        let status = match (c.status == "up", c.required) {
            (true, _) => HEALTHY,
            (false, true) => {
                reasons.push(format!("check {name}: {reason}"));
                UNHEALTHY
            }
            (false, false) => DEGRADED,
        };
        components.insert(format!("check:{name}"), component(status, &reason, c.required));
    }

    for f in i.system {
        let status = match f.level.as_str() {
            "critical" => UNHEALTHY,
            "warning" => DEGRADED,
            _ => HEALTHY,
        };
        components.insert(format!("system:{}", f.component), component(status, &f.reason, false));
    }

    let ready = reasons.is_empty();
    let status = if !ready || components.values().any(|c| c.status == UNHEALTHY) {
        UNHEALTHY
    } else if components.values().any(|c| c.status == DEGRADED) {
        DEGRADED
    } else {
        HEALTHY
    };
    (
        Ready { ready, reasons },
        Health {
            status: status.to_string(),
            ready,
            components,
        },
    )
}

/// Whether the program is as it should be, and why (in words).
fn program(p: &ProgramSnapshot) -> (bool, String) {
    let why = p.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
    match p.state {
        ProgramState::Running => match &p.probe {
            None => (true, "running".to_string()),
            Some(probe) => {
                let last = probe
                    .last
                    .as_ref()
                    .map(|r| r.message.as_str())
                    .unwrap_or("no result yet");
                match probe.healthy {
                    Some(true) => (true, format!("running, probe passing ({last})")),
                    Some(false) => (false, format!("running, probe failing ({last})")),
                    None => (false, format!("running, probe not passed yet ({last})")),
                }
            }
        },
        ProgramState::Exited
            if p.last_exit
                .as_ref()
                .is_some_and(|x| x.status == Some(ExitStatus::Code(0))) =>
        {
            (true, "completed (exit code 0)".to_string())
        }
        ProgramState::Stopped if !p.enabled => (!p.required, "disabled".to_string()),
        state => (false, format!("{state}{why}")),
    }
}

fn component(status: &str, reason: &str, required: bool) -> Component {
    Component {
        status: status.to_string(),
        reason: reason.to_string(),
        required,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::events::{ExitReason, ExitRecord, ProbeResult, ProbeSnapshot};

    fn program(name: &str, state: ProgramState) -> ProgramSnapshot {
        crate::testing::program_snapshot(name, state)
    }

    fn probe(healthy: Option<bool>, message: &str) -> ProbeSnapshot {
        ProbeSnapshot {
            kind: "http",
            healthy,
            last: Some(ProbeResult {
                ok: healthy == Some(true),
                message: message.into(),
                duration: Duration::from_millis(3),
                at: SystemTime::UNIX_EPOCH,
            }),
            consecutive_failures: 0,
            action: "restart",
        }
    }

    fn check(status: &str, required: bool) -> CheckInfo {
        CheckInfo {
            kind: "postgres".into(),
            required,
            status: status.into(),
            latency_ms: (status == "up").then_some(1.5),
            message: if status == "up" { "ok" } else { "connection refused" }.into(),
            checked_at: None,
            since: None,
            consecutive_failures: 0,
        }
    }

    fn run(programs: Vec<ProgramSnapshot>, checks: &[(&str, CheckInfo)], system: &[Finding]) -> (Ready, Health) {
        let snapshot = Snapshot { programs };
        let checks: BTreeMap<String, CheckInfo> = checks.iter().map(|(n, c)| (n.to_string(), c.clone())).collect();
        verdict(&Inputs {
            snapshot: &snapshot,
            checks: &checks,
            system,
            loop_answers: true,
            shutting_down: false,
        })
    }

    #[test]
    fn everything_up_is_ready_and_healthy() {
        let mut web = program("web", ProgramState::Running);
        web.probe = Some(probe(Some(true), "HTTP 200"));
        let (ready, health) = run(vec![web], &[("db", check("up", true))], &[]);
        assert!(ready.ready, "{:?}", ready.reasons);
        assert_eq!(health.status, "healthy");
        assert_eq!(
            health.components["program:web"].reason,
            "running, probe passing (HTTP 200)"
        );
        assert_eq!(health.components["check:db"].reason, "ok (1.5 ms)");
    }

    #[test]
    fn a_required_program_not_passing_its_probe_is_not_ready() {
        let mut web = program("web", ProgramState::Running);
        web.probe = Some(probe(None, "connection refused"));
        let (ready, health) = run(vec![web], &[], &[]);
        assert!(!ready.ready);
        assert_eq!(
            ready.reasons,
            ["program web: running, probe not passed yet (connection refused)"]
        );
        assert_eq!(health.status, "unhealthy");
    }

    #[test]
    fn crash_looping_required_program_says_why() {
        let mut w = program("worker", ProgramState::Backoff);
        w.reason = Some("exit code 1, restarting in 2s".into());
        let (ready, _) = run(vec![w], &[], &[]);
        assert_eq!(
            ready.reasons,
            ["program worker: backoff: exit code 1, restarting in 2s"]
        );
    }

    #[test]
    fn optional_parts_only_degrade() {
        let mut side = program("side", ProgramState::Failed);
        side.required = false;
        let (ready, health) = run(vec![side], &[("cache", check("down", false))], &[]);
        assert!(ready.ready);
        assert_eq!(health.status, "degraded");
        assert_eq!(health.components["check:cache"].status, "degraded");
        assert_eq!(health.components["check:cache"].reason, "connection refused");
    }

    #[test]
    fn a_required_check_failing_or_unknown_is_not_ready() {
        let (ready, _) = run(
            vec![],
            &[("db", check("down", true)), ("redis", check("unknown", true))],
            &[],
        );
        assert_eq!(
            ready.reasons,
            ["check db: connection refused", "check redis: not checked yet"]
        );
    }

    #[test]
    fn a_completed_one_shot_and_a_disabled_program_are_fine() {
        let mut migrate = program("migrate", ProgramState::Exited);
        migrate.last_exit = Some(ExitRecord {
            at: SystemTime::UNIX_EPOCH,
            status: Some(ExitStatus::Code(0)),
            reason: ExitReason::ExitCode(0),
        });
        let mut off = program("off", ProgramState::Stopped);
        off.enabled = false;
        off.required = false;
        let (ready, health) = run(vec![migrate, off], &[], &[]);
        assert!(ready.ready, "{:?}", ready.reasons);
        assert_eq!(health.status, "healthy");
    }

    #[test]
    fn shutdown_makes_warden_unready_at_once() {
        let snapshot = Snapshot {
            programs: vec![program("web", ProgramState::Running)],
        };
        let (ready, health) = verdict(&Inputs {
            snapshot: &snapshot,
            checks: &BTreeMap::new(),
            system: &[],
            loop_answers: true,
            shutting_down: true,
        });
        assert_eq!(ready.reasons, ["warden is shutting down"]);
        assert_eq!(health.status, "unhealthy");
    }

    #[test]
    fn host_resources_never_affect_readiness() {
        let finding = |component: &str, level: &str, reason: &str| Finding {
            component: component.into(),
            level: level.into(),
            reason: reason.into(),
        };
        let system = [
            finding("memory", "warning", "memory 90% used (warning at 85%)"),
            finding("disk:/", "critical", "disk / 97% full (critical at 90%)"),
        ];
        let (ready, health) = run(vec![], &[], &system);
        assert!(ready.ready);
        assert_eq!(health.status, "unhealthy");
        assert_eq!(
            health.components["system:disk:/"].reason,
            "disk / 97% full (critical at 90%)"
        );
        assert_eq!(health.components["system:memory"].status, "degraded");
    }
}
