//! The one place that waits for children.
//!
//! warden is a child subreaper (and may be PID 1), so besides the programs it spawns it
//! inherits orphans it never spawned; they must be reaped or they stay zombies. A reaper
//! that calls `waitpid(-1)` takes the status of *every* child, so nothing else in warden
//! may wait for a child: no `tokio::process`, no `std::process::Child::wait`/`output`
//! (a tidy test enforces it). Instead, every spawn goes through [`Reaper::spawn`], which
//! registers a callback for the new pid; the reaper calls it with the exit status.
//!
//! Race: a child can exit before its pid is registered. The registry lock is held from
//! before `fork` until the pid is registered, and the reaper takes the same lock before
//! each `waitpid` sweep, so a status can never be collected for an unregistered pid of
//! ours. Statuses of pids nobody registered are orphans: reaped and logged at debug.

use std::collections::HashMap;
use std::io;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, SignalKind};

use crate::events::ExitStatus;

/// Called once with the exit status of the pid it was registered for. Runs on the
/// reaper task while the registry is locked: it must only send on a channel.
pub type OnExit = Box<dyn FnOnce(u32, ExitStatus) + Send>;

/// Handle to the reaper task; cheap to clone.
#[derive(Clone)]
pub struct Reaper {
    waiters: Arc<Mutex<HashMap<i32, OnExit>>>,
}

impl Reaper {
    /// Installs the SIGCHLD handler and starts the reaper task. Must be called inside a
    /// tokio runtime, before anything is spawned.
    pub fn start() -> io::Result<Reaper> {
        let mut sigchld = signal(SignalKind::child())?;
        let reaper = Reaper {
            waiters: Arc::new(Mutex::new(HashMap::new())),
        };
        let task = reaper.clone();
        tokio::spawn(async move {
            // Children may have exited before the handler existed (e.g. the exec of
            // warden as PID 1 inherited zombies): sweep once first.
            task.sweep();
            while sigchld.recv().await.is_some() {
                task.sweep();
            }
        });
        Ok(reaper)
    }

    /// Spawns `cmd` and registers `on_exit` for its pid, atomically with respect to the
    /// reaper. The returned `Child` must never be waited for.
    pub fn spawn(&self, cmd: &mut Command, on_exit: OnExit) -> io::Result<Child> {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        // std reaps a child whose exec failed by itself; that is safe because we hold
        // the lock, so the reaper cannot race it.
        let child = cmd.spawn()?;
        waiters.insert(child.id() as i32, on_exit);
        Ok(child)
    }

    /// The pids warden spawned and has not reaped yet. Any other child of warden is an
    /// adopted orphan.
    pub fn registered(&self) -> std::collections::HashSet<i32> {
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// Collects every exited child, registered or not.
    fn sweep(&self) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let (pid, status) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, ExitStatus::Code(code)),
                Ok(WaitStatus::Signaled(pid, sig, _core)) => (pid, ExitStatus::Signal(sig as i32)),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                // Stopped/continued are not asked for; anything else: try again.
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "waitpid failed");
                    break;
                }
            };
            match waiters.remove(&pid.as_raw()) {
                Some(on_exit) => on_exit(pid.as_raw() as u32, status),
                None => tracing::debug!(pid = pid.as_raw(), ?status, "reaped an orphan"),
            }
        }
    }
}
