//! Program logs: capture a program's stdout and stderr line by line into its own
//! rotating file and an in-memory tail.
//!
//! This module knows nothing of processes or the supervisor: it is handed the read ends
//! of pipes and a [`LogSink`] per program. It owns `DIR/NAME.log*` and nothing else.
//!
//! # The file
//!
//! One record per line, `2026-11-23T09:04:49.123456Z out hello world\n`: the arrival
//! time (RFC 3339, UTC, microseconds; always 27 bytes), a space, the tag (`out`, `err`,
//! `warden`), a space, the line's raw bytes without its `\n` (a `\r` is kept; invalid
//! UTF-8 and NULs are written as they are). A line longer than `max_line` bytes is cut
//! into pieces of `max_line` bytes; the pieces after the first carry the tag `out+` /
//! `err+`, so a reader rebuilds the line by joining a record with the `+` records that
//! follow it from the same stream. Nothing is ever dropped.
//!
//! Rotation is by size: before a record that would take `NAME.log` past `max_size`, the
//! files shift (`NAME.log.1` → `NAME.log.2` … up to `max_files`, the oldest deleted)
//! and a new `NAME.log` starts; `max_files = 0` truncates in place. Records are never
//! split across files, so a file exceeds `max_size` only when it holds a single record
//! longer than `max_size`.
//!
//! # How data flows, and why
//!
//! [`capture`] reads a pipe in chunks of up to 256 KiB and stamps every line of a chunk
//! with one timestamp (the chunk's arrival time: formatting one per line would cost as
//! much as the copy). It frames the whole chunk into one reusable buffer and writes it
//! under the sink's mutex (one `write(2)`, two around a rotation): stdout and stderr
//! records never interleave inside a record, and nothing waits in a user-space buffer,
//! so there is no flush step — once a chunk is handled it is in the page cache, and a
//! program that dies or closes its pipe loses nothing. A line still without newline
//! waits in a carry of at most `max_line` bytes (beyond that, a piece is written).
//!
//! The file is written synchronously on the async task, deliberately. A write into the
//! page cache costs about what the pipe read before it cost (~0.1 ms for 256 KiB);
//! `tokio::fs` would add a hop to the blocking pool and a buffer copy per chunk, and a
//! writer thread per program would cost a thread and its stack each — too much with
//! 500 programs. The price: when a disk is slower than a program's output, the kernel
//! throttles the writing thread (dirty-page balancing), so that runtime worker sleeps
//! for milliseconds at a time while other workers steal its queued tasks. That
//! throttling is the backpressure we want; it reaches the program as a full pipe.
//!
//! Memory is bounded per stream whatever the program does: the read buffer (8 KiB
//! when quiet, up to 256 KiB when busy, shrinking back), the output buffer (~1.4 times
//! the read for ordinary lines, at most ~1 MiB for a chunk of empty lines), the carry
//! (`max_line`), and the tail (`tail_lines` lines and at most [`TAIL_MAX_BYTES`]). A
//! program writing faster than the disk is slowed down by its full pipe, never
//! buffered.
//!
//! The tail keeps the last records of each chunk as raw bytes (one copy per chunk, of
//! at most `tail_lines` records: earlier ones would be evicted by them at once) and
//! converts them to [`LogLine`]s only when read.
//!
//! Write errors (a full disk) never stop a capture: the pipe keeps being drained so the
//! program does not block, the lost bytes are counted ([`LogSink::bytes_lost`]), one
//! warning is logged per episode, and the next chunk tries again.

mod capture;
mod frame;
mod sink;
mod tail;

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use serde::{Serialize, Serializer};

pub use capture::capture;
pub use sink::LogSink;

/// Upper bound of one program's tail in memory (the lines as framed for the file, plus
/// bookkeeping), whatever `tail_lines` says: 500 chatty programs then cost at most
/// 125 MiB of tails. A single line longer than this is still kept.
pub const TAIL_MAX_BYTES: usize = 256 * 1024;

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
    /// Written by warden about the program (started, exited, ...).
    Warden,
}

impl Stream {
    /// The tag in the log file.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "out",
            Stream::Stderr => "err",
            Stream::Warden => "warden",
        }
    }
}

/// One line of the tail. A piece of an over-long line is a line of its own here.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// When warden read it (serialized as RFC 3339 with microseconds).
    #[serde(serialize_with = "rfc3339")]
    pub at: SystemTime,
    pub stream: Stream,
    /// The line, invalid UTF-8 replaced by U+FFFD.
    pub text: String,
}

fn rfc3339<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_micros(frame::clamp(*at)))
}
