//! The text `warden check` prints for a valid config: one line for the file, then one
//! aligned line per program (with a SCHEDULE column when a program has a schedule).
//! Never shows `env` (its values may be secrets).

use super::{Config, ProgramSpec};

impl Config {
    /// `FILE: ok, N programs (M enabled)`, then a table of the programs: name, state
    /// hint, command line, restart policy, dependencies with their conditions, and the
    /// schedule when any program has one. No trailing newline.
    pub fn summary(&self) -> String {
        let enabled = self.programs.iter().filter(|p| p.enabled).count();
        let noun = if self.programs.len() == 1 {
            "program"
        } else {
            "programs"
        };
        let mut out = format!(
            "{}: ok, {} {noun} ({enabled} enabled)",
            self.source.display(),
            self.programs.len()
        );
        if self.programs.is_empty() {
            return out;
        }
        let jobs = self.programs.iter().any(|p| p.job.is_some());
        let mut header = vec![
            "NAME".to_owned(),
            "STATE".into(),
            "COMMAND".into(),
            "RESTART".into(),
            "DEPENDS ON".into(),
        ];
        if jobs {
            header.push("SCHEDULE".into());
        }
        let mut rows = vec![header];
        rows.extend(self.programs.iter().map(|p| {
            let mut row = vec![
                p.name.clone(),
                state_hint(p).into(),
                command_line(p),
                p.restart.as_str().into(),
                dependencies(p),
            ];
            if jobs {
                row.push(schedule(p));
            }
            row
        }));
        let mut widths = vec![0usize; rows[0].len()];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for row in &rows {
            let mut line = String::from(" ");
            for (i, (cell, &width)) in row.iter().zip(&widths).enumerate() {
                line.push(' ');
                line.push_str(cell);
                if i + 1 < row.len() {
                    line.push_str(&" ".repeat(width - cell.chars().count() + 1));
                }
            }
            out.push('\n');
            out.push_str(line.trim_end());
        }
        out
    }
}

/// `disabled` (never started), `scheduled` (started at its due times), `manual`
/// (started by an operator), or `auto`.
fn state_hint(p: &ProgramSpec) -> &'static str {
    if !p.enabled {
        "disabled"
    } else if p.job.is_some() {
        "scheduled"
    } else if !p.autostart {
        "manual"
    } else {
        "auto"
    }
}

/// The command and its arguments as a shell would need them written.
fn command_line(p: &ProgramSpec) -> String {
    std::iter::once(&p.command)
        .chain(&p.args)
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `0 7 * * * (Europe/Berlin)`, `@every 5m` (counted from the previous run: no zone), or
/// `-` for a program without a schedule.
fn schedule(p: &ProgramSpec) -> String {
    match &p.job {
        None => "-".to_owned(),
        Some(job) if job.schedule.is_every() => job.schedule.as_str().trim().to_owned(),
        Some(job) => format!("{} ({})", job.schedule.as_str().trim(), job.zone.name()),
    }
}

fn dependencies(p: &ProgramSpec) -> String {
    if p.depends_on.is_empty() {
        return "-".to_owned();
    }
    p.depends_on
        .iter()
        .map(|d| format!("{} ({})", d.name, d.condition.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
