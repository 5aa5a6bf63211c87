//! System checks: the host's CPU, memory and disks, measured every `[system] interval`.
//!
//! [`spawn_system`] starts one task that ticks every interval and hands each measurement
//! to tokio's blocking pool (sysinfo and `statvfs` do blocking reads of `/proc` and of
//! file systems; an NFS mount can even hang), then publishes an `Arc<SystemReport>` on
//! a `watch`. Readers (`/status`, `/health`, `/metrics`) only ever borrow the last
//! published report, so no request measures anything.
//!
//! This module measures and grades (`level` against the configured thresholds); what a
//! level *means* for readiness or alerts is decided by the readers. It knows nothing of
//! programs, HTTP or the supervisor.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use nix::errno::Errno;
use serde::Serialize;
use sysinfo::System;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::config::{SystemConfig, Thresholds};

/// How bad a measured value is. Ordered: `Ok < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// Grades a usage ratio: at or above `critical` is critical, at or above `warning` a
/// warning. (A NaN ratio compares as nothing and is `Ok`; measurements never produce one.)
pub fn level(ratio: f64, t: Thresholds) -> Level {
    if ratio >= t.critical {
        Level::Critical
    } else if ratio >= t.warning {
        Level::Warning
    } else {
        Level::Ok
    }
}

/// Used part of a resource, in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// `total - available`: for memory, "available" is the kernel's `MemAvailable` (free
    /// plus reclaimable cache), not "free"; for a disk it is what an unprivileged
    /// process may still write, so blocks reserved for root count as used and a ratio of
    /// 1.0 means programs can no longer write.
    pub used: u64,
    pub total: u64,
    /// `used / total`, 0.0 when `total` is 0.
    pub ratio: f64,
    pub level: Level,
    /// The thresholds `level` was graded with (kept so a report explains itself even
    /// after a reload changed the config).
    pub thresholds: Thresholds,
}

impl Usage {
    pub fn new(used: u64, total: u64, thresholds: Thresholds) -> Self {
        let ratio = if total == 0 {
            0.0
        } else {
            (used as f64 / total as f64).clamp(0.0, 1.0)
        };
        Self {
            used,
            total,
            ratio,
            level: level(ratio, thresholds),
            thresholds,
        }
    }

    pub fn available(&self) -> u64 {
        self.total.saturating_sub(self.used)
    }
}

/// Host CPU usage averaged over one interval, all cores together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cpu {
    /// 0.0 to 1.0 (1.0 = every core busy).
    pub ratio: f64,
    pub level: Level,
    /// Logical cores.
    pub cores: usize,
    pub thresholds: Thresholds,
}

/// One mounted file system (or one configured mount point).
#[derive(Debug, Clone, PartialEq)]
pub struct Disk {
    /// The mount point, or the path as configured in `[system] mounts`.
    pub mount: String,
    /// The file system type from `/proc/self/mounts` (`ext4`, `overlay`, ...); empty if
    /// unknown.
    pub filesystem: String,
    /// All zeros and `Critical` when `error` is set.
    pub usage: Usage,
    /// Why the disk could not be measured: `"not found"` for a configured mount point
    /// that does not exist, or the `statvfs` error in words.
    pub error: Option<String>,
}

/// One measurement of the host.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemReport {
    /// When the measurement finished.
    pub at: SystemTime,
    /// `None` in the first report: CPU usage is a difference between two readings, and
    /// the first report is published before an interval has passed (see `spawn_system`).
    pub cpu: Option<Cpu>,
    pub memory: Usage,
    /// Sorted by mount point when every real file system is reported, in config order
    /// when `[system] mounts` names them.
    pub disks: Vec<Disk>,
    /// 1, 5 and 15 minutes (from `/proc/loadavg`; informational, never graded).
    pub load_average: [f64; 3],
}

/// One line of `/health`: a component, its level, and why in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `"cpu"`, `"memory"` or `"disk:<mount>"`.
    pub component: String,
    pub level: Level,
    /// E.g. `"CPU 91% (warning at 85%)"`, `"disk / 95% full, 2 GiB of 40 GiB available
    /// (critical at 90%)"`, `"disk /data: not found"`.
    pub reason: String,
}

impl SystemReport {
    /// The worst level of any component.
    pub fn worst(&self) -> Level {
        let cpu = self.cpu.map(|c| c.level);
        let disks = self.disks.iter().map(|d| d.usage.level);
        cpu.into_iter()
            .chain([self.memory.level])
            .chain(disks)
            .max()
            .unwrap_or(Level::Ok)
    }

    /// Every component with its level and a reason in words (ok ones too), in the order
    /// CPU, memory, disks.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::with_capacity(2 + self.disks.len());
        out.push(match self.cpu {
            Some(cpu) => Finding {
                component: "cpu".to_owned(),
                level: cpu.level,
                reason: format!(
                    "CPU {}{}",
                    Percent(cpu.ratio),
                    threshold_note(cpu.level, cpu.thresholds)
                ),
            },
            None => Finding {
                component: "cpu".to_owned(),
                level: Level::Ok,
                reason: "CPU not measured yet (the first value comes one interval after start)".to_owned(),
            },
        });
        let m = &self.memory;
        out.push(Finding {
            component: "memory".to_owned(),
            level: m.level,
            reason: format!(
                "memory {} used, {} of {} available{}",
                Percent(m.ratio),
                Bytes(m.available()),
                Bytes(m.total),
                threshold_note(m.level, m.thresholds)
            ),
        });
        for disk in &self.disks {
            let u = &disk.usage;
            let reason = match &disk.error {
                Some(error) => format!("disk {}: {error}", disk.mount),
                None => format!(
                    "disk {} {} full, {} of {} available{}",
                    disk.mount,
                    Percent(u.ratio),
                    Bytes(u.available()),
                    Bytes(u.total),
                    threshold_note(u.level, u.thresholds)
                ),
            };
            out.push(Finding {
                component: format!("disk:{}", disk.mount),
                level: u.level,
                reason,
            });
        }
        out
    }
}

/// `" (warning at 85%)"` for a graded value, nothing when it is ok.
fn threshold_note(level: Level, t: Thresholds) -> String {
    match level {
        Level::Ok => String::new(),
        Level::Warning => format!(" (warning at {})", Percent(t.warning)),
        Level::Critical => format!(" (critical at {})", Percent(t.critical)),
    }
}

/// A ratio as a percentage rounded to 0.1, without a trailing `.0` (`91%`, `85.5%`).
/// Values and thresholds use the same rounding, so a value shown as below its threshold
/// is never graded above it.
struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0 * 1000.0).round();
        if tenths % 10.0 == 0.0 {
            write!(f, "{}%", tenths / 10.0)
        } else {
            write!(f, "{:.1}%", tenths / 10.0)
        }
    }
}

/// A size for people: `15.6 GiB`, `512 MiB`, `0 B`.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        for (unit, factor) in UNITS {
            if self.0 >= factor {
                let value = self.0 as f64 / factor as f64;
                return if value < 10.0 {
                    write!(f, "{value:.1} {unit}")
                } else {
                    write!(f, "{value:.0} {unit}")
                };
            }
        }
        write!(f, "{} B", self.0)
    }
}

/// Starts measuring the host every `config.interval`, publishing each report on `tx`
/// (like [`crate::health::checks::spawn_checks`], so a reload can start a new measurer
/// on the same channel), and returns the task's handle.
///
/// The first report is published at once, without CPU (`cpu: None`): CPU usage is the
/// difference between two readings of `/proc/stat`, and a short first sample (sysinfo's
/// 200 ms minimum) would be a noisy value taken while warden itself is starting every
/// program, likely a false warning. Every later report carries the CPU average over the
/// interval since the previous one.
///
/// Measurements run one at a time on tokio's blocking pool; a slow one delays the next
/// tick rather than piling up. The task ends when every receiver is dropped, or when the
/// handle is aborted (for a reload: abort, then spawn again with the new config).
pub fn spawn_system(config: SystemConfig, tx: watch::Sender<Option<Arc<SystemReport>>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(config.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The meter moves into the blocking closure and back, so that the CPU reading of
        // one measurement is the baseline of the next.
        let mut meter: Option<Meter> = None;
        loop {
            ticks.tick().await;
            if tx.is_closed() {
                break;
            }
            let config = config.clone();
            let measured = tokio::task::spawn_blocking(move || {
                let mut meter = meter.unwrap_or_else(|| Meter::new(config));
                let report = meter.measure();
                (meter, report)
            })
            .await;
            let report = match measured {
                Ok((m, report)) => {
                    meter = Some(m);
                    report
                }
                Err(e) => {
                    tracing::error!(error = %e, "system check measurement failed; system checks stop");
                    break;
                }
            };
            if tx.send(Some(Arc::new(report))).is_err() {
                break;
            }
        }
    })
}

/// The blocking half: sysinfo's state between measurements, and the disk logic.
struct Meter {
    config: SystemConfig,
    sys: System,
    /// Whether `sys` holds a CPU reading to compute a difference against.
    cpu_primed: bool,
}

impl Meter {
    fn new(config: SystemConfig) -> Self {
        Self {
            config,
            sys: System::new(),
            cpu_primed: false,
        }
    }

    fn measure(&mut self) -> SystemReport {
        self.sys.refresh_cpu_usage();
        let cpu = if self.cpu_primed {
            let ratio = (f64::from(self.sys.global_cpu_usage()) / 100.0).clamp(0.0, 1.0);
            let t = self.config.cpu;
            Some(Cpu {
                ratio,
                level: level(ratio, t),
                cores: self.sys.cpus().len(),
                thresholds: t,
            })
        } else {
            self.cpu_primed = true;
            None
        };

        self.sys.refresh_memory();
        let total = self.sys.total_memory();
        let memory = Usage::new(
            total.saturating_sub(self.sys.available_memory()),
            total,
            self.config.memory,
        );

        let load = System::load_average();
        let mounts = std::fs::read_to_string("/proc/self/mounts")
            .map(|t| parse_mounts(&t))
            .unwrap_or_default();
        let disks = if self.config.mounts.is_empty() {
            auto_targets(&mounts)
                .into_iter()
                .filter_map(|m| match measure_disk(&m.mount, self.config.disk) {
                    // A mount point that is a file (Docker binds /etc/hosts this way) or
                    // that cannot be measured is not a disk anyone asked about.
                    Ok(usage) if usage.total > 0 && m.mount.is_dir() => Some(Disk {
                        mount: m.mount.display().to_string(),
                        filesystem: m.filesystem,
                        usage,
                        error: None,
                    }),
                    _ => None,
                })
                .collect()
        } else {
            self.config
                .mounts
                .iter()
                .map(|path| configured_disk(path, &mounts, self.config.disk))
                .collect()
        };

        SystemReport {
            at: SystemTime::now(),
            cpu,
            memory,
            disks,
            load_average: [load.one, load.five, load.fifteen],
        }
    }
}

/// A configured mount point. A path that is not itself a mount point is measured too:
/// the numbers are those of the file system holding it, which is what "how full is the
/// disk my data is on" asks.
fn configured_disk(path: &Path, mounts: &[MountEntry], t: Thresholds) -> Disk {
    let mount = path.display().to_string();
    let filesystem = containing_mount(path, mounts)
        .map(|m| m.filesystem.clone())
        .unwrap_or_default();
    match measure_disk(path, t) {
        Ok(usage) => Disk {
            mount,
            filesystem,
            usage,
            error: None,
        },
        Err(e) => {
            let error = if e == Errno::ENOENT {
                "not found".to_owned()
            } else {
                format!("cannot be measured: {}", e.desc())
            };
            let usage = Usage {
                level: Level::Critical,
                ..Usage::new(0, 0, t)
            };
            Disk {
                mount,
                filesystem,
                usage,
                error: Some(error),
            }
        }
    }
}

// `statvfs` field types differ between platforms (u32 on some 32-bit targets).
#[allow(clippy::unnecessary_cast)]
fn measure_disk(path: &Path, t: Thresholds) -> Result<Usage, Errno> {
    let st = nix::sys::statvfs::statvfs(path)?;
    let fragment = st.fragment_size() as u64;
    let total = (st.blocks() as u64).saturating_mul(fragment);
    let available = (st.blocks_available() as u64).saturating_mul(fragment);
    Ok(Usage::new(total.saturating_sub(available), total, t))
}

/// One line of `/proc/self/mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MountEntry {
    mount: PathBuf,
    filesystem: String,
}

/// Parses `/proc/self/mounts` (fstab format: device, mount point, type, options, ...;
/// spaces in paths escaped as `\040`). Later lines mount over earlier ones.
fn parse_mounts(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            let mount = fields.next()?;
            let filesystem = fields.next()?;
            Some(MountEntry {
                mount: PathBuf::from(unescape_octal(mount)),
                filesystem: filesystem.to_owned(),
            })
        })
        .collect()
}

/// Undoes the kernel's `\NNN` octal escapes (space, tab, newline, backslash).
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match escape {
            Some(d) => {
                let value = (u32::from(d[0] - b'0') << 6) | (u32::from(d[1] - b'0') << 3) | u32::from(d[2] - b'0');
                out.push(value as u8);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// File systems that hold no user data (kernel interfaces, memory-backed, read-only
/// images), and network file systems whose `statvfs` can hang on a hard mount. A
/// configured mount point is measured whatever its type.
fn is_virtual(filesystem: &str) -> bool {
    matches!(
        filesystem,
        "proc"
            | "sysfs"
            | "devtmpfs"
            | "devpts"
            | "tmpfs"
            | "ramfs"
            | "rootfs"
            | "cgroup"
            | "cgroup2"
            | "pstore"
            | "securityfs"
            | "debugfs"
            | "tracefs"
            | "configfs"
            | "fusectl"
            | "mqueue"
            | "hugetlbfs"
            | "bpf"
            | "binfmt_misc"
            | "autofs"
            | "rpc_pipefs"
            | "nsfs"
            | "efivarfs"
            | "selinuxfs"
            | "squashfs"
            | "iso9660"
            | "fuse.lxcfs"
            | "fuse.portal"
            | "fuse.gvfsd-fuse"
            | "nfs"
            | "nfs4"
            | "cifs"
            | "smb3"
            | "smbfs"
            | "fuse.sshfs"
    ) || filesystem.starts_with("fuse.snapfuse")
}

/// What "every real file system" means: one entry per mount point (the last mounted
/// wins), not virtual, not under `/proc`, `/sys`, `/dev` or `/run`, an `overlay` only as
/// `/` (a container's root; elsewhere it is a container runtime's internals), sorted. `/`
/// is always included: in an odd container whose root is listed oddly or not at all,
/// the root disk must still be reported.
fn auto_targets(entries: &[MountEntry]) -> Vec<MountEntry> {
    let root = Path::new("/");
    // Deduplicate first: what is visible at a mount point is what was mounted last there.
    let mut out: Vec<MountEntry> = Vec::new();
    for e in entries {
        match out.iter_mut().find(|o| o.mount == e.mount) {
            Some(existing) => *existing = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out.retain(|e| {
        let system_dir = ["/proc", "/sys", "/dev", "/run"].iter().any(|p| e.mount.starts_with(p));
        e.mount == root || !(is_virtual(&e.filesystem) || system_dir || e.filesystem == "overlay")
    });
    if !out.iter().any(|e| e.mount == root) {
        out.push(MountEntry {
            mount: root.to_path_buf(),
            filesystem: String::new(),
        });
    }
    out.sort_by(|a, b| a.mount.cmp(&b.mount));
    out
}

/// The mount whose mount point is the longest prefix of `path` (the last mounted of
/// equals).
fn containing_mount<'a>(path: &Path, entries: &'a [MountEntry]) -> Option<&'a MountEntry> {
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| path.starts_with(&e.mount))
        .max_by_key(|(i, e)| (e.mount.components().count(), *i))
        .map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const T: Thresholds = Thresholds {
        warning: 0.85,
        critical: 0.95,
    };
    const DISK: Thresholds = Thresholds {
        warning: 0.80,
        critical: 0.90,
    };

    fn config(mounts: &[&str]) -> SystemConfig {
        SystemConfig {
            interval: Duration::from_secs(1),
            cpu: T,
            memory: T,
            disk: DISK,
            mounts: mounts.iter().map(PathBuf::from).collect(),
        }
    }

    #[test]
    fn level_grades_at_or_above_each_threshold() {
        assert_eq!(level(0.0, T), Level::Ok);
        assert_eq!(level(0.8499, T), Level::Ok);
        assert_eq!(level(0.85, T), Level::Warning);
        assert_eq!(level(0.9499, T), Level::Warning);
        assert_eq!(level(0.95, T), Level::Critical);
        assert_eq!(level(1.0, T), Level::Critical);
        // Equal thresholds: straight to critical.
        assert_eq!(
            level(
                0.9,
                Thresholds {
                    warning: 0.9,
                    critical: 0.9
                }
            ),
            Level::Critical
        );
        assert!(Level::Ok < Level::Warning && Level::Warning < Level::Critical);
        assert_eq!(serde_json::to_string(&Level::Warning).unwrap(), "\"warning\"");
    }

    #[test]
    fn usage_ratio_is_used_over_total() {
        let u = Usage::new(90, 100, DISK);
        assert_eq!((u.ratio, u.level, u.available()), (0.9, Level::Critical, 10));
        let empty = Usage::new(0, 0, DISK);
        assert_eq!((empty.ratio, empty.level), (0.0, Level::Ok));
    }

    fn report() -> SystemReport {
        const GIB: u64 = 1 << 30;
        SystemReport {
            at: SystemTime::UNIX_EPOCH,
            cpu: Some(Cpu {
                ratio: 0.912,
                level: Level::Warning,
                cores: 8,
                thresholds: T,
            }),
            memory: Usage::new(8 * GIB, 16 * GIB, T),
            disks: vec![
                Disk {
                    mount: "/".into(),
                    filesystem: "ext4".into(),
                    usage: Usage::new(38 * GIB, 40 * GIB, DISK),
                    error: None,
                },
                Disk {
                    mount: "/data".into(),
                    filesystem: String::new(),
                    usage: Usage {
                        level: Level::Critical,
                        ..Usage::new(0, 0, DISK)
                    },
                    error: Some("not found".into()),
                },
            ],
            load_average: [0.5, 0.4, 0.3],
        }
    }

    #[test]
    fn findings_explain_each_component_in_words() {
        let r = report();
        let found: Vec<(String, Level, String)> = r
            .findings()
            .into_iter()
            .map(|f| (f.component, f.level, f.reason))
            .collect();
        let expect = |c: &str, l: Level, s: &str| (c.to_owned(), l, s.to_owned());
        assert_eq!(
            found,
            vec![
                expect("cpu", Level::Warning, "CPU 91.2% (warning at 85%)"),
                expect("memory", Level::Ok, "memory 50% used, 8.0 GiB of 16 GiB available"),
                expect(
                    "disk:/",
                    Level::Critical,
                    "disk / 95% full, 2.0 GiB of 40 GiB available (critical at 90%)"
                ),
                expect("disk:/data", Level::Critical, "disk /data: not found"),
            ]
        );
        assert_eq!(r.worst(), Level::Critical);
    }

    #[test]
    fn first_report_without_cpu_says_so_and_worst_ignores_it() {
        let mut r = report();
        r.cpu = None;
        r.disks.clear();
        let f = r.findings();
        assert_eq!((f[0].component.as_str(), f[0].level), ("cpu", Level::Ok));
        assert!(f[0].reason.contains("not measured yet"), "{}", f[0].reason);
        assert_eq!(r.worst(), Level::Ok);
    }

    #[test]
    fn percent_and_bytes_read_well() {
        assert_eq!(Percent(0.85).to_string(), "85%");
        assert_eq!(Percent(0.855).to_string(), "85.5%");
        assert_eq!(Percent(0.8549).to_string(), "85.5%");
        assert_eq!(Percent(1.0).to_string(), "100%");
        assert_eq!(Bytes(0).to_string(), "0 B");
        assert_eq!(Bytes(512 << 20).to_string(), "512 MiB");
        assert_eq!(Bytes(3 << 29).to_string(), "1.5 GiB");
    }

    /// A container: overlay root, bind-mounted files, a volume, kernel file systems,
    /// a path with a space, and mount points mounted twice (`/srv`: a tmpfs over a disk
    /// hides the disk).
    const CONTAINER_MOUNTS: &str = "\
overlay / overlay rw,relatime,lowerdir=/a,upperdir=/b,workdir=/c 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev tmpfs rw,nosuid,size=65536k,mode=755 0 0
sysfs /sys sysfs ro,nosuid,nodev,noexec,relatime 0 0
cgroup /sys/fs/cgroup cgroup2 ro,nosuid,nodev,noexec,relatime 0 0
shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k 0 0
/dev/sda1 /etc/hosts ext4 rw,relatime 0 0
/dev/sdb1 /data ext4 rw,relatime 0 0
/dev/sdb2 /data xfs rw,relatime 0 0
/dev/sdd1 /srv ext4 rw,relatime 0 0
tmpfs /srv tmpfs rw 0 0
/dev/sdc1 /mnt/my\\040disk ext4 rw,relatime 0 0
overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0
/dev/loop0 /snap/core/1 squashfs ro 0 0
tmpfs /run tmpfs rw 0 0
/dev/sda1 /run/media/usb vfat rw 0 0
";

    #[test]
    fn real_file_systems_are_chosen_and_deduplicated() {
        let entries = parse_mounts(CONTAINER_MOUNTS);
        assert_eq!(entries.len(), 16);
        let chosen: Vec<(String, String)> = auto_targets(&entries)
            .into_iter()
            .map(|e| (e.mount.display().to_string(), e.filesystem))
            .collect();
        let pair = |m: &str, f: &str| (m.to_owned(), f.to_owned());
        assert_eq!(
            chosen,
            vec![
                pair("/", "overlay"),
                pair("/data", "xfs"),
                // A file bind mount survives parsing; `measure` drops it (not a directory).
                pair("/etc/hosts", "ext4"),
                pair("/mnt/my disk", "ext4"),
            ]
        );
    }

    #[test]
    fn root_is_reported_even_when_the_mount_table_is_unreadable() {
        let chosen = auto_targets(&[]);
        assert_eq!(
            chosen,
            vec![MountEntry {
                mount: "/".into(),
                filesystem: String::new()
            }]
        );
        let rootfs_only = parse_mounts("rootfs / rootfs rw 0 0\n");
        assert_eq!(auto_targets(&rootfs_only)[0].filesystem, "rootfs");
    }

    #[test]
    fn a_path_belongs_to_the_longest_mount_point_holding_it() {
        let entries = parse_mounts(CONTAINER_MOUNTS);
        let fs = |p: &str| containing_mount(Path::new(p), &entries).map(|e| e.filesystem.as_str());
        assert_eq!(fs("/data/pg"), Some("xfs"));
        assert_eq!(fs("/datastore"), Some("overlay"));
        assert_eq!(fs("/"), Some("overlay"));
    }

    #[test]
    fn configured_mounts_are_measured_or_reported_missing() {
        let mut meter = Meter::new(config(&["/", "/warden-test-no-such-mount"]));
        let r = meter.measure();
        assert_eq!(r.disks.len(), 2);
        let root = &r.disks[0];
        assert_eq!((root.mount.as_str(), &root.error), ("/", &None));
        assert!(root.usage.total > 0 && root.usage.used <= root.usage.total, "{root:?}");
        let missing = &r.disks[1];
        assert_eq!(missing.mount, "/warden-test-no-such-mount");
        assert_eq!(missing.error.as_deref(), Some("not found"));
        assert_eq!(missing.usage.level, Level::Critical);
        assert_eq!(r.worst(), Level::Critical);
        let finding = r.findings().pop().unwrap();
        assert_eq!(finding.component, "disk:/warden-test-no-such-mount");
        assert_eq!(finding.reason, "disk /warden-test-no-such-mount: not found");
    }

    #[tokio::test]
    async fn spawn_system_publishes_real_measurements() {
        let (tx, mut rx) = watch::channel(None);
        let handle = spawn_system(config(&[]), tx);
        // The first report comes at once (without CPU), the second after one interval.
        let deadline = Duration::from_secs(15);
        let report = tokio::time::timeout(deadline, rx.wait_for(|r| r.as_ref().is_some_and(|r| r.cpu.is_some())))
            .await
            .expect("no report with CPU within the deadline")
            .expect("the system task ended")
            .clone()
            .unwrap();
        assert!(
            report.memory.total > 0 && report.memory.used <= report.memory.total,
            "{:?}",
            report.memory
        );
        assert!(
            report.disks.iter().any(|d| d.mount == "/" && d.usage.total > 0),
            "{:?}",
            report.disks
        );
        let cpu = report.cpu.unwrap();
        assert!((0.0..=1.0).contains(&cpu.ratio) && cpu.cores > 0, "{cpu:?}");
        assert!(report.load_average.iter().all(|l| *l >= 0.0));
        handle.abort();
    }

    #[tokio::test]
    async fn the_task_ends_when_every_receiver_is_gone() {
        let (tx, mut rx) = watch::channel(None);
        let handle = spawn_system(config(&[]), tx);
        tokio::time::timeout(Duration::from_secs(15), rx.wait_for(|r| r.is_some()))
            .await
            .unwrap()
            .unwrap();
        drop(rx);
        // The next tick (1 s) notices; bounded.
        tokio::time::timeout(Duration::from_secs(15), handle)
            .await
            .expect("task still running")
            .unwrap();
    }
}
