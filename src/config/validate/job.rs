//! A scheduled program (a job): `schedule` and the keys only a job takes (`timezone`,
//! `overlap`, `timeout`, `missed`, `max_retries`), and what a schedule changes in the
//! program's other keys.
//!
//! A job starts at its due times, never with warden (`autostart` is false), and is not
//! restarted after exit 0. A failed run is retried up to `max_retries` times: that is
//! the program's restart budget (`max_restarts`), with `restart = "on-failure"` when
//! there are retries and `"never"` when there are none.

use std::time::Duration;

use toml::Spanned;

use super::super::raw::{RawProgram, Scalar};
use super::super::{JobSpec, Missed, Overlap, RestartPolicy};
use super::{Validator, RESTART_POLICIES};
use crate::schedule::{Schedule, Zone};

/// Most retries of one failed run.
const MAX_RETRIES: u32 = 100;

const OVERLAPS: &[(&str, Overlap)] = &[
    ("skip", Overlap::Skip),
    ("queue", Overlap::Queue),
    ("replace", Overlap::Replace),
];
const MISSED: &[(&str, Missed)] = &[("skip", Missed::Skip), ("run_once", Missed::RunOnce)];

/// What `schedule` makes of a program.
pub(super) struct Scheduled {
    /// `None` when the schedule or the zone is invalid (an error was reported).
    pub job: Option<JobSpec>,
    /// On-failure with retries, else never.
    pub restart: RestartPolicy,
    /// `max_retries`.
    pub max_restarts: u32,
}

impl Validator<'_> {
    /// The job of a program with `schedule` (`None` without one). Reports the job keys
    /// of a program without `schedule`, and the keys a job cannot have.
    pub(super) fn job(&mut self, p: &RawProgram) -> Option<Scheduled> {
        let Some(schedule_value) = &p.schedule else {
            for (key, value) in [
                ("timezone", &p.timezone),
                ("overlap", &p.overlap),
                ("timeout", &p.timeout),
                ("missed", &p.missed),
                ("max_retries", &p.max_retries),
            ] {
                if let Some(value) = value {
                    self.error(
                        &value.span(),
                        format!("{key} is only for a scheduled program: add schedule = \"...\""),
                    );
                }
            }
            return None;
        };

        let schedule = self.schedule(schedule_value);
        let zone = match &p.timezone {
            None => Some(self.local_zone()),
            Some(value) => self.zone(value),
        };
        if let (Some(schedule), Some(value)) = (&schedule, &p.timezone) {
            if schedule.is_every() {
                self.error(
                    &value.span(),
                    "timezone does not apply to an @every schedule (it counts from the previous run, not by the clock): leave timezone out",
                );
            }
        }
        let overlap = self.choice(p.overlap.as_ref(), "overlap", Overlap::Skip, OVERLAPS);
        let missed = self.choice(p.missed.as_ref(), "missed", Missed::Skip, MISSED);
        let timeout = p.timeout.as_ref().and_then(|value| self.timeout(value));
        // `None`: invalid (reported); no conclusions drawn from it.
        let retries_written = self.max_retries(p.max_retries.as_ref());
        let retries = retries_written.unwrap_or(0);

        // `restart`: a word `program` could read (it reported any other value).
        let restart_written = p.restart.as_ref().and_then(|value| match value.get_ref() {
            Scalar::Str(s) => RESTART_POLICIES
                .iter()
                .find(|(word, _)| *word == s.as_str())
                .map(|(_, policy)| (*policy, value.span())),
            _ => None,
        });
        let retrying = if retries > 0 {
            RestartPolicy::OnFailure
        } else {
            RestartPolicy::Never
        };
        let restart = match restart_written {
            None => retrying,
            Some((RestartPolicy::Always, span)) => {
                self.error(
                    &span,
                    "a scheduled program is not restarted when it exits 0: use restart = \"on-failure\" (to retry failures up to max_retries) or leave restart out",
                );
                retrying
            }
            Some((RestartPolicy::OnFailure, span)) if retries_written == Some(0) => {
                self.error(
                    &span,
                    "restart = \"on-failure\" retries a failed run up to max_retries times, and max_retries is 0: set max_retries (1 to 100) or leave restart out",
                );
                RestartPolicy::Never
            }
            Some((RestartPolicy::Never, _)) if retries > 0 => {
                if let Some(value) = &p.max_retries {
                    self.error(
                        &value.span(),
                        format!("max_retries = {retries} does nothing with restart = \"never\" (a failed run is not retried): use restart = \"on-failure\" or leave restart out"),
                    );
                }
                RestartPolicy::Never
            }
            Some((policy, _)) => policy,
        };

        if let Some(value) = &p.max_restarts {
            self.error(
                &value.span(),
                "max_restarts does not apply to a scheduled program: use max_retries (how often a failed run is retried, 0 to 100)",
            );
        }
        if let Some(value) = &p.autostart {
            if matches!(value.get_ref(), Scalar::Bool(true)) {
                self.error(
                    &value.span(),
                    "autostart does not apply to a scheduled program: it starts at its due times (warden run-now NAME starts it at once)",
                );
            }
        }
        if let Some(value) = &p.instances {
            self.error(&value.span(), "a scheduled program cannot have instances");
        }

        let job = match (schedule, zone) {
            (Some(schedule), Some(zone)) => Some(JobSpec {
                schedule,
                zone,
                overlap,
                timeout,
                missed,
            }),
            _ => None,
        };
        Some(Scheduled {
            job,
            restart,
            max_restarts: retries,
        })
    }

    /// `schedule`: cron or `@...`, parsed by [`Schedule::parse`], whose message is
    /// quoted with the value unless it already names it.
    fn schedule(&mut self, value: &Spanned<Scalar>) -> Option<Schedule> {
        let text = self.string(value, "schedule")?;
        match Schedule::parse(text) {
            Ok(schedule) => Some(schedule),
            Err(e) => {
                let trimmed = text.trim();
                // "the schedule is empty: ...", "@every 0s: ...", "unknown macro \"@x\": ..."
                let names_it = trimmed.is_empty() || (trimmed.starts_with('@') && e.contains(trimmed));
                let message = if names_it {
                    e
                } else {
                    format!("invalid schedule {text:?}: {e}")
                };
                self.error(&value.span(), message);
                None
            }
        }
    }

    /// `timezone`: an IANA name.
    fn zone(&mut self, value: &Spanned<Scalar>) -> Option<Zone> {
        let name = self.string(value, "timezone")?;
        Zone::named(name).map_err(|e| self.error(&value.span(), e)).ok()
    }

    /// The machine's zone, read once per configuration.
    fn local_zone(&mut self) -> Zone {
        self.local_zone.get_or_insert_with(Zone::local).clone()
    }

    /// `timeout`: a duration longer than 0s.
    fn timeout(&mut self, value: &Spanned<Scalar>) -> Option<Duration> {
        let errors = self.errors.len();
        let timeout = self.duration(Some(value), "timeout", Duration::ZERO);
        if self.errors.len() > errors {
            return None;
        }
        if timeout.is_zero() {
            self.error(
                &value.span(),
                "timeout must be longer than 0s (leave it out for no limit)",
            );
            return None;
        }
        Some(timeout)
    }

    /// `max_retries`: 0 when left out, `None` when invalid (reported).
    fn max_retries(&mut self, value: Option<&Spanned<Scalar>>) -> Option<u32> {
        let Some(value) = value else { return Some(0) };
        match value.get_ref() {
            Scalar::Int(n) if (0..=i64::from(MAX_RETRIES)).contains(n) => Some(*n as u32),
            other => {
                self.error(
                    &value.span(),
                    format!("max_retries must be a whole number from 0 to {MAX_RETRIES}, not {other}"),
                );
                None
            }
        }
    }
}
