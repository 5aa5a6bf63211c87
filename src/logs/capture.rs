//! [`capture`]: the task that drains one pipe of one program into its [`LogSink`].
//!
//! It owns the read loop: buffer sizes, the pipe's capacity, and when records are handed
//! to the sink. It does not know the record format (`frame.rs`) or files and rotation
//! (`sink.rs`), nor anything about the process on the other end of the pipe.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use tokio::io::AsyncReadExt as _;
use tokio::net::unix::pipe::Receiver;

use super::frame::{Framer, Prefix};
use super::{LogSink, Stream};

/// Read buffer of a quiet program. Buffers grow while reads fill them and shrink back
/// when reads come in small, so 500 mostly idle programs cost little memory while a
/// chatty one gets big reads (fewer syscalls, and one timestamp per read).
const MIN_READ: usize = 8 * 1024;
const MAX_READ: usize = 256 * 1024;
/// Linux's default pipe capacity: a read this big means the pipe was full and the
/// program was probably blocked on it.
const DEFAULT_PIPE: usize = 64 * 1024;
/// Pipe capacity given to a program once it has filled the default one: at 1 GB/s it
/// lets the program run on for a millisecond while warden's worker is busy elsewhere.
const BIG_PIPE: usize = 1024 * 1024;
/// Input framed at a time, and the output size at which it is handed to the sink, so
/// that a chunk of tiny lines (each gains a ~35-byte prefix) cannot balloon the output
/// buffer to 35 times the chunk.
const FRAME_SLICE: usize = 16 * 1024;
const FLUSH_AT: usize = 512 * 1024;

/// Reads `pipe` until EOF, writing every complete line to `sink`; a final line without
/// newline is written at EOF. Returns the number of bytes read from the pipe.
///
/// A read error ends the capture like EOF (the pending line is written) and is
/// returned. Write errors never end it: see [`LogSink::bytes_lost`].
pub async fn capture(mut pipe: Receiver, stream: Stream, sink: Arc<LogSink>) -> io::Result<u64> {
    let mut state = Capture {
        sink: &sink,
        framer: Framer::new(sink.max_line()),
        out: Vec::new(),
        unflushed: 0,
    };
    // Empty while the program is quiet: its reads go to a buffer on the stack, so 500
    // idle programs hold no read buffers at all. Allocated once a read fills MIN_READ.
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0u64;
    let mut grown: Option<GrownPipe> = None;
    let mut tried_growing = false;
    let result = loop {
        let (n, size) = if buf.is_empty() {
            if let Err(e) = pipe.readable().await {
                break Err(e);
            }
            let mut small = [0u8; MIN_READ];
            match pipe.try_read(&mut small) {
                Ok(0) => break Ok(total),
                Ok(n) => {
                    state.take(&small[..n], stream);
                    (n, MIN_READ)
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => continue,
                Err(e) => break Err(e),
            }
        } else {
            match pipe.read(&mut buf).await {
                Ok(0) => break Ok(total),
                Ok(n) => {
                    state.take(&buf[..n], stream);
                    (n, buf.len())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        total += n as u64;
        if n == size {
            if n >= DEFAULT_PIPE && !tried_growing {
                tried_growing = true;
                grown = GrownPipe::grow(&pipe);
            }
            if size < MAX_READ {
                buf.resize(size * 2, 0);
            }
        } else if n <= size / 8 && size > MIN_READ {
            let half = size / 2;
            if half <= MIN_READ {
                buf = Vec::new();
            } else {
                buf.truncate(half);
                buf.shrink_to_fit();
            }
            state.shrink(half);
        }
    };
    let prefix = Prefix::new(SystemTime::now(), stream);
    state.framer.finish(&prefix, &mut state.out);
    state.flush(&prefix);
    drop(grown);
    result
}

/// The state of one capture between reads.
struct Capture<'a> {
    sink: &'a LogSink,
    framer: Framer,
    /// Records not yet handed to the sink; reused between reads.
    out: Vec<u8>,
    /// Bytes fed to the framer and not yet counted by the sink (the line in progress
    /// included).
    unflushed: u64,
}

impl Capture<'_> {
    /// One chunk read from the pipe: its lines, stamped with its arrival time, go to
    /// the sink.
    fn take(&mut self, data: &[u8], stream: Stream) {
        let prefix = Prefix::new(SystemTime::now(), stream);
        self.feed(data, &prefix);
        self.flush(&prefix);
    }

    fn feed(&mut self, data: &[u8], prefix: &Prefix) {
        for slice in data.chunks(FRAME_SLICE) {
            self.framer.push(slice, prefix, &mut self.out);
            self.unflushed += slice.len() as u64;
            if self.out.len() >= FLUSH_AT {
                self.flush(prefix);
            }
        }
    }

    /// Hands the records framed so far to the sink: one locked write, so they are on
    /// disk (or in the page cache) when this returns; nothing waits in a user buffer.
    fn flush(&mut self, prefix: &Prefix) {
        let raw = self.unflushed - self.framer.pending() as u64;
        if self.out.is_empty() && raw == 0 {
            return;
        }
        self.sink.append(&self.out, raw, prefix);
        self.unflushed -= raw;
        self.out.clear();
    }

    fn shrink(&mut self, read_buf: usize) {
        self.out.shrink_to(read_buf * 2);
        self.framer.shrink();
    }
}

/// Pipe memory added by growing pipes, process-wide. Linux charges pipe capacity to the
/// user (`fs.pipe-user-pages-soft`, 64 MiB by default) and, once a user is over it,
/// gives every new pipe of that user two pages — the programs' own pipes included. So
/// growing is capped at a quarter of that budget (16 pipes by default): the chattiest
/// programs get big pipes, and nobody gets crippled ones.
static GROWN_BYTES: AtomicUsize = AtomicUsize::new(0);

/// A pipe grown to [`BIG_PIPE`]; gives its share of the budget back when dropped (the
/// pipe is closed right after), also if the capture is cancelled.
struct GrownPipe;

impl GrownPipe {
    /// Best effort: without it the program blocks more often, nothing else changes.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn grow(pipe: &Receiver) -> Option<GrownPipe> {
        use nix::fcntl::{fcntl, FcntlArg};
        let budget = pipe_budget();
        let before = GROWN_BYTES.fetch_add(BIG_PIPE, Ordering::Relaxed);
        // Constructed first, so that every way out below gives the share back.
        let share = GrownPipe;
        if before + BIG_PIPE > budget {
            return None;
        }
        // Never shrink a pipe someone else made bigger.
        let current = fcntl(pipe, FcntlArg::F_GETPIPE_SZ).ok()?;
        if current as usize >= BIG_PIPE {
            return None;
        }
        fcntl(pipe, FcntlArg::F_SETPIPE_SZ(BIG_PIPE as libc::c_int)).ok()?;
        Some(share)
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn grow(_pipe: &Receiver) -> Option<GrownPipe> {
        None
    }
}

impl Drop for GrownPipe {
    fn drop(&mut self) {
        GROWN_BYTES.fetch_sub(BIG_PIPE, Ordering::Relaxed);
    }
}

/// A quarter of the per-user pipe budget in bytes, read once; unlimited when the
/// kernel sets no limit (0).
fn pipe_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let pages = std::fs::read_to_string("/proc/sys/fs/pipe-user-pages-soft")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(16384);
        if pages == 0 {
            usize::MAX
        } else {
            pages.saturating_mul(4096) / 4
        }
    })
}
