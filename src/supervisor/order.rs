//! Dependency order, as pure questions over the programs' phases: may this program
//! start now (and if not, why not)? May this one stop now, or must it wait for its
//! dependents to stop first?
//!
//! The config has already refused unknown dependencies and cycles, so these functions
//! can assume a DAG; a missing program is still answered (as "not there") rather than
//! trusted away, because a reload may remove a dependency of a running program.

use std::collections::HashSet;

use crate::config::{Dependency, DependencyCondition, ProgramSpec};
use crate::events::ExitStatus;

use super::machine::Phase;

/// What `order` needs to know about a dependency: another program, or a check
/// (Postgres, Redis) that warden runs.
#[derive(Debug, Clone, Copy)]
pub enum View {
    Program {
        phase: Phase,
        last_exit: Option<Option<ExitStatus>>,
        enabled: bool,
        /// Running and passing its probe (or without a probe).
        healthy: bool,
    },
    /// `None` until the check's first attempt finished.
    Check { up: Option<bool> },
}

/// `None` when every dependency of `spec` meets its condition; otherwise the reason to
/// wait, e.g. "waiting for db-migrate to complete successfully (it is failed)".
pub fn blocked_on(spec: &ProgramSpec, view: &dyn Fn(&str) -> Option<View>) -> Option<String> {
    let waits: Vec<String> = spec.depends_on.iter().filter_map(|dep| unmet(dep, view)).collect();
    if waits.is_empty() {
        None
    } else {
        Some(format!("waiting for {}", waits.join(", ")))
    }
}

fn unmet(dep: &Dependency, view: &dyn Fn(&str) -> Option<View>) -> Option<String> {
    let (phase, last_exit, enabled, healthy) = match view(&dep.name) {
        None => return Some(format!("{} (not configured)", dep.name)),
        // A check is met when it passes, whatever the condition says.
        Some(View::Check { up: Some(true) }) => return None,
        Some(View::Check { up }) => {
            let now = if up.is_none() { "not checked yet" } else { "failing" };
            return Some(format!("{} to pass its check (it is {now})", dep.name));
        }
        Some(View::Program {
            phase,
            last_exit,
            enabled,
            healthy,
        }) => (phase, last_exit, enabled, healthy),
    };
    let met = match dep.condition {
        DependencyCondition::Started => matches!(phase, Phase::Starting | Phase::Running),
        DependencyCondition::Running => phase == Phase::Running,
        DependencyCondition::Healthy => phase == Phase::Running && healthy,
        DependencyCondition::CompletedSuccessfully => {
            phase == Phase::Exited && last_exit == Some(Some(ExitStatus::Code(0)))
        }
    };
    if met {
        return None;
    }
    let wanted = match dep.condition {
        DependencyCondition::Started => "to start",
        DependencyCondition::Running => "to be running",
        DependencyCondition::Healthy => "to be healthy",
        DependencyCondition::CompletedSuccessfully => "to complete successfully",
    };
    let now = if !enabled {
        "disabled".to_string()
    } else if dep.condition == DependencyCondition::Healthy && phase == Phase::Running {
        "running, not yet passing its probe".to_string()
    } else {
        phase.state().to_string()
    };
    Some(format!("{} {wanted} (it is {now})", dep.name))
}

/// The programs that must not be stopped yet in an ordered stop: those that a program
/// which still has a process depends on. Linear in programs plus dependencies.
pub fn still_needed<'a>(programs: impl Iterator<Item = (&'a ProgramSpec, Phase)>) -> HashSet<&'a str> {
    let mut needed = HashSet::new();
    for (spec, phase) in programs {
        if phase.has_process() {
            needed.extend(spec.depends_on.iter().map(|d| d.name.as_str()));
        }
    }
    needed
}
