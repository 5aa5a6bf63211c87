//! What a reload changes: programs compared by name between the running config and
//! the new one.
//!
//! Pure and cheap. Deciding what to do about each group (start, restart, stop, leave
//! alone) belongs to the supervisor; this file only sorts names into the groups.

use super::{Config, ConfigDiff, ProgramSpec};

/// See [`super::diff`].
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let mut out = ConfigDiff::default();
    for spec in &new.programs {
        match old.program(&spec.name) {
            None => out.added.push(spec.name.clone()),
            Some(before) if same_process(before, spec) => out.unchanged.push(spec.name.clone()),
            Some(_) => out.changed.push(spec.name.clone()),
        }
    }
    out.removed = old
        .programs
        .iter()
        .filter(|p| new.program(&p.name).is_none())
        .map(|p| p.name.clone())
        .collect();
    out
}

/// Equal in everything that needs a new process to take effect. Log rotation, the probe
/// and `required` do not: the log writer applies a new rotation live, the supervisor
/// restarts only the probe, and readiness reads `required` each time, so changing them
/// must not restart the program.
fn same_process(old: &ProgramSpec, new: &ProgramSpec) -> bool {
    if old.rotation == new.rotation && old.probe == new.probe && old.required == new.required {
        old == new
    } else {
        let mut old = old.clone();
        old.rotation = new.rotation;
        old.probe = new.probe.clone();
        old.required = new.required;
        old == *new
    }
}
