//! Scheduled programs (`schedule = "..."`), wired (layer 3): one task starts each job
//! at its due times through the supervisor's own commands, so a job is an ordinary
//! program for everything else (logs, probes, events, alerts, `/status`).
//!
//! * **Due**: the job is started. If its previous run still has a process, `overlap`
//!   decides: `skip` (logged and shown in `/status`), `queue` (one run waits and starts
//!   when the previous one ends), `replace` (the previous run is restarted).
//! * **Exit**: 0 leaves it `exited` until the next due time; a failure goes through the
//!   normal path (events, alerts, restarts with backoff up to `max_retries`).
//! * **Timeout**: a run still going after `timeout` is stopped like any stop (stop
//!   signal to the whole tree, then SIGKILL) with the reason `timeout`, a failure:
//!   events, alerts and `max_retries` follow; `/status` shows it as `timed out`.
//! * **Missed runs**: the last due time of each job is kept in
//!   `supervisor.data_dir/jobs.json`; with `missed = "run_once"`, a job that was due
//!   while warden was down runs once at start.
//!
//! The supervisor knows nothing of this: it sees `start`, `restart` and `stop`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, JobSpec, Missed, Overlap};
use crate::events::{EventKind, ExitStatus};
use crate::supervisor::Handle;

/// What `/status` shows of a job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobView {
    pub schedule: String,
    pub timezone: String,
    pub next_due: Option<SystemTime>,
    /// The current run, or the last one.
    pub last_run: Option<Run>,
    /// When a due time was last skipped because the previous run was still going.
    pub last_skipped: Option<SystemTime>,
    /// A run waits for the current one to end (`overlap = "queue"`).
    pub queued: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub started_at: SystemTime,
    pub finished_at: Option<SystemTime>,
    pub exit_code: Option<i32>,
    /// `running | succeeded | failed | timed out`.
    pub outcome: &'static str,
}

/// The jobs' state, by program name, for the HTTP layer.
pub type Jobs = watch::Receiver<Arc<BTreeMap<String, JobView>>>;

const STATE_FILE: &str = "jobs.json";

/// Starts the scheduler task.
pub fn start(handle: Handle, config: watch::Receiver<Arc<Config>>, stop: CancellationToken) -> Jobs {
    let (tx, rx) = watch::channel(Arc::new(BTreeMap::new()));
    tokio::spawn(run(handle, config, stop, tx));
    rx
}

struct Job {
    spec: JobSpec,
    view: JobView,
    /// When the current run must end.
    deadline: Option<SystemTime>,
    /// The pid of the current run.
    pid: Option<u32>,
}

async fn run(
    handle: Handle,
    mut config: watch::Receiver<Arc<Config>>,
    stop: CancellationToken,
    views: watch::Sender<Arc<BTreeMap<String, JobView>>>,
) {
    let mut events = handle.subscribe();
    let current = config.borrow_and_update().clone();
    let state_file = current.supervisor.data_dir.join(STATE_FILE);
    let mut last_due = read_state(&state_file);
    let now = SystemTime::now();
    let mut jobs = jobs_of(&current, &BTreeMap::new(), now);
    // Missed while warden was down: run once now, or not; either way that due time is
    // settled (recorded), so the next start does not count it again.
    let mut settled = false;
    for (name, job) in jobs.iter_mut() {
        let Some(&last) = last_due.get(name) else { continue };
        let missed = job
            .spec
            .schedule
            .next_after(last, &job.spec.zone)
            .is_some_and(|t| t <= now);
        if missed && job.spec.missed == Missed::RunOnce {
            tracing::info!(job = %name, "due while warden was down: running it once now (missed = run_once)");
            let _ = handle.start(name).await;
        } else if missed {
            tracing::info!(job = %name, "due while warden was down: skipped (missed = skip)");
        }
        if missed {
            last_due.insert(name.clone(), now);
            settled = true;
        } else if job.spec.schedule.is_every() {
            // `@every` goes on from its last run, not from this start of warden.
            job.view.next_due = job.spec.schedule.next_after(last, &job.spec.zone);
        }
    }
    if settled {
        write_state(&state_file, &last_due);
    }
    loop {
        publish(&views, &jobs);
        let wake = jobs
            .values()
            .flat_map(|j| [j.view.next_due, j.deadline])
            .flatten()
            .min();
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep(at.duration_since(SystemTime::now()).unwrap_or_default()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = sleep => {}
            event = events.recv() => match event {
                Ok(event) => on_event(&handle, &mut jobs, &event.kind, event.at).await,
                Err(RecvError::Lagged(n)) => tracing::warn!(skipped = n, "the scheduler fell behind the event stream"),
                Err(RecvError::Closed) => return,
            },
            Ok(()) = config.changed() => {
                let new = config.borrow_and_update().clone();
                jobs = jobs_of(&new, &jobs, SystemTime::now());
            }
        }
        let now = SystemTime::now();
        let mut fired = false;
        for (name, job) in jobs.iter_mut() {
            if job.deadline.is_some_and(|d| d <= now) {
                job.deadline = None;
                tracing::warn!(job = %name, "the run took longer than its timeout: stopping it as a failure");
                if let Some(run) = job.view.last_run.as_mut() {
                    run.outcome = "timed out";
                }
                let _ = handle.time_out(name).await;
            }
            let Some(due) = job.view.next_due.filter(|d| *d <= now) else {
                continue;
            };
            fire(&handle, name, job, due).await;
            last_due.insert(name.clone(), due);
            // From now, not from `due`: after a jump of the clock (NTP at boot, a resumed
            // VM) the due times in between are not run one after the other.
            job.view.next_due = job.spec.schedule.next_after(now, &job.spec.zone);
            fired = true;
        }
        if fired {
            write_state(&state_file, &last_due);
        }
    }
}

/// The jobs of `config`, keeping what `old` knew of the ones that stay the same.
fn jobs_of(config: &Config, old: &BTreeMap<String, Job>, now: SystemTime) -> BTreeMap<String, Job> {
    config
        .programs
        .iter()
        .filter(|p| p.enabled)
        .filter_map(|p| p.job.as_ref().map(|j| (p.name.clone(), j.clone())))
        .map(|(name, spec)| {
            let job = match old.get(&name) {
                Some(o) if o.spec == spec => Job {
                    spec,
                    view: o.view.clone(),
                    deadline: o.deadline,
                    pid: o.pid,
                },
                // Changed by a reload: a run going on keeps a deadline (the new timeout,
                // from when it started).
                Some(o) if o.pid.is_some() => {
                    let started = o.view.last_run.as_ref().map(|r| r.started_at);
                    let deadline = match (started, spec.timeout) {
                        (Some(s), Some(t)) => s.checked_add(t),
                        _ => None,
                    };
                    Job {
                        view: JobView {
                            schedule: spec.schedule.as_str().to_owned(),
                            timezone: spec.zone.name().to_owned(),
                            next_due: spec.schedule.next_after(now, &spec.zone),
                            ..o.view.clone()
                        },
                        spec,
                        deadline,
                        pid: o.pid,
                    }
                }
                o => {
                    let view = JobView {
                        schedule: spec.schedule.as_str().to_owned(),
                        timezone: spec.zone.name().to_owned(),
                        next_due: spec.schedule.next_after(now, &spec.zone),
                        last_run: o.and_then(|o| o.view.last_run.clone()),
                        last_skipped: None,
                        queued: false,
                    };
                    Job {
                        spec,
                        view,
                        deadline: None,
                        pid: o.and_then(|o| o.pid),
                    }
                }
            };
            (name, job)
        })
        .collect()
}

/// A due time: start the job, or apply `overlap` when its previous run still goes.
async fn fire(handle: &Handle, name: &str, job: &mut Job, due: SystemTime) {
    let busy = handle
        .snapshot()
        .programs
        .iter()
        .find(|p| p.name == name)
        .is_some_and(|p| p.pid.is_some());
    if !busy {
        tracing::info!(job = %name, "due: starting");
        let _ = handle.start(name).await;
        return;
    }
    match job.spec.overlap {
        Overlap::Skip => {
            tracing::warn!(job = %name, due = %crate::api::rfc3339(due), "due, but the previous run is still going: skipped (overlap = skip)");
            job.view.last_skipped = Some(due);
        }
        Overlap::Queue => {
            tracing::info!(job = %name, "due while the previous run goes on: it starts when that one ends (overlap = queue)");
            job.view.queued = true;
        }
        Overlap::Replace => {
            tracing::warn!(job = %name, "due while the previous run goes on: restarting it (overlap = replace)");
            let _ = handle.restart(name).await;
        }
    }
}

async fn on_event(handle: &Handle, jobs: &mut BTreeMap<String, Job>, kind: &EventKind, at: SystemTime) {
    match kind {
        EventKind::Spawned { program, pid } => {
            if let Some(job) = jobs.get_mut(program) {
                job.pid = Some(*pid);
                job.deadline = job.spec.timeout.and_then(|t| at.checked_add(t));
                job.view.last_run = Some(Run {
                    started_at: at,
                    finished_at: None,
                    exit_code: None,
                    outcome: "running",
                });
            }
        }
        EventKind::Exited { program, record, .. } => {
            let Some(job) = jobs.get_mut(program) else { return };
            job.pid = None;
            job.deadline = None;
            if let Some(run) = job.view.last_run.as_mut() {
                run.finished_at = Some(record.at);
                run.exit_code = match record.status {
                    Some(ExitStatus::Code(c)) => Some(c),
                    _ => None,
                };
                if run.outcome == "running" {
                    run.outcome = match record.status {
                        Some(ExitStatus::Code(0)) => "succeeded",
                        _ => "failed",
                    };
                }
            }
            if std::mem::take(&mut job.view.queued) {
                tracing::info!(job = %program, "the previous run ended: starting the queued one");
                // Through the event loop's order: the exit is handled before the start.
                let _ = handle.start(program).await;
            }
        }
        _ => {}
    }
}

fn publish(views: &watch::Sender<Arc<BTreeMap<String, JobView>>>, jobs: &BTreeMap<String, Job>) {
    let next: BTreeMap<String, JobView> = jobs.iter().map(|(n, j)| (n.clone(), j.view.clone())).collect();
    views.send_if_modified(|v| {
        let changed = **v != next;
        if changed {
            *v = Arc::new(next);
        }
        changed
    });
}

/// `{"job": last due time in unix ms}`; a missing or unreadable file is an empty one.
fn read_state(path: &PathBuf) -> BTreeMap<String, SystemTime> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    let raw: BTreeMap<String, u64> = serde_json::from_str(&text).unwrap_or_else(|e| {
        tracing::warn!(file = %path.display(), error = %e, "the jobs' state file is unreadable: missed runs are not known");
        BTreeMap::new()
    });
    raw.into_iter()
        .map(|(k, ms)| (k, UNIX_EPOCH + Duration::from_millis(ms)))
        .collect()
}

fn write_state(path: &PathBuf, state: &BTreeMap<String, SystemTime>) {
    let raw: BTreeMap<&String, u64> = state
        .iter()
        .map(|(k, t)| (k, t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)))
        .collect();
    let text = serde_json::to_string(&raw).unwrap_or_default();
    let tmp = path.with_extension("json.tmp");
    let written = std::fs::create_dir_all(path.parent().unwrap_or(path))
        .and_then(|_| std::fs::write(&tmp, text))
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        tracing::warn!(file = %path.display(), error = %e, "cannot save the jobs' last due times");
    }
}
