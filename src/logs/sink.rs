//! [`LogSink`]: one program's log file (size rotation, retention, write errors) and its
//! in-memory tail.
//!
//! It receives ready-made records (see `frame.rs`) and never looks inside them except
//! to find record boundaries, so that a record is never split across two files. It
//! knows nothing of pipes or of the tasks that feed it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::frame::{find_last_newline, find_newline, Framer, Prefix};
use super::tail::{Segment, Tail};
use super::{LogLine, Stream};
use crate::config::Rotation;
use crate::events::LogCounters;

/// One program's log: `DIR/NAME.log` and the last lines in memory. Shared (as
/// `Arc<LogSink>`) by the capture of its stdout, of its stderr, and the supervisor's
/// notes; it outlives restarts of the program.
pub struct LogSink {
    program: String,
    path: PathBuf,
    max_line: usize,
    tail_lines: usize,
    /// Locked for the whole of a chunk's write, so records of stdout and stderr never
    /// interleave inside a record.
    file: Mutex<LogFile>,
    /// A lock of its own so that readers of the tail never wait for a file write.
    tail: Mutex<Tail>,
    counters: Arc<LogCounters>,
    /// The tail's line count after each append, for followers (`logs -f`).
    appended: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink")
            .field("program", &self.program)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LogSink {
    /// Opens (creating dir and file, appending) DIR/NAME.log.
    pub fn open(
        dir: &Path,
        program: &str,
        rotation: Rotation,
        tail_lines: usize,
        max_line: usize,
    ) -> io::Result<Arc<LogSink>> {
        // Config validation allows only `[a-z0-9-]+`; this guards the path against any
        // other caller.
        if program.is_empty() || program.contains(['/', '\0']) || program.starts_with('.') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{program:?} is not usable as a log file name"),
            ));
        }
        fs::create_dir_all(dir)?;
        let path = dir.join(format!("{program}.log"));
        let mut file = LogFile {
            path: path.clone(),
            file: None,
            size: 0,
            rotation,
            unterminated: false,
            failing: None,
        };
        file.open()?;
        Ok(Arc::new(LogSink {
            program: program.to_owned(),
            path,
            max_line,
            tail_lines,
            file: Mutex::new(file),
            tail: Mutex::new(Tail::new(tail_lines)),
            counters: Arc::default(),
            appended: tokio::sync::watch::Sender::new(0),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applied from the next write (config reload without restarting the program).
    pub fn set_rotation(&self, rotation: Rotation) {
        lock(&self.file).rotation = rotation;
    }

    /// The last `n` lines (oldest first), at most tail_lines.
    pub fn tail(&self, n: usize) -> Vec<LogLine> {
        lock(&self.tail).last(n)
    }

    /// Up to `max` lines from line number `from` on (see [`LogSink::follow`]), and how
    /// many lines from `from` on were already gone from the tail.
    pub fn since(&self, from: u64, max: usize) -> (Vec<LogLine>, u64) {
        lock(&self.tail).since(from, max)
    }

    /// The number of lines so far (the next line's number), changing at each append:
    /// a follower starts at `*borrow() - n` and waits on `changed()`. Lines are read
    /// from memory, so a follower is not disturbed by a rotation of the file.
    pub fn follow(&self) -> tokio::sync::watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// A line written by warden itself about the program ("started pid 42", "exited with
    /// code 1"), stream Warden. A text with newlines becomes several lines.
    pub fn note(&self, text: &str) {
        let prefix = Prefix::new(SystemTime::now(), Stream::Warden);
        let mut framer = Framer::new(self.max_line);
        let mut out = Vec::new();
        framer.push(text.as_bytes(), &prefix, &mut out);
        framer.finish(&prefix, &mut out);
        // Not program output: counts neither as written nor as lost.
        self.append(&out, 0, &prefix);
    }

    /// Bytes of program output written to the file so far (for tests/metrics): the
    /// bytes read from the pipes, newlines included, whose records reached the file.
    pub fn bytes_written(&self) -> u64 {
        self.counters.written()
    }

    /// Bytes of program output read but not written because writing the file failed
    /// (a chunk whose write failed half-way counts whole). `bytes_written() +
    /// bytes_lost()` is everything read and framed.
    pub fn bytes_lost(&self) -> u64 {
        self.counters.lost()
    }

    /// The written/lost counters, shared with whoever reports them (metrics).
    pub fn counters(&self) -> Arc<LogCounters> {
        self.counters.clone()
    }

    pub(crate) fn max_line(&self) -> usize {
        self.max_line
    }

    /// Writes whole records (framed with `prefix`, `raw` bytes of program output) and
    /// adds them to the tail. Never fails: a failed write is counted, reported once per
    /// episode, and the next call tries again, so the program is never blocked on its
    /// pipe by a full disk.
    pub(crate) fn append(&self, records: &[u8], raw: u64, prefix: &Prefix) {
        // The copy for the tail is made before taking any lock.
        let segment = Segment::of(records, prefix, self.tail_lines);
        let mut file = lock(&self.file);
        match file.write(records) {
            Ok(()) => {
                self.counters.add_written(raw);
                if let Some(lost) = file.failing.take() {
                    tracing::info!(
                        program = %self.program,
                        path = %self.path.display(),
                        lost_bytes = lost,
                        "log writes work again"
                    );
                }
            }
            Err(error) => {
                self.counters.add_lost(raw);
                match &mut file.failing {
                    Some(lost) => *lost += raw,
                    None => {
                        tracing::warn!(
                            program = %self.program,
                            path = %self.path.display(),
                            %error,
                            "cannot write the log file; output is dropped until writes work again"
                        );
                        file.failing = Some(raw);
                    }
                }
            }
        }
        // Still under the file lock, so the tail lists lines in file order. Lines whose
        // write failed are kept: the tail may be the only place they can be seen.
        if let Some(segment) = segment {
            let total = {
                let mut tail = lock(&self.tail);
                tail.push(segment);
                tail.total()
            };
            self.appended.send_replace(total);
        }
    }
}

/// A poisoned lock only means another capture panicked mid-write; the state is still
/// usable (at worst a partial record), and logging must go on.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The current file and its rotation.
struct LogFile {
    path: PathBuf,
    /// `None` after an open failed: the next write tries again.
    file: Option<File>,
    /// Tracked in memory (from the file's length on open) to decide rotation without a
    /// stat per write.
    size: u64,
    rotation: Rotation,
    /// The file ends inside a record (a crash, or a write that failed halfway and could
    /// not be cut back): the next write starts with a newline so its records are whole.
    unterminated: bool,
    /// `Some(bytes lost so far)` while writes fail.
    failing: Option<u64>,
}

impl LogFile {
    fn open(&mut self) -> io::Result<&mut File> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)?;
        self.size = file.metadata()?.len();
        let mut last = [0u8];
        self.unterminated = self.size > 0 && file.read_at(&mut last, self.size - 1).is_ok() && last[0] != b'\n';
        Ok(self.file.insert(file))
    }

    /// Writes records, rotating before a record that would take the file past
    /// `max_size`. A file grows past `max_size` only by a single record longer than
    /// `max_size` (possible when `max_line` is close to or above `max_size`): such a
    /// record goes alone into a fresh file rather than being split or dropped.
    fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.unterminated {
            self.write_raw(b"\n")?;
            self.unterminated = false;
        }
        while !data.is_empty() {
            let room = self.rotation.max_size.max(1).saturating_sub(self.size);
            let mut take = if data.len() as u64 <= room {
                data.len()
            } else {
                // room < data.len(), so the cast is lossless.
                find_last_newline(&data[..room as usize]).map_or(0, |i| i + 1)
            };
            if take == 0 {
                if self.size > 0 {
                    self.rotate()?;
                    continue;
                }
                take = find_newline(data).map_or(data.len(), |i| i + 1);
            }
            self.write_raw(&data[..take])?;
            data = &data[take..];
        }
        Ok(())
    }

    fn write_raw(&mut self, data: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            self.open()?;
        }
        let Some(file) = self.file.as_mut() else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let mut done = 0;
        while done < data.len() {
            match file.write(&data[done..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    done += n;
                    self.size += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Cut a half-written record off, so the next one starts a line.
                    let whole = find_last_newline(&data[..done]).map_or(0, |i| i + 1);
                    let partial = (done - whole) as u64;
                    if partial > 0 {
                        let cut = file
                            .metadata()
                            .and_then(|m| file.set_len(m.len().saturating_sub(partial)));
                        match cut {
                            Ok(()) => self.size = self.size.saturating_sub(partial),
                            Err(_) => self.unterminated = true,
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// `NAME.log.(k)` → `NAME.log.(k+1)`, `NAME.log` → `NAME.log.1`, a new `NAME.log`;
    /// with `max_files` 0, `NAME.log` is truncated in place.
    fn rotate(&mut self) -> io::Result<()> {
        // Closed first: whatever fails below, the next write opens the path anew (which
        // also recovers from someone deleting the file under us).
        self.file = None;
        let keep = self.rotation.max_files;
        let mut truncate = keep == 0;
        if keep > 0 {
            // The oldest kept file goes, then any left over by a larger max_files before
            // a reload. Removing first means no rename below replaces a file: on ext4 a
            // replacing rename forces writeback of the renamed file (auto_da_alloc),
            // which would stall the capture.
            let mut k = keep;
            while fs::remove_file(self.numbered(k)).is_ok() {
                k += 1;
            }
            for k in (1..keep).rev() {
                let _ = fs::rename(self.numbered(k), self.numbered(k + 1));
            }
            match fs::rename(&self.path, self.numbered(1)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    // Bounded disk use matters more than history.
                    tracing::warn!(
                        path = %self.path.display(),
                        %error,
                        "cannot rotate the log file; truncating it instead"
                    );
                    truncate = true;
                }
            }
        }
        let file = self.open()?;
        if truncate {
            file.set_len(0)?;
        }
        self.size = 0;
        self.unterminated = false;
        Ok(())
    }

    fn numbered(&self, k: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{k}"));
        name.into()
    }
}
