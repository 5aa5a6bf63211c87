//! `warden scale NAME N`: the running configuration with another number of copies of a
//! scaled program (`instances`), as a reload would apply it. Pure; the file is not
//! touched, so the next reload of the file brings its own count back.

use std::sync::Arc;

use super::{Config, Dependency, Instance, PortSpec, ProgramSpec, Secret};

/// Most copies of one program.
pub const MAX_INSTANCES: u32 = 100;
/// Longest program name (a copy's included).
pub const MAX_NAME_LEN: usize = 63;

/// Why a program cannot be scaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleError {
    /// No program of that name (404).
    NotFound(String),
    /// Not possible as asked (400).
    Refused(String),
}

/// The name of copy `index` of program `of`.
pub fn instance_name(of: &str, index: u32) -> String {
    format!("{of}-{index}")
}

/// Copy `index` of the program `of`, made from `template` (the `[[program]]` itself or
/// any of its copies): its own name, `INSTANCE` in its environment.
pub fn instance(template: &ProgramSpec, of: &str, index: u32) -> ProgramSpec {
    let mut copy = template.clone();
    copy.name = instance_name(of, index);
    copy.env.insert("INSTANCE".to_owned(), Secret::new(index.to_string()));
    copy.instance = Some(Instance {
        of: of.to_owned(),
        index,
    });
    copy
}

/// `depends_on` with the dependencies for which `on_group` holds (on the program or on
/// any of its copies) replaced by one on each of `count` copies of `of`, at the place
/// of the first.
pub fn expand_dependencies(
    deps: &[Dependency],
    of: &str,
    count: u32,
    on_group: &dyn Fn(&str) -> bool,
) -> Vec<Dependency> {
    let mut out = Vec::with_capacity(deps.len());
    let mut done = false;
    for d in deps {
        if !on_group(&d.name) {
            out.push(d.clone());
        } else if !done {
            out.extend((0..count).map(|i| Dependency {
                name: instance_name(of, i),
                condition: d.condition,
            }));
            done = true;
        }
    }
    out
}

/// `config` with `count` copies of the scaled program `name`.
pub fn scaled(config: &Config, name: &str, count: u32) -> Result<Config, ScaleError> {
    let copies: Vec<&Arc<ProgramSpec>> = config
        .programs
        .iter()
        .filter(|p| p.instance.as_ref().is_some_and(|i| i.of == name))
        .collect();
    let Some(template) = copies.first() else {
        return Err(match config.program(name) {
            Some(p) => match &p.instance {
                Some(i) => ScaleError::Refused(format!("{name} is a copy of {}: scale {} instead", i.of, i.of)),
                None => ScaleError::Refused(format!(
                    "{name} is not a scaled program: give its [[program]] an `instances` key to scale it"
                )),
            },
            None => ScaleError::NotFound(format!("no program named {name:?}")),
        });
    };
    if count == 0 || count > MAX_INSTANCES {
        return Err(ScaleError::Refused(format!(
            "instances must be from 1 to {MAX_INSTANCES}, not {count}"
        )));
    }
    if let (Some(PortSpec::Fixed(port)), true) = (template.port, count > 1) {
        return Err(ScaleError::Refused(format!(
            "{count} instances cannot share the fixed port {port}: give {name} port = \"auto\" to scale it"
        )));
    }
    if instance_name(name, count - 1).len() > MAX_NAME_LEN {
        return Err(ScaleError::Refused(format!(
            "{} would be longer than {MAX_NAME_LEN} characters: shorten the program name",
            instance_name(name, count - 1)
        )));
    }
    if template.port == Some(PortSpec::Auto) {
        let auto = config
            .programs
            .iter()
            .filter(|p| p.port == Some(PortSpec::Auto) && p.instance.as_ref().is_none_or(|i| i.of != name))
            .count();
        let range = (config.ports.last - config.ports.first) as usize + 1;
        if auto + count as usize > range {
            return Err(ScaleError::Refused(format!(
                "[ports] range {}-{} has room for {} more \"auto\" programs, not {count}",
                config.ports.first,
                config.ports.last,
                range.saturating_sub(auto)
            )));
        }
    }
    let is_copy = |n: &str| {
        config
            .program(n)
            .and_then(|p| p.instance.as_ref())
            .is_some_and(|i| i.of == name)
    };
    for index in 0..count {
        let copy = instance_name(name, index);
        if config.program(&copy).is_some() && !is_copy(&copy) {
            return Err(ScaleError::Refused(format!(
                "{copy} would be a copy of {name}, but a program of that name exists"
            )));
        }
    }
    let mut programs = Vec::with_capacity(config.programs.len() + count as usize);
    let mut placed = false;
    for p in &config.programs {
        if p.instance.as_ref().is_some_and(|i| i.of == name) {
            if !placed {
                for index in 0..count {
                    // A copy that exists stays as it is (same spec: not restarted).
                    match copies
                        .iter()
                        .find(|c| c.instance.as_ref().is_some_and(|i| i.index == index))
                    {
                        Some(existing) => programs.push(Arc::clone(existing)),
                        None => programs.push(Arc::new(instance(template, name, index))),
                    }
                }
                placed = true;
            }
            continue;
        }
        if p.depends_on.iter().any(|d| is_copy(&d.name)) {
            let mut spec = (**p).clone();
            spec.depends_on = expand_dependencies(&spec.depends_on, name, count, &is_copy);
            programs.push(Arc::new(spec));
        } else {
            programs.push(Arc::clone(p));
        }
    }
    Ok(Config {
        programs,
        ..config.clone()
    })
}
