//! Framing: the raw bytes of one stream become `\n`-terminated records of the log file
//! format, `TIMESTAMP TAG TEXT\n`.
//!
//! Pure: no I/O, no clock, no locks. The caller supplies the [`Prefix`] (timestamp and
//! tag) and the output buffer; this file only knows the record format, how lines are
//! found and how an over-long line is cut into pieces. It must not know about files,
//! rotation or pipes.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Stream;

/// Length of a timestamp such as `2026-11-23T09:04:49.123456Z` (fixed for the years
/// 1970..=9999, which [`Prefix::new`] clamps to).
pub(crate) const TS_LEN: usize = 27;

/// Longest prefix: timestamp, space, `warden`, `+`, space.
const PREFIX_CAP: usize = TS_LEN + 1 + 6 + 2;

/// The start of every record of one chunk: `TIMESTAMP TAG ` for a line or the first
/// piece of one, `TIMESTAMP TAG+ ` for the following pieces.
pub(crate) struct Prefix {
    at: SystemTime,
    stream: Stream,
    first: [u8; PREFIX_CAP],
    first_len: usize,
    next: [u8; PREFIX_CAP],
}

impl Prefix {
    /// The prefix of records that arrived at `at`. Formatting a timestamp costs about as
    /// much as copying a short line, so it is done once per chunk, not once per line.
    pub(crate) fn new(at: SystemTime, stream: Stream) -> Prefix {
        let at = clamp(at);
        let tag = stream.as_str().as_bytes();
        let mut first = [0u8; PREFIX_CAP];
        {
            let mut w = &mut first[..];
            // Cannot fail: `at` is clamped to the years humantime formats in TS_LEN bytes.
            let r = write!(w, "{}", humantime::format_rfc3339_micros(at));
            debug_assert!(r.is_ok() && w.len() == PREFIX_CAP - TS_LEN);
        }
        first[TS_LEN] = b' ';
        let tag_end = TS_LEN + 1 + tag.len();
        first[TS_LEN + 1..tag_end].copy_from_slice(tag);
        let mut next = first;
        first[tag_end] = b' ';
        next[tag_end] = b'+';
        next[tag_end + 1] = b' ';
        Prefix {
            at,
            stream,
            first,
            first_len: tag_end + 1,
            next,
        }
    }

    pub(crate) fn at(&self) -> SystemTime {
        self.at
    }

    pub(crate) fn stream(&self) -> Stream {
        self.stream
    }

    /// Length of `TIMESTAMP TAG ` (a piece's prefix is one longer).
    pub(crate) fn plain_len(&self) -> usize {
        self.first_len
    }

    fn get(&self, continued: bool) -> &[u8] {
        if continued {
            &self.next[..self.first_len + 1]
        } else {
            &self.first[..self.first_len]
        }
    }
}

/// humantime panics before 1970 and fails after 9999; a clock that far off must not
/// take the capture down, so the timestamp is pinned to the nearest end instead.
pub(crate) fn clamp(at: SystemTime) -> SystemTime {
    let max = UNIX_EPOCH + Duration::new(253_402_300_799, 999_999_999);
    if at < UNIX_EPOCH {
        UNIX_EPOCH
    } else if at > max {
        max
    } else {
        at
    }
}

/// Cuts one stream into records. It holds the line in progress (the bytes after the
/// last newline) between chunks, at most `max_line` bytes of it.
pub(crate) struct Framer {
    max_line: usize,
    /// The current line's bytes not yet written; never more than `max_line`.
    carry: Vec<u8>,
    /// Pieces of the current line have been written already: the rest gets the `+` tag.
    continued: bool,
}

impl Framer {
    pub(crate) fn new(max_line: usize) -> Framer {
        Framer {
            // 0 would never make progress on a long line; validation should prevent it.
            max_line: max_line.max(1),
            carry: Vec::new(),
            continued: false,
        }
    }

    /// Bytes received but not yet framed (the line in progress).
    pub(crate) fn pending(&self) -> usize {
        self.carry.len()
    }

    /// Appends to `out` the records that `input` completes. The output does not depend
    /// on how the stream was cut into chunks (only the timestamps do).
    pub(crate) fn push(&mut self, mut input: &[u8], prefix: &Prefix, out: &mut Vec<u8>) {
        if !self.carry.is_empty() || self.continued {
            match find_newline(input) {
                None => return self.extend(input, prefix, out),
                Some(i) => {
                    self.extend(&input[..i], prefix, out);
                    self.end_line(prefix, out);
                    input = &input[i + 1..];
                }
            }
        }
        // The hot loop: whole lines straight from the read buffer, no carry copy.
        while let Some(i) = find_newline(input) {
            line(&input[..i], self.max_line, prefix, out);
            input = &input[i + 1..];
        }
        self.extend(input, prefix, out);
    }

    /// At end of stream: the line in progress, if any, becomes a record.
    pub(crate) fn finish(&mut self, prefix: &Prefix, out: &mut Vec<u8>) {
        if !self.carry.is_empty() {
            record(out, prefix.get(self.continued), &self.carry);
        }
        self.carry.clear();
        self.continued = false;
    }

    /// Gives back the carry's memory after a long line, so that an idle program does
    /// not keep `max_line` bytes around.
    pub(crate) fn shrink(&mut self) {
        self.carry.shrink_to(self.carry.len().max(256));
    }

    /// Adds bytes without a newline to the line in progress. Whenever the line is known
    /// to be longer than `max_line`, a full piece is written, so the carry stays bounded.
    fn extend(&mut self, mut part: &[u8], prefix: &Prefix, out: &mut Vec<u8>) {
        loop {
            let room = self.max_line - self.carry.len();
            if part.len() <= room {
                self.carry.extend_from_slice(part);
                return;
            }
            if self.carry.is_empty() {
                record(out, prefix.get(self.continued), &part[..room]);
            } else {
                self.carry.extend_from_slice(&part[..room]);
                record(out, prefix.get(self.continued), &self.carry);
                self.carry.clear();
            }
            self.continued = true;
            part = &part[room..];
        }
    }

    /// A newline ends the line in progress.
    fn end_line(&mut self, prefix: &Prefix, out: &mut Vec<u8>) {
        // A line that ended exactly on a piece boundary has nothing left: no empty `+`
        // piece, so that the records are the same as if the line had come in one chunk.
        if !self.carry.is_empty() || !self.continued {
            record(out, prefix.get(self.continued), &self.carry);
        }
        self.carry.clear();
        self.continued = false;
    }
}

/// One whole line: one record, or pieces of `max_line` bytes when it is longer.
fn line(text: &[u8], max_line: usize, prefix: &Prefix, out: &mut Vec<u8>) {
    if text.len() <= max_line {
        return record(out, prefix.get(false), text);
    }
    for (i, piece) in text.chunks(max_line).enumerate() {
        record(out, prefix.get(i > 0), piece);
    }
}

#[inline]
fn record(out: &mut Vec<u8>, prefix: &[u8], text: &[u8]) {
    out.reserve(prefix.len() + text.len() + 1);
    out.extend_from_slice(prefix);
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// Where the records worth keeping in the tail start in `records` (a buffer of whole
/// records), and how many they are: the last ones, at most `max_lines` of them and
/// at most `max_bytes` bytes (but always the last one). Records further back would be
/// evicted from the tail by these at once, so they are not even copied.
pub(crate) fn tail_region(records: &[u8], max_lines: usize, max_bytes: usize) -> (usize, usize) {
    let mut start = records.len();
    let mut count = 0;
    while start > 0 && count < max_lines {
        // `start - 1` is the newline ending the previous record.
        let prev = find_last_newline(&records[..start - 1]).map_or(0, |i| i + 1);
        if count > 0 && records.len() - prev > max_bytes {
            break;
        }
        start = prev;
        count += 1;
    }
    (start, count)
}

/// The text of one record (without its newline) framed with a prefix of `prefix_len`
/// bytes (see [`Prefix::plain_len`]).
pub(crate) fn record_text(record: &[u8], prefix_len: usize) -> &[u8] {
    // The byte before the text is the space after the tag, or `+` in a piece's tag.
    match record.get(prefix_len - 1) {
        Some(b'+') => record.get(prefix_len + 1..),
        _ => record.get(prefix_len..),
    }
    .unwrap_or_default()
}

/// The first `\n` in `s`. libc's memchr is vectorised; a byte loop here would cap the
/// capture well below 1 GB/s.
pub(crate) fn find_newline(s: &[u8]) -> Option<usize> {
    if s.is_empty() {
        return None;
    }
    // SAFETY: memchr reads at most `s.len()` bytes from `s`, which is a valid slice.
    let p = unsafe { libc::memchr(s.as_ptr().cast(), b'\n' as libc::c_int, s.len()) };
    (!p.is_null()).then(|| p as usize - s.as_ptr() as usize)
}

/// The last `\n` in `s`.
pub(crate) fn find_last_newline(s: &[u8]) -> Option<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        if s.is_empty() {
            return None;
        }
        // SAFETY: memrchr reads at most `s.len()` bytes from `s`, which is a valid slice.
        let p = unsafe { libc::memrchr(s.as_ptr().cast(), b'\n' as libc::c_int, s.len()) };
        (!p.is_null()).then(|| p as usize - s.as_ptr() as usize)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        s.iter().rposition(|&b| b == b'\n')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix() -> Prefix {
        Prefix::new(UNIX_EPOCH + Duration::from_micros(1_234_567), Stream::Stdout)
    }

    fn frame(chunks: &[&[u8]], max_line: usize) -> Vec<u8> {
        let p = prefix();
        let mut f = Framer::new(max_line);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &p, &mut out);
            assert!(f.pending() <= max_line);
        }
        f.finish(&p, &mut out);
        out
    }

    #[test]
    fn prefix_format() {
        let p = prefix();
        assert_eq!(p.get(false), b"1970-01-01T00:00:01.234567Z out ");
        assert_eq!(p.get(true), b"1970-01-01T00:00:01.234567Z out+ ");
        let w = Prefix::new(UNIX_EPOCH - Duration::from_secs(5), Stream::Warden);
        assert_eq!(w.get(true), b"1970-01-01T00:00:00.000000Z warden+ ");
        let far = Prefix::new(UNIX_EPOCH + Duration::from_secs(1 << 40), Stream::Stderr);
        assert_eq!(far.get(false), b"9999-12-31T23:59:59.999999Z err ");
    }

    #[test]
    fn lines_and_pieces() {
        let out = frame(&[b"a\n\nabcdefghij\nabcdefghijk\nabcdefghijklmnopqrstu\nend"], 10);
        let ts = "1970-01-01T00:00:01.234567Z";
        let want: String = [
            "out a",
            "out ",
            "out abcdefghij",
            "out abcdefghij",
            "out+ k",
            "out abcdefghij",
            "out+ klmnopqrst",
            "out+ u",
            "out end",
        ]
        .iter()
        .map(|l| format!("{ts} {l}\n"))
        .collect();
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    /// Whatever the cut of the stream into chunks, the records are the same.
    #[test]
    fn chunking_does_not_change_records() {
        let input: &[u8] = b"one\n\n0123456789\n01234567890\n0123456789012345678901234\nx\n\n0123456789";
        for max_line in [1, 3, 10, 11, 100] {
            let whole = frame(&[input], max_line);
            for cut in 0..=input.len() {
                let (a, b) = input.split_at(cut);
                assert_eq!(frame(&[a, b], max_line), whole, "cut {cut} max {max_line}");
            }
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(frame(&bytes, max_line), whole, "byte by byte, max {max_line}");
        }
    }

    #[test]
    fn tail_region_takes_the_last_records() {
        let p = prefix();
        let mut out = Vec::new();
        let mut f = Framer::new(4);
        f.push(b"a\nbb\nabcdefg\n\xff\xfez\n", &p, &mut out);
        let (start, count) = tail_region(&out, 3, usize::MAX);
        assert_eq!(count, 3);
        let texts: Vec<&[u8]> = out[start..]
            .split(|&b| b == b'\n')
            .filter(|r| !r.is_empty())
            .map(|r| record_text(r, p.plain_len()))
            .collect();
        assert_eq!(texts, [&b"abcd"[..], b"efg", b"\xff\xfez"]);
        assert_eq!(tail_region(&out, 100, usize::MAX), (0, 5));
        let last = out.len() - (p.plain_len() + 4);
        assert_eq!(tail_region(&out, 100, 1), (last, 1), "always the last one");
        assert_eq!(tail_region(&out, 0, 100), (out.len(), 0));
        assert_eq!(tail_region(b"", 10, 100), (0, 0));
    }

    #[test]
    fn newline_search() {
        assert_eq!(find_newline(b""), None);
        assert_eq!(find_newline(b"ab\ncd\n"), Some(2));
        assert_eq!(find_last_newline(b"ab\ncd\nx"), Some(5));
        assert_eq!(find_last_newline(b"abc"), None);
    }
}
