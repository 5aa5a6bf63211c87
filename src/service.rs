//! Telling the service manager how warden is doing: systemd's notify protocol
//! (`READY=1`, `STATUS=`, `WATCHDOG=1`, `RELOADING=1`, `STOPPING=1`, through the
//! `sd-notify` crate) and Kubernetes' grace period (the shutdown deadline is fitted
//! inside it).
//!
//! Everything here is a no-op outside systemd (no `$NOTIFY_SOCKET`) and outside
//! Kubernetes (no `$KUBERNETES_SERVICE_HOST`). Programs never inherit
//! `$NOTIFY_SOCKET`: their environment is built from scratch (see `platform::spawn`).

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::time::Instant;

use crate::config::Config;
use crate::events::ProgramState;
use crate::supervisor::Handle;

/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// Kept back from the grace period: the kubelet's SIGKILL must find warden done.
const GRACE_MARGIN: Duration = Duration::from_secs(2);
/// The env var a Deployment sets to its `terminationGracePeriodSeconds`.
pub const GRACE_ENV: &str = "WARDEN_TERMINATION_GRACE_PERIOD";
/// `READY=1` is sent once no program is `starting`, or after this long at most (a
/// program waiting for a dependency that is down must not fail the unit's start).
const READY_WAIT: Duration = Duration::from_secs(30);
/// `STATUS=` is rewritten at most this often.
const STATUS_EVERY: Duration = Duration::from_secs(1);

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "cannot notify the service manager");
    }
}

/// In a Kubernetes pod, caps `supervisor.shutdown_timeout` to the pod's grace period
/// (from `$WARDEN_TERMINATION_GRACE_PERIOD`, else 30s) minus 2s, and warns about
/// programs whose `stop_timeout` would not fit. Elsewhere, returns the config as is.
pub fn fit_kubernetes(config: &mut Config, env: &dyn Fn(&str) -> Option<String>) {
    if env("KUBERNETES_SERVICE_HOST").is_none() {
        return;
    }
    let grace = match env(GRACE_ENV).map(|v| crate::config::parse_duration(&v)) {
        Some(Ok(g)) => g,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "${GRACE_ENV} is not a duration; assuming Kubernetes' default 30s");
            DEFAULT_GRACE
        }
        None => DEFAULT_GRACE,
    };
    let deadline = grace.saturating_sub(GRACE_MARGIN).max(Duration::from_secs(1));
    let supervisor = &mut config.supervisor;
    if supervisor.shutdown_timeout > deadline {
        tracing::info!(
            grace = %crate::config::format_duration(grace),
            shutdown_timeout = %crate::config::format_duration(deadline),
            "in Kubernetes: the shutdown deadline is fitted inside the pod's grace period"
        );
        supervisor.shutdown_timeout = deadline;
    }
    for p in config.programs.iter().filter(|p| p.stop_timeout > deadline) {
        tracing::warn!(
            program = %p.name,
            stop_timeout = %crate::config::format_duration(p.stop_timeout),
            "stop_timeout is longer than the pod's grace period allows: raise terminationGracePeriodSeconds (and ${GRACE_ENV})"
        );
    }
}

/// Sends `READY=1` once the programs are started, keeps `STATUS=` current, and pets
/// the watchdog from a round trip through the supervision loop: a loop that hangs
/// stops the pets, and systemd restarts warden.
pub async fn run_systemd(handle: Handle) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    // A round trip first: once the loop answers, it has spawned the programs and
    // published them (before that the snapshot is empty).
    let ready_by = Instant::now() + READY_WAIT;
    let _ = tokio::time::timeout_at(ready_by, handle.ping()).await;
    let mut snapshot = handle.watch();
    loop {
        let starting = snapshot
            .borrow_and_update()
            .programs
            .iter()
            .any(|p| p.state == ProgramState::Starting);
        if !starting {
            break;
        }
        match tokio::time::timeout_at(ready_by, snapshot.changed()).await {
            Ok(Ok(())) => {}
            _ => break, // waited long enough, or the loop ended
        }
    }
    let line = crate::dashboard::summary(&snapshot.borrow(), &[]);
    send(&[NotifyState::Ready, NotifyState::Status(&line)]);
    tracing::debug!(status = %line, "told systemd: ready");

    // `watchdog_enabled` checks `$WATCHDOG_PID` against our pid.
    let pet_every = sd_notify::watchdog_enabled().map(|usec| usec / 2);
    let mut pets = tokio::time::interval(pet_every.unwrap_or(Duration::from_secs(3600)));
    pets.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_status = line;
    let mut status_every = tokio::time::interval(STATUS_EVERY);
    loop {
        tokio::select! {
            _ = pets.tick(), if pet_every.is_some() => {
                let answered = tokio::time::timeout(pet_every.unwrap_or_default(), handle.ping()).await;
                if matches!(answered, Ok(true)) {
                    send(&[NotifyState::Watchdog]);
                } else {
                    tracing::warn!("the supervision loop did not answer: not petting the watchdog");
                }
            }
            _ = status_every.tick() => {
                let line = crate::dashboard::summary(&handle.snapshot(), &[]);
                if line != last_status {
                    send(&[NotifyState::Status(&line)]);
                    last_status = line;
                }
            }
        }
    }
}

/// Before a reload (systemd then waits for the next `READY=1`).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// After a reload, applied or refused.
pub fn reloaded(outcome: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(outcome)]);
}

/// At the start of a shutdown.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping programs")]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(text: &str) -> Config {
        crate::config::parse(text, std::path::Path::new("w.toml"), &|_| None).unwrap()
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| vars.get(k).cloned()
    }

    #[test]
    fn the_shutdown_deadline_fits_inside_the_pods_grace_period() {
        let text = "[supervisor]\nshutdown_timeout = \"2m\"\n";
        let mut c = config(text);
        fit_kubernetes(&mut c, &env(&[]));
        assert_eq!(
            c.supervisor.shutdown_timeout,
            Duration::from_secs(120),
            "not in Kubernetes"
        );
        fit_kubernetes(&mut c, &env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")]));
        assert_eq!(
            c.supervisor.shutdown_timeout,
            Duration::from_secs(28),
            "default grace 30s"
        );
        let mut c = config(text);
        fit_kubernetes(
            &mut c,
            &env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1"), (GRACE_ENV, "60s")]),
        );
        assert_eq!(c.supervisor.shutdown_timeout, Duration::from_secs(58));
        // A deadline already inside the grace period stays.
        let mut c = config("[supervisor]\nshutdown_timeout = \"10s\"\n");
        fit_kubernetes(&mut c, &env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")]));
        assert_eq!(c.supervisor.shutdown_timeout, Duration::from_secs(10));
    }
}
