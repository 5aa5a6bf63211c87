//! A program's process tree: finding it, signalling it, measuring it.
//!
//! A program's tree is its main process and every descendant, *plus* the orphans it left
//! behind: a grandchild that double-forked or called `setsid()` and whose parent died is
//! re-parented to warden (a child subreaper), where it is found among warden's own
//! children that warden did not spawn, and attributed to its program by the
//! [`MARKER`](super::spawn::MARKER) variable in its environment.
//!
//! Children are read from `/proc/PID/task/TID/children` (one small read per process)
//! rather than by scanning all of `/proc`, so the cost follows the size of the tree, not
//! of the machine. A process that scrubs its environment *and* escapes its parent
//! cannot be attributed this way; a cgroup per program would close that gap.

use std::collections::{HashMap, HashSet};
use std::fs;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{getpgid, Pid};

use super::spawn::MARKER;

/// Direct children of `pid` (all its threads'), empty when it is gone.
pub fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path().join("children");
        if let Ok(text) = fs::read_to_string(path) {
            out.extend(text.split_ascii_whitespace().filter_map(|s| s.parse::<i32>().ok()));
        }
    }
    out
}

/// `root` and all its living descendants, parents before children.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        if !seen.insert(pid) || !alive(pid) {
            continue;
        }
        out.push(pid);
        queue.extend(children(pid));
    }
    out
}

fn alive(pid: i32) -> bool {
    fs::metadata(format!("/proc/{pid}")).is_ok()
}

/// Orphans adopted by warden, grouped by the program named in their environment.
/// `spawned` tells which of warden's children it started itself (those are skipped: they
/// are program main processes or helpers, never orphans).
pub fn orphans(spawned: &dyn Fn(i32) -> bool) -> HashMap<String, Vec<i32>> {
    let mut out: HashMap<String, Vec<i32>> = HashMap::new();
    for pid in children(std::process::id() as i32) {
        if spawned(pid) {
            continue;
        }
        if let Some(name) = marker_of(pid) {
            out.entry(name).or_default().push(pid);
        }
    }
    out
}

/// The value of [`MARKER`] in the environment of `pid`.
fn marker_of(pid: i32) -> Option<String> {
    let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{MARKER}=");
    environ
        .split(|b| *b == 0)
        .find_map(|var| var.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Every living process of `program`'s tree: the descendants of `main` (when given), of
/// the program's adopted orphans, and of `extra` (the members of its cgroup, if any).
pub fn tree(main: Option<i32>, program: &str, spawned: &dyn Fn(i32) -> bool, extra: &[i32]) -> Vec<i32> {
    let mut roots: Vec<i32> = main.into_iter().collect();
    roots.extend_from_slice(extra);
    roots.extend(orphans(spawned).remove(program).unwrap_or_default());
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for root in roots {
        for pid in descendants(root) {
            if seen.insert(pid) {
                out.push(pid);
            }
        }
    }
    out
}

/// Sends `sig` to the program's whole tree: once to the process group of `main` (its
/// session leader), and individually to every member of the tree outside that group.
/// Returns how many processes outside the group were signalled.
pub fn signal_tree(
    main: Option<i32>,
    program: &str,
    sig: Signal,
    spawned: &dyn Fn(i32) -> bool,
    extra: &[i32],
) -> usize {
    if let Some(main) = main {
        match kill(Pid::from_raw(-main), sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => tracing::warn!(program, pid = main, error = %e, "cannot signal process group"),
        }
    }
    let mut others = 0;
    for pid in tree(main, program, spawned, extra) {
        let in_group = main.is_some_and(|m| getpgid(Some(Pid::from_raw(pid))).map(|g| g.as_raw()) == Ok(m));
        if !in_group && kill(Pid::from_raw(pid), sig).is_ok() {
            others += 1;
        }
    }
    others
}

/// Resident memory and consumed CPU time of a set of processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub rss_bytes: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
}

/// Sums the usage of `pids` from `/proc/PID/stat` (processes that vanished count 0).
pub fn usage(pids: &[i32]) -> Usage {
    let page = page_size();
    let mut total = Usage::default();
    for &pid in pids {
        if let Some((ticks, rss_pages)) = read_stat(pid) {
            total.cpu_ticks += ticks;
            total.rss_bytes += rss_pages * page;
        }
    }
    total
}

/// (utime + stime, rss in pages) of one process.
fn read_stat(pid: i32) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything: fields are counted
    // from after the last ')'. After it: state(3) ppid(4) ... utime(14) stime(15) ... rss(24).
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some((field(14)? + field(15)?, field(24)?))
}

pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as u64
    } else {
        4096
    }
}

pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as u64
    } else {
        100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_stat_parses() {
        let me = std::process::id() as i32;
        let (_, rss) = read_stat(me).expect("own stat");
        assert!(rss > 0);
        assert!(usage(&[me]).rss_bytes > 0);
        assert_eq!(descendants(me)[0], me);
    }

    #[test]
    fn vanished_process_counts_zero() {
        assert_eq!(usage(&[i32::MAX]), Usage::default());
        assert!(descendants(i32::MAX).is_empty());
    }
}
