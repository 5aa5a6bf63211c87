//! The in-memory tail of one program: its last lines, bounded by count and by bytes.
//!
//! Lines are kept as they were framed for the file — one segment of raw records per
//! chunk, one allocation and one copy each — and turned into [`LogLine`]s only when
//! somebody asks. Converting every line to a `String` as it arrives costs a third of
//! the capture's time at 1 GB/s, for lines nobody reads. This file knows the record
//! format only through `frame.rs`; it knows nothing of files or pipes.

use std::collections::VecDeque;
use std::mem::size_of;
use std::time::SystemTime;

use super::frame::{find_last_newline, find_newline, record_text, tail_region, Prefix};
use super::{LogLine, Stream, TAIL_MAX_BYTES};

pub(crate) struct Tail {
    segments: VecDeque<Segment>,
    /// Live records over all segments.
    lines: usize,
    /// Sum of [`Segment::cost`]: memory actually held, not just text.
    bytes: usize,
    max_lines: usize,
    /// Lines ever pushed: the line numbered `total - 1` is the newest, so a follower
    /// keeps its place as a number that survives rotation and eviction.
    total: u64,
}

/// Consecutive records of one chunk (one stream, one timestamp).
pub(crate) struct Segment {
    at: SystemTime,
    stream: Stream,
    prefix_len: usize,
    /// Whole records; the live ones start at `start` (evicted ones stay until the whole
    /// segment goes, and are counted in the byte bound meanwhile).
    records: Box<[u8]>,
    start: usize,
    lines: usize,
}

impl Segment {
    /// The part of `records` (whole records framed with `prefix`) that a tail of
    /// `max_lines` would keep, copied; `None` if that is nothing. Meant to be called
    /// outside any lock.
    pub(crate) fn of(records: &[u8], prefix: &Prefix, max_lines: usize) -> Option<Segment> {
        let (start, lines) = tail_region(records, max_lines, TAIL_MAX_BYTES);
        (lines > 0).then(|| Segment {
            at: prefix.at(),
            stream: prefix.stream(),
            prefix_len: prefix.plain_len(),
            records: records[start..].into(),
            start: 0,
            lines,
        })
    }

    fn cost(&self) -> usize {
        self.records.len() + size_of::<Segment>()
    }

    /// Appends up to `n` lines to `out`, newest first.
    fn newest(&self, n: usize, out: &mut Vec<LogLine>) {
        let live = &self.records[self.start..];
        let mut end = live.len();
        for _ in 0..n.min(self.lines) {
            // `end - 1` is the newline of the record.
            let start = find_last_newline(&live[..end - 1]).map_or(0, |i| i + 1);
            let text = record_text(&live[start..end - 1], self.prefix_len);
            out.push(LogLine {
                at: self.at,
                stream: self.stream,
                text: String::from_utf8_lossy(text).into_owned(),
            });
            end = start;
        }
    }

    /// Forgets the `n` oldest live lines.
    fn skip(&mut self, n: usize) {
        for _ in 0..n {
            let live = &self.records[self.start..];
            self.start += find_newline(live).map_or(live.len(), |i| i + 1);
        }
        self.lines -= n;
    }
}

impl Tail {
    pub(crate) fn new(max_lines: usize) -> Tail {
        Tail {
            segments: VecDeque::new(),
            lines: 0,
            bytes: 0,
            max_lines,
            total: 0,
        }
    }

    /// The newest segment is always kept, even alone above the byte bound (it is at
    /// most [`TAIL_MAX_BYTES`] plus one record, see `tail_region`).
    pub(crate) fn push(&mut self, segment: Segment) {
        if self.max_lines == 0 {
            return;
        }
        self.lines += segment.lines;
        self.total += segment.lines as u64;
        self.bytes += segment.cost();
        self.segments.push_back(segment);
        while self.segments.len() > 1 {
            let excess = self.lines.saturating_sub(self.max_lines);
            let Some(front) = self.segments.front_mut() else {
                break;
            };
            if self.bytes > TAIL_MAX_BYTES || excess >= front.lines {
                self.lines -= front.lines;
                self.bytes -= front.cost();
                self.segments.pop_front();
            } else {
                if excess > 0 {
                    front.skip(excess);
                    self.lines -= excess;
                }
                break;
            }
        }
    }

    /// Lines ever pushed.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Up to `max` lines from line number `from` on, oldest first, and how many lines
    /// from `from` on had already left the tail (a follower that fell behind).
    pub(crate) fn since(&self, from: u64, max: usize) -> (Vec<LogLine>, u64) {
        let first = self.total - self.lines as u64;
        let skipped = first.saturating_sub(from);
        let start = from.max(first);
        let available = (self.total.saturating_sub(start)) as usize;
        let mut lines = self.last(available);
        lines.truncate(max);
        (lines, skipped)
    }

    /// The last `n` lines, oldest first.
    pub(crate) fn last(&self, n: usize) -> Vec<LogLine> {
        let n = n.min(self.lines);
        let mut out = Vec::with_capacity(n);
        for segment in self.segments.iter().rev() {
            if out.len() == n {
                break;
            }
            segment.newest(n - out.len(), &mut out);
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::frame::Framer;
    use std::time::{Duration, UNIX_EPOCH};

    fn segment(text: &str, secs: u64, max_lines: usize) -> Option<Segment> {
        let prefix = Prefix::new(UNIX_EPOCH + Duration::from_secs(secs), Stream::Stderr);
        let mut framer = Framer::new(1 << 20);
        let mut out = Vec::new();
        framer.push(text.as_bytes(), &prefix, &mut out);
        Segment::of(&out, &prefix, max_lines)
    }

    fn texts(lines: &[LogLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn keeps_the_last_lines_across_segments() {
        let mut tail = Tail::new(4);
        tail.push(segment("a\nb\nc\n", 1, 4).unwrap());
        tail.push(segment("d\ne\n", 2, 4).unwrap());
        assert_eq!(texts(&tail.last(10)), ["b", "c", "d", "e"]);
        assert_eq!(texts(&tail.last(3)), ["c", "d", "e"]);
        let last = tail.last(1);
        assert_eq!(last[0].at, UNIX_EPOCH + Duration::from_secs(2));
        assert_eq!(last[0].stream, Stream::Stderr);
        tail.push(segment("f\ng\nh\ni\nj\n", 3, 4).unwrap());
        assert_eq!(texts(&tail.last(10)), ["g", "h", "i", "j"]);
        assert_eq!(tail.segments.len(), 1);
        assert!(segment("no newline yet", 4, 4).is_none());
    }

    #[test]
    fn a_follower_reads_on_from_its_line_number_and_learns_what_it_missed() {
        let mut tail = Tail::new(4);
        tail.push(segment("a\nb\n", 1, 4).unwrap());
        let (lines, skipped) = tail.since(0, 10);
        assert_eq!((texts(&lines), skipped), (vec!["a", "b"], 0));
        assert_eq!(tail.total(), 2);
        tail.push(segment("c\n", 2, 4).unwrap());
        let (lines, skipped) = tail.since(2, 10);
        assert_eq!((texts(&lines), skipped), (vec!["c"], 0));
        // Nothing new: nothing.
        assert_eq!(tail.since(3, 10).0.len(), 0);
        // Far behind: the oldest kept lines, and how many were evicted in between.
        tail.push(segment("d\ne\nf\ng\n", 3, 4).unwrap());
        let (lines, skipped) = tail.since(1, 2);
        assert_eq!((texts(&lines), skipped), (vec!["d", "e"], 2));
    }

    #[test]
    fn bytes_are_bounded() {
        let mut tail = Tail::new(1_000_000);
        let line = format!("{}\n", "x".repeat(999));
        for i in 0..1000 {
            tail.push(segment(&line, i, 1_000_000).unwrap());
            assert!(tail.bytes <= TAIL_MAX_BYTES);
        }
        let n = tail.last(usize::MAX).len();
        assert!(n > 100 && n < 300, "{n} lines");
    }
}
