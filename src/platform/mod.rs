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

/// Whether warden is PID 1 (a container's entry point).
pub fn is_pid1() -> bool {
    std::process::id() == 1
}
