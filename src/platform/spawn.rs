//! Turning a [`ProgramSpec`] into a running process.
//!
//! Each program gets its own session (and so its own process group, whose id is its
//! pid): signals for the program go to the group, a terminal's Ctrl-C does not reach it,
//! and [`tree`](super::tree) can find what it left behind. The environment is built from
//! scratch: a minimal base, the variables the program passes through, its own `env`, and
//! the marker [`MARKER`] that lets warden recognise the program's escaped descendants.
//! This is the only code that reads a [`Secret`](crate::config::Secret)'s value.

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use nix::unistd::{Gid, Group, Uid, User};
use tokio::net::unix::pipe;

use super::cgroup::ProgramCgroup;
use super::reaper::{OnExit, Reaper};
use crate::config::ProgramSpec;

/// Environment variable set in every program: `WARDEN_PROGRAM=NAME`. Descendants inherit
/// it, so an orphan re-parented to warden can be attributed to its program.
pub const MARKER: &str = "WARDEN_PROGRAM";

/// Variables every program gets from warden's environment when set there.
const BASE_ENV: [&str; 4] = ["PATH", "HOME", "USER", "LANG"];

/// PATH when warden itself has none (e.g. started by a bare `execve`).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A started program: its pid and the read ends of its output.
pub struct Spawned {
    pub pid: u32,
    pub stdout: pipe::Receiver,
    pub stderr: pipe::Receiver,
}

/// Starts `spec` through the reaper; `on_exit` gets the status of the main process.
/// `port`, when the program has one, is passed as `PORT`.
///
/// Errors are what the operator needs to read: "No such file or directory", "user
/// `nobody` requires warden to run as root", ...
pub fn spawn(
    reaper: &Reaper,
    spec: &ProgramSpec,
    cgroup: Option<&ProgramCgroup>,
    port: Option<u16>,
    on_exit: OnExit,
) -> io::Result<Spawned> {
    let mut cmd = Command::new(&spec.command);
    cmd.args(&spec.args)
        .env_clear()
        .envs(environment(spec, &|k| std::env::var_os(k)));
    if let Some(port) = port {
        cmd.env("PORT", port.to_string());
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    let identity = identity(spec)?;
    if let Some(id) = &identity {
        cmd.env("HOME", &id.home).env("USER", &id.name);
    }
    let ids = identity.as_ref().map(|id| (id.uid, id.gid));
    let cgroup = cgroup.cloned();
    let nofile = super::inherited_nofile();
    // SAFETY: between fork and exec the closure only makes async-signal-safe system
    // calls (setsid, open/write/close, setrlimit, setgroups/setgid/setuid) and allocates nothing:
    // the cgroup path was prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid().map_err(io::Error::from)?;
            // The open-files limit warden inherited, not the one it raised for itself.
            if let Some((soft, hard)) = nofile {
                let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, soft, hard);
            }
            // Join the cgroup while still privileged (std would drop privileges before
            // pre_exec runs, hence the manual setuid below). Failing to join only costs
            // precision: the tree is still found by process group and marker.
            if let Some(cg) = &cgroup {
                let _ = cg.join_from_child();
            }
            if let Some((uid, gid)) = ids {
                if libc::setgroups(0, std::ptr::null()) != 0 && Uid::effective().is_root() {
                    return Err(io::Error::last_os_error());
                }
                nix::unistd::setgid(gid).map_err(io::Error::from)?;
                nix::unistd::setuid(uid).map_err(io::Error::from)?;
            }
            Ok(())
        });
    }
    let mut child = reaper.spawn(&mut cmd, on_exit)?;
    let pid = child.id();
    let stdout = receiver(child.stdout.take().map(OwnedFd::from))?;
    let stderr = receiver(child.stderr.take().map(OwnedFd::from))?;
    // Dropping a std Child neither kills nor waits: the reaper owns the status.
    drop(child);
    Ok(Spawned { pid, stdout, stderr })
}

fn receiver(fd: Option<OwnedFd>) -> io::Result<pipe::Receiver> {
    let fd = fd.ok_or_else(|| io::Error::other("child pipe missing"))?;
    pipe::Receiver::from_owned_fd(fd)
}

/// The complete environment of a program, given a lookup into warden's own.
pub fn environment(spec: &ProgramSpec, warden_env: &dyn Fn(&str) -> Option<OsString>) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    let mut set = |k: &str, v: OsString| {
        env.retain(|(name, _)| name != k);
        env.push((k.into(), v));
    };
    for name in BASE_ENV {
        if let Some(v) = warden_env(name) {
            set(name, v);
        }
    }
    if warden_env("PATH").is_none() {
        set("PATH", DEFAULT_PATH.into());
    }
    for name in &spec.env_passthrough {
        if let Some(v) = warden_env(name) {
            set(name, v);
        }
    }
    for (name, value) in &spec.env {
        set(name, value.expose().into());
    }
    set(MARKER, spec.name.clone().into());
    env
}

struct Identity {
    name: String,
    uid: Uid,
    gid: Gid,
    home: std::path::PathBuf,
}

/// Resolves `user`/`group` at spawn time (accounts can change while warden runs).
fn identity(spec: &ProgramSpec) -> io::Result<Option<Identity>> {
    if spec.user.is_none() && spec.group.is_none() {
        return Ok(None);
    }
    let current = User::from_uid(Uid::current()).map_err(io::Error::from)?;
    let user = match &spec.user {
        Some(name) => User::from_name(name)
            .map_err(io::Error::from)?
            .ok_or_else(|| io::Error::other(format!("user `{name}` does not exist")))?,
        None => current.ok_or_else(|| io::Error::other("warden's own user has no passwd entry"))?,
    };
    let gid = match &spec.group {
        Some(name) => {
            Group::from_name(name)
                .map_err(io::Error::from)?
                .ok_or_else(|| io::Error::other(format!("group `{name}` does not exist")))?
                .gid
        }
        None => user.gid,
    };
    let switching = user.uid != Uid::current() || gid != Gid::current();
    if switching && !Uid::effective().is_root() {
        return Err(io::Error::other(format!(
            "running as user `{}` requires warden to run as root",
            user.name
        )));
    }
    Ok(Some(Identity {
        name: user.name,
        uid: user.uid,
        gid,
        home: user.dir,
    }))
}
