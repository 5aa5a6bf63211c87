//! What a reload changes: programs compared by name between the running config and
//! the new one.
//!
//! Pure and cheap. Deciding what to do about each group (start, restart, stop, leave
//! alone) belongs to the supervisor; this file only sorts names into the groups.

use super::{Config, ConfigDiff, Dependency, ProgramSpec};

/// See [`super::diff`].
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let mut out = ConfigDiff::default();
    // A dependency on a scaled program is one on each of its copies; a new count of
    // copies changes that list, but not the dependent's process.
    let group = |name: &str| {
        [old, new]
            .iter()
            .find_map(|c| c.program(name).and_then(|p| p.instance.as_ref()).map(|i| i.of.clone()))
    };
    for spec in &new.programs {
        match old.program(&spec.name) {
            None => out.added.push(spec.name.clone()),
            Some(before) if same_process(before, spec, &group) => out.unchanged.push(spec.name.clone()),
            Some(_) => out.changed.push(spec.name.clone()),
        }
    }
    // Last first: the copies of a scaled program stop from the highest index down.
    out.removed = old
        .programs
        .iter()
        .rev()
        .filter(|p| new.program(&p.name).is_none())
        .map(|p| p.name.clone())
        .collect();
    out
}

/// `depends_on` with each copy of a scaled program named by its program, once.
fn collapsed(deps: &[Dependency], group: &dyn Fn(&str) -> Option<String>) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = deps
        .iter()
        .map(|d| (group(&d.name).unwrap_or_else(|| d.name.clone()), d.condition.as_str()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Equal in everything that needs a new process to take effect. Log rotation, the probe
/// and `required` do not: the log writer applies a new rotation live, the supervisor
/// restarts only the probe, and readiness reads `required` each time, so changing them
/// must not restart the program. Nor does a `depends_on` that differs only in how many
/// copies of a scaled program it lists (ordering is read at the next start).
fn same_process(old: &ProgramSpec, new: &ProgramSpec, group: &dyn Fn(&str) -> Option<String>) -> bool {
    let same_deps = collapsed(&old.depends_on, group) == collapsed(&new.depends_on, group);
    if old.rotation == new.rotation
        && old.probe == new.probe
        && old.required == new.required
        && old.depends_on == new.depends_on
    {
        old == new
    } else {
        let mut old = old.clone();
        old.rotation = new.rotation;
        old.probe = new.probe.clone();
        old.required = new.required;
        if same_deps {
            old.depends_on = new.depends_on.clone();
        }
        old == *new
    }
}
