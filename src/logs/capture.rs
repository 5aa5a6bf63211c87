//! [`capture`]: the task that drains one pipe of one program into its [`LogSink`].
//!
//! It owns the read loop: buffer sizes, the pipe's capacity, and when records are handed
//! to the sink. It does not know the record format (`frame.rs`) or files and rotation
//! (`sink.rs`), nor anything about the process on the other end of the pipe.

use std::io;
use std::sync::Arc;
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
/// Pipe capacity given to a program once it has filled the default one. Not done up
/// front: the per-user budget of pipe memory (`fs.pipe-user-pages-soft`, 64 MiB by
/// default) would be used up by 32 programs, after which Linux gives every new pipe
/// of the user one page.
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
    let mut buf = vec![0u8; MIN_READ];
    let mut total = 0u64;
    let mut pipe_grown = false;
    let result = loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) => break Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        };
        total += n as u64;
        // The arrival time of the chunk, shared by all its lines.
        let prefix = Prefix::new(SystemTime::now(), stream);
        state.feed(&buf[..n], &prefix);
        state.flush(&prefix);
        if n == buf.len() {
            if n >= DEFAULT_PIPE && !pipe_grown {
                pipe_grown = true;
                grow_pipe(&pipe);
            }
            if buf.len() < MAX_READ {
                buf.resize(buf.len() * 2, 0);
            }
        } else if n <= buf.len() / 8 && buf.len() > MIN_READ {
            buf.truncate(buf.len() / 2);
            buf.shrink_to_fit();
            state.shrink(buf.len());
        }
    };
    let prefix = Prefix::new(SystemTime::now(), stream);
    state.framer.finish(&prefix, &mut state.out);
    state.flush(&prefix);
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

/// Best effort: without it the program blocks more often, nothing else changes.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn grow_pipe(pipe: &Receiver) {
    use nix::fcntl::{fcntl, FcntlArg};
    // Never shrink a pipe someone else made bigger.
    let current = fcntl(pipe, FcntlArg::F_GETPIPE_SZ).unwrap_or(0);
    if (current as usize) < BIG_PIPE {
        let _ = fcntl(pipe, FcntlArg::F_SETPIPE_SZ(BIG_PIPE as libc::c_int));
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn grow_pipe(_pipe: &Receiver) {}
