//! The operating-system side of supervision: spawning a program into its own session,
//! reaping every child in one place, finding and killing a program's whole process
//! tree, and sampling its memory and CPU from `/proc`.
//!
//! Linux only. This module knows nothing of program states or policies: the supervisor
//! decides, this module does.
//!
//! Next: [`reaper`] (read first: it fixes how every child of warden is waited for),
//! [`spawn`], [`tree`], [`cgroup`].

pub mod cgroup;
pub mod reaper;
pub mod spawn;
pub mod tree;

/// Make warden the reaper of every orphan below it (`PR_SET_CHILD_SUBREAPER`), so a
/// program's grandchild that double-forks or calls `setsid()` is re-parented to warden
/// instead of init: warden can still find it, kill it and reap it.
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes plain integers.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The soft `RLIMIT_NOFILE` warden was started with, restored for its programs.
static INHERITED_NOFILE: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();

/// Raises warden's soft limit of open files to the hard limit. Each program costs warden
/// three descriptors (two pipes and its log file), so the common soft default of 1024
/// would stop warden at about 330 programs; systemd and Go raise it the same way. The
/// programs get the limit warden inherited (see [`inherited_nofile`]), as they would
/// without warden. Returns (old soft, new soft).
pub fn raise_fd_limit() -> std::io::Result<(u64, u64)> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let _ = INHERITED_NOFILE.set((soft, hard));
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok((soft, hard.max(soft)))
}

/// The `RLIMIT_NOFILE` (soft, hard) warden inherited, when [`raise_fd_limit`] changed it.
pub fn inherited_nofile() -> Option<(u64, u64)> {
    INHERITED_NOFILE.get().copied().filter(|(soft, hard)| soft < hard)
}

/// Whether warden is PID 1 (a container's entry point).
pub fn is_pid1() -> bool {
    std::process::id() == 1
}
