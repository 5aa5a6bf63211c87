//! One cgroup v2 per program, where the host gives warden a writable cgroup v2 directory
//! (systemd with `Delegate=yes`, a privileged container, root on a plain host).
//!
//! A process cannot leave its cgroup by forking, `setsid()` or scrubbing its
//! environment, so a program's cgroup lists its whole tree exactly; `cgroup.kill`
//! (Linux 5.14+) kills it in one write. Where no writable cgroup v2 exists, warden falls
//! back to process groups plus adopted orphans (see [`tree`](super::tree)); the two
//! are combined, never exclusive, so a detection mistake costs precision, not safety.
//!
//! Layout: `<warden's own cgroup>/warden-<PID>/<program>`. The `warden-<PID>` level keeps
//! two wardens in one cgroup apart; it is removed when warden exits, and stale ones of
//! dead wardens are removed at start when empty.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// warden's directory of program cgroups.
#[derive(Debug, Clone)]
pub struct Cgroups {
    base: PathBuf,
    /// `cgroup.kill` is supported (Linux 5.14+).
    kill_file: bool,
}

impl Cgroups {
    /// Finds warden's own cgroup v2 and creates `warden-<PID>` below it; `None` when
    /// there is no cgroup v2 or it is not writable.
    pub fn detect() -> Option<Cgroups> {
        let own = own_cgroup_dir()?;
        remove_stale(&own);
        let base = own.join(format!("warden-{}", std::process::id()));
        match fs::create_dir(&base) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                tracing::info!(dir = %own.display(), error = %e, "cgroup v2 not writable: tracking trees by process group and environment marker");
                return None;
            }
        }
        let kill_file = base.join("cgroup.kill").exists();
        tracing::info!(dir = %base.display(), kill_file, "one cgroup v2 per program");
        Some(Cgroups { base, kill_file })
    }

    /// The cgroup of `program`, created when missing.
    pub fn program(&self, program: &str) -> io::Result<ProgramCgroup> {
        let dir = self.base.join(program);
        // `create_dir_all`: recreates warden's level too if something removed it.
        fs::create_dir_all(&dir)?;
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).map_err(io::Error::other)?;
        Ok(ProgramCgroup {
            dir,
            procs,
            kill_file: self.kill_file,
        })
    }

    /// warden's directory of program cgroups.
    pub fn dir(&self) -> &Path {
        &self.base
    }

    /// Every process in `program`'s cgroup (empty when it has none).
    pub fn pids_of(&self, program: &str) -> Vec<i32> {
        read_pids(&self.base.join(program))
    }

    /// Removes the (empty) cgroup of a program that is gone.
    pub fn remove(&self, program: &str) {
        let _ = fs::remove_dir(self.base.join(program));
    }

    /// Removes every program cgroup and warden's own level (at exit; only empty ones go).
    pub fn cleanup(&self) {
        if let Ok(entries) = fs::read_dir(&self.base) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    let _ = fs::remove_dir(e.path());
                }
            }
        }
        let _ = fs::remove_dir(&self.base);
    }
}

/// One program's cgroup.
#[derive(Debug, Clone)]
pub struct ProgramCgroup {
    dir: PathBuf,
    /// `cgroup.procs` as a C string, prepared before `fork` (the child may not allocate).
    procs: CString,
    kill_file: bool,
}

impl ProgramCgroup {
    /// Moves the calling process into this cgroup. Called in the child between `fork`
    /// and `exec`: only async-signal-safe system calls, no allocation.
    pub fn join_from_child(&self) -> io::Result<()> {
        // SAFETY: open/write/close on a NUL-terminated path prepared before fork.
        unsafe {
            let fd = libc::open(self.procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // "0" means the writing process itself.
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
            if written < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Every process in the cgroup.
    pub fn pids(&self) -> Vec<i32> {
        read_pids(&self.dir)
    }

    /// SIGKILLs every process in the cgroup in one write where the kernel can.
    /// Returns `false` when the caller must signal the pids itself.
    pub fn kill_all(&self) -> bool {
        self.kill_file && fs::write(self.dir.join("cgroup.kill"), "1").is_ok()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn read_pids(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// `<cgroup2 mount>/<path of warden's cgroup>`, when the unified hierarchy is mounted.
fn own_cgroup_dir() -> Option<PathBuf> {
    let cgroup = fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?.trim().to_string();
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    for line in mountinfo.lines() {
        // `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER`
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next() != Some("cgroup2") {
            continue;
        }
        let fields: Vec<&str> = left.split_whitespace().collect();
        let (root, mountpoint) = (*fields.get(3)?, *fields.get(4)?);
        // Inside a cgroup namespace the mount's root is "/" and `own` is relative to it.
        let rel = own.strip_prefix(root).unwrap_or(&own).trim_start_matches('/');
        let dir = Path::new(mountpoint).join(rel);
        return dir.is_dir().then_some(dir);
    }
    None
}

/// Removes empty `warden-<PID>` levels left by wardens that died without cleaning up.
fn remove_stale(own: &Path) {
    let Ok(entries) = fs::read_dir(own) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("warden-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            if let Ok(children) = fs::read_dir(e.path()) {
                for c in children.flatten().filter(|c| c.path().is_dir()) {
                    let _ = fs::remove_dir(c.path());
                }
            }
            let _ = fs::remove_dir(e.path());
        }
    }
}
